//! What every problem-listing renderer shares: the findings (failing writes, each linked to the
//! mount that fixes it or the reason nothing can, and to its remedies), their wording, the
//! summary line, and the names that fix snippets derive from paths.
//!
//! Free text here goes through [`clean`]: paths in the model are already escaped, but remedy
//! titles and reasons are prose from the planner, and nothing rendered may carry a control
//! character.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::analyze::names;
use crate::model::{
    escape_text, is_within, resolve, Accepted, BaselineDiff, BaselineFinding, Change, Gate, Mount,
    MountKind, Phase, Remedy, Report, Verdict, Verification, Write,
};
use crate::profile::Profile;

pub(crate) const RULE_MOUNT: &str = "read-only-write";
pub(crate) const RULE_UNFIXABLE: &str = "unfixable-write";

/// The reason given for a failing write that the plan neither mounts nor lists as unfixable. A
/// consistent plan never has one; if it does, it is reported, not dropped.
const UNPLANNED: &str = "the plan has no mount for it";

/// Control characters become `\xNN`; everything else is kept. Idempotent on escaped paths.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(escape_text(text))
    } else {
        Cow::Borrowed(text)
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Cause<'a> {
    /// `plan.mounts[index]` makes the write succeed; `mount` is that mount as the proof kept it.
    Mount { index: usize, mount: &'a Mount },
    /// No mount can: the image or its configuration must change.
    Unfixable { reason: &'a str },
}

/// One write that would fail under a read-only root (or one entry of `plan.unfixable` that no
/// traced write matches).
#[derive(Debug, Clone)]
pub(crate) struct Finding<'a> {
    pub path: &'a str,
    pub write: Option<&'a Write>,
    pub cause: Cause<'a>,
    pub remedies: Vec<&'a Remedy>,
    /// The proof ran the app without this write succeeding: a warning at most.
    pub tolerated: bool,
}

/// How serious a finding is, in SARIF's words (GitHub says `notice` for a note).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Level {
    Note,
    Warning,
    Error,
}

/// The findings of a report, in trace order, unfixable entries without a write last. Lookups go
/// through maps: a trace may hold 100,000 writes, and a scan of the plan per write is quadratic.
pub(crate) fn findings(report: &Report) -> Vec<Finding<'_>> {
    let plan = &report.plan;
    let mut remedies: HashMap<&str, Vec<&Remedy>> = HashMap::new();
    for r in &plan.remedies {
        for p in &r.paths {
            let list = remedies.entry(p.as_str()).or_default();
            // A remedy that names a path twice still explains it once.
            if !list.last().is_some_and(|last| std::ptr::eq(*last, r)) {
                list.push(r);
            }
        }
    }
    let remedies_for = |path: &str| remedies.get(path).cloned().unwrap_or_default();
    let mut unfixable: HashMap<&str, &str> = HashMap::new();
    for u in &plan.unfixable {
        unfixable.entry(&u.path).or_insert(&u.reason);
    }
    let mut covered: HashMap<&str, usize> = HashMap::new();
    for (i, m) in plan.mounts.iter().enumerate() {
        for c in &m.covers {
            covered.entry(c).or_insert(i);
        }
    }
    let mut out: Vec<Finding> = report
        .trace
        .writes
        .iter()
        .filter(|w| w.would_fail == Some(true))
        .map(|w| {
            let path = w.path.as_str();
            let mount = covered
                .get(path)
                .copied()
                .or_else(|| plan.mounts.iter().position(|m| is_within(path, &m.path)));
            let cause = if let Some(reason) = unfixable.get(path) {
                Cause::Unfixable { reason }
            } else if let Some(index) = mount {
                // As the proof kept it: it may start with the image's files, or be a volume.
                let (mount, _) = need(report, &plan.mounts[index]);
                Cause::Mount { index, mount }
            } else {
                Cause::Unfixable { reason: UNPLANNED }
            };
            Finding {
                path,
                write: Some(w),
                cause,
                remedies: remedies_for(path),
                tolerated: w.fatal == Some(false),
            }
        })
        .collect();
    let written: HashSet<&str> = out.iter().map(|f| f.path).collect();
    let mut listed = HashSet::new();
    for u in &plan.unfixable {
        if !written.contains(u.path.as_str()) && listed.insert(u.path.as_str()) {
            out.push(Finding {
                path: &u.path,
                write: None,
                cause: Cause::Unfixable { reason: &u.reason },
                remedies: remedies_for(&u.path),
                tolerated: false,
            });
        }
    }
    out
}

/// Findings as the formats that track them from run to run (SARIF results, JUnit testcases)
/// count them: one per path, and the paths of one random name's pattern ([`names::pattern`],
/// `/tmp/tmp*`) as one, named by the pattern.
#[derive(Debug, Clone)]
pub(crate) struct Named<'f, 'a> {
    /// The path, or the pattern of the random names.
    pub name: Cow<'a, str>,
    /// The most serious of its findings (the first of those), which speaks for all.
    pub finding: &'f Finding<'a>,
    /// How many findings it stands for: writes, or a write and an entry of the plan.
    pub writes: usize,
    /// How many distinct paths.
    pub paths: usize,
}

/// The findings by name, in the order their names first come.
pub(crate) fn named<'f, 'a>(all: &'f [Finding<'a>]) -> Vec<Named<'f, 'a>> {
    let mut out: Vec<Named> = vec![];
    let mut index: HashMap<Cow<str>, usize> = HashMap::new();
    let mut paths: HashSet<&str> = HashSet::new();
    for f in all {
        let name = names::pattern(f.path);
        let first = paths.insert(f.path);
        match index.get(&name) {
            Some(&i) => {
                let n = &mut out[i];
                n.writes += 1;
                n.paths += usize::from(first);
                if f.level() > n.finding.level() {
                    n.finding = f;
                }
            }
            None => {
                index.insert(name.clone(), out.len());
                out.push(Named {
                    name,
                    finding: f,
                    writes: 1,
                    paths: 1,
                });
            }
        }
    }
    out
}

