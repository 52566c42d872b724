//! The legacy app's runs: what a migration or rollback is asked to do, the outcome of each row,
//! and the run from start to report. HTTP and CLI both call these; nothing here knows about either.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use provost_engine::Scope;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::mapping::Table;
use super::runs::{self, RunRecord};
use super::source::{self, Filter};
use super::target::MysqlTarget;
use super::{migrate, rollback};
use crate::access::{require_admin, truncate, Actor};
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// The app's name in the audit log.
pub const APP: &str = "legacy";

/// Rows read, written and audited together: one transaction per batch. Each batch also costs
/// the node one copy-on-write of its index, so batches are large.
pub const DEFAULT_BATCH: u32 = 10_000;
const MAX_BATCH: u32 = 50_000;
/// At most this many course keys in one run's list.
const MAX_COURSES: usize = 1000;
/// A report keeps the outcome of this many rows (the counts cover them all), so that a run's
/// memory stays flat however many rows it reads.
pub const REPORT_ROWS: usize = 5000;

/// Which way a run moves roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Legacy tables → Provost.
    Forward,
    /// Provost → legacy tables.
    Rollback,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::Rollback => "rollback",
        }
    }
}

/// What a run is asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunRequest {
    pub direction: Direction,
    /// The legacy database (`mysql://`) or, forward from the command line, a folder of CSV exports.
    pub database: String,
    pub filter: Filter,
    #[serde(flatten)]
    pub options: RunOptions,
}

/// A run's switches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunOptions {
    /// Forum roles too.
    #[serde(default)]
    pub forum: bool,
    /// The automatic forum `Student` role too (with `forum`).
    #[serde(default)]
    pub forum_students: bool,
    /// Report what would happen; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Forward: remove from the legacy tables the rows whose role is now in Provost.
    #[serde(default)]
    pub delete: bool,
    /// Rollback: remove from Provost the assignments written back (or already there).
    #[serde(default)]
    pub remove: bool,
    /// Rows per transaction.
    #[serde(default = "default_batch")]
    pub batch_size: u32,
}

fn default_batch() -> u32 {
    DEFAULT_BATCH
}

/// What became of one row (forward: a legacy row; rollback: a Provost assignment).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    /// Forward: the assignment was made.
    Migrated,
    /// The other side already has it.
    AlreadyPresent,
    /// Rollback: the legacy row was written.
    WrittenBack,
    /// Forward: a role the platform does not have.
    UnknownRole,
    /// Forward: a platform role with no Provost equivalent (`finance_admin`, `support`, ...).
    NoEquivalent,
    /// Forward: a global row (no org, no course).
    NoScope,
    /// A course key Provost does not take (CCX, `Org/Course/Run`), or an org name it cannot use.
    UnsupportedKey,
    /// The row's user is not in `auth_user` (forward), or has no `auth_user` row (rollback).
    UnknownUser,
    /// Forward: the user is inactive.
    InactiveUser,
    /// Forward: a username Provost cannot take.
    InvalidUser,
    /// Rollback: an assignment with no exact legacy equivalent (role, scope or time window).
    NoLegacyEquivalent,
    /// The flag is set the other way for this course (or org) itself.
    SkippedForFlagOverride,
    /// The automatic forum `Student` role, skipped without `forum_students`.
    StudentSkipped,
}

impl RowOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RowOutcome::Migrated => "migrated",
            RowOutcome::AlreadyPresent => "already_present",
            RowOutcome::WrittenBack => "written_back",
            RowOutcome::UnknownRole => "unknown_role",
            RowOutcome::NoEquivalent => "no_equivalent",
            RowOutcome::NoScope => "no_scope",
            RowOutcome::UnsupportedKey => "unsupported_key",
            RowOutcome::UnknownUser => "unknown_user",
            RowOutcome::InactiveUser => "inactive_user",
            RowOutcome::InvalidUser => "invalid_user",
            RowOutcome::NoLegacyEquivalent => "no_legacy_equivalent",
            RowOutcome::SkippedForFlagOverride => "skipped_for_flag_override",
            RowOutcome::StudentSkipped => "student_skipped",
        }
    }

    /// Whether the row is where the run meant it to be (anything else makes a partial success).
    pub fn is_success(self) -> bool {
        matches!(
            self,
            RowOutcome::Migrated
                | RowOutcome::AlreadyPresent
                | RowOutcome::WrittenBack
                | RowOutcome::StudentSkipped
        )
    }
}

