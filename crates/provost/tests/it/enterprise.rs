//! `provost enterprise expire`, and the same sweep inside `serve`: allocated content assignments
//! whose time has come become `expired`, audited, once.

use std::time::Duration;

use provost_server::access::Actor;
use provost_server::apps::enterprise::{assignments, imports, policies};
use provost_server::Node;
use serde_json::{json, Value};

use crate::{Cli, ServeNode};

const CUSTOMER: &str = "cccccccc-0000-4000-8000-000000000003";

/// A customer with an assigned policy and one assignment of content whose enroll-by date has
/// passed, so it is due at once. Returns the policy.
async fn due_assignment(url: &str) -> String {
    let node = Node::open(url).await.expect("node");
    let op = Actor::operator();
    let subsidy: imports::SubsidyInput = serde_json::from_value(json!({
        "enterprise_customer_uuid": CUSTOMER, "title": "credit", "starting_balance_cents": 100000,
        "active_datetime": "2020-01-01T00:00:00Z", "expiration_datetime": "2099-01-01T00:00:00Z" }))
    .expect("subsidy");
    let (subsidy, _) = imports::put_subsidy(&node, &op, &subsidy)
        .await
        .expect("subsidy");
    let catalog: imports::CatalogInput = serde_json::from_value(json!({
        "enterprise_customer_uuid": CUSTOMER, "title": "all",
        "content": [{ "content_key": "edX+Late", "price_cents": 1000, "enroll_by": "2021-01-01T00:00:00Z" }] }))
    .expect("catalog");
    let (catalog, _) = imports::put_catalog(&node, &op, &catalog)
        .await
        .expect("catalog");
    let policy: policies::PolicyInput = serde_json::from_value(json!({
        "policy_type": "AssignedLearnerCreditAccessPolicy", "enterprise_customer_uuid": CUSTOMER,
        "catalog_uuid": catalog.uuid, "subsidy_uuid": subsidy.uuid, "spend_limit": 5000, "active": true }))
    .expect("policy");
    let (policy, _) = policies::create(&node, &op, &policy).await.expect("policy");
    let allocation: assignments::AllocateInput = serde_json::from_value(json!({
        "learner_emails": ["ada@example.com"], "content_key": "edX+Late", "content_price_cents": 1000 }))
    .expect("allocation");
    assignments::allocate(&node, &op, &policy.uuid, &allocation)
        .await
        .expect("allocated");
    node.store().close().await;
    policy.uuid
}

async fn states(url: &str, policy: &str) -> Vec<String> {
    let node = Node::open(url).await.expect("node");
    let list = assignments::list(&node, &Actor::operator(), policy)
        .await
        .expect("list");
    list.results.iter().map(|a| a.state.clone()).collect()
}

#[test]
fn expire_command_expires_due_assignments_once() {
    let cli = Cli::new();
    cli.ok(&["roles", "list"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let policy = runtime.block_on(due_assignment(&cli.url()));
    let first: Value =
        serde_json::from_str(&cli.ok(&["--json", "enterprise", "expire"])).expect("json");
    assert_eq!(first["expired"][0]["state"], "expired");
    assert_eq!(first["expired"].as_array().map(Vec::len), Some(1));
    assert!(cli
        .ok(&["enterprise", "expire"])
        .contains("expired 0 assignment(s)"));
    assert_eq!(runtime.block_on(states(&cli.url(), &policy)), ["expired"]);
    let audit = cli.ok(&["--json", "audit", "--limit", "5"]);
    assert!(
        audit.contains("assignment_expired") && audit.contains("cli:"),
        "{audit}"
    );
}

#[test]
fn serve_expires_due_assignments_by_itself() {
    let cli = Cli::new();
    cli.ok(&["roles", "list"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let policy = runtime.block_on(due_assignment(&cli.url()));
    let _node = ServeNode::start(&cli.url());
    // The sweep runs as the node starts; wait for it, bounded.
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = runtime.block_on(states(&cli.url(), &policy));
        if seen == ["expired"] {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(seen, ["expired"]);
    let audit = cli.ok(&["--json", "audit", "--limit", "5"]);
    assert!(audit.contains("provost:enterprise-expiry"), "{audit}");
}
