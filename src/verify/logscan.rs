//! Finds the log lines in which a runtime reports a write refused by a read-only filesystem.
//!
//! A line reports one when it contains any of:
//!
//! - the strerror text `Read-only file system`, in any case. This one marker covers glibc and
//!   musl programs and shells (`sh: can't create /x: Read-only file system`), Rust std
//!   (`... (os error 30)`), Python (`OSError: [Errno 30] Read-only file system: '/x'`), Node
//!   (`EROFS: read-only file system, open '/x'`), Go (`open /x: read-only file system`), Java
//!   (`FileSystemException: /x: Read-only file system`, `/x (Read-only file system)`), nginx
//!   (`mkdir() "/x" failed (30: Read-only file system)`) and PostgreSQL
//!   (`could not create lock file "/x": Read-only file system`);
//! - the token `EROFS`, upper case only: in lower case it is more often the name of the
//!   read-only filesystem type than an error;
//! - `errno 30` or `error 30` (any case; `errno=30` too), such as Python's `[Errno 30]` or Rust's
//!   `os error 30`.
//!
//! Tokens must stand as whole words, so `errno 300` and `/path/EROFSX` are not reports.
//!
//! The path is the first absolute path in the line, which is the one the runtime names in every
//! form above; a line that names two (a rename: `'/a' -> '/b'`) gives the first. A path is
//! either quoted (`'/x'`, `"/x"` or `` `/x` ``, and may then hold spaces and colons) or bare:
//! starting at the start of the line or after whitespace, `(` or `=` (not `:`, so that
//! `http://host/x` is not a path) and running to whitespace, `:`, `,`, `)` or a quote.

use crate::model::{ErofsLine, LogLine};

/// Every log line that reports a read-only filesystem error, in order.
pub fn scan(logs: &[LogLine]) -> Vec<ErofsLine> {
    logs.iter().filter_map(|log| scan_line(&log.line)).collect()
}

/// The line as an ErofsLine when it reports a read-only filesystem error.
pub fn scan_line(line: &str) -> Option<ErofsLine> {
    let line = line.trim_end();
    reports_erofs(line).then(|| ErofsLine {
        line: line.to_string(),
        path: first_path(line),
    })
}

/// Where a log line reports a write refused for want of permission (EACCES) and names the path:
/// the trap of a tmpfs that belongs to root over a directory a non-root app owned.
pub fn permission_denied(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let denied = lower.contains("permission denied")
        || words(line, "EACCES").next().is_some()
        || words(&lower, "errno 13").next().is_some();
    denied.then(|| first_path(line)).flatten()
}

fn reports_erofs(line: &str) -> bool {
    // ASCII lowering keeps byte offsets, so positions found in `lower` are valid in `line`.
    let lower = line.to_ascii_lowercase();
    lower.contains("read-only file system")
        || words(line, "EROFS").next().is_some()
        || ["errno", "error"]
            .into_iter()
            .any(|word| words(&lower, word).any(|end| is_30(&lower[end..])))
}

/// Where each whole-word occurrence of `word` in `text` ends.
fn words<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    text.match_indices(word).filter_map(move |(start, _)| {
        let end = start + word.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        (!before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)).then_some(end)
    })
}

