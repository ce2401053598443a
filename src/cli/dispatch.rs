//! From the flags to the requests of the library's commands, which return the exit code.

use anyhow::Result;

use super::{AuditArgs, Cli, Command, OutputArgs, Show};
use rofs_audit::command::{self, Audit, Init, Merge, Spec, Suggest, Targets};
use rofs_audit::config::Config;
use rofs_audit::report::{self, Format, Output};
use rofs_audit::{analyze, engine, profile};

/// Runs the command; the exit code is the caller's to map.
pub async fn run(cli: Cli) -> Result<i32> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Audit(args) => audit(*args, quiet).await,
        Command::Init(args) => {
            let request = Init {
                run: args.run.options(&args.image)?,
                settings: args.platform.settings(args.run.settings()),
                declared: args.platform.tmpfs,
                path: args.output,
                force: args.force,
            };
            command::init(request, quiet).await
        }
        Command::Targets { config, format } => command::targets(config.config.as_deref(), format),
        Command::Trace(args) => {
            let run = args.run.options(&args.image)?;
            let mode = args.tracing.mode;
            let settings = Config {
                mode,
                ..args.run.settings()
            };
            command::trace(run, settings, args.out.output(), quiet).await
        }
        Command::Verify(args) => {
            let run = args.run.options(&args.image)?;
            let settings = args.platform.settings(args.run.settings());
            let (format, path) = (args.format, args.output);
            let out = Output {
                format,
                path,
                verbose: false,
            };
            command::verify(run, settings, args.platform.tmpfs, out, quiet).await
        }
        Command::Suggest(args) => {
            let request = Suggest {
                from: args.from,
                settings: args.judge.settings(),
                declared: args.judge.platform.tmpfs,
                baseline: args.judge.baseline,
                emit: args.judge.emit,
            };
            command::suggest(request, args.out.output())
        }
        Command::Merge(args) => {
            let request = Merge {
                reports: args.reports,
                profile: args.profile,
                fail_on: args.fail_on,
                config: args.config.config,
            };
            command::merge(request, args.out.output())
        }
        Command::Profiles { show } => {
            let text = match show {
                None => profile::render_list(),
                Some(Show::Show { name }) => profile::render_show(&profile::load(&name)?),
            };
            report::emit(None, &text).map(|()| 0)
        }
        Command::Remedies => report::emit(None, analyze::remedies::builtin_text()).map(|()| 0),
        Command::Clean { all } => {
            let cleaned = engine::Engine::connect().await?.clean(all).await?;
            report::emit(None, &report::render_clean(&cleaned)).map(|()| 0)
        }
    }
}

async fn audit(args: AuditArgs, quiet: bool) -> Result<i32> {
    let (settings, config) = (args.settings(), args.config.config);
    if args.print_config {
        return command::print_config(config.as_deref(), settings, args.out.output());
    }
    let run = args.run.options("")?;
    let targets = match args.file {
        Some(file) => Targets::Spec(Spec {
            file,
            containers: args.containers,
            images: args.images,
            patch: args.patch,
            patch_style: args.patch_as,
            diff: args.diff,
        }),
        None if args.image.is_empty() => Targets::Config(args.targets),
        None => Targets::Images(args.image),
    };
    let request = Audit {
        targets,
        config,
        settings,
        run,
        declared: args.judge.platform.tmpfs,
        baseline: args.judge.baseline,
        emit: args.judge.emit,
        verify: !args.no_verify,
    };
    command::audit(request, args.out.output(), quiet).await
}

impl OutputArgs {
    fn output(self) -> Output<Format> {
        let (format, path, verbose) = (self.format, self.output, self.verbose);
        Output {
            format,
            path,
            verbose,
        }
    }
}
