//! `rofs-audit audit -f MANIFESTS --patch OUT`: Kubernetes manifests written back with the proven
//! fix, whole, as a kustomize patch, or as a diff, each checked by the tool that would use it:
//! the docker CLI runs what the patched Deployment mounts, `kubectl kustomize` applies the patch,
//! `patch -p1` the diff.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{docker_ok, published_port, wait_for_200, ContainerGuard, ImageSpec, Need};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use serde::Deserialize;
use serde_yaml_ng::Value;

const MANIFESTS: &str = "tests/specs/deployment-fixture.yaml";

/// The fixture as the manifests' `app`: its pid file and its startup probe's file go into
/// directories of uid 1000, which a tmpfs mounted there gives to root unless told otherwise.
fn app_image() -> String {
    ImageSpec::new("k8s-web")
        .dir("/var/run/web", 1000, 1000, 0o755)
        .dir("/var/cache/web", 1000, 1000, 0o755)
        .build()
}

/// The fixture as the init container: it writes a file into a directory of uid 1000, exits 0.
fn init_image() -> String {
    ImageSpec::new("k8s-init")
        .dir("/var/run/init", 1000, 1000, 0o755)
        .build()
}

/// Audits the manifests with the fixture as `app` and as the init container, and `args`
/// (`--patch OUT`...); returns the app's report and what rofs-audit said on stderr.
fn audit(image: &str, args: &[&str]) -> (serde_json::Value, String) {
    let app = format!("app={image}");
    let init = format!("wait-for-config={}", init_image());
    // The proof's run without the startup probe's mount waits out the startup budget for the
    // probe, and the fixture answers in milliseconds.
    let budget = ["--startup-timeout", "10s"];
    let mut all = vec!["audit", "-f", MANIFESTS, "--image", &app, "--image", &init];
    all.extend(["--idle", "0s"]);
    all.extend(budget);
    all.extend(args);
    all.extend(["--format", "json"]);
    let out = common::run(&all);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // needs-mounts: the app runs read-only only with the mounts the patch adds.
    assert_eq!(out.status.code(), Some(1), "{all:?}: {stderr}");
    let spec: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let targets = spec["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 2, "the init container and the app: {spec:#}");
    // The init container ran to completion, read-only with its mount.
    assert_eq!(targets[0]["name"], "Deployment/web/wait-for-config");
    let init = &targets[0]["report"];
    assert_eq!(init["verification"]["passed"], true, "{init:#}");
    let mounts = common::mount_paths(&init["verification"]["minimal_mounts"]);
    assert_eq!(mounts, ["/var/run/init"], "{init:#}");
    assert_eq!(targets[1]["name"], "Deployment/web/app");
    let report = targets[1]["report"].clone();
    assert_eq!(report["verification"]["passed"], true, "{report:#}");
    (report, stderr)
}

/// The documents of a YAML stream, as values.
fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{e}: {text}")))
        .collect()
}

/// The Deployment of a stream of manifests, as the API types it.
fn deployment(text: &str) -> Deployment {
    let value = documents(text)
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap_or_else(|| panic!("no Deployment in {text}"));
    serde_yaml_ng::from_value(value).unwrap_or_else(|e| panic!("not a Deployment ({e}): {text}"))
}

fn pod(deployment: &Deployment) -> &PodSpec {
    let spec = deployment.spec.as_ref().expect("a Deployment spec");
    spec.template.spec.as_ref().expect("a pod template spec")
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The app's volumeMounts as (volume, mountPath), sorted.
fn mounts(app: &Container) -> Vec<(String, String)> {
    let mounts = app.volume_mounts.iter().flatten();
    let mut mounts: Vec<_> = mounts
        .map(|m| (m.name.clone(), m.mount_path.clone()))
        .collect();
    mounts.sort();
    mounts
}

/// The fixture's Deployment, patched, parsed as the API types it: the app read-only, an emptyDir
/// in memory per directory it writes, fsGroup for its group, the init container and the Service
/// as they were. Then what the Deployment mounts, as docker flags, starts the image read-only:
/// each emptyDir as a tmpfs of its sizeLimit, owned by runAsUser and the fsGroup (which the
/// kubelet gives an emptyDir, and Docker gives a tmpfs only with uid= and gid=); it answers its
/// readiness path, and its exec startup probe, run inside the container as the kubelet runs it,
/// writes its file.
#[test]
fn a_patched_deployment_runs_read_only_with_its_empty_dirs_as_tmpfs() {
    if !common::ready(Need::Engine) {
        return;
    }
    let image = app_image();
    let dir = common::temp_dir("k8s-patch");
    let out = dir.path().join("deployment.yaml");
    let (report, _) = audit(&image, &["--patch", out.to_str().unwrap()]);
    // The manifests' three probes, each as the kubelet runs it.
    let probes = report["probes"].as_array().expect("probes");
    assert_eq!(probes.len(), 3, "{probes:#?}");
    assert!(probes.iter().all(|p| p["ok"] == true), "{probes:#?}");

    let (original, patched) = (read(MANIFESTS), read(&out));
    // The Service's document, and the comments that head the file, stay as they were.
    let service = &original[..original.find("\n---\n").unwrap() + 1];
    assert!(patched.starts_with(service), "{patched}");
    let (before, after) = (deployment(&original), deployment(&patched));
    let (before, after) = (pod(&before), pod(&after));
    // The init container gets its own fix: read-only, with an emptyDir for its file.
    let init = &after.init_containers.as_ref().expect("the init container")[0];
    let security = init.security_context.as_ref().expect("its securityContext");
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(
        mounts(init),
        [("rofs-var-run-init".into(), "/var/run/init".into())]
    );
    assert_eq!(
        before.init_containers.as_ref().unwrap()[0].security_context,
        None
    );
    let app = &after.containers[0];
    let security = app.security_context.as_ref().expect("securityContext");
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(
        mounts(app),
        [
            ("rofs-var-cache-web".into(), "/var/cache/web".into()),
            ("rofs-var-run-web".into(), "/var/run/web".into())
        ]
    );
    let pod_security = after
        .security_context
        .as_ref()
        .expect("pod securityContext");
    let (uid, gid) = (pod_security.run_as_user, pod_security.run_as_group);
    assert_eq!((uid, gid), (Some(1000), Some(3000)));
    // Kubernetes has no uid= for an emptyDir: the pod's fsGroup makes it the app's group's.
    let fs_group = pod_security.fs_group.expect("an fsGroup");
    assert_eq!(fs_group, 3000);

    let mut args = vec![
        "run".to_string(),
        "-d".into(),
        "--read-only".into(),
        "--label".into(),
        "dev.rofs-audit.managed=true".into(),
        "-p".into(),
        "127.0.0.1::8080".into(),
        "--user".into(),
        format!("{}:{}", uid.unwrap(), gid.unwrap()),
        "--group-add".into(),
        fs_group.to_string(),
    ];
    let volumes = after.volumes.as_ref().expect("volumes");
    for mount in app.volume_mounts.iter().flatten() {
        let volume = volumes.iter().find(|v| v.name == mount.name).unwrap();
        let empty_dir = volume.empty_dir.as_ref().expect("an emptyDir");
        assert_eq!(empty_dir.medium.as_deref(), Some("Memory"), "{volume:?}");
        let size = &empty_dir.size_limit.as_ref().expect("a sizeLimit").0;
        let mib = size.strip_suffix("Mi").unwrap_or_else(|| panic!("{size}"));
        let (path, uid) = (&mount.mount_path, uid.unwrap());
        args.push("--tmpfs".into());
        args.push(format!("{path}:size={mib}m,uid={uid},gid={fs_group}"));
    }
    for var in app.env.iter().flatten() {
        args.push("-e".into());
        args.push(format!(
            "{}={}",
            var.name,
            var.value.as_deref().unwrap_or_default()
        ));
    }
    args.push(image.clone());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let container = ContainerGuard(docker_ok(&args));
    let ready = app
        .readiness_probe
        .as_ref()
        .and_then(|p| p.http_get.as_ref());
    let path = ready
        .and_then(|get| get.path.as_deref())
        .expect("a readiness path");
    assert!(
        wait_for_200(
            published_port(container.id(), 8080),
            path,
            Duration::from_secs(30)
        ),
        "the patched Deployment's mounts do not start it read-only: {}",
        docker_ok(&["logs", container.id()])
    );
    let startup = app.startup_probe.as_ref().and_then(|p| p.exec.as_ref());
    let command = startup
        .and_then(|e| e.command.clone())
        .expect("an exec probe");
    let mut exec = vec!["exec", container.id()];
    exec.extend(command.iter().map(String::as_str));
    docker_ok(&exec);
}

/// The patched containers' securityContext and volumeMounts, and the pod's securityContext and
/// volumes, of the Deployment in `text`: what the fix is made of.
fn fix(text: &str) -> Value {
    let deployment = documents(text)
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap_or_else(|| panic!("no Deployment in {text}"));
    let pod = &deployment["spec"]["template"]["spec"];
    let (app, init) = (&pod["containers"][0], &pod["initContainers"][0]);
    serde_yaml_ng::to_value([
        &app["securityContext"],
        &app["volumeMounts"],
        &pod["securityContext"],
        &pod["volumes"],
        &init["securityContext"],
        &init["volumeMounts"],
    ])
    .unwrap()
}

/// The kustomize patch, applied to the manifests by `kubectl kustomize` (a kustomization with
/// the manifests as its resource and the patch in its patches), gives what the whole patch
/// gives: the same read-only root, volumeMounts, fsGroup and volumes.
#[test]
fn a_kustomize_patch_applied_to_the_manifests_gives_the_full_patch() {
    if !common::ready(Need::Kustomize) {
        return;
    }
    let image = app_image();
    let dir = common::temp_dir("k8s-kustomize");
    let (full, overlay) = (dir.path().join("full.yaml"), dir.path().join("patch.yaml"));
    audit(&image, &["--patch", full.to_str().unwrap()]);
    let out = overlay.to_str().unwrap();
    audit(&image, &["--patch", out, "--patch-as", "overlay"]);
    let only = documents(&read(&overlay));
    assert_eq!(only.len(), 1, "one document per patched workload: {only:?}");
    assert_eq!(only[0]["metadata"]["namespace"], "shop");

    std::fs::copy(MANIFESTS, dir.path().join("manifests.yaml")).unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources:\n  - manifests.yaml\npatches:\n  - path: patch.yaml\n",
    )
    .unwrap();
    let built = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .expect("run kubectl kustomize");
    let stdout = String::from_utf8_lossy(&built.stdout);
    assert!(
        built.status.success(),
        "kubectl kustomize: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let (kustomized, whole) = (fix(&stdout), fix(&read(&full)));
    assert_eq!(kustomized, whole, "{stdout}");
    // The emptyDirs are there, not merged away.
    assert_eq!(whole[3].as_sequence().map(Vec::len), Some(3), "{whole:?}");
    assert_eq!(
        whole[4]["readOnlyRootFilesystem"],
        Value::Bool(true),
        "{whole:?}"
    );
}

/// `--diff` writes what `--patch` changes as a unified diff that `patch -p1` applies to the
/// manifests: the result is the patched Deployment, and only the Deployment's lines change.
#[test]
fn a_diff_applies_to_the_manifests_with_patch() {
    if !common::ready(Need::Engine) {
        return;
    }
    let image = app_image();
    let dir = common::temp_dir("k8s-diff");
    let diff = dir.path().join("deployment.diff");
    audit(&image, &["--patch", diff.to_str().unwrap(), "--diff"]);
    let text = read(&diff);
    assert!(
        text.starts_with(&format!("--- a/{MANIFESTS}\n+++ b/{MANIFESTS}\n@@ ")),
        "{text}"
    );
    let target = dir.path().join(MANIFESTS);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(MANIFESTS, &target).unwrap();
    let applied = Command::new("patch")
        .args(["-p1", "--forward", "--input"])
        .arg(&diff)
        .current_dir(dir.path())
        .output()
        .expect("run patch");
    assert!(
        applied.status.success(),
        "patch -p1: {}{}",
        String::from_utf8_lossy(&applied.stdout),
        String::from_utf8_lossy(&applied.stderr)
    );
    let patched = read(&target);
    let deployment = deployment(&patched);
    let app = &pod(&deployment).containers[0];
    let security = app.security_context.as_ref().expect("securityContext");
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(mounts(app).len(), 2, "{patched}");
    let original = read(MANIFESTS);
    let service = &original[..original.find("\n---\n").unwrap() + 1];
    assert!(patched.starts_with(service), "{patched}");
}

/// Debian's PostgreSQL ships its cluster in the image, and a claim starts empty. The patch gives
/// the socket directory an emptyDir and the data a claim that an init container of the image
/// fills while it is empty. Started as a kubelet starts it (each volume made as Kubernetes makes
/// it, root's and given to fsGroup; the init containers run to completion; then the server),
/// the server answers.
#[test]
fn a_patched_postgres_deployment_starts_as_a_kubelet_starts_it() {
    if !common::ready(Need::Images("tests/real/build-images.sh")) {
        return;
    }
    let manifests = "tests/specs/deployment-postgres.yaml";
    let dir = common::temp_dir("k8s-postgres");
    let out = dir.path().join("deployment.yaml");
    let args = [
        "audit",
        "-f",
        manifests,
        "--idle",
        "0s",
        "--patch",
        out.to_str().unwrap(),
        "--format",
        "json",
    ];
    let run = common::run(&args);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    let spec: serde_json::Value = serde_json::from_slice(&run.stdout).expect("a JSON report");
    let report = &spec["targets"][0]["report"];
    assert_eq!(report["verification"]["passed"], true, "{report:#}");
    let minimal = &report["verification"]["minimal_mounts"];
    assert_eq!(
        common::mount_paths(minimal),
        ["/run/postgresql", "/var/lib/postgresql/15"],
        "{minimal:#}"
    );
    assert_eq!(minimal[1]["seed"], "once", "{minimal:#}");

    let patched = read(&out);
    let deployment = deployment(&patched);
    let pod = pod(&deployment);
    let image = "rofs-audit-real/postgres:2";
    let fs_group = pod
        .security_context
        .as_ref()
        .and_then(|s| s.fs_group)
        .expect("an fsGroup for the volumes");
    let volumes = pod.volumes.as_ref().expect("volumes");
    assert!(
        volumes.iter().any(|v| v.persistent_volume_claim.is_some()),
        "no claim for the data: {patched}"
    );
    let inits = pod.init_containers.clone().unwrap_or_default();
    assert!(
        inits.iter().any(|c| c
            .command
            .iter()
            .flatten()
            .any(|w| w.contains("/var/lib/postgresql/15"))),
        "no init container fills the claim from the image: {patched}"
    );
    // Each volume as the kubelet makes it: empty, root's, given to fsGroup.
    let mut made = vec![];
    for volume in volumes {
        let name = format!("rofs-k8s-test-{}-{}", std::process::id(), volume.name);
        docker_ok(&["volume", "create", "--label", common::TEST_LABEL, &name]);
        made.push(VolumeGuard(name.clone()));
        let mode = if volume.empty_dir.is_some() {
            "2777"
        } else {
            "2775"
        };
        let setup = format!("chown 0:{fs_group} /v && chmod {mode} /v");
        let mount = format!("{name}:/v");
        docker_ok(&[
            "run",
            "--rm",
            "--label",
            common::TEST_LABEL,
            "--user",
            "0",
            "-v",
            &mount,
            "--entrypoint",
            "sh",
            image,
            "-c",
            &setup,
        ]);
    }
    let volume_args = |container: &Container| -> Vec<String> {
        mounts(container)
            .into_iter()
            .flat_map(|(name, path)| {
                [
                    "-v".to_string(),
                    format!("rofs-k8s-test-{}-{name}:{path}", std::process::id()),
                ]
            })
            .collect()
    };
    let user_args = |container: &Container| -> Vec<String> {
        let user = container
            .security_context
            .as_ref()
            .and_then(|s| s.run_as_user)
            .or(pod.security_context.as_ref().and_then(|s| s.run_as_user));
        let mut args = vec!["--group-add".to_string(), fs_group.to_string()];
        if let Some(uid) = user {
            args.extend(["--user".to_string(), uid.to_string()]);
        }
        args
    };
    for init in &inits {
        let mut args: Vec<String> = ["run", "--rm", "--read-only", "--label", common::TEST_LABEL]
            .map(String::from)
            .to_vec();
        args.extend(user_args(init));
        args.extend(volume_args(init));
        let command = init.command.clone().unwrap_or_default();
        args.extend(["--entrypoint".to_string(), command[0].clone()]);
        args.push(init.image.clone().unwrap_or_else(|| image.to_string()));
        args.extend(command[1..].iter().cloned());
        args.extend(init.args.iter().flatten().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker_ok(&args);
    }
    let app = &pod.containers[0];
    let mut args: Vec<String> = [
        "run",
        "-d",
        "--read-only",
        "--label",
        common::TEST_LABEL,
        "-p",
        "127.0.0.1::5432",
    ]
    .map(String::from)
    .to_vec();
    args.extend(user_args(app));
    args.extend(volume_args(app));
    args.push(image.to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let container = ContainerGuard(docker_ok(&args));
    let psql = [
        "exec",
        container.id(),
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-Atqc",
        "select 1",
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let answered = loop {
        let out = common::docker(&psql);
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the patched Deployment does not start PostgreSQL read-only: {}",
            docker_ok(&["logs", container.id()])
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(answered, "1");
    drop(container);
}

/// A named volume of the test's, removed when dropped.
struct VolumeGuard(String);

impl Drop for VolumeGuard {
    fn drop(&mut self) {
        let _ = common::docker(&["volume", "rm", "-f", &self.0]);
    }
}
