//! Who manages the teams of a kind is read from the policy file (an app's `manage`), not fixed
//! in code: changing the file changes who may assign there.

use provost_engine::DEFAULT_POLICY;
use provost_server::access::Actor;
use provost_server::apps::authz::roles;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{start, TestServer, COURSE};

const COURSES_MANAGED: &str =
    r#"courses = { kind = "course", manage = "courses.manage_course_team" }"#;

async fn load(server: &TestServer, text: &str, prune: bool) {
    roles::load_policy(&server.node, &Actor::operator(), text, prune)
        .await
        .expect("policy loads");
}

/// `who` (a token) grants `course_auditor` to `subject` at the course.
async fn grant(server: &TestServer, who: &str, subject: &str) -> crate::support::Answer {
    server
        .post(
            "/api/v1/assignments",
            &server.token(who),
            json!({ "assignments": [{ "subject": subject, "role": "course_auditor", "scope": COURSE }] }),
        )
        .await
}

#[tokio::test]
async fn the_permission_that_manages_a_kinds_teams_comes_from_the_policy() {
    assert!(DEFAULT_POLICY.contains(COURSES_MANAGED));
    let server = start().await;
    server
        .assign(json!([{ "subject": "ann", "role": "course_auditor", "scope": COURSE }]))
        .await;
    let refused = grant(&server, "ann", "bob").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(
        refused.text.contains("needs `courses.manage_course_team`"),
        "{}",
        refused.text
    );

    // The file now says auditors' `view_course_team` manages course teams.
    let text = DEFAULT_POLICY.replace(
        COURSES_MANAGED,
        r#"courses = { kind = "course", manage = "courses.view_course_team" }"#,
    );
    load(&server, &text, false).await;
    let granted = grant(&server, "ann", "bob").await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
}

#[tokio::test]
async fn a_file_naming_no_manage_permission_keeps_the_stored_one_unless_pruned() {
    let server = start().await;
    server
        .assign(json!([{ "subject": "olga", "role": "course_admin", "scope": COURSE }]))
        .await;
    // A policy file written before apps named their manage permission.
    let old = DEFAULT_POLICY.replace(COURSES_MANAGED, r#"courses = "course""#);
    load(&server, &old, false).await;
    let granted = grant(&server, "olga", "bob").await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);

    // Pruned, the file is the whole policy: no permission manages course teams, admins only.
    load(&server, &old, true).await;
    let refused = grant(&server, "olga", "carl").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(
        refused.text.contains("only admins manage assignments"),
        "{}",
        refused.text
    );
}
