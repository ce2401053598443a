//! The Docker daemon restarted in the middle of an audit: the audit ends with exit code 2 and
//! one line naming the cause, and once the daemon is back nothing of the run is left.
//!
//! This restarts the machine's real daemon, which stops every container on it (other tests'
//! included), so it runs only with ROFS_AUDIT_RESTART_DAEMON=1 and skips otherwise; CI sets
//! that variable (with ROFS_AUDIT_TEST_ALL, a missing variable fails instead of skipping).
//! It is a test binary of its own so that nothing else of this suite runs in it while the
//! daemon is down. The daemon is restarted the way it runs: through systemd where systemd
//! manages it, else as it was started by hand (same program, arguments, environment, directory
//! and log file, in a session of its own); whatever happens, the test leaves it running and
//! answering.

mod common;

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{docker_ok, leftovers, rofs_audit, ImageSpec};

const ALLOW: &str = "ROFS_AUDIT_RESTART_DAEMON";

/// How long the daemon may take to stop, or to answer once started.
const DAEMON_PATIENCE: Duration = Duration::from_secs(90);

/// Whether this test may restart the daemon, on top of what every engine test needs.
fn allowed() -> bool {
    if !common::ready(common::Need::Engine) {
        return false;
    }
    if std::env::var_os(ALLOW).is_some_and(|v| v == "1") {
        return true;
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let why = format!("it restarts the Docker daemon, which needs {ALLOW}=1");
    if std::env::var_os("ROFS_AUDIT_TEST_ALL").is_some() {
        panic!("{test} cannot run here, and ROFS_AUDIT_TEST_ALL forbids skipping it: {why}");
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
    false
}

/// How the daemon runs, and so how to restart it.
enum Daemon {
    /// A systemd unit.
    Systemd { unit: String },
    /// Started by hand: restarted the same way.
    ByHand {
        pid: u32,
        argv: Vec<OsString>,
        env: Vec<(OsString, OsString)>,
        cwd: PathBuf,
        /// Where its stdout and stderr went (a file, else /dev/null).
        log: PathBuf,
    },
}

fn answers() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn daemon_pid() -> Option<u32> {
    let from_file = std::fs::read_to_string("/var/run/docker.pid")
        .ok()
        .and_then(|p| p.trim().parse().ok());
    let pidof = || {
        let out = Command::new("pidof").arg("dockerd").output().ok()?;
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    from_file
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe"))
                .is_ok_and(|exe| exe.file_name().is_some_and(|n| n == "dockerd"))
        })
        .or_else(pidof)
}

fn systemd_unit(pid: u32) -> Option<String> {
    if !Path::new("/run/systemd/system").is_dir() {
        return None;
    }
    for unit in ["docker.service", "docker"] {
        let out = Command::new("systemctl")
            .args(["show", "--property", "MainPID", "--value", unit])
            .output()
            .ok()?;
        if String::from_utf8_lossy(&out.stdout).trim() == pid.to_string() {
            return Some(unit.to_string());
        }
    }
    None
}

impl Daemon {
    fn find() -> Daemon {
        let pid = daemon_pid().expect("a dockerd process (the engine answers)");
        if let Some(unit) = systemd_unit(pid) {
            return Daemon::Systemd { unit };
        }
        let nul_separated = |what: &str| -> Vec<OsString> {
            std::fs::read(format!("/proc/{pid}/{what}"))
                .unwrap_or_else(|e| panic!("read /proc/{pid}/{what}: {e}"))
                .split(|&b| b == 0)
                .filter(|part| !part.is_empty())
                .map(|part| OsString::from_vec(part.to_vec()))
                .collect()
        };
        let argv = nul_separated("cmdline");
        let env = nul_separated("environ")
            .into_iter()
            .filter_map(|var| {
                let bytes = var.into_vec();
                let eq = bytes.iter().position(|&b| b == b'=')?;
                Some((
                    OsString::from_vec(bytes[..eq].to_vec()),
                    OsString::from_vec(bytes[eq + 1..].to_vec()),
                ))
            })
            .collect();
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_else(|_| "/".into());
        let log = std::fs::read_link(format!("/proc/{pid}/fd/1"))
            .ok()
            .filter(|target| target.is_absolute() && target.is_file())
            .unwrap_or_else(|| "/dev/null".into());
        Daemon::ByHand {
            pid,
            argv,
            env,
            cwd,
            log,
        }
    }

    fn describe(&self) -> String {
        match self {
            Daemon::Systemd { unit } => format!("systemd unit {unit}"),
            Daemon::ByHand { argv, log, .. } => format!(
                "by hand: {} > {}",
                argv.iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                log.display()
            ),
        }
    }

    /// Stops the daemon and waits until it is gone.
    fn stop(&self) {
        match self {
            Daemon::Systemd { unit } => {
                let status = Command::new("systemctl")
                    .args(["stop", unit])
                    .status()
                    .unwrap();
                assert!(status.success(), "systemctl stop {unit}");
            }
            Daemon::ByHand { pid, .. } => {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
                let deadline = Instant::now() + DAEMON_PATIENCE;
                while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(100));
                }
                if Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }

    /// Starts the daemon the way it ran, and waits until it answers.
    // The daemon outlives the test: it is never waited for.
    #[allow(clippy::zombie_processes)]
    fn start(&self) {
        match self {
            Daemon::Systemd { unit } => {
                let status = Command::new("systemctl")
                    .args(["start", unit])
                    .status()
                    .unwrap();
                assert!(status.success(), "systemctl start {unit}");
            }
            Daemon::ByHand {
                argv,
                env,
                cwd,
                log,
                ..
            } => {
                let out = OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(log)
                    .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
                let err = out.try_clone().unwrap();
                // In a session of its own, as it was: no signal of this test's terminal or
                // process group reaches it, and it outlives the test.
                Command::new("setsid")
                    .args(argv)
                    .env_clear()
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .current_dir(cwd)
                    .stdin(Stdio::null())
                    .stdout(out)
                    .stderr(err)
                    .spawn()
                    .expect("start dockerd");
            }
        }
        let deadline = Instant::now() + DAEMON_PATIENCE;
        while !answers() {
            assert!(
                Instant::now() < deadline,
                "the Docker daemon ({}) did not answer within {DAEMON_PATIENCE:?} of its start",
                self.describe()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Leaves the daemon running and answering, whatever happened in the test.
struct BackAtTheEnd<'a>(&'a Daemon);

impl Drop for BackAtTheEnd<'_> {
    fn drop(&mut self) {
        if answers() {
            return;
        }
        // Maybe it is still starting.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if answers() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        if daemon_pid().is_none() {
            self.0.start();
        }
    }
}

#[test]
fn an_engine_restart_mid_audit_is_one_error_line_and_leaves_nothing() {
    if !allowed() {
        return;
    }
    let image = ImageSpec::new("long").line("VOLUME /data").build();
    let daemon = Daemon::find();
    eprintln!("the Docker daemon runs {}", daemon.describe());
    let _back = BackAtTheEnd(&daemon);

    let child = rofs_audit()
        .args(["audit", &image, "--profile", "docker", "--idle", "300s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let label = format!("dev.rofs-audit.pid={}", child.id());
    let filter = format!("label={label}");
    // Caught with the trace and the proof's first run both running.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let names = docker_ok(&["ps", "--filter", &filter, "--format", "{{.Names}}"]);
        if names.contains("-trace") && names.contains("-verify") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the audit's containers did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!leftovers(&label).is_empty());

    daemon.stop();
    daemon.start();

    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "rofs-audit ended {:?} after the daemon answered again: {stderr}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    assert!(
        stderr.starts_with("rofs-audit: error: the Docker Engine at ")
            && stderr.contains("went away in the middle of the run"),
        "{stderr}"
    );

    // The run's watchdog waited for the daemon, and removes what the run left.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = leftovers(&label);
        if left.is_empty() {
            eprintln!(
                "nothing left {:?} after the daemon answered",
                started.elapsed()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left:?} still there 30s after the daemon answered again"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(answers(), "the daemon answers at the end");
}
