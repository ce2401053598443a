//! Trace: run the image with its normal writable root and record every path it writes, phase by
//! phase (startup, each probe, idle, shutdown).

mod api;
pub mod assemble;
mod fanotify;
mod layer;
pub(crate) mod lifecycle;
mod options;
mod overlay;
mod reads;

pub use options::{RunOptions, EXPECTED_STATUS};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bollard::models::ImageInspect;

use crate::engine::{Container, ContainerSpec, Engine, Readiness, RunId, VolumeMount};
use crate::model::{
    ImageDir, ImageInfo, Phase, PhaseTiming, Restart, RunInfo, Trace, Tracing, TracingMode,
    SCHEMA_VERSION,
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
            reached: None,
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

/// Runs the image with a writable root and records what it writes; then starts the same
/// container again, to see which of the files it left the app makes anew and which it keeps.
pub async fn trace(
    engine: &Engine,
    run_id: &RunId,
    mut subject: Subject,
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
    // A wrong --port shows in the trace, with a writable root: say so in seconds.
    container.other_ports_end_the_wait();
    let inspect = container.inspect().await?;
    let noise = Noise {
        volumes: spec
            .volumes
            .iter()
            .map(|v| v.target.clone().into_bytes())
            .collect(),
        engine_paths: (engine.flavor().own_paths().iter())
            .map(|d| d.as_bytes().to_vec())
            .collect(),
    };
    let recorder = Recorder::start(engine, &container, &inspect, &noise.volumes, mode).await?;

    let mut marks = Marks {
        recorder,
        progress,
        step: Some(progress.step("trace: starting, writable root")),
        started: Instant::now(),
        restarting: false,
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
    // The first run's: the second start's lines are its own.
    let logs = container.logs();
    subject.run.reached = container.reached();
    let restart_took = match lived.exited_by_itself {
        // It quit by itself: a service that does so has problems of its own to fix first.
        Some(_) => None,
        None => Some(restart(&mut container, opts, &mut marks).await?),
    };
    let mut phases = vec![
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
    if let Some(took) = restart_took {
        phases.push(PhaseTiming {
            name: Phase::Restart,
            duration_ms: took.as_millis() as u64,
        });
    }
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
        logs,
        startup_ms: startup.as_millis() as u64,
        exit: lived.exit.unwrap_or_default(),
        exited_before_stop: lived.exited_by_itself,
        image_dirs: recorded.image_dirs,
        symlinks: recorded.symlinks,
    })
}

/// Starts the stopped container again, as a platform restarts one, waits until it is ready and
/// has answered its probes (the same as at the first start, without the idle), and stops it. The
/// recorder compares what it left with what the first run left. Returns how long it took.
async fn restart(
    container: &mut Container,
    opts: &RunOptions,
    marks: &mut Marks<'_>,
) -> Result<Duration> {
    let started = Instant::now();
    marks.recorder.restart_begin().await;
    marks.restarting = true;
    marks.step = Some(marks.progress.step("trace: restart: starting again"));
    let again = RunOptions {
        idle: Duration::ZERO,
        ..opts.clone()
    };
    let lived = lifecycle::live(container, &again, marks).await?;
    let failed = match lived.readiness {
        Readiness::Ready { .. } => None,
        not_ready => {
            // Left running where it never got ready: it shows nothing more.
            if container.exit_code().is_none() {
                container.stop(Duration::ZERO).await?;
            }
            if let Some(step) = marks.step.take() {
                step.done("trace: restart: not ready");
            }
            Some(format!(
                "{}; last log lines: {}",
                restart_failure(&not_ready, opts),
                container.tail(3)
            ))
        }
    };
    marks.recorder.restart_end(failed).await;
    Ok(started.elapsed())
}

/// Why the second start was not ready, in a few words.
fn restart_failure(readiness: &Readiness, opts: &RunOptions) -> String {
    let budget = opts.startup_timeout.as_secs();
    match readiness {
        Readiness::Exited { code } => format!("it exited with code {code} before it was ready"),
        Readiness::ProbeFailing { last } => format!(
            "its probe {} kept failing{}",
            last.target,
            last.status.map_or_else(String::new, |s| format!(" ({s})"))
        ),
        Readiness::NeverOpened { .. } if opts.completes => {
            format!("it was still running after {budget}s")
        }
        _ => format!("nothing answered within {budget}s"),
    }
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

/// `8000`, `8000 and 9090`.
fn join_ports(ports: &[u16]) -> String {
    let words: Vec<String> = ports.iter().map(u16::to_string).collect();
    match words.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
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
            _ => match container
                .announced()
                .filter(|a| run.port.is_some_and(|p| !a.ports.contains(&p)))
            {
                Some(said) => anyhow!(
                    "nothing answers on port {}, and the app's log says it listens on {} \
                     ({:?}){}: give --port {}",
                    port_of(run),
                    join_ports(&said.ports),
                    said.line,
                    match exposed.is_empty() {
                        true => String::new(),
                        false => format!("; the image EXPOSEs {}", exposed.join(", ")),
                    },
                    said.ports[0],
                ),
                None => anyhow!(
                    "nothing answered on port {} within {budget}s {NOT_READ_ONLY}; check \
                     --port{}, that the app listens on 0.0.0.0, or raise --startup-timeout; last \
                     log lines: {logs}",
                    port_of(run),
                    exposed_hint(run, exposed),
                ),
            },
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
        // The trace sets no yardstick: it is the yardstick.
        Readiness::Ready { .. } | Readiness::Doomed | Readiness::Outrun { .. } => {
            unreachable!("only called when not ready")
        }
    }
}

/// The trace's boundaries: each closes a segment of writes and a line of progress.
struct Marks<'a> {
    recorder: Recorder,
    progress: &'a Progress,
    step: Option<Step>,
    started: Instant,
    /// The second start: its boundaries close no segment, the recorder compares its end with
    /// the first run's.
    restarting: bool,
}

