//! Learner credit requests: a learner asks for a course, an admin approves (allocating an
//! assignment), declines with a reason, or either cancels; reviewer and time are recorded.

use super::service::UuidKey;
use provost_store::enterprise::{self as rows, Assignment, CreditRequest};
use provost_store::{AppWrite, Tx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::neighbours::{Catalogs, Learners, NEIGHBOURS};
use super::policies;
use super::service::{self as s, perm};
use crate::access::Actor;
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// States in which a learner's request for a course blocks a new one.
const BLOCKING: &[&str] = &["requested", "approved", "accepted", "error"];
/// States from which an old request is reused for a new ask.
const REUSABLE: &[&str] = &["cancelled", "expired", "reversed"];

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    #[schema(value_type = UuidKey)]
    pub enterprise_customer_uuid: String,
    /// An active assigned learner credit policy of the customer.
    #[schema(value_type = UuidKey)]
    pub policy_uuid: String,
    #[schema(value_type = super::service::ContentKey)]
    pub course_id: String,
}

/// Approve, decline or cancel one request.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    #[schema(value_type = UuidKey)]
    pub enterprise_customer_uuid: String,
    #[schema(value_type = UuidKey)]
    pub learner_credit_request_uuid: String,
    /// For a decline: why, shown to the learner.
    #[schema(value_type = Option<super::service::Text>)]
    pub decline_reason: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RequestView {
    pub uuid: String,
    pub enterprise_customer_uuid: String,
    pub policy_uuid: String,
    pub lms_user_id: i64,
    pub user: String,
    pub email: String,
    pub course_id: String,
    pub course_price: i64,
    pub state: String,
    pub reviewer: Option<String>,
    pub reviewed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub decline_reason: Option<String>,
    pub assignment: Option<String>,
    pub created: chrono::DateTime<chrono::Utc>,
    pub modified: chrono::DateTime<chrono::Utc>,
}

