//! The `provost` binary: parses the command line and calls the shared services.

mod cli;
mod commands;
mod output;
mod serve;

use std::process::ExitCode;

/// mimalloc: index builds free, from the building thread, millions of strings the reading thread
/// allocated, and requests allocate per call; glibc's arenas made both measurably slower (cold
/// start of 1 M assignments ~25 % faster with mimalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let (cli, matches) = cli::Cli::parse_with_apps();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PROVOST_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        cli::LogFormat::Text => logs.init(),
        cli::LogFormat::Json => logs.json().init(),
    }
    let json = cli.json;
    match commands::run(cli, &matches).await {
        Ok(code) => code,
        Err(failure) => failure.report(json),
    }
}
