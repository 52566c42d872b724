//! Role-assignment events from a real `provost serve`: the process is SIGKILLed while it
//! publishes, Redis is killed (losing the stream) while changes keep coming from the CLI, and in
//! the end the stream holds every assignment change of the audit log, in revision order, once.

use std::time::Duration;

use provost_testkit::TestRedis;
use serde_json::{json, Value};

use crate::{admin_token, Cli, ServeNode};

const TOPIC: &str = "authz-role-assignment";

/// Every assignment change in the audit log, oldest first, as the stream should show them.
fn audit_changes(cli: &Cli) -> Vec<(String, Value)> {
    let out = cli.ok(&["--json", "audit", "--since", "0", "--limit", "10000"]);
    let answer: Value = serde_json::from_str(&out).expect("audit --json is JSON");
    let mut entries: Vec<Value> = answer
        .as_array()
        .expect("an array of entries")
        .iter()
        .filter(|e| {
            e["change"]["op"] == "assignment_add" || e["change"]["op"] == "assignment_remove"
        })
        .cloned()
        .collect();
    entries.sort_by_key(|e| e["revision"].as_u64());
    entries
        .into_iter()
        .map(|e| {
            let change = &e["change"];
            let (kind, a) = if change["op"] == "assignment_add" {
                ("org.openedx.authz.role_assignment.created.v1", &change["assignment"])
            } else {
                ("org.openedx.authz.role_assignment.deleted.v1", change)
            };
            let data = json!({ "subject": a["subject"], "role": a["role"], "scope": a["scope"], "revision": e["revision"] });
            (kind.to_owned(), data)
        })
        .collect()
}

async fn published(redis: &TestRedis) -> Vec<(String, Value)> {
    redis
        .events(TOPIC)
        .await
        .into_iter()
        .map(|(kind, d)| {
            let data = json!({ "subject": d["subject"], "role": d["role"], "scope": d["scope"], "revision": d["revision"] });
            (kind, data)
        })
        .collect()
}

async fn assign(node: &ServeNode, token: &str, from: usize, to: usize) -> u64 {
    let items: Vec<Value> = (from..to)
        .map(|i| json!({ "subject": format!("u{i:05}"), "role": "library_user", "scope": "lib:OrgA:lib1" }))
        .collect();
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/assignments", node.url))
        .bearer_auth(token)
        .json(&json!({ "assignments": items }))
        .send()
        .await
        .expect("the node answers");
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.expect("JSON");
    body["revision"].as_u64().expect("revision")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_serve_and_a_restarted_redis_lose_no_event_and_reorder_none() {
    let cli = Cli::new();
    let mut redis = TestRedis::start();
    let bus = [("PROVOST_EVENT_BUS_URL", redis.url())];
    let env: Vec<(&str, &str)> = bus.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let token = admin_token();

    // Four thousand changes, and SIGKILL as soon as the first are out.
    let mut node = ServeNode::start_with_env(&cli.url(), &[], &env);
    for chunk in 0..4 {
        assign(&node, &token, chunk * 1000, (chunk + 1) * 1000).await;
    }
    while redis.len(TOPIC).await == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    node.child.kill().expect("SIGKILL serve");
    node.child.wait().expect("serve is gone");
    let before = redis.len(TOPIC).await;
    eprintln!("serve was killed after publishing {before} of 4000 events");

    // Changes while no node runs, then a new node resumes after the stream's last event.
    cli.ok(&["unassign", "u00002", "library_user", "lib:OrgA:lib1"]);
    cli.ok(&["users", "retire", "u00003"]);
    node = ServeNode::start_with_env(&cli.url(), &[], &env);
    let last = assign(&node, &token, 4000, 4010).await;
    redis.caught_up(TOPIC, last).await;
    assert_eq!(published(&redis).await, audit_changes(&cli));

    // Redis dies, losing the stream; changes go on; it comes back empty and is refilled.
    redis.kill();
    assign(&node, &token, 4010, 4020).await;
    redis.launch();
    let last = assign(&node, &token, 4020, 4022).await;
    redis.caught_up(TOPIC, last).await;
    let expected = audit_changes(&cli);
    assert_eq!(
        expected.len(),
        4022 + 2,
        "4 022 assignments and two removals"
    );
    assert_eq!(published(&redis).await, expected);
}
