//! Writes and logs more than the fixture can be told to (its FIXTURE_* variables are environment
//! variables, which the kernel caps at 128 KiB each), then becomes the fixture (exec), which does
//! what its own variables say. Built statically by tests/robustness.rs and benches/memory.sh.
//!
//! - STORM_FILES: files of 64 bytes, in 100 directories under /var/cache/storm [default: 0].
//! - FLOOD_BYTES: log lines on stdout, about this many bytes [default: 0].

use std::io::Write;
use std::os::unix::process::CommandExt;

fn var(name: &str) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn main() {
    for i in 0..var("STORM_FILES") {
        let dir = format!("/var/cache/storm/d{:03}", i % 100);
        if i < 100 {
            std::fs::create_dir_all(&dir).expect("create the storm's directories");
        }
        std::fs::write(format!("{dir}/f{i:06}"), [b'x'; 64]).expect("write a storm file");
    }
    let bytes = var("FLOOD_BYTES");
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let (mut written, mut n) = (0usize, 0u64);
    while written < bytes {
        let line = format!(
            "flood {n:09}: an app that logs a lot before it gets to its real work, line after line\n"
        );
        if out.write_all(line.as_bytes()).is_err() {
            break;
        }
        written += line.len();
        n += 1;
    }
    let _ = out.flush();
    drop(out);
    let error = std::process::Command::new("/app/fixture").exec();
    eprintln!("flood: cannot run /app/fixture: {error}");
    std::process::exit(127);
}
