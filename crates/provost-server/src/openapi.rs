//! The OpenAPI 3 document, generated from the handlers' annotations and the shapes they use.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::openapi::path::{Operation, ParameterBuilder, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::api_error::{ErrorBody, ErrorInfo};
use crate::apps;

/// The service's own part of the document: its description, the ops routes and the error shape.
/// Each app adds its paths, schemas and tags (`App::openapi`); `document` merges them.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Provost",
        description = "Authorization for a learning platform: checks, lookups, roles and assignments. \
            Every /api/ route needs `Authorization: Bearer <JWT>` (or `JWT <JWT>`)."
    ),
    paths(home, crate::state::health, crate::metrics::metrics, spec),
    components(schemas(ErrorBody, ErrorInfo, crate::state::Health))
)]
struct ApiDoc;

/// The whole document: the service's part and every app's, then the shared security and error
/// answers, applied last so that they reach every app's operations.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let mut read_only_posts = Vec::new();
    for app in apps::ALL {
        doc.merge(app.openapi());
        read_only_posts.extend_from_slice(app.read_only_posts());
    }
    // The service's own tag comes after the apps' ones.
    let ops = TagBuilder::new()
        .name("ops")
        .description(Some("health, metrics and this document"))
        .build();
    doc.tags.get_or_insert_with(Vec::new).push(ops);
    BearerAuth.modify(&mut doc);
    ErrorResponses { read_only_posts }.modify(&mut doc);
    RecordedExamples.modify(&mut doc);
    SlashTwins.modify(&mut doc);
    doc
}

/// Declares the bearer scheme and requires it everywhere (the ops routes are open anyway).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The error answers every operation shares, declared once as components and referenced from each
/// operation by this modifier, so a new route gets them without repeating them. Answers only some
/// routes give (404, 409, 422) stay in each route's own annotation.
struct ErrorResponses {
    /// POSTs that only read: they answer neither 409 nor 507 (`App::read_only_posts`).
    read_only_posts: Vec<&'static str>,
}

/// (status, component name, when).
const SHARED: [(&str, &str, &str); 10] = [
    ("400", "BadRequest", "malformed input: query, path, body or key (`invalid_query`, `invalid_scope`, ...)"),
    ("401", "Unauthorized", "no token, or a bad one (`missing_token`, `invalid_token`, ...)"),
    ("403", "Forbidden", "the caller may not do this (`forbidden`)"),
    ("409", "Conflict", "conflicts with the current state (`role_exists`, `builtin_role`, `conflict`, ...)"),
    ("413", "PayloadTooLarge", "the body is larger than the server accepts (`body_too_large`)"),
    ("415", "UnsupportedMediaType", "the body is not sent as JSON (`unsupported_media_type`)"),
    ("429", "TooManyRequests", "busy or locked, try again (`busy`)"),
    ("431", "RequestHeaderFieldsTooLarge", "too many or too large request headers (`header_too_large`)"),
    ("503", "ServiceUnavailable", "the database is down, the server is read-only, the request timed out or this node \
        did not reach `at_least_revision` in time (`unavailable`, `read_only`, `timeout`, `revision_not_reached`)"),
    ("507", "InsufficientStorage", "the database is out of space (`storage_full`)"),
];

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, when) in SHARED {
            let example = UNRECORDED
                .iter()
                .find(|(component, ..)| *component == name)
                .map(|(_, code, message)| error_example(code, message));
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .example(example)
                .build();
            let response = ResponseBuilder::new()
                .description(when)
                .content("application/json", content)
                .build();
            components.responses.insert(name.into(), RefOr::T(response));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with("/api/") && path != "/api/v1/openapi.json";
            let read_only_post = self.read_only_posts.contains(&path.as_str());
            let operations = [
                (&mut item.get, false),
                (&mut item.post, !read_only_post),
                (&mut item.put, true),
                (&mut item.patch, true),
                (&mut item.delete, true),
            ];
            for (operation, writes) in operations {
                if let Some(operation) = operation {
                    add_shared(operation, api, writes);
                }
            }
        }
    }
}

