use clap::Parser;

use rofs_audit::engine;

fn main() {
    // Re-executed as a run's watchdog, this process does only that (see engine::reaper).
    if let Some(code) = engine::reaper::serve_if_asked() {
        std::process::exit(code);
    }
    let cli = rofs_audit::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("rofs-audit: error: cannot start: {e}");
            std::process::exit(2);
        }
    };
    let code = match runtime.block_on(rofs_audit::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rofs-audit: error: {}", engine::one_line(&format!("{e:#}")));
            match e.downcast_ref::<engine::Interrupted>() {
                // 130 for SIGINT, 143 for SIGTERM.
                Some(interrupted) => interrupted.exit_code(),
                None => 2,
            }
        }
    };
    std::process::exit(code);
}
