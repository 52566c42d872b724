//! Access rules every app shares: who is asking, admin and on-behalf checks, who manages a kind
//! of team, the rule that nobody grants more than they hold, and registering programs and batches.
//!
//! Apps and the CLI call these; nothing here knows about HTTP or about any one app.

use provost_engine::{
    canonical_scope, Change, Claims, ExtraGrant, Index, Kind, Scope, ScopeRegistration, Timestamp,
};

use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// The caller of a service: a token's user over HTTP, the operator on the command line.
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub username: String,
    /// Platform staff (`administrator: true` in the token).
    pub staff: bool,
    pub superuser: bool,
    /// Roles carried by the token itself (`enterprise_admin:<uuid>`), valid for this request only.
    pub grants: Vec<ExtraGrant>,
}

impl Actor {
    /// The operator at the command line, who owns the database file: a superuser.
    pub fn operator() -> Actor {
        let name = std::env::var("USER").unwrap_or_else(|_| "operator".into());
        Actor {
            username: format!("cli:{name}"),
            staff: false,
            superuser: true,
            grants: Vec::new(),
        }
    }

    /// Admins manage everything: superusers, platform staff, and the same flags on the user record.
    pub fn is_admin(&self, index: &Index) -> bool {
        self.superuser
            || self.staff
            || index
                .user(&self.username)
                .is_some_and(|u| u.superuser || u.staff)
    }

    /// Superusers hold every permission everywhere, so nothing they grant is beyond their reach.
    pub fn is_superuser(&self, index: &Index) -> bool {
        self.superuser || index.user(&self.username).is_some_and(|u| u.superuser)
    }

    /// Admins, and holders of `authz.manage_roles` at `*`, manage roles and assignments at
    /// every scope (still granting only what they hold there).
    pub fn manages_everything(&self, index: &Index) -> bool {
        self.is_admin(index) || self.may(index, "authz.manage_roles", &Scope::Instance, now())
    }

    /// What the actor's token says about them, for decisions about themself.
    pub fn claims(&self) -> Claims<'_> {
        Claims {
            staff: self.staff,
            superuser: self.superuser,
            grants: &self.grants,
        }
    }

    /// Whether the actor may do `action` at `scope`, counting the token's flags and grants.
    pub fn may(&self, index: &Index, action: &str, scope: &Scope, at: Timestamp) -> bool {
        index
            .check_claims(&self.username, action, scope, at, &self.claims())
            .allowed
    }
}

/// The time decisions are made at.
pub fn now() -> Timestamp {
    chrono::Utc::now().timestamp()
}

/// At most the first 80 characters of user input, for error messages.
pub fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 150
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'@' | b'.' | b'_' | b'+' | b'-' | b':')
        })
}

/// Refuses (400 `invalid_username`) a name the LMS could not have given.
pub fn check_username(name: &str) -> Result<()> {
    if valid_username(name) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidUsername,
            format!(
                "username `{}` must be 1-150 letters, digits or `@ . _ + - :`",
                truncate(name)
            ),
        ))
    }
}

/// Refuses (403) anyone but an admin; `what` completes "only admins may …".
pub fn require_admin(index: &Index, actor: &Actor, what: &str) -> Result<()> {
    if actor.is_admin(index) {
        Ok(())
    } else {
        Err(Error::forbidden(format!("only admins may {what}")))
    }
}

/// Asking about someone else needs `authz.check_on_behalf` (the `authz_service` role) or admin.
pub fn authorize_on_behalf(index: &Index, actor: &Actor, subject: &str) -> Result<()> {
    if subject == actor.username
        || actor.is_admin(index)
        || actor.may(index, "authz.check_on_behalf", &Scope::Instance, now())
    {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "`{}` may not ask about `{}` (needs the `authz_service` role or admin)",
            actor.username,
            truncate(subject)
        )))
    }
}

/// The permission that lets someone manage assignments at scopes of a kind: the policy's
/// (an app's `manage` in the policy file), if it names one.
pub fn manage_permission(index: &Index, kind: Kind) -> Option<&str> {
    index.policy().manage_permission(kind)
}

/// Whether the actor holds, at `scope`, the manage-team permission of its kind.
pub fn manages_team(index: &Index, actor: &Actor, scope: &Scope) -> bool {
    manage_permission(index, scope.kind()).is_some_and(|m| actor.may(index, m, scope, now()))
}

