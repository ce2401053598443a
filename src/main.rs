use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = rofs_audit::cli::Cli::parse();
    let code = match rofs_audit::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "rofs-audit: error: {}",
                rofs_audit::engine::one_line(&format!("{e:#}"))
            );
            if e.is::<rofs_audit::engine::Interrupted>() {
                130
            } else {
                2
            }
        }
    };
    std::process::exit(code);
}
