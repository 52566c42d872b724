//! PostgreSQL writes: transactions serialized by an advisory lock, and the shared row operations.

use sqlx::{PgConnection, Postgres};

use super::read::{last_revision, user};
use super::PgStore;
use crate::dialect;
use crate::err::StoreError;
use crate::tx::Locked;

// Text goes into JSONB columns through a cast: sqlx binds `&str` as TEXT.
dialect::write_tx!(PgConnection, Postgres, json = "::JSONB");

/// The advisory lock every write transaction takes first ("provost" in ASCII), so that revisions
/// are handed out, and become visible, strictly in order across every node.
const WRITE_LOCK: i64 = 0x0070_726f_766f_7374;

impl PgStore {
    /// Begins a write transaction, holding the write lock; see `Store::write`.
    pub(crate) async fn lock(&self) -> Result<Locked, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(Locked::Postgres(tx))
    }
}
