//! The command line without an engine: what a shell pipeline does to it.

use std::process::{Command, Stdio};

/// `rofs-audit remedies | head -0`: the reader is gone before a byte is written. As with
/// ripgrep, that ends the command quietly, with exit 0, not a panic on a broken pipe.
#[test]
fn a_closed_pipe_on_stdout_is_a_quiet_exit() {
    for args in [
        &["remedies"][..],
        &["profiles"],
        &["profiles", "show", "docker"],
    ] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_rofs-audit"))
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run rofs-audit");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} printed on stderr: {stderr}");
    }
}
