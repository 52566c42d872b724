//! `Store`: the backend chosen once from the URL, and the calls that dispatch to it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use futures_util::future::BoxFuture;
use provost_engine::{Assignment, AssignmentKey, Change, User};

use crate::audit::{self, Which};
use crate::commit;
use crate::err::StoreError;
use crate::model::{
    AppEntry, AssignmentFilter, AuditEntry, AuditFilter, AuditRange, Committed, Feed, LogEntry,
    Snapshot, StoreOptions, Written,
};
use crate::postgres::{Notifier, PgStore};
use crate::rows::AuditRow;
use crate::snapshot::{self, SnapshotSender};
use crate::sqlite::SqliteStore;
use crate::tx::{self, AppTx, Reader, Tx};

/// Provost's persistence. Cheap to clone: clones share one connection pool. Which database it
/// is stays inside: callers see the same calls and types on both.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    outbox: Arc<OutboxFlush>,
}

/// The one task per store that moves app-only writes' audit rows into the log
/// (`Store::app_write`).
#[derive(Debug)]
struct OutboxFlush {
    /// Rows were committed to the outbox since the task last looked.
    dirty: AtomicBool,
    /// The task is running.
    running: AtomicBool,
    /// Counts the task's passes (and its stops), for readers that wait for one
    /// (`Store::outbox_settled`).
    passes: watch::Sender<u64>,
}

impl Default for OutboxFlush {
    fn default() -> Self {
        OutboxFlush {
            dirty: AtomicBool::new(false),
            running: AtomicBool::new(false),
            passes: watch::channel(0).0,
        }
    }
}

/// How long the outbox task waits before each pass: the app-only writes that commit meanwhile
/// are moved by that one pass, under one take of the write lock, instead of each taking it.
const OUTBOX_BATCH_DELAY: Duration = Duration::from_millis(10);

