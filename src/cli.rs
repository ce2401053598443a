//! The command line: clap definitions and the wiring from arguments to pipeline stages.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::analyze::{self, Catalogue, FailOn};
use crate::engine::{self, Engine, RunId};
use crate::model::{Check, ProofGate, Report, TmpfsSpec, Trace};
use crate::pipeline;
use crate::probe::Probe;
use crate::profile::{self, FixFormat, Profile};
use crate::progress::Progress;
use crate::report::{self, Format, RenderOptions, VerifyFormat};
use crate::trace::{ModeChoice, RunOptions};
use crate::verify;

#[derive(Debug, Parser)]
#[command(
    name = "rofs-audit",
    version,
    about = "Will this container image survive a read-only root filesystem?",
    long_about = "Will this container image survive a read-only root filesystem?\n\n\
        rofs-audit runs the image on the local Docker Engine with its normal writable root, \
        records every path it writes while it starts, answers its health probes, idles and \
        shuts down, and tells you which of those writes a read-only root would break.",
    after_help = "Examples:\n  \
        rofs-audit audit my-app:latest --port 8080 --probe /health --probe /health/ready\n  \
        rofs-audit audit my-app:latest --profile kubernetes --format sarif -o rofs.sarif\n  \
        rofs-audit trace my-app:latest --format json --output trace.json\n  \
        rofs-audit suggest --from trace.json --profile ecs-fargate --emit cdk\n  \
        rofs-audit verify my-app:latest --port 8080 --tmpfs /var/run/app:uid=1000,gid=1000\n  \
        rofs-audit clean\n\n\
        Exit codes: 0 compatible (verify: passed), 1 findings (see --fail-on; verify: failed), \
        2 usage or environment error, or an app that fails with a writable root too, \
        130 interrupted by SIGINT, 143 by SIGTERM."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print no progress on stderr (it is shown only when stderr is a terminal)
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Trace the image, judge it for a platform, and print the fix
    Audit(Box<AuditArgs>),
    /// Run the image with a writable root and record every path it writes, by phase
    Trace(Box<TraceArgs>),
    /// Rerun the image read-only with the deployment's mounts: exit 0 only when it passes (a CI gate)
    Verify(Box<VerifyArgs>),
    /// Judge a recorded trace again (another profile, another format) without running anything
    Suggest(SuggestArgs),
    /// List the platform profiles, or show one
    Profiles(ProfilesArgs),
    /// Print the built-in remedies catalogue (YAML; --remedies FILE adds entries of this shape)
    Remedies,
    /// Remove containers and volumes that earlier runs left behind (found by label)
    Clean(CleanArgs),
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub tracing: TracingArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub tracing: TracingArgs,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// Skip the read-only proof (the runs that find which writes are fatal and the fewest mounts)
    #[arg(long)]
    pub no_verify: bool,
    /// How many proof runs go at once
    #[arg(long, value_name = "N", default_value_t = default_jobs(), value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: u32,
    /// What a read-only run must show for the fix: clean also wants no read-only error in its logs
    #[arg(long, value_enum, default_value_t = GateArg::Clean)]
    pub gate: GateArg,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub platform: PlatformArgs,
    /// Report format
    #[arg(long, value_enum, default_value_t = VerifyFormat::Text)]
    pub format: VerifyFormat,
    /// Write the report to FILE instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GateArg {
    /// it starts, every probe answers, it stops as with a writable root, and no read-only error is logged
    Clean,
    /// it starts, every probe answers and it stops as with a writable root
    Functional,
}

impl From<GateArg> for ProofGate {
    fn from(gate: GateArg) -> ProofGate {
        match gate {
            GateArg::Clean => ProofGate::Clean,
            GateArg::Functional => ProofGate::Functional,
        }
    }
}

/// The CPU count: proof runs mostly wait for the app, so one per core keeps the machine busy
/// without starving the apps' startup.
fn default_jobs() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// A trace or report written with --format json
    #[arg(long, value_name = "TRACE.json")]
    pub from: PathBuf,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The platform and the mounts the deployment has: shared by audit, suggest and verify.
