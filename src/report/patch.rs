//! `audit -f FILE --patch OUT`: the deployment spec written back with the proven fix merged in,
//! everything else as it was, key order included: ECS task definitions and CloudFormation
//! templates in JSON, compose files and Kubernetes manifests in YAML or JSON; whole, as an
//! override (a compose override file, a kustomize patch), or as a diff. A document the fix
//! changes is read into values and written anew, so its comments are not kept, but for those
//! that head it; a document it does not change is written back as the file has it.

mod document;
mod kubernetes;
mod proven;
mod tree;

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_yaml_ng::{Mapping, Value};

use super::seed::{self, Copier, SEED_AT};
use crate::model::{Mount, MountKind, MultiReport, Report, Seed};
use crate::profile::{self, Profile, TmpfsOwner};
use crate::spec::{self, SpecKind};
use document::{encode, Spec};
use proven::{new_mounts, patch_each};
use tree::{added, at_path, items, list_at, map_at, mapping};

crate::choice::choice_enum! {
    /// What `--patch` writes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Style {
        Full = "full": "the whole spec with the fixes merged in",
        Overlay = "overlay": "only what the fixes add: a compose override file, for docker-compose -f FILE -f OUT, or a kustomize patch of Kubernetes manifests, for a kustomization's patches",
    }
}

/// Refuses, before anything runs, a patch that could not be written: a spec `write` does not
/// write in `style` (or as a `diff`), no proof to write (`verify` false), or the patch (`out`)
/// and the report (`report_output`) both on standard output.
pub fn check(
    kind: SpecKind,
    text: &str,
    style: Style,
    diff: bool,
    verify: bool,
    out: &Path,
    report_output: Option<&Path>,
) -> Result<()> {
    supported(kind, text, style, diff)?;
    if !verify {
        bail!(
            "--patch writes only proven fixes, and --no-verify proves none; leave --no-verify out"
        );
    }
    if out.as_os_str() == "-" && report_output.is_none() {
        bail!("--patch - and the report would both go to standard output; give the report a file with -o");
    }
    Spec::read(text).map(drop)
}

/// `text`, a spec of `kind`, with each proven fix of `audited` merged in, written in `style` and
/// in the spec's own encoding (JSON or YAML); and a note for each container left as it was, or
/// whose fix needs more than the spec can say. Where no fix changes a document, that document is
/// written as `text` has it, comments included. With `diff` (the spec's file, which names it in
/// the headers), what is written is the unified diff from `text` to the whole patched spec.
pub fn write(
    kind: SpecKind,
    text: &str,
    audited: &MultiReport,
    profile: &Profile,
    style: Style,
    diff: Option<&Path>,
) -> Result<(String, Vec<String>)> {
    supported(kind, text, style, diff.is_some())?;
    let mut spec = Spec::read(text)?;
    let (out, notes) = match kind {
        SpecKind::Kubernetes => {
            let (patched, notes) = kubernetes::patch(&mut spec.documents, audited, spec.json);
            let out = match style {
                Style::Full => spec.text(),
                Style::Overlay => kubernetes::overlay(&spec.documents, &patched),
            };
            (out, notes)
        }
        _ => {
            let (json, indent) = (spec.json, spec.indent);
            let first = spec.first()?;
            let targets = audited.targets.iter().map(|t| (t, t.spec_path.as_deref()));
            let notes = match kind {
                SpecKind::Compose => patch_each(&mut first.value, targets, |spec, path, target| {
                    patch_service(spec, path, &target.report, profile)
                }),
                _ => {
                    // A CloudFormation template spells the task definition's keys in PascalCase.
                    let pascal = first.original.get("Resources").is_some();
                    let key = |camel: &str| match pascal {
                        true => camel[..1].to_uppercase() + &camel[1..],
                        false => camel.to_string(),
                    };
                    patch_each(&mut first.value, targets, |spec, path, target| {
                        patch_container(spec, path, &target.report, profile, &key).map(|()| vec![])
                    })
                }
            };
            let out = match style {
                Style::Full => spec.text(),
                Style::Overlay => encode(&overlay(&first.original, &first.value), json, indent),
            };
            (out, notes)
        }
    };
    let out = match diff {
        Some(file) => unified_diff(file, text, &out),
        None => out,
    };
    Ok((out, notes))
}

