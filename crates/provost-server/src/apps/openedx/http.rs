//! openedx-authz's REST API (`/api/authz/v1/...`): its query parameters, its page-number pages
//! (`{count, next, previous, results}`), its 207 bodies. Handlers extract, call `service`, answer.

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::Json;
use provost_engine::Kind;
use provost_store::openedx::{Selection, SortKey, Window};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::service::{self, invalid_choice, RoleChanges, ScopeRole};
use crate::api_error::{ApiError, ErrorBody};
use crate::apps::authz::http_types::{RoleName, ScopeKey};
use crate::auth::Principal;
use crate::err::{Error, ErrorCode};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

const DEFAULT_PAGE_SIZE: u32 = 10;
const MAX_PAGE_SIZE: u32 = 100;

/// A page as Django REST framework's page-number pagination answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub count: u64,
    /// The next page's path and query, `null` on the last page.
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// Which page: `page` from 1, `page_size` 10 by default, at most 100 (larger asks get 100).
#[derive(Clone, Copy, Debug)]
struct PageAsk {
    page: u64,
    size: u32,
}

impl PageAsk {
    fn new(page: Option<u64>, size: Option<i32>) -> Result<PageAsk, ApiError> {
        let page = page.unwrap_or(1);
        if page == 0 {
            return Err(invalid_page());
        }
        let size = match size.map(u32::try_from) {
            None | Some(Ok(0)) => DEFAULT_PAGE_SIZE,
            Some(Ok(n)) => n.min(MAX_PAGE_SIZE),
            Some(Err(_)) => {
                return Err(Error::new(
                    ErrorCode::InvalidParameter,
                    "`page_size` must not be negative",
                )
                .into())
            }
        };
        Ok(PageAsk { page, size })
    }

    fn offset(self) -> u64 {
        (self.page - 1).saturating_mul(u64::from(self.size))
    }

    /// The page of `count` rows, refused (404 `invalid_page`) past the last one.
    fn answer<T>(self, uri: &OriginalUri, count: u64, results: Vec<T>) -> ApiResult<Paged<T>> {
        let pages = count.div_ceil(u64::from(self.size)).max(1);
        if self.page > pages {
            return Err(invalid_page());
        }
        let link = |page: u64| {
            let path = uri.path();
            let mut pairs: Vec<String> = uri
                .query()
                .unwrap_or_default()
                .split('&')
                .filter(|p| !p.is_empty() && !p.starts_with("page=") && *p != "page")
                .map(String::from)
                .collect();
            pairs.push(format!("page={page}"));
            format!("{path}?{}", pairs.join("&"))
        };
        Ok(Paged {
            count,
            next: (self.page < pages).then(|| link(self.page + 1)),
            previous: (self.page > 1).then(|| link(self.page - 1)),
            results,
        })
    }
}

fn invalid_page() -> ApiError {
    ApiError::new(ErrorCode::InvalidPage, "Invalid page.")
}

/// Refuses (400 `invalid_parameter`) a role name no role can have.
fn check_role_name(role: &str) -> ApiResult<()> {
    if provost_engine::valid_role_name(role) {
        Ok(())
    } else {
        Err(invalid_choice("role", role, "a role name").into())
    }
}

fn missing(name: &str) -> ApiError {
    Error::new(ErrorCode::MissingParameter, format!("`{name}` is required")).into()
}

/// A comma-separated list; `None` when absent or empty.
fn list(value: Option<&str>) -> Option<Vec<String>> {
    let items: Vec<String> = value?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    (!items.is_empty()).then_some(items)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn descending(order: Option<&str>) -> ApiResult<bool> {
    match order {
        None | Some("" | "asc") => Ok(false),
        Some("desc") => Ok(true),
        Some(other) => Err(invalid_choice("order", other, "`asc`, `desc`").into()),
    }
}

fn sort_key(
    sort_by: Option<&str>,
    default: SortKey,
    allowed: &[(&str, SortKey)],
) -> ApiResult<SortKey> {
    let Some(name) = sort_by.filter(|n| !n.is_empty()) else {
        return Ok(default);
    };
    allowed
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| *k)
        .ok_or_else(|| {
            let names: Vec<String> = allowed.iter().map(|(n, _)| format!("`{n}`")).collect();
            invalid_choice("sort_by", name, &names.join(", ")).into()
        })
}

