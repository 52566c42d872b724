//! The service describing itself: the OpenAPI document and Prometheus metrics.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{start, COURSE};

/// The service's own routes, beside the apps' ones.
const OPS_ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
];

/// Every route of the service, as (method, OpenAPI path): the ops routes and each app's
/// (`App::openapi`), so a new app's routes are checked without an edit here.
fn routes() -> Vec<(String, String)> {
    let mut routes: Vec<(String, String)> = OPS_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    for app in provost_server::apps::ALL {
        let doc: Value = serde_json::from_str(&app.openapi().to_json().expect("an app's document"))
            .expect("json");
        routes.extend(operations(&doc));
    }
    routes.sort();
    routes
}

/// The (method, path) pairs a document lists.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().map(|o| o.keys().cloned().collect());
            methods
                .unwrap_or_else(Vec::new)
                .into_iter()
                .map(move |method| (method, path.clone()))
        })
        .collect();
    operations.sort();
    operations
}

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
    let routes = routes();
    assert!(routes.len() > OPS_ROUTES.len(), "no app has routes");
    assert_eq!(
        operations(&doc.body),
        routes,
        "the document and the apps' routes differ"
    );
    // Each documented route is served: asked without a token or body, the router finds it,
    // whatever the handler then answers. An unknown route shows what finding none looks like.
    let unknown = server
        .call(Method::GET, "/api/v1/nowhere", None, None)
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    for (method, path) in &routes {
        let concrete = path.replace(['{', '}'], "");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let answer = server.call(method.clone(), &concrete, None, None).await;
        assert!(
            !matches!(
                answer.body["error"]["code"].as_str(),
                Some("not_found" | "method_not_allowed")
            ),
            "{method} {path} is documented but the server does not have it: {}",
            answer.text
        );
    }
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
    for (method, path) in routes()
        .iter()
        .filter(|(_, p)| p.starts_with("/api/v1/") || p.starts_with("/api/authz/"))
    {
        if path == "/api/v1/openapi.json" {
            continue;
        }
        let operation = &doc["paths"][path][method];
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

/// What a reader of `/docs/` and a client generator rely on: every operation has a summary, a
/// description and examples (for its body, its required parameters and one success answer), and
/// the shared error answers have one each. A new route without them fails here, by name: write
/// its handler's doc comment (first paragraph: summary) and record its examples with
/// `scripts/openapi-examples.sh`.
#[tokio::test]
async fn openapi_documents_every_operation() {
    let server = start().await;
    let doc = server
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .body;
    let text = |v: &Value| v.as_str().is_some_and(|s| !s.trim().is_empty());
    // Every type of a request body has an example; an answer given in several types (JSON or
    // CSV) needs one in at least one of them.
    let example_in = |c: &Value| c.get("example").is_some() || c.get("examples").is_some();
    let has_example = |content: &Value| {
        content
            .as_object()
            .is_some_and(|media| !media.is_empty() && media.values().all(example_in))
    };
    let has_any_example = |content: &Value| {
        content
            .as_object()
            .is_some_and(|media| media.values().any(example_in))
    };
    let mut missing = Vec::new();
    for (method, path) in routes() {
        let operation = &doc["paths"][&path][&method];
        let op = format!("{} {path}", method.to_uppercase());
        if !text(&operation["summary"]) {
            missing.push(format!("{op}: summary"));
        }
        if !text(&operation["description"]) {
            missing.push(format!("{op}: description"));
        }
        if operation["requestBody"].is_object()
            && !has_example(&operation["requestBody"]["content"])
        {
            missing.push(format!("{op}: request body example"));
        }
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["required"] == true && parameter.get("example").is_none() {
                missing.push(format!(
                    "{op}: example of parameter `{}`",
                    parameter["name"]
                ));
            }
        }
        let answers = operation["responses"].as_object().expect("responses");
        let success: Vec<&Value> = answers
            .iter()
            .filter(|(status, _)| status.starts_with('2'))
            .map(|(_, answer)| answer)
            .collect();
        let with_content = success.iter().any(|a| a.get("content").is_some());
        if with_content && !success.iter().any(|a| has_any_example(&a["content"])) {
            missing.push(format!("{op}: example of a success answer"));
        }
    }
    for (name, answer) in doc["components"]["responses"]
        .as_object()
        .expect("shared answers")
    {
        if !has_example(&answer["content"]) {
            missing.push(format!("shared answer {name}: example"));
        }
    }
    assert!(
        missing.is_empty(),
        "undocumented (doc comment; `scripts/openapi-examples.sh` for examples):\n  {}",
        missing.join("\n  ")
    );
}

/// The document holds one schema per name: an app whose shape has the name of another app's
/// would silently be described by the other's (the batches app's `BatchRequest` once was).
#[tokio::test]
async fn no_two_apps_share_a_schema_name() {
    let server = start().await;
    let doc = server
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .body;
    let mut clashes = Vec::new();
    for app in provost_server::apps::ALL {
        let own: Value =
            serde_json::from_str(&app.openapi().to_json().expect("json")).expect("doc");
        let schemas = own["components"]["schemas"].as_object();
        for (name, schema) in schemas.into_iter().flatten() {
            if &doc["components"]["schemas"][name] != schema {
                clashes.push(format!("`{name}`"));
            }
        }
    }
    assert!(
        clashes.is_empty(),
        "apps name different schemas alike: {}",
        clashes.join(", ")
    );
}
