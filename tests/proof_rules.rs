//! The rules by which the read-only runs, not static rules, decide the fix: each against the real
//! Docker Engine with a fixture image made to exercise it. Where a test applies a fix, it takes
//! the `docker run` flags from the printed text report and runs them with the docker CLI alone.

mod common;

use std::time::Duration;

use common::{
    docker_ok, mount_paths, published_port, run, run_json, wait_for_200, write_at, ContainerGuard,
    ImageSpec, TEST_LABEL,
};
use serde_json::Value;

/// The flags of the `docker run` fix in a text report, between `docker run` and the image, as a
/// user pastes them.
fn printed_docker_flags(text: &str) -> Vec<String> {
    let start = text
        .find("\ndocker run \\\n")
        .unwrap_or_else(|| panic!("no docker run fix in:\n{text}"));
    let mut flags = vec![];
    for line in text[start..].lines().skip(2) {
        let line = line.trim().trim_end_matches('\\').trim();
        let Some((flag, value)) = line.split_once(' ') else {
            break;
        };
        if !flag.starts_with("--") && flag != "-v" {
            break;
        }
        flags.push(flag.to_string());
        flags.push(value.trim_matches('\'').to_string());
    }
    flags
}

/// The JSON report of an audit of `image` for `profile` with no idle, which needs mounts or
/// changes (exit 1).
fn audit_json(image: &str, profile: &str) -> Value {
    run_json(
        &["audit", image, "--profile", profile, "--idle", "0s"],
        &[1],
    )
}

/// Audits `image` for Docker as text, then runs its printed fix with the docker CLI alone and
/// waits for GET /health to answer 200.
fn printed_fix_answers(image: &str) -> (String, bool) {
    let out = run(&["audit", image, "--profile", "docker"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let flags = printed_docker_flags(&text);
    let mut args: Vec<&str> = vec!["run", "-d", "--label", TEST_LABEL, "-p", "127.0.0.1::8080"];
    args.extend(flags.iter().map(String::as_str));
    args.push(image);
    let container = ContainerGuard(docker_ok(&args));
    let answers = wait_for_200(
        published_port(container.id(), 8080),
        "/health",
        Duration::from_secs(15),
    );
    (text, answers)
}

#[test]
fn a_mount_that_hides_only_empty_directories_is_tried_and_kept_once_proven() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // As Debian's /run: two empty directories the app never uses, and its pid file beside them.
    let image = ImageSpec::new("run-with-empty-dirs")
        .dir("/run/lock", 0, 0, 0o1777)
        .dir("/run/mount", 0, 0, 0o755)
        .line("ENV FIXTURE_STARTUP_WRITES=/run/app.pid!")
        .build();
    let report = run_json(&["audit", &image, "--profile", "docker"], &[1]);
    assert_eq!(
        report["verdict"], "needs-mounts",
        "{:#}",
        report["unfixable"]
    );
    let minimal = &report["verification"]["minimal_mounts"];
    assert_eq!(mount_paths(minimal), ["/run"], "{minimal:#}");
    assert_eq!(
        minimal[0]["hides"],
        serde_json::json!(["/run/lock", "/run/mount"])
    );
    assert!(
        minimal[0]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("proven:")),
        "{minimal:#}"
    );
    let (text, answers) = printed_fix_answers(&image);
    assert!(answers, "the printed fix does not start it:\n{text}");
}

#[test]
fn a_path_named_through_a_link_of_the_image_maps_to_the_real_write_and_mount() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // The app writes /var/run/app/app.pid; /var/run is a link to /run, as in Debian.
    let image = ImageSpec::new("through-a-link")
        .dir("/run/app", 0, 0, 0o755)
        .symlink("/var/run", "../run")
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app/app.pid!")
        .build();
    let report = run_json(&["audit", &image, "--profile", "docker"], &[1]);
    // The trace sees the real path, the log the one the app used.
    assert_eq!(write_at(&report, "/run/app/app.pid")["fatal"], true);
    let first = &report["verification"]["runs"][0];
    assert_eq!(
        first["erofs_lines"][0]["path"], "/var/run/app/app.pid",
        "{first:#}"
    );
    let minimal = &report["verification"]["minimal_mounts"];
    assert_eq!(mount_paths(minimal), ["/run/app"], "{minimal:#}");
    let named = minimal[0]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("/var/run/app/app.pid"));
    assert!(named, "the mount says which path the app used: {minimal:#}");
    // The guided search found it in one run, with no full cover and nothing untraced.
    assert_eq!(report["verification"]["run_count"], 2);
    let (text, answers) = printed_fix_answers(&image);
    assert!(!text.contains("untraced"), "{text}");
    assert!(answers, "the printed fix does not start it:\n{text}");
}

