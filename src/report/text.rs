//! Plain text for a terminal or a log. Every path and log line in the model is already escaped,
//! and free text from the plan goes through `clean`, so nothing printed here can drive the
//! terminal; colour comes only from `Style`, and only when asked for.

use std::fmt::Write as _;

use super::escape::shell_quote;
use super::findings::{self, clean, Cause, Cover, Label};
use super::fixes;
use super::options::RenderOptions;
use crate::model::{
    Change, Check, Gate, MultiReport, Report, RunMount, TmpfsSpec, Trace, TracingMode, Verdict,
    Verification,
};
use crate::profile::Profile;

pub fn trace(t: &Trace) -> String {
    let mut out = String::new();
    let id = t.image.id.strip_prefix("sha256:").unwrap_or(&t.image.id);
    let _ = writeln!(
        out,
        "Trace of {} ({})",
        t.image.reference,
        &id.chars().take(12).collect::<String>()
    );
    let _ = writeln!(
        out,
        "user {}, command {}",
        if t.run.user.is_empty() {
            "root (image default)"
        } else {
            &t.run.user
        },
        shell_words(&t.run.entrypoint, &t.run.cmd)
    );
    let _ = writeln!(
        out,
        "tracing: {}",
        match t.tracing.mode {
            // Without fanotify the race it closes is among the blind spots; what a restart
            // could not show says nothing of fanotify.
            TracingMode::Overlay if t.tracing.first_run_sees_all() => {
                "overlay (inotify and fanotify on the writable layer and volumes)"
            }
            TracingMode::Overlay => "overlay (inotify on the writable layer and volumes)",
            TracingMode::Api => {
                "api (the engine's changes API at phase boundaries and polled in between)"
            }
        }
    );
    if let Some(why) = reason(t) {
        let _ = writeln!(out, "  why: {}", clean(why));
    }
    for spot in &t.tracing.blind_spots {
        let _ = writeln!(out, "  cannot see: {spot}");
    }
    let _ = writeln!(out, "startup: ready after {} ms", t.startup_ms);
    for p in &t.probes {
        let status = p.status.map_or_else(|| "-".to_string(), |s| s.to_string());
        let verdict = if p.ok { "ok" } else { "FAILED" };
        let _ = write!(
            out,
            "probe {}: {status} in {} ms, {verdict}",
            p.target, p.latency_ms
        );
        if let Some(e) = &p.error {
            let _ = write!(out, " ({e})");
        }
        out.push('\n');
    }
    let exit = match (t.exit.code, t.exit.signal) {
        (Some(code), Some(sig)) => format!("exit code {code} (signal {sig})"),
        (Some(code), None) => format!("exit code {code}"),
        _ => "exit status unknown".to_string(),
    };
    match t.exited_before_stop {
        Some(code) => writeln!(
            out,
            "shutdown: none, it had exited by itself with code {code}"
        ),
        None => writeln!(out, "shutdown: {exit}"),
    }
    .ok();
    if let Some(restart) = t
        .phases
        .iter()
        .find(|p| p.name == crate::model::Phase::Restart)
    {
        let _ = writeln!(
            out,
            "restart: the same container started again and stopped in {} ms",
            restart.duration_ms
        );
    }
    out.push('\n');
    if t.writes.is_empty() {
        out.push_str("No writes: nothing would fail under a read-only root.\n");
        return out;
    }
    let _ = writeln!(out, "{:<9} {:<10} {:>9}  PATH", "PHASE", "CHANGE", "BYTES");
    for w in &t.writes {
        let bytes = w.bytes.map_or_else(|| "-".to_string(), |b| b.to_string());
        let _ = write!(
            out,
            "{:<9} {:<10} {bytes:>9}  {}",
            w.phase.as_str(),
            w.change.as_str(),
            w.path
        );
        if let Some(p) = &w.probe {
            let _ = write!(out, "  (GET {p})");
        }
        if w.volume {
            out.push_str("  [volume]");
        }
        if let Some(r) = w.restart {
            let _ = write!(out, "  [restart: {}]", r.as_str());
        }
        out.push('\n');
    }
    let transient = t
        .writes
        .iter()
        .filter(|w| w.change == Change::Transient)
        .count();
    let volume = t.writes.iter().filter(|w| w.volume).count();
    let _ = writeln!(
        out,
        "\n{} writes ({transient} transient, {volume} in volumes)",
        t.writes.len()
    );
    out
}