/// Refuses a spec that `write` does not write in `style` (or as a `diff`), saying what to do
/// instead.
fn supported(kind: SpecKind, text: &str, style: Style, diff: bool) -> Result<()> {
    let ecs = matches!(kind, SpecKind::Ecs { .. } | SpecKind::CloudFormation { .. });
    if ecs && !spec::is_json(text) {
        bail!("--patch writes task definitions and CloudFormation templates in JSON only (cdk synth writes JSON); for this spec, paste the fix snippets the report prints");
    }
    if ecs && style == Style::Overlay {
        bail!("--patch-as overlay writes compose override files and kustomize patches, and ECS merges no overrides; leave --patch-as out to write the whole spec");
    }
    if diff && style == Style::Overlay {
        bail!("--diff shows the whole spec's changes, and an overlay is a file of its own; leave out --patch-as overlay or --diff");
    }
    Ok(())
}

/// The unified diff from `before` to `after`, both the text of `file`, with `a/` and `b/`
/// headers as git writes them, for `patch -p1` or `git apply`; empty where nothing changed.
fn unified_diff(file: &Path, before: &str, after: &str) -> String {
    // An absolute path would make the headers `a//abs`, which `patch -p1` refuses as unsafe.
    let name = file.display().to_string();
    let name = name.trim_start_matches("./").trim_start_matches('/');
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// Merges `report`'s fix into the container at `path` of `spec`, and its volumes into the task
/// that holds it. A mount that starts with the image's files is a task volume (a tmpfs starts
/// empty), filled by a container of the same image that the app's waits for (see
/// [`seed_container`]).
fn patch_container(
    spec: &mut Value,
    path: &str,
    report: &Report,
    profile: &Profile,
    key: &dyn Fn(&str) -> String,
) -> Result<()> {
    let container = at_path(spec, path)
        .and_then(Value::as_mapping_mut)
        .with_context(|| format!("the spec has no container at {path}"))?;
    container.insert(key("readonlyRootFilesystem").into(), Value::Bool(true));
    let tmpfs = container
        .get(key("linuxParameters"))
        .and_then(|l| l.get(key("tmpfs")));
    let mounted: Vec<&str> = [tmpfs, container.get(key("mountPoints"))]
        .into_iter()
        .flat_map(items)
        .filter_map(|m| m.get(key("containerPath"))?.as_str())
        .collect();
    let mounts = new_mounts(report, &mounted);
    let image = container.get(key("image")).cloned();
    let image = image.unwrap_or_else(|| report.trace.image.reference.as_str().into());
    let (mut volumes, mut seeds) = (vec![], vec![]);
    for (mount, name) in mounts {
        let path = Value::from(mount.path.as_str());
        let kind = match seed::fresh(mount) {
            true => MountKind::Volume,
            false => mount.kind,
        };
        if mount.starts_with() != Seed::Empty {
            seeds.push((mount, name.clone()));
        }
        match kind {
            MountKind::Tmpfs => {
                let owner = profile.tmpfs.owner;
                let options = profile::mount_options(mount, owner, TmpfsOwner::Options);
                let options = options.into_iter().map(Value::from).collect();
                let entry = mapping([
                    (key("containerPath"), path),
                    (key("size"), Value::from(mount.size_mib)),
                    (key("mountOptions"), Value::Sequence(options)),
                ]);
                let linux = map_at(container, &key("linuxParameters"))?;
                list_at(linux, &key("tmpfs"))?.push(entry);
            }
            MountKind::Volume => {
                let point = mapping([
                    (key("sourceVolume"), Value::from(name.as_str())),
                    (key("containerPath"), path),
                    (key("readOnly"), Value::Bool(false)),
                ]);
                list_at(container, &key("mountPoints"))?.push(point);
                volumes.push(name);
            }
        }
    }
    for (_, name) in &seeds {
        let wait = mapping([
            (key("containerName"), Value::from(format!("seed-{name}"))),
            (key("condition"), Value::from("SUCCESS")),
        ]);
        let depends_on = list_at(container, &key("dependsOn"))?;
        if !depends_on.contains(&wait) {
            depends_on.push(wait);
        }
    }
    if !volumes.is_empty() {
        // The task: the path without its last step (`ContainerDefinitions[0]`).
        let task_path = path.rsplit_once('.').map_or("", |(task, _)| task);
        let task = at_path(spec, task_path)
            .and_then(Value::as_mapping_mut)
            .with_context(|| format!("the spec has no task definition at {task_path}"))?;
        // Appended, so that the places of the task's other containers stay as the audit has
        // them; one another container of the task brought for the same volume is its.
        let definitions = list_at(task, &key("containerDefinitions"))?;
        for (mount, volume) in &seeds {
            let name = Value::from(format!("seed-{volume}"));
            if !definitions
                .iter()
                .any(|c| c.get(key("name")) == Some(&name))
            {
                definitions.push(seed_container(mount, volume, &image, key));
            }
        }
        let list = list_at(task, &key("volumes"))?;
        for name in volumes {
            // Another container of the task may have brought the same volume.
            if !list
                .iter()
                .any(|v| v.get(key("name")).and_then(Value::as_str) == Some(&name))
            {
                list.push(mapping([(key("name"), Value::from(name.as_str()))]));
            }
        }
    }
    Ok(())
}

/// The container that fills the task volume `volume` with a copy of the image's files at
/// `mount`'s path, then exits: `seed-VOLUME`, not essential, with a read-only root and the
/// volume at /seed, the one place it writes; as root, since a new task volume is root's, so that
/// `cp -a` gives it the owner and mode of the image's directory. A volume seeded once is filled
/// only while it is empty.
fn seed_container(
    mount: &Mount,
    volume: &str,
    image: &Value,
    key: &dyn Fn(&str) -> String,
) -> Value {
    let command = seed::command(&mount.path, mount.starts_with(), Copier::Root);
    let point = mapping([
        (key("sourceVolume"), Value::from(volume)),
        (key("containerPath"), Value::from(SEED_AT)),
        (key("readOnly"), Value::Bool(false)),
    ]);
    mapping([
        (key("name"), Value::from(format!("seed-{volume}"))),
        (key("image"), image.clone()),
        (key("essential"), Value::Bool(false)),
        (key("user"), Value::from("0")),
        (
            key("command"),
            Value::Sequence(command.into_iter().map(Value::from).collect()),
        ),
        (key("readonlyRootFilesystem"), Value::Bool(true)),
        (key("mountPoints"), Value::Sequence(vec![point])),
    ])
}

/// Merges `report`'s fix into the compose service at `path` (`services.NAME`): `read_only`, a
/// `tmpfs` entry per tmpfs mount, with its owner and size as options, per mount that keeps
/// state a named volume, named after the service too, so that two services never share one, and
/// per mount that starts with a fresh copy of the image's files an anonymous volume, which
/// compose fills from the image when it makes it. What the reader must know comes back as notes.
fn patch_service(
    spec: &mut Value,
    path: &str,
    report: &Report,
    profile: &Profile,
) -> Result<Vec<String>> {
    let name = path.strip_prefix("services.").unwrap_or(path);
    let service = spec
        .get_mut("services")
        .and_then(|s| s.get_mut(name))
        .and_then(Value::as_mapping_mut)
        .with_context(|| format!("the spec has no service at {path}"))?;
    service.insert("read_only".into(), Value::Bool(true));
    let tmpfs = items(service.get("tmpfs")).into_iter().filter_map(|t| {
        let entry = t.as_str()?;
        entry.split(':').next()
    });
    let volumes = items(service.get("volumes"))
        .into_iter()
        .filter_map(|v| spec::volume_target(v).map(|(target, _)| target));
    let mounted: Vec<&str> = tmpfs.chain(volumes).collect();
    let mounts = new_mounts(report, &mounted);
    let (mut volumes, mut fresh) = (vec![], vec![]);
    for (mount, volume) in mounts {
        if seed::fresh(mount) {
            compose_list(service, "volumes")?.push(mount.path.as_str().into());
            fresh.push(mount.path.as_str());
            continue;
        }
        match mount.kind {
            MountKind::Tmpfs => {
                let entry = profile::docker_tmpfs(mount, profile.tmpfs.owner).to_string();
                compose_list(service, "tmpfs")?.push(entry.into());
            }
            MountKind::Volume => {
                let volume = format!("{name}-{volume}");
                let entry = format!("{volume}:{}", mount.path);
                compose_list(service, "volumes")?.push(entry.into());
                volumes.push(volume);
            }
        }
    }
    if !volumes.is_empty() {
        let file = spec.as_mapping_mut().context("the spec is not a map")?;
        let declared = map_at(file, "volumes")?;
        for volume in volumes {
            declared
                .entry(volume.into())
                .or_insert(Value::Mapping(Mapping::new()));
        }
    }
    let mut notes = vec![];
    if !fresh.is_empty() {
        notes.push(format!(
            "{}: an anonymous volume starts with a copy of the image's files there when compose \
             makes it; start with docker-compose up --renew-anon-volumes (-V) so that each start \
             gets a fresh copy",
            fresh.join(", ")
        ));
    }
    Ok(notes)
}

/// What `patched` adds to the compose file `original`, as an override file: `read_only` of each
/// service that runs read-only, even one that already did, so that the override says which do;
/// the `tmpfs` and `volumes` entries each service gained, since compose appends an override's
/// entries to the file's own; and the named volumes they use. `version` goes in as the file has
/// it: docker-compose 1 takes a file with no version and no services for its old version 1
/// format, which it refuses to merge with any other.
fn overlay(original: &Value, patched: &Value) -> Value {
    let mut services = Mapping::new();
    let patched_services = patched.get("services").and_then(Value::as_mapping);
    for (name, after) in patched_services.into_iter().flatten() {
        let before = original.get("services").and_then(|s| s.get(name));
        let mut service = Mapping::new();
        if after.get("read_only") == Some(&Value::Bool(true)) {
            service.insert("read_only".into(), Value::Bool(true));
        }
        for key in ["tmpfs", "volumes"] {
            let was = before.and_then(|b| b.get(key));
            if let Some(new) = after.get(key).and_then(|now| added(was, now)) {
                service.insert(key.into(), new);
            }
        }
        if !service.is_empty() {
            services.insert(name.clone(), Value::Mapping(service));
        }
    }
    let mut file = Mapping::new();
    if let Some(version) = original.get("version") {
        file.insert("version".into(), version.clone());
    }
    file.insert("services".into(), Value::Mapping(services));
    let volumes = patched.get("volumes");
    if let Some(new) = volumes.and_then(|now| added(original.get("volumes"), now)) {
        file.insert("volumes".into(), new);
    }
    Value::Mapping(file)
}

/// The list at `key` of a compose service, where compose also takes one string for a list.
fn compose_list<'a>(service: &'a mut Mapping, key: &str) -> Result<&'a mut Vec<Value>> {
    if let Some(one @ Value::String(_)) = service.get_mut(key) {
        *one = Value::Sequence(vec![one.clone()]);
    }
    list_at(service, key)
}

