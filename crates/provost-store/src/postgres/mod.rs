//! The PostgreSQL store: many nodes on one database, writers serialized by an advisory lock.

mod read;
mod write;

pub use write::APP_WRITE_LOCK_TIMEOUT;

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection;

use crate::err::StoreError;
use crate::model::StoreOptions;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a pooled connection may sit unused before the pool closes it (instead of handing
/// out one a firewall or the server may have dropped meanwhile).
const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The channel a commit notifies with its last revision, for nodes tailing the log.
pub const NOTIFY_CHANNEL: &str = "provost_audit";

/// A PostgreSQL database; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    read_only: bool,
}

impl PgStore {
    /// Connects to `url` (`postgres://` or `postgresql://`) and brings the schema up to date;
    /// read-only (`options.read_only`, e.g. on a hot standby), it only checks the schema and its
    /// sessions default to read-only transactions.
    /// An unreachable server fails at once (the pool alone would retry until its timeout).
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<PgStore, StoreError> {
        let mut connect =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
        if options.read_only {
            connect = connect.options([("default_transaction_read_only", "on")]);
        }
        let mut conn = PgConnection::connect_with(&connect).await?;
        if options.read_only {
            crate::schema::require(&MIGRATOR, applied_migrations(&mut conn).await?)?;
        } else {
            // The migrator takes its own advisory lock, so nodes starting together take turns.
            MIGRATOR
                .run(&mut conn)
                .await
                .map_err(StoreError::from_migrate)?;
        }
        conn.close().await?;
        // No ping before handing out a pooled connection: it is a round trip on every acquire
        // (a redemption acquires five times), and a dead pooled connection is rare (a server
        // restart, a network cut) and harmless: the first statement on it fails, so that one
        // request answers 503 `database_unavailable` (a write's BEGIN is that statement: nothing
        // was written), sqlx drops the connection, and the client's retry gets a live one.
        // Connections left idle longer than `IDLE_TIMEOUT` are closed by the pool's reaper, so
        // few stale ones are handed out after a quiet spell.
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(false)
            .idle_timeout(IDLE_TIMEOUT)
            .connect_lazy_with(connect);
        Ok(PgStore {
            pool,
            read_only: options.read_only,
        })
    }

    /// Whether this store refuses writes.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The pool, for the advisory locks an app holds across nodes (`Store::pg_pool`).
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Subscribes to commit notifications on a connection of its own.
    pub async fn listen(&self) -> Result<Notifier, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(NOTIFY_CHANNEL).await?;
        Ok(Notifier(listener))
    }
}

/// The versions of the migrations applied to the database, `None` when it has none at all.
async fn applied_migrations(conn: &mut PgConnection) -> Result<Option<Vec<i64>>, StoreError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(None);
    }
    let versions = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(&mut *conn)
        .await?;
    Ok(Some(versions))
}

/// Commit notifications: each carries the last revision of a commit. Notifications can be lost
/// (a dropped connection), so followers also poll.
pub struct Notifier(sqlx::postgres::PgListener);

impl Notifier {
    /// Waits for the next commit and returns its revision (0 when the payload is unreadable).
    pub async fn recv(&mut self) -> Result<u64, StoreError> {
        let notification = self.0.recv().await?;
        Ok(notification.payload().parse().unwrap_or(0))
    }
}
