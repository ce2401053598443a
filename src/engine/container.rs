//! One container run: create (labelled), start, wait until ready, stop as a platform does
//! (SIGTERM, then SIGKILL after the stop timeout), with its logs collected as they come: every
//! line is looked at as it streams, and what is kept is bounded (see [`LogStats`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bollard::container::LogOutput;
use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, Mount, MountType, MountVolumeOptions,
    PortBinding,
};
use bollard::query_parameters::{LogsOptionsBuilder, StopContainerOptionsBuilder};
use futures_util::StreamExt;
use tokio::sync::{watch, Notify};

use super::client::{Engine, RunId};
use super::relay::Relay;
use crate::model::{ExitStatus, LogLine, ProbeResult, TmpfsSpec};
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
    pub tmpfs: Vec<TmpfsSpec>,
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
    /// Nothing of the image is copied in: it starts empty and root-owned, as a platform's
    /// volume does at a path the image declares no VOLUME.
    pub no_copy: bool,
}

impl ContainerSpec {
    /// What the engine is asked to create. `publish` puts the port on this machine's loopback;
    /// probes from inside the container's network need nothing published.
    fn body(&self, publish: bool) -> ContainerCreateBody {
        let port_key = self.port.map(|p| format!("{p}/tcp"));
        let mounts = self
            .volumes
            .iter()
            .map(|v| Mount {
                target: Some(v.target.clone()),
                source: Some(v.name.clone()),
                typ: Some(MountType::VOLUME),
                read_only: Some(v.read_only),
                volume_options: v.no_copy.then(|| MountVolumeOptions {
                    no_copy: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect::<Vec<_>>();
        let host_config = HostConfig {
            port_bindings: port_key.clone().filter(|_| publish).map(|k| {
                HashMap::from([(
                    k,
                    Some(vec![PortBinding {
                        host_ip: Some(Ipv4Addr::LOCALHOST.to_string()),
                        host_port: Some(String::new()),
                    }]),
                )])
            }),
            readonly_rootfs: Some(self.readonly_rootfs),
            tmpfs: (!self.tmpfs.is_empty()).then(|| {
                self.tmpfs
                    .iter()
                    .map(|t| (t.path.clone(), t.options.clone()))
                    .collect()
            }),
            mounts: (!mounts.is_empty()).then_some(mounts),
            ipc_mode: self.ipc_mode.clone(),
            privileged: Some(false),
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".to_string()),
                config: Some(HashMap::from([
                    ("max-size".to_string(), LOG_FILE_SIZE.to_string()),
                    ("max-file".to_string(), LOG_FILES.to_string()),
                ])),
            }),
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
    logs: Arc<Mutex<LogBuffer>>,
    log_task: Option<tokio::task::JoinHandle<()>>,
    /// Tells the log task to drop a stream that has gone quiet and read on from where it got.
    log_reopen: Arc<Notify>,
    /// Where the log streams got, kept across them and across starts: a container started
    /// again reads on from the lines of its earlier run.
    log_cursor: Arc<Mutex<LogCursor>>,
    /// The exit code of the current run, once it ended.
    exited: watch::Receiver<Option<i64>>,
    port: Option<u16>,
    run: RunId,
    /// How probes reach the port in the current run.
    reach: Reach,
    /// When the start request went out: startup is timed from here.
    started: Option<Instant>,
    /// Log lines kept wherever they come, however much the container prints.
    keep: Option<fn(&str) -> bool>,
    /// Log lines that doom the run (a read-only error, for a proof run that must stay clean);
    /// they are kept too.
    alarm: Option<fn(&str) -> bool>,
    /// When the first such line arrived.
    alarmed: watch::Receiver<Option<Instant>>,
    /// Whether the wait for readiness ends once the log names other ports than the one probed
    /// and that one stays closed (see [`Self::other_ports_end_the_wait`]).
    other_ports_end_wait: bool,
    /// How long the same app took to get ready with a writable root, when known.
    yardstick: Option<Duration>,
    alarm_sender: Option<watch::Sender<Option<Instant>>>,
}

/// How long a doomed run goes on after its first alarming log line, to collect the lines that
/// follow it (a stack trace, the next failed write).
pub const ALARM_GRACE: Duration = Duration::from_secs(1);

/// How long the probed port may stay closed after the log said the app listens on others: an
/// app that announces one port before it opens the next gets this long.
pub const OTHER_PORT_PATIENCE: Duration = Duration::from_secs(3);

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
    /// Not ready long after the writable run was, with a failed write in its log (see
    /// [`Container::measure_against`]); `last` is the probe's last failure.
    Outrun {
        last: ProbeResult,
        writable: Duration,
    },
}

/// How long after the start a run may be not ready when the writable run was ready after
/// `writable`: three times that, and at least 3 s more, so a loaded machine's slower start
/// and a readiness window (a 503 for a moment after the port opens) still pass.
pub fn outrun(writable: Duration) -> Duration {
    (writable * 3).max(writable + Duration::from_secs(3))
}

/// A 4xx that waiting does not cure: not 408 (timeout) or 429 (too many requests).
fn is_client_error(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

/// How probes reach the app's port in one run.
enum Reach {
    /// No port, or not started yet.
    Nowhere,
    /// Published on this machine's loopback.
    Published(SocketAddr),
    /// Through a relay in the container's network; why not, where it could not start.
    Inside(std::result::Result<Relay, String>),
}

impl Reach {
    fn dialer(&self) -> std::result::Result<&dyn crate::probe::Dialer, String> {
        match self {
            Reach::Published(addr) => Ok(addr),
            Reach::Inside(Ok(relay)) => Ok(relay),
            Reach::Inside(Err(why)) => Err(why.clone()),
            Reach::Nowhere => Err("no port is published to probe: give --port".to_string()),
        }
    }
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
        let body = spec.body(engine.probes_inside().is_none());
        let id = engine
            .create_container(run, role, body)
            .await
            .map_err(|e| explain_create_error(e, spec))?;
        // Replaced at every start: nothing exits before the first.
        let (_, exited) = watch::channel(None);
        let (alarm_tx, alarm_rx) = watch::channel(None);
        Ok(Container {
            engine: engine.clone(),
            id,
            logs: Arc::default(),
            log_reopen: Arc::default(),
            log_cursor: Arc::default(),
            log_task: None,
            keep: None,
            exited,
            port: spec.port,
            run: run.clone(),
            reach: Reach::Nowhere,
            started: None,
            alarm: None,
            other_ports_end_wait: false,
            yardstick: None,
            alarmed: alarm_rx,
            alarm_sender: Some(alarm_tx),
        })
    }

    /// Before `start`: a log line for which `alarm` holds dooms the run, and [`Self::doomed`]
    /// ends `ALARM_GRACE` after the first one.
    pub fn alarm_on(&mut self, alarm: fn(&str) -> bool) {
        self.alarm = Some(alarm);
    }

    /// Before `start`: the wait for readiness ends, [`OTHER_PORT_PATIENCE`] after the log
    /// first says the app listens on other ports than the one probed, if that one has not
    /// answered by then: a wrong `--port` shows in seconds, not after the whole budget.
    pub fn other_ports_end_the_wait(&mut self) {
        self.other_ports_end_wait = true;
    }

    /// Before `start`: `writable` is how long the same app took to get ready with a writable
    /// root. A run still not ready [`outrun`] later, whose log holds a failed write (a line
    /// the keep predicate picks) and whose probe fails, has failed: the wait ends then rather
    /// than at the end of the startup budget. A slow run with no such sign keeps the budget.
    pub fn measure_against(&mut self, writable: Duration) {
        self.yardstick = Some(writable);
    }

    /// The ports the app's log says it listens on, if it said so.
    pub fn announced(&self) -> Option<Announced> {
        self.log_buffer().announced.clone()
    }

    /// Before `start`: log lines for which `keep` holds are kept wherever they come, however
    /// much the container prints (read-only and permission errors, for rofs-audit: the engine
    /// knows nothing of what they mean). Lines that [`Self::alarm_on`] alarms on are kept too.
    pub fn keep_on(&mut self, keep: fn(&str) -> bool) {
        self.keep = Some(keep);
    }

    /// Completes `ALARM_GRACE` after the first alarming log line; never without one.
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
        inspect_settled(self.engine.docker(), &self.id)
            .await
            .with_context(|| format!("cannot inspect container {}", short(&self.id)))
    }

    /// Starts the container; again after it stopped, as a platform restarts one: its writable
    /// layer and volumes are as the last run left them, and [`Self::logs`] then holds the new
    /// run's lines only (take the earlier run's first).
    pub async fn start(&mut self) -> Result<()> {
        let docker = self.engine.docker().clone();
        if self.started.is_some() {
            if let Some(task) = self.log_task.take() {
                task.abort();
            }
            self.logs = Arc::default();
        }
        self.started = Some(Instant::now());
        // The last run's relay shares a network namespace that is gone.
        self.remove_relay().await;
        if let Err(e) = docker.start_container(&self.id, None).await {
            let text = e.to_string();
            return Err(match explain_start_error(&text) {
                Some(why) => StartRefused(why).into(),
                None => anyhow::Error::new(e)
                    .context(format!("cannot start container {}", short(&self.id))),
            });
        }
        let (sender, exited) = watch::channel(None);
        self.exited = exited;
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
            self.log_reopen.clone(),
            self.log_cursor.clone(),
            self.keep,
            alarm,
        )));
        if let Some(port) = self.port {
            let inspect = self.inspect().await?;
            self.reach = match self.engine.probes_inside().is_some() {
                true => match Relay::start(&self.engine, &self.run, &inspect, port).await {
                    Ok(relay) => Reach::Inside(Ok(relay)),
                    // An app that exited at once leaves no network to join: its exit is the
                    // finding, and the wait for readiness reports it.
                    Err(e)
                        if !self
                            .inspect()
                            .await?
                            .state
                            .and_then(|s| s.running)
                            .unwrap_or(false) =>
                    {
                        Reach::Inside(Err(format!("{e:#}")))
                    }
                    Err(e) => return Err(e),
                },
                false => published(&inspect, port).map_or(Reach::Nowhere, Reach::Published),
            };
        }
        Ok(())
    }

    /// Removes the relay of the current run, if it has one.
    async fn remove_relay(&mut self) {
        if let Reach::Inside(Ok(relay)) = std::mem::replace(&mut self.reach, Reach::Nowhere) {
            relay.remove().await;
        }
    }

    /// How probes reached the app, for the report.
    pub fn reached(&self) -> Option<String> {
        match &self.reach {
            Reach::Published(_) => {
                Some("on a port the engine published on this machine's 127.0.0.1".to_string())
            }
            Reach::Inside(Ok(relay)) => Some(relay.describe()),
            Reach::Inside(Err(_)) | Reach::Nowhere => None,
        }
    }

    pub fn exit_code(&self) -> Option<i64> {
        *self.exited.borrow()
    }

    /// The code it exits with, if it does within `timeout` of now.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<i64> {
        let mut exited = self.exited.clone();
        let code = tokio::time::timeout(timeout, exited.wait_for(Option::is_some)).await;
        code.ok().and_then(|c| c.ok().and_then(|c| *c))
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
        if matches!(self.reach, Reach::Nowhere) && !matches!(probe, Probe::Exec(_)) {
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
            if let Some(writable) = self.yardstick {
                let failed_write = self.log_buffer().first_picked;
                if started.elapsed() >= outrun(writable) && failed_write.is_some() {
                    return Readiness::Outrun {
                        last: result,
                        writable,
                    };
                }
            }
            if self.other_ports_end_wait && result.status.is_none() {
                let other =
                    (self.announced()).filter(|a| self.port.is_some_and(|p| !a.ports.contains(&p)));
                if other.is_some_and(|a| a.at.elapsed() >= OTHER_PORT_PATIENCE) {
                    return Readiness::NeverOpened { last: Some(result) };
                }
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
        match (probe, self.reach.dialer()) {
            (Probe::Exec(command), _) => self.exec(command, timeout).await,
            (_, Ok(to)) => probe.check(to, expect, timeout).await,
            (_, Err(why)) => ProbeResult {
                target: probe.target().to_string(),
                status: None,
                latency_ms: 0,
                ok: false,
                error: Some(why),
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
                    super::client::one_line(&e.to_string())
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
        self.remove_relay().await;
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

    /// Waits for the log stream of a stopped container to deliver its last lines: for as long
    /// as they keep coming (50 MB of them take seconds). A stream that sends nothing for
    /// `LOG_DRAIN_PATIENCE` is replaced once by a stream that reads the stopped container's
    /// logs from where the first one got and ends at their end: Docker 20.10's follow mode can
    /// hang when it rotates a log file under a reader that fell behind. That stream gets
    /// `LOG_RESUME_PATIENCE` for its first line, so a daemon that sends nothing at all cannot
    /// hang the run.
    pub async fn drain_logs(&mut self) {
        let Some(mut task) = self.log_task.take() else {
            return;
        };
        let mut received = self.log_buffer().received;
        let mut reopened = false;
        loop {
            if tokio::time::timeout(LOG_DRAIN_PATIENCE, &mut task)
                .await
                .is_ok()
            {
                return;
            }
            let (now, resumed) = {
                let buffer = self.log_buffer();
                (buffer.received, buffer.resumed)
            };
            let resuming = resumed.is_some_and(|at| at.elapsed() < LOG_RESUME_PATIENCE);
            if now == received && !resuming {
                if reopened {
                    task.abort();
                    return;
                }
                reopened = true;
                self.log_reopen.notify_one();
            }
            received = now;
        }
    }

    fn log_buffer(&self) -> std::sync::MutexGuard<'_, LogBuffer> {
        self.logs.lock().expect("log buffer lock")
    }

    /// The log lines kept, in order: the first [`LOG_HEAD_LINES`], the last [`LOG_TAIL_LINES`],
    /// and between them every line the container's keep and alarm predicates pick. Where lines
    /// were dropped, a line of stream `rofs-audit` after the first ones says how many.
    pub fn logs(&self) -> Vec<LogLine> {
        self.log_buffer().lines()
    }

    /// How much the container printed, and how much of it [`Self::logs`] does not hold.
    pub fn log_stats(&self) -> LogStats {
        self.log_buffer().stats
    }

    /// The last `n` log lines, joined for a one-line error message.
    pub fn tail(&self, n: usize) -> String {
        let buffer = self.log_buffer();
        let tail = buffer.last(n);
        if tail.is_empty() {
            "(no log output)".to_string()
        } else {
            tail.join(" | ")
        }
    }
}

/// The port published for `port` on this machine's loopback.
fn published(inspect: &bollard::models::ContainerInspectResponse, port: u16) -> Option<SocketAddr> {
    let settings = inspect.network_settings.as_ref()?;
    let bindings = settings
        .ports
        .as_ref()?
        .get(&format!("{port}/tcp"))?
        .as_ref()?;
    let host_port = bindings
        .iter()
        .find_map(|b| b.host_port.as_deref()?.parse().ok())?;
    Some(SocketAddr::from((Ipv4Addr::LOCALHOST, host_port)))
}

/// The engine would not start a container: its command or user is not there, as the flags or a
/// mount over the image left it. A proof run records it as that candidate's failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartRefused(pub String);

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

/// How long a container may stay in a state the engine API does not name before an inspect of it
/// fails: podman's `stopped` lasts about half a second (its cleanup process then marks it
/// `exited`), more on a loaded host.
const STATE_SETTLE: Duration = Duration::from_secs(10);
/// How often such a container is inspected again meanwhile.
const STATE_SETTLE_PAUSE: Duration = Duration::from_millis(100);

/// Inspects a container, waiting out a state the engine API does not have. Podman (4.3) reports
/// `stopped` between a process's exit and its cleanup, and bollard's model, which follows
/// Docker's API, refuses the whole answer for it; once podman has cleaned up it says `exited`,
/// with the exit code. In the same moment podman may fail the inspect itself, reading the
/// cgroup of the process that just exited. Any other failure, or a state that does not settle within
/// [`STATE_SETTLE`], is returned as it is.
async fn inspect_settled(
    docker: &bollard::Docker,
    id: &str,
) -> std::result::Result<bollard::models::ContainerInspectResponse, bollard::errors::Error> {
    let deadline = Instant::now() + STATE_SETTLE;
    loop {
        match docker.inspect_container(id, None).await {
            Err(e) if is_unknown_state(&e) && Instant::now() < deadline => {
                tokio::time::sleep(STATE_SETTLE_PAUSE).await;
            }
            answer => return answer,
        }
    }
}

/// Whether an inspect failed only because the container was between two states: the engine
/// named a state bollard's model lacks, or (podman) it read the cgroup of a process that had
/// just exited (`read /proc/N/cgroup: no such process`).
fn is_unknown_state(e: &bollard::errors::Error) -> bool {
    match e {
        bollard::errors::Error::JsonDataError { message, .. } => {
            message.contains("unknown variant") && message.contains("`exited`")
        }
        bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message,
        } => message.contains("/cgroup") && message.contains("no such process"),
        _ => false,
    }
}

/// A create the engine refused for a reason the user can fix: podman takes no `uid=` or `gid=` on
/// a tmpfs (a `--tmpfs` given for Docker); its tmpfs is world-writable by default, and its `U`
/// option (which `--tmpfs` here refuses, Docker having none) owns one.
fn explain_create_error(e: anyhow::Error, spec: &ContainerSpec) -> anyhow::Error {
    let text = format!("{e:#}");
    let Some(rest) = text.split("unknown mount option \"").nth(1) else {
        return e;
    };
    let option = rest.split('"').next().unwrap_or(rest);
    if !(option.starts_with("uid=") || option.starts_with("gid=")) {
        return e;
    }
    let path = spec
        .tmpfs
        .iter()
        .find(|t| t.options.split(',').any(|o| o == option))
        .map_or("PATH", |t| t.path.as_str());
    anyhow::anyhow!(
        "podman rejects the tmpfs option {option} on {path}: leave uid= and gid= out (a podman \
         tmpfs is writable by every user, mode 1777, unless mode= says otherwise; `podman run \
         --tmpfs {path}:U` makes it the container user's)"
    )
}

pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Each container of ours logs to files the engine can read back, and keeps this much of the
/// latest output on disk whatever the daemon's defaults are: a daemon that keeps little (say
/// `max-size: 1m` with one file) drops the lines a reader that fell behind has not read yet,
/// a read-only error among them, and a driver such as `syslog` or `none` keeps nothing to read.
const LOG_FILE_SIZE: &str = "64m";
const LOG_FILES: u32 = 4;

/// Lines kept from the start of each container's output.
pub const LOG_HEAD_LINES: usize = 1000;
/// Lines kept from the end of each container's output.
pub const LOG_TAIL_LINES: usize = 1000;
/// Lines picked between the first and the last ones are kept up to this many bytes in all.
const LOG_PICKED_BYTES: usize = 4 << 20;
/// A kept line is cut at this length; one that was picked, at [`LOG_PICKED_LINE_BYTES`], so
/// that the path a long error names survives.
const LOG_LINE_BYTES: usize = 8 << 10;
const LOG_PICKED_LINE_BYTES: usize = 64 << 10;
/// How long [`Container::drain_logs`] waits for a line before it gives up on the rest.
pub const LOG_DRAIN_PATIENCE: Duration = Duration::from_secs(5);
/// How long it waits for the first line of a resumed stream, which the engine sends only once
/// it has read the log file up to where the stream resumes.
const LOG_RESUME_PATIENCE: Duration = Duration::from_secs(60);
/// The stream name of the line that says what was dropped.
const DROPPED_STREAM: &str = "rofs-audit";

/// What a container printed, as far as the engine delivered it, and what of it was not kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    pub lines: u64,
    pub bytes: u64,
    /// Lines between the first and the last ones that no predicate picked (or that came after
    /// `LOG_PICKED_BYTES` of picked ones).
    pub dropped_lines: u64,
    pub dropped_bytes: u64,
    /// Kept lines that were cut to a bounded length.
    pub cut_lines: u64,
}

