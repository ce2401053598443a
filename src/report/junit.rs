//! JUnit XML for CI test reports: one testsuite `rofs-audit <profile>`, a testcase per probe
//! (failed when the probe was not answered as expected) and one per finding (always failed,
//! with the finding's message). Everything from the data is XML-escaped.

use std::fmt::Write as _;

use super::findings::{self, clean};
use crate::model::{Check, ProbeResult, Report};
use crate::profile::Profile;

/// Text for an attribute value or element content: control characters as `\xNN` text (XML 1.0
/// cannot carry most of them at all), then the five predefined entities.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::new();
    for c in clean(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The XML declaration and the opening tags of the document and its one testsuite.
fn open(suite: &str, tests: usize, failures: usize, skipped: usize, time: &str) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"rofs-audit\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\">",
        xml_escape(suite)
    );
    out
}

fn probe_name(p: &ProbeResult) -> String {
    if p.target == "tcp" {
        "TCP connect".to_string()
    } else {
        format!("GET {}", p.target)
    }
}

pub fn report(r: &Report, profile: &Profile) -> String {
    let t = &r.trace;
    let all = findings::findings(r);
    let suite = format!("rofs-audit {}", r.plan.profile);
    let proof = r.verification.as_ref();
    let tests = t.probes.len() + all.len() + usize::from(proof.is_some());
    let failures = t.probes.iter().filter(|p| !p.ok).count()
        + all.iter().filter(|f| !f.tolerated).count()
        + usize::from(proof.is_some_and(|v| !v.passed));
    let skipped = all.iter().filter(|f| f.tolerated).count();
    let time = seconds(t.phases.iter().map(|p| p.duration_ms).sum());
    let class = |kind: &str| xml_escape(&format!("rofs-audit.{}.{kind}", r.plan.profile));

    let mut out = open(&suite, tests, failures, skipped, &time);
    let _ = writeln!(out, "    <properties>");
    for (name, value) in [
        ("image", t.image.reference.as_str()),
        ("profile", profile.title.as_str()),
        ("read-only-setting", profile.read_only_setting.as_str()),
        ("verdict", r.plan.verdict.as_str()),
    ] {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            xml_escape(value)
        );
    }
    let _ = writeln!(out, "    </properties>");

    for p in &t.probes {
        let open = format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
            class("probe"),
            xml_escape(&probe_name(p)),
            seconds(p.latency_ms)
        );
        if p.ok {
            let _ = writeln!(out, "{open}/>");
            continue;
        }
        let status = p
            .status
            .map_or_else(|| "no answer".to_string(), |s| format!("status {s}"));
        let mut message = format!("{} failed: {status}", probe_name(p));
        if let Some(e) = &p.error {
            message.push_str(&format!(" ({e})"));
        }
        let _ = writeln!(out, "{open}>");
        let _ = writeln!(
            out,
            "      <failure type=\"probe\" message=\"{0}\">{0}</failure>",
            xml_escape(&message)
        );
        let _ = writeln!(out, "    </testcase>");
    }
    if let Some(v) = proof {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
            class("proof"),
            xml_escape(&if v.passed {
                format!(
                    "runs read-only with {}",
                    findings::plural(v.minimal_mounts.len(), "mount", "mounts")
                )
            } else if r.plan.mounts.is_empty() {
                "runs read-only".to_string()
            } else {
                "runs read-only with every planned mount".to_string()
            }),
            seconds(v.wall_ms)
        );
        match &v.failure {
            None => out.push_str("/>\n"),
            Some(failure) => {
                let _ = writeln!(
                    out,
                    ">\n      <failure type=\"read-only-proof\" message=\"{0}\">{0}</failure>\n    </testcase>",
                    xml_escape(failure)
                );
            }
        }
    }
    for f in &all {
        let _ = writeln!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0.000\">",
            class("write"),
            xml_escape(f.path)
        );
        // What the app tolerates is reported, not failed.
        let element = if f.tolerated { "skipped" } else { "failure" };
        let _ = writeln!(
            out,
            "      <{element} type=\"{}\" message=\"{}\">{}</{element}>",
            f.rule_id(),
            xml_escape(&f.title()),
            xml_escape(&f.message(profile))
        );
        let _ = writeln!(out, "    </testcase>");
    }
    let _ = writeln!(out, "  </testsuite>");
    let _ = writeln!(out, "</testsuites>");
    out
}

/// `verify` as JUnit: a testcase per check of its read-only run.
pub fn check(c: &Check) -> String {
    let checks = findings::proof_checks(&c.verification);
    let failures = checks.iter().filter(|k| k.failure.is_some()).count();
    let tests = checks.len();
    let time = seconds(c.verification.wall_ms);
    let class = xml_escape(&format!("rofs-audit.{}.verify", c.profile));
    let suite = format!("rofs-audit verify {}", c.profile);
    let mut out = open(&suite, tests, failures, 0, &time);
    let _ = writeln!(out, "    <properties>");
    let _ = writeln!(
        out,
        "      <property name=\"image\" value=\"{}\"/>",
        xml_escape(&c.image)
    );
    for mount in &c.mounts {
        let _ = writeln!(
            out,
            "      <property name=\"tmpfs\" value=\"{}\"/>",
            xml_escape(mount)
        );
    }
    let _ = writeln!(out, "    </properties>");
    for k in &checks {
        let open = format!(
            "    <testcase classname=\"{class}\" name=\"{}\" time=\"{}\"",
            xml_escape(&k.name),
            seconds(k.ms.unwrap_or(0))
        );
        match &k.failure {
            None => {
                let _ = writeln!(out, "{open}/>");
            }
            Some(failure) => {
                let _ = writeln!(out, "{open}>");
                let _ = writeln!(
                    out,
                    "      <failure type=\"read-only-proof\" message=\"{0}\">{0}</failure>",
                    xml_escape(failure)
                );
                let _ = writeln!(out, "    </testcase>");
            }
        }
    }
    let _ = writeln!(out, "  </testsuite>");
    let _ = writeln!(out, "</testsuites>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{render_report, testdata, Format, RenderOptions};

    #[test]
    fn junit_report_golden() {
        for (name, (report, profile)) in testdata::all() {
            let out = render_report(&report, &profile, Format::Junit, &RenderOptions::default());
            insta::assert_snapshot!(format!("junit_{name}"), out);
        }
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
        // Well-formed enough that each `<` opens one of our tags.
        for tag in out.split('<').skip(1) {
            assert!(
                [
                    "?xml",
                    "testsuite",
                    "/testsuite",
                    "properties",
                    "/properties",
                    "property",
                    "testcase",
                    "/testcase",
                    "failure",
                    "/failure",
                    "skipped",
                    "/skipped"
                ]
                .iter()
                .any(|t| tag.starts_with(t)),
                "{tag}"
            );
        }
    }
}
