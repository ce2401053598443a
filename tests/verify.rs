//! The read-only proof against the real Docker Engine: `audit` finds the fatal writes and the
//! fewest mounts, `verify` gates a configuration.

mod common;

use common::{mount_paths, run, run_json, write_at, ImageSpec};
use serde_json::Value;

/// A UID 1000 app with two fatal writes (a pid file, its state) and two it skips without a word
/// when they fail (a cache blob, a scratch file), each in a directory of the image that it owns.
fn fatal_and_tolerated_image() -> String {
    ImageSpec::new("fatal-and-tolerated")
        .dir("/var/run/app", 1000, 1000, 0o755)
        .dir("/var/lib/app", 1000, 1000, 0o755)
        .dir("/var/cache/app", 1000, 1000, 0o755)
        .dir("/scratch", 1000, 1000, 0o755)
        .line("USER 1000:1000")
        .line(
            "ENV FIXTURE_STARTUP_WRITES=/var/run/app/app.pid!,/var/lib/app/state=4096!,\
             /var/cache/app/blob=65536~,/scratch/tmp~",
        )
        .build()
}

/// `--tmpfs` arguments for `mounts` as the report plans them (Docker's owner options).
fn tmpfs_flags(mounts: &Value) -> Vec<String> {
    mounts
        .as_array()
        .expect("mounts")
        .iter()
        .map(|m| {
            let mut options: Vec<String> = m["options"]
                .as_array()
                .expect("options")
                .iter()
                .map(|o| o.as_str().expect("an option").to_string())
                .collect();
            options.push(format!("size={}m", m["size_mib"]));
            format!("{}:{}", m["path"].as_str().unwrap(), options.join(","))
        })
        .collect()
}

fn verify(image: &str, tmpfs: &[String]) -> std::process::Output {
    let mut args = vec!["verify", image, "--profile", "docker"];
    for t in tmpfs {
        args.extend(["--tmpfs", t.as_str()]);
    }
    run(&args)
}

#[test]
fn the_minimal_set_is_the_fatal_directories_and_verify_gates_it() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = fatal_and_tolerated_image();
    let report = run_json(&["audit", &image, "--profile", "docker"], &[1]);
    let v = &report["verification"];
    assert_eq!(v["passed"], true, "{v:#}");
    assert_eq!(report["verdict"], "needs-mounts");
    assert_eq!(
        mount_paths(&report["mounts"]),
        ["/scratch", "/var/cache/app", "/var/lib/app", "/var/run/app"],
        "the full cover"
    );
    assert_eq!(
        mount_paths(&v["minimal_mounts"]),
        ["/var/lib/app", "/var/run/app"]
    );
    for (path, fatal) in [
        ("/var/run/app/app.pid", true),
        ("/var/lib/app/state", true),
        ("/var/cache/app/blob", false),
        ("/scratch/tmp", false),
    ] {
        assert_eq!(write_at(&report, path)["fatal"], fatal, "{path}");
    }
    assert_eq!(v["run_count"], v["runs"].as_array().unwrap().len());
    let first = &v["runs"][0];
    assert_eq!(
        (&first["mounts"], &first["passed"]),
        (&Value::Array(vec![]), &Value::Bool(false)),
        "the first run has no mount"
    );

    // The tolerated writes are warnings in the text report, not failures.
    let text = String::from_utf8(run(&["audit", &image, "--profile", "docker"]).stdout).unwrap();
    assert!(
        text.contains(
            "Tolerated (it passed without a mount over them): /scratch/tmp, /var/cache/app/blob"
        ),
        "{text}"
    );

    // verify, the CI gate: the minimal set passes; one mount fewer fails and shows why.
    let minimal = tmpfs_flags(&v["minimal_mounts"]);
    let out = verify(&image, &minimal);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("passed: it runs read-only"), "{stdout}");
    assert!(minimal[1].starts_with("/var/run/app:"), "{minimal:?}");
    let out = verify(&image, &minimal[1..]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "log: fixture: cannot write /var/lib/app/state: Read-only file system (os error 30)"
        ),
        "{stdout}"
    );
}