#[test]
fn a_mount_that_breaks_the_app_is_found_harmful_and_left_out() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // The site directory holds a file the app needs and a stamp it writes but can do without;
    // the app says nothing when a write fails, so no error guides the search.
    let image = ImageSpec::new("harmful-mount")
        .file("/srv/site/index.html", b"<h1>hi</h1>", 0, 0, 0o644)
        .dir("/var/run/app", 0, 0, 0o755)
        .line("ENV FIXTURE_QUIET_ERRORS=1")
        .line("ENV FIXTURE_REQUIRE_FILES=/srv/site/index.html")
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app/app.pid!,/srv/site/stamp~")
        .build();
    let report = run_json(&["audit", &image, "--profile", "docker"], &[1]);
    let v = &report["verification"];
    assert_eq!(v["passed"], true, "{v:#}");
    assert_eq!(mount_paths(&v["minimal_mounts"]), ["/var/run/app"], "{v:#}");
    assert_eq!(mount_paths(&v["harmful_mounts"]), ["/srv/site"], "{v:#}");
    assert!(
        v["harmful_mounts"][0]["failure"]
            .as_str()
            .unwrap()
            .contains("exited with code 5"),
        "{v:#}"
    );
    assert_eq!(report["verdict"], "needs-mounts");
    let (text, answers) = printed_fix_answers(&image);
    assert!(!text.contains("--tmpfs /srv/site"), "{text}");
    assert!(answers, "the printed fix does not start it:\n{text}");
}

#[test]
fn state_saved_at_shutdown_gets_a_volume_even_when_its_error_only_reaches_a_log_file() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // Like a broker: its log goes to a file, so with a tmpfs on the log directory its shutdown
    // error never reaches stderr, and the run passes while the store is lost.
    let image = ImageSpec::new("broker-like")
        .dir("/var/lib/broker", 1000, 1000, 0o755)
        .dir("/var/log/broker", 1000, 1000, 0o755)
        .line("USER 1000:1000")
        .line("ENV FIXTURE_STARTUP_WRITES=/var/log/broker/broker.log!")
        .line("ENV FIXTURE_QUIET_ERRORS=1")
        .line("ENV FIXTURE_SHUTDOWN_WRITES=/var/lib/broker/store.bin~")
        .build();
    let report = run_json(&["audit", &image, "--profile", "docker"], &[1]);
    let store = write_at(&report, "/var/lib/broker/store.bin");
    assert_eq!(store["kind"], "state", "{store:#}");
    assert_ne!(store["fatal"], false, "state is never tolerated: {store:#}");
    let minimal = &report["verification"]["minimal_mounts"];
    let volume = minimal
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"] == "/var/lib/broker")
        .unwrap_or_else(|| panic!("no volume for the store: {minimal:#}"));
    assert_eq!(
        (&volume["kind"], &volume["state"]),
        (&"volume".into(), &true.into())
    );
    let (text, answers) = printed_fix_answers(&image);
    assert!(text.contains("-v var-lib-broker:/var/lib/broker"), "{text}");
    assert!(text.contains("persistent volume"), "{text}");
    assert!(answers, "the printed fix does not start it:\n{text}");
}