/// A container's log lines, bounded: the first ones, the last ones in a ring, and the picked
/// ones that fell out of the ring. Lines in the ring are kept as they came, and made into
/// [`LogLine`]s (escaped) only when they are kept for good or read: most never are.
#[derive(Default)]
struct LogBuffer {
    head: Vec<LogLine>,
    picked: Vec<LogLine>,
    picked_bytes: usize,
    tail: VecDeque<RawLine>,
    stats: LogStats,
    /// Every line the engine delivered, duplicates included: progress.
    received: u64,
    /// When a stream that goes on from a given second was asked for, until its first line:
    /// before it sends one, the engine reads the log file from its start (seconds for 50 MB on
    /// a loaded host), and that silence is not a stall.
    resumed: Option<Instant>,
    /// The ports the app's log says it listens on, the first line that said so, and when.
    announced: Option<Announced>,
    /// When the first line the keep or alarm predicate picked arrived: a write that failed.
    first_picked: Option<Instant>,
}

/// What the app's log says of the ports it listens on.
#[derive(Debug, Clone)]
pub struct Announced {
    pub ports: Vec<u16>,
    pub line: String,
    pub at: Instant,
}

/// A line in the ring, cut to its bounded length.
#[derive(Default)]
struct RawLine {
    stream: &'static str,
    time: Option<String>,
    line: String,
    picked: bool,
}

