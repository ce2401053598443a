//! The pipeline as functions from plain options to plain results: what the commands
//! ([`crate::command`]), and anything else that audits an image, call.

use anyhow::Result;
use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};

use crate::config::Settings;
use crate::engine::{Engine, RunId};
use crate::model::{
    Check, MountKind, MultiReport, ProofGate, Report, TargetReport, Trace, SCHEMA_VERSION,
};
use crate::profile::{self, Profile};
use crate::progress::Progress;
use crate::trace::{self, ModeChoice, RunOptions, Subject};
use crate::verify;

mod judge;
mod targets;
pub use judge::Judge;
pub use targets::{select, Scope, Selection, SpecTarget};

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

impl AuditOptions {
    /// As `settings` say, proving the plan or not.
    pub fn new(settings: &Settings, verify: bool) -> AuditOptions {
        AuditOptions {
            mode: settings.mode,
            verify,
            jobs: settings.jobs as usize,
            gate: settings.gate,
        }
    }
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
    audit_subject(engine, run_id, subject, run, judge, options, progress).await
}

/// [`audit`] of an image already resolved.
async fn audit_subject(
    engine: &Engine,
    run_id: &RunId,
    subject: Subject,
    run: &RunOptions,
    judge: &Judge,
    options: AuditOptions,
    progress: &Progress,
) -> Result<Report> {
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
    let mut report = judge.plan(traced);
    if let Some(proof) = proof {
        proof.finish(&mut report).await?;
    }
    judge.compare(&mut report);
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

/// Runs the image once read-only with the deployment's mounts on the judge's platform:
/// `rofs-audit verify`.
pub async fn verify(
    engine: &Engine,
    run_id: &RunId,
    run: &RunOptions,
    judge: &Judge,
    progress: &Progress,
) -> Result<Check> {
    let verification = verify::check(
        engine,
        run_id,
        run,
        &judge.profile,
        &judge.declared,
        progress,
    )
    .await?;
    Ok(Check {
        image: run.image.clone(),
        profile: judge.profile.name.clone(),
        mounts: judge.declared.clone(),
        verification,
    })
}

/// The profile to render each of `merged`'s reports with: `given` (`--profile`) for all, else
/// the one the report names, else `fallback` (the config's): a profile of the team's own is a
/// file, which a report names but may not find from here.
pub fn merged_profiles(
    merged: &MultiReport,
    given: Option<&str>,
    fallback: Option<&str>,
) -> Result<Vec<Profile>> {
    let profile_of = |target: &TargetReport| match given {
        Some(given) => profile::load(given),
        None => profile::load(&target.report.plan.profile).or_else(|e| match fallback {
            Some(own) => profile::load(own),
            None => Err(e.context(format!(
                "{}: give its profile with --profile",
                target.defined_at
            ))),
        }),
    };
    merged.targets.iter().map(profile_of).collect()
}

/// Audits the targets, `options.jobs` at a time, each with its share of the proof runs:
/// `rofs-audit audit -f FILE`, or a config's targets.
pub async fn audit_spec(
    engine: &Engine,
    run_id: &RunId,
    source: &str,
    targets: &[SpecTarget],
    options: AuditOptions,
    progress: &Progress,
) -> Result<MultiReport> {
    // Every image first, so that a missing one fails the run before any target has run
    // (the engine pulls what it can).
    let mut subjects = vec![];
    for target in targets {
        let subject = Subject::resolve(engine, &target.run, progress).await;
        subjects.push(subject.map_err(|e| e.context(target.named()))?);
    }
    let at_once = options.jobs.clamp(1, targets.len().max(1));
    let each = AuditOptions {
        jobs: (options.jobs / at_once).max(1),
        ..options
    };
    let mut audits: Vec<BoxFuture<'_, Result<TargetReport>>> = vec![];
    for (target, subject) in targets.iter().zip(subjects) {
        audits.push(Box::pin(audit_target(
            engine, run_id, target, subject, each, progress,
        )));
    }
    // In the targets' order, whichever finishes first.
    let reports = futures_util::stream::iter(audits).buffered(at_once);
    Ok(MultiReport {
        schema_version: SCHEMA_VERSION,
        source: source.to_string(),
        targets: reports.try_collect().await?,
    })
}

async fn audit_target(
    engine: &Engine,
    run_id: &RunId,
    target: &SpecTarget,
    subject: Subject,
    options: AuditOptions,
    progress: &Progress,
) -> Result<TargetReport> {
    let started = std::time::Instant::now();
    let report = audit_subject(
        engine,
        run_id,
        subject,
        &target.run,
        &target.judge,
        options,
        progress,
    )
    .await
    // Which of the targets failed: the error alone does not say.
    .map_err(|e| e.context(target.named()))?;
    Ok(TargetReport {
        name: target.name.clone(),
        defined_at: target.defined_at.clone(),
        spec_path: target.spec_path.clone(),
        notes: spec_notes(target, &report),
        duration_ms: Some(started.elapsed().as_millis() as u64),
        report,
    })
}

/// What a spec audit's reader must know beyond the report: which values were placeholders, and
/// whether the fix's tmpfs mounts take more than a quarter of the memory they count against.
fn spec_notes(target: &SpecTarget, report: &Report) -> Vec<String> {
    let mut notes = vec![];
    if !target.placeholders.is_empty() {
        notes.push(format!(
            "ran with placeholder values for what the spec takes from elsewhere (secrets, \
             parameters, the environment): {}",
            target.placeholders.join(", ")
        ));
    }
    let tmpfs_mib: u64 = report
        .fix_mounts()
        .iter()
        .filter(|m| m.kind == MountKind::Tmpfs)
        .map(|m| m.size_mib)
        .sum();
    if let Some(limit) = target.memory_mib.filter(|&limit| tmpfs_mib * 4 > limit) {
        notes.push(format!(
            "the fix's tmpfs mounts may take {tmpfs_mib} MiB, more than a quarter of the \
             {limit} MiB memory limit they count against: raise the limit, or lower their size="
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;
    use targets::spec_targets;

    /// A Fargate container of 64 MiB whose value comes from a secret.
    fn target() -> (SpecTarget, Judge) {
        let spec = r#"{"requiresCompatibilities": ["FARGATE"], "containerDefinitions": [{
            "name": "app", "image": "app:1", "memory": 64,
            "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/t"}]
        }]}"#;
        let deployment = crate::spec::read("task.json".as_ref(), spec, &[]).unwrap();
        let judge = Judge::load(deployment.kind.profile(), None, vec![]).unwrap();
        let base = RunOptions::testing("");
        let mut targets = spec_targets(&deployment, "task.json", &[], &base, &judge).unwrap();
        assert_eq!(targets.len(), 1);
        (targets.remove(0), judge)
    }

    #[test]
    fn a_spec_target_says_what_ran_with_placeholders_and_what_tmpfs_costs() {
        // The plan of four 16 MiB mounts: 64 MiB of tmpfs against a 64 MiB limit.
        let (report, _) = testdata::needs_mounts();
        let (target, judge) = target();
        assert_eq!(judge.profile.name, "ecs-fargate");
        assert_eq!(target.defined_at, "task.json:2");
        let notes = spec_notes(&target, &report);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].ends_with(": TOKEN"), "{notes:?}");
        assert!(
            notes[1].contains("more than a quarter of the 64 MiB memory limit"),
            "{notes:?}"
        );
        // Within a quarter, nothing to say of memory.
        let roomy = SpecTarget {
            memory_mib: Some(4096),
            placeholders: vec![],
            ..target
        };
        assert_eq!(spec_notes(&roomy, &report), Vec::<String>::new());
    }
}