/// A volume is proven as the platform starts it. Docker fills a new named volume with the
/// image's files and owner at its path; ECS does so only at a path the image declares a VOLUME,
/// and elsewhere gives an empty volume owned by root, 0755 (AWS's bind-mount docs). A non-root
/// app's data directory is proven on Docker as it is, and on ECS only once the image declares it.
#[test]
fn a_volume_starts_in_the_proof_as_the_platform_starts_it() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let data_dir = |name: &str, declared: bool| {
        let image = ImageSpec::new(name)
            .dir("/var/lib/app", 1000, 1000, 0o755)
            .line("USER 1000:1000")
            .line("ENV FIXTURE_STARTUP_WRITES=/var/lib/app/data.db!");
        match declared {
            true => image.line("VOLUME /var/lib/app").build(),
            false => image.build(),
        }
    };
    // Proven with the data directory as its one mount.
    let assert_proven = |report: &Value| {
        let minimal = &report["verification"]["minimal_mounts"];
        assert_eq!(
            (report["verdict"].as_str(), mount_paths(minimal)),
            (Some("needs-mounts"), vec!["/var/lib/app"]),
            "{:#}",
            report["verification"]
        );
    };
    let plain = data_dir("data-dir", false);
    let docker = run_json(&["audit", &plain, "--profile", "docker"], &[1]);
    assert_proven(&docker);

    let ecs = run_json(&["audit", &plain, "--profile", "ecs-fargate"], &[1]);
    assert_eq!(ecs["verdict"], "needs-changes", "{:#}", ecs["verification"]);
    let runs = ecs["verification"]["runs"].as_array().unwrap();
    let with_volume = runs
        .iter()
        .find(|r| {
            r["mounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["path"] == "/var/lib/app")
        })
        .unwrap_or_else(|| panic!("no run with the volume: {runs:#?}"));
    assert_eq!(
        with_volume["mounts"][0],
        serde_json::json!({"type": "volume", "path": "/var/lib/app", "empty": true}),
    );
    let failure = with_volume["failure"].as_str().unwrap();
    assert!(
        failure.contains("root-owned 0755") && failure.contains("declare VOLUME /var/lib/app"),
        "{failure}"
    );

    let declared = data_dir("data-volume", true);
    let ecs = run_json(&["audit", &declared, "--profile", "ecs-fargate"], &[1]);
    assert_proven(&ecs);

    // Kubernetes starts every volume empty, and fsGroup makes it the app's: the app writes its
    // data there, but a file the image ships in that directory is not there.
    let k8s = run_json(&["audit", &plain, "--profile", "kubernetes"], &[1]);
    assert_proven(&k8s);
    let shipped = ImageSpec::new("data-shipped")
        .file("/var/lib/app/seed.db", b"seed", 1000, 1000, 0o644)
        .dir("/var/lib/app", 1000, 1000, 0o755)
        .line("USER 1000:1000")
        .line("ENV FIXTURE_REQUIRE_FILES=/var/lib/app/seed.db")
        .line("ENV FIXTURE_STARTUP_WRITES=/var/lib/app/data.db!")
        .build();
    let docker = run_json(&["audit", &shipped, "--profile", "docker"], &[1]);
    assert_proven(&docker);
    let k8s = run_json(&["audit", &shipped, "--profile", "kubernetes"], &[1]);
    assert_eq!(k8s["verdict"], "needs-changes", "{:#}", k8s["verification"]);
}

#[test]
fn a_readiness_endpoint_that_answers_503_for_a_moment_is_retried_not_failed() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("ready-after-a-moment")
        .dir("/var/run/app", 0, 0, 0o755)
        .line("ENV FIXTURE_READY_AFTER_MS=400")
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app/app.pid!")
        .build();
    let args = [
        "audit",
        &image,
        "--profile",
        "docker",
        "--probe",
        "/health",
        "--probe",
        "/health/ready",
        "--idle",
        "0s",
    ];
    for round in 0..3 {
        let report = run_json(&args, &[1]);
        assert_eq!(report["verdict"], "needs-mounts", "round {round}");
        let ready = &report["probes"][1];
        assert_eq!(
            (&ready["target"], &ready["ok"]),
            (&"/health/ready".into(), &true.into())
        );
        let minimal = &report["verification"]["minimal_mounts"];
        assert_eq!(mount_paths(minimal), ["/var/run/app"], "round {round}");
    }
}

