//! The pipeline as functions from plain options to plain results: what the command line, and
//! anything else that audits an image (a deployment spec, a config file's targets), calls.

use std::path::Path;

use anyhow::{bail, Result};
use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};

use crate::analyze::accept::{self, Accept, Date};
use crate::analyze::{self, baseline, Catalogue};
use crate::config::Config;
use crate::engine::{Engine, RunId};
use crate::input;
use crate::model::{
    Check, MountKind, MultiReport, ProofGate, Report, TargetReport, TmpfsSpec, Trace,
    SCHEMA_VERSION,
};
use crate::profile::{self, Profile};
use crate::progress::Progress;
use crate::spec::Deployment;
use crate::trace::{self, ModeChoice, RunOptions, Subject};
use crate::verify;

/// How to judge a trace: the platform, the mounts the deployment already has, and the remedies.
#[derive(Clone)]
pub struct Judge {
    pub profile: Profile,
    pub catalogue: Catalogue,
    /// The mounts the deployment already has.
    pub declared: Vec<TmpfsSpec>,
    /// An earlier report, and the file it came from: what is new is what counts.
    pub baseline: Option<(String, Report)>,
    /// What the team accepts (a config's `accept:` entries for this target).
    pub accept: Vec<Accept>,
}

impl Judge {
    /// Loads the profile (a built-in name or a YAML file) and the remedies (the built-in
    /// catalogue, with `remedies` added) and checks the declared mounts: mistakes fail here,
    /// before anything runs.
    pub fn load(profile: &str, remedies: Option<&Path>, declared: Vec<TmpfsSpec>) -> Result<Self> {
        let profile = profile::load(profile)?;
        for (i, mount) in declared.iter().enumerate() {
            let path = mount.path.trim_end_matches('/');
            if declared[..i]
                .iter()
                .any(|m| m.path.trim_end_matches('/') == path)
            {
                bail!("--tmpfs {path} is given twice; keep one, with all its options");
            }
        }
        Ok(Judge {
            profile,
            catalogue: match remedies {
                Some(file) => Catalogue::with_file(file)?,
                None => Catalogue::builtin(),
            },
            declared,
            baseline: None,
            accept: vec![],
        })
    }

    /// Compares every report with the one in `file` (`--baseline`).
    pub fn with_baseline(mut self, file: &Path) -> Result<Self> {
        let report = input::read_report(file)?;
        self.baseline = Some((file.display().to_string(), report));
        Ok(self)
    }

    /// Judges a trace without proving anything: `suggest`.
    pub fn analyze(&self, trace: Trace) -> Report {
        let mut report = self.plan(trace);
        self.compare(&mut report);
        report
    }

    fn plan(&self, trace: Trace) -> Report {
        analyze::analyze(trace, &self.profile, &self.declared, &self.catalogue)
    }

    fn compare(&self, report: &mut Report) {
        let findings = baseline::all_findings(report);
        accept::apply(report, &findings, &self.accept);
        report.baseline = self
            .baseline
            .as_ref()
            .map(|(file, before)| baseline::compare(report, before, file));
    }
}

/// The CPU count: proof runs mostly wait for the app, so one per core keeps the machine busy
/// without starving the apps' startup.
pub fn default_jobs() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
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

/// One target of a multi-target audit (a spec's container, a config's image), ready to audit:
/// how it runs, and how to judge it (a spec's mounts are declared mounts).
pub struct SpecTarget {
    pub name: String,
    pub defined_at: String,
    /// Its path inside the spec's document.
    pub spec_path: Option<String>,
    pub run: RunOptions,
    pub judge: Judge,
    /// Variables (or compose secret files) the spec takes from elsewhere: the runs had
    /// placeholders for them.
    pub placeholders: Vec<String>,
    /// The container's memory limit, which tmpfs mounts count against.
    pub memory_mib: Option<u64>,
}

