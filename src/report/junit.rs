//! JUnit XML for CI test reports, through quick-junit as cargo-nextest writes it: one testsuite
//! `rofs-audit <profile>`, a testcase per probe (failed when the probe was not answered as
//! expected), one for the proof, and one per finding (failed, or skipped where the app tolerates
//! it), named by its path: paths with a random name by their pattern (`/tmp/tmp*`, see
//! [`crate::analyze::names`]), one testcase for all of them, so that a testcase keeps its name
//! from run to run. Control characters from the data are shown as `\xNN` text first; quick-junit escapes
//! the rest.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report as Junit, TestCase, TestCaseStatus, TestSuite};

use super::findings::{self, clean};
use crate::model::{Check, ProbeResult, Report};
use crate::profile::Profile;

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn probe_name(p: &ProbeResult) -> String {
    match p.target.as_str() {
        "tcp" => "TCP connect".to_string(),
        crate::probe::EXEC_TARGET => p.target.clone(),
        path => format!("GET {path}"),
    }
}

/// A testcase of `class` that passed, or failed with a type, a message and a text.
fn case(class: &str, name: &str, time: Duration, failure: Option<(&str, &str, &str)>) -> TestCase {
    let status = match failure {
        None => TestCaseStatus::success(),
        Some((ty, message, text)) => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_type(ty)
                .set_message(clean(message).as_ref())
                .set_description(clean(text).as_ref());
            status
        }
    };
    let mut case = TestCase::new(clean(name).as_ref(), status);
    case.set_classname(clean(class).as_ref()).set_time(time);
    case
}

/// A testcase skipped with a reason: what the app tolerates is reported, not failed.
fn skipped(class: &str, name: &str, ty: &str, message: &str, text: &str) -> TestCase {
    let mut status = TestCaseStatus::skipped();
    status
        .set_type(ty)
        .set_message(clean(message).as_ref())
        .set_description(clean(text).as_ref());
    let mut case = TestCase::new(clean(name).as_ref(), status);
    case.set_classname(clean(class).as_ref())
        .set_time(Duration::ZERO);
    case
}

/// The document around one suite.
fn document(suite: TestSuite, time: Duration) -> String {
    let mut report = Junit::new("rofs-audit");
    report.set_time(time).add_test_suite(suite);
    let mut xml = report.to_string().expect("JUnit serialises to a string");
    if !xml.ends_with('\n') {
        xml.push('\n');
    }
    xml
}

pub fn report(r: &Report, profile: &Profile) -> String {
    let t = &r.trace;
    let all = findings::findings(r);
    let time = ms(t.phases.iter().map(|p| p.duration_ms).sum());
    let class = |kind: &str| format!("rofs-audit.{}.{kind}", r.plan.profile);
    let mut suite = TestSuite::new(clean(&format!("rofs-audit {}", r.plan.profile)).as_ref());
    suite.set_time(time).add_properties(
        [
            ("image", clean(&t.image.reference).into_owned()),
            ("profile", clean(&profile.title).into_owned()),
            (
                "read-only-setting",
                clean(&profile.read_only_setting).into_owned(),
            ),
            ("verdict", r.plan.verdict.as_str().to_string()),
        ]
        .map(|(name, value)| Property::new(name, value)),
    );
    for p in &t.probes {
        let failure = (!p.ok).then(|| {
            let status = p
                .status
                .map_or_else(|| "no answer".to_string(), |s| format!("status {s}"));
            let mut message = format!("{} failed: {status}", probe_name(p));
            if let Some(e) = &p.error {
                message.push_str(&format!(" ({e})"));
            }
            message
        });
        suite.add_test_case(case(
            &class("probe"),
            &probe_name(p),
            ms(p.latency_ms),
            failure.as_deref().map(|m| ("probe", m, m)),
        ));
    }
    if let Some(v) = &r.verification {
        let name = if v.passed {
            format!(
                "runs read-only with {}",
                findings::plural(v.minimal_mounts.len(), "mount", "mounts")
            )
        } else if r.plan.mounts.is_empty() {
            "runs read-only".to_string()
        } else {
            "runs read-only with every planned mount".to_string()
        };
        suite.add_test_case(case(
            &class("proof"),
            &name,
            ms(v.wall_ms),
            v.failure.as_deref().map(|f| ("read-only-proof", f, f)),
        ));
    }
    for named in findings::named(&all) {
        let f = named.finding;
        let (ty, title, message) = (f.rule_id(), named.title(), named.message(profile));
        suite.add_test_case(match f.tolerated {
            true => skipped(&class("write"), &named.name, ty, &title, &message),
            false => case(
                &class("write"),
                &named.name,
                Duration::ZERO,
                Some((ty, &title, &message)),
            ),
        });
    }
    document(suite, time)
}

