//! Several nodes on one PostgreSQL: read-your-writes across nodes, the change feed, and
//! concurrent writers. PostgreSQL must be reachable (`scripts/test.sh` starts it); these tests
//! fail when it is not, unless `PROVOST_SKIP_POSTGRES=1` skips them.

use std::time::{Duration, Instant};

use provost_testkit::relay::Relay;
use provost_testkit::TestDatabase;
use serde_json::json;

use crate::support::{start_on, TestServer, COURSE};

fn grant(subject: &str, scope: &str) -> serde_json::Value {
    json!({ "assignments": [{ "subject": subject, "role": "course_staff", "scope": scope }] })
}

async fn allowed_on(
    node: &TestServer,
    subject: &str,
    at_least: Option<u64>,
) -> (u16, serde_json::Value) {
    let mut question =
        json!({ "subject": subject, "action": "courses.edit_course_content", "scope": COURSE });
    if let Some(revision) = at_least {
        question["at_least_revision"] = json!(revision);
    }
    let answer = node.post("/api/v1/check", &node.admin(), question).await;
    (answer.status.as_u16(), answer.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_node_is_read_on_the_other() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let a = start_on(&db.url).await;
    let b = start_on(&db.url).await;

    let written = a
        .post(
            "/api/v1/assignments",
            &a.admin(),
            grant("alice", "org:MITx"),
        )
        .await;
    assert_eq!(written.status.as_u16(), 200, "{}", written.text);
    let revision = written.body["revision"]
        .as_u64()
        .expect("a write answers its revision");

    // With the revision token, node B answers from that revision at once.
    let (status, body) = allowed_on(&b, "alice", Some(revision)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["allowed"], true);
    assert!(body["revision"].as_u64().unwrap_or(0) >= revision);

    // Without it, B still sees A's next write within a bounded time (notification or poll).
    let started = Instant::now();
    a.post("/api/v1/assignments", &a.admin(), grant("bob", "org:MITx"))
        .await;
    loop {
        if allowed_on(&b, "bob", None).await.1["allowed"] == true {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "node B did not see the write within 3 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop((a, b));
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_two_nodes_lose_nothing_and_agree() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let a = start_on(&db.url).await;
    let b = start_on(&db.url).await;
    let before = a.revision().await;

    // 64 writers, half on each node, 4 assignments each; every writer also repeats one of
    // writer 0's assignments, which must be created once and then reported as existing.
    let mut tasks = Vec::new();
    for writer in 0..64 {
        let node_base = if writer % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let token = a.admin();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut statuses = Vec::new();
            for i in 0..4 {
                let subject = format!("w{writer}u{i}");
                for body in [grant(&subject, COURSE), grant("w0u0", COURSE)] {
                    let answer = client
                        .post(format!("{node_base}/api/v1/assignments"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .expect("sent");
                    let json: serde_json::Value = answer.json().await.expect("json");
                    statuses.push(
                        json["items"][0]["status"]
                            .as_str()
                            .unwrap_or("?")
                            .to_owned(),
                    );
                }
            }
            statuses
        }));
    }
    let mut created = 0;
    for task in tasks {
        for status in task.await.expect("writer") {
            assert!(
                status == "created" || status == "exists",
                "unexpected status {status}"
            );
            created += usize::from(status == "created");
        }
    }
    assert_eq!(
        created,
        64 * 4,
        "each distinct assignment created exactly once"
    );

    let last = a.revision().await.max(b.revision().await);
    let audit = a
        .get(
            &format!("/api/v1/audit?since={before}&limit=1000"),
            &a.admin(),
        )
        .await;
    let rows = audit.body["items"].as_array().expect("audit items");
    assert_eq!(
        rows.len(),
        64 * 4,
        "one audit row per change, none for repeats"
    );
    assert_eq!(last - before, 64 * 4, "revisions are gap-free");

    // Both engines end identical.
    for node in [&a, &b] {
        node.node
            .wait_for(last, Duration::from_secs(5))
            .await
            .expect("caught up");
    }
    let digest = |node: &TestServer| {
        let mut all: Vec<_> = node.node.index().assignments().collect();
        all.sort();
        all
    };
    assert_eq!(digest(&a), digest(&b));
    assert_eq!(digest(&a).len(), 64 * 4);
    drop((a, b));
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_survive_a_database_outage_and_nodes_converge_after() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let relay = Relay::start(&db.url).await;
    let a = std::sync::Arc::new(start_on(&relay.url).await);
    let b = std::sync::Arc::new(start_on(&relay.url).await);
    let written = a
        .post(
            "/api/v1/assignments",
            &a.admin(),
            grant("alice", "org:MITx"),
        )
        .await;
    let revision = written.body["revision"].as_u64().expect("revision");
    assert_eq!(
        allowed_on(&b, "alice", Some(revision)).await.1["allowed"],
        true
    );

    // A steady check load on both nodes for the whole outage.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for node in [a.clone(), b.clone()] {
        let stop = stop.clone();
        load.push(tokio::spawn(async move {
            let (mut served, mut failed) = (0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, body) = allowed_on(&node, "alice", None).await;
                if status == 200 && body["allowed"] == true {
                    served += 1;
                } else {
                    failed.push(format!("{status} {body}"));
                }
            }
            (served, failed)
        }));
    }

    relay.cut();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let during = a
        .post("/api/v1/assignments", &a.admin(), grant("bob", "org:MITx"))
        .await;
    assert_eq!(
        during.status.as_u16(),
        503,
        "a write during the outage: {}",
        during.text
    );
    let health = a.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(health.body["database"], "unavailable", "{}", health.text);
    tokio::time::sleep(Duration::from_millis(300)).await;
    relay.restore();

    // Writes work again once the database is back (the pool reconnects by itself).
    let started = Instant::now();
    let after = loop {
        let answer = b
            .post("/api/v1/assignments", &b.admin(), grant("bob", "org:MITx"))
            .await;
        if answer.status.as_u16() == 200 {
            break answer.body["revision"].as_u64().expect("revision");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "writes did not recover: {}",
            answer.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        let (served, failed) = task.await.expect("load");
        assert!(
            failed.is_empty(),
            "checks failed during the outage: {failed:?}"
        );
        assert!(served > 10, "the load ran ({served} checks)");
    }
    for node in [&a, &b] {
        node.node
            .wait_for(after, Duration::from_secs(10))
            .await
            .expect("node converges");
    }
    assert_eq!(a.node.engine().revision(), b.node.engine().revision());
    assert_eq!(allowed_on(&a, "bob", None).await.1["allowed"], true);
    drop((a, b));
    drop(db);
}
