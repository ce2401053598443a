//! rofs-audit on podman (4.3, rootful) through its Docker-compatible service: the same verdict
//! and fewest mounts as on Docker for nginx as packaged and a non-root app, the podman profile's
//! fix proven on podman and started by podman's own CLI, and audits in a row without an error
//! (podman's short-lived `stopped` state once ended most of them in exit 2).
//!
//! Needs root, Docker (whose images are copied into podman) and `podman system service` at
//! [`common::podman_host`]; .ci/run starts it.

mod common;

use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{docker_ok, ready, run, wait_for_200, ImageSpec, Need, TEST_LABEL};
use serde_json::Value;

const NGINX: &str = "rofs-audit-real/nginx:2";
/// Flask under gunicorn as uid 1000.
const PYAPP: &str = "rofs-audit-real/pyapp:2";
const REAL_IMAGES: &str = "tests/real/build-images.sh";

/// One audit at a time: on 2 cores, two at once would measure the machine.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the podman CLI (as root: the rootful store the service uses).
fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `podman {}`: {e}", args.join(" ")))
}

fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "`podman {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Copies `image` from Docker into podman unless podman has the same image (same id) already.
fn in_podman(image: &str) {
    let id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", image]);
    let id = id.trim_start_matches("sha256:");
    let there = podman(&["image", "inspect", "--format", "{{.Id}}", image]);
    if there.status.success() && String::from_utf8_lossy(&there.stdout).trim() == id {
        return;
    }
    let mut save = Command::new("docker")
        .args(["save", image])
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker save");
    let load = Command::new("podman")
        .args(["load", "-q"])
        .stdin(save.stdout.take().expect("docker save's stdout"))
        .output()
        .expect("podman load");
    let saved = save.wait().expect("wait for docker save");
    assert!(
        saved.success() && load.status.success(),
        "docker save {image} | podman load failed: {}",
        String::from_utf8_lossy(&load.stderr)
    );
}

/// Containers and volumes of rofs-audit process `pid` left on podman.
fn podman_leftovers(pid: u32) -> String {
    let filter = format!("label=dev.rofs-audit.pid={pid}");
    let containers = podman_ok(&["ps", "-a", "-q", "--filter", &filter]);
    let volumes = podman_ok(&["volume", "ls", "-q", "--filter", &filter]);
    format!("{containers}{volumes}")
}

/// Runs rofs-audit against podman's service and asserts it leaves nothing there.
fn on_podman(args: &[&str]) -> Output {
    let child = common::rofs_audit()
        .args(args)
        .env("DOCKER_HOST", common::podman_host())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rofs-audit");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait for rofs-audit");
    let left = podman_leftovers(pid);
    assert!(left.is_empty(), "rofs-audit {args:?} left {left} on podman");
    out
}

/// The JSON report of an audit that ended 0 or 1 (2 is an error).
fn report(out: &Output, args: &[&str], engine: &str) -> Value {
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "rofs-audit {args:?} on {engine} exited {code:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("rofs-audit prints JSON")
}

fn minimal(report: &Value) -> Vec<String> {
    let mut paths: Vec<String> = report["verification"]["minimal_mounts"]
        .as_array()
        .unwrap_or_else(|| panic!("no minimal mounts in {:#}", report["verification"]))
        .iter()
        .map(|m| m["path"].as_str().expect("a mount path").to_owned())
        .collect();
    paths.sort();
    paths
}

fn write_paths(report: &Value) -> Vec<&str> {
    report["writes"]
        .as_array()
        .expect("writes")
        .iter()
        .map(|w| w["path"].as_str().expect("a write path"))
        .collect()
}

