//! `rofs-audit audit`, `suggest` and `profiles` against the real Docker Engine.

mod common;

use std::time::Duration;

use common::{
    docker, docker_ok, published_port, run, run_json, temp_dir, wait_for_200, ContainerGuard,
    ImageSpec,
};
use serde_json::Value;

fn mounts(report: &Value) -> Vec<&Value> {
    report["mounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .collect()
}

/// A UID 1000 app that writes its pid file into /var/run, a directory of the image it owns.
fn owned_dir_image() -> String {
    ImageSpec::new("owned-var-run")
        .dir("/var/run", 1000, 1000, 0o755)
        .line("USER 1000")
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app.pid")
        .build()
}

/// Runs `image` read-only with `tmpfs` mounts exactly as the report says to, the way a user
/// would paste them: `docker run --read-only --tmpfs PATH:OPTIONS,size=Nm`.
fn run_read_only(image: &str, tmpfs: &[String]) -> ContainerGuard {
    let mut args = vec![
        "run",
        "-d",
        "--read-only",
        "-p",
        "127.0.0.1::8080",
        "--label",
        "dev.rofs-audit.test=1",
    ];
    for t in tmpfs {
        args.extend_from_slice(&["--tmpfs", t]);
    }
    args.push(image);
    ContainerGuard(docker_ok(&args))
}

/// The `--tmpfs` arguments of the `docker run` fix the text report prints, as a user copies them.
fn printed_tmpfs_flags(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("--tmpfs "))
        .map(|arg| arg.trim_end_matches(" \\").trim_matches('\'').to_string())
        .collect()
}

#[test]
fn the_suggested_mount_for_a_uid_1000_app_lets_it_start_read_only() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = owned_dir_image();
    let out = run(&["audit", &image, "--profile", "docker"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let report = run_json(&["audit", &image, "--profile", "docker"], &[1]);
    assert_eq!(report["verdict"], "needs-mounts");
    assert_eq!(report["profile"], "docker");
    let pid = report["writes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["path"] == "/var/run/app.pid")
        .unwrap();
    assert_eq!(
        (pid["would_fail"].as_bool(), pid["uid"].as_u64()),
        (Some(true), Some(1000))
    );
    let mounts = mounts(&report);
    assert_eq!(mounts.len(), 1, "{mounts:?}");
    // Not /var: that would hide nothing here but the image's /var/run, which the app needs.
    assert_eq!(mounts[0]["path"], "/var/run");
    assert_eq!(mounts[0]["exists_in_image"], true);
    let options = mounts[0]["options"].as_array().unwrap();
    // `USER 1000` with no group runs with gid 0: the owner is what the trace saw the app use.
    let gid = format!("gid={}", pid["gid"]);
    assert!(
        options.contains(&"uid=1000".into()) && options.contains(&gid.as_str().into()),
        "{options:?}"
    );

    // The fix as printed, pasted into docker run, works.
    let flags = printed_tmpfs_flags(&text);
    assert_eq!(flags.len(), 1, "{text}");
    assert!(
        flags[0].starts_with("/var/run:") && flags[0].contains("uid=1000"),
        "{flags:?}"
    );
    let fixed = run_read_only(&image, &flags);
    let port = published_port(fixed.id(), 8080);
    assert!(
        wait_for_200(port, "/health", Duration::from_secs(20)),
        "logs: {}",
        docker_ok(&["logs", fixed.id()])
    );
    let logs = String::from_utf8_lossy(&docker(&["logs", fixed.id()]).stderr).into_owned();
    assert!(
        !logs.contains("Read-only") && !logs.contains("Permission denied"),
        "{logs}"
    );
}

#[test]
fn the_ownership_trap_is_real_a_tmpfs_without_owner_options_is_root_owned() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // Pins the measured fact the owner options exist for: Docker does not carry the image
    // directory's owner (1000) over to a tmpfs mounted on it.
    let image = owned_dir_image();
    let plain = run_read_only(&image, &["/var/run:size=16m".to_string()]);
    let status = docker_ok(&["wait", plain.id()]);
    let logs = docker(&["logs", plain.id()]);
    let stderr = String::from_utf8_lossy(&logs.stderr);
    assert_eq!(status, "3", "the app should fail: {stderr}");
    assert!(
        stderr.contains("cannot write /var/run/app.pid: Permission denied (os error 13)"),
        "{stderr}"
    );
}

/// A file of the image that the app modifies is content a mount hides, like any other: the
/// app here never reads what it rewrites, and the run shows it does without both files.
#[test]
fn modifying_a_file_of_the_image_is_decided_by_the_runs() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("rewrites-config")
        .file("/etc/app/base.conf", b"base", 0, 0, 0o644)
        .file("/etc/app/state.conf", b"old", 0, 0, 0o644)
        .line("ENV FIXTURE_STARTUP_WRITES=/etc/app/state.conf,/var/run/app.pid")
        .build();
    let report = run_json(&["audit", &image], &[1]);
    assert_eq!(report["profile"], "ecs-fargate", "the default profile");
    assert_eq!(
        report["verdict"], "needs-mounts",
        "{:#}",
        report["unfixable"]
    );
    assert_eq!(report["unfixable"], serde_json::json!([]));
    let minimal = report["verification"]["minimal_mounts"].as_array().unwrap();
    let etc = minimal
        .iter()
        .find(|m| m["path"] == "/etc/app")
        .unwrap_or_else(|| panic!("no proven mount at /etc/app: {minimal:#?}"));
    assert_eq!(
        etc["hides"],
        serde_json::json!(["/etc/app/state.conf", "/etc/app/base.conf"])
    );
    assert!(
        etc["warnings"]
            .to_string()
            .contains("proven: the app started, answered and stopped without what it hides"),
        "{etc:#}"
    );
    // What a mount can fix without hiding anything still gets one.
    assert!(mounts(&report)
        .iter()
        .any(|m| m["path"] == "/var/run" || m["path"] == "/var"));
}