/// The examples of the shared answers that a recording cannot provoke on demand (the others are
/// recorded, see `RecordedExamples`): (component, code, message), as the store words them.
const UNRECORDED: [(&str, &str, &str); 4] = [
    (
        "PayloadTooLarge",
        "body_too_large",
        "the body is larger than this server accepts",
    ),
    (
        "RequestHeaderFieldsTooLarge",
        "header_too_large",
        "the request's headers are too large: at most 100 headers and 64 KiB",
    ),
    (
        "TooManyRequests",
        "busy",
        "database busy, try again later: database is locked",
    ),
    (
        "InsufficientStorage",
        "storage_full",
        "storage full: database or disk is full",
    ),
];

fn error_example(code: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message } })
}

/// Every route can time out (503) or get too many headers (431); `/api/` routes also check tokens, inputs and rights, and those
/// that change data can conflict or find the database full or read-only.
fn add_shared(operation: &mut Operation, api: bool, writes: bool) {
    let body = operation.request_body.is_some();
    for (status, name, _) in SHARED {
        let applies = match status {
            "431" | "503" => true,
            "400" | "401" | "403" | "429" => api,
            "409" | "507" => api && writes,
            "413" | "415" => api && body,
            _ => false,
        };
        if applies {
            operation
                .responses
                .responses
                .entry(status.into())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
        }
    }
}

/// One operation's example, recorded from a real server: the request's parameters and body, and
/// the answer's status and body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Recorded {
    /// `METHOD /path/{template}`, as the document names the operation.
    op: String,
    #[serde(default)]
    params: serde_json::Map<String, Value>,
    body: Option<Value>,
    status: u16,
    response: Value,
}

/// The examples of `openapi_examples.json`: written by `scripts/openapi-examples.sh` from the
/// requests in `scripts/openapi-examples/requests.json`, sent to a real `provost serve`, so every
/// example is a request the server took and the answer it gave. The test
/// `openapi_documents_every_operation` fails naming any operation without them.
struct RecordedExamples;

/// The recorded examples (the file is part of the binary; a malformed one fails every test).
fn recorded() -> Vec<Recorded> {
    serde_json::from_str(include_str!("openapi_examples.json")).expect("openapi_examples.json")
}

impl Modify for RecordedExamples {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for example in recorded() {
            let Some((method, path)) = example.op.split_once(' ') else {
                continue;
            };
            if method == "component" {
                let shared = openapi
                    .components
                    .as_mut()
                    .and_then(|c| c.responses.get_mut(path));
                if let Some(RefOr::T(response)) = shared {
                    if let Some(content) = response.content.values_mut().next() {
                        content.example = Some(example.response);
                    }
                }
                continue;
            }
            let Some(operation) = openapi
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| operation_mut(item, method))
            else {
                continue;
            };
            for parameter in operation.parameters.iter_mut().flatten() {
                if let Some(value) = example.params.get(&parameter.name) {
                    let with_example = ParameterBuilder::from(parameter.clone())
                        .example(Some(value.clone()))
                        .build();
                    *parameter = with_example;
                }
            }
            if let (Some(body), Some(request_body)) = (&example.body, &mut operation.request_body) {
                for content in request_body.content.values_mut() {
                    content.example = Some(body.clone());
                }
            }
            let status = example.status.to_string();
            if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(&status) {
                // A text answer (a page, CSV, metrics) goes with a text type, JSON with JSON.
                let json = !example.response.is_string();
                let media = response
                    .content
                    .keys()
                    .find(|m| m.contains("json") == json)
                    .or_else(|| response.content.keys().next())
                    .cloned();
                if let Some(content) = media.and_then(|m| response.content.get_mut(&m)) {
                    content.example = Some(example.response);
                }
            }
        }
    }
}

fn operation_mut<'a>(item: &'a mut PathItem, method: &str) -> Option<&'a mut Operation> {
    match method {
        "get" => item.get.as_mut(),
        "post" => item.post.as_mut(),
        "put" => item.put.as_mut(),
        "patch" => item.patch.as_mut(),
        "delete" => item.delete.as_mut(),
        _ => None,
    }
}

