//! What an audit is doing while it runs, on stderr when that is a terminal: the image pull, each
//! trace phase, each proof run as it starts and ends. Nothing at all otherwise, so that logs and
//! machine formats stay clean.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes: a terminal's stderr, or nowhere.
#[derive(Clone, Default)]
pub struct Progress {
    bars: Option<MultiProgress>,
}

/// One activity under way: a spinner with its elapsed time, replaced by a line when it ends.
pub struct Step {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Progress on stderr; `hidden()` where it must not show.
    pub fn stderr() -> Progress {
        Progress {
            bars: Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    pub fn hidden() -> Progress {
        Progress::default()
    }

    /// Progress on stderr when it is a terminal, unless `quiet`, or a machine format is about
    /// to be printed on the same terminal (`machine_on_stdout`).
    pub fn for_terminal(quiet: bool, machine_on_stdout: bool) -> Progress {
        use std::io::IsTerminal;
        let mixed = machine_on_stdout && std::io::stdout().is_terminal();
        match !quiet && !mixed && std::io::stderr().is_terminal() {
            true => Progress::stderr(),
            false => Progress::hidden(),
        }
    }

    /// Starts an activity, shown as `message` with a spinner and the time it has taken.
    pub fn step(&self, message: impl Into<String>) -> Step {
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .expect("a valid template"),
            );
            bar.set_message(message.into());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Step { bar }
    }
}

impl Step {
    /// Ends the activity with a line that stays, its time appended.
    pub fn done(self, outcome: impl AsRef<str>) {
        if let Some(bar) = &self.bar {
            let took = bar.elapsed();
            bar.set_style(ProgressStyle::with_template("  {msg}").expect("a valid template"));
            bar.finish_with_message(format!(
                "{} ({:.1} s)",
                outcome.as_ref(),
                took.as_secs_f64()
            ));
        }
    }
}

impl Drop for Step {
    /// An activity cut short by an error leaves no spinner behind.
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            if !bar.is_finished() {
                bar.finish_and_clear();
            }
        }
    }
}
