//! What the user gives, read and checked at the edge: durations, commands, env files, recorded
//! traces. Each error names the input and the fix, so that a mistake fails before anything runs.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};

use serde::de::DeserializeOwned;

use crate::model::{MultiReport, Report, TargetReport, Trace, SCHEMA_VERSION};

/// The longest a budget or the idle watch may be: an audit runs the app several times, and a
/// longer wait is a typo (99999999s) more often than a need.
const MAX_BUDGET: Duration = Duration::from_secs(3600);

/// A duration for a budget or the idle watch, at most `MAX_BUDGET`.
pub fn budget(s: &str) -> Result<Duration, String> {
    let d = duration(s)?;
    if d > MAX_BUDGET {
        return Err(format!(
            "{s:?} is longer than an hour, more than any app needs to start, answer or stop; \
             write it like 30s or 5m"
        ));
    }
    Ok(d)
}

/// `30s`, `500ms`, `2m`, or a bare number of seconds.
pub fn duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration; write it like 30s, 500ms or 2m"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit {unit:?} in {s:?}; use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("{s:?} is too long a duration; write it like 30s, 500ms or 2m"))
}

/// One line: `FILE:LINE:COLUMN: MESSAGE; FIX`, where editors and terminals find the place.
pub fn yaml_error(source: &str, e: &serde_yaml_ng::Error, fix: &str) -> anyhow::Error {
    let (at, message) = match e.location() {
        Some(loc) => (
            format!("{source}:{}:{}", loc.line(), loc.column()),
            serde_message(e, loc.line(), loc.column()),
        ),
        None => (source.to_string(), serde_message(e, 0, 0)),
    };
    anyhow!("{at}: {message}; {fix}")
}

/// A serde error's message for a line that already says where: its own " at line L column C"
/// removed, on one line, and a quoted value cut short, since serde quotes a mistyped value
/// whole (a file that is no YAML at all is one string).
fn serde_message(e: &dyn std::fmt::Display, line: usize, column: usize) -> String {
    const QUOTED_MAX: usize = 40;
    let message = e.to_string();
    let message = message.replace(&format!(" at line {line} column {column}"), "");
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(message.len().min(256));
    let (mut quoted, mut escaped, mut kept) = (false, false, 0);
    for c in message.chars() {
        let closes = quoted && !escaped && c == '"';
        if quoted && !closes {
            escaped = !escaped && c == '\\';
            kept += 1;
            match kept {
                k if k <= QUOTED_MAX => out.push(c),
                k if k == QUOTED_MAX + 1 => out.push('…'),
                _ => {}
            }
            continue;
        }
        (quoted, kept) = (c == '"' && !closes, 0);
        out.push(c);
    }
    out
}

/// A duration as the flags take it: `30s`, `1500ms`.
pub fn format_duration(d: Duration) -> String {
    match d.subsec_millis() {
        0 => format!("{}s", d.as_secs()),
        _ => format!("{}ms", d.as_millis()),
    }
}

/// An image reference: not empty.
pub fn image(s: &str) -> Result<String, String> {
    match s.trim() {
        "" => Err(
            "the image reference is empty; give a name such as my-app:1.4 or an image ID".into(),
        ),
        _ => Ok(s.to_string()),
    }
}

/// `NAME=VALUE`, as `--image CONTAINER=REF` takes it.
pub fn assignment(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() && !value.is_empty() => {
            Ok((name.to_string(), value.to_string()))
        }
        _ => Err(format!(
            "{s:?} is not NAME=VALUE; write it as in web=my-app:1.4"
        )),
    }
}

/// A file's text, or standard input's for `-`.
pub fn read_text(path: &Path) -> Result<String> {
    let read = match path.as_os_str() == "-" {
        true => std::io::read_to_string(std::io::stdin()),
        false => std::fs::read_to_string(path),
    };
    read.map_err(|e| anyhow!("cannot read {}: {e}; check the path", path.display()))
}

/// The container's command, given as `--cmd` (shell words or a JSON array) or after `--`.
pub fn command(cmd: Option<&str>, trailing: &[String]) -> Result<Option<Vec<String>>> {
    match (cmd, trailing.is_empty()) {
        (Some(_), false) => bail!("give the command either with --cmd or after --, not both"),
        (Some(cmd), true) => command_words(cmd).map(Some),
        (None, false) => Ok(Some(trailing.to_vec())),
        (None, true) => Ok(None),
    }
}