impl RawLine {
    fn log_line(&self) -> LogLine {
        LogLine {
            stream: self.stream.to_string(),
            line: crate::model::escape_text(&self.line),
            time: self.time.clone(),
        }
    }
}

impl LogBuffer {
    fn push(&mut self, stream: &'static str, line: &str, time: Option<&str>, picked: bool) {
        self.stats.lines += 1;
        let ports = crate::probe::announced_ports(line);
        if !ports.is_empty() {
            let announced = self.announced.get_or_insert_with(|| Announced {
                ports: vec![],
                line: crate::model::escape_text(line),
                at: Instant::now(),
            });
            announced.ports.extend(ports);
            announced.ports.sort_unstable();
            announced.ports.dedup();
        }
        self.stats.bytes += line.len() as u64 + 1;
        let limit = match picked {
            true => LOG_PICKED_LINE_BYTES,
            false => LOG_LINE_BYTES,
        };
        let (kept, cut) = match line.len() > limit {
            true => {
                self.stats.cut_lines += 1;
                let mut end = limit;
                while !line.is_char_boundary(end) {
                    end -= 1;
                }
                (&line[..end], line.len() - end)
            }
            false => (line, 0),
        };
        let mut raw = match self.tail.len() >= LOG_TAIL_LINES {
            true => self.retire_oldest(),
            false => RawLine::default(),
        };
        raw.stream = stream;
        raw.picked = picked;
        raw.line.clear();
        raw.line.push_str(kept);
        if cut > 0 {
            raw.line.push_str(&format!("... ({cut} bytes cut)"));
        }
        match (time, &mut raw.time) {
            (Some(time), Some(kept)) => {
                kept.clear();
                kept.push_str(time);
            }
            (time, kept) => *kept = time.map(str::to_string),
        }
        if picked && self.first_picked.is_none() {
            self.first_picked = Some(Instant::now());
        }
        if self.head.len() < LOG_HEAD_LINES {
            self.head.push(raw.log_line());
            return;
        }
        self.tail.push_back(raw);
    }

