//! Redemption: which policy may pay for a learner's content and why not (enterprise-access's
//! reasons, in its order), and `redeem`, one store transaction whose limits the database checks,
//! so no concurrency can overspend a policy, a learner's limit or the subsidy.

use provost_store::enterprise::{
    self as rows, Assignment, CatalogItem, ConnSource, Exceeded, Learner, Policy, Transaction,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use provost_store::AppTx;

use super::imports::TransactionView;
use super::neighbours::{Catalogs, Learners, Lms, Subsidies, NEIGHBOURS};
use super::policies::{self, PolicyView};
use super::service::{self as s, perm};
use crate::access::Actor;
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// The reasons of enterprise-access, in the order its `can_redeem` tries them, with the message
/// its learner portal shows for each.
pub const REASONS: &[(&str, &str)] = &[
    ("policy_expired", "You can't enroll right now because your funds expired."),
    ("learner_not_in_enterprise", "You can't enroll right now because your account is no longer associated with the organization."),
    ("learner_not_in_enterprise_group", "You can't enroll right now because your account is not in the organization's group."),
    ("content_not_in_catalog", "You can't enroll right now because this course is no longer available in your organization's catalog."),
    ("beyond_enrollment_deadline", "You can't enroll right now because the enrollment deadline has passed."),
    ("subsidy_expired", "You can't enroll right now because your funds expired."),
    ("not_enough_value_in_subsidy", "You can't enroll right now because your organization doesn't have enough funds."),
    ("policy_spend_limit_reached", "You can't enroll right now because your organization doesn't have enough funds."),
    ("learner_max_enrollments_reached", "You can't enroll right now because of limits set by your organization."),
    ("learner_max_spend_reached", "You can't enroll right now because of limits set by your organization."),
    ("reason_learner_not_assigned_content", "You can't enroll right now because this course is not assigned to you."),
    ("reason_learner_assignment_cancelled", "You can't enroll right now because your administrator canceled your course assignment."),
    ("reason_learner_assignment_failed", "You can't enroll right now because your course assignment failed."),
    ("reason_learner_assignment_expired", "You can't enroll right now because your course assignment expired."),
    ("reason_learner_assignment_reversed", "You can't enroll right now because your course assignment was reversed."),
];

fn rank(reason: &str) -> usize {
    REASONS
        .iter()
        .position(|(r, _)| *r == reason)
        .unwrap_or(REASONS.len())
}

/// Why some policies cannot pay, as enterprise-access groups it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReasonView {
    pub reason: String,
    pub user_message: String,
    pub metadata: serde_json::Value,
    pub policy_uuids: Vec<String>,
}