fn command_words(cmd: &str) -> Result<Vec<String>> {
    if cmd.trim_start().starts_with('[') {
        serde_json::from_str(cmd).map_err(|e| {
            anyhow!("--cmd looks like a JSON array but is not one ({e}); write [\"a\", \"b\"]")
        })
    } else {
        shlex::split(cmd).ok_or_else(|| {
            anyhow!("--cmd {cmd:?} has an unclosed quote; close it, or give a JSON array")
        })
    }
}

/// The container's environment as `docker run` builds it: the env files' lines in order, then
/// each `-e K=V`, where a bare `-e K` passes this process's value (and nothing when unset).
pub fn environment(vars: &[String], files: &[PathBuf]) -> Result<Vec<String>> {
    let mut env = vec![];
    for file in files {
        env.extend(read_env_file(file)?);
    }
    for kv in vars {
        if kv.is_empty() || kv.starts_with('=') {
            bail!("-e {kv:?}: a variable needs a name, as in -e NAME=value");
        }
        match kv.split_once('=') {
            Some(_) => env.push(kv.clone()),
            None => env.extend(std::env::var(kv).ok().map(|v| format!("{kv}={v}"))),
        }
    }
    Ok(env)
}

fn read_env_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow!(
            "cannot read env file {}: {e}; check the path given to --env-file",
            path.display()
        )
    })?;
    let mut env = vec![];
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, _)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
                env.push(line.to_string())
            }
            _ => bail!(
                "{}:{}: expected K=V, found {line:?}; fix or comment out that line",
                path.display(),
                n + 1
            ),
        }
    }
    Ok(env)
}

/// A trace, or a report (which holds one), written with `--format json`.
pub fn read_trace(path: &Path) -> Result<Trace> {
    // A trace has not changed since schema_version 1.
    let versions = 1..=SCHEMA_VERSION;
    read_json(
        path,
        "trace",
        "rofs-audit trace IMAGE --format json -o FILE",
        versions,
    )
}

/// A report written by `audit --format json`.
pub fn read_report(path: &Path) -> Result<Report> {
    let versions = SCHEMA_VERSION..=SCHEMA_VERSION;
    read_json(
        path,
        "report",
        "rofs-audit audit IMAGE --format json -o FILE",
        versions,
    )
}

/// Reports written by `audit --format json` (one image, or the containers of a spec), as one
/// report of several targets: `merge`. An image's report is named after the image, and comes
/// from its file; a report of several keeps its source (a spec, a config).
pub fn read_merged(paths: &[PathBuf]) -> Result<MultiReport> {
    let mut targets = vec![];
    let mut sources = vec![];
    let writes = "rofs-audit audit IMAGE --format json -o FILE";
    let versions = || SCHEMA_VERSION..=SCHEMA_VERSION;
    for path in paths {
        let text = read_text(path)?;
        let several = serde_json::from_str::<serde_json::Value>(&text)
            .is_ok_and(|v| v.get("targets").is_some());
        if several {
            let multi: MultiReport = parse_json(path, &text, "report", writes, versions())?;
            if multi.targets.is_empty() {
                bail!(
                    "{}: a report of no targets; give reports that audited something",
                    path.display()
                );
            }
            targets.extend(multi.targets);
            sources.push(multi.source);
        } else {
            let report: Report = parse_json(path, &text, "report", writes, versions())?;
            targets.push(TargetReport {
                name: report.trace.image.reference.clone(),
                defined_at: path.display().to_string(),
                spec_path: None,
                notes: vec![],
                duration_ms: None,
                report,
            });
            sources.push(path.display().to_string());
        }
    }
    Ok(MultiReport {
        schema_version: SCHEMA_VERSION,
        source: sources.join(", "),
        targets,
    })
}

/// A JSON file of ours, of one of the schema `versions`; `what` it is and the command that
/// `writes` one name the fix.
fn read_json<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    writes: &str,
    versions: RangeInclusive<u32>,
) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow!(
            "cannot read {}: {e}; give a file written by `{writes}`",
            path.display()
        )
    })?;
    parse_json(path, &text, what, writes, versions)
}

