//! Smoke test of the test tooling itself: tests/fixture in a `FROM scratch`
//! image built by `common::ImageSpec`, driven with the plain docker CLI.

mod common;

use common::{docker, docker_ok, ContainerGuard, ImageSpec, TEST_LABEL};
use std::process::Command;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// Built once per test process; the tests below run in parallel threads.
fn smoke_image() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let started = Instant::now();
        let tag = ImageSpec::new("smoke")
            .dir("/var/run", 1000, 1000, 0o755)
            .dir("/tmp", 0, 0, 0o1777)
            .file("/etc/app/config.txt", "hello\n", 0, 1000, 0o640)
            .line("USER 1000")
            .build();
        eprintln!("image {tag} ready in {:?}", started.elapsed());
        tag
    })
}

/// stdout and stderr of the container, stdout first.
fn logs(id: &str) -> String {
    let output = docker(&["logs", id]);
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

fn create(args: &[&str]) -> ContainerGuard {
    let mut all = vec!["create", "--label", TEST_LABEL];
    all.extend_from_slice(args);
    ContainerGuard(docker_ok(&all))
}

/// Starts the container and waits for it to exit; returns its exit code.
fn run_to_exit(container: &ContainerGuard) -> i32 {
    docker_ok(&["start", container.id()]);
    let code = docker_ok(&["wait", container.id()]);
    code.parse()
        .unwrap_or_else(|_| panic!("docker wait said {code:?}"))
}

fn get(url: &str) -> Option<String> {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "1", url])
        .output()
        .expect("run curl");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn listens_writes_and_stops_cleanly() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let image = smoke_image();
    let container = create(&[
        "-p",
        "127.0.0.1::8080",
        "-e",
        "FIXTURE_STARTUP_WRITES=/var/run/app.pid",
        "-e",
        "FIXTURE_SHUTDOWN_WRITES=/var/run/shutdown.marker",
        image,
    ]);
    let id = container.id();
    let started = Instant::now();
    docker_ok(&["start", id]);

    let port = docker_ok(&["port", id, "8080/tcp"]);
    let addr = port.lines().next().expect("a published port");
    let url = format!("http://{addr}/health");
    while get(&url).as_deref() != Some("ok") {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{url} never answered ok; logs:\n{}",
            logs(id)
        );
        thread::sleep(Duration::from_millis(50));
    }
    eprintln!("healthy {:?} after start", started.elapsed());

    let diff = docker_ok(&["diff", id]);
    assert!(
        diff.lines().any(|line| line == "A /var/run/app.pid"),
        "docker diff:\n{diff}"
    );

    let stopping = Instant::now();
    docker_ok(&["stop", "-t", "10", id]);
    let took = stopping.elapsed();
    eprintln!("docker stop took {took:?}");
    assert!(took < Duration::from_secs(3), "docker stop took {took:?}");
    let code = docker_ok(&["inspect", "--format", "{{.State.ExitCode}}", id]);
    assert_eq!(code, "0", "logs:\n{}", logs(id));

    let diff = docker_ok(&["diff", id]);
    assert!(
        diff.lines()
            .any(|line| line == "A /var/run/shutdown.marker"),
        "docker diff:\n{diff}"
    );
    let logs = logs(id);
    for expected in [
        "fixture: wrote /var/run/app.pid (16 bytes)",
        "fixture: listening on 0.0.0.0:8080",
        "fixture: GET /health -> 200",
        "fixture: got SIGTERM, shutting down",
        "fixture: wrote /var/run/shutdown.marker (16 bytes)",
    ] {
        assert!(
            logs.lines().any(|l| l == expected),
            "no {expected:?} in:\n{logs}"
        );
    }
}

#[test]
fn read_only_root_makes_the_startup_write_fatal() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let container = create(&[
        "--read-only",
        "-e",
        "FIXTURE_STARTUP_WRITES=/var/run/app.pid",
        smoke_image(),
    ]);
    let code = run_to_exit(&container);
    let logs = logs(container.id());
    assert_eq!(code, 3, "logs:\n{logs}");
    let expected = "fixture: cannot write /var/run/app.pid: Read-only file system (os error 30)";
    assert!(
        logs.lines().any(|l| l == expected),
        "no {expected:?} in:\n{logs}"
    );
}