/// How long a read of the log waits at most for this store's outbox to be moved
/// (`Store::outbox_settled`); a write holding the lock longer delays the rows, not the read.
const OUTBOX_SETTLE_LIMIT: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Calls the same method on whichever backend this is.
macro_rules! dispatch {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match &$self.backend {
            Backend::Sqlite(store) => store.$method($($arg),*).await,
            Backend::Postgres(store) => store.$method($($arg),*).await,
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
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite(SqliteStore::connect(url, options).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(PgStore::connect(url, options).await?)
        } else {
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            return Err(StoreError::InvalidUrl(format!(
                "unsupported scheme `{scheme}`: expected `sqlite:` or `postgres://`"
            )));
        };
        Ok(Store {
            backend,
            outbox: Arc::default(),
        })
    }

    /// Commit notifications where the backend has them (PostgreSQL); None means poll.
    pub async fn listen(&self) -> Result<Option<Notifier>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(store) => store.listen().await.map(Some),
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Applies `changes` in one transaction, all or nothing. Each change that alters the state
    /// appends one audit row at the next revision (cascades of `role_remove` and `user_remove`
    /// append one `assignment_remove` row per assignment first); the others are `Unchanged`.
    /// A read-only store refuses (`read_only`). The same as a `write` that only applies `changes`.
    pub async fn commit(&self, actor: &str, changes: &[Change]) -> Result<Committed, StoreError> {
        let written = self
            .write(actor, |tx| Box::pin(tx.apply_all(changes)))
            .await?;
        Ok(Committed {
            revision: written.revision,
            outcomes: written.value,
            entries: written.entries,
        })
    }

    /// Runs `f` in one write transaction and commits what it did when it returns `Ok`: engine
    /// changes (`Tx::apply`), the app's own rows (`Tx::conn`) and the app's audit rows
    /// (`Tx::audit`), all under one run of revisions. `Err` rolls everything back. Returns the
    /// closure's value with the new revision and the audit rows appended. Waiting for the write
    /// lock is retried a few times while the database is busy; `f` runs once.
    /// A read-only store refuses (`read_only`).
    ///
    /// ```no_run
    /// # async fn example(store: &provost_store::Store) -> Result<(), provost_store::StoreError> {
    /// use provost_engine::{Assignment, Change};
    /// use provost_store::{AppAudit, Conn};
    ///
    /// let grant = Change::AssignmentAdd { assignment: Assignment::new("ada", "batch_admin", "batch:42") };
    /// let written = store
    ///     .write("ada", |tx| Box::pin(async move {
    ///         // The app's own SQL on the transaction's connection: `$N` placeholders work on
    ///         // both dialects, so one text serves where their SQL agrees.
    ///         let sql = "INSERT INTO batches (id, name) VALUES ($1, $2)";
    ///         match tx.conn() {
    ///             Conn::Sqlite(c) => sqlx::query(sql).bind(42).bind("Python 101").execute(c).await?.rows_affected(),
    ///             Conn::Postgres(c) => sqlx::query(sql).bind(42).bind("Python 101").execute(c).await?.rows_affected(),
    ///         };
    ///         tx.apply(&grant).await?;
    ///         tx.audit(AppAudit { app: "batches".into(), operation: "batch_create".into(), ..AppAudit::default() }).await?;
    ///         Ok::<_, provost_store::StoreError>(42)
    ///     }))
    ///     .await?;
    /// assert_eq!(written.value, 42);
    /// # Ok(()) }
    /// ```
    pub async fn write<'a, T, E, F>(&self, actor: &str, f: F) -> Result<Written<T>, E>
    where
        E: From<StoreError>,
        F: for<'t> FnOnce(&'t mut Tx<'a>) -> BoxFuture<'t, Result<T, E>>,
    {
        if self.read_only() {
            return Err(StoreError::ReadOnly.into());
        }
        let locked = commit::retrying(|| async { dispatch!(self.lock()) }).await?;
        tx::run(locked, actor, f).await
    }

    /// Runs `f` as an app-only write: the app's own rows and its audit rows (`AppTx::audit`) in
    /// one transaction, committed together when it returns `Ok`, no engine changes. On
    /// PostgreSQL it does not take the write lock, so app-only writes run concurrently with
    /// each other and with `write`s; what they must not overdo, the database enforces (guarded
    /// updates, row locks, CHECKs), and a row lock held by another transaction is waited for
    /// at most `APP_WRITE_LOCK_TIMEOUT`, then the write fails `busy`. On SQLite it is the single
    /// writer, as `write` is. `f` runs once. A read-only store refuses (`read_only`).
    ///
    /// The audit log stays one gap-free run of revisions handed out under the write lock in
    /// commit order, which nodes (`feed`), the event publisher and listings rely on: a write
    /// that skipped the lock cannot take a revision (a later revision could commit before it,
    /// and a follower that read past it would never see it). So its audit rows commit to an
    /// outbox with its rows, and a holder of the write lock moves them into the log at its
    /// next revisions: a background task, which waits `OUTBOX_BATCH_DELAY` so that one pass
    /// moves the rows of many writes, and in any case the next `write` before its own rows.
    /// Reads of the log on this store wait for that pass (`outbox_settled`), so a caller reads
    /// its entry there. App rows thus take their revision when they enter the log, after every
    /// row already there; their `at` stays the time of the write.
    ///
    /// On PostgreSQL the commit does not wait for the disk while it holds its row locks: it
    /// releases them at once, then `app_write` waits until the commit is on disk before it
    /// returns, so a caller is told of nothing a crash could lose. Another transaction may read
    /// the rows before then, but whatever it commits comes later in the log, so a crash that
    /// loses this write loses that one too.
    ///
    /// For apps whose writes change no engine state (no roles, users, scopes or assignments)
    /// and that need throughput on their own rows: redemptions. Everything else uses `write`,
    /// which also gives the writer the revision to read its changes at.
    pub async fn app_write<'a, T, E, F>(&self, actor: &str, f: F) -> Result<T, E>
    where
        E: From<StoreError>,
        F: for<'t> FnOnce(&'t mut AppTx<'a>) -> BoxFuture<'t, Result<T, E>>,
    {
        self.app_write_with(actor, true, f).await
    }

    /// `app_write`, except that on PostgreSQL it returns without waiting until the commit is on
    /// disk: one round trip and one wait for a log flush less. Only for a write whose loss in a
    /// crash repairs itself: what it records can be derived again from durable facts (the
    /// second step of a redemption, whose pending entry a sweep settles again the same way
    /// from the LMS's idempotent answer). A write that reads its rows and then commits durably
    /// makes it durable too: the log is flushed in order.
    pub async fn app_write_unflushed<'a, T, E, F>(&self, actor: &str, f: F) -> Result<T, E>
    where
        E: From<StoreError>,
        F: for<'t> FnOnce(&'t mut AppTx<'a>) -> BoxFuture<'t, Result<T, E>>,
    {
        self.app_write_with(actor, false, f).await
    }

    async fn app_write_with<'a, T, E, F>(&self, actor: &str, flushed: bool, f: F) -> Result<T, E>
    where
        E: From<StoreError>,
        F: for<'t> FnOnce(&'t mut AppTx<'a>) -> BoxFuture<'t, Result<T, E>>,
    {
        if self.read_only() {
            return Err(StoreError::ReadOnly.into());
        }
        let db = commit::retrying(|| async { dispatch!(self.begin_app()) }).await?;
        let (value, waiting) = tx::run_app(db, actor, f).await?;
        if let (Backend::Postgres(pg), true) = (&self.backend, flushed) {
            // The commit released its locks without waiting for the disk; the caller hears of
            // it only once it is there.
            pg.durable().await?;
        }
        if waiting {
            self.flush_in_background();
        }
        Ok(value)
    }

    /// Makes sure the background task runs and looks at the outbox again: after
    /// `OUTBOX_BATCH_DELAY` it waits for the write lock, and one pass moves every row committed
    /// by then.
    fn flush_in_background(&self) {
        self.outbox.dirty.store(true, Ordering::SeqCst);
        if self.outbox.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            let mut failures = 0;
            loop {
                tokio::time::sleep(OUTBOX_BATCH_DELAY).await;
                while store.outbox.dirty.swap(false, Ordering::SeqCst) {
                    let moved = store
                        .write("provost", |_| Box::pin(async { Ok::<_, StoreError>(()) }))
                        .await;
                    store.outbox.passes.send_modify(|n| *n += 1);
                    if let Err(e) = moved {
                        tracing::warn!(error = %e, "cannot move app audit rows into the log yet");
                        failures += 1;
                        if failures < 5 {
                            store.outbox.dirty.store(true, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(200 * failures)).await;
                        }
                    }
                }
                store.outbox.running.store(false, Ordering::SeqCst);
                store.outbox.passes.send_modify(|n| *n += 1);
                // A writer that marked the outbox after the last look but found the task still
                // running left it to us.
                if !store.outbox.dirty.load(Ordering::SeqCst)
                    || store.outbox.running.swap(true, Ordering::SeqCst)
                {
                    return;
                }
            }
        });
    }

    /// Waits until the audit rows this store's app-only writes committed so far are in the log
    /// (a pass of the outbox task that began after them has ended, or the task is idle), at
    /// most `OUTBOX_SETTLE_LIMIT`: what a caller wrote, it then reads. Rows of other nodes'
    /// writes come when their task moves them.
    async fn outbox_settled(&self) {
        let idle = || {
            !self.outbox.dirty.load(Ordering::SeqCst) && !self.outbox.running.load(Ordering::SeqCst)
        };
        let mut passes = self.outbox.passes.subscribe();
        let from = *passes.borrow_and_update();
        if idle() {
            return;
        }
        // Two passes: the one under way may have begun before the last write committed.
        let settled = passes.wait_for(|n| idle() || *n >= from + 2);
        let _ = tokio::time::timeout(OUTBOX_SETTLE_LIMIT, settled).await;
    }

    /// A pooled connection for an app's reads of its own tables, outside any write and its lock
    /// (what a write must see it reads inside `write`, under the lock): `reader.conn()` is the
    /// same `Conn` as `Tx::conn`, so one query text serves reads and writes. Read-only stores
    /// read too.
    pub async fn reader(&self) -> Result<Reader, StoreError> {
        Ok(match &self.backend {
            Backend::Sqlite(store) => Reader::Sqlite(store.connection().await?),
            Backend::Postgres(store) => Reader::Postgres(store.connection().await?),
        })
    }

    /// The PostgreSQL pool, for locks an app holds across nodes (`programs::try_lease`).
    pub(crate) fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(store) => Some(store.pool()),
        }
    }

    /// Whether this store was opened read-only (`StoreOptions::read_only`) and refuses every write.
    pub fn read_only(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(store) => store.read_only(),
            Backend::Postgres(store) => store.read_only(),
        }
    }

    /// The engine's audit rows with a revision above `revision`, ascending, at most `limit`
    /// (app rows are left out).
    pub async fn changes_since(
        &self,
        revision: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let filter = AuditFilter::default();
        let range = AuditRange::After(revision);
        audit::engine_entries(
            self.audit_rows(Which::Engine(&filter), range, limit)
                .await?,
        )
    }

    /// The change feed a node follows: the next `limit` audit rows after `since`, of which it
    /// gets the engine's entries and the last revision read, so that it moves past app rows.
    pub async fn feed(&self, since: u64, limit: u32) -> Result<Feed, StoreError> {
        let rows = self
            .audit_rows(Which::All, AuditRange::After(since), limit)
            .await?;
        audit::feed(rows, since, limit)
    }

    /// The rows `app` appended to the audit log (`Tx::audit`) in `range`, at most `limit`.
    pub async fn app_audit(
        &self,
        app: &str,
        range: AuditRange,
        limit: u32,
    ) -> Result<Vec<AppEntry>, StoreError> {
        self.outbox_settled().await;
        audit::app_entries(self.audit_rows(Which::App(app), range, limit).await?)
    }

    async fn audit_rows(
        &self,
        which: Which<'_>,
        range: AuditRange,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        dispatch!(self.audit_rows(which, range, limit))
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

    /// The engine's audit rows in `range` whose change names the filter's subject and scope, at
    /// most `limit`: ascending after a revision, descending (newest first) before one.
    pub async fn audit(
        &self,
        filter: &AuditFilter,
        range: AuditRange,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        audit::engine_entries(self.audit_rows(Which::Engine(filter), range, limit).await?)
    }

    /// The whole audit log as people read it: the engine's rows and the apps' (`Tx::audit`) in
    /// one revision order, those whose subject and scope match the filter, in `range`, at most
    /// `limit`.
    pub async fn audit_log(
        &self,
        filter: &AuditFilter,
        range: AuditRange,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError> {
        self.outbox_settled().await;
        audit::log_entries(self.audit_rows(Which::Log(filter), range, limit).await?)
    }

    pub async fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        dispatch!(self.user(username))
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        dispatch!(self.close())
    }
}
