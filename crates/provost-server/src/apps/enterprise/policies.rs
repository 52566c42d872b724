//! Subsidy access policies: the three types with their priorities and constraints, creation
//! (an identical active one is returned instead), changes, and retirement.

use super::service::{Text, UuidKey};
use chrono::{DateTime, Utc};
use provost_store::enterprise::{self as rows, Policy};
use provost_store::Conn;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::neighbours::{Catalogs, Groups, Subsidies, NEIGHBOURS};
use super::service::{self as s, perm};
use crate::access::Actor;
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// The policy types of enterprise-access.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
pub enum PolicyType {
    /// Each learner may enroll at most `per_learner_enrollment_limit` times.
    PerLearnerEnrollmentCreditAccessPolicy,
    /// Each learner may spend at most `per_learner_spend_limit` cents.
    PerLearnerSpendCreditAccessPolicy,
    /// Only content an admin assigned to the learner.
    AssignedLearnerCreditAccessPolicy,
}

impl PolicyType {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::PerLearnerEnrollmentCreditAccessPolicy => {
                "PerLearnerEnrollmentCreditAccessPolicy"
            }
            PolicyType::PerLearnerSpendCreditAccessPolicy => "PerLearnerSpendCreditAccessPolicy",
            PolicyType::AssignedLearnerCreditAccessPolicy => "AssignedLearnerCreditAccessPolicy",
        }
    }

    pub fn parse(text: &str) -> Option<PolicyType> {
        [
            PolicyType::PerLearnerEnrollmentCreditAccessPolicy,
            PolicyType::PerLearnerSpendCreditAccessPolicy,
            PolicyType::AssignedLearnerCreditAccessPolicy,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
    }

    /// Lower goes first when several policies could pay for the same content.
    pub fn priority(self) -> i64 {
        match self {
            PolicyType::AssignedLearnerCreditAccessPolicy => 0,
            _ => 1,
        }
    }
}

/// A new policy, as enterprise-access's create takes it (money in cents).
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub policy_type: PolicyType,
    #[schema(value_type = UuidKey)]
    pub enterprise_customer_uuid: String,
    #[serde(default)]
    #[schema(value_type = Text)]
    pub display_name: String,
    #[serde(default)]
    #[schema(value_type = Text)]
    pub description: String,
    /// Defaults to false: a new policy pays for nothing until it is activated.
    #[serde(default)]
    pub active: bool,
    #[schema(value_type = UuidKey)]
    pub catalog_uuid: String,
    #[schema(value_type = UuidKey)]
    pub subsidy_uuid: String,
    /// `direct` (the default) or, for assigned policies, `assigned`.
    pub access_method: Option<AccessMethod>,
    #[serde(default, deserialize_with = "s::int::optional")]
    #[schema(minimum = 0, maximum = 1e14)]
    pub spend_limit: Option<i64>,
    #[serde(default, deserialize_with = "s::int::optional")]
    #[schema(minimum = 0, maximum = 1e14)]
    pub per_learner_enrollment_limit: Option<i64>,
    #[serde(default, deserialize_with = "s::int::optional")]
    #[schema(minimum = 0, maximum = 1e14)]
    pub per_learner_spend_limit: Option<i64>,
    /// The customer's enterprise groups the policy is for (enterprise-access's
    /// PolicyGroupAssociation): when any are given, only learners in one of them may redeem.
    /// Defaults to none: all the customer's learners.
    #[serde(default)]
    #[schema(value_type = Vec<UuidKey>, max_items = 100)]
    pub group_uuids: Vec<String>,
}

/// How learners reach a policy's credit.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessMethod {
    Direct,
    Assigned,
}

