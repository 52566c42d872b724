//! The enterprise app's HTTP handlers, in enterprise-access's shapes: extract, call the rules,
//! answer. Who may call each route is stated on it, in enterprise-access's permission names.

use super::service::UuidKey;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::assignments::{self, AllocateInput, Allocated, AssignmentList, CancelInput};
use super::eligibility::{self, CanRedeem, CreditAvailable};
use super::groups::{self, GroupsInput, GroupsSaved};
use super::imports::{
    self, CatalogInput, CatalogView, LearnerInput, LearnersInput, LearnersSaved, Ledger,
    SubsidyInput, SubsidyView, TransactionView,
};
use super::policies::{self, PolicyInput, PolicyPage, PolicyPatch, PolicyView};
use super::redeem::{self, RedeemInput};
use super::requests::{self, RequestInput, RequestList, RequestView, Review, ReviewInput};
use crate::api_error::{ApiError, ErrorBody};
use crate::auth::Principal;
use crate::err::{Error, ErrorCode};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

fn created_or_ok<T>((value, created): (T, bool)) -> (StatusCode, Json<T>) {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(value))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CustomerQuery {
    /// The enterprise customer.
    #[param(value_type = UuidKey)]
    pub enterprise_customer_uuid: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CreditsQuery {
    #[param(value_type = UuidKey)]
    pub enterprise_customer_uuid: String,
    /// Another learner (operators only); the caller's own learner record by default.
    #[param(minimum = 1)]
    pub lms_user_id: Option<i64>,
}

/// `can-redeem`'s query: `content_key` repeated for each key (`?content_key=a&content_key=b`),
/// as enterprise-access's list field reads it; `lms_user_id` at most once.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CanRedeemQuery {
    /// The content keys: one parameter each.
    #[param(value_type = Vec<super::service::ContentKey>, style = Form, explode, min_items = 1)]
    pub content_key: Vec<String>,
    /// Another learner (operators only); the caller's own learner record by default.
    #[param(minimum = 1)]
    pub lms_user_id: Option<i64>,
}

impl TryFrom<Vec<(String, String)>> for CanRedeemQuery {
    type Error = Error;

    /// Reads the decoded pairs of the query string, refusing what the query cannot hold.
    fn try_from(pairs: Vec<(String, String)>) -> Result<Self, Error> {
        let invalid =
            |why: String| Error::new(ErrorCode::InvalidQuery, format!("invalid query: {why}"));
        let mut query = CanRedeemQuery {
            content_key: Vec::new(),
            lms_user_id: None,
        };
        for (name, value) in pairs {
            match name.as_str() {
                "content_key" => query.content_key.push(value),
                "lms_user_id" if query.lms_user_id.is_some() => {
                    return Err(invalid("duplicate field `lms_user_id`".into()))
                }
                "lms_user_id" => {
                    let id = value
                        .parse()
                        .map_err(|e| invalid(format!("lms_user_id: {e}")))?;
                    query.lms_user_id = Some(id);
                }
                other => {
                    return Err(invalid(format!(
                        "unknown field `{}`, expected `content_key` or `lms_user_id`",
                        crate::access::truncate(other)
                    )))
                }
            }
        }
        if query.content_key.is_empty() {
            return Err(invalid("missing field `content_key`".into()));
        }
        Ok(query)
    }
}

// ---- stand-ins ----

/// Load a subsidy
///
/// Loads a subsidy (the enterprise-subsidy stand-in); the same uuid again updates it. Who:
/// `enterprise.provision` at the customer (operators, provisioning admins).
#[utoipa::path(post, path = "/api/v1/subsidies", tag = "enterprise", request_body = SubsidyInput,
    responses((status = 201, body = SubsidyView), (status = 200, description = "updated", body = SubsidyView),
        (status = 422, description = "another customer's subsidy, or a deposit below its spend", body = ErrorBody)))]
pub async fn put_subsidy(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<SubsidyInput>,
) -> ApiResult<(StatusCode, Json<SubsidyView>)> {
    Ok(created_or_ok(
        imports::put_subsidy(state.node(), &actor, &body).await?,
    ))
}

