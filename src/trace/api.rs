//! API mode, for engines whose storage this machine cannot read (remote DOCKER_HOST, Docker
//! Desktop, rootless): the engine's changes API at each phase boundary and polled in between,
//! and the archive API for volumes, for types, sizes and owners, and for the image's links.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bollard::models::ChangeType;
use bollard::query_parameters::{
    ContainerArchiveInfoOptionsBuilder, DownloadFromContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

use super::assemble::{CPath, Image, Meta, Segment, Snapshot};
use super::layer::nanos;
use crate::model::{is_within, FileType, ImageDir, Phase, Symlink};

/// What API mode cannot see, whatever the engine. [`ApiRecorder::blind_spots`] adds what
/// depends on how fast this engine answered.
const BLIND_SPOTS: &[&str] = &[
    "timing: a write is attributed to the phase in which it was first seen, not the moment it happened",
    "rewrites: a file written again in a later phase is reported once, in the first",
    "what a file was (type, size, owner) is not known where it was gone by the end of its phase",
    "unchanged files: a file of the image opened for writing and left as it was (a log nothing \
     was written to yet) is not seen where the engine's diff compares each file with the image, \
     as the fuse-overlayfs and vfs storage drivers do (overlay2's own diff lists every file the \
     container's layer holds); a read-only run that fails on it still finds its mount",
];

/// What API mode cannot see of the image's links.
fn links_blind_spot() -> String {
    format!(
        "links: only the image's conventional links to directories are read ({}), so a \
         read-only error that names a path through another link is not matched to the write or \
         mount it concerns",
        CONVENTIONAL_LINKS.join(", ")
    )
}

/// The image's links to directories that a read-only error may name a path through: where
/// Debian and the FHS put them. Each costs the engine a request or two, so only these are read.
const CONVENTIONAL_LINKS: &[&str] = &[
    "/var/run",
    "/var/lock",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/usr/tmp",
];

/// Where apps make files and remove them at once: a change of such a directory's mtime tells
/// that where the changes API may list nothing. Each costs the engine a request a boundary.
const SCRATCH_DIRS: &[&str] = &["/tmp", "/var/tmp", "/run", "/run/lock"];

/// Paths asked one by one at a boundary, to describe what the app added while it is there.
const EARLY_REQUESTS: usize = 100;

/// The shortest pause between two polls of the changes API.
const POLL_GAP: Duration = Duration::from_millis(150);
/// The pause is at least this many times what the last poll took, so that polling takes at
/// most a fifth of the engine's time: on storage drivers that diff the whole root (vfs,
/// fuse-overlayfs) one poll can take seconds.
const POLL_COST_FACTOR: u32 = 4;

/// A first listing of the changes that took longer than this means no polling: polls would be
/// seconds apart, too far to catch a short-lived file, and would slow the app under audit.
const POLL_COST_LIMIT: Duration = Duration::from_millis(1000);

/// What the polls of the changes API saw since the last boundary: each path with the kind it
/// was first listed with.
#[derive(Default)]
struct Polled {
    seen: BTreeMap<CPath, ChangeType>,
    polls: u32,
    /// The longest pause between two polls that completed: files that lived less than this may
    /// have been missed.
    widest: Duration,
    last: Option<Instant>,
    /// The longest the engine took to answer one poll.
    slowest: Duration,
}

pub struct ApiRecorder {
    docker: Docker,
    container: String,
    volumes: Vec<CPath>,
    pub baseline: Snapshot,
    pub segments: Vec<Segment>,
    /// Paths the changes API ever called modified or deleted: they come from the image.
    from_image: HashSet<CPath>,
    /// Paths the changes API called added, directories above the reported leaves included.
    added: HashSet<CPath>,
    polled: Arc<Mutex<Polled>>,
    /// Polls the changes API until the first run is over.
    poller: Option<tokio::task::JoinHandle<()>>,
    /// The widest pause between polls of any phase, and how many polls there were.
    widest_gap: Duration,
    polls: u32,
    slowest_poll: Duration,
    /// How long the engine took to list the changes of the container before it started, where
    /// that was too long to poll.
    too_slow_to_poll: Option<Duration>,
    /// What the app added, as the boundary that first saw it described it: a file it removes
    /// later (a pid file, a socket) keeps its type and owner, which a mount's owner comes from.
    early: HashMap<CPath, Meta>,
    /// The image's scratch directories (see [`SCRATCH_DIRS`]) and their mtimes before the run,
    /// until one is seen changed.
    scratch: BTreeMap<CPath, Option<String>>,
}

impl Drop for ApiRecorder {
    fn drop(&mut self) {
        if let Some(poller) = self.poller.take() {
            poller.abort();
        }
    }
}

/// Volume contents above this size are not listed, to keep a fallback from copying a database.
const VOLUME_ARCHIVE_LIMIT: usize = 256 << 20;
/// Enough to tell whether a directory hides anything; a large one is simply not a mount target.
const IMAGE_DIR_ARCHIVE_LIMIT: usize = 8 << 20;

impl ApiRecorder {
    /// Call before the container starts. `workdir` is the container's working directory, where
    /// an app may make and remove files too.
    pub async fn start(
        docker: Docker,
        container: String,
        volumes: Vec<CPath>,
        workdir: Option<CPath>,
    ) -> Result<Self> {
        let mut recorder = ApiRecorder {
            docker,
            container,
            volumes,
            baseline: Snapshot::new(),
            segments: vec![],
            from_image: HashSet::new(),
            added: HashSet::new(),
            polled: Arc::default(),
            poller: None,
            widest_gap: Duration::ZERO,
            polls: 0,
            slowest_poll: Duration::ZERO,
            too_slow_to_poll: None,
            early: HashMap::new(),
            scratch: BTreeMap::new(),
        };
        // Volumes already hold the image's files there when the container is created.
        recorder.baseline = recorder.volume_state().await?;
        for dir in SCRATCH_DIRS
            .iter()
            .map(|d| d.as_bytes().to_vec())
            .chain(workdir)
        {
            let Some(stat) = recorder.path_stat(&dir).await else {
                continue;
            };
            let is_dir = go_file_mode(stat.file_mode, stat.size).file_type == Some(FileType::Dir);
            if is_dir && !recorder.volumes.iter().any(|v| is_within(&dir, v)) {
                recorder.scratch.insert(dir, stat.modification_time);
            }
        }
        // What one listing costs is measured before the app runs, so that it slows nothing.
        let asked = Instant::now();
        (recorder.docker.container_changes(&recorder.container).await)
            .context("cannot read the container's changes")?;
        let took = asked.elapsed();
        if took > POLL_COST_LIMIT {
            recorder.too_slow_to_poll = Some(took);
        } else {
            recorder.poller = Some(tokio::spawn(poll(
                recorder.docker.clone(),
                recorder.container.clone(),
                recorder.polled.clone(),
            )));
        }
        Ok(recorder)
    }

    pub async fn boundary(&mut self, phase: Phase, probe: Option<String>) -> Result<()> {
        let mut state = self.volume_state().await?;
        let changes = self
            .docker
            .container_changes(&self.container)
            .await
            .context("cannot read the container's changes")?
            .unwrap_or_default();
        let polled = {
            let mut polled = self.polled.lock().unwrap_or_else(PoisonError::into_inner);
            self.widest_gap = self.widest_gap.max(polled.widest);
            self.slowest_poll = self.slowest_poll.max(polled.slowest);
            self.polls += polled.polls;
            polled.widest = Duration::ZERO;
            polled.polls = 0;
            std::mem::take(&mut polled.seen)
        };
        if phase == Phase::Shutdown {
            // The first run is over: a restart is judged on what it left, not polled.
            if let Some(poller) = self.poller.take() {
                poller.abort();
            }
        }
        let mut touched = BTreeMap::new();
        let listed = (changes.into_iter()).map(|c| (c.path.into_bytes(), c.kind, true));
        let seen = (polled.into_iter()).map(|(p, kind)| (p, kind, false));
        for (path, kind, at_boundary) in listed.chain(seen) {
            if self.volumes.iter().any(|v| is_within(&path, v)) {
                continue;
            }
            if kind == ChangeType::_1 {
                self.added.insert(path.clone());
            } else {
                self.from_image.insert(path.clone());
            }
            let meta = Meta {
                whiteout: kind == ChangeType::_2,
                ..Meta::default()
            };
            if at_boundary {
                state.insert(path, meta);
            } else if !state.contains_key(&path) {
                // Seen by a poll and gone by the boundary: a write all the same.
                touched.insert(path, Some(meta));
            }
        }
        self.scratch_written(&state, &mut touched).await;
        let new: BTreeSet<CPath> = (state.keys())
            .filter(|p| self.added.contains(*p) && !self.early.contains_key(*p))
            .cloned()
            .collect();
        let early = self
            .describe_paths(&new, IMAGE_DIR_ARCHIVE_LIMIT, EARLY_REQUESTS)
            .await;
        self.early.extend(early);
        self.segments.push(Segment {
            phase,
            probe,
            state,
            touched,
        });
        Ok(())
    }

    /// Adds to `touched` each scratch directory whose mtime changed since the run began and
    /// that the changes API did not list: something was made and removed in it (a worker's
    /// temporary file, unlinked as soon as it is open), which on storage drivers that compare
    /// files with the image leaves no change to list. Overlay mode sees the directory copied up.
    async fn scratch_written(
        &mut self,
        state: &Snapshot,
        touched: &mut BTreeMap<CPath, Option<Meta>>,
    ) {
        // Listed once, a directory is judged as the changes API shows it.
        self.scratch
            .retain(|d, _| !state.contains_key(d) && !touched.contains_key(d));
        let dirs: Vec<(CPath, Option<String>)> = (self.scratch.iter())
            .map(|(d, m)| (d.clone(), m.clone()))
            .collect();
        for (dir, before) in dirs {
            let Some(now) = self.path_stat(&dir).await else {
                continue;
            };
            if now.modification_time != before {
                self.scratch.remove(&dir);
                self.from_image.insert(dir.clone());
                let meta = Meta {
                    file_type: Some(FileType::Dir),
                    ..Meta::default()
                };
                touched.insert(dir, Some(meta));
            }
        }
    }

    /// What API mode could not see of this run.
    pub fn blind_spots(&self) -> Vec<String> {
        // A poll sees what exists while the engine walks the container: a file that lived
        // less than the pause between two polls may fall between them.
        let slowest = self.slowest_poll.as_millis();
        let apart = (self.widest_gap.as_millis()).max(
            POLL_GAP
                .max(self.slowest_poll * POLL_COST_FACTOR)
                .as_millis(),
        );
        let transient = match (self.too_slow_to_poll, self.polls) {
            (Some(took), _) => format!(
                "transient files: a file created and removed between two phase boundaries is \
                 not seen: the engine took {} ms to list the container's changes once (its \
                 storage driver compares the whole root with the image), too long to poll them \
                 in between without slowing the app",
                took.as_millis()
            ),
            (None, 0) => "transient files: a file created and removed between two phase \
                          boundaries is not seen: no poll of the changes API completed"
                .to_string(),
            (None, polls) => format!(
                "transient files: a file created and removed within {apart} ms may fall between \
                 two polls of the changes API and not be seen ({polls} polls; the engine took up \
                 to {slowest} ms to answer one, and polls pause {POLL_COST_FACTOR} times that, \
                 at least {} ms, to keep its load low)",
                POLL_GAP.as_millis()
            ),
        };
        std::iter::once(transient)
            .chain(BLIND_SPOTS.iter().map(|s| s.to_string()))
            .chain([links_blind_spot()])
            .collect()
    }

    /// Fills in type, size, mode and owner of what the boundaries saw, from the archive API:
    /// what the last one saw, and what an earlier one saw of the image's that is still there (a
    /// directory the app wrote in and emptied again, such as /run without its pid file). What
    /// was gone by the end is as the boundary that first saw it described it. A path with
    /// anything seen below it is a directory, whether or not it is still there to ask.
    pub async fn describe(&mut self) {
        let Some(last) = self.segments.last() else {
            return;
        };
        let unknown_meta = |m: &Meta| m.file_type.is_none() && !m.whiteout;
        let mut unknown: BTreeSet<CPath> = (last.state.iter())
            .filter(|(_, m)| unknown_meta(m))
            .map(|(p, _)| p.clone())
            .collect();
        for seg in &self.segments {
            let touched = (seg.touched.iter()).filter_map(|(p, m)| Some((p, m.as_ref()?)));
            for (path, meta) in seg.state.iter().chain(touched) {
                if unknown_meta(meta) && self.from_image.contains(path) {
                    unknown.insert(path.clone());
                }
            }
        }
        let mut described = self.describe_paths(&unknown, usize::MAX, usize::MAX).await;
        for (path, meta) in &self.early {
            described
                .entry(path.clone())
                .or_insert_with(|| meta.clone());
        }
        let mut all: BTreeSet<&[u8]> = BTreeSet::new();
        for seg in &self.segments {
            all.extend(seg.state.keys().map(Vec::as_slice));
            all.extend(seg.touched.keys().map(Vec::as_slice));
        }
        let dirs: Vec<CPath> = (all.iter())
            .filter(|p| !described.contains_key(**p) && has_below(&all, p))
            .map(|p| p.to_vec())
            .collect();
        for dir in dirs {
            let meta = Meta {
                file_type: Some(FileType::Dir),
                ..Meta::default()
            };
            described.insert(dir, meta);
        }
        for seg in &mut self.segments {
            for (path, meta) in &described {
                if let Some(slot) = seg.state.get_mut(path).filter(|m| unknown_meta(m)) {
                    *slot = meta.clone();
                }
                if let Some(slot) =
                    (seg.touched.get_mut(path)).filter(|m| m.as_ref().is_none_or(&unknown_meta))
                {
                    *slot = Some(meta.clone());
                }
            }
        }
    }

    /// Type, size, mode and owner of each of `paths` that is there now. What the app added
    /// comes in one archive of the topmost directory it added above it (at most `limit` bytes
    /// of it): a request a path takes the engine 25 ms on a stopped container, hours for a
    /// write storm. The rest (what it changed of the image, what an archive cut short left
    /// out) is asked path by path, at most `requests` of them.
    async fn describe_paths(
        &self,
        paths: &BTreeSet<CPath>,
        limit: usize,
        requests: usize,
    ) -> BTreeMap<CPath, Meta> {
        let mut roots: BTreeSet<&[u8]> = BTreeSet::new();
        for path in paths.iter().filter(|p| self.added.contains(*p)) {
            let mut root = path.as_slice();
            while self.added.contains(parent(root)) {
                root = parent(root);
            }
            roots.insert(root);
        }
        let mut described: BTreeMap<CPath, Meta> = BTreeMap::new();
        for root in roots {
            // A failed archive leaves its paths to be asked one by one.
            // Only metadata is held, so the whole directory is read.
            if let Ok((entries, _)) = self.archive(root, limit).await {
                // A hard link whose file the archive did not hold has no size: a stat tells it.
                let known = entries
                    .into_iter()
                    .filter(|(p, m)| paths.contains(p) && m.size.is_some());
                described.extend(known.map(|(p, m)| (p, without_time(m))));
            }
        }
        let asked = paths.iter().filter(|p| !described.contains_key(*p));
        for path in asked.take(requests).collect::<Vec<_>>() {
            if let Some(meta) = self.header(path).await {
                described.insert(path.clone(), meta);
            }
        }
        described
    }

    /// What the archive's header says of `path` alone: its type, size, mode and owner. Only the
    /// archive's first chunk is read, whatever the file's size.
    async fn header(&self, path: &[u8]) -> Option<Meta> {
        let entry = match self.archive(path, 1).await {
            Ok((entries, _)) => entries.into_iter().find(|(p, _)| p == path),
            Err(_) => None,
        };
        // An archive holds no socket: the engine's stat still tells what it is.
        let Some((_, meta)) = entry else {
            let stat = self.path_stat(path).await?;
            return Some(go_file_mode(stat.file_mode, stat.size));
        };
        // A hard link's size is its file's, which the archive did not hold: a stat tells it.
        let meta = match meta.size {
            Some(_) => meta,
            None => Meta {
                size: (self.path_stat(path).await).and_then(|s| u64::try_from(s.size).ok()),
                ..meta
            },
        };
        Some(without_time(meta))
    }

    /// Everything at `dir` in the container, from one archive parsed as it streams, so that
    /// only the entries' metadata is held. Reading stops after `limit` bytes of archive, and
    /// the answer says whether it stopped there.
    async fn archive(&self, dir: &[u8], limit: usize) -> Result<(Vec<(CPath, Meta)>, bool)> {
        let dest = String::from_utf8_lossy(dir).into_owned();
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(&dest)
            .build();
        let mut stream = self
            .docker
            .download_from_container(&self.container, Some(options));
        // Entries are named from the directory's last component: /var/data → data/...
        let prefix = [parent(dir), b"/"].concat();
        let (tx, chunks) = tokio::sync::mpsc::channel(16);
        let parse = tokio::task::spawn_blocking(move || {
            let mut archive = tar::Archive::new(ChunkReader {
                chunks,
                chunk: vec![],
                at: 0,
            });
            archive_entries(&mut archive, &prefix)
        });
        let (mut read, mut truncated) = (0, false);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("cannot read {dest}"))?;
            read += chunk.len();
            // The chunk that crosses the limit is still read: its whole entries count.
            truncated = read > limit;
            if tx.send(chunk.to_vec()).await.is_err() || truncated {
                break;
            }
        }
        drop(tx);
        Ok((parse.await??, truncated))
    }

    async fn volume_state(&self) -> Result<Snapshot> {
        let mut state = Snapshot::new();
        for volume in &self.volumes {
            let (entries, truncated) = self.archive(volume, VOLUME_ARCHIVE_LIMIT).await?;
            if truncated {
                anyhow::bail!(
                    "volume {} holds more than {} MiB; trace on the engine's own host \
                     (overlay mode) to see writes there",
                    String::from_utf8_lossy(volume),
                    VOLUME_ARCHIVE_LIMIT >> 20
                );
            }
            state.extend(entries.into_iter().filter(|(p, _)| p != volume));
        }
        Ok(state)
    }

    /// What the image holds at `dir`: the container's content there now, less what the app made.
    pub async fn image_dir(&self, dir: &str, written: &HashSet<&[u8]>) -> ImageDir {
        let created = |p: &[u8]| written.contains(p) || self.added.contains(p);
        // The app made it: the image has nothing there, and there is no archive to read.
        if created(dir.as_bytes()) {
            return ImageDir::absent(dir);
        }
        let Ok((entries, _)) = self.archive(dir.as_bytes(), IMAGE_DIR_ARCHIVE_LIMIT).await else {
            return ImageDir::absent(dir);
        };
        let own = entries
            .iter()
            .find(|(p, _)| p.as_slice() == dir.as_bytes())
            .map(|(_, m)| m.clone());
        let hidden = entries
            .iter()
            .filter(|(p, _)| p.as_slice() != dir.as_bytes() && !created(p))
            .map(|(p, m)| (p, m))
            .collect::<Vec<_>>();
        ImageDir::listing(dir, own, &hidden)
    }
}

