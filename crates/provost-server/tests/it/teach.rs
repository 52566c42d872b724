//! Issue 15's "answers that teach" over HTTP: a user update keeps what it leaves out.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{start, COURSE};

/// `PUT /api/v1/users/{name}` without `staff` keeps the stored flag; `"staff": false` clears it.
#[tokio::test]
async fn a_user_update_keeps_the_flags_it_leaves_out() {
    let server = start().await;
    let admin = server.admin();
    let put = |body: serde_json::Value| {
        let admin = admin.clone();
        let server = &server;
        async move {
            let saved = server
                .call(Method::PUT, "/api/v1/users/sam", Some(&admin), Some(body))
                .await;
            assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
            saved.body["revision"].as_u64().expect("revision")
        }
    };
    let staff_passes = |revision: u64| {
        let admin = admin.clone();
        let server = &server;
        async move {
            let answer = server
                .check(&admin, json!({ "subject": "sam", "action": "courses.edit_course_content", "scope": COURSE, "at_least_revision": revision }))
                .await;
            answer.body["allowed"] == true
        }
    };
    let r = put(json!({ "staff": true })).await;
    assert!(staff_passes(r).await);
    let r = put(json!({ "email": "sam@example.org" })).await;
    assert!(
        staff_passes(r).await,
        "an email change keeps the staff flag"
    );
    let r = put(json!({})).await;
    assert!(staff_passes(r).await, "an empty body keeps the staff flag");
    let r = put(json!({ "staff": false, "email": null })).await;
    assert!(!staff_passes(r).await, "`staff: false` clears it");
    let refused = server
        .call(
            Method::PUT,
            "/api/v1/users/sam",
            Some(&admin),
            Some(json!({ "staff": "yes" })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    // Not an object: refused, not read as the fields in order.
    let refused = server
        .call(
            Method::PUT,
            "/api/v1/users/sam",
            Some(&admin),
            Some(json!([null, null])),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
}
