//! `.rofs-audit.yaml`: what a repository's CI audits (its targets), the settings they share,
//! and the findings the team accepts, each with its reason.
//!
//! Settings come from four places, highest first: flags, the environment (`ROFS_AUDIT_*`), the
//! config file, the defaults, as trivy layers them. The command line reads flags and the
//! environment into a [`Config`] of its own; [`Config::or`] lays it over the file's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::analyze::accept::{Accept, Date};
use crate::analyze::FailOn;
use crate::choice::Choice;
use crate::input;
use crate::model::{BaselineFinding, ProofGate, Report, TmpfsSpec};
use crate::probe::{HttpGet, Probe};
use crate::profile;
use crate::trace::{ModeChoice, RunOptions, EXPECTED_STATUS};

/// The file `audit` looks for in the working directory.
pub const FILE_NAME: &str = ".rofs-audit.yaml";

/// A config file, or the settings given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, with = "named", skip_serializing_if = "Option::is_none")]
    pub fail_on: Option<FailOn>,
    #[serde(default, with = "named", skip_serializing_if = "Option::is_none")]
    pub gate: Option<ProofGate>,
    #[serde(default, with = "named", skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModeChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedies: Option<PathBuf>,
    #[serde(default, with = "budget", skip_serializing_if = "Option::is_none")]
    pub startup_timeout: Option<Duration>,
    #[serde(default, with = "budget", skip_serializing_if = "Option::is_none")]
    pub probe_timeout: Option<Duration>,
    #[serde(default, with = "budget", skip_serializing_if = "Option::is_none")]
    pub idle: Option<Duration>,
    #[serde(default, with = "budget", skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept: Vec<Accept>,
    /// The line where each target starts, for reports that point at it.
    #[serde(skip)]
    pub target_lines: Vec<usize>,
}

/// What to audit: an image with how to run it, or a deployment spec's containers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Target {
    /// How reports, `--target` and the job matrix name it [default: its image or file].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// A deployment spec, relative to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The spec's containers to audit [default: every one].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<String>,
    /// Images for the spec's containers whose image the engine cannot resolve.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, with = "probes", skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    /// Shell words, or a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Words>,
    /// Mounts the deployment already has, as `--tmpfs` takes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<TmpfsSpec>,
}

/// A YAML scalar read as text: `user: 1000` and `PORT: 5000` mean the strings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        scalar(d, |text| Ok(Scalar(text.to_string())))
    }
}

/// Reads a scalar as text and parses it inside the deserializer's visit, so that a parse error
/// carries the value's line and column.
fn scalar<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    struct Visit<F>(F);
    impl<'de, T, F: FnOnce(&str) -> Result<T, String>> serde::de::Visitor<'de> for Visit<F> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string, a number or true/false")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            (self.0)(v).map_err(E::custom)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<T, E> {
            self.visit_str(&v.to_string())
        }
    }
    d.deserialize_any(Visit(parse))
}

/// A command: shell words in one string, or a list of words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Words {
    Line(String),
    List(Vec<String>),
}

impl Config {
    /// `self`'s settings where it has them, else `lower`'s; targets and accepted findings come
    /// from `lower` (the file) when `self` (the command line) has none.
    pub fn or(self, lower: Config) -> Config {
        let from_file = self.targets.is_empty();
        Config {
            profile: self.profile.or(lower.profile),
            fail_on: self.fail_on.or(lower.fail_on),
            gate: self.gate.or(lower.gate),
            mode: self.mode.or(lower.mode),
            jobs: self.jobs.or(lower.jobs),
            remedies: self.remedies.or(lower.remedies),
            startup_timeout: self.startup_timeout.or(lower.startup_timeout),
            probe_timeout: self.probe_timeout.or(lower.probe_timeout),
            idle: self.idle.or(lower.idle),
            stop_timeout: self.stop_timeout.or(lower.stop_timeout),
            targets: if self.targets.is_empty() {
                lower.targets
            } else {
                self.targets
            },
            accept: if self.accept.is_empty() {
                lower.accept
            } else {
                self.accept
            },
            target_lines: match from_file {
                true => lower.target_lines,
                false => self.target_lines,
            },
        }
    }

