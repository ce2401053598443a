//! Compose files (the compose spec, and the v2 and v3 formats it merged): every service under
//! `services:`. Variables (`${VAR}`) are not interpolated, and `env_file:` is not read.

use anyhow::Result;
use serde_yaml_ng::Value;

use super::model::{Deployment, Location, SpecKind, Target};
use super::reader::{placeholder, scalar, strings, tmpfs, words, Spec};
use crate::model::TmpfsSpec;
use crate::probe::Probe;

pub(super) fn read(spec: &Spec, file: &Value) -> Result<Deployment> {
    let services = file
        .get("services")
        .and_then(Value::as_mapping)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            spec.fail("services: no services, so no containers to audit; add the services")
        })?;
    let mut from_line = spec.key_line(0, "services").unwrap_or(0);
    let mut targets = vec![];
    for (name, service) in services {
        let name = scalar(name).unwrap_or_default();
        let line = spec.key_line(from_line, &name);
        from_line = line.map(|l| l + 1).unwrap_or(from_line);
        let at = Location {
            document: None,
            path: format!("services.{name}"),
            line: line.map(|l| l + 1),
        };
        targets.push(target(spec, &name, service, at)?);
    }
    Ok(Deployment {
        kind: SpecKind::Compose,
        targets,
    })
}

fn target(spec: &Spec, name: &str, service: &Value, at: Location) -> Result<Target> {
    let get = |key: &str| service.get(key);
    let image = match (get("image"), get("build")) {
        (None, Some(_)) => spec.image(&at, "build", name, name, None).map_err(|_| {
            spec.fail_at(
                &at,
                "build",
                format!(
                    "the service is built, not pulled; build it (docker compose build {name}) \
                     and give the image as --image {name}=REF"
                ),
            )
        })?,
        (given, _) => spec.image(&at, "image", name, name, given)?,
    };
    let (env, placeholders) = environment(service);
    let mut ports = vec![];
    for entry in [get("ports"), get("expose")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_sequence)
        .flatten()
    {
        ports.extend(container_ports(entry));
    }
    ports.dedup();
    let limit = get("deploy")
        .and_then(|d| d.get("resources"))
        .and_then(|r| r.get("limits"))
        .and_then(|l| l.get("memory"));
    let memory = match (get("mem_limit"), limit) {
        (Some(value), _) => Some(("mem_limit", value)),
        (None, Some(value)) => Some(("deploy.resources.limits.memory", value)),
        (None, None) => None,
    };
    let memory_mib = match memory {
        Some((field, value)) => Some(mib(value).ok_or_else(|| {
            spec.fail_at(
                &at,
                field,
                format!(
                    "{} is not an amount of memory; write it like 512m or 1g",
                    scalar(value).unwrap_or_default()
                ),
            )
        })?),
        None => None,
    };
    Ok(Target {
        name: name.to_string(),
        image,
        entrypoint: get("entrypoint").and_then(words),
        cmd: get("command").and_then(words),
        working_dir: get("working_dir").and_then(scalar),
        env,
        placeholders,
        user: get("user").and_then(scalar),
        fs_group: None,
        ports,
        probes: get("healthcheck")
            .and_then(healthcheck)
            .into_iter()
            .collect(),
        probe_port: None,
        mounts: mounts(spec, service, &at)?,
        read_only: get("read_only").and_then(Value::as_bool).unwrap_or(false),
        memory_mib,
        init: false,
        location: at,
    })
}

/// `environment:` as a mapping or a list of `K=V`. A bare name, or one without a value, passes
/// the value of the shell that runs compose, which the audit does not have: a placeholder. So
/// does each of `secrets:`, a file under /run/secrets.
fn environment(service: &Value) -> (Vec<String>, Vec<String>) {
    let mut env = vec![];
    let mut placeholders = vec![];
    let mut from_shell = |name: &str, env: &mut Vec<String>| {
        env.push(placeholder(name, "the environment of docker compose"));
        placeholders.push(name.to_string());
    };
    match service.get("environment") {
        Some(Value::Mapping(map)) => {
            for (name, value) in map {
                let name = scalar(name).unwrap_or_default();
                match scalar(value) {
                    Some(value) => env.push(format!("{name}={value}")),
                    None => from_shell(&name, &mut env),
                }
            }
        }
        Some(list) => {
            for entry in strings(list).unwrap_or_default() {
                match entry.contains('=') {
                    true => env.push(entry),
                    false => from_shell(&entry, &mut env),
                }
            }
        }
        None => {}
    }
    let secrets = service.get("secrets").and_then(Value::as_sequence);
    for secret in secrets.into_iter().flatten() {
        let target = match secret {
            Value::String(source) => Some(source.as_str()),
            long => long
                .get("target")
                .or_else(|| long.get("source"))
                .and_then(Value::as_str),
        };
        if let Some(target) = target {
            placeholders.push(match target.starts_with('/') {
                true => target.to_string(),
                false => format!("/run/secrets/{target}"),
            });
        }
    }
    (env, placeholders)
}

