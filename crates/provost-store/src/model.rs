//! The shapes the store hands out: audit entries, commit outcomes, snapshots and filters.

use std::time::Duration;

use chrono::{DateTime, Utc};
use provost_engine::Change;
use serde::{Deserialize, Serialize};

/// One row of the audit log: a change that altered the state, at its revision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    pub revision: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub change: Change,
    /// What the change replaced or removed, as JSON; `None` when it created something new.
    pub before: Option<serde_json::Value>,
}

/// One row an app appended to the audit log (`Tx::audit`): an operation on the app's own data,
/// in the same revision sequence as the engine's changes, which the engine feed skips.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppEntry {
    pub revision: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The app that wrote it, e.g. `batches`.
    pub app: String,
    /// What the app did, e.g. `batch_rename`.
    pub operation: String,
    /// Whom and where it concerns, for filters (as the engine's entries have them).
    pub subject: Option<String>,
    pub scope: Option<String>,
    /// What the operation wrote and what it replaced or removed, as JSON.
    pub after: Option<serde_json::Value>,
    pub before: Option<serde_json::Value>,
}

/// One row of the audit log as people read it: an engine change or an app's operation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LogEntry {
    Engine(AuditEntry),
    App(AppEntry),
}

impl LogEntry {
    pub fn revision(&self) -> u64 {
        match self {
            LogEntry::Engine(e) => e.revision,
            LogEntry::App(e) => e.revision,
        }
    }
}

/// What an app asks `Tx::audit` to record; the transaction adds revision, time and actor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppAudit {
    pub app: String,
    pub operation: String,
    pub subject: Option<String>,
    pub scope: Option<String>,
    pub after: Option<serde_json::Value>,
    pub before: Option<serde_json::Value>,
}

/// A page of the change feed (`Store::feed`): the engine's entries among the rows read, and the
/// revision of the last row read, app rows included, so that a follower moves past app rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Feed {
    pub entries: Vec<AuditEntry>,
    /// The last revision read; the `since` asked for when there was nothing new.
    pub revision: u64,
    /// Whether the page was full, so that more rows may follow.
    pub more: bool,
}

/// The result of `Store::write`: the closure's value and what the transaction appended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Written<T> {
    pub value: T,
    /// The store's revision after the write (the previous one when nothing was appended).
    pub revision: u64,
    /// The engine's audit rows (from `Tx::apply`), in order.
    pub entries: Vec<AuditEntry>,
    /// The apps' audit rows (from `Tx::audit`), in order.
    pub app_entries: Vec<AppEntry>,
}

/// What became of one input change of a commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The change altered the state; `revision` is its audit row (the last one, for cascades).
    Applied { revision: u64 },
    /// The state already was what the change asked for; nothing was written.
    Unchanged,
}

/// The result of `Store::commit`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Committed {
    /// The store's revision after the commit (the previous one when nothing was applied).
    pub revision: u64,
    /// One per input change, in input order.
    pub outcomes: Vec<Outcome>,
    /// Every audit row this commit appended, in order.
    pub entries: Vec<AuditEntry>,
}

/// The whole state as changes, in an order `Index::apply` accepts:
/// apps, permissions, roles, users, scope registrations, assignments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    pub revision: u64,
    pub changes: Vec<Change>,
}

/// Which assignments to list; `None` fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssignmentFilter {
    pub subject: Option<String>,
    pub role: Option<String>,
    pub scope: Option<String>,
}

/// Which audit rows to list, by the subject and scope of their change; `None` matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub subject: Option<String>,
    pub scope: Option<String>,
}

/// Which audit rows to read, and in which order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditRange {
    /// Rows above this revision, oldest first: the change feed.
    After(u64),
    /// Rows below this revision (all of them when `None`), newest first: for people.
    Before(Option<u64>),
}

impl AuditRange {
    /// Where the page after one that ended at `revision` starts, in the same direction.
    pub fn next(self, revision: u64) -> AuditRange {
        match self {
            AuditRange::After(_) => AuditRange::After(revision),
            AuditRange::Before(_) => AuditRange::Before(Some(revision)),
        }
    }
}

/// The default of `StoreOptions::acquire_timeout`.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How to open a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Longest a query waits for a pooled connection: while the database is down, how long a
    /// write takes to answer `database_unavailable`.
    pub acquire_timeout: Duration,
    /// Open without ever writing: no migrations (the schema must already be there) and every
    /// commit refused with `read_only`. For a read-only SQLite file or a PostgreSQL hot standby.
    pub read_only: bool,
    /// SQLite only: the most pages the database file may hold, a quota past which writes fail
    /// with `storage_full` as on a full disk (reads go on); PostgreSQL ignores it.
    pub sqlite_max_pages: Option<u64>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            read_only: false,
            sqlite_max_pages: None,
        }
    }
}
