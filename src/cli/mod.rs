//! The command line: its flags with their help, and what they name read (env files, the
//! command). `dispatch` turns them into the requests of the library's commands.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};

pub mod dispatch;

use rofs_audit::analyze::FailOn;
use rofs_audit::choice::Choice;
use rofs_audit::config::{self, Config, TargetsFormat};
use rofs_audit::model::{ProofGate, TmpfsSpec};
use rofs_audit::profile::FixFormat;
use rofs_audit::report::patch::Style as PatchStyle;
use rofs_audit::report::{Format, VerifyFormat};
use rofs_audit::trace::ModeChoice;
use rofs_audit::{input, probe::Probe, trace};

#[derive(Debug, Parser)]
#[command(name = "rofs-audit", version, about = "Will this container image survive a read-only root filesystem?",
    long_about = include_str!("help/about.txt"), after_help = include_str!("help/examples.txt"))]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print no progress on stderr (it is shown only when stderr is a terminal)
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Trace the image, judge it for a platform, and print the fix
    Audit(Box<AuditArgs>),
    /// Run the image with a writable root and record every path it writes, by phase
    Trace(Box<TraceArgs>),
    /// Rerun the image read-only with the deployment's mounts: exit 0 only when it passes (a CI gate)
    Verify(Box<VerifyArgs>),
    /// Judge a recorded trace again (another profile, another format) without running anything
    Suggest(SuggestArgs),
    /// List the platform profiles, or show one
    Profiles {
        #[command(subcommand)]
        show: Option<Show>,
    },
    /// Print the built-in remedies catalogue (YAML; --remedies FILE adds entries of this shape)
    Remedies,
    /// Combine reports written with --format json (one per CI job, say) into one, with the worst exit code
    Merge(MergeArgs),
    /// Audit an image, then write a commented .rofs-audit.yaml that audits it the same way
    #[command(long_about = include_str!("help/config.txt"))]
    Init(Box<InitArgs>),
    /// List the config's targets: for people, or as a GitHub Actions job matrix
    Targets {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long, value_parser = choice::<TargetsFormat>(), default_value = "text")]
        format: TargetsFormat,
    },
    /// Remove containers and volumes that earlier runs left behind (found by label)
    Clean {
        /// Also remove what belongs to audits that are still running, or to other hosts
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
enum Show {
    /// Print one profile as YAML (a starting point for --profile FILE)
    Show {
        /// A built-in profile name, or a YAML file
        name: String,
    },
}

#[derive(Debug, Args)]
struct TraceArgs {
    /// The image, by name or ID (pulled if not present locally)
    #[arg(value_parser = input::image)]
    image: String,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    tracing: TracingArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, Args)]
struct TracingArgs {
    /// How writes are seen [default: auto]
    #[arg(long, env = "ROFS_AUDIT_MODE", value_parser = choice::<ModeChoice>())]
    mode: Option<ModeChoice>,
}

