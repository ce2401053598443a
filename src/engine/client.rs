//! One connection to the engine with a negotiated API version, and the runs' names and labels:
//! what creates, finds and removes our containers and volumes.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, EventsOptionsBuilder,
    ListContainersOptionsBuilder, ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

use super::endpoint::Endpoint;
use super::flavor::Flavor;

/// Present on every container and volume rofs-audit creates.
pub const LABEL_MANAGED: &str = "dev.rofs-audit.managed";
/// Identifies one run, so that its guard removes exactly what the run created.
pub const LABEL_RUN: &str = "dev.rofs-audit.run";
/// The creating process, so `clean` can leave the resources of a live audit alone.
pub const LABEL_PID: &str = "dev.rofs-audit.pid";
pub const LABEL_HOST: &str = "dev.rofs-audit.host";

#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
    /// Why probes go from inside the container's network namespace, not to a port published
    /// on this machine: the engine is elsewhere, and its 127.0.0.1 is not ours.
    probes_inside: Option<String>,
    flavor: Flavor,
}

/// The engine went away in the middle of the run (stopped, restarted or crashed): the run's
/// containers went with it, so nothing the run measured holds.
#[derive(Debug, thiserror::Error)]
#[error(
    "the Docker Engine at {host} went away in the middle of the run ({why}); rerun once it \
     answers again (what this run created is removed then)"
)]
pub struct EngineLost {
    pub host: String,
    pub why: String,
}

impl Engine {
    /// Connects as the docker CLI does (see [`Endpoint`]) and negotiates the API version.
    pub async fn connect() -> Result<Engine> {
        let endpoint = Endpoint::from_env()?;
        let host = endpoint.host.clone();
        let at = format!("{host} (from {})", endpoint.source);
        let hint = match endpoint.is_socket() {
            true => "start the Docker daemon, or point DOCKER_HOST or a docker context at one",
            false => "check that the engine listens there and that this machine may reach it",
        };
        let docker = open(&endpoint).map_err(|e| {
            anyhow!(
                "cannot use the Docker Engine at {at}: {}; {hint}",
                cause(&e)
            )
        })?;
        let docker = tokio::time::timeout(Duration::from_secs(15), docker.negotiate_version())
            .await
            .map_err(|_| anyhow!("the Docker Engine at {at} did not answer in 15s; {hint}"))?
            .map_err(|e| {
                anyhow!(
                    "cannot reach the Docker Engine at {at}: {}; {hint}",
                    cause(&e)
                )
            })?;
        let probes_inside = match std::env::var("ROFS_AUDIT_PROBE_FROM").as_deref() {
            Ok("inside") => Some("ROFS_AUDIT_PROBE_FROM=inside".to_string()),
            Ok("host") => None,
            Ok(other) => bail!(
                "ROFS_AUDIT_PROBE_FROM={other:?} is neither `host` nor `inside`; unset it to \
                 let rofs-audit choose"
            ),
            Err(_) if endpoint.is_socket() => None,
            Err(_) => Some(format!(
                "the engine at {host} is reached over the network, so a port it publishes on \
                 its own 127.0.0.1 is not this machine's"
            )),
        };
        let flavor = Flavor::of(&docker).await;
        Ok(Engine {
            docker,
            host,
            probes_inside,
            flavor,
        })
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Where the engine is (`unix:///var/run/docker.sock`, `tcp://...`), as errors name it.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub(super) fn lost(&self, why: String) -> anyhow::Error {
        EngineLost {
            host: self.host.clone(),
            why,
        }
        .into()
    }

    /// Whether probes reach the app from inside its network namespace (a relay container
    /// beside it) rather than on a port published on this machine's loopback.
    /// Docker, or podman's compatible service: where a proof must follow the engine.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    pub fn probes_inside(&self) -> Option<&str> {
        self.probes_inside.as_deref()
    }

    /// Inspects an image, pulling it first if it is not present locally.
    pub async fn image(
        &self,
        reference: &str,
        progress: &crate::progress::Progress,
    ) -> Result<bollard::models::ImageInspect> {
        if let Ok(image) = self.docker.inspect_image(reference).await {
            return Ok(image);
        }
        let step = progress.step(format!("pulling {reference}"));
        let options = CreateImageOptionsBuilder::default()
            .from_image(reference)
            .build();
        let mut pull = self.docker.create_image(Some(options), None, None);
        while let Some(progress) = pull.next().await {
            if let Err(e) = progress {
                bail!(
                    "image {reference:?} is not present locally and pulling it failed ({}); \
                     build it or check the name with `docker images`",
                    one_line(&e.to_string())
                );
            }
        }
        step.done(format!("pulled {reference}"));
        self.docker.inspect_image(reference).await.map_err(|e| {
            anyhow!(
                "image {reference:?} could not be inspected after pulling ({e}); \
                 check the name with `docker images`"
            )
        })
    }

