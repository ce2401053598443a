//! Finds the log lines in which a runtime reports a write refused by a read-only filesystem.
//!
//! A line reports one when it contains any of these markers:
//!
//! - the strerror text `Read-only file system`, in any case. This one marker covers glibc and
//!   musl programs and shells, Rust std (`... (os error 30)`), Python
//!   (`OSError: [Errno 30] Read-only file system: '/x'`), Node
//!   (`EROFS: read-only file system, open '/x'`), Go (`open /x: read-only file system`), Java
//!   (`FileSystemException: /x: Read-only file system`, `/x (Read-only file system)`), nginx
//!   (`mkdir() "/x" failed (30: Read-only file system)`) and PostgreSQL
//!   (`could not create lock file "/x": Read-only file system`);
//! - the token `EROFS`, upper case only: in lower case it is more often the name of the
//!   read-only filesystem type than an error;
//! - `errno 30` or `error 30` (any case; `errno=30` too), such as Python's `[Errno 30]` or Rust's
//!   `os error 30`;
//! - Java's `ReadOnlyFileSystemException` (a zip or jar filesystem on a read-only file; it names
//!   no path).
//!
//! Tokens must stand as whole words, so `errno 300` and `/path/EROFSX` are not reports.
//!
//! The path is the file the refused write was for, chosen among the absolute paths in the line:
//!
//! 1. a path followed by a line number is a source location, never the target: a script's
//!    (bash `/s.sh: line 5: /x: ...`, busybox sh `/s.sh: line 5: can't create /x: ...`, dash
//!    `/s.sh: 5: cannot create /x: ...`), Go's `/src/main.go:12:` or Python's
//!    `File "/x.py", line 3`;
//! 2. a path the error message introduces, right after the marker and `:` or `,` and at most
//!    one word (Python `Read-only file system: '/x'`, Node `read-only file system, open '/x'`);
//! 3. else the path nearest before the first marker, which is where every other form names it
//!    (coreutils and busybox `mkdir: cannot create directory '/x': ...`, `touch: /x: ...`, Go's
//!    `open /x: ...`, Java's `/x (Read-only file system)`), whatever the line holds before;
//! 4. else the first path after the marker (`EROFS path=/x`).
//!
//! A line that names two paths for one operation gives the second, the one written: a rename
//! writes both directories (on the same filesystem, or it would be no rename) and a link only the
//! new name. That is Python's and Node's `'/a' -> '/b'` after the marker, and, by rule 3, GNU
//! mv's `cannot move '/a' to '/b'`, Java's `/a -> /b: ...` and Go's `rename /a /b: ...`.
//!
//! A path named as a temporary file or a template (sed -i's `couldn't open temporary file
//! /etc/sedAbC123`, busybox sed's `can't create temp file '/etc/issueAbC123'`, mktemp's
//! `failed to create file via template '/tmp/tmp.XXXXXXXXXX'`) gives its directory: the name is
//! random, or a template that never exists, so no traced write is at it; the directory is where
//! the tool writes and what a mount must cover. A trailing `/` is dropped
//! (busybox `mkdir -p` says `'/var/lib/app/'`).
//!
//! A path is either quoted (`'/x'`, `"/x"`, `` `/x` `` or `‘/x’`, as GNU coreutils quote in a
//! UTF-8 locale, and may then hold spaces and colons) or bare: starting at the start of the line
//! or after whitespace, `(` or `=` (not `:`, so that `http://host/x` is not a path) and running
//! to whitespace, `:`, `,`, `)` or a quote. `/` alone is no path.

use crate::model::{ErofsLine, LogLine};

/// Every log line that reports a read-only filesystem error, in order.
pub fn scan(logs: &[LogLine]) -> Vec<ErofsLine> {
    logs.iter().filter_map(|log| scan_line(&log.line)).collect()
}

