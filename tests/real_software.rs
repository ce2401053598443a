//! Real server software against the real Docker Engine: Debian bookworm's nginx, apache2,
//! mosquitto, redis and PostgreSQL, and Flask apps under gunicorn from PyPI
//! (tests/real/build-images.sh), built as users build them: every file the packages install
//! stays in the image.
//! tests/real/README.md has what was found by hand with the docker CLI alone: the read-only
//! flags each one needs, its persistent state, and the read-only errors it prints.
//!
//! For each image the audit runs on the `docker` profile, as JSON (written with `-o`) and as
//! text, and the acceptance check takes the `docker run` fix the text report prints, runs it
//! with the docker CLI alone and checks that the server answers: the printed flags must work.

mod common;

use std::fs;
use std::io::Read;
use std::net::TcpStream;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{
    docker, docker_ok, published_port, run, temp_dir, wait_for_200, ContainerGuard, TEST_LABEL,
};
use serde_json::Value;

/// The servers under test, their container port and the audit's probes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum App {
    Nginx,
    Apache2,
    Mosquitto,
    Redis,
    Pyapp,
    Postgres,
    Notes,
}

impl App {
    const ALL: [App; 7] = [
        App::Nginx,
        App::Apache2,
        App::Mosquitto,
        App::Redis,
        App::Pyapp,
        App::Postgres,
        App::Notes,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn image(self) -> &'static str {
        match self {
            App::Nginx => "rofs-audit-real/nginx:2",
            App::Apache2 => "rofs-audit-real/apache2:2",
            App::Mosquitto => "rofs-audit-real/mosquitto:2",
            App::Redis => "rofs-audit-real/redis:2",
            App::Pyapp => "rofs-audit-real/pyapp:2",
            App::Postgres => "rofs-audit-real/postgres:2",
            App::Notes => "rofs-audit-real/notes:2",
        }
    }

    fn port(self) -> u16 {
        match self {
            App::Nginx | App::Apache2 => 80,
            App::Mosquitto => 1883,
            App::Redis => 6379,
            App::Pyapp | App::Notes => 8000,
            App::Postgres => 5432,
        }
    }

    fn probes(self) -> &'static [&'static str] {
        match self {
            App::Nginx | App::Apache2 => &["/"],
            App::Mosquitto | App::Redis | App::Postgres => &["tcp"],
            App::Pyapp => &["/health", "/health/ready"],
            App::Notes => &["/health"],
        }
    }

    /// `audit` with the docker profile, this app's port and probes, and a short idle.
    fn audit_args(self) -> Vec<String> {
        let mut args: Vec<String> = ["audit", self.image(), "--profile", "docker", "--port"]
            .map(String::from)
            .to_vec();
        args.push(self.port().to_string());
        for p in self.probes() {
            args.extend(["--probe".to_string(), p.to_string()]);
        }
        args.extend(["--idle", "1s"].map(String::from));
        if self == App::Apache2 {
            // apache2ctl stays PID 1 as a shell that ignores SIGTERM (Debian's way, see
            // tests/real/README.md): every stop is a kill after the timeout, writable or not.
            args.extend(["--stop-timeout", "3s"].map(String::from));
        }
        args
    }
}

/// One audit at a time: on 2 cores, two audits at once (each with its parallel proof runs)
/// would measure the machine rather than the servers.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The report of one `audit` run, and what it printed on stderr.
struct Audit {
    report: Value,
    stderr: String,
}

/// Runs the audit of `app` with `--format json -o FILE` and reads the file.
fn audit_json(app: App) -> Result<Audit, String> {
    audit_json_with(app, &[])
}

/// As [`audit_json`], with `extra` arguments.
fn audit_json_with(app: App, extra: &[&str]) -> Result<Audit, String> {
    let dir = temp_dir("rofs-audit-real");
    let file = dir.path().join("report.json");
    let mut args = app.audit_args();
    args.extend(extra.iter().map(|a| a.to_string()));
    args.extend(["--format".to_string(), "json".to_string(), "-o".to_string()]);
    args.push(file.to_string_lossy().into_owned());
    let (code, stdout, stderr) = audit(&args);
    if !matches!(code, Some(0 | 1)) {
        return Err(format!(
            "rofs-audit {args:?} exited {code:?}:\n{stderr}\n{stdout}"
        ));
    }
    let text = fs::read_to_string(&file)
        .map_err(|e| format!("rofs-audit {args:?} wrote no {}: {e}", file.display()))?;
    let report =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
    Ok(Audit { report, stderr })
}

/// Runs the audit of `app` in the text format; returns what it printed.
fn audit_text(app: App) -> Result<String, String> {
    let args = app.audit_args();
    let (code, stdout, stderr) = audit(&args);
    if !matches!(code, Some(0 | 1)) {
        return Err(format!(
            "rofs-audit {args:?} exited {code:?}:\n{stderr}\n{stdout}"
        ));
    }
    Ok(stdout)
}

fn audit(args: &[String]) -> (Option<i32>, String, String) {
    let _one = one_at_a_time();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Turns a panic payload or an error into the message of the test that needs it.
fn shared<T>(
    cell: &'static OnceLock<Result<T, String>>,
    what: &str,
    make: impl FnOnce() -> Result<T, String> + std::panic::UnwindSafe,
) -> &'static T {
    let got = cell.get_or_init(|| {
        std::panic::catch_unwind(make).unwrap_or_else(|e| {
            Err(e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default())
        })
    });
    match got {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e}"),
    }
}

/// The JSON audit of `app`, run once per test process and shared by its tests.
fn report(app: App) -> &'static Value {
    static CELLS: [OnceLock<Result<Audit, String>>; App::ALL.len()] =
        [const { OnceLock::new() }; App::ALL.len()];
    &shared(
        &CELLS[app.index()],
        &format!("the JSON audit of {}", app.image()),
        move || audit_json(app),
    )
    .report
}

