//! Verify: rerun the image with a read-only root, with and without the planned mounts, on the
//! platform's terms, and find which writes are fatal and which the app tolerates.

mod logscan;