impl Named<'_, '_> {
    /// The name as a message gives it: the path, or the pattern with how many random names it
    /// stands for and one of them, `/tmp/tmp* (2 names chosen at random, as /tmp/tmpab12cd_e)`.
    pub fn label(&self) -> String {
        let path = clean(self.finding.path);
        if self.name == self.finding.path {
            return path.into_owned();
        }
        let names = match self.paths {
            1 => "a name chosen at random".to_string(),
            n => format!("{n} names chosen at random"),
        };
        format!("{} ({names}, as {path})", clean(&self.name))
    }

    pub fn title(&self) -> String {
        self.finding.title_as(&clean(&self.name))
    }

    pub fn message(&self, profile: &Profile) -> String {
        self.finding.message_as(profile, &self.label())
    }
}

/// One thing `verify` checks on its read-only run, for the formats that list checks.
pub(crate) struct ProofCheck {
    pub name: String,
    pub ms: Option<u64>,
    /// Why it failed, or None when it passed.
    pub failure: Option<String>,
}

/// The checks of a `verify` run: that it runs read-only at all (the verdict the exit code
/// follows), then each gate (startup, each probe, shutdown) with its reason, and the logs.
pub(crate) fn proof_checks(v: &Verification) -> Vec<ProofCheck> {
    let Some(run) = v.runs.first() else {
        return vec![];
    };
    let mut checks = vec![ProofCheck {
        name: "runs read-only".to_string(),
        ms: Some(v.wall_ms),
        failure: run.failure.as_deref().map(|f| clean(f).into_owned()),
    }];
    let gate = |g: &Gate, name: String| ProofCheck {
        name,
        ms: g.ms,
        failure: (!g.ok).then(|| clean(g.reason.as_deref().unwrap_or("failed")).into_owned()),
    };
    checks.push(gate(
        &v.gates.startup,
        format!("starts within {} ms", v.gates.startup.budget_ms),
    ));
    for g in &v.gates.probes {
        let name = if g.name == "tcp" {
            "TCP connect".to_string()
        } else {
            format!("GET {}", clean(&g.name))
        };
        checks.push(gate(g, format!("{name} answers within {} ms", g.budget_ms)));
    }
    if let Some(g) = &v.gates.shutdown {
        checks.push(gate(
            g,
            format!("exits on SIGTERM within {} ms", g.budget_ms),
        ));
    }
    checks.push(ProofCheck {
        name: "no read-only errors in the logs".to_string(),
        ms: None,
        failure: (!run.erofs_lines.is_empty())
            .then(|| log_summary(run.erofs_lines.iter().map(|l| l.line.as_str()))),
    });
    checks
}

/// Paths the proof's read-only errors name that no traced write is at, above or below, and no
/// planned mount covers: writes the trace missed (a blind spot of its mode, or a code path the
/// trace did not take).
pub(crate) fn untraced_erofs(report: &Report) -> Vec<&str> {
    let Some(v) = &report.verification else {
        return vec![];
    };
    let mut named: Vec<&str> = vec![];
    // A line repeated at every probe attempt names its path once: the scan of the trace below is
    // per distinct path.
    for path in v
        .runs
        .iter()
        .flat_map(|r| &r.erofs_lines)
        .filter_map(|l| l.path.as_deref())
    {
        if !named.contains(&path) {
            named.push(path);
        }
    }
    named.retain(|path| {
        // The app may name it through a link of the image; the trace saw the real path.
        let real = resolve(&report.trace.symlinks, path);
        let traced = report
            .trace
            .writes
            .iter()
            .any(|w| is_within(&w.path, &real) || is_within(&real, &w.path));
        let planned = report.plan.mounts.iter().any(|m| is_within(&real, &m.path));
        !traced && !planned
    });
    named
}

/// The failing writes the proof found the app runs without, each path once (a file written at
/// startup and again at shutdown is one thing to tolerate).
pub(crate) fn tolerated<'f, 'a>(all: &'f [Finding<'a>]) -> Vec<&'f Finding<'a>> {
    let mut seen = HashSet::new();
    all.iter()
        .filter(|f| f.tolerated && seen.insert(f.path))
        .collect()
}

impl<'a> Finding<'a> {
    /// No mount fixes it, and the app is not known to run without it.
    pub fn is_error(&self) -> bool {
        matches!(self.cause, Cause::Unfixable { .. }) && !self.tolerated
    }

    /// How serious it is: an error where no mount fixes it, a note for what the app tolerates.
    pub fn level(&self) -> Level {
        if self.is_error() {
            Level::Error
        } else if self.tolerated {
            Level::Note
        } else {
            Level::Warning
        }
    }

    pub fn rule_id(&self) -> &'static str {
        match self.cause {
            Cause::Mount { .. } => RULE_MOUNT,
            Cause::Unfixable { .. } => RULE_UNFIXABLE,
        }
    }

    pub fn mount(&self) -> Option<&'a Mount> {
        match self.cause {
            Cause::Mount { mount, .. } => Some(mount),
            Cause::Unfixable { .. } => None,
        }
    }

    /// `startup, created` or `probe, created by GET /work`; empty without a write.
    pub fn when(&self) -> String {
        let Some(w) = self.write else {
            return String::new();
        };
        let mut out = format!("{}, {}", w.phase.as_str(), w.change.as_str());
        if let Some(p) = &w.probe {
            out.push_str(&format!(" by GET {}", clean(p)));
        }
        out
    }

    /// A short title: `read-only write: /var/run/app.pid`.
    pub fn title(&self) -> String {
        self.title_as(&clean(self.path))
    }

    /// The title with the path given as `name`.
    pub fn title_as(&self, name: &str) -> String {
        let kind = match self.cause {
            _ if self.tolerated => "tolerated write",
            Cause::Mount { .. } => "read-only write",
            Cause::Unfixable { .. } => "unfixable write",
        };
        format!("{kind}: {name}")
    }

    /// One sentence or three naming the path, the phase and the fix, for annotations and tests.
    pub fn message(&self, profile: &Profile) -> String {
        self.message_as(profile, &clean(self.path))
    }

    /// The message with the path given as `name`.
    pub fn message_as(&self, profile: &Profile, name: &str) -> String {
        let mut out = name.to_string();
        if self.write.is_some() {
            out.push_str(&format!(" ({})", self.when()));
        }
        out.push_str(&format!(
            " would fail under a read-only root on {}",
            clean(&profile.title)
        ));
        match self.cause {
            Cause::Mount { mount, .. } => {
                out.push_str(&format!(". Fix: mount {}.", describe_mount(mount)));
            }
            Cause::Unfixable { reason } => {
                out.push_str(&format!(", and no mount can fix it: {}.", clean(reason)));
            }
        }
        match self.write.and_then(|w| w.fatal) {
            Some(false) => out.push_str(" The proof ran the app without it: tolerated."),
            Some(true) => out.push_str(" The proof shows the app needs it: fatal."),
            None => {}
        }
        for r in &self.remedies {
            let lead = if self.is_error() { "Fix" } else { "Or" };
            out.push_str(&format!(
                " {lead} ({}): {}: {}",
                clean(&r.id),
                clean(&r.title),
                clean(&r.fix)
            ));
        }
        out
    }
}