/// A subsidy and its ledger
///
/// A subsidy with its ledger. Who: `content_assignment.has_admin_read_access` at its customer
/// (admins, operators).
#[utoipa::path(get, path = "/api/v1/subsidies/{uuid}", tag = "enterprise", params(("uuid" = UuidKey, Path)),
    responses((status = 200, body = Ledger), (status = 404, description = "no such subsidy", body = ErrorBody)))]
pub async fn get_subsidy(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
) -> ApiResult<Json<Ledger>> {
    Ok(Json(imports::ledger(state.node(), &actor, &uuid).await?))
}

/// Load a catalog
///
/// Loads a catalog (the enterprise-catalog stand-in); its content replaces what it held. Who:
/// `enterprise.provision` at the customer.
#[utoipa::path(post, path = "/api/v1/catalogs", tag = "enterprise", request_body = CatalogInput,
    responses((status = 201, body = CatalogView), (status = 200, description = "replaced", body = CatalogView),
        (status = 422, description = "another customer's catalog", body = ErrorBody)))]
pub async fn put_catalog(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<CatalogInput>,
) -> ApiResult<(StatusCode, Json<CatalogView>)> {
    Ok(created_or_ok(
        imports::put_catalog(state.node(), &actor, &body).await?,
    ))
}

/// Add or update a customer's learners
///
/// Adds or updates the customer's learners (the LMS stand-in). Who: `enterprise.provision`.
#[utoipa::path(put, path = "/api/v1/enterprise-customers/{uuid}/learners", tag = "enterprise",
    params(("uuid" = UuidKey, Path)), request_body = LearnersInput, responses((status = 200, body = LearnersSaved)))]
pub async fn put_learners(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
    ApiJson(body): ApiJson<LearnersInput>,
) -> ApiResult<Json<LearnersSaved>> {
    state.check_items(body.learners.len())?;
    Ok(Json(
        imports::put_learners(state.node(), &actor, &uuid, &body).await?,
    ))
}

/// Remove a learner from a customer
///
/// Removes the learner from the customer (the LMS stand-in unlinked them): they redeem nothing
/// more through its policies; their ledger and assignments stay. Answers the learner removed,
/// 404 when the customer has no such learner. Who: `enterprise.provision` at the customer
/// (operators, provisioning admins), as for the learner import.
#[utoipa::path(delete, path = "/api/v1/enterprise-customers/{uuid}/learners/{lms_user_id}", tag = "enterprise",
    params(("uuid" = UuidKey, Path), ("lms_user_id" = i64, Path, minimum = 1)),
    responses((status = 200, body = LearnerInput), (status = 404, description = "no such learner at the customer", body = ErrorBody)))]
pub async fn remove_learner(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath((uuid, lms_user_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<LearnerInput>> {
    Ok(Json(
        imports::remove_learner(state.node(), &actor, &uuid, &lms_user_id).await?,
    ))
}

/// Load a customer's enterprise groups
///
/// Adds or replaces the customer's enterprise groups, each with all its members (the LMS groups
/// stand-in); a policy whose `group_uuids` name any pays only for learners in one of them.
/// Who: `enterprise.provision` at the customer; a group of another customer is refused.
#[utoipa::path(put, path = "/api/v1/enterprise-customers/{uuid}/groups", tag = "enterprise",
    params(("uuid" = UuidKey, Path)), request_body = GroupsInput, responses((status = 200, body = GroupsSaved),
        (status = 422, description = "another customer's group (`wrong_customer`)", body = ErrorBody)))]
pub async fn put_groups(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
    ApiJson(body): ApiJson<GroupsInput>,
) -> ApiResult<Json<GroupsSaved>> {
    Ok(Json(
        groups::put_groups(state.node(), &actor, &uuid, &body).await?,
    ))
}

/// Reverse a redemption
///
/// Reverses a committed redemption, as enterprise-subsidy does (its assignment becomes
/// `reversed`). Who: `enterprise.provision` at the customer.
#[utoipa::path(post, path = "/api/v1/transactions/{uuid}/reverse", tag = "enterprise", params(("uuid" = UuidKey, Path)),
    responses((status = 200, body = TransactionView), (status = 404, description = "no such transaction", body = ErrorBody),
        (status = 422, description = "not committed", body = ErrorBody)))]