    /// Creates a container carrying the run's labels.
    pub async fn create_container(
        &self,
        run: &RunId,
        role: &str,
        mut body: ContainerCreateBody,
    ) -> Result<String> {
        body.labels
            .get_or_insert_with(HashMap::new)
            .extend(run.labels());
        let name = run.name(role);
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .with_context(|| format!("cannot create container {name}"))?;
        Ok(created.id)
    }

    pub async fn create_volume(&self, run: &RunId, role: &str) -> Result<String> {
        let name = run.name(role);
        let body = bollard::models::VolumeCreateRequest {
            name: Some(name.clone()),
            labels: Some(run.labels()),
            ..Default::default()
        };
        self.docker
            .create_volume(body)
            .await
            .with_context(|| format!("cannot create volume {name}"))?;
        Ok(name)
    }

    /// Removes a volume of ours now; a failure is left to the run's cleanup guard.
    pub async fn remove_volume(&self, name: &str) {
        let _ = self
            .docker
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await;
    }

    /// Removes every container and volume carrying the run's label: what the run's guard and
    /// its watchdog do.
    pub async fn remove_run(&self, run: &RunId) -> CleanReport {
        let filter = format!("{LABEL_RUN}={}", run.id);
        self.remove_labelled(&filter, |_| true).await
    }

    /// Removes leftovers of earlier runs. Resources of an audit that is still running on this
    /// host are kept unless `all` is set.
    pub async fn clean(&self, all: bool) -> Result<CleanReport> {
        let this_host = hostname();
        let keep = |labels: &HashMap<String, String>| {
            if all {
                return false;
            }
            let same_host = labels.get(LABEL_HOST) == Some(&this_host);
            let pid = labels.get(LABEL_PID).and_then(|p| p.parse::<u32>().ok());
            // A resource of another host cannot be judged from here: keep it unless --all.
            !same_host || pid.is_some_and(process_is_rofs_audit)
        };
        let report = self.remove_labelled(LABEL_MANAGED, |l| !keep(l)).await;
        if let Some(e) = report.errors.first() {
            bail!("cannot remove every leftover ({e}); retry, or remove it with docker rm -f");
        }
        Ok(report)
    }

    /// Removes the selected containers carrying a label, then the selected volumes (a volume
    /// goes only once no container uses it), each kind all at once: a killed run's watchdog has
    /// seconds, and a forced removal of a running container waits for it to die.
    async fn remove_labelled(
        &self,
        label_filter: &str,
        select: impl Fn(&HashMap<String, String>) -> bool,
    ) -> CleanReport {
        let mut report = CleanReport::default();
        let filters = HashMap::from([("label", vec![label_filter])]);
        let list = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        match self.docker.list_containers(Some(list)).await {
            Ok(containers) => {
                let mut ids = vec![];
                for c in containers {
                    let (Some(id), labels) = (c.id, c.labels.unwrap_or_default()) else {
                        continue;
                    };
                    match select(&labels) {
                        true => ids.push(id),
                        false => report.kept += 1,
                    }
                }
                let removals = ids.into_iter().map(|id| async move {
                    let rm = RemoveContainerOptionsBuilder::default()
                        .force(true)
                        .v(true)
                        .build();
                    let outcome = self.docker.remove_container(&id, Some(rm)).await;
                    (id, outcome)
                });
                for (id, outcome) in futures_util::future::join_all(removals).await {
                    match outcome {
                        Ok(()) => report.containers.push(id),
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => report.errors.push(e.to_string()),
                    }
                }
            }
            Err(e) => report.errors.push(e.to_string()),
        }
        let list = ListVolumesOptionsBuilder::default()
            .filters(&filters)
            .build();
        match self.docker.list_volumes(Some(list)).await {
            Ok(volumes) => {
                let mut names = vec![];
                for v in volumes.volumes.unwrap_or_default() {
                    match select(&v.labels) {
                        true => names.push(v.name),
                        false => report.kept += 1,
                    }
                }
                let removals = names.into_iter().map(|name| async move {
                    let rm = RemoveVolumeOptionsBuilder::default().force(true).build();
                    let outcome = self.docker.remove_volume(&name, Some(rm)).await;
                    (name, outcome)
                });
                for (name, outcome) in futures_util::future::join_all(removals).await {
                    match outcome {
                        Ok(()) => report.volumes.push(name),
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => report.errors.push(e.to_string()),
                    }
                }
            }
            Err(e) => report.errors.push(e.to_string()),
        }
        report
    }

