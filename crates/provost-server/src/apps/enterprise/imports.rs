//! Loading the stand-ins (subsidies, catalogs, a customer's learners, and removing one), reading a subsidy's ledger,
//! and reversing a redemption as enterprise-subsidy would.

use super::service::{ContentKey, EmailKey, LearnerName, Title, UuidKey};
use chrono::{DateTime, Utc};
use provost_store::enterprise::{
    self as rows, Catalog, CatalogItem, Learner, Subsidy, Transaction,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::service::{self as s, perm};
use crate::access::Actor;
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// A subsidy to load (`POST /api/v1/subsidies`); the same uuid again updates it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubsidyInput {
    #[schema(value_type = Option<UuidKey>)]
    pub uuid: Option<String>,
    #[schema(value_type = UuidKey)]
    pub enterprise_customer_uuid: String,
    #[schema(value_type = Title)]
    pub title: String,
    #[serde(deserialize_with = "s::int::required")]
    #[schema(minimum = 0, maximum = 1e14)]
    pub starting_balance_cents: i64,
    pub active_datetime: DateTime<Utc>,
    pub expiration_datetime: DateTime<Utc>,
}

/// A subsidy with its balance.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SubsidyView {
    pub uuid: String,
    pub enterprise_customer_uuid: String,
    pub title: String,
    pub starting_balance_cents: i64,
    /// Starting balance less every created, pending and committed transaction.
    pub current_balance_cents: i64,
    pub active_datetime: DateTime<Utc>,
    pub expiration_datetime: DateTime<Utc>,
}

impl From<&Subsidy> for SubsidyView {
    fn from(s: &Subsidy) -> SubsidyView {
        SubsidyView {
            uuid: s.uuid.clone(),
            enterprise_customer_uuid: s.enterprise_uuid.clone(),
            title: s.title.clone(),
            starting_balance_cents: s.starting_balance_cents,
            current_balance_cents: s.starting_balance_cents - s.spent_cents,
            active_datetime: s::time(s.active_at),
            expiration_datetime: s::time(s.expires_at),
        }
    }
}

/// A catalog to load (`POST /api/v1/catalogs`): its content replaces what it held.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogInput {
    #[schema(value_type = Option<UuidKey>)]
    pub uuid: Option<String>,
    #[schema(value_type = UuidKey)]
    pub enterprise_customer_uuid: String,
    #[schema(value_type = Title)]
    pub title: String,
    #[schema(max_items = 1000)]
    pub content: Vec<ContentInput>,
}

#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentInput {
    #[schema(value_type = ContentKey)]
    pub content_key: String,
    #[serde(deserialize_with = "s::int::required")]
    #[schema(minimum = 0, maximum = 1e14)]
    pub price_cents: i64,
    /// The last moment to enroll, if the content has one.
    pub enroll_by: Option<DateTime<Utc>>,
    /// The stand-in LMS refuses to enroll anyone in it: redemptions of it fail (a rehearsal).
    #[serde(default)]
    pub lms_refuses_enrollment: bool,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CatalogView {
    pub uuid: String,
    pub enterprise_customer_uuid: String,
    pub title: String,
    pub content_count: usize,
}

/// `PUT /api/v1/enterprise-customers/{uuid}/learners`: the customer's learners to add or update.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LearnersInput {
    #[schema(max_items = 1000)]
    pub learners: Vec<LearnerInput>,
}

#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LearnerInput {
    #[schema(value_type = LearnerName)]
    pub username: String,
    #[serde(deserialize_with = "s::int::required")]
    #[schema(minimum = 1)]
    pub lms_user_id: i64,
    #[schema(value_type = EmailKey)]
    pub email: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LearnersSaved {
    /// Learners added or changed.
    pub changed: usize,
    pub unchanged: usize,
}

/// A ledger entry as enterprise-subsidy shows one.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TransactionView {
    pub uuid: String,
    pub state: String,
    pub idempotency_key: String,
    pub subsidy_uuid: String,
    pub subsidy_access_policy_uuid: String,
    pub lms_user_id: i64,
    pub content_key: String,
    /// What the redemption took from the subsidy.
    pub quantity_cents: i64,
    pub metadata: Option<serde_json::Value>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

