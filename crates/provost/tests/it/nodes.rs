//! Two real `provost serve` processes on one PostgreSQL: read-your-writes across them, and a node
//! killed with SIGKILL that comes back with everything, by cold start and the change feed.
//! PostgreSQL must be reachable (`scripts/test.sh` starts it); this fails when it is not, unless
//! `PROVOST_SKIP_POSTGRES=1` skips it.

use std::time::{Duration, Instant};

use provost_testkit::TestDatabase;
use serde_json::{json, Value};

use crate::{admin_token, ServeNode};

const COURSE: &str = "course-v1:MITx+6.00x+2024T1";

impl ServeNode {
    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let answer = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("the node answers");
        let status = answer.status().as_u16();
        (status, answer.json().await.expect("a JSON answer"))
    }

    async fn revision(&self) -> u64 {
        let health: Value = reqwest::get(format!("{}/healthz", self.url))
            .await
            .expect("healthz answers")
            .json()
            .await
            .expect("healthz is JSON");
        health["revision"].as_u64().expect("revision")
    }

    async fn allowed(&self, token: &str, subject: &str, at_least: Option<u64>) -> bool {
        let mut question =
            json!({ "subject": subject, "action": "courses.edit_course_content", "scope": COURSE });
        if let Some(revision) = at_least {
            question["at_least_revision"] = json!(revision);
        }
        let (status, body) = self.post("/api/v1/check", token, question).await;
        assert_eq!(status, 200, "{body}");
        body["allowed"] == true
    }

    /// Assigns `course_staff` at the course and returns the write's revision.
    async fn assign(&self, token: &str, subject: &str) -> u64 {
        let items = json!({ "assignments": [{ "subject": subject, "role": "course_staff", "scope": COURSE }] });
        let (status, body) = self.post("/api/v1/assignments", token, items).await;
        assert_eq!(status, 200, "{body}");
        body["revision"].as_u64().expect("revision")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_nodes_share_writes_and_a_killed_node_comes_back_whole() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let database_url = db.url.clone();

    let a = ServeNode::start(&database_url);
    let mut b = ServeNode::start(&database_url);
    let token = admin_token();

    // Read-your-writes: written through A, allowed on B at once with the revision A returned.
    let first = a.assign(&token, "alice").await;
    assert!(b.allowed(&token, "alice", Some(first)).await);

    // B dies without a chance to clean up; a write lands while it is down.
    b.child.kill().expect("SIGKILL node B");
    b.child.wait().expect("node B is gone");
    let second = a.assign(&token, "bob").await;

    // B starts again from the database alone: both writes are there without waiting.
    b = ServeNode::start(&database_url);
    assert!(b.revision().await >= second);
    assert!(b.allowed(&token, "alice", None).await);
    assert!(b.allowed(&token, "bob", None).await);

    // A write through the new B reaches A by the change feed, and both settle on one revision.
    let third = b.assign(&token, "carol").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.revision().await < third && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(a.revision().await, b.revision().await);
    assert!(a.allowed(&token, "carol", None).await);

    drop((a, b));
    drop(db);
}