#[test]
fn a_uv_run_launcher_gets_the_launcher_remedy() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("uv-launcher")
        .launcher("uv")
        .line("ENV HOME=/root")
        .line(r#"CMD ["uv", "run", "python", "-m", "app"]"#)
        .build();
    let report = run_json(&["audit", &image], &[1]);
    let remedies = report["remedies"].as_array().unwrap();
    let uv = remedies
        .iter()
        .find(|r| r["id"] == "uv-run")
        .unwrap_or_else(|| panic!("no uv-run in {remedies:?}"));
    assert!(uv["fix"].as_str().unwrap().contains(".venv/bin/python"));
    assert_eq!(
        uv["paths"],
        serde_json::json!(["/root/.cache/uv/launcher.lock"])
    );
}

#[test]
fn writes_only_where_the_platform_is_writable_pass_with_exit_0() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("shm-only")
        .line("ENV FIXTURE_STARTUP_WRITES=/dev/shm/heartbeat")
        .build();
    let report = run_json(&["audit", &image, "--profile", "docker"], &[0]);
    assert_eq!(report["verdict"], "compatible");
    // A declared mount covers what it covers: the same gate passes with the fix in place.
    let pid_image = owned_dir_image();
    let report = run_json(
        &[
            "audit",
            &pid_image,
            "--profile",
            "docker",
            "--tmpfs",
            "/var/run:uid=1000,gid=1000",
        ],
        &[0],
    );
    assert_eq!(report["verdict"], "compatible");
}

