//! Which policy may pay for a learner's content and why not: enterprise-access's reasons, in its
//! order, for `can-redeem`, `credits_available` and the checks `redeem` makes before it writes.

use provost_store::enterprise::{
    self as rows, Assignment, CatalogItem, ConnSource, Learner, Policy, Subsidy,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::imports::TransactionView;
use super::neighbours::{Catalogs, Groups, Learners, Subsidies, NEIGHBOURS};
use super::policies::{self, PolicyView};
use super::service::{self as s, perm};
use crate::access::Actor;
use crate::err::{Error, Result};
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

pub(super) fn reason_views(failures: &[(&'static str, String)]) -> Vec<ReasonView> {
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

/// What a policy's checks read about one learner and one content key.
pub struct Facts {
    pub subsidy: Option<Subsidy>,
    /// The content as the policy's catalog lists it.
    pub item: Option<CatalogItem>,
    /// The learner's assignment of the content (assigned policies only).
    pub assignment: Option<Assignment>,
    /// What the learner spent through the policy, and how often they enrolled.
    pub usage: (i64, i64),
    /// The policy is for all the customer's learners, or the learner is in one of its groups.
    pub in_groups: bool,
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
    let assignment = assignment_of(&mut c, policy, learner, content_key).await?;
    let usage = match learner {
        Some(l) => rows::learner_usage(c.conn(), &policy.uuid, l.lms_user_id).await?,
        None => (0, 0),
    };
    let in_groups = in_groups(&mut c, &policy.group_uuids, policy, learner).await?;
    let facts = Facts {
        subsidy,
        item,
        assignment,
        usage,
        in_groups,
    };
    Ok(judge(policy, learner, facts, now))
}

/// Whether the learner may use a policy for `groups` (its enterprise groups): any learner when it
/// has none, else one in at least one of them (enterprise-access's `includes_learner`). Asks the
/// LMS only for a policy with groups.
pub(super) async fn in_groups(
    mut c: impl ConnSource,
    groups: &[String],
    policy: &Policy,
    learner: Option<&Learner>,
) -> Result<bool> {
    let Some(learner) = learner.filter(|_| !groups.is_empty()) else {
        return Ok(true);
    };
    let theirs = NEIGHBOURS
        .groups_of(c.conn(), &policy.enterprise_uuid, learner.lms_user_id)
        .await?;
    Ok(theirs.iter().any(|g| groups.contains(g)))
}

/// The learner's assignment of the content, for assigned policies.
pub(super) async fn assignment_of(
    mut c: impl ConnSource,
    policy: &Policy,
    learner: Option<&Learner>,
    content_key: &str,
) -> Result<Option<Assignment>> {
    Ok(match learner {
        Some(l) if policies::is_assigned(policy) => {
            rows::assignment_for(c.conn(), &policy.uuid, &l.email, content_key).await?
        }
        _ => None,
    })
}

/// enterprise-access's checks for `policy` on what was read; the first that fails is the reason.
pub fn judge(policy: &Policy, learner: Option<&Learner>, facts: Facts, now: i64) -> Evaluation {
    let Facts {
        subsidy,
        item,
        assignment,
        usage,
        in_groups,
    } = facts;
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
        (
            "learner_not_in_enterprise_group",
            learner.is_some() && !in_groups,
        ),
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
    evaluation
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
    may_act_for(node, actor, enterprise, learner.as_ref())?;
    Ok(learner)
}

/// Refuses (403) a caller acting for another learner than themself, unless they write policies.
pub(super) fn may_act_for(
    node: &Node,
    actor: &Actor,
    enterprise: &str,
    learner: Option<&Learner>,
) -> Result<()> {
    match learner {
        Some(l)
            if l.username != actor.username
                && !s::may(&node.index(), actor, perm::POLICY_WRITE, enterprise) =>
        {
            Err(Error::forbidden(format!(
                "`{}` may act only for themself, not for learner {}",
                actor.username, l.lms_user_id
            )))
        }
        _ => Ok(()),
    }
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
}
