//! Content assignments: allocation from an assigned policy, and exactly enterprise-access's
//! transitions (allocate, cancel, expire, accept on redemption, reverse with the redemption).

use provost_store::enterprise::{self as rows, Assignment, Policy, Transaction};
use provost_store::{AppWrite, Tx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::neighbours::{Catalogs, Learners, Subsidies, NEIGHBOURS};
use super::policies;
use super::service::{self as s, perm};
use crate::access::Actor;
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// How long an allocation waits for its learner at most.
pub const ALLOCATION_LIFETIME: i64 = 90 * 24 * 3600;
/// How far an allocation's price may be from the catalog's, in percent.
pub const PRICE_TOLERANCE_PERCENT: i64 = 5;
/// Most learners in one allocation.
pub const MAX_LEARNERS: usize = 1000;

/// What can happen to an assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Allocate,
    Cancel,
    Expire,
    Accept,
    /// The redemption that would have accepted it failed.
    Fail,
    Reverse,
}

/// The state an assignment in `from` (None: there is none) moves to on `step`, if it may.
pub fn transition(from: Option<&str>, step: Step) -> Option<&'static str> {
    match (step, from) {
        (Step::Allocate, None | Some("cancelled" | "errored" | "expired" | "reversed")) => {
            Some("allocated")
        }
        (Step::Cancel, Some("allocated" | "errored")) => Some("cancelled"),
        (Step::Expire, Some("allocated")) => Some("expired"),
        (Step::Accept, Some("allocated")) => Some("accepted"),
        (Step::Fail, Some("allocated")) => Some("errored"),
        (Step::Reverse, Some("accepted")) => Some("reversed"),
        _ => None,
    }
}

/// Whether an assignment in this state holds part of its policy's spend limit.
fn holds_allocation(state: &str) -> bool {
    matches!(state, "allocated" | "errored")
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AssignmentView {
    pub uuid: String,
    pub assignment_configuration: String,
    pub learner_email: String,
    pub lms_user_id: Option<i64>,
    pub content_key: String,
    pub content_quantity: i64,
    pub state: String,
    pub allocated_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub state_changed_at: chrono::DateTime<chrono::Utc>,
    pub transaction_uuid: Option<String>,
}

impl From<&Assignment> for AssignmentView {
    fn from(a: &Assignment) -> AssignmentView {
        AssignmentView {
            uuid: a.uuid.clone(),
            assignment_configuration: a.policy_uuid.clone(),
            learner_email: a.learner_email.clone(),
            lms_user_id: a.lms_user_id,
            content_key: a.content_key.clone(),
            // enterprise-access stores the quantity as a debit: negative cents.
            content_quantity: -a.amount_cents,
            state: a.state.clone(),
            allocated_at: s::time(a.allocated_at),
            expires_at: s::time(a.expires_at),
            state_changed_at: s::time(a.state_changed_at),
            transaction_uuid: a.transaction_uuid.clone(),
        }
    }
}

/// `POST /api/v1/policy-allocation/{policy}/allocate/`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocateInput {
    #[schema(value_type = Vec<super::service::EmailKey>, min_items = 1, max_items = 1000)]
    pub learner_emails: Vec<String>,
    #[schema(value_type = super::service::ContentKey)]
    pub content_key: String,
    /// The price per learner, within 5 % of the catalog's.
    #[serde(deserialize_with = "s::int::required")]
    #[schema(minimum = 0, maximum = 1e14)]
    pub content_price_cents: i64,
}

#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct Allocated {
    pub updated: Vec<AssignmentView>,
    pub created: Vec<AssignmentView>,
    pub no_change: Vec<AssignmentView>,
}

/// `POST .../admin/assignments/cancel/`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    #[schema(value_type = Vec<super::service::UuidKey>, min_items = 1, max_items = 1000)]
    pub assignment_uuids: Vec<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AssignmentList {
    pub count: usize,
    pub results: Vec<AssignmentView>,
}