/// Every failed proof run shows the read-only error that failed it: podman lost the logs of
/// containers that exit at once, and the search then lost the path the error names.
fn assert_failed_runs_have_their_error(report: &Value, what: &str) {
    for (i, run) in report["verification"]["runs"]
        .as_array()
        .expect("proof runs")
        .iter()
        .enumerate()
    {
        if run["passed"] == true || run["readonly"] == false {
            continue;
        }
        let lines = run["erofs_lines"].as_array().map_or(0, Vec::len);
        assert!(
            lines > 0,
            "{what}: proof run {} failed without its read-only error: {run:#}",
            i + 1
        );
    }
}

#[test]
fn nginx_and_a_non_root_app_get_the_same_verdict_and_mounts_on_podman_as_on_docker() {
    if !ready(Need::Images(REAL_IMAGES)) || !ready(Need::Podman) {
        return;
    }
    let _one = one_at_a_time();
    let apps: [(&str, &[&str]); 2] = [
        (NGINX, &["--port", "80", "--probe", "/"]),
        (
            PYAPP,
            &[
                "--port",
                "8000",
                "--probe",
                "/health",
                "--probe",
                "/health/ready",
            ],
        ),
    ];
    for (image, probes) in apps {
        in_podman(image);
        let mut args = vec!["audit", image, "--profile", "podman", "--idle", "1s"];
        args.extend_from_slice(probes);
        args.extend_from_slice(&["--format", "json"]);
        let pm = report(&on_podman(&args), &args, "podman");
        let dk = report(&run(&args), &args, "docker");

        assert_eq!(pm["verdict"], dk["verdict"], "{image}: verdicts differ");
        assert_eq!(pm["verification"]["passed"], true, "{image}: {pm:#}");
        assert_eq!(minimal(&pm), minimal(&dk), "{image}: minimal mounts differ");
        assert!(!minimal(&pm).is_empty(), "{image} needs mounts on both");
        assert_eq!(pm["tracing"]["mode"], dk["tracing"]["mode"], "{image}");
        assert_failed_runs_have_their_error(&pm, image);
        // Podman's own files are not the app's writes.
        for path in write_paths(&pm) {
            assert!(
                !path.starts_with("/etc") && path != "/run/.containerenv",
                "{image}: podman's own {path} is reported as a write"
            );
        }
        if image == PYAPP {
            // Proven on podman with its U option, which podman accepts, not uid=/gid=.
            let mounts = &pm["verification"]["minimal_mounts"];
            for m in mounts.as_array().unwrap() {
                let options: Vec<&str> = m["options"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o.as_str().unwrap())
                    .collect();
                assert!(options.contains(&"U"), "{mounts:#}");
                assert!(!options.iter().any(|o| o.starts_with("uid=")), "{mounts:#}");
            }
        }
    }
}

/// The words of the report's `podman run` fix, comments out and lines joined as a shell would.
fn printed_podman_run(text: &str) -> Vec<String> {
    let start = text
        .find("Fix: podman run\n")
        .unwrap_or_else(|| panic!("no podman fix in:\n{text}"));
    let rest = &text[start..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    let command: String = rest[..end]
        .lines()
        .skip(1)
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.trim_end().trim_end_matches('\\').to_owned() + " ")
        .collect();
    let words = shlex::split(&command).unwrap_or_else(|| panic!("not shell words: {command}"));
    assert_eq!(words[..2], ["podman", "run"], "{command}");
    words
}

/// Removes a podman container however the test ends.
struct PodmanContainer(String);

impl Drop for PodmanContainer {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.0]);
    }
}

