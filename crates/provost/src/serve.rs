//! `provost serve` and `provost token` (the HTTP side of the binary).

use clap::Args;

use crate::output::Failure;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PROVOST_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The username the token is for.
    #[arg(long)]
    pub user: String,
}

pub async fn serve(_database_url: &str, _args: ServeArgs) -> Result<(), Failure> {
    Err(Failure::usage("`serve` is not built yet"))
}

pub fn token(_args: TokenArgs) -> Result<(), Failure> {
    Err(Failure::usage("`token` is not built yet"))
}
