//! The SQLite store: the embedded default, one file in WAL mode.

mod read;
mod write;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::err::StoreError;
use crate::model::StoreOptions;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a connection waits for another writer's lock before giving up with `busy`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A SQLite database; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    read_only: bool,
}

impl SqliteStore {
    /// Opens (with `mode=rwc`, creates) the database at `url` and brings its schema up to date;
    /// read-only (`options.read_only`), it opens the file with `mode=ro` and only checks the schema.
    /// An in-memory database (`sqlite::memory:`) lives in one connection, kept open for the pool's life.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<SqliteStore, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        SqliteStore::open(connect, in_memory, options).await
    }

    /// Opens the database `connect` describes.
    async fn open(
        connect: SqliteConnectOptions,
        in_memory: bool,
        options: &StoreOptions,
    ) -> Result<SqliteStore, StoreError> {
        let connect = connect
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // Rows cross from SQLite's worker thread one message at a time; a deep buffer lets a
            // snapshot's reader drain thousands per wake-up instead of waking per row.
            .row_buffer_size(4096);
        let connect = match options.sqlite_max_pages {
            Some(pages) => connect.pragma("max_page_count", pages.to_string()),
            None => connect,
        };
        let connect = if options.read_only {
            // `mode=ro`: SQLite itself refuses writes; the file's journal mode (WAL, set by the
            // writer) is left as it is, since changing it would be a write.
            connect.read_only(true).create_if_missing(false)
        } else {
            connect.journal_mode(SqliteJournalMode::Wal)
        };
        let pool = SqlitePoolOptions::new().acquire_timeout(options.acquire_timeout);
        let pool = if in_memory {
            pool.min_connections(1)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            pool.max_connections(8)
        }
        .connect_with(connect)
        .await?;
        if options.read_only {
            crate::schema::require(&MIGRATOR, applied_migrations(&pool).await?)?;
        } else {
            migrate(&pool).await?;
        }
        Ok(SqliteStore {
            pool,
            read_only: options.read_only,
        })
    }

    /// The pool, for `Store::read` (an app's reads of its own tables).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Whether this store refuses writes.
    pub fn read_only(&self) -> bool {
        self.read_only
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

/// The versions of the migrations applied to the database, `None` when it has none at all.
async fn applied_migrations(pool: &SqlitePool) -> Result<Option<Vec<i64>>, StoreError> {
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(pool)
    .await?;
    if exists == 0 {
        return Ok(None);
    }
    let versions = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(pool)
        .await?;
    Ok(Some(versions))
}