impl From<&Transaction> for TransactionView {
    fn from(t: &Transaction) -> TransactionView {
        TransactionView {
            uuid: t.uuid.clone(),
            state: t.state.clone(),
            idempotency_key: t.idempotency_key.clone(),
            subsidy_uuid: t.subsidy_uuid.clone(),
            subsidy_access_policy_uuid: t.policy_uuid.clone(),
            lms_user_id: t.lms_user_id,
            content_key: t.content_key.clone(),
            quantity_cents: t.amount_cents,
            metadata: t
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
            created: s::time(t.created_at),
            modified: s::time(t.modified_at),
        }
    }
}

/// A subsidy's ledger.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Ledger {
    pub subsidy: SubsidyView,
    pub transactions: Vec<TransactionView>,
}

/// Loads or updates a subsidy. Needs `enterprise.provision` at its customer. Returns it and
/// whether it was new.
pub async fn put_subsidy(
    node: &Node,
    actor: &Actor,
    input: &SubsidyInput,
) -> Result<(SubsidyView, bool)> {
    let enterprise = s::uuid(&input.enterprise_customer_uuid, "enterprise customer")?;
    s::authorize(&node.index(), actor, perm::PROVISION, &enterprise)?;
    let uuid = s::uuid_or_new(input.uuid.as_deref(), "subsidy")?;
    let subsidy = Subsidy {
        uuid: uuid.clone(),
        enterprise_uuid: enterprise.clone(),
        title: s::text(&input.title, "title", false)?,
        starting_balance_cents: s::cents(input.starting_balance_cents, "starting_balance_cents")?,
        spent_cents: 0,
        active_at: input.active_datetime.timestamp(),
        expires_at: input.expiration_datetime.timestamp(),
    };
    if subsidy.active_at >= subsidy.expires_at {
        return Err(Error::new(
            ErrorCode::EmptyWindow,
            "`active_datetime` must be before `expiration_datetime`",
        ));
    }
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let before = rows::subsidy(tx.conn(), &subsidy.uuid).await?;
                let created = before.is_none();
                if let Some(old) = &before {
                    if old.enterprise_uuid != subsidy.enterprise_uuid {
                        return Err(wrong_customer("subsidy", &subsidy.uuid));
                    }
                    // Redemptions may spend until the update itself, which checks again.
                    if subsidy.starting_balance_cents < old.spent_cents
                        || !rows::update_subsidy(tx.conn(), &subsidy).await?
                    {
                        let spent = rows::subsidy(tx.conn(), &subsidy.uuid)
                            .await?
                            .map_or(old.spent_cents, |now| now.spent_cents);
                        return Err(Error::new(
                            ErrorCode::SubsidyOverdrawn,
                            format!(
                                "the subsidy has spent {spent} cents; its deposit cannot be less"
                            ),
                        ));
                    }
                } else {
                    rows::insert_subsidy(tx.conn(), &subsidy).await?;
                }
                let after = rows::subsidy(tx.conn(), &subsidy.uuid)
                    .await?
                    .ok_or_else(|| Error::internal("the subsidy vanished"))?;
                let view = SubsidyView::from(&after);
                let op = if created {
                    "subsidy_create"
                } else {
                    "subsidy_update"
                };
                let before = before.as_ref().map(|b| json!(SubsidyView::from(b)));
                tx.audit(s::audit(
                    op,
                    &subsidy.enterprise_uuid,
                    None,
                    Some(json!(view)),
                    before,
                ))
                .await?;
                Ok((view, created))
            })
        })
        .await?;
    Ok(written.value)
}

/// A subsidy and its ledger. Needs `content_assignment.has_admin_read_access` at its customer.
pub async fn ledger(node: &Node, actor: &Actor, uuid: &str) -> Result<Ledger> {
    let uuid = s::uuid(uuid, "subsidy")?;
    let mut reader = s::reader(node).await?;
    let subsidy = rows::subsidy(reader.conn(), &uuid)
        .await?
        .ok_or_else(|| s::not_found("subsidy", &uuid))?;
    s::authorize(
        &node.index(),
        actor,
        perm::ASSIGNMENT_ADMIN_READ,
        &subsidy.enterprise_uuid,
    )?;
    let transactions = rows::transactions_of_subsidy(reader.conn(), &uuid).await?;
    Ok(Ledger {
        subsidy: SubsidyView::from(&subsidy),
        transactions: transactions.iter().map(TransactionView::from).collect(),
    })
}