impl lifecycle::Boundaries for Marks<'_> {
    async fn boundary(&mut self, phase: Phase, probe: Option<&Probe>) -> Result<()> {
        let what = match self.restarting {
            true => "trace: restart",
            false => {
                self.recorder
                    .boundary(phase, probe.map(|p| p.target().to_string()))
                    .await?;
                "trace"
            }
        };
        let (done, next) = match (phase, probe) {
            (Phase::Startup, _) if self.restarting => ("ready".to_string(), "probes"),
            (Phase::Startup, _) => (
                format!("ready after {} ms", self.started.elapsed().as_millis()),
                "probes",
            ),
            (Phase::Probe | Phase::Healthcheck, Some(p)) => {
                (format!("probe {}", p.target()), "probes")
            }
            (Phase::Idle, _) if self.restarting => {
                ("probes answered".to_string(), "stopping (SIGTERM)")
            }
            (Phase::Idle, _) => ("idle".to_string(), "stopping (SIGTERM)"),
            _ => ("stopped".to_string(), ""),
        };
        if let Some(step) = self.step.take() {
            step.done(format!("{what}: {done}"));
        }
        if !next.is_empty() {
            self.step = Some(self.progress.step(format!("{what}: {next}")));
        }
        Ok(())
    }
}

/// What a recorder saw of a restart, until it is over.
enum Restarting {
    Overlay {
        /// What the first run left.
        left: BTreeMap<assemble::CPath, assemble::Meta>,
        reads: Result<reads::Reads, String>,
        /// Directories of those files past [`reads::WATCH_LIMIT`], not watched.
        unwatched: usize,
    },
    Api {
        left: BTreeMap<assemble::CPath, api::Stat>,
        skipped: usize,
    },
}

/// What a restart showed: what it did to each path the first run left, and what the recorder
/// could not see of it.
#[derive(Default)]
struct Restarted {
    outcomes: BTreeMap<assemble::CPath, Restart>,
    blind_spots: Vec<String>,
}

