//! `provost legacy ...`: migrate and roll back the platform's legacy roles, follow runs, and set
//! or read the course authoring flag. The same services as the HTTP routes, as the operator.

use std::fmt::Write as _;

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::flag;
use super::service::{self, Direction, Progress, RunOptions, RunRequest, RunView, DEFAULT_BATCH};
use super::source::Filter;
use crate::apps::{CliContext, Outcome};
use crate::err::Result;

#[derive(Debug, Subcommand)]
pub enum LegacyCommand {
    /// Move course and forum roles between the platform's legacy tables and Provost.
    #[command(subcommand)]
    Legacy(Legacy),
}

#[derive(Debug, Subcommand)]
pub enum Legacy {
    /// Migrate roles from the legacy tables into Provost (the legacy tables are only read, unless --delete).
    Migrate(MigrateArgs),
    /// Write Provost's roles with exact legacy equivalents back into the legacy tables.
    Rollback(RollbackArgs),
    /// List runs, newest first.
    Runs {
        /// How many runs to show.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
    /// Show one run with its rows' outcomes.
    Run {
        /// The run's id, as `legacy runs` lists it.
        id: String,
    },
    /// Read or set the course authoring flag (`authz.enable_course_authoring`).
    #[command(subcommand)]
    Flag(FlagCommand),
}

/// Which rows: exactly one of these.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct FilterArgs {
    /// These courses' rows.
    #[arg(long = "course-id-list", num_args = 1.., value_name = "COURSE_KEY")]
    pub courses: Vec<String>,
    /// One org's rows: its org-wide rows and its courses'.
    #[arg(long)]
    pub org: Option<String>,
    /// Every row.
    #[arg(long)]
    pub all: bool,
}

impl FilterArgs {
    fn filter(self) -> Filter {
        match (self.org, self.all) {
            (Some(org), _) => Filter::Org(org),
            (None, true) => Filter::All,
            (None, false) => Filter::Courses(self.courses),
        }
    }
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The platform's database (`mysql://USER:PASSWORD@HOST:PORT/DB`) or a folder of CSV exports
    /// (`auth_user.csv`, `student_courseaccessrole.csv`, `django_comment_client_role.csv`,
    /// `django_comment_client_role_users.csv`, each with a header row).
    #[arg(long)]
    pub from: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Remove from the legacy database the rows whose role is now in Provost.
    #[arg(long)]
    pub delete: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The platform's database to write back into (`mysql://...`).
    #[arg(long)]
    pub to: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Remove from Provost the assignments written back (or already there).
    #[arg(long)]
    pub remove: bool,
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Forum roles too.
    #[arg(long)]
    pub forum: bool,
    /// The automatic forum `Student` role too.
    #[arg(long, requires = "forum")]
    pub forum_students: bool,
    /// Report what would happen; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rows per transaction.
    #[arg(long, default_value_t = DEFAULT_BATCH, value_parser = clap::value_parser!(u32).range(1..=50000))]
    pub batch_size: u32,
}

