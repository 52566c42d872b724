//! The enterprise app's `provost` subcommands.

use clap::Subcommand;

use super::assignments;
use crate::apps::{CliContext, Outcome};
use crate::err::Result;

#[derive(Debug, Subcommand)]
pub enum EnterpriseCommand {
    /// Learner credit (enterprise-access).
    #[command(subcommand)]
    Enterprise(EnterpriseSub),
}

#[derive(Debug, Subcommand)]
pub enum EnterpriseSub {
    /// Expire every allocated content assignment whose time has come (the earliest of its
    /// subsidy's expiry, its content's enroll-by date and 90 days after allocation). `serve`
    /// does this periodically too.
    Expire,
}

pub async fn run(cx: CliContext<'_>, command: EnterpriseCommand) -> Result<Outcome> {
    match command {
        EnterpriseCommand::Enterprise(EnterpriseSub::Expire) => {
            let expired = assignments::expire(cx.node, cx.actor, crate::access::now()).await?;
            let text = format!("expired {} assignment(s)", expired.len());
            Ok(Outcome::done(
                &serde_json::json!({ "expired": expired }),
                text,
            ))
        }
    }
}
