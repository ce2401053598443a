//! ECS task definitions: the object as registered (camelCase), or `{"taskDefinition": {...}}` as
//! `aws ecs describe-task-definition` prints it. CloudFormation's `AWS::ECS::TaskDefinition` has
//! the same shape in PascalCase, so it is read here too.

use anyhow::Result;
use serde_yaml_ng::Value;

use super::model::{Deployment, Location, SpecKind, Target};
use super::reader::{join, placeholder, port, scalar, strings, tmpfs, whole, Spec};
use crate::model::TmpfsSpec;
use crate::probe::Probe;

pub(super) fn read(spec: &Spec, document: &Value) -> Result<Deployment> {
    let (definition, path) = match document.get("taskDefinition") {
        Some(inner) => (inner, "taskDefinition"),
        None => (document, ""),
    };
    let task = Task {
        spec,
        definition,
        path: path.to_string(),
        from_line: 0,
        pascal: false,
    };
    let (fargate, targets) = task.targets()?;
    Ok(Deployment {
        kind: SpecKind::Ecs { fargate },
        targets,
    })
}

/// One task definition, where it is in the file, and how its keys are spelled.
pub(super) struct Task<'a> {
    pub spec: &'a Spec<'a>,
    pub definition: &'a Value,
    /// Of the definition in its document.
    pub path: String,
    /// The 0-based line to search for its containers' names from.
    pub from_line: usize,
    /// CloudFormation's spelling: `ContainerDefinitions`, `Image`.
    pub pascal: bool,
}

