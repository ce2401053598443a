//! The command line without an engine: what a shell pipeline does to it.

use std::process::{Command, Stdio};

/// `rofs-audit remedies | head -0`: the reader is gone before a byte is written. As with
/// ripgrep, that ends the command quietly, with exit 0, not a panic on a broken pipe.
#[test]
fn a_closed_pipe_on_stdout_is_a_quiet_exit() {
    for args in [
        &["remedies"][..],
        &["profiles"],
        &["profiles", "show", "docker"],
    ] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_rofs-audit"))
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run rofs-audit");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} printed on stderr: {stderr}");
    }
}

/// An argument that is not UTF-8 (a file name from another locale, say) is a one-line error,
/// not a panic.
#[test]
fn an_argument_that_is_not_utf8_is_a_one_line_error() {
    use std::os::unix::ffi::OsStrExt;
    let word = std::ffi::OsStr::from_bytes(b"my-app\xff:1");
    let out = Command::new(env!("CARGO_BIN_EXE_rofs-audit"))
        .arg("audit")
        .arg(word)
        .output()
        .expect("run rofs-audit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("rofs-audit: error: invalid UTF-8 was detected")
            && stderr.ends_with("; see `rofs-audit audit --help`\n"),
        "{stderr}"
    );
}

fn rofs_audit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rofs-audit"))
        .args(args)
        .output()
        .expect("run rofs-audit")
}

const COMPATIBLE: &str = "tests/data/report-compatible.json";
const NEEDS_MOUNTS: &str = "tests/data/report-needs-mounts.json";
const NEEDS_CHANGES: &str = "tests/data/report-unproven.json";

/// `merge`: reports of three verdicts become one, with a table and the worst exit code; merged
/// JSON merges again.
#[test]
fn merge_gives_one_report_a_table_and_the_worst_exit_code() {
    let out = rofs_audit(&["merge", COMPATIBLE, NEEDS_MOUNTS, NEEDS_CHANGES]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let table: Vec<&str> = text.lines().rev().take(4).collect();
    assert!(
        table[3].starts_with("3 targets of tests/data/report-compatible.json,"),
        "{text}"
    );
    assert!(
        table[2].contains("compatible") && table[2].contains("0 mounts"),
        "{text}"
    );
    assert!(table[1].contains("needs-mounts"), "{text}");
    assert!(table[0].contains("needs-changes"), "{text}");

    // Only what no mount can fix fails this gate: the third report.
    let gate = |files: &[&str]| {
        let args = [&["merge", "--fail-on", "needs-changes"][..], files].concat();
        rofs_audit(&args).status.code()
    };
    assert_eq!(gate(&[COMPATIBLE, NEEDS_MOUNTS]), Some(0));
    assert_eq!(gate(&[COMPATIBLE, NEEDS_MOUNTS, NEEDS_CHANGES]), Some(1));

    // As JSON, every report whole; and that merges again with a fourth.
    let dir = tempfile::tempdir().unwrap();
    let merged = dir.path().join("merged.json");
    let merged = merged.to_str().unwrap();
    let out = rofs_audit(&[
        "merge",
        COMPATIBLE,
        NEEDS_MOUNTS,
        "--format",
        "json",
        "-o",
        merged,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged).unwrap()).unwrap();
    assert_eq!(json["targets"].as_array().unwrap().len(), 2);
    assert_eq!(json["targets"][1]["report"]["verdict"], "needs-mounts");
    assert_eq!(json["targets"][1]["defined_at"], NEEDS_MOUNTS);
    let out = rofs_audit(&["merge", merged, NEEDS_CHANGES, "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts: Vec<&str> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["report"]["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["compatible", "needs-mounts", "needs-changes"]);

    // SARIF gives each report a run, in a code scanning category of its own.
    let out = rofs_audit(&["merge", COMPATIBLE, NEEDS_MOUNTS, "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(1));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = sarif["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{sarif:#}");
    assert_ne!(
        runs[0]["automationDetails"]["id"],
        runs[1]["automationDetails"]["id"]
    );

    // JUnit is one image's: several reports are refused, with the way out.
    let out = rofs_audit(&["merge", COMPATIBLE, NEEDS_MOUNTS, "--format", "junit"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("takes one report at a time"), "{stderr}");
}
