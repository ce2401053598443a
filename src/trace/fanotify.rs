//! fanotify on the filesystem that holds the overlay's upper dir, next to inotify. Both overlay
//! drivers make a directory in their work dir and rename it into the upper dir: a file created
//! in it before the rename raises no inotify event under the upper dir, and if it is gone before
//! the next walk it is never seen. fanotify names the file by its directory's handle, which
//! survives the rename, so the file is found where the directory went.
//!
//! It needs CAP_SYS_ADMIN and Linux 5.9 (`FAN_REPORT_DFID_NAME`); where it cannot start, overlay
//! mode keeps to inotify and says so among its blind spots.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::assemble::{CPath, Meta};
use super::layer::{meta_of, to_container, Root};

/// How often the reader wakes up with nothing to read, to notice it should stop and to retry
/// handles of directories that were still in the work dir.
const POLL: Duration = Duration::from_millis(20);

/// How many wake-ups a directory may stay outside the upper dir before it is given up: a work
/// dir's directory is renamed into place at once.
const PENDING_TRIES: u32 = 50;

/// Reports the paths written under the roots into the recorder's channel until dropped.
pub struct Fanotify {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// What went wrong while it ran: a queue overflow, a read error. Each makes a blind spot.
    problems: Arc<Mutex<Vec<String>>>,
}

