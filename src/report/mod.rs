//! Report: one renderer per output format. Renderers take finished data and only format it.
//!
//! Every renderer that lists problems iterates the same `findings::Finding` list, so the text,
//! Markdown, SARIF, JUnit and GitHub outputs always agree on what failed and what fixes it. The
//! fix snippets (`docker run` flags, compose, ECS, CDK, Kubernetes) live in `fixes`.

mod escape;
mod findings;
mod fixes;
mod github;
mod json;
mod junit;
mod markdown;
mod options;
mod output;
pub mod patch;
mod sarif;
mod seed;
mod text;
mod yaml;

use anyhow::{bail, Result};

use crate::choice::Choice;
use crate::engine::CleanReport;
use crate::model::{Check, MultiReport, Report, Trace};
use crate::profile::Profile;
use findings::Place;
pub use options::RenderOptions;
pub use output::{check_writable, emit, Output, ReportFormat};

crate::choice::choice_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Format {
        Text = "text": "for people; the default",
        Json = "json": "the stable contract (schema_version 2)",
        Yaml = "yaml": "the JSON contract as YAML",
        Markdown = "markdown": "a pull-request comment",
        Sarif = "sarif": "SARIF 2.1.0, for code scanning",
        Junit = "junit": "JUnit XML, for CI test reports",
        Github = "github": "GitHub Actions workflow commands (annotations)",
    }
}

impl ReportFormat for Format {
    const TEXT: Format = Format::Text;
}

impl Output<Format> {
    /// Refuses, before anything runs, a format that holds one report when there are `n`.
    pub fn holds(&self, n: usize) -> Result<()> {
        match n == 1 || holds_several(self.format) {
            true => Ok(()),
            false => bail!(
                "--format {} takes one report at a time, and there are {n}; pick one with \
                 --container NAME or --target NAME, or use text, json, yaml, markdown or sarif",
                self.format.name()
            ),
        }
    }
}

/// Renders a bare trace (`rofs-audit trace`). A trace carries no judgement, so the formats that
/// report findings have nothing to list: Markdown wraps the text rendering in a fenced block (to
/// paste into a pull request), and SARIF, JUnit and GitHub fall back to the JSON contract, which
/// loses nothing.
pub fn render_trace(trace: &Trace, format: Format) -> String {
    match format {
        Format::Text => text::trace(trace),
        Format::Yaml => yaml::to_yaml(trace),
        Format::Markdown => markdown::trace(trace),
        Format::Json | Format::Sarif | Format::Junit | Format::Github => json::to_json(trace),
    }
}

/// Renders an audit: the trace judged for `profile`, with the plan to fix it.
pub fn render_report(
    report: &Report,
    profile: &Profile,
    format: Format,
    options: &RenderOptions,
) -> String {
    match format {
        Format::Text => text::report(report, profile, options),
        Format::Json => json::to_json(report),
        Format::Yaml => yaml::to_yaml(report),
        Format::Markdown => markdown::report(report, profile, options),
        Format::Sarif => sarif::report(report, profile, None),
        Format::Junit => junit::report(report, profile),
        Format::Github => github::report(report, profile, None),
    }
}

/// Whether `format` can hold several reports (`audit -f`, `merge`): JUnit and GitHub annotations
/// point at one image's findings, so they take one at a time; SARIF gives each target a run of
/// its own.
pub fn holds_several(format: Format) -> bool {
    matches!(
        format,
        Format::Text | Format::Json | Format::Yaml | Format::Markdown | Format::Sarif
    )
}

/// Renders several audits (`audit -f`, `merge`), each target with its profile (`profiles`, in
/// the targets' order). JSON and YAML hold every report whole; text and Markdown give each one
/// under a heading that says where it comes from, then a table of them; SARIF has a run per
/// target, or a single target's run as `audit IMAGE` writes it; the other formats render the one
/// target there is (see [`holds_several`]).
pub fn render_multi(
    multi: &MultiReport,
    profiles: &[Profile],
    format: Format,
    options: &RenderOptions,
) -> String {
    match (format, multi.targets.as_slice(), profiles) {
        (Format::Json, _, _) => json::to_json(multi),
        (Format::Yaml, _, _) => yaml::to_yaml(multi),
        (Format::Text, _, _) => text::multi(multi, profiles, options),
        (Format::Markdown, _, _) => markdown::multi(multi, profiles, options),
        (Format::Sarif, [one], [profile]) => {
            sarif::report(&one.report, profile, Place::of(&one.defined_at))
        }
        (Format::Github, [one], [profile]) => {
            github::report(&one.report, profile, Place::of(&one.defined_at))
        }
        (_, [one], [profile]) => render_report(&one.report, profile, format, options),
        (Format::Sarif, _, _) => sarif::multi(multi, profiles),
        _ => unreachable!("checked with holds_several before the audit"),
    }
}

crate::choice::choice_enum! {
    /// What `verify` can print: a CI gate reports pass or fail, so there is no fix to show.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum VerifyFormat {
        Text = "text": "for people; the default",
        Json = "json": "the stable contract",
        Yaml = "yaml": "the JSON contract as YAML",
        Junit = "junit": "JUnit XML: a testcase per gate",
        Github = "github": "GitHub Actions workflow commands",
    }
}

