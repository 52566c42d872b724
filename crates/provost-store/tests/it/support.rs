//! Test databases: a temporary SQLite file, or a fresh PostgreSQL database dropped afterwards.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use provost_store::Store;
use sqlx::Connection;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// One database for one test, with the store connected to it.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub backend: &'static str,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl TestDb {
    /// Another, independent handle on the same database (its own pool), as another process would have.
    pub async fn open(&self) -> Store {
        Store::connect(&self.url)
            .await
            .expect("reconnect to the test database")
    }

    pub async fn finish(self) {
        self.store.close().await;
        // Dropping `pg` drops the database; dropping `_dir` removes the SQLite file.
    }
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("provost.db").display()
    );
    let store = Store::connect(&url)
        .await
        .expect("open the SQLite test database");
    TestDb {
        store,
        url,
        backend: "sqlite",
        _dir: Some(dir),
        _pg: None,
    }
}

pub fn skip_postgres() -> bool {
    std::env::var("PROVOST_SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

pub fn admin_url() -> String {
    std::env::var("PROVOST_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// A fresh database on the test PostgreSQL server, or `None` when `PROVOST_SKIP_POSTGRES=1`.
/// An unreachable server fails the test: it is never skipped silently.
pub async fn postgres() -> Option<TestDb> {
    if skip_postgres() {
        eprintln!("PROVOST_SKIP_POSTGRES=1: postgres test skipped");
        return None;
    }
    let empty = postgres_database().await;
    let store = Store::connect(&empty.url)
        .await
        .expect("open the PostgreSQL test database");
    Some(TestDb {
        store,
        url: empty.url,
        backend: "postgres",
        _dir: None,
        _pg: Some(empty._pg),
    })
}

/// A fresh database on the test PostgreSQL, empty (no schema), dropped with the guard.
pub struct EmptyPg {
    pub url: String,
    _pg: PgDatabase,
}

pub async fn postgres_database() -> EmptyPg {
    let admin = admin_url();
    let name = unique_name();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is unreachable at {admin} ({e}); start it, set PROVOST_TEST_POSTGRES_URL, or set PROVOST_SKIP_POSTGRES=1")
    });
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create the test database");
    conn.close().await.ok();
    let url = with_database(&admin, &name);
    EmptyPg {
        url,
        _pg: PgDatabase { admin, name },
    }
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

/// Drops its database when dropped, even when the test panicked (best effort).
struct PgDatabase {
    admin: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot block on async work: use a thread of our own.
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
