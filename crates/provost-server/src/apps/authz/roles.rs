//! Roles, permissions and policy loads: listing, defining custom roles, and the impact of a change.

use provost_engine::{
    canonical_scope, valid_role_name, Change, Index, Policy, PolicyDoc, RoleDef, RoleInfo, Scope,
};
use provost_store::{AssignmentFilter, Outcome};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::actor::{now, Actor};
use super::service::{authorize_on_behalf, require_admin, truncate};
use crate::err::{Error, Result};
use crate::node::Node;

/// What a policy load changed.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyLoad {
    pub changes: usize,
    pub revision: u64,
}

/// Loads a policy file: adds and updates apps, permissions and roles; with `prune`, removes
/// built-in roles and permissions the file no longer has. Loading the same file twice changes nothing.
pub async fn load_policy(
    node: &Node,
    actor: &Actor,
    text: &str,
    prune: bool,
) -> Result<PolicyLoad> {
    require_admin(&node.engine.snapshot(), actor, "load policies")?;
    let doc = PolicyDoc::from_toml(text)?;
    let current = node.engine.snapshot().policy_doc().clone();
    // The merged policy must compile before anything is written.
    let mut merged = current.clone();
    let changes = provost_engine::policy_diff(&current, &doc, prune);
    for change in &changes {
        merged.apply(change);
    }
    provost_engine::Policy::compile(&merged)?;
    let committed = node.commit(&actor.username, &changes).await?;
    let applied = committed
        .outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Applied { .. }))
        .count();
    Ok(PolicyLoad {
        changes: applied,
        revision: committed.revision,
    })
}

/// The role named `name`, or a 404 `unknown_role`.
fn find_role<'p>(policy: &'p Policy, name: &str) -> Result<&'p RoleInfo> {
    policy
        .role_id(name)
        .and_then(|id| policy.role(id))
        .ok_or_else(|| {
            Error::not_found(
                "unknown_role",
                format!("there is no role `{}`", truncate(name)),
            )
        })
}

/// A role as clients see it: its own permissions, their closure and how often it is assigned.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub name: String,
    pub description: String,
    pub builtin: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub permissions: Vec<String>,
    pub closure: Vec<String>,
    pub assignments: u64,
}

pub async fn roles(node: &Node) -> Result<Vec<RoleView>> {
    let index = node.engine.snapshot();
    let mut views = Vec::new();
    for (_, role) in index.policy().roles() {
        views.push(role_view(node, &index, &role.def.name).await?);
    }
    views.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(views)
}

pub async fn role(node: &Node, name: &str) -> Result<RoleView> {
    role_view(node, &node.engine.snapshot(), name).await
}

async fn role_view(node: &Node, index: &Index, name: &str) -> Result<RoleView> {
    let policy = index.policy();
    let role = find_role(policy, name)?;
    let filter = AssignmentFilter {
        role: Some(name.into()),
        ..AssignmentFilter::default()
    };
    let assignments = node.store.count_assignments(&filter).await?;
    Ok(RoleView {
        name: role.def.name.clone(),
        description: role.def.description.clone(),
        builtin: role.def.builtin,
        org: role.def.org.clone(),
        permissions: role.def.permissions.clone(),
        closure: policy.names(&role.closure),
        assignments,
    })
}

/// A custom role as clients send it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    #[schema(value_type = super::http_types::RoleName)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: String,
    #[schema(value_type = Vec<super::http_types::PermissionName>)]
    pub permissions: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Option<super::http_types::OrgName>)]
    pub org: Option<String>,
}

/// Creates (`create`) or replaces a custom role. Admins may define any; org admins (who hold every
/// permission of the role at the org, and may manage course teams there) their org's own.
pub async fn put_role(
    node: &Node,
    actor: &Actor,
    input: RoleInput,
    create: bool,
) -> Result<RoleView> {
    Ok(save_role(node, actor, input, create).await?.0)
}

