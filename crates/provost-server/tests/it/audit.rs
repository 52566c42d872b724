//! `GET /api/v1/audit`: newest first for people, paged backwards; with `since`, a forward feed.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{start, TestServer, COURSE};

fn revisions(page: &Value) -> Vec<u64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["revision"].as_u64().expect("revision"))
        .collect()
}

async fn page(server: &TestServer, query: &str) -> Value {
    let answer = server
        .get(&format!("/api/v1/audit?{query}"), &server.admin())
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_changes_come_first_and_since_reads_forward() {
    let server = start().await;
    let policy_end = server.revision().await;
    assert!(policy_end > 3, "the default policy fills the log first");
    let mut mine = Vec::new();
    for subject in ["alice", "bob", "carol"] {
        mine.push(
            server
                .assign(json!([{ "subject": subject, "role": "course_staff", "scope": COURSE }]))
                .await,
        );
    }

    // Without `since`, a person sees their own changes first, not the policy load.
    let first = page(&server, "limit=2").await;
    assert_eq!(revisions(&first), [mine[2], mine[1]]);
    assert_eq!(
        first["items"][0]["change"]["assignment"]["subject"],
        "carol"
    );
    assert_eq!(first["items"][0]["actor"], "admin");
    // The cursor goes on backwards, past the start of the user's changes into the policy's.
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = page(&server, &format!("limit=2&cursor={cursor}")).await;
    assert_eq!(revisions(&second), [mine[0], policy_end]);
    // The last page is short and has no cursor.
    let last = page(&server, "limit=1000").await;
    assert_eq!(revisions(&last).len() as u64, mine[2]);
    assert_eq!(revisions(&last).last(), Some(&1));
    assert!(last["next_cursor"].is_null());
    // Filters read newest first too.
    let bob = page(&server, "subject=bob").await;
    assert_eq!(revisions(&bob), [mine[1]]);

    // With `since`, the feed reads forward and its cursor keeps going forward.
    let feed = page(&server, &format!("since={policy_end}&limit=2")).await;
    assert_eq!(revisions(&feed), [mine[0], mine[1]]);
    let cursor = feed["next_cursor"].as_str().expect("a next page");
    let rest = page(&server, &format!("limit=2&cursor={cursor}")).await;
    assert_eq!(revisions(&rest), [mine[2]]);
    assert!(rest["next_cursor"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apps_entries_are_listed_with_the_engines_in_one_revision_order() {
    let server = start().await;
    let before = server.revision().await;
    // What a batches app would write: its creator's assignment and its own entry, at once.
    let written = server
        .node
        .write("ada", |tx| {
            Box::pin(async move {
                let assignment = provost_engine::Assignment::new("ada", "course_staff", COURSE);
                tx.apply(&provost_engine::Change::AssignmentAdd { assignment })
                    .await?;
                tx.audit(provost_store::AppAudit {
                    app: "batches".into(),
                    operation: "batch_create".into(),
                    subject: Some("ada".into()),
                    scope: Some("batch:7".into()),
                    after: Some(json!({ "name": "Python 101" })),
                    before: None,
                })
                .await?;
                Ok("created")
            })
        })
        .await
        .expect("the app's write");
    assert_eq!((written.value, written.revision), ("created", before + 2));
    // The write returns once this node has applied it.
    assert_eq!(server.node.engine().revision(), before + 2);

    let newest = page(&server, "limit=2").await;
    assert_eq!(revisions(&newest), [before + 2, before + 1]);
    let app = &newest["items"][0];
    assert_eq!(
        (&app["app"], &app["op"], &app["actor"]),
        (&json!("batches"), &json!("batch_create"), &json!("ada"))
    );
    assert_eq!(
        (&app["subject"], &app["scope"]),
        (&json!("ada"), &json!("batch:7"))
    );
    assert_eq!(app["change"], json!({ "name": "Python 101" }));
    let engine = &newest["items"][1];
    assert_eq!(engine["op"], "assignment_add");
    assert!(engine.get("app").is_none(), "{engine}");

    let forward = page(&server, &format!("since={}", before)).await;
    assert_eq!(revisions(&forward), [before + 1, before + 2]);
    let about_ada = page(&server, "subject=ada").await;
    assert_eq!(revisions(&about_ada), [before + 2, before + 1]);
    let in_the_batch = page(&server, "scope=batch:7").await;
    assert_eq!(revisions(&in_the_batch), [before + 2]);
}