#[cfg(test)]
mod tests {
    use super::document::{head, json_indent, split_documents};
    use super::*;

    #[test]
    fn a_json_spec_keeps_its_indent_so_its_diff_holds_only_the_fix() {
        assert_eq!(json_indent("{\n \"Resources\": {}\n}\n"), " ");
        assert_eq!(json_indent("{\n\t\"a\": 1\n}"), "\t");
        assert_eq!(json_indent("{}"), "  ");
        let value: Value = serde_yaml_ng::from_str("{\"a\": {\"b\": [1]}}").unwrap();
        assert_eq!(
            encode(&value, true, " "),
            "{\n \"a\": {\n  \"b\": [\n   1\n  ]\n }\n}"
        );
    }
    use crate::model::{TargetReport, SCHEMA_VERSION};
    use crate::report::testdata;

    /// Two task definitions whose containers have one name; the second's LinuxParameters is
    /// given by a function when `intrinsic`.
    fn template(intrinsic: bool) -> String {
        let linux = match intrinsic {
            true => r#"{"Fn::If": ["Big", {"InitProcessEnabled": true}, {"Ref": "AWS::NoValue"}]}"#,
            false => r#"{"InitProcessEnabled": true}"#,
        };
        format!(
            r#"{{"Resources": {{
                "TaskA": {{"Type": "AWS::ECS::TaskDefinition", "Properties": {{
                    "ContainerDefinitions": [{{"Name": "app", "Image": "a:1"}}]}}}},
                "Queue": {{"Type": "AWS::SQS::Queue"}},
                "TaskB": {{"Type": "AWS::ECS::TaskDefinition", "Properties": {{
                    "ContainerDefinitions": [{{"Name": "app", "Image": "b:1",
                        "LinuxParameters": {linux}}}]}}}}
            }}}}"#
        )
    }

    /// The audit of each (name, place in the spec, report).
    pub(super) fn audited<const N: usize>(targets: [(&str, String, Report); N]) -> MultiReport {
        let targets = targets
            .into_iter()
            .map(|(name, path, report)| TargetReport {
                name: name.into(),
                defined_at: format!("spec ({path})"),
                spec_path: Some(path),
                notes: vec![],
                duration_ms: None,
                report,
            });
        MultiReport {
            schema_version: SCHEMA_VERSION,
            source: "spec".into(),
            targets: targets.collect(),
        }
    }

    fn targets(a: Report, b: Report) -> MultiReport {
        let at = |task: &str| format!("Resources.{task}.Properties.ContainerDefinitions[0]");
        audited([("app", at("TaskA"), a), ("app", at("TaskB"), b)])
    }

    fn cloudformation(
        text: &str,
        audited: &MultiReport,
        profile: &Profile,
    ) -> (String, Vec<String>) {
        let kind = SpecKind::CloudFormation { fargate: true };
        write(kind, text, audited, profile, Style::Full, None).unwrap()
    }

    fn container<'a>(v: &'a serde_json::Value, task: &str) -> &'a serde_json::Value {
        &v["Resources"][task]["Properties"]["ContainerDefinitions"][0]
    }

    #[test]
    fn each_container_gets_its_own_fix_by_its_place_in_the_spec() {
        let (proven, profile) = testdata::proven();
        let (unproven, _) = testdata::unproven();
        let (out, notes) = cloudformation(&template(false), &targets(unproven, proven), &profile);
        let at = |key: &str| out.find(&format!("\"{key}\"")).unwrap();
        assert!(
            at("TaskA") < at("Queue") && at("Queue") < at("TaskB"),
            "the order is kept"
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            container(&v, "TaskA"),
            &serde_json::json!({"Name": "app", "Image": "a:1"})
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("app: not patched: no read-only run passed"));
        let b = container(&v, "TaskB");
        assert_eq!(b["ReadonlyRootFilesystem"], true);
        assert_eq!(b["LinuxParameters"]["InitProcessEnabled"], true);
        let tmpfs = b["LinuxParameters"]["Tmpfs"].as_array().unwrap();
        assert_eq!(tmpfs.len(), 2, "{b:#}");
        assert_eq!(tmpfs[0]["ContainerPath"], "/var/lib/app");
    }

    #[test]
    fn a_key_given_by_a_function_is_left_alone_and_named() {
        let (proven, profile) = testdata::proven();
        let (out, notes) =
            cloudformation(&template(true), &targets(proven.clone(), proven), &profile);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(container(&v, "TaskA")["ReadonlyRootFilesystem"], true);
        let original: serde_json::Value = serde_json::from_str(&template(true)).unwrap();
        assert_eq!(container(&v, "TaskB"), container(&original, "TaskB"));
        assert_eq!(
            notes,
            ["app: not patched: its LinuxParameters is given by Fn::If; merge its fix by hand"]
        );
    }

    /// Three services: `web` merges in a base and has a tmpfs, `worker` a read-only bind mount,
    /// `db` nothing; the file has a version, an extension field and a volume of its own.
    const COMPOSE: &str = r#"# The stack.
