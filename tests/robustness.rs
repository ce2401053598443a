//! What a run leaves behind and what it costs when things go wrong, against the real engine:
//! SIGKILL in the middle of the trace and of the proof (the run's watchdog removes what it
//! created), SIGTERM's exit code, an app that prints 50 MB of logs before its read-only error,
//! and concurrent audits of one image.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{docker_ok, leftovers, rofs_audit, run_json, ImageSpec};
use serde_json::Value;

/// What the issue allows a killed run's leftovers to live.
const REAPED_WITHIN: Duration = Duration::from_secs(10);

/// The environment variable that makes rofs-audit a run's watchdog (src/engine/reaper.rs).
const REAPER_ENV: &str = "ROFS_AUDIT_REAPER_FOR";

fn pid_label(child: &Child) -> String {
    format!("dev.rofs-audit.pid={}", child.id())
}

/// Starts `rofs-audit ARGS`, its output piped, and waits until a container of its own whose
/// name contains `role` runs.
fn start_until_running(args: &[&str], role: &str) -> Child {
    let mut child = rofs_audit()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rofs-audit");
    let filter = format!("label={}", pid_label(&child));
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let running = docker_ok(&["ps", "--filter", &filter, "--format", "{{.Names}}"]);
        if running.lines().any(|name| name.contains(role)) {
            return child;
        }
        if Instant::now() >= deadline || !matches!(child.try_wait(), Ok(None)) {
            // SIGINT, if it still runs: it removes what it made.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let out = child.wait_with_output().unwrap();
            panic!(
                "no {role} container of rofs-audit {args:?} ran within 90s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig} {pid}");
}

/// The watchdog processes rofs-audit `pid` started: its children with the watchdog's variable.
fn watchdogs(pid: u32) -> Vec<u32> {
    let mut found = vec![];
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return found;
    };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            let environ = std::fs::read(format!("/proc/{child}/environ")).unwrap_or_default();
            let marker = format!("{REAPER_ENV}=");
            if environ
                .split(|&b| b == 0)
                .any(|var| var.starts_with(marker.as_bytes()))
            {
                found.push(child);
            }
        }
    }
    found
}

/// Whether a process exists and is not a zombie waiting for its parent.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, after_name) = stat.rsplit_once(')')?;
            after_name.split_whitespace().next().map(|s| s != "Z")
        })
        .unwrap_or(false)
}