fn reason_views(failures: &[(&'static str, String)]) -> Vec<ReasonView> {
    let mut views: Vec<ReasonView> = Vec::new();
    let mut sorted: Vec<&(&str, String)> = failures.iter().collect();
    sorted.sort_by_key(|(reason, _)| rank(reason));
    for (reason, policy) in sorted {
        match views.iter_mut().find(|v| v.reason == *reason) {
            Some(v) => v.policy_uuids.push(policy.clone()),
            None => views.push(ReasonView {
                reason: (*reason).into(),
                user_message: REASONS
                    .iter()
                    .find(|(r, _)| r == reason)
                    .map_or("", |(_, m)| m)
                    .into(),
                metadata: json!({}),
                policy_uuids: vec![policy.clone()],
            }),
        }
    }
    views
}

/// What one policy says about one content key for one learner.
pub struct Evaluation {
    /// The first reason it cannot pay, or None.
    pub reason: Option<&'static str>,
    /// What the redemption would cost (the assignment's price for assigned content).
    pub price: Option<i64>,
    pub subsidy_expires_at: i64,
    pub subsidy_balance: i64,
    pub assignment: Option<Assignment>,
    /// The content as the policy's catalog lists it.
    pub item: Option<CatalogItem>,
}

/// Runs enterprise-access's checks for `policy` in its order; the first that fails is the reason.
pub async fn evaluate(
    mut c: impl ConnSource,
    policy: &Policy,
    learner: Option<&Learner>,
    content_key: &str,
    now: i64,
) -> Result<Evaluation> {
    let subsidy = NEIGHBOURS.subsidy(c.conn(), &policy.subsidy_uuid).await?;
    let item = NEIGHBOURS
        .content(c.conn(), &policy.catalog_uuid, content_key)
        .await?;
    let assignment = match learner {
        Some(l) if policies::is_assigned(policy) => {
            rows::assignment_for(c.conn(), &policy.uuid, &l.email, content_key).await?
        }
        _ => None,
    };
    let usage = match learner {
        Some(l) => rows::learner_usage(c.conn(), &policy.uuid, l.lms_user_id).await?,
        None => (0, 0),
    };
    let allocated_here = assignment
        .as_ref()
        .filter(|a| a.state == "allocated")
        .map_or(0, |a| a.amount_cents);
    // An allocated assignment is paid at the price it was allocated at.
    let price = match assignment.as_ref().filter(|a| a.state == "allocated") {
        Some(a) => Some(a.amount_cents),
        None => item.as_ref().map(|i| i.price_cents),
    };
    let mut evaluation = Evaluation {
        reason: None,
        price,
        subsidy_expires_at: subsidy.as_ref().map_or(i64::MAX, |x| x.expires_at),
        subsidy_balance: subsidy
            .as_ref()
            .map_or(0, |x| x.starting_balance_cents - x.spent_cents),
        assignment: assignment.clone(),
        item: item.clone(),
    };
    let cost = price.unwrap_or(0);
    let checks: [(&'static str, bool); 15] = [
        ("policy_expired", policy.active == 0 || policy.retired == 1),
        ("learner_not_in_enterprise", learner.is_none()),
        // Enterprise groups have no stand-in yet: every policy is open to all the customer's learners.
        ("learner_not_in_enterprise_group", false),
        ("content_not_in_catalog", item.is_none()),
        (
            "beyond_enrollment_deadline",
            item.as_ref()
                .and_then(|i| i.enroll_by)
                .is_some_and(|by| by < now),
        ),
        (
            "subsidy_expired",
            subsidy
                .as_ref()
                .is_none_or(|x| now < x.active_at || now >= x.expires_at),
        ),
        (
            "not_enough_value_in_subsidy",
            evaluation.subsidy_balance < cost,
        ),
        (
            "policy_spend_limit_reached",
            policy.spend_limit_cents.is_some_and(|limit| {
                policy.spent_cents + policy.allocated_cents - allocated_here + cost > limit
            }),
        ),
        (
            "learner_max_enrollments_reached",
            policy
                .per_learner_enrollment_limit
                .is_some_and(|limit| usage.1 >= limit),
        ),
        (
            "learner_max_spend_reached",
            policy
                .per_learner_spend_limit_cents
                .is_some_and(|limit| usage.0 + cost > limit),
        ),
        (
            "reason_learner_not_assigned_content",
            policies::is_assigned(policy)
                && assignment
                    .as_ref()
                    .is_none_or(|a| matches!(a.state.as_str(), "accepted")),
        ),
        (
            "reason_learner_assignment_cancelled",
            assignment_in(&assignment, "cancelled"),
        ),
        (
            "reason_learner_assignment_failed",
            assignment_in(&assignment, "errored"),
        ),
        (
            "reason_learner_assignment_expired",
            assignment_in(&assignment, "expired"),
        ),
        (
            "reason_learner_assignment_reversed",
            assignment_in(&assignment, "reversed"),
        ),
    ];
    evaluation.reason = checks.iter().find(|(_, failed)| *failed).map(|(r, _)| *r);
    Ok(evaluation)
}

fn assignment_in(assignment: &Option<Assignment>, state: &str) -> bool {
    assignment.as_ref().is_some_and(|a| a.state == state)
}

/// The learner a request is about: the caller's own record at the customer when no id is
/// given; another learner's only for those who may write policies (operators).
async fn learner_for(
    mut c: impl ConnSource,
    node: &Node,
    actor: &Actor,
    enterprise: &str,
    lms_user_id: Option<i64>,
) -> Result<Option<Learner>> {
    let learner = match lms_user_id {
        None => {
            NEIGHBOURS
                .by_username(c.conn(), enterprise, &actor.username)
                .await?
        }
        Some(id) => {
            NEIGHBOURS
                .by_id(c.conn(), enterprise, s::lms_user_id(id)?)
                .await?
        }
    };
    if let Some(l) = &learner {
        if l.username != actor.username
            && !s::may(&node.index(), actor, perm::POLICY_WRITE, enterprise)
        {
            return Err(Error::forbidden(format!(
                "`{}` may act only for themself, not for learner {}",
                actor.username, l.lms_user_id
            )));
        }
    }
    Ok(learner)
}

/// The idempotency key of a redemption: the same (policy, learner, content) gives the same key
/// until an earlier attempt failed or was reversed, which starts a new one.
pub fn idempotency_key(
    policy: &str,
    lms_user_id: i64,
    content_key: &str,
    spent_attempts: i64,
) -> String {
    let digest = Sha256::digest(format!(
        "{policy}\n{lms_user_id}\n{content_key}\n{spent_attempts}"
    ));
    format!(
        "ledger-for-subsidy-access-policy-{}",
        hex::encode(&digest[..16])
    )
}

/// `POST .../{policy}/redeem/`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemInput {
    #[serde(deserialize_with = "s::int::required")]
    #[schema(minimum = 1)]
    pub lms_user_id: i64,
    #[schema(value_type = super::service::ContentKey)]
    pub content_key: String,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

fn not_redeemable(reason: &'static str, policy: &str) -> Error {
    let reasons = reason_views(&[(reason, policy.to_owned())]);
    Error::new(
        ErrorCode::NotRedeemable,
        format!("the policy cannot pay for this content: {reason}"),
    )
    .with_details(json!({ "reasons": reasons }))
}

/// Which reason a refused debit stands for: its limit, or the window or state its guard also
/// checks (a subsidy that expired, a policy deactivated since the checks outside the lock).
async fn exceeded_reason(
    mut c: impl ConnSource,
    e: Exceeded,
    policy: &Policy,
    now: i64,
) -> Result<&'static str> {
    Ok(match e {
        Exceeded::Subsidy => {
            let subsidy = NEIGHBOURS.subsidy(c.conn(), &policy.subsidy_uuid).await?;
            if subsidy.is_some_and(|x| now >= x.active_at && now < x.expires_at) {
                "not_enough_value_in_subsidy"
            } else {
                "subsidy_expired"
            }
        }
        Exceeded::Policy => {
            let fresh = rows::policy(c.conn(), &policy.uuid).await?;
            if fresh.is_some_and(|p| p.active == 1 && p.retired == 0) {
                "policy_spend_limit_reached"
            } else {
                "policy_expired"
            }
        }
        Exceeded::LearnerSpend => "learner_max_spend_reached",
        Exceeded::LearnerEnrollments => "learner_max_enrollments_reached",
    })
}

/// This redemption's idempotency key, and the transaction an earlier attempt with it made, if
/// any (a retry returns it): one read of the learner's attempts.
async fn attempt(
    mut c: impl ConnSource,
    policy: &str,
    lms_user_id: i64,
    content_key: &str,
) -> Result<(String, Option<Transaction>)> {
    let attempts = rows::attempts(c.conn(), policy, lms_user_id, content_key).await?;
    let spent = attempts
        .iter()
        .filter(|t| matches!(t.state.as_str(), "failed" | "reversed"))
        .count();
    let key = idempotency_key(policy, lms_user_id, content_key, spent as i64);
    let first = attempts.into_iter().find(|t| t.idempotency_key == key);
    Ok((key, first))
}

/// Redeems `content_key` for a learner through a policy. Every reason is checked first on a
/// read connection (refusals and retries write nothing); then one app-only write
/// (`Node::app_write`: on PostgreSQL without the store's write lock, so redemptions of
/// different learners run side by side) records the ledger entry, debits the learner's usage,
/// the subsidy and the policy with updates guarded by their limits, and accepts an assignment
/// it pays for. The ledger entry goes first: its unique idempotency key makes a concurrent
/// retry wait for this one and then return its transaction. Only redemptions against the same
/// policy wait for each other (its row), at most `APP_WRITE_LOCK_TIMEOUT`, then 429
/// `redeem_conflict`. A retry (same idempotency key) returns the first transaction and
/// `false`. Needs `subsidy_access_policy.has_redemption_access` at the policy's customer, and
/// is for the caller's own learner record unless they write policies (operators).
pub async fn redeem(
    node: &Node,
    actor: &Actor,
    policy_uuid: &str,
    input: &RedeemInput,
) -> Result<(TransactionView, bool)> {
    let policy_uuid = s::uuid(policy_uuid, "policy")?;
    let content_key = s::content_key(&input.content_key)?;
    let lms_user_id = s::lms_user_id(input.lms_user_id)?;
    let metadata = input
        .metadata
        .as_ref()
        .map(|m| serde_json::Value::Object(m.clone()).to_string());
    let now = crate::access::now();
    // On a read connection: who may, the retry that changes nothing, and every reason to
    // refuse. Only a redemption that should succeed writes, where the guarded updates of
    // `rows::debit` decide again what concurrent writes could have changed.
    let mut reader = s::reader(node).await?;
    let policy = rows::policy(reader.conn(), &policy_uuid)
        .await?
        .ok_or_else(|| s::not_found("subsidy access policy", &policy_uuid))?;
    s::authorize(&node.index(), actor, perm::REDEEM, &policy.enterprise_uuid)?;
    let learner = learner_for(
        &mut reader,
        node,
        actor,
        &policy.enterprise_uuid,
        Some(lms_user_id),
    )
    .await?;
    let (key, first) = attempt(&mut reader, &policy.uuid, lms_user_id, &content_key).await?;
    if let Some(first) = first {
        return Ok((TransactionView::from(&first), false));
    }
    let evaluation = evaluate(&mut reader, &policy, learner.as_ref(), &content_key, now).await?;
    if let Some(reason) = evaluation.reason {
        return Err(not_redeemable(reason, &policy.uuid));
    }
    drop(reader);
    let amount = evaluation.price.unwrap_or(0);
    // The learner's username, so `GET /api/v1/audit?subject=` finds their redemptions.
    let subject = learner.map_or_else(|| lms_user_id.to_string(), |l| l.username);
    let transaction = Transaction {
        uuid: uuid::Uuid::new_v4().hyphenated().to_string(),
        idempotency_key: key,
        subsidy_uuid: policy.subsidy_uuid.clone(),
        policy_uuid: policy.uuid.clone(),
        lms_user_id,
        content_key: content_key.clone(),
        amount_cents: amount,
        state: "committed".into(),
        metadata,
        created_at: now,
        modified_at: now,
    };
    let (policy, evaluation, transaction) = (&policy, &evaluation, &transaction);
    let written = node
        .app_write(&actor.username, |tx| {
            Box::pin(pay(tx, policy, evaluation, transaction, &subject, now))
        })
        .await;
    let redeemed = match written {
        Ok(redeemed) => redeemed,
        // The same idempotency key committed meanwhile (a concurrent retry): that is the first.
        Err(e) if e.code == ErrorCode::Conflict => {
            let mut reader = s::reader(node).await?;
            match rows::transaction_by_key(reader.conn(), &transaction.idempotency_key).await? {
                Some(first) => return Ok((TransactionView::from(&first), false)),
                None => return Err(e),
            }
        }
        Err(e) if e.code == ErrorCode::Busy => {
            return Err(Error::new(
                ErrorCode::RedeemConflict,
                "other redemptions against this policy held it for too long: try again",
            )
            .with_details(json!({ "policy_uuid": policy.uuid })))
        }
        Err(e) => return Err(e),
    };
    match redeemed {
        Redeemed::Done(view) => Ok((view, true)),
        Redeemed::Failed(view, why) => Err(Error::new(
            ErrorCode::EnrollmentFailed,
            format!("the LMS did not enroll the learner: {why}"),
        )
        .with_details(json!({ "transaction": view }))),
    }
}

/// The redemption's write: the ledger entry, the guarded debit, the enrollment and the
/// assignment it pays for, and the audit entry. Statements that touch rows every redemption of
/// the policy shares come as late as they can, so those rows stay locked only briefly.
async fn pay(
    tx: &mut AppTx<'_>,
    policy: &Policy,
    evaluation: &Evaluation,
    transaction: &Transaction,
    subject: &str,
    now: i64,
) -> Result<Redeemed> {
    // First, so that a concurrent attempt with the same key waits here and then conflicts.
    rows::insert_transaction(tx.conn(), transaction).await?;
    // An assignment must still be allocated (not cancelled or expired meanwhile), and stay so.
    let assignment = match &evaluation.assignment {
        Some(a) if rows::claim_assignment(tx.conn(), &a.uuid, "allocated").await? => {
            Some(a.clone())
        }
        Some(_) => {
            return Err(not_redeemable(
                "reason_learner_not_assigned_content",
                &policy.uuid,
            ))
        }
        None => None,
    };
    let debit = rows::Debit {
        now,
        subsidy: &policy.subsidy_uuid,
        policy: &policy.uuid,
        lms_user_id: transaction.lms_user_id,
        amount: transaction.amount_cents,
        from_allocation: assignment.as_ref().map_or(0, |a| a.amount_cents),
        learner_spend_limit: policy.per_learner_spend_limit_cents,
        learner_enrollment_limit: policy.per_learner_enrollment_limit,
    };
    if let Some(exceeded) = rows::debit(&mut *tx, &debit).await? {
        let reason = exceeded_reason(&mut *tx, exceeded, policy, now).await?;
        return Err(not_redeemable(reason, &policy.uuid));
    }
    // The LMS enrolls once the money is reserved; when it refuses, the attempt stays in the
    // ledger as failed, its money goes back, and its assignment is errored.
    let enrolled = match &evaluation.item {
        Some(item) => NEIGHBOURS.enroll(item, transaction.lms_user_id).await?,
        None => Err(format!(
            "`{}` is not in the catalog",
            transaction.content_key
        )),
    };
    if let Err(why) = enrolled {
        let at = transaction.modified_at;
        rows::set_transaction_state(tx.conn(), &transaction.uuid, "committed", "failed", at)
            .await?;
        let failed = Transaction {
            state: "failed".into(),
            ..transaction.clone()
        };
        rows::refund(&mut *tx, &failed).await?;
        if let Some(assignment) = &assignment {
            super::assignments::fail(tx, policy, assignment, now).await?;
        }
        let view = TransactionView::from(&failed);
        tx.audit(s::audit(
            "redeem_failed",
            &policy.enterprise_uuid,
            Some(subject),
            Some(json!({ "transaction": view, "why": why })),
            None,
        ))
        .await?;
        return Ok(Redeemed::Failed(view, why));
    }
    if let Some(assignment) = &assignment {
        super::assignments::accept(tx, policy, assignment, &transaction.uuid, now).await?;
    }
    let view = TransactionView::from(transaction);
    tx.audit(s::audit(
        "redeem",
        &policy.enterprise_uuid,
        Some(subject),
        Some(json!(view)),
        None,
    ))
    .await?;
    Ok(Redeemed::Done(view))
}

/// What the redemption's write did: paid, or recorded a failed attempt.
enum Redeemed {
    Done(TransactionView),
    Failed(TransactionView, String),
}

/// One content key's answer in `can-redeem`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CanRedeem {
    pub content_key: String,
    pub list_price: Option<ListPrice>,
    /// The learner's committed or pending redemptions of this content.
    pub redemptions: Vec<TransactionView>,
    pub has_successful_redemption: bool,
    pub redeemable_subsidy_access_policy: Option<PolicyView>,
    pub can_redeem: bool,
    pub reasons: Vec<ReasonView>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ListPrice {
    pub usd: f64,
    pub usd_cents: i64,
}

/// For each content key: whether one of the customer's policies can pay for the caller (or, for
/// operators, the learner `lms_user_id`), the one chosen by (priority, soonest subsidy expiry,
/// lowest balance), and why the others cannot. Needs `has_redemption_access` at the customer.
pub async fn can_redeem(
    node: &Node,
    actor: &Actor,
    enterprise: &str,
    content_keys: &[String],
    lms_user_id: Option<i64>,
) -> Result<Vec<CanRedeem>> {
    let enterprise = s::uuid(enterprise, "enterprise customer")?;
    s::authorize(&node.index(), actor, perm::REDEEM, &enterprise)?;
    let mut reader = s::reader(node).await?;
    let learner = learner_for(&mut reader, node, actor, &enterprise, lms_user_id).await?;
    let policies = rows::policies(reader.conn(), &enterprise, false).await?;
    let now = crate::access::now();
    let mut answers = Vec::with_capacity(content_keys.len());
    for key in content_keys {
        let key = s::content_key(key)?;
        let mut failures = Vec::new();
        let mut redeemable: Vec<(&Policy, Evaluation)> = Vec::new();
        let mut list_price = None;
        let mut redemptions = Vec::new();
        for policy in &policies {
            let evaluation = evaluate(&mut reader, policy, learner.as_ref(), &key, now).await?;
            if list_price.is_none() {
                list_price = NEIGHBOURS
                    .content(reader.conn(), &policy.catalog_uuid, &key)
                    .await?
                    .map(|i| ListPrice {
                        usd: i.price_cents as f64 / 100.0,
                        usd_cents: i.price_cents,
                    });
            }
            if let Some(l) = &learner {
                let mine = rows::transactions_of_policy(reader.conn(), &policy.uuid).await?;
                redemptions.extend(
                    mine.iter()
                        .filter(|t| t.lms_user_id == l.lms_user_id && t.content_key == key)
                        .filter(|t| matches!(t.state.as_str(), "committed" | "pending"))
                        .map(TransactionView::from),
                );
            }
            match evaluation.reason {
                Some(reason) => failures.push((reason, policy.uuid.clone())),
                None => redeemable.push((policy, evaluation)),
            }
        }
        redeemable.sort_by_key(|(p, e)| {
            (
                policies::priority(p),
                e.subsidy_expires_at,
                e.subsidy_balance,
            )
        });
        let chosen = redeemable.first().map(|(p, _)| PolicyView::from(*p));
        answers.push(CanRedeem {
            content_key: key,
            list_price,
            has_successful_redemption: redemptions.iter().any(|t| t.state == "committed"),
            redemptions,
            can_redeem: chosen.is_some(),
            redeemable_subsidy_access_policy: chosen,
            reasons: reason_views(&failures),
        });
    }
    Ok(answers)
}

/// A policy with what the learner can still spend through it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CreditAvailable {
    #[serde(flatten)]
    pub policy: PolicyView,
    /// What the learner may still spend through it (null: no per-learner limit).
    pub remaining_balance_per_user: Option<i64>,
    /// The subsidy's balance.
    pub remaining_balance: i64,
    pub subsidy_expiration_date: chrono::DateTime<chrono::Utc>,
}

/// The customer's active policies through which the learner can still redeem something. Needs
/// `has_redemption_access` at the customer; another learner's only for operators.
pub async fn credits_available(
    node: &Node,
    actor: &Actor,
    enterprise: &str,
    lms_user_id: Option<i64>,
) -> Result<Vec<CreditAvailable>> {
    let enterprise = s::uuid(enterprise, "enterprise customer")?;
    s::authorize(&node.index(), actor, perm::REDEEM, &enterprise)?;
    let mut reader = s::reader(node).await?;
    let Some(learner) = learner_for(&mut reader, node, actor, &enterprise, lms_user_id).await?
    else {
        return Ok(Vec::new());
    };
    let now = crate::access::now();
    let mut out = Vec::new();
    for policy in rows::policies(reader.conn(), &enterprise, false).await? {
        let Some(subsidy) = NEIGHBOURS
            .subsidy(reader.conn(), &policy.subsidy_uuid)
            .await?
        else {
            continue;
        };
        let balance = subsidy.starting_balance_cents - subsidy.spent_cents;
        if policy.active == 0
            || now < subsidy.active_at
            || now >= subsidy.expires_at
            || balance <= 0
        {
            continue;
        }
        let (spent, enrollments) =
            rows::learner_usage(reader.conn(), &policy.uuid, learner.lms_user_id).await?;
        let per_user = policy
            .per_learner_spend_limit_cents
            .map(|l| (l - spent).max(0));
        let open = match (policy.per_learner_enrollment_limit, per_user) {
            (Some(limit), _) if enrollments >= limit => false,
            (_, Some(0)) => false,
            _ if policies::is_assigned(&policy) => {
                rows::assignments_of_policy(reader.conn(), &policy.uuid)
                    .await?
                    .iter()
                    .any(|a| a.learner_email == learner.email && a.state == "allocated")
            }
            _ => true,
        };
        if open {
            out.push(CreditAvailable {
                policy: PolicyView::from(&policy),
                remaining_balance_per_user: per_user,
                remaining_balance: balance,
                subsidy_expiration_date: s::time(subsidy.expires_at),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_keep_enterprise_access_order() {
        let order: Vec<&str> = REASONS.iter().map(|(r, _)| *r).collect();
        assert_eq!(
            order[..10],
            [
                "policy_expired",
                "learner_not_in_enterprise",
                "learner_not_in_enterprise_group",
                "content_not_in_catalog",
                "beyond_enrollment_deadline",
                "subsidy_expired",
                "not_enough_value_in_subsidy",
                "policy_spend_limit_reached",
                "learner_max_enrollments_reached",
                "learner_max_spend_reached",
            ]
        );
        let grouped = reason_views(&[
            ("subsidy_expired", "p2".into()),
            ("policy_expired", "p1".into()),
            ("subsidy_expired", "p3".into()),
        ]);
        let shape: Vec<(&str, usize)> = grouped
            .iter()
            .map(|v| (v.reason.as_str(), v.policy_uuids.len()))
            .collect();
        assert_eq!(shape, [("policy_expired", 1), ("subsidy_expired", 2)]);
    }

    #[test]
    fn the_idempotency_key_changes_only_with_an_attempt_that_failed_or_was_reversed() {
        let key = |n| idempotency_key("p", 7, "edX+DemoX", n);
        assert_eq!(key(0), key(0));
        assert_ne!(key(0), key(1));
        assert_ne!(key(0), idempotency_key("p", 8, "edX+DemoX", 0));
        assert_ne!(key(0), idempotency_key("q", 7, "edX+DemoX", 0));
    }
}
