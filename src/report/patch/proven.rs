//! What of an audit a patch merges: each target whose proof passed, and the mounts its fix
//! adds to those the spec already has.

use anyhow::Result;

use crate::model::{Mount, Report, TargetReport};
use crate::report::findings::mount_names;

/// Merges each proven target's fix into `spec` with `merge`, which is given the target's place
/// in the spec (`None`: the target is not of the spec) and returns what the reader must know of
/// it. A target without a passing proof, or whose fix `merge` refuses, is left as it was; the
/// notes say which, and why.
pub(super) fn patch_each<'a, S: Clone, P>(
    spec: &mut S,
    targets: impl IntoIterator<Item = (&'a TargetReport, Option<P>)>,
    mut merge: impl FnMut(&mut S, P, &TargetReport) -> Result<Vec<String>>,
) -> Vec<String> {
    let mut notes = vec![];
    for (target, place) in targets {
        let Some(place) = place else {
            continue;
        };
        if !target
            .report
            .verification
            .as_ref()
            .is_some_and(|v| v.passed)
        {
            notes.push(format!(
                "{}: not patched: no read-only run passed with the planned mounts (see its \
                 report)",
                target.name
            ));
            continue;
        }
        let before = spec.clone();
        match merge(spec, place, target) {
            Ok(said) => notes.extend(said.iter().map(|n| format!("{}: {n}", target.name))),
            Err(e) => {
                *spec = before;
                notes.push(format!(
                    "{}: not patched: {e}; merge its fix by hand",
                    target.name
                ));
            }
        }
    }
    notes
}

/// The mounts of `report`'s fix, each with its volume name, less those at a mount point in
/// `mounted`: a mount the spec already declares stays as the spec has it.
pub(super) fn new_mounts<'a>(report: &'a Report, mounted: &[&str]) -> Vec<(&'a Mount, String)> {
    let mounts = report.fix_mounts();
    let names = mount_names(&mounts);
    mounts
        .into_iter()
        .zip(names)
        .filter(|(m, _)| !mounted.contains(&m.path.as_str()))
        .collect()
}
