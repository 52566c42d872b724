//! The authz app's HTTP handlers: extract, call `service`, answer. Shapes are in `http_types`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use provost_engine::{canonical_scope, AssignmentKey};
use provost_store::{AssignmentFilter, AuditFilter, AuditRange};
use serde_json::json;

use super::http_types::*;
use super::roles::{self, RoleInput, RoleView};
use super::service::{self, AssignmentInput, BulkResult};
use crate::api_error::{ApiError, ErrorBody};
use crate::auth::Principal;
use crate::err::{Error, ErrorCode};
use crate::extract::{
    decode_cursor, encode_cursor, next_page, page_limit, ApiJson, ApiPath, ApiQuery,
};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

fn key_of(a: &AssignmentInput) -> String {
    encode_cursor(&AssignmentKey {
        subject: a.subject.clone(),
        role: a.role.clone(),
        scope: a.scope.clone(),
    })
}

/// May a subject do an action at a scope?
///
/// Decides one question against this node's index: the subject (the caller when absent) may do
/// `action` at `scope` when a role it holds at the scope or an ancestor (org, instance) grants the
/// action, within its time window. Asking about someone else needs the `authz_service` role or
/// admin. With `?explain=true` the answer also says why (`reason`, `message`, `because`) and, for a
/// role that lacks the action, which roles would grant it (`would_grant`).
#[utoipa::path(post, path = "/api/v1/check", tag = "authz", params(CheckQuery), request_body = CheckRequest,
    responses((status = 200, body = CheckResponse)))]
pub async fn check(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiQuery(query): ApiQuery<CheckQuery>,
    ApiJson(body): ApiJson<CheckRequest>,
) -> ApiResult<Json<CheckResponse>> {
    let index = state.index_at(body.at_least_revision).await?;
    let subject = body.subject.as_deref();
    let answer = service::check(
        &index,
        &actor,
        subject,
        &body.action,
        &body.scope,
        query.explain,
    )?;
    let allowed = usize::from(answer.allowed);
    state.metrics().count_checks(allowed, 1 - allowed);
    Ok(Json(answer.into()))
}

/// Many checks in one request
///
/// Decides each question in order, as `POST /api/v1/check` would, against one revision of the
/// index; the answers come back in the order asked. An invalid item fails the whole request, naming
/// its index (`details.index`).
#[utoipa::path(post, path = "/api/v1/check/batch", tag = "authz", request_body = BatchRequest,
    responses((status = 200, body = BatchResponse)))]
pub async fn check_batch(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<BatchRequest>,
) -> ApiResult<Json<BatchResponse>> {
    state.check_items(body.checks.len())?;
    let index = state.index_at(body.at_least_revision).await?;
    let mut results = Vec::with_capacity(body.checks.len());
    // Each check's memory is asked for a few checks before it runs (`Index::read_ahead`).
    let asked = index.read_ahead(&body.checks, |c| {
        let subject = c.subject.as_deref().unwrap_or(actor.username.as_str());
        (subject, c.scope.as_str())
    });
    for (i, c) in asked {
        let answer = service::check(
            &index,
            &actor,
            c.subject.as_deref(),
            &c.action,
            &c.scope,
            false,
        )
        .map_err(|e| ApiError::from(e).at_index(i))?;
        results.push(BatchResult {
            allowed: answer.allowed,
        });
    }
    let allowed = results.iter().filter(|r| r.allowed).count();
    state
        .metrics()
        .count_checks(allowed, results.len() - allowed);
    Ok(Json(BatchResponse {
        results,
        revision: index.revision(),
    }))
}

/// List assignments
///
/// Assignments the caller may see, ordered by subject, role and scope, filtered by subject, role or
/// scope (exact), one page at a time: pass the answer's `next_cursor` as `cursor` for the next
/// page.
#[utoipa::path(get, path = "/api/v1/assignments", tag = "authz", params(AssignmentsQuery),
    responses((status = 200, body = AssignmentPage)))]
pub async fn list_assignments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiQuery(q): ApiQuery<AssignmentsQuery>,
) -> ApiResult<Json<AssignmentPage>> {
    let limit = page_limit(q.limit)?;
    let after: Option<AssignmentKey> = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let filter = AssignmentFilter {
        subject: q.subject,
        role: q.role,
        scope: q.scope,
    };
    let mut items =
        service::list_assignments(state.node(), &actor, filter, after, limit + 1).await?;
    let next_cursor = next_page(&mut items, limit, key_of);
    Ok(Json(AssignmentPage { items, next_cursor }))
}

