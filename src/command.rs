//! The commands as a front end runs them: each reads what its request names (the config, a
//! spec, earlier reports), calls the pipeline, writes the report where the request says, and
//! returns the exit code. The command line only turns its flags into these requests; the
//! refusals here name its flags (`--patch`, `--baseline`), which are how a user meets them.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::analyze::accept::{Accept, Date};
use crate::analyze::FailOn;
use crate::config::{self, Config, TargetsFormat};
use crate::engine;
use crate::input;
use crate::model::TmpfsSpec;
use crate::pipeline::{self, AuditOptions, Judge, Scope, Selection};
use crate::profile::{FixFormat, Profile};
use crate::progress::Progress;
use crate::report::{self, patch, Format, Output, VerifyFormat};
use crate::trace::RunOptions;

/// What an audit covers, as the user names it.
#[derive(Debug, Clone)]
pub enum Targets {
    /// Images, each run as the request's `run` says; a single one gets a report of its own.
    Images(Vec<String>),
    /// A deployment spec's containers, audited as deployed.
    Spec(Spec),
    /// The config's targets: those named, else every one.
    Config(Vec<String>),
}

impl Targets {
    /// The spec, when the audit covers one.
    fn spec(&self) -> Option<&Spec> {
        match self {
            Targets::Spec(spec) => Some(spec),
            _ => None,
        }
    }
}

/// `rofs-audit audit`.
#[derive(Debug, Clone)]
pub struct Audit {
    pub targets: Targets,
    /// The config file [default: `.rofs-audit.yaml` in the working directory, if any].
    pub config: Option<PathBuf>,
    /// The settings from the flags and the environment, laid over the config's.
    pub settings: Config,
    /// How to run the images (image left empty), the budgets aside: they are settings.
    pub run: RunOptions,
    /// Mounts the deployment already has.
    pub declared: Vec<TmpfsSpec>,
    /// An earlier report of the image: only what it does not have fails.
    pub baseline: Option<PathBuf>,
    /// Fix formats to print beside the profile's own.
    pub emit: Vec<FixFormat>,
    /// Prove the plan with read-only runs.
    pub verify: bool,
}

impl Default for Audit {
    /// The config's targets, proven: `rofs-audit audit` with no arguments.
    fn default() -> Audit {
        Audit {
            targets: Targets::Config(vec![]),
            config: None,
            settings: Config::default(),
            run: RunOptions::default(),
            declared: vec![],
            baseline: None,
            emit: vec![],
            verify: true,
        }
    }
}

/// The spec of an audit, and what to do with it.
#[derive(Debug, Clone)]
pub struct Spec {
    /// An ECS task definition, a CloudFormation template, Kubernetes manifests or a compose
    /// file; `-` is standard input.
    pub file: PathBuf,
    /// The containers to audit [default: every one].
    pub containers: Vec<String>,
    /// Images for containers whose own the engine cannot resolve.
    pub images: Vec<(String, String)>,
    /// Where to write the spec with the proven fixes merged in; `-` is standard output.
    pub patch: Option<PathBuf>,
    /// The whole spec, or the fixes alone (a compose override, a kustomize patch).
    pub patch_style: patch::Style,
    /// Write the patch as a unified diff of the spec.
    pub diff: bool,
}

impl Spec {
    /// The file the patch goes to, if it goes to one.
    fn patch_file(&self) -> Option<&Path> {
        self.patch.as_deref().filter(|o| o.as_os_str() != "-")
    }
}

/// Runs `request`; its report goes to `out`, progress to a terminal unless `quiet`.
pub async fn audit(request: Audit, out: Output<Format>, quiet: bool) -> Result<i32> {
    out.writable()?;
    if let Some(path) = request.targets.spec().and_then(Spec::patch_file) {
        report::check_writable(path, "--patch")?;
    }
    let (source, file_config) = Config::find(request.config.as_deref())?;
    let layered = request.settings.clone().or(file_config);
    let (code, expired_entries) = match &request.targets {
        Targets::Images(images) if images.is_empty() => {
            bail!("nothing to audit: the request names no image")
        }
        Targets::Images(images) if images.len() == 1 => {
            audit_image(&images[0], &request, &layered, out, quiet).await?
        }
        _ => audit_targets(&request, &layered, &source, out, quiet).await?,
    };
    Ok(expired(&source, &expired_entries, code))
}

/// One image, with a report of its own: the exit code, and the config's expired accept entries
/// for it.
async fn audit_image(
    image: &str,
    request: &Audit,
    layered: &Config,
    out: Output<Format>,
    quiet: bool,
) -> Result<(i32, Vec<Accept>)> {
    let settings = layered.settle();
    let (declared, baseline) = (request.declared.clone(), request.baseline.as_deref());
    let mut judge = Judge::from_settings(&settings, None, declared, baseline)?;
    let (accepted, expired_entries) = layered.accepted(image, image, Date::today());
    judge.accept = accepted;
    let run = RunOptions {
        image: image.to_string(),
        ..settings.budgets(request.run.clone())
    };
    let (options, progress) = (
        AuditOptions::new(&settings, request.verify),
        out.progress(quiet),
    );
    let render = out.options(judge.profile.emit_with(&request.emit));
    // Written before the run's containers go: on some storage drivers removing a container that
    // wrote much takes longer than the audit.
    let code = engine::with_run(move |engine, id| async move {
        let report = pipeline::audit(&engine, &id, &run, &judge, options, &progress).await?;
        let text = report::render_report(&report, &judge.profile, out.format, &render);
        out.print(&text, settings.fail_on.exit_code(&report))
    })
    .await?;
    Ok((code, expired_entries))
}

