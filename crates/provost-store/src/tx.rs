//! `Tx`: one write transaction as apps see it — engine changes, the app's own SQL and its audit
//! rows; `AppTx`: an app-only one, without the write lock on PostgreSQL (see `Store::app_write`).

use std::future::Future;
use std::marker::PhantomData;

use futures_util::future::BoxFuture;
use provost_engine::{Change, RoleDef};
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};

use chrono::{DateTime, Utc};

use crate::commit::{self, Pending};
use crate::err::StoreError;
use crate::model::{AppAudit, Outcome, Written};
use crate::postgres::NOTIFY_CHANNEL;

/// The transaction's connection, for an app's own SQL on its own tables. An enum rather than a
/// dialect-neutral wrapper: app SQL is written per dialect (as the store's own is), with plain
/// sqlx, and the `match` makes every app say what it does on both.
pub enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

/// A database transaction: holding the store's write lock for `Store::write`, not (on
/// PostgreSQL) for `Store::app_write`.
pub(crate) enum DbTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A write transaction holding the store's write lock. Everything done through it commits
/// together, under one run of revisions, or not at all. `'a` is only the scope of the
/// `Store::write` call: it lets the closure's future borrow what the caller holds.
pub struct Tx<'a> {
    locked: DbTx,
    pending: Pending,
    /// Set when a step failed: the transaction may hold half of that step, so it must not commit.
    failed: bool,
    scope: PhantomData<&'a ()>,
}

/// Runs `$body` with `$c` bound to the dialect's connection.
macro_rules! on_conn {
    ($self:ident, $c:ident => $body:expr) => {
        match &mut $self.locked {
            DbTx::Sqlite(tx) => {
                let $c = &mut **tx;
                $body
            }
            DbTx::Postgres(tx) => {
                let $c = &mut **tx;
                $body
            }
        }
    };
}

impl Tx<'_> {
    /// Wraps a transaction that already holds the write lock.
    async fn begin(mut locked: DbTx, actor: &str) -> Result<Self, StoreError> {
        let pending = match &mut locked {
            DbTx::Sqlite(tx) => Pending::begin(&mut **tx, actor).await?,
            DbTx::Postgres(tx) => Pending::begin(&mut **tx, actor).await?,
        };
        Ok(Tx {
            locked,
            pending,
            failed: false,
            scope: PhantomData,
        })
    }

    /// Applies one engine change, as `Store::commit` does: its audit rows, its outcome.
    pub async fn apply(&mut self, change: &Change) -> Result<Outcome, StoreError> {
        let mut outcomes = self.apply_all(std::slice::from_ref(change)).await?;
        Ok(outcomes.pop().unwrap_or(Outcome::Unchanged))
    }

    /// Applies engine changes in order (runs of assignments in bulk); one outcome per change.
    pub async fn apply_all(&mut self, changes: &[Change]) -> Result<Vec<Outcome>, StoreError> {
        let pending = &mut self.pending;
        let result = on_conn!(self, c => commit::apply(c, pending, changes).await);
        self.failed |= result.is_err();
        result
    }

    /// Appends an app's audit row at the next revision (actor and time are the transaction's);
    /// returns that revision. Node feeds skip it; the engine never sees it.
    pub async fn audit(&mut self, entry: AppAudit) -> Result<u64, StoreError> {
        let pending = &mut self.pending;
        let result = on_conn!(self, c => commit::audit(c, pending, entry).await);
        self.failed |= result.is_err();
        result
    }

    /// The role named `name` as this transaction sees it: it holds the write lock, so the role
    /// cannot change before it commits.
    pub async fn role(&mut self, name: &str) -> Result<Option<RoleDef>, StoreError> {
        let result = on_conn!(self, c => commit::WriteTx::role(c, name).await);
        self.failed |= result.is_err();
        result
    }

    /// The distinct scopes where `role` is assigned, sorted, as this transaction sees them: it
    /// holds the write lock, so no assignment of the role can be added before it commits.
    pub async fn role_scopes(&mut self, role: &str) -> Result<Vec<String>, StoreError> {
        let result = on_conn!(self, c => commit::WriteTx::role_scopes(c, role).await);
        self.failed |= result.is_err();
        result
    }

    /// The connection, for the app's own queries in this transaction.
    pub fn conn(&mut self) -> Conn<'_> {
        match &mut self.locked {
            DbTx::Sqlite(tx) => Conn::Sqlite(tx),
            DbTx::Postgres(tx) => Conn::Postgres(tx),
        }
    }

    /// The last revision this transaction handed out, or the store's when it has appended nothing.
    pub fn revision(&self) -> u64 {
        self.pending.revision
    }

    /// Commits, once the closure returned `value`, and says what the transaction wrote.
    async fn commit<T>(mut self, value: T) -> Result<Written<T>, StoreError> {
        if self.failed {
            return Err(StoreError::internal(
                "a write went on after one of its steps failed",
            ));
        }
        let written = Written {
            value,
            revision: self.pending.revision,
            entries: std::mem::take(&mut self.pending.entries),
            app_entries: std::mem::take(&mut self.pending.app_entries),
        };
        match self.locked {
            DbTx::Sqlite(tx) => tx.commit().await?,
            DbTx::Postgres(mut tx) => {
                let appended = !written.entries.is_empty() || !written.app_entries.is_empty();
                if appended || self.pending.flushed > 0 {
                    // Delivered on commit only, so listeners never hear of a revision they
                    // cannot read.
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(NOTIFY_CHANNEL)
                        .bind(written.revision.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
        }
        Ok(written)
    }
}

/// Runs `f` in `locked` and commits when it returns `Ok`; dropping `locked` rolls back.
pub(crate) async fn run<'a, T, E, F>(locked: DbTx, actor: &str, f: F) -> Result<Written<T>, E>
where
    E: From<StoreError>,
    F: for<'t> FnOnce(&'t mut Tx<'a>) -> BoxFuture<'t, Result<T, E>>,
{
    let mut tx = Tx::begin(locked, actor).await?;
    let value = f(&mut tx).await?;
    Ok(tx.commit(value).await?)
}

/// An app-only write transaction (`Store::app_write`): the app's own SQL and its audit rows,
/// no engine changes. On PostgreSQL it does not hold the write lock: the database's row locks
/// and guarded updates are its only serialisation, waits for a row lock are bounded
/// (`APP_WRITE_LOCK_TIMEOUT`, then `busy`), and its audit rows go to the outbox, committed with
/// its rows, to be given revisions by the next holder of the write lock. On SQLite it is the
/// single writer, and moves its rows into the log itself before committing.
pub struct AppTx<'a> {
    db: DbTx,
    actor: String,
    at: DateTime<Utc>,
    audited: bool,
    /// Set when a step failed: the transaction may hold half of that step, so it must not commit.
    failed: bool,
    scope: PhantomData<&'a ()>,
}

impl AppTx<'_> {
    /// Appends an app's audit row (actor and time are the transaction's). It commits with the
    /// transaction and enters the log, at the next revision, once a holder of the write lock
    /// moves it there; the engine never sees it.
    pub async fn audit(&mut self, entry: AppAudit) -> Result<(), StoreError> {
        let (actor, at) = (&self.actor, self.at);
        let result = match &mut self.db {
            DbTx::Sqlite(tx) => commit::outbox(&mut **tx, actor, at, entry).await,
            DbTx::Postgres(tx) => commit::outbox(&mut **tx, actor, at, entry).await,
        };
        self.failed |= result.is_err();
        self.audited |= result.is_ok();
        result
    }

    /// The connection, for the app's own queries in this transaction.
    pub fn conn(&mut self) -> Conn<'_> {
        match &mut self.db {
            DbTx::Sqlite(tx) => Conn::Sqlite(tx),
            DbTx::Postgres(tx) => Conn::Postgres(tx),
        }
    }

    /// Commits; says whether it left audit rows in the outbox for a holder of the write lock.
    async fn commit(self) -> Result<bool, StoreError> {
        if self.failed {
            return Err(StoreError::internal(
                "a write went on after one of its steps failed",
            ));
        }
        match self.db {
            DbTx::Sqlite(mut tx) => {
                // The single writer holds the write lock: its rows take their revisions now.
                if self.audited {
                    Pending::begin(&mut *tx, &self.actor).await?;
                }
                tx.commit().await?;
                Ok(false)
            }
            DbTx::Postgres(tx) => {
                tx.commit().await?;
                Ok(self.audited)
            }
        }
    }
}