/// A change to a policy (`PATCH`): only the fields given change.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyPatch {
    #[schema(value_type = Option<Text>)]
    pub display_name: Option<String>,
    #[schema(value_type = Option<Text>)]
    pub description: Option<String>,
    pub active: Option<bool>,
    #[schema(value_type = Option<UuidKey>)]
    pub catalog_uuid: Option<String>,
    #[serde(default, deserialize_with = "s::int::optional")]
    #[schema(minimum = 0, maximum = 1e14)]
    pub spend_limit: Option<i64>,
    #[serde(default, deserialize_with = "s::int::optional")]
    #[schema(minimum = 0, maximum = 1e14)]
    pub per_learner_enrollment_limit: Option<i64>,
    #[serde(default, deserialize_with = "s::int::optional")]
    #[schema(minimum = 0, maximum = 1e14)]
    pub per_learner_spend_limit: Option<i64>,
    /// Replaces the enterprise groups the policy is for (`[]`: all the customer's learners).
    #[schema(value_type = Option<Vec<UuidKey>>, max_items = 100)]
    pub group_uuids: Option<Vec<String>>,
}

/// A policy as enterprise-access serialises one (money in cents).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PolicyView {
    pub uuid: String,
    pub policy_type: String,
    pub enterprise_customer_uuid: String,
    pub display_name: String,
    pub description: String,
    pub active: bool,
    pub retired: bool,
    pub catalog_uuid: String,
    pub subsidy_uuid: String,
    pub access_method: String,
    pub spend_limit: Option<i64>,
    pub per_learner_enrollment_limit: Option<i64>,
    pub per_learner_spend_limit: Option<i64>,
    pub priority: i64,
    /// What is left to spend or allocate under the spend limit (null: no limit).
    pub spend_available: Option<i64>,
    pub total_redeemed: i64,
    pub total_allocated: i64,
    /// The enterprise groups it is for (empty: all the customer's learners).
    pub group_uuids: Vec<String>,
    pub created: DateTime<Utc>,
}

impl From<&Policy> for PolicyView {
    fn from(p: &Policy) -> PolicyView {
        PolicyView {
            uuid: p.uuid.clone(),
            policy_type: p.policy_type.clone(),
            enterprise_customer_uuid: p.enterprise_uuid.clone(),
            display_name: p.display_name.clone(),
            description: p.description.clone(),
            active: p.active == 1,
            retired: p.retired == 1,
            catalog_uuid: p.catalog_uuid.clone(),
            subsidy_uuid: p.subsidy_uuid.clone(),
            access_method: p.access_method.clone(),
            spend_limit: p.spend_limit_cents,
            per_learner_enrollment_limit: p.per_learner_enrollment_limit,
            per_learner_spend_limit: p.per_learner_spend_limit_cents,
            priority: priority(p),
            spend_available: p
                .spend_limit_cents
                .map(|l| (l - p.spent_cents - p.allocated_cents).max(0)),
            total_redeemed: p.spent_cents,
            total_allocated: p.allocated_cents,
            group_uuids: p.group_uuids.clone(),
            created: s::time(p.created_at),
        }
    }
}

/// enterprise-access's list page (one page: a customer has few policies).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PolicyPage {
    pub count: usize,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<PolicyView>,
}

pub fn priority(p: &Policy) -> i64 {
    PolicyType::parse(&p.policy_type).map_or(1, PolicyType::priority)
}

pub fn is_assigned(p: &Policy) -> bool {
    p.policy_type == PolicyType::AssignedLearnerCreditAccessPolicy.as_str()
}

fn refused(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::PolicyConstraint, message)
}

/// The rules of the policy's type: which limits it takes, and its access method.
fn check_type(p: &Policy) -> Result<()> {
    let kind = PolicyType::parse(&p.policy_type).ok_or_else(|| refused("unknown policy type"))?;
    for (value, field) in [
        (p.spend_limit_cents, "spend_limit"),
        (
            p.per_learner_enrollment_limit,
            "per_learner_enrollment_limit",
        ),
        (p.per_learner_spend_limit_cents, "per_learner_spend_limit"),
    ] {
        if let Some(v) = value {
            s::cents(v, field)?;
        }
    }
    let forbidden = match kind {
        PolicyType::PerLearnerEnrollmentCreditAccessPolicy => p
            .per_learner_spend_limit_cents
            .map(|_| "per_learner_spend_limit"),
        PolicyType::PerLearnerSpendCreditAccessPolicy => p
            .per_learner_enrollment_limit
            .map(|_| "per_learner_enrollment_limit"),
        PolicyType::AssignedLearnerCreditAccessPolicy => {
            if p.spend_limit_cents.is_none() {
                return Err(refused(
                    "an assigned learner credit policy needs a `spend_limit`",
                ));
            }
            p.per_learner_spend_limit_cents
                .map(|_| "per_learner_spend_limit")
                .or(p
                    .per_learner_enrollment_limit
                    .map(|_| "per_learner_enrollment_limit"))
        }
    };
    if let Some(field) = forbidden {
        return Err(refused(format!("a {} takes no `{field}`", kind.as_str())));
    }
    let assigned = kind == PolicyType::AssignedLearnerCreditAccessPolicy;
    if assigned != (p.access_method == "assigned") {
        return Err(refused(if assigned {
            "an assigned learner credit policy has access method `assigned`"
        } else {
            "only assigned learner credit policies have access method `assigned`"
        }));
    }
    if !matches!(p.access_method.as_str(), "direct" | "assigned") {
        return Err(refused("`access_method` is `direct` or `assigned`"));
    }
    Ok(())
}

