//! SARIF 2.1.0 for code scanning (`github/codeql-action/upload-sarif` and other consumers).
//!
//! Rules: `read-only-write` (a failing write a mount fixes, level warning), `unfixable-write`
//! (level error), and `remedy/<id>` for each remedy of the plan. Results carry the container path
//! as a logical location. Code scanning only shows results that sit in a file of the repository,
//! and a write inside a container has none: every result points at line 1 of `Dockerfile`, the
//! file that builds the image, and a partial fingerprint keyed on rule and container path keeps
//! results on the same line from being merged into one alert.

use super::findings::{self, clean, Finding, RULE_MOUNT, RULE_UNFIXABLE};
use super::json::J;
use super::INFORMATION_URI;
use crate::model::{Remedy, Report};
use crate::profile::Profile;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const ARTIFACT: &str = "Dockerfile";

struct Rule {
    id: String,
    name: String,
    short: String,
    full: String,
    level: &'static str,
}

fn rules(report: &Report, profile: &Profile, all: &[Finding]) -> Vec<Rule> {
    let title = clean(&profile.title);
    let mut out = vec![
        Rule {
            id: RULE_MOUNT.to_string(),
            name: "ReadOnlyWrite".to_string(),
            short: "A write that fails under a read-only root; a mount fixes it".to_string(),
            full: format!(
                "The image writes a path that a read-only root filesystem makes read-only on \
                 {title} ({}). A tmpfs or volume mount at the path the plan names makes the write \
                 succeed.",
                clean(&profile.read_only_setting)
            ),
            level: "warning",
        },
        Rule {
            id: RULE_UNFIXABLE.to_string(),
            name: "UnfixableWrite".to_string(),
            short: "A write that fails under a read-only root and that no mount can fix"
                .to_string(),
            full: format!(
                "The image writes a path that is read-only on {title}, and a mount there would \
                 break the image (it would hide the image's files) or is not possible: the image \
                 or its configuration must change."
            ),
            level: "error",
        },
    ];
    for rem in &report.plan.remedies {
        out.push(Rule {
            id: remedy_rule(rem),
            name: format!("Remedy/{}", clean(&rem.id)),
            short: clean(&rem.title).into_owned(),
            full: clean(&rem.fix).into_owned(),
            level: if remedy_is_required(all, rem) {
                "error"
            } else {
                "note"
            },
        });
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
fn location(paths: &[&str]) -> J {
    J::obj([
        (
            "physicalLocation",
            J::obj([
                ("artifactLocation", J::obj([("uri", J::from(ARTIFACT))])),
                ("region", J::obj([("startLine", J::from(1u64))])),
            ]),
        ),
        (
            "logicalLocations",
            J::arr(paths.iter().map(|p| {
                J::obj([
                    ("name", J::from(clean(p).into_owned())),
                    ("kind", J::from("resource")),
                ])
            })),
        ),
    ])
}

/// One result. `fingerprint` identifies it across runs: the rule and the container path for a
/// finding, the rule alone for a remedy.
fn result(
    rules: &[Rule],
    (rule_id, fingerprint): (&str, String),
    level: &str,
    text: String,
    paths: &[&str],
    properties: Option<J>,
) -> J {
    let index = rules
        .iter()
        .position(|r| r.id == rule_id)
        .expect("every result's rule is listed");
    let mut pairs = vec![
        ("ruleId", J::from(rule_id)),
        ("ruleIndex", J::from(index)),
        ("level", J::from(level)),
        ("message", J::obj([("text", J::from(text))])),
        ("locations", J::arr([location(paths)])),
        (
            "partialFingerprints",
            J::obj([("rofsAuditPath/v1", J::from(fingerprint))]),
        ),
    ];
    if let Some(p) = properties {
        pairs.push(("properties", p));
    }
    J::obj(pairs)
}

fn finding_result(f: &Finding, rules: &[Rule], profile: &Profile) -> J {
    let level = f.level();
    let properties = f.write.map(|w| {
        let mut props = vec![
            ("phase", J::from(w.phase.as_str())),
            ("change", J::from(w.change.as_str())),
        ];
        if let Some(m) = f.mount() {
            props.push(("mount", J::from(clean(&m.path).into_owned())));
        }
        J::obj(props)
    });
    result(
        rules,
        (f.rule_id(), format!("{}:{}", f.rule_id(), clean(f.path))),
        level,
        f.message(profile),
        &[f.path],
        properties,
    )
}

fn remedy_result(rem: &Remedy, rules: &[Rule]) -> J {
    let id = remedy_rule(rem);
    let level = rules
        .iter()
        .find(|r| r.id == id)
        .map_or("note", |r| r.level);
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
    let results: Vec<J> = all
        .iter()
        .map(|f| finding_result(f, &rules, profile))
        .chain(r.plan.remedies.iter().map(|rem| remedy_result(rem, &rules)))
        .collect();

    let driver = J::obj([
        ("name", J::from("rofs-audit")),
        ("informationUri", J::from(INFORMATION_URI)),
        ("version", J::from(env!("CARGO_PKG_VERSION"))),
        ("semanticVersion", J::from(env!("CARGO_PKG_VERSION"))),
        (
            "rules",
            J::arr(rules.iter().map(|rule| {
                J::obj([
                    ("id", J::from(&rule.id)),
                    ("name", J::from(&rule.name)),
                    ("shortDescription", J::obj([("text", J::from(&rule.short))])),
                    ("fullDescription", J::obj([("text", J::from(&rule.full))])),
                    (
                        "defaultConfiguration",
                        J::obj([("level", J::from(rule.level))]),
                    ),
                ])
            })),
        ),
    ]);
    let run = J::obj([
        ("tool", J::obj([("driver", driver)])),
        (
            "automationDetails",
            J::obj([(
                "id",
                J::from(format!("rofs-audit/{}/", clean(&r.plan.profile))),
            )]),
        ),
        ("results", J::Arr(results)),
        (
            "properties",
            J::obj([
                (
                    "image",
                    J::from(clean(&r.trace.image.reference).into_owned()),
                ),
                ("profile", J::from(clean(&r.plan.profile).into_owned())),
                ("verdict", J::from(r.plan.verdict.as_str())),
            ]),
        ),
    ]);
    let doc = J::obj([
        ("$schema", J::from(SCHEMA)),
        ("version", J::from("2.1.0")),
        ("runs", J::arr([run])),
    ]);
    let mut out = doc.pretty();
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
