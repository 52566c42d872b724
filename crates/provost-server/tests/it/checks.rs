//! Checks: for oneself and for others, explained, batched, read-your-writes, and the MFE endpoint.

use std::time::Duration;

use provost_server::access::Actor;
use provost_server::apps::authz::service::{self, AssignmentInput};
use provost_server::{Node, TokenSpec};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{start, COURSE};

#[tokio::test]
async fn checking_for_someone_else_needs_authz_service() {
    let server = start().await;
    server
        .assign(json!([{ "subject": "alice", "role": "course_staff", "scope": "org:MITx" }]))
        .await;
    let question =
        json!({ "subject": "alice", "action": "courses.edit_course_content", "scope": COURSE });

    let bob = server.token("bob");
    let answer = server.check(&bob, question.clone()).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let batch = json!({ "checks": [question.clone()] });
    let answer = server
        .post("/api/v1/check/batch", &bob, batch.clone())
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body["error"]["details"]["index"], 0);

    // Alice may ask about herself.
    let own = json!({ "action": "courses.edit_course_content", "scope": COURSE });
    let answer = server.check(&server.token("alice"), own).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["allowed"], true);

    server
        .assign(json!([{ "subject": "svc", "role": "authz_service", "scope": "*" }]))
        .await;
    let svc = server.token("svc");
    let answer = server.check(&svc, question).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["allowed"], true);
    let answer = server.post("/api/v1/check/batch", &svc, batch).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn explain_adds_the_reason_and_path() {
    let server = start().await;
    server
        .assign(json!([{ "subject": "alice", "role": "course_staff", "scope": "org:MITx" }]))
        .await;
    let body = json!({ "subject": "alice", "action": "courses.view_course", "scope": COURSE });
    let plain = server.check(&server.admin(), body.clone()).await;
    assert_eq!(plain.body["allowed"], true);
    assert!(plain.body.get("because").is_none() && plain.body.get("reason").is_none());

    let explained = server
        .post("/api/v1/check?explain=true", &server.admin(), body)
        .await;
    assert_eq!(explained.status, StatusCode::OK);
    assert_eq!(explained.body["reason"], "assignment");
    let because = &explained.body["because"][0];
    assert_eq!(because["role"], "course_staff");
    assert_eq!(because["held_at"], "org:MITx");
    assert_eq!(because["inherited"], true);

    let denied = server
        .post(
            "/api/v1/check?explain=true",
            &server.admin(),
            json!({ "subject": "alice", "action": "courses.fly", "scope": COURSE }),
        )
        .await;
    assert_eq!(denied.body["allowed"], false);
    assert_eq!(denied.body["reason"], "unknown_action");
}

#[tokio::test]
async fn batches_keep_their_order() {
    let server = start().await;
    server
        .assign(json!([{ "subject": "alice", "role": "course_staff", "scope": "org:MITx" }]))
        .await;
    let scopes = [
        COURSE,
        "course-v1:HarvardX+CS50+2024",
        "course-v1:MITx+*",
        "course-v1:*",
        COURSE,
    ];
    let checks: Vec<_> = scopes
        .iter()
        .map(|s| json!({ "subject": "alice", "action": "courses.view_course", "scope": s }))
        .collect();
    let answer = server
        .post(
            "/api/v1/check/batch",
            &server.admin(),
            json!({ "checks": checks }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let allowed: Vec<bool> = answer.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["allowed"].as_bool().expect("bool"))
        .collect();
    assert_eq!(allowed, [true, false, true, false, true]);

    let too_many: Vec<_> = (0..1001)
        .map(|_| json!({ "action": "a.b", "scope": "*" }))
        .collect();
    let answer = server
        .post(
            "/api/v1/check/batch",
            &server.admin(),
            json!({ "checks": too_many }),
        )
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::BAD_REQUEST, "too_many_items")
    );
}

