//! Connecting: URL schemes, unreachable databases, in-memory SQLite, PostgreSQL notifications.

use provost_engine::{Change, User};
use provost_store::{Outcome, Store, StoreOptions};
use sqlx::Connection;

use crate::support;

#[tokio::test]
async fn unknown_schemes_are_invalid_urls() {
    for url in [
        "mysql://root@localhost/provost",
        "provost.db",
        "",
        "http://example.com",
    ] {
        let error = Store::connect(url).await.expect_err(url);
        assert_eq!(error.code(), "invalid_database_url", "{url}: {error}");
        assert!(
            error.to_string().starts_with("invalid database url"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn malformed_postgres_url_is_invalid() {
    let error = Store::connect("postgres://user@host:notaport/db")
        .await
        .expect_err("bad port");
    assert_eq!(error.code(), "invalid_database_url", "{error}");
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable() {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let error = Store::connect("postgres://postgres@127.0.0.1:1/provost")
        .await
        .expect_err("nothing listens");
    assert_eq!(error.code(), "database_unavailable", "{error}");
    assert!(error.is_unavailable());
}

#[tokio::test]
async fn sqlite_file_in_missing_directory_is_unavailable() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("missing/provost.db").display()
    );
    let error = Store::connect(&url)
        .await
        .expect_err("the directory does not exist");
    assert_eq!(error.code(), "database_unavailable", "{error}");
}

#[tokio::test]
async fn sqlite_in_memory_keeps_its_data() {
    let store = Store::connect("sqlite::memory:")
        .await
        .expect("in-memory database");
    assert_eq!(store.backend(), "sqlite");
    let alice = User {
        username: "alice".into(),
        ..User::default()
    };
    let committed = store
        .commit(
            "tester",
            &[Change::UserPut {
                user: alice.clone(),
            }],
        )
        .await
        .expect("commit");
    assert_eq!(committed.outcomes, [Outcome::Applied { revision: 1 }]);
    // Reads go through the same single connection, so they see the write.
    assert_eq!(store.user("alice").await.expect("read user"), Some(alice));
    assert_eq!(store.revision().await.expect("revision"), 1);
    store.close().await;
}

#[tokio::test]
async fn outcomes_serialize_with_a_status_tag() {
    assert_eq!(
        serde_json::to_value(Outcome::Applied { revision: 3 }).expect("json"),
        serde_json::json!({"status": "applied", "revision": 3})
    );
    assert_eq!(
        serde_json::to_value(Outcome::Unchanged).expect("json"),
        serde_json::json!({"status": "unchanged"})
    );
}

#[tokio::test]
async fn postgres_commits_notify_their_last_revision() {
    let Some(db) = support::postgres().await else {
        return;
    };
    let mut listener = sqlx::postgres::PgListener::connect(&db.url)
        .await
        .expect("listener");
    listener.listen("provost_audit").await.expect("listen");

    let changes = [
        Change::UserPut {
            user: User {
                username: "a".into(),
                ..User::default()
            },
        },
        Change::UserPut {
            user: User {
                username: "b".into(),
                ..User::default()
            },
        },
    ];
    db.store.commit("tester", &changes).await.expect("commit");
    let note = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification within 10s")
        .expect("notification");
    assert_eq!(note.channel(), "provost_audit");
    assert_eq!(note.payload(), "2");

    // A commit that changes nothing says nothing.
    db.store.commit("tester", &changes).await.expect("commit");
    db.store
        .commit("tester", &changes[..1])
        .await
        .expect("commit");
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), listener.recv()).await;
    assert!(quiet.is_err(), "no notification for unchanged commits");
    drop(listener);
    db.finish().await;
}

#[tokio::test]
async fn read_only_stores_need_the_schema_and_never_create_it() {
    let read_only = StoreOptions {
        read_only: true,
        ..StoreOptions::default()
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("provost.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    // A missing file is not created.
    let missing = Store::connect_with(&url, &read_only)
        .await
        .expect_err("no file");
    assert_eq!(missing.code(), "database_unavailable", "{missing}");
    assert!(!path.exists());
    // An empty database has no schema, and a read-only store will not migrate it.
    let empty = sqlx::SqliteConnection::connect(&url).await.expect("create");
    empty.close().await.expect("close");
    let error = Store::connect_with(&url, &read_only)
        .await
        .expect_err("no schema");
    assert_eq!(error.code(), "schema_not_ready", "{error}");
    assert!(error.to_string().contains("writable node"), "{error}");

    let Some(db) = support::postgres().await else {
        return;
    };
    let Some(empty_pg) = provost_testkit::TestDatabase::postgres().await else {
        return;
    };
    let error = Store::connect_with(&empty_pg.url, &read_only)
        .await
        .expect_err("no schema");
    assert_eq!(error.code(), "schema_not_ready", "{error}");
    let reader = Store::connect_with(&db.url, &read_only)
        .await
        .expect("a migrated database opens read-only");
    assert!(reader.read_only());
    reader.close().await;
    db.finish().await;
}

/// A SQLite database that may not grow (`max_page_count`, as a full disk) fails writes with
/// SQLITE_FULL (13), which the store names `storage_full`; reads go on.
#[tokio::test]
async fn a_full_sqlite_database_is_storage_full() {
    let db = support::sqlite().await;
    let options = provost_testkit::sqlite_at_capacity(&db.url).await;
    let full = Store::connect_with(&db.url, &options).await.expect("open");
    let users: Vec<Change> = (0..500)
        .map(|i| Change::UserPut {
            user: User {
                username: format!("user-{i:04}-with-a-long-name-to-fill-pages"),
                ..User::default()
            },
        })
        .collect();
    let error = full.commit("tester", &users).await.expect_err("no room");
    assert_eq!(error.code(), "storage_full", "{error}");
    assert!(error.is_full());
    let sqlx_code = std::error::Error::source(&error)
        .and_then(|e| e.downcast_ref::<sqlx::Error>())
        .and_then(|e| e.as_database_error())
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(sqlx_code.as_deref(), Some("13"), "SQLITE_FULL");
    assert_eq!(full.revision().await.expect("reads still work"), 0);
    full.close().await;
    db.finish().await;
}
