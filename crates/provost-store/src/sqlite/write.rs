//! SQLite writes: `BEGIN IMMEDIATE` transactions, and the shared row operations of a commit.

use sqlx::{Sqlite, SqliteConnection};

use super::read::{last_revision, user};
use super::SqliteStore;
use crate::dialect;
use crate::err::StoreError;
use crate::tx::DbTx;

dialect::write_tx!(SqliteConnection, Sqlite, json = "");

impl SqliteStore {
    /// Begins a write transaction, holding the write lock; see `Store::write`.
    pub(crate) async fn lock(&self) -> Result<DbTx, StoreError> {
        // IMMEDIATE takes the write lock up front: writers queue (busy_timeout) instead of
        // failing on upgrade, and the next revision read in `Tx` stays ours until commit.
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(DbTx::Sqlite(tx))
    }
}

impl SqliteStore {
    /// Begins an app-only write transaction: on SQLite the single writer, as `lock`.
    pub(crate) async fn begin_app(&self) -> Result<DbTx, StoreError> {
        self.lock().await
    }
}
