//! Names a program picks at random (temp files, atomic-write temporaries, a JVM's pid), which
//! never recur: what a report says about them across runs goes by a glob pattern instead, the
//! random run of the name replaced by `*` (`/tmp/tmpab12cd_e` → `/tmp/tmp*`).
//!
//! Only the last component of a path is looked at, and only these runs count as random, since a
//! false positive merges findings that are distinct:
//!
//! - a known temp prefix with its tail: `.tmp` and 6 letters or digits (Rust's tempfile, not all
//!   lowercase letters); `tmp` and 8 of `[a-z0-9_]` (Python's tempfile, with a digit or `_`, or in
//!   a temp directory: `/tmp`, `/var/tmp`, `/usr/tmp`, `/dev/shm`), an extension kept;
//!   `hsperfdata_USER/PID` (the JVM's perf data, by pid);
//! - a uuid (`8-4-4-4-12` hex digits);
//! - a run of 8 or more hex digits, of one case, with both digits and letters (a container's
//!   12-digit hostname, a hash);
//! - a mkstemp-style suffix: 6 to 10 letters and digits after a prefix and `.`, `-` or `_`, in
//!   mixed case and not a word or CamelCase (`sh-thd.aB3xYz`, `tmp.Xa8fK2lQ9w`), or lowercase with
//!   letters and digits alternating at least thrice;
//! - a number of 5 or more digits after something else in the name (`.pyc.140642190761616`,
//!   `tomcat.8080.5419217316713582113`), or of 10 or more at its start (a timestamp).
//!
//! Not random: a shorter number (`__init__.cpython-311.pyc`, `access.log.1`, a pid of a
//! container's few processes), a name that is a number of 5 to 9 digits (postgres's
//! `base/16384/2619`: relation ids, the same at every run of an image), a zero-padded number (a
//! counter), and a WAL segment (`pg_wal/000000010000000000000001`, 24 uppercase hex digits that
//! start with `00000`): a cluster counts its segments up from the same first one at every run, so
//! the names recur.

use std::borrow::Cow;

use crate::model::{ancestors, is_within};

/// `path` with each random run of its last component replaced by `*`, or `path` itself when it
/// has none (see the module comment). A trailing `/` is kept; a pattern is its own pattern.
pub fn pattern(path: &str) -> Cow<'_, str> {
    let trimmed = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let slash = &path[trimmed.len()..];
    let (dir, name) = match trimmed.rsplit_once('/') {
        Some((dir, name)) => (Some(dir), name),
        None => (None, trimmed),
    };
    match (stable_name(dir.unwrap_or(""), name), dir) {
        (None, _) => Cow::Borrowed(path),
        (Some(name), Some(dir)) => Cow::Owned(format!("{dir}/{name}{slash}")),
        (Some(name), None) => Cow::Owned(format!("{name}{slash}")),
    }
}

/// Whether `path` is `dir` or below it, `dir` being a directory or the pattern of one.
pub fn within(path: &str, dir: &str) -> bool {
    if is_within(path, dir) {
        return true;
    }
    let dir = pattern(
        dir.strip_suffix('/')
            .filter(|d| !d.is_empty())
            .unwrap_or(dir),
    );
    dir.contains('*') && ancestors(path, true).iter().any(|a| pattern(a) == dir)
}

/// The directories temp files go to by default.
const TEMP_DIRS: [&str; 4] = ["/tmp", "/var/tmp", "/usr/tmp", "/dev/shm"];