pub async fn reverse(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
) -> ApiResult<Json<TransactionView>> {
    Ok(Json(imports::reverse(state.node(), &actor, &uuid).await?))
}

// ---- subsidy access policies ----

/// List subsidy access policies
///
/// The customer's policies. Who: `subsidy_access_policy.has_read_access` (learners, admins,
/// operators).
#[utoipa::path(get, path = "/api/v1/subsidy-access-policies/", tag = "enterprise", params(CustomerQuery),
    responses((status = 200, body = PolicyPage)))]
pub async fn list_policies(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiQuery(q): ApiQuery<CustomerQuery>,
) -> ApiResult<Json<PolicyPage>> {
    Ok(Json(
        policies::list(state.node(), &actor, &q.enterprise_customer_uuid).await?,
    ))
}

/// Create a subsidy access policy
///
/// Creates a policy (inactive unless `active`); an identical active policy is returned with 200
/// instead. Who: `subsidy_access_policy.has_write_access` (operators; not admins).
#[utoipa::path(post, path = "/api/v1/subsidy-access-policies/", tag = "enterprise", request_body = PolicyInput,
    responses((status = 201, body = PolicyView), (status = 200, description = "an identical active policy", body = PolicyView),
        (status = 422, description = "a constraint of its type, or spend limits beyond the deposits", body = ErrorBody)))]
pub async fn create_policy(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<PolicyInput>,
) -> ApiResult<(StatusCode, Json<PolicyView>)> {
    Ok(created_or_ok(
        policies::create(state.node(), &actor, &body).await?,
    ))
}

/// One subsidy access policy
///
/// One policy. Who: `subsidy_access_policy.has_read_access` at its customer.
#[utoipa::path(get, path = "/api/v1/subsidy-access-policies/{uuid}/", tag = "enterprise", params(("uuid" = UuidKey, Path)),
    responses((status = 200, body = PolicyView), (status = 404, description = "no such policy", body = ErrorBody)))]
pub async fn get_policy(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
) -> ApiResult<Json<PolicyView>> {
    Ok(Json(policies::get(state.node(), &actor, &uuid).await?))
}

/// Change a subsidy access policy
///
/// Changes a policy; one with spend cannot be deactivated. Who:
/// `subsidy_access_policy.has_write_access` at its customer (operators).
#[utoipa::path(patch, path = "/api/v1/subsidy-access-policies/{uuid}/", tag = "enterprise", params(("uuid" = UuidKey, Path)),
    request_body = PolicyPatch, responses((status = 200, body = PolicyView), (status = 404, description = "no such policy", body = ErrorBody),
        (status = 422, description = "a constraint refused the change", body = ErrorBody)))]
pub async fn update_policy(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
    ApiJson(body): ApiJson<PolicyPatch>,
) -> ApiResult<Json<PolicyView>> {
    Ok(Json(
        policies::update(state.node(), &actor, &uuid, &body).await?,
    ))
}

/// Retire a subsidy access policy
///
/// Retires a policy (soft delete). Who: `subsidy_access_policy.has_write_access` (operators).
#[utoipa::path(delete, path = "/api/v1/subsidy-access-policies/{uuid}/", tag = "enterprise", params(("uuid" = UuidKey, Path)),
    responses((status = 200, body = PolicyView), (status = 404, description = "no such policy", body = ErrorBody),
        (status = 422, description = "a constraint refused the change", body = ErrorBody)))]
pub async fn retire_policy(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
) -> ApiResult<Json<PolicyView>> {
    Ok(Json(policies::retire(state.node(), &actor, &uuid).await?))
}

// ---- redemption ----

/// Policies a learner can redeem through
///
/// The policies through which the learner can still redeem. Who:
/// `subsidy_access_policy.has_redemption_access`; another learner's only for operators.
#[utoipa::path(get, path = "/api/v1/policy-redemption/credits_available/", tag = "enterprise", params(CreditsQuery),
    responses((status = 200, body = Vec<CreditAvailable>)))]
