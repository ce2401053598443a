//! Overlay mode: watch the container's writable layer (the overlay upper dir) and the host
//! directories of its volumes with inotify from before the container starts, and walk them at
//! each phase boundary. Sees what the engine's diff cannot: transient files and volume writes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use notify::event::ModifyKind;
use notify::{EventKind, RecursiveMode, Watcher};

use super::assemble::{CPath, Image, Meta, Segment, Snapshot};
use super::layer::{
    is_whiteout_device, meta_of, to_container, walk, whiteout_name, Root, WhiteoutName,
};
use crate::model::{resolve, FileType, ImageDir, Phase, Symlink};

pub struct OverlayRecorder {
    roots: Vec<Root>,
    // Dropping the watchers stops them; they are kept for the recorder's lifetime.
    _watcher: notify::RecommendedWatcher,
    /// Why fanotify could not start (no CAP_SYS_ADMIN, an old kernel), where it could not:
    /// the race below then stays a blind spot.
    fanotify: Result<super::fanotify::Fanotify, String>,
    inbox: Arc<Mutex<Inbox>>,
    pub baseline: Snapshot,
    /// Segments closed and not yet taken by the assembler.
    pub segments: Vec<Segment>,
}

/// The watchers' events, folded into one entry a path as they arrive: a write storm raises
/// several events a file, and queued until the next boundary they would cost more than the
/// walks.
struct Inbox {
    events: mpsc::Receiver<(CPath, Option<Meta>)>,
    /// Paths seen written since the last boundary.
    touched: BTreeMap<CPath, Option<Meta>>,
}

impl Inbox {
    fn fold(&mut self) {
        for (path, meta) in self.events.try_iter() {
            // Keep the last metadata that could be read: a transient file's removal event has none.
            let slot = self.touched.entry(path).or_default();
            if meta.is_some() {
                *slot = meta;
            }
        }
    }
}

/// What inotify alone cannot see, and fanotify can.
const RACE: &str = "a file that lives only a few milliseconds, in a directory that appeared at the same moment (made by the app, or copied up by its first write), can be missed: that directory is then reported instead";

/// How long inotify events of writes that happened before a boundary may take to reach us.
const EVENT_SETTLE: Duration = Duration::from_millis(30);

/// How often events are folded between boundaries.
const FOLD_EVERY: Duration = Duration::from_millis(50);

impl OverlayRecorder {
    /// Starts watching. Call before the container starts, or its first writes are missed.
    pub fn start(roots: Vec<Root>) -> Result<Self> {
        let (tx, events) = mpsc::channel();
        let fanotify = super::fanotify::Fanotify::start(roots.clone(), tx.clone())
            .map_err(|e| format!("fanotify could not start ({e})"));
        let handler_roots = roots.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if !matches!(
                    event.kind,
                    EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
                ) {
                    return;
                }
                for host in &event.paths {
                    let Some((root, cpath)) = to_container(&handler_roots, host) else {
                        continue;
                    };
                    let meta = std::fs::symlink_metadata(host).ok().map(|m| meta_of(&m));
                    // A new directory's watch is added after it appears: what was made in it
                    // before then raised no event, so look inside now. Overlay drivers make
                    // directories by renaming them in from their work dir.
                    let arrived = matches!(
                        event.kind,
                        EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(_))
                    );
                    let is_dir = meta
                        .as_ref()
                        .is_some_and(|m| m.file_type == Some(FileType::Dir));
                    if arrived && is_dir {
                        for (p, m) in walk(root, host) {
                            let _ = tx.send((p, Some(m)));
                        }
                    }
                    let _ = tx.send((cpath, meta));
                }
            })
            .context("cannot start the inotify watcher")?;
        for root in &roots {
            watcher
                .watch(&root.host, RecursiveMode::Recursive)
                .with_context(|| format!("cannot watch {}", root.host.display()))?;
        }
        let baseline = roots.iter().flat_map(|r| walk(r, &r.host)).collect();
        let inbox = Arc::new(Mutex::new(Inbox {
            events,
            touched: BTreeMap::new(),
        }));
        let folding = Arc::downgrade(&inbox);
        std::thread::Builder::new()
            .name("rofs-fold".into())
            .spawn(move || {
                // Ends with the recorder, which holds the only strong reference.
                while let Some(inbox) = folding.upgrade() {
                    inbox.lock().unwrap_or_else(PoisonError::into_inner).fold();
                    drop(inbox);
                    std::thread::sleep(FOLD_EVERY);
                }
            })
            .context("cannot start the thread that folds watcher events")?;
        Ok(OverlayRecorder {
            roots,
            _watcher: watcher,
            fanotify,
            inbox,
            baseline,
            segments: vec![],
        })
    }

    /// The host directories watched, and the container paths they show.
    pub fn roots(&self) -> &[Root] {
        &self.roots
    }

    /// What this recorder cannot see.
    pub fn blind_spots(&self) -> Vec<String> {
        match &self.fanotify {
            Ok(fanotify) => fanotify.problems(),
            Err(why) => vec![format!("{why}, so {RACE}")],
        }
    }

    /// Closes the current segment: everything written up to now belongs to it.
    pub async fn boundary(&mut self, phase: Phase, probe: Option<String>) {
        tokio::time::sleep(EVENT_SETTLE).await;
        let touched = {
            let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
            inbox.fold();
            std::mem::take(&mut inbox.touched)
        };
        // Inserted as walked: collecting would sort a full copy of the layer first.
        let mut state = Snapshot::new();
        state.extend(self.roots.iter().flat_map(|r| walk(r, &r.host)));
        self.segments.push(Segment {
            phase,
            probe,
            state,
            touched,
        });
    }
}

