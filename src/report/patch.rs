//! `audit -f FILE --patch OUT`: the deployment spec written back with the proven fix merged in,
//! everything else as it was, key order included.

use anyhow::{bail, Context, Result};
use serde_yaml_ng::{Mapping, Value};

use super::findings::mount_names;
use crate::model::{MountKind, MultiReport};
use crate::profile::{self, Profile, TmpfsOwner};

/// The ECS task definition in `text` (as registered, or wrapped in `taskDefinition` as
/// `describe-task-definition` prints it) with each audited container's proven fix merged in:
/// `readonlyRootFilesystem`, its tmpfs mounts under `linuxParameters.tmpfs`, and a task volume
/// with a mount point for each mount that keeps state. A container without a passing proof is
/// left as it was; the notes say which, and why.
pub fn ecs(text: &str, audited: &MultiReport, profile: &Profile) -> Result<(String, Vec<String>)> {
    // Read as YAML (JSON is YAML) for its order-keeping map; written back as JSON.
    let mut spec: Value = serde_yaml_ng::from_str(text).context("the spec to patch")?;
    let task = match spec.get("taskDefinition").is_some() {
        true => spec.get_mut("taskDefinition"),
        false => Some(&mut spec),
    };
    let Some(task) = task.and_then(Value::as_mapping_mut) else {
        bail!("the spec is not an ECS task definition; --patch writes ECS task definitions");
    };
    let mut notes = vec![];
    let mut task_volumes = vec![];
    for target in &audited.targets {
        let report = &target.report;
        if !report.verification.as_ref().is_some_and(|v| v.passed) {
            notes.push(format!(
                "{}: not patched: no read-only run passed with the planned mounts (see its \
                 report)",
                target.name
            ));
            continue;
        }
        let Some(container) = container(task, &target.name) else {
            bail!("{}: no such container in the spec to patch", target.name);
        };
        container.insert("readonlyRootFilesystem".into(), Value::Bool(true));
        let mounts = report.fix_mounts();
        let names = mount_names(&mounts);
        for (mount, name) in mounts.iter().zip(names) {
            match mount.kind {
                MountKind::Tmpfs => {
                    let options =
                        profile::mount_options(mount, profile.tmpfs.owner, TmpfsOwner::Options);
                    let entry = mapping([
                        ("containerPath", Value::from(mount.path.as_str())),
                        ("size", Value::from(mount.size_mib)),
                        (
                            "mountOptions",
                            Value::Sequence(options.into_iter().map(Value::from).collect()),
                        ),
                    ]);
                    let linux = map_at(container, "linuxParameters")?;
                    push_new(
                        list_at(linux, "tmpfs")?,
                        "containerPath",
                        &mount.path,
                        entry,
                    );
                }
                MountKind::Volume => {
                    let point = mapping([
                        ("sourceVolume", Value::from(name.as_str())),
                        ("containerPath", Value::from(mount.path.as_str())),
                        ("readOnly", Value::Bool(false)),
                    ]);
                    let points = list_at(container, "mountPoints")?;
                    push_new(points, "containerPath", &mount.path, point);
                    task_volumes.push(name);
                }
            }
        }
    }
    if !task_volumes.is_empty() {
        let volumes = list_at(task, "volumes")?;
        for name in task_volumes {
            let volume = mapping([("name", Value::from(name.as_str()))]);
            push_new(volumes, "name", &name, volume);
        }
    }
    let mut out = serde_json::to_string_pretty(&spec)?;
    out.push('\n');
    Ok((out, notes))
}

fn mapping<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Mapping(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// The container definition named `name`.
fn container<'a>(task: &'a mut Mapping, name: &str) -> Option<&'a mut Mapping> {
    let containers = task.get_mut("containerDefinitions")?.as_sequence_mut()?;
    containers
        .iter_mut()
        .filter_map(Value::as_mapping_mut)
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

/// The map at `key` of `map`, made when absent.
fn map_at<'a>(map: &'a mut Mapping, key: &str) -> Result<&'a mut Mapping> {
    let value = map
        .entry(key.into())
        .or_insert(Value::Mapping(Mapping::new()));
    value
        .as_mapping_mut()
        .with_context(|| format!("{key} in the spec is not a map; fix the spec"))
}

/// The list at `key` of `map`, made when absent.
fn list_at<'a>(map: &'a mut Mapping, key: &str) -> Result<&'a mut Vec<Value>> {
    let value = map.entry(key.into()).or_insert(Value::Sequence(vec![]));
    value
        .as_sequence_mut()
        .with_context(|| format!("{key} in the spec is not a list; fix the spec"))
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
