//! Where the engine is, found as the docker CLI finds it: `DOCKER_HOST` (with
//! `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`), else the context `DOCKER_CONTEXT` names, else the
//! current context of the CLI's config (`$DOCKER_CONFIG`, default `~/.docker`).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

/// The engine's address, and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///var/run/docker.sock`, `tcp://host:2376`, `ssh://user@host`.
    pub host: String,
    /// The directory holding `ca.pem`, `cert.pem` and `key.pem`, when the engine is reached
    /// over TLS.
    pub tls: Option<PathBuf>,
    /// Where the address came from, as errors name it: `DOCKER_HOST`, `context "ci"`.
    pub source: String,
}

/// The engine a docker CLI with no settings talks to.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

impl Endpoint {
    /// The endpoint from this process's environment and the CLI's config.
    pub fn from_env() -> Result<Endpoint> {
        resolve(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Whether the engine is reached through a socket on this machine: its published ports
    /// are then on this machine's loopback (or forwarded to it, as Docker Desktop does).
    pub fn is_socket(&self) -> bool {
        self.host.starts_with("unix://")
    }
}

/// The endpoint as the docker CLI resolves it, reading variables through `env`.
fn resolve(env: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint> {
    let config_dir = match env("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir),
        None => home(env).join(".docker"),
    };
    if let Some(host) = env("DOCKER_HOST") {
        let cert_path =
            || env("DOCKER_CERT_PATH").map_or_else(|| config_dir.clone(), PathBuf::from);
        let tls = env("DOCKER_TLS_VERIFY").map(|_| cert_path());
        return endpoint(host, tls, "DOCKER_HOST".to_string());
    }
    let (name, named_by) = match env("DOCKER_CONTEXT") {
        Some(name) => (name, "DOCKER_CONTEXT".to_string()),
        None => match current_context(&config_dir)? {
            Some(name) => (
                name,
                format!("{}", config_dir.join("config.json").display()),
            ),
            None => return endpoint(DEFAULT_HOST.to_string(), None, "the default".to_string()),
        },
    };
    if name == "default" {
        return endpoint(DEFAULT_HOST.to_string(), None, "the default".to_string());
    }
    context(&config_dir, &name, &named_by)
}

fn endpoint(host: String, tls: Option<PathBuf>, source: String) -> Result<Endpoint> {
    // As the docker CLI reads `-H engine:2375`.
    let host = match host.contains("://") {
        true => host,
        false => format!("tcp://{host}"),
    };
    const SCHEMES: [&str; 4] = ["unix://", "tcp://", "http://", "ssh://"];
    if !SCHEMES.iter().any(|s| host.starts_with(s)) {
        bail!(
            "the engine address {host:?} (from {source}) has no scheme rofs-audit can use; write \
             it as unix:///path, tcp://host:port or ssh://user@host"
        );
    }
    // The ssh transport hands `user@host:port` to ssh as a host name.
    if let Some(rest) = host.strip_prefix("ssh://") {
        let authority = rest.split('/').next().unwrap_or(rest);
        if let Some((name, port)) = authority.rsplit_once(':') {
            let name = name.rsplit('@').next().unwrap_or(name);
            bail!(
                "the engine address {host} (from {source}) gives an ssh port, which rofs-audit \
                 cannot pass to ssh; set it in ~/.ssh/config (`Host {name}` with `Port {port}`) \
                 and drop it from the address"
            );
        }
    }
    if let Some(dir) = &tls {
        if host.starts_with("ssh://") || host.starts_with("unix://") {
            bail!(
                "TLS is asked for (DOCKER_TLS_VERIFY) for {host}, which TLS cannot reach; unset \
                 DOCKER_TLS_VERIFY, or give a tcp:// address"
            );
        }
        for file in ["ca.pem", "cert.pem", "key.pem"] {
            if !dir.join(file).is_file() {
                bail!(
                    "TLS to {host} needs {}, which does not exist; point DOCKER_CERT_PATH at the \
                     directory holding ca.pem, cert.pem and key.pem",
                    dir.join(file).display()
                );
            }
        }
    }
    Ok(Endpoint { host, tls, source })
}

fn home(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    PathBuf::from(env("HOME").unwrap_or_else(|| "/root".to_string()))
}

/// `currentContext` of the CLI's config, when it names one.
fn current_context(config_dir: &Path) -> Result<Option<String>> {
    let path = config_dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => bail!("cannot read {} ({e}); fix its permissions", path.display()),
    };
    let config: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{} is not JSON ({e}); fix it, or set DOCKER_HOST",
            path.display()
        )
    })?;
    Ok(config
        .get("currentContext")
        .and_then(|c| c.as_str())
        .filter(|c| !c.is_empty())
        .map(str::to_string))
}

