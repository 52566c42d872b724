//! Runs a command: the binary's own (`serve`, `token`), or an app's on the opened node as the
//! operator, printing its answer.

use std::process::ExitCode;

use clap::ArgMatches;
use provost_server::access::Actor;
use provost_server::apps::{self, CliContext, Outcome};
use provost_server::Node;
use provost_store::StoreOptions;

use crate::cli::{Cli, Command};
use crate::output::{print, Failure};

pub async fn run(cli: Cli, matches: &ArgMatches) -> Result<ExitCode, Failure> {
    let json = cli.json;
    let url = cli.database_url;
    let store = StoreOptions {
        acquire_timeout: cli.db_acquire_timeout,
        ..StoreOptions::default()
    };
    match cli.command {
        Some(Command::Serve(args)) => crate::serve::serve(&url, store, args, json)
            .await
            .map(|()| ExitCode::SUCCESS),
        Some(Command::Token(args)) => {
            crate::serve::token(args, &url, json).map(|()| ExitCode::SUCCESS)
        }
        None => {
            let node = Node::open_with(&url, &store).await?;
            let actor = Actor::operator();
            let cx = CliContext {
                node: &node,
                actor: &actor,
            };
            let result = apps::run(cx, matches).await;
            node.store().close().await;
            match result {
                Some(outcome) => finish(json, outcome?),
                None => Err(Failure::usage("no such command")),
            }
        }
    }
}

/// Prints an app command's answer and gives its exit status.
fn finish(json: bool, outcome: Outcome) -> Result<ExitCode, Failure> {
    let status = ExitCode::from(outcome.status);
    let text = if json { outcome.json } else { outcome.text };
    let printed = if text.is_empty() {
        Ok(())
    } else {
        print(&text)
    };
    match printed {
        Ok(()) => Ok(status),
        Err(failure) if failure.is_closed_stdout() && outcome.status_is_answer => Ok(status),
        Err(failure) => Err(failure),
    }
}