/// `put_role`, also returning the revision of the write.
pub async fn save_role(
    node: &Node,
    actor: &Actor,
    input: RoleInput,
    create: bool,
) -> Result<(RoleView, u64)> {
    let index = node.engine.snapshot();
    if !valid_role_name(&input.name) {
        return Err(Error::bad_request(
            "invalid_role_name",
            format!(
                "role name `{}` must be lowercase letters, digits and `_`",
                truncate(&input.name)
            ),
        ));
    }
    if input.description.len() > 1000 {
        return Err(Error::bad_request(
            "invalid_description",
            "a description is at most 1000 bytes",
        ));
    }
    let existing = index
        .policy()
        .role_id(&input.name)
        .and_then(|id| index.policy().role(id))
        .map(|r| r.def.clone());
    match (&existing, create) {
        (Some(r), _) if r.builtin => {
            return Err(Error::conflict(
                "builtin_role",
                format!("role `{}` is built in and read-only", r.name),
            ))
        }
        (Some(r), true) => {
            return Err(Error::conflict(
                "role_exists",
                format!("role `{}` already exists", r.name),
            ))
        }
        (None, false) => {
            return Err(Error::not_found(
                "unknown_role",
                format!("there is no role `{}`", input.name),
            ))
        }
        _ => {}
    }
    for p in &input.permissions {
        if index.policy().perm_id(p).is_none() {
            return Err(Error::refused(
                "unknown_permission",
                format!("there is no permission `{}`", truncate(p)),
            ));
        }
    }
    if let Some(org) = &input.org {
        let scope = canonical_scope(&format!("org:{org}"))?;
        if !actor.is_admin(&index) {
            let parsed = Scope::parse(&scope)?;
            let holds_all = input
                .permissions
                .iter()
                .all(|p| actor.may(&index, p, &parsed, now()));
            if !holds_all || !actor.may(&index, "courses.manage_course_team", &parsed, now()) {
                return Err(Error::forbidden(format!("only admins of `{scope}` may define its roles, with permissions they hold there")));
            }
        }
    } else {
        require_admin(&index, actor, "define instance-wide roles")?;
    }
    let role = RoleDef {
        name: input.name.clone(),
        description: input.description,
        permissions: input.permissions,
        builtin: false,
        org: input.org,
    };
    let revision = node
        .commit(&actor.username, &[Change::RolePut { role }])
        .await?
        .revision;
    Ok((self::role(node, &input.name).await?, revision))
}

/// Deletes a custom role and, audited one by one, every assignment of it.
pub async fn delete_role(node: &Node, actor: &Actor, name: &str) -> Result<u64> {
    let index = node.engine.snapshot();
    require_admin(&index, actor, "delete roles")?;
    let role = find_role(index.policy(), name)?;
    if role.def.builtin {
        return Err(Error::conflict(
            "builtin_role",
            format!("role `{name}` is built in and read-only"),
        ));
    }
    Ok(node
        .commit(&actor.username, &[Change::RoleRemove { name: name.into() }])
        .await?
        .revision)
}

/// A permission as clients see it: its kind, what it implies directly and after closure.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PermissionView {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub implies: Vec<String>,
    pub closure: Vec<String>,
}

/// Every permission of the policy, sorted by name.
pub fn permissions(index: &Index) -> Vec<PermissionView> {
    let policy = index.policy();
    let mut views: Vec<PermissionView> = policy
        .permissions()
        .map(|(_, p)| PermissionView {
            name: p.def.name.clone(),
            kind: p.kind.as_str().to_owned(),
            description: p.def.description.clone(),
            implies: p.def.implies.clone(),
            closure: policy.names(&p.closure),
        })
        .collect();
    views.sort_by(|a, b| a.name.cmp(&b.name));
    views
}

/// What changing a role's permissions to a proposed set would do.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RoleImpact {
    pub role: String,
    /// Permissions (after implication) the role would gain and lose.
    pub gained: Vec<String>,
    pub lost: Vec<String>,
    /// For each current assignment, what its holder would gain and lose at its scope.
    pub assignments: Vec<AssignmentImpact>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AssignmentImpact {
    pub subject: String,
    pub scope: String,
    pub gained: Vec<String>,
    pub lost: Vec<String>,
}

/// Who would gain or lose what if role `name` had `proposed` as its permissions; one page of
/// its assignments (ordered by subject, scope) after `after`. For admins and services.
pub async fn role_impact(
    node: &Node,
    actor: &Actor,
    name: &str,
    proposed: &[String],
    after: Option<provost_engine::AssignmentKey>,
    limit: u32,
) -> Result<RoleImpact> {
    let index = node.engine.snapshot();
    authorize_on_behalf(&index, actor, "")?;
    let policy = index.policy();
    let role = find_role(policy, name)?;
    let current = policy.names(&role.closure);
    let next = policy.names(&policy.closure_of(proposed)?);
    let gained: Vec<String> = next
        .iter()
        .filter(|p| !current.contains(p))
        .cloned()
        .collect();
    let lost: Vec<String> = current
        .iter()
        .filter(|p| !next.contains(p))
        .cloned()
        .collect();
    let filter = AssignmentFilter {
        role: Some(name.into()),
        ..AssignmentFilter::default()
    };
    let rows = node
        .store
        .assignments(&filter, after.as_ref(), limit)
        .await?;
    let applies = |scope: &str, permission: &String| {
        let kind = policy
            .perm_id(permission)
            .and_then(|id| policy.perm(id))
            .map(|p| p.kind);
        Scope::parse(scope)
            .is_ok_and(|s| kind.is_some_and(|k| s.kind() == k || s.kind().can_contain(k)))
    };
    let assignments = rows
        .into_iter()
        .map(|a| AssignmentImpact {
            gained: gained
                .iter()
                .filter(|p| applies(&a.scope, p))
                .cloned()
                .collect(),
            lost: lost
                .iter()
                .filter(|p| applies(&a.scope, p))
                .cloned()
                .collect(),
            subject: a.subject,
            scope: a.scope,
        })
        .collect();
    Ok(RoleImpact {
        role: role.def.name.clone(),
        gained,
        lost,
        assignments,
    })
}
