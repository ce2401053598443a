//! Trace: run the image with its normal writable root and record every path it writes, phase by
//! phase (startup, each probe, idle, shutdown).

mod api;
pub mod assemble;
mod fanotify;
mod layer;
pub(crate) mod lifecycle;
mod options;
mod overlay;

pub use options::{RunOptions, EXPECTED_STATUS};

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use bollard::models::ImageInspect;

use crate::engine::{Container, ContainerSpec, Engine, Readiness, RunId, VolumeMount};
use crate::model::{
    ImageDir, ImageInfo, Phase, PhaseTiming, RunInfo, Trace, Tracing, TracingMode, SCHEMA_VERSION,
};
use crate::probe::Probe;
use crate::progress::{Progress, Step};
use assemble::{CPath, Noise};

crate::choice::choice_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ModeChoice {
        Auto = "auto": "overlay where the engine's storage is readable from here, else api",
        Overlay = "overlay": "the overlay's writable layer, watched with inotify and fanotify",
        Api = "api": "the engine's diff of the container (remote engines)",
    }
}

/// What tells that a container that runs to completion did its work.
const COMPLETES: &str = "it runs to completion and exits 0 (an init container)";

/// The image as rofs-audit needs it, with the command-line overrides applied.
#[derive(Debug, Clone)]
pub struct Subject {
    pub image: ImageInfo,
    pub run: RunInfo,
    /// What tells that it is up: the --probe flags, else the image's HEALTHCHECK, else an HTTP
    /// or TCP answer on its port.
    pub probes: Vec<Probe>,
}

impl Subject {
    pub async fn resolve(
        engine: &Engine,
        opts: &RunOptions,
        progress: &Progress,
    ) -> Result<Subject> {
        let inspect = engine.image(&opts.image, progress).await?;
        let image = image_info(&opts.image, &inspect);
        let healthcheck = inspect
            .config
            .as_ref()
            .and_then(|c| c.healthcheck.as_ref())
            .and_then(|h| h.test.as_deref())
            .and_then(Probe::from_healthcheck);
        let port = match opts.completes {
            true => None,
            false => choose_port(opts.port, &image.exposed_ports, &opts.probes)?,
        };
        // Told nothing, ask what the platform would: the image's HEALTHCHECK, else whether the
        // port answers at all. A container that runs to completion is asked nothing.
        let probes = match (&opts.probes[..], healthcheck, port) {
            _ if opts.completes => vec![],
            ([], Some(check), _) => vec![check],
            ([], None, Some(_)) => vec![Probe::Any("/".to_string())],
            (given, ..) => given.to_vec(),
        };
        let env_names = opts.env.iter().map(|kv| env_name(kv)).collect();
        let run = RunInfo {
            user: opts.user.clone().unwrap_or_else(|| image.user.clone()),
            entrypoint: opts
                .entrypoint
                .clone()
                .unwrap_or_else(|| image.entrypoint.clone()),
            // As with docker run, a new entrypoint drops the image's CMD.
            cmd: opts.cmd.clone().unwrap_or_else(|| {
                if opts.entrypoint.is_some() {
                    vec![]
                } else {
                    image.cmd.clone()
                }
            }),
            port,
            env_names,
            probes: match opts.completes {
                true => vec![COMPLETES.to_string()],
                false => probes
                    .iter()
                    .map(|p| p.describe(opts.expect_status))
                    .collect(),
            },
        };
        Ok(Subject { image, run, probes })
    }

    /// `opts` with the probes this image is judged by.
    pub fn options(&self, opts: &RunOptions) -> RunOptions {
        RunOptions {
            probes: self.probes.clone(),
            ..opts.clone()
        }
    }

    pub fn spec(&self, opts: &RunOptions) -> ContainerSpec {
        ContainerSpec {
            image_id: self.image.id.clone(),
            user: opts.user.clone(),
            entrypoint: opts.entrypoint.clone(),
            cmd: opts.cmd.clone(),
            env: opts.env.clone(),
            port: self.run.port,
            ..ContainerSpec::default()
        }
    }
}

fn image_info(reference: &str, inspect: &ImageInspect) -> ImageInfo {
    let config = inspect.config.clone().unwrap_or_default();
    let mut exposed_ports: Vec<String> = config.exposed_ports.unwrap_or_default();
    exposed_ports.sort();
    // `VOLUME /data/` keeps its slash in the image; every path compared with it has none.
    let mut volumes: Vec<String> = (config.volumes.unwrap_or_default().into_iter())
        .map(|v| match v.trim_end_matches('/') {
            "" => "/".to_string(),
            trimmed => trimmed.to_string(),
        })
        .collect();
    volumes.sort();
    volumes.dedup();
    ImageInfo {
        reference: reference.to_string(),
        id: inspect.id.clone().unwrap_or_default(),
        user: config.user.unwrap_or_default(),
        entrypoint: config.entrypoint.unwrap_or_default(),
        cmd: config.cmd.unwrap_or_default(),
        exposed_ports,
        volumes,
        workdir: config.working_dir.unwrap_or_default(),
        env_names: config
            .env
            .unwrap_or_default()
            .iter()
            .map(|kv| env_name(kv))
            .collect(),
    }
}