/// Whether two policies would do the same thing (everything but identity, state and spend).
fn same_terms(a: &Policy, b: &Policy) -> bool {
    (
        a.enterprise_uuid.as_str(),
        a.policy_type.as_str(),
        a.display_name.as_str(),
        a.description.as_str(),
    ) == (
        b.enterprise_uuid.as_str(),
        b.policy_type.as_str(),
        b.display_name.as_str(),
        b.description.as_str(),
    ) && (
        a.catalog_uuid.as_str(),
        a.subsidy_uuid.as_str(),
        a.access_method.as_str(),
    ) == (
        b.catalog_uuid.as_str(),
        b.subsidy_uuid.as_str(),
        b.access_method.as_str(),
    ) && (
        a.spend_limit_cents,
        a.per_learner_enrollment_limit,
        a.per_learner_spend_limit_cents,
    ) == (
        b.spend_limit_cents,
        b.per_learner_enrollment_limit,
        b.per_learner_spend_limit_cents,
    ) && a.group_uuids == b.group_uuids
}

/// Most enterprise groups one policy is for.
pub const MAX_GROUPS: usize = 100;

/// A policy's groups as given: canonical uuids, sorted, each once; 400 `too_many_items` past
/// `MAX_GROUPS`.
fn group_uuids(given: &[String]) -> Result<Vec<String>> {
    if given.len() > MAX_GROUPS {
        return Err(Error::new(
            ErrorCode::TooManyItems,
            format!("a policy is for at most {MAX_GROUPS} groups"),
        ));
    }
    let mut groups = given
        .iter()
        .map(|g| s::uuid(g, "group"))
        .collect::<Result<Vec<_>>>()?;
    groups.sort();
    groups.dedup();
    Ok(groups)
}

/// The subsidy, catalog and groups a policy names must exist and belong to its customer; an active
/// policy's spend limit, with those of the subsidy's other active policies, must fit in the
/// subsidy's deposit.
async fn check_references(tx: &mut provost_store::Tx<'_>, p: &Policy) -> Result<()> {
    let subsidy = NEIGHBOURS.subsidy(tx.conn(), &p.subsidy_uuid).await?;
    let catalog = NEIGHBOURS.catalog(tx.conn(), &p.catalog_uuid).await?;
    let Some(subsidy) = subsidy.filter(|x| x.enterprise_uuid == p.enterprise_uuid) else {
        return Err(unknown("subsidy", &p.subsidy_uuid));
    };
    if catalog.is_none_or(|x| x.enterprise_uuid != p.enterprise_uuid) {
        return Err(unknown("catalog", &p.catalog_uuid));
    }
    for g in &p.group_uuids {
        let group = NEIGHBOURS.group(tx.conn(), g).await?;
        if group.is_none_or(|x| x.enterprise_uuid != p.enterprise_uuid) {
            return Err(unknown("group", g));
        }
    }
    if p.active == 1 && p.retired == 0 {
        let others = rows::active_spend_limits(tx.conn(), &p.subsidy_uuid, &p.uuid).await?;
        let total = others.saturating_add(p.spend_limit_cents.unwrap_or(0));
        if total > subsidy.starting_balance_cents {
            return Err(Error::new(
                ErrorCode::SpendLimitExceedsDeposits,
                format!(
                    "the active policies of subsidy `{}` would promise {total} cents; it holds {}",
                    subsidy.uuid, subsidy.starting_balance_cents
                ),
            ));
        }
    }
    Ok(())
}