/// Polls the changes API until aborted, one request at a time, pausing between two as
/// [`POLL_GAP`] and [`POLL_COST_FACTOR`] say; adds what each poll lists to `polled`.
async fn poll(docker: Docker, container: String, polled: Arc<Mutex<Polled>>) {
    loop {
        let asked = Instant::now();
        let changes = docker.container_changes(&container).await;
        let took = asked.elapsed();
        if let Ok(Some(changes)) = changes {
            let mut polled = polled.lock().unwrap_or_else(PoisonError::into_inner);
            for change in changes {
                (polled.seen)
                    .entry(change.path.into_bytes())
                    .or_insert(change.kind);
            }
            let now = Instant::now();
            if let Some(last) = polled.last.replace(now) {
                polled.widest = polled.widest.max(now - last);
            }
            polled.polls += 1;
            polled.slowest = polled.slowest.max(took);
        }
        tokio::time::sleep(POLL_GAP.max(took * POLL_COST_FACTOR)).await;
    }
}

/// `path` up to its last `/`: empty for a top-level path.
fn parent(path: &[u8]) -> &[u8] {
    path.iter()
        .rposition(|&b| b == b'/')
        .map_or(&[][..], |i| &path[..i])
}

/// Whether `all` holds a path below `dir`.
fn has_below(all: &BTreeSet<&[u8]>, dir: &[u8]) -> bool {
    let below = [dir, b"/"].concat();
    (all.range::<[u8], _>((Bound::Included(below.as_slice()), Bound::Unbounded)))
        .next()
        .is_some_and(|p| p.starts_with(&below))
}