/// Managing the assignments at a scope needs admin, `authz.manage_roles` at `*`, or its kind's
/// manage-team permission there.
pub fn authorize_team_manager(
    index: &Index,
    actor: &Actor,
    scope: &Scope,
    scope_text: &str,
) -> Result<()> {
    if actor.manages_everything(index) {
        return Ok(());
    }
    let Some(manage) = manage_permission(index, scope.kind()) else {
        return Err(Error::forbidden(format!(
            "only admins manage assignments at `{scope_text}`"
        )));
    };
    if !actor.may(index, manage, scope, now()) {
        return Err(Error::forbidden(format!(
            "`{}` may not manage assignments at `{scope_text}` (needs `{manage}`)",
            actor.username
        )));
    }
    Ok(())
}

/// Granting `role` at a scope needs the right to manage its team (`authorize_team_manager`);
/// and nobody, admins included, grants a permission they do not hold there.
pub fn authorize_grant(
    index: &Index,
    actor: &Actor,
    role: &str,
    scope: &Scope,
    scope_text: &str,
) -> Result<()> {
    let at = now();
    authorize_team_manager(index, actor, scope, scope_text)?;
    let policy = index.policy();
    let Some(info) = policy.role_id(role).and_then(|id| policy.role(id)) else {
        return Ok(());
    };
    let carried = policy.names(&info.closure);
    if let Some(permission) = missing_grants(index, actor, &carried, scope, at).first() {
        return Err(Error::forbidden(format!(
            "`{}` may not grant `{role}` at `{scope_text}`: it carries `{permission}`, which `{}` does not hold there",
            actor.username, actor.username
        ))
        .with_details(serde_json::json!({ "role": role, "missing_permission": permission })));
    }
    Ok(())
}

/// Who may create, change and delete custom roles: instance-wide ones (`org` None) those who
/// manage roles at `*`; an org's own also those who manage its course teams.
pub fn authorize_role_manager(index: &Index, actor: &Actor, org: Option<&str>) -> Result<()> {
    if actor.manages_everything(index) {
        return Ok(());
    }
    match org {
        None => Err(Error::forbidden(format!(
            "`{}` may not manage instance-wide roles (needs `authz.manage_roles` at `*`, or admin)",
            actor.username
        ))),
        Some(org) => {
            let needs = match manage_permission(index, Kind::Course) {
                Some(m) if actor.may(index, m, &Scope::Org(org), now()) => return Ok(()),
                Some(m) => format!("`{m}` at `org:{org}`"),
                None => "admin".to_owned(),
            };
            Err(Error::forbidden(format!(
                "`{}` may not manage the roles of org `{org}` (needs {needs})",
                actor.username
            )))
        }
    }
}

fn is_legacy_marker(permission: &str) -> bool {
    permission
        .split_once('.')
        .is_some_and(|(_, verb)| verb.starts_with("legacy_"))
}

/// Of `permissions`, those that would apply at `scope` but that `actor` does not hold there:
/// what granting them there would hand out beyond the actor's own reach.
pub fn missing_grants(
    index: &Index,
    actor: &Actor,
    permissions: &[String],
    scope: &Scope,
    at: Timestamp,
) -> Vec<String> {
    if actor.is_superuser(index) {
        return Vec::new();
    }
    let policy = index.policy();
    permissions
        .iter()
        .filter(|permission| {
            // `legacy_*` permissions mark which old code path a role takes (DESIGN §4 keeps them
            // per role); they are not abilities, so holding another role's marker is not required.
            if is_legacy_marker(permission) {
                return false;
            }
            let Some(kind) = policy
                .perm_id(permission)
                .and_then(|id| policy.perm(id))
                .map(|p| p.kind)
            else {
                return false;
            };
            let reachable = scope.kind() == kind || scope.kind().can_contain(kind);
            reachable && !holds(index, actor, permission, kind, scope, at)
        })
        .cloned()
        .collect()
}

/// Whether the actor holds `permission` (of `kind`) on everything of its kind at or below
/// `scope`. Course and library permissions at an org or at `*` are asked at the glob of their
/// kind there (`course-v1:MITx+*`), which says the same and is where staff's bypass applies.
fn holds(
    index: &Index,
    actor: &Actor,
    permission: &str,
    kind: Kind,
    scope: &Scope,
    at: Timestamp,
) -> bool {
    let region = match (kind, scope) {
        (Kind::Course, Scope::Org(org)) => Scope::CourseGlob(Some(org)),
        (Kind::Course, Scope::Instance) => Scope::CourseGlob(None),
        (Kind::Library, Scope::Org(org)) => Scope::LibraryGlob(Some(org)),
        (Kind::Library, Scope::Instance) => Scope::LibraryGlob(None),
        _ => scope.clone(),
    };
    actor.may(index, permission, &region, at)
}

