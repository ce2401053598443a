//! Kubernetes manifests: multi-document YAML or JSON, and `List`s of objects, as `kubectl` and
//! `helm template` write them. Pods and the workloads that hold a pod template; other kinds
//! (Service, ConfigMap) are passed over. `envFrom` and `$(VAR)` references are not expanded; the report names each `envFrom` source.

use anyhow::Result;
use hyper::header::{HeaderName, HeaderValue};
use serde_yaml_ng::Value;

use super::model::{Deployment, Location, SpecKind, Target};
use super::reader::{join, placeholder, port, scalar, strings, tmpfs, Spec};
use crate::model::TmpfsSpec;
use crate::probe::{HttpGet, Probe};

/// Where each kind keeps its pod spec.
pub(crate) fn pod_spec_path(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("spec"),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            Some("spec.template.spec")
        }
        "CronJob" => Some("spec.jobTemplate.spec.template.spec"),
        _ => None,
    }
}

pub(super) fn read(spec: &Spec, documents: &[Value]) -> Result<Deployment> {
    let mut targets = vec![];
    let mut passed_over = vec![];
    for (index, document) in documents.iter().enumerate() {
        if document.is_null() {
            continue;
        }
        let mut objects = vec![];
        flatten(document, String::new(), &mut objects);
        let mut from_line = spec.start(index);
        for (path, object) in objects {
            let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = object
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let Some(pod_path) = pod_spec_path(kind) else {
                passed_over.push((index, kind.to_string()));
                continue;
            };
            from_line = spec
                .entry_line(from_line, "kind", kind)
                .unwrap_or(from_line);
            let pod = Pod {
                spec,
                document: spec.document(index),
                object: format!("{kind}/{name}"),
                path: join(&path, pod_path),
                value: pod_path
                    .split('.')
                    .try_fold(object, |v, key| v.get(key))
                    .unwrap_or(&Value::Null),
                from_line,
            };
            let found = pod.targets()?;
            from_line = found
                .last()
                .and_then(|t| t.location.line)
                .unwrap_or(from_line);
            targets.extend(found);
        }
    }
    if targets.is_empty() {
        let (index, kind) = passed_over.first().cloned().unwrap_or_default();
        return Err(spec.fail(format!(
            "document {} (kind: {kind}): no containers to audit; give a Pod, Deployment, \
             StatefulSet, DaemonSet, ReplicaSet, Job or CronJob",
            index + 1
        )));
    }
    Ok(Deployment {
        kind: SpecKind::Kubernetes,
        targets,
    })
}

/// The objects of a document, with their paths in it: the object, or each item of a `List`.
fn flatten<'v>(value: &'v Value, path: String, objects: &mut Vec<(String, &'v Value)>) {
    let is_list = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"));
    match (is_list, value.get("items").and_then(Value::as_sequence)) {
        (true, Some(items)) => {
            for (n, item) in items.iter().enumerate() {
                flatten(item, format!("{}items[{n}]", prefix(&path)), objects);
            }
        }
        _ => objects.push((path, value)),
    }
}

fn prefix(path: &str) -> String {
    match path {
        "" => String::new(),
        p => format!("{p}."),
    }
}

/// One pod spec and where it is.
struct Pod<'a> {
    spec: &'a Spec<'a>,
    document: Option<usize>,
    /// `Kind/name`, which prefixes its containers' names.
    object: String,
    path: String,
    value: &'a Value,
    from_line: usize,
}

