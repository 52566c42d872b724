//! Enterprise groups: loading the stand-in for the LMS's groups of a customer's learners, which
//! subsidy access policies can be limited to (`PolicyInput::group_uuids`).

use provost_store::enterprise::{self as rows, Group};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::service::{self as s, perm, Title, UuidKey};
use crate::access::Actor;
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// Most groups in one load, and most members in one group.
pub const MAX_GROUPS: usize = 100;
pub const MAX_MEMBERS: usize = 1000;

/// `PUT /api/v1/enterprise-customers/{uuid}/groups`: groups to add or replace.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupsInput {
    #[schema(max_items = 100)]
    pub groups: Vec<GroupInput>,
}

/// One group and all its members (the members it held before are replaced).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    #[schema(value_type = UuidKey)]
    pub uuid: String,
    #[schema(value_type = Title)]
    pub name: String,
    /// The learners in it, by their LMS user id.
    #[serde(deserialize_with = "s::int::list")]
    #[schema(value_type = Vec<s::LmsUserId>, max_items = 1000)]
    pub lms_user_ids: Vec<i64>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GroupsSaved {
    /// Groups added, renamed or with other members.
    pub changed: usize,
    pub unchanged: usize,
}

/// Adds or replaces a customer's enterprise groups, each with all its members. A group of
/// another customer is refused (422 `wrong_customer`) and nothing is saved. Needs
/// `enterprise.provision` at the customer.
pub async fn put_groups(
    node: &Node,
    actor: &Actor,
    enterprise: &str,
    input: &GroupsInput,
) -> Result<GroupsSaved> {
    let enterprise = s::uuid(enterprise, "enterprise customer")?;
    s::authorize(&node.index(), actor, perm::PROVISION, &enterprise)?;
    if input.groups.len() > MAX_GROUPS {
        return Err(Error::new(
            ErrorCode::TooManyItems,
            format!("a load holds at most {MAX_GROUPS} groups"),
        ));
    }
    let mut groups: Vec<(Group, Vec<i64>)> = Vec::with_capacity(input.groups.len());
    for g in &input.groups {
        let group = Group {
            uuid: s::uuid(&g.uuid, "group")?,
            enterprise_uuid: enterprise.clone(),
            name: s::text(&g.name, "name", false)?,
        };
        if groups.iter().any(|(seen, _)| seen.uuid == group.uuid) {
            return Err(Error::new(
                ErrorCode::Duplicate,
                format!("group `{}` is listed twice", group.uuid),
            ));
        }
        if g.lms_user_ids.len() > MAX_MEMBERS {
            return Err(Error::new(
                ErrorCode::TooManyItems,
                format!("a group holds at most {MAX_MEMBERS} learners"),
            ));
        }
        let mut members = g
            .lms_user_ids
            .iter()
            .map(|id| s::lms_user_id(*id))
            .collect::<Result<Vec<_>>>()?;
        members.sort_unstable();
        members.dedup();
        groups.push((group, members));
    }
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let mut changed = 0;
                for (group, members) in &groups {
                    let before = rows::group(tx.conn(), &group.uuid).await?;
                    if before
                        .as_ref()
                        .is_some_and(|b| b.enterprise_uuid != group.enterprise_uuid)
                    {
                        return Err(Error::new(
                            ErrorCode::WrongCustomer,
                            format!(
                                "group `{}` belongs to another enterprise customer",
                                group.uuid
                            ),
                        ));
                    }
                    let old_members = rows::group_members(tx.conn(), &group.uuid).await?;
                    if before.as_ref() == Some(group) && old_members == *members {
                        continue;
                    }
                    changed += 1;
                    rows::upsert_group(tx.conn(), group).await?;
                    rows::set_group_members(&mut *tx, &group.uuid, members).await?;
                    let view = |name: &str, ids: &[i64]| {
                        json!({ "uuid": group.uuid, "name": name, "lms_user_ids": ids })
                    };
                    tx.audit(s::audit(
                        "group_put",
                        &group.enterprise_uuid,
                        Some(&group.uuid),
                        Some(view(&group.name, members)),
                        before.as_ref().map(|b| view(&b.name, &old_members)),
                    ))
                    .await?;
                }
                Ok(GroupsSaved {
                    changed,
                    unchanged: groups.len() - changed,
                })
            })
        })
        .await?;
    Ok(written.value)
}
