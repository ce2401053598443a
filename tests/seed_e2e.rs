//! The seed's acceptance (#5) against the real Docker Engine: the Flask webhook that broke under
//! ECS Fargate's read-only root because it started with `uv run` (`webhook:before`), and its
//! rework started by the venv's Python (`webhook:after`). tests/seed/README.md has the images and
//! what was measured by hand: with `--read-only`, only uv's cache under HOME is fatal; uv
//! tolerates its failed `.venv/.lock` and `/tmp/uv-*.lock`, Python its failed `__pycache__`.

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use common::{docker_ok, run, run_json};
use serde_json::Value;

const BEFORE: &str = "rofs-audit-seed/webhook:before";
const AFTER: &str = "rofs-audit-seed/webhook:after";
const CACHE: &str = "/home/appuser/.cache";

/// The acceptance command of #5 for `image`.
fn audit_args(image: &str) -> Vec<&str> {
    vec![
        "audit",
        image,
        "--port",
        "5000",
        "--probe",
        "/health",
        "--probe",
        "/health/ready",
        "--profile",
        "ecs-fargate",
    ]
}

/// `path` is `dir` or inside it.
fn under(path: &str, dir: &str) -> bool {
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn array<'a>(report: &'a Value, key: &str) -> &'a Vec<Value> {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("no array `{key}` in the report:\n{}", pretty(report)))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn path_of(v: &Value) -> &str {
    v["path"].as_str().unwrap_or("<no path>")
}

/// The judgement in a few lines, for assertion messages: the writes with would_fail and fatal,
/// the mounts with what they cover, the unfixable paths, the remedy ids, the verdict.
fn findings(report: &Value) -> String {
    let mut s = format!("verdict: {}\nwrites:\n", report["verdict"]);
    for w in report["writes"].as_array().into_iter().flatten() {
        s += &format!(
            "  {:<10} {} would_fail={} fatal={}\n",
            w["change"].as_str().unwrap_or("?"),
            path_of(w),
            w["would_fail"],
            w["fatal"]
        );
    }
    s += "mounts:\n";
    for m in report["mounts"].as_array().into_iter().flatten() {
        s += &format!(
            "  {} {} owner={} exists_in_image={} covers {}\n",
            path_of(m),
            m["options"],
            m["owner"],
            m["exists_in_image"],
            m["covers"]
        );
    }
    s += "unfixable:\n";
    for u in report["unfixable"].as_array().into_iter().flatten() {
        s += &format!(
            "  {}: {}\n",
            path_of(u),
            u["reason"].as_str().unwrap_or("?")
        );
    }
    let ids: Vec<_> = report["remedies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["id"].to_string())
        .collect();
    s += &format!("remedies: {}\n", ids.join(", "));
    s
}

/// The report's `verification`, which must be there.
fn verification(report: &Value) -> &Value {
    let v = &report["verification"];
    assert!(
        v.is_object(),
        "no `verification` (the read-only proof) in the report; its keys: {:?}\n{}",
        report.as_object().map(|o| o.keys().collect::<Vec<_>>()),
        findings(report)
    );
    v
}

/// The verification as JSON, for assertion messages.
fn proof(report: &Value) -> String {
    pretty(&report["verification"])
}

/// Runs a shell script in `image` as root, with no network and the image's entrypoint bypassed.
/// The container carries the image's test label and is removed when it ends.
fn in_image(image: &str, script: &str, args: &[&str]) -> String {
    let mut all = vec![
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "0",
        "--entrypoint",
        "/bin/sh",
        image,
        "-c",
        script,
        "sh",
    ];
    all.extend_from_slice(args);
    docker_ok(&all)
}

/// Of `paths`, those that do not exist in `image`.
fn missing_in_image(image: &str, paths: &[&str]) -> Vec<String> {
    if paths.is_empty() {
        return Vec::new();
    }
    let out = in_image(
        image,
        r#"for p in "$@"; do [ -e "$p" ] || [ -L "$p" ] || echo "$p"; done"#,
        paths,
    );
    out.lines().map(str::to_owned).collect()
}

/// What `image` holds under `dir`: None when it has no directory there.
fn image_entries_under(image: &str, dir: &str) -> Option<Vec<String>> {
    let out = in_image(
        image,
        r#"[ -d "$1" ] || { echo MISSING; exit 0; }; echo DIR; find "$1" -mindepth 1"#,
        &[dir],
    );
    let mut lines = out.lines();
    match lines.next() {
        Some("DIR") => Some(lines.map(str::to_owned).collect()),
        _ => None,
    }
}

/// Absolute paths named in an unfixable's reason: the directory and the image files a mount
/// would hide (and any path the advice suggests).
fn paths_named(reason: &str) -> Vec<&str> {
    reason
        .split(|c: char| c.is_whitespace() || "(),;…`'\"".contains(c))
        .map(|t| t.trim_end_matches(['.', ':']))
        .filter(|t| t.starts_with('/') && t.len() > 1)
        .collect()
}

/// The JSON audit of `before`, run once and shared by the tests that judge it; it must exit 1.
fn before_report() -> &'static Value {
    static REPORT: OnceLock<Result<Value, String>> = OnceLock::new();
    let report = REPORT.get_or_init(|| {
        std::panic::catch_unwind(|| run_json(&audit_args(BEFORE), &[1])).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
    });
    match report {
        Ok(report) => report,
        Err(e) => panic!("the audit of {BEFORE} failed: {e}"),
    }
}