/// Entries counted below one directory before it is judged large enough: no mount target.
const IMAGE_DIR_WALK_LIMIT: usize = 20_000;

/// The image as the overlay's lower dirs show it (topmost first).
pub struct LowerDirs {
    layers: Vec<PathBuf>,
    /// Directories looked up, and whether the image lacks them: an app that writes 100,000
    /// files into directories of its own costs a lookup per directory, not per file.
    absent: Mutex<HashMap<Vec<u8>, bool>>,
}

/// The directory that holds `path`, where there is one below the root.
fn parent(path: &[u8]) -> Option<&[u8]> {
    let end = path.iter().rposition(|&b| b == b'/')?;
    let dir = &path[..end];
    (!dir.is_empty()).then_some(dir)
}

/// What one layer says about a path of the image.
enum Says {
    Has(std::fs::Metadata),
    /// A whiteout for it or an ancestor, a file where an ancestor directory would be, or an
    /// opaque ancestor without it: lower layers cannot show it.
    Hides,
    Nothing,
}

fn says(layer: &Path, path: &[u8]) -> Says {
    let names: Vec<&[u8]> = path
        .split(|&b| b == b'/')
        .filter(|n| !n.is_empty())
        .collect();
    let mut dir = layer.to_path_buf();
    let mut opaque = false;
    for (i, name) in names.iter().enumerate() {
        let mut whiteout = b".wh.".to_vec();
        whiteout.extend_from_slice(name);
        if std::fs::symlink_metadata(dir.join(std::ffi::OsStr::from_bytes(&whiteout))).is_ok() {
            return Says::Hides;
        }
        dir.push(std::ffi::OsStr::from_bytes(name));
        let meta = match std::fs::symlink_metadata(&dir) {
            Ok(m) if is_whiteout_device(&m) => return Says::Hides,
            Ok(m) => m,
            Err(_) if opaque => return Says::Hides,
            Err(_) => return Says::Nothing,
        };
        if i + 1 == names.len() {
            return Says::Has(meta);
        }
        if !meta.is_dir() {
            return Says::Hides;
        }
        opaque |= dir.join(".wh..wh..opq").exists();
    }
    // The root itself.
    std::fs::symlink_metadata(layer).map_or(Says::Nothing, Says::Has)
}

impl LowerDirs {
    /// `path` in the union of the layers, topmost first, honouring whiteouts: a file the image
    /// deleted in a later layer is not there.
    pub fn new(layers: Vec<PathBuf>) -> LowerDirs {
        LowerDirs {
            layers,
            absent: Default::default(),
        }
    }

    fn find(&self, path: &[u8]) -> Option<std::fs::Metadata> {
        match parent(path) {
            // Under a directory the image does not have (or hides), nothing is the image's.
            Some(dir) if self.lacks(dir) => None,
            _ => self.look_up(path),
        }
    }

    /// Whether the image has no directory (or anything) at `dir`, remembered.
    fn lacks(&self, dir: &[u8]) -> bool {
        let known = self
            .absent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(dir)
            .copied();
        if let Some(known) = known {
            return known;
        }
        let lacks = match parent(dir) {
            Some(up) if self.lacks(up) => true,
            _ => self.look_up(dir).is_none(),
        };
        let mut absent = self.absent.lock().unwrap_or_else(PoisonError::into_inner);
        absent.insert(dir.to_vec(), lacks);
        lacks
    }