    /// The defaults, for what nothing set.
    pub fn defaults() -> Config {
        Config {
            fail_on: Some(FailOn::NeedsMounts),
            gate: Some(ProofGate::Clean),
            mode: Some(ModeChoice::Auto),
            // Proof runs mostly wait for the app, so one per core keeps the machine busy
            // without starving the apps' startup.
            jobs: std::thread::available_parallelism().map_or(Some(1), |n| Some(n.get() as u32)),
            startup_timeout: Some(Duration::from_secs(30)),
            probe_timeout: Some(Duration::from_secs(10)),
            idle: Some(Duration::from_secs(2)),
            stop_timeout: Some(Duration::from_secs(10)),
            ..Config::default()
        }
    }

    /// The config named by `given` (`--config`), else `.rofs-audit.yaml` in the working
    /// directory, as its name and its content; without one, both are empty.
    pub fn find(given: Option<&Path>) -> Result<(String, Config)> {
        let path = match given {
            Some(path) => path.to_path_buf(),
            None if Path::new(FILE_NAME).is_file() => PathBuf::from(FILE_NAME),
            None => return Ok(Default::default()),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow!(
                "cannot read the config {}: {e}; check the path given to --config",
                path.display()
            )
        })?;
        Ok((path.display().to_string(), Config::parse(&path, &text)?))
    }

    /// Reads a config; paths in it are taken relative to its directory.
    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let source = path.display().to_string();
        let mut config: Config = match text.trim().is_empty() {
            true => Config::default(),
            false => serde_yaml_ng::from_str(text).map_err(|e| {
                input::yaml_error(&source, &e, "see `rofs-audit init --help` for the shape")
            })?,
        };
        let dir = path.parent().unwrap_or(Path::new(""));
        let relative = |p: &Path| lexical(&dir.join(p));
        config.remedies = config.remedies.as_deref().map(relative);
        if let Some(file) = config.profile.as_deref().filter(|p| profile::is_path(p)) {
            config.profile = Some(relative(Path::new(file)).display().to_string());
        }
        for target in &mut config.targets {
            // Named as written: the same in the job matrix whatever the config's path.
            if let (None, Some(file)) = (&target.name, &target.file) {
                target.name = Some(file.display().to_string());
            }
            target.file = target.file.as_deref().map(relative);
        }
        config.validate(&source)?;
        config.target_lines = item_lines(text, "targets:");
        Ok(config)
    }

    /// Where `target` is written: `FILE:LINE`, as editors take it.
    pub fn defined_at(&self, source: &str, target: &Target) -> String {
        let index = self.targets.iter().position(|t| std::ptr::eq(t, target));
        match index.and_then(|i| self.target_lines.get(i)) {
            Some(line) => format!("{source}:{line}"),
            None => source.to_string(),
        }
    }

    fn validate(&self, source: &str) -> Result<()> {
        if self.jobs == Some(0) {
            bail!("{source}: jobs: 0 runs nothing; give 1 or more");
        }
        for (i, target) in self.targets.iter().enumerate() {
            let at = format!("{source}: targets[{i}]");
            match (&target.image, &target.file) {
                (Some(_), Some(_)) => {
                    bail!("{at}: has both image and file; give one (a spec names its own images)")
                }
                (None, None) => bail!("{at}: names nothing to audit; give an image or a file"),
                (Some(_), None) if !target.containers.is_empty() || !target.images.is_empty() => {
                    bail!("{at}: containers and images are for a file target; remove them or give file")
                }
                (None, Some(_)) if target.says_how_to_run() => {
                    bail!("{at}: port, probes, expect-status, env, user, entrypoint, cmd and tmpfs are for an image target; a spec says how its containers run: write it there")
                }
                _ => {}
            }
            let name = target.name();
            if self.targets[..i].iter().any(|t| t.name() == name) {
                bail!("{at}: another target is named {name:?} too; give each a distinct name");
            }
        }
        for (i, entry) in self.accept.iter().enumerate() {
            if entry.reason.trim().is_empty() {
                bail!(
                    "{source}: accept[{i}] ({}): the reason is empty; say why the write may stay",
                    entry.path
                );
            }
            if !entry.path.starts_with('/') {
                bail!("{source}: accept[{i}]: path {:?} is not absolute; write it as the container sees it, as /app/**/__pycache__/**", entry.path);
            }
            let named = |t: &Target| {
                let name = t.name();
                let within = |n: &str| n.strip_prefix(&name).is_some_and(|c| c.starts_with('/'));
                Some(&name) == entry.target.as_ref()
                    || t.image == entry.target
                    || entry.target.as_deref().is_some_and(within)
            };
            if entry.target.is_some() && !self.targets.is_empty() && !self.targets.iter().any(named)
            {
                bail!("{source}: accept[{i}]: target {:?} is none of the targets; name one of them, or remove target:", entry.target.as_deref().unwrap_or_default());
            }
        }
        Ok(())
    }

    /// The targets named in `only` (all of them when it is empty).
    pub fn targets(&self, source: &str, only: &[String]) -> Result<Vec<&Target>> {
        if self.targets.is_empty() {
            bail!("{source} has no targets; add one (- image: my-app:1.4), or give an IMAGE or -f FILE");
        }
        for name in only {
            if !self.targets.iter().any(|t| &t.name() == name) {
                let names: Vec<String> = self.targets.iter().map(Target::name).collect();
                bail!("{source}: no target {name:?}; it has {}", names.join(", "));
            }
        }
        let picked = self
            .targets
            .iter()
            .filter(|t| only.is_empty() || only.contains(&t.name()));
        Ok(picked.collect())
    }

    /// The accepted findings that apply to a target, and those past their date.
    pub fn accepted(&self, target: &str, image: &str, today: Date) -> (Vec<Accept>, Vec<Accept>) {
        let entries = self
            .accept
            .iter()
            .filter(|a| a.applies_to(target, image))
            .cloned();
        entries.partition(|a| !a.expired(today))
    }

    /// Every setting, from here where it is set, else from the defaults.
    pub fn settle(&self) -> Settings {
        let all = self.clone().or(Config::defaults());
        let unset = "set by the defaults";
        Settings {
            profile: all.profile,
            remedies: all.remedies,
            fail_on: all.fail_on.expect(unset),
            gate: all.gate.expect(unset),
            mode: all.mode.expect(unset),
            jobs: all.jobs.expect(unset),
            startup_timeout: all.startup_timeout.expect(unset),
            probe_timeout: all.probe_timeout.expect(unset),
            idle: all.idle.expect(unset),
            stop_timeout: all.stop_timeout.expect(unset),
        }
    }
}

