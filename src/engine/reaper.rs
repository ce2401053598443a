//! The watchdog that removes a run's containers and volumes when rofs-audit dies without doing it
//! itself: killed by SIGKILL (a CI job's timeout), by a signal it cannot catch, or left behind by
//! an engine that went away in the middle of the run.
//!
//! For each run, the run's guard (`engine::guarded`) starts the rofs-audit executable again
//! (`/proc/self/exe`, so an upgrade that replaced the file meanwhile changes nothing) with the
//! run's id in [`REAPER_ENV`] and a pipe on its stdin, of which only this process holds the write
//! end. The watchdog blocks reading that pipe. The kernel closes the write end however this
//! process ends, so end of file means it is gone:
//!
//! - after `done` (the run removed everything itself), the watchdog exits at once;
//! - otherwise it removes every container and volume labelled with the run's id through the
//!   Engine API ([`Engine::remove_run`], the guard's own code), and sweeps again until a sweep
//!   made `SETTLE` after the end finds nothing, because a create request in flight when the
//!   process died may still complete inside the daemon. When the engine does not answer (it
//!   went away with the run), it retries for [`PATIENCE`], then gives up: `rofs-audit clean`
//!   removes what is left.
//!
//! The watchdog has no terminal: its stdout and stderr are /dev/null, so a pipeline reading
//! rofs-audit's output ends with rofs-audit, and it runs in a process group of its own and
//! ignores SIGINT, SIGHUP and SIGTERM, so the Ctrl-C or the group kill that ends rofs-audit
//! leaves it to do its work. It exits when that work is done.
//!
//! Only an executable whose `main` calls [`serve_if_asked`] first can be started as a watchdog;
//! elsewhere (a test harness linking the library) no watchdog is started.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::client::{Engine, RunId};

/// The environment variable that makes rofs-audit the watchdog of the run it names.
pub const REAPER_ENV: &str = "ROFS_AUDIT_REAPER_FOR";

/// What the run writes on the pipe when it removed everything itself.
const DONE: &[u8] = b"done\n";

/// How long the watchdog keeps trying to reach an engine that does not answer.
pub const PATIENCE: Duration = Duration::from_secs(300);

/// How long after the run's end a sweep that finds nothing ends the watchdog's work.
const SETTLE: Duration = Duration::from_secs(2);

/// Between sweeps, and between attempts to reach the engine.
const PAUSE: Duration = Duration::from_secs(1);

/// Set by [`serve_if_asked`] in an executable that can be re-executed as a watchdog.
static HOSTED: AtomicBool = AtomicBool::new(false);

/// Call first in `main`. With [`REAPER_ENV`] set, this process is a watchdog: it does the work
/// and returns the exit code. Otherwise it returns None and lets [`Reaper::spawn`] re-execute
/// this executable as the watchdog of each run.
pub fn serve_if_asked() -> Option<i32> {
    let Some(run) = std::env::var_os(REAPER_ENV) else {
        HOSTED.store(true, Ordering::SeqCst);
        return None;
    };
    let run = run.to_string_lossy().into_owned();
    if run.is_empty() || !run.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some(2);
    }
    Some(watch(RunId { id: run }))
}

/// The watchdog of one run, as the run holds it. Dropped without [`Reaper::stand_down`], it
/// closes the pipe and leaves the run's leftovers to the watchdog, which goes on after this
/// process exits.
pub struct Reaper {
    child: Child,
    pipe: Option<ChildStdin>,
}

impl Reaper {
    /// Starts the watchdog of `run`; None where this executable cannot be one (see
    /// [`serve_if_asked`]), Err when starting it failed.
    pub fn spawn(run: &RunId) -> Option<std::io::Result<Reaper>> {
        if !HOSTED.load(Ordering::SeqCst) {
            return None;
        }
        let exe = std::path::Path::new("/proc/self/exe");
        let exe = match exe.exists() {
            true => exe.to_path_buf(),
            false => match std::env::current_exe() {
                Ok(exe) => exe,
                Err(e) => return Some(Err(e)),
            },
        };
        let mut command = Command::new(exe);
        command
            .env(REAPER_ENV, &run.id)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Out of the terminal's foreground group: a Ctrl-C or a kill of the group that ends
            // rofs-audit is what the watchdog must outlive.
            .current_dir("/");
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        Some(command.spawn().map(|mut child| {
            let pipe = child.stdin.take();
            Reaper { child, pipe }
        }))
    }

    /// The run removed everything it created: the watchdog exits without a sweep.
    pub async fn stand_down(mut self) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.write_all(DONE);
        }
        // It exits as soon as it reads that; reap it rather than leave a zombie.
        let mut child = self.child;
        let reaped = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let _ = reaped.await;
    }
}

/// The watchdog's work: wait for the end of the run, then remove what it left.
fn watch(run: RunId) -> i32 {
    for signal in [libc::SIGINT, libc::SIGHUP, libc::SIGTERM, libc::SIGPIPE] {
        // SAFETY: setting a signal's disposition to SIG_IGN, before any thread is started.
        unsafe {
            libc::signal(signal, libc::SIG_IGN);
        }
    }
    let mut said = Vec::new();
    // Blocks until the run ends: only its process holds the write end.
    let _ = std::io::stdin().lock().read_to_end(&mut said);
    if said == DONE {
        return 0;
    }
    let ended = Instant::now();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(_) => return 1,
    };
    runtime.block_on(sweep_until_settled(&run, ended))
}

/// Sweeps until one made `SETTLE` after `ended` finds nothing; 1 when the engine could not
/// be reached or would not remove everything for [`PATIENCE`].
async fn sweep_until_settled(run: &RunId, ended: Instant) -> i32 {
    let mut engine: Option<Engine> = None;
    loop {
        if ended.elapsed() > PATIENCE {
            return 1;
        }
        let connected = match engine.take() {
            Some(engine) => Some(engine),
            None => Engine::connect().await.ok(),
        };
        let Some(connected) = connected else {
            tokio::time::sleep(PAUSE).await;
            continue;
        };
        let swept = connected.remove_run(run).await;
        let found = !swept.containers.is_empty() || !swept.volumes.is_empty();
        if swept.errors.is_empty() {
            if !found && ended.elapsed() >= SETTLE {
                return 0;
            }
            engine = Some(connected);
        }
        // After errors, reconnect: the engine may have restarted, with a new API version.
        tokio::time::sleep(PAUSE).await;
    }
}
