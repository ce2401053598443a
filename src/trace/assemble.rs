//! Turns per-phase observations into the trace's list of writes. Both tracing modes feed it the
//! same shape: the state of the written paths at each phase boundary, plus the paths seen touched
//! in between (inotify events in overlay mode), so the rules live in one place.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use crate::model::{
    ancestors, escape_path, is_release_content, is_within, Change, FileType, ImageDir, Phase,
    Restart, Write,
};

/// A container path, as raw bytes: names need not be UTF-8.
pub type CPath = Vec<u8>;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    pub file_type: Option<FileType>,
    /// An overlay whiteout, or a deletion reported by the changes API.
    pub whiteout: bool,
    pub size: Option<u64>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Nanoseconds; with ctime, what tells a rewrite of the same size apart. 64 bits reach
    /// the year 2262 (a later mtime saturates, and the ctime of a rewrite still tells), and keep
    /// the metadata that every snapshot holds a path at 80 bytes rather than 112.
    pub mtime: Option<i64>,
    pub ctime: Option<i64>,
}

pub type Snapshot = BTreeMap<CPath, Meta>;

/// What was observed during one phase (or one probe).
#[derive(Debug, Clone)]
pub struct Segment {
    pub phase: Phase,
    pub probe: Option<String>,
    /// State of the writable layer at the end of the segment.
    pub state: Snapshot,
    /// Paths seen written during the segment, with their metadata when it could be read.
    pub touched: BTreeMap<CPath, Option<Meta>>,
}

/// Facts about the image that the assembler needs but cannot see in the writable layer.
pub trait Image {
    /// Whether the image itself has this path (so a write there modifies, not creates).
    fn has(&self, path: &[u8]) -> bool;
    /// Metadata of the image's file at `path`, for deletions.
    fn meta(&self, path: &[u8]) -> Option<Meta>;
}

/// Where the run mounted volumes: their mount points are the engine's, not the app's writes,
/// and what is written below them is marked as a volume write.
pub struct Noise {
    pub volumes: Vec<CPath>,
    /// Paths the engine itself writes (see [`crate::engine::Flavor::own_paths`]): not a write
    /// when nothing written below them is reported.
    pub engine_paths: Vec<CPath>,
}

/// Files the engine bind-mounts or creates in every container: Docker's, and podman's, which has
/// no init layer and so makes its mount points (and the directories above them) in the
/// container's own writable layer.
const ENGINE_MANAGED: &[&str] = &[
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/etc/mtab",
    "/.dockerenv",
    "/run/.containerenv",
    "/dev",
    "/proc",
    "/sys",
];

impl Noise {
    fn is_noise(&self, path: &[u8]) -> bool {
        ENGINE_MANAGED.iter().any(|m| is_within(path, m.as_bytes()))
            || self.volumes.iter().any(|m| m.as_slice() == path)
            || self.engine_paths.iter().any(|m| m.as_slice() == path)
    }

    fn in_volume(&self, path: &[u8]) -> bool {
        self.volumes.iter().any(|v| is_within(path, v))
    }
}

/// Assembles a whole run at once, from segments that are all still held.
pub fn assemble(
    baseline: &Snapshot,
    segments: &[Segment],
    image: &dyn Image,
    noise: &Noise,
) -> Vec<Write> {
    let mut changes = Changes::default();
    let mut prev = baseline;
    for seg in segments {
        changes.add(baseline, prev, seg);
        prev = &seg.state;
    }
    let empty = Snapshot::new();
    let last = segments.last().map_or(&empty, |s| &s.state);
    changes.writes(last, image, noise)
}

/// Assembles a run segment by segment as the recorder closes them: each state is diffed against
/// the one before and dropped, so a write storm is held once rather than once a phase.
pub struct Assembler {
    baseline: Snapshot,
    /// The state at the last boundary, once there has been one.
    last: Option<Snapshot>,
    changes: Changes,
}

impl Assembler {
    pub fn new(baseline: Snapshot) -> Self {
        Assembler {
            baseline,
            last: None,
            changes: Changes::default(),
        }
    }

    pub fn push(&mut self, seg: Segment) {
        let prev = self.last.as_ref().unwrap_or(&self.baseline);
        self.changes.add(&self.baseline, prev, &seg);
        self.last = Some(seg.state);
    }

