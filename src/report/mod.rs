//! Report: one renderer per output format. Renderers take finished data and only format it.

mod text;

use crate::model::Trace;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// for people; the default
    Text,
    /// the stable contract (schema_version 1)
    Json,
}

pub fn render_trace(trace: &Trace, format: Format) -> String {
    match format {
        Format::Text => text::trace(trace),
        Format::Json => json(trace),
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    let mut out = serde_json::to_string_pretty(value).expect("report types serialise");
    out.push('\n');
    out
}
