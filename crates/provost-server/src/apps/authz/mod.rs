//! The authz app: decisions, lookups, assignments, users, roles and the audit log.

pub mod cli;
pub mod http;
pub mod http_types;
pub mod roles;
pub mod service;

use axum::routing::{get, post};
use axum::Router;
use clap::{ArgMatches, Subcommand};
use utoipa::OpenApi;

use super::{chosen, App, CliContext, CliFuture};
use crate::state::AppState;
use http_types as t;
use roles as r;
use service as s;

/// The authz app, as listed in `apps::ALL`.
pub struct Authz;

impl App for Authz {
    /// The authz app's routes (§7 of the design, and the Open edX MFE's validation endpoint).
    fn router(&self) -> Router<AppState> {
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

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        AuthzApi::openapi()
    }

    fn read_only_posts(&self) -> &'static [&'static str] {
        &[
            "/api/v1/check",
            "/api/v1/check/batch",
            "/api/authz/v1/permissions/validate/me",
        ]
    }

    fn commands(&self, cli: clap::Command) -> clap::Command {
        cli::AuthzCommand::augment_subcommands(cli)
    }

    fn run<'a>(&'a self, cx: CliContext<'a>, matches: &ArgMatches) -> Option<CliFuture<'a>> {
        let command = chosen::<cli::AuthzCommand>(matches)?;
        Some(Box::pin(cli::run(cx, command)))
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(
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
        t::CheckRequest, t::CheckResponse, t::BatchRequest, t::BatchCheck, t::BatchResponse, t::BatchResult,
        t::AssignmentPage, t::BulkRequest, t::RoleList, t::RoleSaved, t::RoleBody, t::Revision,
        t::ImpactPage, t::PermissionList, t::NamePage, t::UserBody, t::UserSaved, t::AuditItem,
        t::AuditPage, t::ValidateItem, t::ValidateResult, t::ScopeKey, t::Username, t::RoleName,
        t::PermissionName, t::OrgName, t::Email, crate::extract::AtLeastRevision, t::ScopeKind,
        s::AssignmentInput, s::ItemResult, s::ItemError, s::BulkResult, r::RoleView, r::RoleInput,
        r::RoleImpact, r::AssignmentImpact, r::PermissionView,
    )),
    tags(
        (name = "authz", description = "decisions, lookups and assignments"),
        (name = "roles", description = "roles, permissions and the impact of changing them"),
        (name = "users", description = "users from the LMS"),
        (name = "audit", description = "the change log"),
        (name = "openedx", description = "endpoints shaped for Open edX clients"),
    )
)]
struct AuthzApi;
