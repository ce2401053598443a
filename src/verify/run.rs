//! One run of the proof: start the container, wait for the first probe, ask every probe, idle,
//! stop it as the platform would, and judge what happened.

use std::time::Duration;

use anyhow::Result;

use super::logscan;
use crate::engine::{
    Container, ContainerSpec, Engine, Readiness, RunId, StartRefused, VolumeMount,
};
use crate::model::{
    is_within, CopyStep, ExitStatus, Gate, Gates, LogLine, ProofGate, RunMount, TmpfsSpec,
    VerifyRun, VolumeRoot,
};
use crate::probe::seconds;
use crate::profile;
use crate::trace::lifecycle;
use crate::trace::RunOptions;

/// How a run is judged while it runs.
#[derive(Debug, Clone, Copy)]
pub struct Judging {
    /// Under [`ProofGate::Clean`] a read-only error in the logs dooms the run.
    pub gate: ProofGate,
    /// How long the app took to get ready with a writable root, once known: a run that has
    /// failed ends then (see [`crate::engine::outrun`]).
    pub yardstick: Option<Duration>,
}

/// Runs `spec` with `mounts` added and judges the run as `judging` says, all but its shutdown:
/// whether a kill after the stop timeout is a finding depends on a writable run, which
/// [`settle`] takes.
/// Under the clean gate a read-only error in the logs dooms the run, which then ends
/// [`ALARM_GRACE`](crate::engine::ALARM_GRACE) later instead of waiting out its budgets.
/// Engine errors (the daemon refuses a mount option, say) are errors; everything the app does is
/// a verdict.
pub async fn run(
    engine: &Engine,
    run_id: &RunId,
    role: &str,
    mut spec: ContainerSpec,
    mounts: &[RunMount],
    opts: &RunOptions,
    judging: Judging,
) -> Result<VerifyRun> {
    let Judging { gate, yardstick } = judging;
    let mut seeding = None;
    for mount in mounts {
        match mount {
            RunMount::Tmpfs { path, options } => spec.tmpfs.push(TmpfsSpec::new(path, options)),
            RunMount::Seeded { path, root, copy } => {
                let role = format!("{role}-volume{}", spec.volumes.len());
                let name = engine.create_volume(run_id, &role).await?;
                // Once one copy step failed the run cannot start: the others would be wasted.
                if let (Some(copy), None) = (copy, &seeding) {
                    seeding = seed(engine, run_id, &role, &spec, &name, path, *root, copy).await?;
                }
                spec.volumes.push(VolumeMount {
                    name,
                    target: path.clone(),
                    read_only: false,
                    // Docker fills a new volume from the image; a copied one has its files.
                    no_copy: copy.is_some(),
                });
            }
            // Empty and writable for the app (Kubernetes): Docker has no volume option for an
            // owner, and a run needs only what the volume holds at first, so a tmpfs stands in,
            // world-writable (1777) and executable as an emptyDir is.
            RunMount::Volume {
                path,
                empty: true,
                owner: Some(owner),
                ..
            } => {
                let options = format!("exec,uid={},gid={}", owner.uid, owner.gid);
                spec.tmpfs.push(TmpfsSpec::new(path, options));
            }
            RunMount::Volume {
                path,
                read_only,
                empty,
                ..
            } => {
                let name = engine
                    .create_volume(run_id, &format!("{role}-volume{}", spec.volumes.len()))
                    .await?;
                spec.volumes.push(VolumeMount {
                    name,
                    target: path.clone(),
                    read_only: *read_only,
                    no_copy: *empty,
                });
            }
        }
    }
    if let Some(problem) = seeding {
        for volume in &spec.volumes {
            engine.remove_volume(&volume.name).await;
        }
        return Ok(failed_before_start(mounts, &spec, problem, gate));
    }
    let mut container = Container::create(engine, run_id, role, &spec).await?;
    // However much the app prints, the lines the judgement reads are kept: read-only errors,
    // and the permission errors the ownership hint reads.
    container.keep_on(|line| {
        logscan::scan_line(line).is_some() || logscan::permission_denied(line).is_some()
    });
    if gate == ProofGate::Clean {
        container.alarm_on(|line| logscan::scan_line(line).is_some());
    }
    if let Some(writable) = yardstick {
        container.measure_against(writable);
    }
    let lived = match lifecycle::live(&mut container, opts, &mut lifecycle::NoBoundaries).await {
        Ok(lived) => lived,
        // A mount that hides the command or the user is a candidate that fails, not an error.
        Err(e) => {
            let Some(refused) = e.downcast_ref::<StartRefused>() else {
                return Err(e);
            };
            let problem = format!("it did not start: {refused}");
            remove(engine, container, &spec).await;
            return Ok(failed_before_start(mounts, &spec, problem, gate));
        }
    };
    let mut cut_short = lived.cut_short;
    let mut startup_ms = None;
    let mut problem = match lived.readiness {
        Readiness::Ready { elapsed } => {
            startup_ms = Some(elapsed.as_millis() as u64);
            lived.probes.iter().find(|p| !p.ok).map(|bad| {
                format!(
                    "probe {} {}",
                    bad.target,
                    match (&bad.status, &bad.error) {
                        (Some(status), _) =>
                            format!("answered {status} (expected {})", opts.expect_status),
                        (None, Some(error)) => error.clone(),
                        (None, None) => "failed".to_string(),
                    }
                )
            })
        }
        Readiness::Exited { code } => Some(format!("exited with code {code} before it was ready")),
        Readiness::NeverOpened { last } => Some(format!(
            "not ready within the {} startup budget{}",
            seconds(opts.startup_timeout),
            last.and_then(|l| l.error)
                .map_or_else(String::new, |e| format!(": {e}"))
        )),
        Readiness::ProbeFailing { last } => Some(format!(
            "probe {} answered {} (expected {}) before it was ready",
            last.target,
            last.status.map_or("nothing".into(), |s| s.to_string()),
            opts.expect_status,
        )),
        Readiness::Doomed => {
            cut_short = true;
            None
        }
        Readiness::Outrun { last, writable } => Some(format!(
            "not ready after {}, where the writable run was ready after {} ms, with a failed \
             write in its log and its probe {}: ended then, not at the {} startup budget",
            seconds(crate::engine::outrun(writable)),
            writable.as_millis(),
            match (last.status, &last.error) {
                (Some(status), _) => format!("answering {status}"),
                (None, Some(error)) => format!("failing ({error})"),
                (None, None) => "failing".to_string(),
            },
            seconds(opts.startup_timeout),
        )),
    };
    if let Some(code) = lived.exited_by_itself {
        // A probe that failed because the app had gone is the exit's doing.
        let probed_a_dead_app = lived.probes.iter().any(|p| !p.ok);
        if (problem.is_none() || probed_a_dead_app) && !cut_short {
            problem = Some(match probed_a_dead_app {
                true => format!("exited with code {code} while it was probed"),
                false => format!("exited with code {code} while idle"),
            });
        }
    }
    let (exit, stop_took) = match (lived.exit, container.exit_code()) {
        (Some(exit), _) => (exit, lived.stop_took),
        // It never got ready; it may have exited, or still be running.
        (None, Some(code)) => (ExitStatus::from_code(code), None),
        (None, None) if cut_short => (container.stop(Duration::ZERO).await?.0, None),
        (None, None) => {
            let (exit, took) = container.stop(opts.stop_timeout).await?;
            (exit, Some(took))
        }
    };
    // Whether it exited by itself after SIGTERM: only a run stopped that way tells.
    let clean_exit = stop_took.map(|_| exit.signal != Some(9));
    let stop_ms = stop_took.map(|t| t.as_millis() as u64);
    let probes = lived.probes;
    let logs = container.logs();
    let erofs_lines = logscan::scan(&logs);
    // What to do first, then what the app last said.
    let mut hints: Vec<String> = owner_hint(&logs, &spec.tmpfs, mounts).into_iter().collect();
    if erofs_lines.is_empty() {
        hints.push(format!("last log lines: {}", container.tail(3)));
    }
    remove(engine, container, &spec).await;
    let mut run = VerifyRun {
        mounts: mounts.to_vec(),
        readonly: spec.readonly_rootfs,
        passed: false,
        functional: None,
        startup_ms,
        probes,
        erofs_lines,
        clean_exit,
        stop_ms,
        exit: Some(exit),
        failure: None,
        problem,
        cut_short,
        hints,
    };
    judge(&mut run, None, gate);
    Ok(run)
}

