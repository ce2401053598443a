//! YAML: the JSON contract, same fields, through serde_yaml_ng; and the scalar quoting the
//! hand-written YAML snippets (compose, Kubernetes) use.

pub fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    serde_yaml_ng::to_string(value).expect("report types serialise")
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
    use crate::report::{render_report, testdata, Format, RenderOptions};

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

    #[test]
    fn yaml_report_golden() {
        for (name, (report, profile)) in testdata::all() {
            let out = render_report(&report, &profile, Format::Yaml, &RenderOptions::default());
            let back: crate::model::Report = serde_yaml_ng::from_str(&out).unwrap();
            assert_eq!(back, report, "{name} round-trips");
            insta::assert_snapshot!(format!("yaml_{name}"), out);
        }
    }
}