#[tokio::test]
async fn a_write_is_visible_at_its_revision_even_from_another_node() {
    let server = start().await;
    let revision = server
        .assign(json!([{ "subject": "rita", "role": "course_staff", "scope": COURSE }]))
        .await;
    let question = json!({ "subject": "rita", "action": "courses.view_course", "scope": COURSE, "at_least_revision": revision });
    let answer = server.check(&server.admin(), question).await;
    assert_eq!(answer.body["allowed"], true);
    assert!(answer.body["revision"].as_u64().expect("revision") >= revision);

    // Another node (the CLI, another server) writes to the same database; this node learns
    // of it from the audit log when asked to be at least at that revision.
    let other = Node::open(&server.url).await.expect("second node");
    let item = AssignmentInput {
        subject: "otto".into(),
        role: "course_staff".into(),
        scope: COURSE.into(),
        valid_from: None,
        valid_until: None,
    };
    let written = service::assign(&other, &Actor::operator(), &[item], true)
        .await
        .expect("assign on the other node");
    let question = json!({ "subject": "otto", "action": "courses.view_course", "scope": COURSE, "at_least_revision": written.revision });
    let answer = server.check(&server.admin(), question).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["allowed"], true);

    let future = json!({ "action": "courses.view_course", "scope": COURSE, "at_least_revision": written.revision + 1000 });
    let started = std::time::Instant::now();
    let answer = server.check(&server.admin(), future).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "revision_not_reached")
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    other.store().close().await;
}

#[tokio::test]
async fn the_mfe_endpoint_answers_every_question_in_order() {
    let server = start().await;
    server
        .assign(json!([{ "subject": "alice", "role": "course_staff", "scope": "org:MITx" }]))
        .await;
    let questions = json!([
        { "action": "courses.view_course", "scope": COURSE },
        { "action": "courses.view_course" },
        { "action": "courses.manage_course_team", "scope": COURSE },
        { "action": "courses.launch_rocket", "scope": COURSE },
        { "action": "courses.view_course", "scope": "course-v1:MITx*" },
        { "action": "content_libraries.view_library" },
        { "action": "programs.read_reports", "scope": "program:ghost" },
    ]);
    let answer = server
        .post(
            "/api/authz/v1/permissions/validate/me",
            &server.token("alice"),
            questions,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let results = answer.body.as_array().expect("array");
    let allowed: Vec<bool> = results
        .iter()
        .map(|r| r["allowed"].as_bool().expect("bool"))
        .collect();
    assert_eq!(allowed, [true, true, false, false, false, false, false]);
    assert_eq!(results[0]["scope"], COURSE);
    assert_eq!(results[3]["action"], "courses.launch_rocket");
    assert!(results[1].get("scope").is_none());

    // A token's own `roles` claim counts (enterprise access's JWT roles).
    let uuid = "5c5ba8ad-8e8a-4d9d-b7a6-1f9e2b3c4d5e";
    let token = server.token_with(TokenSpec {
        username: "erin".into(),
        roles: vec![format!("enterprise_admin:{uuid}")],
        ttl: Duration::from_secs(600),
        ..TokenSpec::default()
    });
    let questions = json!([
        { "action": "subsidy_access_policy.has_read_access", "scope": format!("enterprise:{uuid}") },
        { "action": "subsidy_access_policy.has_read_access" },
        { "action": "subsidy_access_policy.has_read_access", "scope": "enterprise:00000000-0000-0000-0000-000000000000" },
    ]);
    let answer = server
        .post("/api/authz/v1/permissions/validate/me", &token, questions)
        .await;
    let allowed: Vec<bool> = answer
        .body
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["allowed"].as_bool().expect("bool"))
        .collect();
    assert_eq!(allowed, [true, true, false], "{}", answer.text);
}

#[tokio::test]
async fn a_tokens_staff_flag_counts_for_checks_about_its_bearer() {
    let server = start().await;
    let question = json!({ "action": "courses.edit_course_content", "scope": COURSE });
    let plain = server.token("tess");
    assert_eq!(
        server.check(&plain, question.clone()).await.body["allowed"],
        false
    );
    let staff = server.token_with(TokenSpec {
        username: "tess".into(),
        staff: true,
        ..TokenSpec::default()
    });
    let answer = server.check(&staff, question).await;
    assert_eq!(answer.body["allowed"], true, "{}", answer.text);
    // Staff pass on courses only, never on programs or with unknown actions.
    let program = json!({ "action": "courses.fly", "scope": COURSE });
    assert_eq!(server.check(&staff, program).await.body["allowed"], false);
}

/// JSON has one number type: `at_least_revision: 3.0` is the whole number the document's
/// `integer` allows; a fraction is no revision.
#[tokio::test]
async fn revisions_may_be_written_as_whole_floats() {
    let server = start().await;
    let token = server.token("alice");
    let question = |revision: f64| json!({ "action": "courses.view_course", "scope": COURSE, "at_least_revision": revision });
    let answer = server.check(&token, question(1.0)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let batch = json!({ "checks": [{ "action": "courses.view_course", "scope": COURSE }], "at_least_revision": 1.0 });
    let answer = server.post("/api/v1/check/batch", &token, batch).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let answer = server.check(&token, question(1.5)).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::BAD_REQUEST, "invalid_revision")
    );
}