    /// What the run wrote and left at its last boundary: the paths a restart is judged on.
    pub fn left(&self) -> BTreeMap<CPath, Meta> {
        let Some(last) = &self.last else {
            return BTreeMap::new();
        };
        (self.changes.written.iter())
            .filter_map(|p| Some((p.to_vec(), last.get(&**p)?.clone())))
            .filter(|(_, m)| !m.whiteout)
            .collect()
    }

    pub fn finish(self, image: &dyn Image, noise: &Noise) -> Vec<Write> {
        self.changes
            .writes(&self.last.unwrap_or_default(), image, noise)
    }
}

/// What changed in each segment so far. Whether a path was created, modified or transient is
/// known only once the run is over: that is decided by [`Changes::writes`].
#[derive(Default)]
struct Changes {
    /// Phase and probe of each segment added, by position.
    segments: Vec<(Phase, Option<String>)>,
    found: Vec<Found>,
    /// The paths in `found`, shared with it: a later write to one of them modifies it.
    written: HashSet<Arc<[u8]>>,
}

/// A path that changed during a segment.
struct Found {
    path: Arc<[u8]>,
    meta: Meta,
    segment: usize,
    /// It was there before the run, or written in an earlier segment.
    existed: bool,
}

impl Changes {
    /// Adds what changed from `prev` to the end of `seg`.
    fn add(&mut self, baseline: &Snapshot, prev: &Snapshot, seg: &Segment) {
        let mut touched: BTreeSet<&CPath> = seg.touched.keys().collect();
        for (path, meta) in &seg.state {
            if prev.get(path) != Some(meta) {
                touched.insert(path);
            }
        }
        for path in touched {
            let now = seg.state.get(path);
            if now.is_none() && prev.contains_key(path) {
                // Removal of a file the app made earlier: its creation is reported as transient.
                continue;
            }
            let meta = now
                .cloned()
                .or_else(|| seg.touched.get(path).cloned().flatten())
                .unwrap_or_default();
            let existed = baseline.contains_key(path) || self.written.contains(path.as_slice());
            let path: Arc<[u8]> = Arc::from(path.as_slice());
            self.written.insert(path.clone());
            self.found.push(Found {
                path,
                meta,
                segment: self.segments.len(),
                existed,
            });
        }
        self.segments.push((seg.phase, seg.probe.clone()));
    }

    /// The writes, `last` being the state at the end of the run.
    fn writes(self, last: &Snapshot, image: &dyn Image, noise: &Noise) -> Vec<Write> {
        // Only leaves: a directory that changed because something below it did is not a write
        // of its own. One with nothing reported below still is: something was written in it and
        // is gone, or its metadata changed, and that is where a mount would be needed.
        let paths: BTreeSet<&[u8]> = self.found.iter().map(|f| &*f.path).collect();
        let has_descendant = |dir: &[u8]| {
            let mut below = dir.strip_suffix(b"/").unwrap_or(dir).to_vec();
            below.push(b'/');
            paths
                .range::<[u8], _>((Bound::Included(below.as_slice()), Bound::Unbounded))
                .take_while(|p| p.starts_with(&below))
                .any(|p| p.len() > dir.len())
        };
        self.found
            .iter()
            .filter(|f| {
                let ancestor = f.meta.file_type == Some(FileType::Dir) && has_descendant(&f.path);
                !ancestor && !noise.is_noise(&f.path)
            })
            .map(|f| {
                let path = &*f.path;
                let change = if f.meta.whiteout {
                    Change::Deleted
                } else if !last.contains_key(path) && !image.has(path) {
                    Change::Transient
                } else if f.existed || image.has(path) {
                    Change::Modified
                } else {
                    Change::Created
                };
                let meta = if change == Change::Deleted {
                    image.meta(path).unwrap_or_default()
                } else {
                    f.meta.clone()
                };
                let (phase, probe) = &self.segments[f.segment];
                to_write(path, &meta, change, *phase, probe, noise.in_volume(path))
            })
            .collect()
    }
}

/// What a restart did to a file the first run left as `before`: `after` is what the restart left
/// there (None: nothing, or a whiteout), `written` whether it was seen written meanwhile, and
/// `read` whether it was seen read. Any state that compares serves: a walk's metadata, the
/// archive API's stat.
pub fn restart_outcome<T: PartialEq>(
    before: &T,
    after: Option<&T>,
    written: bool,
    read: bool,
) -> Restart {
    match after {
        None => Restart::Deleted,
        Some(after) if written || after != before => match read {
            true => Restart::Updated,
            false => Restart::Rewritten,
        },
        Some(_) if read => Restart::Reused,
        Some(_) => Restart::Kept,
    }
}