/// The settings of a run, every default filled in.
#[derive(Debug, Clone)]
pub struct Settings {
    pub profile: Option<String>,
    pub remedies: Option<PathBuf>,
    pub fail_on: FailOn,
    pub gate: ProofGate,
    pub mode: ModeChoice,
    pub jobs: u32,
    pub startup_timeout: Duration,
    pub probe_timeout: Duration,
    pub idle: Duration,
    pub stop_timeout: Duration,
}

#[cfg(test)]
impl RunOptions {
    /// `image` run as the command line's defaults run it: for tests.
    pub fn testing(image: &str) -> RunOptions {
        Config::defaults().settle().budgets(RunOptions {
            image: image.into(),
            ..RunOptions::default()
        })
    }
}

impl Settings {
    /// `run` with these budgets.
    pub fn budgets(&self, run: RunOptions) -> RunOptions {
        RunOptions {
            startup_timeout: self.startup_timeout,
            probe_timeout: self.probe_timeout,
            idle: self.idle,
            stop_timeout: self.stop_timeout,
            ..run
        }
    }
}

impl Target {
    /// Whether it says how to run an image: what a spec target leaves to its spec.
    fn says_how_to_run(&self) -> bool {
        let words = self.entrypoint.is_some() || self.cmd.is_some() || self.user.is_some();
        let probes = self.port.is_some() || !self.probes.is_empty() || self.expect_status.is_some();
        words || probes || !self.env.is_empty() || !self.tmpfs.is_empty()
    }

    pub fn name(&self) -> String {
        let named = self.name.clone().or_else(|| self.image.clone());
        named.unwrap_or_else(|| {
            self.file
                .as_deref()
                .unwrap_or(Path::new(""))
                .display()
                .to_string()
        })
    }

