//! The service describing itself: the OpenAPI document and Prometheus metrics.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{start, COURSE};

/// Every route of the service, as (method, OpenAPI path).
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/check"),
    ("post", "/api/v1/check/batch"),
    ("get", "/api/v1/assignments"),
    ("post", "/api/v1/assignments"),
    ("delete", "/api/v1/assignments"),
    ("get", "/api/v1/roles"),
    ("post", "/api/v1/roles"),
    ("get", "/api/v1/roles/{name}"),
    ("put", "/api/v1/roles/{name}"),
    ("delete", "/api/v1/roles/{name}"),
    ("get", "/api/v1/roles/{name}/impact"),
    ("get", "/api/v1/permissions"),
    ("get", "/api/v1/lookup/subjects"),
    ("get", "/api/v1/lookup/scopes"),
    ("put", "/api/v1/users/{username}"),
    ("delete", "/api/v1/users/{username}"),
    ("get", "/api/v1/audit"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/authz/v1/permissions/validate/me"),
];

#[tokio::test]
async fn openapi_lists_every_route() {
    let server = start().await;
    let doc = server
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.")));
    let paths = doc.body["paths"].as_object().expect("paths");
    for (method, path) in ROUTES {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is missing from the OpenAPI document"
        );
    }
    let documented: usize = paths
        .values()
        .map(|p| p.as_object().map_or(0, |o| o.len()))
        .sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "the document lists routes the server does not have"
    );
    assert!(doc.body["components"]["schemas"]["CheckRequest"].is_object());
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
}

/// What a client (and schemathesis in CI) relies on beyond the route list: every `/api/` operation
/// declares the errors it can answer in the error shape, and request keys carry the server's rules.
#[tokio::test]
async fn openapi_declares_errors_and_key_rules() {
    let server = start().await;
    let doc = server
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .body;
    let shared = &doc["components"]["responses"];
    for name in [
        "BadRequest",
        "Unauthorized",
        "Forbidden",
        "ServiceUnavailable",
    ] {
        assert_eq!(
            shared[name]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{name}"
        );
    }
    for (method, path) in ROUTES
        .iter()
        .filter(|(_, p)| p.starts_with("/api/v1/") || p.starts_with("/api/authz/"))
    {
        if *path == "/api/v1/openapi.json" {
            continue;
        }
        let operation = &doc["paths"][*path][*method];
        for status in ["400", "401", "403", "429", "503"] {
            assert!(
                operation["responses"][status].is_object(),
                "{method} {path} does not declare {status}"
            );
        }
        if operation["requestBody"].is_object() {
            assert!(
                operation["responses"]["415"].is_object(),
                "{method} {path} lacks 415"
            );
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["CheckRequest"]["additionalProperties"], false);
    assert_eq!(schemas["ScopeKey"]["maxLength"], 255);
    assert_eq!(schemas["Username"]["maxLength"], 150);
    assert_eq!(schemas["AtLeastRevision"]["maximum"], i64::MAX);
    assert_eq!(
        schemas["BulkRequest"]["properties"]["assignments"]["minItems"],
        1
    );
    let limit = doc["paths"]["/api/v1/assignments"]["get"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "limit"))
        .expect("limit");
    assert_eq!(
        (
            limit["schema"]["minimum"].clone(),
            limit["schema"]["maximum"].clone()
        ),
        (json!(1), json!(1000))
    );
}

#[tokio::test]
async fn metrics_count_requests_checks_and_state() {
    let server = start().await;
    server
        .assign(json!([{ "subject": "alice", "role": "course_staff", "scope": "org:MITx" }]))
        .await;
    let admin = server.admin();
    for scope in [COURSE, "course-v1:HarvardX+CS50+2024"] {
        server
            .check(
                &admin,
                json!({ "subject": "alice", "action": "courses.view_course", "scope": scope }),
            )
            .await;
    }
    server.get("/api/v1/roles/course_staff", &admin).await;
    let response = server
        .client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .is_ok_and(|t| t.starts_with("text/plain")));
    let text = response.text().await.expect("text");
    for needle in [
        "provost_http_requests_total{method=\"POST\",route=\"/api/v1/check\",status=\"200\"} 2",
        "route=\"/api/v1/roles/{name}\"",
        "provost_http_request_duration_seconds_bucket",
        "provost_checks_total{result=\"allowed\"} 1",
        "provost_checks_total{result=\"denied\"} 1",
        "provost_engine_revision ",
        "provost_assignments 1",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}