/// What api mode cannot see of a restart.
const API_RESTART_BLIND_SPOT: &str = "reads at a restart: the changes API shows no read, so a \
     file the second start left as it was is called kept, never reused, and one it wrote again \
     is called rewritten (made anew) even where it read it first";

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
        /// Why this mode, for the report.
        reason: String,
        restart: Option<Restarting>,
        restarted: Restarted,
    },
    Api {
        recorder: api::ApiRecorder,
        reason: String,
        restart: Option<Restarting>,
        restarted: Restarted,
    },
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
        let access = overlay_access(engine, container, inspect);
        let reason = match (mode, &access) {
            (ModeChoice::Overlay, Err(why)) => bail!(
                "cannot trace in overlay mode: {why}; use --mode api (the engine's changes API) \
                 or --mode auto"
            ),
            (ModeChoice::Overlay, Ok(_)) => "overlay: --mode overlay".to_string(),
            (ModeChoice::Api, _) => "api: --mode api".to_string(),
            (ModeChoice::Auto, Ok(upper)) => format!(
                "overlay: the engine's storage is readable here, at {}",
                upper.display()
            ),
            (ModeChoice::Auto, Err(why)) => format!("api: {why}"),
        };
        let upper = match (mode, access) {
            (ModeChoice::Api, _) | (_, Err(_)) => {
                let volumes = volumes.to_vec();
                return Ok(Recorder::Api {
                    recorder: api::ApiRecorder::start(
                        engine.docker().clone(),
                        container.id.clone(),
                        volumes,
                        workdir(inspect),
                    )
                    .await?,
                    reason,
                    restart: None,
                    restarted: Restarted::default(),
                });
            }
            (_, Ok(upper)) => upper,
        };
        let mut roots = vec![layer::Root {
            host: upper,
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
            reason,
            restart: None,
            restarted: Restarted::default(),
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
            Recorder::Api { recorder, .. } => recorder.boundary(phase, probe).await,
        }
    }

    /// After the first run's shutdown, before the same container starts again: takes what
    /// that run left, and watches for reads of it.
    async fn restart_begin(&mut self) {
        match self {
            Recorder::Overlay {
                recorder,
                assembler,
                restart,
                ..
            } => {
                let left = assembler.left();
                let dirs: BTreeSet<&[u8]> = (left.iter())
                    .filter(|(_, m)| m.file_type != Some(crate::model::FileType::Dir))
                    .filter_map(|(p, _)| Some(&p[..p.iter().rposition(|&b| b == b'/')?]))
                    .collect();
                let unwatched = dirs.len().saturating_sub(reads::WATCH_LIMIT);
                let dirs = (dirs.into_iter().take(reads::WATCH_LIMIT))
                    .filter_map(|d| {
                        let d = if d.is_empty() { &b"/"[..] } else { d };
                        Some((layer::to_host(recorder.roots(), d)?, d.to_vec()))
                    })
                    .collect();
                let reads =
                    reads::Reads::watch(dirs).map_err(|e| format!("inotify could not start ({e})"));
                *restart = Some(Restarting::Overlay {
                    left,
                    reads,
                    unwatched,
                });
            }
            Recorder::Api {
                recorder, restart, ..
            } => {
                let (left, skipped) = recorder.left().await;
                *restart = Some(Restarting::Api { left, skipped });
            }
        }
    }

    /// After the second run stopped: what it did to each path the first run left, unless
    /// `failed` says why it could not show that.
    async fn restart_end(&mut self, failed: Option<String>) {
        let mut blind_spots = vec![];
        if let Some(why) = &failed {
            blind_spots.push(format!(
                "what a restart keeps: started again, the same container was not ready ({why}), \
                 so no write says what a restart does with it"
            ));
        }
        let mut outcomes = BTreeMap::new();
        match self {
            Recorder::Overlay {
                recorder, restart, ..
            } => {
                let Some(Restarting::Overlay {
                    left,
                    reads,
                    unwatched,
                }) = restart.take()
                else {
                    return;
                };
                recorder.boundary(Phase::Restart, None).await;
                let end = recorder.segments.pop();
                let (read, mut problems) = match reads {
                    Ok(reads) => reads.finish(),
                    Err(why) => (BTreeSet::new(), vec![why]),
                };
                if unwatched > 0 {
                    problems.push(format!(
                        "the first run left files in {unwatched} directories more than the {} \
                         watched",
                        reads::WATCH_LIMIT
                    ));
                }
                let Some(end) = end.filter(|_| failed.is_none()) else {
                    self.restarted().blind_spots.extend(blind_spots);
                    return;
                };
                if !problems.is_empty() {
                    blind_spots.push(format!(
                        "reads at a restart: {}, so a file the second start read may be called \
                         kept rather than reused, or rewritten rather than updated",
                        problems.join("; ")
                    ));
                }
                for (path, before) in &left {
                    let after = end.state.get(path).filter(|m| !m.whiteout);
                    let written = end.touched.contains_key(path);
                    let outcome =
                        assemble::restart_outcome(before, after, written, read.contains(path));
                    outcomes.insert(path.clone(), outcome);
                }
            }
            Recorder::Api {
                recorder, restart, ..
            } => {
                let Some(Restarting::Api { left, skipped }) = restart.take() else {
                    return;
                };
                recorder.restarted().await;
                if failed.is_none() {
                    blind_spots.push(API_RESTART_BLIND_SPOT.to_string());
                    if skipped > 0 {
                        blind_spots.push(format!(
                            "what a restart keeps of {skipped} more paths: only the first {} \
                             that the first run left are compared, at a request each",
                            api::RESTART_STAT_LIMIT
                        ));
                    }
                    for (path, before) in left {
                        if let Some(after) = recorder.stat(&path).await {
                            let outcome =
                                assemble::restart_outcome(&before, after.as_ref(), false, false);
                            outcomes.insert(path, outcome);
                        }
                    }
                }
            }
        }
        let restarted = self.restarted();
        restarted.outcomes = outcomes;
        restarted.blind_spots.extend(blind_spots);
    }

    fn restarted(&mut self) -> &mut Restarted {
        match self {
            Recorder::Overlay { restarted, .. } | Recorder::Api { restarted, .. } => restarted,
        }
    }

    async fn finish(self, noise: &Noise) -> Recorded {
        let (mode, reason, mut blind_spots, mut writes, dirs, symlinks, restarted) = match self {
            Recorder::Overlay {
                recorder,
                lower,
                assembler,
                reason,
                restarted,
                ..
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
                    reason,
                    recorder.blind_spots(),
                    writes,
                    dirs,
                    symlinks,
                    restarted,
                )
            }
            Recorder::Api {
                mut recorder,
                reason,
                restarted,
                ..
            } => {
                recorder.describe().await;
                let writes =
                    assemble::assemble(&recorder.baseline, &recorder.segments, &recorder, noise);
                let written = written_set(&writes);
                let mut dirs = vec![];
                for dir in assemble::mount_candidates(&writes) {
                    dirs.push(recorder.image_dir(&dir, &written).await);
                }
                let symlinks = recorder.dir_symlinks().await;
                (
                    TracingMode::Api,
                    reason,
                    recorder.blind_spots(),
                    writes,
                    dirs,
                    symlinks,
                    restarted,
                )
            }
        };
        assemble::mark_restart(&mut writes, &restarted.outcomes);
        blind_spots.extend(restarted.blind_spots);
        release_freed_memory();
        Recorded {
            tracing: Tracing {
                mode,
                reason,
                blind_spots,
            },
            writes,
            image_dirs: dirs,
            symlinks,
        }
    }
}