#[test]
fn a_run_doomed_by_a_read_only_error_ends_without_waiting_out_its_budget() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // It reports the failed write, carries on, and takes 5 s to listen: a run with no mount can
    // no longer pass the clean gate, and ends instead of waiting for the port.
    let image = ImageSpec::new("slow-after-error")
        .dir("/var/cache/app", 0, 0, 0o755)
        .line("ENV FIXTURE_STARTUP_WRITES=/var/cache/app/blob?")
        .line("ENV FIXTURE_STARTUP_DELAY_MS=5000")
        .build();
    let args = ["audit", &image, "--profile", "docker", "--idle", "0s"];
    let report = run_json(&args, &[1]);
    let runs = report["verification"]["runs"].as_array().unwrap();
    let first = &runs[0];
    assert_eq!(first["cut_short"], true, "{first:#}");
    assert_eq!(first["functional"], Value::Null, "{first:#}");
    assert!(first["startup_ms"].is_null(), "{first:#}");
    assert!(
        first["failure"]
            .as_str()
            .unwrap()
            .contains("read-only error in the logs"),
        "{first:#}"
    );
    assert_eq!(
        mount_paths(&report["verification"]["minimal_mounts"]),
        ["/var/cache/app"]
    );
    // Whether it merely works without the mount takes a run without the alarm, which waits for
    // the port: it does, so the mount only keeps the logs clean.
    let patient = runs
        .iter()
        .find(|r| r["mounts"] == serde_json::json!([]) && r["cut_short"].is_null());
    assert!(
        patient.is_some_and(|r| r["functional"] == true),
        "{runs:#?}"
    );
    assert_eq!(
        report["verification"]["functional_mounts"],
        serde_json::json!([])
    );
}

#[test]
fn the_clean_set_and_the_fewer_mounts_that_merely_work_are_both_reported() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // A pid file it cannot start without, and a cache whose failed writes it reports and skips.
    let image = ImageSpec::new("clean-and-functional")
        .dir("/var/run/app", 0, 0, 0o755)
        .dir("/var/cache/app", 0, 0, 0o755)
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app/app.pid!,/var/cache/app/blob?")
        .build();
    let report = audit_json(&image, "docker");
    let v = &report["verification"];
    assert_eq!(v["gate"], "clean");
    assert_eq!(
        mount_paths(&v["minimal_mounts"]),
        ["/var/cache/app", "/var/run/app"],
        "{v:#}"
    );
    assert_eq!(
        mount_paths(&v["functional_mounts"]),
        ["/var/run/app"],
        "{v:#}"
    );

    let functional = run_json(
        &[
            "audit",
            &image,
            "--profile",
            "docker",
            "--idle",
            "0s",
            "--gate",
            "functional",
        ],
        &[1],
    );
    let v = &functional["verification"];
    assert_eq!(v["gate"], "functional");
    assert_eq!(mount_paths(&v["minimal_mounts"]), ["/var/run/app"], "{v:#}");
    assert!(v.get("functional_mounts").is_none(), "{v:#}");
}