/// Polls until nothing carries `label`, for up to `within`; the leftovers if some stay.
fn gone_within(label: &str, within: Duration) -> Result<Duration, Vec<String>> {
    let started = Instant::now();
    loop {
        let left = leftovers(label);
        if left.is_empty() {
            return Ok(started.elapsed());
        }
        if started.elapsed() >= within {
            return Err(left);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Kills rofs-audit with SIGKILL and asserts what the issue asks: everything of its run is
/// gone within 10 s, with no `clean`; its output pipes closed when it died (the watchdog
/// holds no terminal); and the watchdog exits once its work is done.
fn kill_and_expect_reaped(child: Child, what: &str) {
    let pid = child.id();
    let label = format!("dev.rofs-audit.pid={pid}");
    let before = leftovers(&label);
    assert!(!before.is_empty(), "{what}: nothing to reap");
    let reapers = watchdogs(pid);
    assert_eq!(reapers.len(), 1, "{what}: one watchdog, found {reapers:?}");
    let reaper = reapers[0];

    signal(pid, "-KILL");
    // Returns once stdout and stderr reach end of file: the watchdog holds neither.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), None, "{what}: killed by a signal");
    assert!(
        alive(reaper),
        "{what}: the watchdog should still be at work when rofs-audit's output ends"
    );
    match gone_within(&label, REAPED_WITHIN) {
        Ok(took) => eprintln!(
            "{what}: {} objects removed {took:?} after SIGKILL",
            before.len()
        ),
        Err(left) => panic!("{what}: {left:?} still there 10s after SIGKILL"),
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(reaper) {
        assert!(
            Instant::now() < deadline,
            "{what}: the watchdog {reaper} outlives its work"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigkill_mid_trace_leaves_nothing_10s_later() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("long").line("VOLUME /data").build();
    let child = start_until_running(&["trace", &image, "--idle", "120s"], "-trace");
    // The trace's container, running, and the volume for the image's VOLUME.
    let volumes = docker_ok(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label={}", pid_label(&child)),
    ]);
    assert_eq!(volumes.lines().count(), 1, "{volumes}");
    kill_and_expect_reaped(child, "trace");
}

#[test]
fn sigkill_mid_proof_leaves_nothing_10s_later() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("long").line("VOLUME /data").build();
    // The proof's first run goes alongside the trace; both idle long enough to be caught.
    let child = start_until_running(
        &["audit", &image, "--profile", "docker", "--idle", "120s"],
        "-verify",
    );
    let filter = format!("label={}", pid_label(&child));
    let proof = docker_ok(&["ps", "-q", "--filter", &filter, "--filter", "name=-verify"]);
    let proof = proof.lines().next().expect("a proof container");
    // The case of the issue: a running container with a published port.
    let port = common::published_port(proof, 8080);
    assert!(port > 0);
    kill_and_expect_reaped(child, "proof");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} is still published"
    );
}

#[test]
fn sigterm_exits_143_and_removes_everything() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("long").line("VOLUME /data").build();
    let child = start_until_running(&["trace", &image, "--idle", "120s"], "-trace");
    let label = pid_label(&child);
    let reapers = watchdogs(child.id());
    signal(child.id(), "-TERM");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    // Removed by rofs-audit itself, before it exited.
    assert_eq!(leftovers(&label), Vec::<String>::new());
    // Its watchdog sweeps once more (requests in flight when the signal came) and exits.
    let deadline = Instant::now() + Duration::from_secs(10);
    while reapers.iter().any(|&pid| alive(pid)) {
        assert!(Instant::now() < deadline, "the watchdog outlives its work");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_run_that_ends_normally_leaves_no_watchdog() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("long").line("VOLUME /data").build();
    let child = start_until_running(&["trace", &image, "--idle", "3s"], "-trace");
    let reapers = watchdogs(child.id());
    assert_eq!(reapers.len(), 1, "{reapers:?}");
    let label = pid_label(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(leftovers(&label), Vec::<String>::new());
    // Told the run removed everything, it exits at once; rofs-audit waited for it.
    assert!(!alive(reapers[0]), "the watchdog outlived a clean run");
}

/// Builds the flood program (once per test process), statically, as the fixture is built.
fn flood_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            // A fixed path, so that the binary and the image's tag are the same every time.
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join("robustness");
            std::fs::create_dir_all(&dir).unwrap();
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/flood.rs");
            let binary = dir.join("flood");
            let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
            let out = Command::new(rustc)
                .args(["--edition", "2021", "-O", "-C", "strip=symbols"])
                .args(["-C", "target-feature=+crt-static"])
                .args(["--target", "x86_64-unknown-linux-gnu"])
                .arg("-o")
                .arg(&binary)
                .arg(&source)
                .output()
                .expect("run rustc");
            assert!(
                out.status.success(),
                "building the flood program failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            binary
        })
        .clone()
}

/// An app that prints 50 MB of logs, then fails to write its pid file read-only and logs it,
/// and carries on (a tolerated write): only its logs tell.
pub fn flood_image() -> String {
    let flood = std::fs::read(flood_binary()).unwrap();
    ImageSpec::new("flood")
        .file("/app/flood", flood, 0, 0, 0o755)
        .dir("/var/run", 0, 0, 0o755)
        .line("ENV FLOOD_BYTES=50000000 FIXTURE_STARTUP_WRITES=/var/run/app.pid?")
        .line("ENTRYPOINT [\"/app/flood\"]")
        .build()
}

#[test]
fn a_read_only_error_after_50_mb_of_logs_is_found_every_time() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = flood_image();
    for round in 1..=5 {
        let report = run_json(&["audit", &image, "--idle", "0s"], &[1]);
        let runs = report["verification"]["runs"].as_array().unwrap();
        let bare = runs
            .iter()
            .find(|r| r["readonly"] == true && r["mounts"] == serde_json::json!([]))
            .unwrap_or_else(|| panic!("round {round}: no read-only run without mounts: {runs:#?}"));
        let erofs: Vec<&str> = bare["erofs_lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["line"].as_str().unwrap())
            .collect();
        assert_eq!(
            erofs,
            ["fixture: cannot write /var/run/app.pid: Read-only file system (os error 30)"],
            "round {round}"
        );
        assert_eq!(bare["passed"], false, "round {round}");
        assert_eq!(report["verdict"], "needs-mounts", "round {round}");
        // The trace kept the start and the end of what it printed, and said what it dropped.
        let logs = report["logs"].as_array().unwrap();
        let line = |i: usize| logs[i]["line"].as_str().unwrap();
        assert!(line(0).starts_with("flood 000000000:"), "round {round}");
        assert!(
            line(logs.len() - 1).contains("exiting with code 0"),
            "round {round}: the end of the logs is lost: {:?}",
            &logs[logs.len().saturating_sub(3)..]
        );
        let dropped: Vec<&Value> = logs
            .iter()
            .filter(|l| l["stream"] == "rofs-audit")
            .collect();
        assert_eq!(dropped.len(), 1, "round {round}");
        // Every line came in, however the daemon rotates its log files: the flood's 561,798
        // lines (50 MB in lines of 89 bytes) and the fixture's own.
        let note = dropped[0]["line"].as_str().unwrap();
        let received: u64 = note
            .split(" log lines")
            .next()
            .and_then(|counts| counts.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("round {round}: no line count in {note:?}"));
        assert!(received > 561_798, "round {round}: {note}");
        assert!(
            logs.len() < 3000,
            "round {round}: {} lines kept",
            logs.len()
        );
    }
}

#[test]
fn ten_concurrent_audits_of_one_image_agree_and_leave_nothing() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("concurrent")
        .dir("/var/run", 0, 0, 0o755)
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app/app.pid!,/var/cache/app/index=4096?")
        .line("ENV FIXTURE_TRANSIENT_WRITES=/tmp/startup.lock")
        .build();
    let audits: Vec<_> = (0..10)
        .map(|_| {
            let image = image.clone();
            // common::run_json asserts that nothing of each run is left when it exits.
            std::thread::spawn(move || run_json(&["audit", &image, "--idle", "0s"], &[1]))
        })
        .collect();
    let outcomes: Vec<Value> = audits
        .into_iter()
        .map(|audit| {
            let report = audit.join().expect("an audit thread");
            let mut mounts: Vec<String> = report["mounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["path"].as_str().unwrap().to_string())
                .collect();
            mounts.sort();
            let mut writes: Vec<(String, Value, Value)> = report["writes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| {
                    (
                        w["path"].as_str().unwrap().to_string(),
                        w["would_fail"].clone(),
                        w["fatal"].clone(),
                    )
                })
                .collect();
            writes.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::json!({
                "verdict": report["verdict"],
                "mounts": mounts,
                "writes": writes,
                "proven": report["verification"]["passed"],
            })
        })
        .collect();
    for (i, outcome) in outcomes.iter().enumerate() {
        assert_eq!(outcome, &outcomes[0], "audit {i} differs from audit 0");
    }
    assert_eq!(outcomes[0]["verdict"], "needs-mounts", "{:#}", outcomes[0]);
    assert_eq!(outcomes[0]["proven"], true, "{:#}", outcomes[0]);
}