/// The container's working directory, where it is not the root.
fn workdir(inspect: &bollard::models::ContainerInspectResponse) -> Option<CPath> {
    let dir = inspect.config.as_ref()?.working_dir.as_deref()?;
    let dir = dir.trim_end_matches('/');
    (!dir.is_empty()).then(|| dir.as_bytes().to_vec())
}

/// The container's overlay upper dir, where this machine can read it as the engine's own host
/// does; else why not, naming the engine. Whether the engine is on this machine is told by its
/// own directory for this container (that of its hostname file) being here, not by how it is
/// reached: a tcp:// engine may be this host's, and a unix socket may lead to another machine's
/// or into a VM (Docker Desktop).
fn overlay_access(
    engine: &Engine,
    container: &Container,
    inspect: &bollard::models::ContainerInspectResponse,
) -> std::result::Result<PathBuf, String> {
    let host = engine.host();
    let graph = inspect.graph_driver.clone().unwrap_or_default();
    let Some(upper) = graph.data.get("UpperDir").map(PathBuf::from) else {
        return Err(format!(
            "the engine at {host} uses the {} storage driver, which has no overlay upper dir",
            graph.name
        ));
    };
    // Named after the container (/var/lib/docker/containers/ID, podman's
    // overlay-containers/ID/userdata): no other engine's directory has that path.
    let own_dir = (inspect.hostname_path.as_deref())
        .or(inspect.resolv_conf_path.as_deref())
        .and_then(|p| std::path::Path::new(p).parent())
        .filter(|d| d.to_string_lossy().contains(&container.id));
    if let Some(dir) = own_dir {
        if !dir.is_dir() {
            return Err(format!(
                "the engine at {host} keeps its storage on another machine: its directory for \
                 this container ({}) is not on this one",
                dir.display()
            ));
        }
    }
    match std::fs::read_dir(&upper) {
        Ok(_) => Ok(upper),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "the engine at {host} keeps its storage on another machine: the container's overlay \
             upper dir ({}) is not on this one",
            upper.display()
        )),
        Err(e) => Err(format!(
            "the overlay upper dir {} of the engine at {host} is not readable by this user ({e}): \
             a rootless engine's, or one that only root may read",
            upper.display()
        )),
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
