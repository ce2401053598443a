//! What every spec reader shares: the file with its lines for messages and locations, and the
//! values read the way the platforms read them (numbers as text, commands as words, tmpfs
//! options as the engine checks them).

use std::cell::Cell;
use std::fmt;

use anyhow::{anyhow, Result};
use serde_yaml_ng::Value;

use super::model::{Location, Target};
use crate::model::TmpfsSpec;

/// The file being read: its name and lines for messages and locations, and the image overrides.
pub(super) struct Spec<'a> {
    pub(super) file: String,
    pub(super) lines: Vec<&'a str>,
    pub(super) starts: Vec<usize>,
    pub(super) several: bool,
    pub(super) images: &'a [(String, String)],
    pub(super) used: Vec<Cell<bool>>,
}

impl Spec<'_> {
    /// An error about the whole file.
    pub(super) fn fail(&self, message: impl fmt::Display) -> anyhow::Error {
        anyhow!("{}: {message}", self.file)
    }

    /// An error about `field` (a path below `at`, or empty for `at` itself).
    pub(super) fn fail_at(
        &self,
        at: &Location,
        field: &str,
        message: impl fmt::Display,
    ) -> anyhow::Error {
        let line = at.line.map(|n| format!(":{n}")).unwrap_or_default();
        let field = match field {
            "" => String::new(),
            f if f.starts_with('[') => f.to_string(),
            f => format!(".{f}"),
        };
        anyhow!("{}{line}: {at}{field}: {message}", self.file)
    }

    /// The document number to show: only in a file of several.
    pub(super) fn document(&self, index: usize) -> Option<usize> {
        self.several.then_some(index + 1)
    }

    /// The 0-based line where document `index` starts.
    pub(super) fn start(&self, index: usize) -> usize {
        self.starts.get(index).copied().unwrap_or(0)
    }

    /// The first line at or after `from` (0-based) where `key` is a mapping key.
    pub(super) fn key_line(&self, from: usize, key: &str) -> Option<usize> {
        let forms = [
            format!("{key}:"),
            format!("\"{key}\":"),
            format!("'{key}':"),
        ];
        self.find_line(from, |line| {
            let line = item(line);
            forms.iter().any(|form| line.starts_with(form.as_str()))
        })
    }

    /// The first line at or after `from` (0-based) that holds `key: value`, in YAML or JSON.
    pub(super) fn entry_line(&self, from: usize, key: &str, value: &str) -> Option<usize> {
        let json = [
            format!("\"{key}\": \"{value}\""),
            format!("\"{key}\":\"{value}\""),
        ];
        self.find_line(from, |line| {
            if json.iter().any(|form| line.contains(form.as_str())) {
                return true;
            }
            let line = item(line);
            let line = line.split(" #").next().unwrap_or(line);
            line.split_once(':')
                .is_some_and(|(k, v)| unquote(k) == key && unquote(v) == value)
        })
    }

    pub(super) fn find_line(&self, from: usize, found: impl Fn(&str) -> bool) -> Option<usize> {
        self.lines
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, line)| found(line))
            .map(|(n, _)| n)
    }

    /// The image to run: an override given for it, else the spec's own. `full` is the target's
    /// name, `container` the container's as the spec writes it.
    pub(super) fn image(
        &self,
        at: &Location,
        field: &str,
        full: &str,
        container: &str,
        given: Option<&Value>,
    ) -> Result<String> {
        let wanted = |name: &str| name == full || name == container;
        if let Some(n) = self.images.iter().position(|(name, _)| wanted(name)) {
            self.used[n].set(true);
            return Ok(self.images[n].1.clone());
        }
        let why = match given.and_then(intrinsic) {
            Some(function) => format!(
                "the image is given by {function}, which only CloudFormation resolves; give it \
                 as --image {container}=REF"
            ),
            None => match given.map(Value::as_str) {
                Some(Some(image)) if !image.trim().is_empty() => return Ok(image.to_string()),
                _ => format!("no image; give one as --image {container}=REF"),
            },
        };
        Err(self.fail_at(at, field, why))
    }

    /// An override that names no container is a typo: the container meant would run its own
    /// image unnoticed.
    pub(super) fn check_images_used(&self, targets: &[Target]) -> Result<()> {
        match self
            .images
            .iter()
            .zip(&self.used)
            .find(|(_, used)| !used.get())
        {
            Some(((name, image), _)) => Err(self.fail(format!(
                "--image {name}={image} names no container of it; its containers: {}",
                targets
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            None => Ok(()),
        }
    }
}

/// The line without its indentation and list dash.
pub(super) fn item(line: &str) -> &str {
    line.trim().trim_start_matches("- ").trim_start()
}

pub(super) fn unquote(s: &str) -> &str {
    s.trim().trim_matches(['"', '\''])
}

/// The CloudFormation intrinsic function a value is given by, as `Fn::Sub`: a one-key mapping
/// in JSON (`{"Fn::Sub": ...}`, `{"Ref": ...}`), a tag in YAML (`!Sub`).
pub(super) fn intrinsic(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            Some(match name {
                "Ref" | "Condition" => name.to_string(),
                _ => format!("Fn::{name}"),
            })
        }
        Value::Mapping(map) if map.len() == 1 => {
            let key = map.keys().next()?.as_str()?;
            (key == "Ref" || key.starts_with("Fn::")).then(|| key.to_string())
        }
        _ => None,
    }
}

/// A path below `base`: `base.key`, or `key` at the top.
pub(super) fn join(base: &str, key: &str) -> String {
    match base {
        "" => key.to_string(),
        _ => format!("{base}.{key}"),
    }
}

/// A whole number given as a number or as text (CloudFormation writes `"512"` as often as 512).
pub(super) fn whole(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

pub(super) fn port(value: &Value) -> Option<u16> {
    whole(value).and_then(|n| u16::try_from(n).ok())
}

/// Strings of a list, or None when it is not a list of strings.
pub(super) fn strings(value: &Value) -> Option<Vec<String>> {
    value.as_sequence()?.iter().map(scalar).collect()
}

/// A scalar as the text a container would see.
pub(super) fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A command as compose and healthchecks write it: a list of words, or a string split as the
/// shell would.
pub(super) fn words(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => shlex::split(s),
        other => strings(other),
    }
}

/// The placeholder a variable gets for a value the platform fetches at deploy time.
pub(super) fn placeholder(name: &str, source: &str) -> String {
    format!("{name}=<from {source}>")
}

/// `/path:size=Nm,options`, checked as the engine would check a `--tmpfs`.
pub(super) fn tmpfs(
    spec: &Spec,
    at: &Location,
    field: &str,
    path: &str,
    size_mib: Option<u64>,
    options: &[String],
) -> Result<TmpfsSpec> {
    let options: Vec<String> = size_mib
        .map(|mib| format!("size={mib}m"))
        .into_iter()
        .chain(options.iter().cloned())
        .collect();
    let text = match options.is_empty() {
        true => path.to_string(),
        false => format!("{path}:{}", options.join(",")),
    };
    text.parse().map_err(|e| spec.fail_at(at, field, e))
}
