//! What a new user meets with nothing but an image name: the probe rofs-audit chooses, and the
//! one-line errors for bad input, against the real Docker Engine.

mod common;

use common::{run, run_json, ImageSpec};
use serde_json::Value;

/// Every write at `path`, as (change, phase).
fn writes_at<'a>(report: &'a Value, path: &str) -> Vec<(&'a str, &'a str)> {
    report["writes"]
        .as_array()
        .expect("writes")
        .iter()
        .filter(|w| w["path"] == path)
        .map(|w| (w["change"].as_str().unwrap(), w["phase"].as_str().unwrap()))
        .collect()
}

#[test]
fn an_image_healthcheck_is_the_probe_run_inside_and_its_writes_are_traced() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("healthcheck-writes")
        .dir("/var/run/app", 0, 0, 0o755)
        .line("ENV FIXTURE_CHECK_WRITES=/var/run/app/health.stamp")
        .line(r#"HEALTHCHECK --interval=5s CMD ["/app/fixture", "check"]"#)
        .build();
    let report = run_json(&["trace", &image], &[0]);
    let probes = &report["run"]["probes"];
    assert!(
        probes[0].as_str().unwrap().starts_with("HEALTHCHECK"),
        "{probes:#}"
    );
    assert_eq!(report["probes"][0]["target"], "HEALTHCHECK");
    assert_eq!(report["probes"][0]["ok"], true);
    let stamp = writes_at(&report, "/var/run/app/health.stamp");
    assert!(
        stamp.iter().any(|(_, phase)| *phase == "healthcheck"),
        "{stamp:?}"
    );
}

#[test]
fn an_http_server_without_a_health_endpoint_is_up_when_it_answers_at_all() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // GET / answers 404: the app is up, it just serves nothing there.
    let image = ImageSpec::new("no-health-endpoint")
        .line("ENV FIXTURE_HEALTH_PATHS=/status")
        .build();
    let report = run_json(&["audit", &image, "--profile", "docker"], &[0]);
    assert_eq!(report["verdict"], "compatible");
    let probe = &report["probes"][0];
    assert_eq!(
        (&probe["target"], &probe["status"]),
        (&"/".into(), &404.into())
    );
    assert_eq!(probe["ok"], true);
    assert!(report["run"]["probes"][0]
        .as_str()
        .unwrap()
        .contains("below 500"));
}

#[test]
fn a_tcp_only_server_audited_with_no_flags_gets_tcp_readiness_and_says_so() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("speaks-no-http")
        .line("ENV FIXTURE_NOT_HTTP=1")
        .build();
    let report = run_json(&["audit", &image, "--profile", "docker"], &[0]);
    assert_eq!(report["verdict"], "compatible");
    let probe = &report["probes"][0];
    assert_eq!(probe["ok"], true, "{probe:#}");
    assert_eq!(probe["status"], Value::Null);
    assert!(
        probe["note"].as_str().unwrap().contains("TCP readiness"),
        "{probe:#}"
    );
    // Asked for HTTP outright, the same server is named for what it is.
    let out = run(&[
        "trace",
        &image,
        "--probe",
        "/health",
        "--startup-timeout",
        "3s",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--probe tcp"), "{stderr}");
}

#[test]
fn a_probe_that_keeps_answering_404_stops_the_wait_early_and_names_itself() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("smoke").build();
    let out = run(&["trace", &image, "--probe", "/nope"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("probe /nope kept answering 404"),
        "{stderr}"
    );
}

/// Runs the CLI, which must refuse with exit 2 and one line that contains `says`; `run` checks
/// that nothing was left behind.
fn refused(args: &[&str], says: &str) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(says), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
}

#[test]
fn bad_input_is_refused_before_anything_runs() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = "rofs-audit-test/not-built-on-purpose:0";
    refused(&["audit", image, "--port", "0"], "--port");
    refused(
        &["audit", image, "--expect-status", "999"],
        "--expect-status",
    );
    refused(
        &["audit", image, "--idle", "99999999999999999s"],
        "longer than an hour",
    );
    refused(&["audit", image, "--startup-timeout", "2h"], "unknown unit");
    refused(&["audit", ""], "the image reference is empty");
    refused(&["audit", image, "--tmpfs", "/x:size=abc"], "malformed");
    refused(
        &["audit", image, "--tmpfs", "/"],
        "would hide the whole image",
    );
    refused(&["audit", image, "--tmpfs", "tmp"], "not an absolute path");
    refused(
        &["audit", image, "--tmpfs", "/x:frob"],
        "unknown tmpfs option",
    );
    refused(
        &["audit", image, "--tmpfs", "/x", "--tmpfs", "/x/:size=1m"],
        "given twice",
    );
    refused(&["audit", image, "--probe", "/a b"], "%20");
    // A report or a config that could not be written at the end is refused at the start.
    refused(
        &["audit", image, "-o", "/nonexistent/report.json"],
        "cannot write /nonexistent/report.json: there is no directory /nonexistent; check --output",
    );
    refused(&["trace", image, "-o", "/tmp"], "it is a directory");
    refused(&["init", image, "-o", "/nonexistent/c.yaml"], "check -o");
    let spec = "tests/specs/taskdef.json";
    let patch = ["audit", "-f", spec, "--patch", "/nonexistent/taskdef.json"];
    refused(&patch, "check --patch");
    // What clap refuses is one line too, and names the help that explains the flag.
    refused(
        &["audit", image, "--port", "0"],
        "0 is not in 1..=65535; see `rofs-audit audit --help`",
    );
    refused(
        &["audit", image, "--diff"],
        "not provided: --file <FILE>, --patch <OUT>",
    );
    refused(
        &["verify", image, "--bogus"],
        "unexpected argument '--bogus'",
    );
    refused(
        &["-q", "trace", image, "--format", "nope"],
        "possible values: text, json, yaml",
    );
}

