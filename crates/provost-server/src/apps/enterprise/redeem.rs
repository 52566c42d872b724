//! `redeem`: one store transaction whose limits the database checks, so no concurrency can
//! overspend a policy, a learner's limit or the subsidy; the checks before it are
//! `eligibility`'s.

use provost_store::enterprise::{self as rows, ConnSource, Exceeded, Policy, Transaction};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use provost_store::AppTx;

use super::eligibility::{assignment_of, judge, may_act_for, reason_views, Evaluation, Facts};
use super::imports::TransactionView;
use super::neighbours::{Lms, RedeemFacts, Subsidies, NEIGHBOURS};
use super::service::{self as s, perm};
use crate::access::Actor;
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

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
        Exceeded::NotALearner => "learner_not_in_enterprise",
        Exceeded::NotInCatalog => "content_not_in_catalog",
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
/// read connection, in two statements (the policy with the learner's usage and attempts, then
/// what the neighbours say), so refusals and retries write nothing; then one app-only write
/// (`Node::app_write`: on PostgreSQL without the store's write lock, so redemptions of
/// different learners run side by side) records the ledger entry, checks again that the learner
/// and the content are still there and holds them, debits the learner's usage, the subsidy and
/// the policy with updates guarded by their limits, and accepts an assignment it pays for. The
/// ledger entry goes first: its unique idempotency key makes a concurrent retry wait for this
/// one and then return its transaction. Only redemptions against the same policy wait for
/// each other (its row, taken last), at most `APP_WRITE_LOCK_TIMEOUT`, then 429
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
    // `rows::open_redemption` and `rows::debit_shared` decide again what concurrent writes
    // could have changed.
    let mut reader = s::reader(node).await?;
    let seen = rows::policy_for_redeem(reader.conn(), &policy_uuid, lms_user_id, &content_key)
        .await?
        .ok_or_else(|| s::not_found("subsidy access policy", &policy_uuid))?;
    let policy = &seen.policy;
    s::authorize(&node.index(), actor, perm::REDEEM, &policy.enterprise_uuid)?;
    let (learner, subsidy, item) = NEIGHBOURS
        .redeem_facts(
            reader.conn(),
            &policy.enterprise_uuid,
            lms_user_id,
            &policy.subsidy_uuid,
            &policy.catalog_uuid,
            &content_key,
        )
        .await?;
    may_act_for(node, actor, &policy.enterprise_uuid, learner.as_ref())?;
    let key = idempotency_key(&policy.uuid, lms_user_id, &content_key, seen.spent_attempts);
    // An attempt that neither failed nor was reversed holds the current key: this is a retry.
    if seen.live_attempts > 0 {
        let (_, first) = attempt(&mut reader, &policy.uuid, lms_user_id, &content_key).await?;
        if let Some(first) = first {
            return Ok((TransactionView::from(&first), false));
        }
    }
    let facts = Facts {
        subsidy,
        item,
        assignment: assignment_of(&mut reader, policy, learner.as_ref(), &content_key).await?,
        usage: (seen.learner_spent_cents, seen.learner_enrollments),
    };
    let evaluation = judge(policy, learner.as_ref(), facts, now);
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
    let (evaluation, transaction) = (&evaluation, &transaction);
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

/// The redemption's write: the ledger entry and the learner's usage (with the learner and the
/// content checked again), the assignment it pays for, the subsidy's and the policy's debit,
/// the enrollment, and the audit entry. The rows every redemption of the policy shares are
/// taken last, so they stay locked only for the enrollment, the audit entry and the commit.
async fn pay(
    tx: &mut AppTx<'_>,
    policy: &Policy,
    evaluation: &Evaluation,
    transaction: &Transaction,
    subject: &str,
    now: i64,
) -> Result<Redeemed> {
    let debit = rows::Debit {
        now,
        subsidy: &policy.subsidy_uuid,
        policy: &policy.uuid,
        lms_user_id: transaction.lms_user_id,
        amount: transaction.amount_cents,
        from_allocation: evaluation.assignment.as_ref().map_or(0, |a| a.amount_cents),
        learner_spend_limit: policy.per_learner_spend_limit_cents,
        learner_enrollment_limit: policy.per_learner_enrollment_limit,
    };
    let standing = rows::Standing {
        customer: &policy.enterprise_uuid,
        catalog: &policy.catalog_uuid,
    };
    if let Some(exceeded) = rows::open_redemption(&mut *tx, transaction, &standing, &debit).await? {
        let reason = exceeded_reason(&mut *tx, exceeded, policy, now).await?;
        return Err(not_redeemable(reason, &policy.uuid));
    }
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
    if let Some(exceeded) = rows::debit_shared(&mut *tx, &debit).await? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idempotency_key_changes_only_with_an_attempt_that_failed_or_was_reversed() {
        let key = |n| idempotency_key("p", 7, "edX+DemoX", n);
        assert_eq!(key(0), key(0));
        assert_ne!(key(0), key(1));
        assert_ne!(key(0), idempotency_key("p", 8, "edX+DemoX", 0));
        assert_ne!(key(0), idempotency_key("q", 7, "edX+DemoX", 0));
    }
}
