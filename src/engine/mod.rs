//! The Docker Engine, as rofs-audit uses it: one connection with a negotiated API version, labels
//! on everything we create, and a guard that removes a run's containers and volumes however the
//! run ends: success, error, Ctrl-C, SIGTERM and panic by itself; SIGKILL, or an engine that went
//! away in the middle, by the run's watchdog ([`reaper`]).

mod client;
mod container;
pub mod endpoint;
mod flavor;
mod guard;
pub mod reaper;
mod relay;

pub use client::{
    one_line, CleanReport, Engine, EngineLost, RunId, LABEL_HOST, LABEL_MANAGED, LABEL_PID,
    LABEL_RUN,
};
pub use container::{
    outrun, Container, ContainerSpec, LogStats, Readiness, StartRefused, VolumeMount,
    LOG_HEAD_LINES, LOG_TAIL_LINES,
};
pub use flavor::Flavor;
pub use guard::{guarded, with_run, Interrupted};