/// The line as an ErofsLine when it reports a read-only filesystem error.
pub fn scan_line(line: &str) -> Option<ErofsLine> {
    let line = line.trim_end();
    let markers = erofs_markers(line);
    (!markers.is_empty()).then(|| ErofsLine {
        line: line.to_string(),
        path: target(line, &markers),
    })
}

/// Where a log line reports a write refused for want of permission (EACCES) and names the path:
/// the trap of a tmpfs that belongs to root over a directory a non-root app owned. The path is
/// chosen as for a read-only error, so a script's own name is never it.
pub fn permission_denied(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let mut markers: Vec<Span> = lower
        .match_indices("permission denied")
        .map(|(start, m)| (start, start + m.len()))
        .chain(word_spans(line, "EACCES"))
        .chain(number_spans(&lower, "errno", "13"))
        .collect();
    markers.sort_unstable();
    target(line, &markers)
}

/// A byte range of a line: where a marker or a path starts and ends.
type Span = (usize, usize);

/// Where the line reports a read-only filesystem error, in order; empty when it does not.
fn erofs_markers(line: &str) -> Vec<Span> {
    // ASCII lowering keeps byte offsets, so positions found in `lower` are valid in `line`.
    let lower = line.to_ascii_lowercase();
    let mut markers: Vec<Span> = lower
        .match_indices("read-only file system")
        .map(|(start, m)| (start, start + m.len()))
        .chain(word_spans(line, "EROFS"))
        .chain(word_spans(line, "ReadOnlyFileSystemException"))
        .chain(number_spans(&lower, "errno", "30"))
        .chain(number_spans(&lower, "error", "30"))
        .collect();
    markers.sort_unstable();
    markers
}

/// Each whole-word occurrence of `word` in `text`.
fn word_spans<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = Span> + 'a {
    text.match_indices(word).filter_map(move |(start, _)| {
        let end = start + word.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        (!before.is_some_and(is_word_char) && !after.is_some_and(is_word_char))
            .then_some((start, end))
    })
}

/// Each whole word `word` followed by a separator (spaces or `=`) and the whole number `number`.
fn number_spans<'a>(
    text: &'a str,
    word: &'a str,
    number: &'a str,
) -> impl Iterator<Item = Span> + 'a {
    word_spans(text, word).filter_map(move |(start, end)| {
        let rest = &text[end..];
        let digits = rest.trim_start_matches([' ', '=']);
        let after = digits.strip_prefix(number)?;
        (digits.len() < rest.len() && !after.starts_with(is_word_char))
            .then_some((start, text.len() - after.len()))
    })
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The path the error reported at `markers` (in order, not empty) was for; see the module doc.
fn target(line: &str, markers: &[Span]) -> Option<String> {
    let named: Vec<Named> = paths(line)
        .filter(|n| !is_source_location(&line[n.end..]))
        .collect();
    let first_marker = markers.first()?.0;
    let introduced = markers.iter().find_map(|&(_, marker_end)| {
        let i = named.iter().position(|n| n.start >= marker_end)?;
        introduces(&line[marker_end..named[i].start]).then_some(i)
    });
    let chosen = match introduced {
        // Of a pair `'/a' -> '/b'`, the second is the one written.
        Some(i) => match named.get(i + 1) {
            Some(next) if line[named[i].end..next.start].trim() == "->" => next,
            _ => &named[i],
        },
        None => named
            .iter()
            .rev()
            .find(|n| n.end <= first_marker)
            .or_else(|| named.iter().find(|n| n.start >= first_marker))?,
    };
    if names_a_temp_file(&line[..chosen.start]) {
        // A random temp name or a template: the directory is what a mount must cover.
        let dir = &chosen.path[..chosen.path.rfind('/')?];
        return (dir.len() > 1).then(|| dir.to_string());
    }
    Some(chosen.path.to_string())
}

/// Whether `gap`, the text between a marker and a path, is the message going on to name the path:
/// `: ` (Python), `, open ` (Node: a separator and one word, the system call).
fn introduces(gap: &str) -> bool {
    let Some(rest) = gap.strip_prefix([':', ',']) else {
        return false;
    };
    let mut words = rest.split_whitespace();
    match (words.next(), words.next()) {
        (None, _) => true,
        (Some(word), None) => word.chars().all(char::is_alphabetic),
        (Some(_), Some(_)) => false,
    }
}

