//! A spec as the documents of its file, read in an order-keeping form and written back: each
//! document the fix leaves alone as the file has it, the others anew after their comments.

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use crate::report::yaml;
use crate::spec;

/// A spec as its documents, and whether it is written in JSON.
pub(super) struct Spec<'t> {
    pub(super) documents: Vec<Document<'t>>,
    pub(super) json: bool,
    /// A JSON file's indent (`cdk synth` indents by one space): a patched file keeps it, so that
    /// its diff holds only the fix.
    pub(super) indent: &'t str,
    /// What follows the last document of a JSON file (its final line break).
    pub(super) tail: &'t str,
}

/// One document of the spec: its text as the file has it (`None` where the file could not be
/// split into its documents), and its value as read and as patched.
#[derive(Clone)]
pub(super) struct Document<'t> {
    pub(super) text: Option<&'t str>,
    pub(super) original: Value,
    pub(super) value: Value,
}

impl<'t> Spec<'t> {
    /// The spec's documents as order-keeping values. In YAML, merge keys (`<<: *base`) are
    /// resolved as compose and kubectl resolve them, so that a key the fix adds cannot hide the
    /// one merged in.
    pub(super) fn read(text: &'t str) -> Result<Spec<'t>> {
        let json = spec::is_json(text);
        let unreadable = |e: &dyn std::fmt::Display| {
            anyhow!("--patch cannot read the spec back ({e}); fix the syntax there")
        };
        let mut documents = vec![];
        let mut tail = "";
        if json {
            let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
            let mut start = 0;
            while let Some(value) = stream.next() {
                let value = value.map_err(|e| unreadable(&e))?;
                let end = stream.byte_offset();
                documents.push(Document::new(Some(&text[start..end]), value));
                start = end;
            }
            tail = &text[start..];
        } else {
            for document in serde_yaml_ng::Deserializer::from_str(text) {
                let mut value = Value::deserialize(document).map_err(|e| unreadable(&e))?;
                merge_keys(&mut value);
                documents.push(Document::new(None, value));
            }
            if let Some(texts) = split_documents(text, documents.len()) {
                for (document, text) in documents.iter_mut().zip(texts) {
                    document.text = Some(text);
                }
            }
        }
        Ok(Spec {
            documents,
            json,
            indent: json_indent(text),
            tail,
        })
    }

    /// The document ECS and compose specs are read from: the first that is not empty.
    pub(super) fn first(&mut self) -> Result<&mut Document<'t>> {
        self.documents
            .iter_mut()
            .find(|d| !d.original.is_null())
            .context("--patch finds no document in the spec; give it the spec that was audited")
    }

    /// The whole spec, patched: each document the fix left alone as the file has it, each other
    /// written anew after the comments that head it.
    pub(super) fn text(&self) -> String {
        let mut out = String::new();
        for (n, document) in self.documents.iter().enumerate() {
            match document.text {
                Some(text) if document.value == document.original => out.push_str(text),
                Some(text) => {
                    out.push_str(&head(text, self.json));
                    out.push_str(&encode(&document.value, self.json, self.indent));
                }
                None => {
                    if n > 0 {
                        out.push_str("---\n");
                    }
                    out.push_str(&encode(&document.value, self.json, self.indent));
                }
            }
        }
        out + self.tail
    }
}

impl Document<'_> {
    pub(super) fn new(text: Option<&str>, value: Value) -> Document<'_> {
        Document {
            text,
            original: value.clone(),
            value,
        }
    }
}

/// `value` in JSON indented by `indent`, or in block YAML; JSON without a final line break,
/// which the file's own tail gives.
pub(super) fn encode(value: &Value, json: bool, indent: &str) -> String {
    if !json {
        return yaml::block(value);
    }
    let mut out = vec![];
    let format = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut writer = serde_json::Serializer::with_formatter(&mut out, format);
    value
        .serialize(&mut writer)
        .expect("a spec's values serialise");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// The indent of a JSON text: the blanks before its first indented line (two spaces where
/// nothing is indented).
pub(super) fn json_indent(text: &str) -> &str {
    let mut indented = text
        .lines()
        .skip(1)
        .map(|l| &l[..l.len() - l.trim_start().len()]);
    indented.find(|blanks| !blanks.is_empty()).unwrap_or("  ")
}

/// A line that starts a YAML document: `---` alone or before a blank. YAML forbids such a line
/// inside any scalar, so it can mark nothing else.
pub(super) fn is_separator(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// A line that holds no content: blank, a comment, or a directive (`%YAML 1.2`).
pub(super) fn is_remark(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with('#') || line.starts_with('%')
}

/// The text of each of the `count` documents of a YAML stream, split at its `---` lines, with the
/// remarks before the first `---` going with the document after it. None where the split does
/// not give the `count` documents the reader read: YAML starts every document but the first
/// with `---`, so this should not happen, and if it does, every document is written anew rather
/// than one written in another's place.
pub(super) fn split_documents(text: &str, count: usize) -> Option<Vec<&str>> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if is_separator(line) && offset > 0 {
            starts.push(offset);
        }
        offset += line.len();
    }
    let preamble = &text[..starts.get(1).copied().unwrap_or(text.len())];
    if starts.len() > 1 && !is_separator(preamble) && preamble.lines().all(is_remark) {
        starts.remove(1);
    }
    let texts: Vec<&str> = starts
        .iter()
        .zip(starts.iter().skip(1).chain([&text.len()]))
        .map(|(&start, &end)| &text[start..end])
        .collect();
    (texts.len() == count).then_some(texts)
}

/// What heads a document's text and is kept when the document is written anew: in YAML its
/// `---` and the remarks (comments, blank lines) before its first content, in JSON the blanks
/// before it.
pub(super) fn head(text: &str, json: bool) -> String {
    if json {
        return text[..text.len() - text.trim_start().len()].to_string();
    }
    let mut head = String::new();
    for line in text.split_inclusive('\n') {
        if is_separator(line) {
            // `--- {a: 1}`: the document starts on the separator's line; the line is written anew.
            let rest = line[3..].trim();
            if !(rest.is_empty() || rest.starts_with('#')) {
                head.push_str("---\n");
                break;
            }
        } else if !is_remark(line) {
            break;
        }
        head.push_str(line);
    }
    head
}

/// Resolves YAML merge keys as YAML 1.1 readers do, a map's own keys and then the first merged
/// map winning, with the merged keys in the place of `<<`: serde_yaml_ng's `apply_merge` moves
/// the map's last key there, and the file's order would be lost.
pub(super) fn merge_keys(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            map.values_mut().for_each(merge_keys);
            if !map.contains_key("<<") {
                return;
            }
            let own = std::mem::take(map);
            for (key, value) in &own {
                if key.as_str() != Some("<<") {
                    map.insert(key.clone(), value.clone());
                    continue;
                }
                let merged = match value {
                    Value::Sequence(maps) => maps.iter().filter_map(Value::as_mapping).collect(),
                    one => one.as_mapping().into_iter().collect::<Vec<_>>(),
                };
                for (key, value) in merged.into_iter().flatten() {
                    if !own.contains_key(key) && !map.contains_key(key) {
                        map.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(merge_keys),
        Value::Tagged(tagged) => merge_keys(&mut tagged.value),
        _ => {}
    }
}
