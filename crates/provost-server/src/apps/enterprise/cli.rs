//! The enterprise app's `provost` subcommands.

use clap::Subcommand;

use super::{assignments, redeem};
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
    /// subsidy's expiry, its content's enroll-by date and 90 days after allocation), and settle
    /// every redemption left pending for more than five minutes (its writer died before it
    /// recorded the LMS's answer: the LMS is asked again). `serve` does this periodically too.
    Expire,
}

pub async fn run(cx: CliContext<'_>, command: EnterpriseCommand) -> Result<Outcome> {
    match command {
        EnterpriseCommand::Enterprise(EnterpriseSub::Expire) => {
            let now = crate::access::now();
            let expired = assignments::expire(cx.node, cx.actor, now).await?;
            let settled = redeem::settle_stale(cx.node, cx.actor, now).await?;
            let text = format!(
                "expired {} assignment(s), settled {} pending redemption(s)",
                expired.len(),
                settled.len()
            );
            Ok(Outcome::done(
                &serde_json::json!({ "expired": expired, "settled": settled }),
                text,
            ))
        }
    }
}