impl Pod<'_> {
    /// Its init containers, then its containers.
    fn targets(&self) -> Result<Vec<Target>> {
        let containers = self
            .value
            .get("containers")
            .and_then(Value::as_sequence)
            .filter(|c| !c.is_empty());
        if containers.is_none() {
            let at = self.location(String::new(), Some(self.from_line));
            return Err(self.spec.fail_at(
                &at,
                "containers",
                format!("{}: no containers to audit; add them", self.object),
            ));
        }
        let mut targets = vec![];
        for (key, init) in [("initContainers", true), ("containers", false)] {
            let list = self.value.get(key).and_then(Value::as_sequence);
            let mut from_line = self.spec.key_line(self.from_line, key);
            for (n, container) in list.into_iter().flatten().enumerate() {
                let name = container.get("name").and_then(Value::as_str).unwrap_or("");
                let line = self
                    .spec
                    .entry_line(from_line.unwrap_or(self.from_line), "name", name);
                from_line = line.map(|l| l + 1).or(from_line);
                let at = self.location(format!("{}[{n}]", join(&self.path, key)), line);
                targets.push(self.target(container, name, init, at)?);
            }
        }
        Ok(targets)
    }

    fn location(&self, path: String, line: Option<usize>) -> Location {
        Location {
            document: self.document,
            path: match path.is_empty() {
                true => self.path.clone(),
                false => path,
            },
            line: line.map(|l| l + 1),
        }
    }

    fn target(&self, container: &Value, name: &str, init: bool, at: Location) -> Result<Target> {
        let full = format!("{}/{name}", self.object);
        let image = self
            .spec
            .image(&at, "image", &full, name, container.get("image"))?;
        let declared: Vec<(Option<&str>, u16)> = container
            .get("ports")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let number = p.get("containerPort").and_then(port)?;
                Some((p.get("name").and_then(Value::as_str), number))
            })
            .collect();
        let (probes, probe_port) = self.probes(container, &at, &declared)?;
        let security = |key: &str| {
            let own = container.get("securityContext").and_then(|s| s.get(key));
            own.or_else(|| self.value.get("securityContext").and_then(|s| s.get(key)))
                .and_then(Value::as_u64)
        };
        let user = match (security("runAsUser"), security("runAsGroup")) {
            (Some(uid), Some(gid)) => Some(format!("{uid}:{gid}")),
            (Some(uid), None) => Some(uid.to_string()),
            // A group alone keeps the image's user, which docker --user cannot say.
            (None, _) => None,
        };
        let memory = container
            .get("resources")
            .and_then(|r| r.get("limits"))
            .and_then(|l| l.get("memory"));
        let memory_mib = match memory {
            Some(quantity) => Some(mib(quantity).ok_or_else(|| {
                self.spec.fail_at(
                    &at,
                    "resources.limits.memory",
                    format!(
                        "{} is not a quantity of memory; write it like 512Mi or 1Gi",
                        scalar(quantity).unwrap_or_default()
                    ),
                )
            })?),
            None => None,
        };
        let (env, placeholders) = environment(container);
        Ok(Target {
            name: full,
            image,
            entrypoint: container.get("command").and_then(strings),
            cmd: container.get("args").and_then(strings),
            working_dir: container.get("workingDir").and_then(scalar),
            env,
            placeholders,
            user,
            fs_group: self
                .value
                .get("securityContext")
                .and_then(|s| s.get("fsGroup"))
                .and_then(Value::as_u64)
                .and_then(|g| u32::try_from(g).ok()),
            ports: declared.iter().map(|(_, number)| *number).collect(),
            probes,
            probe_port,
            mounts: self.mounts(container, &at)?,
            read_only: container
                .get("securityContext")
                .and_then(|s| s.get("readOnlyRootFilesystem"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            memory_mib,
            init,
            location: at,
        })
    }

    /// An `httpGet`'s `httpHeaders`, each a name and a value HTTP can carry.
    fn headers(&self, at: &Location, key: &str, get: &Value) -> Result<Vec<(String, String)>> {
        let Some(list) = get.get("httpHeaders") else {
            return Ok(vec![]);
        };
        let Some(items) = list.as_sequence() else {
            let why = "is not a list: give [{name: X-Probe, value: \"1\"}]";
            return Err(self
                .spec
                .fail_at(at, &format!("{key}.httpGet.httpHeaders"), why));
        };
        let mut headers = vec![];
        for (i, item) in items.iter().enumerate() {
            let field = |name| format!("{key}.httpGet.httpHeaders[{i}].{name}");
            let text = |name| item.get(name).and_then(Value::as_str).unwrap_or_default();
            let (name, value) = (text("name"), text("value"));
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                let why = format!(
                    "{name:?} is not a header name; give letters, digits and -, as X-Probe"
                );
                return Err(self.spec.fail_at(at, &field("name"), why));
            }
            if HeaderValue::from_str(value).is_err() {
                let why = format!("{value:?} is not a header value; give printable ASCII text");
                return Err(self.spec.fail_at(at, &field("value"), why));
            }
            headers.push((name.to_string(), value.to_string()));
        }
        Ok(headers)
    }

    /// Startup, readiness and liveness probes, each once, and the one port they ask on.
    fn probes(
        &self,
        container: &Value,
        at: &Location,
        declared: &[(Option<&str>, u16)],
    ) -> Result<(Vec<Probe>, Option<u16>)> {
        let mut probes = vec![];
        let mut probe_port: Option<(String, u16)> = None;
        for key in ["startupProbe", "readinessProbe", "livenessProbe"] {
            let Some(check) = container.get(key) else {
                continue;
            };
            let (probe, asked) = if let Some(get) = check.get("httpGet") {
                let path = get.get("path").and_then(Value::as_str).unwrap_or("/");
                // rofs-audit speaks no TLS: that the port holds a connection is what it can ask.
                let probe = match get.get("scheme").and_then(Value::as_str) {
                    Some("HTTPS") => Probe::Tcp,
                    _ => Probe::Http(HttpGet {
                        path: path.to_string(),
                        headers: self.headers(at, key, get)?,
                    }),
                };
                (probe, Some(format!("{key}.httpGet.port")))
            } else if check.get("tcpSocket").is_some() {
                (Probe::Tcp, Some(format!("{key}.tcpSocket.port")))
            } else if check.get("grpc").is_some() {
                // No gRPC health client here; a gRPC server holds a connection.
                (Probe::Tcp, Some(format!("{key}.grpc.port")))
            } else if let Some(command) = check.get("exec").and_then(|e| e.get("command")) {
                (Probe::Exec(strings(command).unwrap_or_default()), None)
            } else {
                continue;
            };
            if let Some(field) = asked {
                let value = field
                    .split('.')
                    .try_fold(container, |v, k| v.get(k))
                    .unwrap_or(&Value::Null);
                let number = self.port(at, &field, value, declared)?;
                match &probe_port {
                    Some((first, other)) if *other != number => {
                        return Err(self.spec.fail_at(
                            at,
                            &field,
                            format!(
                                "port {number}, but {first} is port {other}: an audit probes \
                                 one port; put the probes on one port, or remove one"
                            ),
                        ))
                    }
                    Some(_) => {}
                    None => probe_port = Some((field, number)),
                }
            }
            if !probes.contains(&probe) {
                probes.push(probe);
            }
        }
        Ok((probes, probe_port.map(|(_, number)| number)))
    }

    /// A probe's port: a number, or the name of one of the container's ports. A number the
    /// container does not declare, when it declares any, is most often a stale probe.
    fn port(
        &self,
        at: &Location,
        field: &str,
        value: &Value,
        declared: &[(Option<&str>, u16)],
    ) -> Result<u16> {
        let listed = || {
            declared
                .iter()
                .map(|(name, n)| match name {
                    Some(name) => format!("{name}: {n}"),
                    None => n.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let number = match (port(value), value.as_str()) {
            (Some(number), _) => number,
            (None, Some(name)) => declared
                .iter()
                .find(|(n, _)| *n == Some(name))
                .map(|(_, number)| *number)
                .ok_or_else(|| {
                    self.spec.fail_at(
                        at,
                        field,
                        format!(
                            "port {name:?} is not the name of a port the container declares \
                             ({}); name it under ports, or give the number",
                            listed()
                        ),
                    )
                })?,
            (None, None) => {
                return Err(self.spec.fail_at(
                    at,
                    field,
                    "no port; give the container port the probe asks on",
                ))
            }
        };
        if !declared.is_empty() && !declared.iter().any(|(_, n)| *n == number) {
            return Err(self.spec.fail_at(
                at,
                field,
                format!(
                    "port {number} is not a port the container declares ({}); declare it under \
                     ports, or probe a declared port",
                    listed()
                ),
            ));
        }
        Ok(number)
    }

    /// Its volumeMounts that can be written: an emptyDir (in memory with its sizeLimit, when
    /// `medium: Memory`), or any other volume not mounted read-only. ConfigMap, Secret,
    /// downwardAPI and projected volumes are read-only whatever the mount says.
    fn mounts(&self, container: &Value, at: &Location) -> Result<Vec<TmpfsSpec>> {
        let volumes = self.value.get("volumes").and_then(Value::as_sequence);
        let mut mounts = vec![];
        let list = container.get("volumeMounts").and_then(Value::as_sequence);
        for (n, mount) in list.into_iter().flatten().enumerate() {
            let field = format!("volumeMounts[{n}]");
            let name = mount.get("name").and_then(Value::as_str).unwrap_or("");
            let path = mount.get("mountPath").and_then(Value::as_str).unwrap_or("");
            let volume = volumes
                .into_iter()
                .flatten()
                .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
                .ok_or_else(|| {
                    self.spec.fail_at(
                        at,
                        &field,
                        format!(
                            "volume {name:?} is not among {}; declare it there",
                            join(&self.path, "volumes")
                        ),
                    )
                })?;
            let read_only = mount.get("readOnly").and_then(Value::as_bool) == Some(true)
                || ["configMap", "secret", "downwardAPI", "projected"]
                    .iter()
                    .any(|kind| volume.get(kind).is_some());
            if read_only {
                continue;
            }
            let size = match volume.get("emptyDir") {
                Some(dir) if dir.get("medium").and_then(Value::as_str) == Some("Memory") => {
                    dir.get("sizeLimit").and_then(mib)
                }
                _ => None,
            };
            mounts.push(tmpfs(self.spec, at, &field, path, size, &[])?);
        }
        Ok(mounts)
    }
}

/// `env` with literal values; `valueFrom` (a Secret, a ConfigMap, the pod's fields) as
/// placeholders. `envFrom` names no variable, so the runs have none of its variables: the
/// report names each source.
fn environment(container: &Value) -> (Vec<String>, Vec<String>) {
    let mut env = vec![];
    let mut placeholders = vec![];
    let sources = container.get("envFrom").and_then(Value::as_sequence);
    for source in sources.into_iter().flatten().filter_map(Value::as_mapping) {
        for (kind, reference) in source.iter().filter(|(k, _)| k.as_str() != Some("prefix")) {
            let name = reference.get("name").and_then(scalar).unwrap_or_default();
            placeholders.push(format!(
                "envFrom {} {name} (none of its variables was set)",
                kind.as_str().unwrap_or_default()
            ));
        }
    }
    let list = container.get("env").and_then(Value::as_sequence);
    for var in list.into_iter().flatten() {
        let Some(name) = var.get("name").and_then(Value::as_str) else {
            continue;
        };
        match var.get("valueFrom").and_then(Value::as_mapping) {
            Some(from) => {
                let source = from
                    .iter()
                    .next()
                    .map(|(kind, reference)| {
                        let kind = kind.as_str().unwrap_or("");
                        match (reference.get("name"), reference.get("key")) {
                            (Some(n), Some(k)) => format!(
                                "{kind} {}/{}",
                                scalar(n).unwrap_or_default(),
                                scalar(k).unwrap_or_default()
                            ),
                            _ => kind.to_string(),
                        }
                    })
                    .unwrap_or_default();
                env.push(placeholder(name, &source));
                placeholders.push(name.to_string());
            }
            None => env.push(format!(
                "{name}={}",
                var.get("value").and_then(scalar).unwrap_or_default()
            )),
        }
    }
    (env, placeholders)
}

/// A Kubernetes quantity of memory in whole MiB, rounded down: bytes, or with a suffix Ki, Mi,
/// Gi, Ti (powers of 1024) or k, K, M, G, T (powers of 1000).
fn mib(quantity: &Value) -> Option<u64> {
    if let Some(bytes) = quantity.as_u64() {
        return Some(bytes >> 20);
    }
    let text = quantity.as_str()?.trim();
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let number: f64 = digits.parse().ok()?;
    let scale: f64 = match &text[digits.len()..] {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        _ => return None,
    };
    Some((number * scale / 1024f64.powi(2)) as u64)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error, read_file, read_text, uv_run};
    use super::*;

    #[test]
    fn env_from_names_each_source_whose_variables_the_runs_lack() {
        let container: Value = serde_yaml_ng::from_str(
            "envFrom:\n  - configMapRef: {name: app-config}\n  - prefix: DB_\n    secretRef: {name: db}\nenv:\n  - {name: MODE, value: prod}\n",
        )
        .unwrap();
        let (env, placeholders) = environment(&container);
        assert_eq!(env, ["MODE=prod"]);
        assert_eq!(
            placeholders,
            [
                "envFrom configMapRef app-config (none of its variables was set)",
                "envFrom secretRef db (none of its variables was set)",
            ]
        );
    }

    #[test]
    fn the_deployment_gives_its_init_container_and_app_as_deployed() {
        let deployment = read_file("deployment.yaml", &[]).unwrap();
        assert_eq!(deployment.kind, SpecKind::Kubernetes);
        assert_eq!(deployment.kind.profile(), "kubernetes");
        let [init, app] = &deployment.targets[..] else {
            panic!("{:?}", deployment.targets)
        };

        assert_eq!(init.name, "Deployment/web/wait-for-config");
        assert!(init.init);
        assert_eq!(
            init.location,
            Location {
                document: Some(2),
                path: "spec.template.spec.initContainers[0]".into(),
                line: Some(35),
            }
        );
        assert_eq!(init.entrypoint, Some(vec!["sh".into(), "-c".into()]));
        assert_eq!(
            init.cmd,
            Some(vec!["test -s /etc/webhook/settings.yaml".into()])
        );
        assert!(init.read_only);
        // The config map is read-only: nothing to write there.
        assert!(init.mounts.is_empty());
        assert_eq!(init.user.as_deref(), Some("1000:1000"));

        assert_eq!(app.name, "Deployment/web/app");
        assert!(!app.init);
        assert_eq!(app.location.path, "spec.template.spec.containers[0]");
        assert_eq!(app.location.line, Some(45));
        assert_eq!(app.image, "rofs-audit-seed/webhook:before");
        assert_eq!(app.entrypoint, None);
        assert_eq!(app.cmd, uv_run());
        assert_eq!(app.working_dir.as_deref(), Some("/app"));
        assert_eq!(
            app.env,
            [
                "FLASK_ENV=production",
                "BENCHLING_CLIENT_SECRET=<from secretKeyRef benchling/client-secret>",
                "POD_NAME=<from fieldRef>",
            ]
        );
        assert_eq!(app.placeholders, ["BENCHLING_CLIENT_SECRET", "POD_NAME"]);
        assert_eq!(app.user.as_deref(), Some("1000:1000"));
        assert_eq!(app.fs_group, Some(1000));
        assert_eq!(app.ports, [5000]);
        assert_eq!(
            app.probes,
            [
                Probe::Exec(vec![
                    "sh".into(),
                    "-c".into(),
                    "date > /tmp/started && test -s /tmp/started".into()
                ]),
                Probe::Http("/health/ready".into()),
                Probe::Tcp,
            ]
        );
        // The readiness probe's named port and the liveness probe's number agree.
        assert_eq!(app.probe_port, Some(5000));
        assert_eq!(
            app.mounts,
            [
                TmpfsSpec::new("/tmp", "size=16m"),
                TmpfsSpec::new("/home/appuser/.cache", "")
            ]
        );
        assert!(!app.read_only);
        assert_eq!(app.memory_mib, Some(256));
    }

    const POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: c
      image: nginx
      ports:
        - name: web
          containerPort: 8080
";

    #[test]
    fn a_probe_on_a_port_the_container_does_not_declare_is_refused() {
        let probe = |yaml: &str| error("pod.yaml", &format!("{POD}      {yaml}\n"));
        assert_eq!(
            probe("readinessProbe: {httpGet: {path: /, port: http}}"),
            "pod.yaml:7: spec.containers[0].readinessProbe.httpGet.port: port \"http\" is not \
             the name of a port the container declares (web: 8080); name it under ports, or \
             give the number"
        );
        assert_eq!(
            probe("livenessProbe: {tcpSocket: {port: 9090}}"),
            "pod.yaml:7: spec.containers[0].livenessProbe.tcpSocket.port: port 9090 is not a \
             port the container declares (web: 8080); declare it under ports, or probe a \
             declared port"
        );
    }

    #[test]
    fn http_headers_go_with_the_probe_and_a_bad_one_is_named() {
        let text = format!(
            "{POD}      readinessProbe:\n        httpGet:\n          path: /ready\n          \
             port: web\n          httpHeaders:\n            - {{name: Host, value: \
             app.example}}\n            - {{name: X-Probe, value: \"1\"}}\n"
        );
        let deployment = read_text("pod.yaml", &text, &[]).unwrap();
        assert_eq!(
            deployment.targets[0].probes,
            [Probe::Http(HttpGet {
                path: "/ready".into(),
                headers: vec![
                    ("Host".into(), "app.example".into()),
                    ("X-Probe".into(), "1".into())
                ],
            })]
        );
        let bad = text.replace("X-Probe", "X Probe");
        assert_eq!(
            error("pod.yaml", &bad),
            "pod.yaml:7: spec.containers[0].readinessProbe.httpGet.httpHeaders[1].name: \"X Probe\" \
             is not a header name; give letters, digits and -, as X-Probe"
        );
    }

    #[test]
    fn a_list_of_objects_and_a_cronjob_read_alike() {
        let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
  {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
   "spec": {"jobTemplate": {"spec": {"template": {"spec": {
     "containers": [{"name": "job", "image": "busybox",
       "resources": {"limits": {"memory": "1G"}},
       "startupProbe": {"httpGet": {"path": "/", "port": 8443, "scheme": "HTTPS"}}}]}}}}}}
]}"#;
        let deployment = read_text("list.json", text, &[("job", "busybox:1.36")]).unwrap();
        let job = &deployment.targets[0];
        assert_eq!(job.name, "CronJob/nightly/job");
        assert_eq!(job.image, "busybox:1.36");
        assert_eq!(
            job.location.path,
            "items[1].spec.jobTemplate.spec.template.spec.containers[0]"
        );
        assert_eq!(job.location.line, Some(5));
        assert_eq!(job.memory_mib, Some(953));
        assert_eq!(job.probes, [Probe::Tcp]);
        assert_eq!(job.probe_port, Some(8443));
    }

    #[test]
    fn bad_manifests_say_where_and_what_to_do() {
        assert_eq!(
            error(
                "deploy.yaml",
                "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
            ),
            "deploy.yaml: document 1 (kind: Service): no containers to audit; give a Pod, \
             Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob"
        );
        assert_eq!(
            error(
                "pod.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n"
            ),
            "pod.yaml:2: spec.containers: Pod/p: no containers to audit; add them"
        );
        assert_eq!(
            error("pod.yaml", &POD.replace("nginx", "''")),
            "pod.yaml:7: spec.containers[0].image: no image; give one as --image c=REF"
        );
        let mounted = format!("{POD}      volumeMounts: [{{name: data, mountPath: /data}}]\n");
        assert_eq!(
            error("pod.yaml", &mounted),
            "pod.yaml:7: spec.containers[0].volumeMounts[0]: volume \"data\" is not among \
             spec.volumes; declare it there"
        );
        assert_eq!(
            error(
                "pod.yaml",
                &format!("{POD}      resources: {{limits: {{memory: lots}}}}\n")
            ),
            "pod.yaml:7: spec.containers[0].resources.limits.memory: lots is not a quantity \
             of memory; write it like 512Mi or 1Gi"
        );
    }

    #[test]
    fn memory_quantities() {
        let quantity = |yaml: &str| mib(&serde_yaml_ng::from_str(yaml).unwrap());
        assert_eq!(quantity("512Mi"), Some(512));
        assert_eq!(quantity("1Gi"), Some(1024));
        assert_eq!(quantity("1.5Gi"), Some(1536));
        assert_eq!(quantity("2048Ki"), Some(2));
        assert_eq!(quantity("128M"), Some(122));
        assert_eq!(quantity("268435456"), Some(256));
        assert_eq!(quantity("1Xi"), None);
    }
}
