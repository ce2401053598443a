//! `rofs-audit trace` against the real Docker Engine, on fixture images built by the tests.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{leftovers, rofs_audit, run, run_json, ImageSpec};
use serde_json::Value;

fn trace_json(args: &[&str]) -> Value {
    let mut all = vec!["trace"];
    all.extend_from_slice(args);
    run_json(&all, &[0])
}

fn writes(trace: &Value) -> &Vec<Value> {
    trace["writes"].as_array().expect("writes is an array")
}

fn write<'a>(trace: &'a Value, path: &str) -> &'a Value {
    writes(trace)
        .iter()
        .find(|w| w["path"] == path)
        .unwrap_or_else(|| panic!("no write of {path} in {:#}", trace["writes"]))
}

/// Files that outlive the run. (A directory the app made for a transient file is a leaf only
/// where the transient file itself is not seen.)
fn persistent_files(trace: &Value) -> Vec<String> {
    let mut paths: Vec<String> = writes(trace)
        .iter()
        .filter(|w| w["change"] != "transient" && w["file_type"] != "dir")
        .map(|w| w["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// One image exercising every phase, a transient file, a deletion and a volume.
fn phases_image() -> String {
    ImageSpec::new("phases")
        .file("/etc/app/old.conf", b"stale", 0, 0, 0o644)
        .line("VOLUME /data")
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app.pid,/var/cache/app/blob=100000,/data/state.db=64")
        .line("ENV FIXTURE_TRANSIENT_WRITES=/tmp/startup.lock")
        // In a directory made at the same moment, a few milliseconds can beat the new
        // directory's watch on a loaded machine (see the last test here); 20 ms does not.
        .line("ENV FIXTURE_TRANSIENT_MS=20")
        .line("ENV FIXTURE_DELETES=/etc/app/old.conf")
        .line("ENV FIXTURE_HEALTH_PATHS=/health,/work")
        .line("ENV FIXTURE_REQUEST_WRITES=/work>/var/lib/app/requests.log=10")
        .line("ENV FIXTURE_DELAYED_WRITES=/var/lib/app/idle.txt@700")
        .line("ENV FIXTURE_SHUTDOWN_WRITES=/var/lib/app/state.json=32")
        .build()
}

const PHASE_ARGS: &[&str] = &["--probe", "/health", "--probe", "/work", "--idle", "2s"];

#[test]
fn every_phase_write_is_attributed_and_the_json_matches_the_contract() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = phases_image();
    let mut args = vec![image.as_str()];
    args.extend_from_slice(PHASE_ARGS);
    let trace = trace_json(&args);

    assert_eq!(trace["schema_version"], 2);
    assert_eq!(trace["tracing"]["mode"], "overlay");
    for key in [
        "reference",
        "id",
        "user",
        "entrypoint",
        "cmd",
        "exposed_ports",
        "volumes",
    ] {
        assert!(trace["image"].get(key).is_some(), "image.{key} missing");
    }
    assert_eq!(
        trace["image"]["exposed_ports"],
        serde_json::json!(["8080/tcp"])
    );
    assert_eq!(trace["image"]["volumes"], serde_json::json!(["/data"]));
    let phases: Vec<&str> = trace["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["startup", "probe", "idle", "shutdown", "restart"]);
    let probes = trace["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 2);
    assert_eq!(
        (
            probes[1]["target"].as_str(),
            probes[1]["status"].as_u64(),
            probes[1]["ok"].as_bool()
        ),
        (Some("/work"), Some(200), Some(true))
    );
    assert!(probes[0]["latency_ms"].is_u64());
    assert!(trace["startup_ms"].is_u64());
    assert_eq!(trace["exit"]["code"], 0, "the fixture exits 0 on SIGTERM");
    assert!(trace["logs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["line"].as_str().unwrap().contains("listening on")));

    for w in writes(&trace) {
        for key in [
            "path",
            "change",
            "file_type",
            "bytes",
            "mode",
            "uid",
            "phase",
            "volume",
        ] {
            assert!(w.get(key).is_some(), "write {w} lacks {key}");
        }
    }
    let expect = [
        ("/var/run/app.pid", "created", "startup"),
        ("/var/cache/app/blob", "created", "startup"),
        ("/tmp/startup.lock", "transient", "startup"),
        ("/etc/app/old.conf", "deleted", "startup"),
        ("/data/state.db", "created", "startup"),
        ("/var/lib/app/requests.log", "created", "probe"),
        ("/var/lib/app/idle.txt", "created", "idle"),
        ("/var/lib/app/state.json", "created", "shutdown"),
    ];
    for (path, change, phase) in expect {
        let w = write(&trace, path);
        assert_eq!(
            (w["change"].as_str(), w["phase"].as_str()),
            (Some(change), Some(phase)),
            "{path}: {w}"
        );
    }
    assert_eq!(write(&trace, "/var/lib/app/requests.log")["probe"], "/work");
    assert_eq!(write(&trace, "/data/state.db")["volume"], true);
    assert_eq!(write(&trace, "/var/run/app.pid")["volume"], false);
    assert_eq!(write(&trace, "/var/run/app.pid")["file_type"], "file");
    let blob = write(&trace, "/var/cache/app/blob")["bytes"]
        .as_u64()
        .unwrap();
    assert!(
        blob.abs_diff(100_000) <= 4096,
        "blob reported as {blob} bytes"
    );
    // Only leaves: the directories made for these files are not writes of their own.
    for dir in ["/var", "/var/run", "/var/cache/app", "/tmp", "/data"] {
        assert!(
            writes(&trace).iter().all(|w| w["path"] != dir),
            "{dir} reported"
        );
    }
}

#[test]
fn api_mode_sees_the_same_persistent_paths_and_says_what_it_may_miss() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = phases_image();
    let mut args = vec![image.as_str()];
    args.extend_from_slice(PHASE_ARGS);
    let overlay = trace_json(&args);
    args.extend_from_slice(&["--mode", "api"]);
    let api = trace_json(&args);

    assert_eq!(api["tracing"]["mode"], "api");
    assert_eq!(api["tracing"]["reason"], "api: --mode api");
    let chosen = overlay["tracing"]["reason"].as_str().unwrap();
    assert!(
        chosen.starts_with("overlay: the engine's storage is readable here"),
        "{chosen}"
    );
    let blind: Vec<&str> = api["tracing"]["blind_spots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        blind
            .iter()
            .any(|s| s.starts_with("transient files: a file created and removed within")),
        "{blind:?}"
    );
    assert_eq!(persistent_files(&api), persistent_files(&overlay));
    // A lock file that lives 20 ms falls between the polls of the changes API as a rule; where
    // a poll catches it, it is what overlay mode calls it.
    assert_eq!(write(&overlay, "/tmp/startup.lock")["change"], "transient");
    let lock = writes(&api)
        .iter()
        .find(|w| w["path"] == "/tmp/startup.lock");
    assert!(
        lock.is_none_or(|w| w["change"] == "transient"),
        "{:#}",
        api["writes"]
    );
    // Phases still hold at api granularity, and sizes come from the archive API.
    assert_eq!(write(&api, "/var/lib/app/requests.log")["phase"], "probe");
    assert_eq!(write(&api, "/var/lib/app/state.json")["phase"], "shutdown");
    let blob = write(&api, "/var/cache/app/blob")["bytes"]
        .as_u64()
        .unwrap();
    assert!(
        blob.abs_diff(100_000) <= 4096,
        "blob reported as {blob} bytes"
    );
    // What a mount would hide is read from the image alike (api mode: from an archive of the
    // container's directory), the volume aside: the engine makes /data, the image has none.
    let image_dirs = |trace: &Value| -> Vec<Value> {
        let dirs = trace["image_dirs"].as_array().unwrap().iter();
        dirs.filter(|d| d["path"] != "/data").cloned().collect()
    };
    assert_eq!(image_dirs(&api), image_dirs(&overlay));
    let etc = image_dirs(&api).into_iter().find(|d| d["path"] == "/etc");
    assert_eq!(etc.unwrap()["hidden_files"], 4, "{:#}", api["image_dirs"]);
}

/// `VOLUME /vol/` keeps its slash in the image's config (the classic builder writes it so): a
/// write in it is still the file written, with its size, in both modes.
#[test]
fn a_volume_declared_with_a_trailing_slash_is_traced_like_any_other() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("slash-volume")
        .line("VOLUME /vol/")
        .line("ENV FIXTURE_STARTUP_WRITES=/vol/state.db=64")
        .build();
    for mode in ["overlay", "api"] {
        let trace = trace_json(&[&image, "--idle", "0s", "--mode", mode]);
        assert_eq!(
            trace["image"]["volumes"],
            serde_json::json!(["/vol"]),
            "{mode}"
        );
        let state = write(&trace, "/vol/state.db");
        assert_eq!(
            (state["bytes"].as_u64(), state["volume"].as_bool()),
            (Some(64), Some(true)),
            "{mode}: {:#}",
            trace["writes"]
        );
    }
}

fn assert_one_line_error(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    }
}

#[test]
fn an_image_that_does_not_exist_is_a_one_line_error() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let out = run(&["trace", "rofs-audit-test/no-such-image:never"]);
    assert_one_line_error(
        &out,
        &[
            "rofs-audit-test/no-such-image:never",
            "not present locally",
            "docker images",
        ],
    );
}

#[test]
fn an_unreachable_engine_is_a_one_line_error() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let socket =
        std::env::temp_dir().join(format!("rofs-audit-closed-{}.sock", std::process::id()));
    // A socket file nobody listens on: connections are refused.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let out = rofs_audit()
        .args(["trace", "anything"])
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&socket);
    assert_one_line_error(&out, &["cannot reach the Docker Engine", "DOCKER_HOST"]);
}