pub async fn credits_available(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiQuery(q): ApiQuery<CreditsQuery>,
) -> ApiResult<Json<Vec<CreditAvailable>>> {
    Ok(Json(
        eligibility::credits_available(
            state.node(),
            &actor,
            &q.enterprise_customer_uuid,
            q.lms_user_id,
        )
        .await?,
    ))
}

/// Can this content be redeemed?
///
/// Per content key: whether a policy can pay, which one, and why the others cannot. Who:
/// `subsidy_access_policy.has_redemption_access`; another learner's only for operators.
#[utoipa::path(get, path = "/api/v1/policy-redemption/enterprise-customer/{uuid}/can-redeem/", tag = "enterprise",
    params(("uuid" = UuidKey, Path), CanRedeemQuery), responses((status = 200, body = Vec<CanRedeem>)))]
pub async fn can_redeem(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Json<Vec<CanRedeem>>> {
    let q = CanRedeemQuery::try_from(pairs)?;
    state.check_items(q.content_key.len())?;
    Ok(Json(
        eligibility::can_redeem(state.node(), &actor, &uuid, &q.content_key, q.lms_user_id).await?,
    ))
}

/// Redeem content
///
/// Redeems content through the policy; a retry returns the first transaction (200 either way).
/// Who: `subsidy_access_policy.has_redemption_access` at the policy's customer, for the
/// caller's own learner record (operators for anyone).
#[utoipa::path(post, path = "/api/v1/policy-redemption/{uuid}/redeem/", tag = "enterprise", params(("uuid" = UuidKey, Path)),
    request_body = RedeemInput, responses((status = 200, body = TransactionView), (status = 404, description = "no such policy", body = ErrorBody),
        (status = 422, description = "not redeemable (`not_redeemable`, `details.reasons`)", body = ErrorBody)))]
pub async fn redeem(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
    ApiJson(body): ApiJson<RedeemInput>,
) -> ApiResult<Json<TransactionView>> {
    Ok(Json(
        redeem::redeem(state.node(), &actor, &uuid, &body).await?.0,
    ))
}

// ---- content assignments ----

/// Allocate content to learners
///
/// Allocates content to learners from an assigned policy (202 with created / updated /
/// no_change). Who: `subsidy_access_policy.has_allocation_access` (admins, operators).
#[utoipa::path(post, path = "/api/v1/policy-allocation/{uuid}/allocate/", tag = "enterprise", params(("uuid" = UuidKey, Path)),
    request_body = AllocateInput, responses((status = 202, body = Allocated), (status = 404, description = "no such policy", body = ErrorBody),
        (status = 422, description = "price out of range, not enough value, or not an assigned policy", body = ErrorBody)))]
pub async fn allocate(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
    ApiJson(body): ApiJson<AllocateInput>,
) -> ApiResult<(StatusCode, Json<Allocated>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(assignments::allocate(state.node(), &actor, &uuid, &body).await?),
    ))
}

/// List a configuration's assignments
///
/// The assignments of an assignment configuration (here: its assigned policy). Who:
/// `content_assignment.has_admin_read_access` (admins, operators).
#[utoipa::path(get, path = "/api/v1/assignment-configurations/{uuid}/admin/assignments/", tag = "enterprise",
    params(("uuid" = UuidKey, Path)), responses((status = 200, body = AssignmentList), (status = 404, description = "no such configuration", body = ErrorBody)))]
pub async fn list_assignments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
) -> ApiResult<Json<AssignmentList>> {
    Ok(Json(assignments::list(state.node(), &actor, &uuid).await?))
}

/// List my assignments
///
/// The caller's own assignments in an assignment configuration. Who:
/// `content_assignment.has_learner_read_access` (learners, admins, operators).
#[utoipa::path(get, path = "/api/v1/assignment-configurations/{uuid}/assignments/", tag = "enterprise",
    params(("uuid" = UuidKey, Path)), responses((status = 200, body = AssignmentList), (status = 404, description = "no such configuration", body = ErrorBody)))]
pub async fn my_assignments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
) -> ApiResult<Json<AssignmentList>> {
    Ok(Json(assignments::mine(state.node(), &actor, &uuid).await?))
}