    /// Takes the oldest line out of the ring, keeping it for good if it was picked and there is
    /// room; returns it to be reused.
    fn retire_oldest(&mut self) -> RawLine {
        let old = self.tail.pop_front().unwrap_or_default();
        if old.picked && self.picked_bytes + old.line.len() <= LOG_PICKED_BYTES {
            self.picked_bytes += old.line.len();
            self.picked.push(old.log_line());
        } else {
            self.stats.dropped_lines += 1;
            self.stats.dropped_bytes += old.line.len() as u64 + 1;
        }
        old
    }

    fn lines(&self) -> Vec<LogLine> {
        let mut lines =
            Vec::with_capacity(self.head.len() + self.picked.len() + self.tail.len() + 1);
        lines.extend(self.head.iter().cloned());
        if self.stats.dropped_lines > 0 {
            lines.push(LogLine {
                stream: DROPPED_STREAM.to_string(),
                line: format!(
                    "{} of {} log lines ({} of {} bytes) dropped here and below: kept are the \
                     first {LOG_HEAD_LINES}, the last {LOG_TAIL_LINES}, and the ones the audit \
                     looks for in between",
                    self.stats.dropped_lines,
                    self.stats.lines,
                    self.stats.dropped_bytes,
                    self.stats.bytes
                ),
                time: None,
            });
        }
        lines.extend(self.picked.iter().cloned());
        lines.extend(self.tail.iter().map(RawLine::log_line));
        lines
    }

