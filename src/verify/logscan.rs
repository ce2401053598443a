//! Finds the log lines in which a runtime reports a write refused by a read-only filesystem.