fn refused(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::PolicyConstraint, message)
}

/// Allocates `content_key` to each learner email from an assigned policy: new assignments are
/// `created`, cancelled, errored, expired or reversed ones `updated` (allocated again), allocated
/// and accepted ones `no_change`. The whole allocation fits in the spend limit or nothing is
/// allocated. Needs `subsidy_access_policy.has_allocation_access` at the policy's customer.
pub async fn allocate(
    node: &Node,
    actor: &Actor,
    policy: &str,
    input: &AllocateInput,
) -> Result<Allocated> {
    let policy_uuid = s::uuid(policy, "policy")?;
    let content_key = s::content_key(&input.content_key)?;
    let price = s::cents(input.content_price_cents, "content_price_cents")?;
    if input.learner_emails.is_empty() || input.learner_emails.len() > MAX_LEARNERS {
        return Err(Error::new(
            ErrorCode::TooManyItems,
            format!("give 1 to {MAX_LEARNERS} learner emails"),
        ));
    }
    let mut emails: Vec<String> = Vec::new();
    for e in &input.learner_emails {
        let e = super::imports::email(e)?;
        if !emails.contains(&e) {
            emails.push(e);
        }
    }
    let index = node.index();
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let policy = rows::policy(tx.conn(), &policy_uuid)
                    .await?
                    .ok_or_else(|| s::not_found("subsidy access policy", &policy_uuid))?;
                s::authorize(&index, actor, perm::ALLOCATE, &policy.enterprise_uuid)?;
                allocate_in(tx, &policy, &emails, &content_key, price).await
            })
        })
        .await?;
    Ok(written.value)
}

