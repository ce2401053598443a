//! Markdown for a pull-request comment (GitHub-flavoured: tables, fenced code). Paths are code
//! spans, prose is escaped, table cells escape `|`, and fences grow past any backticks inside.
//! Writes are grouped as in the text; a comment still too long for GitHub leaves out its longest
//! lists (saying so where they were), and a fix too long for it is cut with a note.

use std::fmt::Write as _;

use super::escape::{code, fence, prose};
use super::findings::{self, Cover, Finding, Label};
use super::options::RenderOptions;
use super::{fixes, seed, text};
use crate::model::{Mount, MultiReport, Report, Trace, Verification};
use crate::profile::Profile;

/// A bare trace: the text rendering in a fenced block.
pub fn trace(t: &Trace) -> String {
    format!(
        "## rofs-audit trace: {}\n\n{}",
        code(&t.image.reference),
        fence(&text::trace(t), "text")
    )
}

/// What a comment may take of GitHub's limit, in bytes (never fewer than its characters): a bot
/// that posts it adds a header of its own.
const BUDGET: usize = findings::COMMENT_LIMIT - 5_536;

/// A piece of the comment, and what stands in its place if the comment is too long with it.
struct Part {
    text: String,
    /// When it gives way: the lowest first. None: never (the verdict, the fix, the summary).
    rank: Option<u8>,
    stand_in: String,
}

impl Part {
    fn kept(text: String) -> Self {
        Part {
            text,
            rank: None,
            stand_in: String::new(),
        }
    }

    /// A part that gives way at `rank`, `what` then named under its heading.
    fn optional(text: String, rank: u8, heading: &str, what: String) -> Self {
        let stand_in = format!(
            "\n### {heading}\n\n_Left out to stay under GitHub's {} characters per comment: \
             {what}. `--format json` has everything._\n",
            findings::COMMENT_LIMIT
        );
        Part {
            text,
            rank: Some(rank),
            stand_in,
        }
    }
}

// What gives way first when a comment is too long: the longest lists, then what the fix and
// the summary say again in short, the remedies last (they are the root causes).
const WRITES: u8 = 0;
const MOUNTS: u8 = 1;
const PROOF: u8 = 2;
const UNFIXABLE: u8 = 3;
const REMEDIES: u8 = 4;

/// Several audits as a pull-request comment: a table of them, then each report under a
/// heading. `profiles` are the targets' own.
pub fn multi(multi: &MultiReport, profiles: &[Profile], options: &RenderOptions) -> String {
    let mut out = format!("## rofs-audit of {}\n\n", code(&multi.source));
    let rows: Vec<Vec<String>> = multi
        .targets
        .iter()
        .map(|t| {
            vec![
                code(&t.name),
                code(&t.defined_at),
                t.report.plan.verdict.as_str().to_string(),
                t.report.fix_mounts().len().to_string(),
                findings::took(t.duration_ms),
            ]
        })
        .collect();
    table(
        &mut out,
        &["Target", "From", "Verdict", "Mounts", "Time"],
        &rows,
    );
    for (target, profile) in multi.targets.iter().zip(profiles) {
        let _ = writeln!(out, "\n---\n\n### {}\n", code(&target.name));
        for note in &target.notes {
            let _ = writeln!(out, "> {}\n", prose(note));
        }
        out.push_str(&report(&target.report, profile, options));
    }
    out
}