#[test]
fn a_container_that_exits_before_ready_shows_its_code_and_last_logs() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("exits")
        .line("ENV FIXTURE_EXIT_CODE=7")
        .build();
    let out = run(&["trace", &image]);
    assert_one_line_error(
        &out,
        &["exited with code 7 before it was ready", "giving up"],
    );
}

#[test]
fn a_port_that_never_opens_times_out() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("no-listen")
        .line("ENV FIXTURE_NO_LISTEN=1")
        .build();
    let out = run(&["trace", &image, "--startup-timeout", "2s"]);
    assert_one_line_error(
        &out,
        &["nothing answered on port 8080", "--startup-timeout"],
    );
}

#[test]
fn a_probe_that_keeps_failing_names_the_status() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("unhealthy")
        .line("ENV FIXTURE_HEALTH_STATUS=500")
        .build();
    let out = run(&[
        "trace",
        &image,
        "--probe",
        "/health",
        "--startup-timeout",
        "2s",
    ]);
    assert_one_line_error(&out, &["probe /health kept answering 500 (expected 200)"]);
}

#[test]
fn several_exposed_ports_need_a_choice() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("two-ports").line("EXPOSE 9090").build();
    let out = run(&["trace", &image]);
    assert_one_line_error(&out, &["8080, 9090", "--port"]);
}

