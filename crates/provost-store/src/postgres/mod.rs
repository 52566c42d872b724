//! The PostgreSQL store: many nodes on one database, writers serialized by an advisory lock.

mod read;
mod write;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection;

use crate::err::StoreError;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The channel a commit notifies with its last revision, for nodes tailing the log.
pub const NOTIFY_CHANNEL: &str = "provost_audit";

/// A PostgreSQL database; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://` or `postgresql://`) and brings the schema up to date.
    /// An unreachable server fails at once (the pool alone would retry until its timeout).
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
        let mut conn = PgConnection::connect_with(&options).await?;
        // The migrator takes its own advisory lock, so nodes starting together take turns.
        MIGRATOR
            .run(&mut conn)
            .await
            .map_err(StoreError::from_migrate)?;
        conn.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        Ok(PgStore { pool })
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
