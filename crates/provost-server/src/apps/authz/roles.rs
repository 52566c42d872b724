//! Roles, permissions and policy loads: listing, defining custom roles, and the impact of a change.

use provost_engine::{
    canonical_scope, valid_role_name, Change, Index, Policy, PolicyDoc, RoleDef, RoleInfo, Scope,
};
use provost_store::{AssignmentFilter, Outcome, Tx};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{
    authorize_on_behalf, authorize_role_manager, missing_grants, now, require_admin, truncate,
    Actor,
};
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// What a policy load changed.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyLoad {
    pub changes: usize,
    pub revision: u64,
}

/// `--prune` keeps the apps a file does not name (an app cannot be removed), so a file that
/// prunes the permission such an app manages its teams with would leave the app broken: refused,
/// naming each app and what to do, before anything is written.
fn refuse_incoherent_prune(merged: &PolicyDoc) -> Result<()> {
    let known: std::collections::HashSet<&str> =
        merged.permissions.iter().map(|p| p.name.as_str()).collect();
    let broken: Vec<String> = merged
        .apps
        .iter()
        .filter_map(|(app, def)| {
            let manage = def.manage.as_deref()?;
            (!known.contains(manage)).then(|| format!("`{app}` (manages with `{manage}`)"))
        })
        .collect();
    if broken.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::PruneIncomplete,
        format!(
            "--prune would remove the permission these apps manage their teams with: {}. Apps \
             are never removed, so the file must define those permissions too (start from \
             `policy/default.toml` to write a whole policy), or load it without --prune; nothing \
             was changed",
            broken.join(", ")
        ),
    ))
}

/// Loads a policy file over the loaded policy: adds and updates apps, permissions and roles; the
/// file may name anything already loaded (a plugin's permission implying a built-in one). With
/// `prune`, removes built-in roles and permissions the file no longer has, so the file is then the
/// whole policy. The merged policy must compile. Loading the same file twice changes nothing.
/// A role that gains permissions is a grant wherever it is assigned, as with `put_role`.
pub async fn load_policy(
    node: &Node,
    actor: &Actor,
    text: &str,
    prune: bool,
) -> Result<PolicyLoad> {
    load_policy_showing(node, actor, text, prune, &NoSteps).await
}

/// Told what a policy load is doing, for a progress bar (`provost policy load`).
pub trait LoadSteps: Sync {
    /// A new step, of `total` units (0: no count).
    fn step(&self, what: &str, total: u64);
    /// `units` more of the current step are done.
    fn advance(&self, units: u64);
}

/// No progress shown.
pub struct NoSteps;

impl LoadSteps for NoSteps {
    fn step(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// Changes written per statement batch of a policy load, between progress updates.
const LOAD_CHUNK: usize = 500;

/// `load_policy`, telling `steps` how far it is.
pub async fn load_policy_showing(
    node: &Node,
    actor: &Actor,
    text: &str,
    prune: bool,
    steps: &dyn LoadSteps,
) -> Result<PolicyLoad> {
    require_admin(&node.index(), actor, "load policies")?;
    steps.step("reading and checking the policy", 0);
    let doc = PolicyDoc::parse(text)?;
    let index = node.index();
    let policy = index.policy();
    let current = index.policy_doc();
    // The merged policy must compile before anything is written.
    let changes = provost_engine::policy_diff(current, &doc, prune);
    let mut merged = current.clone();
    merged.apply_all(&changes);
    if prune {
        refuse_incoherent_prune(&merged)?;
    }
    // Recompiled from the loaded policy, so ids stay and closures compare as sets.
    let next = policy.recompile(&merged)?;
    if changes.is_empty() {
        return Ok(PolicyLoad {
            changes: 0,
            revision: node.engine().revision(),
        });
    }
    // Every role that gains permissions grants them wherever it is assigned.
    let growth: Vec<(String, Vec<String>)> = next
        .roles()
        .map(|(id, role)| {
            let gained = match policy.role(id) {
                Some(before) => role.closure.without(&before.closure),
                None => role.closure.clone(),
            };
            (role.def.name.clone(), next.names(&gained))
        })
        .filter(|(_, gained)| !gained.is_empty())
        .collect();
    let (index, changes) = (&index, &changes);
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                steps.step("checking the roles that grow", growth.len() as u64);
                for (role, gained) in &growth {
                    authorize_role_growth(tx, index, actor, role, gained).await?;
                    steps.advance(1);
                }
                steps.step("writing the changes", changes.len() as u64);
                let mut outcomes = Vec::with_capacity(changes.len());
                for chunk in changes.chunks(LOAD_CHUNK) {
                    outcomes.extend(tx.apply_all(chunk).await?);
                    steps.advance(chunk.len() as u64);
                }
                steps.step("committing and updating the index", 0);
                Ok(outcomes)
            })
        })
        .await?;
    let applied = written
        .value
        .iter()
        .filter(|o| matches!(o, Outcome::Applied { .. }))
        .count();
    Ok(PolicyLoad {
        changes: applied,
        revision: written.revision,
    })
}

