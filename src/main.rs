mod cli;

use rofs_audit::engine;

fn main() {
    // Re-executed as a run's watchdog, this process does only that (see engine::reaper).
    if let Some(code) = engine::reaper::serve_if_asked() {
        std::process::exit(code);
    }
    let cli = cli::Cli::parse_or_exit();
    let code = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(cli::dispatch::run(cli)),
        Err(e) => Err(anyhow::anyhow!("cannot start: {e}")),
    };
    std::process::exit(code.unwrap_or_else(|e| {
        eprintln!("rofs-audit: error: {}", engine::one_line(&format!("{e:#}")));
        // 130 for SIGINT, 143 for SIGTERM.
        e.downcast_ref::<engine::Interrupted>()
            .map_or(2, engine::Interrupted::exit_code)
    }));
}