    fn look_up(&self, path: &[u8]) -> Option<std::fs::Metadata> {
        for layer in &self.layers {
            match says(layer, path) {
                Says::Has(meta) => return Some(meta),
                Says::Hides => return None,
                Says::Nothing => {}
            }
        }
        None
    }

    /// What the image holds at `dir`, from the union of the lower layers.
    pub fn image_dir(&self, dir: &str, written: &HashSet<&[u8]>) -> ImageDir {
        let rel = dir.trim_start_matches('/');
        let own = self.find(dir.as_bytes()).filter(|m| m.is_dir());
        let Some(own) = own else {
            return ImageDir::absent(dir);
        };
        let mut hidden: BTreeMap<CPath, Meta> = BTreeMap::new();
        for layer in &self.layers {
            let root = layer.join(rel);
            let entries = walkdir::WalkDir::new(&root)
                .min_depth(1)
                .into_iter()
                .filter_map(Result::ok);
            for entry in entries.take(IMAGE_DIR_WALK_LIMIT) {
                let name = entry.file_name().as_bytes();
                let whiteout = !matches!(whiteout_name(name), WhiteoutName::Plain)
                    || entry.metadata().is_ok_and(|m| is_whiteout_device(&m));
                let Ok(sub) = entry.path().strip_prefix(&root) else {
                    continue;
                };
                let mut path = dir.as_bytes().to_vec();
                path.push(b'/');
                path.extend_from_slice(sub.as_os_str().as_bytes());
                // A higher layer may have deleted what this one holds (a build's /tmp/wheels).
                if whiteout || written.contains(path.as_slice()) || hidden.contains_key(&path) {
                    continue;
                }
                if let Some(meta) = self.find(&path) {
                    hidden.insert(path, meta_of(&meta));
                }
            }
        }
        let hidden: Vec<(&CPath, &Meta)> = hidden.iter().collect();
        ImageDir::listing(dir, Some(meta_of(&own)), &hidden)
    }
}

/// How many entries of each layer are looked at for links: enough for a distribution's whole
/// root, bounded for a huge image.
const SYMLINK_WALK_LIMIT: usize = 200_000;

impl LowerDirs {
    /// The image's links to directories, each with its target resolved through the others.
    /// The kernel follows them when an app names a path; the overlay records the real one.
    pub fn dir_symlinks(&self) -> Vec<Symlink> {
        let mut links: BTreeMap<String, String> = BTreeMap::new();
        for layer in &self.layers {
            let entries = walkdir::WalkDir::new(layer)
                .min_depth(1)
                .into_iter()
                .filter_entry(|e| !is_pseudo_fs(layer, e.path()))
                .filter_map(Result::ok)
                .take(SYMLINK_WALK_LIMIT)
                .filter(|e| e.path_is_symlink());
            for entry in entries {
                let Ok(rel) = entry.path().strip_prefix(layer) else {
                    continue;
                };
                let Some(path) = rel.to_str().map(|r| format!("/{r}")) else {
                    continue;
                };
                // A higher layer's view wins: the first layer to hold it, unless it is gone.
                if links.contains_key(&path)
                    || !self.find(path.as_bytes()).is_some_and(|m| m.is_symlink())
                {
                    continue;
                }
                let Some(target) = std::fs::read_link(entry.path())
                    .ok()
                    .and_then(|t| t.to_str().map(str::to_string))
                else {
                    continue;
                };
                let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
                links.insert(path.clone(), normalize(parent, &target));
            }
        }
        let all: Vec<Symlink> = links
            .into_iter()
            .map(|(path, target)| Symlink { path, target })
            .collect();
        all.iter()
            .map(|l| Symlink {
                path: l.path.clone(),
                target: resolve(&all, &l.target),
            })
            .filter(|l| self.find(l.target.as_bytes()).is_some_and(|m| m.is_dir()))
            .collect()
    }
}

/// /proc, /sys and /dev hold nothing of the image's own.
fn is_pseudo_fs(layer: &Path, path: &Path) -> bool {
    path.strip_prefix(layer)
        .is_ok_and(|rel| ["proc", "sys", "dev"].iter().any(|p| rel == Path::new(p)))
}

/// A link's target as an absolute path without `.` or `..`, `parent` being the directory that
/// holds the link.
fn normalize(parent: &str, target: &str) -> String {
    let joined = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{parent}/{target}")
    };
    let mut parts: Vec<&str> = vec![];
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