/// Sets each write's `restart` from what a restart did to its path.
pub fn mark_restart(writes: &mut [Write], outcomes: &BTreeMap<CPath, Restart>) {
    let by_path: std::collections::HashMap<String, Restart> = outcomes
        .iter()
        .map(|(p, r)| (escape_path(p).0, *r))
        .collect();
    for w in writes {
        if !matches!(w.change, Change::Deleted | Change::Transient) {
            w.restart = by_path.get(&w.path).copied();
        }
    }
}

fn to_write(
    path: &[u8],
    meta: &Meta,
    change: Change,
    phase: Phase,
    probe: &Option<String>,
    volume: bool,
) -> Write {
    let (path, non_utf8) = escape_path(path);
    let file_type = meta.file_type.unwrap_or(FileType::Unknown);
    Write {
        path,
        non_utf8,
        change,
        file_type,
        bytes: match (change, file_type) {
            (Change::Deleted, _) | (_, FileType::Dir) => None,
            _ => meta.size,
        },
        mode: meta.mode.map(|m| m & 0o7777),
        uid: meta.uid,
        gid: meta.gid,
        phase,
        probe: probe.clone(),
        volume,
        would_fail: None,
        fatal: None,
        kind: None,
        restart: None,
    }
}

impl ImageDir {
    pub fn absent(dir: &str) -> ImageDir {
        ImageDir {
            path: dir.to_string(),
            exists: false,
            hidden: 0,
            hidden_sample: vec![],
            hidden_files: Some(0),
            release: 0,
            release_sample: vec![],
            uid: None,
            gid: None,
        }
    }

    /// `own` is the directory's metadata, `hidden` what a mount at it would hide. Files come
    /// first in the sample: they are what an app may miss.
    pub fn listing(dir: &str, own: Option<Meta>, hidden: &[(&CPath, &Meta)]) -> ImageDir {
        let own = own.unwrap_or_default();
        let is_dir = |m: &Meta| m.file_type == Some(FileType::Dir);
        let files = hidden.iter().filter(|(_, m)| !is_dir(m));
        let dirs = hidden.iter().filter(|(_, m)| is_dir(m));
        let mut release: Vec<String> = files
            .clone()
            .map(|(p, m)| (escape_path(p).0, m))
            .filter(|(p, m)| {
                // Only a regular file with content runs: links read as 0777, and the empty
                // files the engine makes in /etc (hostname, hosts) as 0755.
                let runs = m.file_type == Some(FileType::File) && m.size.is_some_and(|s| s > 0);
                is_release_content(p, m.mode.filter(|_| runs), m.uid)
            })
            .map(|(p, _)| p)
            .collect();
        // The app's own files before what its libraries bring.
        release.sort_by_key(|p| (p.matches('/').count(), p.clone()));
        ImageDir {
            path: dir.to_string(),
            exists: true,
            hidden: hidden.len() as u64,
            hidden_files: Some(files.clone().count() as u64),
            hidden_sample: files
                .chain(dirs)
                .take(5)
                .map(|(p, _)| escape_path(p).0)
                .collect(),
            release: release.len() as u64,
            release_sample: release.into_iter().take(5).collect(),
            uid: own.uid,
            gid: own.gid,
        }
    }
}