/// `verify` as JUnit: a testcase per check of its read-only run.
pub fn check(c: &Check) -> String {
    let time = ms(c.verification.wall_ms);
    let class = format!("rofs-audit.{}.verify", c.profile);
    let mut suite = TestSuite::new(clean(&format!("rofs-audit verify {}", c.profile)).as_ref());
    suite.set_time(time);
    suite.add_property(Property::new("image", clean(&c.image).as_ref()));
    for mount in &c.mounts {
        suite.add_property(Property::new("tmpfs", clean(&mount.to_string()).as_ref()));
    }
    for k in findings::proof_checks(&c.verification) {
        suite.add_test_case(case(
            &class,
            &k.name,
            ms(k.ms.unwrap_or(0)),
            k.failure.as_deref().map(|f| ("read-only-proof", f, f)),
        ));
    }
    document(suite, time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{render_report, testdata, Format, RenderOptions};

    #[test]
    fn junit_report_golden() {
        for (name, (report, profile)) in testdata::all() {
            let out = render_report(&report, &profile, Format::Junit, &RenderOptions::default());
            assert_well_formed(&out);
            insta::assert_snapshot!(format!("junit_{name}"), out);
        }
    }

    /// Parses the document with an XML reader, as a CI server would, to its end.
    fn assert_well_formed(xml: &str) {
        let mut reader = quick_xml::Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let mut depth = 0i32;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Start(_)) => depth += 1,
                Ok(quick_xml::events::Event::End(_)) => depth -= 1,
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed XML ({e}):\n{xml}"),
            }
        }
        assert_eq!(depth, 0, "unclosed elements:\n{xml}");
    }

    #[test]
    fn failed_probes_fail_their_testcase() {
        let (mut report, profile) = testdata::compatible();
        report.trace.probes[1].ok = false;
        report.trace.probes[1].status = Some(503);
        report.trace.probes[1].error = Some("expected 200 <ready>".to_string());
        let out = report_xml(&report, &profile);
        assert!(out.contains("failures=\"1\""));
        assert!(out.contains(
            "message=\"GET /health/ready failed: status 503 (expected 200 &lt;ready&gt;)\""
        ));
    }

    fn report_xml(report: &Report, profile: &Profile) -> String {
        render_report(report, profile, Format::Junit, &RenderOptions::default())
    }

    #[test]
    fn hostile_paths_are_escaped() {
        let (mut report, profile) = testdata::needs_mounts();
        // What the tracer records for a name holding ESC and a newline, plus XML and `%` text.
        let (path, _) = crate::model::escape_path(b"/tmp/a\x1b[31m\n<b>&\"'100%0A.txt");
        // The /tmp write and the /tmp mount that covers it.
        report.trace.writes[1].path = path.clone();
        report.plan.mounts[1].covers = vec![path.clone()];
        // And raw control characters in free text the planner wrote.
        report.plan.mounts[1].path = "/tmp\r\n::error::x".to_string();
        let out = report_xml(&report, &profile);
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'));
        assert!(out.contains("name=\"/tmp/a\\x1b[31m\\x0a&lt;b&gt;&amp;&quot;&apos;100%0A.txt\""));
        assert!(out.contains("/tmp\\x0d\\x0a::error::x"));
        assert_well_formed(&out);
    }
}