/// `name` (in `dir`) with its random runs replaced, or None when it has none.
fn stable_name(dir: &str, name: &str) -> Option<String> {
    if name.is_empty() || name.contains('*') {
        return None;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let parent = dir.rsplit('/').next().unwrap_or("");
    if parent.starts_with("hsperfdata_") && digits(name) {
        return Some("*".into());
    }
    if wal_segment(name) {
        return None;
    }
    if let Some(tail) = name.strip_prefix(".tmp") {
        let alnum = tail.bytes().all(|b| b.is_ascii_alphanumeric());
        let word = tail.bytes().all(|b| b.is_ascii_lowercase());
        if tail.len() == 6 && alnum && !word {
            return Some(".tmp*".into());
        }
    }
    if let Some(rest) = name.strip_prefix("tmp") {
        let (tail, suffix) = rest.find('.').map_or((rest, ""), |i| rest.split_at(i));
        let python = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
        let marked = tail.bytes().any(|b| b.is_ascii_digit() || b == b'_');
        if tail.len() == 8 && tail.bytes().all(python) && (marked || TEMP_DIRS.contains(&dir)) {
            return Some(format!("tmp*{suffix}"));
        }
    }
    let out = replace_runs(name);
    (out != name).then_some(out)
}

/// A WAL segment's name: 24 uppercase hex digits (timeline, log, segment), perhaps with a
/// suffix (`.partial`, `.ready`, `.done`).
fn wal_segment(name: &str) -> bool {
    let head = name.split('.').next().unwrap_or(name);
    head.len() == 24
        && head.starts_with("00000")
        && head
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

/// `name` with every random run (a uuid, a hex run, a mkstemp suffix, a long number) as `*`.
fn replace_runs(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut random: Vec<(usize, usize)> = uuids(bytes);
    let mut start = 0;
    while start < bytes.len() {
        if !bytes[start].is_ascii_alphanumeric() {
            start += 1;
            continue;
        }
        let end = (start..bytes.len())
            .find(|&i| !bytes[i].is_ascii_alphanumeric())
            .unwrap_or(bytes.len());
        if !random.iter().any(|&(s, e)| s <= start && end <= e) {
            random.extend(random_in_run(bytes, start, end));
        }
        start = end;
    }
    random.sort_unstable();
    let mut out = String::with_capacity(name.len());
    let mut at = 0;
    for (s, e) in random {
        if s >= at {
            out.push_str(&name[at..s]);
            if !out.ends_with('*') {
                out.push('*');
            }
            at = e;
        }
    }
    out.push_str(&name[at..]);
    out
}

/// The uuids in `name`, each between non-alphanumerics.
fn uuids(name: &[u8]) -> Vec<(usize, usize)> {
    const SHAPE: [usize; 5] = [8, 4, 4, 4, 12];
    let bounded = |i: usize| name.get(i).is_none_or(|b| !b.is_ascii_alphanumeric());
    let mut out = vec![];
    let mut i = 0;
    while i + 36 <= name.len() {
        let mut at = i;
        let fits = SHAPE.iter().enumerate().all(|(k, &len)| {
            let hex = name[at..at + len].iter().all(u8::is_ascii_hexdigit);
            at += len;
            let dash = k == SHAPE.len() - 1 || name[at] == b'-';
            at += usize::from(k < SHAPE.len() - 1);
            hex && dash
        });
        if fits && (i == 0 || bounded(i - 1)) && bounded(i + 36) {
            out.push((i, i + 36));
            i += 36;
        } else {
            i += 1;
        }
    }
    out
}

/// The random parts of the alphanumeric run `name[start..end]`: all of it (hex, mkstemp), or
/// its long numbers.
fn random_in_run(name: &[u8], start: usize, end: usize) -> Vec<(usize, usize)> {
    let run = &name[start..end];
    let has = |f: fn(&u8) -> bool| run.iter().any(f);
    let one_case = !(has(u8::is_ascii_lowercase) && has(u8::is_ascii_uppercase));
    if run.len() >= 8
        && one_case
        && run.iter().all(u8::is_ascii_hexdigit)
        && has(u8::is_ascii_digit)
        && has(u8::is_ascii_alphabetic)
    {
        return vec![(start, end)];
    }
    let after_prefix = start >= 2 && matches!(name[start - 1], b'.' | b'-' | b'_');
    if after_prefix && (6..=10).contains(&run.len()) && looks_random(run) {
        return vec![(start, end)];
    }
    let mut out = vec![];
    let mut i = start;
    while i < end {
        if !name[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let j = (i..end).find(|&j| !name[j].is_ascii_digit()).unwrap_or(end);
        let long = j - i >= 5 && name[i] != b'0';
        if long && (i > 0 || j - i >= 10) {
            out.push((i, j));
        }
        i = j;
    }
    out
}

/// Letters and digits as mkstemp picks them: mixed case that is no word or CamelCase (a trailing
/// number aside), or lowercase with letters and digits alternating at least three times.
fn looks_random(run: &[u8]) -> bool {
    let has = |f: fn(&u8) -> bool| run.iter().any(f);
    let letters = run
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let word = &run[..letters];
    let camel = !word.iter().any(u8::is_ascii_digit)
        && word.iter().enumerate().all(|(i, b)| {
            !b.is_ascii_uppercase() || word.get(i + 1).is_some_and(u8::is_ascii_lowercase)
        });
    if has(u8::is_ascii_lowercase) && has(u8::is_ascii_uppercase) {
        return !camel;
    }
    let changes = run
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count();
    has(u8::is_ascii_digit) && has(u8::is_ascii_alphabetic) && changes >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_runs_of_the_last_component_become_a_star() {
        let cases = [
            // Rust's tempfile, Python's atomic bytecode write and its tempfile.
            ("/app/.venv/.tmpcXFCmN", "/app/.venv/.tmp*"),
            ("/app/.venv/.tmpab12cd", "/app/.venv/.tmp*"),
            (
                "/app/app/__pycache__/__init__.cpython-311.pyc.140642190761616",
                "/app/app/__pycache__/__init__.cpython-311.pyc.*",
            ),
            ("/tmp/tmpab12cd_e", "/tmp/tmp*"),
            ("/tmp/tmpabcdefgh", "/tmp/tmp*"),
            ("/app/tmpab12cd_e.json", "/app/tmp*.json"),
            // The JVM: perf data by pid, Tomcat's and Jetty's work directories.
            ("/tmp/hsperfdata_root/1234", "/tmp/hsperfdata_root/*"),
            ("/tmp/hsperfdata_app/7", "/tmp/hsperfdata_app/*"),
            ("/tmp/tomcat.8080.5419217316713582113", "/tmp/tomcat.8080.*"),
            (
                "/tmp/tomcat-docbase.8080.123456",
                "/tmp/tomcat-docbase.8080.*",
            ),
            (
                "/tmp/jetty-0_0_0_0-8080-app_war-_-any-8123412341234/",
                "/tmp/jetty-0_0_0_0-8080-app_war-_-any-*/",
            ),
            ("/tmp/upload_1234567890123456789.tmp", "/tmp/upload_*.tmp"),
            // A container's hostname, a uuid, mkstemp and mktemp suffixes, a timestamp.
            ("/var/run/app/3f2a1b4c5d6e.pid", "/var/run/app/*.pid"),
            ("/tmp/3F2A1B4C5D6E", "/tmp/*"),
            (
                "/data/f47ac10b-58cc-4372-a567-0e02b2c3d479.json",
                "/data/*.json",
            ),
            (
                "/data/upload-F47AC10B-58CC-4372-A567-0E02B2C3D479",
                "/data/upload-*",
            ),
            ("/tmp/sh-thd.aB3xYz", "/tmp/sh-thd.*"),
            ("/tmp/tmp.Xa8fK2lQ9w", "/tmp/tmp.*"),
            ("/tmp/node-a1b2c3", "/tmp/node-*"),
            ("/var/log/1700000000123.log", "/var/log/*.log"),
            ("/var/log/app-20240101.log", "/var/log/app-*.log"),
            ("relative.12345", "relative.*"),
        ];
        for (path, want) in cases {
            assert_eq!(pattern(path), want, "{path}");
            // A pattern is its own pattern.
            assert_eq!(pattern(want), want, "{want}");
        }
    }

    #[test]
    fn names_that_recur_are_kept() {
        let kept = [
            "/var/run/nginx.pid",
            "/app/app/__pycache__/__init__.cpython-311.pyc",
            "/app/pkg/__pycache__/m.cpython-311.pyc.1402",
            "/var/log/nginx/access.log.1",
            // Postgres: relation ids are the same at every run of an image; WAL segments count
            // up from the same first one.
            "/var/lib/postgresql/data/base/16384/2619",
            "/var/lib/postgresql/data/base/16384",
            "/var/lib/postgresql/data/base/16384/16385_fsm",
            "/var/lib/postgresql/data/pg_wal/000000010000000000000001",
            "/var/lib/postgresql/data/pg_wal/00000001000000000000000A",
            "/var/lib/postgresql/data/pg_wal/archive_status/00000001000000000000000A.done",
            "/var/cache/app/0000/f000001",
            // Words, CamelCase, versions and short suffixes.
            "/tmp/tmp",
            "/scratch/tmp",
            "/tmp/tmpfiles",
            "/app/tmpsessions",
            "/app/.venv/.tmpconfig",
            "/etc/app/app.Module",
            "/etc/app/app-MyFile",
            "/etc/app/db.sqlite3",
            "/etc/app/sum.md5sum",
            "/etc/app/cafebabe",
            "/etc/app/config.Python3",
            "/tmp/.java_pid1",
            "/tmp/hsperfdata_root",
            "/var/lib/app/state.json",
            "/",
            "",
        ];
        for path in kept {
            assert_eq!(pattern(path), path, "{path}");
            assert!(matches!(pattern(path), Cow::Borrowed(_)), "{path}");
        }
    }

    #[test]
    fn a_pattern_names_the_paths_it_stands_for_and_what_is_below_them() {
        assert_eq!(pattern("/tmp/tmpzz99xx_q"), pattern("/tmp/tmpab12cd_e"));
        assert_ne!(pattern("/var/tmp/tmpzz99xx_q"), pattern("/tmp/tmpab12cd_e"));
        assert!(within("/app/.venv/.tmpcXFCmN/lib/x.py", "/app/.venv/.tmp*"));
        assert!(within("/app/.venv/.tmpcXFCmN", "/app/.venv/.tmpQ1w2E3"));
        assert!(within("/app/.venv/x", "/app/.venv/"));
        assert!(!within("/app/.venv/lib/x.py", "/app/.venv/.tmp*"));
        assert!(!within("/app/other", "/app/.venv"));
    }
}