#[derive(Debug, Args, Clone)]
pub struct PlatformArgs {
    /// Target platform: a built-in profile (see `rofs-audit profiles`) or a YAML file
    #[arg(long, default_value = crate::profile::DEFAULT_PROFILE, value_name = "NAME|FILE")]
    pub profile: String,
    /// A mount the deployment already has, as on the docker CLI (PATH[:OPTIONS]); writes under it are covered
    #[arg(long, value_name = "PATH[:OPTIONS]")]
    pub tmpfs: Vec<TmpfsSpec>,
}

impl PlatformArgs {
    /// The profile, after checking the mounts: mistakes fail before anything runs.
    fn load(&self) -> Result<Profile> {
        let profile = profile::load(&self.profile)?;
        let mut seen: Vec<&str> = vec![];
        for mount in &self.tmpfs {
            let path = mount.path.trim_end_matches('/');
            if seen.contains(&path) {
                bail!("--tmpfs {path} is given twice; keep one, with all its options");
            }
            seen.push(path);
        }
        Ok(profile)
    }
}

/// How to judge a trace: the same flags for audit and suggest.
#[derive(Debug, Args, Clone)]
pub struct JudgeArgs {
    #[command(flatten)]
    pub platform: PlatformArgs,
    /// Also print the fix in this format (repeatable); the profile's own formats are always shown
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub emit: Vec<FixFormat>,
    /// Which verdict makes the exit code 1
    #[arg(long, value_enum, default_value_t = FailOn::NeedsMounts)]
    pub fail_on: FailOn,
    /// More remedies (a YAML list shaped like the built-in catalogue); same ids replace built-ins
    #[arg(long, value_name = "FILE")]
    pub remedies: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    pub command: Option<ProfilesCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// Print one profile as YAML (a starting point for --profile FILE)
    Show {
        /// A built-in profile name, or a YAML file
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Also remove what belongs to audits that are still running, or to other hosts
    #[arg(long)]
    pub all: bool,
}

/// How to run the image: the same flags for every command that runs it.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// The image, by name or ID (pulled if not present locally)
    #[arg(value_parser = parse_image)]
    pub image: String,
    /// Container port to probe [default: the image's single EXPOSEd port]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// HTTP path that must answer --expect-status, in order (repeatable), or `tcp` for a bare port
    /// check [default: the image's HEALTHCHECK, run inside the container; else GET / on the port,
    /// where any answer below 500 means up, or TCP if the port speaks no HTTP]
    #[arg(long = "probe", value_name = "PATH|tcp", value_parser = Probe::parse)]
    pub probes: Vec<Probe>,
    /// HTTP status a probe must answer
    #[arg(long, value_name = "CODE", default_value_t = 200, value_parser = clap::value_parser!(u16).range(100..600))]
    pub expect_status: u16,
    /// Environment variable for the container, K=V (or K to pass this shell's value)
    #[arg(long = "env", short = 'e', value_name = "K=V")]
    pub env: Vec<String>,
    /// File of K=V lines (# comments and blank lines skipped), as docker's --env-file
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Run as this user (name or UID[:GID]) instead of the image's USER
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Override the image's ENTRYPOINT (a single executable, as with docker run)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Override the image's CMD: words split as a shell does (sh -c 'a b' is 3 words), or a JSON array
    #[arg(long)]
    pub cmd: Option<String>,
    /// How long the app may take to start and answer its first probe: the startup budget
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_budget)]
    pub startup_timeout: Duration,
    /// How long each probe may take to answer as expected, retried meanwhile as platforms do: its budget
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_budget)]
    pub probe_timeout: Duration,
    /// How long to watch the app idle after the probes
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_budget)]
    pub idle: Duration,
    /// Grace period between SIGTERM and SIGKILL at shutdown
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_budget)]
    pub stop_timeout: Duration,
    /// Command for the container, as after the image name on `docker run`
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// How writes are seen: for the commands that trace.
#[derive(Debug, Args, Clone)]
pub struct TracingArgs {
    /// How writes are seen: overlay (inotify and fanotify on the writable layer) or api (the engine's diff)
    #[arg(long, value_enum, default_value_t = ModeChoice::Auto)]
    pub mode: ModeChoice,
}