fn unknown(what: &str, uuid: &str) -> Error {
    Error::new(
        ErrorCode::UnknownReference,
        format!("the customer has no {what} `{uuid}`"),
    )
}

/// Creates a policy; an identical active one is returned instead (`false`: not created).
/// Needs `subsidy_access_policy.has_write_access` at the customer (operators).
pub async fn create(node: &Node, actor: &Actor, input: &PolicyInput) -> Result<(PolicyView, bool)> {
    let enterprise = s::uuid(&input.enterprise_customer_uuid, "enterprise customer")?;
    s::authorize(&node.index(), actor, perm::POLICY_WRITE, &enterprise)?;
    let assigned = input.policy_type == PolicyType::AssignedLearnerCreditAccessPolicy;
    let default_method = if assigned { "assigned" } else { "direct" };
    let policy = Policy {
        uuid: uuid::Uuid::new_v4().hyphenated().to_string(),
        enterprise_uuid: enterprise,
        policy_type: input.policy_type.as_str().into(),
        display_name: s::text(&input.display_name, "display_name", true)?,
        description: s::text(&input.description, "description", true)?,
        active: i64::from(input.active),
        retired: 0,
        catalog_uuid: s::uuid(&input.catalog_uuid, "catalog")?,
        subsidy_uuid: s::uuid(&input.subsidy_uuid, "subsidy")?,
        access_method: match input.access_method {
            Some(AccessMethod::Direct) => "direct".into(),
            Some(AccessMethod::Assigned) => "assigned".into(),
            None => default_method.into(),
        },
        spend_limit_cents: input.spend_limit,
        per_learner_enrollment_limit: input.per_learner_enrollment_limit,
        per_learner_spend_limit_cents: input.per_learner_spend_limit,
        spent_cents: 0,
        allocated_cents: 0,
        created_at: crate::access::now(),
        group_uuids: group_uuids(&input.group_uuids)?,
    };
    check_type(&policy)?;
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let existing = rows::policies(tx.conn(), &policy.enterprise_uuid, false).await?;
                if let Some(same) = existing
                    .iter()
                    .find(|p| p.active == 1 && same_terms(p, &policy))
                {
                    return Ok((PolicyView::from(same), false));
                }
                check_references(tx, &policy).await?;
                rows::insert_policy(tx.conn(), &policy).await?;
                let view = PolicyView::from(&policy);
                tx.audit(s::audit(
                    "policy_create",
                    &policy.enterprise_uuid,
                    Some(&policy.uuid),
                    Some(json!(view)),
                    None,
                ))
                .await?;
                Ok((view, true))
            })
        })
        .await?;
    Ok(written.value)
}

/// The customer's policies (retired ones left out). Needs `subsidy_access_policy.has_read_access`.
pub async fn list(node: &Node, actor: &Actor, enterprise: &str) -> Result<PolicyPage> {
    let enterprise = s::uuid(enterprise, "enterprise customer")?;
    s::authorize(&node.index(), actor, perm::POLICY_READ, &enterprise)?;
    let mut reader = s::reader(node).await?;
    let results: Vec<PolicyView> = rows::policies(reader.conn(), &enterprise, false)
        .await?
        .iter()
        .map(PolicyView::from)
        .collect();
    Ok(PolicyPage {
        count: results.len(),
        next: None,
        previous: None,
        results,
    })
}

/// Reads a policy that the caller may see with `permission`: 404 when there is none, 403 when
/// the caller lacks the permission at its customer.
pub async fn visible(
    conn: Conn<'_>,
    node: &Node,
    actor: &Actor,
    uuid: &str,
    permission: &str,
) -> Result<Policy> {
    let uuid = s::uuid(uuid, "policy")?;
    let policy = rows::policy(conn, &uuid)
        .await?
        .ok_or_else(|| s::not_found("subsidy access policy", &uuid))?;
    s::authorize(&node.index(), actor, permission, &policy.enterprise_uuid)?;
    Ok(policy)
}