/// Every directory above a write (and a written directory itself), but never `/`: the places a
/// mount could go.
pub fn mount_candidates(writes: &[Write]) -> BTreeSet<String> {
    writes
        .iter()
        .flat_map(|w| ancestors(&w.path, w.file_type == FileType::Dir))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeImage(Vec<&'static str>);
    impl Image for FakeImage {
        fn has(&self, path: &[u8]) -> bool {
            self.0.iter().any(|p| p.as_bytes() == path)
        }
        fn meta(&self, _: &[u8]) -> Option<Meta> {
            Some(Meta {
                file_type: Some(FileType::File),
                ..Meta::default()
            })
        }
    }

    fn file(size: u64) -> Meta {
        Meta {
            file_type: Some(FileType::File),
            size: Some(size),
            ..Meta::default()
        }
    }
    fn dir() -> Meta {
        Meta {
            file_type: Some(FileType::Dir),
            ..Meta::default()
        }
    }
    fn seg(phase: Phase, state: &[(&str, Meta)], touched: &[&str]) -> Segment {
        Segment {
            phase,
            probe: None,
            state: state
                .iter()
                .map(|(p, m)| (p.as_bytes().to_vec(), m.clone()))
                .collect(),
            touched: touched
                .iter()
                .map(|p| (p.as_bytes().to_vec(), Some(file(3))))
                .collect(),
        }
    }
    fn summary(writes: &[Write]) -> Vec<(String, Change, Phase)> {
        writes
            .iter()
            .map(|w| (w.path.clone(), w.change, w.phase))
            .collect()
    }

    #[test]
    fn attributes_each_write_to_its_phase_and_keeps_only_leaves() {
        let image = FakeImage(vec!["/var", "/etc/app.conf"]);
        let noise = Noise {
            volumes: vec![],
            engine_paths: vec![],
        };
        let startup = seg(
            Phase::Startup,
            &[
                ("/var", dir()),
                ("/var/run", dir()),
                ("/var/run/app.pid", file(5)),
            ],
            &[],
        );
        let mut probe = seg(
            Phase::Probe,
            &[
                ("/var", dir()),
                ("/var/run", dir()),
                ("/var/run/app.pid", file(5)),
                ("/etc/app.conf", file(9)),
            ],
            &["/tmp/lock"],
        );
        probe.probe = Some("/work".into());
        let writes = assemble(&Snapshot::new(), &[startup, probe], &image, &noise);
        assert_eq!(
            summary(&writes),
            vec![
                ("/var/run/app.pid".into(), Change::Created, Phase::Startup),
                ("/etc/app.conf".into(), Change::Modified, Phase::Probe),
                ("/tmp/lock".into(), Change::Transient, Phase::Probe),
            ]
        );
        assert_eq!(writes[2].probe.as_deref(), Some("/work"));
    }

    #[test]
    fn a_directory_written_into_with_nothing_left_below_is_reported() {
        let image = FakeImage(vec!["/tmp"]);
        let noise = Noise {
            volumes: vec![],
            engine_paths: vec![],
        };
        let startup = seg(Phase::Startup, &[("/tmp", dir())], &[]);
        let writes = assemble(&Snapshot::new(), &[startup], &image, &noise);
        assert_eq!(
            summary(&writes),
            vec![("/tmp".into(), Change::Modified, Phase::Startup)]
        );
    }

    #[test]
    fn a_file_created_then_removed_in_a_later_phase_is_transient() {
        let image = FakeImage(vec![]);
        let noise = Noise {
            volumes: vec![],
            engine_paths: vec![],
        };
        let startup = seg(Phase::Startup, &[("/run.lock", file(1))], &[]);
        let idle = seg(Phase::Idle, &[], &[]);
        let writes = assemble(&Snapshot::new(), &[startup, idle], &image, &noise);
        assert_eq!(
            summary(&writes),
            vec![("/run.lock".into(), Change::Transient, Phase::Startup)]
        );
    }

    #[test]
    fn whiteouts_are_deletions_and_engine_files_are_noise() {
        let image = FakeImage(vec!["/bin/ls", "/etc/hosts"]);
        let noise = Noise {
            volumes: vec![b"/data".to_vec()],
            engine_paths: vec![],
        };
        let whiteout = Meta {
            whiteout: true,
            ..Meta::default()
        };
        let startup = seg(
            Phase::Startup,
            &[
                ("/bin/ls", whiteout),
                ("/etc/hosts", file(100)),
                // Podman's, made with /run for it in an image that has none.
                ("/run", dir()),
                ("/run/.containerenv", file(0)),
                ("/data", dir()),
                ("/data/v", file(2)),
                ("/data2", dir()),
            ],
            &[],
        );
        let writes = assemble(&Snapshot::new(), &[startup], &image, &noise);
        assert_eq!(
            summary(&writes),
            vec![
                ("/bin/ls".into(), Change::Deleted, Phase::Startup),
                ("/data/v".into(), Change::Created, Phase::Startup),
                ("/data2".into(), Change::Created, Phase::Startup),
            ]
        );
        assert!(writes[1].volume && !writes[2].volume);
        assert_eq!(writes[0].file_type, FileType::File);
    }

    #[test]
    fn an_engine_directory_is_noise_only_with_nothing_written_below() {
        let image = FakeImage(vec!["/etc", "/etc/app.conf"]);
        let noise = Noise {
            volumes: vec![],
            engine_paths: vec![b"/etc".to_vec()],
        };
        // Podman's changes API after it made its mount points in /etc.
        let alone = seg(Phase::Startup, &[("/etc", dir())], &[]);
        assert!(assemble(&Snapshot::new(), &[alone], &image, &noise).is_empty());
        let written = seg(
            Phase::Startup,
            &[("/etc", dir()), ("/etc/app.conf", file(3))],
            &[],
        );
        let writes = assemble(&Snapshot::new(), &[written], &image, &noise);
        assert_eq!(
            summary(&writes),
            vec![("/etc/app.conf".into(), Change::Modified, Phase::Startup)]
        );
    }

    #[test]
    fn a_restart_tells_kept_and_reused_files_from_rewritten_updated_and_deleted_ones() {
        let key = file(32);
        let again = Meta {
            mtime: Some(2),
            ..file(32)
        };
        assert_eq!(
            restart_outcome(&key, Some(&key), false, true),
            Restart::Reused
        );
        assert_eq!(
            restart_outcome(&key, Some(&key), false, false),
            Restart::Kept
        );
        // Written to the same size and time (a coarse clock) is still written.
        assert_eq!(
            restart_outcome(&key, Some(&key), true, false),
            Restart::Rewritten
        );
        assert_eq!(
            restart_outcome(&key, Some(&again), false, false),
            Restart::Rewritten
        );
        assert_eq!(
            restart_outcome(&key, Some(&again), true, true),
            Restart::Updated
        );
        assert_eq!(restart_outcome(&key, None, false, false), Restart::Deleted);

        let image = FakeImage(vec![]);
        let noise = Noise {
            volumes: vec![],
            engine_paths: vec![],
        };
        let startup = seg(
            Phase::Startup,
            &[("/home/app/.key", file(32)), ("/run/app.pid", file(4))],
            &["/tmp/x"],
        );
        let mut writes = assemble(&Snapshot::new(), &[startup], &image, &noise);
        let outcomes = [
            (b"/home/app/.key".to_vec(), Restart::Reused),
            (b"/run/app.pid".to_vec(), Restart::Rewritten),
        ]
        .into();
        mark_restart(&mut writes, &outcomes);
        let marked: Vec<(&str, Option<Restart>)> = writes
            .iter()
            .map(|w| (w.path.as_str(), w.restart))
            .collect();
        assert_eq!(
            marked,
            [
                ("/home/app/.key", Some(Restart::Reused)),
                ("/run/app.pid", Some(Restart::Rewritten)),
                ("/tmp/x", None),
            ]
        );
    }

    #[test]
    fn what_a_run_left_is_what_it_wrote_and_did_not_remove() {
        let baseline: Snapshot = [(b"/data/seed".to_vec(), file(4))].into();
        let mut assembler = Assembler::new(baseline);
        assembler.push(seg(
            Phase::Startup,
            &[
                ("/data/seed", file(4)),
                ("/var", dir()),
                ("/var/key", file(8)),
                ("/tmp/gone", file(1)),
            ],
            &[],
        ));
        assembler.push(seg(
            Phase::Shutdown,
            &[
                ("/data/seed", file(4)),
                ("/var", dir()),
                ("/var/key", file(8)),
            ],
            &[],
        ));
        let left: Vec<String> = assembler
            .left()
            .keys()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert_eq!(left, ["/var", "/var/key"]);
    }

    #[test]
    fn content_present_before_start_is_not_a_write_until_it_changes() {
        let image = FakeImage(vec![]);
        let noise = Noise {
            volumes: vec![],
            engine_paths: vec![],
        };
        let baseline: Snapshot = [(b"/data/seed".to_vec(), file(4))].into();
        let unchanged = seg(Phase::Startup, &[("/data/seed", file(4))], &[]);
        assert!(assemble(&baseline, &[unchanged], &image, &noise).is_empty());
        let grown = seg(Phase::Startup, &[("/data/seed", file(8))], &[]);
        let writes = assemble(&baseline, &[grown], &image, &noise);
        assert_eq!(
            summary(&writes),
            vec![("/data/seed".into(), Change::Modified, Phase::Startup)]
        );
    }
}