#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Report format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// List every write, mount and log line in the text report, instead of one line per directory
    #[arg(long, short)]
    pub verbose: bool,
}

impl RunArgs {
    pub fn options(&self) -> Result<RunOptions> {
        let mut env = vec![];
        for file in &self.env_files {
            env.extend(read_env_file(file)?);
        }
        for kv in &self.env {
            if kv.is_empty() || kv.starts_with('=') {
                bail!("-e {kv:?}: a variable needs a name, as in -e NAME=value");
            }
            env.push(match kv.split_once('=') {
                Some(_) => kv.clone(),
                // docker run -e K passes the caller's value, and nothing if it is unset.
                None => match std::env::var(kv) {
                    Ok(v) => format!("{kv}={v}"),
                    Err(_) => continue,
                },
            });
        }
        let cmd = match (&self.cmd, self.command.is_empty()) {
            (Some(_), false) => bail!("give the command either with --cmd or after --, not both"),
            (Some(cmd), true) => Some(parse_command(cmd)?),
            (None, false) => Some(self.command.clone()),
            (None, true) => None,
        };
        Ok(RunOptions {
            image: self.image.clone(),
            port: self.port,
            probes: self.probes.clone(),
            expect_status: self.expect_status,
            env,
            user: self.user.clone(),
            entrypoint: self.entrypoint.clone().map(|e| vec![e]),
            cmd,
            startup_timeout: self.startup_timeout,
            probe_timeout: self.probe_timeout,
            idle: self.idle,
            stop_timeout: self.stop_timeout,
        })
    }
}

/// An image reference: not empty.
fn parse_image(s: &str) -> Result<String, String> {
    match s.trim() {
        "" => Err(
            "the image reference is empty; give a name such as my-app:1.4 or an image ID".into(),
        ),
        _ => Ok(s.to_string()),
    }
}

/// The longest a budget or the idle watch may be: an audit runs the app several times, and a
/// longer wait is a typo (99999999s) more often than a need.
const MAX_BUDGET: Duration = Duration::from_secs(3600);

/// A duration for a budget or the idle watch, at most [`MAX_BUDGET`].
fn parse_budget(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > MAX_BUDGET {
        return Err(format!(
            "{s:?} is longer than an hour, more than any app needs to start, answer or stop; \
             write it like 30s or 5m"
        ));
    }
    Ok(d)
}

/// `30s`, `500ms`, `2m`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration; write it like 30s, 500ms or 2m"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit {unit:?} in {s:?}; use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("{s:?} is too long a duration; write it like 30s, 500ms or 2m"))
}

fn parse_command(cmd: &str) -> Result<Vec<String>> {
    if cmd.trim_start().starts_with('[') {
        serde_json::from_str(cmd).map_err(|e| {
            anyhow!("--cmd looks like a JSON array but is not one ({e}); write [\"a\", \"b\"]")
        })
    } else {
        shlex::split(cmd).ok_or_else(|| {
            anyhow!("--cmd {cmd:?} has an unclosed quote; close it, or give a JSON array")
        })
    }
}

fn read_env_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow!(
            "cannot read env file {}: {e}; check the path given to --env-file",
            path.display()
        )
    })?;
    let mut env = vec![];
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, _)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
                env.push(line.to_string())
            }
            _ => bail!(
                "{}:{}: expected K=V, found {line:?}; fix or comment out that line",
                path.display(),
                n + 1
            ),
        }
    }
    Ok(env)
}

/// A profile and remedies, loaded and checked before anything runs, and how to print the result.
#[derive(Clone)]
struct Judge {
    judge: pipeline::Judge,
    emit: Vec<FixFormat>,
    fail_on: FailOn,
}

