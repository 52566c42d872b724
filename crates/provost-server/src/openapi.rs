//! The OpenAPI 3 document, generated from the handlers' annotations and the shapes they use.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::api_error::{ErrorBody, ErrorInfo};
use crate::apps::authz::{http, http_types as t, roles as r, service as s};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Provost",
        description = "Authorization for a learning platform: checks, lookups, roles and assignments. \
            Every /api/ route needs `Authorization: Bearer <JWT>` (or `JWT <JWT>`)."
    ),
    paths(
        crate::state::health,
        crate::metrics::metrics,
        spec,
        http::check,
        http::check_batch,
        http::list_assignments,
        http::assign,
        http::unassign,
        http::list_roles,
        http::get_role,
        http::create_role,
        http::replace_role,
        http::delete_role,
        http::role_impact,
        http::list_permissions,
        http::lookup_subjects,
        http::lookup_scopes,
        http::put_user,
        http::retire_user,
        http::audit,
        http::validate_me,
    ),
    components(schemas(
        ErrorBody, ErrorInfo, crate::state::Health,
        t::CheckRequest, t::CheckResponse, t::BatchRequest, t::BatchCheck, t::BatchResponse, t::BatchResult,
        t::AssignmentPage, t::BulkRequest, t::RoleList, t::RoleSaved, t::RoleBody, t::Revision,
        t::ImpactPage, t::PermissionList, t::NamePage, t::UserBody, t::UserSaved, t::AuditItem,
        t::AuditPage, t::ValidateItem, t::ValidateResult, t::ScopeKey, t::Username, t::RoleName,
        t::PermissionName, t::OrgName, t::Email, crate::extract::AtLeastRevision, t::ScopeKind,
        s::AssignmentInput, s::ItemResult, s::ItemError, s::BulkResult, r::RoleView, r::RoleInput,
        r::RoleImpact, r::AssignmentImpact, r::PermissionView,
    )),
    modifiers(&BearerAuth, &ErrorResponses),
    tags(
        (name = "authz", description = "decisions, lookups and assignments"),
        (name = "roles", description = "roles, permissions and the impact of changing them"),
        (name = "users", description = "users from the LMS"),
        (name = "audit", description = "the change log"),
        (name = "openedx", description = "endpoints shaped for Open edX clients"),
        (name = "ops", description = "health, metrics and this document"),
    )
)]
pub struct ApiDoc;

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
struct ErrorResponses;

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

/// POSTs that only read: they answer neither 409 nor 507.
const READ_ONLY_POSTS: [&str; 3] = [
    "/api/v1/check",
    "/api/v1/check/batch",
    "/api/authz/v1/permissions/validate/me",
];

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, when) in SHARED {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build();
            let response = ResponseBuilder::new()
                .description(when)
                .content("application/json", content)
                .build();
            components.responses.insert(name.into(), RefOr::T(response));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with("/api/") && path != "/api/v1/openapi.json";
            let read_only_post = READ_ONLY_POSTS.contains(&path.as_str());
            let operations = [
                (&mut item.get, false),
                (&mut item.post, !read_only_post),
                (&mut item.put, true),
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

/// `GET /api/v1/openapi.json` (open: the document holds no data).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "ops", security(()),
    responses((status = 200, description = "this OpenAPI 3 document", content_type = "application/json")))]
pub async fn spec() -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let text = DOC.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into()));
    ([(CONTENT_TYPE, "application/json")], text.as_str())
}
