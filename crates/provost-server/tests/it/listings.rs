//! Listings and definitions: paginated assignments, lookups and audit; roles, impact, users.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{enc, start, TestServer, COURSE};

/// Follows `next_cursor` from `path` (which has a `?`) to the end; returns every item.
async fn walk(server: &TestServer, path: &str, token: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let page = server.get(&url, token).await;
        assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.text);
        pages += 1;
        items.extend(
            page.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .cloned(),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert!(page.body["next_cursor"].is_null());
                return (items, pages);
            }
        }
        assert!(pages < 100, "pagination does not end");
    }
}

#[tokio::test]
async fn pagination_walks_every_page_once() {
    let server = start().await;
    let admin = server.admin();
    let before = server.revision().await;
    let items: Vec<Value> = (0..250)
        .map(|i| json!({ "subject": format!("u{i:03}"), "role": "course_staff", "scope": COURSE }))
        .collect();
    server.assign(Value::Array(items)).await;

    let (items, pages) = walk(
        &server,
        "/api/v1/assignments?role=course_staff&limit=100",
        &admin,
    )
    .await;
    assert_eq!(pages, 3);
    let subjects: Vec<&str> = items
        .iter()
        .map(|i| i["subject"].as_str().expect("subject"))
        .collect();
    assert_eq!(subjects.len(), 250);
    assert_eq!(
        subjects.iter().collect::<BTreeSet<_>>().len(),
        250,
        "no duplicates"
    );
    assert!(subjects.windows(2).all(|w| w[0] < w[1]), "in order");

    // Exactly one full page: no empty page after it.
    let (_, pages) = walk(
        &server,
        "/api/v1/assignments?role=course_staff&limit=250",
        &admin,
    )
    .await;
    assert_eq!(pages, 1);

    let (who, pages) = walk(
        &server,
        &format!(
            "/api/v1/lookup/subjects?action=courses.view_course&scope={}&limit=7",
            enc(COURSE)
        ),
        &admin,
    )
    .await;
    assert!(pages > 30);
    let all = server
        .get(
            &format!(
                "/api/v1/lookup/subjects?action=courses.view_course&scope={}&limit=1000",
                enc(COURSE)
            ),
            &admin,
        )
        .await;
    assert_eq!(Value::Array(who), all.body["items"]);
    assert!(all.body["items"].as_array().is_some_and(|a| a.len() >= 250));

    let (audit, _) = walk(
        &server,
        &format!("/api/v1/audit?since={before}&limit=40"),
        &admin,
    )
    .await;
    let revisions: Vec<u64> = audit
        .iter()
        .map(|e| e["revision"].as_u64().expect("revision"))
        .collect();
    assert_eq!(revisions.len(), 250);
    assert!(revisions.windows(2).all(|w| w[0] < w[1]));

    let bad = server
        .get("/api/v1/assignments?cursor=not-a-cursor", &admin)
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "invalid_cursor")
    );
    let zero = server.get("/api/v1/assignments?limit=0", &admin).await;
    assert_eq!(
        (zero.status, zero.code()),
        (StatusCode::BAD_REQUEST, "invalid_limit")
    );
    // The document says 1 to 1000; more is refused rather than quietly cut.
    let over = server.get("/api/v1/assignments?limit=1001", &admin).await;
    assert_eq!(
        (over.status, over.code()),
        (StatusCode::BAD_REQUEST, "invalid_limit")
    );
}