    /// How to run this target's image, over `base` (budgets, and what a spec does not say).
    pub fn run_options(&self, base: &RunOptions) -> Result<RunOptions> {
        let words = |w: &Words| match w {
            Words::List(list) => Ok(list.clone()),
            Words::Line(line) => shlex::split(line).ok_or_else(|| {
                anyhow!(
                    "{}: cmd {line:?} has an unclosed quote; close it, or give a list",
                    self.name()
                )
            }),
        };
        Ok(RunOptions {
            image: self.image.clone().unwrap_or_default(),
            port: self.port.or(base.port),
            probes: if self.probes.is_empty() {
                base.probes.clone()
            } else {
                self.probes.clone()
            },
            expect_status: self.expect_status.unwrap_or(base.expect_status),
            env: self
                .env
                .iter()
                .map(|(k, v)| format!("{k}={}", v.0))
                .collect(),
            user: self.user.as_ref().map(|u| u.0.clone()),
            entrypoint: self.entrypoint.clone().map(|e| vec![e]),
            cmd: self.cmd.as_ref().map(words).transpose()?,
            ..base.clone()
        })
    }
}

crate::choice::choice_enum! {
    /// How `rofs-audit targets` lists a config's targets.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum TargetsFormat {
        Text = "text": "one name a line",
        GithubMatrix = "github-matrix": "a GitHub Actions job matrix, {\"include\": [{\"target\": NAME}, ...]}, for strategy.matrix: ${{ fromJSON(...) }}",
    }
}

/// The targets' names, for people or as a job matrix whose jobs each run
/// `rofs-audit audit --target NAME`.
pub fn render_targets(targets: &[&Target], format: TargetsFormat) -> String {
    let names = targets.iter().map(|t| t.name());
    match format {
        TargetsFormat::Text => names.map(|name| name + "\n").collect(),
        TargetsFormat::GithubMatrix => {
            let include: Vec<_> = names
                .map(|name| serde_json::json!({ "target": name }))
                .collect();
            serde_json::json!({ "include": include }).to_string() + "\n"
        }
    }
}

/// A commented config that audits `run` as it was just audited (`rofs-audit init`), with the
/// report's findings as accept entries to uncomment.
pub fn starter(
    run: &RunOptions,
    declared: &[TmpfsSpec],
    settings: &Settings,
    report: &Report,
) -> String {
    let split = |kv: &String| match kv.split_once('=') {
        Some((k, v)) => (k.to_string(), Scalar(v.to_string())),
        None => (kv.clone(), Scalar(String::new())),
    };
    let target = Target {
        image: Some(run.image.clone()),
        port: run.port,
        probes: run.probes.clone(),
        expect_status: Some(run.expect_status).filter(|&s| s != EXPECTED_STATUS),
        env: run.env.iter().map(split).collect(),
        user: run.user.clone().map(Scalar),
        entrypoint: run.entrypoint.as_ref().and_then(|e| e.first().cloned()),
        cmd: run.cmd.clone().map(Words::List),
        tmpfs: declared.to_vec(),
        ..Target::default()
    };
    let defaults = Config::defaults().settle();
    let budgets = Config {
        startup_timeout: Some(settings.startup_timeout).filter(|&d| d != defaults.startup_timeout),
        probe_timeout: Some(settings.probe_timeout).filter(|&d| d != defaults.probe_timeout),
        idle: Some(settings.idle).filter(|&d| d != defaults.idle),
        stop_timeout: Some(settings.stop_timeout).filter(|&d| d != defaults.stop_timeout),
        targets: vec![target],
        ..Config::default()
    };
    let body = serde_yaml_ng::to_string(&budgets).expect("a config serialises");
    let mut out = format!(
        "# rofs-audit: `rofs-audit audit` with no arguments audits the targets below.\n\
         # Flags, then ROFS_AUDIT_* variables, override what is set here; `rofs-audit init --help`\n\
         # shows every key. Written by `rofs-audit init` after an audit of {}: {}.\n\
         profile: {}\n\
         # fail-on: needs-mounts  # needs-changes: fail only on what no mount fixes; never: report only\n\
         # gate: clean            # functional: read-only errors in the logs do not fail the proof\n",
        run.image,
        report.plan.verdict.as_str(),
        settings.profile.as_deref().unwrap_or(&report.plan.profile),
    );
    if !run.env.is_empty() {
        out.push_str(
            "# The env values below are as given to init (-e, --env-file): keep secrets out of a\n\
             # file you commit; give them to the CI job's environment and -e NAME instead.\n",
        );
    }
    out.push_str(&body);
    out.push_str(
        "# Findings the team decides to live with, each with its reason, and an expiry when it is a\n\
         # stopgap. An accepted finding is reported as accepted and fails nothing. Uncomment to use.\n\
         # accept:\n",
    );
    let findings = crate::analyze::baseline::all_findings(report);
    let globs: Vec<String> = findings
        .iter()
        .filter_map(|f| match f {
            BaselineFinding::Mount(path) => Some(format!("{}/**", path.trim_end_matches('/'))),
            BaselineFinding::Unfixable(dir) => Some(format!("{}/*", dir.trim_end_matches('/'))),
            _ => None,
        })
        .collect();
    let examples = if globs.is_empty() {
        vec!["/app/**/__pycache__/**".to_string()]
    } else {
        globs
    };
    for glob in examples {
        out.push_str(&format!(
            "#   - path: {glob}\n#     reason: say why this write may stay\n#     expires: {}\n",
            Date::today().plus_days(90)
        ));
    }
    out
}