/// Allocates inside a write (allocation and credit request approval share it).
pub async fn allocate_in(
    tx: &mut Tx<'_>,
    policy: &Policy,
    emails: &[String],
    content_key: &str,
    price: i64,
) -> Result<Allocated> {
    if !policies::is_assigned(policy) || policy.active == 0 || policy.retired == 1 {
        return Err(refused(
            "only active assigned learner credit policies allocate content",
        ));
    }
    let now = crate::access::now();
    let subsidy = NEIGHBOURS
        .subsidy(tx.conn(), &policy.subsidy_uuid)
        .await?
        .filter(|x| now >= x.active_at && now < x.expires_at)
        .ok_or_else(|| refused("the policy's subsidy is not active"))?;
    let item = NEIGHBOURS
        .content(tx.conn(), &policy.catalog_uuid, content_key)
        .await?
        .ok_or_else(|| {
            Error::new(
                ErrorCode::UnknownReference,
                format!("`{content_key}` is not in the policy's catalog"),
            )
        })?;
    if (price - item.price_cents).abs().saturating_mul(100)
        > PRICE_TOLERANCE_PERCENT.saturating_mul(item.price_cents)
    {
        return Err(Error::new(
            ErrorCode::PriceOutOfRange,
            format!("{price} cents is more than {PRICE_TOLERANCE_PERCENT} % from the catalog price of {} cents", item.price_cents),
        ));
    }
    let expires_at = [
        Some(subsidy.expires_at),
        item.enroll_by,
        Some(now + ALLOCATION_LIFETIME),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(now);
    let mut out = Allocated::default();
    let mut delta: i64 = 0;
    for email in emails {
        let existing = rows::assignment_for(tx.conn(), &policy.uuid, email, content_key).await?;
        let from = existing.as_ref().map(|a| a.state.as_str());
        if transition(from, Step::Allocate).is_none() {
            out.no_change
                .extend(existing.as_ref().map(AssignmentView::from));
            continue;
        }
        let learner = NEIGHBOURS
            .by_email(tx.conn(), &policy.enterprise_uuid, email)
            .await?;
        let released = existing
            .as_ref()
            .filter(|a| holds_allocation(&a.state))
            .map_or(0, |a| a.amount_cents);
        delta = delta.saturating_add(price - released);
        let assignment = Assignment {
            uuid: existing.as_ref().map_or_else(
                || uuid::Uuid::new_v4().hyphenated().to_string(),
                |a| a.uuid.clone(),
            ),
            policy_uuid: policy.uuid.clone(),
            learner_email: email.to_owned(),
            lms_user_id: learner.map(|l| l.lms_user_id),
            content_key: content_key.to_owned(),
            amount_cents: price,
            state: "allocated".into(),
            allocated_at: now,
            expires_at,
            state_changed_at: now,
            transaction_uuid: None,
        };
        rows::save_assignment(tx.conn(), &assignment).await?;
        let view = AssignmentView::from(&assignment);
        tx.audit(s::audit(
            "assignment_allocate",
            &policy.enterprise_uuid,
            Some(email),
            Some(json!(view)),
            existing.as_ref().map(|a| json!(AssignmentView::from(a))),
        ))
        .await?;
        if existing.is_some() {
            out.updated.push(view)
        } else {
            out.created.push(view)
        }
    }
    let balance = subsidy.starting_balance_cents - subsidy.spent_cents;
    if delta > 0
        && (policy.allocated_cents.saturating_add(delta) > balance
            || !rows::allocate(tx.conn(), &policy.uuid, delta).await?)
    {
        return Err(Error::new(
            ErrorCode::NotEnoughValue,
            format!("allocating {delta} cents more would pass the policy's spend limit or the subsidy's balance"),
        ));
    }
    Ok(out)
}

/// Cancels assignments (allocated or errored ones; anything else refuses the whole request),
/// releasing what they held. Needs `content_assignment.has_admin_write_access` at the customer.
pub async fn cancel(
    node: &Node,
    actor: &Actor,
    policy: &str,
    input: &CancelInput,
) -> Result<AssignmentList> {
    let policy_uuid = s::uuid(policy, "assignment configuration")?;
    let uuids = input
        .assignment_uuids
        .iter()
        .map(|u| s::uuid(u, "assignment"))
        .collect::<Result<Vec<_>>>()?;
    if uuids.is_empty() || uuids.len() > MAX_LEARNERS {
        return Err(Error::new(
            ErrorCode::TooManyItems,
            format!("give 1 to {MAX_LEARNERS} assignment uuids"),
        ));
    }
    let index = node.index();
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let policy = rows::policy(tx.conn(), &policy_uuid)
                    .await?
                    .ok_or_else(|| s::not_found("assignment configuration", &policy_uuid))?;
                s::authorize(
                    &index,
                    actor,
                    perm::ASSIGNMENT_ADMIN_WRITE,
                    &policy.enterprise_uuid,
                )?;
                let mut results = Vec::new();
                for uuid in &uuids {
                    let a = rows::assignment(tx.conn(), uuid)
                        .await?
                        .filter(|a| a.policy_uuid == policy.uuid)
                        .ok_or_else(|| s::not_found("assignment", uuid))?;
                    let after =
                        move_to(&mut *tx, &policy, &a, Step::Cancel, crate::access::now()).await?;
                    results.push(AssignmentView::from(&after));
                }
                Ok(AssignmentList {
                    count: results.len(),
                    results,
                })
            })
        })
        .await?;
    Ok(written.value)
}