/// `tmpfs /var/run (16 MiB, noexec,nosuid,nodev,uid=1000,gid=1000)` or `volume /data (64 MiB)`,
/// and what it starts with when that is the image's files.
pub(crate) fn describe_mount(m: &Mount) -> String {
    let kind = m.kind.as_str();
    let mut details = vec![];
    // A volume takes neither a size nor tmpfs options.
    if m.kind == MountKind::Tmpfs {
        if m.size_mib > 0 {
            details.push(format!("{} MiB", m.size_mib));
        }
        if !m.options.is_empty() {
            details.push(clean(&m.options.join(",")).into_owned());
        }
    }
    if m.state {
        details.push("persistent: holds state".to_string());
    }
    if let Some(seed) = super::seed::describe(m, &clean(&m.path)) {
        details.push(seed);
    }
    let mut out = format!("{kind} {}", clean(&m.path));
    if !details.is_empty() {
        out.push_str(&format!(" ({})", details.join(", ")));
    }
    out
}

/// What a failed proof tried: every planned mount, or nothing when nothing was planned.
pub(crate) fn proof_failed(report: &Report) -> &'static str {
    if report.plan.mounts.is_empty() {
        "it fails read-only, and no mount is planned"
    } else {
        "it fails read-only even with every planned mount"
    }
}

/// The verdict as a status word and what it means, in the proof's terms once it has run.
pub(crate) fn verdict_words(report: &Report) -> (&'static str, Cow<'static, str>) {
    match (report.plan.verdict, report.verification.as_ref()) {
        (Verdict::Compatible, None) => (
            "compatible",
            "nothing it wrote would fail under a read-only root".into(),
        ),
        (Verdict::Compatible, Some(_)) => (
            "compatible",
            "proven: it runs read-only with no mount".into(),
        ),
        (Verdict::NeedsMounts, None) => (
            "needs mounts",
            "every write that would fail can be given a mount".into(),
        ),
        (Verdict::NeedsMounts, Some(p)) => (
            "needs mounts",
            format!(
                "proven: it runs read-only with {}",
                plural(p.minimal_mounts.len(), "mount", "mounts")
            )
            .into(),
        ),
        (Verdict::NeedsChanges, None) => (
            "needs changes",
            "some writes cannot be fixed by a mount: the image or its configuration must change"
                .into(),
        ),
        (Verdict::NeedsChanges, Some(p)) if p.passed && !p.stand_ins.is_empty() => (
            "needs changes",
            format!(
                "data must move out of {}; once it has, proven: it runs read-only with {}",
                p.stand_ins.join(", "),
                match p.minimal_mounts.len() {
                    0 => "no mount".to_string(),
                    n => plural(n, "mount", "mounts"),
                }
            )
            .into(),
        ),
        (Verdict::NeedsChanges, Some(_)) => (
            "needs changes",
            format!(
                "{}: the image or its configuration must change",
                proof_failed(report)
            )
            .into(),
        ),
    }
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The one-line summary that closes the text, Markdown and GitHub outputs.
pub(crate) fn summary(report: &Report, profile: &Profile, findings: &[Finding]) -> String {
    let plan = &report.plan;
    let total = report.trace.writes.len();
    let failing = findings.iter().filter(|f| f.write.is_some()).count();
    let unfixable = findings
        .iter()
        .filter(|f| matches!(f.cause, Cause::Unfixable { .. }))
        .count();
    // Unproven, a mount that would hide the image's files is no part of the fix.
    let mounts = match report.verification {
        Some(_) => plan.mounts.len(),
        None => report.fix_mounts().len(),
    };
    let title = clean(&profile.title);
    let mut out = format!("{}: ", plan.verdict.as_str());
    if failing == 0 && unfixable == 0 {
        if total == 0 {
            out.push_str(&format!(
                "the image wrote nothing, so nothing would fail under a read-only root on {title}"
            ));
        } else {
            out.push_str(&format!(
                "none of the {} would fail under a read-only root on {title}",
                plural(total, "traced write", "traced writes")
            ));
        }
    } else {
        out.push_str(&format!(
            "{failing} of {} would fail under a read-only root on {title}; ",
            plural(total, "write", "writes")
        ));
        let proof_failed = report.verification.as_ref().is_some_and(|v| !v.passed);
        if proof_failed {
            out.push_str(&format!(
                "{} planned",
                plural(mounts, "mount is", "mounts are")
            ));
        } else if unfixable == 0 {
            let them = if failing == 1 { "it" } else { "them all" };
            out.push_str(&format!(
                "{} {}",
                plural(mounts, "mount fixes", "mounts fix"),
                them
            ));
        } else {
            out.push_str(&format!(
                "{} {} of them, {} cannot be fixed by a mount",
                plural(mounts, "mount fixes", "mounts fix"),
                failing.saturating_sub(unfixable),
                unfixable
            ));
        }
    }
    if let Some(v) = &report.verification {
        out.push_str(&format!(
            "; the proof ({}) ",
            plural(v.run_count as usize, "read-only run", "read-only runs")
        ));
        if v.passed {
            out.push_str(&match v.minimal_mounts.len() {
                0 => "passed with no mount".to_string(),
                n => format!("passed with {}", plural(n, "mount", "mounts")),
            });
            let tolerated = findings.iter().filter(|f| f.tolerated).count();
            if tolerated > 0 {
                out.push_str(&format!(", {tolerated} tolerated"));
            }
            let state = v.minimal_mounts.iter().filter(|m| m.state).count();
            if state > 0 {
                out.push_str(&format!(
                    ", data kept on {}",
                    plural(state, "persistent volume", "persistent volumes")
                ));
            }
        } else {
            out.push_str(&format!("failed: {}", proof_failed(report)));
        }
        if !v.harmful_mounts.is_empty() {
            let paths: Vec<&str> = v.harmful_mounts.iter().map(|h| h.path.as_str()).collect();
            out.push_str(&format!(
                "; the app fails with {} mounted: left out",
                paths.join(", ")
            ));
        }
    }
    if !plan.remedies.is_empty() {
        out.push_str(&format!(
            "; {}",
            plural(plan.remedies.len(), "remedy", "remedies")
        ));
    }
    out.push('.');
    if let Some(diff) = &report.baseline {
        out.push(' ');
        out.push_str(&baseline_summary(diff));
    }
    if !report.accepted.is_empty() {
        out.push(' ');
        out.push_str(&accepted_summary(&report.accepted));
    }
    out
}

/// Where a target is defined in a file of the repository (`FILE:LINE` of a spec or a config):
/// what SARIF results and annotations point at, so a reviewer lands on the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub file: &'a str,
    pub line: u64,
}