version: "3.8"
x-base: &base
  restart: "no"
services:
  web:
    <<: *base
    image: web:1
    tmpfs: /tmp:size=16m
    ports: ["22:22"]
  worker:
    image: worker:1
    volumes:
      - ./conf:/etc/worker:ro
  db:
    image: db:1
volumes:
  other: {}
"#;

    /// `web` and `worker` proven, `worker` keeping state at /var/lib/app, and `db` unproven.
    fn stack() -> (MultiReport, Profile) {
        let (web, profile) = testdata::proven();
        let mut worker = web.clone();
        let state = &mut worker.verification.as_mut().unwrap().minimal_mounts[0];
        assert_eq!(state.path, "/var/lib/app");
        (state.kind, state.state) = (MountKind::Volume, true);
        let (db, _) = testdata::unproven();
        let at = |name: &str| format!("services.{name}");
        let targets = [
            ("web", at("web"), web),
            ("worker", at("worker"), worker),
            ("db", at("db"), db),
        ];
        (audited(targets), profile)
    }

    fn compose(text: &str, style: Style) -> (String, Vec<String>) {
        let (audited, profile) = stack();
        write(SpecKind::Compose, text, &audited, &profile, style, None).unwrap()
    }

    const RUN: &str = "/var/run/app:noexec,nosuid,nodev,uid=1000,gid=1000,size=16m";
    const LIB: &str = "/var/lib/app:noexec,nosuid,nodev,uid=1000,gid=1000,size=16m";

    #[test]
    fn each_compose_service_gets_its_fix_and_keeps_the_rest_in_order() {
        let (out, notes) = compose(COMPOSE, Style::Full);
        assert_eq!(
            notes,
            ["db: not patched: no read-only run passed with the planned mounts (see its report)"]
        );
        let v: Value = serde_yaml_ng::from_str(&out).unwrap();
        let keys = |v: &Value| -> Vec<String> {
            let keys = v.as_mapping().unwrap().keys();
            keys.map(|k| k.as_str().unwrap().to_string()).collect()
        };
        assert_eq!(keys(&v), ["version", "x-base", "services", "volumes"]);
        assert_eq!(keys(&v["services"]), ["web", "worker", "db"]);
        // The merged-in base takes the place of its merge key.
        assert_eq!(
            keys(&v["services"]["web"]),
            ["restart", "image", "tmpfs", "ports", "read_only"]
        );
        let web = &v["services"]["web"];
        assert_eq!(web["read_only"], true);
        assert_eq!(
            serde_yaml_ng::from_value::<Vec<String>>(web["tmpfs"].clone()).unwrap(),
            ["/tmp:size=16m", LIB, RUN]
        );
        let worker = &v["services"]["worker"];
        assert_eq!(
            serde_yaml_ng::from_value::<Vec<String>>(worker["volumes"].clone()).unwrap(),
            ["./conf:/etc/worker:ro", "worker-var-lib-app:/var/lib/app"]
        );
        assert_eq!(worker["tmpfs"][0], RUN);
        assert_eq!(keys(&v["volumes"]), ["other", "worker-var-lib-app"]);
        let original: Value = serde_yaml_ng::from_str(COMPOSE).unwrap();
        assert_eq!(v["services"]["db"], original["services"]["db"]);
        // The comment heading the file stays; those inside it go with the YAML reader.
        assert!(out.starts_with("# The stack.\nversion: "), "{out}");
        // What YAML 1.1 (docker-compose 1) would misread stays quoted.
        assert!(
            out.contains("restart: \"no\"") && out.contains("- \"22:22\""),
            "{out}"
        );

        // The spec reader takes the patched services as read-only, with the fix's mounts.
        let deployment = crate::spec::read(Path::new("out.yaml"), &out, &[]).unwrap();
        let worker = &deployment.targets[1];
        assert!(worker.read_only);
        let paths: Vec<&str> = worker.mounts.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["/var/run/app", "/var/lib/app"]);
    }

    #[test]
    fn a_patched_compose_file_patched_again_is_the_same_text() {
        let (once, _) = compose(COMPOSE, Style::Full);
        let (twice, _) = compose(&once, Style::Full);
        assert_eq!(twice, once);
        // The override still says which services run read-only.
        let (overlay, _) = compose(&once, Style::Overlay);
        assert_eq!(
            overlay,
            "version: \"3.8\"\nservices:\n  web:\n    read_only: true\n  worker:\n    read_only: true\n"
        );
    }

    #[test]
    fn a_read_only_service_with_its_declared_mounts_is_left_as_written() {
        let text = "services:\n  web:  # the app\n    image: web:1\n    read_only: true\n";
        let (mut report, profile) = testdata::proven();
        report.verification.as_mut().unwrap().minimal_mounts.clear();
        let audited = audited([("web", "services.web".into(), report)]);
        let (out, notes) = write(
            SpecKind::Compose,
            text,
            &audited,
            &profile,
            Style::Full,
            None,
        )
        .unwrap();
        assert_eq!((out.as_str(), notes.len()), (text, 0));
    }

    #[test]
    fn a_compose_overlay_holds_only_what_the_fixes_add() {
        let (out, _) = compose(COMPOSE, Style::Overlay);
        assert_eq!(
            out,
            format!(
                r#"version: "3.8"
services:
  web:
    read_only: true
    tmpfs:
      - {LIB}
      - {RUN}
  worker:
    read_only: true
    tmpfs:
      - {RUN}
    volumes:
      - worker-var-lib-app:/var/lib/app
volumes:
  worker-var-lib-app: {{}}
"#
            )
        );
    }

    #[test]
    fn a_json_compose_file_is_written_back_as_json() {
        let text = r#"{"services": {"web": {"image": "web:1"}, "worker": {"image": "w:1"}}}"#;
        let (out, _) = compose(text, Style::Full);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["services"]["web"]["read_only"], true);
        assert_eq!(v["volumes"]["worker-var-lib-app"], serde_json::json!({}));
    }

    #[test]
    fn a_compose_mount_that_starts_with_a_fresh_copy_is_an_anonymous_volume() {
        let text = "services:\n  web:\n    image: web:1\n";
        let (seeded, profile) = testdata::seeded();
        let audited = audited([("web", "services.web".into(), seeded)]);
        let patch = |text: &str, style| {
            write(SpecKind::Compose, text, &audited, &profile, style, None).unwrap()
        };
        let (out, notes) = patch(text, Style::Full);
        let v: Value = serde_yaml_ng::from_str(&out).unwrap();
        let list = |v: &Value| serde_yaml_ng::from_value::<Vec<String>>(v.clone()).unwrap();
        let web = &v["services"]["web"];
        assert_eq!(
            list(&web["volumes"]),
            ["/scratch", "/var/cache/app", "web-var-lib-app:/var/lib/app"]
        );
        assert_eq!(list(&web["tmpfs"]), [RUN]);
        let named = v["volumes"].as_mapping().unwrap().keys();
        assert_eq!(named.collect::<Vec<_>>(), ["web-var-lib-app"]);
        assert_eq!(
            notes,
            [
                "web: /scratch, /var/cache/app: an anonymous volume starts with a copy of the \
                 image's files there when compose makes it; start with docker-compose up \
                 --renew-anon-volumes (-V) so that each start gets a fresh copy"
            ]
        );
        // The spec reader takes the anonymous volumes as mounts: patched again, nothing changes.
        let deployment = crate::spec::read(Path::new("out.yaml"), &out, &[]).unwrap();
        let paths: Vec<&str> = deployment.targets[0]
            .mounts
            .iter()
            .map(|m| m.path.as_str())
            .collect();
        assert_eq!(
            paths,
            ["/var/run/app", "/scratch", "/var/cache/app", "/var/lib/app"]
        );
        assert_eq!(patch(&out, Style::Full).0, out);
        let (overlay, _) = patch(text, Style::Overlay);
        assert!(
            overlay.contains("    volumes:\n      - /scratch\n      - /var/cache/app\n"),
            "{overlay}"
        );
    }

    /// A task definition, as registered, whose one container is audited with `report`.
    fn task(report: Report, text: &str, kind: SpecKind) -> (String, Vec<String>) {
        let (_, profile) = testdata::seeded();
        let path = match kind {
            SpecKind::CloudFormation { .. } => "Resources.TaskA.Properties.ContainerDefinitions[0]",
            _ => "containerDefinitions[0]",
        };
        let audited = audited([("app", path.into(), report)]);
        write(kind, text, &audited, &profile, Style::Full, None).unwrap()
    }

    #[test]
    fn an_ecs_mount_that_starts_with_the_images_files_gets_a_seed_container() {
        let text = r#"{
  "family": "app",
  "containerDefinitions": [
    {"name": "app", "image": "app:1", "essential": true}
  ]
}
"#;
        let kind = SpecKind::Ecs { fargate: true };
        let (seeded, _) = testdata::seeded();
        let (out, notes) = task(seeded.clone(), text, kind);
        assert_eq!(notes, Vec::<String>::new());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let containers = v["containerDefinitions"].as_array().unwrap();
        let app = &containers[0];
        assert_eq!(
            app["linuxParameters"]["tmpfs"][0]["containerPath"],
            "/var/run/app"
        );
        let points: Vec<&str> = app["mountPoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["containerPath"].as_str().unwrap())
            .collect();
        assert_eq!(points, ["/scratch", "/var/cache/app", "/var/lib/app"]);
        let seeds = ["seed-scratch", "seed-var-cache-app", "seed-var-lib-app"];
        let depends: Vec<&serde_json::Value> =
            app["dependsOn"].as_array().unwrap().iter().collect();
        assert_eq!(depends.len(), 3);
        for (wait, name) in depends.iter().zip(seeds) {
            assert_eq!(
                **wait,
                serde_json::json!({"containerName": name, "condition": "SUCCESS"})
            );
        }
        let names: Vec<&str> = containers[1..]
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, seeds);
        assert_eq!(
            containers[2],
            serde_json::json!({
                "name": "seed-var-cache-app",
                "image": "app:1",
                "essential": false,
                "user": "0",
                "command": ["cp", "-a", "/var/cache/app/.", "/seed/"],
                "readonlyRootFilesystem": true,
                "mountPoints": [
                    {"sourceVolume": "var-cache-app", "containerPath": "/seed", "readOnly": false}
                ]
            })
        );
        assert_eq!(containers[3]["command"][0], "sh");
        assert_eq!(v["volumes"].as_array().unwrap().len(), 3);
        // Patched again, nothing changes.
        assert_eq!(task(seeded.clone(), &out, kind).0, out);

        // A template spells every key of the seed container in PascalCase.
        let (out, _) = task(
            seeded,
            &template(false),
            SpecKind::CloudFormation { fargate: true },
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let definitions = &v["Resources"]["TaskA"]["Properties"]["ContainerDefinitions"];
        assert_eq!(
            definitions[0]["DependsOn"][0]["ContainerName"],
            "seed-scratch"
        );
        let seed = &definitions[1];
        assert_eq!(seed["Name"], "seed-scratch");
        assert_eq!(seed["Essential"], false);
        assert_eq!(seed["MountPoints"][0]["ContainerPath"], "/seed");
        assert!(seed.get("essential").is_none(), "{seed:#}");
    }

    #[test]
    fn a_yaml_stream_splits_at_its_separators_with_the_remarks_before_the_first() {
        let split =
            |text| split_documents(text, serde_yaml_ng::Deserializer::from_str(text).count());
        assert_eq!(
            split("# c\n---\na: 1\n---  # two\nb: 2\n"),
            Some(vec!["# c\n---\na: 1\n", "---  # two\nb: 2\n"])
        );
        assert_eq!(split("a: 1\n---\nb: 2"), Some(vec!["a: 1\n", "---\nb: 2"]));
        assert_eq!(
            split("--- {a: 1}\n--- b\n"),
            Some(vec!["--- {a: 1}\n", "--- b\n"])
        );
        assert_eq!(split("a: |\n  ---x\n"), Some(vec!["a: |\n  ---x\n"]));
        assert_eq!(split(""), Some(vec![""]));
        assert_eq!(
            split("a: 1\n...\n%YAML 1.2\n---\nb: 2\n"),
            Some(vec!["a: 1\n...\n%YAML 1.2\n", "---\nb: 2\n"])
        );
        // Where the separators do not give the reader's documents, no text is kept.
        assert_eq!(split_documents("a: 1\n", 2), None);
        assert_eq!(
            head("---  # two\n\n# b\nb: 2\n# end\n", false),
            "---  # two\n\n# b\n"
        );
        assert_eq!(head("--- {a: 1}\n", false), "---\n");
        assert_eq!(head("\n  {\"a\": 1}", true), "\n  ");
    }

    #[test]
    fn a_diff_holds_the_changes_with_git_headers_and_nothing_when_nothing_changed() {
        let text = "# The stack.\nservices:\n  web:\n    image: web:1\n";
        let (proven, profile) = testdata::proven();
        let audited = audited([("web", "services.web".into(), proven)]);
        let file = Path::new("./deploy/compose.yaml");
        let diff = |text: &str| {
            let kind = SpecKind::Compose;
            write(kind, text, &audited, &profile, Style::Full, Some(file))
                .unwrap()
                .0
        };
        let out = diff(text);
        assert_eq!(
            out,
            format!(
                "--- a/deploy/compose.yaml\n+++ b/deploy/compose.yaml\n@@ -2,3 +2,7 @@\n \
                 services:\n   web:\n     image: web:1\n+    read_only: true\n+    tmpfs:\n+      \
                 - {LIB}\n+      - {RUN}\n"
            )
        );
        let (patched, _) = write(
            SpecKind::Compose,
            text,
            &audited,
            &profile,
            Style::Full,
            None,
        )
        .unwrap();
        assert_eq!(diff(&patched), "");
        let refused = write(
            SpecKind::Compose,
            text,
            &audited,
            &profile,
            Style::Overlay,
            Some(file),
        );
        assert_eq!(
            refused.unwrap_err().to_string(),
            "--diff shows the whole spec's changes, and an overlay is a file of its own; leave out \
             --patch-as overlay or --diff"
        );
    }
}