/// "there is no role `x`", with the closest role names, or a hint when `x` is a permission.
pub(crate) fn no_such_role(policy: &Policy, name: &str) -> String {
    let mut text = format!("there is no role `{}`", truncate(name));
    if let Some(perm) = policy.perm_id(name) {
        let mut holders: Vec<(usize, &str)> = policy
            .roles()
            .filter(|(_, r)| r.closure.contains(perm))
            .map(|(_, r)| (r.closure.iter().count(), r.def.name.as_str()))
            .collect();
        holders.sort_unstable();
        let names: Vec<String> = holders
            .iter()
            .take(3)
            .map(|(_, n)| (*n).to_owned())
            .collect();
        text.push_str(&format!(
            ": `{name}` is a permission; roles that include it: {}",
            provost_engine::suggest::one_of(&names)
        ));
        return text;
    }
    let near =
        provost_engine::suggest::closest(name, policy.roles().map(|(_, r)| r.def.name.as_str()), 3);
    if near.is_empty() {
        text.push_str(" (`provost roles list` lists them)");
    } else {
        text.push_str(&format!(
            "; did you mean {}?",
            provost_engine::suggest::one_of(&near)
        ));
    }
    text
}

/// The role named `name`, or a 404 `unknown_role`.
fn find_role<'p>(policy: &'p Policy, name: &str) -> Result<&'p RoleInfo> {
    policy
        .role_id(name)
        .and_then(|id| policy.role(id))
        .ok_or_else(|| Error::new(ErrorCode::RoleNotFound, no_such_role(policy, name)))
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
    let index = node.index();
    let mut views = Vec::new();
    for (_, role) in index.policy().roles() {
        views.push(role_view(node, &index, &role.def.name).await?);
    }
    views.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(views)
}

pub async fn role(node: &Node, name: &str) -> Result<RoleView> {
    role_view(node, &node.index(), name).await
}