/// Whether `after`, what follows a path, makes it a source location: `: line 5:` (bash, busybox
/// sh), `: 5:` (dash), `:12:` (Go), `, line 3` (Python's traceback).
fn is_source_location(after: &str) -> bool {
    let Some(rest) = after.strip_prefix([':', ',']) else {
        return false;
    };
    let rest = rest.trim_start_matches(' ');
    let rest = rest.strip_prefix("line ").unwrap_or(rest);
    let number = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    number.len() < rest.len() && !number.starts_with(is_word_char)
}

/// Whether the text before a path ends by calling it a temporary file or a template:
/// `temporary file `, `temp file '`, `via template ‘`.
fn names_a_temp_file(before: &str) -> bool {
    before.split_whitespace().rev().take(2).any(|w| {
        ["temp", "temporary", "template", "tempfile"]
            .iter()
            .any(|t| w.eq_ignore_ascii_case(t))
    })
}

/// Quotes that open a path, and the quote that closes each.
const QUOTES: [(char, char); 4] = [('\'', '\''), ('"', '"'), ('`', '`'), ('‘', '’')];

fn is_quote(c: char) -> bool {
    QUOTES.iter().any(|&(open, close)| c == open || c == close)
}

/// A path a line names.
struct Named<'a> {
    /// Where it starts, at its opening quote if quoted.
    start: usize,
    /// Where it ends, after its closing quote if quoted.
    end: usize,
    path: &'a str,
}

/// The absolute paths in the line, in order.
fn paths(line: &str) -> impl Iterator<Item = Named<'_>> {
    let mut prev = None;
    let mut skip_to = 0;
    line.char_indices().filter_map(move |(i, c)| {
        let before = prev.replace(c);
        if i < skip_to {
            return None;
        }
        let rest = &line[i..];
        let inner = &rest[c.len_utf8()..];
        let close = QUOTES.iter().find(|&&(open, _)| open == c).map(|q| q.1);
        // A quote only opens a path when `/` follows it: the apostrophe in "can't" opens nothing.
        let (path, end) = match close {
            Some(close) if inner.starts_with('/') => match inner.find(close) {
                Some(len) => (&inner[..len], i + c.len_utf8() + len + close.len_utf8()),
                // A truncated line can lose the closing quote; the bare token is the best guess.
                None => {
                    let path = bare(inner);
                    (path, i + c.len_utf8() + path.len())
                }
            },
            _ if c == '/' && starts_token(before) => {
                let path = bare(rest);
                (path, i + path.len())
            }
            _ => return None,
        };
        let path = path.trim_end_matches('/');
        if path.len() <= 1 {
            return None;
        }
        skip_to = end;
        Some(Named {
            start: i,
            end,
            path,
        })
    })
}

fn starts_token(prev: Option<char>) -> bool {
    match prev {
        None => true,
        Some(p) => p.is_whitespace() || p == '(' || p == '=',
    }
}

