//! Analyze: judge a trace for a platform profile (which writes would fail), plan the mounts that
//! fix what a mount can fix, and name the root causes.

pub mod accept;
pub mod baseline;
mod kinds;
mod mounts;
pub mod names;
pub mod remedies;

use std::collections::HashSet;

use crate::model::{
    Change, FileType, MultiReport, Plan, Report, TmpfsSpec, Trace, Verdict, WriteKind,
};
use crate::profile::Profile;

pub use kinds::restart_note;
pub use mounts::seeded;
pub use remedies::Catalogue;

/// Judges `trace` for `profile`. `declared` are mount points the audited configuration already
/// has; writes under them are covered.
pub fn analyze(
    mut trace: Trace,
    profile: &Profile,
    declared: &[TmpfsSpec],
    catalogue: &Catalogue,
) -> Report {
    for w in &mut trace.writes {
        let covered = profile.is_writable(&w.path)
            || declared.iter().any(|d| d.covers(&w.path))
            || (w.volume && profile.image_volumes_writable);
        w.would_fail = Some(!covered);
        // A proof read back from a report (suggest --from) proved another judgement.
        w.fatal = None;
        w.kind = kinds::classify(w);
    }
    // A file modified without being created first was the image's (or a volume's seed). A
    // directory the app wrote in and left as it found it (a temporary file made and removed)
    // hides nothing of the image's by being mounted over: what it holds is counted apart.
    let made: HashSet<&str> = trace
        .writes
        .iter()
        .filter(|w| matches!(w.change, Change::Created | Change::Transient))
        .map(|w| w.path.as_str())
        .collect();
    let modified = trace
        .writes
        .iter()
        .filter(|w| w.change == Change::Modified && !w.volume && w.file_type != FileType::Dir)
        .filter(|w| !made.contains(w.path.as_str()))
        .map(|w| w.path.as_str())
        .collect();
    let failing: Vec<&crate::model::Write> = trace
        .writes
        .iter()
        .filter(|w| w.would_fail == Some(true))
        .collect();
    let planner = mounts::Planner {
        dirs: trace
            .image_dirs
            .iter()
            .map(|d| (d.path.as_str(), d))
            .collect(),
        profile,
        run: &trace.run,
        volumes: &trace.image.volumes,
        modified,
    };
    // State in a declared VOLUME does not fail where the platform makes image VOLUMEs writable,
    // but such a volume goes with its container: the data needs a volume of its own.
    let kept: Vec<&crate::model::Write> = trace
        .writes
        .iter()
        .filter(|w| w.would_fail == Some(false) && w.volume && w.kind == Some(WriteKind::State))
        .collect();
    let (mounts, unfixable) = planner.plan(&[&failing[..], &kept[..]].concat());
    let remedies = catalogue.matches(&trace, &failing);
    let verdict = if failing.is_empty() && mounts.is_empty() {
        Verdict::Compatible
    } else if !unfixable.is_empty() {
        Verdict::NeedsChanges
    } else {
        Verdict::NeedsMounts
    };
    let plan = Plan {
        profile: profile.name.clone(),
        verdict,
        mounts,
        declared_mounts: declared.to_vec(),
        remedies,
        unfixable,
    };
    Report {
        trace,
        plan,
        verification: None,
        baseline: None,
        accepted: vec![],
    }
}

crate::choice::choice_enum! {
    /// When a verdict fails a CI gate.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum FailOn {
        NeedsMounts = "needs-mounts": "any write that would fail (needs-mounts or needs-changes)",
        NeedsChanges = "needs-changes": "only what no mount can fix",
        Never = "never": "never: report only",
    }
}