/// A context's docker endpoint, from `contexts/meta/<digest>/meta.json` (matched by the name it
/// holds, so no digest is computed) and its TLS files in `contexts/tls/<digest>/docker`.
fn context(config_dir: &Path, name: &str, named_by: &str) -> Result<Endpoint> {
    let meta_root = config_dir.join("contexts").join("meta");
    let missing = || {
        anyhow!(
            "the docker context {name:?} (from {named_by}) does not exist in {}; list the \
             contexts with `docker context ls`, or set DOCKER_HOST",
            meta_root.display()
        )
    };
    let entries = std::fs::read_dir(&meta_root).map_err(|_| missing())?;
    for entry in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("meta.json")) else {
            continue;
        };
        let Ok(meta) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if meta.get("Name").and_then(|n| n.as_str()) != Some(name) {
            continue;
        }
        let docker = &meta["Endpoints"]["docker"];
        let Some(host) = docker.get("Host").and_then(|h| h.as_str()) else {
            bail!(
                "the docker context {name:?} has no docker endpoint; recreate it with `docker \
                 context create {name} --docker host=...`"
            );
        };
        let source = format!("docker context {name:?}");
        if docker.get("SkipTLSVerify").and_then(|s| s.as_bool()) == Some(true) {
            bail!(
                "the docker context {name:?} skips TLS verification, which rofs-audit does not \
                 do; give the context the engine's CA (`docker context update {name} --docker \
                 ca=...`)"
            );
        }
        let tls_dir = config_dir
            .join("contexts")
            .join("tls")
            .join(entry.file_name())
            .join("docker");
        let tls = tls_dir.join("ca.pem").is_file().then_some(tls_dir);
        return endpoint(host.to_string(), tls, source);
    }
    Err(missing())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolved(vars: &[(&str, &str)]) -> Result<Endpoint> {
        let vars: HashMap<String, String> = (vars.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&|name| vars.get(name).cloned())
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn docker_host_wins_over_every_context() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("config.json"),
            r#"{"currentContext":"ci"}"#,
        );
        let config = dir.path().to_str().unwrap();
        let e = resolved(&[
            ("DOCKER_CONFIG", config),
            ("DOCKER_HOST", "tcp://10.0.0.1:2375"),
            ("DOCKER_CONTEXT", "ci"),
        ])
        .unwrap();
        assert_eq!(e.host, "tcp://10.0.0.1:2375");
        assert_eq!(e.tls, None);
        assert_eq!(e.source, "DOCKER_HOST");
    }

    #[test]
    fn tls_reads_the_cert_path_or_the_config_dir() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            write(&dir.path().join("certs").join(f), "x");
        }
        let certs = dir.path().join("certs");
        let e = resolved(&[
            ("DOCKER_HOST", "tcp://engine:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", certs.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(e.tls.as_deref(), Some(certs.as_path()));
        let missing = resolved(&[
            ("DOCKER_HOST", "tcp://engine:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CONFIG", dir.path().to_str().unwrap()),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            missing.contains("ca.pem") && missing.contains("DOCKER_CERT_PATH"),
            "{missing}"
        );
    }

    #[test]
    fn a_context_is_found_by_its_name_with_its_tls_files() {
        let dir = tempfile::tempdir().unwrap();
        let digest = "0123abcd";
        write(
            &dir.path()
                .join("contexts/meta")
                .join(digest)
                .join("meta.json"),
            r#"{"Name":"build-vm","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://vm:2376","SkipTLSVerify":false}}}"#,
        );
        let tls = dir.path().join("contexts/tls").join(digest).join("docker");
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            write(&tls.join(f), "x");
        }
        write(
            &dir.path().join("config.json"),
            r#"{"currentContext":"build-vm"}"#,
        );
        let config = dir.path().to_str().unwrap();
        let current = resolved(&[("DOCKER_CONFIG", config)]).unwrap();
        assert_eq!(current.host, "tcp://vm:2376");
        assert_eq!(current.tls, Some(tls));
        assert_eq!(current.source, "docker context \"build-vm\"");
        let default = resolved(&[("DOCKER_CONFIG", config), ("DOCKER_CONTEXT", "default")]);
        assert_eq!(default.unwrap().host, DEFAULT_HOST);
        let unknown = resolved(&[("DOCKER_CONFIG", config), ("DOCKER_CONTEXT", "nope")])
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("\"nope\"") && unknown.contains("DOCKER_CONTEXT"),
            "{unknown}"
        );
        assert!(unknown.contains("docker context ls"), "{unknown}");
    }

    #[test]
    fn no_setting_is_the_default_socket_and_a_bad_scheme_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().to_str().unwrap();
        assert_eq!(
            resolved(&[("DOCKER_CONFIG", config)]).unwrap().host,
            DEFAULT_HOST
        );
        let bare = resolved(&[("DOCKER_HOST", "docker:2375")]).unwrap();
        assert_eq!(bare.host, "tcp://docker:2375");
        let bad = resolved(&[("DOCKER_HOST", "npipe:////./pipe/docker_engine")])
            .unwrap_err()
            .to_string();
        assert!(bad.contains("npipe") && bad.contains("tcp://"), "{bad}");
        let ssh = resolved(&[("DOCKER_HOST", "ssh://ci@build-vm")]).unwrap();
        assert_eq!(ssh.host, "ssh://ci@build-vm");
        let port = resolved(&[("DOCKER_HOST", "ssh://ci@build-vm:2222")])
            .unwrap_err()
            .to_string();
        assert!(
            port.contains("Host build-vm") && port.contains("Port 2222"),
            "{port}"
        );
    }
}
