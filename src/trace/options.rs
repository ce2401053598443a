//! How to run the image: what trace, audit and verify share, and what the run lifecycle reads.

use std::time::Duration;

use crate::probe::Probe;

/// The status an HTTP probe must answer unless told otherwise, as platforms' health checks
/// expect.
pub const EXPECTED_STATUS: u16 = 200;

/// How to run the image: shared by trace, audit and verify. The budgets are the settings'
/// (`Settings::budgets`), which the commands lay over these.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub image: String,
    pub port: Option<u16>,
    pub probes: Vec<Probe>,
    pub expect_status: u16,
    /// `K=V`, as `docker run --env` takes them.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub startup_timeout: Duration,
    pub probe_timeout: Duration,
    pub idle: Duration,
    pub stop_timeout: Duration,
    /// It runs to completion (a Kubernetes init container): ready means it exited 0 within the
    /// startup budget, and it has no probes and no shutdown.
    pub completes: bool,
}

impl Default for RunOptions {
    /// The image's own entrypoint, command, user and probes, answered with
    /// [`EXPECTED_STATUS`]. The budgets are zero until `Settings::budgets` gives them: the
    /// commands do, a caller of the pipeline itself must.
    fn default() -> RunOptions {
        RunOptions {
            image: String::new(),
            port: None,
            probes: vec![],
            expect_status: EXPECTED_STATUS,
            env: vec![],
            user: None,
            entrypoint: None,
            cmd: None,
            startup_timeout: Duration::ZERO,
            probe_timeout: Duration::ZERO,
            idle: Duration::ZERO,
            stop_timeout: Duration::ZERO,
            completes: false,
        }
    }
}

impl RunOptions {
    /// Whether anything beyond the budgets says how to run the image: a config's targets and a
    /// spec's containers say it themselves.
    pub fn says_how_to_run(&self) -> bool {
        let words = !self.env.is_empty() || self.entrypoint.is_some() || self.cmd.is_some();
        let probes =
            self.port.is_some() || !self.probes.is_empty() || self.expect_status != EXPECTED_STATUS;
        words || probes || self.user.is_some()
    }
}
