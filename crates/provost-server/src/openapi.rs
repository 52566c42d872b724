//! The OpenAPI 3 document, generated from the handlers' annotations and the shapes they use.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
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
        t::AuditPage, t::ValidateItem, t::ValidateResult,
        s::AssignmentInput, s::ItemResult, s::ItemError, s::BulkResult, r::RoleView, r::RoleInput,
        r::RoleImpact, r::AssignmentImpact, r::PermissionView,
    )),
    modifiers(&BearerAuth),
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

/// `GET /api/v1/openapi.json` (open: the document holds no data).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "ops", security(()),
    responses((status = 200, description = "this OpenAPI 3 document", content_type = "application/json")))]
pub async fn spec() -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let text = DOC.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into()));
    ([(CONTENT_TYPE, "application/json")], text.as_str())
}