impl<'a> Place<'a> {
    pub fn of(defined_at: &'a str) -> Option<Place<'a>> {
        let (file, line) = defined_at.rsplit_once(':')?;
        let line = line.parse().ok().filter(|&l| l > 0)?;
        (!file.is_empty()).then_some(Place { file, line })
    }
}

/// How long a target's audit took, as a summary table shows it (nothing for a report that
/// does not say).
pub fn took(duration_ms: Option<u64>) -> String {
    duration_ms.map_or(String::new(), |ms| format!("{:.1} s", ms as f64 / 1000.0))
}

/// The accepted findings, each with the reason that lets it pass.
fn accepted_summary(accepted: &[Accepted]) -> String {
    let named: Vec<String> = accepted
        .iter()
        .map(|a| {
            let until = a
                .expires
                .as_deref()
                .map_or(String::new(), |d| format!(", until {d}"));
            format!("{} ({}{until})", finding_name(&a.finding), clean(&a.reason))
        })
        .collect();
    format!("Accepted, so failing nothing: {}.", named.join("; "))
}

fn finding_name(finding: &BaselineFinding) -> String {
    match finding {
        BaselineFinding::Verdict(v) => format!("verdict {}", v.as_str()),
        BaselineFinding::Mount(path) => format!("mount {}", clean(path)),
        BaselineFinding::Unfixable(dir) => format!("unfixable writes in {}", clean(dir)),
        BaselineFinding::Gate(name) => format!("gate {}", clean(name)),
    }
}

/// Against the baseline: what is new, named, and how much was there already.
fn baseline_summary(diff: &BaselineDiff) -> String {
    let known = plural(diff.known, "finding", "findings");
    if diff.new.is_empty() {
        return format!(
            "Against {}: nothing new ({known} already there).",
            clean(&diff.file)
        );
    }
    let named: Vec<String> = diff.new.iter().take(INLINE).map(finding_name).collect();
    let more = match diff.new.len().saturating_sub(INLINE) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    format!(
        "Against {}: {} new ({}{more}), {known} already there.",
        clean(&diff.file),
        diff.new.len(),
        named.join(", ")
    )
}

/// A name for a mount, derived from its path (`/var/run` → `var-run`), unique within the plan
/// and valid as a Kubernetes volume, compose volume and ECS volume name.
pub(crate) fn mount_names(mounts: &[&Mount]) -> Vec<String> {
    let mut names: Vec<String> = vec![];
    for m in mounts {
        let base = dns_label(&m.path, "root");
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            let suffix = format!("-{n}");
            name = format!("{}{suffix}", &base[..base.len().min(63 - suffix.len())]);
            n += 1;
        }
        names.push(name);
    }
    names
}

/// A container or service name from the image reference: `registry:5000/team/app:tag` → `app`.
pub(crate) fn container_name(report: &Report) -> String {
    let reference = &report.trace.image.reference;
    let last = reference.rsplit('/').next().unwrap_or(reference);
    let last = last.split('@').next().unwrap_or(last);
    let last = last.split(':').next().unwrap_or(last);
    dns_label(last, "app")
}

/// Lowercase letters, digits and single dashes, at most 63 characters.
fn dns_label(text: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(63);
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        fallback.to_string()
    } else {
        out.to_string()
    }
}

// What the formats for people show before they summarise. Each bound keeps a report readable
// (or postable) whatever the app writes; the JSON and YAML keep everything.

/// Sample paths on a line that stands for many writes.
pub(crate) const SAMPLES: usize = 3;
/// Items of an inline list (`a, b, c, d, e and 12 more`).
pub(crate) const INLINE: usize = 5;
/// Lines per list of writes: beyond it, the deepest directories roll up into their parents.
pub(crate) const GROUPS: usize = 8;
/// Once a proof has found the minimal set, a full cover of more mounts than this is summarised:
/// a Python app gives one unneeded mount per `__pycache__`.
pub(crate) const COVER_LISTED: usize = 10;
/// Distinct log lines shown per proof run: an app that fails a probe logs at every attempt.
pub(crate) const LOG_LINES: usize = 5;
/// GitHub keeps 50 annotations of a job and drops the rest without a word.
pub(crate) const ANNOTATIONS: usize = 50;
/// GitHub refuses a pull-request comment longer than this.
pub(crate) const COMMENT_LIMIT: usize = 65_536;

/// Whether the proof found that the app needs a planned mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// No passing proof has decided.
    Unproven,
    Needed,
    NotNeeded,
    /// The app fails with it: left out of the fix.
    Harmful,
}

impl Need {
    /// What the text and Markdown append to the mount.
    pub fn words(self) -> &'static str {
        match self {
            Need::Unproven => "",
            Need::Needed => " (needed)",
            Need::NotNeeded => " (not needed: the app ran without it)",
            Need::Harmful => " (harmful: the app fails with it)",
        }
    }
}