/// The text audit of `app`, run once per test process and shared by its tests.
fn text(app: App) -> &'static str {
    static CELLS: [OnceLock<Result<String, String>>; App::ALL.len()] =
        [const { OnceLock::new() }; App::ALL.len()];
    shared(
        &CELLS[app.index()],
        &format!("the text audit of {}", app.image()),
        move || audit_text(app),
    )
    .as_str()
}

// ---------------------------------------------------------------------------------------------
// Reading the report.

/// `path` is `dir` or inside it, by whole components.
fn within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    dir.is_empty()
        || path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn array<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v[key].as_array().into_iter().flatten().collect()
}

fn path_of(v: &Value) -> &str {
    v["path"].as_str().unwrap_or("<no path>")
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// The mounts the fix carries: the proven minimal set once the proof passed, else the plan's.
fn fix_mounts(report: &Value) -> Vec<&Value> {
    let v = &report["verification"];
    if v["passed"] == true {
        array(v, "minimal_mounts")
    } else {
        array(report, "mounts")
    }
}

/// The judgement in a few lines, for assertion messages.
fn findings(report: &Value) -> String {
    let mut s = format!(
        "verdict: {}  proof passed: {}  failure: {}\nwrites:\n",
        report["verdict"], report["verification"]["passed"], report["verification"]["failure"]
    );
    for w in array(report, "writes") {
        s += &format!(
            "  {:<9} {:<9} {} would_fail={} fatal={} kind={} volume={}\n",
            w["phase"].as_str().unwrap_or("?"),
            w["change"].as_str().unwrap_or("?"),
            path_of(w),
            w["would_fail"],
            w["fatal"],
            w["kind"],
            w["volume"]
        );
    }
    let mounts = |s: &mut String, title: &str, list: Vec<&Value>| {
        *s += title;
        for m in list {
            *s += &format!(
                "  {} {} {} owner={} covers {}\n",
                m["kind"].as_str().unwrap_or("?"),
                path_of(m),
                m["options"],
                m["owner"],
                m["covers"]
            );
            for w in strings(&m["warnings"]) {
                *s += &format!("      warning: {w}\n");
            }
        }
    };
    mounts(&mut s, "planned mounts:\n", array(report, "mounts"));
    mounts(
        &mut s,
        "minimal mounts:\n",
        array(&report["verification"], "minimal_mounts"),
    );
    for u in array(report, "unfixable") {
        s += &format!(
            "unfixable: {}: {}\n",
            path_of(u),
            u["reason"].as_str().unwrap_or("?")
        );
    }
    s += "proof runs:\n";
    for r in array(&report["verification"], "runs") {
        s += &format!(
            "  passed={} readonly={} mounts={} failure={}\n",
            r["passed"], r["readonly"], r["mounts"], r["failure"]
        );
        for l in array(r, "erofs_lines") {
            s += &format!("      erofs: {} (path {})\n", l["line"], l["path"]);
        }
    }
    s
}

/// The lines of the text report's fix titled `title`, up to the next fix or the summary.
fn fix_section<'a>(text: &'a str, title: &str) -> &'a str {
    let header = format!("Fix: {title}\n");
    let start = text
        .find(&header)
        .unwrap_or_else(|| panic!("no `Fix: {title}` in the report:\n{text}"));
    let rest = &text[start + header.len()..];
    let end = [
        "\nFix: ",
        "\nneeds-mounts:",
        "\nneeds-changes:",
        "\ncompatible:",
    ]
    .iter()
    .filter_map(|m| rest.find(m))
    .min()
    .unwrap_or(rest.len());
    &rest[..end]
}

/// Splits a line into words as a POSIX shell does: quotes and backslashes, no expansions.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = vec![];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => word.push(n),
                            Some(n) => {
                                word.push('\\');
                                word.push(n);
                            }
                            None => word.push('\\'),
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The `docker run` command of the text report, as words, with its `--tmpfs` and `-v` flags.
struct Printed {
    words: Vec<String>,
    snippet: String,
}

impl Printed {
    fn of(text: &str) -> Printed {
        let snippet = fix_section(text, "docker run").to_string();
        // Comments out, continuation lines joined: what a shell would run.
        let command: String = snippet
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .map(|l| l.trim_end().strip_suffix('\\').unwrap_or(l).to_string() + " ")
            .collect();
        let words = shell_words(&command);
        assert!(
            words.len() >= 3 && words[0] == "docker" && words[1] == "run",
            "the docker fix is not a `docker run` command:\n{snippet}"
        );
        Printed { words, snippet }
    }

    /// The values of flag `name` (`--tmpfs`, `-v`), given as `name value` or `name=value`.
    fn values(&self, names: &[&str]) -> Vec<&str> {
        let mut out = vec![];
        let mut words = self.words.iter();
        while let Some(w) = words.next() {
            if names.contains(&w.as_str()) {
                if let Some(v) = words.next() {
                    out.push(v.as_str());
                }
            } else if let Some((flag, v)) = w.split_once('=') {
                if names.contains(&flag) {
                    out.push(v);
                }
            }
        }
        out
    }

    /// The mount points of the `--tmpfs` flags, with their options.
    fn tmpfs(&self) -> Vec<(&str, &str)> {
        self.values(&["--tmpfs"])
            .into_iter()
            .map(|v| v.split_once(':').unwrap_or((v, "")))
            .collect()
    }