pub fn report(r: &Report, profile: &Profile, options: &RenderOptions) -> String {
    let plan = &r.plan;
    let all = findings::findings(r);
    let sections = findings::sections(r, &all, false);
    let (word, meaning) = findings::verdict_words(r);
    let mut parts = vec![];

    parts.push(Part::kept(format!(
        "## rofs-audit: {word}\n\n**Status: {}.** {} on {} ({}): {}.\n",
        word.to_uppercase(),
        code(&r.trace.image.reference),
        prose(&profile.title),
        code(&plan.profile),
        meaning
    )));

    let rows = write_rows(&sections);
    if !rows.is_empty() {
        let mut out = format!(
            "\n### Writes that would fail\n\nWith a read-only root ({}):\n\n",
            prose(&profile.read_only_setting)
        );
        table(&mut out, &["Path", "Phase", "Change", "Covered by"], &rows);
        let what = findings::plural(rows.len(), "row", "rows");
        parts.push(Part::optional(out, WRITES, "Writes that would fail", what));
    }

    let listed: Vec<(&Mount, usize)> = sections
        .iter()
        .filter_map(|s| match s.cover {
            Cover::Mount { mount, .. } => Some((mount, s.findings.len())),
            _ => None,
        })
        .collect();
    if !listed.is_empty() {
        let mut out = "\n### Mounts\n\n".to_string();
        let rows: Vec<Vec<String>> = listed
            .iter()
            .map(|(m, covers)| {
                vec![
                    code(&m.path),
                    m.kind.as_str().to_string(),
                    format!("{} MiB", m.size_mib),
                    if m.options.is_empty() {
                        "-".to_string()
                    } else {
                        code(&m.options.join(","))
                    },
                    findings::plural(*covers, "write", "writes"),
                ]
            })
            .collect();
        table(
            &mut out,
            &["Mount", "Kind", "Size", "Options", "Covers"],
            &rows,
        );
        for s in &sections {
            if let Cover::Unlisted { mounts } = s.cover {
                let _ = writeln!(
                    out,
                    "\n{} of the full cover are not needed (the app ran without them): the fix \
                     leaves them out, the JSON lists them.",
                    findings::plural(mounts, "more mount", "more mounts")
                );
            }
        }
        let seeded: Vec<String> = listed
            .iter()
            .filter_map(|(m, _)| {
                let seed = seed::describe(m, &code(&m.path))?;
                Some(format!("- {} {}.", code(&m.path), seed))
            })
            .collect();
        if !seeded.is_empty() {
            let _ = writeln!(out, "\n{}", seeded.join("\n"));
        }
        let warnings: Vec<_> = listed
            .iter()
            .flat_map(|(m, _)| m.warnings.iter().map(move |w| (m, w)))
            .collect();
        if !warnings.is_empty() {
            out.push('\n');
            for (m, w) in warnings {
                let _ = writeln!(out, "- Warning, {}: {}", code(&m.path), prose(w));
            }
        }
        let what = findings::plural(listed.len(), "mount", "mounts");
        parts.push(Part::optional(out, MOUNTS, "Mounts", what));
    }
    if !plan.declared_mounts.is_empty() {
        let paths: Vec<_> = plan
            .declared_mounts
            .iter()
            .map(|p| code(&p.to_string()))
            .collect();
        parts.push(Part::kept(format!(
            "\nAlready mounted (declared): {}.\n",
            paths.join(", ")
        )));
    }

    let errors: Vec<&Finding> = all.iter().filter(|f| f.is_error()).collect();
    if !errors.is_empty() {
        let mut out = "\n### Cannot be fixed by a mount\n\n".to_string();
        for g in findings::group(&errors) {
            let Some((reason, other)) = g.reasons() else {
                continue;
            };
            let _ = write!(out, "- {}: {}", group_cell(&g), prose(&reason));
            if other > 0 {
                let _ = write!(out, " ({other} of them for other reasons, in the JSON)");
            }
            out.push('\n');
        }
        let what = findings::plural(errors.len(), "write", "writes");
        parts.push(Part::optional(
            out,
            UNFIXABLE,
            "Cannot be fixed by a mount",
            what,
        ));
    }

    if let Some(v) = &r.verification {
        parts.push(Part::optional(
            proof(r, v, &all),
            PROOF,
            "Proof",
            findings::plural(v.runs.len(), "run", "runs"),
        ));
    }

    if !plan.remedies.is_empty() {
        let mut out = "\n### Remedies\n\n".to_string();
        for rem in &plan.remedies {
            let _ = write!(
                out,
                "- **{}** ({}): {}",
                prose(&rem.title),
                code(&rem.id),
                prose(&rem.fix)
            );
            if !rem.paths.is_empty() {
                let paths = rem.paths.iter().map(|p| code(p));
                let _ = write!(out, " For {}.", findings::some(paths, findings::INLINE));
            }
            out.push('\n');
        }
        let what = findings::plural(plan.remedies.len(), "remedy", "remedies");
        parts.push(Part::optional(out, REMEDIES, "Remedies", what));
    }

    if !options.emit.is_empty() {
        let mut out = "\n### Fix\n".to_string();
        for &fix in &options.emit {
            let _ = writeln!(out, "\n#### {}\n", fixes::title(fix));
            out.push_str(&fence(&fixes::render(r, profile, fix), fixes::lang(fix)));
        }
        parts.push(Part::kept(out));
    }
    parts.push(Part::kept(format!(
        "\n{}\n",
        prose(&findings::summary(r, profile, &all))
    )));
    fit(parts, BUDGET)
}

