//! `Store`: the backend chosen once from the URL, and the calls that dispatch to it.

use provost_engine::{Assignment, AssignmentKey, Change, User};

use crate::err::StoreError;
use crate::model::{
    AssignmentFilter, AuditEntry, AuditFilter, AuditRange, Committed, Snapshot, StoreOptions,
};
use crate::postgres::PgStore;
use crate::snapshot::{self, SnapshotSender};
use crate::sqlite::SqliteStore;

/// Provost's persistence. Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Calls the same method on whichever backend this is.
macro_rules! dispatch {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match $self {
            Store::Sqlite(store) => store.$method($($arg),*).await,
            Store::Postgres(store) => store.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Opens the database at `url` and runs its migrations: `sqlite:...` (e.g.
    /// `sqlite://provost.db?mode=rwc`, or `sqlite::memory:` for tests) or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, &StoreOptions::default()).await
    }

    /// Opens the database at `url` as `options` say (read-only, how long to wait for a connection).
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(SqliteStore::connect(url, options).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(PgStore::connect(url, options).await?))
        } else {
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            Err(StoreError::InvalidUrl(format!(
                "unsupported scheme `{scheme}`: expected `sqlite:` or `postgres://`"
            )))
        }
    }

    /// Commit notifications where the backend has them (PostgreSQL); None means poll.
    pub async fn listen(&self) -> Result<Option<crate::postgres::Notifier>, StoreError> {
        match self {
            Store::Sqlite(_) => Ok(None),
            Store::Postgres(store) => store.listen().await.map(Some),
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Applies `changes` in one transaction, all or nothing. Each change that alters the state
    /// appends one audit row at the next revision (cascades of `role_remove` and `user_remove`
    /// append one `assignment_remove` row per assignment first); the others are `Unchanged`.
    /// Retried a few times while the database is busy. A read-only store refuses (`read_only`).
    pub async fn commit(&self, actor: &str, changes: &[Change]) -> Result<Committed, StoreError> {
        if self.read_only() {
            return Err(StoreError::ReadOnly);
        }
        dispatch!(self.commit(actor, changes))
    }

    /// Whether this store was opened read-only (`StoreOptions::read_only`) and refuses every write.
    pub fn read_only(&self) -> bool {
        match self {
            Store::Sqlite(store) => store.read_only(),
            Store::Postgres(store) => store.read_only(),
        }
    }

    /// Audit rows with a revision above `revision`, ascending, at most `limit`.
    pub async fn changes_since(
        &self,
        revision: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        dispatch!(self.changes_since(revision, limit))
    }

    /// The whole state as changes, read in one consistent transaction, with its revision.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        snapshot::collect(async |to| self.snapshot_to(to).await).await
    }

    /// The whole state, read in one consistent transaction and sent to `to` in batches while it
    /// is read: apps, permissions, roles, users and scope registrations first, then assignments
    /// in no particular order, `SNAPSHOT_BATCH` at a time. Returns the revision it reflects.
    pub async fn snapshot_to(&self, to: &SnapshotSender) -> Result<u64, StoreError> {
        dispatch!(self.snapshot_to(to))
    }

    /// The highest revision in the audit log, 0 when it is empty.
    pub async fn revision(&self) -> Result<u64, StoreError> {
        dispatch!(self.revision())
    }

    /// Assignments matching `filter`, ordered by (subject, role, scope), strictly after `after`.
    pub async fn assignments(
        &self,
        filter: &AssignmentFilter,
        after: Option<&AssignmentKey>,
        limit: u32,
    ) -> Result<Vec<Assignment>, StoreError> {
        dispatch!(self.assignments(filter, after, limit))
    }

    pub async fn count_assignments(&self, filter: &AssignmentFilter) -> Result<u64, StoreError> {
        dispatch!(self.count_assignments(filter))
    }

    /// Audit rows in `range` whose change names the filter's subject and scope, at most `limit`:
    /// ascending after a revision, descending (newest first) before one.
    pub async fn audit(
        &self,
        filter: &AuditFilter,
        range: AuditRange,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        dispatch!(self.audit(filter, range, limit))
    }

    pub async fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        dispatch!(self.user(username))
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        dispatch!(self.close())
    }
}
