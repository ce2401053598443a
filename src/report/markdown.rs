//! Markdown for a pull-request comment (GitHub-flavoured: tables, fenced code). Paths are code
//! spans, prose is escaped, table cells escape `|`, and fences grow past any backticks inside.

use std::fmt::Write as _;

use super::findings::{self, clean, Cause};
use super::{fixes, text, RenderOptions};
use crate::model::{tmpfs_parts, Report, Trace};
use crate::profile::Profile;

/// A bare trace: the text rendering in a fenced block.
pub fn trace(t: &Trace) -> String {
    format!(
        "## rofs-audit trace: {}\n\n{}",
        code(&t.image.reference),
        fence(&text::trace(t), "text")
    )
}

pub fn report(r: &Report, profile: &Profile, options: &RenderOptions) -> String {
    let plan = &r.plan;
    let all = findings::findings(r);
    let (word, meaning) = findings::verdict_words(r);
    let mut out = String::new();

    let _ = writeln!(out, "## rofs-audit: {word}\n");
    let _ = writeln!(
        out,
        "**Status: {}.** {} on {} ({}): {}.",
        word.to_uppercase(),
        code(&r.trace.image.reference),
        prose(&profile.title),
        code(&plan.profile),
        meaning
    );

    let failing: Vec<_> = all.iter().filter(|f| f.write.is_some()).collect();
    if !failing.is_empty() {
        let _ = writeln!(
            out,
            "\n### Writes that would fail\n\nWith a read-only root ({}):\n",
            prose(&profile.read_only_setting)
        );
        let mut rows = vec![];
        for f in &failing {
            let w = f.write.expect("filtered on writes");
            let mut phase = w.phase.as_str().to_string();
            if let Some(p) = &w.probe {
                phase.push_str(&format!(" (GET {})", code(p)));
            }
            let covered = match f.cause {
                Cause::Mount { mount, .. } => {
                    format!("{} {}", mount.kind.as_str(), code(&mount.path))
                }
                Cause::Unfixable { .. } => "**nothing: cannot be fixed by a mount**".to_string(),
            };
            rows.push(vec![
                code(f.path),
                phase,
                w.change.as_str().to_string(),
                covered,
            ]);
        }
        table(&mut out, &["Path", "Phase", "Change", "Covered by"], &rows);
    }

    if !plan.mounts.is_empty() {
        let _ = writeln!(out, "\n### Mounts\n");
        let rows: Vec<Vec<String>> = plan
            .mounts
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let covers = all
                    .iter()
                    .filter(|f| matches!(f.cause, Cause::Mount { index, .. } if index == i))
                    .count();
                vec![
                    code(&m.path),
                    m.kind.as_str().to_string(),
                    format!("{} MiB", m.size_mib),
                    if m.options.is_empty() {
                        "-".to_string()
                    } else {
                        code(&m.options.join(","))
                    },
                    findings::plural(covers, "write", "writes"),
                ]
            })
            .collect();
        table(
            &mut out,
            &["Mount", "Kind", "Size", "Options", "Covers"],
            &rows,
        );
        let warnings: Vec<_> = plan
            .mounts
            .iter()
            .flat_map(|m| m.warnings.iter().map(move |w| (m, w)))
            .collect();
        if !warnings.is_empty() {
            out.push('\n');
            for (m, w) in warnings {
                let _ = writeln!(out, "- Warning, {}: {}", code(&m.path), prose(w));
            }
        }
    }
    if !plan.declared_mounts.is_empty() {
        let paths: Vec<_> = plan.declared_mounts.iter().map(|p| code(p)).collect();
        let _ = writeln!(out, "\nAlready mounted (declared): {}.", paths.join(", "));
    }

    let unfixable: Vec<_> = all.iter().filter(|f| f.is_error()).collect();
    if !unfixable.is_empty() {
        let _ = writeln!(out, "\n### Cannot be fixed by a mount\n");
        for f in unfixable {
            if let Cause::Unfixable { reason } = f.cause {
                let _ = writeln!(out, "- {}: {}", code(f.path), prose(reason));
            }
        }
    }

    if let Some(v) = &r.verification {
        let _ = writeln!(
            out,
            "\n### Proof\n\n{} read-only, up to {} at a time, in {:.1} s.\n",
            findings::plural(v.run_count as usize, "run", "runs"),
            v.jobs,
            v.wall_ms as f64 / 1000.0
        );
        let rows: Vec<Vec<String>> = v
            .runs
            .iter()
            .enumerate()
            .map(|(i, run)| {
                let mounts: Vec<String> =
                    run.mounts.iter().map(|m| code(tmpfs_parts(m).0)).collect();
                vec![
                    (i + 1).to_string(),
                    if run.passed { "passed" } else { "**failed**" }.to_string(),
                    if mounts.is_empty() {
                        "none".to_string()
                    } else {
                        mounts.join(" ")
                    },
                    run.failure.as_deref().map_or_else(String::new, prose),
                ]
            })
            .collect();
        table(&mut out, &["Run", "Result", "Mounts", "Why"], &rows);
        let untraced: Vec<String> = findings::untraced_erofs(r).into_iter().map(code).collect();
        if !untraced.is_empty() {
            let _ = writeln!(
                out,
                "\nRead-only errors name paths the trace did not see, which no planned mount \
                 covers: {}.",
                untraced.join(", ")
            );
        }
        for h in &v.harmful_mounts {
            let _ = writeln!(
                out,
                "\nHarmful, left out: {} (a run that passed without it failed with it: {}).",
                code(&h.path),
                prose(&h.failure)
            );
        }
        let tolerated: Vec<String> = findings::tolerated(&all)
            .iter()
            .map(|f| code(f.path))
            .collect();
        if !tolerated.is_empty() {
            let _ = writeln!(
                out,
                "\nTolerated (it passed without a mount over them): {}.",
                tolerated.join(", ")
            );
        }
    }

    if !plan.remedies.is_empty() {
        let _ = writeln!(out, "\n### Remedies\n");
        for rem in &plan.remedies {
            let _ = write!(
                out,
                "- **{}** ({}): {}",
                prose(&rem.title),
                code(&rem.id),
                prose(&rem.fix)
            );
            if !rem.paths.is_empty() {
                let paths: Vec<_> = rem.paths.iter().map(|p| code(p)).collect();
                let _ = write!(out, " For {}.", paths.join(", "));
            }
            out.push('\n');
        }
    }

    if !options.emit.is_empty() {
        let _ = writeln!(out, "\n### Fix");
        for &fix in &options.emit {
            let _ = writeln!(out, "\n#### {}\n", fixes::title(fix));
            out.push_str(&fence(&fixes::render(r, profile, fix), fixes::lang(fix)));
        }
    }
    let _ = writeln!(out, "\n{}", prose(&findings::summary(r, profile, &all)));
    out
}