/// A run that failed before the app started: a mount hid its command, or a copy step failed.
fn failed_before_start(
    mounts: &[RunMount],
    spec: &ContainerSpec,
    problem: String,
    gate: ProofGate,
) -> VerifyRun {
    let mut run = VerifyRun {
        mounts: mounts.to_vec(),
        readonly: spec.readonly_rootfs,
        problem: Some(problem),
        ..VerifyRun::default()
    };
    judge(&mut run, None, gate);
    run
}

/// How long a copy step may take: it copies what the image ships at one path.
const COPY_TIMEOUT: Duration = Duration::from_secs(120);

/// Fills volume `name` as the platform and the fix's init container do: the volume's own
/// directory made as the platform makes it (`root`), then the image, read-only, copying what it
/// ships at `path` into it. Returns why that failed, if it did: the image has no `find` or `cp`,
/// or its user may not write into the volume the platform made.
#[allow(clippy::too_many_arguments)]
async fn seed(
    engine: &Engine,
    run_id: &RunId,
    role: &str,
    app: &ContainerSpec,
    name: &str,
    path: &str,
    root: Option<VolumeRoot>,
    copy: &CopyStep,
) -> Result<Option<String>> {
    const TARGET: &str = profile::SEED_AT;
    if let Some(r) = root {
        // What the platform does to a new volume before any container of the pod sees it.
        let owner = format!("{}:{}", r.uid, r.gid);
        let mode = format!("{:o}", r.mode);
        let argv = [
            "find",
            TARGET,
            "-maxdepth",
            "0",
            "-exec",
            "chown",
            &owner,
            "{}",
            ";",
            "-exec",
            "chmod",
            &mode,
            "{}",
            ";",
        ]
        .map(String::from)
        .to_vec();
        let step = Step {
            user: Some("0".to_string()),
            argv,
            what: "the volume's set-up",
        };
        if let Some(failed) = step.run(engine, run_id, role, app, name, TARGET).await? {
            return Ok(Some(failed));
        }
    }
    let step = Step {
        user: copy.user.clone(),
        argv: copy.command.clone(),
        what: "the copy step",
    };
    step.run(engine, run_id, role, app, name, TARGET)
        .await
        .map(|failed| failed.map(|f| format!("{f} (into {path})")))
}

