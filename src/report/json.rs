//! JSON: the report itself through serde (the stable contract), and a small ordered JSON value
//! for the ECS fragments a reader pastes into a task definition, in the order the ECS
//! documentation gives their keys, short arrays on one line. serde_json's own `Value` sorts
//! keys.

pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    let mut out = serde_json::to_string_pretty(value).expect("report types serialise");
    out.push('\n');
    out
}

/// A JSON value that keeps its keys in insertion order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum J {
    Bool(bool),
    Num(u64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    pub fn obj<K: Into<String>>(pairs: impl IntoIterator<Item = (K, J)>) -> J {
        J::Obj(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn arr(items: impl IntoIterator<Item = J>) -> J {
        J::Arr(items.into_iter().collect())
    }

    /// Two-space indentation. An array or object holding only scalars stays on one line when
    /// short; the items of an array are all on one line each, or all expanded.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    /// The one-line form: always for a scalar, for a container of scalars when it is short.
    fn inline(&self) -> Option<String> {
        let text = match self {
            J::Bool(b) => b.to_string(),
            J::Num(n) => n.to_string(),
            J::Str(s) => quote(s),
            J::Arr(items) => {
                let parts: Option<Vec<String>> = items.iter().map(J::scalar).collect();
                format!("[{}]", parts?.join(", "))
            }
            J::Obj(pairs) => {
                let parts: Option<Vec<String>> = pairs
                    .iter()
                    .map(|(k, v)| Some(format!("{}: {}", quote(k), v.scalar()?)))
                    .collect();
                format!("{{{}}}", parts?.join(", "))
            }
        };
        (text.len() <= INLINE_MAX).then_some(text)
    }

    fn scalar(&self) -> Option<String> {
        match self {
            J::Arr(_) | J::Obj(_) => None,
            _ => self.inline(),
        }
    }

    fn write(&self, out: &mut String, indent: usize) {
        match self.inline() {
            Some(text) => out.push_str(&text),
            None => self.write_expanded(out, indent),
        }
    }

    fn write_expanded(&self, out: &mut String, indent: usize) {
        match self {
            J::Arr(items) => {
                let uniform = items.iter().all(|i| i.inline().is_some());
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    out.push_str(if i == 0 { "\n" } else { ",\n" });
                    pad(out, indent + 1);
                    if uniform || item.scalar().is_some() {
                        item.write(out, indent + 1);
                    } else {
                        item.write_expanded(out, indent + 1);
                    }
                }
                out.push('\n');
                pad(out, indent);
                out.push(']');
            }
            J::Obj(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    out.push_str(if i == 0 { "\n" } else { ",\n" });
                    pad(out, indent + 1);
                    out.push_str(&quote(k));
                    out.push_str(": ");
                    v.write(out, indent + 1);
                }
                out.push('\n');
                pad(out, indent);
                out.push('}');
            }
            // Long strings stay on one line: JSON has no other way.
            scalar => out.push_str(&scalar.scalar_text()),
        }
    }

    fn scalar_text(&self) -> String {
        match self {
            J::Str(s) => quote(s),
            other => other.inline().unwrap_or_default(),
        }
    }
}

/// The longest container printed on one line.
const INLINE_MAX: usize = 72;

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

fn pad(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push_str("  ");
    }
}

impl From<&str> for J {
    fn from(s: &str) -> J {
        J::Str(s.to_string())
    }
}

impl From<String> for J {
    fn from(s: String) -> J {
        J::Str(s)
    }
}

impl From<&String> for J {
    fn from(s: &String) -> J {
        J::Str(s.clone())
    }
}

impl From<bool> for J {
    fn from(b: bool) -> J {
        J::Bool(b)
    }
}

impl From<u64> for J {
    fn from(n: u64) -> J {
        J::Num(n)
    }
}

impl From<usize> for J {
    fn from(n: usize) -> J {
        J::Num(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{render_report, testdata, Format, RenderOptions};

    #[test]
    fn ordered_values_print_as_valid_json() {
        let v = J::obj([
            ("b", J::from("x\"\u{1b}")),
            ("a", J::arr([J::from(1u64), J::from(true)])),
            ("c", J::obj::<&str>([])),
            ("d", J::arr([J::obj([("k", J::from("v"))])])),
        ]);
        let text = v.pretty();
        assert!(text.starts_with("{\n  \"b\""), "{text}");
        assert!(text.contains("[1, true]"));
        assert!(text.contains("\"d\": [\n    {\"k\": \"v\"}\n  ]"), "{text}");
        // A long string is never split, and an empty container is inline.
        let long = J::obj([("s", J::from("x".repeat(100))), ("e", J::arr([]))]).pretty();
        assert!(
            long.contains(&format!("\"s\": \"{}\"", "x".repeat(100))),
            "{long}"
        );
        assert!(long.contains("\"e\": []"), "{long}");
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["b"], "x\"\u{1b}");
    }

    #[test]
    fn json_report_golden() {
        for (name, (report, profile)) in testdata::all() {
            let out = render_report(&report, &profile, Format::Json, &RenderOptions::default());
            let back: crate::model::Report = serde_json::from_str(&out).unwrap();
            assert_eq!(back, report, "{name} round-trips");
            insta::assert_snapshot!(format!("json_{name}"), out);
        }
    }
}