async fn role_view(node: &Node, index: &Index, name: &str) -> Result<RoleView> {
    let policy = index.policy();
    let role = find_role(policy, name)?;
    let filter = AssignmentFilter {
        role: Some(name.into()),
        ..AssignmentFilter::default()
    };
    let assignments = node.store().count_assignments(&filter).await?;
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

/// Creates (`create`) or replaces a custom role. Who may is judged against the role as stored
/// (its owning org is fixed at creation): instance-wide roles by those who manage roles at `*`,
/// an org's roles by those who manage its course teams. Whatever the role gains is a grant at
/// every scope where it is assigned, so the actor must hold it there.
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
    let index = node.index();
    if !valid_role_name(&input.name) {
        return Err(Error::new(
            ErrorCode::InvalidRoleName,
            format!(
                "role name `{}` must be lowercase letters, digits and `_`",
                truncate(&input.name)
            ),
        ));
    }
    if input.description.len() > 1000 {
        return Err(Error::new(
            ErrorCode::InvalidDescription,
            "a description is at most 1000 bytes",
        ));
    }
    let policy = index.policy();
    let existing = policy.role_id(&input.name).and_then(|id| policy.role(id));
    let org = match (existing, create) {
        (Some(r), _) if r.def.builtin => {
            return Err(Error::new(
                ErrorCode::BuiltinRole,
                format!("role `{}` is built in and read-only", r.def.name),
            ))
        }
        (Some(r), true) => {
            return Err(Error::new(
                ErrorCode::RoleExists,
                format!("role `{}` already exists", r.def.name),
            ))
        }
        (None, false) => {
            return Err(Error::new(
                ErrorCode::RoleNotFound,
                format!("there is no role `{}`", truncate(&input.name)),
            ))
        }
        (Some(r), false) => {
            // Judged against the stored role first: a body naming the caller's own org must not
            // turn a refusal into a mere conflict.
            authorize_role_manager(&index, actor, r.def.org.as_deref())?;
            if input.org.is_some() && input.org != r.def.org {
                return Err(Error::new(
                    ErrorCode::RoleOrgFixed,
                    format!(
                        "role `{}` is owned by {}; a role's org is fixed when it is created",
                        r.def.name,
                        r.def
                            .org
                            .as_deref()
                            .map_or("the instance".to_owned(), |o| format!("org `{o}`"))
                    ),
                ));
            }
            r.def.org.clone()
        }
        (None, true) => match &input.org {
            Some(org) => {
                // The org must be a valid org key; keep its canonical spelling.
                let scope = canonical_scope(&format!("org:{org}"))?;
                Some(scope["org:".len()..].to_owned())
            }
            None => None,
        },
    };
    if create {
        authorize_role_manager(&index, actor, org.as_deref())?;
    }
    for p in &input.permissions {
        if policy.perm_id(p).is_none() {
            return Err(Error::new(
                ErrorCode::UnknownPermission,
                format!("there is no permission `{}`", truncate(p)),
            ));
        }
    }
    let before = existing
        .map(|r| policy.names(&r.closure))
        .unwrap_or_default();
    let after = policy.names(&policy.closure_of(&input.permissions)?);
    let gained: Vec<String> = after.into_iter().filter(|p| !before.contains(p)).collect();
    if let Some(org) = &org {
        // An org's role is assignable anywhere in the org: its maker holds it org-wide.
        let scope = format!("org:{org}");
        let missing = missing_grants(&index, actor, &gained, &Scope::parse(&scope)?, now());
        if !missing.is_empty() {
            return Err(Error::forbidden(format!(
                "only admins of `{scope}` may define its roles, with permissions they hold there (`{}` does not hold `{}`)",
                actor.username, missing[0]
            ))
            .with_details(serde_json::json!({ "role": input.name, "scopes": [{"scope": scope, "permissions": missing}] })));
        }
    }
    let grows = existing.is_some();
    let role = RoleDef {
        name: input.name.clone(),
        description: input.description,
        permissions: input.permissions,
        builtin: false,
        org,
    };
    let index = &index;
    let revision = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                // Checked in the transaction that writes the role: it holds the write lock, so
                // no assignment of the role can slip in between the check and the write.
                if grows {
                    authorize_role_growth(tx, index, actor, &role.name, &gained).await?;
                }
                Ok(tx.apply(&Change::RolePut { role }).await?)
            })
        })
        .await?
        .revision;
    Ok((self::role(node, &input.name).await?, revision))
}

/// Most offending scopes named in one refusal.
const MAX_REPORTED_SCOPES: usize = 100;

/// A role that gains permissions grants them at every scope where it is assigned: refuses
/// (403, the offending scopes in `details`) unless the actor holds each gained permission at
/// each of them. The scopes are read in `tx`, the transaction that changes the role, so an
/// assignment of the role made meanwhile is either seen here or waits until the role is written.
pub(crate) async fn authorize_role_growth(
    tx: &mut Tx<'_>,
    index: &Index,
    actor: &Actor,
    role: &str,
    gained: &[String],
) -> Result<()> {
    if gained.is_empty() || actor.is_superuser(index) {
        return Ok(());
    }
    let scopes = tx.role_scopes(role).await?;
    let at = now();
    let mut offending = Vec::new();
    for scope in &scopes {
        let Ok(parsed) = Scope::parse(scope) else {
            continue;
        };
        let missing = missing_grants(index, actor, gained, &parsed, at);
        if !missing.is_empty() {
            offending.push(serde_json::json!({ "scope": scope, "permissions": missing }));
        }
    }
    if offending.is_empty() {
        return Ok(());
    }
    let count = offending.len();
    offending.truncate(MAX_REPORTED_SCOPES);
    Err(Error::forbidden(format!(
        "`{}` may not add to `{role}` what it would grant at {count} scope(s) where it is assigned and `{}` does not hold it",
        actor.username, actor.username
    ))
    .with_details(serde_json::json!({ "role": role, "scopes": offending, "scope_count": count })))
}

/// Deletes a custom role and, audited one by one, every assignment of it. Judged against the
/// role as stored.
pub async fn delete_role(node: &Node, actor: &Actor, name: &str) -> Result<u64> {
    let index = node.index();
    let role = find_role(index.policy(), name)?;
    if role.def.builtin {
        return Err(Error::new(
            ErrorCode::BuiltinRole,
            format!("role `{name}` is built in and read-only"),
        ));
    }
    authorize_role_manager(&index, actor, role.def.org.as_deref())?;
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
    let index = node.index();
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
        .store()
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