#[derive(Debug, Args)]
struct ConfigArg {
    /// The config: targets, settings and accepted findings [default: .rofs-audit.yaml here, if any]
    #[arg(long, value_name = "FILE", env = "ROFS_AUDIT_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct InitArgs {
    /// The image, by name or ID
    #[arg(value_parser = input::image)]
    image: String,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    platform: PlatformArgs,
    /// Where to write the config
    #[arg(long, short = 'o', value_name = "FILE", default_value = config::FILE_NAME)]
    output: PathBuf,
    /// Replace the file if it is there
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
struct AuditArgs {
    /// The image, by name or ID (pulled if not present locally), or several, each run the same way; or a spec with -f; or neither, for the config's targets
    #[arg(value_name = "IMAGE", value_parser = input::image)]
    image: Vec<String>,
    /// A deployment spec whose containers are audited as deployed: an ECS task definition, a CloudFormation template, Kubernetes manifests or a compose file (- reads stdin)
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with = "image")]
    file: Option<PathBuf>,
    /// Audit only this container of the spec (repeatable) [default: every one]
    #[arg(long = "container", value_name = "NAME", requires = "file")]
    containers: Vec<String>,
    /// The image to run for a container of the spec whose image the engine cannot resolve (an ECR asset, a build-only service)
    #[arg(long = "image", value_name = "CONTAINER=REF", requires = "file", value_parser = input::assignment)]
    images: Vec<(String, String)>,
    /// Write the spec to OUT with each proven fix merged in, everything else as it was, in its order: JSON ECS task definitions and CloudFormation templates, compose files and Kubernetes manifests, YAML or JSON; a YAML document the fix changes keeps only the comments above it, since the YAML reader (serde_yaml_ng) drops comments, and the other documents are written as they are; - is stdout, with -o for the report
    #[arg(long, value_name = "OUT", requires = "file")]
    patch: Option<PathBuf>,
    /// What --patch writes: the whole spec, or the fixes alone: for a compose file an override file, to use as docker-compose -f FILE -f OUT; for Kubernetes manifests a kustomize patch, for a kustomization's patches
    #[arg(long, value_name = "STYLE", value_parser = choice::<PatchStyle>(), default_value = "full", requires = "patch")]
    patch_as: PatchStyle,
    /// With --patch, write a unified diff of the spec (--- a/FILE +++ b/FILE, for patch -p1 or git apply) instead of the whole patched spec
    #[arg(long, requires = "patch")]
    diff: bool,
    #[command(flatten)]
    config: ConfigArg,
    /// Audit only this target of the config (repeatable) [default: every one]
    #[arg(long = "target", value_name = "NAME", conflicts_with_all = ["image", "file"])]
    targets: Vec<String>,
    /// Print the settings that flags, ROFS_AUDIT_* variables, the config and the defaults make, and exit
    #[arg(long)]
    print_config: bool,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    tracing: TracingArgs,
    #[command(flatten)]
    judge: JudgeArgs,
    /// Skip the read-only proof (the runs that find which writes are fatal and the fewest mounts)
    #[arg(long)]
    no_verify: bool,
    /// How many proof runs go at once [default: the CPU count]
    #[arg(long, value_name = "N", env = "ROFS_AUDIT_JOBS", value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// What a read-only run must show for the fix [default: clean]
    #[arg(long, env = "ROFS_AUDIT_GATE", value_parser = choice::<ProofGate>())]
    gate: Option<ProofGate>,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The image, by name or ID (pulled if not present locally)
    #[arg(value_parser = input::image)]
    image: String,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    platform: PlatformArgs,
    /// Report format
    #[arg(long, env = "ROFS_AUDIT_FORMAT", value_parser = choice::<VerifyFormat>(), default_value = "text")]
    format: VerifyFormat,
    /// Write the report to FILE instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// Reports written by `audit --format json` (an image's, or a spec's)
    #[arg(value_name = "REPORT.json", required = true)]
    reports: Vec<PathBuf>,
    /// The profile (a YAML file) of reports made with a profile of your own [default: each report's own, else the config's]
    #[arg(long, value_name = "NAME|FILE", env = "ROFS_AUDIT_PROFILE")]
    profile: Option<String>,
    /// Which verdict makes the exit code 1 [default: the config's, else needs-mounts]
    #[arg(long, env = "ROFS_AUDIT_FAIL_ON", value_parser = choice::<FailOn>())]
    fail_on: Option<FailOn>,
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, Args)]
struct SuggestArgs {
    /// A trace or report written with --format json
    #[arg(long, value_name = "TRACE.json")]
    from: PathBuf,
    #[command(flatten)]
    judge: JudgeArgs,
    #[command(flatten)]
    out: OutputArgs,
}

/// The platform and the mounts the deployment has: shared by audit, suggest and verify.
#[derive(Debug, Args)]
struct PlatformArgs {
    /// Target platform: a built-in profile (see `rofs-audit profiles`) or a YAML file [default: the spec's platform, else ecs-fargate]
    #[arg(long, value_name = "NAME|FILE", env = "ROFS_AUDIT_PROFILE")]
    profile: Option<String>,
    /// A mount the deployment already has, as on the docker CLI (PATH[:OPTIONS]); writes under it are covered
    #[arg(long, value_name = "PATH[:OPTIONS]")]
    tmpfs: Vec<TmpfsSpec>,
}