/// The trailing-slash twins (`slash_twin!` in the programs app, for Registrar's clients) are the
/// same operations: each takes its twin's summary, description and examples, so they are written
/// once.
struct SlashTwins;

impl Modify for SlashTwins {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let paths: Vec<String> = openapi.paths.paths.keys().cloned().collect();
        for path in paths {
            let Some(twin_path) = path.strip_suffix('/').filter(|p| !p.is_empty()) else {
                continue;
            };
            let Some(twin) = openapi.paths.paths.get(twin_path).cloned() else {
                continue;
            };
            let Some(item) = openapi.paths.paths.get_mut(&path) else {
                continue;
            };
            for method in ["get", "post", "put", "patch", "delete"] {
                let (Some(operation), Some(original)) =
                    (operation_mut(item, method), operation_of(&twin, method))
                else {
                    continue;
                };
                let id = operation.operation_id.take();
                *operation = original.clone();
                operation.operation_id = id;
                operation.description = original.description.as_ref().map(|d| {
                    let method = method.to_uppercase();
                    format!("The same as `{method} {twin_path}`, for clients that send the trailing slash.\n\n{d}")
                });
            }
        }
    }
}

fn operation_of<'a>(item: &'a PathItem, method: &str) -> Option<&'a Operation> {
    match method {
        "get" => item.get.as_ref(),
        "post" => item.post.as_ref(),
        "put" => item.put.as_ref(),
        "patch" => item.patch.as_ref(),
        "delete" => item.delete.as_ref(),
        _ => None,
    }
}

/// Start page
///
/// `GET /`: where to go from here (open): the API page, the document and the health check.
#[utoipa::path(get, path = "/", tag = "ops", security(()),
    responses((status = 200, description = "a page linking the API reference (`/docs/`), this document and `/healthz`", content_type = "text/html")))]
pub async fn home() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Provost</title></head>\n",
        "<body><h1>Provost</h1><p>Authorization for learning platforms.</p>\n<ul>\n",
        "<li><a href=\"/docs/\">API reference</a>: every operation, tried from the browser with a token</li>\n",
        "<li><a href=\"/api/v1/openapi.json\">OpenAPI document</a>: the contract, for clients and tools</li>\n",
        "<li><a href=\"/healthz\">Health</a>: revision, database and lag of this node</li>\n",
        "</ul></body></html>\n"
    ))
}

/// `GET /docs/`: the interactive API reference for `/api/v1/openapi.json` (open), from Swagger
/// UI's assets embedded in the binary.
pub fn docs_page<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    utoipa_swagger_ui::SwaggerUi::new("/docs")
        .config(utoipa_swagger_ui::Config::from("/api/v1/openapi.json"))
        .into()
}

/// This OpenAPI document
///
/// `GET /api/v1/openapi.json` (open: the document holds no data).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "ops", security(()),
    responses((status = 200, description = "this OpenAPI 3 document", content_type = "application/json")))]
pub async fn spec() -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let text = DOC.get_or_init(|| document().to_json().unwrap_or_else(|_| "{}".into()));
    ([(CONTENT_TYPE, "application/json")], text.as_str())
}

/// A string schema with the server's rule for it (`min`/`max` in characters; all are ASCII).
pub(crate) fn key_schema(
    description: &str,
    pattern: &str,
    min: usize,
    max: usize,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(pattern))
        .min_length(Some(min))
        .max_length(Some(max))
        .into()
}

/// Declares a documentation-only string type whose schema is `key_schema(...)`: the request
/// fields it describes are `String`s, and the server applies exactly this rule to them, so the
/// document states each rule once, as the server applies it. Every app's key types use it.
macro_rules! key_type {
    ($name:ident, $description:literal, $pattern:expr, $min:literal, $max:literal) => {
        #[doc = $description]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::openapi::key_schema($description, $pattern, $min, $max)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use key_type;