/// Loads or replaces a catalog. Needs `enterprise.provision` at its customer.
pub async fn put_catalog(
    node: &Node,
    actor: &Actor,
    input: &CatalogInput,
) -> Result<(CatalogView, bool)> {
    let enterprise = s::uuid(&input.enterprise_customer_uuid, "enterprise customer")?;
    s::authorize(&node.index(), actor, perm::PROVISION, &enterprise)?;
    let catalog = Catalog {
        uuid: s::uuid_or_new(input.uuid.as_deref(), "catalog")?,
        enterprise_uuid: enterprise,
        title: s::text(&input.title, "title", false)?,
    };
    if input.content.len() > 1000 {
        return Err(Error::new(
            ErrorCode::TooManyItems,
            "a catalog load holds at most 1000 items",
        ));
    }
    let mut items: Vec<CatalogItem> = Vec::with_capacity(input.content.len());
    for c in &input.content {
        let item = CatalogItem {
            content_key: s::content_key(&c.content_key)?,
            price_cents: s::cents(c.price_cents, "price_cents")?,
            enroll_by: c.enroll_by.map(|t| t.timestamp()),
            lms_refuses: i64::from(c.lms_refuses_enrollment),
        };
        if items.iter().any(|i| i.content_key == item.content_key) {
            return Err(Error::new(
                ErrorCode::Duplicate,
                format!("content key `{}` is listed twice", item.content_key),
            ));
        }
        items.push(item);
    }
    let count = items.len();
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let before = rows::catalog(tx.conn(), &catalog.uuid).await?;
                if before
                    .as_ref()
                    .is_some_and(|b| b.enterprise_uuid != catalog.enterprise_uuid)
                {
                    return Err(wrong_customer("catalog", &catalog.uuid));
                }
                rows::upsert_catalog(tx.conn(), &catalog).await?;
                rows::clear_catalog(tx.conn(), &catalog.uuid).await?;
                for item in &items {
                    rows::insert_catalog_item(tx.conn(), &catalog.uuid, item).await?;
                }
                let view = CatalogView {
                    uuid: catalog.uuid.clone(),
                    enterprise_customer_uuid: catalog.enterprise_uuid.clone(),
                    title: catalog.title.clone(),
                    content_count: count,
                };
                let op = if before.is_none() {
                    "catalog_create"
                } else {
                    "catalog_replace"
                };
                tx.audit(s::audit(
                    op,
                    &catalog.enterprise_uuid,
                    None,
                    Some(json!(view)),
                    None,
                ))
                .await?;
                Ok((view, before.is_none()))
            })
        })
        .await?;
    Ok(written.value)
}

/// Adds or updates a customer's learners. Needs `enterprise.provision` at the customer.
pub async fn put_learners(
    node: &Node,
    actor: &Actor,
    enterprise: &str,
    input: &LearnersInput,
) -> Result<LearnersSaved> {
    let enterprise = s::uuid(enterprise, "enterprise customer")?;
    s::authorize(&node.index(), actor, perm::PROVISION, &enterprise)?;
    let mut learners = Vec::with_capacity(input.learners.len());
    for l in &input.learners {
        crate::access::check_username(&l.username)?;
        learners.push(Learner {
            enterprise_uuid: enterprise.clone(),
            lms_user_id: s::lms_user_id(l.lms_user_id)?,
            username: l.username.clone(),
            email: email(&l.email)?,
        });
    }
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let mut changed = 0;
                for l in &learners {
                    if rows::upsert_learner(tx.conn(), l).await? {
                        changed += 1;
                        let after = json!({ "lms_user_id": l.lms_user_id, "email": l.email });
                        tx.audit(s::audit(
                            "learner_put",
                            &l.enterprise_uuid,
                            Some(&l.username),
                            Some(after),
                            None,
                        ))
                        .await?;
                    }
                }
                Ok(LearnersSaved {
                    changed,
                    unchanged: learners.len() - changed,
                })
            })
        })
        .await?;
    Ok(written.value)
}

