//! The SQLite store: the embedded default, one file in WAL mode.

mod read;
mod write;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::err::StoreError;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a connection waits for another writer's lock before giving up with `busy`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A SQLite database; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (with `mode=rwc`, creates) the database at `url` and brings its schema up to date.
    /// An in-memory database (`sqlite::memory:`) lives in one connection, kept open for the pool's life.
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // Rows cross from SQLite's worker thread one message at a time; a deep buffer lets a
            // snapshot's reader drain thousands per wake-up instead of waking per row.
            .row_buffer_size(4096);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .min_connections(1)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?
        };
        migrate(&pool).await?;
        Ok(SqliteStore { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Runs the migrations under the write lock, so that processes starting together take turns.
async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    MIGRATOR
        .run(&mut *tx)
        .await
        .map_err(StoreError::from_migrate)?;
    tx.commit().await?;
    Ok(())
}
