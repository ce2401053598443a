//! Where a report goes: its format, standard output or a file written whole, and whether it
//! may have colour and progress beside it.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

use super::options::RenderOptions;
use crate::choice::Choice;
use crate::profile::FixFormat;
use crate::progress::Progress;

/// A report format with a text rendering for people: the others are for machines.
pub trait ReportFormat: Choice {
    const TEXT: Self;
}

/// Where a report goes, in which format, and how much of it the text rendering shows.
#[derive(Debug, Clone)]
pub struct Output<F> {
    pub format: F,
    /// The file, else standard output.
    pub path: Option<PathBuf>,
    /// Every write, mount and log line in the text report, instead of one line per directory.
    pub verbose: bool,
}

impl<F: ReportFormat> Output<F> {
    /// Progress on a terminal's stderr, unless `quiet` or a machine format goes to the same one.
    pub fn progress(&self, quiet: bool) -> Progress {
        Progress::for_terminal(quiet, self.format != F::TEXT && self.path.is_none())
    }

    /// Refuses a file the report could not be written to, before anything runs.
    pub fn writable(&self) -> Result<()> {
        let path = self.path.as_deref();
        path.map_or(Ok(()), |path| check_writable(path, "--output"))
    }

    /// Colour for a text report on a terminal, unless NO_COLOR is set.
    pub fn color(&self) -> bool {
        let terminal = self.path.is_none() && std::io::stdout().is_terminal();
        terminal && std::env::var_os("NO_COLOR").is_none()
    }

    /// The rendering choices: colour where the text goes to a terminal, and `emit`'s fixes.
    pub fn options(&self, emit: Vec<FixFormat>) -> RenderOptions {
        RenderOptions {
            color: self.color(),
            emit,
            verbose: self.verbose,
        }
    }

    /// Writes the report, and passes its exit code on.
    pub fn print(&self, text: &str, code: i32) -> Result<i32> {
        emit(self.path.as_deref(), text).map(|()| code)
    }
}

/// Writes `text` to `output`, or to standard output. A reader of standard output that has seen
/// enough (`| head`) is no error, as with ripgrep.
pub fn emit(output: Option<&Path>, text: &str) -> Result<()> {
    if let Some(path) = output {
        return write_whole(path, text)
            .map_err(|e| anyhow!("cannot write {}: {e}; check --output", path.display()));
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

/// Refuses, before anything runs, an output path the report could not be written to at the end:
/// a directory, a missing directory, or one this process may not write in. What it tries there
/// is the temp file [`emit`] writes first, removed at once.
pub fn check_writable(path: &Path, flag: &str) -> Result<()> {
    let cannot = |why: String| anyhow!("cannot write {}: {why}; check {flag}", path.display());
    if path.is_dir() {
        return Err(cannot("it is a directory".to_string()));
    }
    if path.exists() && !path.is_file() {
        return Ok(());
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir.filter(|d| !d.is_dir()) {
        return Err(cannot(format!("there is no directory {}", dir.display())));
    }
    let temp = temp_beside(path);
    std::fs::write(&temp, "")
        .and_then(|()| std::fs::remove_file(&temp))
        .map_err(|e| cannot(e.to_string()))
}

/// The temp file a report is written to before it is renamed into place.
fn temp_beside(path: &Path) -> std::path::PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes a file whole or not at all (a temp file beside it, renamed): a CI step that waits for
/// the report never reads half of one. A device or a pipe (`-o /dev/stderr`) is written to.
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    if path.exists() && !path.is_file() {
        return std::fs::write(path, text);
    }
    let temp = temp_beside(path);
    std::fs::write(&temp, text)
        .and_then(|()| std::fs::rename(&temp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
}