    /// The `-v SOURCE:TARGET` flags as (source, target); source is empty for an anonymous one.
    fn volumes(&self) -> Vec<(&str, &str)> {
        self.values(&["-v", "--volume"])
            .into_iter()
            .map(|v| {
                let mut parts = v.splitn(3, ':');
                match (parts.next(), parts.next()) {
                    (Some(src), Some(dst)) => (src, dst),
                    (Some(dst), None) => ("", dst),
                    _ => ("", v),
                }
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Running the printed fix.

/// A named volume of ours, removed when dropped.
struct VolumeGuard(String);

impl Drop for VolumeGuard {
    fn drop(&mut self) {
        let _ = docker(&["volume", "rm", "-f", &self.0]);
    }
}

/// The printed fix, ready to run detached: our label, the port published on 127.0.0.1, and
/// each named volume renamed to one of ours, created with the label (docker would create an
/// unlabelled one).
struct Deployment {
    args: Vec<String>,
    _volumes: Vec<VolumeGuard>,
}

impl Deployment {
    fn of(printed: &Printed, app: App) -> Deployment {
        let mut args = vec![
            "run".to_string(),
            "-d".to_string(),
            "--label".to_string(),
            TEST_LABEL.to_string(),
            "-p".to_string(),
            format!("127.0.0.1::{}", app.port()),
        ];
        let mut volumes = vec![];
        let mut words = printed.words[2..].iter();
        while let Some(w) = words.next() {
            args.push(w.clone());
            if w == "-v" || w == "--volume" {
                let Some(spec) = words.next() else { break };
                let renamed = match spec.split_once(':') {
                    Some((src, rest)) if !src.is_empty() && !src.starts_with(['/', '.']) => {
                        let name = format!("rofs-real-test-{}-{src}", std::process::id());
                        docker_ok(&["volume", "create", "--label", TEST_LABEL, &name]);
                        volumes.push(VolumeGuard(name.clone()));
                        format!("{name}:{rest}")
                    }
                    _ => spec.clone(),
                };
                args.push(renamed);
            }
        }
        Deployment {
            args,
            _volumes: volumes,
        }
    }

    /// Starts a container from it.
    fn start(&self) -> ContainerGuard {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let out = docker(&args);
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !id.is_empty() {
            // Whatever happened, it is removed.
            let guard = ContainerGuard(id);
            assert!(
                out.status.success(),
                "docker {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            return guard;
        }
        panic!(
            "docker {} started nothing: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn running(id: &str) -> bool {
    docker_ok(&["inspect", "-f", "{{.State.Running}}", id]) == "true"
}

fn logs(id: &str) -> String {
    let out = docker(&["logs", id]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cmd` in the container until it succeeds and returns its output, for up to `timeout`.
fn exec_until_ok(id: &str, cmd: &[&str], timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    let mut args = vec!["exec", id];
    args.extend_from_slice(cmd);
    while Instant::now() < deadline {
        let out = docker(&args);
        if out.status.success() {
            return Some(String::from_utf8_lossy(&out.stdout).trim().to_owned());
        }
        if !running(id) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    None
}

/// The host port accepts a connection and keeps it open (no reset at once), within `timeout`.
fn tcp_accepts(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
            let mut buf = [0u8; 1];
            match s.read(&mut buf) {
                // The server waits for the client to speak first: alive.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return true
                }
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// A container of the printed fix; fields drop in order, so the container goes before its
/// volumes.
struct Running {
    container: ContainerGuard,
    deployment: Deployment,
}

impl Running {
    fn id(&self) -> &str {
        self.container.id()
    }

    fn read_only(&self) -> bool {
        docker_ok(&["inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", self.id()]) == "true"
    }
}

/// Runs the printed fix of `app` and checks that the server answers: HTTP 200 on its probes,
/// or the protocol's own client run in the container. Returns the running container.
fn printed_fix_answers(app: App) -> Running {
    let text = text(app);
    let printed = Printed::of(text);
    let deployment = Deployment::of(&printed, app);
    let c = deployment.start();
    let port = published_port(c.id(), app.port());
    let context = || {
        format!(
            "the printed fix:\n{}\nran as: docker {}\nstill running: {}\ncontainer logs:\n{}",
            printed.snippet,
            deployment.args.join(" "),
            running(c.id()),
            logs(c.id())
        )
    };
    match app {
        App::Nginx | App::Apache2 | App::Pyapp | App::Notes => {
            for probe in app.probes() {
                assert!(
                    wait_for_200(port, probe, ANSWER_TIMEOUT),
                    "GET {probe} never answered 200 from {}; {}",
                    app.image(),
                    context()
                );
            }
        }
        App::Mosquitto => {
            assert!(tcp_accepts(port, ANSWER_TIMEOUT), "{}", context());
            let version = exec_until_ok(
                c.id(),
                &[
                    "mosquitto_sub",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    "1883",
                    "-t",
                    "$SYS/broker/version",
                    "-C",
                    "1",
                    "-W",
                    "3",
                ],
                ANSWER_TIMEOUT,
            );
            assert!(
                version
                    .as_deref()
                    .is_some_and(|v| v.starts_with("mosquitto version")),
                "mosquitto_sub got {version:?}; {}",
                context()
            );
        }
        App::Redis => {
            assert!(tcp_accepts(port, ANSWER_TIMEOUT), "{}", context());
            let pong = exec_until_ok(
                c.id(),
                &["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"],
                ANSWER_TIMEOUT,
            );
            assert_eq!(pong.as_deref(), Some("PONG"), "{}", context());
        }
        App::Postgres => {
            assert!(tcp_accepts(port, ANSWER_TIMEOUT), "{}", context());
            let one = exec_until_ok(c.id(), &psql("select 1"), ANSWER_TIMEOUT);
            assert_eq!(one.as_deref(), Some("1"), "{}", context());
        }
    }
    assert!(
        running(c.id()),
        "{} answered, then stopped; {}",
        app.image(),
        context()
    );
    Running {
        container: c,
        deployment,
    }
}

/// psql inside the postgres image over TCP, which its pg_hba.conf trusts from 127.0.0.1.
fn psql(sql: &str) -> [&str; 10] {
    [
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-Atq",
        "-c",
        sql,
    ]
}

/// The image ships `path` and the app modified it: the write is a modification, not a creation.
fn shipped_and_modified(report: &Value, path: &str) -> bool {
    array(report, "writes")
        .iter()
        .any(|w| path_of(w) == path && w["change"] == "modified")
}

/// The uid and gid of the image's user, as the image itself says.
fn image_ids(image: &str) -> (u32, u32) {
    let out = docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--label",
        TEST_LABEL,
        "--entrypoint",
        "sh",
        image,
        "-c",
        "echo $(id -u) $(id -g)",
    ]);
    let mut ids = out.split_whitespace().map(|n| n.parse::<u32>().ok());
    match (ids.next().flatten(), ids.next().flatten()) {
        (Some(u), Some(g)) => (u, g),
        _ => panic!("`id` in {image} printed {out:?}"),
    }
}

/// The paths listed after "Tolerated (...):" in the text report.
fn tolerated_line(text: &str) -> Vec<&str> {
    text.lines()
        .find_map(|l| l.strip_prefix("Tolerated"))
        .and_then(|l| l.split_once("): "))
        .map(|(_, list)| {
            list.split(", ")
                .map(|p| p.split(" and ").next().unwrap_or(p).trim())
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// nginx

#[test]
fn nginx_needs_mounts_and_the_fix_covers_its_pid_file_in_run() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let report = report(App::Nginx);
    let all = findings(report);
    assert_eq!(report["verdict"], "needs-mounts", "{all}");
    assert_eq!(report["verification"]["passed"], true, "{all}");
    // Measured by hand: nginx exits on `open() "/run/nginx.pid" failed (30: Read-only file
    // system)` without a mount over it.
    let pid = "/run/nginx.pid";
    assert!(
        array(report, "writes")
            .iter()
            .any(|w| path_of(w) == pid && w["would_fail"] == true),
        "{pid} is not among the failing writes:\n{all}"
    );
    let fix = fix_mounts(report);
    assert!(
        fix.iter()
            .any(|m| m["kind"] == "tmpfs" && within(pid, path_of(m))),
        "no tmpfs of the fix covers {pid}:\n{all}"
    );
    let printed = Printed::of(text(App::Nginx));
    assert!(
        printed.tmpfs().iter().any(|(p, _)| within(pid, p)),
        "no --tmpfs of the printed fix covers {pid}:\n{}",
        printed.snippet
    );
    // Its package ships its log files, empty: the mount over them is the proof's to accept.
    for log in ["/var/log/nginx/access.log", "/var/log/nginx/error.log"] {
        assert!(
            shipped_and_modified(report, log),
            "the image does not ship {log}, as the package does:\n{all}"
        );
    }
    let logs = fix
        .iter()
        .find(|m| path_of(m) == "/var/log/nginx")
        .unwrap_or_else(|| panic!("no mount of the fix at /var/log/nginx:\n{all}"));
    assert!(
        strings(&logs["warnings"])
            .iter()
            .any(|w| w.starts_with("proven: the app started, answered and stopped without")),
        "the fix does not say the run proved nginx does without the shipped logs:\n{all}"
    );
    assert!(array(report, "unfixable").is_empty(), "{all}");
    // And the other two it cannot start without: its temp dirs and its log files.
    for dir in ["/var/lib/nginx", "/var/log/nginx"] {
        assert!(
            printed.tmpfs().iter().any(|(p, _)| within(dir, p)),
            "no --tmpfs of the printed fix covers {dir}:\n{}",
            printed.snippet
        );
    }
}

#[test]
fn nginx_printed_fix_serves_read_only() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let c = printed_fix_answers(App::Nginx);
    assert!(c.read_only(), "the printed fix did not run read-only");
}

// ---------------------------------------------------------------------------------------------
// apache2

/// `path` with the image's links followed (bookworm: /var/run -> /run, /var/lock -> /run/lock),
/// as measured in the image, not as the report says.
fn real_path(path: &str) -> String {
    for (link, target) in [("/var/run", "/run"), ("/var/lock", "/run/lock")] {
        if within(path, link) {
            return format!("{target}{}", &path[link.len()..]);
        }
    }
    path.to_string()
}

#[test]
fn apache2_report_names_no_path_untraced_through_the_var_run_and_var_lock_links() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let report = report(App::Apache2);
    let all = findings(report);
    let text = text(App::Apache2);
    let untraced: Vec<&str> = text.lines().filter(|l| l.contains("untraced")).collect();
    assert!(
        untraced.is_empty(),
        "the text report calls paths untraced: {untraced:?}\n{text}"
    );

    // Every path a read-only error names (apache2ctl says /var/run/apache2 and
    // /var/lock/apache2.XXXXXXXXXX) is, through the links, a traced write or inside a mount.
    let writes = array(report, "writes");
    let mounts = array(report, "mounts");
    let mut named = vec![];
    for r in array(&report["verification"], "runs") {
        for l in array(r, "erofs_lines") {
            if let Some(p) = l["path"].as_str() {
                named.push(p);
            }
        }
    }
    assert!(
        named
            .iter()
            .any(|p| within(p, "/var/run") || within(p, "/var/lock")),
        "measured by hand, apache2ctl's read-only errors name /var/run/apache2 and \
         /var/lock/apache2.XXXXXXXXXX, but no read-only log line of the proof names a path \
         through those links:\n{all}"
    );
    for p in named {
        let real = real_path(p);
        let traced = writes
            .iter()
            .any(|w| within(path_of(w), &real) || within(&real, path_of(w)));
        let mounted = mounts.iter().any(|m| within(&real, path_of(m)));
        assert!(
            traced || mounted,
            "the read-only error names {p} ({real} through the links), which no traced write \
             or planned mount accounts for:\n{all}"
        );
    }
    // The writes themselves are recorded at their real paths, below /run.
    for dir in ["/run/apache2", "/run/lock/apache2"] {
        assert!(
            writes
                .iter()
                .any(|w| within(path_of(w), dir) && w["would_fail"] == true),
            "no failing write under {dir}:\n{all}"
        );
    }
}

#[test]
fn apache2_printed_fix_serves_read_only() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let report = report(App::Apache2);
    assert_eq!(
        report["verification"]["passed"],
        true,
        "{}",
        findings(report)
    );
    let all = findings(report);
    assert!(
        shipped_and_modified(report, "/var/log/apache2/error.log"),
        "the image does not ship /var/log/apache2/error.log, as the package does:\n{all}"
    );
    assert!(
        fix_mounts(report)
            .iter()
            .any(|m| path_of(m) == "/var/log/apache2" && m["kind"] == "tmpfs"),
        "no tmpfs of the fix over the shipped logs in /var/log/apache2:\n{all}"
    );
    // A tmpfs over all of /run would hide the image's /run/lock, and /var/lock/apache2 could
    // not be made (measured by hand): the printed mounts must start it all the same.
    let c = printed_fix_answers(App::Apache2);
    assert!(c.read_only(), "the printed fix did not run read-only");
}

// ---------------------------------------------------------------------------------------------
// mosquitto

const MOSQUITTO_STORE_DIR: &str = "/var/lib/mosquitto";

#[test]
fn mosquitto_store_gets_a_volume_with_a_data_loss_warning() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let report = report(App::Mosquitto);
    let all = findings(report);
    assert!(
        array(report, "writes")
            .iter()
            .any(|w| path_of(w) == "/var/lib/mosquitto/mosquitto.db"),
        "the store /var/lib/mosquitto/mosquitto.db (saved at shutdown) is not among the writes:\n{all}"
    );
    for (what, mounts) in [
        ("planned mounts", array(report, "mounts")),
        ("fix", fix_mounts(report)),
    ] {
        let store = mounts
            .iter()
            .find(|m| {
                within(MOSQUITTO_STORE_DIR, path_of(m)) || within(path_of(m), MOSQUITTO_STORE_DIR)
            })
            .unwrap_or_else(|| panic!("no mount for {MOSQUITTO_STORE_DIR} in the {what}:\n{all}"));
        assert_eq!(
            (path_of(store), store["kind"].as_str()),
            (MOSQUITTO_STORE_DIR, Some("volume")),
            "the store needs a volume at {MOSQUITTO_STORE_DIR} in the {what}, not a tmpfs:\n{all}"
        );
        let warnings = strings(&store["warnings"]).join(" | ").to_lowercase();
        assert!(
            ["lose", "lost", "loss"]
                .iter()
                .any(|w| warnings.contains(w)),
            "the store's mount in the {what} carries no data-loss warning: {warnings:?}\n{all}"
        );
    }
    let printed = Printed::of(text(App::Mosquitto));
    assert!(
        printed
            .volumes()
            .iter()
            .any(|(src, dst)| !src.is_empty() && *dst == MOSQUITTO_STORE_DIR),
        "the printed fix has no named volume at {MOSQUITTO_STORE_DIR}:\n{}",
        printed.snippet
    );
    assert!(
        printed
            .tmpfs()
            .iter()
            .all(|(p, _)| !within(MOSQUITTO_STORE_DIR, p) && !within(p, MOSQUITTO_STORE_DIR)),
        "the printed fix puts a tmpfs over the store:\n{}",
        printed.snippet
    );
}

#[test]
fn mosquitto_mounts_belong_to_the_mosquitto_user() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let report = report(App::Mosquitto);
    let all = findings(report);
    let (uid, gid) = image_ids(App::Mosquitto.image());
    let fix = fix_mounts(report);
    assert!(!fix.is_empty(), "the fix has no mount:\n{all}");
    for m in array(report, "mounts").into_iter().chain(fix) {
        assert_eq!(
            m["owner"],
            serde_json::json!({"uid": uid, "gid": gid}),
            "mount {} is not owned by mosquitto ({uid}:{gid}):\n{all}",
            path_of(m)
        );
        if m["kind"] == "tmpfs" {
            let options = strings(&m["options"]);
            assert!(
                options.contains(&format!("uid={uid}").as_str())
                    && options.contains(&format!("gid={gid}").as_str()),
                "tmpfs {} lacks uid={uid},gid={gid}: {options:?}\n{all}",
                path_of(m)
            );
        }
    }
    // As printed: without uid= the broker cannot write its pid file into a root-owned tmpfs
    // and exits ("Error: Unable to write pid file.", measured by hand).
    let printed = Printed::of(text(App::Mosquitto));
    let tmpfs = printed.tmpfs();
    assert!(
        tmpfs
            .iter()
            .any(|(p, _)| within("/run/mosquitto/mosquitto.pid", p)),
        "no --tmpfs of the printed fix covers the pid file /run/mosquitto/mosquitto.pid:\n{}",
        printed.snippet
    );
    for (p, opts) in tmpfs {
        let opts: Vec<&str> = opts.split(',').collect();
        assert!(
            opts.contains(&format!("uid={uid}").as_str())
                && opts.contains(&format!("gid={gid}").as_str()),
            "printed --tmpfs {p} lacks uid={uid},gid={gid}:\n{}",
            printed.snippet
        );
    }
}

#[test]
fn mosquitto_store_is_never_tolerated() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let report = report(App::Mosquitto);
    let all = findings(report);
    // With a writable root minus the store (read-only /var/lib/mosquitto) the broker still
    // starts, answers and exits 0, printing only "Error: Read-only file system." as it stops:
    // the proof alone would call the store tolerated. It is the broker's data.
    let tolerated: Vec<&str> = array(report, "writes")
        .into_iter()
        .filter(|w| within(path_of(w), MOSQUITTO_STORE_DIR) && w["fatal"] == false)
        .map(path_of)
        .collect();
    assert!(
        tolerated.is_empty(),
        "store writes marked fatal: false (tolerated): {tolerated:?}\n{all}"
    );
    let text = text(App::Mosquitto);
    let listed: Vec<&str> = tolerated_line(text)
        .into_iter()
        .filter(|p| within(p, MOSQUITTO_STORE_DIR))
        .collect();
    assert!(
        listed.is_empty(),
        "the text report lists the store as tolerated: {listed:?}\n{text}"
    );
}

#[test]
fn mosquitto_printed_fix_runs_and_keeps_retained_messages_across_containers() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let Running {
        container: c,
        deployment,
    } = printed_fix_answers(App::Mosquitto);
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", c.id()]),
        "true"
    );
    docker_ok(&[
        "exec",
        c.id(),
        "mosquitto_pub",
        "-h",
        "127.0.0.1",
        "-t",
        "rofs/kept",
        "-r",
        "-q",
        "1",
        "-m",
        "kept",
    ]);
    // The broker saves its store as it stops.
    docker_ok(&["stop", "-t", "10", c.id()]);
    let stopped_logs = logs(c.id());
    drop(c);
    let again = deployment.start();
    let kept = exec_until_ok(
        again.id(),
        &[
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-t",
            "rofs/kept",
            "-C",
            "1",
            "-W",
            "3",
        ],
        ANSWER_TIMEOUT,
    );
    assert_eq!(
        kept.as_deref(),
        Some("kept"),
        "the retained message did not outlive the container (ran as: docker {}); logs of the \
         first:\n{stopped_logs}\nof the second:\n{}",
        deployment.args.join(" "),
        logs(again.id())
    );
}

// ---------------------------------------------------------------------------------------------
// redis

const REDIS_DATA: &str = "/var/lib/redis";

#[test]
fn redis_plans_no_mount_inside_its_declared_volume() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let report = report(App::Redis);
    let all = findings(report);
    assert!(
        strings(&report["image"]["volumes"])
            .iter()
            .any(|v| v.trim_end_matches('/') == REDIS_DATA),
        "the image declares VOLUME {REDIS_DATA}, the report's image.volumes says {}",
        report["image"]["volumes"]
    );
    let inside: Vec<&str> = array(report, "mounts")
        .into_iter()
        .chain(array(&report["verification"], "minimal_mounts"))
        .map(path_of)
        .filter(|p| within(p, REDIS_DATA) && *p != REDIS_DATA)
        .collect();
    assert!(
        inside.is_empty(),
        "mounts planned inside the declared VOLUME {REDIS_DATA}: {inside:?}\n{all}"
    );
    let printed = Printed::of(text(App::Redis));
    let inside: Vec<&str> = printed
        .tmpfs()
        .into_iter()
        .map(|(p, _)| p)
        .chain(printed.volumes().into_iter().map(|(_, d)| d))
        .filter(|p| within(p, REDIS_DATA) && *p != REDIS_DATA)
        .collect();
    assert!(
        inside.is_empty(),
        "the printed fix mounts inside {REDIS_DATA}: {inside:?}\n{}",
        printed.snippet
    );
}

