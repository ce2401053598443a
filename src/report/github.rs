//! GitHub Actions workflow commands: one annotation per mount (`::warning`, `::notice` for what
//! the app tolerates) and per write no mount can fix (`::error`), at most 50 with the closing
//! `::notice` that sums up and counts what was left out. Data and properties are escaped as the
//! runner's toolkit does (`%`, CR and LF; properties also `:` and `,`), after any other control
//! character has become `\xNN` text, so nothing from the trace can end a command line early or
//! start a new command.

use std::fmt::Write as _;

use super::escape::{escape_data, escape_property};
use super::findings::{self, clean, Cover, Finding, Level, Need, Place};
use crate::model::{Check, Mount, Remedy, Report};
use crate::profile::Profile;

/// One workflow command: `::{command} title={title}::{message}`.
struct Annotation {
    level: Level,
    title: String,
    message: String,
}

impl Annotation {
    fn new(level: Level, title: String, message: String) -> Self {
        Annotation {
            level,
            title,
            message,
        }
    }

    fn command(&self) -> &'static str {
        match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "notice",
        }
    }

    /// Errors are kept first when some annotations must go.
    fn rank(&self) -> u8 {
        match self.level {
            Level::Error => 0,
            Level::Warning => 1,
            Level::Note => 2,
        }
    }
}

/// One annotation per mount (per write where a mount covers one, or nothing can fix it), at
/// most [`findings::ANNOTATIONS`] with the closing summary: errors first when some must go.
/// Where the target comes from a spec, each annotation points at its `place`.
pub fn report(r: &Report, profile: &Profile, place: Option<Place>) -> String {
    let all = findings::findings(r);
    let mut notes = vec![];
    if let Some(failure) = r.verification.as_ref().and_then(|v| v.failure.as_deref()) {
        notes.push(Annotation::new(
            Level::Error,
            "read-only proof failed".to_string(),
            format!(
                "{} on {}: {}: {failure}",
                r.trace.image.reference,
                profile.title,
                findings::proof_failed(r)
            ),
        ));
    }
    for section in findings::sections(r, &all, false) {
        match (section.cover, &section.findings[..]) {
            (Cover::Mount { .. }, []) => {}
            (Cover::Mount { .. }, [f]) => notes.push(finding(f, profile)),
            (Cover::Mount { mount, need }, list) => {
                notes.push(mount_note(mount, need, list, profile));
            }
            (Cover::Unlisted { mounts }, list) => notes.push(Annotation::new(
                Level::Note,
                format!("{mounts} mounts not needed"),
                format!(
                    "The proof ran the app without {} of the full cover on {}, which cover {}: \
                     {}. The fix leaves them out; the JSON lists them.",
                    findings::plural(mounts, "more mount", "more mounts"),
                    profile.title,
                    findings::plural(list.len(), "write", "writes"),
                    findings::some(
                        findings::group(list).iter().map(|g| g.short()),
                        findings::INLINE
                    )
                ),
            )),
            (Cover::Unfixable, list) => notes.extend(list.iter().map(|f| finding(f, profile))),
        }
    }

    let room = findings::ANNOTATIONS - 1;
    let left_out = notes.len().saturating_sub(room);
    if left_out > 0 {
        let mut order: Vec<usize> = (0..notes.len()).collect();
        order.sort_by_key(|&i| (notes[i].rank(), i));
        let keep: std::collections::HashSet<usize> = order.into_iter().take(room).collect();
        let mut i = 0;
        notes.retain(|_| {
            i += 1;
            keep.contains(&(i - 1))
        });
    }
    let mut out = String::new();
    let at = place.map_or(String::new(), |p| {
        format!("file={},line={},", escape_property(p.file), p.line)
    });
    for n in &notes {
        let _ = writeln!(
            out,
            "::{} {at}title={}::{}",
            n.command(),
            escape_property(&n.title),
            escape_data(&n.message)
        );
    }
    let mut summary = findings::summary(r, profile, &all);
    if left_out > 0 {
        summary.push_str(&format!(
            " {} left out: GitHub keeps {} per job; the JSON lists every write.",
            findings::plural(left_out, "more annotation", "more annotations"),
            findings::ANNOTATIONS
        ));
    }
    let _ = writeln!(
        out,
        "::notice title={}::{}",
        escape_property(&format!("rofs-audit {}", r.plan.profile)),
        escape_data(&summary)
    );
    out
}

