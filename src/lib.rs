//! rofs-audit: does a container image survive a read-only root filesystem, and what must change
//! when it doesn't. The pipeline, in the order data flows: engine → trace → probe → profile →
//! analyze → verify → report, run by [`command`] between reading its inputs and writing its
//! report.

pub mod analyze;
pub mod choice;
pub mod command;
pub mod config;
pub mod engine;
pub mod input;
pub mod model;
pub mod pipeline;
pub mod probe;
pub mod profile;
pub mod progress;
pub mod report;
pub mod spec;
pub mod trace;
pub mod verify;