/// One row of a run's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RowReport {
    pub table: Table,
    /// The legacy row's id (forward).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The username, or `#ID` for a user id `auth_user` does not have.
    pub user: String,
    /// The legacy side: org, course (empty for org-wide rows) and role.
    pub org: String,
    pub course_id: String,
    pub legacy_role: String,
    /// The Provost side, where the row has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub outcome: RowOutcome,
    /// Forward with `delete`: the legacy row was removed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// A run as clients see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    pub direction: Direction,
    /// `running`, `completed`, `partial_success` or `failed`.
    pub status: String,
    pub filter: Filter,
    /// The legacy database or folder, without credentials.
    pub source: String,
    pub options: RunOptions,
    /// Rows per outcome (and `deleted`, `removed`, `rows`).
    pub counts: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub actor: String,
    pub started_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The first rows' outcomes (at most `REPORT_ROWS`), once the run has ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<RowReport>>,
    /// Whether `rows` leaves rows out (the counts still cover them all).
    pub rows_truncated: bool,
}

/// Told how far a run is, for a progress bar.
pub trait Progress: Send + Sync {
    /// How many rows there are, when the source can tell.
    fn total(&self, rows: Option<u64>);
    fn advance(&self, rows: u64);
}

/// No progress shown.
pub struct Quiet;

impl Progress for Quiet {
    fn total(&self, _rows: Option<u64>) {}
    fn advance(&self, _rows: u64) {}
}

/// A run's tally and the rows its report keeps.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub counts: BTreeMap<String, u64>,
    pub rows: Vec<RowReport>,
    pub truncated: bool,
}

impl Tally {
    pub fn add(&mut self, row: RowReport) {
        self.bump(row.outcome.as_str(), 1);
        self.bump("rows", 1);
        if row.deleted {
            self.bump("deleted", 1);
        }
        if self.rows.len() < REPORT_ROWS {
            self.rows.push(row);
        } else {
            self.truncated = true;
        }
    }

    pub fn bump(&mut self, key: &str, n: u64) {
        *self.counts.entry(key.to_owned()).or_default() += n;
    }

    /// `completed` when every row is where it should be, else `partial_success`.
    pub(super) fn status(&self) -> &'static str {
        let problems = self.counts.iter().any(|(k, n)| {
            *n > 0
                && !matches!(
                    k.as_str(),
                    "migrated"
                        | "already_present"
                        | "written_back"
                        | "student_skipped"
                        | "rows"
                        | "deleted"
                        | "removed"
                )
        });
        if problems {
            "partial_success"
        } else {
            "completed"
        }
    }
}

/// Checks a request (admins only) and records its run as `running`: 409 while another run covers
/// an overlapping scope. Returns the run's id; `execute` then does the work.
pub async fn begin(node: &Node, actor: &Actor, request: &RunRequest) -> Result<String> {
    require_admin(&node.index(), actor, "migrate or roll back legacy roles")?;
    check(request)?;
    runs::begin(node, actor, request).await
}

/// Does run `id`'s work and ends it (`failed` when an error stopped it, which is then returned).
pub async fn execute(
    node: &Node,
    actor: &Actor,
    id: &str,
    request: &RunRequest,
    progress: &dyn Progress,
) -> Result<RunView> {
    let mut tally = Tally::default();
    let result = work(node, actor, id, request, progress, &mut tally).await;
    let error = result.as_ref().err().map(|e| e.message.clone());
    runs::finish(node, actor, id, &tally, error.as_deref()).await?;
    result?;
    view(node, actor, id).await
}