#[test]
fn image_entries_arrive_with_their_mode_and_owner() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let container = create(&[smoke_image()]);
    // `docker cp` to stdout is a tar stream whose first header describes the
    // path itself; the host's tar prints it.
    let listing = |path: &str| {
        let tar = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "docker cp {}:{path} - | tar --numeric-owner -tvf - | head -n 1",
                container.id()
            ))
            .output()
            .expect("run docker cp | tar");
        let line = String::from_utf8_lossy(&tar.stdout).into_owned();
        let mut fields = line.split_whitespace();
        let mode = fields.next().unwrap_or("").to_owned();
        let owner = fields.next().unwrap_or("").to_owned();
        (mode, owner)
    };
    assert_eq!(
        listing("/var/run"),
        ("drwxr-xr-x".into(), "1000/1000".into())
    );
    assert_eq!(listing("/var"), ("drwxr-xr-x".into(), "0/0".into()));
    assert_eq!(listing("/tmp"), ("drwxrwxrwt".into(), "0/0".into()));
    assert_eq!(
        listing("/etc/app/config.txt"),
        ("-rw-r-----".into(), "0/1000".into())
    );
    assert_eq!(listing("/etc/app"), ("drwxr-xr-x".into(), "0/0".into()));
    assert_eq!(listing("/app/fixture"), ("-rwxr-xr-x".into(), "0/0".into()));

    // And the permissions bite for USER 1000: /tmp is open, /etc/app is not.
    let container = create(&[
        "-e",
        "FIXTURE_STARTUP_WRITES=/tmp/ok?,/etc/app/denied?",
        "-e",
        "FIXTURE_EXIT_CODE=0",
        smoke_image(),
    ]);
    assert_eq!(run_to_exit(&container), 0);
    let logs = logs(container.id());
    assert!(logs.contains("fixture: wrote /tmp/ok (16 bytes)"), "{logs}");
    assert!(
        logs.contains("fixture: cannot write /etc/app/denied: Permission denied (os error 13)"),
        "{logs}"
    );
}

#[test]
fn ignored_sigterm_ends_in_sigkill() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    let container = create(&["-e", "FIXTURE_IGNORE_SIGTERM=1", smoke_image()]);
    let id = container.id();
    docker_ok(&["start", id]);
    let started = Instant::now();
    while !logs(id).contains("fixture: listening on") {
        assert!(started.elapsed() < Duration::from_secs(15), "{}", logs(id));
        thread::sleep(Duration::from_millis(50));
    }
    docker_ok(&["stop", "-t", "1", id]);
    let code = docker_ok(&["inspect", "--format", "{{.State.ExitCode}}", id]);
    assert_eq!(code, "137");
    assert!(
        logs(id).contains("fixture: got SIGTERM, ignoring it"),
        "{}",
        logs(id)
    );
}

#[test]
fn launcher_writes_its_cache_before_the_app_starts() {
    if !common::ready(common::Need::Engine) {
        return;
    }
    // Without /etc/passwd the engine sets HOME=/; real images say /root.
    let image = ImageSpec::new("smoke-uv")
        .launcher("uv")
        .line("ENV HOME=/root")
        .line(r#"CMD ["uv", "run", "app"]"#)
        .build();

    let container = create(&["-e", "FIXTURE_EXIT_CODE=0", &image]);
    assert_eq!(run_to_exit(&container), 0, "{}", logs(container.id()));
    let diff = docker_ok(&["diff", container.id()]);
    assert!(
        diff.lines().any(|l| l == "A /root/.cache/uv/launcher.lock"),
        "docker diff:\n{diff}\nlogs:\n{}",
        logs(container.id())
    );

    let container = create(&["--read-only", &image]);
    assert_eq!(run_to_exit(&container), 3);
    let logs = logs(container.id());
    let expected = "fixture: cannot create directory /root: Read-only file system (os error 30)";
    assert!(
        logs.lines().any(|l| l == expected),
        "no {expected:?} in:\n{logs}"
    );
    assert!(!logs.contains("fixture: starting"), "{logs}");
}
