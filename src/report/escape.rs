//! Escaping for every format that carries text from the trace: shell words, YAML scalars,
//! Markdown code and prose, GitHub workflow commands. Control characters have already become
//! `\xNN` text where `clean` ran.

use super::findings::clean;

/// One shell word, single-quoted unless it is made only of characters a shell leaves alone.
pub(crate) fn shell_quote(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// The message part of a command.
pub(crate) fn escape_data(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if c.is_control() => out.push_str(&clean(&c.to_string())),
            c => out.push(c),
        }
    }
    out
}

/// A property value (`title=...`).
pub(crate) fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// A code span that survives any content (backticks widen the delimiters).
pub(crate) fn code(text: &str) -> String {
    let text = clean(text);
    let longest = longest_run(&text, '`');
    if longest == 0 {
        return format!("`{text}`");
    }
    let ticks = "`".repeat(longest + 1);
    format!("{ticks} {text} {ticks}")
}

/// Prose with Markdown's and HTML's special characters made literal.
pub(crate) fn prose(text: &str) -> String {
    let mut out = String::new();
    for c in clean(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A fenced code block with a language tag, its fence longer than any backtick run inside.
pub(crate) fn fence(body: &str, lang: &str) -> String {
    let ticks = "`".repeat(longest_run(body, '`').max(2) + 1);
    let mut out = format!("{ticks}{lang}\n{body}");
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&ticks);
    out.push('\n');
    out
}

fn longest_run(text: &str, c: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for ch in text.chars() {
        run = if ch == c { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// `value` as a YAML scalar: plain when that reads back as the same string, else double-quoted
/// (a JSON string is a valid YAML double-quoted scalar).
pub(crate) fn scalar(value: &str) -> String {
    let plain_chars = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_.-=,:@+".contains(c));
    let first_ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '.');
    // Words and numbers YAML 1.1 or 1.2 would read as something other than a string.
    let lower = value.to_ascii_lowercase();
    let special = matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
    ) || value.parse::<f64>().is_ok()
        || value.starts_with("0x")
        || value.starts_with("0o")
        || value.ends_with(':')
        // YAML 1.1 reads 1000:1000 as a base-60 number and 1_000 as 1000.
        || value.chars().all(|c| c.is_ascii_digit() || ":._+-".contains(c));
    if plain_chars && first_ok && !special {
        value.to_string()
    } else {
        serde_json::to_string(value).expect("strings serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_back_as_the_same_string() {
        for s in [
            "/var/run",
            "/var/run:noexec,nosuid,uid=1000,size=16m",
            "1000",
            "yes",
            "a b",
            "-x",
            "/a\\x1b[31m",
            "x: y",
            "#c",
            "",
            "1e3",
            "/tmp:",
            "1000:1000",
            "1_000",
        ] {
            let doc = format!("k: {}\n", scalar(s));
            let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&doc).unwrap();
            assert_eq!(v["k"].as_str(), Some(s), "{doc}");
        }
        assert_eq!(scalar("/var/run"), "/var/run");
        assert_eq!(scalar("1000"), "\"1000\"");
        assert_eq!(scalar("1000:1000"), "\"1000:1000\"");
    }
}