/// 200 when every item succeeded, 207 when some did; otherwise an error carrying the items:
/// 403 when every item was forbidden, else 422 (nothing applied, or an atomic request refused).
fn bulk_answer(result: BulkResult) -> ApiResult<(StatusCode, Json<BulkResult>)> {
    let (failed, _) = result.tally();
    let skipped = result.items.iter().any(|i| i.status == "skipped");
    let applied = result
        .items
        .iter()
        .any(|i| i.error.is_none() && i.status != "skipped");
    if failed == 0 {
        return Ok((StatusCode::OK, Json(result)));
    }
    if applied {
        return Ok((StatusCode::MULTI_STATUS, Json(result)));
    }
    let all_conflicts = result
        .items
        .iter()
        .filter_map(|i| i.error.as_ref())
        .all(|e| e.code == ErrorCode::Conflict);
    if all_conflicts {
        // Only roles that changed under the request stood in the way: trying again may succeed.
        let details = json!({ "items": result.items, "revision": result.revision });
        return Err(
            ApiError::new(ErrorCode::Conflict, "a role changed while assigning; retry")
                .with_details(details),
        );
    }
    let forbidden = !skipped
        && result.items.iter().all(|i| {
            i.error
                .as_ref()
                .is_some_and(|e| e.code == ErrorCode::Forbidden)
        });
    let details = json!({ "items": result.items, "revision": result.revision });
    let error = match (forbidden, skipped) {
        (true, _) => ApiError::new(ErrorCode::Forbidden, "no item may be changed by the caller"),
        (false, true) => ApiError::new(
            ErrorCode::AtomicRefused,
            format!("{failed} item(s) were refused, so nothing was changed"),
        ),
        (false, false) => ApiError::new(ErrorCode::NothingApplied, "every item was refused"),
    };
    Err(error.with_details(details))
}

/// Assign roles
///
/// Gives each subject the role at the scope, in one transaction, audited. Each item succeeds or
/// carries its own error; with `atomic: true` one refused item refuses them all. Assigning needs
/// the right to manage the team at the scope (and the role must not grant more than the caller
/// holds there).
#[utoipa::path(post, path = "/api/v1/assignments", tag = "authz", request_body = BulkRequest,
    responses((status = 200, description = "every item applied", body = BulkResult),
        (status = 207, description = "some items applied; the others carry their error", body = BulkResult),
        (status = 403, description = "no item may be changed by the caller; `details.items` has each", body = ErrorBody),
        (status = 409, description = "nothing applied: a role changed while assigning; retry", body = ErrorBody),
        (status = 422, description = "nothing applied (`nothing_applied`, `atomic_refused`); `details.items` has each", body = ErrorBody)))]
pub async fn assign(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<BulkRequest>,
) -> ApiResult<(StatusCode, Json<BulkResult>)> {
    state.check_items(body.assignments.len())?;
    bulk_answer(service::assign(state.node(), &actor, &body.assignments, body.atomic).await?)
}

/// Remove assignments
///
/// Takes each role from its subject at its scope, in one transaction, audited; the statuses follow
/// `POST /api/v1/assignments`. An item not held is `not_found`.
#[utoipa::path(delete, path = "/api/v1/assignments", tag = "authz", request_body = BulkRequest,
    responses((status = 200, description = "every item applied", body = BulkResult),
        (status = 207, description = "some items applied; the others carry their error", body = BulkResult),
        (status = 403, description = "no item may be changed by the caller; `details.items` has each", body = ErrorBody),
        (status = 422, description = "nothing applied (`nothing_applied`, `atomic_refused`); `details.items` has each", body = ErrorBody)))]
pub async fn unassign(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<BulkRequest>,
) -> ApiResult<(StatusCode, Json<BulkResult>)> {
    state.check_items(body.assignments.len())?;
    bulk_answer(service::unassign(state.node(), &actor, &body.assignments, body.atomic).await?)
}

/// List roles
///
/// Every role, built-in and custom, with its description, its permissions and the org it belongs to
/// (custom roles may be an org's own).
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles", responses((status = 200, body = RoleList)))]
pub async fn list_roles(
    State(state): State<AppState>,
    _caller: Principal,
) -> ApiResult<Json<RoleList>> {
    Ok(Json(RoleList {
        items: roles::roles(state.node()).await?,
    }))
}

/// One role
///
/// The role's description, permissions and org, and whether it is built in.
#[utoipa::path(get, path = "/api/v1/roles/{name}", tag = "roles", params(("name" = RoleName, Path)),
    responses((status = 200, body = RoleView), (status = 404, description = "no such role", body = ErrorBody)))]
pub async fn get_role(
    State(state): State<AppState>,
    _caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<RoleView>> {
    Ok(Json(roles::role(state.node(), &name).await?))
}

/// Create a custom role
///
/// A new role bundling existing permissions (built-in or loaded from a policy file), optionally
/// owned by one org. Admins, or managers of that org's roles. 409 `role_exists` when the name is
/// taken.
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", request_body = RoleInput,
    responses((status = 201, body = RoleSaved), (status = 422, description = "an unknown permission", body = ErrorBody)))]