/// The app: a signing key generated at the first start and reused after. A tmpfs would
/// pass every read-only run and make a new key at every restart; the restart in the trace flags
/// it as data to keep, while the pid file it writes anew at every start stays a tmpfs's, and a
/// cache it reuses is said to cost time only.
#[test]
fn a_secret_made_at_the_first_start_and_reused_is_data_to_keep() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("keeps-a-key")
        .line("ENV FIXTURE_KEEP_WRITES=/home/app/.secret/signing.key=32,/var/cache/app/index=64")
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app.pid")
        .build();
    let report = audit_json(&image, "docker");
    let key = write_at(&report, "/home/app/.secret/signing.key");
    assert_eq!(
        (&key["kind"], &key["restart"]),
        (&"state".into(), &"reused".into()),
        "{key:#}"
    );
    let pid = write_at(&report, "/var/run/app.pid");
    assert_eq!(
        (&pid["kind"], &pid["restart"]),
        (&"runtime".into(), &"rewritten".into()),
        "{pid:#}"
    );
    assert_eq!(write_at(&report, "/var/cache/app/index")["kind"], "cache");
    let minimal = &report["verification"]["minimal_mounts"];
    let mount = |path: &str| {
        let all = minimal.as_array().unwrap().iter();
        all.clone()
            .find(|m| m["path"] == path)
            .unwrap_or_else(|| panic!("no mount at {path}: {minimal:#}"))
            .clone()
    };
    let home = mount("/home");
    assert_eq!(
        (&home["kind"], &home["state"]),
        (&"volume".into(), &true.into()),
        "{home:#}"
    );
    assert!(
        home["warnings"]
            .to_string()
            .contains("holds data meant to last"),
        "{home:#}"
    );
    assert_eq!(mount("/var")["kind"], "tmpfs");
    // And the way out that needs no volume: the secret supplied from outside.
    let remedies = report["remedies"].as_array().unwrap();
    let secret = remedies.iter().find(|r| r["id"] == "generated-secret");
    assert_eq!(
        secret.map(|r| r["paths"].clone()),
        Some(serde_json::json!(["/home/app/.secret/signing.key"])),
        "{:#}",
        report["remedies"]
    );

    let out = run(&["audit", &image, "--profile", "docker", "--idle", "0s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("made at the first start, and a restart read it again: data the app keeps"),
        "{text}"
    );
    assert!(text.contains("losing it costs time only"), "{text}");
}

/// A mount over the directory that holds the app's program hides it: that run is a failed
/// candidate, recorded with the engine's reason, never an error of the user's. With the
/// image's files copied in afresh the app runs, and that is the fix where the platform can
/// copy them (Docker fills a new volume); where the copy step cannot run (no `find` or `cp` in
/// a scratch image), the verdict is needs-changes, with a report, exit 1.
#[test]
fn a_mount_that_hides_the_entrypoint_is_a_failed_candidate_not_an_error() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("writes-beside-its-program")
        .line("ENV FIXTURE_STARTUP_WRITES=/app/app.pid!")
        .build();
    let runs_that_hid_it = |report: &Value| -> usize {
        report["verification"]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                let failure = r["failure"].as_str().unwrap_or_default();
                failure.contains("did not start") && failure.contains("\"/app/fixture\"")
            })
            .count()
    };
    let report = audit_json(&image, "docker");
    assert!(
        runs_that_hid_it(&report) >= 1,
        "{:#}",
        report["verification"]
    );
    let minimal = &report["verification"]["minimal_mounts"];
    assert_eq!(mount_paths(minimal), ["/app"], "{minimal:#}");
    assert_eq!(minimal[0]["seed"], "fresh", "{minimal:#}");
    assert_eq!(report["verdict"], "needs-mounts");

    let report = audit_json(&image, "ecs-fargate");
    assert!(
        runs_that_hid_it(&report) >= 1,
        "{:#}",
        report["verification"]
    );
    assert_eq!(report["verdict"], "needs-changes");
    let copy_failed = report["verification"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| {
            r["failure"]
                .as_str()
                .is_some_and(|f| f.contains("the copy step cannot run"))
        });
    assert!(copy_failed, "{:#}", report["verification"]);
}

/// The app rewrites a file the image ships and refuses to start without it: an empty tmpfs
/// over its directory fails, and the run decides the mount starts with a fresh copy.
#[test]
fn a_mount_over_content_the_app_needs_starts_with_a_fresh_copy_of_it() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("rewrites-its-config")
        .file("/etc/app/app.conf", "listen 8080\n", 0, 0, 0o644)
        .line("ENV FIXTURE_REQUIRE_FILES=/etc/app/app.conf")
        .line("ENV FIXTURE_STARTUP_WRITES=/etc/app/app.conf=32!")
        .build();
    let report = audit_json(&image, "docker");
    assert_eq!(
        report["verdict"], "needs-mounts",
        "{:#}",
        report["verification"]
    );
    let runs = report["verification"]["runs"].as_array().unwrap();
    assert!(
        runs.iter().any(|r| {
            r["failure"]
                .as_str()
                .is_some_and(|f| f.contains("exited with code 5"))
        }),
        "no run showed the app refusing to start without its config: {runs:#?}"
    );
    let minimal = &report["verification"]["minimal_mounts"];
    assert_eq!(mount_paths(minimal), ["/etc/app"], "{minimal:#}");
    assert_eq!(minimal[0]["seed"], "fresh", "{minimal:#}");
    assert!(
        minimal[0]["warnings"]
            .to_string()
            .contains("made afresh at every start"),
        "{minimal:#}"
    );
}

