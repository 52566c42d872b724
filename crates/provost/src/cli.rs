//! The command line: the global flags and the binary's own commands; each app adds its own.

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

/// Provost: one authorization service for a learning platform.
///
/// Roles are sets of permissions; assignments give a role to a user at a scope
/// (`*`, `org:MITx`, `course-v1:MITx+6.00x+2024T1`, `lib:MITx:python`, `program:KEY`, `batch:ID`,
/// `enterprise:UUID`, or the globs `course-v1:MITx+*`, `course-v1:*`, `lib:MITx:*`, `lib:*`).
/// An assignment applies at its scope and everything below it.
#[derive(Debug, Parser)]
#[command(
    name = "provost",
    version,
    propagate_version = true,
    after_help = TOUR,
    // What a required subcommand would set; `command` is optional only because the apps' commands
    // are not in `Command` (`provost_server::apps::commands` adds them).
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Database to use: `sqlite://FILE?mode=rwc` (embedded, the default) or `postgres://...`.
    #[arg(
        long,
        global = true,
        env = "PROVOST_DATABASE_URL",
        default_value = "sqlite://provost.db?mode=rwc"
    )]
    pub database_url: String,

    /// Longest to wait for a database connection before answering `database_unavailable`
    /// (e.g. `3s`, `500ms`): how long a write hangs while the database is down.
    #[arg(long, global = true, env = "PROVOST_DB_ACQUIRE_TIMEOUT", default_value = "3s", value_parser = crate::serve::parse_duration)]
    pub db_acquire_timeout: std::time::Duration,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Log lines on stderr as `text` or as `json` (one object per line, for log collectors).
    /// Which lines: `PROVOST_LOG`, e.g. `warn` or `provost_server=debug,info`.
    #[arg(long, global = true, env = "PROVOST_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    // `serve` or `token`; `None` is an app's command, found in the matches.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses the command line, with every app's subcommands, or exits with clap's message.
    pub fn parse_with_apps() -> (Cli, ArgMatches) {
        let matches = Cli::with_apps().get_matches();
        match Cli::from_arg_matches(&matches) {
            Ok(cli) => (cli, matches),
            Err(e) => e.exit(),
        }
    }

    /// The whole command line: the global flags, `serve`, every app's commands, `token`.
    fn with_apps() -> clap::Command {
        let mut cli = provost_server::apps::commands(Cli::command());
        // Listed as they always were: `serve`, the apps' commands in the order of the app list,
        // then `token`.
        let mut names: Vec<String> = cli
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .filter(|name| name != "token")
            .collect();
        names.push("token".into());
        for (order, name) in names.iter().enumerate() {
            cli = cli.mut_subcommand(name, |c| c.display_order(order));
        }
        env_names_only(cli)
    }
}

/// Every argument read from the environment shows `[env: NAME]` in `--help`, never the value set
/// there: one way for every command (clap would print `[env: NAME=value]` only when it is set),
/// and no secret (a database URL with its password) on the screen.
fn env_names_only(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| {
            let has_env = arg.get_env().is_some();
            arg.hide_env_values(has_env)
        })
        .mut_subcommands(env_names_only)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

const TOUR: &str = "Examples:
  provost assign alice course_staff org:MITx
  provost check alice courses.edit_course_content course-v1:MITx+6.00x+2024T1   # exit 0 allowed, 1 denied
  provost explain alice courses.edit_course_content course-v1:MITx+6.00x+2024T1
  provost who courses.manage_course_team course-v1:MITx+6.00x+2024T1
  provost scopes alice courses.view_course";

/// The binary's own commands; the apps' come between them in `--help` (`parse_with_apps`).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API.
    Serve(crate::serve::ServeArgs),
    /// Mint a JWT signed with the configured key, for local use.
    Token(crate::serve::TokenArgs),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own checks over the assembled command line: among others, that no two apps (nor an
    /// app and the binary) claim the same command name.
    #[test]
    fn the_command_line_with_every_app_is_consistent() {
        Cli::with_apps().debug_assert();
    }
}