/// The name of a `K=V` environment entry.
fn env_name(kv: &str) -> String {
    kv.split_once('=').map_or(kv, |(k, _)| k).to_string()
}

fn choose_port(given: Option<u16>, exposed: &[String], probes: &[Probe]) -> Result<Option<u16>> {
    if given.is_some() {
        return Ok(given);
    }
    let tcp: Vec<u16> = exposed
        .iter()
        .filter_map(|p| p.strip_suffix("/tcp").unwrap_or(p).parse().ok())
        .collect();
    match tcp.as_slice() {
        [one] => Ok(Some(*one)),
        [] if probes.is_empty() => Ok(None),
        [] => bail!(
            "the image exposes no port to probe; give the port the app listens on with --port N"
        ),
        many => bail!(
            "the image exposes several ports ({}); choose the one to probe with --port N",
            many.iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Runs the image once with a writable root and records what it writes.
pub async fn trace(
    engine: &Engine,
    run_id: &RunId,
    subject: Subject,
    opts: &RunOptions,
    mode: ModeChoice,
    progress: &Progress,
) -> Result<Trace> {
    let mut spec = subject.spec(opts);
    // Declared VOLUMEs get a volume of ours, so their writes can be seen and are removed with us.
    for (i, dest) in subject.image.volumes.iter().enumerate() {
        let name = engine.create_volume(run_id, &format!("volume{i}")).await?;
        spec.volumes.push(VolumeMount {
            name,
            target: dest.clone(),
            read_only: false,
            no_copy: false,
        });
    }
    let mut container = Container::create(engine, run_id, "trace", &spec).await?;
    let inspect = container.inspect().await?;
    let noise = Noise {
        volumes: spec
            .volumes
            .iter()
            .map(|v| v.target.clone().into_bytes())
            .collect(),
    };
    let recorder = Recorder::start(engine, &container, &inspect, &noise.volumes, mode).await?;

    let mut marks = Marks {
        recorder,
        progress,
        step: Some(progress.step("trace: starting, writable root")),
        started: Instant::now(),
    };
    let lived = lifecycle::live(&mut container, opts, &mut marks).await?;
    let startup = match lived.readiness {
        Readiness::Ready { elapsed } => elapsed,
        not_ready => {
            let first = opts.probes.first().cloned().unwrap_or(Probe::Tcp);
            return Err(not_ready_error(
                &container,
                not_ready,
                &first,
                &subject.run,
                &subject.image.exposed_ports,
                opts,
            ));
        }
    };
    let phases = vec![
        PhaseTiming {
            name: Phase::Startup,
            duration_ms: startup.as_millis() as u64,
        },
        PhaseTiming {
            name: Phase::Probe,
            duration_ms: lived.probes_took.as_millis() as u64,
        },
        PhaseTiming {
            name: Phase::Idle,
            duration_ms: opts.idle.as_millis() as u64,
        },
        PhaseTiming {
            name: Phase::Shutdown,
            duration_ms: lived.stop_took.unwrap_or_default().as_millis() as u64,
        },
    ];
    let recorder = marks.recorder;
    let recorded = recorder.finish(&noise).await;
    Ok(Trace {
        schema_version: SCHEMA_VERSION,
        image: subject.image,
        run: subject.run,
        tracing: recorded.tracing,
        phases,
        probes: lived.probes,
        writes: recorded.writes,
        logs: container.logs(),
        startup_ms: startup.as_millis() as u64,
        exit: lived.exit.unwrap_or_default(),
        exited_before_stop: lived.exited_by_itself,
        image_dirs: recorded.image_dirs,
        symlinks: recorded.symlinks,
    })
}

/// What the app made or removed: not image content a mount would hide. A file of the image
/// that it modified still is: a mount there would hide what the image ships.
fn written_set(writes: &[crate::model::Write]) -> std::collections::HashSet<&[u8]> {
    writes
        .iter()
        .filter(|w| w.change != crate::model::Change::Modified)
        .map(|w| w.path.as_bytes())
        .collect()
}

fn port_of(run: &RunInfo) -> String {
    run.port
        .map_or_else(|| "(none)".to_string(), |p| p.to_string())
}

/// The ports the image does expose, when the one probed is not among them.
fn exposed_hint(run: &RunInfo, exposed: &[String]) -> String {
    let probed = run.port.map(|p| format!("{p}/tcp"));
    if exposed.is_empty() || probed.as_ref().is_some_and(|p| exposed.contains(p)) {
        return String::new();
    }
    format!(" (the image EXPOSEs {})", exposed.join(", "))
}

fn not_ready_error(
    container: &Container,
    readiness: Readiness,
    probe: &Probe,
    run: &RunInfo,
    exposed: &[String],
    opts: &RunOptions,
) -> anyhow::Error {
    let budget = opts.startup_timeout.as_secs();
    let logs = container.tail(5);
    // The trace runs with a writable root: whatever fails here is no read-only problem.
    const NOT_READ_ONLY: &str = "with a writable root, so this is not a read-only problem";
    match readiness {
        Readiness::NeverOpened { .. } if opts.completes => anyhow!(
            "it was still running after {budget}s {NOT_READ_ONLY}, and it should run to \
             completion; raise --startup-timeout, or check its command; last log lines: {logs}"
        ),
        Readiness::Exited { code } => anyhow!(
            "the container exited with code {code} before it was ready, {NOT_READ_ONLY}; fix the \
             app or its configuration (--env, --cmd, --user) first; last log lines: {logs}"
        ),
        Readiness::NeverOpened { last } => match last.and_then(|l| l.error) {
            // The port took the connection: the probe is what failed.
            Some(error) if !error.starts_with("connect") && !error.contains("nothing listens") => {
                anyhow!(
                    "probe {} on port {}: {error} ({budget}s {NOT_READ_ONLY}); check --probe, or \
                     raise --probe-timeout; last log lines: {logs}",
                    probe.target(),
                    port_of(run)
                )
            }
            _ => anyhow!(
                "nothing answered on port {} within {budget}s {NOT_READ_ONLY}; check --port{}, \
                 that the app listens on 0.0.0.0, or raise --startup-timeout; last log lines: \
                 {logs}",
                port_of(run),
                exposed_hint(run, exposed),
            ),
        },
        Readiness::ProbeFailing { last } => match last.status {
            Some(status) => anyhow!(
                "probe {} kept answering {status} (expected {}) {NOT_READ_ONLY}; check --probe \
                 and --expect-status; last log lines: {logs}",
                probe.target(),
                opts.expect_status,
            ),
            None => anyhow!(
                "{} kept failing for {budget}s {NOT_READ_ONLY}: {}; fix the image's HEALTHCHECK \
                 or give --probe; last log lines: {logs}",
                probe.target(),
                last.error.unwrap_or_default(),
            ),
        },
        // The trace sets no alarm, so nothing dooms it.
        Readiness::Ready { .. } | Readiness::Doomed => unreachable!("only called when not ready"),
    }
}

/// The trace's boundaries: each closes a segment of writes and a line of progress.
struct Marks<'a> {
    recorder: Recorder,
    progress: &'a Progress,
    step: Option<Step>,
    started: Instant,
}

impl lifecycle::Boundaries for Marks<'_> {
    async fn boundary(&mut self, phase: Phase, probe: Option<&Probe>) -> Result<()> {
        self.recorder
            .boundary(phase, probe.map(|p| p.target().to_string()))
            .await?;
        let (done, next) = match (phase, probe) {
            (Phase::Startup, _) => (
                format!(
                    "trace: ready after {} ms",
                    self.started.elapsed().as_millis()
                ),
                "trace: probes",
            ),
            (Phase::Probe | Phase::Healthcheck, Some(p)) => {
                (format!("trace: probe {}", p.target()), "trace: probes")
            }
            (Phase::Idle, _) => ("trace: idle".to_string(), "trace: stopping (SIGTERM)"),
            _ => ("trace: stopped".to_string(), ""),
        };
        if let Some(step) = self.step.take() {
            step.done(done);
        }
        if !next.is_empty() {
            self.step = Some(self.progress.step(next));
        }
        Ok(())
    }
}

/// What a recorder saw, and what it read of the image to judge it.
struct Recorded {
    tracing: Tracing,
    writes: Vec<crate::model::Write>,
    image_dirs: Vec<ImageDir>,
    symlinks: Vec<crate::model::Symlink>,
}

enum Recorder {
    Overlay {
        recorder: overlay::OverlayRecorder,
        lower: overlay::LowerDirs,
        assembler: assemble::Assembler,
    },
    Api(api::ApiRecorder),
}

impl Recorder {
    async fn start(
        engine: &Engine,
        container: &Container,
        inspect: &bollard::models::ContainerInspectResponse,
        volumes: &[CPath],
        mode: ModeChoice,
    ) -> Result<Self> {
        let driver = inspect.graph_driver.clone().unwrap_or_default().data;
        let upper = driver.get("UpperDir").map(PathBuf::from);
        let readable =
            engine.is_local() && upper.as_ref().is_some_and(|u| std::fs::read_dir(u).is_ok());
        let use_overlay = match mode {
            ModeChoice::Overlay if !readable => bail!(
                "cannot read the container's overlay upper dir ({}); run as root on the engine's \
                 own host, or use --mode api",
                upper.map_or_else(
                    || "the storage driver has none".to_string(),
                    |u| u.display().to_string()
                )
            ),
            ModeChoice::Api => false,
            _ => readable,
        };
        if !use_overlay {
            let volumes = volumes.to_vec();
            return Ok(Recorder::Api(
                api::ApiRecorder::start(engine.docker().clone(), container.id.clone(), volumes)
                    .await?,
            ));
        }
        let mut roots = vec![layer::Root {
            host: upper.expect("readable"),
            container: b"/".to_vec(),
        }];
        for mount in inspect.mounts.clone().unwrap_or_default() {
            let (Some(source), Some(dest)) = (mount.source, mount.destination) else {
                continue;
            };
            if volumes.iter().any(|v| v.as_slice() == dest.as_bytes()) {
                roots.push(layer::Root {
                    host: source.into(),
                    container: dest.into_bytes(),
                });
            }
        }
        let lower = driver
            .get("LowerDir")
            .map(|l| l.split(':').map(PathBuf::from).collect())
            .unwrap_or_default();
        let mut recorder =
            overlay::OverlayRecorder::start(roots).context("cannot trace the overlay")?;
        let assembler = assemble::Assembler::new(std::mem::take(&mut recorder.baseline));
        Ok(Recorder::Overlay {
            recorder,
            lower: overlay::LowerDirs::new(lower),
            assembler,
        })
    }

    async fn boundary(&mut self, phase: Phase, probe: Option<String>) -> Result<()> {
        match self {
            Recorder::Overlay {
                recorder,
                assembler,
                ..
            } => {
                recorder.boundary(phase, probe).await;
                for segment in recorder.segments.drain(..) {
                    assembler.push(segment);
                }
                release_freed_memory();
                Ok(())
            }
            Recorder::Api(recorder) => recorder.boundary(phase, probe).await,
        }
    }

    async fn finish(self, noise: &Noise) -> Recorded {
        let (mode, blind_spots, writes, dirs, symlinks) = match self {
            Recorder::Overlay {
                recorder,
                lower,
                assembler,
            } => {
                let writes = assembler.finish(&lower, noise);
                let written = written_set(&writes);
                let dirs = assemble::mount_candidates(&writes)
                    .iter()
                    .map(|d| lower.image_dir(d, &written))
                    .collect();
                let symlinks = lower.dir_symlinks();
                (
                    TracingMode::Overlay,
                    recorder.blind_spots(),
                    writes,
                    dirs,
                    symlinks,
                )
            }
            Recorder::Api(mut recorder) => {
                recorder.describe().await;
                let writes =
                    assemble::assemble(&recorder.baseline, &recorder.segments, &recorder, noise);
                let written = written_set(&writes);
                let mut dirs = vec![];
                for dir in assemble::mount_candidates(&writes) {
                    dirs.push(recorder.image_dir(&dir, &written).await);
                }
                let blind_spots = api::BLIND_SPOTS.iter().map(|s| s.to_string()).collect();
                (TracingMode::Api, blind_spots, writes, dirs, vec![])
            }
        };
        release_freed_memory();
        Recorded {
            tracing: Tracing { mode, blind_spots },
            writes,
            image_dirs: dirs,
            symlinks,
        }
    }
}

/// Hands the pages of the snapshots just dropped back to the system. glibc keeps freed memory
/// in the arena of the thread that allocated it, and the walks, the watchers and the runtime's
/// workers each have one: a snapshot freed in one arena cannot hold the next phase's, made in
/// another, and a storm's every phase would stay resident.
fn release_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_is_the_single_exposed_one_or_must_be_given() {
        let http = [Probe::Http("/health".into())];
        assert_eq!(
            choose_port(None, &["8080/tcp".into()], &http).unwrap(),
            Some(8080)
        );
        assert_eq!(choose_port(Some(1), &[], &http).unwrap(), Some(1));
        let none = choose_port(None, &[], &http).unwrap_err().to_string();
        assert!(none.contains("--port"), "{none}");
        let many = choose_port(None, &["80/tcp".into(), "443/tcp".into()], &http)
            .unwrap_err()
            .to_string();
        assert!(
            many.contains("80, 443") && many.contains("--port"),
            "{many}"
        );
    }
}
