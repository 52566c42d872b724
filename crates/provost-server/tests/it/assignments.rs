//! Assignments: who may grant what, mixed and atomic bulk requests, removal.

use provost_testkit::{start, COURSE};
use serde_json::json;

const ASSIGNMENTS: &str = "/api/v1/assignments";

#[tokio::test]
async fn nobody_grants_more_than_they_hold() {
    let server = start().await;
    server
        .assign(json!([
            { "subject": "stan", "role": "course_staff", "scope": COURSE },
            { "subject": "ada", "role": "course_admin", "scope": COURSE },
        ]))
        .await;
    let grant = |role: &str, scope: &str| json!({ "assignments": [{ "subject": "eve", "role": role, "scope": scope }] });

    // Course staff do not manage the course team.
    let answer = server
        .as_user("stan")
        .post(ASSIGNMENTS, grant("course_admin", COURSE))
        .await
        .expect(403, "forbidden");
    assert_eq!(
        answer.body["error"]["details"]["items"][0]["error"]["code"],
        "forbidden"
    );

    // A course admin may not grant at the org above the course.
    let ada = server.as_user("ada");
    ada.post(ASSIGNMENTS, grant("course_admin", "org:MITx"))
        .await
        .expect(403, "forbidden");
    // Nor at another course.
    ada.post(
        ASSIGNMENTS,
        grant("course_staff", "course-v1:MITx+18.01x+2024"),
    )
    .await
    .expect(403, "forbidden");

    // But course staff, yes: its `legacy_staff_role_permissions` marker is not an ability the
    // admin must hold (instructors add staff in Open edX today).
    ada.post(ASSIGNMENTS, grant("course_staff", COURSE))
        .await
        .ok();

    // But at their own course, roles whose permissions they hold.
    let answer = ada
        .post(ASSIGNMENTS, grant("course_editor", COURSE))
        .await
        .ok();
    assert_eq!(answer.body["items"][0]["status"], "created");
    let again = ada
        .post(ASSIGNMENTS, grant("course_editor", COURSE))
        .await
        .ok();
    assert_eq!(again.body["items"][0]["status"], "exists");
    assert_eq!(again.revision(), answer.revision());
}

#[tokio::test]
async fn a_mixed_bulk_request_is_207_and_a_hopeless_one_422() {
    let server = start().await;
    let admin = server.as_admin();
    let body = json!({ "assignments": [
        { "subject": "u1", "role": "course_staff", "scope": COURSE },
        { "subject": "u2", "role": "course_staff", "scope": "course-v1:MITx*" },
        { "subject": "u3", "role": "no_such_role", "scope": COURSE },
        { "subject": "u4", "role": "library_user", "scope": "lib:MITx:python" },
    ]});
    let answer = admin.post(ASSIGNMENTS, body).await.expect_status(207);
    let statuses: Vec<&str> = answer.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["created", "error", "error", "created"]);
    assert_eq!(answer.body["items"][1]["error"]["code"], "invalid_scope");
    assert_eq!(answer.body["items"][2]["error"]["code"], "unknown_role");

    let hopeless = json!({ "assignments": [
        { "subject": "u5", "role": "course_staff", "scope": "org:MIT*" },
        { "subject": "bad name!", "role": "course_staff", "scope": COURSE },
    ]});
    let answer = admin
        .post(ASSIGNMENTS, hopeless)
        .await
        .expect(422, "nothing_applied");
    assert_eq!(
        answer.body["error"]["details"]["items"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Removal: one removed, one that was never there.
    let body = json!({ "assignments": [
        { "subject": "u1", "role": "course_staff", "scope": COURSE },
        { "subject": "u9", "role": "course_staff", "scope": COURSE },
    ]});
    let answer = admin.delete_with(ASSIGNMENTS, body).await.ok();
    assert_eq!(answer.body["items"][0]["status"], "removed");
    assert_eq!(answer.body["items"][1]["status"], "not_found");

    admin
        .post(ASSIGNMENTS, json!({ "assignments": [] }))
        .await
        .expect(400, "empty_request");
}

#[tokio::test]
async fn an_atomic_request_with_one_bad_item_changes_nothing() {
    let server = start().await;
    let admin = server.as_admin();
    let before = server.revision().await;
    let body = json!({ "atomic": true, "assignments": [
        { "subject": "a1", "role": "course_staff", "scope": COURSE },
        { "subject": "a2", "role": "course_editor", "scope": "org:MITx" },
        { "subject": "a3", "role": "course_staff", "scope": "course-v1:MITx*" },
    ]});
    let answer = admin
        .post(ASSIGNMENTS, body)
        .await
        .expect(422, "atomic_refused");
    let items = &answer.body["error"]["details"]["items"];
    assert_eq!(items[0]["status"], "skipped");
    assert_eq!(items[2]["status"], "error");

    assert_eq!(server.revision().await, before);
    for subject in ["a1", "a2", "a3"] {
        let listed = admin
            .get(&format!("/api/v1/assignments?subject={subject}"))
            .await
            .ok();
        assert_eq!(listed.body["items"], json!([]), "{subject}");
    }
    let audit = admin
        .get(&format!("/api/v1/audit?since={before}"))
        .await
        .ok();
    assert_eq!(audit.body["items"], json!([]));

    // The same request without the bad item goes through whole.
    let body = json!({ "atomic": true, "assignments": [
        { "subject": "a1", "role": "course_staff", "scope": COURSE },
        { "subject": "a2", "role": "course_editor", "scope": "org:MITx" },
    ]});
    admin.post(ASSIGNMENTS, body).await.ok();
    let audit = admin.get(&format!("/api/v1/audit?since={before}")).await;
    assert_eq!(audit.body["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(audit.body["items"][0]["actor"], "admin");
    assert_eq!(audit.body["items"][0]["op"], "assignment_add");
}
