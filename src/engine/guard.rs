//! The guard of a run: whatever the run creates is removed however it ends (success, error,
//! panic, SIGINT, SIGTERM), and what this process cannot remove is left to the run's watchdog.

use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, Result};

use super::client::{one_line, Engine, EngineLost, RunId};
use super::reaper;

/// Ended by a signal (`SIGINT` or `SIGTERM`); main exits with [`Interrupted::exit_code`].
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {0}; removed this run's containers and volumes")]
pub struct Interrupted(pub &'static str);

impl Interrupted {
    /// 128 + the signal's number, as a shell reports a process that signal ended: 130 for
    /// SIGINT, 143 for SIGTERM.
    pub fn exit_code(&self) -> i32 {
        match self.0 {
            "SIGTERM" => 128 + libc::SIGTERM,
            _ => 128 + libc::SIGINT,
        }
    }
}

/// Connects to the engine and runs `work` as a new run under [`guarded`]: whatever it creates
/// is removed when it ends, fails or is interrupted.
pub async fn with_run<T, F, Fut>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(Engine, RunId) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let engine = Engine::connect().await?;
    let run = RunId::new();
    let future = work(engine.clone(), run.clone());
    guarded(&engine, &run, future).await
}

/// Runs `work` and then removes everything the run created, also when `work` fails, panics, or
/// the process receives SIGINT or SIGTERM. When the engine goes away meanwhile, the run ends
/// with [`EngineLost`]. What this process cannot remove (it is killed, or the engine is gone)
/// is left to the run's watchdog ([`reaper`]).
pub async fn guarded<T, F>(engine: &Engine, run: &RunId, work: F) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    // Before anything is created: from here on, a SIGKILL leaves nothing behind.
    let reaper = match reaper::Reaper::spawn(run) {
        Some(Ok(reaper)) => Some(reaper),
        Some(Err(e)) => {
            eprintln!(
                "rofs-audit: warning: cannot start the watchdog that cleans up after a killed run \
                 ({e}); if this run is killed, `rofs-audit clean` removes what it leaves"
            );
            None
        }
        None => None,
    };
    let mut task = tokio::spawn(work);
    // Set when work was cut short: requests it had in flight may still complete in the daemon.
    let mut aborted = false;
    let outcome = tokio::select! {
        joined = &mut task => {
            let outcome = joined.unwrap_or_else(|e| Err(anyhow!("internal error: {e}")));
            match outcome {
                // The work's own error may be the first sign of an engine that went away.
                Err(e) if !e.is::<Interrupted>() => match engine.answers().await {
                    Ok(()) => Err(e),
                    Err(why) => Err(engine.lost(format!("it no longer answers: {why}"))),
                },
                outcome => outcome,
            }
        }
        signal = termination_signal() => {
            aborted = true;
            task.abort();
            let _ = task.await;
            Err(Interrupted(signal).into())
        }
        why = engine.gone(run) => {
            aborted = true;
            task.abort();
            let _ = task.await;
            Err(engine.lost(why))
        }
    };
    let lost = outcome.as_ref().is_err_and(|e| e.is::<EngineLost>());
    // Work that failed may have dropped a sibling request mid-flight (the proof's first run
    // beside a trace that failed): treat it as cut short too.
    aborted |= outcome.is_err();
    let mut errors = match lost {
        // Nothing answers: the watchdog removes it all once the engine is back.
        true if reaper.is_some() => vec![],
        _ => engine.remove_run(run).await.errors,
    };
    if (aborted && !lost) || !errors.is_empty() {
        // An aborted create request may still complete inside the daemon after the first pass,
        // and a removal already in progress fails the first time.
        tokio::time::sleep(Duration::from_millis(500)).await;
        errors = engine.remove_run(run).await.errors;
    }
    match reaper {
        // All removed, and nothing was in flight: the watchdog has nothing to do.
        Some(reaper) if errors.is_empty() && !aborted && !lost => reaper.stand_down().await,
        // It sweeps again once this process is gone, and waits for an engine that went away.
        Some(reaper) => drop(reaper),
        None => {
            if let Some(e) = errors.first() {
                eprintln!(
                    "rofs-audit: warning: could not remove everything this run created ({}); \
                     `rofs-audit clean` removes it",
                    one_line(e)
                );
            }
        }
    }
    outcome
}

async fn termination_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_exits_with_128_plus_its_number() {
        assert_eq!(Interrupted("SIGINT").exit_code(), 130);
        assert_eq!(Interrupted("SIGTERM").exit_code(), 143);
    }
}
