//! API mode, for engines whose storage this machine cannot read (remote DOCKER_HOST, Docker
//! Desktop, rootless): the engine's changes API at each phase boundary, and the archive API for
//! volumes and for sizes. It cannot see what exists only between two boundaries.

use std::collections::HashSet;

use anyhow::{Context, Result};
use bollard::models::ChangeType;
use bollard::query_parameters::{
    ContainerArchiveInfoOptionsBuilder, DownloadFromContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

use super::assemble::{is_within, CPath, Image, Meta, Segment, Snapshot};
use crate::model::{FileType, Phase};

pub const BLIND_SPOTS: &[&str] = &[
    "transient files: a file created and removed between two phase boundaries is not seen",
    "timing: a write is attributed to the phase in which it was first seen, not the moment it happened",
    "rewrites: a file written again in a later phase is reported once, in the first",
    "owners: the uid and gid of written files are not reported",
];

pub struct ApiRecorder {
    docker: Docker,
    container: String,
    volumes: Vec<CPath>,
    pub baseline: Snapshot,
    pub segments: Vec<Segment>,
    /// Paths the changes API ever called modified or deleted: they come from the image.
    from_image: HashSet<CPath>,
}

/// Volume contents above this size are not listed, to keep a fallback from copying a database.
const VOLUME_ARCHIVE_LIMIT: usize = 256 << 20;

impl ApiRecorder {
    pub async fn start(docker: Docker, container: String, volumes: Vec<CPath>) -> Result<Self> {
        let mut recorder = ApiRecorder {
            docker,
            container,
            volumes,
            baseline: Snapshot::new(),
            segments: vec![],
            from_image: HashSet::new(),
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
            if change.kind != ChangeType::_1 {
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

    /// Fills in type, size and mode of what the last boundary saw, from the archive API.
    pub async fn describe(&mut self) {
        let Some(last) = self.segments.last() else {
            return;
        };
        let unknown: Vec<CPath> = last
            .state
            .iter()
            .filter(|(_, m)| m.file_type.is_none() && !m.whiteout)
            .map(|(p, _)| p.clone())
            .collect();
        for path in unknown {
            let options = ContainerArchiveInfoOptionsBuilder::default()
                .path(&String::from_utf8_lossy(&path))
                .build();
            let Ok(stat) = self
                .docker
                .get_container_archive_info(&self.container, Some(options))
                .await
            else {
                continue;
            };
            let described = go_file_mode(stat.file_mode, stat.size);
            for seg in &mut self.segments {
                if let Some(meta) = seg.state.get_mut(&path) {
                    *meta = described.clone();
                }
            }
        }
    }

    async fn volume_state(&self) -> Result<Snapshot> {
        let mut state = Snapshot::new();
        for volume in &self.volumes {
            let dest = String::from_utf8_lossy(volume).into_owned();
            let options = DownloadFromContainerOptionsBuilder::default()
                .path(&dest)
                .build();
            let mut stream = self
                .docker
                .download_from_container(&self.container, Some(options));
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.next().await {
                bytes.extend_from_slice(
                    &chunk.with_context(|| format!("cannot read volume {dest}"))?,
                );
                if bytes.len() > VOLUME_ARCHIVE_LIMIT {
                    anyhow::bail!(
                        "volume {dest} holds more than {} MiB; trace on the engine's own host \
                         (overlay mode) to see writes there",
                        VOLUME_ARCHIVE_LIMIT >> 20
                    );
                }
            }
            // Archive entries are named from the volume's last component: /var/data → data/...
            let parent = dest.rsplit_once('/').map_or("", |(p, _)| p);
            let mut archive = tar::Archive::new(bytes.as_slice());
            for entry in archive.entries().context("unreadable volume archive")? {
                let entry = entry.context("unreadable volume archive")?;
                let header = entry.header();
                let name = entry.path_bytes();
                let mut path = format!("{parent}/").into_bytes();
                path.extend_from_slice(name.strip_suffix(b"/").unwrap_or(&name));
                if path.as_slice() == volume.as_slice() {
                    continue;
                }
                let file_type = match header.entry_type() {
                    tar::EntryType::Directory => FileType::Dir,
                    tar::EntryType::Regular => FileType::File,
                    tar::EntryType::Symlink => FileType::Symlink,
                    _ => FileType::Other,
                };
                let meta = Meta {
                    file_type: Some(file_type),
                    size: header.size().ok(),
                    mode: header.mode().ok(),
                    uid: header.uid().ok().map(|u| u as u32),
                    gid: header.gid().ok().map(|g| g as u32),
                    mtime: header.mtime().ok().map(|t| t as i128 * 1_000_000_000),
                    ..Meta::default()
                };
                state.insert(path, meta);
            }
        }
        Ok(state)
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
