//! The authz app: decisions, lookups, assignments, users, roles and the audit log.

pub mod http;
pub mod http_types;
pub mod roles;
pub mod service;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// The authz app's routes (§7 of the design, and the Open edX MFE's validation endpoint).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/check", post(http::check))
        .route("/api/v1/check/batch", post(http::check_batch))
        .route(
            "/api/v1/assignments",
            get(http::list_assignments)
                .post(http::assign)
                .delete(http::unassign),
        )
        .route(
            "/api/v1/roles",
            get(http::list_roles).post(http::create_role),
        )
        .route(
            "/api/v1/roles/{name}",
            get(http::get_role)
                .put(http::replace_role)
                .delete(http::delete_role),
        )
        .route("/api/v1/roles/{name}/impact", get(http::role_impact))
        .route("/api/v1/permissions", get(http::list_permissions))
        .route("/api/v1/lookup/subjects", get(http::lookup_subjects))
        .route("/api/v1/lookup/scopes", get(http::lookup_scopes))
        .route(
            "/api/v1/users/{username}",
            axum::routing::put(http::put_user).delete(http::retire_user),
        )
        .route("/api/v1/audit", get(http::audit))
        .route(
            "/api/authz/v1/permissions/validate/me",
            post(http::validate_me),
        )
}