/// `meta` without its times: each segment holds a path with the same metadata, so that it is
/// found written once, in the first segment that saw it.
fn without_time(meta: Meta) -> Meta {
    Meta {
        mtime: None,
        ctime: None,
        ..meta
    }
}

/// Feeds an archive that arrives in chunks to a parser that reads.
struct ChunkReader {
    chunks: tokio::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.chunks.blocking_recv() {
                Some(chunk) => (self.chunk, self.at) = (chunk, 0),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The entries of `archive`, named below `prefix`. A truncated archive ends in a parse error:
/// what came before it is kept.
fn archive_entries<R: std::io::Read>(
    archive: &mut tar::Archive<R>,
    prefix: &[u8],
) -> std::io::Result<Vec<(CPath, Meta)>> {
    let mut found: Vec<(CPath, Meta)> = vec![];
    let mut sizes: HashMap<Vec<u8>, u64> = HashMap::new();
    for entry in archive.entries()?.map_while(Result::ok) {
        let name = entry.path_bytes();
        let mut path = prefix.to_vec();
        path.extend_from_slice(name.strip_suffix(b"/").unwrap_or(&name));
        let mut meta = entry_meta(&entry);
        match meta.size {
            Some(size) => _ = sizes.insert(name.into_owned(), size),
            // A hard link has the size of the file it links to, which came before it.
            None => {
                meta.size = entry
                    .link_name_bytes()
                    .and_then(|t| sizes.get(&*t))
                    .copied()
            }
        }
        found.push((path, meta));
    }
    Ok(found)
}

/// What an archive entry says of its file: a symlink's size is its target's length, as a stat
/// gives it, and a hard link has none.
fn entry_meta<R: std::io::Read>(entry: &tar::Entry<R>) -> Meta {
    let header = entry.header();
    let (file_type, size) = match header.entry_type() {
        tar::EntryType::Directory => (FileType::Dir, header.size().ok()),
        tar::EntryType::Regular => (FileType::File, header.size().ok()),
        tar::EntryType::Link => (FileType::File, None),
        tar::EntryType::Symlink => {
            let target = entry.link_name_bytes().map_or(0, |l| l.len());
            (FileType::Symlink, Some(target as u64))
        }
        _ => (FileType::Other, header.size().ok()),
    };
    Meta {
        file_type: Some(file_type),
        size,
        mode: header.mode().ok().map(|m| m & 0o7777),
        uid: header.uid().ok().map(|u| u as u32),
        gid: header.gid().ok().map(|g| g as u32),
        mtime: header.mtime().ok().map(|t| nanos(t as i64, 0)),
        ..Meta::default()
    }
}

/// Go's os.FileMode, as the archive API reports it: type bits at the top, permissions below.
fn go_file_mode(mode: u32, size: i64) -> Meta {
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    let file_type = if mode & DIR != 0 {
        FileType::Dir
    } else if mode & SYMLINK != 0 {
        FileType::Symlink
    } else if mode & 0x8F00_0000 == 0 {
        FileType::File
    } else {
        FileType::Other
    };
    Meta {
        file_type: Some(file_type),
        size: u64::try_from(size).ok(),
        mode: Some(mode & 0o777),
        ..Meta::default()
    }
}

/// Files compared across a restart at most: each costs the engine a request before the second
/// start and one after it.
pub const RESTART_STAT_LIMIT: usize = 100;

/// What the archive API tells of a file: enough to see that a restart wrote it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    size: i64,
    mode: u32,
    /// As the engine formats it, to the nanosecond.
    mtime: Option<String>,
}

impl ApiRecorder {
    /// Before a restart: what the first run left, as the archive API states it, files before
    /// directories and at most [`RESTART_STAT_LIMIT`]; and how many were left out.
    pub async fn left(&mut self) -> (BTreeMap<CPath, Stat>, usize) {
        self.describe().await;
        let Some(last) = self.segments.last() else {
            return (BTreeMap::new(), 0);
        };
        let mut paths: Vec<(bool, CPath)> = (last.state.iter())
            .filter(|(_, m)| !m.whiteout)
            .map(|(p, m)| (m.file_type == Some(FileType::Dir), p.clone()))
            .collect();
        paths.sort();
        let skipped = paths.len().saturating_sub(RESTART_STAT_LIMIT);
        let mut left = BTreeMap::new();
        for (_, path) in paths.into_iter().take(RESTART_STAT_LIMIT) {
            if let Some(Some(stat)) = self.stat(&path).await {
                left.insert(path, stat);
            }
        }
        (left, skipped)
    }