/// What makes the writes of a [`Section`] succeed, or that nothing can.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cover<'a> {
    /// A mount of the plan, as the proof knows it when it kept it.
    Mount {
        mount: &'a Mount,
        need: Need,
    },
    /// The mounts of the full cover that the proof found not needed, summarised.
    Unlisted {
        mounts: usize,
    },
    Unfixable,
}

/// The failing writes that one mount covers (or the unlisted mounts, or nothing), in the order
/// every format lists them.
pub(crate) struct Section<'f, 'a> {
    pub cover: Cover<'a>,
    pub findings: Vec<&'f Finding<'a>>,
}

/// Whether a proof passed with a minimal set and the full cover is too long to list beside it.
pub(crate) fn cover_summarised(report: &Report) -> bool {
    report.verification.as_ref().is_some_and(|v| v.passed)
        && report.plan.mounts.len() > COVER_LISTED
}

/// Every mount of the plan with its findings, the unneeded mounts of a summarised cover as one
/// section (unless `verbose`), then what no mount can fix.
pub(crate) fn sections<'f, 'a>(
    report: &'a Report,
    all: &'f [Finding<'a>],
    verbose: bool,
) -> Vec<Section<'f, 'a>> {
    let mounts = &report.plan.mounts;
    let mut covered: Vec<Vec<&'f Finding<'a>>> = vec![vec![]; mounts.len()];
    let mut unfixable = vec![];
    for f in all {
        match f.cause {
            Cause::Mount { index, .. } => covered[index].push(f),
            Cause::Unfixable { .. } => unfixable.push(f),
        }
    }
    let summarise = !verbose && cover_summarised(report);
    let (mut out, mut unlisted, mut unlisted_count) = (vec![], vec![], 0);
    for (m, findings) in mounts.iter().zip(covered) {
        let (mount, need) = need(report, m);
        if summarise && need == Need::NotNeeded {
            unlisted_count += 1;
            unlisted.extend(findings);
            continue;
        }
        out.push(Section {
            cover: Cover::Mount { mount, need },
            findings,
        });
    }
    if unlisted_count > 0 {
        out.push(Section {
            cover: Cover::Unlisted {
                mounts: unlisted_count,
            },
            findings: unlisted,
        });
    }
    if !unfixable.is_empty() {
        out.push(Section {
            cover: Cover::Unfixable,
            findings: unfixable,
        });
    }
    out
}

/// The mount as the proof kept it (it carries what the proof learnt), and whether it is needed.
fn need<'a>(report: &'a Report, m: &'a Mount) -> (&'a Mount, Need) {
    let Some(v) = &report.verification else {
        return (m, Need::Unproven);
    };
    if v.harmful_mounts.iter().any(|h| h.path == m.path) {
        return (m, Need::Harmful);
    }
    if !v.passed {
        return (m, Need::Unproven);
    }
    match v.minimal_mounts.iter().find(|p| p.path == m.path) {
        Some(proven) => (proven, Need::Needed),
        None => (m, Need::NotNeeded),
    }
}

/// What a line that stands for several writes stands for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Label<'a> {
    /// Writes in this directory, or below it once deeper ones rolled up (ends in `/`).
    Dir(String),
    /// Tolerated writes that this one remedy explains, wherever they are.
    Remedy(&'a Remedy),
    /// What is left when even the top directories are too many.
    Others,
}

/// Writes shown as one line.
pub(crate) struct Group<'f, 'a> {
    pub label: Label<'a>,
    pub members: Vec<&'f Finding<'a>>,
    /// How many directories the writes are in.
    pub dirs: usize,
}

/// Findings as lines: the tolerated writes one remedy explains (two or more) fold into one line
/// per remedy; the others group by directory, the deepest directories rolling up into their
/// parents until at most [`GROUPS`] lines are left (the rest, if the top directories alone are
/// too many, in one last line). Directories in path order, then folds, then the rest.
pub(crate) fn group<'f, 'a>(findings: &[&'f Finding<'a>]) -> Vec<Group<'f, 'a>> {
    let mut folds: Vec<(&'a Remedy, Vec<&'f Finding<'a>>)> = vec![];
    let mut loose = vec![];
    for &f in findings {
        match f.remedies.first() {
            Some(&r) if f.tolerated => match folds.iter_mut().find(|(k, _)| std::ptr::eq(*k, r)) {
                Some((_, members)) => members.push(f),
                None => folds.push((r, vec![f])),
            },
            _ => loose.push(f),
        }
    }
    let (folds, single): (Vec<_>, Vec<_>) = folds.into_iter().partition(|(_, m)| m.len() > 1);
    loose.extend(single.into_iter().flat_map(|(_, m)| m));

    // Directory -> (members, how many directories rolled into it).
    let mut dirs: BTreeMap<&str, (Vec<&'f Finding<'a>>, usize)> = BTreeMap::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for f in loose {
        let dir = parent(f.path);
        let entry = dirs.entry(dir).or_default();
        entry.0.push(f);
        if seen.insert(dir) {
            entry.1 += 1;
        }
    }
    while dirs.len() > GROUPS {
        let deepest = dirs.keys().map(|d| depth(d)).max().unwrap_or(0);
        if deepest <= 1 {
            break;
        }
        let mut rolled: BTreeMap<&str, (Vec<_>, usize)> = BTreeMap::new();
        for (dir, (members, n)) in dirs {
            let dir = if depth(dir) == deepest {
                parent(dir)
            } else {
                dir
            };
            let entry = rolled.entry(dir).or_default();
            entry.0.extend(members);
            entry.1 += n;
        }
        dirs = rolled;
    }
    let mut others: Option<Group> = None;
    if dirs.len() > GROUPS {
        // The biggest keep a line of their own.
        let mut by_size: Vec<_> = dirs.iter().map(|(d, (m, _))| (m.len(), *d)).collect();
        by_size.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let keep: HashSet<&str> = by_size.iter().take(GROUPS - 1).map(|(_, d)| *d).collect();
        let mut rest = Group {
            label: Label::Others,
            members: vec![],
            dirs: 0,
        };
        dirs.retain(|d, (members, n)| {
            if keep.contains(d) {
                return true;
            }
            rest.members.append(members);
            rest.dirs += *n;
            false
        });
        others = Some(rest);
    }
    let mut out: Vec<Group> = dirs
        .into_iter()
        .map(|(dir, (members, dirs))| Group {
            label: Label::Dir(if dir.ends_with('/') {
                dir.to_string()
            } else {
                format!("{dir}/")
            }),
            members,
            dirs,
        })
        .collect();
    out.extend(folds.into_iter().map(|(r, members)| {
        let dirs = members
            .iter()
            .map(|f| parent(f.path))
            .collect::<HashSet<_>>()
            .len();
        Group {
            label: Label::Remedy(r),
            members,
            dirs,
        }
    }));
    out.extend(others);
    out
}

/// The directory a path is in; `/` for a path directly in it.
fn parent(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((dir, _)) => dir,
    }
}

