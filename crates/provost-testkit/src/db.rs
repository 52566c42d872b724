//! Test databases: a temporary SQLite file, or a fresh PostgreSQL database dropped afterwards.
//!
//! One skip rule for every crate: `PROVOST_SKIP_POSTGRES=1` skips PostgreSQL tests with a
//! message; an unreachable server fails the test, it is never skipped silently.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Connection;

/// The PostgreSQL server tests create their databases on, unless `PROVOST_TEST_POSTGRES_URL` says.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The name `Store::backend` gives.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A fresh, empty database for one test; the file or database goes with the guard (even
/// when the test panicked).
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl TestDatabase {
    /// A fresh database of `backend`, or `None` when `PROVOST_SKIP_POSTGRES=1` skips PostgreSQL.
    pub async fn create(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => Some(TestDatabase::sqlite()),
            Backend::Postgres => TestDatabase::postgres().await,
        }
    }

    /// A temporary SQLite file (created on first connect).
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("provost.db").display()
        );
        TestDatabase {
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
            _pg: None,
        }
    }

    /// A fresh database on the test PostgreSQL server, or `None` (with a message) when
    /// `PROVOST_SKIP_POSTGRES=1`. Panics when the server is unreachable.
    pub async fn postgres() -> Option<TestDatabase> {
        if skip_postgres() {
            eprintln!("PROVOST_SKIP_POSTGRES=1: postgres test skipped");
            return None;
        }
        let admin = admin_url();
        let name = unique_name();
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL is unreachable at {admin} ({e}); start it (scripts/test.sh does), set PROVOST_TEST_POSTGRES_URL, or set PROVOST_SKIP_POSTGRES=1")
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        conn.close().await.ok();
        Some(TestDatabase {
            url: with_database(&admin, &name),
            backend: Backend::Postgres,
            _dir: None,
            _pg: Some(PgDatabase { admin, name }),
        })
    }

    /// The backend `PROVOST_TEST_BACKEND` names (`postgres`), SQLite otherwise; panics when it
    /// asks for PostgreSQL and `PROVOST_SKIP_POSTGRES=1` says skip (the two contradict).
    pub async fn from_env() -> TestDatabase {
        if std::env::var("PROVOST_TEST_BACKEND").as_deref() == Ok("postgres") {
            return TestDatabase::postgres()
                .await
                .expect("PROVOST_TEST_BACKEND=postgres contradicts PROVOST_SKIP_POSTGRES=1");
        }
        TestDatabase::sqlite()
    }
}

/// `PROVOST_SKIP_POSTGRES=1`: the one way to skip PostgreSQL tests.
pub fn skip_postgres() -> bool {
    std::env::var("PROVOST_SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

/// The server tests create databases on (`PROVOST_TEST_POSTGRES_URL`).
pub fn admin_url() -> String {
    std::env::var("PROVOST_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "provost_it_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// `admin` with its database name replaced by `name`.
pub fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{name}{query}", &base[..path_start])
}

/// Drops its database when dropped (forcibly, closing what is still connected).
struct PgDatabase {
    admin: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop may run inside the test's runtime, which cannot block on async work: use a
        // thread with a runtime of its own.
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(e) = sqlx::query(&sql).execute(&mut conn).await {
                        eprintln!("could not drop test database {name}: {e}");
                    }
                    conn.close().await.ok();
                }
            });
        });
        dropper.join().ok();
    }
}

/// Store options that cap the SQLite database at `url` at its current size (`max_page_count`), so
/// the next write that needs a page fails as on a full disk (SQLITE_FULL).
pub async fn sqlite_at_capacity(url: &str) -> provost_store::StoreOptions {
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&mut conn)
        .await
        .expect("page count");
    conn.close().await.ok();
    provost_store::StoreOptions {
        sqlite_max_pages: Some(u64::try_from(pages).expect("pages")),
        ..provost_store::StoreOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn test_database_urls_replace_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://h:5432", "x"),
            "postgresql://h:5432/x"
        );
    }
}