/// The command as a person would type it.
/// Why the trace's mode was chosen, without the mode's name it begins with.
fn reason(t: &Trace) -> Option<&str> {
    let why = t.tracing.reason.as_str();
    let why = why.split_once(": ").map_or(why, |(_, w)| w);
    (!why.is_empty()).then_some(why)
}

pub fn shell_words(entrypoint: &[String], cmd: &[String]) -> String {
    let words: Vec<String> = entrypoint
        .iter()
        .chain(cmd)
        .map(|w| shell_quote(w))
        .collect();
    if words.is_empty() {
        "(none)".to_string()
    } else {
        crate::model::escape_text(&words.join(" "))
    }
}

/// ANSI styling, or none at all.
#[derive(Debug, Clone, Copy)]
struct Style {
    color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
    fn red(self, text: &str) -> String {
        self.paint("1;31", text)
    }
    fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
    fn green(self, text: &str) -> String {
        self.paint("1;32", text)
    }
    fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// Several audits for a person: each report under a line that names the target and where it
/// comes from, then one line per target. `profiles` are the targets' own.
pub fn multi(multi: &MultiReport, profiles: &[Profile], options: &RenderOptions) -> String {
    let mut out = String::new();
    for (target, profile) in multi.targets.iter().zip(profiles) {
        let _ = writeln!(
            out,
            "== {} ({}) ==",
            clean(&target.name),
            clean(&target.defined_at)
        );
        for note in &target.notes {
            let _ = writeln!(out, "note: {}", clean(note));
        }
        out.push_str(&report(&target.report, profile, options));
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} of {}:",
        findings::plural(multi.targets.len(), "target", "targets"),
        clean(&multi.source)
    );
    let width = multi
        .targets
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(0);
    for target in &multi.targets {
        let r = &target.report;
        let _ = writeln!(
            out,
            "  {:<width$}  {:<13}  {:<9}  {}",
            clean(&target.name),
            r.plan.verdict.as_str(),
            findings::plural(r.fix_mounts().len(), "mount", "mounts"),
            findings::took(target.duration_ms)
        );
    }
    out
}