pub async fn create_role(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<RoleInput>,
) -> ApiResult<(StatusCode, Json<RoleSaved>)> {
    let (role, revision) = roles::save_role(state.node(), &actor, body, true).await?;
    Ok((StatusCode::CREATED, Json(RoleSaved { role, revision })))
}

/// Replace a custom role
///
/// Sets the role's description, permissions and org; its holders gain or lose what changed at once.
/// Built-in roles cannot be changed (409 `builtin_role`). Preview the effect first with `GET
/// /api/v1/roles/{name}/impact`.
#[utoipa::path(put, path = "/api/v1/roles/{name}", tag = "roles", params(("name" = RoleName, Path)), request_body = RoleBody,
    responses((status = 200, body = RoleSaved), (status = 404, description = "no such role", body = ErrorBody),
        (status = 422, description = "an unknown permission", body = ErrorBody)))]
pub async fn replace_role(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> ApiResult<Json<RoleSaved>> {
    let input = RoleInput {
        name,
        description: body.description,
        permissions: body.permissions,
        org: body.org,
    };
    let (role, revision) = roles::save_role(state.node(), &actor, input, false).await?;
    Ok(Json(RoleSaved { role, revision }))
}

/// Delete a custom role
///
/// Removes the role and every assignment of it, in one audited write. Built-in roles cannot be
/// deleted (409 `builtin_role`).
#[utoipa::path(delete, path = "/api/v1/roles/{name}", tag = "roles", params(("name" = RoleName, Path)),
    responses((status = 200, body = Revision), (status = 404, description = "no such role", body = ErrorBody)))]
pub async fn delete_role(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Revision>> {
    Ok(Json(Revision {
        revision: roles::delete_role(state.node(), &actor, &name).await?,
    }))
}

/// Preview a role change
///
/// Who would gain or lose which permissions, and where, if the role granted `permissions` instead
/// of what it grants now. Nothing is changed. The affected assignments come one page at a time.
#[utoipa::path(get, path = "/api/v1/roles/{name}/impact", tag = "roles", params(("name" = RoleName, Path), ImpactQuery),
    responses((status = 200, body = ImpactPage), (status = 404, description = "no such role", body = ErrorBody),
        (status = 422, description = "an unknown permission", body = ErrorBody)))]
pub async fn role_impact(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<ImpactQuery>,
) -> ApiResult<Json<ImpactPage>> {
    let limit = page_limit(q.limit)?;
    let after: Option<AssignmentKey> = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let proposed: Vec<String> = q
        .permissions
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect();
    let mut impact =
        roles::role_impact(state.node(), &actor, &name, &proposed, after, limit + 1).await?;
    let role = impact.role.clone();
    let next_cursor = next_page(&mut impact.assignments, limit, |a| {
        encode_cursor(&AssignmentKey {
            subject: a.subject.clone(),
            role: role.clone(),
            scope: a.scope.clone(),
        })
    });
    Ok(Json(ImpactPage {
        impact,
        next_cursor,
    }))
}

/// List permissions
///
/// Every permission the loaded policy defines, with its description and the permissions it implies.
#[utoipa::path(get, path = "/api/v1/permissions", tag = "roles", responses((status = 200, body = PermissionList)))]
pub async fn list_permissions(
    State(state): State<AppState>,
    _caller: Principal,
) -> ApiResult<Json<PermissionList>> {
    let index = state.index_at(None).await?;
    Ok(Json(PermissionList {
        items: roles::permissions(&index),
    }))
}

/// Who may do an action at a scope?
///
/// The subjects that may do `action` at `scope`, by any role and at any ancestor scope, sorted, one
/// page at a time. Needs the right to manage the team there, the `authz_service` role, or admin.
#[utoipa::path(get, path = "/api/v1/lookup/subjects", tag = "authz", params(SubjectsQuery),
    responses((status = 200, body = NamePage)))]
pub async fn lookup_subjects(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiQuery(q): ApiQuery<SubjectsQuery>,
) -> ApiResult<Json<NamePage>> {
    let limit = page_limit(q.limit)?;
    let index = state.index_at(q.at_least_revision).await?;
    let after: Option<String> = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let page = service::who(
        &index,
        &actor,
        &q.action,
        &q.scope,
        after.as_deref(),
        limit as usize,
    )?;
    Ok(Json(NamePage {
        items: page.subjects,
        next_cursor: page.next.as_ref().map(encode_cursor),
    }))
}

/// Where may a subject do an action?
///
/// The scopes at which the subject (the caller when absent) may do `action`, optionally only of one
/// `kind`, sorted, one page at a time. Asking about someone else needs the `authz_service` role or
/// admin.
#[utoipa::path(get, path = "/api/v1/lookup/scopes", tag = "authz", params(ScopesQuery),
    responses((status = 200, body = NamePage)))]
