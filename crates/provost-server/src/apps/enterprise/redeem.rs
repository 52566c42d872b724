//! `redeem`: a store transaction whose limits the database checks, so no concurrency can
//! overspend a policy, a learner's limit or the subsidy, then the LMS call outside any
//! transaction, then a second transaction that records its outcome; the checks before it are
//! `eligibility`'s. The sweep settles what a crash left pending.

use provost_store::enterprise::{self as rows, ConnSource, Exceeded, Policy, Transaction};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use provost_store::AppTx;

use super::assignments;
use super::eligibility::{
    assignment_of, in_groups, judge, may_act_for, reason_views, Evaluation, Facts,
};
use super::imports::TransactionView;
use super::neighbours::{Catalogs, Learners, Lms, RedeemFacts, Subsidies, NEIGHBOURS};
use super::policies;
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

/// How long a redemption may stay `pending` before the sweep (`settle_stale`, run by
/// `provost enterprise expire` and inside `serve`) takes its writer for dead and settles it by
/// asking the LMS. A live redemption settles within a request's time, far below this.
pub const PENDING_GRACE: i64 = 5 * 60;

/// Redeems `content_key` for a learner through a policy, in three steps, none of which holds a
/// database transaction open across the LMS call:
///
/// 1. Every reason is checked first on a read connection, in two statements (the policy with
///    the learner's usage and attempts, then what the neighbours say), so refusals and retries
///    write nothing. Then one app-only write (`Node::app_write`: on PostgreSQL without the
///    store's write lock, so redemptions of different learners run side by side) records the
///    ledger entry as `pending`, checks again that the learner and the content are still there
///    (and the learner in one of the policy's groups, if it has any) and holds them, debits the
///    learner's usage, claims an assignment it pays for, audits, and
///    last debits the subsidy and the policy with updates guarded by their limits (`open`).
///    The ledger entry goes first: its unique idempotency key makes a concurrent retry wait
///    for this one and then return its transaction. Only redemptions against the same policy
///    wait for each other (its row, taken last and held only for the commit), at most
///    `APP_WRITE_LOCK_TIMEOUT`, then 429 `redeem_conflict`.
/// 2. The LMS enrolls the learner, with no transaction open, given the ledger entry's uuid so
///    that it can deduplicate.
/// 3. A second app-only write moves the entry `pending → committed` and accepts the
///    assignment, or `pending → failed` with the refund and the errored assignment, each a
///    compare-and-set on the state (`settle`); it does not touch the policy's row unless it
///    refunds.
///
/// A writer that dies between 1 and 3 leaves the entry pending, its money reserved; the sweep
/// settles it after `PENDING_GRACE`. A retry (same idempotency key) returns the first
/// transaction as it stands (pending, committed) and `false`. Needs
/// `subsidy_access_policy.has_redemption_access` at the policy's customer, and is for the
/// caller's own learner record unless they write policies (operators).
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
    let mut seen = rows::policy_for_redeem(reader.conn(), &policy_uuid, lms_user_id, &content_key)
        .await?
        .ok_or_else(|| s::not_found("subsidy access policy", &policy_uuid))?;
    // Only a policy for enterprise groups costs the statements that read them.
    if seen.group_count > 0 {
        seen.policy.group_uuids = rows::policy_groups(reader.conn(), &policy_uuid).await?;
    }
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
        in_groups: in_groups(&mut reader, &policy.group_uuids, policy, learner.as_ref()).await?,
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
        state: "pending".into(),
        metadata,
        created_at: now,
        modified_at: now,
    };
    let (evaluation, transaction) = (&evaluation, &transaction);
    let opened = node
        .app_write(&actor.username, |tx| {
            Box::pin(open(tx, policy, evaluation, transaction, &subject, now))
        })
        .await;
    match opened {
        Ok(()) => {}
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
    }
    // The money is reserved and the entry pending: the LMS, with no transaction open, then the
    // second write. They run as a task of their own, so a caller that hangs up (or a request
    // timeout) does not leave the entry pending until the sweep; should the LMS call fail or
    // the process die from here on, the sweep settles it.
    let finish = {
        let (node, actor, policy) = (node.clone(), actor.username.clone(), policy.clone());
        let (t, item) = (transaction.clone(), evaluation.item.clone());
        tokio::spawn(async move {
            let enrolled = enroll(item.as_ref(), &t).await?;
            settle(&node, &actor, &policy, &t, &subject, enrolled).await
        })
    };
    let settled = finish
        .await
        .map_err(|e| Error::internal(format!("the redemption's second write stopped: {e}")))??;
    match settled {
        Settled::Committed(view) => Ok((view, true)),
        Settled::Failed(view, why) => Err(Error::new(
            ErrorCode::EnrollmentFailed,
            format!("the LMS did not enroll the learner: {why}"),
        )
        .with_details(json!({ "transaction": view }))),
    }
}

/// The redemption's first write: the pending ledger entry and the learner's usage (with the
/// learner and the content checked again), the claim on an assignment it pays for, the audit
/// entry, and last the subsidy's and the policy's debit: the rows every redemption of the
/// policy shares are taken last, so they stay locked only for the commit.
async fn open(
    tx: &mut AppTx<'_>,
    policy: &Policy,
    evaluation: &Evaluation,
    transaction: &Transaction,
    subject: &str,
    now: i64,
) -> Result<()> {
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
    // A policy for enterprise groups: the learner must still be in one, and stays so.
    if !policy.group_uuids.is_empty()
        && !rows::in_policy_groups(tx.conn(), &policy.uuid, transaction.lms_user_id).await?
    {
        return Err(not_redeemable(
            "learner_not_in_enterprise_group",
            &policy.uuid,
        ));
    }
    // An assignment must still be allocated (not cancelled or expired meanwhile), and stays so,
    // claimed by this transaction, until the redemption settles.
    if let Some(a) = &evaluation.assignment {
        if !rows::claim_assignment(tx.conn(), &a.uuid, &transaction.uuid).await? {
            return Err(not_redeemable(
                "reason_learner_not_assigned_content",
                &policy.uuid,
            ));
        }
    }
    tx.audit(s::audit(
        "redeem",
        &policy.enterprise_uuid,
        Some(subject),
        Some(json!(TransactionView::from(transaction))),
        None,
    ))
    .await?;
    if let Some(exceeded) = rows::debit_shared(&mut *tx, &debit).await? {
        let reason = exceeded_reason(&mut *tx, exceeded, policy, now).await?;
        return Err(not_redeemable(reason, &policy.uuid));
    }
    Ok(())
}