/// The audit for a person: what would fail, grouped by the mount that fixes it, what nothing
/// can fix and why, remedies, the requested fix snippets, and a one-line summary.
/// With `verbose`, every write on its own line, every mount and every log line.
pub fn report(r: &Report, profile: &Profile, options: &RenderOptions) -> String {
    let verbose = options.verbose;
    let s = Style {
        color: options.color,
    };
    let t = &r.trace;
    let plan = &r.plan;
    let all = findings::findings(r);
    let mut out = String::new();

    let id = t.image.id.strip_prefix("sha256:").unwrap_or(&t.image.id);
    let _ = writeln!(
        out,
        "{}",
        s.bold(&format!(
            "Audit of {} ({}) for {} ({})",
            clean(&t.image.reference),
            clean(&id.chars().take(12).collect::<String>()),
            clean(&profile.title),
            clean(&plan.profile)
        ))
    );
    let _ = writeln!(
        out,
        "user {}, command {}",
        if t.run.user.is_empty() {
            "root (image default)".to_string()
        } else {
            clean(&t.run.user).into_owned()
        },
        shell_words(&t.run.entrypoint, &t.run.cmd)
    );
    let ok = t.probes.iter().filter(|p| p.ok).count();
    let _ = writeln!(
        out,
        "startup: ready after {} ms, {ok} of {} ok",
        t.startup_ms,
        findings::plural(t.probes.len(), "probe", "probes")
    );
    for asked in &t.run.probes {
        let _ = writeln!(out, "  probe: {}", clean(asked));
    }
    if let Some(reached) = &t.run.reached {
        let _ = writeln!(out, "  reached: {}", clean(reached));
    }
    for note in t.probes.iter().filter_map(|p| p.note.as_deref()) {
        let _ = writeln!(out, "  {}", clean(note));
    }
    for p in t.probes.iter().filter(|p| !p.ok) {
        let status = p.status.map_or_else(|| "-".to_string(), |c| c.to_string());
        let _ = write!(
            out,
            "  {} {}: {status}",
            s.red("probe FAILED"),
            clean(&p.target)
        );
        if let Some(e) = &p.error {
            let _ = write!(out, " ({})", clean(e));
        }
        out.push('\n');
    }
    if let Some(why) = reason(t) {
        let mode = match t.tracing.mode {
            TracingMode::Overlay => "overlay",
            TracingMode::Api => "api",
        };
        let line = format!("tracing: {mode} mode ({})", clean(why));
        let _ = writeln!(out, "{}", s.dim(&line));
    }
    for spot in &t.tracing.blind_spots {
        let _ = writeln!(out, "{}", s.dim(&format!("cannot see: {}", clean(spot))));
    }
    let (word, meaning) = findings::verdict_words(r);
    let word = match plan.verdict {
        Verdict::Compatible => s.green(word),
        Verdict::NeedsMounts => s.yellow(word),
        Verdict::NeedsChanges => s.red(word),
    };
    let _ = writeln!(out, "verdict: {word}: {meaning}");

    let failing = all.iter().filter(|f| f.write.is_some()).count();
    if failing > 0 {
        let _ = writeln!(
            out,
            "\n{failing} of {} would fail under a read-only root ({}):",
            findings::plural(t.writes.len(), "write", "writes"),
            clean(&profile.read_only_setting)
        );
    }
    for section in findings::sections(r, &all, verbose) {
        match section.cover {
            Cover::Mount { mount, need } => {
                let _ = writeln!(
                    out,
                    "\n{}{} covers:",
                    s.bold(&findings::describe_mount(mount)),
                    need.words()
                );
                if section.findings.is_empty() {
                    let covers = findings::some(mount.covers.iter().map(|p| clean(p)), 3);
                    let _ = match (mount.covers.is_empty(), mount.state, mount.hides_files) {
                        (true, ..) => writeln!(out, "  (no traced write)"),
                        // State that does not fail here (an image VOLUME on Docker).
                        (false, true, _) => {
                            writeln!(out, "  keeps {covers}, which would go with the container")
                        }
                        (false, false, true) => writeln!(
                            out,
                            "  {covers}: listed below, as no mount fixes them until a run keeps \
                             this one"
                        ),
                        (false, false, false) => writeln!(out, "  {covers}"),
                    };
                }
                writes(&mut out, &section.findings, verbose);
                for w in &mount.warnings {
                    let _ = writeln!(out, "  {} {}", s.yellow("warning:"), clean(w));
                }
            }
            Cover::Unlisted { mounts } => {
                let _ = writeln!(
                    out,
                    "\n{} of the full cover, not needed (the app ran without them; --verbose \
                     lists them), cover:",
                    s.bold(&findings::plural(mounts, "more mount", "more mounts"))
                );
                writes(&mut out, &section.findings, verbose);
            }
            Cover::Unfixable => {
                let heading = if section.findings.iter().any(|f| f.is_error()) {
                    s.red("Cannot be fixed by a mount:")
                } else {
                    s.yellow("Cannot be fixed by a mount, but the app ran without them:")
                };
                let _ = writeln!(out, "\n{heading}");
                writes(&mut out, &section.findings, verbose);
            }
        }
    }
    if let Some(v) = &r.verification {
        proof(&mut out, v, s, true, verbose);
        let minimal: Vec<String> = v
            .minimal_mounts
            .iter()
            .map(findings::describe_mount)
            .collect();
        if v.passed && !minimal.is_empty() {
            let _ = writeln!(out, "Needed: {}", minimal.join("; "));
        }
        if let Some(functional) = &v.functional_mounts {
            let only_clean: Vec<&str> = v
                .minimal_mounts
                .iter()
                .filter(|m| !functional.iter().any(|f| f.path == m.path))
                .map(|m| m.path.as_str())
                .collect();
            let _ = writeln!(
                out,
                "It also starts, answers and stops with {}; {} only keep the logs free of \
                 read-only errors (--gate functional leaves them out)",
                match functional.len() {
                    0 => "no mount".to_string(),
                    _ => functional
                        .iter()
                        .map(|m| m.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                },
                only_clean.join(", ")
            );
        }
        for h in &v.harmful_mounts {
            let _ = writeln!(
                out,
                "{} {}: a run that passed without it failed with it ({})",
                s.red("Harmful, left out:"),
                clean(&h.path),
                clean(&h.failure)
            );
        }
        let untraced = findings::untraced_erofs(r);
        if !untraced.is_empty() {
            let _ = writeln!(
                out,
                "{} {} (the trace did not see these writes; no planned mount covers them)",
                s.yellow("Read-only errors name untraced paths:"),
                findings::some(untraced.iter().map(|p| clean(p)), findings::INLINE)
            );
        }
        let tolerated = findings::tolerated(&all);
        if !tolerated.is_empty() {
            let _ = writeln!(
                out,
                "Tolerated (it passed without a mount over them): {}",
                findings::some(
                    findings::group(&tolerated).iter().map(|g| g.short()),
                    findings::INLINE
                )
            );
        }
    }
    if !plan.remedies.is_empty() {
        let _ = writeln!(out, "\n{}", s.bold("Remedies:"));
        for rem in &plan.remedies {
            let _ = writeln!(out, "  {}: {}", clean(&rem.id), clean(&rem.title));
            let _ = writeln!(out, "      {}", clean(&rem.fix));
            if !rem.paths.is_empty() {
                let _ = writeln!(
                    out,
                    "      for {}",
                    findings::some(rem.paths.iter().map(|p| clean(p)), findings::INLINE)
                );
            }
        }
    }
    if !plan.declared_mounts.is_empty() {
        let paths: Vec<_> = plan
            .declared_mounts
            .iter()
            .map(|p| clean(&p.to_string()).into_owned())
            .collect();
        let _ = writeln!(out, "\nAlready mounted (declared): {}", paths.join(", "));
    }
    for &fix in &options.emit {
        let _ = writeln!(out, "\n{}", s.bold(&format!("Fix: {}", fixes::title(fix))));
        out.push_str(&fixes::render(r, profile, fix));
    }
    let _ = writeln!(out, "\n{}", findings::summary(r, profile, &all));
    out
}

/// The result of `verify`: the run, why it failed, and the gates.
pub fn check(c: &Check, color: bool) -> String {
    let s = Style { color };
    let mut out = String::new();
    let mounts = mount_list(c.mounts.iter().map(|m| clean(&m.to_string()).into_owned()));
    let _ = writeln!(
        out,
        "{}",
        s.bold(&format!(
            "Verify of {} read-only on {} with {mounts}",
            clean(&c.image),
            clean(&c.profile)
        ))
    );
    proof(&mut out, &c.verification, s, false, false);
    let v = &c.verification;
    let _ = match v.runs.first().and_then(|r| r.failure.as_deref()) {
        None => writeln!(
            out,
            "\n{}: it runs read-only with {}",
            s.green("passed"),
            if c.mounts.is_empty() {
                "no mount"
            } else {
                "these mounts"
            }
        ),
        Some(failure) => writeln!(out, "\n{}: {}", s.red("FAILED"), clean(failure)),
    };
    out
}

/// The proof's runs, each with what failed and the read-only errors it logged, then the gates.
fn proof(out: &mut String, v: &Verification, s: Style, brief: bool, verbose: bool) {
    let _ = writeln!(
        out,
        "\n{}",
        s.bold(&format!(
            "Proof: {}{}, {:.1} s{}:",
            findings::plural(v.run_count as usize, "run", "runs"),
            if v.jobs > 1 {
                format!(", up to {} at a time", v.jobs)
            } else {
                String::new()
            },
            v.wall_ms as f64 / 1000.0,
            // In an audit the first run goes alongside the trace.
            if brief { " with the trace" } else { "" }
        ))
    );
    for (i, run) in v.runs.iter().enumerate() {
        let word = if run.passed {
            s.green("passed")
        } else {
            s.red("FAILED")
        };
        let root = if run.readonly {
            "read-only"
        } else {
            "writable root (the control)"
        };
        let mounts = if brief {
            // The audit describes each mount above; its runs need only the mount points.
            mount_list(run.mounts.iter().map(|m| clean(m.path())))
        } else {
            mount_list(run.mounts.iter().map(|m| clean(&run_mount(m)).into_owned()))
        };
        let _ = writeln!(out, "  run {} {word}  {root}, {mounts}", i + 1);
        if let Some(failure) = &run.failure {
            let _ = writeln!(out, "        {}", clean(failure));
        }
        let cap = (!verbose).then_some(findings::LOG_LINES);
        let lines = run.erofs_lines.iter().map(|l| l.line.as_str());
        let (lines, more, more_lines) = findings::dedup_logs(lines, cap);
        for line in lines {
            let _ = writeln!(out, "        log: {line}");
        }
        if more > 0 {
            let _ = writeln!(
                out,
                "        log: {} left out ({}; the JSON has them all)",
                findings::plural(more, "more distinct line", "more distinct lines"),
                findings::plural(more_lines, "line", "lines")
            );
        }
    }
    let gate = |g: &Gate| {
        let ms =
            g.ms.map_or_else(|| "-".to_string(), |ms| format!("{ms} ms"));
        let word = if g.ok { s.green("ok") } else { s.red("FAILED") };
        let mut out = format!(
            "{} {ms} (budget {}) {word}",
            clean(&g.name),
            human_ms(g.budget_ms)
        );
        if let Some(reason) = &g.reason {
            out.push_str(&format!(": {}", clean(reason)));
        }
        out
    };
    let _ = writeln!(out, "Gates:");
    let all = std::iter::once(&v.gates.startup)
        .chain(&v.gates.probes)
        .chain(&v.gates.shutdown);
    for g in all {
        let _ = writeln!(out, "  {}", gate(g));
    }
    // Advice for the app that never stops on SIGTERM, not for one that hangs only read-only.
    if v.gates
        .shutdown
        .as_ref()
        .is_some_and(|g| g.ok && g.reason.is_some())
    {
        let _ = writeln!(
            out,
            "  Every stop waits out the platform's timeout and then kills it: handle SIGTERM in \
             the app, or start it under an init process (docker run --init; ECS \
             linuxParameters.initProcessEnabled)."
        );
    }
}

/// A run's mount: a tmpfs as the docker CLI takes it, a volume named as such with how it started.
fn run_mount(mount: &RunMount) -> String {
    match mount {
        RunMount::Tmpfs { path, options } => TmpfsSpec::new(path, options).to_string(),
        RunMount::Volume {
            path,
            read_only,
            empty,
            owner,
        } => match (read_only, empty, owner) {
            (true, _, _) => format!("{path} (read-only volume)"),
            (false, true, Some(o)) => {
                format!("{path} (empty volume, owned by {}:{})", o.uid, o.gid)
            }
            (false, true, None) => format!("{path} (empty volume, root-owned 0755)"),
            (false, false, _) => format!("{path} (volume)"),
        },
        RunMount::Seeded { path, root, copy } => match (root, copy) {
            (_, None) => format!("{path} (volume with the image's files)"),
            (Some(r), Some(_)) => format!(
                "{path} (volume owned by {}:{} {:04o}, the image's files copied in)",
                r.uid, r.gid, r.mode
            ),
            (None, Some(_)) => {
                format!("{path} (root-owned 0755 volume, the image's files copied in)")
            }
        },
    }
}

/// Mounts separated by spaces, or `no mounts`.
fn mount_list<T: std::fmt::Display>(mounts: impl Iterator<Item = T>) -> String {
    let words: Vec<String> = mounts.map(|m| m.to_string()).collect();
    if words.is_empty() {
        "no mounts".to_string()
    } else {
        words.join(" ")
    }
}

/// `30 s` for whole seconds, else `1500 ms`.
fn human_ms(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// The writes of a section: each on its own line when `verbose`, else grouped (see
/// [`findings::group`]), a group of one as the write itself. What no mount fixes and the app
/// needs gets its reason.
fn writes(out: &mut String, list: &[&findings::Finding], verbose: bool) {
    if verbose {
        for f in list {
            write_line(out, f);
        }
        return;
    }
    for g in findings::group(list) {
        if let [f] = g.members[..] {
            write_line(out, f);
            continue;
        }
        group_line(out, &g);
        if let (Some((reason, other)), false) = (g.reasons(), g.tolerated()) {
            let _ = writeln!(out, "      {reason}");
            if other > 0 {
                let _ = writeln!(
                    out,
                    "      ({other} of them for other reasons: --verbose gives each its own)"
                );
            }
        }
    }
}

/// One write, and why no mount fixes it when the app needs it (what the app tolerates needs no
/// way out; the JSON keeps every reason).
fn write_line(out: &mut String, f: &findings::Finding) {
    finding_line(out, f);
    if let (Cause::Unfixable { reason }, false) = (f.cause, f.tolerated) {
        let _ = writeln!(out, "      {}", clean(reason));
    }
    // What a restart showed it is for: data to keep, a cache, or scratch.
    if let Some(note) = f.write.and_then(crate::analyze::restart_note) {
        let _ = writeln!(out, "      {note}");
    }
}

/// `  /var/cache/app/ (300 directories): 9000 created at startup: 0/a, 0/b, 1/c and 8997 more`
fn group_line(out: &mut String, g: &findings::Group) {
    let (samples, more) = g.samples();
    let _ = write!(out, "  {}: ", g.headline());
    // Entries of the plan that no traced write backs have no change or phase to tell.
    if g.members.iter().any(|f| f.write.is_some()) {
        let _ = write!(
            out,
            "{} at {}: ",
            g.changes(),
            g.phases(|p| clean(p).into_owned())
        );
    }
    let samples: Vec<String> = samples.iter().map(ToString::to_string).collect();
    out.push_str(&samples.join(", "));
    if more > 0 {
        let _ = write!(out, " and {more} more");
    }
    let folded = match &g.label {
        Label::Remedy(r) => Some(r.id.as_str()),
        _ => None,
    };
    let ids: Vec<_> = g
        .remedy_ids()
        .into_iter()
        .filter(|id| Some(id.as_ref()) != folded)
        .collect();
    if !ids.is_empty() {
        let label = if ids.len() == 1 { "remedy" } else { "remedies" };
        let _ = write!(out, "  {label}: {}", ids.join(", "));
    }
    out.push('\n');
}

/// `  probe     created    /var/lib/app/requests.log  (GET /work)  remedy: log-files`
fn finding_line(out: &mut String, f: &findings::Finding) {
    let _ = match f.write {
        Some(w) => write!(
            out,
            "  {:<9} {:<10} {}",
            w.phase.as_str(),
            w.change.as_str(),
            clean(f.path)
        ),
        None => write!(out, "  {:<9} {:<10} {}", "-", "-", clean(f.path)),
    };
    if let Some(p) = f.write.and_then(|w| w.probe.as_deref()) {
        let _ = write!(out, "  (GET {})", clean(p));
    }
    if !f.remedies.is_empty() {
        let ids: Vec<_> = f.remedies.iter().map(|r| clean(&r.id)).collect();
        let label = if ids.len() == 1 { "remedy" } else { "remedies" };
        let _ = write!(out, "  {label}: {}", ids.join(", "));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::FixFormat;
    use crate::report::{render_report, render_trace, testdata, Format};

    #[test]
    fn trace_text_golden() {
        let trace: crate::model::Trace =
            serde_json::from_str(include_str!("../../tests/data/trace-phases.json")).unwrap();
        insta::assert_snapshot!(render_trace(&trace, Format::Text));
    }

    #[test]
    fn report_text_golden() {
        for (name, (report, profile)) in testdata::all() {
            let options = RenderOptions {
                color: false,
                emit: profile.emit.clone(),
                ..RenderOptions::default()
            };
            let out = render_report(&report, &profile, Format::Text, &options);
            insta::assert_snapshot!(format!("text_{name}"), out);
        }
    }

    #[test]
    fn colour_only_when_asked() {
        for (name, (report, profile)) in testdata::all() {
            let mut options = RenderOptions {
                color: false,
                emit: vec![FixFormat::Docker, FixFormat::Kubernetes],
                ..RenderOptions::default()
            };
            let plain = render_report(&report, &profile, Format::Text, &options);
            assert!(!plain.contains('\x1b'), "{name}: {plain}");
            assert!(
                !plain.chars().any(|c| c.is_control() && c != '\n'),
                "{name}"
            );
            options.color = true;
            let coloured = render_report(&report, &profile, Format::Text, &options);
            assert!(coloured.contains("\x1b["), "{name}");
        }
    }

    #[test]
    fn control_characters_in_free_text_are_escaped() {
        let (mut report, profile) = testdata::needs_changes();
        report.plan.unfixable[0].reason = "evil\x1b[2J reason\r".to_string();
        report.plan.remedies[0].title = "title\x07".to_string();
        let out = render_report(&report, &profile, Format::Text, &RenderOptions::default());
        assert!(!out.contains('\x1b') && !out.contains('\r') && !out.contains('\x07'));
        assert!(out.contains("evil\\x1b[2J reason\\x0d"));
    }

    #[test]
    fn an_image_id_that_is_not_ascii_is_cut_by_characters() {
        let (mut report, profile) = testdata::compatible();
        report.trace.image.id = "sha256:éééééééééééééééé".to_string();
        let out = render_report(&report, &profile, Format::Text, &RenderOptions::default());
        assert!(out.contains("(éééééééééééé)"), "{out}");
        assert!(render_trace(&report.trace, Format::Text).contains("(éééééééééééé)"));
    }

    fn python_app_text(verbose: bool) -> String {
        let (report, profile) = crate::report::testdata::scale::python_app(124);
        let options = RenderOptions {
            color: false,
            emit: vec![FixFormat::Docker],
            verbose,
        };
        super::report(&report, &profile, &options)
    }

    #[test]
    fn an_unneeded_full_cover_is_one_section_and_its_writes_fold_by_remedy() {
        let out = python_app_text(false);
        assert!(
            out.lines().count() <= 60,
            "{} lines:\n{out}",
            out.lines().count()
        );
        assert!(out.contains("verdict: needs mounts: proven: it runs read-only with 2 mounts"));
        assert!(
            out.contains(
                "\n126 more mounts of the full cover, not needed (the app ran without them; \
                 --verbose lists them), cover:\n  startup   created    /scratch/tmp\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("  tolerated, python-bytecode (124 directories): 124 created, 124 transient at startup: "),
            "{out}"
        );
        assert!(out.contains("Tolerated (it passed without a mount over them): "));
        assert!(out.contains("248 writes python-bytecode explains"), "{out}");
        assert!(
            !out.contains("/app/pkg123/__pycache__ ("),
            "no section per unneeded mount"
        );
        assert!(out.contains("--tmpfs /var/run/app:"), "the fix: {out}");
    }

    #[test]
    fn verbose_lists_every_write_mount_and_log_line() {
        let out = python_app_text(true);
        assert!(
            out.contains("tmpfs /app/pkg123/__pycache__ (16 MiB"),
            "{out}"
        );
        for k in [0, 61, 123] {
            assert!(
                out.contains(&format!(
                    "  startup   transient  /app/pkg{k:03}/__pycache__/__init__.cpython-311.pyc.1402  remedy: python-bytecode\n"
                )),
                "{out}"
            );
        }
        assert!(out.contains("log: worker 7: cannot write"), "{out}");
        assert!(!out.contains("more distinct lines left out"));
    }

    #[test]
    fn a_log_line_repeated_at_every_attempt_is_printed_once_with_its_count() {
        let out = python_app_text(false);
        let line =
            "log: fixture: cannot write /var/run/app/app.pid: Read-only file system (os error 30)";
        assert_eq!(out.matches(line).count(), 2, "runs 1 and 4:\n{out}");
        assert!(out.contains(&format!("{line} (300 times)\n")), "{out}");
        assert!(out.contains("log: worker 3: cannot write"));
        assert!(!out.contains("log: worker 4: cannot write"));
        assert!(
            out.contains(
                "        log: 4 more distinct lines left out (4 lines; the JSON has them all)\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn writes_group_by_directory_with_counts_kinds_phases_and_samples() {
        let (report, profile) = crate::report::testdata::scale::many_writes(20_000, 400);
        let out = render_report(&report, &profile, Format::Text, &RenderOptions::default());
        assert!(
            out.contains(
                "  /var/cache/app/ (400 directories): 20000 created at startup: 0000/f000000, \
             0001/f000001, 0002/f000002 and 19997 more\n"
            ),
            "{out}"
        );
        assert!(out.lines().count() < 20, "{out}");
    }
}