fn bare(s: &str) -> &str {
    let end = s
        .find(|c: char| c.is_whitespace() || matches!(c, ':' | ',' | ')') || is_quote(c))
        .unwrap_or(s.len());
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as runtimes print them, and the path each names. Unless a comment says otherwise,
    /// each was printed on this project's machine: the shells, coreutils, sed and the host's JDK 17
    /// under `docker run --read-only rofs-audit-seed/base:bookworm` (Debian bookworm; LANG=C.UTF-8,
    /// so GNU quotes some paths as ‘/x’), busybox 1.35 (Debian's busybox-static) under `docker run
    /// --read-only` of a FROM scratch image, Python 3.11 and Node 20 on the host in a private mount
    /// namespace with `/` remounted read-only.
    const REPORTS: &[(&str, Option<&str>)] = &[
        // Shells. A script's own name, followed by its line number, is never the target.
        (
            // bash running a script
            "/dev/shm/docker-entrypoint.sh: line 5: /tmp/x: Read-only file system",
            Some("/tmp/x"),
        ),
        ("bash: line 1: /tmp/x: Read-only file system", Some("/tmp/x")),
        (
            "bash: line 30: /var/log/app.log: Read-only file system",
            Some("/var/log/app.log"),
        ),
        (
            // dash running a script
            "/dev/shm/start.sh: 5: cannot create /tmp/x: Read-only file system",
            Some("/tmp/x"),
        ),
        (
            "dash: 1: cannot create /tmp/x: Read-only file system",
            Some("/tmp/x"),
        ),
        (
            // busybox sh running a script
            "/start.sh: line 5: can't create /tmp/x: Read-only file system",
            Some("/tmp/x"),
        ),
        (
            "sh: can't create /var/log/app.log: Read-only file system",
            Some("/var/log/app.log"),
        ),
        (
            "sh: can't create /var/run/app.pid: Read-only file system",
            Some("/var/run/app.pid"),
        ),
        // GNU coreutils and sed
        (
            "mkdir: cannot create directory ‘/tmp/newdir’: Read-only file system",
            Some("/tmp/newdir"),
        ),
        (
            // mkdir -p /var/lib/app/state: the first directory it could not create
            "mkdir: cannot create directory ‘/var/lib/app’: Read-only file system",
            Some("/var/lib/app"),
        ),
        (
            // LANG=C
            "mkdir: cannot create directory '/tmp/newdir': Read-only file system",
            Some("/tmp/newdir"),
        ),
        (
            // mktemp names its template, a name that never exists: its directory is where
            // mktemp writes and what a mount must cover.
            "mktemp: failed to create file via template ‘/tmp/tmp.XXXXXXXXXX’: Read-only file system",
            Some("/tmp"),
        ),
        (
            // mktemp -d
            "mktemp: failed to create directory via template ‘/tmp/tmp.XXXXXXXXXX’: Read-only file system",
            Some("/tmp"),
        ),
        (
            // LANG=C mktemp -p /var/cache app.XXXXXX
            "mktemp: failed to create file via template '/var/cache/app.XXXXXX': Read-only file system",
            Some("/var/cache"),
        ),
        (
            "touch: cannot touch '/tmp/x': Read-only file system",
            Some("/tmp/x"),
        ),
        (
            "cp: cannot create regular file '/etc/hostname.bak': Read-only file system",
            Some("/etc/hostname.bak"),
        ),
        (
            // cp /etc/hostname /tmp/
            "cp: cannot create regular file '/tmp/hostname': Read-only file system",
            Some("/tmp/hostname"),
        ),
        (
            // the destination is the file written
            "mv: cannot move '/etc/issue' to '/tmp/issue': Read-only file system",
            Some("/tmp/issue"),
        ),
        (
            "ln: failed to create symbolic link '/tmp/link': Read-only file system",
            Some("/tmp/link"),
        ),
        (
            // sed -i writes a temp file with a random name beside the file, then renames it: the
            // directory is what a mount must cover, and no traced write is at the random name.
            "sed: couldn't open temporary file /etc/sedonfxgC: Read-only file system",
            Some("/etc"),
        ),
        (
            "chmod: changing permissions of '/etc/issue': Read-only file system",
            Some("/etc/issue"),
        ),
        (
            "chown: changing ownership of '/etc/issue': Read-only file system",
            Some("/etc/issue"),
        ),
        (
            "rm: cannot remove '/etc/issue': Read-only file system",
            Some("/etc/issue"),
        ),
        (
            // rm -rf /etc/apt
            "rm: cannot remove '/etc/apt/sources.list': Read-only file system",
            Some("/etc/apt/sources.list"),
        ),
        (
            "rmdir: failed to remove '/mnt': Read-only file system",
            Some("/mnt"),
        ),
        (
            "truncate: cannot open '/etc/issue' for writing: Read-only file system",
            Some("/etc/issue"),
        ),
        ("tee: /tmp/x: Read-only file system", Some("/tmp/x")),
        (
            "dd: failed to open '/tmp/x': Read-only file system",
            Some("/tmp/x"),
        ),
        // busybox
        (
            "mkdir: can't create directory '/tmp/newdir': Read-only file system",
            Some("/tmp/newdir"),
        ),
        (
            // mkdir -p /var/lib/app/state
            "mkdir: can't create directory '/var/lib/app/': Read-only file system",
            Some("/var/lib/app"),
        ),
        (
            "mkdir: can't create directory '/data': Read-only file system",
            Some("/data"),
        ),
        // mktemp and mktemp -d: busybox names no path at all
        ("mktemp: (null): Read-only file system", None),
        ("touch: /tmp/x: Read-only file system", Some("/tmp/x")),
        (
            "cp: can't create '/etc/hostname.bak': Read-only file system",
            Some("/etc/hostname.bak"),
        ),
        (
            // mv /etc/issue /tmp/issue: busybox names the source only
            "mv: can't rename '/etc/issue': Read-only file system",
            Some("/etc/issue"),
        ),
        ("ln: /tmp/link: Read-only file system", Some("/tmp/link")),
        (
            // sed -i /etc/issue: the temp file's random name, so its directory (see GNU sed)
            "sed: can't create temp file '/etc/issueDkuixm': Read-only file system",
            Some("/etc"),
        ),
        ("chmod: /etc/issue: Read-only file system", Some("/etc/issue")),
        ("chown: /etc/issue: Read-only file system", Some("/etc/issue")),
        (
            "rm: can't remove '/etc/issue': Read-only file system",
            Some("/etc/issue"),
        ),
        ("rmdir: '/mnt2': Read-only file system", Some("/mnt2")),
        // Rust std, and uv's cause line
        (
            "fixture: cannot write /var/lib/app/state: Read-only file system (os error 30)",
            Some("/var/lib/app/state"),
        ),
        (
            "  Caused by: failed to create directory `/home/appuser/.cache/uv`: Read-only file system (os error 30)",
            Some("/home/appuser/.cache/uv"),
        ),
        // Python: open, os.makedirs, os.rename, os.symlink, tempfile.mkstemp
        (
            "OSError: [Errno 30] Read-only file system: '/var/log/app.log'",
            Some("/var/log/app.log"),
        ),
        (
            // os.makedirs("/var/lib/app/data")
            "OSError: [Errno 30] Read-only file system: '/var/lib/app'",
            Some("/var/lib/app"),
        ),
        (
            // os.rename: the second path is the one written
            "OSError: [Errno 30] Read-only file system: '/etc/hostname' -> '/etc/hostname.old'",
            Some("/etc/hostname.old"),
        ),
        (
            // os.symlink("/etc/hostname", "/srv/link"): only the link is written
            "OSError: [Errno 30] Read-only file system: '/etc/hostname' -> '/srv/link'",
            Some("/srv/link"),
        ),
        (
            // tempfile.mkstemp(dir="/srv"): nothing in the line says the name is random
            "OSError: [Errno 30] Read-only file system: '/srv/tmp6brhtd5y'",
            Some("/srv/tmp6brhtd5y"),
        ),
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
            Some("/app/a"),
        ),
        ("OSError: [Errno 30] could not save state", None),
        // Node: open, rename, symlink
        (
            "Error: EROFS: read-only file system, open '/var/log/app.log'",
            Some("/var/log/app.log"),
        ),
        (
            "Error: EROFS: read-only file system, rename '/etc/hostname' -> '/etc/hostname.old'",
            Some("/etc/hostname.old"),
        ),
        (
            "Error: EROFS: read-only file system, symlink '/etc/hostname' -> '/srv/link'",
            Some("/srv/link"),
        ),
        (
            "Error: EROFS: read-only file system, open '/app/logs/app.log'",
            Some("/app/logs/app.log"),
        ),
        // Go, also inside a structured line. No Go toolchain on this machine: these follow the
        // documented formats, os.PathError's `OP PATH: ERR` and os.LinkError's `OP OLD NEW: ERR`,
        // with syscall.EROFS's text `read-only file system`.
        (
            "open /var/log/app.log: read-only file system",
            Some("/var/log/app.log"),
        ),
        ("mkdir /tmp/cache: read-only file system", Some("/tmp/cache")),
        (
            "rename /etc/app.tmp /etc/app.conf: read-only file system",
            Some("/etc/app.conf"),
        ),
        (
            r#"level=error msg="open /data/x.db: read-only file system""#,
            Some("/data/x.db"),
        ),
        // Java (17): FileOutputStream, Files.createDirectories, Files.createTempFile, Files.move,
        // File.createTempFile, a write into a jar opened as a zip filesystem
        (
            "java.io.FileNotFoundException: /var/log/app.log (Read-only file system)",
            Some("/var/log/app.log"),
        ),
        (
            "java.nio.file.FileSystemException: /var/lib/app: Read-only file system",
            Some("/var/lib/app"),
        ),
        (
            "java.nio.file.FileSystemException: /tmp/app14193454368112025513.tmp: Read-only file system",
            Some("/tmp/app14193454368112025513.tmp"),
        ),
        (
            "java.nio.file.FileSystemException: /etc/hostname -> /etc/hostname.old: Read-only file system",
            Some("/etc/hostname.old"),
        ),
        ("java.io.IOException: Read-only file system", None),
        ("java.nio.file.ReadOnlyFileSystemException", None),
        (
            r#"Exception in thread "main" java.nio.file.ReadOnlyFileSystemException"#,
            None,
        ),
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
        // a source location is no target, even as the only path
        ("/start.sh: line 5: echo: Read-only file system", None),
        (
            "2026/11/24 01:02:03 /src/app/main.go:42: open /data/x.db: read-only file system",
            Some("/data/x.db"),
        ),
        // what the message introduces wins over a path before it
        (
            "/srv/app: OSError: [Errno 30] Read-only file system: '/data/x'",
            Some("/data/x"),
        ),
        // a temp file at the root has no directory a mount could cover
        (
            "sed: couldn't open temporary file /sedonfxgC: Read-only file system",
            None,
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
        "class ReadOnlyFileSystemExceptions",
        "at jdk.zipfs/jdk.nio.zipfs.ZipFileSystem.checkWritable(ZipFileSystem.java:370)",
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

    /// Permission errors name their path by the same rules. Printed under `docker run --user 1000
    /// rofs-audit-seed/base:bookworm` (bash, dash, coreutils) and by the host's Python 3.11 as
    /// uid 65534.
    #[test]
    fn permission_denied_names_the_path_not_the_script() {
        let cases = [
            (
                "/tmp/entry.sh: line 3: /etc/app.conf: Permission denied",
                Some("/etc/app.conf"),
            ),
            (
                "/tmp/entry.sh: 3: cannot create /etc/app.conf: Permission denied",
                Some("/etc/app.conf"),
            ),
            (
                "touch: cannot touch '/etc/x': Permission denied",
                Some("/etc/x"),
            ),
            (
                "mkdir: cannot create directory ‘/var/lib/app’: Permission denied",
                Some("/var/lib/app"),
            ),
            (
                "PermissionError: [Errno 13] Permission denied: '/etc/app.conf'",
                Some("/etc/app.conf"),
            ),
            ("open /data/x: EACCES", Some("/data/x")),
            ("write /data/x failed: errno 13", Some("/data/x")),
            ("/start.sh: line 3: Permission denied", None),
            ("wrote /data/x", None),
            ("touch: /tmp/x: Read-only file system", None),
        ];
        for (line, path) in cases {
            assert_eq!(permission_denied(line).as_deref(), path, "path of: {line}");
        }
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
