//! Hostile input on every route: malformed JSON, wrong types, unknown fields, oversize bodies,
//! bad query strings and invalid scope keys all answer a 4xx in the error shape and change nothing.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{enc, start, Answer, TestServer, COURSE};

/// A route that takes a JSON body, with a well-formed body and the same body made hostile.
struct BodyRoute {
    method: Method,
    path: &'static str,
    wrong_types: Value,
    unknown_field: Value,
    /// A body whose only fault is a bad scope key (or other bad key), when the route has one.
    bad_key: Option<Value>,
}

fn body_routes() -> Vec<BodyRoute> {
    let item = |scope: &str| json!({ "subject": "zed", "role": "course_staff", "scope": scope });
    vec![
        BodyRoute {
            method: Method::POST,
            path: "/api/v1/check",
            wrong_types: json!({ "action": 5, "scope": COURSE }),
            unknown_field: json!({ "action": "courses.view_course", "scope": COURSE, "sudo": true }),
            bad_key: Some(json!({ "action": "courses.view_course", "scope": "course-v1:MITx*" })),
        },
        BodyRoute {
            method: Method::POST,
            path: "/api/v1/check/batch",
            wrong_types: json!({ "checks": "all of them" }),
            unknown_field: json!({ "checks": [{ "action": "courses.view_course", "scope": COURSE, "x": 1 }] }),
            bad_key: Some(
                json!({ "checks": [{ "action": "courses.view_course", "scope": "org:MIT*" }] }),
            ),
        },
        BodyRoute {
            method: Method::POST,
            path: "/api/v1/assignments",
            wrong_types: json!({ "assignments": [{ "subject": 1, "role": [], "scope": null }] }),
            unknown_field: json!({ "assignments": [item(COURSE)], "force": true }),
            bad_key: Some(json!({ "assignments": [item("lib:MITx:py*")] })),
        },
        BodyRoute {
            method: Method::DELETE,
            path: "/api/v1/assignments",
            wrong_types: json!({ "assignments": {}, "atomic": "yes" }),
            unknown_field: json!({ "assignments": [{ "subject": "zed", "role": "course_staff", "scope": COURSE, "why": "x" }] }),
            bad_key: Some(json!({ "assignments": [item("*:*")] })),
        },
        BodyRoute {
            method: Method::POST,
            path: "/api/v1/roles",
            wrong_types: json!({ "name": "r1", "permissions": "courses.view_course" }),
            unknown_field: json!({ "name": "r1", "permissions": [], "builtin": true }),
            bad_key: Some(
                json!({ "name": "r1", "permissions": ["courses.view_course"], "org": "MIT*" }),
            ),
        },
        BodyRoute {
            method: Method::PUT,
            path: "/api/v1/roles/r2",
            wrong_types: json!({ "permissions": [1, 2] }),
            unknown_field: json!({ "permissions": [], "name": "other" }),
            bad_key: Some(json!({ "permissions": [], "org": "bad org" })),
        },
        BodyRoute {
            method: Method::PUT,
            path: "/api/v1/users/zed",
            wrong_types: json!({ "staff": "yes" }),
            unknown_field: json!({ "email": "z@example.org", "is_admin": true }),
            bad_key: Some(json!({ "email": "not an email" })),
        },
        BodyRoute {
            method: Method::POST,
            path: "/api/authz/v1/permissions/validate/me",
            wrong_types: json!({ "action": "courses.view_course" }),
            unknown_field: json!([{ "action": "courses.view_course", "scope": COURSE, "user": "admin" }]),
            // Bad scopes are answers here (allowed: false), checked below.
            bad_key: None,
        },
    ]
}

/// Asserts a 4xx in Provost's error shape.
fn refused(answer: &Answer, what: &str) -> String {
    assert!(
        answer.status.is_client_error(),
        "{what}: expected a 4xx, got {}: {}",
        answer.status,
        answer.text
    );
    answer.code().to_owned()
}

async fn send(
    server: &TestServer,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    server
        .raw(method, path, &server.admin(), content_type, body)
        .await
}