/// The container side of a `ports:` or `expose:` entry: `80`, `8080:80`, `127.0.0.1:8080:80/tcp`,
/// a range `8000-8001`, or the long syntax's `target`.
fn container_ports(entry: &Value) -> Vec<u16> {
    let text = match entry.get("target") {
        Some(target) => scalar(target),
        None => scalar(entry),
    }
    .unwrap_or_default();
    let container = text.rsplit(':').next().unwrap_or_default();
    let container = container.split('/').next().unwrap_or_default();
    match container.split_once('-') {
        Some((first, last)) => match (first.parse::<u16>(), last.parse::<u16>()) {
            (Ok(first), Ok(last)) => (first..=last).collect(),
            _ => vec![],
        },
        None => container.parse().into_iter().collect(),
    }
}

/// `healthcheck.test`: `["CMD", ...]`, `["CMD-SHELL", "..."]`, or a string run by the shell;
/// `["NONE"]` and `disable: true` turn the image's check off, which leaves no probe.
fn healthcheck(check: &Value) -> Option<Probe> {
    if check.get("disable").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    match check.get("test")? {
        Value::String(script) => Probe::from_healthcheck(&["CMD-SHELL".into(), script.clone()]),
        test => Probe::from_healthcheck(&strings(test)?),
    }
}

/// `tmpfs:` (a path or a list, each with options as `docker run --tmpfs` takes them), and
/// `volumes:` that are not read-only.
fn mounts(spec: &Spec, service: &Value, at: &Location) -> Result<Vec<TmpfsSpec>> {
    let mut mounts = vec![];
    let tmpfs_entries = match service.get("tmpfs") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(list) => strings(list).unwrap_or_default(),
        None => vec![],
    };
    for entry in tmpfs_entries {
        mounts.push(entry.parse().map_err(|e| spec.fail_at(at, "tmpfs", e))?);
    }
    let volumes = service.get("volumes").and_then(Value::as_sequence);
    for (n, volume) in volumes.into_iter().flatten().enumerate() {
        let Some((target, read_only)) = volume_target(volume) else {
            continue;
        };
        if read_only {
            continue;
        }
        let size = match volume.get("type").and_then(Value::as_str) {
            Some("tmpfs") => volume
                .get("tmpfs")
                .and_then(|t| t.get("size"))
                .and_then(mib),
            _ => None,
        };
        mounts.push(tmpfs(
            spec,
            at,
            &format!("volumes[{n}]"),
            target,
            size,
            &[],
        )?);
    }
    Ok(mounts)
}

/// The mount point of a `volumes:` entry, in the short syntax (`TARGET`, `SOURCE:TARGET`,
/// `SOURCE:TARGET:MODE`) or the long one, and whether it is mounted read-only.
pub(crate) fn volume_target(volume: &Value) -> Option<(&str, bool)> {
    match volume {
        Value::String(short) => {
            let parts: Vec<&str> = short.split(':').collect();
            let (target, mode) = match parts[..] {
                [target] => (target, ""),
                [_, target] => (target, ""),
                [_, target, mode, ..] => (target, mode),
                [] => return None,
            };
            Some((target, mode.split(',').any(|m| m == "ro")))
        }
        long => {
            let target = long.get("target").and_then(Value::as_str)?;
            let read_only = long.get("read_only").and_then(Value::as_bool) == Some(true);
            Some((target, read_only))
        }
    }
}

