//! SARIF 2.1.0 for code scanning (`github/codeql-action/upload-sarif` and other consumers).
//!
//! Rules: `read-only-write` (a failing write a mount fixes, level warning), `unfixable-write`
//! (level error), and `remedy/<id>` for each remedy of the plan. Results carry the container path
//! as a logical location. Code scanning only shows results that sit in a file of the repository,
//! and a write inside a container has none: every result points at line 1 of `Dockerfile`, the
//! file that builds the image, and a partial fingerprint keyed on rule and container path keeps
//! results on the same line from being merged into one alert. A path with a random name (a temp
//! file, see [`crate::analyze::names`]) is keyed, and named as a location, by its pattern
//! (`/tmp/tmp*`), so its alert stays open from one run to the next; the writes of one pattern
//! are one result that says how many they are.
//!
//! Several targets (`audit -f`, `merge`) make one run each, told apart by `automationDetails.id`
//! `rofs-audit/<target>/`: code scanning takes the id up to its last `/` as the analysis
//! category, so each target's alerts open and close on their own, and since June 2025 it
//! rejects a file with two runs of one tool in one category. A single target keeps the id
//! `rofs-audit/<profile>/` it always had, so the alerts of existing users stay where they are.

use std::collections::BTreeSet;

use serde::Serialize;

use super::findings::{self, clean, Finding, Level, Named, Place, RULE_MOUNT, RULE_UNFIXABLE};
use crate::analyze::{baseline, names};
use crate::model::{Accepted, MultiReport, Remedy, Report};
use crate::profile::Profile;

/// Where SARIF's `tool.driver.informationUri` points: the package's repository when Cargo.toml
/// names one, else its crates.io page.
const INFORMATION_URI: &str = if env!("CARGO_PKG_REPOSITORY").is_empty() {
    "https://crates.io/crates/rofs-audit"
} else {
    env!("CARGO_PKG_REPOSITORY")
};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const ARTIFACT: &str = "Dockerfile";

// The SARIF 2.1.0 objects rofs-audit writes, in the field order of the specification's examples;
// a misspelt key no longer compiles.

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
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
    /// A finding the config accepts: code scanning shows it as dismissed, with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<WriteProperties>,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    status: &'static str,
    justification: String,
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
    uri: String,
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
    /// How many writes the result stands for, when more than one: the paths of one random
    /// name's pattern, or one file written twice.
    #[serde(skip_serializing_if = "Option::is_none")]
    writes: Option<usize>,
}

#[derive(Serialize)]
struct RunProperties {
    /// The target's name in a report of several (a single report has no name beyond its image).
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
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

/// Where the target is defined (a spec's container), else line 1 of the Dockerfile (see the
/// module comment); and the container paths.
fn location(paths: &[&str], place: Option<Place>) -> Location {
    let (uri, start_line) = place.map_or((ARTIFACT, 1), |p| (p.file, p.line));
    Location {
        physical_location: PhysicalLocation {
            artifact_location: Uri {
                uri: clean(uri).into_owned(),
            },
            region: Region { start_line },
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
    place: Option<Place>,
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
        locations: [location(paths, place)],
        partial_fingerprints: Fingerprints { path: fingerprint },
        suppressions: vec![],
        properties,
    }
}

/// The accept entry that accepts `f`'s finding: its mount's, or its directory's where no mount
/// fixes it.
fn accepted_by<'a>(f: &Finding, accepted: &'a [Accepted]) -> Option<&'a Accepted> {
    let finding = match f.mount() {
        Some(mount) => baseline::mount_finding(&mount.path),
        None => baseline::unfixable_finding(f.path),
    };
    accepted.iter().find(|a| a.finding == finding)
}

fn finding_result(
    named: &Named,
    r: &Report,
    rules: &[Rule],
    profile: &Profile,
    place: Option<Place>,
) -> SarifResult {
    let f = named.finding;
    let properties = f.write.map(|w| WriteProperties {
        phase: w.phase.as_str(),
        change: w.change.as_str(),
        mount: f.mount().map(|m| clean(&m.path).into_owned()),
        writes: (named.writes > 1).then_some(named.writes),
    });
    let name = clean(&named.name);
    let mut found = result(
        place,
        rules,
        (f.rule_id(), format!("{}:{name}", f.rule_id())),
        f.level(),
        named.message(profile),
        &[name.as_ref()],
        properties,
    );
    let accepted = accepted_by(f, &r.accepted).map(|a| Suppression {
        kind: "external",
        status: "accepted",
        justification: clean(&a.reason).into_owned(),
    });
    found.suppressions = accepted.into_iter().collect();
    found
}

