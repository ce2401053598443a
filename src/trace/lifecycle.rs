//! One run of a container as a platform runs it, for the trace and for every proof run alike:
//! start, wait until the first probe answers, ask every probe, idle, stop with SIGTERM and then
//! SIGKILL after the stop timeout. A run whose logs doom it (see `Container::alarm_on`) ends
//! early; the trace sets no alarm.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::options::RunOptions;
use crate::engine::{Container, Readiness};
use crate::model::{ExitStatus, Phase, ProbeResult};
use crate::probe::Probe;

/// Called at the end of each phase (and each probe), while the container still runs: where the
/// trace closes a segment of writes.
pub trait Boundaries {
    async fn boundary(&mut self, phase: Phase, probe: Option<&Probe>) -> Result<()>;
}

/// Nothing to do between phases.
pub struct NoBoundaries;

impl Boundaries for NoBoundaries {
    async fn boundary(&mut self, _: Phase, _: Option<&Probe>) -> Result<()> {
        Ok(())
    }
}

/// What a run showed.
pub struct Lived {
    /// How the wait for the first probe ended; the rest happened only when it was `Ready`.
    pub readiness: Readiness,
    /// Every probe asked, in order, up to the first that failed.
    pub probes: Vec<ProbeResult>,
    pub probes_took: Duration,
    /// A log line doomed it after it was ready, and it was stopped at once.
    pub cut_short: bool,
    /// The code it exited with by itself, before it was stopped.
    pub exited_by_itself: Option<i64>,
    /// How it ended; None where it never got ready.
    pub exit: Option<ExitStatus>,
    /// From SIGTERM until it ended; None where it was not stopped that way.
    pub stop_took: Option<Duration>,
}

/// A container that runs to completion: it is ready once it exited 0 within the startup budget,
/// and has nothing to probe, idle or stop. Exiting otherwise is exiting before it was ready.
async fn completed(
    container: &mut Container,
    opts: &RunOptions,
    marks: &mut impl Boundaries,
) -> Result<Lived> {
    let started = Instant::now();
    let code = container.wait_exit(opts.startup_timeout).await;
    let (readiness, exit) = match code {
        Some(0) => (
            Readiness::Ready {
                elapsed: started.elapsed(),
            },
            Some(ExitStatus::from_code(0)),
        ),
        Some(code) => (Readiness::Exited { code }, None),
        None => (Readiness::NeverOpened { last: None }, None),
    };
    if code.is_some() {
        container.drain_logs().await;
    }
    if exit.is_some() {
        marks.boundary(Phase::Startup, None).await?;
        marks.boundary(Phase::Shutdown, None).await?;
    }
    Ok(Lived {
        readiness,
        probes: vec![],
        probes_took: Duration::ZERO,
        cut_short: false,
        exited_by_itself: None,
        exit,
        stop_took: None,
    })
}

/// Runs a created container through its phases. Engine errors are errors; whatever the app
/// does is in the result. A container that never got ready is left running for the caller
/// (its logs and removal are the caller's).
pub async fn live(
    container: &mut Container,
    opts: &RunOptions,
    marks: &mut impl Boundaries,
) -> Result<Lived> {
    container.start().await?;
    if opts.completes {
        return completed(container, opts, marks).await;
    }
    let first = opts.probes.first().cloned().unwrap_or(Probe::Tcp);
    let readiness = container
        .wait_ready(&first, opts.expect_status, opts.startup_timeout)
        .await;
    let mut lived = Lived {
        readiness,
        probes: vec![],
        probes_took: Duration::ZERO,
        cut_short: false,
        exited_by_itself: None,
        exit: None,
        stop_took: None,
    };
    if !matches!(lived.readiness, Readiness::Ready { .. }) {
        if matches!(lived.readiness, Readiness::Exited { .. }) {
            container.drain_logs().await;
        }
        return Ok(lived);
    }
    marks.boundary(Phase::Startup, None).await?;
    let probes_started = Instant::now();
    let answered = async {
        for probe in &opts.probes {
            let result = container
                .until_ok(probe, opts.expect_status, opts.probe_timeout)
                .await;
            let ok = result.ok;
            lived.probes.push(result);
            let phase = match probe {
                Probe::Exec(_) => Phase::Healthcheck,
                _ => Phase::Probe,
            };
            marks.boundary(phase, Some(probe)).await?;
            if !ok {
                return Ok(false);
            }
        }
        Ok::<_, anyhow::Error>(true)
    };
    let idle = tokio::select! {
        answered = answered => answered?,
        () = container.doomed() => { lived.cut_short = true; false }
    };
    lived.probes_took = probes_started.elapsed();
    if idle {
        tokio::select! {
            () = tokio::time::sleep(opts.idle) => {}
            () = container.doomed() => lived.cut_short = true,
        }
        marks.boundary(Phase::Idle, None).await?;
    }
    lived.exited_by_itself = container.exit_code();
    match lived.exited_by_itself {
        Some(code) => {
            container.drain_logs().await;
            lived.exit = Some(ExitStatus::from_code(code));
        }
        None => {
            // A doomed run is stopped at once: its shutdown cannot save it.
            let timeout = match lived.cut_short {
                true => Duration::ZERO,
                false => opts.stop_timeout,
            };
            let (exit, took) = container.stop(timeout).await?;
            lived.exit = Some(exit);
            lived.stop_took = (!lived.cut_short).then_some(took);
        }
    }
    marks.boundary(Phase::Shutdown, None).await?;
    Ok(lived)
}
