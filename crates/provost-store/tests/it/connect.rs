//! Connecting: URL schemes, unreachable databases, in-memory SQLite, PostgreSQL notifications.

use provost_engine::{Change, User};
use provost_store::{Outcome, Store};

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

#[test]
fn test_database_urls_replace_the_database_name() {
    assert_eq!(
        support::with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        support::with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        support::with_database("postgresql://h:5432", "x"),
        "postgresql://h:5432/x"
    );
}