/// A one-off container of the image with one of our volumes at a path of its own.
struct Step {
    user: Option<String>,
    argv: Vec<String>,
    what: &'static str,
}

impl Step {
    /// Runs it to its end; returns why it failed, if it did.
    async fn run(
        self,
        engine: &Engine,
        run_id: &RunId,
        role: &str,
        app: &ContainerSpec,
        volume: &str,
        target: &str,
    ) -> Result<Option<String>> {
        let spec = ContainerSpec {
            image_id: app.image_id.clone(),
            user: self.user,
            entrypoint: Some(self.argv[..1].to_vec()),
            cmd: Some(self.argv[1..].to_vec()),
            env: vec![],
            port: None,
            readonly_rootfs: true,
            tmpfs: vec![],
            volumes: vec![VolumeMount {
                name: volume.to_string(),
                target: target.to_string(),
                read_only: false,
                no_copy: true,
            }],
            ipc_mode: None,
        };
        let mut container =
            Container::create(engine, run_id, &format!("{role}-step"), &spec).await?;
        let failure = match container.start().await {
            Err(e) => match e.downcast_ref::<StartRefused>() {
                Some(refused) => Some(format!("{} cannot run: {refused}", self.what)),
                None => return Err(e),
            },
            Ok(()) => match container.wait_exit(COPY_TIMEOUT).await {
                Some(0) => None,
                code => {
                    container.drain_logs().await;
                    Some(format!(
                        "{} failed ({}): {}",
                        self.what,
                        code.map_or_else(|| "still running".to_string(), |c| format!("exit {c}")),
                        container.tail(3)
                    ))
                }
            },
        };
        container.remove().await;
        Ok(failure)
    }
}