#[test]
fn suggest_rejudges_a_recorded_trace_without_an_engine() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let dir = temp_dir("suggest");
    let trace_file = dir.path().join("trace.json");
    let image = owned_dir_image();
    let out = run(&[
        "trace",
        &image,
        "--format",
        "json",
        "-o",
        trace_file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No engine behind DOCKER_HOST: suggest must not need one.
    let suggest = |args: &[&str]| {
        common::rofs_audit()
            .args(["suggest", "--from", trace_file.to_str().unwrap()])
            .args(args)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output()
            .unwrap()
    };
    let out = suggest(&["--profile", "kubernetes", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["profile"].as_str(), report["verdict"].as_str()),
        (Some("kubernetes"), Some("needs-mounts"))
    );
    // Another format of the same judgement.
    let out = suggest(&["--profile", "ecs-fargate", "--emit", "cdk"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("readonlyRootFilesystem") && text.contains("addTmpfs"),
        "{text}"
    );
}

#[test]
fn profiles_are_listed_shown_and_a_malformed_one_is_rejected_with_its_position() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let list = run(&["profiles"]);
    let list = String::from_utf8_lossy(&list.stdout);
    for name in [
        "ecs-fargate",
        "ecs-ec2",
        "kubernetes",
        "docker",
        "podman",
        "lambda",
    ] {
        assert!(list.contains(name), "{name} not in {list}");
    }
    let shown = run(&["profiles", "show", "lambda"]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("/tmp"));

    // The remedies catalogue prints as YAML a --remedies file can follow.
    let remedies: serde_yaml_ng::Value =
        serde_yaml_ng::from_slice(&run(&["remedies"]).stdout).expect("remedies print YAML");
    let ids: Vec<&str> = remedies
        .as_sequence()
        .expect("a list")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(ids.contains(&"uv-run"), "{ids:?}");

    let dir = temp_dir("bad-profile");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: broken\ntitle: [unclosed\n").unwrap();
    let out = run(&[
        "suggest",
        "--from",
        "/dev/null",
        "--profile",
        bad.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2:", bad.display())),
        "no file:line in {stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

/// `--baseline`: the history a team has accepted passes; a new write that needs a new mount
/// fails, named.
#[test]
fn a_baseline_passes_old_findings_and_fails_a_new_one() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // /var/run and /var/cache are apart, so the new write needs a mount of its own.
    let image = |name: &str, writes: &str| {
        ImageSpec::new(name)
            .dir("/var/run", 0, 0, 0o755)
            .dir("/var/cache", 0, 0, 0o755)
            .line(&format!("ENV FIXTURE_STARTUP_WRITES={writes}"))
            .build()
    };
    let old = image("baseline-old", "/var/run/app/app.pid!");
    let new = image(
        "baseline-new",
        "/var/run/app/app.pid!,/var/cache/app/index!",
    );
    let dir = temp_dir("baseline");
    let base = dir.path().join("base.json");
    let base = base.to_str().unwrap();
    let quick = ["--profile", "docker", "--idle", "0s"];
    let before = run(&[&["audit", &old, "--format", "json", "-o", base][..], &quick].concat());
    assert_eq!(before.status.code(), Some(1), "the old image needs a mount");

    let again = run(&[&["audit", &old, "--baseline", base][..], &quick].concat());
    let text = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "Against {base}: nothing new (1 finding already there)."
        )),
        "{text}"
    );

    let args = [&["audit", &new, "--baseline", base][..], &quick].concat();
    let report = run_json(&args, &[1]);
    assert_eq!(report["baseline"]["file"], base);
    let new_findings = report["baseline"]["new"].as_array().unwrap();
    assert_eq!(new_findings.len(), 1, "{new_findings:?}");
    assert_eq!(new_findings[0]["kind"], "mount");
    let mount = new_findings[0]["name"].as_str().unwrap();
    assert!(
        mount.starts_with("/var/cache"),
        "the new mount is for the new write: {mount}"
    );
    assert_eq!(report["baseline"]["known"], 1);
    // A gate on needs-changes only ignores a new mount.
    let lenient = [&args[..], &["--fail-on", "needs-changes"]].concat();
    run_json(&lenient, &[0]);

    // A trace is no baseline.
    let trace = dir.path().join("trace.json");
    let out = run(&[
        "trace",
        &old,
        "--idle",
        "0s",
        "--format",
        "json",
        "-o",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let refused = run(&[
        "suggest",
        "--from",
        trace.to_str().unwrap(),
        "--baseline",
        trace.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not a rofs-audit report")
            && stderr.contains("rofs-audit audit IMAGE --format json"),
        "{stderr}"
    );
}

/// A program of the team's audits through the library, without the command line: it gets the
/// report and the exit code the binary gives for the same image.
#[test]
fn the_library_audits_an_image_as_the_command_line_does() {
    use rofs_audit::command::{self, Audit, Targets};
    use rofs_audit::report::{Format, Output};
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = owned_dir_image();
    let dir = temp_dir("library");
    let path = dir.path().join("report.json");
    let request = Audit {
        targets: Targets::Images(vec![image.clone()]),
        ..Audit::default()
    };
    let out = Output {
        format: Format::Json,
        path: Some(path.clone()),
        verbose: false,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let code = runtime
        .block_on(command::audit(request, out, true))
        .unwrap();
    let library: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cli = run_json(&["audit", &image], &[0, 1]);
    assert_eq!((code, &library["verdict"]), (1, &cli["verdict"]));
    assert_eq!(library["verdict"], "needs-mounts");
    let paths = |report: &Value| -> Vec<String> {
        let mounts = mounts(report).into_iter();
        mounts.map(|m| m["path"].to_string()).collect()
    };
    assert_eq!(paths(&library), paths(&cli));
    assert!(
        paths(&library).contains(&"\"/var/run\"".to_string()),
        "{library}"
    );
}