/// How to judge a trace: the same flags for audit and suggest.
#[derive(Debug, Args)]
struct JudgeArgs {
    #[command(flatten)]
    platform: PlatformArgs,
    /// Also print the fix in this format (repeatable); the profile's own formats are always shown
    #[arg(long, value_parser = choice::<FixFormat>(), value_name = "FORMAT")]
    emit: Vec<FixFormat>,
    /// Which verdict makes the exit code 1 [default: needs-mounts]
    #[arg(long, env = "ROFS_AUDIT_FAIL_ON", value_parser = choice::<FailOn>())]
    fail_on: Option<FailOn>,
    /// More remedies (a YAML list shaped like the built-in catalogue); same ids replace built-ins
    #[arg(long, value_name = "FILE", env = "ROFS_AUDIT_REMEDIES")]
    remedies: Option<PathBuf>,
    /// An earlier report (--format json): fail only on what it does not have (mounts, writes no mount fixes, gates, a worse verdict)
    #[arg(long, value_name = "REPORT.json")]
    baseline: Option<PathBuf>,
}

/// How to run the image: the same flags for every command that runs it.
#[derive(Debug, Args)]
struct RunArgs {
    /// Container port to probe [default: the image's single EXPOSEd port]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    port: Option<u16>,
    /// HTTP path that must answer --expect-status, in order (repeatable), or `tcp` for a bare port
    /// check [default: the image's HEALTHCHECK, run inside the container; else GET / on the port,
    /// where any answer below 500 means up, or TCP if the port speaks no HTTP]
    #[arg(long = "probe", value_name = "PATH|tcp", value_parser = Probe::parse)]
    probes: Vec<Probe>,
    /// HTTP status a probe must answer
    #[arg(long, value_name = "CODE", default_value_t = trace::EXPECTED_STATUS, value_parser = clap::value_parser!(u16).range(100..600))]
    expect_status: u16,
    /// Environment variable for the container, K=V (or K to pass this shell's value)
    #[arg(long = "env", short = 'e', value_name = "K=V")]
    env: Vec<String>,
    /// File of K=V lines (# comments and blank lines skipped), as docker's --env-file
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// Run as this user (name or UID[:GID]) instead of the image's USER
    #[arg(long, short = 'u')]
    user: Option<String>,
    /// Override the image's ENTRYPOINT (a single executable, as with docker run)
    #[arg(long)]
    entrypoint: Option<String>,
    /// Override the image's CMD: words split as a shell does (sh -c 'a b' is 3 words), or a JSON array
    #[arg(long)]
    cmd: Option<String>,
    /// How long the app may take to start and answer its first probe: the startup budget [default: 30s]
    #[arg(long, value_name = "DURATION", env = "ROFS_AUDIT_STARTUP_TIMEOUT", value_parser = input::budget)]
    startup_timeout: Option<Duration>,
    /// How long each probe may take to answer as expected, retried meanwhile as platforms do: its budget [default: 10s]
    #[arg(long, value_name = "DURATION", env = "ROFS_AUDIT_PROBE_TIMEOUT", value_parser = input::budget)]
    probe_timeout: Option<Duration>,
    /// How long to watch the app idle after the probes [default: 2s]
    #[arg(long, value_name = "DURATION", env = "ROFS_AUDIT_IDLE", value_parser = input::budget)]
    idle: Option<Duration>,
    /// Grace period between SIGTERM and SIGKILL at shutdown [default: 10s]
    #[arg(long, value_name = "DURATION", env = "ROFS_AUDIT_STOP_TIMEOUT", value_parser = input::budget)]
    stop_timeout: Option<Duration>,
    /// Command for the container, as after the image name on `docker run`
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Debug, Clone, Args)]
struct OutputArgs {
    /// Report format
    #[arg(long, env = "ROFS_AUDIT_FORMAT", value_parser = choice::<Format>(), default_value = "text")]
    format: Format,
    /// Write the report to FILE instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// List every write, mount and log line in the text report, instead of one line per directory
    #[arg(long, short)]
    verbose: bool,
}