impl From<&CreditRequest> for RequestView {
    fn from(r: &CreditRequest) -> RequestView {
        RequestView {
            uuid: r.uuid.clone(),
            enterprise_customer_uuid: r.enterprise_uuid.clone(),
            policy_uuid: r.policy_uuid.clone(),
            lms_user_id: r.lms_user_id,
            user: r.username.clone(),
            email: r.email.clone(),
            course_id: r.course_id.clone(),
            course_price: r.course_price_cents,
            state: r.state.clone(),
            reviewer: r.reviewer.clone(),
            reviewed_at: r.reviewed_at.map(s::time),
            decline_reason: r.decline_reason.clone(),
            assignment: r.assignment_uuid.clone(),
            created: s::time(r.created_at),
            modified: s::time(r.modified_at),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RequestList {
    pub count: usize,
    pub results: Vec<RequestView>,
}

fn save_audit(
    op: &str,
    r: &CreditRequest,
    before: Option<&CreditRequest>,
) -> provost_store::AppAudit {
    s::audit(
        op,
        &r.enterprise_uuid,
        Some(&r.username),
        Some(json!(RequestView::from(r))),
        before.map(|b| json!(RequestView::from(b))),
    )
}

/// A learner asks for credit for a course. Blocked while a request of theirs for the course is
/// requested, approved, accepted or in error; an old cancelled, expired or reversed one is reused
/// (`false`: not created). Needs `requests.has_learner_or_admin_access` at the customer.
pub async fn create(
    node: &Node,
    actor: &Actor,
    input: &RequestInput,
) -> Result<(RequestView, bool)> {
    let enterprise = s::uuid(&input.enterprise_customer_uuid, "enterprise customer")?;
    s::authorize(&node.index(), actor, perm::REQUESTS_LEARNER, &enterprise)?;
    let policy_uuid = s::uuid(&input.policy_uuid, "policy")?;
    let course_id = s::content_key(&input.course_id)?;
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let learner = NEIGHBOURS
                    .by_username(tx.conn(), &enterprise, &actor.username)
                    .await?
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCode::LearnerNotInEnterprise,
                            format!(
                                "`{}` is not a learner of enterprise customer `{enterprise}`",
                                actor.username
                            ),
                        )
                    })?;
                let policy = rows::policy(tx.conn(), &policy_uuid)
                    .await?
                    .filter(|p| {
                        p.enterprise_uuid == enterprise
                            && policies::is_assigned(p)
                            && p.active == 1
                            && p.retired == 0
                    })
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCode::UnknownReference,
                            format!("the customer has no active assigned policy `{policy_uuid}`"),
                        )
                    })?;
                let item = NEIGHBOURS
                    .content(tx.conn(), &policy.catalog_uuid, &course_id)
                    .await?
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCode::UnknownReference,
                            format!("`{course_id}` is not in the policy's catalog"),
                        )
                    })?;
                let earlier = rows::credit_requests_for(
                    tx.conn(),
                    &enterprise,
                    learner.lms_user_id,
                    &course_id,
                )
                .await?;
                if let Some(open) = earlier
                    .iter()
                    .find(|r| BLOCKING.contains(&r.state.as_str()))
                {
                    return Err(Error::new(
                        ErrorCode::RequestExists,
                        format!(
                            "request `{}` for this course is already `{}`",
                            open.uuid, open.state
                        ),
                    )
                    .with_details(json!({ "uuid": open.uuid, "state": open.state })));
                }
                let now = crate::access::now();
                let reused = earlier
                    .iter()
                    .find(|r| REUSABLE.contains(&r.state.as_str()))
                    .cloned();
                let request = CreditRequest {
                    uuid: reused.as_ref().map_or_else(
                        || uuid::Uuid::new_v4().hyphenated().to_string(),
                        |r| r.uuid.clone(),
                    ),
                    enterprise_uuid: enterprise.clone(),
                    policy_uuid: policy.uuid.clone(),
                    lms_user_id: learner.lms_user_id,
                    username: learner.username.clone(),
                    email: learner.email.clone(),
                    course_id: course_id.clone(),
                    course_price_cents: item.price_cents,
                    state: "requested".into(),
                    reviewer: None,
                    reviewed_at: None,
                    decline_reason: None,
                    assignment_uuid: None,
                    created_at: reused.as_ref().map_or(now, |r| r.created_at),
                    modified_at: now,
                };
                rows::save_credit_request(tx.conn(), &request).await?;
                tx.audit(save_audit(
                    "credit_request_create",
                    &request,
                    reused.as_ref(),
                ))
                .await?;
                Ok((RequestView::from(&request), reused.is_none()))
            })
        })
        .await?;
    Ok(written.value)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Review {
    Approve,
    Decline,
    Cancel,
}

/// Approves (allocating an assignment from its policy), declines or cancels a request, recording
/// the reviewer and the time. Approving and declining need `requests.has_admin_access`; a
/// learner may cancel their own request while it is requested, admins also approved ones
/// (which cancels the assignment).
pub async fn review(
    node: &Node,
    actor: &Actor,
    input: &ReviewInput,
    review: Review,
) -> Result<RequestView> {
    let enterprise = s::uuid(&input.enterprise_customer_uuid, "enterprise customer")?;
    let uuid = s::uuid(&input.learner_credit_request_uuid, "learner credit request")?;
    let reason = input
        .decline_reason
        .as_deref()
        .map(|r| s::text(r, "decline_reason", true))
        .transpose()?;
    let index = node.index();
    let is_admin = s::may(&index, actor, perm::REQUESTS_ADMIN, &enterprise);
    if !is_admin {
        let needed = if review == Review::Cancel {
            perm::REQUESTS_LEARNER
        } else {
            perm::REQUESTS_ADMIN
        };
        s::authorize(&index, actor, needed, &enterprise)?;
    }
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let before = rows::credit_request(tx.conn(), &uuid)
                    .await?
                    .filter(|r| {
                        r.enterprise_uuid == enterprise
                            && (is_admin || r.username == actor.username)
                    })
                    .ok_or_else(|| s::not_found("learner credit request", &uuid))?;
                let now = crate::access::now();
                let mut after = before.clone();
                let (state, op) = match (review, before.state.as_str()) {
                    (Review::Approve, "requested") => ("approved", "credit_request_approve"),
                    (Review::Decline, "requested") => ("declined", "credit_request_decline"),
                    (Review::Cancel, "requested") => ("cancelled", "credit_request_cancel"),
                    (Review::Cancel, "approved") if is_admin => {
                        ("cancelled", "credit_request_cancel")
                    }
                    (_, from) => {
                        return Err(Error::new(
                            ErrorCode::InvalidTransition,
                            format!("request `{uuid}` is `{from}`: it cannot be {review:?}d")
                                .to_lowercase(),
                        ));
                    }
                };
                after.state = state.into();
                after.reviewer = Some(actor.username.clone());
                after.reviewed_at = Some(now);
                after.modified_at = now;
                match review {
                    Review::Approve => after.assignment_uuid = Some(approve(tx, &before).await?),
                    Review::Decline => after.decline_reason = reason,
                    Review::Cancel if before.state == "approved" => {
                        cancel_assignment(tx, &before).await?
                    }
                    Review::Cancel => {}
                }
                rows::save_credit_request(tx.conn(), &after).await?;
                tx.audit(save_audit(op, &after, Some(&before))).await?;
                Ok(RequestView::from(&after))
            })
        })
        .await?;
    Ok(written.value)
}

