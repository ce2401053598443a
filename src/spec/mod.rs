//! Deployment specs: an ECS task definition, a CloudFormation template, Kubernetes manifests or a
//! compose file, read into the containers they deploy, each with what an audit needs to run it as
//! deployed: image, command, env, user, ports, health checks as probes, the writable mounts
//! already declared, the memory limit. Like `input`, this is the edge: every error is one line
//! that names the file, the place in it and the fix.
//!
//! Every format is read as a `serde_yaml_ng::Value` (JSON too), which keeps key order, so that
//! targets come in the order the file lists them.

mod cloudformation;
mod compose;
mod ecs;
mod kubernetes;
mod model;
mod reader;

use std::cell::Cell;
use std::path::Path;

use anyhow::{anyhow, Result};
use serde::Deserialize;
use serde_yaml_ng::Value;

use reader::Spec;

pub(crate) use compose::volume_target;
pub(crate) use kubernetes::pod_spec_path;
pub use model::{Deployment, Location, SpecKind, Target};

/// Reads the spec in `text`, of a kind told by its content. `path` names it in messages;
/// `images` are `--image CONTAINER=REF` overrides, by container name or full target name.
pub fn read(path: &Path, text: &str, images: &[(String, String)]) -> Result<Deployment> {
    let file = path.display().to_string();
    let documents = documents(&file, text)?;
    let spec = Spec {
        file,
        lines: text.lines().collect(),
        starts: document_starts(text),
        several: documents.len() > 1,
        images,
        used: images.iter().map(|_| Cell::new(false)).collect(),
    };
    let Some(first) = documents.iter().find(|d| !d.is_null()) else {
        return Err(spec.fail("the file holds no document; give a task definition, template, manifest or compose file"));
    };
    let deployment = if first.get("Resources").is_some_and(Value::is_mapping)
        || first.get("AWSTemplateFormatVersion").is_some()
    {
        cloudformation::read(&spec, first)?
    } else if first.get("containerDefinitions").is_some()
        || first
            .get("taskDefinition")
            .is_some_and(|t| t.get("containerDefinitions").is_some())
    {
        ecs::read(&spec, first)?
    } else if first.get("services").is_some_and(Value::is_mapping) {
        compose::read(&spec, first)?
    } else if first.get("apiVersion").is_some() && first.get("kind").is_some() {
        kubernetes::read(&spec, &documents)?
    } else {
        return Err(spec.fail(format!(
            "not a deployment spec rofs-audit reads (top-level keys: {}); give an ECS task \
             definition (containerDefinitions), a CloudFormation template (Resources), \
             Kubernetes manifests (apiVersion, kind) or a compose file (services)",
            keys(first)
        )));
    };
    spec.check_images_used(&deployment.targets)?;
    Ok(deployment)
}

/// Whether the spec is written in JSON, which YAML readers take too: what is written back is then
/// JSON as well.
pub(crate) fn is_json(text: &str) -> bool {
    text.trim_start().starts_with(['{', '['])
}

/// The documents of the file, null for an empty one, so that numbers match the `---` separators.
fn documents(file: &str, text: &str) -> Result<Vec<Value>> {
    if is_json(text) {
        return serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .map(|doc| {
                doc.map_err(|e| {
                    anyhow!(
                        "{file}:{}:{}: not valid JSON ({e}); fix the syntax there",
                        e.line(),
                        e.column()
                    )
                })
            })
            .collect();
    }
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| {
            let mut value = Value::deserialize(doc).map_err(|e| {
                crate::input::yaml_error(file, &e, "not valid YAML; fix the syntax there")
            })?;
            value.apply_merge().map_err(|e| {
                crate::input::yaml_error(file, &e, "not valid YAML; fix the syntax there")
            })?;
            Ok(value)
        })
        .collect()
}

/// The 0-based line where each document starts.
fn document_starts(text: &str) -> Vec<usize> {
    let separators = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.starts_with("---"))
        .map(|(n, _)| n);
    let opens_with_separator = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .is_some_and(|l| l.starts_with("---"));
    match opens_with_separator {
        true => separators.collect(),
        false => std::iter::once(0).chain(separators).collect(),
    }
}