impl Cli {
    /// The command line, or exit: help and the version on stdout with 0, a mistake as one line
    /// that names it and where the flags are explained, with 2.
    pub fn parse_or_exit() -> Cli {
        use clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
        use clap::CommandFactory;
        let e = match Cli::try_parse() {
            Ok(cli) => return cli,
            Err(e) => e,
        };
        // Help and --version go to stdout; a bare `rofs-audit` shows the help, on stderr.
        if !e.use_stderr() || e.kind() == DisplayHelpOnMissingArgumentOrSubcommand {
            e.exit()
        }
        // The help of the (sub)command the words name.
        let (mut command, mut help) = (Cli::command(), String::from("rofs-audit"));
        // args_os: a word that is not UTF-8 (the very mistake being reported) must not panic.
        let words = std::env::args_os().skip(1).take_while(|w| w != "--");
        for word in words.filter_map(|w| w.into_string().ok()) {
            if let Some(sub) = command.find_subcommand(&word).cloned() {
                (command, help) = (sub, format!("{help} {word}"));
            }
        }
        let message = one_line(&e.render().to_string());
        eprintln!("rofs-audit: error: {message}; see `{help} --help`");
        std::process::exit(2)
    }
}

/// clap's message on one line: the usage and the pointer to --help left out (the caller names
/// the help to read), and the indented lines that follow a line ending in `:` joined as a list.
fn one_line(rendered: &str) -> String {
    let mut out = String::new();
    let mut listing = false;
    let lines = rendered.lines().filter(|l| !l.trim().is_empty());
    for line in lines.take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more")) {
        let indented = line.starts_with(' ');
        let separator = match () {
            _ if out.is_empty() => "",
            _ if out.ends_with(':') => " ",
            _ if listing && indented => ", ",
            _ => "; ",
        };
        listing = separator == " " || (listing && indented);
        out.push_str(separator);
        let line = line.trim();
        out.push_str(line.strip_prefix("error: ").unwrap_or(line));
    }
    out
}

/// Parses a library choice by its name; `--help` lists the names with their help.
fn choice<T: Choice>() -> impl clap::builder::TypedValueParser<Value = T> {
    let values = T::ALL
        .iter()
        .map(|&(_, name, help)| PossibleValue::new(name).help(help));
    PossibleValuesParser::new(values).map(|name| T::named(&name).expect("a listed name"))
}

impl RunArgs {
    /// How to run `image`, the budgets aside (they are settings).
    fn options(&self, image: &str) -> Result<trace::RunOptions> {
        Ok(trace::RunOptions {
            image: image.to_string(),
            port: self.port,
            probes: self.probes.clone(),
            expect_status: self.expect_status,
            env: input::environment(&self.env, &self.env_files)?,
            user: self.user.clone(),
            entrypoint: self.entrypoint.clone().map(|e| vec![e]),
            cmd: input::command(self.cmd.as_deref(), &self.command)?,
            ..trace::RunOptions::default()
        })
    }

    /// The budgets the flags and variables give.
    fn settings(&self) -> Config {
        Config {
            startup_timeout: self.startup_timeout,
            probe_timeout: self.probe_timeout,
            idle: self.idle,
            stop_timeout: self.stop_timeout,
            ..Config::default()
        }
    }
}

impl AuditArgs {
    /// The settings the flags and ROFS_AUDIT_* variables give.
    fn settings(&self) -> Config {
        Config {
            gate: self.gate,
            mode: self.tracing.mode,
            jobs: self.jobs,
            ..self.judge.settings().or(self.run.settings())
        }
    }
}

impl PlatformArgs {
    /// `run`'s settings with the platform's profile.
    fn settings(&self, run: Config) -> Config {
        let profile = self.profile.clone();
        Config { profile, ..run }
    }
}

impl JudgeArgs {
    /// The settings the flags and ROFS_AUDIT_* variables give.
    fn settings(&self) -> Config {
        let (fail_on, remedies) = (self.fail_on, self.remedies.clone());
        let judged = Config {
            fail_on,
            remedies,
            ..Config::default()
        };
        self.platform.settings(judged)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_clap_error_is_one_line_with_its_list_and_tip() {
        let missing = "error: the following required arguments were not provided:\n  --file <FILE>\n  --patch <OUT>\n\nUsage: rofs-audit audit --file <FILE> --patch <OUT> --diff <IMAGE>...\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(missing),
            "the following required arguments were not provided: --file <FILE>, --patch <OUT>"
        );
        let unknown = "error: unexpected argument '--bogus' found\n\n  tip: to pass '--bogus' as a value, use '-- --bogus'\n\nUsage: rofs-audit audit [OPTIONS]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(unknown),
            "unexpected argument '--bogus' found; tip: to pass '--bogus' as a value, use '-- --bogus'"
        );
    }
}