/// One policy. Needs `subsidy_access_policy.has_read_access` at its customer.
pub async fn get(node: &Node, actor: &Actor, uuid: &str) -> Result<PolicyView> {
    let mut reader = s::reader(node).await?;
    let policy = visible(reader.conn(), node, actor, uuid, perm::POLICY_READ).await?;
    Ok(PolicyView::from(&policy))
}

/// Changes a policy. Needs `subsidy_access_policy.has_write_access` at its customer. A policy
/// with spend cannot be deactivated; a spend limit cannot drop below what is spent and allocated.
pub async fn update(
    node: &Node,
    actor: &Actor,
    uuid: &str,
    patch: &PolicyPatch,
) -> Result<PolicyView> {
    change(node, actor, uuid, "policy_update", |p| {
        if let Some(v) = &patch.display_name {
            p.display_name = s::text(v, "display_name", true)?;
        }
        if let Some(v) = &patch.description {
            p.description = s::text(v, "description", true)?;
        }
        if let Some(v) = &patch.catalog_uuid {
            p.catalog_uuid = s::uuid(v, "catalog")?;
        }
        if patch.spend_limit.is_some() {
            p.spend_limit_cents = patch.spend_limit;
        }
        if patch.per_learner_enrollment_limit.is_some() {
            p.per_learner_enrollment_limit = patch.per_learner_enrollment_limit;
        }
        if patch.per_learner_spend_limit.is_some() {
            p.per_learner_spend_limit_cents = patch.per_learner_spend_limit;
        }
        if let Some(groups) = &patch.group_uuids {
            p.group_uuids = group_uuids(groups)?;
        }
        if let Some(active) = patch.active {
            if !active && p.active == 1 && p.spent_cents > 0 {
                return Err(Error::new(
                    ErrorCode::PolicyHasSpend,
                    format!(
                        "policy `{}` has spent {} cents and cannot be deactivated",
                        p.uuid, p.spent_cents
                    ),
                ));
            }
            p.active = i64::from(active);
        }
        Ok(())
    })
    .await
}

/// Retires a policy (a soft delete: it pays for nothing more, its ledger stays). Needs
/// `subsidy_access_policy.has_write_access` at its customer.
pub async fn retire(node: &Node, actor: &Actor, uuid: &str) -> Result<PolicyView> {
    change(node, actor, uuid, "policy_retire", |p| {
        p.retired = 1;
        Ok(())
    })
    .await
}

/// Reads the policy under the write lock and its row's lock (redemptions change its spend
/// without the write lock), applies `edit`, checks the result and writes it.
async fn change(
    node: &Node,
    actor: &Actor,
    uuid: &str,
    op: &'static str,
    edit: impl FnOnce(&mut Policy) -> Result<()> + Send,
) -> Result<PolicyView> {
    let uuid = s::uuid(uuid, "policy")?;
    let index = node.index();
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                rows::lock_policy(tx.conn(), &uuid).await?;
                let before = rows::policy(tx.conn(), &uuid)
                    .await?
                    .filter(|p| p.retired == 0 || op != "policy_update")
                    .ok_or_else(|| s::not_found("subsidy access policy", &uuid))?;
                s::authorize(&index, actor, perm::POLICY_WRITE, &before.enterprise_uuid)?;
                let mut after = before.clone();
                edit(&mut after)?;
                check_type(&after)?;
                if let Some(limit) = after.spend_limit_cents {
                    if limit < after.spent_cents + after.allocated_cents {
                        return Err(refused(format!(
                            "the spend limit cannot be below the {} cents spent and allocated",
                            after.spent_cents + after.allocated_cents
                        )));
                    }
                }
                check_references(tx, &after).await?;
                rows::update_policy(tx.conn(), &after).await?;
                let view = PolicyView::from(&after);
                tx.audit(s::audit(
                    op,
                    &after.enterprise_uuid,
                    Some(&after.uuid),
                    Some(json!(view)),
                    Some(json!(PolicyView::from(&before))),
                ))
                .await?;
                Ok(view)
            })
        })
        .await?;
    Ok(written.value)
}
