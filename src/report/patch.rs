//! `audit -f FILE --patch OUT`: the deployment spec written back with the proven fix merged in,
//! everything else as it was, key order included.

use anyhow::{bail, Context, Result};
use serde_yaml_ng::{Mapping, Value};

use super::findings::mount_names;
use crate::model::{MountKind, MultiReport, Report};
use crate::profile::{self, Profile, TmpfsOwner};

/// The ECS task definitions of a JSON spec (`text`: a task definition, or a CloudFormation
/// template, whose keys are PascalCase) with each audited container's proven fix merged in:
/// `readonlyRootFilesystem`, its tmpfs mounts under `linuxParameters.tmpfs`, and a task volume
/// with a mount point for each mount that keeps state. Each container is found by its path in
/// the spec. A container without a passing proof, or whose keys the fix would go into are given
/// by a CloudFormation function (`Fn::If`), is left as it was; the notes say which, and why.
pub fn task_definitions(
    text: &str,
    audited: &MultiReport,
    profile: &Profile,
) -> Result<(String, Vec<String>)> {
    // Read into an order-keeping map (JSON is YAML), so every other key stays in its place.
    let mut spec: Value = serde_yaml_ng::from_str(text).context("the spec to patch")?;
    let pascal = spec.get("Resources").is_some();
    let key = |camel: &str| match pascal {
        true => camel[..1].to_uppercase() + &camel[1..],
        false => camel.to_string(),
    };
    let mut notes = vec![];
    for target in &audited.targets {
        let Some(path) = &target.spec_path else {
            continue;
        };
        if !target
            .report
            .verification
            .as_ref()
            .is_some_and(|v| v.passed)
        {
            notes.push(format!(
                "{}: not patched: no read-only run passed with the planned mounts (see its \
                 report)",
                target.name
            ));
            continue;
        }
        let before = spec.clone();
        if let Err(e) = patch_container(&mut spec, path, &target.report, profile, &key) {
            spec = before;
            notes.push(format!(
                "{}: not patched: {e}; merge its fix by hand",
                target.name
            ));
        }
    }
    let mut out = serde_json::to_string_pretty(&spec)?;
    out.push('\n');
    Ok((out, notes))
}

/// Merges `report`'s fix into the container at `path` of `spec`, and its volumes into the task
/// that holds it.
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
    let mounts = report.fix_mounts();
    let names = mount_names(&mounts);
    let mut volumes = vec![];
    for (mount, name) in mounts.iter().zip(names) {
        let path = Value::from(mount.path.as_str());
        match mount.kind {
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
                let tmpfs = list_at(linux, &key("tmpfs"))?;
                push_new(tmpfs, &key("containerPath"), &mount.path, entry);
            }
            MountKind::Volume => {
                let point = mapping([
                    (key("sourceVolume"), Value::from(name.as_str())),
                    (key("containerPath"), path),
                    (key("readOnly"), Value::Bool(false)),
                ]);
                let points = list_at(container, &key("mountPoints"))?;
                push_new(points, &key("containerPath"), &mount.path, point);
                volumes.push(name);
            }
        }
    }
    if !volumes.is_empty() {
        // The task: the path without its last step (`ContainerDefinitions[0]`).
        let task_path = path.rsplit_once('.').map_or("", |(task, _)| task);
        let task = at_path(spec, task_path)
            .and_then(Value::as_mapping_mut)
            .with_context(|| format!("the spec has no task definition at {task_path}"))?;
        let list = list_at(task, &key("volumes"))?;
        for name in volumes {
            let volume = mapping([(key("name"), Value::from(name.as_str()))]);
            push_new(list, &key("name"), &name, volume);
        }
    }
    Ok(())
}

/// The value at `path` (`a.b[2].c`, as the spec reader names places; empty for the document).
fn at_path<'a>(mut value: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    for step in path.split('.').filter(|s| !s.is_empty()) {
        let (name, index) = match step.split_once('[') {
            Some((name, rest)) => (name, rest.strip_suffix(']')?.parse::<usize>().ok()),
            None => (step, None),
        };
        value = value.get_mut(name)?;
        if let Some(i) = index {
            value = value.get_mut(i)?;
        }
    }
    Some(value)
}

fn mapping<const N: usize>(entries: [(String, Value); N]) -> Value {
    Value::Mapping(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// The map at `key` of `map`, made when absent.
fn map_at<'a>(map: &'a mut Mapping, key: &str) -> Result<&'a mut Mapping> {
    let value = map
        .entry(key.into())
        .or_insert(Value::Mapping(Mapping::new()));
    refuse_function(key, value)?;
    value
        .as_mapping_mut()
        .with_context(|| format!("its {key} is not a map"))
}

/// The list at `key` of `map`, made when absent.
fn list_at<'a>(map: &'a mut Mapping, key: &str) -> Result<&'a mut Vec<Value>> {
    let value = map.entry(key.into()).or_insert(Value::Sequence(vec![]));
    refuse_function(key, value)?;
    value
        .as_sequence_mut()
        .with_context(|| format!("its {key} is not a list"))
}

/// A CloudFormation function (`{"Fn::If": ...}`, `{"Ref": ...}`) decides `key`'s value only when
/// the stack is deployed: nothing can be merged into it.
fn refuse_function(key: &str, value: &Value) -> Result<()> {
    let function = value.as_mapping().filter(|m| m.len() == 1).and_then(|m| {
        let name = m.keys().next()?.as_str()?;
        (name == "Ref" || name.starts_with("Fn::")).then_some(name)
    });
    match function {
        Some(name) => bail!("its {key} is given by {name}"),
        None => Ok(()),
    }
}

/// Appends `entry` to `items` unless an entry already has `key` equal to `value`: a mount the
/// spec already declares stays as the spec has it.
fn push_new(items: &mut Vec<Value>, key: &str, value: &str, entry: Value) {
    if !items
        .iter()
        .any(|i| i.get(key).and_then(Value::as_str) == Some(value))
    {
        items.push(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn targets(a: Report, b: Report) -> MultiReport {
        let target = |task: &str, report| TargetReport {
            name: "app".into(),
            defined_at: format!("template.json ({task})"),
            spec_path: Some(format!(
                "Resources.{task}.Properties.ContainerDefinitions[0]"
            )),
            notes: vec![],
            duration_ms: None,
            report,
        };
        MultiReport {
            schema_version: SCHEMA_VERSION,
            source: "template.json".into(),
            targets: vec![target("TaskA", a), target("TaskB", b)],
        }
    }

    fn container<'a>(v: &'a serde_json::Value, task: &str) -> &'a serde_json::Value {
        &v["Resources"][task]["Properties"]["ContainerDefinitions"][0]
    }

    #[test]
    fn each_container_gets_its_own_fix_by_its_place_in_the_spec() {
        let (proven, profile) = testdata::proven();
        let (unproven, _) = testdata::unproven();
        let (out, notes) =
            task_definitions(&template(false), &targets(unproven, proven), &profile).unwrap();
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
            task_definitions(&template(true), &targets(proven.clone(), proven), &profile).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(container(&v, "TaskA")["ReadonlyRootFilesystem"], true);
        let original: serde_json::Value = serde_json::from_str(&template(true)).unwrap();
        assert_eq!(container(&v, "TaskB"), container(&original, "TaskB"));
        assert_eq!(
            notes,
            ["app: not patched: its LinuxParameters is given by Fn::If; merge its fix by hand"]
        );
    }
}