fn remedy_result(rem: &Remedy, rules: &[Rule], place: Option<Place>) -> SarifResult {
    let id = remedy_rule(rem);
    let level = rules
        .iter()
        .find(|r| r.id == id)
        .map_or(Level::Note, |r| r.default_configuration.level);
    // Paths of random names by their pattern, each once.
    let mut seen = BTreeSet::new();
    let paths: Vec<std::borrow::Cow<str>> = rem
        .paths
        .iter()
        .map(|p| names::pattern(p))
        .filter(|name| seen.insert(name.clone()))
        .collect();
    let paths: Vec<&str> = paths.iter().map(|p| p.as_ref()).collect();
    let listed: Vec<_> = paths.iter().map(|p| clean(p)).collect();
    let text = format!(
        "{}: {} (for {})",
        clean(&rem.title),
        clean(&rem.fix),
        listed.join(", ")
    );
    result(place, rules, (&id, id.clone()), level, text, &paths, None)
}

/// The run of one report, in code scanning category `id` (see the module comment).
fn run(
    r: &Report,
    profile: &Profile,
    id: String,
    target: Option<String>,
    place: Option<Place>,
) -> Run {
    let all = findings::findings(r);
    let rules = rules(r, profile, &all);
    let results = findings::named(&all)
        .iter()
        .map(|n| finding_result(n, r, &rules, profile, place))
        .chain(
            r.plan
                .remedies
                .iter()
                .map(|rem| remedy_result(rem, &rules, place)),
        )
        .collect();
    Run {
        tool: Tool {
            driver: Driver {
                name: "rofs-audit",
                information_uri: INFORMATION_URI,
                version: env!("CARGO_PKG_VERSION"),
                semantic_version: env!("CARGO_PKG_VERSION"),
                rules,
            },
        },
        automation_details: Id { id },
        results,
        properties: RunProperties {
            target,
            image: clean(&r.trace.image.reference).into_owned(),
            profile: clean(&r.plan.profile).into_owned(),
            verdict: r.plan.verdict.as_str(),
        },
    }
}

fn log(runs: Vec<Run>) -> String {
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs,
    };
    let mut out = serde_json::to_string_pretty(&log).expect("SARIF serialises");
    out.push('\n');
    out
}

/// One report: one run, in the category of its profile, as before several targets had runs;
/// its results point at `place` where the target comes from a spec.
pub fn report(r: &Report, profile: &Profile, place: Option<Place>) -> String {
    let id = format!("rofs-audit/{}/", clean(&r.plan.profile));
    log(vec![run(r, profile, id, None, place)])
}

/// One run per target, each with `profiles[i]`, the profile of the i-th target.
pub fn multi(multi: &MultiReport, profiles: &[Profile]) -> String {
    let names = categories(multi.targets.iter().map(|t| t.name.as_str()));
    let runs = multi
        .targets
        .iter()
        .zip(profiles)
        .zip(names)
        .map(|((t, profile), name)| {
            let id = format!("rofs-audit/{name}/");
            let place = Place::of(&t.defined_at);
            run(
                &t.report,
                profile,
                id,
                Some(clean(&t.name).into_owned()),
                place,
            )
        })
        .collect();
    log(runs)
}

