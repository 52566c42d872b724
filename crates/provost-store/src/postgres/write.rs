//! PostgreSQL writes: transactions serialized by an advisory lock, and the shared row operations.

use std::time::Duration;

use sqlx::{PgConnection, Postgres};

use super::read::{last_revision, user};
use super::PgStore;
use crate::dialect;
use crate::err::StoreError;
use crate::tx::DbTx;

// Text goes into JSONB columns through a cast: sqlx binds `&str` as TEXT.
dialect::write_tx!(PgConnection, Postgres, json = "::JSONB");

/// The advisory lock every write transaction takes first ("provost" in ASCII), so that revisions
/// are handed out, and become visible, strictly in order across every node.
const WRITE_LOCK: i64 = 0x0070_726f_766f_7374;

impl PgStore {
    /// Begins a write transaction, holding the write lock; see `Store::write`.
    pub(crate) async fn lock(&self) -> Result<DbTx, StoreError> {
        // One round trip: the simple protocol runs both statements.
        let begin = format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})");
        let tx = self.pool.begin_with(begin).await?;
        Ok(DbTx::Postgres(tx))
    }
}

/// How long an app-only write waits for a row lock another transaction holds (a real conflict,
/// such as two redemptions against one policy's row) before it fails with `busy`.
pub const APP_WRITE_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

impl PgStore {
    /// Begins an app-only write transaction: no write lock, row-lock waits bounded by
    /// `APP_WRITE_LOCK_TIMEOUT`, and a commit that does not wait for the disk: it releases its
    /// row locks at once, and the writer waits for the disk afterwards (`durable`), so writes
    /// queued on one row (a policy's) do not each wait out a flush while holding it. See
    /// `Store::app_write`.
    pub(crate) async fn begin_app(&self) -> Result<DbTx, StoreError> {
        // One round trip: the simple protocol runs every statement.
        let begin = format!(
            "BEGIN; SET LOCAL lock_timeout = {}; SET LOCAL synchronous_commit = off",
            APP_WRITE_LOCK_TIMEOUT.as_millis()
        );
        let tx = self.pool.begin_with(begin).await?;
        Ok(DbTx::Postgres(tx))
    }
}

impl PgStore {
    /// Returns once every transaction committed before the call is on disk: a transaction of
    /// its own that commits synchronously (it takes a transaction id, so it writes a commit
    /// record) flushes the log up to its record, past every earlier commit. Many writers'
    /// calls share one flush.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_current_xact_id()")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