/// `begin` then `execute`: a whole run, as the command line does it.
pub async fn run(
    node: &Node,
    actor: &Actor,
    request: &RunRequest,
    progress: &dyn Progress,
) -> Result<RunView> {
    let id = begin(node, actor, request).await?;
    execute(node, actor, &id, request, progress).await
}

async fn work(
    node: &Node,
    actor: &Actor,
    id: &str,
    request: &RunRequest,
    progress: &dyn Progress,
    tally: &mut Tally,
) -> Result<()> {
    match request.direction {
        Direction::Forward => {
            let mut source = source::open(&request.database, request.filter.clone()).await?;
            migrate::forward(node, actor, id, request, source.as_mut(), progress, tally).await
        }
        Direction::Rollback => {
            let target = MysqlTarget::open(&request.database).await?;
            rollback::backward(node, actor, id, request, &target, progress, tally).await
        }
    }
}

/// Refuses a request that cannot run: no or a bad filter, options of the other direction, a
/// folder where a database is needed.
fn check(request: &RunRequest) -> Result<()> {
    let bad = |message: String| Err(Error::new(ErrorCode::InvalidRunOptions, message));
    let options = &request.options;
    match &request.filter {
        Filter::All => {}
        Filter::Org(org) => {
            if !matches!(Scope::parse(&format!("org:{org}")), Ok(Scope::Org(_))) {
                return Err(Error::new(
                    ErrorCode::InvalidRunFilter,
                    format!("`{}` is not an org name", truncate(org)),
                ));
            }
        }
        Filter::Courses(keys) => {
            if keys.is_empty() || keys.len() > MAX_COURSES {
                return Err(Error::new(
                    ErrorCode::InvalidRunFilter,
                    format!("a course list has 1 to {MAX_COURSES} course keys"),
                ));
            }
            for key in keys {
                if !matches!(Scope::parse(key), Ok(Scope::Course { .. })) {
                    return Err(Error::new(
                        ErrorCode::InvalidRunFilter,
                        format!(
                            "`{}` is not a course key (`course-v1:ORG+COURSE+RUN`)",
                            truncate(key)
                        ),
                    ));
                }
            }
        }
    }
    if options.batch_size == 0 || options.batch_size > MAX_BATCH {
        return bad(format!("the batch size is 1 to {MAX_BATCH}"));
    }
    if options.forum_students && !options.forum {
        return bad("`forum_students` needs `forum`".into());
    }
    let database = source::is_database_url(&request.database);
    match request.direction {
        Direction::Forward if options.remove => bad("`remove` belongs to a rollback".into()),
        Direction::Forward if !database && !std::path::Path::new(&request.database).is_dir() => {
            Err(Error::new(
                ErrorCode::InvalidLegacySource,
                format!(
                    "`{}` is neither a `mysql://` URL nor a folder of CSV exports",
                    truncate(&request.database)
                ),
            ))
        }
        Direction::Forward if options.delete && !database => Err(Error::new(
            ErrorCode::DeleteNeedsDatabase,
            "`delete` removes rows from the legacy database; CSV exports cannot be changed",
        )),
        Direction::Rollback if options.delete => bad("`delete` belongs to a migration".into()),
        Direction::Rollback if !database => Err(Error::new(
            ErrorCode::InvalidLegacySource,
            format!(
                "a rollback writes to a `mysql://` database, not `{}`",
                truncate(&request.database)
            ),
        )),
        _ => Ok(()),
    }
}

/// Run `id` (admins only).
pub async fn view(node: &Node, actor: &Actor, id: &str) -> Result<RunView> {
    require_admin(&node.index(), actor, "see legacy runs")?;
    let record = runs::get(node, id).await?;
    record.into_view()
}

/// The newest `limit` runs, newest first (admins only).
pub async fn list(node: &Node, actor: &Actor, limit: u32) -> Result<Vec<RunView>> {
    require_admin(&node.index(), actor, "see legacy runs")?;
    runs::list(node, limit)
        .await?
        .into_iter()
        .map(|r: RunRecord| r.into_summary())
        .collect()
}

/// Seconds since the epoch as a time.
pub(super) fn time(at: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(at, 0).single().unwrap_or_default()
}