/// Moves an assignment one step (refusing a step its state does not allow), releases what it
/// held when it stops holding, and audits the change.
pub async fn move_to(
    tx: &mut impl AppWrite,
    policy: &Policy,
    a: &Assignment,
    step: Step,
    now: i64,
) -> Result<Assignment> {
    let Some(state) = transition(Some(&a.state), step) else {
        return Err(Error::new(
            ErrorCode::InvalidTransition,
            format!(
                "assignment `{}` is `{}`: it cannot be {step:?}ed",
                a.uuid, a.state
            )
            .to_lowercase(),
        ));
    };
    // A redemption pays for it right now (its pending transaction claimed it): only that
    // redemption's outcome moves it.
    if a.state == "allocated"
        && a.transaction_uuid.is_some()
        && !matches!(step, Step::Accept | Step::Fail)
    {
        return Err(Error::new(
            ErrorCode::InvalidTransition,
            format!(
                "assignment `{}` is being redeemed: it cannot be {step:?}ed until that settles",
                a.uuid
            )
            .to_lowercase(),
        ));
    }
    let mut after = a.clone();
    after.state = state.into();
    after.state_changed_at = now;
    if holds_allocation(&a.state) && !holds_allocation(state) && step != Step::Accept {
        rows::allocate(tx.conn(), &policy.uuid, -a.amount_cents).await?;
    }
    if !rows::save_assignment_from(tx.conn(), &after, a).await? {
        return Err(Error::new(
            ErrorCode::InvalidTransition,
            format!(
                "assignment `{}` changed meanwhile: it is no longer `{}`",
                a.uuid, a.state
            ),
        ));
    }
    let op = format!("assignment_{}", state);
    tx.audit(s::audit(
        &op,
        &policy.enterprise_uuid,
        Some(&a.learner_email),
        Some(json!(AssignmentView::from(&after))),
        Some(json!(AssignmentView::from(a))),
    ))
    .await?;
    Ok(after)
}

/// The redemption paid for this assignment: it is accepted (its allocation became spend in
/// the same debit), and a credit request it came from too.
pub async fn accept(
    tx: &mut impl AppWrite,
    policy: &Policy,
    a: &Assignment,
    transaction: &str,
    now: i64,
) -> Result<()> {
    let mut accepted = move_to(tx, policy, a, Step::Accept, now).await?;
    accepted.transaction_uuid = Some(transaction.to_owned());
    rows::save_assignment(tx.conn(), &accepted).await?;
    super::requests::follow_assignment(tx, &accepted, "accepted", now).await
}

/// The redemption that would have accepted this assignment failed: it is errored (still holding
/// its allocation, to be cancelled or allocated again), and a credit request it came from too.
pub async fn fail(tx: &mut impl AppWrite, policy: &Policy, a: &Assignment, now: i64) -> Result<()> {
    // The failed debit's refund gave the money back as unspent; the assignment holds it again.
    rows::allocate(tx.conn(), &policy.uuid, a.amount_cents).await?;
    let errored = move_to(tx, policy, a, Step::Fail, now).await?;
    super::requests::follow_assignment(tx, &errored, "error", now).await
}

/// A reversed redemption reverses the assignment it accepted.
pub async fn on_reversal(
    tx: &mut Tx<'_>,
    policy: &Policy,
    t: &Transaction,
    now: i64,
) -> Result<()> {
    for a in rows::assignments_of_policy(tx.conn(), &policy.uuid).await? {
        if a.transaction_uuid.as_deref() == Some(t.uuid.as_str()) && a.state == "accepted" {
            let reversed = move_to(tx, policy, &a, Step::Reverse, now).await?;
            super::requests::follow_assignment(tx, &reversed, "reversed", now).await?;
        }
    }
    Ok(())
}

/// Expires every allocated assignment whose time has come (the earliest of its subsidy's expiry,
/// its content's enroll-by date and 90 days after allocation). Returns them.
pub async fn expire(node: &Node, actor: &Actor, now: i64) -> Result<Vec<AssignmentView>> {
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let mut expired = Vec::new();
                for a in rows::assignments_due(tx.conn(), now).await? {
                    let policy = rows::policy(tx.conn(), &a.policy_uuid)
                        .await?
                        .ok_or_else(|| Error::internal("an assignment without its policy"))?;
                    let after = move_to(tx, &policy, &a, Step::Expire, now).await?;
                    super::requests::follow_assignment(tx, &after, "expired", now).await?;
                    expired.push(AssignmentView::from(&after));
                }
                Ok(expired)
            })
        })
        .await?;
    Ok(written.value)
}