/// Whether `rest`, what follows `errno`/`error`, is a separator and then the whole number 30.
fn is_30(rest: &str) -> bool {
    let number = rest.trim_start_matches([' ', '=']);
    number.len() < rest.len()
        && number
            .strip_prefix("30")
            .is_some_and(|after| !after.starts_with(is_word_char))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

const QUOTES: [char; 3] = ['\'', '"', '`'];

pub fn first_path(line: &str) -> Option<String> {
    let mut prev = None;
    for (i, c) in line.char_indices() {
        let rest = &line[i..];
        // A quote only opens a path when `/` follows it: the apostrophe in "can't" opens nothing.
        let path = if QUOTES.contains(&c) && rest[1..].starts_with('/') {
            let inner = &rest[1..];
            // A truncated line can lose the closing quote; the bare token is the best guess then.
            inner
                .find(c)
                .map_or_else(|| bare(inner), |end| &inner[..end])
        } else if c == '/' && starts_token(prev) {
            bare(rest)
        } else {
            ""
        };
        if path.len() > 1 {
            return Some(path.to_string());
        }
        prev = Some(c);
    }
    None
}

fn starts_token(prev: Option<char>) -> bool {
    match prev {
        None => true,
        Some(p) => p.is_whitespace() || p == '(' || p == '=',
    }
}

fn bare(s: &str) -> &str {
    let end = s
        .find(|c: char| c.is_whitespace() || matches!(c, ':' | ',' | ')') || QUOTES.contains(&c))
        .unwrap_or(s.len());
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as runtimes print them, and the path each names.
    const REPORTS: &[(&str, Option<&str>)] = &[
        // glibc/musl programs and shells
        (
            "sh: can't create /var/run/app.pid: Read-only file system",
            Some("/var/run/app.pid"),
        ),
        ("touch: /tmp/x: Read-only file system", Some("/tmp/x")),
        (
            "touch: cannot touch '/tmp/x': Read-only file system",
            Some("/tmp/x"),
        ),
        (
            "mkdir: can't create directory '/data': Read-only file system",
            Some("/data"),
        ),
        // Rust std, and uv's cause line
        (
            "fixture: cannot write /var/lib/app/state: Read-only file system (os error 30)",
            Some("/var/lib/app/state"),
        ),
        (
            "  Caused by: failed to create directory `/home/appuser/.cache/uv`: Read-only file system (os error 30)",
            Some("/home/appuser/.cache/uv"),
        ),
        // Python
        (
            "OSError: [Errno 30] Read-only file system: '/app/app/__pycache__/x.pyc'",
            Some("/app/app/__pycache__/x.pyc"),
        ),
        (
            "PermissionError: [Errno 30] Read-only file system: '/data/db.sqlite'",
            Some("/data/db.sqlite"),
        ),
        (
            "ERROR: Could not install packages due to an OSError: [Errno 30] Read-only file system: '/usr/local/lib/python3.11/site-packages/six.py'",
            Some("/usr/local/lib/python3.11/site-packages/six.py"),
        ),
        (
            "OSError: [Errno 30] Read-only file system: '/app/a.tmp' -> '/app/a'",
            Some("/app/a.tmp"),
        ),
        ("OSError: [Errno 30] could not save state", None),
        // Node
        (
            "Error: EROFS: read-only file system, open '/app/logs/app.log'",
            Some("/app/logs/app.log"),
        ),
        // Go, also inside a structured line
        (
            "open /var/log/app.log: read-only file system",
            Some("/var/log/app.log"),
        ),
        ("mkdir /tmp/cache: read-only file system", Some("/tmp/cache")),
        (
            r#"level=error msg="open /data/x.db: read-only file system""#,
            Some("/data/x.db"),
        ),
        // Java
        (
            "java.nio.file.FileSystemException: /app/data/x.lock: Read-only file system",
            Some("/app/data/x.lock"),
        ),
        (
            "java.io.FileNotFoundException: /app/logs/app.log (Read-only file system)",
            Some("/app/logs/app.log"),
        ),
        // nginx
        (
            r#"2026/11/24 01:02:03 [emerg] 1#1: mkdir() "/var/cache/nginx/client_temp" failed (30: Read-only file system)"#,
            Some("/var/cache/nginx/client_temp"),
        ),
        (
            r#"2026/11/24 01:02:03 [emerg] 1#1: open() "/var/run/nginx.pid" failed (30: Read-only file system)"#,
            Some("/var/run/nginx.pid"),
        ),
        // PostgreSQL
        (
            r#"FATAL:  could not create lock file "/var/run/postgresql/.s.PGSQL.5432.lock": Read-only file system"#,
            Some("/var/run/postgresql/.s.PGSQL.5432.lock"),
        ),
        // Bare tokens
        ("write failed: EROFS", None),
        ("write failed (errno 30)", None),
        ("write failed: error 30", None),
        ("write failed, errno=30", None),
        ("READ-ONLY FILE SYSTEM", None),
        // Path rules
        ("EROFS path=/data/x", Some("/data/x")),
        ("write failed (/data/x): EROFS", Some("/data/x")),
        ("/data/x: Read-only file system", Some("/data/x")),
        (
            "cannot write '/data/my file: v2': Read-only file system",
            Some("/data/my file: v2"),
        ),
        ("chdir /: Read-only file system", None),
        (
            "upload to http://host/x failed: Read-only file system",
            None,
        ),
        (
            "cannot write '/data/trunc: Read-only file system",
            Some("/data/trunc"),
        ),
    ];

    const NOT_REPORTS: &[&str] = &[
        "mounted /data read-write",
        "Read-only mode enabled",
        "cache is read-only",
        "GET /health 200",
        "listening on 0.0.0.0:5000",
        r#"  File "/usr/lib/python3.11/os.py", line 225, in makedirs"#,
        "write failed: errno 300",
        "retrying after error 3",
        "timed out, error 30s ago",
        "errno30",
        "stat /path/EROFSX",
        "NOEROFS set",
        "mounted erofs image at /lower",
        "PermissionError: [Errno 13] Permission denied: '/data'",
        "",
    ];

    #[test]
    fn recognises_reports_and_their_paths() {
        for &(line, path) in REPORTS {
            let found = scan_line(line).unwrap_or_else(|| panic!("not recognised: {line}"));
            assert_eq!(found.path.as_deref(), path, "path of: {line}");
            assert_eq!(found.line, line);
        }
    }

    #[test]
    fn ignores_other_lines() {
        for line in NOT_REPORTS {
            assert_eq!(scan_line(line), None, "recognised: {line}");
        }
    }

    #[test]
    fn keeps_leading_whitespace_and_drops_trailing() {
        let found = scan_line("  touch: /tmp/x: Read-only file system \r\n").unwrap();
        assert_eq!(found.line, "  touch: /tmp/x: Read-only file system");
    }

    #[test]
    fn scan_keeps_reports_in_order() {
        let logs: Vec<LogLine> = [
            "starting",
            "error: Failed to initialize cache at `/home/appuser/.cache/uv`",
            "  Caused by: failed to create directory `/home/appuser/.cache/uv`: Read-only file system (os error 30)",
            "Error: EROFS: read-only file system, open '/app/logs/app.log'",
        ]
        .into_iter()
        .map(|line| LogLine {
            stream: "stderr".into(),
            line: line.into(),
            time: None,
        })
        .collect();
        let paths: Vec<_> = scan(&logs).into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            [
                Some("/home/appuser/.cache/uv".to_string()),
                Some("/app/logs/app.log".to_string()),
            ]
        );
    }
}
