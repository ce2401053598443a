//! SARIF 2.1.0 for code scanning (`github/codeql-action/upload-sarif` and other consumers).
//!
//! Rules: `read-only-write` (a failing write a mount fixes, level warning), `unfixable-write`
//! (level error), and `remedy/<id>` for each remedy of the plan. Results carry the container path
//! as a logical location. Code scanning only shows results that sit in a file of the repository,
//! and a write inside a container has none: every result points at line 1 of `Dockerfile`, the
//! file that builds the image, and a partial fingerprint keyed on rule and container path keeps
//! results on the same line from being merged into one alert.

use serde::Serialize;

use super::findings::{self, clean, Finding, Level, RULE_MOUNT, RULE_UNFIXABLE};
use super::INFORMATION_URI;
use crate::model::{Remedy, Report};
use crate::profile::Profile;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const ARTIFACT: &str = "Dockerfile";

// The SARIF 2.1.0 objects rofs-audit writes, in the field order of the specification's examples;
// a misspelt key no longer compiles.

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    automation_details: Id,
    results: Vec<SarifResult>,
    properties: RunProperties,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    information_uri: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    name: String,
    short_description: Text,
    full_description: Text,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Configuration {
    level: Level,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Id {
    id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: Level,
    message: Text,
    locations: [Location; 1],
    partial_fingerprints: Fingerprints,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<WriteProperties>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: Uri,
    region: Region,
}

#[derive(Serialize)]
struct Uri {
    uri: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u64,
}

#[derive(Serialize)]
struct LogicalLocation {
    name: String,
    kind: &'static str,
}

#[derive(Serialize)]
struct Fingerprints {
    #[serde(rename = "rofsAuditPath/v1")]
    path: String,
}

#[derive(Serialize)]
struct WriteProperties {
    phase: &'static str,
    change: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mount: Option<String>,
}

#[derive(Serialize)]
struct RunProperties {
    image: String,
    profile: String,
    verdict: &'static str,
}

fn rule(id: String, name: String, short: String, full: String, level: Level) -> Rule {
    Rule {
        id,
        name,
        short_description: Text { text: short },
        full_description: Text { text: full },
        default_configuration: Configuration { level },
    }
}

fn rules(report: &Report, profile: &Profile, all: &[Finding]) -> Vec<Rule> {
    let title = clean(&profile.title);
    let mut out = vec![
        rule(
            RULE_MOUNT.to_string(),
            "ReadOnlyWrite".to_string(),
            "A write that fails under a read-only root; a mount fixes it".to_string(),
            format!(
                "The image writes a path that a read-only root filesystem makes read-only on \
                 {title} ({}). A tmpfs or volume mount at the path the plan names makes the write \
                 succeed.",
                clean(&profile.read_only_setting)
            ),
            Level::Warning,
        ),
        rule(
            RULE_UNFIXABLE.to_string(),
            "UnfixableWrite".to_string(),
            "A write that fails under a read-only root and that no mount can fix".to_string(),
            format!(
                "The image writes a path that is read-only on {title}, and a mount there would \
                 break the image (it would hide the image's files) or is not possible: the image \
                 or its configuration must change."
            ),
            Level::Error,
        ),
    ];
    for rem in &report.plan.remedies {
        out.push(rule(
            remedy_rule(rem),
            format!("Remedy/{}", clean(&rem.id)),
            clean(&rem.title).into_owned(),
            clean(&rem.fix).into_owned(),
            if remedy_is_required(all, rem) {
                Level::Error
            } else {
                Level::Note
            },
        ));
    }
    out
}

fn remedy_rule(rem: &Remedy) -> String {
    format!("remedy/{}", clean(&rem.id))
}

/// A remedy is required when a finding it addresses is an error: no mount fixes it.
fn remedy_is_required(all: &[Finding], rem: &Remedy) -> bool {
    all.iter()
        .any(|f| f.is_error() && f.remedies.iter().any(|r| r.id == rem.id))
}

/// Line 1 of the Dockerfile (see the module comment) and the container paths.
fn location(paths: &[&str]) -> Location {
    Location {
        physical_location: PhysicalLocation {
            artifact_location: Uri { uri: ARTIFACT },
            region: Region { start_line: 1 },
        },
        logical_locations: paths
            .iter()
            .map(|p| LogicalLocation {
                name: clean(p).into_owned(),
                kind: "resource",
            })
            .collect(),
    }
}

/// One result. `fingerprint` identifies it across runs: the rule and the container path for a
/// finding, the rule alone for a remedy.
fn result(
    rules: &[Rule],
    (rule_id, fingerprint): (&str, String),
    level: Level,
    text: String,
    paths: &[&str],
    properties: Option<WriteProperties>,
) -> SarifResult {
    let index = rules
        .iter()
        .position(|r| r.id == rule_id)
        .expect("every result's rule is listed");
    SarifResult {
        rule_id: rule_id.to_string(),
        rule_index: index,
        level,
        message: Text { text },
        locations: [location(paths)],
        partial_fingerprints: Fingerprints { path: fingerprint },
        properties,
    }
}

fn finding_result(f: &Finding, rules: &[Rule], profile: &Profile) -> SarifResult {
    let properties = f.write.map(|w| WriteProperties {
        phase: w.phase.as_str(),
        change: w.change.as_str(),
        mount: f.mount().map(|m| clean(&m.path).into_owned()),
    });
    result(
        rules,
        (f.rule_id(), format!("{}:{}", f.rule_id(), clean(f.path))),
        f.level(),
        f.message(profile),
        &[f.path],
        properties,
    )
}

fn remedy_result(rem: &Remedy, rules: &[Rule]) -> SarifResult {
    let id = remedy_rule(rem);
    let level = rules
        .iter()
        .find(|r| r.id == id)
        .map_or(Level::Note, |r| r.default_configuration.level);
    let paths: Vec<&str> = rem.paths.iter().map(String::as_str).collect();
    let listed: Vec<_> = paths.iter().map(|p| clean(p)).collect();
    let text = format!(
        "{}: {} (for {})",
        clean(&rem.title),
        clean(&rem.fix),
        listed.join(", ")
    );
    result(rules, (&id, id.clone()), level, text, &paths, None)
}

pub fn report(r: &Report, profile: &Profile) -> String {
    let all = findings::findings(r);
    let rules = rules(r, profile, &all);
    let results = all
        .iter()
        .map(|f| finding_result(f, &rules, profile))
        .chain(r.plan.remedies.iter().map(|rem| remedy_result(rem, &rules)))
        .collect();
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "rofs-audit",
                    information_uri: INFORMATION_URI,
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    rules,
                },
            },
            automation_details: Id {
                id: format!("rofs-audit/{}/", clean(&r.plan.profile)),
            },
            results,
            properties: RunProperties {
                image: clean(&r.trace.image.reference).into_owned(),
                profile: clean(&r.plan.profile).into_owned(),
                verdict: r.plan.verdict.as_str(),
            },
        }],
    };
    let mut out = serde_json::to_string_pretty(&log).expect("SARIF serialises");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use crate::report::{render_report, testdata, Format, RenderOptions};

    #[test]
    fn sarif_report_golden() {
        for (name, (report, profile)) in testdata::all() {
            let out = render_report(&report, &profile, Format::Sarif, &RenderOptions::default());
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["version"], "2.1.0");
            let run = &v["runs"][0];
            let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
            for res in run["results"].as_array().unwrap() {
                let i = res["ruleIndex"].as_u64().unwrap() as usize;
                assert_eq!(rules[i]["id"], res["ruleId"], "{name}");
                assert!(
                    ["error", "warning", "note"].contains(&res["level"].as_str().unwrap()),
                    "{name}"
                );
            }
            insta::assert_snapshot!(format!("sarif_{name}"), out);
        }
    }
}