/// Removes a learner from a customer (the LMS unlinked them): they can redeem nothing more
/// through its policies (`learner_not_in_enterprise`); their ledger, usage and assignments stay.
/// 404 when the customer has no such learner. Needs `enterprise.provision` at the customer.
/// Returns the learner as they were.
pub async fn remove_learner(
    node: &Node,
    actor: &Actor,
    enterprise: &str,
    lms_user_id: &str,
) -> Result<LearnerInput> {
    let enterprise = s::uuid(enterprise, "enterprise customer")?;
    let id = lms_user_id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidPath,
                format!(
                    "`{}` is not an lms_user_id (a positive integer)",
                    crate::access::truncate(lms_user_id)
                ),
            )
        })?;
    s::authorize(&node.index(), actor, perm::PROVISION, &enterprise)?;
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let learner = rows::learner_by_id(tx.conn(), &enterprise, id)
                    .await?
                    .ok_or_else(|| s::not_found("learner", &id.to_string()))?;
                rows::remove_learner(tx.conn(), &enterprise, id).await?;
                let before = LearnerInput {
                    username: learner.username.clone(),
                    lms_user_id: learner.lms_user_id,
                    email: learner.email.clone(),
                };
                tx.audit(s::audit(
                    "learner_remove",
                    &enterprise,
                    Some(&learner.username),
                    None,
                    Some(json!(before)),
                ))
                .await?;
                Ok(before)
            })
        })
        .await?;
    Ok(written.value)
}

/// An email address (the `EmailKey` schema), lowercased; 400 `invalid_email`.
pub fn email(text: &str) -> Result<String> {
    let bad = |c: char| c.is_whitespace() || c.is_control();
    let valid = (5..=254).contains(&text.chars().count())
        && !text.chars().any(bad)
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain
                    .char_indices()
                    .any(|(i, c)| c == '.' && i > 0 && i + 1 < domain.len())
        });
    if valid {
        Ok(text.to_lowercase())
    } else {
        Err(Error::new(
            ErrorCode::InvalidEmail,
            format!(
                "`{}` is not an email address",
                crate::access::truncate(text)
            ),
        ))
    }
}

fn wrong_customer(what: &str, uuid: &str) -> Error {
    Error::new(
        ErrorCode::WrongCustomer,
        format!("{what} `{uuid}` belongs to another enterprise customer"),
    )
}

/// Reverses a committed redemption, as enterprise-subsidy does: the money goes back to the
/// subsidy, the policy and the learner; an assignment it accepted becomes `reversed`. Needs
/// `enterprise.provision` at the customer.
pub async fn reverse(node: &Node, actor: &Actor, uuid: &str) -> Result<TransactionView> {
    let uuid = s::uuid(uuid, "transaction")?;
    let index = node.index();
    let actor_name = actor.username.clone();
    let written = node
        .write(&actor_name, |tx| {
            Box::pin(async move {
                let t = rows::transaction(tx.conn(), &uuid)
                    .await?
                    .ok_or_else(|| s::not_found("transaction", &uuid))?;
                let policy = rows::policy(tx.conn(), &t.policy_uuid)
                    .await?
                    .ok_or_else(|| Error::internal("a transaction without its policy"))?;
                s::authorize(&index, actor, perm::PROVISION, &policy.enterprise_uuid)?;
                let now = crate::access::now();
                if !rows::set_transaction_state(tx.conn(), &t.uuid, "committed", "reversed", now)
                    .await?
                {
                    return Err(Error::new(
                        ErrorCode::InvalidTransition,
                        format!(
                            "transaction `{}` is `{}`; only committed ones are reversed",
                            t.uuid, t.state
                        ),
                    ));
                }
                rows::refund(&mut *tx, &t).await?;
                super::assignments::on_reversal(&mut *tx, &policy, &t, now).await?;
                let after = rows::transaction(tx.conn(), &t.uuid)
                    .await?
                    .ok_or_else(|| Error::internal("the transaction vanished"))?;
                let view = TransactionView::from(&after);
                tx.audit(s::audit(
                    "transaction_reverse",
                    &policy.enterprise_uuid,
                    Some(&t.lms_user_id.to_string()),
                    Some(json!(view)),
                    Some(json!(TransactionView::from(&t))),
                ))
                .await?;
                Ok(view)
            })
        })
        .await?;
    Ok(written.value)
}