/// `path` with `.` and `dir/..` taken out as text (`ci/../deploy/x.json` is `deploy/x.json`),
/// as reports and annotations should name it.
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The 1-based lines of the items of a top-level block list (`targets:` then `  - ...`): the
/// YAML reader keeps no positions for values that parsed.
fn item_lines(text: &str, key: &str) -> Vec<usize> {
    let mut lines = text.lines().enumerate();
    if !lines.any(|(_, line)| line.trim_end() == key) {
        return vec![];
    }
    let mut items = vec![];
    let mut indent = None;
    for (n, line) in lines {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = line.len() - trimmed.len();
        if at == 0 && !trimmed.starts_with('-') {
            break;
        }
        if trimmed.starts_with("- ") && *indent.get_or_insert(at) == at {
            items.push(n + 1);
        }
    }
    items
}

/// Choices by name (`fail-on: never`).
mod named {
    use super::*;

    pub fn serialize<S: Serializer, T: Choice>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        value.map(Choice::name).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Choice>(d: D) -> Result<Option<T>, D::Error> {
        scalar(d, |name| T::named(name).map(Some))
    }
}

/// Budgets as `--startup-timeout` takes them (`30s`, `2m`).
mod budget {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        value.map(input::format_duration).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        scalar(d, |text| input::budget(text).map(Some))
    }
}

/// Probes as `--probe` takes them.
mod probes {
    use super::*;