/// Removes a run's container and the volumes made for it.
async fn remove(engine: &Engine, container: Container, spec: &ContainerSpec) {
    container.remove().await;
    for volume in &spec.volumes {
        engine.remove_volume(&volume.name).await;
    }
}

/// Sets whether `run` passes `gate`, and why not: a functional problem first (with the
/// shutdown's, once a writable stop is known), then under the clean gate a read-only error.
fn judge(run: &mut VerifyRun, shutdown_problem: Option<String>, gate: ProofGate) {
    let problem = run.problem.clone().or(shutdown_problem);
    run.functional = match (&problem, run.cut_short) {
        (Some(_), _) => Some(false),
        (None, true) => None,
        (None, false) => Some(true),
    };
    let erofs = (gate == ProofGate::Clean)
        .then(|| run.erofs_lines.first())
        .flatten()
        .map(|first| format!("read-only error in the logs: {}", first.line));
    run.failure = problem.or(erofs).map(|mut failure| {
        for hint in &run.hints {
            failure.push_str("; ");
            failure.push_str(hint);
        }
        failure
    });
    run.passed = run.failure.is_none();
}

/// How the app stopped with a writable root: what a read-only run's shutdown is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WritableStop {
    /// It needed SIGKILL after the stop timeout.
    pub killed: bool,
    pub code: Option<i64>,
}

impl WritableStop {
    /// A run that stopped by itself with code 0: nothing to excuse.
    pub const CLEAN: WritableStop = WritableStop {
        killed: false,
        code: Some(0),
    };
}

/// The shutdown of a run against the writable one: whether it passes, and why not (or what
/// excused it). None when the run never got a SIGTERM.
fn shutdown(
    run: &VerifyRun,
    opts: &RunOptions,
    writable: WritableStop,
) -> Option<(bool, Option<String>)> {
    let stop = seconds(opts.stop_timeout);
    let code = run.exit.as_ref().and_then(|e| e.code);
    Some(match (run.clean_exit?, writable.killed) {
        (false, true) => (
            true,
            Some(format!(
                "killed after the {stop} stop timeout, but so it is with a writable root: not a \
                 read-only problem"
            )),
        ),
        (false, false) => (
            false,
            Some(format!(
                "did not exit on SIGTERM and was killed after the {stop} stop timeout (with a \
                 writable root it exits by itself): what it writes at shutdown is lost"
            )),
        ),
        (true, _) if writable.code == Some(0) && code != Some(0) => (
            false,
            Some(format!(
                "exited with code {} after SIGTERM (0 with a writable root): its shutdown fails \
                 read-only",
                code.map_or_else(|| "unknown".to_string(), |c| c.to_string())
            )),
        ),
        (true, _) => (true, None),
    })
}

/// Judges the shutdown of a run against the writable one, and the run by `gate`: a kill, or an
/// exit code that differs from a clean writable stop, is a functional problem unless the app
/// does the same with a writable root.
pub fn settle(run: &mut VerifyRun, opts: &RunOptions, writable: WritableStop, gate: ProofGate) {
    let shutdown_problem = match shutdown(run, opts, writable) {
        Some((false, reason)) => reason,
        _ => None,
    };
    judge(run, shutdown_problem, gate);
}

/// The ownership trap, named: the app was denied a path on a tmpfs whose options give it no
/// owner, or on an empty volume the platform gives to root, so the mount belongs to root.
fn owner_hint(logs: &[LogLine], tmpfs: &[TmpfsSpec], mounts: &[RunMount]) -> Option<String> {
    logs.iter().find_map(|log| {
        let path = logscan::permission_denied(&log.line)?;
        let on_tmpfs = tmpfs.iter().find(|mount| {
            mount.covers(&path)
                && !mount.options.contains("uid=")
                && !mount.options.contains("mode=1777")
        });
        if let Some(mount) = on_tmpfs {
            return Some(format!(
                "{path} is on the tmpfs at {}, which belongs to root: add the app's uid= and \
                 gid= to its options",
                mount.path
            ));
        }
        let volume = mounts.iter().find_map(|mount| match mount {
            RunMount::Volume {
                path: at,
                empty: true,
                owner: None,
                ..
            } if is_within(&path, at) => Some(at),
            _ => None,
        })?;
        Some(format!(
            "{path} is on the volume at {volume}, which starts empty and root-owned 0755 where \
             the image declares no VOLUME: {}",
            profile::declare_volume(volume, None)
        ))
    })
}