    /// The image's conventional links to directories ([`CONVENTIONAL_LINKS`]), with their
    /// targets as the engine resolves them in the container.
    pub async fn dir_symlinks(&self) -> Vec<Symlink> {
        let mut links = vec![];
        for path in CONVENTIONAL_LINKS {
            let Some(link) = self.path_stat(path.as_bytes()).await else {
                continue;
            };
            if link.link_target.is_empty() || link.link_target == *path {
                continue;
            }
            let target = self.path_stat(link.link_target.as_bytes()).await;
            if target
                .is_some_and(|t| go_file_mode(t.file_mode, t.size).file_type == Some(FileType::Dir))
            {
                links.push(Symlink {
                    path: path.to_string(),
                    target: link.link_target,
                });
            }
        }
        links
    }

    async fn path_stat(&self, path: &[u8]) -> Option<bollard::container::PathStatResponse> {
        let options = ContainerArchiveInfoOptionsBuilder::default()
            .path(&String::from_utf8_lossy(path))
            .build();
        (self.docker)
            .get_container_archive_info(&self.container, Some(options))
            .await
            .ok()
    }

    /// `path` as the archive API states it: Some(None) where it is gone, None where the engine
    /// did not say.
    pub async fn stat(&self, path: &[u8]) -> Option<Option<Stat>> {
        let options = ContainerArchiveInfoOptionsBuilder::default()
            .path(&String::from_utf8_lossy(path))
            .build();
        match self
            .docker
            .get_container_archive_info(&self.container, Some(options))
            .await
        {
            Ok(stat) => Some(Some(Stat {
                size: stat.size,
                mode: stat.file_mode,
                mtime: stat.modification_time,
            })),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Some(None),
            Err(_) => None,
        }
    }

