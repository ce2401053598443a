//! The overlay's layers as both watchers and the image reader see them: the roots that map host
//! paths to container paths, the metadata of what is found there, and the whiteouts that mark
//! what a higher layer deleted.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::assemble::{CPath, Meta};
use crate::model::FileType;

/// A host directory and the container path it shows: the upper dir at `/`, a volume at its
/// mount point.
#[derive(Debug, Clone)]
pub struct Root {
    pub host: PathBuf,
    pub container: CPath,
}

/// Maps a host path under one of the roots to its container path, resolving whiteout names.
pub fn to_container<'a>(roots: &'a [Root], host: &Path) -> Option<(&'a Root, CPath)> {
    let root = roots
        .iter()
        .filter(|r| host.starts_with(&r.host))
        .max_by_key(|r| r.host.as_os_str().len())?;
    let rel = host.strip_prefix(&root.host).ok()?;
    let mut path = root.container.clone();
    for part in rel.components() {
        let name = part.as_os_str().as_bytes();
        let name = match whiteout_name(name) {
            WhiteoutName::Plain => name,
            WhiteoutName::Marker => return None,
            WhiteoutName::Deletes(target) => target,
        };
        if path.last() != Some(&b'/') {
            path.push(b'/');
        }
        path.extend_from_slice(name);
    }
    Some((root, path))
}

/// The host path of a container path under one of the roots: where the app's own file is.
pub fn to_host(roots: &[Root], path: &[u8]) -> Option<PathBuf> {
    let root = roots
        .iter()
        .filter(|r| crate::model::is_within(path, &r.container))
        .max_by_key(|r| r.container.len())?;
    let rel = path[root.container.len()..]
        .strip_prefix(b"/")
        .unwrap_or(&path[root.container.len()..]);
    Some(root.host.join(std::ffi::OsStr::from_bytes(rel)))
}

pub enum WhiteoutName<'a> {
    Plain,
    /// An opaque-directory marker: bookkeeping, not a file of the app.
    Marker,
    /// `.wh.NAME`: NAME was deleted (the form used where a 0:0 device cannot be made).
    Deletes(&'a [u8]),
}

pub fn whiteout_name(name: &[u8]) -> WhiteoutName<'_> {
    if name.starts_with(b".wh..wh.") || name == b".wh..opq" {
        WhiteoutName::Marker
    } else if let Some(target) = name.strip_prefix(b".wh.") {
        WhiteoutName::Deletes(target)
    } else {
        WhiteoutName::Plain
    }
}

/// The entries under `from`, as they are read: a large layer is never listed whole.
pub fn walk<'a>(root: &'a Root, from: &Path) -> impl Iterator<Item = (CPath, Meta)> + 'a {
    walkdir::WalkDir::new(from)
        .min_depth(if from == root.host { 1 } else { 0 })
        .follow_links(false)
        .into_iter()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let (_, path) = to_container(std::slice::from_ref(root), entry.path())?;
            let mut meta = meta_of(&entry.metadata().ok()?);
            if entry.file_name().as_bytes().starts_with(b".wh.") {
                meta.whiteout = true;
            }
            Some((path, meta))
        })
}

/// A timestamp in nanoseconds, saturating past the year 2262.
pub fn nanos(secs: i64, nsecs: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsecs)
}

/// Kernel overlayfs and fuse-overlayfs mark a deleted lower file with a 0:0 character device.
pub fn is_whiteout_device(m: &std::fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

pub fn meta_of(m: &std::fs::Metadata) -> Meta {
    let ft = m.file_type();
    let whiteout = is_whiteout_device(m);
    Meta {
        file_type: Some(if ft.is_dir() {
            FileType::Dir
        } else if ft.is_file() {
            FileType::File
        } else if ft.is_symlink() {
            FileType::Symlink
        } else {
            FileType::Other
        }),
        whiteout,
        size: Some(m.len()),
        mode: Some(m.mode()),
        uid: Some(m.uid()),
        gid: Some(m.gid()),
        mtime: Some(nanos(m.mtime(), m.mtime_nsec())),
        ctime: Some(nanos(m.ctime(), m.ctime_nsec())),
    }
}