/// The runtime gates measured by `run`, against the budgets of `opts`, each with the reason it
/// failed. A kill at shutdown is excused when the app needs one with a writable root too.
pub fn gates(run: &VerifyRun, opts: &RunOptions, writable: WritableStop) -> Gates {
    let budget = |d: Duration| d.as_millis() as u64;
    let over = |ms: u64, budget_ms: u64| {
        (ms > budget_ms).then(|| format!("took {ms} ms, over the {budget_ms} ms budget"))
    };
    let startup_budget = budget(opts.startup_timeout);
    let startup_reason = match run.startup_ms {
        Some(ms) => over(ms, startup_budget),
        // The run's failure says why.
        None => Some("never ready".to_string()),
    };
    let probe_budget = budget(opts.probe_timeout);
    let probe = |target: &str| {
        let result = run.probes.iter().find(|r| r.target == target);
        let reason = match result {
            None => Some("not reached".to_string()),
            Some(r) if !r.ok => Some(match (r.status, &r.error) {
                (Some(status), _) => format!("answered {status} (expected {})", opts.expect_status),
                (None, Some(error)) => error.clone(),
                (None, None) => "failed".to_string(),
            }),
            Some(r) => over(r.latency_ms, probe_budget),
        };
        Gate {
            name: target.to_string(),
            ms: result.map(|r| r.latency_ms),
            budget_ms: probe_budget,
            ok: reason.is_none(),
            reason,
        }
    };
    Gates {
        startup: Gate {
            name: "startup".to_string(),
            ms: run.startup_ms,
            budget_ms: startup_budget,
            ok: startup_reason.is_none(),
            reason: startup_reason,
        },
        probes: opts.probes.iter().map(|p| probe(p.target())).collect(),
        shutdown: shutdown(run, opts, writable).map(|(ok, reason)| Gate {
            name: "shutdown".to_string(),
            ms: run.stop_ms,
            budget_ms: budget(opts.stop_timeout),
            ok,
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn killed_run() -> VerifyRun {
        VerifyRun {
            mounts: vec![],
            readonly: true,
            passed: true,
            startup_ms: Some(100),
            probes: vec![],
            erofs_lines: vec![],
            clean_exit: Some(false),
            stop_ms: Some(10_000),
            exit: Some(ExitStatus::from_code(137)),
            failure: None,
            functional: Some(true),
            cut_short: false,
            problem: None,
            hints: vec![],
        }
    }

    fn opts() -> RunOptions {
        RunOptions::testing("app")
    }

    #[test]
    fn a_kill_fails_the_run_only_when_the_app_stops_by_itself_with_a_writable_root() {
        let mut hangs_read_only = killed_run();
        settle(
            &mut hangs_read_only,
            &opts(),
            WritableStop::CLEAN,
            ProofGate::Clean,
        );
        assert!(!hangs_read_only.passed);
        assert!(hangs_read_only
            .failure
            .as_deref()
            .is_some_and(|f| f.contains("what it writes at shutdown is lost")));

        let mut always_hangs = killed_run();
        let killed = WritableStop {
            killed: true,
            code: Some(137),
        };
        settle(&mut always_hangs, &opts(), killed, ProofGate::Clean);
        assert!(always_hangs.passed && always_hangs.failure.is_none());
    }

    #[test]
    fn a_shutdown_that_exits_non_zero_only_read_only_is_a_finding() {
        let mut run = killed_run();
        run.clean_exit = Some(true);
        run.exit = Some(ExitStatus::from_code(4));
        let mut same_when_writable = run.clone();
        settle(&mut run, &opts(), WritableStop::CLEAN, ProofGate::Clean);
        assert!(!run.passed);
        assert!(run
            .failure
            .as_deref()
            .is_some_and(|f| f.contains("code 4 after SIGTERM (0 with a writable root)")));
        let four = WritableStop {
            killed: false,
            code: Some(4),
        };
        settle(&mut same_when_writable, &opts(), four, ProofGate::Clean);
        assert!(same_when_writable.passed);
    }
}