fn failing(report: &Value) -> Vec<&Value> {
    array(report, "writes")
        .iter()
        .filter(|w| w["would_fail"] == true)
        .collect()
}

/// Every path the report's mounts cover.
fn covered(report: &Value) -> BTreeSet<&str> {
    array(report, "mounts")
        .iter()
        .flat_map(|m| m["covers"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn before_uv_writes_would_fail_and_get_the_launcher_remedy() {
    if !common::ready(common::Need::Images("tests/seed/build-images.sh")) {
        return;
    }
    let report = before_report();
    let all = findings(report);
    let failing = failing(report);

    // uv's cache under HOME, and what uv touches in the project, would fail.
    assert!(
        failing
            .iter()
            .any(|w| under(path_of(w), &format!("{CACHE}/uv"))),
        "no failing write under {CACHE}/uv:\n{all}"
    );
    assert!(
        failing.iter().any(|w| path_of(w) == "/app/.venv/.lock"),
        "uv's /app/.venv/.lock (docker diff shows it) is not among the failing writes:\n{all}"
    );
    assert!(
        failing
            .iter()
            .any(|w| path_of(w).starts_with("/tmp/uv-") && path_of(w).ends_with(".lock")),
        "uv's /tmp/uv-*.lock (docker diff shows it) is not among the failing writes:\n{all}"
    );

    // The launcher remedy, for the cache and for the project's lock.
    let remedies = array(report, "remedies");
    let uv = remedies
        .iter()
        .find(|r| r["id"] == "uv-run")
        .unwrap_or_else(|| panic!("no uv-run remedy:\n{all}"));
    let uv_paths: Vec<&str> = uv["paths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        uv_paths.iter().any(|p| under(p, &format!("{CACHE}/uv")))
            && uv_paths.contains(&"/app/.venv/.lock"),
        "uv-run should name the cache and /app/.venv/.lock: {}",
        pretty(uv)
    );
    assert!(
        uv["fix"]
            .as_str()
            .is_some_and(|f| f.contains(".venv/bin/python")),
        "{}",
        pretty(uv)
    );
}

#[test]
fn before_full_cover_and_unfixable_agree_with_the_image() {
    if !common::ready(common::Need::Images("tests/seed/build-images.sh")) {
        return;
    }
    let report = before_report();
    let all = findings(report);
    let failing = failing(report);

    // Every failing write gets a mount or is unfixable, or both where the only mount would hide
    // the image's files (a proposal only a passing run could keep); each mount covers only what
    // is inside it.
    let mounts = array(report, "mounts");
    let unfixable = array(report, "unfixable");
    let mut seen = BTreeSet::new();
    for m in mounts {
        for c in m["covers"].as_array().into_iter().flatten() {
            let c = c.as_str().unwrap_or_default();
            assert!(
                under(c, path_of(m)),
                "mount {} covers {c}, outside it:\n{all}",
                path_of(m)
            );
            assert!(seen.insert(c), "{c} is covered twice:\n{all}");
        }
    }
    let covered = covered(report);
    let unfixed: BTreeSet<&str> = unfixable.iter().map(path_of).collect();
    let failing_paths: BTreeSet<&str> = failing.iter().map(|w| path_of(w)).collect();
    let proposed: BTreeSet<&str> = mounts
        .iter()
        .filter(|m| m["hides_files"] == true)
        .flat_map(|m| m["covers"].as_array().into_iter().flatten())
        .filter_map(|c| c.as_str())
        .collect();
    let both: Vec<_> = covered
        .intersection(&unfixed)
        .filter(|p| !proposed.contains(*p))
        .collect();
    assert!(both.is_empty(), "covered and unfixable: {both:?}\n{all}");
    let accounted: BTreeSet<&str> = covered.union(&unfixed).copied().collect();
    assert_eq!(
        accounted, failing_paths,
        "covered + unfixable should be exactly the failing writes:\n{all}"
    );
    assert!(
        mounts.iter().any(|m| path_of(m) == CACHE),
        "no mount at {CACHE} in the full cover:\n{all}"
    );

    // /tmp holds nothing of the image (the build's /tmp/wheels is deleted in a later layer), so
    // nothing there is unfixable.
    let in_tmp: Vec<_> = unfixed.iter().filter(|p| under(p, "/tmp")).collect();
    assert!(
        in_tmp.is_empty(),
        "writes under /tmp reported unfixable, but the image's /tmp is empty: {in_tmp:?}\n{all}"
    );

    // Against the image itself: what an unfixable's reason says a mount would hide exists, and
    // a mount hides nothing of the image but what the app wrote there.
    let mut named = BTreeSet::new();
    for u in unfixable {
        named.extend(
            paths_named(u["reason"].as_str().unwrap_or_default())
                .into_iter()
                .filter(|p| *p != path_of(u)),
        );
    }
    let named: Vec<&str> = named.into_iter().collect();
    let missing = missing_in_image(BEFORE, &named);
    assert!(
        missing.is_empty(),
        "unfixable reasons name paths the image does not have: {missing:?}\n{all}"
    );
    let modified: BTreeSet<&str> = (failing.iter())
        .filter(|w| w["change"] == "modified")
        .map(|w| path_of(w))
        .collect();
    for m in mounts {
        let entries = image_entries_under(BEFORE, path_of(m));
        assert_eq!(
            m["exists_in_image"].as_bool(),
            Some(entries.is_some()),
            "exists_in_image of {} is wrong:\n{all}",
            path_of(m)
        );
        // What the app made there is no image content a mount hides; a file of the image it
        // modified (a stale .pyc rewritten) still is: the mount hides the image's copy.
        let hidden: Vec<_> = entries
            .into_iter()
            .flatten()
            .filter(|e| !covered.contains(e.as_str()) || modified.contains(e.as_str()))
            .collect();
        if hidden.is_empty() {
            assert_eq!(m.get("hides"), None, "{}:\n{all}", path_of(m));
            continue;
        }
        // A mount that would hide the image's files says so, names only what is there, and
        // is kept by no fix: the app's own venv is under /app/.venv.
        assert_eq!(
            m["hides_files"],
            true,
            "{} hides {hidden:?}:\n{all}",
            path_of(m)
        );
        for h in m["hides"].as_array().expect("what it hides") {
            let h = h.as_str().unwrap();
            assert!(
                hidden.iter().any(|e| e == h),
                "{} hides {h}?\n{all}",
                path_of(m)
            );
        }
        assert!(
            !paths(&verification(report)["minimal_mounts"]).contains(&path_of(m)),
            "the proof kept {}, which hides the app's own files:\n{all}",
            path_of(m)
        );
    }
}

fn paths(mounts: &Value) -> Vec<&str> {
    mounts
        .as_array()
        .into_iter()
        .flatten()
        .map(path_of)
        .collect()
}

#[test]
fn before_proof_needs_only_the_uv_cache_mount() {
    if !common::ready(common::Need::Images("tests/seed/build-images.sh")) {
        return;
    }
    let report = before_report();
    let all = findings(report);
    let failing = failing(report);

    // Mounts alone save it, and one mount is enough, on uv's cache.
    let v = verification(report);
    assert_eq!(
        v["passed"],
        true,
        "the proof should pass with the cache mount:\n{}",
        proof(report)
    );
    let minimal_paths: Vec<&str> = v["minimal_mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(path_of)
        .collect();
    assert_eq!(
        minimal_paths,
        [CACHE],
        "measured by hand, only {CACHE} is needed:\n{}",
        proof(report)
    );
    let cache = &v["minimal_mounts"][0];
    assert_eq!(
        cache["owner"],
        serde_json::json!({"uid": 1000, "gid": 1000}),
        "{}",
        pretty(cache)
    );
    let options = cache["options"].as_array().cloned().unwrap_or_default();
    assert!(
        options.contains(&"uid=1000".into()) && options.contains(&"gid=1000".into()),
        "on ECS the owner goes in as uid=/gid= options: {}",
        pretty(cache)
    );
    assert_eq!(
        report["verdict"], "needs-mounts",
        "the proof passed with one mount: mounts alone save it\n{all}"
    );

    // Per write: nothing in the cache is tolerated; uv's other writes and Python's are, and so
    // is everything a mount cannot fix (else mounts alone would not have saved it).
    let cache_tolerated: Vec<&str> = failing
        .iter()
        .filter(|w| under(path_of(w), CACHE) && w["fatal"] == false)
        .map(|w| path_of(w))
        .collect();
    assert!(
        cache_tolerated.is_empty(),
        "writes under {CACHE} marked fatal: false, yet the app cannot run without them: \
         {cache_tolerated:?}\n{all}"
    );
    // uv's error names its cache directory: the writes below it are decided fatal.
    assert!(
        failing
            .iter()
            .any(|w| under(path_of(w), &format!("{CACHE}/uv")) && w["fatal"] == true),
        "no write under {CACHE}/uv is fatal: true, yet the run without the mount died on it:\n{all}"
    );
    assert!(
        failing.iter().any(
            |w| (under(path_of(w), "/tmp") || under(path_of(w), "/app")) && w["fatal"] == false
        ),
        "measured by hand, uv's .venv/.lock and /tmp/uv-*.lock and Python's __pycache__ are \
         tolerated, but no failing write under /tmp or /app is fatal: false:\n{all}"
    );
    let fatal_unfixable: Vec<&str> = array(report, "unfixable")
        .iter()
        .map(path_of)
        .filter(|p| {
            failing
                .iter()
                .any(|w| path_of(w) == *p && w["fatal"] != false)
        })
        .collect();
    assert!(
        fatal_unfixable.is_empty(),
        "the proof passed with mounts only, yet these unfixable writes are not marked \
         tolerated: {fatal_unfixable:?}\n{all}"
    );

    // The runs behind it: one with only the cache mount passed, one without it failed on a
    // read-only error that names the cache.
    let runs = v["runs"].as_array().cloned().unwrap_or_default();
    let has_cache = |r: &Value| {
        r["mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["path"] == CACHE)
    };
    assert!(
        runs.iter().any(|r| r["readonly"] == true
            && r["passed"] == true
            && has_cache(r)
            && r["mounts"].as_array().map(Vec::len) == Some(1)),
        "no passing read-only run with only the {CACHE} mount:\n{}",
        proof(report)
    );
    assert!(
        runs.iter().any(|r| r["readonly"] == true
            && r["passed"] == false
            && !has_cache(r)
            && r["erofs_lines"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|l| l["line"].as_str().is_some_and(|l| l.contains(CACHE)))),
        "no failed read-only run without the {CACHE} mount whose read-only error names it:\n{}",
        proof(report)
    );
}

#[test]
fn after_passes_read_only_within_the_startup_and_probe_budgets() {
    if !common::ready(common::Need::Images("tests/seed/build-images.sh")) {
        return;
    }
    let report = run_json(&audit_args(AFTER), &[0]);
    let all = findings(&report);
    assert_eq!(report["verdict"], "compatible", "{all}");

    let v = verification(&report);
    assert_eq!(v["passed"], true, "{}", proof(&report));
    assert_eq!(
        v["minimal_mounts"].as_array().map(Vec::len),
        Some(0),
        "after needs no mount:\n{}",
        proof(&report)
    );

    let startup = &v["gates"]["startup"];
    let (ms, budget) = (startup["ms"].as_u64(), startup["budget_ms"].as_u64());
    assert!(
        startup["ok"] == true && budget == Some(30_000) && ms.is_some_and(|ms| ms < 30_000),
        "startup gate (ECS: 30 s): {}",
        pretty(startup)
    );
    let probes = v["gates"]["probes"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = probes.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(
        names,
        ["/health", "/health/ready"],
        "probe gates: {}",
        pretty(&v["gates"])
    );
    for p in &probes {
        assert!(
            p["ok"] == true
                && p["budget_ms"] == 10_000
                && p["ms"].as_u64().is_some_and(|ms| ms <= 10_000),
            "probe gate (10 s): {}",
            pretty(p)
        );
    }

    // The run that proves it: read-only, no mount, no read-only error in its logs.
    let runs = v["runs"].as_array().cloned().unwrap_or_default();
    assert!(
        runs.iter().any(|r| r["readonly"] == true
            && r["passed"] == true
            && r["mounts"].as_array().is_some_and(Vec::is_empty)
            && r["erofs_lines"].as_array().is_some_and(Vec::is_empty)),
        "no clean read-only run without mounts:\n{}",
        proof(&report)
    );
}

/// The lines of the text report's fix titled `title`, up to the next fix or the summary.
fn fix_section<'a>(text: &'a str, title: &str) -> &'a str {
    let header = format!("Fix: {title}");
    let start = text
        .find(&header)
        .unwrap_or_else(|| panic!("no `{header}` in the report:\n{text}"));
    let rest = &text[start + header.len()..];
    let end = ["\nFix: ", "\nneeds-", "\ncompatible:"]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn before_text_report_gives_the_ecs_and_cdk_fix_with_the_cache_tmpfs() {
    if !common::ready(common::Need::Images("tests/seed/build-images.sh")) {
        return;
    }
    let out = run(&audit_args(BEFORE));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ecs = fix_section(&text, "Amazon ECS task definition (JSON)");
    assert!(
        ecs.contains(r#""readonlyRootFilesystem": true"#)
            && ecs.contains(&format!(r#""containerPath": "{CACHE}""#)),
        "{ecs}"
    );
    let cdk = fix_section(&text, "AWS CDK (TypeScript)");
    assert!(
        cdk.contains("readonlyRootFilesystem: true")
            && cdk.contains("addTmpfs")
            && cdk.contains(&format!("containerPath: '{CACHE}'")),
        "{cdk}"
    );
}

/// The README's CI gate for the fixed deployment: `before` with the proven cache mount.
#[test]
fn before_with_the_cache_mount_passes_verify() {
    if !common::ready(common::Need::Images("tests/seed/build-images.sh")) {
        return;
    }
    let tmpfs = format!("{CACHE}:noexec,nosuid,nodev,uid=1000,gid=1000,size=16m");
    let out = run(&[
        "verify",
        BEFORE,
        "--port",
        "5000",
        "--probe",
        "/health",
        "--probe",
        "/health/ready",
        "--tmpfs",
        &tmpfs,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("passed: it runs read-only with these mounts"),
        "{stdout}"
    );
    // Without it, the same gate fails on uv's cache.
    let out = run(&["verify", BEFORE, "--port", "5000", "--probe", "/health"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "failed to create directory `/home/appuser/.cache/uv`: Read-only file system"
        ),
        "{stdout}"
    );
}
