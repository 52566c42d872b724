//! The openedx app: openedx-authz's REST API under `/api/authz/v1/`, so the admin console and
//! platform code work against Provost unchanged. `permissions/validate/me` stays in the authz
//! app; `waffle-flag-states/` answers the legacy app's flag, read through the store.

pub mod http;
pub mod service;

use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;

use super::App;
use crate::state::AppState;
use http as h;

/// The openedx app, as listed in `apps::ALL`.
pub struct Openedx;

impl App for Openedx {
    fn router(&self) -> Router<AppState> {
        Router::new()
            .route("/api/authz/v1/roles/", get(h::roles))
            .route(
                "/api/authz/v1/roles/users/",
                get(h::team).put(h::add_users).delete(h::remove_users),
            )
            .route("/api/authz/v1/orgs/", get(h::orgs))
            .route("/api/authz/v1/users/", get(h::members))
            .route("/api/authz/v1/users/validate/", post(h::validate_users))
            .route(
                "/api/authz/v1/users/{username}/assignments/",
                get(h::user_assignments),
            )
            .route("/api/authz/v1/assignments/", get(h::assignments))
            .route("/api/authz/v1/scopes/", get(h::scopes))
            .route(
                "/api/authz/v1/waffle-flag-states/",
                get(h::waffle_flag_states),
            )
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        OpenedxApi::openapi()
    }

    fn read_only_posts(&self) -> &'static [&'static str] {
        &["/api/authz/v1/users/validate/"]
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(
        h::roles,
        h::team,
        h::add_users,
        h::remove_users,
        h::orgs,
        h::members,
        h::validate_users,
        h::user_assignments,
        h::assignments,
        h::scopes,
        h::waffle_flag_states,
    ),
    components(schemas(
        h::Paged<service::ScopeRole>, h::Paged<h::TeamMember>, h::Paged<h::Org>, h::Paged<h::Member>,
        h::Paged<h::UserAssignment>, h::Paged<h::Assignment>, h::Paged<h::ScopeItem>,
        service::ScopeRole, h::TeamMember, h::Org, h::Member, h::UserAssignment, h::Assignment,
        h::ScopeItem, h::ScopeOrg, h::AddUsers, h::ValidateUsers, h::UsersValidated,
        h::ValidationSummary, service::RoleChanges, service::RoleOutcome,
        service::WaffleFlagStates, service::Overrides,
    )),
    tags((name = "openedx", description = "openedx-authz's REST API, for the admin console and platform code")),
)]
struct OpenedxApi;
