//! Reports that scale: an app that writes 100,000 files, judged with `suggest` (no engine
//! needed), must still give a report a person can read, a comment GitHub accepts and annotations
//! GitHub keeps, while the JSON keeps every write.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

const WRITES: usize = 100_000;
/// GitHub refuses a pull-request comment longer than this.
const COMMENT_LIMIT: usize = 65_536;

fn write(path: String, change: &str, phase: &str) -> Value {
    json!({
        "path": path, "change": change, "file_type": "file", "bytes": 1024, "mode": "0644",
        "uid": 1000, "gid": 1000, "phase": phase, "volume": false,
    })
}

/// A trace of an app running as 1000:1000 that, at startup, fills a cache of 500 directories,
/// writes a bytecode file in each of 200 packages and a pid file, logs each of 900 requests to
/// a file of its own, and rewrites 19 configuration files the image ships (which no mount can
/// fix).
fn trace() -> Value {
    let mut writes: Vec<Value> = Vec::with_capacity(WRITES);
    let mut add = |n: usize, path: &dyn Fn(usize) -> String, change: &str, phase: &str| {
        writes.extend((0..n).map(|i| write(path(i), change, phase)));
    };
    add(
        97_080,
        &|i| format!("/var/cache/app/{:03}/{i:06}.bin", i % 500),
        "created",
        "startup",
    );
    add(
        2_000,
        &|i| {
            format!(
                "/app/lib/pkg{:03}/__pycache__/m{i:04}.cpython-311.pyc",
                i % 200
            )
        },
        "created",
        "startup",
    );
    add(
        900,
        &|i| format!("/var/log/app/req-{i:03}.log"),
        "created",
        "probe",
    );
    add(
        19,
        &|i| format!("/etc/app/conf.d/{i:02}.conf"),
        "modified",
        "startup",
    );
    add(1, &|_| "/var/run/app.pid".into(), "created", "startup");
    for w in &mut writes[97_080 + 2_000..][..900] {
        w["probe"] = json!("/work");
    }
    assert_eq!(writes.len(), WRITES);
    // Where the image has files of its own: the mounts go below them.
    let image_dirs: Vec<Value> = [
        ("/app", 40),
        ("/var", 5),
        ("/var/cache", 2),
        ("/var/log", 1),
        ("/etc", 30),
        ("/etc/app", 2),
        ("/etc/app/conf.d", 19),
    ]
    .iter()
    .map(|(path, hidden)| json!({"path": path, "exists": true, "hidden": hidden, "hidden_files": hidden}))
    .collect();
    json!({
        "schema_version": 1,
        "image": {
            "reference": "example/cache-heavy:1", "id": "sha256:0123456789abcdef",
            "user": "1000:1000", "entrypoint": ["/app/server"], "cmd": [],
            "exposed_ports": ["8080/tcp"], "volumes": [], "workdir": "/app", "env_names": ["PATH"],
        },
        "run": {
            "user": "1000:1000", "entrypoint": ["/app/server"], "cmd": [], "port": 8080,
            "env_names": [],
        },
        "tracing": {"mode": "overlay", "blind_spots": []},
        "phases": [
            {"name": "startup", "duration_ms": 900},
            {"name": "probe", "duration_ms": 40},
            {"name": "idle", "duration_ms": 2000},
            {"name": "shutdown", "duration_ms": 100},
        ],
        "probes": [
            {"target": "/health", "status": 200, "latency_ms": 2, "ok": true},
            {"target": "/work", "status": 200, "latency_ms": 5, "ok": true},
        ],
        "writes": writes,
        "logs": [],
        "startup_ms": 900,
        "exit": {"code": 0, "signal": null},
        "image_dirs": image_dirs,
    })
}

fn trace_file() -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-scale-trace.json");
    std::fs::write(&path, serde_json::to_vec(&trace()).unwrap()).unwrap();
    path
}

/// `rofs-audit suggest --from TRACE --profile docker --format FORMAT`: its standard output.
fn suggest(trace: &Path, format: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rofs-audit"))
        .args(["suggest", "--from"])
        .arg(trace)
        .args(["--profile", "docker", "--format", format])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{format}: findings exit 1; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_hundred_thousand_writes_give_reports_people_and_github_can_take() {
    let trace = trace_file();
    // The formats in parallel: each run parses and judges the whole trace.
    let [text, github, markdown, json] = std::thread::scope(|s| {
        ["text", "github", "markdown", "json"]
            .map(|format| s.spawn(|| suggest(&trace, format)))
            .map(|run| run.join().unwrap())
    });

    let lines = text.lines().count();
    assert!(lines <= 60, "{lines} lines of text:\n{text}");
    assert!(
        text.contains("\nverdict: needs changes: some writes cannot be fixed by a mount"),
        "{text}"
    );
    assert!(text.contains(&format!("\n{WRITES} of {WRITES} writes would fail")));
    assert!(
        text.contains("\n  /var/cache/app/ (500 directories): 97080 created at startup: "),
        "{text}"
    );
    assert!(text.contains("\nFix: docker run\n"), "{text}");
    assert!(text.contains("\n  --read-only \\\n"), "{text}");
    for mount in ["/app/lib", "/var/cache/app", "/var/log/app", "/var/run"] {
        assert!(
            text.contains(&format!("\n  --tmpfs {mount}:")),
            "{mount}: {text}"
        );
    }
    assert!(text.contains("\nFix: Docker Compose service\n"), "{text}");
    assert!(text.trim_end().ends_with("2 remedies."), "{text}");

    let annotations: Vec<&str> = github.lines().collect();
    assert!(annotations.len() <= 50, "{} annotations", annotations.len());
    assert!(annotations.iter().all(|l| l.starts_with("::")), "{github}");
    assert!(annotations
        .last()
        .unwrap()
        .starts_with("::notice title=rofs-audit docker::needs-changes:"));

    let chars = markdown.chars().count();
    assert!(chars < COMMENT_LIMIT, "{chars} characters of Markdown");
    assert!(
        markdown.contains("**Status: NEEDS CHANGES.**"),
        "{markdown}"
    );
    assert!(
        markdown.contains("\n### Fix\n\n#### docker run\n\n```sh\n"),
        "{markdown}"
    );
    assert!(
        markdown.contains("\n  --tmpfs /var/cache/app:"),
        "{markdown}"
    );

    let report: Value = serde_json::from_str(&json).unwrap();
    let writes = report["writes"].as_array().unwrap();
    assert_eq!(writes.len(), WRITES, "the JSON keeps every write");
    let paths: std::collections::HashSet<&str> =
        writes.iter().map(|w| w["path"].as_str().unwrap()).collect();
    assert_eq!(paths.len(), WRITES);
    assert!(paths.contains("/var/cache/app/079/097079.bin"));
    assert!(writes.iter().all(|w| w["would_fail"] == true));
    println!(
        "{WRITES} writes: text {lines} lines, {} GitHub annotations, Markdown {chars} characters, \
         JSON {} writes",
        annotations.len(),
        writes.len()
    );
}