    /// The last `n` lines kept, oldest first.
    fn last(&self, n: usize) -> Vec<String> {
        let mut last: Vec<String> = self
            .tail
            .iter()
            .rev()
            .map(|raw| crate::model::escape_text(&raw.line))
            .chain(
                self.head
                    .iter()
                    .chain(&self.picked)
                    .rev()
                    .map(|l| l.line.clone()),
            )
            .take(n)
            .collect();
        last.reverse();
        last
    }
}

/// Where a log stream got to, so that a new stream can go on from there, and which lines were
/// already taken. The engine's follow mode may end a stream early, and may send a line twice
/// (both seen with Docker 20.10 when it rotates a log file under a reader that fell behind); a
/// new stream can only be asked to start at a whole second, so it sends again the lines of that
/// second already taken. A line is known by its stream, its time (to the nanosecond) and its
/// text: neither the order nor the number of lines sent again can be relied on, since the times
/// of stdout and stderr lines do not always rise in the order the engine sends them.
#[derive(Default)]
struct LogCursor {
    /// The whole second of the latest line taken (`2024-05-01T12:00:00`, fixed width, in UTC,
    /// so it sorts as text).
    second: Option<String>,
    /// The lines taken in that second, hashed, and in the second before it.
    current: HashSet<u64>,
    previous: HashSet<u64>,
}

