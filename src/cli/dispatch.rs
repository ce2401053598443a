//! From the flags to the library's pipeline, and from its results to the output and the exit
//! code.

use anyhow::{bail, Result};

use super::{AuditArgs, Cli, Command, InitArgs, OutputArgs, Show};
use rofs_audit::analyze::accept::{Accept, Date};
use rofs_audit::analyze::FailOn;
use rofs_audit::choice::Choice;
use rofs_audit::config::{self, Config};
use rofs_audit::pipeline::{self, AuditOptions, Judge, Scope, Selection};
use rofs_audit::profile::{FixFormat, Profile};
use rofs_audit::report::{self, Format, RenderOptions, VerifyFormat};
use rofs_audit::{analyze, engine, input, profile, progress::Progress};

/// Runs the command; the exit code is the caller's to map.
pub async fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Audit(args) => audit(*args, cli.quiet).await,
        Command::Init(args) => init(*args, cli.quiet).await,
        Command::Targets { config, format } => {
            let (source, config) = Config::find(config.config.as_deref())?;
            if source.is_empty() {
                bail!("no config: give one with --config FILE, or write {} with `rofs-audit init IMAGE`", config::FILE_NAME);
            }
            let targets = config.targets(&source, &[])?;
            report::emit(None, &config::render_targets(&targets, format)).map(|()| 0)
        }
        Command::Trace(args) => {
            args.out.writable()?;
            let settings = Config {
                mode: args.tracing.mode,
                ..args.run.settings()
            }
            .settle();
            let run = args.run.options(&args.image, &settings)?;
            let (mode, progress, out) = (settings.mode, args.out.progress(cli.quiet), args.out);
            // Written before the run's containers go, as audit's.
            engine::with_run(move |engine, id| async move {
                let trace = pipeline::trace(&engine, &id, &run, mode, &progress).await?;
                let text = report::render_trace(&trace, out.format);
                out.print(&text, 0)
            })
            .await
        }
        Command::Verify(args) => {
            if let Some(path) = &args.output {
                report::check_writable(path, "--output")?;
            }
            let settings = args.platform.settings(args.run.settings()).settle();
            let judge = Judge::from_settings(&settings, None, args.platform.tmpfs, None)?;
            let run = args.run.options(&args.image, &settings)?;
            let machine = args.format != VerifyFormat::Text && args.output.is_none();
            let progress = Progress::for_terminal(cli.quiet, machine);
            let check = engine::with_run(move |engine, id| async move {
                pipeline::verify(&engine, &id, &run, &judge, &progress).await
            })
            .await?;
            let color = report::color_wanted(args.output.as_deref());
            let text = report::render_check(&check, args.format, color);
            report::emit(args.output.as_deref(), &text)?;
            Ok(i32::from(!check.verification.passed))
        }
        Command::Suggest(args) => {
            let settings = args.judge.settings().settle();
            let (declared, baseline) = (args.judge.platform.tmpfs, args.judge.baseline);
            let judge = Judge::from_settings(&settings, None, declared, baseline.as_deref())?;
            let report = judge.analyze(input::read_trace(&args.from)?);
            let options = args.out.options(judge.profile.emit_with(&args.judge.emit));
            let text = report::render_report(&report, &judge.profile, args.out.format, &options);
            args.out.print(&text, settings.fail_on.exit_code(&report))
        }
        Command::Profiles { show } => {
            let text = match show {
                None => profile::render_list(),
                Some(Show::Show { name }) => profile::render_show(&profile::load(&name)?),
            };
            report::emit(None, &text).map(|()| 0)
        }
        Command::Merge(args) => {
            let (_, file) = Config::find(args.config.config.as_deref())?;
            let fail_on = args.fail_on.or(file.fail_on).unwrap_or(FailOn::NeedsMounts);
            let merged = input::read_merged(&args.reports)?;
            args.out.holds(merged.targets.len())?;
            let (given, own) = (args.profile.as_deref(), file.profile.as_deref());
            let profiles = pipeline::merged_profiles(&merged, given, own)?;
            let options = args.out.options(vec![]);
            let text = report::render_multi(&merged, &profiles, args.out.format, &options);
            args.out.print(&text, fail_on.worst(&merged))
        }
        Command::Remedies => report::emit(None, analyze::remedies::builtin_text()).map(|()| 0),
        Command::Clean { all } => {
            let cleaned = engine::Engine::connect().await?.clean(all).await?;
            report::emit(None, &report::render_clean(&cleaned)).map(|()| 0)
        }
    }
}

