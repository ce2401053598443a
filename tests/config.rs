//! `.rofs-audit.yaml`: settings layered flags > ROFS_AUDIT_* > config > defaults, targets run
//! by `audit` with no arguments, accepted findings, expired entries, `init` and `targets`.

mod common;

use std::path::Path;
use std::process::Output;

use common::{ready, rofs_audit, temp_dir, ImageSpec, Need};

/// rofs-audit run in `dir` with `env` set and every other ROFS_AUDIT_* variable unset.
fn run_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = rofs_audit();
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("ROFS_AUDIT_")) {
        command.env_remove(name);
    }
    command
        .current_dir(dir)
        .envs(env.iter().copied())
        .args(args);
    command.output().expect("rofs-audit runs")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The settings `audit --print-config` shows, as YAML.
fn settings(dir: &Path, env: &[(&str, &str)], flags: &[&str]) -> serde_yaml_ng::Value {
    let out = run_in(
        dir,
        env,
        &[&["audit", "--print-config"][..], flags].concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_yaml_ng::from_slice(&out.stdout).expect("--print-config prints YAML")
}

#[test]
fn each_setting_comes_from_the_flag_else_the_variable_else_the_config_else_the_default() {
    // Setting, its default, and a value each for the config, the variable and the flag.
    let table = [
        ("profile", None, "docker", "kubernetes", "podman"),
        (
            "fail-on",
            Some("needs-mounts"),
            "never",
            "needs-changes",
            "needs-mounts",
        ),
        ("gate", Some("clean"), "functional", "clean", "functional"),
        ("mode", Some("auto"), "api", "overlay", "api"),
        ("jobs", None, "3", "5", "7"),
        ("startup-timeout", Some("30s"), "45s", "50s", "55s"),
        ("probe-timeout", Some("10s"), "11s", "12s", "13s"),
        ("idle", Some("2s"), "1s", "500ms", "0s"),
        ("stop-timeout", Some("10s"), "4s", "5s", "6s"),
    ];
    for (key, default, in_config, in_env, in_flag) in table {
        let dir = temp_dir("precedence");
        let variable = format!("ROFS_AUDIT_{}", key.to_uppercase().replace('-', "_"));
        let flag = format!("--{key}");
        let shown = |s: &serde_yaml_ng::Value| match &s[key] {
            serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
            serde_yaml_ng::Value::String(v) => Some(v.clone()),
            _ => None,
        };
        let defaulted = shown(&settings(dir.path(), &[], &[]));
        if let Some(default) = default {
            assert_eq!(defaulted.as_deref(), Some(default), "{key}: default");
        }
        std::fs::write(
            dir.path().join(".rofs-audit.yaml"),
            format!("{key}: {in_config}\n"),
        )
        .unwrap();
        let from_config = settings(dir.path(), &[], &[]);
        assert_eq!(
            shown(&from_config).as_deref(),
            Some(in_config),
            "{key}: config over default"
        );
        let from_env = settings(dir.path(), &[(&variable, in_env)], &[]);
        assert_eq!(
            shown(&from_env).as_deref(),
            Some(in_env),
            "{key}: {variable} over config"
        );
        let from_flag = settings(dir.path(), &[(&variable, in_env)], &[&flag, in_flag]);
        assert_eq!(
            shown(&from_flag).as_deref(),
            Some(in_flag),
            "{key}: {flag} over {variable}"
        );
    }
}

#[test]
fn a_config_is_found_here_or_given_and_a_malformed_one_is_named_with_its_place() {
    let dir = temp_dir("config-errors");
    std::fs::write(dir.path().join("ci.yaml"), "profile: podman\n").unwrap();
    let given = settings(dir.path(), &[("ROFS_AUDIT_CONFIG", "ci.yaml")], &[]);
    assert_eq!(given["profile"], "podman");

    std::fs::write(
        dir.path().join(".rofs-audit.yaml"),
        "profile: docker\ntargets:\n  - image: a:1\n    prot: 80\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &[], &["audit"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(
            "rofs-audit: error: .rofs-audit.yaml:4:5: targets[0]: unknown field `prot`"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // No config, no image: the error says what to give.
    let empty = temp_dir("no-config");
    let out = run_in(empty.path(), &[], &["audit"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("rofs-audit init IMAGE"),
        "{}",
        text(&out)
    );
}

#[test]
fn targets_print_a_github_job_matrix() {
    let dir = temp_dir("matrix");
    std::fs::write(
        dir.path().join(".rofs-audit.yaml"),
        "targets:\n  - image: web:1\n    name: web\n  - image: worker:2\n  - file: deploy/task.json\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &[], &["targets", "--format", "github-matrix"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let matrix: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        matrix,
        serde_json::json!({"include": [
            {"target": "web"}, {"target": "worker:2"}, {"target": "deploy/task.json"}
        ]})
    );
}

/// An image that needs one mount: it writes a pid file under /var/run at startup.
fn pid_file_image() -> String {
    ImageSpec::new("config-pid")
        .dir("/var/run", 0, 0, 0o755)
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app/app.pid!")
        .build()
}

#[test]
fn an_accepted_finding_passes_and_an_expired_entry_fails_naming_itself() {
    if !ready(Need::Engine) {
        return;
    }
    let image = pid_file_image();
    let dir = temp_dir("accept");
    let config = |accept: &str| {
        let text = format!(
            "profile: docker\nidle: 0s\ntargets:\n  - image: {image}\n    name: app\n{accept}"
        );
        std::fs::write(dir.path().join(".rofs-audit.yaml"), text).unwrap();
    };
    config("");
    let out = run_in(dir.path(), &[], &["audit"]);
    assert_eq!(out.status.code(), Some(1), "needs a mount: {}", text(&out));

    config("accept:\n  - path: /var/run/app/**\n    reason: the pid file goes away in 2.0\n");
    let out = run_in(dir.path(), &[], &["audit", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "accepted: {}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let accepted = &report["targets"][0]["report"]["accepted"];
    assert_eq!(
        accepted[0]["reason"], "the pid file goes away in 2.0",
        "{accepted}"
    );
    assert_eq!(accepted[0]["finding"]["kind"], "mount", "{accepted}");
    let out = run_in(dir.path(), &[], &["audit"]);
    assert!(
        text(&out).contains("Accepted, so failing nothing: mount /var/run"),
        "{}",
        text(&out)
    );

    // Another target's entry accepts nothing here.
    config("accept:\n  - path: /var/run/app/**\n    reason: r\n    target: app\n  - path: /x\n    reason: r\n");
    assert_eq!(run_in(dir.path(), &[], &["audit"]).status.code(), Some(0));

    config("accept:\n  - path: /var/run/app/**\n    reason: the pid file goes away in 2.0\n    expires: 2020-01-31\n");
    let out = run_in(dir.path(), &[], &["audit"]);
    assert_eq!(out.status.code(), Some(1), "expired: {}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "error: .rofs-audit.yaml: the accept entry for /var/run/app/** expired on 2020-01-31 \
             (the pid file goes away in 2.0)"
        ),
        "{stderr}"
    );
}

#[test]
fn init_writes_a_config_whose_audit_gives_the_verdict_the_flags_gave() {
    if !ready(Need::Engine) {
        return;
    }
    let image = pid_file_image();
    let dir = temp_dir("init");
    let flags = ["--profile", "docker", "--idle", "0s", "-e", "APP_MODE=prod"];
    let by_flags = run_in(
        dir.path(),
        &[],
        &[&["audit", &image, "--format", "json"][..], &flags].concat(),
    );
    assert_eq!(by_flags.status.code(), Some(1), "{}", text(&by_flags));
    let by_flags: serde_json::Value = serde_json::from_slice(&by_flags.stdout).unwrap();

    let out = run_in(dir.path(), &[], &[&["init", &image][..], &flags].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = std::fs::read_to_string(dir.path().join(".rofs-audit.yaml")).unwrap();
    assert!(written.starts_with("# rofs-audit:"), "commented: {written}");
    assert!(
        written.contains("#   - path: /var/run/**"),
        "an accept entry to uncomment: {written}"
    );
    assert!(written.contains("APP_MODE: prod"), "{written}");
    // It does not overwrite without --force.
    let again = run_in(dir.path(), &[], &[&["init", &image][..], &flags].concat());
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));

    let out = run_in(dir.path(), &[], &["audit", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let by_config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let target = &by_config["targets"][0]["report"];
    assert_eq!(target["verdict"], by_flags["verdict"]);
    assert_eq!(target["profile"], "docker");
    assert_eq!(target["run"]["env_names"], by_flags["run"]["env_names"]);
    let paths =
        |r: &serde_json::Value| common::mount_paths(&r["verification"]["minimal_mounts"]).join(" ");
    assert_eq!(paths(target), paths(&by_flags));
}

#[test]
fn several_images_are_audited_together_with_a_table_and_the_worst_exit_code() {
    if !ready(Need::Engine) {
        return;
    }
    let needs_mounts = pid_file_image();
    let compatible = ImageSpec::new("config-quiet").build();
    let dir = temp_dir("several");
    let args = [
        "audit",
        &needs_mounts,
        &compatible,
        "--profile",
        "docker",
        "--idle",
        "0s",
    ];
    let out = run_in(dir.path(), &[], &args);
    assert_eq!(out.status.code(), Some(1), "the worst: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let table = stdout
        .split("2 targets of ")
        .nth(1)
        .expect("a summary table");
    let row = |image: &str| {
        // After the heading, which names them all.
        table
            .lines()
            .skip(1)
            .find(|l| l.contains(image))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        row(&needs_mounts).contains("needs-mounts   1 mount"),
        "{table}"
    );
    assert!(
        row(&compatible).contains("compatible     0 mounts"),
        "{table}"
    );
    assert!(
        row(&compatible).trim_end().ends_with(" s"),
        "a time: {table}"
    );
    let json = run_in(
        dir.path(),
        &[],
        &[&args[..], &["--format", "json"]].concat(),
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["targets"][1]["name"], compatible.as_str());
    assert_eq!(report["targets"][1]["report"]["verdict"], "compatible");
}

/// Of images given together, the one whose app fails with a writable root is named in the
/// error: the error alone does not say which it was.
#[test]
fn a_target_that_fails_with_a_writable_root_is_named() {
    if !ready(Need::Engine) {
        return;
    }
    let compatible = ImageSpec::new("config-quiet").build();
    let exits = ImageSpec::new("exits")
        .line("ENV FIXTURE_EXIT_CODE=7")
        .build();
    let dir = temp_dir("named");
    let args = ["audit", &compatible, &exits, "--no-verify", "--idle", "0s"];
    let out = run_in(dir.path(), &[], &args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected =
        format!("rofs-audit: error: {exits} (the command line): the container exited with code 7");
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
