//! One container run: create (labelled), start, wait until ready, stop as a platform does
//! (SIGTERM, then SIGKILL after the stop timeout), with its logs collected as they come.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};
use bollard::query_parameters::{LogsOptionsBuilder, StopContainerOptionsBuilder};
use futures_util::StreamExt;
use tokio::sync::watch;

use super::{Engine, RunId};
use crate::model::{ExitStatus, LogLine, ProbeResult};
use crate::probe::Probe;

/// What to run. Mirrors the `docker run` flags rofs-audit needs and nothing more: never
/// privileged, ports published on 127.0.0.1 only.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub image_id: String,
    pub user: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub port: Option<u16>,
    pub readonly_rootfs: bool,
    /// Mount point → tmpfs options, as after `--tmpfs PATH:` on the docker CLI.
    pub tmpfs: Vec<(String, String)>,
    pub volumes: Vec<VolumeMount>,
    /// `none` where the platform gives the container no /dev/shm.
    pub ipc_mode: Option<String>,
}

/// A volume of ours mounted into the container.
#[derive(Debug, Clone)]
pub struct VolumeMount {
    pub name: String,
    pub target: String,
    /// Docker still copies the image's files into it, so the app sees them but cannot write:
    /// an image VOLUME on a platform that does not make those writable.
    pub read_only: bool,
}