impl Drop for Fanotify {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Fanotify {
    /// Starts watching the filesystems of `roots`; an error says why it cannot.
    pub fn start(
        roots: Vec<Root>,
        tx: mpsc::Sender<(CPath, Option<Meta>)>,
    ) -> std::io::Result<Fanotify> {
        // SAFETY: plain syscalls on values we own; each result is checked before use.
        let raw = unsafe {
            libc::fanotify_init(
                libc::FAN_CLASS_NOTIF
                    | libc::FAN_CLOEXEC
                    | libc::FAN_NONBLOCK
                    | libc::FAN_REPORT_DFID_NAME,
                (libc::O_RDONLY | libc::O_LARGEFILE) as u32,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mask = libc::FAN_CREATE
            | libc::FAN_MODIFY
            | libc::FAN_CLOSE_WRITE
            | libc::FAN_MOVED_TO
            | libc::FAN_ONDIR;
        let mut mounts = vec![];
        for root in &roots {
            let path = CString::new(root.host.as_os_str().as_bytes())?;
            // SAFETY: `path` is a valid C string for the duration of the call.
            let rc = unsafe {
                libc::fanotify_mark(
                    fd.as_raw_fd(),
                    libc::FAN_MARK_ADD | libc::FAN_MARK_FILESYSTEM,
                    mask,
                    libc::AT_FDCWD,
                    path.as_ptr(),
                )
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Any descriptor on the filesystem serves open_by_handle_at.
            mounts.push(std::fs::File::open(&root.host)?);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let problems = Arc::new(Mutex::new(vec![]));
        let reader = Reader {
            problems: problems.clone(),
            fd,
            mounts,
            roots,
            tx,
            outside: HashSet::new(),
            pending: HashMap::new(),
        };
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rofs-fanotify".into())
            .spawn(move || reader.run(&flag))?;
        Ok(Fanotify {
            stop,
            thread: Some(thread),
            problems,
        })
    }

    /// What it could not see, so far.
    pub fn problems(&self) -> Vec<String> {
        self.problems.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// A directory handle as the kernel reported it: `handle_type` then the opaque bytes.
type Handle = (i32, Vec<u8>);

struct Reader {
    problems: Arc<Mutex<Vec<String>>>,
    fd: OwnedFd,
    mounts: Vec<std::fs::File>,
    roots: Vec<Root>,
    tx: mpsc::Sender<(CPath, Option<Meta>)>,
    /// Directories found outside every root and outside the layers' own directories: the rest
    /// of the host, whose events the filesystem mark brings too.
    outside: HashSet<Handle>,
    /// Names in directories still in a work dir, with the wake-ups they have left.
    pending: HashMap<Handle, (Vec<Vec<u8>>, u32)>,
}

impl Reader {
    fn run(mut self, stop: &AtomicBool) {
        let mut buf = vec![0u8; 64 * 1024];
        while !stop.load(Ordering::Relaxed) {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, POLL.as_millis() as i32) };
            loop {
                // SAFETY: reads into a buffer we own, at most its length.
                let n =
                    unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    if e.kind() != std::io::ErrorKind::WouldBlock {
                        self.problem(format!(
                            "fanotify stopped reading events ({e}): files that live a moment may \
                             be missed"
                        ));
                    }
                    break;
                }
                if n == 0 {
                    break;
                }
                let (found, overflowed) = events(&buf[..n as usize]);
                if overflowed {
                    self.problem(
                        "fanotify's event queue overflowed: some files that lived only a moment \
                         may be missed"
                            .to_string(),
                    );
                }
                for (handle, name) in found {
                    self.resolve(handle, vec![name]);
                }
            }
            let retry: Vec<_> = self.pending.drain().collect();
            for (handle, (names, tries)) in retry {
                if let Some(names) = self.resolve(handle.clone(), names) {
                    if tries > 1 {
                        self.pending.insert(handle, (names, tries - 1));
                    }
                }
            }
        }
    }

    /// Records a blind spot once.
    fn problem(&self, what: String) {
        if let Ok(mut problems) = self.problems.lock() {
            if !problems.contains(&what) {
                problems.push(what);
            }
        }
    }

    /// Sends the paths of `names` in the directory `handle`; returns them when the directory is
    /// not under a root yet (still in a work dir).
    fn resolve(&mut self, handle: Handle, names: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
        if self.outside.contains(&handle) {
            return None;
        }
        let dir = self.path_of(&handle)?;
        if to_container(&self.roots, &dir).is_none() {
            let in_layer = self
                .roots
                .iter()
                .any(|r| r.host.parent().is_some_and(|layer| dir.starts_with(layer)));
            if in_layer {
                let entry = self
                    .pending
                    .entry(handle)
                    .or_insert((vec![], PENDING_TRIES));
                entry.0.extend(names);
                return Some(entry.0.clone());
            }
            self.outside.insert(handle);
            return None;
        }
        for name in names {
            let host = dir.join(std::ffi::OsStr::from_bytes(&name));
            if let Some((_, cpath)) = to_container(&self.roots, &host) {
                let meta = std::fs::symlink_metadata(&host).ok().map(|m| meta_of(&m));
                let _ = self.tx.send((cpath, meta));
            }
        }
        None
    }

    /// Where the directory is now, or None when it is gone.
    fn path_of(&self, (handle_type, bytes): &Handle) -> Option<PathBuf> {
        let header = std::mem::size_of::<libc::file_handle>();
        let mut raw = vec![0u8; header + bytes.len()];
        raw[..4].copy_from_slice(&(bytes.len() as u32).to_ne_bytes());
        raw[4..8].copy_from_slice(&handle_type.to_ne_bytes());
        raw[header..].copy_from_slice(bytes);
        self.mounts.iter().find_map(|mount| {
            // SAFETY: `raw` holds a file_handle header followed by its bytes, as the kernel
            // reported them; the result is checked and owned at once.
            let fd = unsafe {
                libc::open_by_handle_at(
                    mount.as_raw_fd(),
                    raw.as_mut_ptr().cast(),
                    libc::O_PATH | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return None;
            }
            // SAFETY: a new descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            std::fs::read_link(Path::new("/proc/self/fd").join(fd.as_raw_fd().to_string())).ok()
        })
    }
}

/// The (directory handle, name) of each event in a read buffer of `FAN_REPORT_DFID_NAME` events.
/// The (directory, name) pairs the events in `buf` report, and whether the kernel said its
/// queue overflowed (events were lost).
fn events(buf: &[u8]) -> (Vec<(Handle, Vec<u8>)>, bool) {
    let meta_len = std::mem::size_of::<libc::fanotify_event_metadata>();
    let mut out = vec![];
    let mut overflowed = false;
    let mut at = 0;
    while at + meta_len <= buf.len() {
        let event_len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
        let metadata_len = u16::from_ne_bytes(buf[at + 6..at + 8].try_into().unwrap()) as usize;
        if event_len < meta_len || at + event_len > buf.len() {
            break;
        }
        let mask = u64::from_ne_bytes(buf[at + 8..at + 16].try_into().unwrap());
        overflowed |= mask & libc::FAN_Q_OVERFLOW != 0;
        let mut info = at + metadata_len;
        while info + 4 <= at + event_len {
            let info_type = buf[info];
            let len = u16::from_ne_bytes(buf[info + 2..info + 4].try_into().unwrap()) as usize;
            if len < 4 || info + len > at + event_len {
                break;
            }
            // header (4), fsid (8), file_handle header (8), handle bytes, then the name.
            if info_type == libc::FAN_EVENT_INFO_TYPE_DFID_NAME && len >= 20 {
                let record = &buf[info..info + len];
                let handle_bytes = u32::from_ne_bytes(record[12..16].try_into().unwrap()) as usize;
                let handle_type = i32::from_ne_bytes(record[16..20].try_into().unwrap());
                if 20 + handle_bytes <= record.len() {
                    let handle = record[20..20 + handle_bytes].to_vec();
                    let name = &record[20 + handle_bytes..];
                    let name = name.split(|&b| b == 0).next().unwrap_or_default();
                    if !name.is_empty() && name != b"." {
                        out.push(((handle_type, handle), name.to_vec()));
                    }
                }
            }
            info += len;
        }
        at += event_len;
    }
    (out, overflowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_overflow_is_reported_not_dropped() {
        let len = std::mem::size_of::<libc::fanotify_event_metadata>();
        let mut event = vec![0u8; len];
        event[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
        event[4] = libc::FANOTIFY_METADATA_VERSION;
        event[6..8].copy_from_slice(&(len as u16).to_ne_bytes());
        event[8..16].copy_from_slice(&libc::FAN_Q_OVERFLOW.to_ne_bytes());
        event[16..20].copy_from_slice(&libc::FAN_NOFD.to_ne_bytes());
        let (found, overflowed) = events(&event);
        assert!(found.is_empty() && overflowed);
        event[8..16].copy_from_slice(&libc::FAN_CREATE.to_ne_bytes());
        assert!(!events(&event).1);
    }

    #[test]
    fn a_short_lived_file_in_a_directory_renamed_into_place_is_found_where_it_went() {
        let base = std::env::temp_dir().join(format!("rofs-audit-fan-{}", std::process::id()));
        let (upper, work) = (base.join("diff"), base.join("work"));
        std::fs::create_dir_all(&upper).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        let root = Root {
            host: upper.clone(),
            container: b"/".to_vec(),
        };
        let (tx, rx) = mpsc::channel();
        let fanotify = Fanotify::start(vec![root], tx).expect("fanotify (root, Linux 5.9+)");
        // As the overlay drivers do: a directory made in the work dir, a file in it, the
        // directory renamed into the upper dir, the file gone before anyone walks.
        std::fs::create_dir(work.join("tmp")).unwrap();
        std::fs::write(work.join("tmp/app.lock"), b"1234").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        std::fs::rename(work.join("tmp"), upper.join("tmp")).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        std::fs::remove_file(upper.join("tmp/app.lock")).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(fanotify);
        std::fs::remove_dir_all(&base).unwrap();
        let seen: Vec<CPath> = rx.try_iter().map(|(p, _)| p).collect();
        assert!(
            seen.iter().any(|p| p == b"/tmp/app.lock"),
            "{:?}",
            seen.iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect::<Vec<_>>()
        );
    }
}