impl Task<'_> {
    /// Whether it requires FARGATE, and its containers.
    pub fn targets(&self) -> Result<(bool, Vec<Target>)> {
        let definitions = self.key("containerDefinitions");
        let containers = self
            .get(self.definition, "containerDefinitions")
            .and_then(Value::as_sequence)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                self.spec.fail(format!(
                    "{}: no containers to audit; add the containers under {definitions}",
                    join(&self.path, &definitions)
                ))
            })?;
        let fargate = self
            .get(self.definition, "requiresCompatibilities")
            .and_then(strings)
            .is_some_and(|c| c.iter().any(|c| c == "FARGATE"));
        let task_memory = self.get(self.definition, "memory").and_then(whole);
        let mut from_line = self.spec.key_line(self.from_line, &definitions);
        let targets = containers
            .iter()
            .enumerate()
            .map(|(n, container)| {
                let name = self.get(container, "name").and_then(Value::as_str);
                let line = name.and_then(|name| {
                    self.spec.entry_line(
                        from_line.unwrap_or(self.from_line),
                        &self.key("name"),
                        name,
                    )
                });
                from_line = line.map(|l| l + 1).or(from_line);
                let at = Location {
                    document: None,
                    path: format!("{}[{n}]", join(&self.path, &definitions)),
                    line: line.map(|l| l + 1),
                };
                let name = name.ok_or_else(|| {
                    self.spec
                        .fail_at(&at, &self.key("name"), "the container has no name; name it")
                })?;
                self.target(container, name, at, task_memory)
            })
            .collect::<Result<_>>()?;
        Ok((fargate, targets))
    }

    fn target(
        &self,
        container: &Value,
        name: &str,
        at: Location,
        task_memory: Option<u64>,
    ) -> Result<Target> {
        let get = |key: &str| self.get(container, key);
        let image = self
            .spec
            .image(&at, &self.key("image"), name, name, get("image"))?;
        let (env, placeholders) = self.environment(container);
        let probes = get("healthCheck")
            .and_then(|check| self.get(check, "command"))
            .and_then(strings)
            .and_then(|test| Probe::from_healthcheck(&test))
            .into_iter()
            .collect();
        let ports = get("portMappings")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|mapping| self.get(mapping, "containerPort").and_then(port))
            .collect();
        Ok(Target {
            name: name.to_string(),
            image,
            entrypoint: get("entryPoint").and_then(strings),
            cmd: get("command").and_then(strings),
            working_dir: get("workingDirectory")
                .and_then(Value::as_str)
                .map(str::to_string),
            env,
            placeholders,
            user: get("user").and_then(scalar),
            fs_group: None,
            ports,
            probes,
            probe_port: None,
            mounts: self.mounts(container, &at)?,
            read_only: get("readonlyRootFilesystem")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            // The hard limit if set, else the reservation, else the task's: what the container
            // can count on.
            memory_mib: get("memory")
                .and_then(whole)
                .or_else(|| get("memoryReservation").and_then(whole))
                .or(task_memory),
            init: false,
            location: at,
        })
    }

    /// `environment` as written; `secrets` (SSM parameters, Secrets Manager) and values given by
    /// an intrinsic function as placeholders.
    fn environment(&self, container: &Value) -> (Vec<String>, Vec<String>) {
        let mut env = vec![];
        let mut placeholders = vec![];
        let pairs = |key: &str| {
            self.get(container, key)
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(|pair| {
                    let name = self.get(pair, "name")?.as_str()?;
                    Some((name.to_string(), pair))
                })
                .collect::<Vec<_>>()
        };
        for (name, pair) in pairs("environment") {
            let value = self.get(pair, "value");
            match value.and_then(super::reader::intrinsic) {
                Some(function) => {
                    env.push(placeholder(&name, &function));
                    placeholders.push(name);
                }
                None => env.push(format!(
                    "{name}={}",
                    value.and_then(scalar).unwrap_or_default()
                )),
            }
        }
        for (name, pair) in pairs("secrets") {
            let source = self
                .get(pair, "valueFrom")
                .and_then(Value::as_str)
                .map(|arn| format!("secret {arn}"))
                .unwrap_or_else(|| "secret".to_string());
            env.push(placeholder(&name, &source));
            placeholders.push(name);
        }
        (env, placeholders)
    }

    /// `linuxParameters.tmpfs`, and every `mountPoints` entry that is not read-only.
    fn mounts(&self, container: &Value, at: &Location) -> Result<Vec<TmpfsSpec>> {
        let mut mounts = vec![];
        let entries = self
            .get(container, "linuxParameters")
            .and_then(|l| self.get(l, "tmpfs"));
        for (n, entry) in entries
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let field = format!("{}.{}[{n}]", self.key("linuxParameters"), self.key("tmpfs"));
            let path = self
                .get(entry, "containerPath")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let options = self
                .get(entry, "mountOptions")
                .and_then(strings)
                .unwrap_or_default();
            let size = self.get(entry, "size").and_then(whole);
            mounts.push(tmpfs(self.spec, at, &field, path, size, &options)?);
        }
        let points = self
            .get(container, "mountPoints")
            .and_then(Value::as_sequence);
        for point in points.into_iter().flatten() {
            let read_only = self
                .get(point, "readOnly")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if let Some(path) = self.get(point, "containerPath").and_then(Value::as_str) {
                if !read_only {
                    mounts.push(TmpfsSpec::new(path, ""));
                }
            }
        }
        Ok(mounts)
    }

    /// The key as this definition spells it.
    pub fn key(&self, camel: &str) -> String {
        match self.pascal {
            true => camel[..1].to_uppercase() + &camel[1..],
            false => camel.to_string(),
        }
    }

    fn get<'v>(&self, value: &'v Value, camel: &str) -> Option<&'v Value> {
        value.get(self.key(camel))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error, read_file, uv_run};
    use super::*;

    #[test]
    fn a_fargate_task_definition_gives_its_container_as_deployed() {
        let deployment = read_file("taskdef.json", &[]).unwrap();
        assert_eq!(deployment.kind, SpecKind::Ecs { fargate: true });
        assert_eq!(deployment.kind.profile(), "ecs-fargate");
        let [web] = &deployment.targets[..] else {
            panic!("{:?}", deployment.targets)
        };
        assert_eq!(web.name, "webhook");
        assert_eq!(web.location.path, "containerDefinitions[0]");
        assert_eq!(web.location.line, Some(9));
        assert_eq!(web.image, "rofs-audit-seed/webhook:before");
        assert_eq!(web.entrypoint, None);
        assert_eq!(web.cmd, uv_run());
        assert_eq!(web.working_dir.as_deref(), Some("/app"));
        assert_eq!(
            web.env,
            [
                "LOG_LEVEL=INFO",
                "PORT=5000",
                "BENCHLING_CLIENT_SECRET=<from secret arn:aws:secretsmanager:us-east-1:123456789012:secret:benchling-AbCdEf>",
                "QUEUE_URL=<from secret arn:aws:ssm:us-east-1:123456789012:parameter/webhook/queue-url>",
            ]
        );
        assert_eq!(web.placeholders, ["BENCHLING_CLIENT_SECRET", "QUEUE_URL"]);
        assert_eq!(web.user.as_deref(), Some("1000"));
        assert_eq!(web.ports, [5000]);
        assert_eq!(
            web.probes,
            [Probe::Exec(vec![
                "/bin/sh".into(),
                "-c".into(),
                "python3 -c \"import urllib.request as u; u.urlopen('http://localhost:5000/health')\""
                    .into()
            ])]
        );
        assert_eq!(web.probe_port, None);
        assert_eq!(
            web.mounts,
            [
                TmpfsSpec::new("/tmp", "size=64m,noexec,nosuid"),
                TmpfsSpec::new("/var/log/webhook", "")
            ]
        );
        assert!(!web.read_only);
        assert_eq!(web.memory_mib, Some(512));
        assert!(!web.init);
    }

    #[test]
    fn the_describe_output_and_an_ec2_task_read_alike() {
        let text = r#"{"taskDefinition": {
  "requiresCompatibilities": ["EC2"],
  "memory": "1024",
  "containerDefinitions": [
    {"name": "worker", "image": "busybox", "readonlyRootFilesystem": true,
     "entryPoint": ["sh", "-c"], "command": ["sleep 1"],
     "mountPoints": [{"containerPath": "/data", "sourceVolume": "d", "readOnly": true}]}
  ]}}"#;
        let deployment = super::super::tests::read_text("d.json", text, &[]).unwrap();
        assert_eq!(deployment.kind, SpecKind::Ecs { fargate: false });
        assert_eq!(deployment.kind.profile(), "ecs-ec2");
        let worker = &deployment.targets[0];
        assert_eq!(
            worker.location.path,
            "taskDefinition.containerDefinitions[0]"
        );
        assert_eq!(worker.location.line, Some(5));
        assert_eq!(worker.entrypoint, Some(vec!["sh".into(), "-c".into()]));
        assert_eq!(worker.cmd, Some(vec!["sleep 1".into()]));
        assert!(worker.read_only);
        // The task's memory, the container having none; the read-only mount point is no place
        // to write.
        assert_eq!(worker.memory_mib, Some(1024));
        assert!(worker.mounts.is_empty());
    }

    #[test]
    fn bad_task_definitions_say_where_and_what_to_do() {
        assert_eq!(
            error("t.json", r#"{"family": "x", "containerDefinitions": []}"#),
            "t.json: containerDefinitions: no containers to audit; add the containers under \
             containerDefinitions"
        );
        assert_eq!(
            error(
                "t.json",
                "{\"containerDefinitions\": [\n  {\"name\": \"app\"}\n]}"
            ),
            "t.json:2: containerDefinitions[0].image: no image; give one as --image app=REF"
        );
        let err = error(
            "t.json",
            r#"{"containerDefinitions": [{"name": "app", "image": "x",
                "linuxParameters": {"tmpfs": [{"containerPath": "/tmp", "size": 8,
                "mountOptions": ["defaults"]}]}}]}"#,
        );
        assert!(
            err.starts_with(
                "t.json:1: containerDefinitions[0].linuxParameters.tmpfs[0]: unknown tmpfs \
                 option \"defaults\";"
            ),
            "{err}"
        );
    }
}
