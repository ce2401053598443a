//! `rofs-audit audit -f FILE`: the containers of a deployment spec, audited as deployed, against
//! the real Docker Engine with the seed's images.

mod common;

use std::time::Duration;

use common::{docker_ok, published_port, run, run_json, wait_for_200, ContainerGuard};
use serde_json::Value;

const SEED: &str = "tests/seed/build-images.sh";

/// `PATH:OPTIONS,size=Nm` for each planned mount, as the docker fix prints them.
fn tmpfs_flags(mounts: &Value) -> Vec<String> {
    let mounts = mounts.as_array().expect("mounts");
    mounts
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

/// The ECS Fargate task definition of the seed's webhook: its health check runs inside the
/// container, its own tmpfs and volume count as declared, the platform is Fargate, and the
/// proven mounts, with those it declares, start it read-only with the docker CLI alone.
#[test]
fn an_ecs_task_definition_is_audited_as_deployed_and_its_fix_runs() {
    if !common::ready(common::Need::Images(SEED)) {
        return;
    }
    let spec = run_json(
        &["audit", "-f", "tests/specs/taskdef.json", "--idle", "0s"],
        &[1],
    );
    assert_eq!(spec["source"], "tests/specs/taskdef.json");
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
    let declared: Vec<&str> = report["declared_mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(
        declared,
        ["/tmp:size=64m,noexec,nosuid", "/var/log/webhook"]
    );
    let v = &report["verification"];
    assert_eq!(v["passed"], true, "{v:#}");
    assert_eq!(report["verdict"], "needs-mounts");

    // The docker CLI, given what the spec declares and the proven mounts, starts it read-only.
    let mut args: Vec<String> = [
        "run",
        "-d",
        "--read-only",
        "--label",
        "dev.rofs-audit.test=1",
    ]
    .map(String::from)
    .to_vec();
    args.extend(["-p", "127.0.0.1::5000", "--user", "1000"].map(String::from));
    for flag in declared
        .iter()
        .map(|m| m.to_string())
        .chain(tmpfs_flags(&v["minimal_mounts"]))
    {
        args.extend(["--tmpfs".to_string(), flag]);
    }
    args.extend(
        [
            "rofs-audit-seed/webhook:before",
            "uv",
            "run",
            "python",
            "-m",
            "app",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let container = ContainerGuard(docker_ok(&args).trim().to_string());
    let port = published_port(container.id(), 5000);
    assert!(
        wait_for_200(port, "/health/ready", Duration::from_secs(30)),
        "the fix did not start it read-only: {}",
        docker_ok(&["logs", container.id()])
    );
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
    if !common::ready(common::Need::Engine) {
        return;
    }
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "audit",
                "-f",
                "tests/specs/compose.yaml",
                "--format",
                "sarif",
            ],
            "takes one container at a time; pick one with --container NAME",
        ),
        (
            &[
                "audit",
                "-f",
                "tests/specs/compose.yaml",
                "--container",
                "nope",
            ],
            "no container \"nope\"; it has web, broker",
        ),
        (
            &["audit", "-f", "tests/specs/compose.yaml", "my-app:1"],
            "cannot be used with",
        ),
    ];
    for (args, expected) in cases {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