    pub fn serialize<S: Serializer>(value: &[Probe], s: S) -> Result<S::Ok, S::Error> {
        let flags = value.iter().filter_map(|probe| match probe {
            // Headers come only from a spec's probes, and a spec target reads them there again.
            Probe::Http(HttpGet { path, .. }) | Probe::Any(path) => Some(path.as_str()),
            Probe::Tcp => Some("tcp"),
            // A HEALTHCHECK comes with the image, never from a flag or a config.
            Probe::Exec(_) => None,
        });
        flags.collect::<Vec<_>>().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Probe>, D::Error> {
        struct Flag(Probe);
        impl<'de> Deserialize<'de> for Flag {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Flag, D::Error> {
                scalar(d, |text| Probe::parse(text).map(Flag))
            }
        }
        let flags = Vec::<Flag>::deserialize(d)?;
        Ok(flags.into_iter().map(|Flag(probe)| probe).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("ci/.rofs-audit.yaml"), text)
    }

    #[test]
    fn the_issue_example_reads_with_paths_from_the_config_directory() {
        let config = parse(
            "profile: docker\nfail-on: never\nstartup-timeout: 45s\ntargets:\n  - image: my-app:1.4\n    port: 5000\n    probes: [/health, /health/ready]\n    env: {LOG_LEVEL: info, WORKERS: 2}\n    user: 1000\n  - file: deploy/taskdef.json\naccept:\n  - path: /app/**/__pycache__/**\n    reason: bytecode; PYTHONDONTWRITEBYTECODE comes with the next release\n    expires: 2027-03-01\n",
        )
        .unwrap();
        assert_eq!(config.fail_on, Some(FailOn::Never));
        assert_eq!(config.startup_timeout, Some(Duration::from_secs(45)));
        assert_eq!(
            config.targets[1].file,
            Some(PathBuf::from("ci/deploy/taskdef.json"))
        );
        assert_eq!(config.defined_at("c.yaml", &config.targets[1]), "c.yaml:10");
        assert_eq!(
            config.targets[1].name(),
            "deploy/taskdef.json",
            "as written"
        );
        assert_eq!(
            lexical(Path::new("ci/../deploy/./x.json")),
            Path::new("deploy/x.json")
        );
        assert_eq!(lexical(Path::new("../x.json")), Path::new("../x.json"));
        let run = config.targets[0]
            .run_options(&RunOptions::testing(""))
            .unwrap();
        assert_eq!(run.image, "my-app:1.4");
        assert_eq!(run.env, ["LOG_LEVEL=info", "WORKERS=2"]);
        assert_eq!(run.user.as_deref(), Some("1000"));
        assert_eq!(run.probes.len(), 2);
        assert_eq!(
            config.accept[0].expires,
            Some("2027-03-01".parse().unwrap())
        );
        // Written back, it reads the same.
        let again = serde_yaml_ng::to_string(&config).unwrap();
        assert_eq!(
            Config::parse(Path::new("ci/x"), &again).unwrap().fail_on,
            config.fail_on
        );
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let flags = Config {
            fail_on: Some(FailOn::Never),
            ..Config::default()
        };
        let file = parse("fail-on: needs-changes\ngate: functional\n").unwrap();
        let layered = flags.or(file).or(Config::defaults());
        assert_eq!(layered.fail_on, Some(FailOn::Never));
        assert_eq!(layered.gate, Some(ProofGate::Functional));
        assert_eq!(layered.idle, Some(Duration::from_secs(2)));
    }

    #[test]
    fn mistakes_name_the_file_the_place_and_the_fix() {
        let error = |text: &str| format!("{:#}", parse(text).unwrap_err());
        let wrong = error("profile: docker\nfail-on: sometimes\n");
        assert!(wrong.starts_with("ci/.rofs-audit.yaml:2:"), "{wrong}");
        assert!(
            wrong.contains("\"sometimes\" is not one of: needs-mounts, needs-changes, never"),
            "{wrong}"
        );
        assert!(
            error("targets:\n  - imag: x\n")
                .starts_with("ci/.rofs-audit.yaml:2:5: targets[0]: unknown field `imag`"),
            "{}",
            error("targets:\n  - imag: x\n")
        );
        assert!(
            error("idle: 2 hours\n").starts_with("ci/.rofs-audit.yaml:1:7: idle: unknown unit"),
            "{}",
            error("idle: 2 hours\n")
        );
        assert_eq!(error("targets:\n  - image: a\n    file: b\n"), "ci/.rofs-audit.yaml: targets[0]: has both image and file; give one (a spec names its own images)");
        assert!(error("accept:\n  - path: /x\n    reason: ''\n").contains("the reason is empty"));
        assert!(error("accept:\n  - path: /x\n").contains("missing field `reason`"));
        assert!(error("targets:\n  - file: task.json\n    port: 80\n")
            .contains("targets[0]: port, probes, expect-status, env, user, entrypoint, cmd and tmpfs are for an image target"));
        let profile = parse("profile: platform.yaml\n").unwrap().profile;
        assert_eq!(profile.as_deref(), Some("ci/platform.yaml"));
        assert!(
            error("accept:\n  - path: /x\n    reason: r\n    expires: soon\n")
                .contains("write it as YYYY-MM-DD")
        );
    }

    #[test]
    fn expired_entries_are_set_apart_and_entries_for_other_targets_left_out() {
        let config = parse("targets:\n  - image: a:1\n  - image: b:1\n    name: b\naccept:\n  - path: /x\n    reason: r\n    expires: 2026-01-31\n  - path: /y\n    reason: r\n    target: b\n").unwrap();
        let today: Date = "2026-02-01".parse().unwrap();
        let (active, expired) = config.accepted("a:1", "a:1", today);
        assert_eq!((active.len(), expired.len()), (0, 1));
        let (active, _) = config.accepted("b", "b:1", today);
        assert_eq!(active[0].path, "/y");
    }
}
