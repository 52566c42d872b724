//! The command line: every command, flag and help text.

use clap::{Args, Parser, Subcommand};

/// Provost: one authorization service for a learning platform.
///
/// Roles are sets of permissions; assignments give a role to a user at a scope
/// (`*`, `org:MITx`, `course-v1:MITx+6.00x+2024T1`, `lib:MITx:python`, `program:KEY`, `batch:ID`,
/// `enterprise:UUID`, or the globs `course-v1:MITx+*`, `course-v1:*`, `lib:MITx:*`, `lib:*`).
/// An assignment applies at its scope and everything below it.
#[derive(Debug, Parser)]
#[command(name = "provost", version, propagate_version = true, after_help = TOUR)]
pub struct Cli {
    /// Database to use: `sqlite://FILE?mode=rwc` (embedded, the default) or `postgres://...`.
    #[arg(
        long,
        global = true,
        env = "PROVOST_DATABASE_URL",
        default_value = "sqlite://provost.db?mode=rwc",
        hide_env_values = true
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

    #[command(subcommand)]
    pub command: Command,
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API.
    Serve(crate::serve::ServeArgs),
    /// Load roles and permissions from a policy file.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// List roles.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Create, update or retire users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Give SUBJECT the role ROLE at SCOPE (and everything below it).
    Assign(AssignArgs),
    /// Take ROLE at SCOPE away from SUBJECT.
    Unassign(Target),
    /// Decide whether SUBJECT may do ACTION at SCOPE. Exit status: 0 allowed, 1 denied, 2 error.
    Check(Question),
    /// Decide, and show which assignments decided it (or why it was denied).
    Explain(Question),
    /// List the subjects allowed to do ACTION at SCOPE.
    Who {
        /// A permission, like `courses.edit_course_content`.
        action: String,
        /// A scope key or glob.
        scope: String,
    },
    /// List where SUBJECT may do ACTION: scopes and globs.
    Scopes {
        subject: String,
        action: String,
        /// Only scopes of this kind (course, library, program, batch, enterprise, org, instance).
        #[arg(long)]
        kind: Option<String>,
    },
    /// Register a program under its org(s), or a batch under its course.
    Register {
        /// `program:KEY` or `batch:ID`.
        scope: String,
        /// A parent: `org:ORG` for programs (repeat for joint programs), the course key for batches.
        #[arg(long = "parent", required = true)]
        parents: Vec<String>,
    },
    /// Show the change log (every write, with its actor and revision), newest first.
    Audit {
        /// Read forward from this revision instead, oldest first (a change feed; `--since 0` from the start).
        #[arg(long, conflicts_with = "before")]
        since: Option<u64>,
        /// Only changes before this revision, newest first (the next page: the last revision shown).
        #[arg(long)]
        before: Option<u64>,
        /// Only changes about this subject.
        #[arg(long)]
        subject: Option<String>,
        /// Only changes at this scope.
        #[arg(long)]
        scope: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10000))]
        limit: u32,
    },
    /// Mint a JWT signed with the configured key, for local use.
    Token(crate::serve::TokenArgs),
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Load FILE (default: the built-in policy). Loading the same file twice changes nothing.
    Load {
        file: Option<std::path::PathBuf>,
        /// Also remove built-in roles and permissions that FILE no longer has.
        #[arg(long)]
        prune: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// Every role with its permissions (after implication) and how often it is assigned.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create or update USERNAME.
    Upsert {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Platform staff: pass on every course and library.
        #[arg(long)]
        staff: bool,
        /// Superuser: pass everywhere.
        #[arg(long)]
        superuser: bool,
    },
    /// Retire USERNAME: remove the user and every assignment they hold (audited).
    Retire { username: String },
}

#[derive(Debug, Args)]
pub struct Target {
    /// The username.
    pub subject: String,
    /// A role, like `course_staff` (see `provost roles list`).
    pub role: String,
    /// A scope key or glob, like `org:MITx` or `course-v1:MITx+*`.
    pub scope: String,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    #[command(flatten)]
    pub target: Target,
    /// Valid from this time (RFC 3339, e.g. 2026-01-01T00:00:00Z).
    #[arg(long)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Valid until this time, exclusive (RFC 3339).
    #[arg(long)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Args)]
pub struct Question {
    pub subject: String,
    /// A permission, like `courses.edit_course_content`.
    pub action: String,
    /// A scope key or glob.
    pub scope: String,
}
