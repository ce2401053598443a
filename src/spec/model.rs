//! What a spec deploys, as the readers of every format give it: its kind, and each container
//! with where the spec defines it and how it runs.

use std::fmt;

use serde::Serialize;

use crate::model::TmpfsSpec;
use crate::probe::Probe;
use crate::trace::RunOptions;

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