/// Checks a registration of a program under its org(s) or a batch under its course and returns
/// it canonical, as the change an app writes (alone, or beside its own rows). Admins only.
pub fn scope_registration(
    index: &Index,
    actor: &Actor,
    scope: &str,
    parents: &[String],
) -> Result<ScopeRegistration> {
    require_admin(index, actor, "register scopes")?;
    checked_registration(scope, parents)
}

/// The registration of a program or batch an app creates: admins, or whoever holds `create` (the
/// app's creating permission, e.g. `batches.create`) at every parent. The scope must be new, so
/// that nobody moves someone else's program or batch under an org or course of their own.
pub fn new_scope_registration(
    index: &Index,
    actor: &Actor,
    scope: &str,
    parents: &[String],
    create: &str,
) -> Result<ScopeRegistration> {
    let registration = checked_registration(scope, parents)?;
    if index.registered_parents(&registration.scope).is_some() {
        return Err(Error::new(
            ErrorCode::Duplicate,
            format!("`{}` is registered already", registration.scope),
        ));
    }
    if actor.is_admin(index) {
        return Ok(registration);
    }
    for parent in &registration.parents {
        if !actor.may(index, create, &Scope::parse(parent)?, now()) {
            return Err(Error::forbidden(format!(
                "`{}` may not create `{}` under `{parent}` (needs `{create}` there)",
                actor.username, registration.scope
            )));
        }
    }
    Ok(registration)
}

/// Registers (or moves) a program under its orgs, as the programs app writes it beside its row:
/// admins, or whoever manages programs (the program kind's manage permission) at every org the
/// program joins and every org it leaves (`previous`), since moving it hands it to the new
/// orgs' teams and takes it from the old ones'.
pub fn program_registration(
    index: &Index,
    actor: &Actor,
    scope: &str,
    orgs: &[String],
    previous: &[String],
) -> Result<ScopeRegistration> {
    let registration = checked_registration(scope, orgs)?;
    if actor.is_admin(index) {
        return Ok(registration);
    }
    let Some(manage) = manage_permission(index, Kind::Program) else {
        return require_admin(index, actor, "register programs").map(|()| registration);
    };
    for org in registration.parents.iter().chain(previous) {
        let parsed = Scope::parse(org)?;
        if !actor.may(index, manage, &parsed, now()) {
            return Err(Error::forbidden(format!(
                "`{}` may not place `{}` under or take it from `{org}` (needs `{manage}` there)",
                actor.username, registration.scope
            )));
        }
    }
    Ok(registration)
}

/// A registration's keys, checked and made canonical: a program under orgs, a batch under one
/// course.
fn checked_registration(scope: &str, parents: &[String]) -> Result<ScopeRegistration> {
    let scope = canonical_scope(scope)?;
    let parsed = Scope::parse(&scope)?;
    let wanted = match parsed {
        Scope::Program(_) => Kind::Org,
        Scope::Batch(_) => Kind::Course,
        _ => return Err(Error::new(ErrorCode::NotRegistrable, format!("`{scope}` takes its parents from its key; only programs and batches are registered"))),
    };
    if parents.is_empty() || (wanted == Kind::Course && parents.len() != 1) {
        let need = if wanted == Kind::Org {
            "one or more orgs"
        } else {
            "exactly one course"
        };
        return Err(Error::new(
            ErrorCode::InvalidParents,
            format!("`{scope}` needs {need} as parent"),
        ));
    }
    let mut canonical = Vec::new();
    for parent in parents {
        let text = canonical_scope(parent)?;
        let p = Scope::parse(&text)?;
        if p.kind() != wanted || p.is_glob() {
            return Err(Error::new(
                ErrorCode::InvalidParents,
                format!("`{text}` cannot be a parent of `{scope}` (expected a {wanted} key)"),
            ));
        }
        canonical.push(text);
    }
    Ok(ScopeRegistration {
        scope,
        parents: canonical,
    })
}

/// Registers a program under its org(s) or a batch under its course, so assignments above reach
/// it. Returns the revision.
pub async fn register_scope(
    node: &Node,
    actor: &Actor,
    scope: &str,
    parents: &[String],
) -> Result<u64> {
    let registration = scope_registration(&node.index(), actor, scope, parents)?;
    Ok(node
        .commit(&actor.username, &[Change::ScopeRegister { registration }])
        .await?
        .revision)
}