#[test]
fn redis_fix_keeps_the_declared_volume_on_a_named_volume() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let report = report(App::Redis);
    let all = findings(report);
    // dump.rdb is written at shutdown into the declared VOLUME: the database itself.
    assert!(
        array(report, "writes")
            .iter()
            .any(|w| within(path_of(w), REDIS_DATA) && w["volume"] == true),
        "no write into the volume {REDIS_DATA} (dump.rdb at shutdown) was traced:\n{all}"
    );
    assert!(
        fix_mounts(report)
            .iter()
            .any(|m| path_of(m) == REDIS_DATA && m["kind"] == "volume"),
        "the fix has no volume at {REDIS_DATA}, the image's declared VOLUME that holds \
         dump.rdb:\n{all}"
    );
    // Docker gives a declared VOLUME an anonymous volume, a new one for every container: only a
    // named one keeps the data when the container is replaced.
    let printed = Printed::of(text(App::Redis));
    assert!(
        printed
            .volumes()
            .iter()
            .any(|(src, dst)| !src.is_empty() && *dst == REDIS_DATA),
        "the printed fix has no named volume at {REDIS_DATA}:\n{}",
        printed.snippet
    );
}

#[test]
fn redis_printed_fix_answers_ping() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let c = printed_fix_answers(App::Redis);
    assert!(c.read_only(), "the printed fix did not run read-only");
}

