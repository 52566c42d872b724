//! Storage in trouble: a full SQLite disk (507 `storage_full`), a PostgreSQL outage (fails within
//! the acquire timeout), and read-only nodes (503 `read_only`, still following the writers).

use std::time::Duration;

use provost_server::{Node, ServerConfig};
use provost_store::{Store, StoreOptions};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{serve_node, start_on, test_config, TestServer, COURSE};
use provost_testkit::relay::Relay;
use provost_testkit::TestDatabase;

fn staff(subjects: impl IntoIterator<Item = String>) -> Value {
    let items: Vec<Value> = subjects
        .into_iter()
        .map(|s| json!({ "subject": s, "role": "course_staff", "scope": COURSE }))
        .collect();
    json!({ "assignments": items })
}

async fn allowed(server: &TestServer, subject: &str, at_least: Option<u64>) -> bool {
    let mut question =
        json!({ "subject": subject, "action": "courses.edit_course_content", "scope": COURSE });
    if let Some(revision) = at_least {
        question["at_least_revision"] = json!(revision);
    }
    let answer = server.check(&server.admin(), question).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["allowed"] == true
}

async fn health(server: &TestServer) -> Value {
    server.call(Method::GET, "/healthz", None, None).await.body
}

/// The database file may not grow past what it holds (`max_page_count`): writes hit SQLITE_FULL
/// as on a full disk. They answer 507 `storage_full`, `/healthz` says so, checks go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_507_and_healthz_reports_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("provost.db").display()
    );
    let setup = Node::open(&url).await.expect("node opens");
    setup
        .store()
        .commit(
            "setup",
            &[provost_engine::Change::AssignmentAdd {
                assignment: provost_engine::Assignment::new("alice", "course_staff", COURSE),
            }],
        )
        .await
        .expect("assign alice");
    setup.store().close().await;
    let options = provost_testkit::sqlite_at_capacity(&url).await;
    let store = Store::connect_with(&url, &options).await.expect("open");
    let node = Node::from_store(store).await.expect("node");
    let server = serve_node(node, test_config(), url, dir).await;
    assert_eq!(health(&server).await["database"], "ok");

    let many = staff((0..500).map(|i| format!("learner-{i:04}-with-a-long-name")));
    let answer = server
        .post("/api/v1/assignments", &server.admin(), many)
        .await;
    assert_eq!(
        answer.status,
        StatusCode::INSUFFICIENT_STORAGE,
        "{}",
        answer.text
    );
    assert_eq!(answer.code(), "storage_full");

    let report = health(&server).await;
    assert_eq!(report["status"], "degraded", "{report}");
    assert_eq!(report["database"], "full", "{report}");
    assert!(allowed(&server, "alice", None).await, "checks still work");
    assert!(!allowed(&server, "learner-0000-with-a-long-name", None).await);
}

/// During an outage a write gives up after the store's acquire timeout (here 200 ms) with
/// `database_unavailable`, well inside the request timeout (5 s): with the pool's old fixed
/// 10 s it would be the request timeout that answered (`timeout`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_fails_writes_within_the_acquire_timeout() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let relay = Relay::start(&db.url).await;
    let url = relay.url.clone();
    let options = StoreOptions {
        acquire_timeout: Duration::from_millis(200),
        ..StoreOptions::default()
    };
    let node = Node::open_with(&url, &options).await.expect("node opens");
    let config = ServerConfig {
        request_timeout: Duration::from_secs(5),
        ..test_config()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = serve_node(node, config, url, dir).await;
    let revision = server
        .assign(staff(["alice".to_owned()])["assignments"].clone())
        .await;
    assert!(revision > 0);

    relay.cut();
    let answer = server
        .post(
            "/api/v1/assignments",
            &server.admin(),
            staff(["bob".to_owned()]),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.text
    );
    assert_eq!(answer.code(), "database_unavailable");
    assert!(allowed(&server, "alice", None).await, "checks still work");
    drop(server);
    drop(db);
}

/// A read-only node on the database a writable node writes: it serves checks, follows the
/// writer's changes, and answers every write 503 `read_only`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_postgres_node_refuses_writes_and_follows_changes() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let writer = start_on(&db.url).await;
    let first = writer
        .assign(staff(["alice".to_owned()])["assignments"].clone())
        .await;

    let options = StoreOptions {
        read_only: true,
        ..StoreOptions::default()
    };
    let node = Node::open_with(&db.url, &options)
        .await
        .expect("read-only node opens");
    let dir = tempfile::tempdir().expect("temp dir");
    let reader = serve_node(node, test_config(), db.url.clone(), dir).await;
    assert_eq!(health(&reader).await["read_only"], true);
    assert_eq!(health(&writer).await["read_only"], false);
    assert!(allowed(&reader, "alice", Some(first)).await);

    let admin = reader.admin();
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/assignments",
            staff(["bob".to_owned()]),
        ),
        (
            Method::DELETE,
            "/api/v1/assignments",
            staff(["alice".to_owned()]),
        ),
        (
            Method::PUT,
            "/api/v1/users/carol",
            json!({ "email": "carol@example.com" }),
        ),
    ] {
        let answer = reader
            .call(method.clone(), path, Some(&admin), Some(body))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}: {}",
            answer.text
        );
        assert_eq!(answer.code(), "read_only", "{method} {path}");
    }
    let retire = reader
        .call(Method::DELETE, "/api/v1/users/alice", Some(&admin), None)
        .await;
    assert_eq!(retire.code(), "read_only");

    // The writer's next change reaches the reader through the audit log.
    let second = writer
        .assign(staff(["dave".to_owned()])["assignments"].clone())
        .await;
    assert!(allowed(&reader, "dave", Some(second)).await);
    assert!(allowed(&reader, "alice", None).await, "nothing was removed");
    drop((reader, writer));
    drop(db);
}