    /// Whether the engine answers now; the error, on one line, when it does not.
    pub(super) async fn answers(&self) -> std::result::Result<(), String> {
        match tokio::time::timeout(Duration::from_secs(5), self.docker.ping()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(one_line(&e.to_string())),
            Err(_) => Err("it did not answer a ping in 5s".to_string()),
        }
    }

    /// Completes when the engine goes away: its event stream (of this run's objects, so it
    /// carries little) ends and a ping fails. An ended stream with an engine that still answers
    /// (a proxy that closes idle connections) is followed again.
    pub(super) async fn gone(&self, run: &RunId) -> String {
        let label = format!("{LABEL_RUN}={}", run.id);
        let filters = HashMap::from([("label", vec![label.as_str()])]);
        loop {
            let options = EventsOptionsBuilder::default().filters(&filters).build();
            let mut events = self.docker.events(Some(options));
            let mut ended = "its event stream ended";
            while let Some(event) = events.next().await {
                match event {
                    Ok(_) => {}
                    // An event this client cannot decode says nothing about the connection.
                    Err(
                        bollard::errors::Error::JsonDataError { .. }
                        | bollard::errors::Error::JsonSerdeError { .. },
                    ) => {}
                    Err(_) => {
                        ended = "its event stream broke";
                        break;
                    }
                }
            }
            match self.answers().await {
                Ok(()) => tokio::time::sleep(Duration::from_millis(500)).await,
                Err(e) => return format!("{ended}, and it no longer answers: {e}"),
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct CleanReport {
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    /// Resources left alone because an audit that owns them is still running.
    pub kept: usize,
    pub errors: Vec<String>,
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Opens a client for the endpoint, with TLS or ssh where it asks for them.
fn open(endpoint: &Endpoint) -> std::result::Result<Docker, bollard::errors::Error> {
    let (host, timeout, version) = (&endpoint.host, 120, bollard::API_DEFAULT_VERSION);
    match &endpoint.tls {
        Some(dir) => Docker::connect_with_ssl(
            host,
            &dir.join("key.pem"),
            &dir.join("cert.pem"),
            &dir.join("ca.pem"),
            timeout,
            version,
        ),
        None if host.starts_with("unix://") => Docker::connect_with_unix(host, timeout, version),
        None if host.starts_with("ssh://") => {
            Docker::connect_with_ssh(host, timeout, version, None)
        }
        None => Docker::connect_with_http(host, timeout, version),
    }
}

/// An error with the causes beneath it: a TLS or ssh failure says only "client error
/// (SendRequest)" on top, and what went wrong (an unknown CA, a refused key) below.
pub fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut words = vec![one_line(&e.to_string())];
    let mut source = e.source();
    while let Some(inner) = source {
        let text = one_line(&inner.to_string());
        if !words.iter().any(|w| w.contains(&text)) {
            words.push(text);
        }
        source = inner.source();
    }
    words.join(": ")
}

/// Engine errors can span lines (pull progress, daemon messages); our errors are one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn process_is_rofs_audit(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "rofs-audit")
}

/// One audit run: names and labels for what it creates.
#[derive(Debug, Clone)]
pub struct RunId {
    pub id: String,
}

impl RunId {
    pub fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        RunId {
            id: format!("{:x}{:05x}", std::process::id(), nanos >> 12),
        }
    }

    /// A name no other container or volume of this run has: a run that audits several targets
    /// creates a `trace` for each, and the last one's removal may still be under way.
    pub fn name(&self, role: &str) -> String {
        static CREATED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = CREATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match n {
            0 => format!("rofs-audit-{}-{role}", self.id),
            n => format!("rofs-audit-{}-{role}-{n}", self.id),
        }
    }

    pub fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_RUN.to_string(), self.id.clone()),
            (LABEL_PID.to_string(), std::process::id().to_string()),
            (LABEL_HOST.to_string(), hostname()),
        ])
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_engine_is_one_line_naming_it_and_what_to_do() {
        let lost = EngineLost {
            host: "unix:///var/run/docker.sock".to_string(),
            why: "its event stream ended".to_string(),
        }
        .to_string();
        assert_eq!(lost.lines().count(), 1);
        assert!(lost.starts_with(
            "the Docker Engine at unix:///var/run/docker.sock went away in the middle of the run"
        ));
        assert!(lost.contains("rerun"), "{lost}");
    }
}