// ---------------------------------------------------------------------------------------------
// pyapp

#[test]
fn pyapp_verdict_is_the_same_in_five_audits_in_a_row() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let first = report(App::Pyapp);
    let mut seen = vec![(
        first["verdict"].clone(),
        first["verification"]["passed"].clone(),
    )];
    let mut details = vec![findings(first)];
    for _ in 1..5 {
        let audit = audit_json(App::Pyapp).unwrap_or_else(|e| panic!("{e}"));
        seen.push((
            audit.report["verdict"].clone(),
            audit.report["verification"]["passed"].clone(),
        ));
        details.push(format!(
            "{}stderr: {}",
            findings(&audit.report),
            audit.stderr
        ));
    }
    let verdicts: Vec<String> = seen
        .iter()
        .map(|(v, p)| format!("{v} (proof passed: {p})"))
        .collect();
    assert!(
        seen.iter().all(|s| *s == seen[0]),
        "5 audits in a row disagree: {verdicts:?}\n{}",
        details.join("\n----\n")
    );
    // And the one they agree on is the one measured by hand: it needs /tmp.
    assert_eq!(
        seen[0],
        (Value::from("needs-mounts"), Value::from(true)),
        "{}",
        details[0]
    );
}

#[test]
fn pyapp_readiness_probe_passes_in_the_trace_and_the_proof() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let report = report(App::Pyapp);
    let all = findings(report);
    let probes: Vec<(&str, &Value, &Value)> = array(report, "probes")
        .into_iter()
        .map(|p| (p["target"].as_str().unwrap_or("?"), &p["status"], &p["ok"]))
        .collect();
    for target in ["/health", "/health/ready"] {
        assert!(
            probes
                .iter()
                .any(|(t, status, ok)| *t == target && **status == 200 && **ok == true),
            "probe {target} did not answer 200 in the trace: {probes:?}"
        );
    }
    let v = &report["verification"];
    assert_eq!(v["passed"], true, "{all}");
    let gates = array(&v["gates"], "probes");
    let ready = gates
        .iter()
        .find(|g| g["name"] == "/health/ready")
        .unwrap_or_else(|| panic!("no /health/ready gate: {}", v["gates"]));
    assert_eq!(ready["ok"], true, "{ready}");
}