impl ContainerSpec {
    fn body(&self) -> ContainerCreateBody {
        let port_key = self.port.map(|p| format!("{p}/tcp"));
        let mounts = self
            .volumes
            .iter()
            .map(|v| Mount {
                target: Some(v.target.clone()),
                source: Some(v.name.clone()),
                typ: Some(MountType::VOLUME),
                read_only: Some(v.read_only),
                ..Default::default()
            })
            .collect::<Vec<_>>();
        let host_config = HostConfig {
            port_bindings: port_key.clone().map(|k| {
                HashMap::from([(
                    k,
                    Some(vec![PortBinding {
                        host_ip: Some(Ipv4Addr::LOCALHOST.to_string()),
                        host_port: Some(String::new()),
                    }]),
                )])
            }),
            readonly_rootfs: Some(self.readonly_rootfs),
            tmpfs: (!self.tmpfs.is_empty()).then(|| self.tmpfs.iter().cloned().collect()),
            mounts: (!mounts.is_empty()).then_some(mounts),
            ipc_mode: self.ipc_mode.clone(),
            privileged: Some(false),
            ..Default::default()
        };
        ContainerCreateBody {
            image: Some(self.image_id.clone()),
            user: self.user.clone(),
            entrypoint: self.entrypoint.clone(),
            cmd: self.cmd.clone(),
            env: (!self.env.is_empty()).then(|| self.env.clone()),
            exposed_ports: port_key.map(|k| vec![k]),
            host_config: Some(host_config),
            // rofs-audit runs the image's HEALTHCHECK itself, when it is the probe: the engine's
            // own runs would write at moments no phase accounts for.
            healthcheck: Some(bollard::models::HealthConfig {
                test: Some(vec!["NONE".to_string()]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

pub struct Container {
    engine: Engine,
    pub id: String,
    logs: Arc<Mutex<Vec<LogLine>>>,
    log_task: Option<tokio::task::JoinHandle<()>>,
    exited: watch::Receiver<Option<i64>>,
    exit_sender: Option<watch::Sender<Option<i64>>>,
    port: Option<u16>,
    addr: Option<SocketAddr>,
    /// When the start request went out: startup is timed from here.
    started: Option<Instant>,
    /// Log lines that doom the run (a read-only error, for a proof run that must stay clean).
    alarm: Option<fn(&str) -> bool>,
    /// When the first such line arrived.
    alarmed: watch::Receiver<Option<Instant>>,
    alarm_sender: Option<watch::Sender<Option<Instant>>>,
}

/// How long a doomed run goes on after its first alarming log line, to collect the lines that
/// follow it (a stack trace, the next failed write).
pub const ALARM_GRACE: Duration = Duration::from_secs(1);

/// How long a probe may keep answering a client error (404, 403, ...) before the wait ends: the
/// app is up and answers, just not on that path, and waiting out the budget changes nothing.
const CLIENT_ERROR_PATIENCE: Duration = Duration::from_secs(5);

/// How a wait for readiness ended.
#[derive(Debug)]
pub enum Readiness {
    Ready {
        elapsed: Duration,
    },
    Exited {
        code: i64,
    },
    /// Nothing ever answered on the port; the last attempt says how it failed.
    NeverOpened {
        last: Option<ProbeResult>,
    },
    /// The port answered, but the probe never got the expected answer, or kept answering a
    /// client error.
    ProbeFailing {
        last: ProbeResult,
    },
    /// A log line doomed the run before it was ready (see [`Container::alarm_on`]).
    Doomed,
}

/// A 4xx that waiting does not cure: not 408 (timeout) or 429 (too many requests).
fn is_client_error(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

struct Alarm {
    matches: fn(&str) -> bool,
    sender: watch::Sender<Option<Instant>>,
}

impl Container {
    pub async fn create(
        engine: &Engine,
        run: &RunId,
        role: &str,
        spec: &ContainerSpec,
    ) -> Result<Self> {
        let id = engine.create_container(run, role, spec.body()).await?;
        let (tx, rx) = watch::channel(None);
        let (alarm_tx, alarm_rx) = watch::channel(None);
        Ok(Container {
            engine: engine.clone(),
            id,
            logs: Arc::default(),
            log_task: None,
            exited: rx,
            exit_sender: Some(tx),
            port: spec.port,
            addr: None,
            started: None,
            alarm: None,
            alarmed: alarm_rx,
            alarm_sender: Some(alarm_tx),
        })
    }

    /// Before `start`: a log line for which `alarm` holds dooms the run, and [`Self::doomed`]
    /// ends [`ALARM_GRACE`] after the first one.
    pub fn alarm_on(&mut self, alarm: fn(&str) -> bool) {
        self.alarm = Some(alarm);
    }

    /// Completes [`ALARM_GRACE`] after the first alarming log line; never without one.
    pub async fn doomed(&self) {
        let mut alarmed = self.alarmed.clone();
        let at = alarmed
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|at| *at);
        match at {
            Some(at) => tokio::time::sleep_until((at + ALARM_GRACE).into()).await,
            None => std::future::pending().await,
        }
    }

    pub async fn inspect(&self) -> Result<bollard::models::ContainerInspectResponse> {
        self.engine
            .docker()
            .inspect_container(&self.id, None)
            .await
            .with_context(|| format!("cannot inspect container {}", short(&self.id)))
    }

    pub async fn start(&mut self) -> Result<()> {
        let docker = self.engine.docker().clone();
        self.started = Some(Instant::now());
        if let Err(e) = docker.start_container(&self.id, None).await {
            let text = e.to_string();
            return Err(match explain_start_error(&text) {
                Some(why) => anyhow::anyhow!("{why}"),
                None => anyhow::Error::new(e)
                    .context(format!("cannot start container {}", short(&self.id))),
            });
        }
        let sender = self
            .exit_sender
            .take()
            .expect("a container is started once");
        let id = self.id.clone();
        let waiter = docker.clone();
        tokio::spawn(async move {
            let mut wait = waiter.wait_container(&id, None);
            let code = match wait.next().await {
                Some(Ok(r)) => r.status_code,
                // bollard reports a non-zero exit as an error carrying the code.
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
                _ => return,
            };
            let _ = sender.send(Some(code));
        });
        let alarm = self
            .alarm
            .zip(self.alarm_sender.take())
            .map(|(matches, sender)| Alarm { matches, sender });
        self.log_task = Some(tokio::spawn(collect_logs(
            docker,
            self.id.clone(),
            self.logs.clone(),
            alarm,
        )));
        if let Some(port) = self.port {
            self.addr = self.published(port).await?;
        }
        Ok(())
    }

    async fn published(&self, port: u16) -> Result<Option<SocketAddr>> {
        let inspect = self.inspect().await?;
        let host_port = inspect
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|p| p.get(&format!("{port}/tcp")).cloned().flatten())
            .and_then(|b| b.into_iter().find_map(|b| b.host_port))
            .and_then(|p| p.parse::<u16>().ok());
        Ok(host_port.map(|p| SocketAddr::from((Ipv4Addr::LOCALHOST, p))))
    }

    pub fn exit_code(&self) -> Option<i64> {
        *self.exited.borrow()
    }

    /// Probes until the first probe answers as expected, the container exits, the probe keeps
    /// answering a client error, a log line dooms the run, or `timeout`, all counted from the
    /// start request.
    pub async fn wait_ready(&self, probe: &Probe, expect: u16, timeout: Duration) -> Readiness {
        tokio::select! {
            readiness = self.poll_ready(probe, expect, timeout) => readiness,
            () = self.doomed() => Readiness::Doomed,
        }
    }

    async fn poll_ready(&self, probe: &Probe, expect: u16, timeout: Duration) -> Readiness {
        let started = self.started.unwrap_or_else(Instant::now);
        if self.addr.is_none() && !matches!(probe, Probe::Exec(_)) {
            // Without a port there is nothing to probe: ready means still running.
            let mut exited = self.exited.clone();
            return match tokio::time::timeout(timeout, exited.wait_for(Option::is_some)).await {
                Ok(Ok(code)) => Readiness::Exited {
                    code: code.unwrap_or_default(),
                },
                _ => Readiness::Ready {
                    elapsed: started.elapsed(),
                },
            };
        };
        let mut last: Option<ProbeResult> = None;
        // Since when the probe has answered the same client error.
        let mut refusing: Option<(u16, Instant)> = None;
        loop {
            if let Some(code) = self.exit_code() {
                return Readiness::Exited { code };
            }
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return match last {
                    Some(last) if last.status.is_some() || matches!(probe, Probe::Exec(_)) => {
                        Readiness::ProbeFailing { last }
                    }
                    last => Readiness::NeverOpened { last },
                };
            }
            let allotted = left.min(Duration::from_secs(10));
            let result = self.check(probe, expect, allotted).await;
            if result.ok {
                return Readiness::Ready {
                    elapsed: started.elapsed(),
                };
            }
            // The budget's last sliver cuts an attempt short: that says nothing about the app.
            let cut_short = left < Duration::from_secs(1) && result.status.is_none();
            refusing = match (result.status, refusing) {
                (Some(s), Some((r, since))) if s == r => Some((r, since)),
                (Some(s), _) if is_client_error(s) => Some((s, Instant::now())),
                _ => None,
            };
            // Keep the last answer that came from the app itself, for the error message.
            let from_app =
                result.status.is_some() || last.as_ref().is_none_or(|l| l.status.is_none());
            if from_app && !(cut_short && last.is_some()) {
                last = Some(result);
            }
            if let (Some((_, since)), Some(last)) = (refusing, &last) {
                if since.elapsed() >= CLIENT_ERROR_PATIENCE {
                    return Readiness::ProbeFailing { last: last.clone() };
                }
            }
            tokio::time::sleep(crate::probe::RETRY_PAUSE).await;
        }
    }

    /// Probes once: on the published port, or inside the container for the image's
    /// HEALTHCHECK.
    pub async fn check(&self, probe: &Probe, expect: u16, timeout: Duration) -> ProbeResult {
        match (probe, self.addr) {
            (Probe::Exec(command), _) => self.exec(command, timeout).await,
            (_, Some(addr)) => probe.check(addr, expect, timeout).await,
            (_, None) => ProbeResult {
                target: probe.target().to_string(),
                status: None,
                latency_ms: 0,
                ok: false,
                error: Some("no port is published to probe: give --port".to_string()),
                note: None,
            },
        }
    }

    /// Probes until it answers as expected or `budget` runs out, as ECS and Kubernetes health
    /// checks retry: a readiness endpoint that answers 503 for a moment after the port opens is
    /// not a failure. `latency_ms` runs from the first attempt to the good answer; a failure
    /// keeps the last answer that came from the app itself.
    pub async fn until_ok(&self, probe: &Probe, expect: u16, budget: Duration) -> ProbeResult {
        let started = Instant::now();
        let mut last: Option<ProbeResult> = None;
        loop {
            let left = budget.saturating_sub(started.elapsed());
            let result = self
                .check(probe, expect, left.max(Duration::from_millis(1)))
                .await;
            if result.ok {
                return ProbeResult {
                    latency_ms: started.elapsed().as_millis() as u64,
                    ..result
                };
            }
            if result.status.is_some() || last.as_ref().is_none_or(|l| l.status.is_none()) {
                last = Some(result);
            }
            // An app that has exited will not answer: say how the probe failed, now.
            if started.elapsed() + crate::probe::RETRY_PAUSE >= budget || self.exit_code().is_some()
            {
                let mut last = last.expect("one attempt was made");
                last.latency_ms = started.elapsed().as_millis() as u64;
                return last;
            }
            tokio::time::sleep(crate::probe::RETRY_PAUSE).await;
        }
    }

    /// Runs `command` inside the container, as the container's user, as a platform runs a
    /// HEALTHCHECK: healthy when it exits 0 within `timeout`.
    async fn exec(&self, command: &[String], timeout: Duration) -> ProbeResult {
        let started = Instant::now();
        let outcome = tokio::time::timeout(timeout, self.exec_status(command)).await;
        let (ok, error) = match outcome {
            Ok(Ok((0, _))) => (true, None),
            Ok(Ok((code, output))) => (
                false,
                Some(format!(
                    "{} exited {code}: {}",
                    crate::probe::EXEC_TARGET,
                    output.trim()
                )),
            ),
            Ok(Err(e)) => (false, Some(e)),
            Err(_) => (
                false,
                Some(format!(
                    "{} did not finish within {}",
                    crate::probe::EXEC_TARGET,
                    crate::probe::seconds(timeout)
                )),
            ),
        };
        ProbeResult {
            target: crate::probe::EXEC_TARGET.to_string(),
            status: None,
            latency_ms: started.elapsed().as_millis() as u64,
            ok,
            error,
            note: None,
        }
    }

    /// The exit code of `command` run in the container, and the last of what it printed.
    async fn exec_status(&self, command: &[String]) -> Result<(i64, String), String> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let docker = self.engine.docker();
        let exec = docker
            .create_exec(
                &self.id,
                CreateExecOptions {
                    cmd: Some(command.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| {
                format!(
                    "cannot run the HEALTHCHECK: {}",
                    super::one_line(&e.to_string())
                )
            })?;
        let mut output = String::new();
        if let Ok(StartExecResults::Attached {
            output: mut stream, ..
        }) = docker.start_exec(&exec.id, None).await
        {
            while let Some(Ok(chunk)) = stream.next().await {
                output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                // Only the end is reported; a chatty check must not fill memory.
                if output.len() > 4096 {
                    output.drain(..output.len() - 1024);
                }
            }
        }
        let inspect = docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| format!("cannot read the HEALTHCHECK's exit: {e}"))?;
        let tail: String = output.lines().last().unwrap_or_default().to_string();
        Ok((
            inspect.exit_code.unwrap_or(-1),
            crate::model::escape_text(&tail),
        ))
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Stops as a platform does: the image's stop signal (SIGTERM), then SIGKILL after
    /// `timeout`. Returns how the container ended and how long stopping took.
    pub async fn stop(&mut self, timeout: Duration) -> Result<(ExitStatus, Duration)> {
        let started = Instant::now();
        let options = StopContainerOptionsBuilder::default()
            // The engine takes whole seconds: round up, so 500ms is not an immediate SIGKILL.
            .t((timeout.as_secs_f64().ceil() as u64)
                .try_into()
                .unwrap_or(i32::MAX))
            .build();
        self.engine
            .docker()
            .stop_container(&self.id, Some(options))
            .await
            .with_context(|| format!("cannot stop container {}", short(&self.id)))?;
        let took = started.elapsed();
        let state = self.inspect().await?.state.unwrap_or_default();
        self.drain_logs().await;
        Ok((
            ExitStatus::from_code(state.exit_code.unwrap_or_default()),
            took,
        ))
    }

    /// Removes the container and its anonymous volumes now, rather than with the rest of the run:
    /// the proof starts many. A failure here is caught by the run's cleanup guard.
    pub async fn remove(mut self) {
        self.drain_logs().await;
        let options = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let _ = self
            .engine
            .docker()
            .remove_container(&self.id, Some(options))
            .await;
    }

    /// Waits for the log stream of a stopped container to deliver its last lines.
    pub async fn drain_logs(&mut self) {
        if let Some(task) = self.log_task.take() {
            // The stream ends with the container; don't hang on a daemon that keeps it open.
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    pub fn logs(&self) -> Vec<LogLine> {
        self.logs.lock().expect("log buffer lock").clone()
    }

    /// The last `n` log lines, joined for a one-line error message.
    pub fn tail(&self, n: usize) -> String {
        let logs = self.logs();
        let tail = logs[logs.len().saturating_sub(n)..]
            .iter()
            .map(|l| l.line.as_str())
            .collect::<Vec<_>>();
        if tail.is_empty() {
            "(no log output)".to_string()
        } else {
            tail.join(" | ")
        }
    }
}

/// What the engine's refusal to start a container means for the flags that configured it: a
/// user or an executable the image does not have.
fn explain_start_error(text: &str) -> Option<String> {
    if let Some(rest) = text.split("unable to find user ").nth(1) {
        let user = rest.split(':').next().unwrap_or(rest).trim();
        return Some(format!(
            "the image has no user {user:?} (from --user or its USER): give a numeric id such \
             as --user 1000, or a name its /etc/passwd has"
        ));
    }
    let (_, rest) = text.split_once("exec: \"")?;
    let (program, why) = rest.split_once('"')?;
    let why = if why.contains("executable file not found") {
        "is not on the image's PATH"
    } else if why.contains("no such file or directory") {
        "is not in the image"
    } else if why.contains("permission denied") {
        "is not executable"
    } else {
        return None;
    };
    Some(format!(
        "{program:?} {why}: the command comes from --entrypoint, --cmd or the words after --, \
         else from the image's ENTRYPOINT and CMD; give a program the image has"
    ))
}

pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

async fn collect_logs(
    docker: bollard::Docker,
    id: String,
    sink: Arc<Mutex<Vec<LogLine>>>,
    alarm: Option<Alarm>,
) {
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .build();
    let mut stream = docker.logs(&id, Some(options));
    while let Some(Ok(output)) = stream.next().await {
        let (stream_name, bytes) = match output {
            LogOutput::StdErr { message } => ("stderr", message),
            LogOutput::StdOut { message } | LogOutput::Console { message } => ("stdout", message),
            LogOutput::StdIn { .. } => continue,
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut sink = sink.lock().expect("log buffer lock");
        for raw in text.lines().filter(|l| !l.is_empty()) {
            // With timestamps on, the engine prefixes each line with an RFC 3339 time and a space.
            let (time, line) = match raw.split_once(' ') {
                Some((t, rest)) if t.len() >= 20 && t.as_bytes()[4] == b'-' => (Some(t), rest),
                _ => (None, raw),
            };
            if let Some(alarm) = alarm.as_ref().filter(|a| a.sender.borrow().is_none()) {
                if (alarm.matches)(line) {
                    let _ = alarm.sender.send(Some(Instant::now()));
                }
            }
            sink.push(LogLine {
                stream: stream_name.to_string(),
                line: crate::model::escape_text(line),
                time: time.map(str::to_string),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_errors_name_the_flag_and_the_fix() {
        // As Docker Engine 20.10 words them.
        let user = explain_start_error(
            "Docker responded with status code 500: unable to find user nosuchuser: no matching entries in passwd file",
        )
        .unwrap();
        assert!(
            user.contains("\"nosuchuser\"") && user.contains("--user 1000"),
            "{user}"
        );
        let missing = explain_start_error(
            "Docker responded with status code 400: failed to create shim: OCI runtime create failed: container_linux.go:380: starting container process caused: exec: \"/nope\": stat /nope: no such file or directory: unknown",
        )
        .unwrap();
        assert!(
            missing.starts_with("\"/nope\" is not in the image"),
            "{missing}"
        );
        let path = explain_start_error(
            "OCI runtime create failed: exec: \"nope\": executable file not found in $PATH: unknown",
        )
        .unwrap();
        assert!(path.contains("not on the image's PATH"), "{path}");
        assert_eq!(
            explain_start_error("driver failed programming external connectivity"),
            None
        );
    }
}