#[tokio::test]
async fn lookups_of_scopes_and_own_assignments() {
    let server = start().await;
    server
        .assign(json!([
            { "subject": "alice", "role": "course_staff", "scope": "org:MITx" },
            { "subject": "alice", "role": "library_user", "scope": "lib:HarvardX:stats" },
        ]))
        .await;
    let alice = server.token("alice");
    let mine = server
        .get("/api/v1/lookup/scopes?action=courses.view_course", &alice)
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    assert_eq!(mine.body["items"], json!(["course-v1:MITx+*"]));
    let libs = server
        .get("/api/v1/lookup/scopes?subject=alice&action=content_libraries.view_library&kind=library", &alice)
        .await;
    assert_eq!(libs.body["items"], json!(["lib:HarvardX:stats"]));
    let others = server
        .get(
            "/api/v1/lookup/scopes?subject=bob&action=courses.view_course",
            &alice,
        )
        .await;
    assert_eq!(others.status, StatusCode::FORBIDDEN);
    let bad_kind = server
        .get(
            "/api/v1/lookup/scopes?action=courses.view_course&kind=planet",
            &alice,
        )
        .await;
    assert_eq!(
        (bad_kind.status, bad_kind.code()),
        (StatusCode::BAD_REQUEST, "invalid_kind")
    );

    // Anyone may list their own assignments; others' need rights.
    let own = server
        .get("/api/v1/assignments?subject=alice", &alice)
        .await;
    assert_eq!(own.body["items"].as_array().map(Vec::len), Some(2));
    let all = server
        .get("/api/v1/assignments", &server.token("bob"))
        .await;
    assert_eq!(all.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn roles_permissions_and_impact() {
    let server = start().await;
    let admin = server.admin();
    server
        .assign(json!([
            { "subject": "rex", "role": "course_auditor", "scope": COURSE },
        ]))
        .await;

    let roles = server.get("/api/v1/roles", &server.token("bob")).await;
    assert_eq!(roles.status, StatusCode::OK);
    let auditor = roles.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["name"] == "course_auditor")
        .expect("course_auditor")
        .clone();
    assert_eq!(auditor["builtin"], true);
    assert_eq!(auditor["assignments"], 1);

    let permissions = server.get("/api/v1/permissions", &admin).await;
    let publish = permissions.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["name"] == "content_libraries.publish_library_content")
        .expect("publish")
        .clone();
    assert_eq!(publish["kind"], "library");
    assert!(publish["closure"]
        .as_array()
        .is_some_and(|c| c.contains(&json!("content_libraries.view_library"))));

    let created = server
        .post(
            "/api/v1/roles",
            &admin,
            json!({ "name": "grader", "description": "grades", "permissions": ["courses.view_course"] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let created_at = created.body["revision"].as_u64().expect("revision");
    assert_eq!(created.body["closure"], json!(["courses.view_course"]));
    let again = server
        .post(
            "/api/v1/roles",
            &admin,
            json!({ "name": "grader", "permissions": [] }),
        )
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "role_exists")
    );
    server
        .assign(json!([{ "subject": "gus", "role": "grader", "scope": "org:MITx" }]))
        .await;

    let impact = server
        .get(
            "/api/v1/roles/grader/impact?permissions=courses.view_grading_settings",
            &admin,
        )
        .await;
    assert_eq!(impact.status, StatusCode::OK, "{}", impact.text);
    assert_eq!(
        impact.body["gained"],
        json!(["courses.view_grading_settings"])
    );
    assert_eq!(impact.body["lost"], json!(["courses.view_course"]));
    assert_eq!(impact.body["assignments"][0]["subject"], "gus");
    assert_eq!(
        impact.body["assignments"][0]["lost"],
        json!(["courses.view_course"])
    );
    let unknown = server
        .get(
            "/api/v1/roles/grader/impact?permissions=courses.fly",
            &admin,
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_permission")
    );
    let not_allowed = server
        .get(
            "/api/v1/roles/grader/impact?permissions=",
            &server.token("gus"),
        )
        .await;
    assert_eq!(not_allowed.status, StatusCode::FORBIDDEN);

    let replaced = server
        .call(
            Method::PUT,
            "/api/v1/roles/grader",
            Some(&admin),
            Some(
                json!({ "permissions": ["courses.view_course", "courses.view_grading_settings"] }),
            ),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
    assert!(replaced.body["revision"].as_u64().expect("revision") > created_at);
    let one = server.get("/api/v1/roles/grader", &admin).await;
    assert_eq!(one.body["permissions"].as_array().map(Vec::len), Some(2));
    assert_eq!(one.body["assignments"], 1);

    let builtin = server
        .call(
            Method::PUT,
            "/api/v1/roles/course_staff",
            Some(&admin),
            Some(json!({ "permissions": [] })),
        )
        .await;
    assert_eq!(
        (builtin.status, builtin.code()),
        (StatusCode::CONFLICT, "builtin_role")
    );
    let by_user = server
        .call(
            Method::DELETE,
            "/api/v1/roles/grader",
            Some(&server.token("gus")),
            None,
        )
        .await;
    assert_eq!(by_user.status, StatusCode::FORBIDDEN);
    let deleted = server
        .call(Method::DELETE, "/api/v1/roles/grader", Some(&admin), None)
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert!(deleted.body["revision"].as_u64().is_some());
    let gone = server.get("/api/v1/roles/grader", &admin).await;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "unknown_role")
    );
    let listed = server.get("/api/v1/assignments?subject=gus", &admin).await;
    assert_eq!(listed.body["items"], json!([]));
}

#[tokio::test]
async fn users_are_upserted_and_retired() {
    let server = start().await;
    let admin = server.admin();
    let saved = server
        .call(
            Method::PUT,
            "/api/v1/users/sam",
            Some(&admin),
            Some(json!({ "email": "sam@example.org", "staff": true })),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(saved.body["username"], "sam");
    let revision = saved.body["revision"].as_u64().expect("revision");
    // Staff pass on courses.
    let answer = server
        .check(&admin, json!({ "subject": "sam", "action": "courses.edit_course_content", "scope": COURSE, "at_least_revision": revision }))
        .await;
    assert_eq!(answer.body["allowed"], true);

    let by_user = server
        .call(
            Method::PUT,
            "/api/v1/users/sam",
            Some(&server.token("bob")),
            Some(json!({ "superuser": true })),
        )
        .await;
    assert_eq!(by_user.status, StatusCode::FORBIDDEN);

    server
        .assign(json!([{ "subject": "sam", "role": "library_user", "scope": "lib:*" }]))
        .await;
    let retired = server
        .call(Method::DELETE, "/api/v1/users/sam", Some(&admin), None)
        .await;
    assert_eq!(retired.status, StatusCode::OK, "{}", retired.text);
    let listed = server.get("/api/v1/assignments?subject=sam", &admin).await;
    assert_eq!(listed.body["items"], json!([]));
    let audit = server.get("/api/v1/audit?subject=sam", &admin).await;
    let ops: Vec<&str> = audit.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["op"].as_str().expect("op"))
        .collect();
    assert!(
        ops.contains(&"assignment_remove") && ops.contains(&"user_remove"),
        "{ops:?}"
    );
    let again = server
        .call(Method::DELETE, "/api/v1/users/sam", Some(&admin), None)
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::NOT_FOUND, "user_not_found")
    );
}