/// Each target's name as its category, made distinct: two reports of one image merged (under
/// two profiles, say) would otherwise share a category, which code scanning refuses. The second
/// of a name becomes `NAME#2` (the first such suffix no target has), and so on, so a category
/// stays the same from one CI run to the next as long as the targets keep their order.
fn categories<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let names: Vec<String> = names.map(|n| clean(n).into_owned()).collect();
    // Every target's own name, and every suffixed category handed out so far.
    let mut taken: BTreeSet<String> = names.iter().cloned().collect();
    let mut seen = BTreeSet::new();
    names
        .iter()
        .map(|name| {
            if seen.insert(name.as_str()) {
                return name.clone();
            }
            let free = (2..)
                .map(|n| format!("{name}#{n}"))
                .find(|c| !taken.contains(c))
                .expect("a set of names leaves some suffix free");
            taken.insert(free.clone());
            free
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::model::{MultiReport, Report, TargetReport, SCHEMA_VERSION};
    use crate::report::{render_multi, render_report, testdata, Format, RenderOptions};

    fn targets(targets: Vec<(&str, Report)>) -> MultiReport {
        MultiReport {
            schema_version: SCHEMA_VERSION,
            source: "a.json, b.json".into(),
            targets: targets
                .into_iter()
                .map(|(name, report)| TargetReport {
                    name: name.into(),
                    defined_at: format!("{name}.json"),
                    spec_path: None,
                    notes: vec![],
                    duration_ms: None,
                    report,
                })
                .collect(),
        }
    }

    fn ids(sarif: &str) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(sarif).expect("SARIF is JSON");
        v["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .map(|run| run["automationDetails"]["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn an_accepted_finding_is_a_suppressed_result_with_its_reason() {
        let (mut report, profile) = testdata::needs_mounts();
        let mount = report.fix_mounts()[0].path.clone();
        let entry = crate::analyze::accept::Accept {
            path: format!("{mount}/**"),
            target: None,
            reason: "goes away in 2.0".into(),
            expires: None,
        };
        let findings = crate::analyze::baseline::all_findings(&report);
        crate::analyze::accept::apply(&mut report, &findings, &[entry]);
        let out = super::report(&report, &profile, None);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let results = v["runs"][0]["results"].as_array().unwrap();
        let suppressed: Vec<&serde_json::Value> = results
            .iter()
            .filter(|r| r["suppressions"].is_array())
            .collect();
        assert!(!suppressed.is_empty(), "{out}");
        for r in &suppressed {
            assert_eq!(r["properties"]["mount"], mount.as_str(), "{r}");
            assert_eq!(r["suppressions"][0]["justification"], "goes away in 2.0");
            assert_eq!(r["suppressions"][0]["kind"], "external");
        }
        assert!(suppressed.len() < results.len(), "only that mount's: {out}");
    }

    #[test]
    fn results_point_at_the_line_of_the_spec_that_defines_the_target() {
        let (web, ecs) = testdata::needs_mounts();
        let mut multi = targets(vec![("web", web.clone()), ("worker", web)]);
        multi.targets[0].defined_at = "deploy/task.json:12".into();
        let profiles = [ecs.clone(), ecs];
        let out = render_multi(&multi, &profiles, Format::Sarif, &RenderOptions::default());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let place = |run: usize| {
            let at = &v["runs"][run]["results"][0]["locations"][0]["physicalLocation"];
            (
                at["artifactLocation"]["uri"].clone(),
                at["region"]["startLine"].clone(),
            )
        };
        assert_eq!(place(0), ("deploy/task.json".into(), 12.into()));
        // A report file (merge) is no place in the repository: the Dockerfile, line 1.
        assert_eq!(place(1), ("Dockerfile".into(), 1.into()));
        // One target alone keeps its place too, and GitHub annotations take it.
        multi.targets.truncate(1);
        let one = render_multi(
            &multi,
            &profiles[..1],
            Format::Sarif,
            &RenderOptions::default(),
        );
        assert!(one.contains("\"uri\": \"deploy/task.json\""), "{one}");
        let github = render_multi(
            &multi,
            &profiles[..1],
            Format::Github,
            &RenderOptions::default(),
        );
        assert!(
            github
                .lines()
                .filter(|l| !l.starts_with("::notice title=rofs-audit"))
                .all(|l| l.contains(" file=deploy/task.json,line=12,title=")),
            "{github}"
        );
    }

    #[test]
    fn two_targets_make_two_runs_in_categories_of_their_own() {
        let (web, ecs) = testdata::needs_mounts();
        let (worker, k8s) = testdata::needs_changes();
        let multi = targets(vec![("web", web), ("Deployment/jobs/worker", worker)]);
        let profiles = [ecs, k8s];
        let out = render_multi(&multi, &profiles, Format::Sarif, &RenderOptions::default());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let runs = v["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{out}");
        // Code scanning's category is the id up to its last slash: one per target.
        assert_eq!(
            ids(&out),
            ["rofs-audit/web/", "rofs-audit/Deployment/jobs/worker/"]
        );
        for (run, (target, profile)) in runs.iter().zip([
            ("web", "ecs-fargate"),
            ("Deployment/jobs/worker", "kubernetes"),
        ]) {
            assert_eq!(run["properties"]["target"], target);
            assert_eq!(run["properties"]["profile"], profile);
            // Each run judged by its own profile, its rules indexed within the run.
            let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
            let results = run["results"].as_array().unwrap();
            assert!(!results.is_empty(), "{target}");
            for res in results {
                let i = res["ruleIndex"].as_u64().unwrap() as usize;
                assert_eq!(rules[i]["id"], res["ruleId"], "{target}");
            }
        }
        // The worker deletes a file of its image: a write no mount fixes, in its run only.
        let unfixable = |run: &serde_json::Value| {
            run["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["ruleId"] == "unfixable-write")
        };
        assert_eq!((unfixable(&runs[0]), unfixable(&runs[1])), (false, true));
    }

    #[test]
    fn targets_of_one_name_still_get_distinct_categories() {
        // Two reports of one image merged, or a name that already ends in #2.
        let multi = targets(vec![
            ("app", testdata::needs_mounts().0),
            ("app", testdata::proven().0),
            ("app#2", testdata::unproven().0),
            ("app", testdata::compatible().0),
        ]);
        let profiles = vec![testdata::needs_mounts().1; 4];
        let out = render_multi(&multi, &profiles, Format::Sarif, &RenderOptions::default());
        assert_eq!(
            ids(&out),
            [
                "rofs-audit/app/",
                "rofs-audit/app#3/",
                "rofs-audit/app#2/",
                "rofs-audit/app#4/"
            ]
        );
    }

    #[test]
    fn one_target_renders_as_a_single_report_does() {
        // Keeps the category existing users' alerts live in (`rofs-audit/<profile>/`).
        let (report, profile) = testdata::needs_mounts();
        let single = render_report(&report, &profile, Format::Sarif, &RenderOptions::default());
        let multi = targets(vec![("web", report)]);
        let out = render_multi(&multi, &[profile], Format::Sarif, &RenderOptions::default());
        assert_eq!(out, single);
        assert_eq!(ids(&out), ["rofs-audit/ecs-fargate/"]);
    }

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