/// The containers of `deployment` (read from `file`) to audit: those named in `containers`
/// (by full or plain name), else every one. The spec says how each runs; `base` (the command
/// line) fills in what it does not say, and `judge` gives the platform and the remedies.
pub fn spec_targets(
    deployment: &Deployment,
    file: &str,
    containers: &[String],
    base: &RunOptions,
    judge: &Judge,
) -> Result<Vec<SpecTarget>> {
    let named = |t: &crate::spec::Target, name: &str| {
        t.name == name || t.name.rsplit('/').next() == Some(name)
    };
    for name in containers {
        if !deployment.targets.iter().any(|t| named(t, name)) {
            let all: Vec<&str> = deployment.targets.iter().map(|t| t.name.as_str()).collect();
            bail!("{file}: no container {name:?}; it has {}", all.join(", "));
        }
    }
    let mut targets = vec![];
    for target in &deployment.targets {
        if !containers.is_empty() && !containers.iter().any(|name| named(target, name)) {
            continue;
        }
        // The spec's mounts, but a --tmpfs on the same path wins.
        let mut judge = judge.clone();
        let from_spec = target
            .mounts
            .iter()
            .filter(|m| !judge.declared.iter().any(|given| given.path == m.path));
        let mut declared: Vec<TmpfsSpec> = from_spec.cloned().collect();
        declared.append(&mut judge.declared);
        judge.declared = declared;
        targets.push(SpecTarget {
            name: target.name.clone(),
            defined_at: match target.location.line {
                Some(line) => format!("{file}:{line}"),
                None => format!("{file} ({})", target.location),
            },
            spec_path: Some(target.location.path.clone()),
            run: target.run_options(base),
            judge,
            placeholders: target.placeholders.clone(),
            memory_mib: target.memory_mib,
        });
    }
    if targets.is_empty() {
        bail!("{file}: no container to audit; name one with --container, or give its image with --image NAME=REF");
    }
    Ok(targets)
}

/// The targets of a config (`only` names some), each as its image or spec says it runs, over
/// `base` (the budgets, and what a spec does not say).
pub fn config_targets(
    config: &Config,
    source: &str,
    only: &[String],
    base: &RunOptions,
    judge: &Judge,
) -> Result<Vec<SpecTarget>> {
    let mut targets = vec![];
    for target in config.targets(source, only)? {
        if let Some(file) = &target.file {
            let name = file.display().to_string();
            let text = input::read_text(file)?;
            let images: Vec<(String, String)> = target.images.clone().into_iter().collect();
            let deployment = crate::spec::read(file, &text, &images)?;
            let mut judge = judge.clone();
            if config.profile.is_none() {
                judge.profile = profile::load(deployment.kind.profile())?;
            }
            // Named after the config's target too: two specs may both have a `web`, and
            // `--target` and accept entries name the config's target.
            let mut found = spec_targets(&deployment, &name, &target.containers, base, &judge)?;
            for container in &mut found {
                container.name = format!("{}/{}", target.name(), container.name);
            }
            targets.extend(found);
            continue;
        }
        let mut judge = judge.clone();
        judge.declared.extend(target.tmpfs.iter().cloned());
        targets.push(SpecTarget {
            name: target.name(),
            defined_at: config.defined_at(source, target),
            spec_path: None,
            run: target.run_options(base)?,
            judge,
            placeholders: vec![],
            memory_mib: None,
        });
    }
    Ok(targets)
}

/// Images given together, each run as `base` says.
pub fn image_targets(images: &[String], base: &RunOptions, judge: &Judge) -> Vec<SpecTarget> {
    let target = |image: &String| SpecTarget {
        name: image.clone(),
        defined_at: "the command line".to_string(),
        spec_path: None,
        run: RunOptions {
            image: image.clone(),
            ..base.clone()
        },
        judge: judge.clone(),
        placeholders: vec![],
        memory_mib: None,
    };
    images.iter().map(target).collect()
}

/// Gives each target the config's accept entries for it, and returns those past their date:
/// they accept nothing, and fail the run.
pub fn accept(targets: &mut [SpecTarget], config: &Config, today: Date) -> Vec<Accept> {
    let mut expired: Vec<Accept> = vec![];
    for target in targets {
        let (active, past) = config.accepted(&target.name, &target.run.image, today);
        target.judge.accept = active;
        expired.extend(
            past.into_iter()
                .filter(|p| !expired.contains(p))
                .collect::<Vec<_>>(),
        );
    }
    expired
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
        subjects.push(
            subject.map_err(|e| e.context(format!("{} ({})", target.name, target.defined_at)))?,
        );
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
    .await?;
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

    /// A Fargate container of 64 MiB whose value comes from a secret.
    fn target() -> (SpecTarget, Judge) {
        let spec = r#"{"requiresCompatibilities": ["FARGATE"], "containerDefinitions": [{
            "name": "app", "image": "app:1", "memory": 64,
            "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/t"}]
        }]}"#;
        let deployment = crate::spec::read(Path::new("task.json"), spec, &[]).unwrap();
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
