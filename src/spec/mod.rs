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

use std::cell::Cell;
use std::fmt;
use std::path::Path;

use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use crate::model::TmpfsSpec;
use crate::probe::Probe;
use crate::trace::RunOptions;

pub(crate) use compose::volume_target;
pub(crate) use kubernetes::pod_spec_path;

/// What a deployment spec deploys.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub kind: SpecKind,
    /// Every container, in the order of the file.
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpecKind {
    /// An ECS task definition, as registered or as `aws ecs describe-task-definition` prints it.
    /// `fargate`: its requiresCompatibilities holds FARGATE.
    Ecs {
        fargate: bool,
    },
    /// A CloudFormation template's `AWS::ECS::TaskDefinition` resources; `fargate` when any of
    /// them requires FARGATE, whose rules are the stricter ones.
    CloudFormation {
        fargate: bool,
    },
    Kubernetes,
    Compose,
}

impl SpecKind {
    /// The profile the spec's platform is judged by, when none is named.
    pub fn profile(&self) -> &'static str {
        match self {
            SpecKind::Ecs { fargate: true } | SpecKind::CloudFormation { fargate: true } => {
                "ecs-fargate"
            }
            SpecKind::Ecs { fargate: false } | SpecKind::CloudFormation { fargate: false } => {
                "ecs-ec2"
            }
            SpecKind::Kubernetes => "kubernetes",
            SpecKind::Compose => "docker",
        }
    }
}

/// Where a container is defined, for messages and for findings that point into the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// 1-based, in a file of several documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// Inside the document, as in `spec.template.spec.containers[0]`.
    pub path: String,
    /// 1-based: the line that holds the container's name, found by searching the text, so it
    /// can miss in unusual layouts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.document {
            Some(n) => write!(f, "document {n}, {}", self.path),
            None => f.write_str(&self.path),
        }
    }
}

/// One container of the spec, with what the platform would run it with.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The container's name; for Kubernetes prefixed with its object (`Deployment/web/app`), for
    /// compose the service's name.
    pub name: String,
    pub location: Location,
    pub image: String,
    /// Kubernetes `command`, ECS `entryPoint`, compose `entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// Kubernetes `args`, ECS and compose `command`.
    pub cmd: Option<Vec<String>>,
    pub working_dir: Option<String>,
    /// `K=V`. A value the spec does not hold (a secret, an SSM parameter, a Kubernetes
    /// `valueFrom`, a CloudFormation reference, a variable compose passes through) still gets a
    /// placeholder value (`K=<from secret NAME>`), because apps check that their variables are
    /// set at startup, and a missing one would end the run before it writes what it writes when
    /// deployed.
    pub env: Vec<String>,
    /// What got a placeholder, for the report to name: variable names, and for compose
    /// `secrets:` the file each one is mounted at (`/run/secrets/NAME`), which the audit's runs
    /// do not have.
    pub placeholders: Vec<String>,
    /// `UID[:GID]` or a user name, as `docker run --user` takes it.
    pub user: Option<String>,
    /// Kubernetes' group for the pod's volumes, which ownership-dependent mounts rely on.
    pub fs_group: Option<u32>,
    /// The container ports it declares.
    pub ports: Vec<u16>,
    /// Its health checks: Kubernetes startup, readiness then liveness (each once), ECS
    /// `healthCheck`, compose `healthcheck`.
    pub probes: Vec<Probe>,
    /// The port the HTTP and TCP probes ask on.
    pub probe_port: Option<u16>,
    /// The writable places the spec already mounts (tmpfs, emptyDir, volumes): writes there do
    /// not touch the root filesystem.
    pub mounts: Vec<TmpfsSpec>,
    /// The spec already makes the root filesystem read-only.
    pub read_only: bool,
    /// The memory limit, which tmpfs mounts count against.
    pub memory_mib: Option<u64>,
    /// A Kubernetes init container: it runs to completion before the app's containers, under the
    /// same security context.
    pub init: bool,
}

impl Target {
    /// How to run it: what the spec says, and where it says nothing, what `base` says (`base`
    /// supplies the budgets and the expected status). `base`'s env comes after the spec's, so
    /// that a variable given on the command line wins, as the later `--env` does with docker.
    pub fn run_options(&self, base: &RunOptions) -> RunOptions {
        let port = match (self.probe_port, &self.ports[..]) {
            (Some(port), _) | (None, &[port]) => Some(port),
            _ => base.port,
        };
        let probes = match self.probes.is_empty() {
            true => base.probes.clone(),
            false => self.probes.clone(),
        };
        RunOptions {
            image: self.image.clone(),
            port,
            probes,
            env: self.env.iter().chain(&base.env).cloned().collect(),
            user: self.user.clone().or_else(|| base.user.clone()),
            entrypoint: self.entrypoint.clone().or_else(|| base.entrypoint.clone()),
            cmd: self.cmd.clone().or_else(|| base.cmd.clone()),
            completes: self.init,
            ..base.clone()
        }
    }
}

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

/// The file being read: its name and lines for messages and locations, and the image overrides.
struct Spec<'a> {
    file: String,
    lines: Vec<&'a str>,
    starts: Vec<usize>,
    several: bool,
    images: &'a [(String, String)],
    used: Vec<Cell<bool>>,
}

