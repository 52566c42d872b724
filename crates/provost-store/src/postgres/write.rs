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
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(DbTx::Postgres(tx))
    }
}

/// How long an app-only write waits for a row lock another transaction holds (a real conflict,
/// such as two redemptions against one policy's row) before it fails with `busy`.
pub const APP_WRITE_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

impl PgStore {
    /// Begins an app-only write transaction: no write lock, row-lock waits bounded by
    /// `APP_WRITE_LOCK_TIMEOUT`; see `Store::app_write`.
    pub(crate) async fn begin_app(&self) -> Result<DbTx, StoreError> {
        let mut tx = self.pool.begin().await?;
        let timeout = format!(
            "SET LOCAL lock_timeout = {}",
            APP_WRITE_LOCK_TIMEOUT.as_millis()
        );
        sqlx::query(&timeout).execute(&mut *tx).await?;
        Ok(DbTx::Postgres(tx))
    }

    /// Begins a write transaction holding the write lock if no one else holds it now.
    pub(crate) async fn try_lock(&self) -> Result<Option<DbTx>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        Ok(locked.then_some(DbTx::Postgres(tx)))
    }
}