impl Image for LowerDirs {
    fn has(&self, path: &[u8]) -> bool {
        self.find(path).is_some_and(|m| !is_whiteout_device(&m))
    }

    fn meta(&self, path: &[u8]) -> Option<Meta> {
        self.find(path).map(|m| meta_of(&m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_short_lived_file_in_a_directory_renamed_into_place_is_seen() {
        // Both overlay drivers make a directory in the work dir and rename it into the upper
        // dir: a file made in it before the rename raises no event of its own.
        let base = std::env::temp_dir().join(format!("rofs-audit-overlay-{}", std::process::id()));
        let (upper, work) = (base.join("upper"), base.join("work"));
        std::fs::create_dir_all(&upper).unwrap();
        std::fs::create_dir_all(work.join("tmp")).unwrap();
        std::fs::write(work.join("tmp/app.lock"), b"1234").unwrap();
        let root = Root {
            host: upper.clone(),
            container: b"/".to_vec(),
        };
        let mut recorder = OverlayRecorder::start(vec![root]).unwrap();
        std::fs::rename(work.join("tmp"), upper.join("tmp")).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        std::fs::remove_file(upper.join("tmp/app.lock")).unwrap();
        recorder.boundary(Phase::Startup, None).await;
        std::fs::remove_dir_all(&base).unwrap();
        let touched = &recorder.segments[0].touched;
        let lock = touched.get(b"/tmp/app.lock".as_slice());
        assert_eq!(
            lock.cloned().flatten().and_then(|m| m.size),
            Some(4),
            "{touched:?}"
        );
    }

    #[test]
    fn files_deleted_in_a_higher_layer_are_not_in_the_image() {
        let base = std::env::temp_dir().join(format!("rofs-audit-lower-{}", std::process::id()));
        let (top, middle, bottom) = (base.join("top"), base.join("middle"), base.join("bottom"));
        // bottom: /tmp/wheels/a.whl and /etc/keep; middle deletes /tmp/wheels (a `.wh.` file);
        // top makes /etc opaque and holds /etc/new only.
        std::fs::create_dir_all(bottom.join("tmp/wheels")).unwrap();
        std::fs::write(bottom.join("tmp/wheels/a.whl"), b"x").unwrap();
        std::fs::create_dir_all(bottom.join("etc")).unwrap();
        std::fs::write(bottom.join("etc/keep"), b"x").unwrap();
        std::fs::create_dir_all(middle.join("tmp")).unwrap();
        std::fs::write(middle.join("tmp/.wh.wheels"), b"").unwrap();
        std::fs::create_dir_all(top.join("etc")).unwrap();
        std::fs::write(top.join("etc/.wh..wh..opq"), b"").unwrap();
        std::fs::write(top.join("etc/new"), b"x").unwrap();
        let lower = LowerDirs::new(vec![top, middle, bottom]);
        let written = HashSet::new();
        let tmp = lower.image_dir("/tmp", &written);
        let etc = lower.image_dir("/etc", &written);
        let wheel = lower.find(b"/tmp/wheels/a.whl");
        let keep = lower.find(b"/etc/keep");
        std::fs::remove_dir_all(&base).unwrap();
        assert!(tmp.exists && tmp.hidden == 0, "{tmp:?}");
        assert_eq!(
            (etc.hidden, etc.hidden_sample.as_slice()),
            (1, ["/etc/new".to_string()].as_slice())
        );
        assert!(wheel.is_none() && keep.is_none());
    }

    #[test]
    fn maps_host_paths_and_whiteout_names_to_container_paths() {
        let roots = vec![
            Root {
                host: "/u".into(),
                container: b"/".to_vec(),
            },
            Root {
                host: "/vol/_data".into(),
                container: b"/data".to_vec(),
            },
        ];
        let map = |p: &str| {
            to_container(&roots, Path::new(p)).map(|(_, c)| String::from_utf8(c).unwrap())
        };
        assert_eq!(
            map("/u/var/run/app.pid").as_deref(),
            Some("/var/run/app.pid")
        );
        assert_eq!(map("/u/bin/.wh.ls").as_deref(), Some("/bin/ls"));
        assert_eq!(map("/u/data/.wh..wh..opq"), None);
        assert_eq!(map("/vol/_data/v").as_deref(), Some("/data/v"));
        assert_eq!(map("/elsewhere/x"), None);
    }
}
