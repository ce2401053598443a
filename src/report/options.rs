//! How a report is rendered, beyond its data: what the text and Markdown renderers take.

use crate::profile::FixFormat;

/// Rendering choices that are not part of the data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI colour in the text format (never in any other).
    pub color: bool,
    /// The fix snippets to include, in this order (text and Markdown show them).
    pub emit: Vec<FixFormat>,
    /// Every write, mount and log line in the text, instead of groups and counts.
    pub verbose: bool,
}