fn window(ask: PageAsk, sort: SortKey, descending: bool) -> Window {
    Window {
        sort,
        descending,
        offset: ask.offset(),
        limit: ask.size,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RolesQuery {
    /// The scope whose roles to list (`lib:Org:Slug`, `course-v1:Org+Course+Run`).
    #[param(value_type = ScopeKey)]
    pub scope: String,
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// 10 by default; larger than 100 gives 100.
    #[param(minimum = 0)]
    pub page_size: Option<i32>,
}

/// Roles at a scope
///
/// The roles offered at a scope, what each grants and how many hold it there. Needs the scope
/// kind's view-team permission there (or admin).
#[utoipa::path(get, path = "/api/authz/v1/roles/", tag = "openedx", params(RolesQuery),
    responses((status = 200, body = Paged<ScopeRole>), (status = 404, description = "no such page", body = ErrorBody)))]
pub async fn roles(
    State(state): State<AppState>,
    Principal(actor): Principal,
    uri: OriginalUri,
    ApiQuery(q): ApiQuery<RolesQuery>,
) -> ApiResult<Json<Paged<ScopeRole>>> {
    let ask = PageAsk::new(q.page, q.page_size)?;
    let index = state.index_at(None).await?;
    let roles = service::roles_at(state.node(), &index, &actor, &q.scope).await?;
    let count = roles.len() as u64;
    let page: Vec<ScopeRole> = roles
        .into_iter()
        .skip(usize::try_from(ask.offset()).unwrap_or(usize::MAX))
        .take(ask.size as usize)
        .collect();
    Ok(Json(ask.answer(&uri, count, page)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TeamQuery {
    #[param(value_type = ScopeKey)]
    pub scope: String,
    /// A case-insensitive part of the username or email.
    pub search: Option<String>,
    /// Comma-separated role names: members holding any of them.
    pub roles: Option<String>,
    /// `username` (default), `email` or `full_name`.
    #[param(pattern = "^(username|email|full_name)?$")]
    pub sort_by: Option<String>,
    /// `asc` (default) or `desc`.
    #[param(pattern = "^(asc|desc)?$")]
    pub order: Option<String>,
    #[param(minimum = 1)]
    pub page: Option<u64>,
    #[param(minimum = 0)]
    pub page_size: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamMember {
    pub username: String,
    pub email: String,
    /// Provost keeps no names: always empty.
    pub full_name: String,
    pub roles: Vec<String>,
}

const USER_SORTS: [(&str, SortKey); 3] = [
    ("username", SortKey::Username),
    ("email", SortKey::Email),
    ("full_name", SortKey::Username),
];

/// A scope's team
///
/// The members of the team at a scope, with their roles there.
#[utoipa::path(get, path = "/api/authz/v1/roles/users/", tag = "openedx", params(TeamQuery),
    responses((status = 200, body = Paged<TeamMember>), (status = 404, description = "no such page", body = ErrorBody)))]
pub async fn team(
    State(state): State<AppState>,
    Principal(actor): Principal,
    uri: OriginalUri,
    ApiQuery(q): ApiQuery<TeamQuery>,
) -> ApiResult<Json<Paged<TeamMember>>> {
    let ask = PageAsk::new(q.page, q.page_size)?;
    let sort = sort_key(q.sort_by.as_deref(), SortKey::Username, &USER_SORTS)?;
    let desc = descending(q.order.as_deref())?;
    let selection = Selection {
        scopes: Some(vec![q.scope]),
        roles: list(q.roles.as_deref()),
        search: non_empty(q.search),
        ..Selection::default()
    };
    let index = state.index_at(None).await?;
    let page = service::team(
        state.node(),
        &index,
        &actor,
        selection,
        window(ask, sort, desc),
    )
    .await?;
    let results = page
        .rows
        .into_iter()
        .map(|(m, roles)| TeamMember {
            username: m.username,
            email: m.email.unwrap_or_default(),
            full_name: String::new(),
            roles,
        })
        .collect();
    Ok(Json(ask.answer(&uri, page.count, results)?))
}

/// `scope` or `scopes`: the places a bulk change applies to.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddUsers {
    #[schema(value_type = RoleName)]
    pub role: String,
    #[serde(default)]
    #[schema(value_type = Option<ScopeKey>)]
    pub scope: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<ScopeKey>>)]
    pub scopes: Option<Vec<String>>,
    /// Usernames or emails.
    pub users: Vec<String>,
}