/// A temp directory with a new random name at every start: the mount goes where the next
/// start writes too, and a baseline from one image passes the next, whose names differ.
#[test]
fn a_randomly_named_directory_gets_its_mount_above_it_and_a_stable_baseline() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = |name: &str, random: &str| {
        ImageSpec::new(name)
            .file("/srv/work/keep.txt", "kept\n", 0, 0, 0o644)
            .line(&format!(
                "ENV FIXTURE_STARTUP_WRITES=/srv/work/{random}/data!"
            ))
            .build()
    };
    let first = image("random-dir-a", ".tmpAb3XyZ");
    let second = image("random-dir-b", ".tmpQ9wE2r");
    let dir = common::temp_dir("random-dir");
    let base = dir.path().join("base.json");
    let base_arg = base.to_string_lossy().into_owned();
    let args = |image: &str| -> Vec<String> {
        ["audit", image, "--profile", "docker", "--idle", "0s"]
            .map(String::from)
            .to_vec()
    };
    let mut write = args(&first);
    write.extend(["--format", "json", "-o", &base_arg].map(String::from));
    let out = run(&write.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    let minimal = &report["verification"]["minimal_mounts"];
    assert_eq!(mount_paths(minimal), ["/srv/work"], "{minimal:#}");
    let mut again = args(&second);
    again.extend(["--baseline", &base_arg].map(String::from));
    let out = run(&again.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        out.status.code(),
        Some(0),
        "a new random name is a new finding:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The image ships the app's log file, empty, and the app opens it for writing: a tmpfs over
/// its directory hides it, a proposal like any other, and the run that proves the app makes it
/// again keeps the mount. No static rule refuses it.
#[test]
fn a_mount_over_a_file_the_image_ships_and_the_app_modifies_is_decided_by_a_run() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("modifies-a-shipped-log")
        .file("/var/log/app/app.log", "", 0, 0, 0o644)
        .line("ENV FIXTURE_STARTUP_WRITES=/var/log/app/app.log=64!")
        .build();
    let report = audit_json(&image, "docker");
    assert_eq!(
        report["verdict"], "needs-mounts",
        "{:#}",
        report["unfixable"]
    );
    assert_eq!(
        write_at(&report, "/var/log/app/app.log")["change"],
        "modified"
    );
    let minimal = &report["verification"]["minimal_mounts"];
    assert_eq!(mount_paths(minimal), ["/var/log/app"], "{minimal:#}");
    assert_eq!(
        minimal[0]["hides"],
        serde_json::json!(["/var/log/app/app.log"])
    );
    assert!(
        minimal[0]["warnings"]
            .to_string()
            .contains("proven: the app started, answered and stopped without what it hides"),
        "{minimal:#}"
    );
    assert_eq!(report["unfixable"], serde_json::json!([]));
}

/// The app keeps a database beside its program: a volume there would carry this image's
/// program over every later deploy. No profile plans one; the verdict names the file to move,
/// and the rest of the fix is proven with a fresh copy of the directory standing in for the
/// move.
#[test]
fn data_beside_the_program_gets_no_volume_and_is_named_to_move() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("data-beside-its-program")
        .line("ENV FIXTURE_STARTUP_WRITES=/app/app.db!")
        .build();
    for profile in ["docker", "ecs-fargate", "kubernetes"] {
        let report = audit_json(&image, profile);
        assert_eq!(report["verdict"], "needs-changes", "{profile}");
        let over_program = |mounts: &Value| -> bool {
            mounts
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m["path"] == "/app" && m["kind"] == "volume")
        };
        assert!(
            !over_program(&report["mounts"]),
            "{profile}: {:#}",
            report["mounts"]
        );
        assert!(
            !over_program(&report["verification"]["minimal_mounts"]),
            "{profile}: {:#}",
            report["verification"]
        );
        let db = report["unfixable"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["path"] == "/app/app.db")
            .unwrap_or_else(|| panic!("{profile}: {:#}", report["unfixable"]));
        let reason = db["reason"].as_str().unwrap();
        assert!(
            reason.contains("/app/fixture")
                && reason.contains("move /app/app.db out of the release"),
            "{profile}: {reason}"
        );
        let proof = &report["verification"];
        assert_eq!(proof["passed"], true, "{profile}: {proof:#}");
        assert_eq!(proof["stand_ins"], serde_json::json!(["/app"]), "{profile}");
    }
    let out = run(&["audit", &image, "--profile", "docker", "--idle", "0s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("verdict: needs changes: data must move out of /app; once it has, proven"),
        "{text}"
    );
}