/// Allocates the requested course to the learner at the requested price; returns the assignment.
async fn approve(tx: &mut Tx<'_>, r: &CreditRequest) -> Result<String> {
    let policy = rows::policy(tx.conn(), &r.policy_uuid)
        .await?
        .ok_or_else(|| Error::internal("a request without its policy"))?;
    let allocated = super::assignments::allocate_in(
        tx,
        &policy,
        std::slice::from_ref(&r.email),
        &r.course_id,
        r.course_price_cents,
    )
    .await?;
    allocated
        .created
        .iter()
        .chain(&allocated.updated)
        .next()
        .map(|a| a.uuid.clone())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::RequestExists,
                "the learner already holds an assignment for this course",
            )
        })
}

async fn cancel_assignment(tx: &mut Tx<'_>, r: &CreditRequest) -> Result<()> {
    let Some(uuid) = &r.assignment_uuid else {
        return Ok(());
    };
    let policy = rows::policy(tx.conn(), &r.policy_uuid)
        .await?
        .ok_or_else(|| Error::internal("a request without its policy"))?;
    if let Some(a) = rows::assignment(tx.conn(), uuid).await? {
        super::assignments::move_to(
            tx,
            &policy,
            &a,
            super::assignments::Step::Cancel,
            crate::access::now(),
        )
        .await?;
    }
    Ok(())
}

/// An assignment that came from a request moved: the request follows (accepted, expired, reversed).
pub async fn follow_assignment(
    tx: &mut impl AppWrite,
    a: &Assignment,
    state: &str,
    now: i64,
) -> Result<()> {
    if let Some(before) = rows::credit_request_of_assignment(tx.conn(), &a.uuid).await? {
        let mut after = before.clone();
        after.state = state.into();
        after.modified_at = now;
        rows::save_credit_request(tx.conn(), &after).await?;
        tx.audit(save_audit(
            &format!("credit_request_{state}"),
            &after,
            Some(&before),
        ))
        .await?;
    }
    Ok(())
}

/// The customer's requests: all of them for admins (`requests.has_admin_access`), the caller's
/// own for learners (`requests.has_learner_or_admin_access`).
pub async fn list(node: &Node, actor: &Actor, enterprise: &str) -> Result<RequestList> {
    let enterprise = s::uuid(enterprise, "enterprise customer")?;
    let index = node.index();
    let is_admin = s::may(&index, actor, perm::REQUESTS_ADMIN, &enterprise);
    if !is_admin {
        s::authorize(&index, actor, perm::REQUESTS_LEARNER, &enterprise)?;
    }
    let mut reader = s::reader(node).await?;
    let results: Vec<RequestView> = rows::credit_requests(reader.conn(), &enterprise)
        .await?
        .iter()
        .filter(|r| is_admin || r.username == actor.username)
        .map(RequestView::from)
        .collect();
    Ok(RequestList {
        count: results.len(),
        results,
    })
}
