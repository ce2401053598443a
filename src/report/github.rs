//! GitHub Actions workflow commands: one annotation per finding (`::error` when no mount can fix
//! it, `::warning` when one can) and a closing `::notice` with the summary. Data and properties
//! are escaped as the runner's toolkit does (`%`, CR and LF; properties also `:` and `,`), after
//! any other control character has become `\xNN` text, so nothing from the trace can end a
//! command line early or start a new command.

use std::fmt::Write as _;

use super::findings::{self, clean};
use crate::model::{Check, Report};
use crate::profile::Profile;

/// The message part of a command.
pub(crate) fn escape_data(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if c.is_control() => out.push_str(&clean(&c.to_string())),
            c => out.push(c),
        }
    }
    out
}

/// A property value (`title=...`).
pub(crate) fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

pub fn report(r: &Report, profile: &Profile) -> String {
    let all = findings::findings(r);
    let mut out = String::new();
    if let Some(failure) = r.verification.as_ref().and_then(|v| v.failure.as_deref()) {
        let _ = writeln!(
            out,
            "::error title={}::{}",
            escape_property("read-only proof failed"),
            escape_data(&format!(
                "{} on {}: {}: {failure}",
                r.trace.image.reference,
                profile.title,
                findings::proof_failed(r)
            ))
        );
    }
    for f in &all {
        let command = match f.level() {
            "note" => "notice",
            level => level,
        };
        let _ = writeln!(
            out,
            "::{command} title={}::{}",
            escape_property(&f.title()),
            escape_data(&f.message(profile))
        );
    }
    let _ = writeln!(
        out,
        "::notice title={}::{}",
        escape_property(&format!("rofs-audit {}", r.plan.profile)),
        escape_data(&findings::summary(r, profile, &all))
    );
    out
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
        assert_eq!(annotations, 8, "7 findings and the notice:\n{out}");
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
}
