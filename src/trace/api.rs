//! API mode, for engines whose storage this machine cannot read (remote DOCKER_HOST, Docker
//! Desktop, rootless): the engine's changes API at each phase boundary, and the archive API for
//! volumes and for sizes. It cannot see what exists only between two boundaries.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use anyhow::{Context, Result};
use bollard::models::ChangeType;
use bollard::query_parameters::{
    ContainerArchiveInfoOptionsBuilder, DownloadFromContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

use super::assemble::{CPath, Image, Meta, Segment, Snapshot};
use super::layer::nanos;
use crate::model::{is_within, FileType, ImageDir, Phase};

pub const BLIND_SPOTS: &[&str] = &[
    "transient files: a file created and removed between two phase boundaries is not seen",
    "timing: a write is attributed to the phase in which it was first seen, not the moment it happened",
    "rewrites: a file written again in a later phase is reported once, in the first",
    "owners: the uid and gid of written files are not reported",
    "links: the image's links to directories are not read, so a read-only error that names a \
     path through one (/var/run for /run) is not matched to the write or mount it concerns",
];

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
}

/// Volume contents above this size are not listed, to keep a fallback from copying a database.
const VOLUME_ARCHIVE_LIMIT: usize = 256 << 20;
/// Enough to tell whether a directory hides anything; a large one is simply not a mount target.
const IMAGE_DIR_ARCHIVE_LIMIT: usize = 8 << 20;

impl ApiRecorder {
    pub async fn start(docker: Docker, container: String, volumes: Vec<CPath>) -> Result<Self> {
        let mut recorder = ApiRecorder {
            docker,
            container,
            volumes,
            baseline: Snapshot::new(),
            segments: vec![],
            from_image: HashSet::new(),
            added: HashSet::new(),
        };
        // Volumes already hold the image's files there when the container is created.
        recorder.baseline = recorder.volume_state().await?;
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
        for change in changes {
            let path = change.path.into_bytes();
            if self.volumes.iter().any(|v| is_within(&path, v)) {
                continue;
            }
            if change.kind == ChangeType::_1 {
                self.added.insert(path.clone());
            } else {
                self.from_image.insert(path.clone());
            }
            let meta = Meta {
                whiteout: change.kind == ChangeType::_2,
                ..Meta::default()
            };
            state.insert(path, meta);
        }
        self.segments.push(Segment {
            phase,
            probe,
            state,
            touched: Default::default(),
        });
        Ok(())
    }

    /// Fills in type, size and mode of what the last boundary saw, from the archive API. What
    /// the app added below a directory it added comes in one archive of that directory: a
    /// request a path takes the engine 25 ms on a stopped container, hours for a write storm.
    /// The rest (what it changed of the image) is asked path by path.
    pub async fn describe(&mut self) {
        let Some(last) = self.segments.last() else {
            return;
        };
        let unknown: BTreeSet<CPath> = last
            .state
            .iter()
            .filter(|(_, m)| m.file_type.is_none() && !m.whiteout)
            .map(|(p, _)| p.clone())
            .collect();
        let added_roots = unknown
            .iter()
            .filter(|p| self.added.contains(*p) && !self.added.contains(parent(p)));
        let mut described: BTreeMap<CPath, Meta> = BTreeMap::new();
        for root in added_roots {
            // A failed archive leaves its paths to be asked one by one.
            // Only metadata is held, so the whole directory is read.
            if let Ok((entries, _)) = self.archive(root, usize::MAX).await {
                // A hard link whose file the archive did not hold has no size: a stat tells it.
                let known = entries
                    .into_iter()
                    .filter(|(p, m)| unknown.contains(p) && m.size.is_some());
                // Owners and times stay out, as for what is asked one by one.
                let plain = |m| Meta {
                    uid: None,
                    gid: None,
                    mtime: None,
                    ..m
                };
                described.extend(known.map(|(p, m)| (p, plain(m))));
            }
        }
        for path in &unknown {
            if described.contains_key(path) {
                continue;
            }
            let options = ContainerArchiveInfoOptionsBuilder::default()
                .path(&String::from_utf8_lossy(path))
                .build();
            let Ok(stat) = self
                .docker
                .get_container_archive_info(&self.container, Some(options))
                .await
            else {
                continue;
            };
            described.insert(path.clone(), go_file_mode(stat.file_mode, stat.size));
        }
        for seg in &mut self.segments {
            for (path, meta) in &described {
                if let Some(slot) = seg.state.get_mut(path) {
                    *slot = meta.clone();
                }
            }
        }
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

/// `path` up to its last `/`: empty for a top-level path.
fn parent(path: &[u8]) -> &[u8] {
    path.iter()
        .rposition(|&b| b == b'/')
        .map_or(&[][..], |i| &path[..i])
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
