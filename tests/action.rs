//! The GitHub Action: action.yml passes the script every input it reads, and action/run.sh, run
//! as the action runs it against the real Docker Engine, writes the SARIF, the job summary and
//! the log's report from one audit and exits with the audit's code.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{docker, docker_ok, temp_dir, ImageSpec};
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn action() -> Yaml {
    let text = std::fs::read_to_string(repo("action.yml")).expect("read action.yml");
    serde_yaml_ng::from_str(&text).expect("action.yml is YAML")
}

fn script() -> String {
    std::fs::read_to_string(repo("action/run.sh")).expect("read action/run.sh")
}

/// Every `INPUT_X` the script's code names (its comments speak of `INPUT_*`).
fn inputs_read(script: &str) -> BTreeSet<String> {
    let code = script.lines().filter(|l| !l.trim_start().starts_with('#'));
    code.flat_map(|line| {
        line.match_indices("INPUT_").map(move |(at, _)| {
            line[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect::<String>()
        })
    })
    .filter(|name| name.len() > "INPUT_".len())
    .collect()
}

/// `INPUT_FAIL_ON` is the input `fail-on`, as GitHub names them for JavaScript actions.
fn input_name(var: &str) -> String {
    var["INPUT_".len()..].to_ascii_lowercase().replace('_', "-")
}

fn steps(action: &Yaml) -> &[Yaml] {
    action["runs"]["steps"].as_sequence().expect("runs.steps")
}

fn step_running<'a>(action: &'a Yaml, needle: &str) -> &'a Yaml {
    steps(action)
        .iter()
        .find(|s| s["run"].as_str().is_some_and(|r| r.contains(needle)))
        .unwrap_or_else(|| panic!("no step of action.yml runs {needle}"))
}

#[test]
fn the_action_passes_the_script_every_input_it_reads() {
    let action = action();
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let inputs = action["inputs"].as_mapping().expect("inputs");
    let declared: BTreeSet<String> = inputs
        .keys()
        .map(|k| k.as_str().expect("an input's name").to_owned())
        .collect();
    let audit = step_running(&action, "action/run.sh");
    let env = audit["env"].as_mapping().expect("the audit step's env");

    let read = inputs_read(&script());
    assert!(read.contains("INPUT_FAIL_ON"), "{read:?}");
    for var in &read {
        let input = input_name(var);
        assert!(
            declared.contains(&input),
            "run.sh reads {var}, and action.yml has no input {input}"
        );
        // A composite action sets no INPUT_* itself: without this, the script sees nothing.
        let passed = env.get(var.as_str()).and_then(Yaml::as_str);
        assert_eq!(
            passed.map(|p| p.replace(' ', "")),
            Some(format!("${{{{inputs.{input}}}}}")),
            "the audit step's env must pass {var}: ${{{{ inputs.{input} }}}}"
        );
    }
    // The other way: an input the script does not read is one the action uses itself.
    let unread: Vec<&String> = declared
        .iter()
        .filter(|i| !read.contains(&format!("INPUT_{}", i.to_uppercase().replace('-', "_"))))
        .collect();
    assert_eq!(unread, ["upload-sarif"]);

    // The upload: after a failing verdict too, as the input allows, with the file's categories.
    let upload = steps(&action)
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
        })
        .expect("a step uploads the SARIF");
    let when = upload["if"].as_str().expect("the upload's if");
    assert!(
        when.contains("always()") && when.contains("inputs.upload-sarif"),
        "{when}"
    );
    assert!(upload["with"]["category"].is_null(), "{upload:?}");
}

/// shellcheck, where it is installed (CI's machine may not have it).
#[test]
fn the_script_is_shellcheck_clean() {
    let Ok(out) = Command::new("shellcheck")
        .arg(repo("action/run.sh"))
        .output()
    else {
        // CI (.ci/run) installs it: there a missing shellcheck fails.
        assert!(
            std::env::var_os("ROFS_AUDIT_TEST_ALL").is_none(),
            "no shellcheck on PATH"
        );
        eprintln!("skipped: no shellcheck on PATH");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The audited image, removed when the test ends so that it leaves nothing on the engine; its
/// name is this test's alone, so removing it takes nothing from another. (It carries the
/// suite's image label, not rofs-audit's: the classic builder's intermediate containers would
/// inherit that one and pass for an audit's leftovers meanwhile.)
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker(&["image", "rm", &self.0]);
    }
}

/// A UID 1000 app that writes its pid file into /var/run, a directory of the image it owns: a
/// tmpfs there fixes it (needs-mounts).
fn needs_mounts_image() -> Image {
    let tag = ImageSpec::new("action-owned-var-run")
        .dir("/var/run", 1000, 1000, 0o755)
        .line("USER 1000")
        .line("ENV FIXTURE_STARTUP_WRITES=/var/run/app.pid")
        .build();
    Image(tag)
}

/// What one run of the script left.
struct Run {
    out: Output,
    sarif: Value,
    summary: String,
    outputs: String,
}