#[test]
fn pyapp_printed_fix_serves_health_and_ready() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let report = report(App::Pyapp);
    let all = findings(report);
    // Measured by hand: gunicorn's worker needs a writable temp dir ("No usable temporary
    // directory found in ['/tmp', '/var/tmp', '/usr/tmp', '/app']").
    let printed = Printed::of(text(App::Pyapp));
    assert!(
        printed.tmpfs().iter().any(|(p, _)| *p == "/tmp"),
        "the printed fix has no --tmpfs /tmp:\n{}\n{all}",
        printed.snippet
    );
    let c = printed_fix_answers(App::Pyapp);
    assert!(c.read_only(), "the printed fix did not run read-only");
}

// ---------------------------------------------------------------------------------------------
// All of them

/// The "Tolerated" line of every text report names each path once.
#[test]
fn tolerated_lists_name_each_path_once() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let mut dups = vec![];
    for app in App::ALL {
        let text = text(app);
        let listed = tolerated_line(text);
        let mut seen = std::collections::BTreeSet::new();
        for p in &listed {
            if !seen.insert(*p) {
                let line = text
                    .lines()
                    .find(|l| l.starts_with("Tolerated"))
                    .unwrap_or_default();
                dups.push(format!("{}: {p} in `{line}`", app.image()));
            }
        }
    }
    assert!(
        dups.is_empty(),
        "paths listed twice as tolerated: {dups:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: the package ships an initialized cluster in the image.

const PG_DATA: &str = "/var/lib/postgresql/15/main";

/// On Docker a new named volume starts with the image's files and owner: the cluster the
/// package made, with no image change. A row written before the container is replaced is there
/// after.
#[test]
fn postgres_on_docker_is_fixed_by_a_named_volume_with_no_image_change() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let report = report(App::Postgres);
    let all = findings(report);
    assert_eq!(report["verdict"], "needs-mounts", "{all}");
    assert_eq!(report["verification"]["passed"], true, "{all}");
    assert!(
        shipped_and_modified(report, &format!("{PG_DATA}/global/pg_control")),
        "the image does not ship the cluster's pg_control, as the package does:\n{all}"
    );
    let fix = fix_mounts(report);
    let data = fix
        .iter()
        .find(|m| within(PG_DATA, path_of(m)))
        .unwrap_or_else(|| panic!("no mount of the fix holds {PG_DATA}:\n{all}"));
    assert_eq!(data["kind"], "volume", "{all}");
    let warnings = strings(&data["warnings"]).join(" | ");
    assert!(
        !warnings.contains("VOLUME") && !warnings.contains("hides"),
        "a Docker named volume needs no image change and hides nothing: {warnings}\n{all}"
    );
    let printed = Printed::of(text(App::Postgres));
    assert!(
        printed
            .volumes()
            .iter()
            .any(|(src, dst)| !src.is_empty() && within(PG_DATA, dst)),
        "the printed fix has no named volume over {PG_DATA}:\n{}",
        printed.snippet
    );
    let Running {
        container: c,
        deployment,
    } = printed_fix_answers(App::Postgres);
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", c.id()]),
        "true"
    );
    for sql in [
        "create table kept (v text)",
        "insert into kept values ('before the replacement')",
    ] {
        exec_until_ok(c.id(), &psql(sql), ANSWER_TIMEOUT)
            .unwrap_or_else(|| panic!("psql -c {sql:?} failed:\n{}", logs(c.id())));
    }
    docker_ok(&["stop", "-t", "10", c.id()]);
    drop(c);
    let again = deployment.start();
    let kept = exec_until_ok(again.id(), &psql("select v from kept"), ANSWER_TIMEOUT);
    assert_eq!(
        kept.as_deref(),
        Some("before the replacement"),
        "the row did not outlive the container (ran as: docker {}):\n{}",
        deployment.args.join(" "),
        logs(again.id())
    );
}