/// A code span that survives any content (backticks widen the delimiters).
fn code(text: &str) -> String {
    let text = clean(text);
    let longest = longest_run(&text, '`');
    if longest == 0 {
        return format!("`{text}`");
    }
    let ticks = "`".repeat(longest + 1);
    format!("{ticks} {text} {ticks}")
}

/// Prose with Markdown's and HTML's special characters made literal.
fn prose(text: &str) -> String {
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
fn fence(body: &str, lang: &str) -> String {
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

/// A table; `|` in a cell is escaped (GFM splits cells before it reads code spans).
fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", " --- |".repeat(head.len()));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{render_report, render_trace, testdata, Format};

    #[test]
    fn markdown_report_golden() {
        for (name, (report, profile)) in testdata::all() {
            let options = RenderOptions {
                color: true, // ignored outside text
                emit: profile.emit.clone(),
            };
            let out = render_report(&report, &profile, Format::Markdown, &options);
            assert!(!out.contains('\x1b'));
            insta::assert_snapshot!(format!("markdown_{name}"), out);
        }
    }

    #[test]
    fn markdown_trace_is_the_text_in_a_fence() {
        let (report, _) = testdata::needs_changes();
        let out = render_trace(&report.trace, Format::Markdown);
        assert!(out.contains("```text\nTrace of rofs-audit-test/phases"));
        assert!(out.ends_with("```\n"));
    }

    #[test]
    fn escapes_code_prose_and_cells() {
        assert_eq!(code("/a`b"), "`` /a`b ``");
        assert_eq!(prose("a <b> *c* | d_e"), "a &lt;b&gt; \\*c\\* \\| d\\_e");
        assert_eq!(fence("x ``` y", "sh"), "````sh\nx ``` y\n````\n");
        let mut out = String::new();
        table(&mut out, &["P"], &[vec![code("/a|b")]]);
        assert_eq!(out, "| P |\n| --- |\n| `/a\\|b` |\n");
    }
}