/// `/` is 0, `/var` 1, `/var/run` 2.
fn depth(dir: &str) -> usize {
    dir.split('/').filter(|c| !c.is_empty()).count()
}

impl Group<'_, '_> {
    /// Up to [`SAMPLES`] paths (relative to the group's directory) and how many more there are:
    /// from as many directories as it can, since a rolled-up line stands for all of them. The
    /// random names of one pattern are one sample, the pattern (`tmp* (3 names)`).
    pub fn samples(&self) -> (Vec<Sample>, usize) {
        // The random names of one pattern (see names::pattern) are one sample, the pattern.
        let mut names: HashMap<Cow<str>, HashSet<&str>> = HashMap::new();
        for f in &self.members {
            names
                .entry(names::pattern(f.path))
                .or_default()
                .insert(f.path);
        }
        let mut picked: Vec<(&Finding, Cow<str>)> = vec![];
        let mut dirs = HashSet::new();
        for &f in &self.members {
            if picked.len() == SAMPLES {
                break;
            }
            if dirs.insert(parent(f.path)) {
                picked.push((f, names::pattern(f.path)));
            }
        }
        for &f in &self.members {
            if picked.len() == SAMPLES {
                break;
            }
            // A file written twice (created, then modified at shutdown) is one sample.
            let name = names::pattern(f.path);
            if !picked.iter().any(|(_, p)| *p == name) {
                picked.push((f, name));
            }
        }
        let shown: Vec<Sample> = picked
            .iter()
            .map(|(f, name)| {
                let count = names.get(name).map_or(1, HashSet::len);
                let path = clean(if count > 1 { name } else { f.path });
                let path = match &self.label {
                    Label::Dir(dir) => path
                        .strip_prefix(dir.as_str())
                        .map_or_else(|| path.clone().into_owned(), |rel| rel.to_string()),
                    _ => path.into_owned(),
                };
                Sample { path, names: count }
            })
            .collect();
        let more = names.len().saturating_sub(shown.len());
        (shown, more)
    }

    /// `3 created` or `4 created, 1 modified, 2 transient`; bare `created` for a lone write.
    pub fn changes(&self) -> String {
        if let [f] = self.members[..] {
            return f.write.map_or("-", |w| w.change.as_str()).to_string();
        }
        let mut counts: BTreeMap<Change, usize> = BTreeMap::new();
        for w in self.members.iter().filter_map(|f| f.write) {
            *counts.entry(w.change).or_default() += 1;
        }
        counts
            .iter()
            .map(|(c, n)| format!("{n} {}", c.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `startup, probe (GET /work)`: each phase once, with the probes that wrote, each shown
    /// by `target` (plain text or a code span).
    pub fn phases(&self, target: impl Fn(&str) -> String) -> String {
        let mut phases: BTreeMap<Phase, BTreeSet<&str>> = BTreeMap::new();
        for w in self.members.iter().filter_map(|f| f.write) {
            let probes = phases.entry(w.phase).or_default();
            if let Some(p) = &w.probe {
                probes.insert(p);
            }
        }
        phases
            .iter()
            .map(|(phase, probes)| {
                if probes.is_empty() {
                    return phase.as_str().to_string();
                }
                let named: Vec<String> = probes
                    .iter()
                    .take(SAMPLES)
                    .map(|p| format!("GET {}", target(p)))
                    .collect();
                let more = probes.len().saturating_sub(SAMPLES);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                format!("{} ({}{more})", phase.as_str(), named.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The ids of the remedies that explain any of its writes, in the plan's order.
    pub fn remedy_ids(&self) -> Vec<Cow<'_, str>> {
        let mut out: Vec<&Remedy> = vec![];
        for r in self.members.iter().flat_map(|f| &f.remedies) {
            if !out.iter().any(|o| std::ptr::eq(*o, *r)) {
                out.push(r);
            }
        }
        out.iter().map(|r| clean(&r.id)).collect()
    }

    /// The app ran without every one of them.
    pub fn tolerated(&self) -> bool {
        self.members.iter().all(|f| f.tolerated)
    }

    /// Why no mount fixes them: the first member's reason, and how many members have another.
    /// Reasons name their own path, so they are compared with it taken out.
    pub fn reasons(&self) -> Option<(Cow<'_, str>, usize)> {
        let reason = |f: &Finding| match f.cause {
            Cause::Unfixable { reason } => Some(reason.replace(f.path, "\u{0}")),
            Cause::Mount { .. } => None,
        };
        let first = self.members.first()?;
        let shape = reason(first)?;
        let other = self
            .members
            .iter()
            .filter(|f| reason(f).is_some_and(|r| r != shape))
            .count();
        match first.cause {
            Cause::Unfixable { reason } => Some((clean(reason), other)),
            Cause::Mount { .. } => None,
        }
    }

    /// For an inline list: the path of a lone write, else `3 writes in /var/cache/app/`,
    /// `248 writes python-bytecode explains` or `12 writes elsewhere`.
    pub fn short(&self) -> String {
        if let [f] = self.members[..] {
            return clean(f.path).into_owned();
        }
        let n = plural(self.members.len(), "write", "writes");
        match &self.label {
            Label::Dir(dir) => format!("{n} in {}", clean(dir)),
            Label::Remedy(r) => format!("{n} {} explains", clean(&r.id)),
            Label::Others => format!("{n} elsewhere"),
        }
    }

    /// What the line stands for: `/var/lib/app/`, `/var/cache/app/ (300 directories)`,
    /// `tolerated, python-bytecode (124 directories)` or `elsewhere (9 directories)`.
    pub fn headline(&self) -> String {
        let dirs = if self.dirs > 1 {
            format!(" ({} directories)", self.dirs)
        } else {
            String::new()
        };
        match &self.label {
            Label::Dir(dir) => format!("{}{dirs}", clean(dir)),
            Label::Remedy(r) => format!("tolerated, {}{dirs}", clean(&r.id)),
            Label::Others => format!("elsewhere{dirs}"),
        }
    }
}

/// A path a line shows for its writes (relative to the line's directory): one path, or the
/// pattern of several random names and how many they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sample {
    pub path: String,
    pub names: usize,
}

impl Sample {
    /// ` (3 names)` after a pattern; nothing after a path.
    pub fn count(&self) -> String {
        match self.names {
            0 | 1 => String::new(),
            n => format!(" ({n} names)"),
        }
    }
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.path, self.count())
    }
}

/// A log line and how many times it came, in the order lines first came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogLine<'a> {
    pub line: Cow<'a, str>,
    pub count: usize,
}

/// Identical lines once each with their count, the first `cap` distinct ones (all without a
/// cap), and how many distinct lines and lines in all were left out.
pub(crate) fn dedup_logs<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    cap: Option<usize>,
) -> (Vec<LogLine<'a>>, usize, usize) {
    let mut out: Vec<LogLine> = vec![];
    let mut index: HashMap<&str, usize> = HashMap::new();
    for line in lines {
        match index.get(line) {
            Some(&i) => out[i].count += 1,
            None => {
                index.insert(line, out.len());
                out.push(LogLine {
                    line: clean(line),
                    count: 1,
                });
            }
        }
    }
    let keep = cap.unwrap_or(usize::MAX).min(out.len());
    let dropped: Vec<LogLine> = out.split_off(keep);
    let lines_dropped = dropped.iter().map(|l| l.count).sum();
    (out, dropped.len(), lines_dropped)
}

/// The log lines of a run in one line: `a (312 times) | b | and 3 more distinct lines`.
pub(crate) fn log_summary<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let (shown, more, _) = dedup_logs(lines, Some(LOG_LINES));
    let mut parts: Vec<String> = shown.iter().map(LogLine::to_string).collect();
    if more > 0 {
        parts.push(format!(
            "and {}",
            plural(more, "more distinct line", "more distinct lines")
        ));
    }
    parts.join(" | ")
}