#[test]
fn verify_catches_a_tmpfs_without_the_owner_and_passes_the_suggested_one() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // The ownership trap: a tmpfs over a directory of the image belongs to root, not to the
    // image directory's owner, so a UID 1000 app cannot write into it.
    let image = ImageSpec::new("owner-trap")
        .dir("/var/run/app", 1000, 1000, 0o755)
        .line("USER 1000:1000")
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app/app.pid!")
        .build();
    let out = verify(&image, &["/var/run/app".to_string()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "/var/run/app/app.pid is on the tmpfs at /var/run/app, which belongs to root: add \
             the app's uid= and gid= to its options"
        ),
        "{stdout}"
    );

    let report = run_json(&["audit", &image, "--profile", "docker"], &[1]);
    let suggested = tmpfs_flags(&report["verification"]["minimal_mounts"]);
    assert_eq!(suggested.len(), 1, "{report:#}");
    assert!(suggested[0].contains("uid=1000,gid=1000"), "{suggested:?}");
    let out = verify(&image, &suggested);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn an_app_that_fails_with_a_writable_root_is_not_called_a_read_only_problem() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("broken")
        .line("ENV FIXTURE_HEALTH_STATUS=500")
        .build();
    // The trace (audit) or the control run (verify) has a writable root and fails all the same.
    for command in ["audit", "verify"] {
        let args = [
            command,
            image.as_str(),
            "--probe",
            "/health",
            "--startup-timeout",
            "3s",
        ];
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("not a read-only problem") && stderr.contains("500"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn verify_runs_the_image_the_way_each_platform_does() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("platforms")
        .dir("/tmp", 0, 0, 0o1777)
        .dir("/data", 1000, 1000, 0o755)
        .line("VOLUME /data")
        .line("USER 1000:1000")
        .build();
    for (profile, path, code) in [
        // Only podman and Lambda keep /tmp writable without a mount.
        ("docker", "/tmp/x", 1),
        ("podman", "/tmp/x", 0),
        ("lambda", "/tmp/x", 0),
        // Lambda gives no /dev/shm.
        ("docker", "/dev/shm/x", 0),
        ("lambda", "/dev/shm/x", 1),
        // Docker gives an image VOLUME a writable volume; Fargate does not without a mountPoint.
        ("docker", "/data/x", 0),
        ("ecs-fargate", "/data/x", 1),
    ] {
        let env = format!("FIXTURE_STARTUP_WRITES={path}!");
        let out = run(&["verify", &image, "--profile", profile, "-e", &env]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{profile} {path}: {stdout}");
    }
}

#[test]
fn a_state_file_written_at_shutdown_is_found_fatal_and_mounted() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("shutdown-state")
        .dir("/var/lib/app", 1000, 1000, 0o755)
        .line("USER 1000:1000")
        .line("ENV FIXTURE_SHUTDOWN_WRITES=/var/lib/app/state!")
        .build();
    let report = run_json(&["audit", &image, "--profile", "docker"], &[1]);
    let v = &report["verification"];
    assert_eq!(mount_paths(&v["minimal_mounts"]), ["/var/lib/app"], "{v:#}");
    let state = write_at(&report, "/var/lib/app/state");
    assert_eq!(
        (&state["phase"], &state["fatal"]),
        (&"shutdown".into(), &true.into())
    );
    // Read-only, it starts and answers; only the save on SIGTERM fails, and the logs say so.
    let first = &v["runs"][0];
    assert!(first["startup_ms"].is_u64(), "{first:#}");
    assert_eq!(first["exit"]["code"], 4, "{first:#}");
    assert_eq!(
        first["erofs_lines"][0]["path"], "/var/lib/app/state",
        "{first:#}"
    );
}

#[test]
fn a_second_probe_failing_with_a_writable_root_stops_the_audit_before_the_proof() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("smoke").build();
    let out = run(&["audit", &image, "--probe", "/health", "--probe", "/nope"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("probe /nope answered 404 with a writable root")
            && stderr.contains("not a read-only problem"),
        "{stderr}"
    );
}

#[test]
fn an_app_that_ignores_sigterm_anyway_passes_and_every_format_agrees() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // Python as PID 1 does this: the kill at shutdown is the app's habit, not the read-only
    // root's doing, so the gate is excused and every output says so.
    let image = ImageSpec::new("ignores-sigterm")
        .line("ENV FIXTURE_IGNORE_SIGTERM=1")
        .build();
    let args = ["verify", image.as_str(), "--stop-timeout", "1s"];
    let text = run(&args);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("but so it is with a writable root: not a read-only problem"),
        "{stdout}"
    );

    let junit = run(&[&args[..], &["--format", "junit"]].concat());
    let xml = String::from_utf8_lossy(&junit.stdout);
    assert_eq!(junit.status.code(), Some(0), "{xml}");
    assert!(
        xml.contains("failures=\"0\"") && !xml.contains("<failure"),
        "{xml}"
    );

    let github = run(&[&args[..], &["--format", "github"]].concat());
    let annotations = String::from_utf8_lossy(&github.stdout);
    assert!(!annotations.contains("::error"), "{annotations}");
}

#[test]
fn an_app_that_quits_while_idle_with_a_writable_root_is_not_called_a_read_only_problem() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // A write that fails on any root (/proc takes no directories) ends the app after it is
    // ready: 2 s after it starts, well after its first answer even on a loaded machine, and
    // well within the 10 s idle watch.
    let image = ImageSpec::new("quits-while-idle")
        .line("ENV FIXTURE_DELAYED_WRITES=/proc/nope/state!@2000")
        .build();
    let audit = run(&["audit", &image, "--idle", "10s"]);
    let stderr = String::from_utf8_lossy(&audit.stderr);
    assert_eq!(audit.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("exited with code 3 by itself during the trace")
            && stderr.contains("not a read-only problem"),
        "{stderr}"
    );
    let verify = run(&["verify", &image, "--idle", "10s"]);
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert_eq!(verify.status.code(), Some(2), "{stderr}");
    assert!(
        // Ready, then gone while probed or while idle: which depends on the machine's speed.
        stderr.contains("fails with a writable root too (exited with code 3 while"),
        "{stderr}"
    );
}