/// Give users a role
///
/// Gives `role` to users (by username or email) at one or more scopes. 207 with each item's
/// outcome: `role_added`; errors `user_already_has_role`, `user_not_found`,
/// `role_assignment_error` (refused by Provost's rules: `message` says why). Needs the scope
/// kind's manage-team permission at every scope (403 otherwise, nothing changed).
#[utoipa::path(put, path = "/api/authz/v1/roles/users/", tag = "openedx", request_body = AddUsers,
    responses((status = 207, body = RoleChanges),
        (status = 422, description = "neither `scope` nor `scopes` given (`missing_parameter`)", body = ErrorBody)))]
pub async fn add_users(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<AddUsers>,
) -> ApiResult<(StatusCode, Json<RoleChanges>)> {
    let mut scopes: Vec<String> = body.scopes.unwrap_or_default();
    scopes.extend(body.scope);
    if scopes.is_empty() {
        return Err(missing("scope"));
    }
    check_role_name(&body.role)?;
    state.check_items(scopes.len().saturating_mul(body.users.len()))?;
    let changes =
        service::change_roles(state.node(), &actor, &body.role, &scopes, &body.users, true).await?;
    Ok((StatusCode::MULTI_STATUS, Json(changes)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveQuery {
    #[param(value_type = RoleName)]
    pub role: String,
    #[param(value_type = ScopeKey)]
    pub scope: String,
    /// Comma-separated usernames or emails.
    pub users: String,
}

/// Take a role from users
///
/// Takes `role` at `scope` from users. 207: `role_removed`; errors `user_does_not_have_role`,
/// `user_not_found`, `role_removal_error`. Needs the manage-team permission at `scope`.
#[utoipa::path(delete, path = "/api/authz/v1/roles/users/", tag = "openedx", params(RemoveQuery),
    responses((status = 207, body = RoleChanges)))]
pub async fn remove_users(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiQuery(q): ApiQuery<RemoveQuery>,
) -> ApiResult<(StatusCode, Json<RoleChanges>)> {
    check_role_name(&q.role)?;
    let users = list(Some(&q.users)).unwrap_or_default();
    state.check_items(users.len())?;
    let changes =
        service::change_roles(state.node(), &actor, &q.role, &[q.scope], &users, false).await?;
    Ok((StatusCode::MULTI_STATUS, Json(changes)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgsQuery {
    /// A case-insensitive part of the org's name.
    pub search: Option<String>,
    #[param(minimum = 1)]
    pub page: Option<u64>,
    #[param(minimum = 0)]
    pub page_size: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Org {
    pub name: String,
    pub short_name: String,
    pub active: bool,
}

/// Orgs with teams
///
/// The orgs the caller sees teams in (every org Provost knows, for admins).
#[utoipa::path(get, path = "/api/authz/v1/orgs/", tag = "openedx", params(OrgsQuery),
    responses((status = 200, body = Paged<Org>), (status = 404, description = "no such page", body = ErrorBody)))]
pub async fn orgs(
    State(state): State<AppState>,
    Principal(actor): Principal,
    uri: OriginalUri,
    ApiQuery(q): ApiQuery<OrgsQuery>,
) -> ApiResult<Json<Paged<Org>>> {
    let ask = PageAsk::new(q.page, q.page_size)?;
    let index = state.index_at(None).await?;
    let mut orgs = service::orgs(&index, &actor)?;
    if let Some(search) = non_empty(q.search) {
        let search = search.to_lowercase();
        orgs.retain(|o| o.to_lowercase().contains(&search));
    }
    let count = orgs.len() as u64;
    let page = orgs
        .into_iter()
        .skip(usize::try_from(ask.offset()).unwrap_or(usize::MAX))
        .take(ask.size as usize)
        .map(|o| Org {
            name: o.clone(),
            short_name: o,
            active: true,
        })
        .collect();
    Ok(Json(ask.answer(&uri, count, page)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// Comma-separated scope keys.
    pub scopes: Option<String>,
    /// Comma-separated org short names.
    pub orgs: Option<String>,
    pub search: Option<String>,
    /// `username` (default), `email` or `full_name`.
    #[param(pattern = "^(username|email|full_name)?$")]
    pub sort_by: Option<String>,
    #[param(pattern = "^(asc|desc)?$")]
    pub order: Option<String>,
    #[param(minimum = 1)]
    pub page: Option<u64>,
    #[param(minimum = 0)]
    pub page_size: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    pub username: String,
    pub full_name: String,
    pub email: String,
    pub assignation_count: u64,
}

/// Users holding assignments
///
/// Everyone holding an assignment the caller may see, with how many.
#[utoipa::path(get, path = "/api/authz/v1/users/", tag = "openedx", params(MembersQuery),
    responses((status = 200, body = Paged<Member>), (status = 404, description = "no such page", body = ErrorBody)))]
pub async fn members(
    State(state): State<AppState>,
    Principal(actor): Principal,
    uri: OriginalUri,
    ApiQuery(q): ApiQuery<MembersQuery>,
) -> ApiResult<Json<Paged<Member>>> {
    let ask = PageAsk::new(q.page, q.page_size)?;
    let sort = sort_key(q.sort_by.as_deref(), SortKey::Username, &USER_SORTS)?;
    let desc = descending(q.order.as_deref())?;
    let selection = Selection {
        scopes: list(q.scopes.as_deref()),
        orgs: list(q.orgs.as_deref()),
        search: non_empty(q.search),
        ..Selection::default()
    };
    let index = state.index_at(None).await?;
    let page = service::members(
        state.node(),
        &index,
        &actor,
        selection,
        window(ask, sort, desc),
    )
    .await?;
    let results = page
        .rows
        .into_iter()
        .map(|m| Member {
            username: m.username,
            full_name: String::new(),
            email: m.email.unwrap_or_default(),
            assignation_count: u64::try_from(m.assignments).unwrap_or(0),
        })
        .collect();
    Ok(Json(ask.answer(&uri, page.count, results)?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ValidateUsers {
    /// Usernames or emails.
    pub users: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationSummary {
    pub total: usize,
    pub valid_count: usize,
    pub invalid_count: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsersValidated {
    pub valid_users: Vec<String>,
    pub invalid_users: Vec<String>,
    pub summary: ValidationSummary,
}

/// Which identifiers name users?
///
/// Which identifiers (usernames or emails) name a user Provost knows. Needs a team the caller
/// may view somewhere (or admin).
#[utoipa::path(post, path = "/api/authz/v1/users/validate/", tag = "openedx", request_body = ValidateUsers,
    responses((status = 200, body = UsersValidated)))]
pub async fn validate_users(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<ValidateUsers>,
) -> ApiResult<Json<UsersValidated>> {
    state.check_items(body.users.len())?;
    let index = state.index_at(None).await?;
    let (valid, invalid) =
        service::validate_users(state.node(), &index, &actor, &body.users).await?;
    Ok(Json(UsersValidated {
        summary: ValidationSummary {
            total: valid.len() + invalid.len(),
            valid_count: valid.len(),
            invalid_count: invalid.len(),
        },
        valid_users: valid,
        invalid_users: invalid,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserAssignmentsQuery {
    pub orgs: Option<String>,
    pub roles: Option<String>,
    /// `role` (default), `org` or `scope`.
    #[param(pattern = "^(role|org|scope)?$")]
    pub sort_by: Option<String>,
    #[param(pattern = "^(asc|desc)?$")]
    pub order: Option<String>,
    #[param(minimum = 1)]
    pub page: Option<u64>,
    #[param(minimum = 0)]
    pub page_size: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserAssignment {
    pub is_superadmin: bool,
    pub role: String,
    pub org: String,
    pub scope: String,
    pub permission_count: usize,
}

const ASSIGNMENT_SORTS: [(&str, SortKey); 3] = [
    ("role", SortKey::Role),
    ("org", SortKey::Scope),
    ("scope", SortKey::Scope),
];

/// One user's assignments
///
/// One user's assignments that the caller may see.
#[utoipa::path(get, path = "/api/authz/v1/users/{username}/assignments/", tag = "openedx",
    params(("username" = String, Path), UserAssignmentsQuery),
    responses((status = 200, body = Paged<UserAssignment>), (status = 404, description = "no such page", body = ErrorBody)))]
pub async fn user_assignments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    uri: OriginalUri,
    ApiPath(username): ApiPath<String>,
    ApiQuery(q): ApiQuery<UserAssignmentsQuery>,
) -> ApiResult<Json<Paged<UserAssignment>>> {
    let ask = PageAsk::new(q.page, q.page_size)?;
    let sort = sort_key(q.sort_by.as_deref(), SortKey::Role, &ASSIGNMENT_SORTS)?;
    let desc = descending(q.order.as_deref())?;
    let selection = Selection {
        subject: Some(username),
        orgs: list(q.orgs.as_deref()),
        roles: list(q.roles.as_deref()),
        ..Selection::default()
    };
    let index = state.index_at(None).await?;
    let page = service::assignments(
        state.node(),
        &index,
        &actor,
        selection,
        window(ask, sort, desc),
    )
    .await?;
    let results = page
        .rows
        .into_iter()
        .map(|a| UserAssignment {
            is_superadmin: false,
            permission_count: service::permission_count(&index, &a.role),
            org: service::org_of(&a.scope).unwrap_or_default().to_owned(),
            role: a.role,
            scope: a.scope,
        })
        .collect();
    Ok(Json(ask.answer(&uri, page.count, results)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssignmentsQuery {
    pub orgs: Option<String>,
    pub roles: Option<String>,
    pub scopes: Option<String>,
    pub search: Option<String>,
    /// `role`, `org`, `scope`, `full_name` (default), `username` or `email`.
    #[param(pattern = "^(role|org|scope|full_name|username|email)?$")]
    pub sort_by: Option<String>,
    #[param(pattern = "^(asc|desc)?$")]
    pub order: Option<String>,
    #[param(minimum = 1)]
    pub page: Option<u64>,
    #[param(minimum = 0)]
    pub page_size: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Assignment {
    pub is_superadmin: bool,
    pub role: String,
    pub org: String,
    pub scope: String,
    pub permission_count: usize,
    pub full_name: String,
    pub username: String,
    pub email: String,
}

const ALL_SORTS: [(&str, SortKey); 6] = [
    ("role", SortKey::Role),
    ("org", SortKey::Scope),
    ("scope", SortKey::Scope),
    ("full_name", SortKey::Username),
    ("username", SortKey::Username),
    ("email", SortKey::Email),
];

/// All visible assignments
///
/// Every assignment the caller may see, with its holder.
#[utoipa::path(get, path = "/api/authz/v1/assignments/", tag = "openedx", params(AssignmentsQuery),
    responses((status = 200, body = Paged<Assignment>), (status = 404, description = "no such page", body = ErrorBody)))]
pub async fn assignments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    uri: OriginalUri,
    ApiQuery(q): ApiQuery<AssignmentsQuery>,
) -> ApiResult<Json<Paged<Assignment>>> {
    let ask = PageAsk::new(q.page, q.page_size)?;
    let sort = sort_key(q.sort_by.as_deref(), SortKey::Username, &ALL_SORTS)?;
    let desc = descending(q.order.as_deref())?;
    let selection = Selection {
        orgs: list(q.orgs.as_deref()),
        roles: list(q.roles.as_deref()),
        scopes: list(q.scopes.as_deref()),
        search: non_empty(q.search),
        ..Selection::default()
    };
    let index = state.index_at(None).await?;
    let page = service::assignments(
        state.node(),
        &index,
        &actor,
        selection,
        window(ask, sort, desc),
    )
    .await?;
    let results = page
        .rows
        .into_iter()
        .map(|a| Assignment {
            is_superadmin: false,
            permission_count: service::permission_count(&index, &a.role),
            org: service::org_of(&a.scope).unwrap_or_default().to_owned(),
            full_name: String::new(),
            email: a.email.unwrap_or_default(),
            username: a.subject,
            role: a.role,
            scope: a.scope,
        })
        .collect();
    Ok(Json(ask.answer(&uri, page.count, results)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScopesQuery {
    /// A case-insensitive part of the scope key (Provost keeps no display names).
    pub search: Option<String>,
    pub org: Option<String>,
    /// Comma-separated org short names.
    pub orgs: Option<String>,
    /// `course` or `library`; both when absent.
    #[param(pattern = "^(course|library)?$")]
    pub scope_type: Option<String>,
    /// Only scopes whose team the caller may manage (else: may view).
    pub management_permission_only: Option<bool>,
    #[param(minimum = 1)]
    pub page: Option<u64>,
    #[param(minimum = 0)]
    pub page_size: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeOrg {
    pub name: String,
    pub short_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeItem {
    pub external_key: String,
    /// The key: Provost keeps no display names.
    pub display_name: String,
    pub org: Option<ScopeOrg>,
}

/// Scopes with teams
///
/// The course and library scopes (holding assignments) whose team the caller may view or manage.
#[utoipa::path(get, path = "/api/authz/v1/scopes/", tag = "openedx", params(ScopesQuery),
    responses((status = 200, body = Paged<ScopeItem>), (status = 404, description = "no such page", body = ErrorBody)))]
pub async fn scopes(
    State(state): State<AppState>,
    Principal(actor): Principal,
    uri: OriginalUri,
    ApiQuery(q): ApiQuery<ScopesQuery>,
) -> ApiResult<Json<Paged<ScopeItem>>> {
    let ask = PageAsk::new(q.page, q.page_size)?;
    let kind = match q.scope_type.as_deref() {
        None | Some("") => None,
        Some("course") => Some(Kind::Course),
        Some("library") => Some(Kind::Library),
        Some(other) => {
            return Err(invalid_choice("scope_type", other, "`course`, `library`").into())
        }
    };
    let mut orgs = list(q.orgs.as_deref()).unwrap_or_default();
    orgs.extend(non_empty(q.org));
    let selection = Selection {
        orgs: (!orgs.is_empty()).then_some(orgs),
        scope_search: non_empty(q.search),
        ..Selection::default()
    };
    let manage = q.management_permission_only.unwrap_or(false);
    let index = state.index_at(None).await?;
    let page = service::scopes(
        state.node(),
        &index,
        &actor,
        selection,
        kind,
        manage,
        window(ask, SortKey::Scope, false),
    )
    .await?;
    let results = page
        .rows
        .into_iter()
        .map(|key| ScopeItem {
            org: service::org_of(&key).map(|o| ScopeOrg {
                name: o.to_owned(),
                short_name: o.to_owned(),
            }),
            display_name: key.clone(),
            external_key: key,
        })
        .collect();
    Ok(Json(ask.answer(&uri, page.count, results)?))
}

/// The course-authoring flag's states
///
/// The legacy app's course-authoring flag (`authz.enable_course_authoring`) in openedx-authz's
/// shape: the instance value (`global`) and the orgs and courses where it is set on or off,
/// overriding the level above. Anyone signed in may ask.
#[utoipa::path(get, path = "/api/authz/v1/waffle-flag-states/", tag = "openedx",
    responses((status = 200, body = service::WaffleFlagStates)))]
pub async fn waffle_flag_states(
    State(state): State<AppState>,
    _caller: Principal,
) -> ApiResult<Json<service::WaffleFlagStates>> {
    Ok(Json(service::waffle_flag_states(state.node()).await?))
}