impl ReportFormat for VerifyFormat {
    const TEXT: VerifyFormat = VerifyFormat::Text;
}

/// Renders the result of `verify`.
pub fn render_check(check: &Check, format: VerifyFormat, color: bool) -> String {
    match format {
        VerifyFormat::Text => text::check(check, color),
        VerifyFormat::Json => json::to_json(check),
        VerifyFormat::Yaml => yaml::to_yaml(check),
        VerifyFormat::Junit => junit::check(check),
        VerifyFormat::Github => github::check(check),
    }
}

/// What `clean` did.
pub fn render_clean(report: &CleanReport) -> String {
    let mut text = format!(
        "removed {} container(s) and {} volume(s) left by earlier runs\n",
        report.containers.len(),
        report.volumes.len()
    );
    if report.kept > 0 {
        text.push_str(&format!(
            "kept {} that belong to audits still running or to another host (--all removes \
             them)\n",
            report.kept
        ));
    }
    text
}

/// Recorded reports and profiles for the golden tests in every renderer.
#[cfg(test)]
pub(crate) mod testdata;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    /// Two runs of one image that differ only in the random names of their temp files: what
    /// tracks a finding from run to run is the same for both.
    #[test]
    fn a_rerun_with_new_random_names_keeps_fingerprints_testcase_names_and_baseline() {
        let runs = [testdata::random_names(0), testdata::random_names(1)];
        let sarif = |(r, p): &(Report, Profile)| -> Vec<(String, String, u64)> {
            let out = render_report(r, p, Format::Sarif, &RenderOptions::default());
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            let results = v["runs"][0]["results"].as_array().unwrap().iter();
            results
                .filter(|res| !res["ruleId"].as_str().unwrap().starts_with("remedy/"))
                .map(|res| {
                    let location = &res["locations"][0]["logicalLocations"][0]["name"];
                    let writes = &res["properties"]["writes"];
                    (
                        res["partialFingerprints"]["rofsAuditPath/v1"].to_string(),
                        location.as_str().unwrap().to_string(),
                        writes.as_u64().unwrap_or(1),
                    )
                })
                .collect()
        };
        let junit = |(r, p): &(Report, Profile)| -> Vec<String> {
            let out = render_report(r, p, Format::Junit, &RenderOptions::default());
            let mut reader = quick_xml::Reader::from_str(&out);
            let mut names = vec![];
            loop {
                match reader.read_event().unwrap() {
                    quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)
                        if e.name().as_ref() == b"testcase" =>
                    {
                        let name = e.try_get_attribute("name").unwrap().unwrap();
                        // No path here holds a character XML escapes.
                        names.push(String::from_utf8(name.value.to_vec()).unwrap());
                    }
                    quick_xml::events::Event::Eof => break,
                    _ => {}
                }
            }
            names
        };
        let first = sarif(&runs[0]);
        assert_eq!(first, sarif(&runs[1]));
        assert_eq!(junit(&runs[0]), junit(&runs[1]));
        let diff = crate::analyze::baseline::compare(&runs[1].0, &runs[0].0, "base.json");
        assert_eq!(diff.new, []);
        // Each pattern is one result, the location its name; the two Python temp files are one.
        let random: Vec<(&str, &str, u64)> = first
            .iter()
            .filter(|(_, name, _)| name.contains('*'))
            .map(|(fingerprint, name, writes)| (fingerprint.as_str(), name.as_str(), *writes))
            .collect();
        assert_eq!(
            random,
            [
                ("\"read-only-write:/tmp/tmp*\"", "/tmp/tmp*", 2),
                // uv's temp directory is inside the image's venv: the mount over it is a
                // proposal no run has accepted yet.
                (
                    "\"unfixable-write:/app/.venv/.tmp*\"",
                    "/app/.venv/.tmp*",
                    1
                ),
                (
                    "\"read-only-write:/app/app/__pycache__/__init__.cpython-311.pyc.*\"",
                    "/app/app/__pycache__/__init__.cpython-311.pyc.*",
                    1
                ),
                (
                    "\"read-only-write:/tmp/hsperfdata_root/*\"",
                    "/tmp/hsperfdata_root/*",
                    1
                ),
                (
                    "\"read-only-write:/tmp/tomcat.8080.*\"",
                    "/tmp/tomcat.8080.*",
                    1
                ),
            ]
        );
        let fingerprints: std::collections::HashSet<&String> =
            first.iter().map(|(f, _, _)| f).collect();
        assert_eq!(fingerprints.len(), first.len(), "no fingerprint twice");
        let names = junit(&runs[0]);
        assert!(names.contains(&"/tmp/tmp*".to_string()), "{names:?}");
        assert!(
            !names.iter().any(|n| n.starts_with("/tmp/tmpab")),
            "{names:?}"
        );
        // The message says how many names the pattern stands for, and one of them.
        let (report, profile) = &runs[0];
        let out = render_report(report, profile, Format::Sarif, &RenderOptions::default());
        assert!(
            out.contains("/tmp/tmp* (2 names chosen at random, as /tmp/tmpab12cd_e)"),
            "{out}"
        );
    }
}