impl FailOn {
    /// 1 when the report fails this gate, else 0. Against a baseline only what is new counts;
    /// accepted findings never count.
    pub fn exit_code(self, report: &Report) -> i32 {
        let fails = match (self, &report.baseline) {
            (FailOn::Never, _) => false,
            (_, None) if !report.accepted.is_empty() => {
                // A failed proof is no finding an entry can accept.
                let failed = report.verification.as_ref().is_some_and(|v| !v.passed);
                let mut open = baseline::findings(report).into_iter();
                match self {
                    FailOn::NeedsMounts => failed || open.next().is_some(),
                    _ => {
                        report.plan.verdict == Verdict::NeedsChanges
                            && (failed
                                || open.any(|f| {
                                    f.needs_changes()
                                        || matches!(f, crate::model::BaselineFinding::Gate(_))
                                }))
                    }
                }
            }
            (FailOn::NeedsMounts, None) => report.plan.verdict != Verdict::Compatible,
            (FailOn::NeedsChanges, None) => report.plan.verdict == Verdict::NeedsChanges,
            (FailOn::NeedsMounts, Some(diff)) => !diff.new.is_empty(),
            (FailOn::NeedsChanges, Some(diff)) => {
                report.plan.verdict == Verdict::NeedsChanges
                    && diff.new.iter().any(|f| f.needs_changes())
            }
        };
        i32::from(fails)
    }

    /// The worst exit code of several reports.
    pub fn worst(self, multi: &MultiReport) -> i32 {
        let codes = multi.targets.iter().map(|t| self.exit_code(&t.report));
        codes.max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    /// The analyzer's golden: every recorded report's trace, judged again for its profile,
    /// gives the recorded plan. A proof decides the verdict, marks writes fatal and picks among
    /// the planned mounts; the rest of the plan is the analyzer's own.
    #[test]
    fn accepted_findings_pass_but_a_failed_proof_never_does() {
        let (mut report, _) = testdata::proven();
        let findings = baseline::all_findings(&report);
        let all: Vec<accept::Accept> = ["/**"]
            .iter()
            .map(|p| accept::Accept {
                path: p.to_string(),
                target: None,
                reason: "all of it".into(),
                expires: None,
            })
            .collect();
        accept::apply(&mut report, &findings, &all);
        assert!(!report.accepted.is_empty());
        assert_eq!(FailOn::NeedsMounts.exit_code(&report), 0);
        report.verification.as_mut().unwrap().passed = false;
        assert_eq!(FailOn::NeedsMounts.exit_code(&report), 1);
    }

    #[test]
    fn every_recorded_trace_judged_again_gives_the_recorded_plan() {
        for (name, (report, profile)) in testdata::all() {
            let declared = report.plan.declared_mounts.clone();
            let again = analyze(
                report.trace.clone(),
                &profile,
                &declared,
                &Catalogue::builtin(),
            );
            let mut recorded = report.plan.clone();
            if report.verification.is_some() {
                // The proof's verdict overrides the analyzer's.
                recorded.verdict = again.plan.verdict;
            }
            assert_eq!(
                serde_json::to_value(&again.plan).unwrap(),
                serde_json::to_value(&recorded).unwrap(),
                "{name}: the analyzer's plan differs from the recorded one"
            );
            // And what it says of each write.
            let judged = |r: &Report| -> Vec<(String, Option<bool>, Option<WriteKind>)> {
                let writes = r.trace.writes.iter();
                writes
                    .map(|w| (w.path.clone(), w.would_fail, w.kind))
                    .collect()
            };
            assert_eq!(
                judged(&again),
                judged(&report),
                "{name}: the writes' judgement differs"
            );
        }
    }

    #[test]
    fn a_rejudged_report_keeps_no_verdict_of_the_old_proof() {
        let (report, _) = testdata::proven();
        assert!(report.trace.writes.iter().any(|w| w.fatal.is_some()));
        let docker = crate::profile::load("docker").unwrap();
        let rejudged = analyze(report.trace, &docker, &[], &Catalogue::builtin());
        assert!(rejudged.verification.is_none());
        assert!(rejudged.trace.writes.iter().all(|w| w.fatal.is_none()));
    }
}