pub async fn lookup_scopes(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiQuery(q): ApiQuery<ScopesQuery>,
) -> ApiResult<Json<NamePage>> {
    let limit = page_limit(q.limit)?;
    let index = state.index_at(q.at_least_revision).await?;
    let after: Option<String> = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let page = service::scopes(
        &index,
        &actor,
        q.subject.as_deref(),
        &q.action,
        q.kind.as_deref(),
        after.as_deref(),
        limit as usize,
    )?;
    Ok(Json(NamePage {
        items: page.scopes,
        next_cursor: page.next.as_ref().map(encode_cursor),
    }))
}

/// Create or update a user
///
/// Creates the user, or updates the fields sent: an absent field keeps the stored value (false or
/// none for a new user); `email: null` clears the email. Making someone a superuser needs a
/// superuser.
#[utoipa::path(put, path = "/api/v1/users/{username}", tag = "users", params(("username" = Username, Path)), request_body = UserBody,
    responses((status = 200, body = UserSaved)))]
pub async fn put_user(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(username): ApiPath<String>,
    ApiJson(body): ApiJson<UserBody>,
) -> ApiResult<Json<UserSaved>> {
    let update = service::UserUpdate {
        username: username.clone(),
        email: body.email,
        staff: body.staff,
        superuser: body.superuser,
    };
    let revision = service::update_user(state.node(), &actor, update).await?;
    Ok(Json(UserSaved { username, revision }))
}

/// Retire a user
///
/// Removes the user and every assignment they hold, in one audited write; the audit log keeps their
/// history.
#[utoipa::path(delete, path = "/api/v1/users/{username}", tag = "users", params(("username" = Username, Path)),
    responses((status = 200, body = UserSaved), (status = 404, description = "no such user", body = ErrorBody)))]
pub async fn retire_user(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(username): ApiPath<String>,
) -> ApiResult<Json<UserSaved>> {
    let revision = service::retire_user(state.node(), &actor, &username).await?;
    Ok(Json(UserSaved { username, revision }))
}

/// Read the audit log
///
/// Every change, with its revision, time, actor and what it was (and what it replaced), filtered by
/// subject or scope. Without `since`, newest first; with `since`, oldest first after that revision,
/// as a change feed. Admins only.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage)))]
pub async fn audit(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let limit = page_limit(q.limit)?;
    if q.since.is_some_and(|since| since > i64::MAX as u64) {
        return Err(Error::new(
            ErrorCode::InvalidRevision,
            format!("`since` must be a revision from 0 to {}", i64::MAX),
        )
        .into());
    }
    // Without `since`, newest first for people; the cursor carries the direction and position.
    let range = match (q.cursor.as_deref(), q.since) {
        (Some(cursor), _) => decode_cursor::<AuditRange>(cursor)?,
        (None, Some(since)) => AuditRange::After(since),
        (None, None) => AuditRange::Before(None),
    };
    let scope = q
        .scope
        .map(|s| canonical_scope(&s))
        .transpose()
        .map_err(Error::from)?;
    let filter = AuditFilter {
        subject: q.subject,
        scope,
    };
    let mut entries = service::audit(state.node(), &actor, filter, range, limit + 1).await?;
    let next_cursor = next_page(&mut entries, limit, |e| {
        encode_cursor(&range.next(e.revision()))
    });
    Ok(Json(AuditPage {
        items: entries.into_iter().map(AuditItem::from).collect(),
        next_cursor,
    }))
}

/// Which of these may I do?
///
/// The Open edX MFE's question list: unknown actions, unknown or malformed scopes are `false`.
#[utoipa::path(post, path = "/api/authz/v1/permissions/validate/me", tag = "openedx", request_body = Vec<ValidateItem>,
    responses((status = 200, body = Vec<ValidateResult>)))]
pub async fn validate_me(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(items): ApiJson<Vec<ValidateItem>>,
) -> ApiResult<Json<Vec<ValidateResult>>> {
    state.check_items(items.len())?;
    let index = state.index_at(None).await?;
    let results: Vec<ValidateResult> = items
        .into_iter()
        .map(|item| {
            let allowed = match &item.scope {
                None => service::allowed_anywhere(&index, &actor, &item.action),
                Some(scope) => service::check(&index, &actor, None, &item.action, scope, false)
                    .is_ok_and(|a| a.allowed),
            };
            ValidateResult {
                action: item.action,
                scope: item.scope,
                allowed,
            }
        })
        .collect();
    let allowed = results.iter().filter(|r| r.allowed).count();
    state
        .metrics()
        .count_checks(allowed, results.len() - allowed);
    Ok(Json(results))
}
