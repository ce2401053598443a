//! What every problem-listing renderer shares: the findings (failing writes, each linked to the
//! mount that fixes it or the reason nothing can, and to its remedies), their wording, the
//! summary line, and the names that fix snippets derive from paths.
//!
//! Free text here goes through [`clean`]: paths in the model are already escaped, but remedy
//! titles and reasons are prose from the planner, and nothing rendered may carry a control
//! character.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::model::{
    escape_text, is_within, resolve, Gate, Mount, MountKind, Remedy, Report, Verdict, Verification,
    Write,
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
    /// `plan.mounts[index]` makes the write succeed.
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
                Cause::Mount {
                    index,
                    mount: &plan.mounts[index],
                }
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
    let erofs: Vec<_> = run.erofs_lines.iter().map(|l| clean(&l.line)).collect();
    checks.push(ProofCheck {
        name: "no read-only errors in the logs".to_string(),
        ms: None,
        failure: (!erofs.is_empty()).then(|| erofs.join(" | ")),
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
pub(crate) fn tolerated(report: &Report) -> impl Iterator<Item = &Write> {
    let mut seen = std::collections::HashSet::new();
    report
        .trace
        .writes
        .iter()
        .filter(|w| w.would_fail == Some(true) && w.fatal == Some(false))
        .filter(move |w| seen.insert(w.path.as_str()))
}

impl<'a> Finding<'a> {
    /// No mount fixes it, and the app is not known to run without it.
    pub fn is_error(&self) -> bool {
        matches!(self.cause, Cause::Unfixable { .. }) && !self.tolerated
    }

    /// SARIF's level: error, warning, or note for what the app tolerates.
    pub fn level(&self) -> &'static str {
        if self.is_error() {
            "error"
        } else if self.tolerated {
            "note"
        } else {
            "warning"
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
        let kind = match self.cause {
            _ if self.tolerated => "tolerated write",
            Cause::Mount { .. } => "read-only write",
            Cause::Unfixable { .. } => "unfixable write",
        };
        format!("{kind}: {}", clean(self.path))
    }

    /// One sentence or three naming the path, the phase and the fix, for annotations and tests.
    pub fn message(&self, profile: &Profile) -> String {
        let mut out = clean(self.path).into_owned();
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

/// `tmpfs /var/run (16 MiB, noexec,nosuid,nodev,uid=1000,gid=1000)` or `volume /data (64 MiB)`.
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
    let mounts = plan.mounts.len();
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
    out
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
}