fn keys(value: &Value) -> String {
    match value.as_mapping() {
        Some(map) if !map.is_empty() => map
            .keys()
            .map(|k| k.as_str().unwrap_or("?"))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "none".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::probe::Probe;
    use crate::trace::RunOptions;

    /// The seed's command in every test spec, as a target's cmd.
    pub(super) fn uv_run() -> Option<Vec<String>> {
        Some(
            ["uv", "run", "python", "-m", "app"]
                .map(String::from)
                .to_vec(),
        )
    }

    /// A spec kept in tests/specs, read as the CLI reads it.
    pub(super) fn read_file(name: &str, images: &[(&str, &str)]) -> Result<Deployment> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/specs")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        read_text(name, &text, images)
    }

    pub(super) fn read_text(name: &str, text: &str, images: &[(&str, &str)]) -> Result<Deployment> {
        let images: Vec<(String, String)> = images
            .iter()
            .map(|(n, i)| (n.to_string(), i.to_string()))
            .collect();
        read(Path::new(name), text, &images)
    }

    pub(super) fn error(name: &str, text: &str) -> String {
        read_text(name, text, &[]).unwrap_err().to_string()
    }

    fn base() -> RunOptions {
        RunOptions {
            port: Some(9999),
            probes: vec![Probe::Http("/base".into())],
            expect_status: 204,
            env: vec!["DEBUG=1".into()],
            user: Some("0".into()),
            cmd: Some(vec!["base".into()]),
            startup_timeout: Duration::from_secs(7),
            probe_timeout: Duration::from_secs(3),
            stop_timeout: Duration::from_secs(5),
            ..RunOptions::testing("ignored")
        }
    }

    #[test]
    fn run_options_take_the_spec_and_keep_the_budgets() {
        let deployment = read_file("compose.yaml", &[]).unwrap();
        let web = &deployment.targets[0];
        let run = web.run_options(&base());
        assert_eq!(run.image, "rofs-audit-seed/webhook:before");
        assert_eq!(run.port, Some(5000));
        assert_eq!(run.probes, web.probes);
        assert_eq!(run.expect_status, 204);
        assert_eq!(run.startup_timeout, Duration::from_secs(7));
        assert_eq!(run.stop_timeout, Duration::from_secs(5));
        assert_eq!(run.user.as_deref(), Some("1000:1000"));
        assert_eq!(run.entrypoint, None);
        assert_eq!(run.cmd, uv_run());
        assert_eq!(run.env.last().map(String::as_str), Some("DEBUG=1"));
        assert!(run.env.contains(&"FLASK_ENV=production".to_string()));
    }

    #[test]
    fn run_options_fall_back_to_base_where_the_spec_says_nothing() {
        let text = "services:\n  bare:\n    image: busybox\n    ports: ['80', '81']\n";
        let deployment = read_text("c.yaml", text, &[]).unwrap();
        let run = deployment.targets[0].run_options(&base());
        assert_eq!(run.image, "busybox");
        // Two ports and no probe to choose between them: the base's.
        assert_eq!(run.port, Some(9999));
        assert_eq!(run.probes, [Probe::Http("/base".into())]);
        assert_eq!(run.user.as_deref(), Some("0"));
        assert_eq!(run.cmd, Some(vec!["base".into()]));
        assert_eq!(run.env, ["DEBUG=1"]);
    }

    #[test]
    fn the_profile_follows_the_platform() {
        assert_eq!(SpecKind::Ecs { fargate: true }.profile(), "ecs-fargate");
        assert_eq!(SpecKind::Ecs { fargate: false }.profile(), "ecs-ec2");
        assert_eq!(
            SpecKind::CloudFormation { fargate: true }.profile(),
            "ecs-fargate"
        );
        assert_eq!(SpecKind::Kubernetes.profile(), "kubernetes");
        assert_eq!(SpecKind::Compose.profile(), "docker");
    }

    #[test]
    fn an_unknown_kind_is_named_with_what_is_read() {
        let err = error("x.yaml", "name: app\nreplicas: 2\n");
        assert_eq!(
            err,
            "x.yaml: not a deployment spec rofs-audit reads (top-level keys: name, replicas); \
             give an ECS task definition (containerDefinitions), a CloudFormation template \
             (Resources), Kubernetes manifests (apiVersion, kind) or a compose file (services)"
        );
        assert!(error("e.yaml", "").starts_with("e.yaml: the file holds no document;"));
    }

    #[test]
    fn malformed_files_point_at_line_and_column() {
        let err = error("d.yaml", "services:\n  web:\n    image: [a\n");
        assert!(err.starts_with("d.yaml:4:1: "), "{err}");
        assert!(
            err.ends_with("; not valid YAML; fix the syntax there"),
            "{err}"
        );
        assert!(err.ends_with("; fix the syntax there"), "{err}");
        let err = error("t.json", "{\n  \"containerDefinitions\": [,]\n}\n");
        assert!(err.starts_with("t.json:2:28: not valid JSON ("), "{err}");
    }

    #[test]
    fn an_override_that_names_no_container_is_refused() {
        let err = read_file("compose.yaml", &[("wbe", "x:1")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "compose.yaml: --image wbe=x:1 names no container of it; its containers: web, broker"
        );
    }

    #[test]
    fn locations_serialise_for_findings() {
        let at = Location {
            document: Some(2),
            path: "spec.template.spec.containers[0]".into(),
            line: Some(31),
        };
        assert_eq!(
            serde_json::to_string(&at).unwrap(),
            r#"{"document":2,"path":"spec.template.spec.containers[0]","line":31}"#
        );
        assert_eq!(
            at.to_string(),
            "document 2, spec.template.spec.containers[0]"
        );
        assert_eq!(
            serde_json::to_string(&SpecKind::Ecs { fargate: true }).unwrap(),
            r#"{"ecs":{"fargate":true}}"#
        );
    }

    #[test]
    fn document_starts_follow_the_separators() {
        assert_eq!(document_starts("a: 1\n---\nb: 2\n"), [0, 1]);
        assert_eq!(document_starts("# c\n---\na: 1\n---\nb: 2\n"), [1, 3]);
    }
}
