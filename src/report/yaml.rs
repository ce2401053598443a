//! YAML: the JSON contract, same fields, through serde_yaml_ng; and a spec written back for
//! every YAML reader.

use std::fmt::Write as _;

use serde_yaml_ng::Value;

use super::escape::scalar;

pub fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    serde_yaml_ng::to_string(value).expect("report types serialise")
}

/// `value` as block YAML that YAML 1.1 readers (PyYAML, so docker-compose 1.x) read back as the
/// same value as YAML 1.2 readers do. serde_yaml_ng writes the strings `no` and `22:22` plain,
/// which YAML 1.1 reads as false and as a base-60 number: `restart: "no"` and a quoted port
/// mapping would change meaning on the way through.
pub(crate) fn block(value: &Value) -> String {
    let mut out = String::new();
    node(&mut out, value, 0);
    out
}

/// Writes `value` at the start of a line: a collection on lines of its own at `indent`.
fn node(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Mapping(map) if !map.is_empty() => {
            for (key, value) in map {
                let _ = write!(out, "{:indent$}{}:", "", inline(key));
                after(out, value, indent + 2, false);
            }
        }
        Value::Sequence(items) if !items.is_empty() => {
            for item in items {
                let _ = write!(out, "{:indent$}-", "");
                after(out, item, indent + 2, true);
            }
        }
        other => {
            let _ = writeln!(out, "{}", inline(other));
        }
    }
}

/// Writes what follows `key:` or `-`, with `indent` the indentation of what nests inside it. A
/// collection in a list starts on the dash's line (`- name: web`), as compose files are written.
fn after(out: &mut String, value: &Value, indent: usize, in_list: bool) {
    match value {
        Value::Mapping(m) if m.is_empty() => {
            let _ = writeln!(out, " {{}}");
        }
        Value::Sequence(s) if s.is_empty() => {
            let _ = writeln!(out, " []");
        }
        Value::Mapping(_) | Value::Sequence(_) if in_list => {
            let mut inner = String::new();
            node(&mut inner, value, indent);
            out.push(' ');
            out.push_str(&inner[indent..]);
        }
        Value::Mapping(_) | Value::Sequence(_) => {
            out.push('\n');
            node(out, value, indent);
        }
        Value::Tagged(tagged) => {
            let _ = write!(out, " {}", tagged.tag);
            // A tagged collection cannot start on the tag's line.
            after(out, &tagged.value, indent, false);
        }
        Value::String(text) if literal(text) => {
            let chomp = if text.ends_with('\n') { "" } else { "-" };
            let _ = writeln!(out, " |{chomp}");
            for line in text.trim_end_matches('\n').split('\n') {
                match line {
                    "" => out.push('\n'),
                    line => {
                        let _ = writeln!(out, "{:indent$}{line}", "");
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, " {}", inline(other));
        }
    }
}

/// A text of several lines, written as a literal block (`|`) where that reads back exactly: no
/// control character, no leading blank that would set the indentation, at most one final line
/// break.
fn literal(text: &str) -> bool {
    text.contains('\n')
        && !text.starts_with([' ', '\t', '\n'])
        && !text.ends_with("\n\n")
        // YAML 1.1 also breaks lines at U+2028 and U+2029.
        && text
            .chars()
            .all(|c| c == '\n' || !(c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')))
}

/// A value on one line: a scalar, or (only ever a key) a collection in JSON's flow style.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s),
        Value::Tagged(tagged) => format!("{} {}", tagged.tag, inline(&tagged.value)),
        collection => serde_json::to_string(collection).expect("a collection serialises"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{render_report, testdata, Format, RenderOptions};

    #[test]
    fn yaml_report_golden() {
        for (name, (report, profile)) in testdata::all() {
            let out = render_report(&report, &profile, Format::Yaml, &RenderOptions::default());
            let back: crate::model::Report = serde_yaml_ng::from_str(&out).unwrap();
            assert_eq!(back, report, "{name} round-trips");
            insta::assert_snapshot!(format!("yaml_{name}"), out);
        }
    }

    #[test]
    fn a_spec_written_in_block_style_reads_back_the_same() {
        let text = r#"
version: "3.8"
services:
  web:
    image: "${WEB_IMAGE}"
    restart: "no"
    ports: ["22:22", "127.0.0.1:0:8080"]
    environment: {FLAG: "yes", COUNT: "010", EMPTY: "", NONE: null}
    command: |
      sh -c 'echo a
        echo b'
    entrypoint: "one\ntwo"
    odd: " lead\n"
    nested: [[a, b], {k: v, list: [1, 2.5, true]}, [], {}]
    reset: !reset []
"#;
        let value: Value = serde_yaml_ng::from_str(text).unwrap();
        let out = block(&value);
        assert_eq!(
            serde_yaml_ng::from_str::<Value>(&out).unwrap(),
            value,
            "{out}"
        );
        let web = out.split_once("  web:\n").unwrap().1;
        assert_eq!(
            web,
            r#"    image: "${WEB_IMAGE}"
    restart: "no"
    ports:
      - "22:22"
      - "127.0.0.1:0:8080"
    environment:
      FLAG: "yes"
      COUNT: "010"
      EMPTY: ""
      NONE: null
    command: |
      sh -c 'echo a
        echo b'
    entrypoint: |-
      one
      two
    odd: " lead\n"
    nested:
      - - a
        - b
      - k: v
        list:
          - 1
          - 2.5
          - true
      - []
      - {}
    reset: !reset []
"#
        );
    }
}