/// Compose's byte values: a number of bytes, or `512m`, `1g`, `512mb`, `100k`, `100b`, in powers
/// of 1024 as Docker counts them; in whole MiB, rounded down.
fn mib(value: &Value) -> Option<u64> {
    if let Some(bytes) = value.as_u64() {
        return Some(bytes >> 20);
    }
    let text = value.as_str()?.trim().to_ascii_lowercase();
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    let number: f64 = digits.parse().ok()?;
    let scale: f64 = match unit.trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * scale / (1024.0 * 1024.0)) as u64)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error, read_file, read_text, uv_run};
    use super::*;

    #[test]
    fn both_services_come_with_command_env_checks_and_mounts() {
        let deployment = read_file("compose.yaml", &[]).unwrap();
        assert_eq!(deployment.kind, SpecKind::Compose);
        assert_eq!(deployment.kind.profile(), "docker");
        let [web, broker] = &deployment.targets[..] else {
            panic!("{:?}", deployment.targets)
        };

        assert_eq!(web.name, "web");
        assert_eq!(web.location.path, "services.web");
        assert_eq!(web.location.line, Some(4));
        assert_eq!(web.image, "rofs-audit-seed/webhook:before");
        assert_eq!(web.cmd, uv_run());
        assert_eq!(web.working_dir.as_deref(), Some("/app"));
        assert_eq!(
            web.env,
            [
                "FLASK_ENV=production",
                "PORT=5000",
                "WEBHOOK_TOKEN=<from the environment of docker compose>"
            ]
        );
        assert_eq!(
            web.placeholders,
            ["WEBHOOK_TOKEN", "/run/secrets/benchling_client_secret"]
        );
        assert_eq!(web.user.as_deref(), Some("1000:1000"));
        assert_eq!(web.ports, [5000]);
        assert_eq!(
            web.probes,
            [Probe::Exec(vec![
                "python3".into(),
                "-c".into(),
                "import urllib.request as u; u.urlopen('http://localhost:5000/health/ready')"
                    .into()
            ])]
        );
        assert_eq!(web.mounts, [TmpfsSpec::new("/tmp", "size=16m,mode=1777")]);
        assert!(!web.read_only);
        assert_eq!(web.memory_mib, Some(256));

        assert_eq!(broker.name, "broker");
        assert_eq!(broker.location.line, Some(24));
        assert_eq!(broker.image, "busybox:1.36");
        assert_eq!(
            broker.entrypoint,
            Some(vec!["nc".into(), "-lk".into(), "-p".into(), "6379".into()])
        );
        assert_eq!(broker.cmd, Some(vec!["-e".into(), "cat".into()]));
        assert_eq!(broker.ports, [6379]);
        assert_eq!(broker.probes, [] as [Probe; 0]);
        assert!(broker.read_only);
        assert_eq!(
            broker.mounts,
            [
                TmpfsSpec::new("/run", ""),
                TmpfsSpec::new("/data", ""),
                TmpfsSpec::new("/cache", "size=32m")
            ]
        );
        assert_eq!(broker.memory_mib, Some(1024));
    }

    #[test]
    fn healthcheck_forms() {
        let probe = |yaml: &str| healthcheck(&serde_yaml_ng::from_str(yaml).unwrap());
        assert_eq!(
            probe("test: curl -f localhost"),
            Some(Probe::Exec(vec![
                "/bin/sh".into(),
                "-c".into(),
                "curl -f localhost".into()
            ]))
        );
        assert_eq!(
            probe("test: [CMD-SHELL, exit 0]"),
            Some(Probe::Exec(vec![
                "/bin/sh".into(),
                "-c".into(),
                "exit 0".into()
            ]))
        );
        assert_eq!(probe("test: [NONE]"), None);
        assert_eq!(probe("test: [CMD, true]\ndisable: true"), None);
    }

    #[test]
    fn ports_and_sizes_in_their_compose_forms() {
        let ports = |yaml: &str| container_ports(&serde_yaml_ng::from_str(yaml).unwrap());
        assert_eq!(ports("'127.0.0.1:8080:80/tcp'"), [80]);
        assert_eq!(ports("'9000-9002:7000-7002'"), [7000, 7001, 7002]);
        assert_eq!(ports("{target: 443, published: 8443}"), [443]);
        assert_eq!(ports("3000"), [3000]);
        let size = |yaml: &str| mib(&serde_yaml_ng::from_str(yaml).unwrap());
        assert_eq!(size("512m"), Some(512));
        assert_eq!(size("1gb"), Some(1024));
        assert_eq!(size("67108864"), Some(64));
        assert_eq!(size("lots"), None);
    }

    #[test]
    fn bad_services_say_where_and_what_to_do() {
        assert_eq!(
            error("c.yaml", "services:\n  app:\n    build: .\n"),
            "c.yaml:2: services.app.build: the service is built, not pulled; build it (docker \
             compose build app) and give the image as --image app=REF"
        );
        let built = read_text(
            "c.yaml",
            "services:\n  app:\n    build: .\n",
            &[("app", "a:1")],
        );
        assert_eq!(built.unwrap().targets[0].image, "a:1");
        assert_eq!(
            error("c.yaml", "services: {}\n"),
            "c.yaml: services: no services, so no containers to audit; add the services"
        );
        assert_eq!(
            error(
                "c.yaml",
                "services:\n  app:\n    image: a\n    mem_limit: lots\n"
            ),
            "c.yaml:2: services.app.mem_limit: lots is not an amount of memory; write it like \
             512m or 1g"
        );
        let err = error(
            "c.yaml",
            "services:\n  app:\n    image: a\n    tmpfs: run\n",
        );
        assert!(
            err.starts_with("c.yaml:2: services.app.tmpfs: the mount point \"run\" is not"),
            "{err}"
        );
    }
}