#[tokio::test]
async fn hostile_bodies_are_refused_on_every_route_and_change_nothing() {
    let server = start().await;
    let start_revision = server.revision().await;
    let json_type = Some("application/json");
    let oversize = {
        let mut body = b"{\"action\": \"".to_vec();
        body.extend(std::iter::repeat_n(b'a', 200 * 1024));
        body.extend(b"\", \"scope\": \"*\"}");
        body
    };
    for route in body_routes() {
        let (m, p) = (route.method.clone(), route.path);
        let what = |case: &str| format!("{m} {p} ({case})");

        let answer = send(&server, m.clone(), p, json_type, b"{\"action\": ".to_vec()).await;
        assert_eq!(refused(&answer, &what("truncated json")), "malformed_json");
        let answer = send(&server, m.clone(), p, json_type, b"\xff\xfe{]".to_vec()).await;
        assert_eq!(refused(&answer, &what("binary junk")), "malformed_json");
        let answer = send(&server, m.clone(), p, json_type, Vec::new()).await;
        refused(&answer, &what("empty body"));
        let answer = send(
            &server,
            m.clone(),
            p,
            json_type,
            route.wrong_types.to_string().into_bytes(),
        )
        .await;
        assert_eq!(refused(&answer, &what("wrong types")), "invalid_body");
        let answer = send(
            &server,
            m.clone(),
            p,
            json_type,
            route.unknown_field.to_string().into_bytes(),
        )
        .await;
        assert_eq!(refused(&answer, &what("unknown field")), "invalid_body");
        let answer = send(
            &server,
            m.clone(),
            p,
            None,
            route.unknown_field.to_string().into_bytes(),
        )
        .await;
        assert_eq!(
            refused(&answer, &what("no content type")),
            "unsupported_media_type"
        );
        assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let answer = send(&server, m.clone(), p, Some("text/plain"), b"{}".to_vec()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{}",
            what("text/plain")
        );
        let answer = send(&server, m.clone(), p, json_type, oversize.clone()).await;
        assert_eq!(refused(&answer, &what("oversize")), "body_too_large");
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
        let answer = send(&server, m.clone(), p, json_type, b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec()).await;
        refused(&answer, &what("deep nesting"));
        if let Some(bad) = route.bad_key {
            let answer = send(
                &server,
                m.clone(),
                p,
                json_type,
                bad.to_string().into_bytes(),
            )
            .await;
            refused(&answer, &what("bad key"));
        }
        assert_eq!(
            server.revision().await,
            start_revision,
            "{} changed the revision",
            what("any")
        );
    }

    // The MFE endpoint answers bad scopes and unknown actions as `false`, never an error.
    let questions = json!([
        { "action": "courses.view_course", "scope": "course-v1:MITx*" },
        { "action": "courses.view_course", "scope": "x".repeat(300) },
        { "action": "courses.view_course", "scope": "" },
        { "action": "", "scope": COURSE },
        { "action": "\u{0}\u{202e}", "scope": "program:\u{1F600}" },
    ]);
    let answer = server
        .post(
            "/api/authz/v1/permissions/validate/me",
            &server.token("alice"),
            questions,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(answer
        .body
        .as_array()
        .expect("array")
        .iter()
        .all(|r| r["allowed"] == false));
    assert_eq!(server.revision().await, start_revision);
}

#[tokio::test]
async fn hostile_queries_and_paths_are_refused_and_change_nothing() {
    let server = start().await;
    let start_revision = server.revision().await;
    let long = "x".repeat(300);
    let cases: Vec<(Method, String)> = vec![
        (Method::POST, "/api/v1/check?explain=maybe".into()),
        (Method::POST, "/api/v1/check?debug=1".into()),
        (Method::GET, "/api/v1/assignments?limit=abc".into()),
        (Method::GET, "/api/v1/assignments?limit=-5".into()),
        (Method::GET, "/api/v1/assignments?bogus=1".into()),
        (
            Method::GET,
            format!("/api/v1/assignments?scope={}", enc("course-v1:MITx*")),
        ),
        (Method::GET, "/api/v1/assignments?cursor=%00%01".into()),
        (Method::GET, "/api/v1/roles/course_staff/impact".into()),
        (
            Method::GET,
            "/api/v1/roles/course_staff/impact?permissions=a&limit=x".into(),
        ),
        (
            Method::GET,
            "/api/v1/roles/no_such_role/impact?permissions=".into(),
        ),
        (Method::GET, "/api/v1/roles/no_such_role".into()),
        (Method::GET, "/api/v1/lookup/subjects?scope=*".into()),
        (
            Method::GET,
            format!(
                "/api/v1/lookup/subjects?action=courses.view_course&scope={}",
                enc("org:MIT*")
            ),
        ),
        (
            Method::GET,
            format!("/api/v1/lookup/subjects?action=courses.view_course&scope={long}"),
        ),
        (
            Method::GET,
            "/api/v1/lookup/scopes?action=courses.view_course&kind=planet".into(),
        ),
        (
            Method::GET,
            "/api/v1/lookup/scopes?action=courses.view_course&unknown=1".into(),
        ),
        (Method::GET, "/api/v1/audit?since=yesterday".into()),
        (
            Method::GET,
            format!("/api/v1/audit?scope={}", enc("lib:MITx:py*")),
        ),
        (Method::GET, "/api/v1/audit?cursor=bm90LWpzb24".into()),
        (Method::DELETE, "/api/v1/roles/no_such_role".into()),
        (Method::DELETE, "/api/v1/roles/course_staff".into()),
        (Method::DELETE, "/api/v1/users/nobody".into()),
        (Method::DELETE, "/api/v1/users/bad%20name".into()),
        (Method::GET, "/api/v1/roles/%FF%FE".into()),
    ];
    for (method, path) in cases {
        let answer = server
            .call(method.clone(), &path, Some(&server.admin()), None)
            .await;
        refused(&answer, &format!("{method} {path}"));
    }
    let answer = server
        .call(
            Method::PUT,
            "/api/v1/users/bad%20name",
            Some(&server.admin()),
            Some(json!({})),
        )
        .await;
    assert_eq!(refused(&answer, "PUT bad username"), "invalid_username");
    let answer = server
        .call(
            Method::PUT,
            &format!("/api/v1/users/{long}"),
            Some(&server.admin()),
            Some(json!({})),
        )
        .await;
    refused(&answer, "PUT long username");
    assert_eq!(server.revision().await, start_revision);
}