// ---------------------------------------------------------------------------------------------
// notes: a Flask app that keeps its SQLite database in its code directory, /app.

/// A volume over /app would keep this release's code over every later deploy; a tmpfs loses the
/// notes. The verdict names the database to move, on every profile, and no plan puts a volume
/// over the code.
#[test]
fn notes_with_its_database_among_its_code_needs_changes_on_every_profile() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let report = report(App::Notes);
    let all = findings(report);
    assert_eq!(report["verdict"], "needs-changes", "{all}");
    let db = array(report, "unfixable")
        .into_iter()
        .find(|u| path_of(u) == "/app/notes.db")
        .unwrap_or_else(|| panic!("/app/notes.db is not named as the data to move:\n{all}"));
    let reason = db["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("move /app/notes.db out of the release")
            && reason.contains("/app/notes.py"),
        "{reason}"
    );
    let over_code = |report: &Value| -> Vec<String> {
        array(report, "mounts")
            .into_iter()
            .chain(array(&report["verification"], "minimal_mounts"))
            .filter(|m| within("/app/notes.py", path_of(m)))
            .map(|m| path_of(m).to_string())
            .collect()
    };
    assert!(over_code(report).is_empty(), "{all}");
    // Its signing key, made at the first start and read again at a restart, is data to keep: a
    // tmpfs would make a new key at every start and refuse every token signed before.
    let key = "/home/app/.config/notes/secret_key";
    let judged = array(report, "writes")
        .into_iter()
        .find(|w| path_of(w) == key)
        .unwrap_or_else(|| panic!("{key} is not among the writes:\n{all}"));
    assert_eq!(
        (judged["kind"].as_str(), judged["restart"].as_str()),
        (Some("state"), Some("reused")),
        "{all}"
    );
    let kept = array(report, "mounts")
        .into_iter()
        .find(|m| within(key, path_of(m)))
        .unwrap_or_else(|| panic!("no mount holds {key}:\n{all}"));
    assert_eq!(kept["kind"], "volume", "{all}");
    assert!(
        strings(&kept["warnings"])
            .iter()
            .any(|w| w.contains("holds data meant to last")),
        "{all}"
    );
    let printed = Printed::of(text(App::Notes));
    assert!(
        printed
            .volumes()
            .iter()
            .chain(printed.tmpfs().iter())
            .all(|(_, dst)| !within("/app/notes.py", dst)),
        "the printed fix mounts over the code:\n{}",
        printed.snippet
    );
    for profile in ["ecs-fargate", "kubernetes", "podman"] {
        let dir = temp_dir("rofs-audit-real");
        let file = dir.path().join("report.json");
        let file_arg = file.to_string_lossy().into_owned();
        let args = [
            "audit",
            App::Notes.image(),
            "--profile",
            profile,
            "--port",
            "8000",
            "--probe",
            "/health",
            "--idle",
            "0s",
            "--no-verify",
            "--format",
            "json",
            "-o",
            &file_arg,
        ]
        .map(String::from);
        let (code, _, stderr) = audit(&args);
        assert_eq!(code, Some(1), "{profile}: {stderr}");
        let report: Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
        let all = findings(&report);
        assert_eq!(report["verdict"], "needs-changes", "{profile}:\n{all}");
        assert!(over_code(&report).is_empty(), "{profile}:\n{all}");
    }
}