async fn audit(args: AuditArgs, quiet: bool) -> Result<i32> {
    args.out.writable()?;
    if let Some(out) = args.patch.as_deref().filter(|o| o.as_os_str() != "-") {
        report::check_writable(out, "--patch")?;
    }
    let (source, file_config) = Config::find(args.config.config.as_deref())?;
    let layered = args.settings().or(file_config);
    if args.print_config {
        let shown = serde_yaml_ng::to_string(&layered.clone().or(Config::defaults()))?;
        return report::emit(args.out.output.as_deref(), &shown).map(|()| 0);
    }
    let settings = layered.settle();
    let options = AuditOptions::new(&settings, !args.no_verify);
    let progress = args.out.progress(quiet);
    let declared = args.judge.platform.tmpfs.clone();
    if let [image] = args.image.as_slice() {
        let baseline = args.judge.baseline.as_deref();
        let mut judge = Judge::from_settings(&settings, None, declared, baseline)?;
        let (accepted, past) = layered.accepted(image, image, Date::today());
        judge.accept = accepted;
        let run = args.run.options(image, &settings)?;
        let (render, out) = (
            args.out.options(judge.profile.emit_with(&args.judge.emit)),
            args.out,
        );
        // Written before the run's containers go: on some storage drivers removing a container
        // that wrote much takes longer than the audit.
        let code = engine::with_run(move |engine, id| async move {
            let report = pipeline::audit(&engine, &id, &run, &judge, options, &progress).await?;
            let text = report::render_report(&report, &judge.profile, out.format, &render);
            out.print(&text, settings.fail_on.exit_code(&report))
        })
        .await?;
        return Ok(expired(&source, &past, code));
    }
    if args.judge.baseline.is_some() {
        bail!("--baseline takes an image's report, and this audits several targets; compare them one at a time with the image's report, or leave --baseline out");
    }
    let scope = match &args.file {
        Some(file) => Scope::Spec {
            file,
            containers: &args.containers,
            images: &args.images,
        },
        None if args.image.is_empty() => Scope::Config {
            only: &args.targets,
        },
        None => Scope::Images(&args.image),
    };
    let base = args.run.options("", &settings)?;
    let selection = pipeline::select(scope, &layered, &source, &base, declared)?;
    let Selection {
        source: name,
        targets,
        judge,
        spec,
        expired: past,
    } = selection;
    let patch = args.patch.as_deref().zip(spec);
    if let Some((out, (kind, text))) = &patch {
        let report = args.out.output.as_deref();
        let (style, diff, proven) = (args.patch_as, args.diff, !args.no_verify);
        report::patch::check(*kind, text, style, diff, proven, out, report)?;
    }
    args.out.holds(targets.len())?;
    let profiles: Vec<Profile> = targets.iter().map(|t| t.judge.profile.clone()).collect();
    let audited = engine::with_run(move |engine, id| async move {
        pipeline::audit_spec(&engine, &id, &name, &targets, options, &progress).await
    })
    .await?;
    let options = args.out.options(judge.profile.emit_with(&args.judge.emit));
    let text = report::render_multi(&audited, &profiles, args.out.format, &options);
    let code = args.out.print(&text, settings.fail_on.worst(&audited))?;
    if let Some((out, (kind, text))) = patch {
        let diff = args.file.as_deref().filter(|_| args.diff);
        let (patched, notes) =
            report::patch::write(kind, &text, &audited, &judge.profile, args.patch_as, diff)?;
        notes
            .iter()
            .for_each(|note| eprintln!("rofs-audit: warning: {note}"));
        report::emit(Some(out).filter(|o| o.as_os_str() != "-"), &patched)?;
    }
    Ok(expired(&source, &past, code))
}

async fn init(args: InitArgs, quiet: bool) -> Result<i32> {
    if args.output.exists() && !args.force {
        bail!(
            "{} is there already; give --force to replace it, or -o another path",
            args.output.display()
        );
    }
    report::check_writable(&args.output, "-o")?;
    let settings = args.platform.settings(args.run.settings()).settle();
    let judge = Judge::from_settings(&settings, None, args.platform.tmpfs.clone(), None)?;
    let run = args.run.options(&args.image, &settings)?;
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
    std::fs::write(&args.output, text).map_err(|e| {
        let path = args.output.display();
        anyhow::anyhow!("cannot write {path}: {e}; check the path given to -o")
    })?;
    eprintln!(
        "rofs-audit: wrote {}: {} is {}; `rofs-audit audit` with no arguments audits it again",
        args.output.display(),
        args.image,
        report.plan.verdict.as_str()
    );
    Ok(0)
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

impl OutputArgs {
    fn progress(&self, quiet: bool) -> Progress {
        Progress::for_terminal(quiet, self.format != Format::Text && self.output.is_none())
    }

    /// Refuses an --output the report could not be written to, before anything runs.
    fn writable(&self) -> Result<()> {
        let path = self.output.as_deref();
        path.map_or(Ok(()), |path| report::check_writable(path, "--output"))
    }

    fn options(&self, emit: Vec<FixFormat>) -> RenderOptions {
        let (color, verbose) = (report::color_wanted(self.output.as_deref()), self.verbose);
        RenderOptions {
            color,
            emit,
            verbose,
        }
    }

    /// Writes the report, and passes its exit code on.
    fn print(&self, text: &str, code: i32) -> Result<i32> {
        report::emit(self.output.as_deref(), text).map(|()| code)
    }

    /// Refuses, before anything runs, a format that holds one report when there are `n`.
    fn holds(&self, n: usize) -> Result<()> {
        match n == 1 || report::holds_several(self.format) {
            true => Ok(()),
            false => bail!(
                "--format {} takes one report at a time, and there are {n}; pick one with \
                 --container NAME or --target NAME, or use text, json, yaml, markdown or sarif",
                self.format.name()
            ),
        }
    }
}