#[test]
fn engine_refusals_are_translated_into_the_flag_and_the_fix() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("smoke").build();
    refused(
        &["trace", &image, "-u", "nosuchuser"],
        "the image has no user \"nosuchuser\"",
    );
    refused(
        &["trace", &image, "--entrypoint", "/nope"],
        "\"/nope\" is not in the image",
    );
    refused(&["trace", &image, "-e", "=x"], "a variable needs a name");
}

#[test]
fn cmd_is_split_as_a_shell_splits_it() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // The fixture takes no arguments it does not know, but `check` is one: the run exits 0
    // only if `--cmd "check"` reached it as one word after the entrypoint.
    let image = ImageSpec::new("smoke").build();
    let out = run(&[
        "trace",
        &image,
        "--entrypoint",
        "/app/fixture",
        "--cmd",
        "'check'",
        "--startup-timeout",
        "5s",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // It exits at once with code 0 (nothing to check): a writable run that quits is an error.
    assert!(stderr.contains("exited with code 0"), "{stderr}");
}

#[test]
fn progress_shows_on_a_terminal_while_the_audit_runs_and_never_elsewhere() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("smoke").build();
    let binary = env!("CARGO_BIN_EXE_rofs-audit");
    // util-linux's script gives the audit a pseudo-terminal; what it prints comes back on ours.
    let command = format!("{binary} audit {image} --profile docker --idle 0s");
    let out = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .output()
        .expect("run script(1) from util-linux");
    let screen = String::from_utf8_lossy(&out.stdout);
    let progress = screen
        .find("trace: ready after")
        .unwrap_or_else(|| panic!("no progress on the terminal:\n{screen}"));
    let report = screen
        .find("verdict:")
        .unwrap_or_else(|| panic!("no report on the terminal:\n{screen}"));
    assert!(
        progress < report,
        "progress came after the report:\n{screen}"
    );
    assert!(screen.contains("proof run 1"), "{screen}");

    // Without a terminal, nothing but the report: stderr stays empty.
    let piped = run(&["audit", &image, "--profile", "docker", "--idle", "0s"]);
    assert_eq!(piped.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&piped.stderr), "");
    // And --quiet silences a terminal too.
    let quiet = std::process::Command::new("script")
        .args([
            "-qfec",
            &format!("{command} --quiet -o /dev/null"),
            "/dev/null",
        ])
        .output()
        .expect("run script(1)");
    let screen = String::from_utf8_lossy(&quiet.stdout);
    assert!(!screen.contains("trace:"), "{screen}");
}

#[test]
fn a_closed_stdout_ends_quietly_with_exit_0() {
    // No engine needed: `remedies` prints a catalogue, to a reader that has already gone.
    for _ in 0..5 {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rofs-audit"))
            .arg("remedies")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run rofs-audit");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait for rofs-audit");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_port_the_image_does_not_expose_is_named_with_the_ones_it_does() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("smoke").build();
    let out = run(&["trace", &image, "--port", "9999", "--startup-timeout", "2s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // The fixture announces `listening on 0.0.0.0:8080`: the message names that too.
    assert!(
        stderr.contains("nothing answers on port 9999")
            && stderr.contains("the image EXPOSEs 8080/tcp")
            && stderr.contains("--port 8080"),
        "{stderr}"
    );
}

#[test]
fn a_report_from_a_newer_rofs_audit_is_refused_before_anything_runs() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    let report = include_str!("data/report-proven.json").replacen(
        "\"schema_version\": 2",
        "\"schema_version\": 99",
        1,
    );
    assert!(report.contains("\"schema_version\": 99"));
    std::fs::write(file.path(), report).unwrap();
    let path = file.path().to_str().unwrap().to_owned();
    refused(
        &["suggest", "--from", &path],
        "schema_version 99 was written by a newer rofs-audit",
    );
}