fn finding(f: &Finding, profile: &Profile) -> Annotation {
    Annotation::new(f.level(), f.title(), f.message(profile))
}

/// The writes one mount fixes, as one annotation: a few of them, the mount, what the proof
/// found of it and the remedies.
fn mount_note(mount: &Mount, need: Need, list: &[&Finding], profile: &Profile) -> Annotation {
    let tolerated = list.iter().all(|f| f.tolerated) || need == Need::NotNeeded;
    let samples: Vec<String> = list
        .iter()
        .take(findings::SAMPLES)
        .map(|f| format!("{} ({})", clean(f.path), f.when()))
        .collect();
    let more = list.len().saturating_sub(findings::SAMPLES);
    let mut message = format!(
        "{} under {} would fail under a read-only root on {}: {}{}. Fix: mount {}.",
        findings::plural(list.len(), "write", "writes"),
        clean(&mount.path),
        clean(&profile.title),
        samples.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
        findings::describe_mount(mount)
    );
    message.push_str(match need {
        Need::Unproven => "",
        Need::Needed => " The proof shows the app needs it.",
        Need::NotNeeded => " The proof ran the app without it: not needed.",
        Need::Harmful => " The app fails with it mounted: left out of the fix.",
    });
    let mut remedies: Vec<&Remedy> = vec![];
    for r in list.iter().flat_map(|f| &f.remedies) {
        if !remedies.iter().any(|o| std::ptr::eq(*o, *r)) {
            remedies.push(r);
        }
    }
    for r in remedies {
        message.push_str(&format!(
            " Or ({}): {}: {}",
            clean(&r.id),
            clean(&r.title),
            clean(&r.fix)
        ));
    }
    let kind = if tolerated {
        "tolerated writes"
    } else {
        "read-only writes"
    };
    Annotation::new(
        if tolerated {
            Level::Note
        } else {
            Level::Warning
        },
        format!("{} {kind}: {}", list.len(), clean(&mount.path)),
        message,
    )
}

