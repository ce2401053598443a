//! Reads during a restart: inotify's IN_ACCESS on the directories that hold the files the first
//! run left, so that a file the second start reads is told from one it merely finds there. Both
//! kernel overlayfs and fuse-overlayfs read the upper dir's own file when the app reads it, and
//! neither does for a look-up (`stat`); a volume is the host directory itself.

use std::collections::{BTreeSet, HashMap};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::assemble::CPath;

/// How often the reader wakes up with nothing to read, to notice it should stop.
const POLL: Duration = Duration::from_millis(20);

/// Directories watched at most: an app that left files in more is judged by the first ones.
pub const WATCH_LIMIT: usize = 10_000;

/// Collects the container paths of the files read in the watched directories until finished.
pub struct Reads {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    seen: Arc<Mutex<Found>>,
}

#[derive(Default)]
struct Found {
    read: BTreeSet<CPath>,
    /// What it could not see: a queue overflow, a read error, a directory it could not watch.
    problems: Vec<String>,
}

impl Found {
    fn problem(&mut self, what: String) {
        if !self.problems.contains(&what) {
            self.problems.push(what);
        }
    }
}

impl Reads {
    /// Watches `dirs`, each a host directory and the container path it shows; an error says
    /// why it cannot (no inotify instance left).
    pub fn watch(dirs: Vec<(PathBuf, CPath)>) -> std::io::Result<Reads> {
        // SAFETY: a plain syscall; the result is checked before use.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut found = Found::default();
        let mut watches = HashMap::new();
        for (host, container) in dirs {
            let Ok(path) = CString::new(host.as_os_str().as_bytes()) else {
                continue;
            };
            // SAFETY: `path` is a valid C string for the duration of the call.
            let wd = unsafe {
                libc::inotify_add_watch(
                    fd.as_raw_fd(),
                    path.as_ptr(),
                    libc::IN_ACCESS | libc::IN_ONLYDIR,
                )
            };
            if wd < 0 {
                // Gone since the first run ended: nothing there to read.
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::NotFound {
                    found.problem(format!("a directory could not be watched ({e})"));
                }
                continue;
            }
            watches.insert(wd, container);
        }
        let seen = Arc::new(Mutex::new(found));
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, sink) = (stop.clone(), seen.clone());
        let thread = std::thread::Builder::new()
            .name("rofs-reads".into())
            .spawn(move || read_events(&fd, &watches, &sink, &flag))?;
        Ok(Reads {
            stop,
            thread: Some(thread),
            seen,
        })
    }

    /// Stops watching: the files seen read, and what could not be seen.
    pub fn finish(mut self) -> (BTreeSet<CPath>, Vec<String>) {
        self.halt();
        let mut found = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        (
            std::mem::take(&mut found.read),
            std::mem::take(&mut found.problems),
        )
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Reads {
    fn drop(&mut self) {
        self.halt();
    }
}

fn read_events(
    fd: &OwnedFd,
    watches: &HashMap<i32, CPath>,
    sink: &Mutex<Found>,
    stop: &AtomicBool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    // One more pass after the stop: what was read just before it is still queued.
    let mut last = false;
    loop {
        last |= stop.load(Ordering::Relaxed);
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, POLL.as_millis() as i32) };
        loop {
            // SAFETY: reads into a buffer we own, at most its length.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    if e.kind() != std::io::ErrorKind::WouldBlock {
                        let mut found = sink.lock().unwrap_or_else(PoisonError::into_inner);
                        found.problem(format!("inotify stopped reading events ({e})"));
                    }
                }
                break;
            }
            let (read, overflowed) = events(&buf[..n as usize], watches);
            let mut found = sink.lock().unwrap_or_else(PoisonError::into_inner);
            found.read.extend(read);
            if overflowed {
                found.problem("inotify's event queue overflowed".to_string());
            }
        }
        if last {
            return;
        }
    }
}

/// The container paths of the files read that the inotify events in `buf` report, and whether
/// the kernel said its queue overflowed.
fn events(buf: &[u8], watches: &HashMap<i32, CPath>) -> (Vec<CPath>, bool) {
    const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
    let mut out = vec![];
    let mut overflowed = false;
    let mut at = 0;
    while at + HEADER <= buf.len() {
        let wd = i32::from_ne_bytes(buf[at..at + 4].try_into().unwrap());
        let mask = u32::from_ne_bytes(buf[at + 4..at + 8].try_into().unwrap());
        let len = u32::from_ne_bytes(buf[at + 12..at + 16].try_into().unwrap()) as usize;
        let Some(name) = buf.get(at + HEADER..at + HEADER + len) else {
            break;
        };
        at += HEADER + len;
        overflowed |= mask & libc::IN_Q_OVERFLOW != 0;
        let name = name.split(|&b| b == 0).next().unwrap_or_default();
        if mask & libc::IN_ISDIR != 0 || name.is_empty() {
            continue;
        }
        if let Some(dir) = watches.get(&wd) {
            let mut path = dir.clone();
            if path.last() != Some(&b'/') {
                path.push(b'/');
            }
            path.extend_from_slice(name);
            out.push(path);
        }
    }
    (out, overflowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_is_seen_and_one_only_looked_up_or_written_is_not() {
        let base = std::env::temp_dir().join(format!("rofs-audit-reads-{}", std::process::id()));
        std::fs::create_dir_all(base.join("key")).unwrap();
        for name in ["signing.key", "app.pid", "marker"] {
            std::fs::write(base.join("key").join(name), b"secret").unwrap();
        }
        let reads = Reads::watch(vec![(base.join("key"), b"/home/app/key".to_vec())]).unwrap();
        assert_eq!(
            std::fs::read(base.join("key/signing.key")).unwrap(),
            b"secret"
        );
        std::fs::write(base.join("key/app.pid"), b"1234").unwrap();
        assert!(std::fs::metadata(base.join("key/marker")).is_ok());
        let (read, problems) = reads.finish();
        std::fs::remove_dir_all(&base).unwrap();
        let read: Vec<String> = read
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert_eq!(read, ["/home/app/key/signing.key"]);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
