//! The shared conformance scenario (tests/scenarios/core.toml) through the HTTP API.

use provost_engine::scenario::Scenario;
use provost_server::access::Actor;
use provost_server::apps::authz::service::AssignmentInput;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::start;

const CORE: &str = include_str!("../../../../tests/scenarios/core.toml");

#[tokio::test]
async fn every_scenario_check_gives_its_expected_decision_over_http() {
    run_scenario(start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_check_gives_its_expected_decision_over_http_on_postgres() {
    let db = crate::cluster::Database::create().await;
    run_scenario(crate::support::start_on(&db.url).await).await;
    db.drop().await;
}

async fn run_scenario(server: crate::support::TestServer) {
    let scenario = Scenario::from_toml(CORE).expect("scenario parses");
    let admin = server.admin();

    for user in &scenario.users {
        let body = json!({ "email": user.email, "staff": user.staff, "superuser": user.superuser });
        let path = format!("/api/v1/users/{}", user.username);
        let answer = server
            .call(Method::PUT, &path, Some(&admin), Some(body))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    // Registering programs and batches has no HTTP route yet (their apps will create them), so
    // they go through the same service the CLI's `provost register` uses, on the server's node.
    for r in &scenario.registrations {
        provost_server::access::register_scope(
            &server.node,
            &Actor::operator(),
            &r.scope,
            &r.parents,
        )
        .await
        .expect("registration");
    }
    let items: Vec<AssignmentInput> = scenario
        .assignments
        .iter()
        .cloned()
        .map(AssignmentInput::from)
        .collect();
    let revision = server
        .assign(serde_json::to_value(&items).expect("json"))
        .await;

    let mut failures = Vec::new();
    for c in &scenario.checks {
        let body = json!({ "subject": c.subject, "action": c.action, "scope": c.scope, "at_least_revision": revision });
        let answer = server
            .post("/api/v1/check?explain=true", &admin, body)
            .await;
        let (allowed, reason) = match answer.status {
            StatusCode::OK => (
                answer.body["allowed"].as_bool().expect("allowed"),
                answer.body["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ),
            // A malformed key is a 400 over HTTP; it denies, for the reason the engine gives.
            StatusCode::BAD_REQUEST if answer.code() == "invalid_scope" => {
                (false, "invalid_scope".to_owned())
            }
            other => panic!("{}: unexpected {other}: {}", c.name, answer.text),
        };
        let reason_ok = c.reason.as_deref().is_none_or(|r| r == reason);
        if allowed != c.allowed || !reason_ok {
            failures.push(format!("{}: got allowed={allowed} ({reason})", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        scenario.checks.len(),
        failures.join("\n")
    );
}