/// Runs `f` in `db` as an app-only write and commits when it returns `Ok`; dropping `db` rolls
/// back. Returns the closure's value and whether audit rows wait in the outbox.
pub(crate) async fn run_app<'a, T, E, F>(db: DbTx, actor: &str, f: F) -> Result<(T, bool), E>
where
    E: From<StoreError>,
    F: for<'t> FnOnce(&'t mut AppTx<'a>) -> BoxFuture<'t, Result<T, E>>,
{
    let mut tx = AppTx {
        db,
        actor: actor.to_owned(),
        at: commit::now(),
        audited: false,
        failed: false,
        scope: PhantomData,
    };
    let value = f(&mut tx).await?;
    let waiting = tx.commit().await?;
    Ok((value, waiting))
}

/// What both kinds of write offer an app: its own rows and its audit entries. Code an app
/// shares between a `Store::write` and a `Store::app_write` takes `&mut impl AppWrite`.
pub trait AppWrite: Send {
    /// The connection, for the app's own queries in this transaction.
    fn conn(&mut self) -> Conn<'_>;
    /// Appends an app's audit row, committed with the transaction (`Tx::audit`, `AppTx::audit`).
    fn audit(&mut self, entry: AppAudit) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl AppWrite for Tx<'_> {
    fn conn(&mut self) -> Conn<'_> {
        Tx::conn(self)
    }

    async fn audit(&mut self, entry: AppAudit) -> Result<(), StoreError> {
        Tx::audit(self, entry).await.map(|_| ())
    }
}

impl AppWrite for AppTx<'_> {
    fn conn(&mut self) -> Conn<'_> {
        AppTx::conn(self)
    }

    fn audit(&mut self, entry: AppAudit) -> impl Future<Output = Result<(), StoreError>> + Send {
        AppTx::audit(self, entry)
    }
}

/// A pooled connection outside any write, for an app's reads (`Store::reader`).
pub enum Reader {
    Sqlite(sqlx::pool::PoolConnection<Sqlite>),
    Postgres(sqlx::pool::PoolConnection<Postgres>),
}

impl Reader {
    /// The connection, for the app's own queries.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Reader::Sqlite(c) => Conn::Sqlite(c),
            Reader::Postgres(c) => Conn::Postgres(c),
        }
    }
}