/// How often `serve` expires assignments.
pub const EXPIRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// `serve`'s sweep: expires what is due now and every `EXPIRY_INTERVAL` after, and settles
/// redemptions left pending (`redeem::settle_stale`), as the service itself (a read-only node
/// leaves it to a writer).
pub async fn expire_periodically(node: Node) {
    let sweeper = Actor {
        username: "provost:enterprise-expiry".into(),
        superuser: true,
        ..Actor::default()
    };
    let mut ticks = tokio::time::interval(EXPIRY_INTERVAL);
    loop {
        ticks.tick().await;
        if node.store().read_only() {
            continue;
        }
        let now = crate::access::now();
        match expire(&node, &sweeper, now).await {
            Ok(expired) if !expired.is_empty() => {
                tracing::info!(count = expired.len(), "expired content assignments");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "expiring content assignments failed"),
        }
        match super::redeem::settle_stale(&node, &sweeper, now).await {
            Ok(settled) if !settled.is_empty() => {
                tracing::info!(count = settled.len(), "settled pending redemptions");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "settling pending redemptions failed"),
        }
    }
}

/// A policy's assignments. Needs `content_assignment.has_admin_read_access` at its customer.
pub async fn list(node: &Node, actor: &Actor, policy: &str) -> Result<AssignmentList> {
    let mut reader = s::reader(node).await?;
    let policy = policies::visible(
        reader.conn(),
        node,
        actor,
        policy,
        perm::ASSIGNMENT_ADMIN_READ,
    )
    .await?;
    let results: Vec<AssignmentView> = rows::assignments_of_policy(reader.conn(), &policy.uuid)
        .await?
        .iter()
        .map(AssignmentView::from)
        .collect();
    Ok(AssignmentList {
        count: results.len(),
        results,
    })
}

/// The caller's own assignments in an assignment configuration (its assigned policy), found by
/// the email of their learner record. Needs `content_assignment.has_learner_read_access` there.
pub async fn mine(node: &Node, actor: &Actor, policy: &str) -> Result<AssignmentList> {
    let mut reader = s::reader(node).await?;
    let policy = policies::visible(
        reader.conn(),
        node,
        actor,
        policy,
        perm::ASSIGNMENT_LEARNER_READ,
    )
    .await?;
    let Some(learner) = NEIGHBOURS
        .by_username(reader.conn(), &policy.enterprise_uuid, &actor.username)
        .await?
    else {
        return Ok(AssignmentList {
            count: 0,
            results: Vec::new(),
        });
    };
    let results: Vec<AssignmentView> = rows::assignments_of_policy(reader.conn(), &policy.uuid)
        .await?
        .iter()
        .filter(|a| a.learner_email == learner.email)
        .map(AssignmentView::from)
        .collect();
    Ok(AssignmentList {
        count: results.len(),
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_enterprise_access_ones() {
        let states = [
            None,
            Some("allocated"),
            Some("accepted"),
            Some("cancelled"),
            Some("errored"),
            Some("expired"),
            Some("reversed"),
        ];
        let allowed = |step| {
            states
                .iter()
                .filter(|s| transition(**s, step).is_some())
                .copied()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            allowed(Step::Allocate),
            vec![
                None,
                Some("cancelled"),
                Some("errored"),
                Some("expired"),
                Some("reversed")
            ]
        );
        assert_eq!(
            allowed(Step::Cancel),
            vec![Some("allocated"), Some("errored")]
        );
        assert_eq!(allowed(Step::Expire), vec![Some("allocated")]);
        assert_eq!(allowed(Step::Accept), vec![Some("allocated")]);
        assert_eq!(allowed(Step::Fail), vec![Some("allocated")]);
        assert_eq!(allowed(Step::Reverse), vec![Some("accepted")]);
    }
}