/// `verify` as annotations: an error per failed check, then a notice with the outcome.
pub fn check(c: &Check) -> String {
    let mut out = String::new();
    for k in findings::proof_checks(&c.verification) {
        if let Some(failure) = &k.failure {
            let _ = writeln!(
                out,
                "::error title={}::{}",
                escape_property(&format!("read-only proof: {}", k.name)),
                escape_data(failure)
            );
        }
    }
    let outcome = if c.verification.passed {
        "passed: it runs read-only with these mounts"
    } else {
        "FAILED: it does not run read-only with these mounts"
    };
    let _ = writeln!(
        out,
        "::notice title={}::{}",
        escape_property(&format!("rofs-audit verify {}", c.profile)),
        escape_data(&format!("{} {outcome}", c.image))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{render_report, testdata, Format, RenderOptions};

    #[test]
    fn github_report_golden() {
        for (name, (report, profile)) in testdata::all() {
            let out = render_report(&report, &profile, Format::Github, &RenderOptions::default());
            insta::assert_snapshot!(format!("github_{name}"), out);
        }
    }

    #[test]
    fn escapes_per_the_workflow_command_spec() {
        assert_eq!(escape_data("100% a\r\nb"), "100%25 a%0D%0Ab");
        assert_eq!(escape_property("a: b, c%"), "a%3A b%2C c%25");
        assert_eq!(escape_data("\x1b[31m"), "\\x1b[31m");
    }

    #[test]
    fn hostile_paths_stay_on_one_line() {
        let (mut report, profile) = testdata::needs_mounts();
        let (path, _) = crate::model::escape_path(b"/tmp/a\x1b[31m\n::error::100%0A.txt");
        // The /tmp write and the /tmp mount that covers it.
        report.trace.writes[1].path = path.clone();
        report.plan.mounts[1].covers = vec![path];
        // Raw CR/LF in planner prose must not start a new command either.
        report.plan.remedies[0].fix = "line one\n::error title=x::forged\rmore".to_string();
        let out = render_report(&report, &profile, Format::Github, &RenderOptions::default());
        for line in out.lines() {
            assert!(
                line.starts_with("::warning title=")
                    || line.starts_with("::error title=")
                    || line.starts_with("::notice title="),
                "{line}"
            );
            assert!(!line.chars().any(char::is_control), "{line}");
        }
        let annotations = out.lines().count();
        assert_eq!(annotations, 6, "5 mounts and the notice:\n{out}");
        let lock = out.lines().find(|l| l.contains("/tmp/a")).unwrap();
        assert!(lock.starts_with(
            "::warning title=read-only write%3A /tmp/a\\x1b[31m\\x0a%3A%3Aerror%3A%3A100%250A.txt::"
        ), "{lock}");
        assert!(
            lock.contains("/tmp/a\\x1b[31m\\x0a::error::100%250A.txt (startup, transient)"),
            "{lock}"
        );
        assert!(
            out.contains("line one\\x0a::error title=x::forged\\x0dmore"),
            "{out}"
        );
    }

    fn github(report: &Report, profile: &Profile) -> String {
        render_report(report, profile, Format::Github, &RenderOptions::default())
    }

    #[test]
    fn one_annotation_per_mount_and_one_for_an_unneeded_full_cover() {
        let (report, profile) = crate::report::testdata::scale::python_app(124);
        let out = github(&report, &profile);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines.len(),
            4,
            "2 needed mounts, the unneeded ones, the summary:\n{out}"
        );
        assert!(
            lines[2].starts_with(
                "::notice title=126 mounts not needed::The proof ran the app without 126 more \
             mounts of the full cover on Amazon ECS on AWS Fargate, which cover 250 writes: \
             /scratch/tmp, /var/cache/app/blob, 248 writes python-bytecode explains."
            ),
            "{out}"
        );
    }

    #[test]
    fn a_mount_over_many_writes_is_one_annotation_with_samples() {
        let (report, profile) = crate::report::testdata::scale::many_writes(10_000, 100);
        let out = github(&report, &profile);
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(
            out.starts_with(
                "::warning title=10000 read-only writes%3A /var/cache/app::10000 writes under \
             /var/cache/app would fail under a read-only root on Amazon ECS on AWS Fargate: \
             /var/cache/app/0000/f000000 (startup, created), /var/cache/app/0001/f000001 \
             (startup, created), /var/cache/app/0002/f000002 (startup, created) and 9997 more. \
             Fix: mount tmpfs /var/cache/app"
            ),
            "{out}"
        );
    }

    #[test]
    fn at_most_50_annotations_errors_first_and_the_rest_counted() {
        let (mut report, profile) = crate::report::testdata::scale::many_writes(100, 100);
        // 100 mounts of one write each (warnings), and 30 writes no mount can fix (errors).
        crate::report::testdata::scale::mount_per_write(&mut report, 100);
        for i in 0..30 {
            let path = format!("/etc/app/{i}.conf");
            report.trace.writes.push(crate::model::Write {
                path: path.clone(),
                ..report.trace.writes[0].clone()
            });
            report.plan.unfixable.push(crate::model::Unfixable {
                path,
                reason: "a file of the image".into(),
                moves_from: None,
            });
        }
        let out = github(&report, &profile);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), findings::ANNOTATIONS);
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("::error ")).count(),
            30
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("::warning ")).count(),
            19
        );
        assert!(lines[49].starts_with("::notice title=rofs-audit ecs-fargate::"));
        assert!(lines[49].ends_with(
            " 81 more annotations left out: GitHub keeps 50 per job; the JSON lists every write."
        ), "{}", lines[49]);
        // The kept ones stay in report order: mounts, then what no mount fixes.
        assert!(lines[18].starts_with("::warning ") && lines[19].starts_with("::error "));
    }
}