impl Spec<'_> {
    /// An error about the whole file.
    fn fail(&self, message: impl fmt::Display) -> anyhow::Error {
        anyhow!("{}: {message}", self.file)
    }

    /// An error about `field` (a path below `at`, or empty for `at` itself).
    fn fail_at(&self, at: &Location, field: &str, message: impl fmt::Display) -> anyhow::Error {
        let line = at.line.map(|n| format!(":{n}")).unwrap_or_default();
        let field = match field {
            "" => String::new(),
            f if f.starts_with('[') => f.to_string(),
            f => format!(".{f}"),
        };
        anyhow!("{}{line}: {at}{field}: {message}", self.file)
    }

    /// The document number to show: only in a file of several.
    fn document(&self, index: usize) -> Option<usize> {
        self.several.then_some(index + 1)
    }

    /// The 0-based line where document `index` starts.
    fn start(&self, index: usize) -> usize {
        self.starts.get(index).copied().unwrap_or(0)
    }

    /// The first line at or after `from` (0-based) where `key` is a mapping key.
    fn key_line(&self, from: usize, key: &str) -> Option<usize> {
        let forms = [
            format!("{key}:"),
            format!("\"{key}\":"),
            format!("'{key}':"),
        ];
        self.find_line(from, |line| {
            let line = item(line);
            forms.iter().any(|form| line.starts_with(form.as_str()))
        })
    }

    /// The first line at or after `from` (0-based) that holds `key: value`, in YAML or JSON.
    fn entry_line(&self, from: usize, key: &str, value: &str) -> Option<usize> {
        let json = [
            format!("\"{key}\": \"{value}\""),
            format!("\"{key}\":\"{value}\""),
        ];
        self.find_line(from, |line| {
            if json.iter().any(|form| line.contains(form.as_str())) {
                return true;
            }
            let line = item(line);
            let line = line.split(" #").next().unwrap_or(line);
            line.split_once(':')
                .is_some_and(|(k, v)| unquote(k) == key && unquote(v) == value)
        })
    }

    fn find_line(&self, from: usize, found: impl Fn(&str) -> bool) -> Option<usize> {
        self.lines
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, line)| found(line))
            .map(|(n, _)| n)
    }

    /// The image to run: an override given for it, else the spec's own. `full` is the target's
    /// name, `container` the container's as the spec writes it.
    fn image(
        &self,
        at: &Location,
        field: &str,
        full: &str,
        container: &str,
        given: Option<&Value>,
    ) -> Result<String> {
        let wanted = |name: &str| name == full || name == container;
        if let Some(n) = self.images.iter().position(|(name, _)| wanted(name)) {
            self.used[n].set(true);
            return Ok(self.images[n].1.clone());
        }
        let why = match given.and_then(intrinsic) {
            Some(function) => format!(
                "the image is given by {function}, which only CloudFormation resolves; give it \
                 as --image {container}=REF"
            ),
            None => match given.map(Value::as_str) {
                Some(Some(image)) if !image.trim().is_empty() => return Ok(image.to_string()),
                _ => format!("no image; give one as --image {container}=REF"),
            },
        };
        Err(self.fail_at(at, field, why))
    }

    /// An override that names no container is a typo: the container meant would run its own
    /// image unnoticed.
    fn check_images_used(&self, targets: &[Target]) -> Result<()> {
        match self
            .images
            .iter()
            .zip(&self.used)
            .find(|(_, used)| !used.get())
        {
            Some(((name, image), _)) => Err(self.fail(format!(
                "--image {name}={image} names no container of it; its containers: {}",
                targets
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            None => Ok(()),
        }
    }
}

/// The line without its indentation and list dash.
fn item(line: &str) -> &str {
    line.trim().trim_start_matches("- ").trim_start()
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches(['"', '\''])
}

/// The CloudFormation intrinsic function a value is given by, as `Fn::Sub`: a one-key mapping
/// in JSON (`{"Fn::Sub": ...}`, `{"Ref": ...}`), a tag in YAML (`!Sub`).
fn intrinsic(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            Some(match name {
                "Ref" | "Condition" => name.to_string(),
                _ => format!("Fn::{name}"),
            })
        }
        Value::Mapping(map) if map.len() == 1 => {
            let key = map.keys().next()?.as_str()?;
            (key == "Ref" || key.starts_with("Fn::")).then(|| key.to_string())
        }
        _ => None,
    }
}

/// A path below `base`: `base.key`, or `key` at the top.
fn join(base: &str, key: &str) -> String {
    match base {
        "" => key.to_string(),
        _ => format!("{base}.{key}"),
    }
}

/// A whole number given as a number or as text (CloudFormation writes `"512"` as often as 512).
fn whole(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

fn port(value: &Value) -> Option<u16> {
    whole(value).and_then(|n| u16::try_from(n).ok())
}

/// Strings of a list, or None when it is not a list of strings.
fn strings(value: &Value) -> Option<Vec<String>> {
    value.as_sequence()?.iter().map(scalar).collect()
}

/// A scalar as the text a container would see.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A command as compose and healthchecks write it: a list of words, or a string split as the
/// shell would.
fn words(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => shlex::split(s),
        other => strings(other),
    }
}

/// The placeholder a variable gets for a value the platform fetches at deploy time.
fn placeholder(name: &str, source: &str) -> String {
    format!("{name}=<from {source}>")
}

/// `/path:size=Nm,options`, checked as the engine would check a `--tmpfs`.
fn tmpfs(
    spec: &Spec,
    at: &Location,
    field: &str,
    path: &str,
    size_mib: Option<u64>,
    options: &[String],
) -> Result<TmpfsSpec> {
    let options: Vec<String> = size_mib
        .map(|mib| format!("size={mib}m"))
        .into_iter()
        .chain(options.iter().cloned())
        .collect();
    let text = match options.is_empty() {
        true => path.to_string(),
        false => format!("{path}:{}", options.join(",")),
    };
    text.parse().map_err(|e| spec.fail_at(at, field, e))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

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