/// Starts a trace that idles long enough to be caught mid-run, and waits for its container.
fn start_long_trace(image: &str) -> std::process::Child {
    let child = rofs_audit()
        .args(["trace", image, "--idle", "120s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let label = format!("dev.rofs-audit.pid={}", child.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    while leftovers(&label).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no container appeared for {label}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

fn signal(child: &std::process::Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn ctrl_c_mid_trace_removes_everything_of_ours() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("long").line("VOLUME /data").build();
    let child = start_long_trace(&image);
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted by SIGINT"));
    assert_eq!(
        leftovers(&format!("dev.rofs-audit.pid={pid}")),
        Vec::<String>::new()
    );
}

#[test]
fn clean_removes_what_a_killed_run_left_and_spares_a_live_one() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("long").line("VOLUME /data").build();
    let mut crashed = start_long_trace(&image);
    let crashed_label = format!("dev.rofs-audit.pid={}", crashed.id());
    // As a host crash does: the run's watchdog goes with it, so nothing cleans up after it.
    let watchdog = Command::new("pkill")
        .args(["-KILL", "-P", &crashed.id().to_string()])
        .status()
        .unwrap();
    assert!(watchdog.success(), "no watchdog process under the run");
    signal(&crashed, "-KILL");
    crashed.wait().unwrap();
    assert!(
        !leftovers(&crashed_label).is_empty(),
        "a run killed with its watchdog cannot clean up after itself"
    );

    let live = start_long_trace(&image);
    let live_label = format!("dev.rofs-audit.pid={}", live.id());
    let out = run(&["clean"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed"));
    assert_eq!(leftovers(&crashed_label), Vec::<String>::new());
    assert!(
        !leftovers(&live_label).is_empty(),
        "clean removed a live audit's container"
    );

    signal(&live, "-TERM");
    let out = live.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    assert_eq!(leftovers(&live_label), Vec::<String>::new());
}

#[test]
fn a_file_made_and_removed_at_once_in_a_new_directory_is_seen() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // Made and removed at once in a directory made at the same moment: inotify alone could
    // miss it (its watch on the new directory comes too late); fanotify names it by the
    // directory's handle, so the file itself is reported, and no blind spot is left to declare.
    let image = ImageSpec::new("instant-lock")
        .line("ENV FIXTURE_TRANSIENT_WRITES=/var/lock/app.lock")
        .line("ENV FIXTURE_TRANSIENT_MS=0")
        .build();
    for _ in 0..3 {
        let trace = trace_json(&[image.as_str(), "--idle", "0s"]);
        let seen: Vec<(&str, &str)> = writes(&trace)
            .iter()
            .map(|w| (w["path"].as_str().unwrap(), w["change"].as_str().unwrap()))
            .collect();
        assert_eq!(seen, [("/var/lock/app.lock", "transient")]);
        assert_eq!(trace["tracing"]["blind_spots"], serde_json::json!([]));
    }
}

/// What an app makes at its first start and finds at the next: a signing key and a cache index
/// (written only where missing, read otherwise), beside a pid file and a marker it writes anew
/// at every start.
fn restart_image() -> String {
    ImageSpec::new("restart-keeps")
        .line("ENV FIXTURE_KEEP_WRITES=/home/app/.secret/signing.key=32,/var/cache/app/index=64")
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app.pid,/srv/app/started.at")
        .build()
}

/// The second start of the same container, as the trace records it: overlay mode sees the
/// reads, api mode only what the archive API states, and says so.
#[test]
fn a_restart_tells_what_the_app_keeps_from_what_it_makes_anew() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = restart_image();
    let overlay = trace_json(&[image.as_str(), "--idle", "0s"]);
    let restart = |trace: &Value, path: &str| write(trace, path)["restart"].clone();
    for (path, expected) in [
        ("/home/app/.secret/signing.key", "reused"),
        ("/var/cache/app/index", "reused"),
        ("/var/run/app.pid", "rewritten"),
        ("/srv/app/started.at", "rewritten"),
    ] {
        assert_eq!(
            restart(&overlay, path),
            expected,
            "{path}: {:#}",
            overlay["writes"]
        );
    }
    let timing = overlay["phases"].as_array().unwrap().last().unwrap();
    assert_eq!(timing["name"], "restart");
    assert_eq!(overlay["tracing"]["blind_spots"], serde_json::json!([]));
    // The first run's logs, not the second's.
    let logs = overlay["logs"].to_string();
    assert!(logs.contains("first start") && !logs.contains("kept from an earlier start"));

    let api = trace_json(&[image.as_str(), "--idle", "0s", "--mode", "api"]);
    for (path, expected) in [
        ("/home/app/.secret/signing.key", "kept"),
        ("/var/run/app.pid", "rewritten"),
    ] {
        assert_eq!(restart(&api, path), expected, "{path}: {:#}", api["writes"]);
    }
    let blind = api["tracing"]["blind_spots"].to_string();
    assert!(blind.contains("reads at a restart"), "{blind}");
}

/// A file that lives longer than the pause between two polls of the changes API, but is gone
/// by the next phase boundary, is a write in api mode too.
#[test]
fn api_mode_sees_a_file_made_and_removed_between_two_boundaries() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("between-boundaries")
        .line("ENV FIXTURE_TRANSIENT_WRITES=/var/lib/app/short.lock")
        .line("ENV FIXTURE_TRANSIENT_MS=1500")
        .build();
    let api = trace_json(&[image.as_str(), "--idle", "0s", "--mode", "api"]);
    let lock = write(&api, "/var/lib/app/short.lock");
    assert_eq!(
        (lock["change"].as_str(), lock["phase"].as_str()),
        (Some("transient"), Some("startup")),
        "{:#}",
        api["writes"]
    );
}

/// Forwards connections to 127.0.0.1:PORT to this host's engine socket, so that a tcp://
/// DOCKER_HOST reaches the engine whose storage is right here.
fn engine_over_tcp() -> u16 {
    use std::net::{Shutdown, TcpListener};
    use std::os::unix::net::UnixStream;
    let socket = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_string))
        .unwrap_or_else(|| "/var/run/docker.sock".to_string());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let Ok(unix) = UnixStream::connect(&socket) else {
                continue;
            };
            let (mut tcp_in, mut unix_out) = (tcp.try_clone().unwrap(), unix.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut tcp_in, &mut unix_out);
                let _ = unix_out.shutdown(Shutdown::Write);
            });
            let (mut unix_in, mut tcp_out) = (unix, tcp);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut unix_in, &mut tcp_out);
                let _ = tcp_out.shutdown(Shutdown::Write);
            });
        }
    });
    port
}

/// An engine reached over TCP may be this host's own: overlay mode is judged by whether its
/// storage is here, not by DOCKER_HOST's scheme.
#[test]
fn overlay_mode_traces_this_hosts_engine_reached_over_tcp() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("over-tcp")
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app.pid")
        .build();
    let host = format!("tcp://127.0.0.1:{}", engine_over_tcp());
    for (mode, reason) in [
        ("overlay", "overlay: --mode overlay"),
        ("auto", "overlay: the engine's storage is readable here"),
    ] {
        let out = rofs_audit()
            .args([
                "trace", &image, "--idle", "0s", "--mode", mode, "--format", "json",
            ])
            .env("DOCKER_HOST", &host)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "--mode {mode} over {host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let trace: Value = serde_json::from_slice(&out.stdout).unwrap();
        let chosen = trace["tracing"]["reason"].as_str().unwrap_or_default();
        assert!(chosen.starts_with(reason), "--mode {mode}: {chosen}");
        assert_eq!(write(&trace, "/var/run/app.pid")["change"], "created");
    }
}