impl std::fmt::Display for LogLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.count {
            1 => write!(f, "{}", self.line),
            n => write!(f, "{} ({n} times)", self.line),
        }
    }
}

/// Up to `shown` items, comma-separated, and how many more there are.
pub(crate) fn some<T: std::fmt::Display>(items: impl Iterator<Item = T>, shown: usize) -> String {
    some_joined(items, shown, ", ")
}

/// Up to `shown` items joined with `sep`, and how many more there are.
pub(crate) fn some_joined<T: std::fmt::Display>(
    items: impl Iterator<Item = T>,
    shown: usize,
    sep: &str,
) -> String {
    let mut out = vec![];
    let mut more = 0;
    for item in items {
        if out.len() < shown {
            out.push(item.to_string());
        } else {
            more += 1;
        }
    }
    let mut out = out.join(sep);
    if more > 0 {
        out.push_str(&format!(" and {more} more"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    #[test]
    fn findings_link_mounts_unfixable_and_remedies() {
        let (report, _) = testdata::needs_changes();
        let f = findings(&report);
        // /tmp is declared, so 7 of 8 writes fail.
        assert_eq!(f.len(), 7);
        let old = f.iter().find(|f| f.path == "/etc/app/old.conf").unwrap();
        assert!(old.is_error());
        assert_eq!(old.remedies[0].id, "root-writes-system-paths");
        let log = f
            .iter()
            .find(|f| f.path == "/var/lib/app/requests.log")
            .unwrap();
        assert_eq!(log.mount().unwrap().path, "/var/lib/app");
        assert_eq!(log.when(), "probe, created by GET /work");
    }

    #[test]
    fn names_derive_from_paths() {
        let (report, _) = testdata::needs_mounts();
        assert_eq!(
            mount_names(&report.plan.mounts.iter().collect::<Vec<_>>()),
            ["data", "tmp", "var-cache-app", "var-lib-app", "var-run"]
        );
        assert_eq!(container_name(&report), "phases");
    }

    fn finding(path: &str) -> Finding<'static> {
        let write = Box::leak(Box::new(crate::model::testing::write(path)));
        Finding {
            path: &write.path,
            write: Some(write),
            cause: Cause::Unfixable { reason: UNPLANNED },
            remedies: vec![],
            tolerated: false,
        }
    }

    fn labels(groups: &[Group]) -> Vec<String> {
        groups
            .iter()
            .map(|g| match &g.label {
                Label::Dir(d) => format!("{d} {}/{}", g.members.len(), g.dirs),
                Label::Remedy(r) => format!("{} {}/{}", r.id, g.members.len(), g.dirs),
                Label::Others => format!("others {}/{}", g.members.len(), g.dirs),
            })
            .collect()
    }

    #[test]
    fn a_directory_is_one_line_and_deep_ones_roll_up_into_their_parents() {
        let mut all: Vec<Finding> = (0..600)
            .map(|i| finding(&format!("/var/cache/app/{:03}/f{i}", i % 300)))
            .collect();
        all.push(finding("/var/run/app.pid"));
        all.push(finding("/var/run/app.sock"));
        let refs: Vec<&Finding> = all.iter().collect();
        let groups = group(&refs);
        assert_eq!(
            labels(&groups),
            ["/var/cache/app/ 600/300", "/var/run/ 2/1"]
        );
        let (samples, more) = groups[0].samples();
        let samples: Vec<String> = samples.iter().map(ToString::to_string).collect();
        // One from each of the first directories, relative to the line's own.
        assert_eq!(samples, ["000/f0", "001/f1", "002/f2"]);
        assert_eq!(more, 597);
        assert_eq!(groups[0].changes(), "600 created");
        assert_eq!(groups[0].phases(str::to_string), "startup");
        assert_eq!(groups[0].headline(), "/var/cache/app/ (300 directories)");
        assert_eq!(groups[1].short(), "2 writes in /var/run/");
    }

    #[test]
    fn random_names_of_one_pattern_are_one_sample() {
        let all: Vec<Finding> = [
            "/tmp/tmpab12cd_e",
            "/tmp/tmpzz11yy_x",
            "/tmp/app.pid",
            "/tmp/tmpq9w8e7_r",
            "/tmp/.tmpcXFCmN",
        ]
        .iter()
        .map(|p| finding(p))
        .collect();
        let refs: Vec<&Finding> = all.iter().collect();
        let groups = group(&refs);
        assert_eq!(labels(&groups), ["/tmp/ 5/1"]);
        let (samples, more) = groups[0].samples();
        let samples: Vec<String> = samples.iter().map(ToString::to_string).collect();
        // A lone random name is shown as it is.
        assert_eq!(samples, ["tmp* (3 names)", "app.pid", ".tmpcXFCmN"]);
        assert_eq!(more, 0);
        assert_eq!(groups[0].changes(), "5 created");
    }

    #[test]
    fn few_directories_are_not_rolled_up() {
        let all: Vec<Finding> = ["/a/x/1", "/a/x/2", "/a/y/1", "/b/1"]
            .iter()
            .map(|p| finding(p))
            .collect();
        let refs: Vec<&Finding> = all.iter().collect();
        assert_eq!(labels(&group(&refs)), ["/a/x/ 2/1", "/a/y/ 1/1", "/b/ 1/1"]);
    }

    #[test]
    fn too_many_top_directories_keep_the_biggest_and_put_the_rest_elsewhere() {
        let all: Vec<Finding> = (0..40)
            .map(|i| finding(&format!("/d{:02}/f{i}", i % 20)))
            .chain((0..5).map(|i| finding(&format!("/big/f{i}"))))
            .collect();
        let refs: Vec<&Finding> = all.iter().collect();
        let groups = group(&refs);
        assert_eq!(groups.len(), GROUPS);
        assert_eq!(labels(&groups)[0], "/big/ 5/1");
        assert_eq!(labels(&groups)[GROUPS - 1], "others 28/14");
        let total: usize = groups.iter().map(|g| g.members.len()).sum();
        assert_eq!(total, 45, "every write is on some line");
    }

    #[test]
    fn tolerated_writes_one_remedy_explains_fold_into_one_line() {
        let (report, _) = testdata::scale::python_app(124);
        let all = findings(&report);
        let refs: Vec<&Finding> = all.iter().collect();
        let groups = group(&refs);
        let labels = labels(&groups);
        assert!(
            labels.contains(&"python-bytecode 248/124".to_string()),
            "{labels:?}"
        );
        let fold = groups
            .iter()
            .find(|g| matches!(g.label, Label::Remedy(_)))
            .unwrap();
        assert!(fold.tolerated());
        assert_eq!(fold.changes(), "124 created, 124 transient");
        assert_eq!(fold.short(), "248 writes python-bytecode explains");
        // What the app needs never folds: it stays where one can see it.
        assert!(
            labels.contains(&"/var/run/app/ 1/1".to_string()),
            "{labels:?}"
        );
    }

    #[test]
    fn a_proven_full_cover_of_many_mounts_is_summarised_unless_verbose() {
        let (report, _) = testdata::scale::python_app(124);
        let all = findings(&report);
        assert!(cover_summarised(&report));
        let sections = sections(&report, &all, false);
        let covers: Vec<String> = sections
            .iter()
            .map(|s| match s.cover {
                Cover::Mount { mount, need } => format!("{} {need:?}", mount.path),
                Cover::Unlisted { mounts } => format!("{mounts} unlisted"),
                Cover::Unfixable => "unfixable".to_string(),
            })
            .collect();
        assert_eq!(
            covers,
            ["/var/lib/app Needed", "/var/run/app Needed", "126 unlisted"]
        );
        assert_eq!(sections[2].findings.len(), 250);
        assert_eq!(super::sections(&report, &all, true).len(), 128);
        // A cover of ten or fewer is listed whole, and so is an unproven one.
        assert!(!cover_summarised(&testdata::scale::python_app(6).0));
        let (mut unproven, _) = testdata::scale::python_app(124);
        unproven.verification = None;
        assert!(!cover_summarised(&unproven));
    }

    #[test]
    fn log_lines_are_counted_once_and_capped() {
        let lines = ["a", "b", "a", "c", "a", "d", "e", "f", "b", "g"];
        let (shown, more, more_lines) = dedup_logs(lines, Some(3));
        let shown: Vec<String> = shown.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["a (3 times)", "b (2 times)", "c"]);
        assert_eq!((more, more_lines), (4, 4));
        let (all, more, _) = dedup_logs(lines, None);
        assert_eq!((all.len(), more), (7, 0));
        assert_eq!(
            log_summary(std::iter::repeat_n("x\x1b", 300)),
            "x\\x1b (300 times)"
        );
    }

    #[test]
    fn verify_checks_count_a_repeated_log_line_once() {
        let (report, _) = testdata::scale::python_app(0);
        let checks = proof_checks(report.verification.as_ref().unwrap());
        let logs = checks.last().unwrap().failure.as_deref().unwrap();
        assert_eq!(
            logs,
            "fixture: cannot write /var/run/app/app.pid: Read-only file system (os error 30) \
             (300 times) | worker 0: cannot write /var/run/app/app.pid: Read-only file system | \
             worker 1: cannot write /var/run/app/app.pid: Read-only file system | worker 2: \
             cannot write /var/run/app/app.pid: Read-only file system | worker 3: cannot write \
             /var/run/app/app.pid: Read-only file system | and 4 more distinct lines"
        );
    }

    #[test]
    fn findings_of_a_large_trace_link_each_write_to_its_mount() {
        let (report, _) = testdata::scale::many_writes(20_000, 100);
        let all = findings(&report);
        assert_eq!(all.len(), 20_000);
        assert!(all.iter().all(|f| f.mount().is_some()));
    }
}