impl JudgeArgs {
    fn prepare(&self) -> Result<Judge> {
        let profile = self.platform.load()?;
        let catalogue = match &self.remedies {
            Some(file) => Catalogue::with_file(file)?,
            None => Catalogue::builtin(),
        };
        let mut emit = profile.emit.clone();
        for extra in &self.emit {
            if !emit.contains(extra) {
                emit.push(*extra);
            }
        }
        Ok(Judge {
            judge: pipeline::Judge {
                profile,
                catalogue,
                declared: self.platform.tmpfs.clone(),
            },
            emit,
            fail_on: self.fail_on,
        })
    }
}

impl Judge {
    /// Prints the report and returns the exit code.
    fn report(&self, report: &Report, output: &OutputArgs) -> Result<i32> {
        let options = RenderOptions {
            color: use_color(&output.output),
            emit: self.emit.clone(),
            verbose: output.verbose,
        };
        emit_output(
            &output.output,
            &report::render_report(report, &self.judge.profile, output.format, &options),
        )?;
        Ok(self.fail_on.exit_code(report.plan.verdict))
    }
}

/// Progress on stderr when it is a terminal, unless --quiet, or a machine format is about to be
/// printed on the same terminal.
fn progress(quiet: bool, output: &Option<PathBuf>, machine: bool) -> Progress {
    use std::io::IsTerminal;
    let stderr = std::io::stderr().is_terminal();
    let mixed = machine && output.is_none() && std::io::stdout().is_terminal();
    match (quiet, stderr, mixed) {
        (false, true, false) => Progress::stderr(),
        _ => Progress::hidden(),
    }
}

fn use_color(output: &Option<PathBuf>) -> bool {
    output.is_none()
        && std::env::var_os("NO_COLOR").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stdout())
}

/// Connects to the engine and runs `work` under the cleanup guard: whatever it creates is
/// removed when it ends, fails or is interrupted.
async fn guarded<T, F, Fut>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(Engine, RunId) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
{
    let engine = Engine::connect().await?;
    let run_id = RunId::new();
    let future = work(engine.clone(), run_id.clone());
    engine::guarded(&engine, &run_id, future).await
}

fn read_trace(path: &Path) -> Result<Trace> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow!(
            "cannot read {}: {e}; give a file written by `rofs-audit trace --format json`",
            path.display()
        )
    })?;
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("schema_version").and_then(serde_json::Value::as_u64));
    if let Some(version) = version.filter(|&v| v != u64::from(crate::model::SCHEMA_VERSION)) {
        bail!(
            "{}: schema_version {version} was written by {} rofs-audit (this one reads {}); {}",
            path.display(),
            if version > u64::from(crate::model::SCHEMA_VERSION) {
                "a newer"
            } else {
                "an older"
            },
            crate::model::SCHEMA_VERSION,
            if version > u64::from(crate::model::SCHEMA_VERSION) {
                "upgrade rofs-audit"
            } else {
                "trace the image again"
            }
        );
    }
    serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{}:{}:{}: not a rofs-audit trace ({e}); write one with `rofs-audit trace IMAGE --format json -o FILE`",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

fn emit_output(output: &Option<PathBuf>, text: &str) -> Result<()> {
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| anyhow!("cannot write {}: {e}; check --output", path.display())),
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                // A reader that has seen enough (| head) is no error, as with ripgrep.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("cannot write to standard output"),
            }
        }
    }
}

