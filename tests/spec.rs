//! `rofs-audit audit -f FILE`: the containers of a deployment spec, audited as deployed, against
//! the real Docker Engine with the seed's images.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{
    docker_ok, leftovers, published_port, run, run_json, wait_for_200, ContainerGuard, ImageSpec,
};
use serde_json::Value;

const SEED: &str = "tests/seed/build-images.sh";

fn key_camel(key: &str) -> String {
    key.to_string()
}

/// CloudFormation's spelling of an ECS key.
fn key_pascal(key: &str) -> String {
    key[..1].to_uppercase() + &key[1..]
}

/// An ECS tmpfs entry (`containerPath`, `mountOptions`, `size` in MiB, spelled by `key`) as
/// `docker run --tmpfs` takes it.
fn tmpfs_flag(entry: &Value, key: &dyn Fn(&str) -> String) -> String {
    let options: Vec<&str> = entry[key("mountOptions")]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    let path = entry[key("containerPath")].as_str().unwrap();
    format!("{path}:{},size={}m", options.join(","), entry[key("size")])
}

/// Starts `image` with the docker CLI alone, read-only with `tmpfs` mounts, as `user`, and
/// checks that it answers /health/ready.
fn starts_read_only(image: &str, user: &str, tmpfs: &[String], command: &[&str]) {
    let mut args = vec![
        "run",
        "-d",
        "--read-only",
        "--label",
        "dev.rofs-audit.test=1",
    ];
    args.extend(["-p", "127.0.0.1::5000", "--user", user]);
    for flag in tmpfs {
        args.extend(["--tmpfs", flag]);
    }
    args.push(image);
    args.extend(command);
    let container = ContainerGuard(docker_ok(&args).trim().to_string());
    let port = published_port(container.id(), 5000);
    assert!(
        wait_for_200(port, "/health/ready", Duration::from_secs(30)),
        "the spec's mounts do not start {image} read-only: {}",
        docker_ok(&["logs", container.id()])
    );
}

/// The ECS Fargate task definition of the seed's webhook: its health check runs inside the
/// container, its own tmpfs and volume count as declared, the platform is Fargate. The spec
/// written back with the fix keeps everything else, and what it mounts starts the image
/// read-only with the docker CLI alone.
#[test]
fn an_ecs_task_definition_is_audited_as_deployed_and_its_patched_spec_runs() {
    if !common::ready(common::Need::Images(SEED)) {
        return;
    }
    let file = "tests/specs/taskdef.json";
    let dir = common::temp_dir("spec-patch");
    let patched = dir.path().join("taskdef.json");
    let args = [
        "audit",
        "-f",
        file,
        "--idle",
        "0s",
        "--patch",
        patched.to_str().unwrap(),
    ];
    let spec = run_json(&args, &[1]);
    assert_eq!(spec["source"], file);
    let targets = spec["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{spec:#}");
    let target = &targets[0];
    assert_eq!(target["name"], "webhook");
    assert_eq!(target["defined_at"], "tests/specs/taskdef.json:9");
    // Its secrets ran as placeholders, and the report says so.
    let notes = target["notes"].as_array().unwrap();
    assert!(
        notes[0]
            .as_str()
            .unwrap()
            .ends_with(": BENCHLING_CLIENT_SECRET, QUEUE_URL"),
        "{notes:?}"
    );
    let report = &target["report"];
    assert_eq!(report["profile"], "ecs-fargate");
    assert_eq!(report["run"]["user"], "1000");
    // The spec's CMD-SHELL health check, run inside the container.
    let probe = report["run"]["probes"][0].as_str().unwrap();
    assert!(probe.contains("localhost:5000/health"), "{probe}");
    assert_eq!(report["probes"][0]["ok"], true, "{:#}", report["probes"]);
    assert_eq!(
        report["declared_mounts"],
        serde_json::json!(["/tmp:size=64m,noexec,nosuid", "/var/log/webhook"])
    );
    assert_eq!(report["verification"]["passed"], true, "{report:#}");
    assert_eq!(report["verdict"], "needs-mounts");

    // The patched spec: the same keys in the same order, the same values but for the read-only
    // root and the tmpfs added after the one the spec had.
    let original: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let patched: Value = serde_json::from_str(&std::fs::read_to_string(&patched).unwrap()).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&patched), keys(&original));
    let (before, after) = (
        &original["containerDefinitions"][0],
        &patched["containerDefinitions"][0],
    );
    assert_eq!(after["readonlyRootFilesystem"], true);
    let tmpfs = after["linuxParameters"]["tmpfs"].as_array().unwrap();
    assert_eq!(tmpfs[0], before["linuxParameters"]["tmpfs"][0]);
    assert_eq!(tmpfs.len(), 2, "{after:#}");
    for key in keys(before) {
        if key != "linuxParameters" {
            assert_eq!(after[&key], before[&key], "{key}");
        }
    }
    assert_eq!(patched["volumes"], original["volumes"]);

    // What the patched spec mounts, as docker flags: it starts read-only and answers.
    let mut flags: Vec<String> = tmpfs.iter().map(|t| tmpfs_flag(t, &key_camel)).collect();
    let points = after["mountPoints"].as_array().unwrap();
    flags.extend(
        points
            .iter()
            .map(|p| p["containerPath"].as_str().unwrap().to_string()),
    );
    let command: Vec<&str> = after["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    let image = after["image"].as_str().unwrap();
    starts_read_only(image, after["user"].as_str().unwrap(), &flags, &command);
}