/// A row per group of writes (see [`findings::group`]), a group of one as the write itself.
fn write_rows(sections: &[findings::Section]) -> Vec<Vec<String>> {
    let mut rows = vec![];
    for section in sections {
        let covered = match section.cover {
            Cover::Mount { mount, .. } => format!("{} {}", mount.kind.as_str(), code(&mount.path)),
            Cover::Unlisted { mounts } => format!(
                "one of {} not needed",
                findings::plural(mounts, "mount", "mounts")
            ),
            Cover::Unfixable => "**nothing: cannot be fixed by a mount**".to_string(),
        };
        for g in findings::group(&section.findings) {
            let phase = g.phases(code);
            rows.push(vec![group_cell(&g), phase, g.changes(), covered.clone()]);
        }
    }
    rows
}

/// `` `/var/run/app.pid` `` for one write, else `` `/var/cache/app/` (300 directories):
/// `0/a`, `0/b`, `1/c` and 8997 more ``.
fn group_cell(g: &findings::Group) -> String {
    if let [f] = g.members[..] {
        return code(f.path);
    }
    let label = match &g.label {
        Label::Dir(dir) => code(dir),
        Label::Remedy(r) => format!("tolerated, {}", code(&r.id)),
        Label::Others => "elsewhere".to_string(),
    };
    let dirs = if g.dirs > 1 {
        format!(" ({} directories)", g.dirs)
    } else {
        String::new()
    };
    let (samples, more) = g.samples();
    let mut out = format!(
        "{label}{dirs}: {}",
        samples
            .iter()
            .map(|s| format!("{}{}", code(&s.path), s.count()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if more > 0 {
        let _ = write!(out, " and {more} more");
    }
    out
}

/// The proof's runs, what the logs named that the trace did not see, and what the app tolerates.
fn proof(r: &Report, v: &Verification, all: &[Finding]) -> String {
    let mut out = format!(
        "\n### Proof\n\n{} read-only, up to {} at a time, in {:.1} s.\n\n",
        findings::plural(v.run_count as usize, "run", "runs"),
        v.jobs,
        v.wall_ms as f64 / 1000.0
    );
    let rows: Vec<Vec<String>> = v
        .runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let mounts = run.mounts.iter().map(|m| code(m.path()));
            vec![
                (i + 1).to_string(),
                if run.passed { "passed" } else { "**failed**" }.to_string(),
                if run.mounts.is_empty() {
                    "none".to_string()
                } else {
                    findings::some_joined(mounts, findings::COVER_LISTED, " ")
                },
                run.failure.as_deref().map_or_else(String::new, prose),
            ]
        })
        .collect();
    table(&mut out, &["Run", "Result", "Mounts", "Why"], &rows);
    let untraced = findings::untraced_erofs(r);
    if !untraced.is_empty() {
        let _ = writeln!(
            out,
            "\nRead-only errors name paths the trace did not see, which no planned mount \
             covers: {}.",
            findings::some(untraced.into_iter().map(code), findings::INLINE)
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
    let tolerated = findings::tolerated(all);
    if !tolerated.is_empty() {
        let entries = findings::group(&tolerated)
            .into_iter()
            .map(|g| match g.members[..] {
                [f] => code(f.path),
                _ => prose(&g.short()),
            });
        let _ = writeln!(
            out,
            "\nTolerated (it passed without a mount over them): {}.",
            findings::some(entries, findings::INLINE)
        );
    }
    out
}

/// The parts joined, within `budget` bytes: optional parts give way to their stand-ins, by
/// rank, and a fix still too long is cut at a line, its fence closed.
fn fit(mut parts: Vec<Part>, budget: usize) -> String {
    let len = |parts: &[Part]| parts.iter().map(|p| p.text.len()).sum::<usize>();
    while len(&parts) > budget {
        let Some(next) = parts
            .iter_mut()
            .filter(|p| p.rank.is_some())
            .min_by_key(|p| p.rank)
        else {
            break;
        };
        next.text = std::mem::take(&mut next.stand_in);
        next.rank = None;
    }
    let over = len(&parts).saturating_sub(budget);
    if over > 0 {
        if let Some(longest) = parts.iter_mut().max_by_key(|p| p.text.len()) {
            let room = longest.text.len().saturating_sub(over);
            longest.text = cut(&longest.text, room);
        }
    }
    parts.into_iter().map(|p| p.text).collect()
}

/// The first lines of `text` that fit in `room` bytes with the note saying how many were cut,
/// a fence left open closed.
fn cut(text: &str, room: usize) -> String {
    let note = |n: usize| {
        format!(
            "\n_Cut to stay under GitHub's {} characters per comment: {}; the text format has it \
             all._\n",
            findings::COMMENT_LIMIT,
            findings::plural(n, "more line", "more lines")
        )
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let reserve = note(lines.len()).len();
    let mut out = String::new();
    let mut open: Option<&str> = None;
    for (i, line) in lines.iter().enumerate() {
        let close = open.map_or(0, |f| f.len() + 1);
        if out.len() + line.len() + close + reserve > room {
            if let Some(f) = open {
                let _ = writeln!(out, "{f}");
            }
            out.push_str(&note(lines.len() - i));
            return out;
        }
        let trimmed = line.trim_end();
        let ticks = trimmed.len() - trimmed.trim_start_matches('`').len();
        if ticks >= 3 {
            match open {
                Some(f) if trimmed == f => open = None,
                None => open = Some(&trimmed[..ticks]),
                Some(_) => {}
            }
        }
        out.push_str(line);
    }
    out
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
                ..RenderOptions::default()
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

    fn markdown(report: &Report, profile: &Profile) -> String {
        let options = RenderOptions {
            emit: profile.emit.clone(),
            ..RenderOptions::default()
        };
        render_report(report, profile, Format::Markdown, &options)
    }

    #[test]
    fn an_unneeded_full_cover_is_one_line_and_its_writes_one_row() {
        let (report, profile) = crate::report::testdata::scale::python_app(124);
        let out = markdown(&report, &profile);
        assert!(
            out.contains(
                "| tolerated, `python-bytecode` (124 directories): \
             `/app/pkg000/__pycache__/__init__.cpython-311.pyc`, "
            ),
            "{out}"
        );
        assert!(out.contains("| 124 created, 124 transient | one of 126 mounts not needed |"));
        assert!(out.contains(
            "\n126 more mounts of the full cover are not needed (the app ran without them)"
        ));
        assert!(
            !out.contains("| `/app/pkg000/__pycache__` | tmpfs"),
            "{out}"
        );
        assert!(out.contains(
            "Tolerated (it passed without a mount over them): `/scratch/tmp`, \
                              `/var/cache/app/blob`, 248 writes python-bytecode explains."
        ));
        assert!(out.len() < 12_000, "{}", out.len());
    }

    #[test]
    fn a_plan_too_big_for_a_comment_leaves_out_tables_and_cuts_the_fix() {
        let (mut report, profile) = crate::report::testdata::scale::many_writes(3000, 3000);
        crate::report::testdata::scale::mount_per_write(&mut report, 3000);
        let out = markdown(&report, &profile);
        assert!(out.len() < findings::COMMENT_LIMIT, "{}", out.len());
        assert!(out.starts_with("## rofs-audit: needs mounts\n"));
        assert!(out.contains(
            "### Writes that would fail\n\n_Left out to stay under GitHub's 65536 characters \
             per comment: 3000 rows. `--format json` has everything._"
        ));
        assert!(out.contains("### Mounts\n\n_Left out to stay under GitHub's 65536 characters per comment: 3000 mounts."), "{out}");
        assert!(
            out.contains("more lines; the text format has it all._"),
            "{out}"
        );
        // Every fence it opened, it closed.
        assert_eq!(out.lines().filter(|l| l.starts_with("```")).count() % 2, 0);
        assert!(
            out.trim_end().ends_with("3000 mounts fix them all."),
            "{out}"
        );
    }

    #[test]
    fn fit_gives_way_by_rank_and_names_what_it_left_out() {
        let part = |text: &str| Part::kept(text.to_string());
        let optional = |text: &str, rank: u8, heading: &str| {
            Part::optional(text.to_string(), rank, heading, "9 rows".to_string())
        };
        let parts = || {
            vec![
                part("head\n"),
                optional(&"a".repeat(300), 1, "A"),
                optional(&"b".repeat(300), 0, "B"),
                part("tail\n"),
            ]
        };
        let whole = fit(parts(), 1000);
        assert_eq!(whole.len(), 610);
        let out = fit(parts(), 500);
        assert!(
            out.contains(&"a".repeat(300)) && !out.contains("bbb"),
            "{out}"
        );
        assert!(out.contains(
            "\n### B\n\n_Left out to stay under GitHub's 65536 characters \
                              per comment: 9 rows. `--format json` has everything._\n"
        ));
        let out = fit(parts(), 200);
        assert!(!out.contains("aaa") && out.starts_with("head\n") && out.ends_with("tail\n"));
    }

    #[test]
    fn a_cut_closes_the_fence_it_cuts_into() {
        let body = (0..100).map(|i| format!("line {i}\n")).collect::<String>();
        let text = format!("\n#### docker run\n\n{}", fence(&body, "sh"));
        let out = cut(&text, 400);
        assert!(out.len() <= 400, "{}", out.len());
        assert!(out.contains("line 0\n") && !out.contains("line 99"));
        assert!(
            out.contains(
                "\n```\n\n_Cut to stay under GitHub's 65536 characters per \
                              comment: "
            ),
            "{out}"
        );
        assert_eq!(cut(&text, 10_000), text);
    }
}