/// [`read_json`] of `text`, read from `path`.
fn parse_json<T: DeserializeOwned>(
    path: &Path,
    text: &str,
    what: &str,
    writes: &str,
    versions: RangeInclusive<u32>,
) -> Result<T> {
    let version = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("schema_version").and_then(serde_json::Value::as_u64));
    let readable = |v: u64| u32::try_from(v).is_ok_and(|v| versions.contains(&v));
    if let Some(version) = version.filter(|&v| !readable(v)) {
        let (by, fix) = match version > u64::from(*versions.end()) {
            true => ("a newer", "upgrade rofs-audit"),
            false => ("an older", "run it again"),
        };
        bail!(
            "{}: schema_version {version} was written by {by} rofs-audit (this one reads {} \
             {}); {fix}",
            path.display(),
            what,
            match versions.start() == versions.end() {
                true => versions.start().to_string(),
                false => format!("{} to {}", versions.start(), versions.end()),
            }
        );
    }
    serde_json::from_str(text).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let message = serde_message(&e, line, column);
        anyhow!(
            "{}:{line}:{column}: not a rofs-audit {what} ({message}); write one with `{writes}`",
            path.display(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker_flags() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(duration("soon").unwrap_err().contains("30s"));
        assert!(duration("3h").unwrap_err().contains("unknown unit"));
        assert!(duration("99999999999999999999999")
            .unwrap_err()
            .contains("too long"));
        assert!(budget("7200s").unwrap_err().contains("longer than an hour"));
    }

    #[test]
    fn env_file_errors_name_file_and_line() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "# comment\nA=1\n\nnot a pair\n").unwrap();
        let err = read_env_file(file.path()).unwrap_err().to_string();
        assert!(err.contains(":4: expected K=V"), "{err}");
    }

    #[test]
    fn env_files_come_first_then_each_variable() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "A=1\n").unwrap();
        let vars = ["B=2".to_string(), "ROFS_AUDIT_SURELY_UNSET".to_string()];
        let env = environment(&vars, &[file.path().to_path_buf()]).unwrap();
        assert_eq!(env, ["A=1", "B=2"]);
        assert!(environment(&["=x".to_string()], &[]).is_err());
    }

    #[test]
    fn a_trace_from_a_newer_rofs_audit_is_refused_with_the_fix() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), r#"{"schema_version": 99}"#).unwrap();
        let err = read_trace(file.path()).unwrap_err().to_string();
        assert!(
            err.contains("schema_version 99 was written by a newer rofs-audit")
                && err.contains("upgrade"),
            "{err}"
        );
    }

    #[test]
    fn a_version_1_trace_is_read_but_a_version_1_report_is_not() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), r#"{"schema_version": 1}"#).unwrap();
        let err = read_trace(file.path()).unwrap_err().to_string();
        // Past the version check: the rest of this file is no trace.
        assert!(err.contains("not a rofs-audit trace"), "{err}");
        let err = read_report(file.path()).unwrap_err().to_string();
        assert!(
            err.contains("schema_version 1 was written by an older rofs-audit (this one reads report 2); run it again"),
            "{err}"
        );
    }

    #[test]
    fn a_file_of_another_kind_is_named_not_echoed() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n";
        let e = serde_yaml_ng::from_str::<Vec<u32>>(passwd).unwrap_err();
        assert_eq!(
            yaml_error("/etc/passwd", &e, "FIX").to_string(),
            "/etc/passwd:1:1: invalid type: string \"root:x:0:0:root:/root:/bin/bash daemon:x…\", \
             expected a sequence; FIX"
        );
        // An escaped quote does not end the value, and a short one is kept whole.
        let e =
            serde_json::from_str::<u32>(r#""a \"quoted\" word and then a great deal more text""#)
                .unwrap_err();
        assert_eq!(
            serde_message(&e, e.line(), e.column()),
            r#"invalid type: string "a \"quoted\" word and then a great deal …", expected u32"#
        );
        let e = serde_json::from_str::<u32>(r#""short""#).unwrap_err();
        assert_eq!(
            serde_message(&e, e.line(), e.column()),
            r#"invalid type: string "short", expected u32"#
        );
    }

    #[test]
    fn commands_are_words_or_json() {
        let words = |cmd: &str| command(Some(cmd), &[]).map(Option::unwrap);
        assert_eq!(words("uv run app").unwrap(), ["uv", "run", "app"]);
        assert_eq!(words("sh -c 'echo a b'").unwrap(), ["sh", "-c", "echo a b"]);
        assert!(words("sh -c 'oops").is_err());
        assert_eq!(words(r#"["a b", "c"]"#).unwrap(), ["a b", "c"]);
        assert!(words("[oops").is_err());
        assert!(command(Some("a"), &["b".to_string()]).is_err());
        assert_eq!(command(None, &[]).unwrap(), None);
    }
}
