//! The shared conformance scenarios (tests/scenarios/*.toml) through the HTTP API.

use provost_engine::{Assignment, ScopeRegistration, User};
use provost_server::access::Actor;
use provost_server::apps::authz::service::AssignmentInput;
use provost_testkit::scenario::{Implementation, Outcome, Scenario};
use provost_testkit::{start, start_on, TestDatabase, TestServer};
use serde_json::json;

/// The API of a test server, read-your-writes at the last revision written.
struct OverHttp {
    server: TestServer,
    revision: u64,
}

impl Implementation for OverHttp {
    async fn put_users(&mut self, users: &[User]) {
        let admin = self.server.as_admin();
        for user in users {
            let body =
                json!({ "email": user.email, "staff": user.staff, "superuser": user.superuser });
            let path = format!("/api/v1/users/{}", user.username);
            admin.put(&path, body).await.ok();
        }
    }

    async fn register_scopes(&mut self, registrations: &[ScopeRegistration]) {
        // Registering programs and batches has no HTTP route yet (their apps will create
        // them), so they go through the service the CLI's `provost register` uses.
        for r in registrations {
            provost_server::access::register_scope(
                &self.server.node,
                &Actor::operator(),
                &r.scope,
                &r.parents,
            )
            .await
            .expect("registration");
        }
    }

    async fn assign(&mut self, assignments: &[Assignment]) {
        let items: Vec<AssignmentInput> = assignments
            .iter()
            .cloned()
            .map(AssignmentInput::from)
            .collect();
        self.revision = self
            .server
            .assign(serde_json::to_value(&items).expect("json"))
            .await;
    }

    async fn check(&mut self, subject: &str, action: &str, scope: &str) -> Outcome {
        let body = json!({ "subject": subject, "action": action, "scope": scope, "at_least_revision": self.revision });
        let answer = self
            .server
            .as_admin()
            .post("/api/v1/check?explain=true", body)
            .await;
        match answer.status.as_u16() {
            200 => Outcome {
                allowed: answer.body["allowed"].as_bool().expect("allowed"),
                reason: answer.body["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            },
            // A malformed key is a 400 over HTTP; it denies, for the reason the engine gives.
            400 if answer.code() == "invalid_scope" => Outcome {
                allowed: false,
                reason: "invalid_scope".to_owned(),
            },
            other => panic!(
                "{subject} {action} {scope}: unexpected {other}: {}",
                answer.text
            ),
        }
    }
}

#[tokio::test]
async fn every_scenario_check_gives_its_expected_decision_over_http() {
    for (name, scenario) in Scenario::all() {
        eprintln!("scenario {name}");
        let server = start().await;
        scenario
            .run(&mut OverHttp {
                server,
                revision: 0,
            })
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_check_gives_its_expected_decision_over_http_on_postgres() {
    for (name, scenario) in Scenario::all() {
        let Some(db) = TestDatabase::postgres().await else {
            return;
        };
        eprintln!("scenario {name}");
        let server = start_on(&db.url).await;
        scenario
            .run(&mut OverHttp {
                server,
                revision: 0,
            })
            .await;
    }
}