#[derive(Debug, Subcommand)]
pub enum FlagCommand {
    /// The effective value at a scope, and which level decided it.
    Get {
        /// The flag's name: `authz.enable_course_authoring`.
        name: String,
        /// `*`, `org:ORG` or a course key.
        #[arg(long, default_value = "*")]
        scope: String,
    },
    /// Set the flag on or off at a scope, or clear the value set there.
    Set {
        /// The flag's name: `authz.enable_course_authoring`.
        name: String,
        /// `*`, `org:ORG` or a course key.
        #[arg(long)]
        scope: String,
        /// `on`, `off`, or `clear` (the level above decides again).
        value: FlagValue,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FlagValue {
    On,
    Off,
    Clear,
}

/// A progress bar on stderr; indicatif draws nothing when stderr is not a terminal.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn total(&self, rows: Option<u64>) {
        if let Some(rows) = rows {
            self.0.set_length(rows);
            self.0.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({per_sec}, {eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
    }
    fn advance(&self, rows: u64) {
        self.0.inc(rows);
    }
}

/// Runs one legacy command.
pub async fn run(cx: CliContext<'_>, command: LegacyCommand) -> Result<Outcome> {
    let CliContext { node, actor } = cx;
    let LegacyCommand::Legacy(command) = command;
    Ok(match command {
        Legacy::Migrate(args) => {
            let request = RunRequest {
                direction: Direction::Forward,
                database: args.from,
                filter: args.filter.filter(),
                options: options(args.common, args.delete, false),
            };
            report(run_with_bar(cx, &request).await?)
        }
        Legacy::Rollback(args) => {
            let request = RunRequest {
                direction: Direction::Rollback,
                database: args.to,
                filter: args.filter.filter(),
                options: options(args.common, false, args.remove),
            };
            report(run_with_bar(cx, &request).await?)
        }
        Legacy::Runs { limit } => {
            let runs = service::list(node, actor, limit).await?;
            let text = runs.iter().map(summary).collect::<Vec<_>>().join("\n");
            Outcome::done(&runs, text)
        }
        Legacy::Run { id } => report(service::view(node, actor, &id).await?),
        Legacy::Flag(FlagCommand::Get { name, scope }) => {
            let answer = flag::get(node, &name, &scope).await?;
            let text = flag_text(&answer);
            Outcome::done(&answer, text)
        }
        Legacy::Flag(FlagCommand::Set { name, scope, value }) => {
            let enabled = match value {
                FlagValue::On => Some(true),
                FlagValue::Off => Some(false),
                FlagValue::Clear => None,
            };
            let (answer, revision) = flag::set(node, actor, &name, &scope, enabled).await?;
            let text = format!("{}; revision {revision}", flag_text(&answer));
            Outcome::done(&json!({ "flag": answer, "revision": revision }), text)
        }
    })
}

fn options(common: CommonArgs, delete: bool, remove: bool) -> RunOptions {
    RunOptions {
        forum: common.forum,
        forum_students: common.forum_students,
        dry_run: common.dry_run,
        delete,
        remove,
        batch_size: common.batch_size,
    }
}

async fn run_with_bar(cx: CliContext<'_>, request: &RunRequest) -> Result<RunView> {
    let bar = Bar(ProgressBar::new_spinner());
    let view = service::run(cx.node, cx.actor, request, &bar).await;
    bar.0.finish_and_clear();
    view
}

fn summary(run: &RunView) -> String {
    let counts = run
        .counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{} {} {} ({}) from {}: {counts}",
        run.id,
        run.direction.as_str(),
        run.status,
        run.started_at.to_rfc3339(),
        run.source
    )
}

/// A run's report: the summary, then each row kept with its outcome.
fn report(run: RunView) -> Outcome {
    let mut text = summary(&run);
    if let Some(error) = &run.error {
        let _ = write!(text, "\nerror: {error}");
    }
    for row in run.rows.iter().flatten() {
        let id = row.id.map(|id| format!("#{id} ")).unwrap_or_default();
        let provost = match (&row.role, &row.scope) {
            (Some(role), Some(scope)) => format!(" -> {role} at {scope}"),
            _ => String::new(),
        };
        let deleted = if row.deleted { " (deleted)" } else { "" };
        let _ = write!(
            text,
            "\n  {:<24} {}{} {} [{}] [{}]{provost}{deleted}",
            row.outcome.as_str(),
            id,
            row.user,
            row.legacy_role,
            row.org,
            row.course_id,
        );
    }
    if run.rows_truncated {
        text.push_str("\n  ... (more rows: the counts above cover them all)");
    }
    Outcome::done(&run, text)
}

fn flag_text(answer: &flag::FlagAnswer) -> String {
    let at = answer
        .decided_at
        .as_deref()
        .map(|s| format!(" at `{s}`"))
        .unwrap_or_default();
    format!(
        "{} is {} at `{}` (decided by the {} value{at})",
        answer.name,
        if answer.enabled { "on" } else { "off" },
        answer.scope,
        serde_json::to_value(answer.decided_by)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    )
}
