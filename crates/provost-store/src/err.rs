//! Errors of the store, each with a stable snake_case code.

use sqlx::error::ErrorKind;
use thiserror::Error;

/// A failure to read or write the database.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The URL names no backend Provost knows, or does not parse.
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    /// The database could not be reached (connection, pool or i/o failure).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The disk (or the database's size limit) is full: writes fail until space is freed.
    #[error("storage full: {0}")]
    Full(#[source] sqlx::Error),
    /// The store was opened read-only and refuses to write.
    #[error("this node is read-only: writes go to a writable node")]
    ReadOnly,
    /// A read-only store found the schema missing or older than this version of provost.
    #[error("{0}")]
    Schema(String),
    /// The database stayed locked, or the transaction lost a serialization race, after retries.
    #[error("database busy, try again later: {0}")]
    Busy(#[source] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// The write collides with what is stored (a duplicate key, or a role that does not exist).
    #[error("{message}")]
    Conflict {
        message: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// Anything else: a bug or a damaged row.
    #[error("internal store error: {0}")]
    Internal(String),
}

impl StoreError {
    /// The stable code of this error, for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::InvalidUrl(_) => "invalid_database_url",
            StoreError::Unavailable(_) => "database_unavailable",
            StoreError::Full(_) => "storage_full",
            StoreError::ReadOnly => "read_only",
            StoreError::Schema(_) => "schema_not_ready",
            StoreError::Busy(_) => "busy",
            StoreError::Migration(_) => "migration_failed",
            StoreError::Conflict { .. } => "conflict",
            StoreError::Internal(_) => "internal",
        }
    }

    /// Whether the database could not be reached at all (code `database_unavailable`).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// Whether the disk is full (code `storage_full`).
    pub fn is_full(&self) -> bool {
        matches!(self, StoreError::Full(_))
    }

    pub(crate) fn is_busy(&self) -> bool {
        matches!(self, StoreError::Busy(_))
    }

    pub(crate) fn internal(what: impl std::fmt::Display) -> StoreError {
        StoreError::Internal(what.to_string())
    }

    pub(crate) fn from_migrate(error: sqlx::migrate::MigrateError) -> StoreError {
        use sqlx::migrate::MigrateError;
        match error {
            MigrateError::Execute(inner) | MigrateError::ExecuteMigration(inner, _)
                if matches!(
                    class_of(&inner),
                    Class::Busy | Class::Unavailable | Class::Full
                ) =>
            {
                StoreError::from(inner)
            }
            other => StoreError::Migration(other),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        match class_of(&error) {
            Class::InvalidUrl => StoreError::InvalidUrl(error.to_string()),
            Class::Unavailable => StoreError::Unavailable(error),
            Class::Busy => StoreError::Busy(error),
            Class::Full => StoreError::Full(error),
            Class::Duplicate => StoreError::Conflict {
                message: "a row with the same key already exists",
                source: error,
            },
            Class::MissingRole => StoreError::Conflict {
                message: "an assignment names a role that does not exist",
                source: error,
            },
            Class::Other => StoreError::Internal(error.to_string()),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> StoreError {
        StoreError::Internal(format!("cannot convert json: {error}"))
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Class {
    InvalidUrl,
    Unavailable,
    Busy,
    Full,
    Duplicate,
    MissingRole,
    Other,
}

fn class_of(error: &sqlx::Error) -> Class {
    match error {
        sqlx::Error::Configuration(_) => Class::InvalidUrl,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Class::Unavailable,
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => Class::Duplicate,
            // The only foreign key: assignments.role references roles.name.
            ErrorKind::ForeignKeyViolation => Class::MissingRole,
            _ => {
                let code = db.code();
                if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    code.and_then(|code| code.parse().ok())
                        .map_or(Class::Other, classify_sqlite)
                } else {
                    code.as_deref().map_or(Class::Other, classify_sqlstate)
                }
            }
        },
        _ => Class::Other,
    }
}

/// SQLite's (extended) result codes.
fn classify_sqlite(code: i32) -> Class {
    match code & 0xff {
        // SQLITE_BUSY, SQLITE_LOCKED
        5 | 6 => Class::Busy,
        // SQLITE_FULL: the disk, or the database's max_page_count, is full
        13 => Class::Full,
        // SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_CANTOPEN, SQLITE_NOTADB
        8 | 10 | 11 | 14 | 26 => Class::Unavailable,
        _ => Class::Other,
    }
}

/// PostgreSQL's SQLSTATE codes.
fn classify_sqlstate(code: &str) -> Class {
    match code {
        // serialization_failure, deadlock_detected, lock_not_available, query_canceled (lock timeouts)
        "40001" | "40P01" | "55P03" | "57014" => Class::Busy,
        // disk_full
        "53100" => Class::Full,
        // invalid_catalog_name: the database does not exist
        "3D000" => Class::Unavailable,
        // connection exceptions, insufficient resources, operator intervention, invalid authorization
        _ if ["08", "53", "57", "28"]
            .iter()
            .any(|class| code.starts_with(class)) =>
        {
            Class::Unavailable
        }
        _ => Class::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes() {
        assert_eq!(classify_sqlite(5), Class::Busy);
        assert_eq!(classify_sqlite(517), Class::Busy); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(classify_sqlite(14), Class::Unavailable);
        assert_eq!(classify_sqlite(13), Class::Full);
        assert_eq!(classify_sqlite(1), Class::Other);
    }

    #[test]
    fn postgres_codes() {
        assert_eq!(classify_sqlstate("40001"), Class::Busy);
        assert_eq!(classify_sqlstate("40P01"), Class::Busy);
        assert_eq!(classify_sqlstate("08006"), Class::Unavailable);
        assert_eq!(classify_sqlstate("53100"), Class::Full);
        assert_eq!(classify_sqlstate("57P01"), Class::Unavailable);
        assert_eq!(classify_sqlstate("42601"), Class::Other);
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(
            StoreError::InvalidUrl("x".into()).code(),
            "invalid_database_url"
        );
        assert_eq!(
            StoreError::from(sqlx::Error::PoolClosed).code(),
            "database_unavailable"
        );
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_unavailable());
        assert_eq!(StoreError::internal("x").code(), "internal");
    }
}