#[test]
fn the_printed_podman_run_flags_start_a_non_root_app_read_only_and_it_answers() {
    if !ready(Need::Images(REAL_IMAGES)) || !ready(Need::Podman) {
        return;
    }
    let _one = one_at_a_time();
    in_podman(PYAPP);
    let args = [
        "audit",
        PYAPP,
        "--profile",
        "podman",
        "--port",
        "8000",
        "--probe",
        "/health/ready",
        "--idle",
        "1s",
    ];
    let out = on_podman(&args);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let words = printed_podman_run(&text);
    assert!(
        words.iter().any(|w| w == "--read-only"),
        "{words:?}\n{text}"
    );
    assert!(
        words.iter().any(|w| w.contains(":") && w.contains(",U,")),
        "the tmpfs is owned with U: {words:?}"
    );
    // As printed, run in the background, labelled, published on 127.0.0.1 only.
    let mut run_args: Vec<&str> = vec!["run", "-d", "--label", TEST_LABEL, "-p", "127.0.0.1::8000"];
    run_args.extend(words[2..].iter().map(String::as_str));
    let container = PodmanContainer(podman_ok(&run_args));
    let port = podman_ok(&["port", &container.0, "8000/tcp"]);
    let port: u16 = port
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no published port in {port:?}"));
    assert!(
        wait_for_200(port, "/health/ready", Duration::from_secs(30)),
        "{:?} does not answer: {}",
        run_args,
        podman_ok(&["logs", &container.0])
    );
    let inspect = podman_ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.ReadonlyRootfs}}",
        &container.0,
    ]);
    assert_eq!(inspect, "true");
    // Read-only indeed, and the mount the fix adds belongs to the app's user.
    let touch = podman(&["exec", &container.0, "touch", "/app/rofs-audit-probe"]);
    assert!(!touch.status.success(), "the root is writable");
    let logs = podman(&["logs", &container.0]);
    let logs =
        String::from_utf8_lossy(&logs.stderr).into_owned() + &String::from_utf8_lossy(&logs.stdout);
    assert!(!logs.contains("Read-only file system"), "{logs}");
}

#[test]
fn twenty_audits_in_a_row_on_podman_end_without_an_error() {
    if !ready(Need::Podman) {
        return;
    }
    // A non-root app that exits at once when its startup write fails: every audit has a proof
    // run that exits before it is ready (podman's `stopped` state, its fast-exit logs) and one
    // that needs a tmpfs owned by uid 1000 (podman's U option).
    let image = ImageSpec::new("podman-loop")
        .dir("/app/cache", 1000, 1000, 0o755)
        .line("USER 1000")
        .line("ENV FIXTURE_STARTUP_WRITES=/app/cache/boot!")
        .build();
    in_podman(&image);
    let _one = one_at_a_time();
    let args = [
        "audit",
        &image,
        "--profile",
        "podman",
        "--idle",
        "0s",
        "--format",
        "json",
    ];
    let started = Instant::now();
    for i in 1..=20 {
        let out = on_podman(&args);
        let what = format!("audit {i} of 20");
        let pm = report(&out, &args, &what);
        assert_eq!(pm["verdict"], "needs-mounts", "{what}: {pm:#}");
        assert_eq!(minimal(&pm), ["/app/cache"], "{what}");
        assert_failed_runs_have_their_error(&pm, &what);
        assert_eq!(write_paths(&pm), ["/app/cache/boot"], "{what}");
    }
    eprintln!(
        "20 audits on podman in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn another_profile_s_proof_on_podman_keeps_tmp_read_only() {
    if !ready(Need::Podman) {
        return;
    }
    // Podman gives every read-only container a writable /tmp; Kubernetes does not. An app
    // that cannot start without writing there needs a mount on /tmp, on podman as on Docker.
    let image = ImageSpec::new("podman-tmp")
        .line("ENV FIXTURE_STARTUP_WRITES=/tmp/app.lock!")
        .build();
    in_podman(&image);
    let _one = one_at_a_time();
    let args = [
        "audit",
        &image,
        "--profile",
        "kubernetes",
        "--idle",
        "0s",
        "--format",
        "json",
    ];
    let pm = report(&on_podman(&args), &args, "podman");
    assert_eq!(pm["verdict"], "needs-mounts", "{pm:#}");
    assert_eq!(minimal(&pm), ["/tmp"], "{:#}", pm["verification"]);
    assert_failed_runs_have_their_error(&pm, "the /tmp writer");
}
