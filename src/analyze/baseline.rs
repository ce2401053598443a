//! `--baseline REPORT.json`: what an audit finds that an earlier report did not, so that a CI gate
//! fails on regressions, not on history.
//!
//! A finding is named by what does not change from run to run: a mount of the fix by its path,
//! writes no mount fixes by their directory, a runtime gate by its name, and the verdict. Writes
//! are not compared one by one: a launcher's temp file has a new random name at every run, but
//! it lands in the same directory. A path whose last component is a random name (a mount at a
//! temp directory, writes inside one) is named by its pattern ([`names::pattern`]): several of
//! them are one finding, and the next run's is the same one.

use super::names;
use crate::model::{BaselineDiff, BaselineFinding, Report};

/// The finding of a mount at `path`.
pub fn mount_finding(path: &str) -> BaselineFinding {
    BaselineFinding::Mount(names::pattern(path).into_owned())
}

/// The finding of a write at `path` that no mount fixes: its directory's.
pub fn unfixable_finding(path: &str) -> BaselineFinding {
    let dir = match path.rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((dir, _)) => dir,
    };
    BaselineFinding::Unfixable(names::pattern(dir).into_owned())
}

/// The findings of `report` that count, verdict aside: writes the proof showed the app
/// tolerates are none, and accepted findings do not count.
pub fn findings(report: &Report) -> Vec<BaselineFinding> {
    let mut found = all_findings(report);
    found.retain(|f| !report.accepted.iter().any(|a| &a.finding == f));
    found
}

/// Every finding of `report`, accepted or not, verdict aside.
pub fn all_findings(report: &Report) -> Vec<BaselineFinding> {
    let mut found: Vec<BaselineFinding> = report
        .fix_mounts()
        .into_iter()
        .map(|m| mount_finding(&m.path))
        .collect();
    let tolerated = |path: &str| {
        let mut writes = report.trace.writes.iter();
        writes.any(|w| w.path == path && w.fatal == Some(false))
    };
    found.extend(
        report
            .plan
            .unfixable
            .iter()
            .filter(|u| !tolerated(&u.path))
            .map(|u| unfixable_finding(&u.path)),
    );
    if let Some(v) = &report.verification {
        let gates = std::iter::once(&v.gates.startup)
            .chain(&v.gates.probes)
            .chain(&v.gates.shutdown);
        found.extend(
            gates
                .filter(|g| !g.ok)
                .map(|g| BaselineFinding::Gate(g.name.clone())),
        );
    }
    found.sort();
    found.dedup();
    found
}

/// What `report` finds that `baseline` (read from `file`) does not.
pub fn compare(report: &Report, baseline: &Report, file: &str) -> BaselineDiff {
    // Every mount the baseline planned: a proven baseline's fix holds fewer mounts than a plan
    // judged again without a proof (`suggest`).
    let mut before = all_findings(baseline);
    let planned = baseline.plan.mounts.iter();
    before.extend(planned.map(|m| mount_finding(&m.path)));
    let (known, mut new): (Vec<BaselineFinding>, Vec<BaselineFinding>) = findings(report)
        .into_iter()
        .partition(|f| before.contains(f));
    // A worse verdict that only accepted findings make is no regression.
    if report.plan.verdict > baseline.plan.verdict
        && (report.accepted.is_empty() || !new.is_empty())
    {
        new.insert(0, BaselineFinding::Verdict(report.plan.verdict));
    }
    BaselineDiff {
        file: file.to_string(),
        new,
        known: known.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;
    use crate::report::testdata;

    #[test]
    fn a_report_against_itself_has_nothing_new() {
        for (name, (report, _)) in testdata::all() {
            let diff = compare(&report, &report, "base.json");
            assert_eq!(diff.new, [], "{name}");
            assert_eq!(diff.known, findings(&report).len(), "{name}");
        }
    }

    #[test]
    fn new_mounts_unfixable_writes_failed_gates_and_a_worse_verdict_are_new() {
        let (compatible, _) = testdata::compatible();
        let (needs_changes, _) = testdata::needs_changes();
        let diff = compare(&needs_changes, &compatible, "base.json");
        assert_eq!(diff.known, 0);
        assert_eq!(diff.new[0], BaselineFinding::Verdict(Verdict::NeedsChanges));
        assert!(diff
            .new
            .contains(&BaselineFinding::Mount("/var/cache/app".into())));
        assert!(diff
            .new
            .contains(&BaselineFinding::Unfixable("/etc/app".into())));
        assert!(diff.new.iter().any(BaselineFinding::needs_changes));
        // The other way round, fewer findings are no regression.
        assert_eq!(compare(&compatible, &needs_changes, "base.json").new, []);
    }

    #[test]
    fn the_plan_judged_again_without_a_proof_is_nothing_new_against_its_proven_report() {
        let (proven, profile) = testdata::proven();
        let catalogue = crate::analyze::Catalogue::builtin();
        let rejudged = crate::analyze::analyze(proven.trace.clone(), &profile, &[], &catalogue);
        assert!(rejudged.fix_mounts().len() > proven.fix_mounts().len());
        assert_eq!(compare(&rejudged, &proven, "base.json").new, []);
    }

    #[test]
    fn a_run_that_names_its_temp_files_anew_has_nothing_new() {
        let (before, _) = testdata::random_names(0);
        let (after, _) = testdata::random_names(1);
        let diff = compare(&after, &before, "base.json");
        assert_eq!(diff.new, []);
        assert_eq!(diff.known, findings(&after).len());
        // uv's temp directory (a new name at every run) is inside the image's venv: the mount
        // goes over the venv, a proposal, named by the directory that does recur.
        let venv = BaselineFinding::Unfixable("/app/.venv".into());
        assert!(findings(&after).contains(&venv), "{:?}", findings(&after));
        // Writes no mount fixes, in two temp directories of one pattern: one finding.
        let mut report = after.clone();
        report.plan.unfixable = ["/opt/tmpab12cd_e/a.conf", "/opt/tmpzz11yy_x/b.conf"]
            .map(|path| crate::model::Unfixable {
                path: path.into(),
                moves_from: None,
                reason: "no mount can go there".into(),
            })
            .to_vec();
        let unfixable: Vec<BaselineFinding> = findings(&report)
            .into_iter()
            .filter(|f| matches!(f, BaselineFinding::Unfixable(_)))
            .collect();
        assert_eq!(unfixable, [BaselineFinding::Unfixable("/opt/tmp*".into())]);
    }

    #[test]
    fn a_gate_that_fails_now_is_new() {
        let (mut report, _) = testdata::proven();
        let baseline = report.clone();
        let gates = &mut report.verification.as_mut().unwrap().gates;
        gates.startup.ok = false;
        let diff = compare(&report, &baseline, "base.json");
        assert_eq!(diff.new, [BaselineFinding::Gate("startup".into())]);
        assert!(!diff.new[0].needs_changes());
    }
}
