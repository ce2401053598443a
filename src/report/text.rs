//! Plain text for a terminal or a log. Every path and log line in the model is already escaped,
//! so nothing printed here can drive the terminal.

use std::fmt::Write as _;

use crate::model::{Change, Trace, TracingMode};

pub fn trace(t: &Trace) -> String {
    let mut out = String::new();
    let id = t.image.id.strip_prefix("sha256:").unwrap_or(&t.image.id);
    let _ = writeln!(
        out,
        "Trace of {} ({})",
        t.image.reference,
        &id[..id.len().min(12)]
    );
    let _ = writeln!(
        out,
        "user {}, command {}",
        if t.run.user.is_empty() {
            "root (image default)"
        } else {
            &t.run.user
        },
        shell_words(&t.run.entrypoint, &t.run.cmd)
    );
    let _ = writeln!(
        out,
        "tracing: {}",
        match t.tracing.mode {
            TracingMode::Overlay => "overlay (inotify on the writable layer and volumes)",
            TracingMode::Api => "api (the engine's changes API, polled at phase boundaries)",
        }
    );
    for spot in &t.tracing.blind_spots {
        let _ = writeln!(out, "  cannot see: {spot}");
    }
    let _ = writeln!(out, "startup: ready after {} ms", t.startup_ms);
    for p in &t.probes {
        let status = p.status.map_or_else(|| "-".to_string(), |s| s.to_string());
        let verdict = if p.ok { "ok" } else { "FAILED" };
        let _ = write!(
            out,
            "probe {}: {status} in {} ms, {verdict}",
            p.target, p.latency_ms
        );
        if let Some(e) = &p.error {
            let _ = write!(out, " ({e})");
        }
        out.push('\n');
    }
    let exit = match (t.exit.code, t.exit.signal) {
        (Some(code), Some(sig)) => format!("exit code {code} (signal {sig})"),
        (Some(code), None) => format!("exit code {code}"),
        _ => "exit status unknown".to_string(),
    };
    let _ = writeln!(out, "shutdown: {exit}");
    out.push('\n');
    if t.writes.is_empty() {
        out.push_str("No writes: nothing would fail under a read-only root.\n");
        return out;
    }
    let _ = writeln!(out, "{:<9} {:<10} {:>9}  PATH", "PHASE", "CHANGE", "BYTES");
    for w in &t.writes {
        let bytes = w.bytes.map_or_else(|| "-".to_string(), |b| b.to_string());
        let _ = write!(
            out,
            "{:<9} {:<10} {bytes:>9}  {}",
            w.phase.as_str(),
            change(w.change),
            w.path
        );
        if let Some(p) = &w.probe {
            let _ = write!(out, "  (GET {p})");
        }
        if w.volume {
            out.push_str("  [volume]");
        }
        out.push('\n');
    }
    let transient = t
        .writes
        .iter()
        .filter(|w| w.change == Change::Transient)
        .count();
    let volume = t.writes.iter().filter(|w| w.volume).count();
    let _ = writeln!(
        out,
        "\n{} writes ({transient} transient, {volume} in volumes)",
        t.writes.len()
    );
    out
}

pub fn change(c: Change) -> &'static str {
    match c {
        Change::Created => "created",
        Change::Modified => "modified",
        Change::Deleted => "deleted",
        Change::Transient => "transient",
    }
}

/// The command as a person would type it.
pub fn shell_words(entrypoint: &[String], cmd: &[String]) -> String {
    let words: Vec<String> = entrypoint
        .iter()
        .chain(cmd)
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect();
    if words.is_empty() {
        "(none)".to_string()
    } else {
        crate::model::escape_text(&words.join(" "))
    }
}