    /// After a restart: what it added counts as the app's, so that no directory's listing takes
    /// it for the image's.
    pub async fn restarted(&mut self) {
        let Ok(Some(changes)) = self.docker.container_changes(&self.container).await else {
            return;
        };
        for change in changes {
            if change.kind == ChangeType::_1 {
                self.added.insert(change.path.into_bytes());
            }
        }
    }
}

impl Image for ApiRecorder {
    fn has(&self, path: &[u8]) -> bool {
        self.from_image.contains(path) || self.baseline.contains_key(path)
    }

    fn meta(&self, _path: &[u8]) -> Option<Meta> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `data/` as the archive API gives it: a file, a hard link to it, a symlink.
    fn data_archive() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        builder.append_data(&mut header, "data/", &[][..]).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o640);
        header.set_size(5);
        builder
            .append_data(&mut header, "data/a", &b"hello"[..])
            .unwrap();
        for (kind, name, target) in [
            (tar::EntryType::Link, "data/b", "data/a"),
            (tar::EntryType::Symlink, "data/l", "a"),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_mode(0o777);
            header.set_size(0);
            builder.append_link(&mut header, name, target).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn archive_entries_give_links_the_sizes_a_stat_would() {
        let bytes = data_archive();
        let entries = archive_entries(&mut tar::Archive::new(&bytes[..]), b"/var/").unwrap();
        let got: Vec<(String, Option<FileType>, Option<u64>)> = entries
            .iter()
            .map(|(p, m)| (String::from_utf8_lossy(p).into_owned(), m.file_type, m.size))
            .collect();
        assert_eq!(
            got,
            [
                ("/var/data".into(), Some(FileType::Dir), Some(0)),
                ("/var/data/a".into(), Some(FileType::File), Some(5)),
                // A hard link is its file; a symlink's size is its target's length.
                ("/var/data/b".into(), Some(FileType::File), Some(5)),
                ("/var/data/l".into(), Some(FileType::Symlink), Some(1)),
            ]
        );
        // Cut short in its second entry's header, an archive gives what came before.
        let cut = archive_entries(&mut tar::Archive::new(&bytes[..512 + 100]), b"/var/").unwrap();
        assert_eq!(cut.len(), 1, "{cut:?}");
    }

    #[test]
    fn reads_go_file_modes() {
        assert_eq!(
            go_file_mode((1 << 31) | 0o755, 4096).file_type,
            Some(FileType::Dir)
        );
        let file = go_file_mode(0o644, 12);
        assert_eq!(
            (file.file_type, file.size, file.mode),
            (Some(FileType::File), Some(12), Some(0o644))
        );
    }
}