/// Runs the command; the exit code is the caller's to map.
pub async fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Audit(args) => {
            // Judge-side mistakes (unknown profile, bad --tmpfs) fail before anything runs.
            let judge = args.judge.prepare()?;
            let run = args.run.options()?;
            let options = pipeline::AuditOptions {
                mode: args.tracing.mode,
                verify: !args.no_verify,
                jobs: args.jobs as usize,
                gate: ProofGate::from(args.gate),
            };
            let judged = judge.judge.clone();
            let progress = progress(
                cli.quiet,
                &args.output.output,
                args.output.format != Format::Text,
            );
            let report = guarded(move |engine, run_id| async move {
                pipeline::audit(&engine, &run_id, &run, &judged, options, &progress).await
            })
            .await?;
            judge.report(&report, &args.output)
        }
        Command::Trace(args) => {
            let opts = args.run.options()?;
            let mode = args.tracing.mode;
            let progress = progress(
                cli.quiet,
                &args.output.output,
                args.output.format != Format::Text,
            );
            let trace = guarded(move |engine, run_id| async move {
                pipeline::trace(&engine, &run_id, &opts, mode, &progress).await
            })
            .await?;
            emit_output(
                &args.output.output,
                &report::render_trace(&trace, args.output.format),
            )?;
            Ok(0)
        }
        Command::Verify(args) => {
            let profile = args.platform.load()?;
            let opts = args.run.options()?;
            let declared = args.platform.tmpfs.clone();
            let checked = profile.clone();
            let progress = progress(cli.quiet, &args.output, args.format != VerifyFormat::Text);
            let verification = guarded(move |engine, run_id| async move {
                verify::check(&engine, &run_id, &opts, &checked, &declared, &progress).await
            })
            .await?;
            let check = Check {
                image: args.run.image.clone(),
                profile: profile.name.clone(),
                mounts: args.platform.tmpfs.clone(),
                verification,
            };
            emit_output(
                &args.output,
                &report::render_check(&check, args.format, use_color(&args.output)),
            )?;
            Ok(i32::from(!check.verification.passed))
        }
        Command::Suggest(args) => {
            let judge = args.judge.prepare()?;
            let report = judge.judge.analyze(read_trace(&args.from)?);
            judge.report(&report, &args.output)
        }
        Command::Profiles(args) => {
            let text = match args.command {
                None => profile::render_list(),
                Some(ProfilesCommand::Show { name }) => {
                    profile::render_show(&profile::load(&name)?)
                }
            };
            emit_output(&None, &text)?;
            Ok(0)
        }
        Command::Remedies => {
            emit_output(&None, analyze::remedies::builtin_text())?;
            Ok(0)
        }
        Command::Clean(args) => {
            let engine = Engine::connect().await?;
            let report = engine.clean(args.all).await?;
            let mut text = format!(
                "removed {} container(s) and {} volume(s) left by earlier runs\n",
                report.containers.len(),
                report.volumes.len()
            );
            if report.kept > 0 {
                text.push_str(&format!(
                    "kept {} that belong to audits still running or to another host (--all \
                     removes them)\n",
                    report.kept
                ));
            }
            emit_output(&None, &text)?;
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker_flags() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").unwrap_err().contains("30s"));
        assert!(parse_duration("3h").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("99999999999999999999999")
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn env_file_errors_name_file_and_line() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "# comment\nA=1\n\nnot a pair\n").unwrap();
        let err = read_env_file(file.path()).unwrap_err().to_string();
        assert!(err.contains(":4: expected K=V"), "{err}");
    }

    #[test]
    fn a_trace_from_a_newer_rofs_audit_is_refused_with_the_fix() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), r#"{"schema_version": 99}"#).unwrap();
        let err = read_trace(file.path()).unwrap_err().to_string();
        assert!(
            err.contains("schema_version 99 was written by a newer rofs-audit")
                && err.contains("upgrade"),
            "{err}"
        );
    }

    #[test]
    fn commands_are_words_or_json() {
        assert_eq!(parse_command("uv run app").unwrap(), ["uv", "run", "app"]);
        assert_eq!(
            parse_command("sh -c 'echo a b'").unwrap(),
            ["sh", "-c", "echo a b"]
        );
        assert!(parse_command("sh -c 'oops").is_err());
        assert_eq!(parse_command(r#"["a b", "c"]"#).unwrap(), ["a b", "c"]);
        assert!(parse_command("[oops").is_err());
    }
}