/// Cancel assignments
///
/// Cancels allocated or errored assignments (all or none). Who:
/// `content_assignment.has_admin_write_access` (admins, operators).
#[utoipa::path(post, path = "/api/v1/assignment-configurations/{uuid}/admin/assignments/cancel/", tag = "enterprise",
    params(("uuid" = UuidKey, Path)), request_body = CancelInput,
    responses((status = 200, body = AssignmentList), (status = 404, description = "no such configuration or assignment", body = ErrorBody),
        (status = 422, description = "an assignment that cannot be cancelled", body = ErrorBody)))]
pub async fn cancel_assignments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(uuid): ApiPath<String>,
    ApiJson(body): ApiJson<CancelInput>,
) -> ApiResult<Json<AssignmentList>> {
    Ok(Json(
        assignments::cancel(state.node(), &actor, &uuid, &body).await?,
    ))
}

// ---- learner credit requests ----

/// List learner credit requests
///
/// The customer's requests: all for `requests.has_admin_access`, one's own for
/// `requests.has_learner_or_admin_access`.
#[utoipa::path(get, path = "/api/v1/learner-credit-requests/", tag = "enterprise", params(CustomerQuery),
    responses((status = 200, body = RequestList)))]
pub async fn list_requests(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiQuery(q): ApiQuery<CustomerQuery>,
) -> ApiResult<Json<RequestList>> {
    Ok(Json(
        requests::list(state.node(), &actor, &q.enterprise_customer_uuid).await?,
    ))
}

/// Request learner credit
///
/// A learner asks for credit for a course (201; 200 when an old request is reused). Who:
/// `requests.has_learner_or_admin_access`, for the caller's own learner record.
#[utoipa::path(post, path = "/api/v1/learner-credit-requests/", tag = "enterprise", request_body = RequestInput,
    responses((status = 201, body = RequestView), (status = 200, description = "an old request reused", body = RequestView),
        (status = 422, description = "a request is already open, or not a learner", body = ErrorBody)))]
pub async fn create_request(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<RequestInput>,
) -> ApiResult<(StatusCode, Json<RequestView>)> {
    Ok(created_or_ok(
        requests::create(state.node(), &actor, &body).await?,
    ))
}

/// Approve a credit request
///
/// Approves a request, allocating an assignment. Who: `requests.has_admin_access`.
#[utoipa::path(post, path = "/api/v1/learner-credit-requests/approve/", tag = "enterprise", request_body = ReviewInput,
    responses((status = 200, body = RequestView), (status = 404, description = "no such request", body = ErrorBody),
        (status = 422, description = "not requested, or the allocation was refused", body = ErrorBody)))]
pub async fn approve_request(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<ReviewInput>,
) -> ApiResult<Json<RequestView>> {
    Ok(Json(
        requests::review(state.node(), &actor, &body, Review::Approve).await?,
    ))
}

/// Decline a credit request
///
/// Declines a request with a reason. Who: `requests.has_admin_access`.
#[utoipa::path(post, path = "/api/v1/learner-credit-requests/decline/", tag = "enterprise", request_body = ReviewInput,
    responses((status = 200, body = RequestView), (status = 404, description = "no such request", body = ErrorBody),
        (status = 422, description = "not requested", body = ErrorBody)))]
pub async fn decline_request(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<ReviewInput>,
) -> ApiResult<Json<RequestView>> {
    Ok(Json(
        requests::review(state.node(), &actor, &body, Review::Decline).await?,
    ))
}

/// Cancel a credit request
///
/// Cancels a request: its learner while requested, `requests.has_admin_access` also once approved.
#[utoipa::path(post, path = "/api/v1/learner-credit-requests/cancel/", tag = "enterprise", request_body = ReviewInput,
    responses((status = 200, body = RequestView), (status = 404, description = "no such request", body = ErrorBody),
        (status = 422, description = "not cancellable", body = ErrorBody)))]
pub async fn cancel_request(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<ReviewInput>,
) -> ApiResult<Json<RequestView>> {
    Ok(Json(
        requests::review(state.node(), &actor, &body, Review::Cancel).await?,
    ))
}
