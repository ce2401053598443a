//! The pipeline as functions from plain options to plain results: what the command line, and
//! anything else that audits an image (a deployment spec, a config file's targets), calls.

use anyhow::Result;

use crate::analyze::{self, Catalogue};
use crate::engine::{Engine, RunId};
use crate::model::{ProofGate, Report, TmpfsSpec, Trace};
use crate::profile::Profile;
use crate::progress::Progress;
use crate::trace::{self, ModeChoice, RunOptions, Subject};
use crate::verify;

/// How to judge a trace: the platform, the mounts the deployment already has, and the remedies.
#[derive(Clone)]
pub struct Judge {
    pub profile: Profile,
    pub catalogue: Catalogue,
    /// The mounts the deployment already has.
    pub declared: Vec<TmpfsSpec>,
}

impl Judge {
    pub fn analyze(&self, trace: Trace) -> Report {
        analyze::analyze(trace, &self.profile, &self.declared, &self.catalogue)
    }
}

/// How to audit, beyond how to run the image.
#[derive(Debug, Clone, Copy)]
pub struct AuditOptions {
    pub mode: ModeChoice,
    /// Prove the plan with read-only runs.
    pub verify: bool,
    /// Proof runs at a time.
    pub jobs: usize,
    pub gate: ProofGate,
}

/// Traces the image, judges the trace and proves the plan: the report of `rofs-audit audit`.
pub async fn audit(
    engine: &Engine,
    run_id: &RunId,
    run: &RunOptions,
    judge: &Judge,
    options: AuditOptions,
    progress: &Progress,
) -> Result<Report> {
    // Resolved once, so the trace and the proof run the same image even if its tag moves
    // meanwhile.
    let subject = Subject::resolve(engine, run, progress).await?;
    let run = subject.options(run);
    // The proof's first run (no mount) needs no trace: it goes alongside.
    let begin = async {
        match options.verify {
            true => verify::begin(
                engine,
                run_id,
                &subject,
                &run,
                &judge.profile,
                &judge.declared,
                options.jobs,
                options.gate,
                progress,
            )
            .await
            .map(Some),
            false => Ok(None),
        }
    };
    let traced = trace::trace(
        engine,
        run_id,
        subject.clone(),
        &run,
        options.mode,
        progress,
    );
    let (traced, proof) = tokio::try_join!(traced, begin)?;
    let mut report = judge.analyze(traced);
    if let Some(proof) = proof {
        proof.finish(&mut report).await?;
    }
    Ok(report)
}

/// Runs the image once with a writable root and records what it writes: `rofs-audit trace`.
pub async fn trace(
    engine: &Engine,
    run_id: &RunId,
    run: &RunOptions,
    mode: ModeChoice,
    progress: &Progress,
) -> Result<Trace> {
    let subject = Subject::resolve(engine, run, progress).await?;
    let run = subject.options(run);
    trace::trace(engine, run_id, subject, &run, mode, progress).await
}