// ---------------------------------------------------------------------------------------------
// API mode against overlay mode.

/// What a mode's audit concluded: the verdict and the fix's mounts, by kind and path.
fn conclusion(report: &Value) -> (String, Vec<(String, String)>) {
    let mut mounts: Vec<(String, String)> = fix_mounts(report)
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap_or("?").to_string(),
                path_of(m).to_string(),
            )
        })
        .collect();
    mounts.sort();
    (
        report["verdict"].as_str().unwrap_or("?").to_string(),
        mounts,
    )
}

/// One row of the comparison table.
fn row(app: App, report: &Value) -> String {
    let (verdict, mounts) = conclusion(report);
    let mounts: Vec<String> = mounts.iter().map(|(k, p)| format!("{k} {p}")).collect();
    format!(
        "{:<28} {:<8} writes {:>3}  {:<14} proof runs {:>2}  {}",
        app.image(),
        report["tracing"]["mode"].as_str().unwrap_or("?"),
        array(report, "writes").len(),
        verdict,
        array(&report["verification"], "runs").len(),
        mounts.join(", ")
    )
}

/// The engine's changes API (--mode api, for engines whose storage is elsewhere) must lead to
/// the same verdict and the same minimal set of mounts as the overlay's writable layer, on
/// every image: a remote engine's user gets the fix a local one gets. The overlay audits are
/// the ones the other tests here share.
#[test]
fn api_mode_gives_the_verdict_and_minimal_mounts_of_overlay_mode() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let mut table = vec![];
    let mut differ = vec![];
    for app in App::ALL {
        let overlay = report(app);
        assert_eq!(
            overlay["tracing"]["mode"],
            "overlay",
            "the shared audit of {} did not trace the overlay: {:#}",
            app.image(),
            overlay["tracing"]
        );
        let api = audit_json_with(app, &["--mode", "api"]).unwrap_or_else(|e| panic!("{e}"));
        let api = &api.report;
        assert_eq!(
            api["tracing"]["reason"], "api: --mode api",
            "{:#}",
            api["tracing"]
        );
        table.push(row(app, overlay));
        table.push(row(app, api));
        if conclusion(overlay) != conclusion(api) {
            differ.push(format!(
                "{}:\n--- overlay\n{}--- api\n{}",
                app.image(),
                findings(overlay),
                findings(api)
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "api mode concludes otherwise than overlay mode:\n{}\n\n{}",
        table.join("\n"),
        differ.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// A wrong --port

/// gunicorn announces `Listening at: http://0.0.0.0:8000`; probed on another port, the trace
/// ends as soon as the log has said so, however long the startup budget, and names the ports.
#[test]
fn a_wrong_port_ends_the_trace_naming_the_exposed_and_announced_ports() {
    if !common::ready(common::Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let mut child = common::rofs_audit()
        .args(["audit", App::Pyapp.image(), "--port", "9999"])
        .args(["--startup-timeout", "600s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run rofs-audit");
    // Far beyond the few seconds the early end takes, far below the budget it would wait out.
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().expect("wait for rofs-audit").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a wrong --port waited on: rofs-audit still ran after 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("rofs-audit's output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    for says in [
        "nothing answers on port 9999",
        "Listening at: http://0.0.0.0:8000",
        "EXPOSEs 8000/tcp",
        "--port 8000",
    ] {
        assert!(stderr.contains(says), "{says:?} missing from: {stderr}");
    }
}