/// `2024-05-01T12:00:00`: the whole second of an engine timestamp.
fn whole_second(time: &str) -> &str {
    time.get(..19).unwrap_or(time)
}

impl LogCursor {
    /// Whether a line is new; takes it if so.
    fn take(&mut self, stream: &str, time: Option<&str>, line: &str) -> bool {
        let Some(time) = time else {
            return true;
        };
        let key = {
            let mut hasher = std::hash::DefaultHasher::new();
            (stream, time, line).hash(&mut hasher);
            hasher.finish()
        };
        if self.current.contains(&key) || self.previous.contains(&key) {
            return false;
        }
        let second = whole_second(time);
        if self.second.as_deref().is_none_or(|latest| second > latest) {
            self.second = Some(second.to_string());
            std::mem::swap(&mut self.previous, &mut self.current);
            self.current.clear();
        }
        self.current.insert(key);
        true
    }

    /// Where a new stream starts: the whole second of the latest line taken.
    fn since(&self) -> i32 {
        self.second
            .as_deref()
            .and_then(|second| unix_seconds(&format!("{second}Z")))
            .and_then(|s| i32::try_from(s).ok())
            .unwrap_or(0)
    }
}

/// Seconds since the Unix epoch of an RFC 3339 time in UTC (`2024-05-01T12:00:00.123Z`), as the
/// engine stamps log lines.
fn unix_seconds(time: &str) -> Option<i64> {
    let b = time.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !time.ends_with('Z') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| time.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3_600 + mm * 60 + ss)
}