/// Runs action/run.sh as the action's audit step does, with `inputs` (name, value) and nothing of
/// this process's ROFS_AUDIT_* or INPUT_* settings.
fn run_script(inputs: &[(&str, &str)]) -> Run {
    let dir = temp_dir("rofs-audit-action");
    let runner_temp = dir.path().join("runner");
    std::fs::create_dir(&runner_temp).expect("mkdir RUNNER_TEMP");
    let summary = dir.path().join("summary.md");
    let outputs = dir.path().join("outputs");
    std::fs::write(&summary, "").expect("create the summary");
    std::fs::write(&outputs, "").expect("create GITHUB_OUTPUT");
    let mut command = Command::new("bash");
    command.arg(repo("action/run.sh")).current_dir(dir.path());
    for (name, _) in std::env::vars() {
        if name.starts_with("ROFS_AUDIT_") || name.starts_with("INPUT_") {
            command.env_remove(name);
        }
    }
    command
        .env("ROFS_AUDIT_BIN", env!("CARGO_BIN_EXE_rofs-audit"))
        .env("RUNNER_TEMP", &runner_temp)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        // Relative to the working directory, as the workspace is, in a directory not there yet.
        .env("INPUT_SARIF", "out/rofs-audit.sarif");
    for (name, value) in inputs {
        command.env(name, value);
    }
    let out = command.output().expect("run bash action/run.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let sarif = std::fs::read_to_string(dir.path().join("out/rofs-audit.sarif"))
        .unwrap_or_else(|e| panic!("no SARIF ({e}); exit {:?}: {stderr}", out.status));
    Run {
        sarif: serde_json::from_str(&sarif).expect("the SARIF is JSON"),
        summary: std::fs::read_to_string(&summary).expect("read the summary"),
        outputs: std::fs::read_to_string(&outputs).expect("read GITHUB_OUTPUT"),
        out,
    }
}

/// With the engine, three runs of the script on one image, one after another: the machine's CPUs
/// are shared, and the image is removed only once they are done.
#[test]
fn the_script_reports_once_in_every_format_and_exits_with_the_audit_code() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = needs_mounts_image();
    let tag = image.0.as_str();
    fail_on_never_passes_and_still_reports_everything(tag);
    the_same_verdict_fails_the_step_by_default(tag);
    the_config_targets_get_a_sarif_run_each(tag);

    // rofs-audit removed every container it ran of the image.
    let left = docker_ok(&["ps", "-a", "-q", "--filter", &format!("ancestor={tag}")]);
    assert!(left.is_empty(), "containers of {tag} left: {left}");
}

fn fail_on_never_passes_and_still_reports_everything(tag: &str) {
    let run = run_script(&[
        ("INPUT_IMAGE", tag),
        ("INPUT_FAIL_ON", "never"),
        ("INPUT_PROFILE", "docker"),
        ("INPUT_FORMAT", "json"),
    ]);
    let stderr = String::from_utf8_lossy(&run.out.stderr);
    assert_eq!(run.out.status.code(), Some(0), "{stderr}");
    let runs = run.sarif["runs"].as_array().expect("SARIF runs");
    assert_eq!(runs.len(), 1, "{:#}", run.sarif);
    let results = runs[0]["results"].as_array().expect("results");
    assert!(
        results.iter().any(|r| r["ruleId"] == "read-only-write"),
        "{:#}",
        run.sarif
    );
    // The profile input reached the audit (ROFS_AUDIT_PROFILE) and the rendering (merge).
    assert_eq!(runs[0]["properties"]["profile"], "docker", "{stderr}");
    assert_eq!(runs[0]["properties"]["image"], tag);
    assert_eq!(runs[0]["properties"]["verdict"], "needs-mounts");
    assert!(run.summary.starts_with("## "), "{}", run.summary);
    assert!(run.summary.contains(tag), "{}", run.summary);
    assert!(run.summary.contains("needs-mounts"), "{}", run.summary);
    // The log's report, in the format asked for.
    let log: Value = serde_json::from_slice(&run.out.stdout).expect("the log's report is JSON");
    assert_eq!(log["targets"][0]["report"]["verdict"], "needs-mounts");
    // The upload step's condition, and the JSON for whoever wants it.
    assert!(
        run.outputs.contains("sarif=out/rofs-audit.sarif\n"),
        "{}",
        run.outputs
    );
    assert!(run.outputs.contains("report="), "{}", run.outputs);
}

fn the_same_verdict_fails_the_step_by_default(tag: &str) {
    let run = run_script(&[("INPUT_IMAGE", tag)]);
    let stderr = String::from_utf8_lossy(&run.out.stderr);
    assert_eq!(run.out.status.code(), Some(1), "{stderr}");
    let runs = run.sarif["runs"].as_array().expect("SARIF runs");
    assert!(
        runs.iter()
            .any(|r| !r["results"].as_array().unwrap().is_empty()),
        "{:#}",
        run.sarif
    );
    assert!(run.summary.contains(tag), "{}", run.summary);
    let text = String::from_utf8_lossy(&run.out.stdout);
    assert!(text.contains(tag), "the log's text report: {text}");
}

/// Neither image nor file: the config's targets, one SARIF run each, in categories of their own.
fn the_config_targets_get_a_sarif_run_each(tag: &str) {
    let dir = temp_dir("rofs-audit-action-config");
    let config = dir.path().join("ci.yaml");
    let yaml = format!(
        "profile: docker\ntargets:\n  - name: web\n    image: {tag}\n  - name: worker\n    \
         image: {tag}\n"
    );
    std::fs::write(&config, yaml).expect("write the config");
    let run = run_script(&[("INPUT_CONFIG", config.to_str().expect("a UTF-8 path"))]);
    let stderr = String::from_utf8_lossy(&run.out.stderr);
    assert_eq!(run.out.status.code(), Some(1), "{stderr}");
    let runs = run.sarif["runs"].as_array().expect("SARIF runs");
    let ids: Vec<&str> = runs
        .iter()
        .map(|r| r["automationDetails"]["id"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids, ["rofs-audit/web/", "rofs-audit/worker/"], "{stderr}");
    for run in runs {
        assert_eq!(run["properties"]["profile"], "docker");
        assert!(!run["results"].as_array().unwrap().is_empty(), "{run:#}");
    }
    assert!(
        run.summary.contains("web") && run.summary.contains("worker"),
        "{}",
        run.summary
    );
}