/// Several images, a spec's containers or the config's targets, in one report, and the spec
/// patched with their fixes when asked: the exit code, and the expired accept entries.
async fn audit_targets(
    request: &Audit,
    layered: &Config,
    source: &str,
    out: Output<Format>,
    quiet: bool,
) -> Result<(i32, Vec<Accept>)> {
    if request.baseline.is_some() {
        bail!("--baseline takes an image's report, and this audits several targets; compare them one at a time with the image's report, or leave --baseline out");
    }
    let scope = match &request.targets {
        Targets::Spec(spec) => Scope::Spec {
            file: &spec.file,
            containers: &spec.containers,
            images: &spec.images,
        },
        Targets::Images(images) => Scope::Images(images),
        Targets::Config(only) => Scope::Config { only },
    };
    let settings = layered.settle();
    let base = settings.budgets(request.run.clone());
    let selection = pipeline::select(scope, layered, source, &base, request.declared.clone())?;
    let Selection {
        source: name,
        targets,
        judge,
        spec: spec_text,
        expired: expired_entries,
    } = selection;
    // The spec to patch and where the patch goes, with the spec's kind and text as read.
    let patch = request
        .targets
        .spec()
        .and_then(|s| Some((s, s.patch.as_deref()?)))
        .zip(spec_text);
    if let Some(((spec, to), (kind, text))) = &patch {
        let (style, diff, proven) = (spec.patch_style, spec.diff, request.verify);
        patch::check(*kind, text, style, diff, proven, to, out.path.as_deref())?;
    }
    out.holds(targets.len())?;
    let profiles: Vec<Profile> = targets.iter().map(|t| t.judge.profile.clone()).collect();
    let (options, progress) = (
        AuditOptions::new(&settings, request.verify),
        out.progress(quiet),
    );
    let audited = engine::with_run(move |engine, id| async move {
        pipeline::audit_spec(&engine, &id, &name, &targets, options, &progress).await
    })
    .await?;
    let render = out.options(judge.profile.emit_with(&request.emit));
    let text = report::render_multi(&audited, &profiles, out.format, &render);
    let code = out.print(&text, settings.fail_on.worst(&audited))?;
    if let Some(((spec, _), (kind, text))) = patch {
        let diff = Some(spec.file.as_path()).filter(|_| spec.diff);
        let style = spec.patch_style;
        let (patched, notes) = patch::write(kind, &text, &audited, &judge.profile, style, diff)?;
        notes
            .iter()
            .for_each(|note| eprintln!("rofs-audit: warning: {note}"));
        report::emit(spec.patch_file(), &patched)?;
    }
    Ok((code, expired_entries))
}

/// `rofs-audit audit --print-config`: the settings that `settings` (the flags and the
/// environment), the config and the defaults make, as YAML.
pub fn print_config(config: Option<&Path>, settings: Config, out: Output<Format>) -> Result<i32> {
    out.writable()?;
    let (_, file_config) = Config::find(config)?;
    let shown = settings.or(file_config).or(Config::defaults());
    out.print(&serde_yaml_ng::to_string(&shown)?, 0)
}

/// Fails the run for accept entries past their date, each named on a line.
fn expired(source: &str, entries: &[Accept], code: i32) -> i32 {
    for entry in entries {
        let expires = entry.expires.map(|d| d.to_string()).unwrap_or_default();
        eprintln!(
            "rofs-audit: error: {source}: the accept entry for {} expired on {expires} ({}); fix \
             what it accepts, or give it a later date",
            entry.path, entry.reason
        );
    }
    match entries.is_empty() {
        true => code,
        false => code.max(1),
    }
}

/// `rofs-audit init`.
#[derive(Debug, Clone)]
pub struct Init {
    /// How to run the image, the budgets aside: they are settings.
    pub run: RunOptions,
    pub settings: Config,
    /// Mounts the deployment already has.
    pub declared: Vec<TmpfsSpec>,
    /// Where to write the config.
    pub path: PathBuf,
    /// Replace a file already there.
    pub force: bool,
}