/// Asks the LMS to enroll the learner for a pending transaction (again, for the sweep: it is
/// idempotent by the transaction's uuid). Content no longer in the catalog cannot be enrolled in.
async fn enroll(
    item: Option<&rows::CatalogItem>,
    t: &Transaction,
) -> Result<std::result::Result<(), String>> {
    Ok(match item {
        Some(item) => NEIGHBOURS.enroll(item, t.lms_user_id, &t.uuid).await?,
        None => Err(format!("`{}` is not in the catalog", t.content_key)),
    })
}

/// How a pending redemption ended.
enum Settled {
    Committed(TransactionView),
    Failed(TransactionView, String),
}

/// The redemption's second write, once the LMS answered: `pending → committed` (the assignment
/// it claimed accepted), or `pending → failed` (its money back, its assignment errored). A
/// compare-and-set on the state: when someone settled it meanwhile (the sweep, or the
/// redemption the sweep took for dead), the outcome is theirs.
///
/// It does not wait for the disk (`Node::app_write_unflushed`): should a crash lose it, the
/// entry is pending again (the first write was on disk before the LMS was called) and the
/// sweep settles it to the same outcome, since the LMS answers the same transaction the same
/// way. So a redemption waits for one log flush, not two.
async fn settle(
    node: &Node,
    actor: &str,
    policy: &Policy,
    t: &Transaction,
    subject: &str,
    enrolled: std::result::Result<(), String>,
) -> Result<Settled> {
    node.app_write_unflushed(actor, |tx| {
        Box::pin(async move {
            let now = crate::access::now();
            let to = if enrolled.is_ok() {
                "committed"
            } else {
                "failed"
            };
            if !rows::set_transaction_state(tx.conn(), &t.uuid, "pending", to, now).await? {
                let current = rows::transaction(tx.conn(), &t.uuid)
                    .await?
                    .ok_or_else(|| Error::internal("a pending transaction vanished"))?;
                let view = TransactionView::from(&current);
                return Ok(if current.state == "failed" {
                    Settled::Failed(view, "the redemption failed meanwhile".into())
                } else {
                    Settled::Committed(view)
                });
            }
            let after = Transaction {
                state: to.into(),
                modified_at: now,
                ..t.clone()
            };
            let claimed = if policies::is_assigned(policy) {
                rows::assignment_claimed_by(tx.conn(), &t.uuid).await?
            } else {
                None
            };
            let view = TransactionView::from(&after);
            match enrolled {
                Ok(()) => {
                    if let Some(a) = &claimed {
                        assignments::accept(tx, policy, a, &t.uuid, now).await?;
                    }
                    tx.audit(s::audit(
                        "redeem_commit",
                        &policy.enterprise_uuid,
                        Some(subject),
                        Some(json!(view)),
                        Some(json!(TransactionView::from(t))),
                    ))
                    .await?;
                    Ok(Settled::Committed(view))
                }
                Err(why) => {
                    rows::refund(&mut *tx, &after).await?;
                    if let Some(a) = &claimed {
                        assignments::fail(tx, policy, a, now).await?;
                    }
                    tx.audit(s::audit(
                        "redeem_failed",
                        &policy.enterprise_uuid,
                        Some(subject),
                        Some(json!({ "transaction": view, "why": why })),
                        Some(json!(TransactionView::from(t))),
                    ))
                    .await?;
                    Ok(Settled::Failed(view, why))
                }
            }
        })
    })
    .await
}

/// Settles every redemption pending since `now - PENDING_GRACE` or longer (its writer died
/// between reserving the money and recording the LMS's answer): asks the LMS again for its
/// transaction (idempotent), then commits or fails it as the redemption itself would have.
/// Returns the settled transactions. Run by `provost enterprise expire` and inside `serve`.
pub async fn settle_stale(node: &Node, actor: &Actor, now: i64) -> Result<Vec<TransactionView>> {
    let mut stale = Vec::new();
    {
        let mut reader = s::reader(node).await?;
        for t in rows::pending_transactions(reader.conn(), now - PENDING_GRACE).await? {
            let policy = rows::policy(reader.conn(), &t.policy_uuid)
                .await?
                .ok_or_else(|| Error::internal("a transaction without its policy"))?;
            let item = NEIGHBOURS
                .content(reader.conn(), &policy.catalog_uuid, &t.content_key)
                .await?;
            let subject = NEIGHBOURS
                .by_id(reader.conn(), &policy.enterprise_uuid, t.lms_user_id)
                .await?
                .map_or_else(|| t.lms_user_id.to_string(), |l| l.username);
            stale.push((t, policy, item, subject));
        }
    }
    let mut settled = Vec::new();
    for (t, policy, item, subject) in stale {
        let enrolled = enroll(item.as_ref(), &t).await?;
        match settle(node, &actor.username, &policy, &t, &subject, enrolled).await? {
            Settled::Committed(view) | Settled::Failed(view, _) => settled.push(view),
        }
    }
    Ok(settled)
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