/// Follows a container's logs into `sink` until it has stopped and every line is in: each line
/// is looked at as it comes (the alarm, the keep predicate), and `sink` keeps a bounded part.
async fn collect_logs(
    docker: bollard::Docker,
    id: String,
    sink: Arc<Mutex<LogBuffer>>,
    reopen: Arc<Notify>,
    cursor: Arc<Mutex<LogCursor>>,
    keep: Option<fn(&str) -> bool>,
    alarm: Option<Alarm>,
) {
    let cursor = &*cursor;
    let cursor = || cursor.lock().expect("log cursor lock");
    loop {
        // A stream opened once the container has stopped holds everything: the last one.
        let last = match inspect_settled(&docker, &id).await {
            Ok(inspect) => !inspect.state.and_then(|s| s.running).unwrap_or_default(),
            // Removed, or the engine is gone: nothing more will come.
            Err(_) => return,
        };
        // Once the container has stopped, a stream that does not follow ends where the logs do.
        let options = LogsOptionsBuilder::default()
            .follow(!last)
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .since(cursor().since())
            .build();
        let mut stream = docker.logs(&id, Some(options));
        if cursor().second.is_some() {
            sink.lock().expect("log buffer lock").resumed = Some(Instant::now());
        }
        let mut taken = 0u64;
        let mut reopened = false;
        loop {
            let output = tokio::select! {
                output = stream.next() => output,
                // Asked to drop a stream gone quiet: the next one starts where this one got.
                () = reopen.notified() => {
                    reopened = true;
                    break;
                }
            };
            let Some(output) = output else { break };
            let output = match output {
                Ok(output) => output,
                // The container is gone, or the engine refuses to read its logs: asking again
                // changes nothing.
                Err(bollard::errors::Error::DockerResponseServerError { .. }) => return,
                Err(_) => break,
            };
            let (stream_name, bytes) = match output {
                LogOutput::StdErr { message } => ("stderr", message),
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    ("stdout", message)
                }
                LogOutput::StdIn { .. } => continue,
            };
            let text = String::from_utf8_lossy(&bytes);
            let mut sink = sink.lock().expect("log buffer lock");
            sink.resumed = None;
            for raw in text.lines().filter(|l| !l.is_empty()) {
                sink.received += 1;
                // With timestamps on, the engine prefixes each line with an RFC 3339 time and a
                // space.
                let (time, line) = match raw.split_once(' ') {
                    Some((t, rest)) if t.len() >= 20 && t.as_bytes()[4] == b'-' => (Some(t), rest),
                    _ => (None, raw),
                };
                if !cursor().take(stream_name, time, line) {
                    continue;
                }
                taken += 1;
                let alarming = alarm.as_ref().is_some_and(|a| (a.matches)(line));
                if let Some(alarm) = alarm.as_ref().filter(|a| a.sender.borrow().is_none()) {
                    if alarming {
                        let _ = alarm.sender.send(Some(Instant::now()));
                    }
                }
                let picked = alarming || keep.is_some_and(|keep| keep(line));
                sink.push(stream_name, line, time, picked);
            }
        }
        if last && !reopened {
            return;
        }
        if taken == 0 {
            // Ended early with nothing new: don't spin on an engine that keeps doing so.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn podman_s_moment_between_exit_and_cleanup_is_waited_out_and_nothing_else() {
        let answer =
            |status_code, message: &str| bollard::errors::Error::DockerResponseServerError {
                status_code,
                message: message.to_string(),
            };
        assert!(is_unknown_state(&answer(
            500,
            "read /proc/22929/cgroup: no such process"
        )));
        assert!(!is_unknown_state(&answer(500, "no such container")));
        assert!(!is_unknown_state(&answer(404, "no such container")));
    }
    use super::*;

    #[test]
    fn engine_timestamps_become_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00.000000000Z"), Some(0));
        assert_eq!(
            unix_seconds("2024-02-29T23:59:59.999999999Z"),
            Some(1_709_251_199)
        );
        assert_eq!(
            unix_seconds("2026-12-01T15:55:16.337655397Z"),
            Some(1_796_140_516)
        );
        assert_eq!(unix_seconds("2026-12-01T15:55:16+01:00"), None);
        assert_eq!(unix_seconds("not a time at all, no"), None);
    }

    #[test]
    fn a_line_is_taken_once_however_often_the_engine_sends_it() {
        let mut cursor = LogCursor::default();
        assert_eq!(cursor.since(), 0);
        let mut take = |time: &str, line: &str| cursor.take("stdout", Some(time), line);
        // stdout and stderr lines are not always in the order of their times: all are new, and
        // so are the parts of a long line, which share one time.
        assert!(take("2024-01-01T00:00:00.900000000Z", "a"));
        assert!(take("2024-01-01T00:00:01.200000000Z", "b"));
        assert!(take("2024-01-01T00:00:01.100000000Z", "c"));
        assert!(take("2024-01-01T00:00:01.100000000Z", "c, continued"));
        assert!(take("2024-01-01T00:00:00.950000000Z", "d"));
        // Sent twice in one stream.
        assert!(!take("2024-01-01T00:00:01.200000000Z", "b"));
        assert_eq!(cursor.since(), 1_704_067_201);
        // A new stream sends that second again, maybe missing a line, then what is new.
        let mut take = |time: &str, line: &str| cursor.take("stdout", Some(time), line);
        assert!(!take("2024-01-01T00:00:01.100000000Z", "c"));
        assert!(!take("2024-01-01T00:00:01.100000000Z", "c, continued"));
        assert!(take("2024-01-01T00:00:01.150000000Z", "e"));
        assert!(take("2024-01-01T00:00:02.000000000Z", "f"));
        assert!(!take("2024-01-01T00:00:01.150000000Z", "e"));
        assert!(take("2024-01-01T00:00:03.000000000Z", "g"));
        assert!(!take("2024-01-01T00:00:02.000000000Z", "f"));
        assert_eq!(cursor.since(), 1_704_067_203);
        assert!(cursor.take("stderr", Some("2024-01-01T00:00:03.000000000Z"), "g"));
        assert!(cursor.take("stderr", None, "g"));
        assert!(cursor.take("stderr", None, "g"));
    }

    #[test]
    fn logs_keep_the_first_the_last_and_the_picked_lines_and_count_the_rest() {
        let mut buffer = LogBuffer::default();
        let total = LOG_HEAD_LINES + LOG_TAIL_LINES + 100_000;
        for i in 0..total {
            let picked = i % 10_000 == 5_000;
            let line = match picked {
                true => format!("line {i}: Read-only file system"),
                false => format!("line {i}"),
            };
            buffer.push("stdout", &line, None, picked);
        }
        let lines = buffer.lines();
        let picked: Vec<&str> = lines[LOG_HEAD_LINES + 1..lines.len() - LOG_TAIL_LINES]
            .iter()
            .map(|l| l.line.as_str())
            .collect();
        // Picked lines inside the head or the tail are kept there.
        let expect: Vec<String> = (0..total)
            .filter(|i| i % 10_000 == 5_000)
            .filter(|&i| i >= LOG_HEAD_LINES && i < total - LOG_TAIL_LINES)
            .map(|i| format!("line {i}: Read-only file system"))
            .collect();
        assert_eq!(picked, expect);
        assert_eq!(lines[0].line, "line 0");
        assert_eq!(lines[LOG_HEAD_LINES].stream, DROPPED_STREAM);
        assert_eq!(lines.last().unwrap().line, format!("line {}", total - 1));
        let stats = buffer.stats;
        assert_eq!(stats.lines, total as u64);
        assert_eq!(
            stats.dropped_lines,
            (total - LOG_HEAD_LINES - LOG_TAIL_LINES - expect.len()) as u64
        );
        assert!(lines[LOG_HEAD_LINES]
            .line
            .starts_with(&format!("{} of {total} log lines", stats.dropped_lines)));
        assert_eq!(
            buffer.last(2),
            [format!("line {}", total - 2), format!("line {}", total - 1)]
        );
        let last = buffer.last(LOG_TAIL_LINES + 2);
        assert_eq!(last[0], expect[expect.len() - 2]);
        assert_eq!(last[1], expect[expect.len() - 1]);
        assert_eq!(last[2], format!("line {}", total - LOG_TAIL_LINES));
    }

    #[test]
    fn few_lines_are_kept_whole_and_without_a_note() {
        let mut buffer = LogBuffer::default();
        for i in 0..10 {
            buffer.push("stderr", &format!("line {i}\u{1b}"), Some("t"), false);
        }
        let lines = buffer.lines();
        assert_eq!(lines.len(), 10);
        assert_eq!(lines[9].line, "line 9\\x1b");
        assert_eq!(
            buffer.last(3),
            ["line 7\\x1b", "line 8\\x1b", "line 9\\x1b"]
        );
        assert_eq!(buffer.last(30).len(), 10);
    }

    #[test]
    fn long_lines_are_cut_and_picked_ones_less() {
        let mut buffer = LogBuffer::default();
        let long = "x".repeat(LOG_PICKED_LINE_BYTES * 2);
        buffer.push("stdout", &long, None, false);
        buffer.push("stdout", &long, None, true);
        let lines = buffer.lines();
        assert!(lines[0].line.len() < LOG_LINE_BYTES + 100);
        assert!(lines[0]
            .line
            .ends_with(&format!("({} bytes cut)", long.len() - LOG_LINE_BYTES)));
        assert!(lines[1].line.len() > LOG_LINE_BYTES * 2);
        assert_eq!(buffer.stats.cut_lines, 2);
    }

    #[test]
    fn podman_s_refusal_of_tmpfs_uid_names_the_mount_and_its_u_option() {
        let spec = ContainerSpec {
            tmpfs: vec![TmpfsSpec::new("/var/www", "uid=33,gid=33,size=16m")],
            ..Default::default()
        };
        // As podman 4.3.1 words it.
        let refused = anyhow::anyhow!(
            "Docker responded with status code 500: container create: unknown mount option \
             \"uid=33\": invalid mount option"
        )
        .context("cannot create container rofs-audit-1-verify1");
        let e = explain_create_error(refused, &spec).to_string();
        assert!(!e.contains('\n'), "{e}");
        assert!(
            e.starts_with("podman rejects the tmpfs option uid=33 on /var/www: "),
            "{e}"
        );
        assert!(e.contains("leave uid= and gid= out"), "{e}");
        let other = anyhow::anyhow!("no such image");
        assert_eq!(
            explain_create_error(other, &spec).to_string(),
            "no such image"
        );
    }

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