/// Audits the image as `audit` would, then writes a config that audits it the same way.
pub async fn init(request: Init, quiet: bool) -> Result<i32> {
    let path = &request.path;
    if path.exists() && !request.force {
        bail!(
            "{} is there already; give --force to replace it, or -o another path",
            path.display()
        );
    }
    report::check_writable(path, "-o")?;
    let settings = request.settings.settle();
    let judge = Judge::from_settings(&settings, None, request.declared, None)?;
    let run = settings.budgets(request.run);
    // Moved into the run, which must own what it uses.
    let (judged, traced) = (judge.clone(), run.clone());
    let (options, progress) = (
        AuditOptions::new(&settings, true),
        Progress::for_terminal(quiet, false),
    );
    let report = engine::with_run(move |engine, id| async move {
        pipeline::audit(&engine, &id, &traced, &judged, options, &progress).await
    })
    .await?;
    let text = config::starter(&run, &judge.declared, &settings, &report);
    report::emit(Some(path), &text)?;
    eprintln!(
        "rofs-audit: wrote {}: {} is {}; `rofs-audit audit` with no arguments audits it again",
        path.display(),
        run.image,
        report.plan.verdict.as_str()
    );
    Ok(0)
}

/// `rofs-audit trace`: the writes of one writable run, by phase.
pub async fn trace(
    run: RunOptions,
    settings: Config,
    out: Output<Format>,
    quiet: bool,
) -> Result<i32> {
    out.writable()?;
    let settings = settings.settle();
    let (run, mode, progress) = (settings.budgets(run), settings.mode, out.progress(quiet));
    // Written before the run's containers go, as audit's.
    engine::with_run(move |engine, id| async move {
        let trace = pipeline::trace(&engine, &id, &run, mode, &progress).await?;
        out.print(&report::render_trace(&trace, out.format), 0)
    })
    .await
}

/// `rofs-audit verify`: one read-only run with the declared mounts; 1 when it fails.
pub async fn verify(
    run: RunOptions,
    settings: Config,
    declared: Vec<TmpfsSpec>,
    out: Output<VerifyFormat>,
    quiet: bool,
) -> Result<i32> {
    out.writable()?;
    let settings = settings.settle();
    let judge = Judge::from_settings(&settings, None, declared, None)?;
    let (run, progress) = (settings.budgets(run), out.progress(quiet));
    let check = engine::with_run(move |engine, id| async move {
        pipeline::verify(&engine, &id, &run, &judge, &progress).await
    })
    .await?;
    let text = report::render_check(&check, out.format, out.color());
    out.print(&text, i32::from(!check.verification.passed))
}

/// `rofs-audit suggest`.
#[derive(Debug, Clone)]
pub struct Suggest {
    /// A trace, or a report, written as JSON.
    pub from: PathBuf,
    pub settings: Config,
    /// Mounts the deployment already has.
    pub declared: Vec<TmpfsSpec>,
    /// An earlier report of the image: only what it does not have fails.
    pub baseline: Option<PathBuf>,
    /// Fix formats to print beside the profile's own.
    pub emit: Vec<FixFormat>,
}

/// `rofs-audit suggest`: the trace or report at `from` judged again, nothing run.
pub fn suggest(request: Suggest, out: Output<Format>) -> Result<i32> {
    let settings = request.settings.settle();
    let baseline = request.baseline.as_deref();
    let judge = Judge::from_settings(&settings, None, request.declared, baseline)?;
    let report = judge.analyze(input::read_trace(&request.from)?);
    let render = out.options(judge.profile.emit_with(&request.emit));
    let text = report::render_report(&report, &judge.profile, out.format, &render);
    out.print(&text, settings.fail_on.exit_code(&report))
}

/// `rofs-audit merge`.
#[derive(Debug, Clone)]
pub struct Merge {
    /// Reports written as JSON, an image's or several targets'.
    pub reports: Vec<PathBuf>,
    /// The profile to render every report with [default: each report's own, else the
    /// config's].
    pub profile: Option<String>,
    /// Which verdict fails [default: the config's, else needs-mounts].
    pub fail_on: Option<FailOn>,
    /// The config file [default: `.rofs-audit.yaml` in the working directory, if any].
    pub config: Option<PathBuf>,
}

/// `rofs-audit merge`: reports written apart, as one, with the worst exit code.
pub fn merge(request: Merge, out: Output<Format>) -> Result<i32> {
    let (_, file) = Config::find(request.config.as_deref())?;
    // The flag's, else the config's, else the default, as every setting is layered.
    let fail_on = request.fail_on;
    let fail_on = Config {
        fail_on,
        ..Config::default()
    }
    .or(file.clone())
    .settle()
    .fail_on;
    let merged = input::read_merged(&request.reports)?;
    let profile = request.profile.as_deref();
    out.holds(merged.targets.len())?;
    let profiles = pipeline::merged_profiles(&merged, profile, file.profile.as_deref())?;
    let text = report::render_multi(&merged, &profiles, out.format, &out.options(vec![]));
    out.print(&text, fail_on.worst(&merged))
}

/// `rofs-audit targets`: the config's targets, by name.
pub fn targets(config: Option<&Path>, format: TargetsFormat) -> Result<i32> {
    let (source, config) = Config::find(config)?;
    if source.is_empty() {
        bail!(
            "no config: give one with --config FILE, or write {} with `rofs-audit init IMAGE`",
            config::FILE_NAME
        );
    }
    let targets = config.targets(&source, &[])?;
    report::emit(None, &config::render_targets(&targets, format)).map(|()| 0)
}