/// Two mounts hide the image's files, and the app needs only one of them: the proof seeds both
/// when no plain set passes, then tries each seeded mount plain again and keeps the copy only
/// where the app needs it.
#[test]
fn only_the_mount_whose_content_the_app_needs_keeps_its_copy() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("needs-one-of-two")
        .file("/etc/app/app.conf", "listen 8080\n", 0, 0, 0o644)
        .file("/var/log/app/app.log", "", 0, 0, 0o644)
        .line("ENV FIXTURE_REQUIRE_FILES=/etc/app/app.conf")
        .line("ENV FIXTURE_STARTUP_WRITES=/etc/app/app.conf=32!,/var/log/app/app.log=64!")
        .build();
    let report = audit_json(&image, "docker");
    assert_eq!(
        report["verdict"], "needs-mounts",
        "{:#}",
        report["verification"]
    );
    let minimal = &report["verification"]["minimal_mounts"];
    assert_eq!(
        mount_paths(minimal),
        ["/etc/app", "/var/log/app"],
        "{minimal:#}"
    );
    assert_eq!(minimal[0]["seed"], "fresh", "{minimal:#}");
    assert_eq!(minimal[1]["seed"], Value::Null, "{minimal:#}");
    assert_eq!(minimal[1]["kind"], "tmpfs", "{minimal:#}");
}

/// An app that stays up and answers its probe 500 while it cannot write (a hit counter) is not
/// waited on for the whole startup budget once the writable run shows it should have been ready
/// long before: the run that fails ends a few seconds after the writable run's ready time, and
/// says so, and the audit still finds the mount it needs.
#[test]
fn an_app_alive_but_failing_is_not_waited_out_for_the_budget() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = ImageSpec::new("alive-but-failing")
        .dir("/var/cache/app", 0, 0, 0o755)
        .line("ENV FIXTURE_REQUEST_WRITES=/health>/var/cache/app/hits!")
        .line("ENV FIXTURE_STAY_UP=1")
        .build();
    let report = run_json(
        &[
            "audit",
            &image,
            "--profile",
            "docker",
            "--probe",
            "/health",
            "--idle",
            "0s",
            "--startup-timeout",
            "300s",
        ],
        &[1],
    );
    let runs = report["verification"]["runs"].as_array().expect("runs");
    let failures: Vec<&str> = runs.iter().filter_map(|r| r["failure"].as_str()).collect();
    assert!(
        failures.iter().all(|f| !f.contains("within the 300s")),
        "a run waited out the budget: {failures:#?}"
    );
    assert!(
        failures
            .iter()
            .any(|f| f.contains("ended then, not at the 300s startup budget")),
        "no run ended early on the writable run's yardstick: {failures:#?}"
    );
    assert_eq!(
        mount_paths(&report["verification"]["minimal_mounts"]),
        ["/var/cache/app"],
        "{:#}",
        report["verification"]
    );
}
