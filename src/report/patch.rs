//! `audit -f FILE --patch OUT`: the deployment spec written back with the proven fix merged in,
//! everything else as it was, key order included.

use anyhow::{bail, Context, Result};
use serde_yaml_ng::{Mapping, Value};

use super::findings::mount_names;
use crate::model::{MountKind, MultiReport};
use crate::profile::{self, Profile, TmpfsOwner};
use crate::spec::SpecKind;

const TASK_DEFINITION: &str = "AWS::ECS::TaskDefinition";

/// The ECS task definitions of a spec (`text`) with each audited container's proven fix merged
/// in: `readonlyRootFilesystem`, its tmpfs mounts under `linuxParameters.tmpfs`, and a task
/// volume with a mount point for each mount that keeps state. `kind` says where the task
/// definitions are: the document itself (or its `taskDefinition`, as `describe-task-definition`
/// prints it), or a CloudFormation template's `AWS::ECS::TaskDefinition` resources, whose keys
/// are PascalCase. A container without a passing proof is left as it was; the notes say which.
/// A JSON spec is written back as JSON, a YAML template as YAML (without its comments).
pub fn task_definitions(
    text: &str,
    kind: SpecKind,
    audited: &MultiReport,
    profile: &Profile,
) -> Result<(String, Vec<String>)> {
    // Read into an order-keeping map (JSON is YAML), so every other key stays in its place.
    let mut spec: Value = serde_yaml_ng::from_str(text).context("the spec to patch")?;
    let (tasks, pascal): (Vec<&mut Mapping>, bool) = match kind {
        SpecKind::Ecs { .. } => {
            let task = match spec.get("taskDefinition").is_some() {
                true => spec.get_mut("taskDefinition"),
                false => Some(&mut spec),
            };
            (
                task.and_then(Value::as_mapping_mut).into_iter().collect(),
                false,
            )
        }
        SpecKind::CloudFormation { .. } => {
            let resources = spec.get_mut("Resources").and_then(Value::as_mapping_mut);
            let tasks = resources
                .into_iter()
                .flat_map(|r| r.values_mut())
                .filter(|r| r.get("Type").and_then(Value::as_str) == Some(TASK_DEFINITION))
                .filter_map(|r| r.get_mut("Properties").and_then(Value::as_mapping_mut))
                .collect();
            (tasks, true)
        }
        _ => bail!("--patch writes ECS task definitions and CloudFormation templates for now"),
    };
    let key = |camel: &str| match pascal {
        true => camel[..1].to_uppercase() + &camel[1..],
        false => camel.to_string(),
    };
    let mut notes = vec![];
    let mut patched = 0;
    for task in tasks {
        let mut volumes = vec![];
        for target in &audited.targets {
            let report = &target.report;
            let Some(container) = container(
                task,
                &key("containerDefinitions"),
                &key("name"),
                &target.name,
            ) else {
                continue;
            };
            patched += 1;
            if !report.verification.as_ref().is_some_and(|v| v.passed) {
                notes.push(format!(
                    "{}: not patched: no read-only run passed with the planned mounts (see its \
                     report)",
                    target.name
                ));
                continue;
            }
            container.insert(key("readonlyRootFilesystem").into(), Value::Bool(true));
            let mounts = report.fix_mounts();
            let names = mount_names(&mounts);
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
        }
        if !volumes.is_empty() {
            let list = list_at(task, &key("volumes"))?;
            for name in volumes {
                let volume = mapping([(key("name"), Value::from(name.as_str()))]);
                push_new(list, &key("name"), &name, volume);
            }
        }
    }
    if patched == 0 {
        bail!("no audited container is in the spec to patch");
    }
    let out = match text.trim_start().starts_with('{') {
        true => serde_json::to_string_pretty(&spec)? + "\n",
        false => serde_yaml_ng::to_string(&spec)?,
    };
    Ok((out, notes))
}

fn mapping<const N: usize>(entries: [(String, Value); N]) -> Value {
    Value::Mapping(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// The container definition (in the list at `list`) whose `name_key` is `name`.
fn container<'a>(
    task: &'a mut Mapping,
    list: &str,
    name_key: &str,
    name: &str,
) -> Option<&'a mut Mapping> {
    let containers = task.get_mut(list)?.as_sequence_mut()?;
    containers
        .iter_mut()
        .filter_map(Value::as_mapping_mut)
        .find(|c| c.get(name_key).and_then(Value::as_str) == Some(name))
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