/// A template whose image is an ECR asset names the flag that supplies it, and runs once given.
#[test]
fn a_cloudformation_image_from_an_intrinsic_needs_image_and_says_so() {
    if !common::ready(common::Need::Images(SEED)) {
        return;
    }
    let file = "tests/specs/seed.template.json";
    let out = run(&["audit", "-f", file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(file) && stderr.contains("--image webhook=REF"),
        "{stderr}"
    );

    let args = [
        "audit",
        "-f",
        file,
        "--image",
        "webhook=rofs-audit-seed/webhook:after",
        "--no-verify",
        "--idle",
        "0s",
    ];
    let spec = run_json(&args, &[0]);
    let report = &spec["targets"][0]["report"];
    assert_eq!(
        report["image"]["reference"],
        "rofs-audit-seed/webhook:after"
    );
    assert_eq!(report["profile"], "ecs-fargate");
    assert_eq!(report["verdict"], "compatible", "{report:#}");
}

/// Mistakes in what to audit fail before anything runs, each with the fix.
#[test]
fn a_spec_audit_refuses_what_it_cannot_do_before_running() {
    // None of these reaches the engine: they hold wherever the tests run.
    let taskdef = "tests/specs/taskdef.json";
    let compose = "tests/specs/compose.yaml";
    let manifests = "tests/specs/deployment.yaml";
    let cases: [(&[&str], &str); 11] = [
        (
            &["audit", "-f", manifests, "--patch", "o.yaml", "--patch-as", "overlay", "--diff"],
            "--diff shows the whole spec's changes, and an overlay is a file of its own; leave out --patch-as overlay or --diff",
        ),
        (
            &["audit", "-f", manifests, "--diff"],
            "required arguments were not provided: --patch <OUT>; see `rofs-audit audit --help`",
        ),
        (
            &["audit", "-f", taskdef, "--patch", "o.json", "--patch-as", "overlay"],
            "--patch-as overlay writes compose override files and kustomize patches",
        ),
        (
            &["audit", "-f", compose, "--patch-as", "overlay"],
            "required arguments were not provided: --patch <OUT>; see `rofs-audit audit --help`",
        ),
        (
            &["audit", "-f", taskdef, "--patch", "-"],
            "give the report a file with -o",
        ),
        (
            &["audit", "-f", taskdef, "--patch", "out.json", "--no-verify"],
            "--no-verify proves none",
        ),
        (
            &["audit", "-f", taskdef, "--baseline", "tests/data/report-proven.json"],
            "compare them one at a time",
        ),
        (
            &["audit", "-f", compose, "--format", "junit"],
            "--format junit takes one report at a time, and there are 2; pick one with --container NAME",
        ),
        (
            &["audit", "-f", compose, "--container", "nope"],
            "no container \"nope\"; it has web, broker",
        ),
        (
            &["audit", "-f", compose, "my-app:1"],
            "cannot be used with",
        ),
        (
            &["audit", "-f", compose, "--image", "web"],
            "is not NAME=VALUE",
        ),
    ];
    for (args, expected) in cases {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
    }
}

/// The seed's `cdk synth` template, its image given with --image: the template written back
/// keeps every resource, and the tmpfs mounts it gained start the image read-only.
#[test]
fn a_patched_cloudformation_template_runs_read_only() {
    if !common::ready(common::Need::Images(SEED)) {
        return;
    }
    let file = "tests/specs/seed.template.json";
    let dir = common::temp_dir("spec-cfn");
    let out = dir.path().join("template.json");
    let args = [
        "audit",
        "-f",
        file,
        "--image",
        "webhook=rofs-audit-seed/webhook:before",
        "--idle",
        "0s",
        "--patch",
        out.to_str().unwrap(),
    ];
    let spec = run_json(&args, &[1]);
    let report = &spec["targets"][0]["report"];
    assert_eq!(report["verification"]["passed"], true, "{report:#}");

    let original: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let patched: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let resources = |v: &Value| {
        let resources = v["Resources"].as_object().unwrap();
        resources.keys().cloned().collect::<Vec<_>>()
    };
    assert_eq!(resources(&patched), resources(&original));
    let task = patched["Resources"]
        .as_object()
        .unwrap()
        .values()
        .find(|r| r["Type"] == "AWS::ECS::TaskDefinition")
        .unwrap();
    let container = &task["Properties"]["ContainerDefinitions"][0];
    assert_eq!(container["ReadonlyRootFilesystem"], true, "{container:#}");
    let tmpfs = container["LinuxParameters"]["Tmpfs"].as_array().unwrap();
    assert!(!tmpfs.is_empty(), "{container:#}");

    let flags: Vec<String> = tmpfs.iter().map(|t| tmpfs_flag(t, &key_pascal)).collect();
    let user = container["User"].as_str().unwrap();
    starts_read_only("rofs-audit-seed/webhook:before", user, &flags, &[]);
}

/// A compose project that docker-compose runs from `files`, with `env` for the images, taken
/// down with its volumes when dropped: a failing assertion, or an `up` that fails half way,
/// leaves nothing behind.
struct Project {
    name: String,
    files: Vec<PathBuf>,
    env: Vec<(&'static str, String)>,
}

impl Project {
    fn up(name: String, files: Vec<PathBuf>, env: Vec<(&'static str, String)>) -> Project {
        let project = Project { name, files, env };
        project.compose_ok(&["up", "-d"]);
        project
    }

    fn compose(&self, args: &[&str]) -> Output {
        let mut command = Command::new("docker-compose");
        command.arg("-p").arg(&self.name);
        for file in &self.files {
            command.arg("-f").arg(file);
        }
        let env = self.env.iter().cloned();
        command
            .args(args)
            .envs(env)
            .output()
            .expect("run docker-compose")
    }

    fn compose_ok(&self, args: &[&str]) -> String {
        let out = self.compose(args);
        assert!(
            out.status.success(),
            "docker-compose {args:?} of {:?}: {}",
            self.files,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The container of `service`.
    fn container(&self, service: &str) -> String {
        self.compose_ok(&["ps", "-q", service])
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        // Best effort: a panic here would abort a test that is already failing.
        let _ = self.compose(&["down", "-v", "--remove-orphans", "-t", "2"]);
    }
}

/// Whether the store on 127.0.0.1:`port` answers as redis does. A TCP connect alone proves
/// nothing: docker-proxy accepts on the host port whether the container listens or not.
fn answers_tcp(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut answer = String::new();
            // The fixture answers once a blank line ends what it was sent.
            if stream.write_all(b"PING\r\n\r\n").is_ok()
                && stream.read_to_string(&mut answer).is_ok()
                && answer.starts_with("-ERR")
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The keys of a YAML map, in order.
fn keys(map: &serde_yaml_ng::Value) -> Vec<&str> {
    let map = map.as_mapping().unwrap_or_else(|| panic!("a map: {map:?}"));
    map.keys().map(|k| k.as_str().unwrap()).collect()
}

/// Two services of the fixture, an HTTP app with a healthcheck and a TCP store, written back
/// whole and as an override. docker-compose itself then runs each read-only: the app's pid file
/// needs the tmpfs's uid option (its directory belongs to uid 1000 in the image, and a tmpfs to
/// root), the store's data file the named volume, and both answer.
#[test]
fn a_patched_compose_file_and_its_override_run_read_only_with_docker_compose() {
    if !common::ready(common::Need::Compose) {
        return;
    }
    let web = ImageSpec::new("compose-web")
        .dir("/var/run/web", 1000, 1000, 0o755)
        .line("USER 1000:1000")
        .build();
    let store = ImageSpec::new("compose-store")
        .dir("/var/lib/store", 1000, 1000, 0o755)
        .line("USER 1000:1000")
        .build();
    let file = "tests/specs/compose-fixture.yaml";
    let dir = common::temp_dir("spec-compose");
    let (web_image, store_image) = (format!("web={web}"), format!("store={store}"));
    let patched = |style: &str| {
        let out = dir.path().join(format!("{style}.yaml"));
        let args = [
            "audit",
            "-f",
            file,
            "--image",
            &web_image,
            "--image",
            &store_image,
            "--idle",
            "0s",
            "--patch",
            out.to_str().unwrap(),
            "--patch-as",
            style,
        ];
        let spec = run_json(&args, &[1]);
        for target in spec["targets"].as_array().unwrap() {
            let report = &target["report"];
            assert_eq!(report["verification"]["passed"], true, "{report:#}");
        }
        let text = std::fs::read_to_string(&out).unwrap();
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        (out, value)
    };

    let (full, whole) = patched("full");
    assert_eq!(keys(&whole), ["version", "x-ours", "services", "volumes"]);
    assert_eq!(keys(&whole["volumes"]), ["store-var-lib-store"]);
    let (web_service, store_service) = (&whole["services"]["web"], &whole["services"]["store"]);
    assert_eq!(
        keys(web_service),
        [
            "labels",
            "image",
            "restart",
            "environment",
            "ports",
            "healthcheck",
            "read_only",
            "tmpfs"
        ]
    );
    assert_eq!(web_service["read_only"], true);
    let tmpfs = web_service["tmpfs"][0].as_str().unwrap();
    assert!(
        tmpfs.starts_with("/var/run/web:") && tmpfs.contains("uid=1000,gid=1000"),
        "{tmpfs}"
    );
    assert_eq!(
        store_service["volumes"][0],
        "store-var-lib-store:/var/lib/store"
    );

    let (overlay, only) = patched("overlay");
    assert_eq!(keys(&only), ["version", "services", "volumes"]);
    assert_eq!(keys(&only["services"]["web"]), ["read_only", "tmpfs"]);
    assert_eq!(only["services"]["web"]["tmpfs"][0], tmpfs);
    assert_eq!(keys(&only["services"]["store"]), ["read_only", "volumes"]);
    assert_eq!(keys(&only["volumes"]), ["store-var-lib-store"]);

    let env = vec![
        ("ROFS_TEST_WEB_IMAGE", web),
        ("ROFS_TEST_STORE_IMAGE", store),
    ];
    let runs = [
        ("full", vec![full]),
        ("overlay", vec![file.into(), overlay]),
    ];
    for (style, files) in runs {
        let name = format!("rofs-audit-test-{}-{style}", std::process::id());
        let project = Project::up(name.clone(), files, env.clone());
        for service in ["web", "store"] {
            let id = project.container(service);
            let read_only = docker_ok(&["inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", &id]);
            assert_eq!(read_only, "true", "{style}: {service}");
        }
        let web = project.container("web");
        assert!(
            wait_for_200(
                published_port(&web, 8080),
                "/health",
                Duration::from_secs(30)
            ),
            "{style}: the app does not answer: {}",
            docker_ok(&["logs", &web])
        );
        let store = project.container("store");
        let mounts = "{{range .Mounts}}{{.Type}}:{{.Destination}} {{end}}";
        let mounts = docker_ok(&["inspect", "-f", mounts, &store]);
        assert!(
            mounts.contains("volume:/var/lib/store"),
            "{style}: {mounts}"
        );
        assert!(
            answers_tcp(published_port(&store, 6379), Duration::from_secs(30)),
            "{style}: the store does not answer: {}",
            docker_ok(&["logs", &store])
        );
        drop(project);
        let label = format!("com.docker.compose.project={name}");
        assert_eq!(leftovers(&label), Vec::<String>::new(), "{style}");
    }
}

/// Debian's nginx ships its log files in the image. The compose file's patch makes the service
/// read-only with the proven mounts, the one over those log files among them, and
/// docker-compose runs it.
#[test]
fn a_patched_compose_file_with_packaged_nginx_runs_read_only() {
    if !common::ready(common::Need::Compose)
        || !common::ready(common::Need::Images("tests/real/build-images.sh"))
    {
        return;
    }
    let file = "tests/specs/compose-nginx.yaml";
    let dir = common::temp_dir("spec-compose-nginx");
    let out = dir.path().join("patched.yaml");
    let args = [
        "audit",
        "-f",
        file,
        "--idle",
        "0s",
        "--patch",
        out.to_str().unwrap(),
    ];
    let spec = run_json(&args, &[1]);
    let report = &spec["targets"][0]["report"];
    assert_eq!(report["verification"]["passed"], true, "{report:#}");
    let text = std::fs::read_to_string(&out).unwrap();
    let patched: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let web = &patched["services"]["web"];
    assert_eq!(web["read_only"], true, "{text}");
    let tmpfs: Vec<&str> = web["tmpfs"]
        .as_sequence()
        .unwrap_or_else(|| panic!("no tmpfs in {text}"))
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    for dir in ["/run", "/var/lib/nginx", "/var/log/nginx"] {
        assert!(
            tmpfs.iter().any(|t| t.split(':').next() == Some(dir)),
            "no tmpfs at {dir}: {tmpfs:?}"
        );
    }
    let name = format!("rofs-audit-test-{}-nginx", std::process::id());
    let project = Project::up(name.clone(), vec![out.clone()], vec![]);
    let id = project.container("web");
    let read_only = docker_ok(&["inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", &id]);
    assert_eq!(read_only, "true");
    assert!(
        wait_for_200(published_port(&id, 80), "/", Duration::from_secs(30)),
        "nginx does not answer: {}",
        docker_ok(&["logs", &id])
    );
    drop(project);
    let label = format!("com.docker.compose.project={name}");
    assert_eq!(leftovers(&label), Vec::<String>::new());
}
