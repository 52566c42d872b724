//! The rules of the authz app: checks, lookups, assignments, users, roles and policy loads.
//! HTTP handlers and CLI commands both call these; nothing here knows about either.

use chrono::{DateTime, TimeZone, Utc};
use provost_engine::{
    canonical_scope, valid_role_name, Assignment, Change, Claims, Explanation, Index, Kind,
    PolicyDoc, RoleDef, Scope, User,
};
use provost_store::{AssignmentFilter, AuditEntry, AuditFilter, Outcome};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::actor::{now, Actor};
use crate::err::{Error, Result};
use crate::node::Node;

/// An assignment as clients send and receive it, with RFC 3339 times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentInput {
    pub subject: String,
    pub role: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
}

impl From<Assignment> for AssignmentInput {
    fn from(a: Assignment) -> Self {
        let time = |t: Option<i64>| t.and_then(|t| Utc.timestamp_opt(t, 0).single());
        AssignmentInput {
            valid_from: time(a.valid_from),
            valid_until: time(a.valid_until),
            subject: a.subject,
            role: a.role,
            scope: a.scope,
        }
    }
}

/// The result of one item of a bulk request.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ItemResult {
    pub index: usize,
    /// `created`, `exists`, `updated`, `removed`, `not_found`, `error`, or `skipped` (atomic batch refused).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignment: Option<AssignmentInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ItemError {
    pub code: &'static str,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub items: Vec<ItemResult>,
    pub revision: u64,
}

impl BulkResult {
    /// How many items failed and how many succeeded.
    pub fn tally(&self) -> (usize, usize) {
        let failed = self.items.iter().filter(|i| i.error.is_some()).count();
        (failed, self.items.len() - failed)
    }
}

fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 150
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'@' | b'.' | b'_' | b'+' | b'-' | b':')
        })
}

fn check_username(name: &str) -> Result<()> {
    if valid_username(name) {
        Ok(())
    } else {
        Err(Error::bad_request(
            "invalid_username",
            format!(
                "username `{}` must be 1-150 letters, digits or `@ . _ + - :`",
                truncate(name)
            ),
        ))
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

/// The permission that lets someone manage assignments at scopes of a kind.
pub fn manage_permission(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Course => Some("courses.manage_course_team"),
        Kind::Library => Some("content_libraries.manage_library_team"),
        Kind::Program => Some("programs.manage_access"),
        Kind::Batch => Some("batches.manage_members"),
        Kind::Enterprise => Some("enterprise.manage_access"),
        Kind::Org | Kind::Instance => None,
    }
}

fn is_legacy_marker(permission: &str) -> bool {
    permission
        .split_once('.')
        .is_some_and(|(_, verb)| verb.starts_with("legacy_"))
}

/// Validates an assignment and the actor's right to grant (or remove) it; returns it canonical.
fn vet(index: &Index, actor: &Actor, input: &AssignmentInput) -> Result<Assignment> {
    check_username(&input.subject)?;
    let scope_text = canonical_scope(&input.scope)?;
    let scope = Scope::parse(&scope_text)?;
    let policy = index.policy();
    let role_id = policy.role_id(&input.role).ok_or_else(|| {
        Error::refused(
            "unknown_role",
            format!("there is no role `{}`", truncate(&input.role)),
        )
    })?;
    let role = policy
        .role(role_id)
        .ok_or_else(|| Error::internal("role vanished"))?;
    if matches!(scope, Scope::Program(_) | Scope::Batch(_))
        && index.registered_parents(&scope_text).is_none()
    {
        return Err(Error::refused(
            "unknown_scope",
            format!("`{scope_text}` is not registered"),
        ));
    }
    if let (Some(from), Some(until)) = (input.valid_from, input.valid_until) {
        if from >= until {
            return Err(Error::bad_request(
                "invalid_window",
                "`valid_from` must be before `valid_until`",
            ));
        }
    }
    let applicable = policy.names(&role.closure).iter().any(|p| {
        let kind = policy
            .perm_id(p)
            .and_then(|id| policy.perm(id))
            .map(|i| i.kind);
        kind.is_some_and(|k| scope.kind() == k || scope.kind().can_contain(k))
    });
    if !applicable {
        return Err(Error::refused(
            "role_not_applicable",
            format!(
                "role `{}` grants nothing on a {} scope like `{scope_text}`",
                role.def.name,
                scope.kind()
            ),
        ));
    }
    if let Some(org) = &role.def.org {
        let inside = scope.org() == Some(org.as_str())
            || index
                .registered_parents(&scope_text)
                .unwrap_or_default()
                .iter()
                .any(|p| {
                    p == &format!("org:{org}")
                        || Scope::parse(p).is_ok_and(|s| s.org() == Some(org.as_str()))
                });
        if !inside {
            return Err(Error::refused(
                "role_outside_org",
                format!(
                    "role `{}` belongs to org `{org}` and can only be assigned inside it",
                    role.def.name
                ),
            ));
        }
    }
    authorize_grant(index, actor, &role.def.name, &scope, &scope_text)?;
    let stamp = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp());
    Ok(Assignment {
        subject: input.subject.clone(),
        role: role.def.name.clone(),
        scope: scope_text,
        valid_from: stamp(input.valid_from),
        valid_until: stamp(input.valid_until),
    })
}

/// Managing a scope needs its kind's manage-team permission there, and every permission
/// the role carries there; admins may do anything.
fn authorize_grant(
    index: &Index,
    actor: &Actor,
    role: &str,
    scope: &Scope,
    scope_text: &str,
) -> Result<()> {
    if actor.is_admin(index) {
        return Ok(());
    }
    let at = now();
    let Some(manage) = manage_permission(scope.kind()) else {
        return Err(Error::forbidden(format!(
            "only admins manage assignments at `{scope_text}`"
        )));
    };
    if !actor.may(index, manage, scope, at) {
        return Err(Error::forbidden(format!(
            "`{}` may not manage assignments at `{scope_text}` (needs `{manage}`)",
            actor.username
        )));
    }
    let policy = index.policy();
    let Some(info) = policy.role_id(role).and_then(|id| policy.role(id)) else {
        return Ok(());
    };
    for permission in policy.names(&info.closure) {
        let kind = policy
            .perm_id(&permission)
            .and_then(|id| policy.perm(id))
            .map(|p| p.kind);
        let reachable = kind.is_some_and(|k| scope.kind() == k || scope.kind().can_contain(k));
        // `legacy_*` permissions mark which old code path a role takes (DESIGN §4 keeps them
        // per role); they are not abilities, so holding another role's marker is not required.
        if is_legacy_marker(&permission) {
            continue;
        }
        if reachable && !actor.may(index, &permission, scope, at) {
            return Err(Error::forbidden(format!(
                "`{}` may not grant `{role}` at `{scope_text}`: it carries `{permission}`, which `{}` does not hold there",
                actor.username, actor.username
            ))
            .with_details(serde_json::json!({ "role": role, "missing_permission": permission })));
        }
    }
    Ok(())
}

fn item_error(index: usize, e: &Error) -> ItemResult {
    ItemResult {
        index,
        status: "error",
        assignment: None,
        error: Some(ItemError {
            code: e.code,
            message: e.message.clone(),
        }),
    }
}

/// Creates assignments. Valid items commit together in one transaction; with `atomic`, one
/// invalid item refuses the whole batch and nothing is written.
pub async fn assign(
    node: &Node,
    actor: &Actor,
    items: &[AssignmentInput],
    atomic: bool,
) -> Result<BulkResult> {
    let index = node.engine.snapshot();
    bulk(
        node,
        actor,
        &index,
        items,
        atomic,
        |a| Change::AssignmentAdd { assignment: a },
        |outcome, before| match (outcome, before) {
            (Outcome::Unchanged, _) => "exists",
            (Outcome::Applied { .. }, true) => "updated",
            (Outcome::Applied { .. }, false) => "created",
        },
    )
    .await
}

/// Removes assignments (same rules as `assign`; the window fields are ignored).
pub async fn unassign(
    node: &Node,
    actor: &Actor,
    items: &[AssignmentInput],
    atomic: bool,
) -> Result<BulkResult> {
    let index = node.engine.snapshot();
    let change = |a: Assignment| Change::AssignmentRemove {
        subject: a.subject,
        role: a.role,
        scope: a.scope,
    };
    bulk(
        node,
        actor,
        &index,
        items,
        atomic,
        change,
        |outcome, _| match outcome {
            Outcome::Unchanged => "not_found",
            Outcome::Applied { .. } => "removed",
        },
    )
    .await
}

async fn bulk(
    node: &Node,
    actor: &Actor,
    index: &Index,
    items: &[AssignmentInput],
    atomic: bool,
    to_change: impl Fn(Assignment) -> Change,
    status: impl Fn(&Outcome, bool) -> &'static str,
) -> Result<BulkResult> {
    if items.is_empty() {
        return Err(Error::bad_request("empty_request", "no assignments given"));
    }
    let vetted: Vec<Result<Assignment>> =
        items.iter().map(|item| vet(index, actor, item)).collect();
    let any_error = vetted.iter().any(|v| v.is_err());
    if atomic && any_error {
        let items = vetted
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Err(e) => item_error(i, e),
                Ok(_) => ItemResult {
                    index: i,
                    status: "skipped",
                    assignment: None,
                    error: None,
                },
            })
            .collect();
        return Ok(BulkResult {
            items,
            revision: node.engine.revision(),
        });
    }
    let good: Vec<(usize, Assignment)> = vetted
        .iter()
        .enumerate()
        .filter_map(|(i, v)| Some((i, v.as_ref().ok()?.clone())))
        .collect();
    let changes: Vec<Change> = good.iter().map(|(_, a)| to_change(a.clone())).collect();
    let committed = node.commit(&actor.username, &changes).await?;
    let mut results: Vec<ItemResult> = vetted
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.as_ref().err().map(|e| item_error(i, e)))
        .collect();
    for ((i, assignment), outcome) in good.into_iter().zip(&committed.outcomes) {
        let before = match outcome {
            Outcome::Applied { revision } => committed
                .entries
                .iter()
                .any(|e| e.revision == *revision && e.before.is_some()),
            Outcome::Unchanged => false,
        };
        results.push(ItemResult {
            index: i,
            status: status(outcome, before),
            assignment: Some(assignment.into()),
            error: None,
        });
    }
    results.sort_by_key(|r| r.index);
    Ok(BulkResult {
        items: results,
        revision: committed.revision,
    })
}

/// The answer to a check, with the reasons when asked.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CheckAnswer {
    pub allowed: bool,
    pub revision: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub explanation: Option<Explanation>,
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

/// Decides one check from memory. Bad keys are errors; unknown actions and scopes are denials.
pub fn check(
    index: &Index,
    actor: &Actor,
    subject: Option<&str>,
    action: &str,
    scope: &str,
    explain: bool,
) -> Result<CheckAnswer> {
    let subject = subject.unwrap_or(&actor.username);
    authorize_on_behalf(index, actor, subject)?;
    let parsed = Scope::parse(scope)?;
    // The caller's own token (flags and roles) counts only when the caller asks about themself.
    let claims = if subject == actor.username {
        actor.claims()
    } else {
        Claims::default()
    };
    let decision = index.check_claims(subject, action, &parsed, now(), &claims);
    let explanation = explain.then(|| {
        let mut e = index.explain(subject, action, scope, now());
        e.allowed = decision.allowed;
        e.reason = decision.reason;
        e
    });
    Ok(CheckAnswer {
        allowed: decision.allowed,
        revision: index.revision(),
        explanation,
    })
}

/// Subjects allowed `action` at `scope`: admins, services, and those who manage the scope may ask.
pub fn who(index: &Index, actor: &Actor, action: &str, scope: &str) -> Result<Vec<String>> {
    let parsed = Scope::parse(scope)?;
    let manages =
        manage_permission(parsed.kind()).is_some_and(|m| actor.may(index, m, &parsed, now()));
    if !manages {
        authorize_on_behalf(index, actor, "")?;
    }
    Ok(index.who(action, scope, now()))
}

/// Where `subject` may do `action`.
pub fn scopes(
    index: &Index,
    actor: &Actor,
    subject: Option<&str>,
    action: &str,
    kind: Option<&str>,
) -> Result<Vec<String>> {
    let subject = subject.unwrap_or(&actor.username);
    authorize_on_behalf(index, actor, subject)?;
    let kind = match kind {
        None => None,
        Some(k) => Some(Kind::parse(k).ok_or_else(|| {
            Error::bad_request("invalid_kind", format!("unknown scope kind `{}` (instance, org, course, library, program, batch, enterprise)", truncate(k)))
        })?),
    };
    Ok(index.scopes(subject, action, kind, now()))
}

fn require_admin(index: &Index, actor: &Actor, what: &str) -> Result<()> {
    if actor.is_admin(index) {
        Ok(())
    } else {
        Err(Error::forbidden(format!("only admins may {what}")))
    }
}

/// Creates or updates a user from the LMS. Returns the revision.
pub async fn upsert_user(node: &Node, actor: &Actor, user: User) -> Result<u64> {
    require_admin(&node.engine.snapshot(), actor, "manage users")?;
    check_username(&user.username)?;
    if let Some(email) = &user.email {
        if email.len() > 254 || !email.contains('@') {
            return Err(Error::bad_request(
                "invalid_email",
                format!("`{}` is not an email address", truncate(email)),
            ));
        }
    }
    Ok(node
        .commit(&actor.username, &[Change::UserPut { user }])
        .await?
        .revision)
}

/// Retires a user: the user and every assignment they hold go, each removal audited.
pub async fn retire_user(node: &Node, actor: &Actor, username: &str) -> Result<u64> {
    require_admin(&node.engine.snapshot(), actor, "retire users")?;
    check_username(username)?;
    let committed = node
        .commit(
            &actor.username,
            &[Change::UserRemove {
                username: username.into(),
            }],
        )
        .await?;
    match committed.outcomes.first() {
        Some(Outcome::Applied { .. }) => Ok(committed.revision),
        _ => Err(Error::not_found(
            "user_not_found",
            format!("there is no user or assignment for `{username}`"),
        )),
    }
}

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
        merge(&mut merged, change);
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

fn merge(doc: &mut PolicyDoc, change: &Change) {
    match change {
        Change::AppPut { app, kind } => {
            doc.apps.insert(app.clone(), *kind);
        }
        Change::PermissionPut { permission } => {
            doc.permissions.retain(|p| p.name != permission.name);
            doc.permissions.push(permission.clone());
        }
        Change::PermissionRemove { name } => doc.permissions.retain(|p| p.name != *name),
        Change::RolePut { role } => {
            doc.roles.retain(|r| r.name != role.name);
            doc.roles.push(role.clone());
        }
        Change::RoleRemove { name } => doc.roles.retain(|r| r.name != *name),
        _ => {}
    }
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
    let role = policy
        .role_id(name)
        .and_then(|id| policy.role(id))
        .ok_or_else(|| {
            Error::not_found(
                "unknown_role",
                format!("there is no role `{}`", truncate(name)),
            )
        })?;
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
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub permissions: Vec<String>,
    #[serde(default)]
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
    let role = index
        .policy()
        .role_id(name)
        .and_then(|id| index.policy().role(id))
        .ok_or_else(|| {
            Error::not_found(
                "unknown_role",
                format!("there is no role `{}`", truncate(name)),
            )
        })?;
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

/// Lists assignments: admins and services see all; others their own, or those at scopes they manage.
pub async fn list_assignments(
    node: &Node,
    actor: &Actor,
    filter: AssignmentFilter,
    after: Option<provost_engine::AssignmentKey>,
    limit: u32,
) -> Result<Vec<AssignmentInput>> {
    let index = node.engine.snapshot();
    let own = filter.subject.as_deref() == Some(actor.username.as_str());
    let manages = match filter.scope.as_deref() {
        Some(scope) => {
            let parsed = Scope::parse(scope)?;
            manage_permission(parsed.kind()).is_some_and(|m| actor.may(&index, m, &parsed, now()))
        }
        None => false,
    };
    if !own && !manages {
        authorize_on_behalf(&index, actor, "")?;
    }
    let filter = AssignmentFilter {
        scope: filter.scope.map(|s| canonical_scope(&s)).transpose()?,
        ..filter
    };
    let rows = node
        .store
        .assignments(&filter, after.as_ref(), limit)
        .await?;
    Ok(rows.into_iter().map(AssignmentInput::from).collect())
}

/// The change log, for admins.
pub async fn audit(
    node: &Node,
    actor: &Actor,
    filter: AuditFilter,
    since: u64,
    limit: u32,
) -> Result<Vec<AuditEntry>> {
    require_admin(&node.engine.snapshot(), actor, "read the audit log")?;
    Ok(node.store.audit(&filter, since, limit).await?)
}

/// Registers a program under its org(s) or a batch under its course, so assignments above reach it.
pub async fn register_scope(
    node: &Node,
    actor: &Actor,
    scope: &str,
    parents: &[String],
) -> Result<u64> {
    require_admin(&node.engine.snapshot(), actor, "register scopes")?;
    let scope = canonical_scope(scope)?;
    let parsed = Scope::parse(&scope)?;
    let wanted = match parsed {
        Scope::Program(_) => Kind::Org,
        Scope::Batch(_) => Kind::Course,
        _ => return Err(Error::bad_request("not_registrable", format!("`{scope}` takes its parents from its key; only programs and batches are registered"))),
    };
    if parents.is_empty() || (wanted == Kind::Course && parents.len() != 1) {
        let need = if wanted == Kind::Org {
            "one or more orgs"
        } else {
            "exactly one course"
        };
        return Err(Error::bad_request(
            "invalid_parents",
            format!("`{scope}` needs {need} as parent"),
        ));
    }
    let mut canonical = Vec::new();
    for parent in parents {
        let text = canonical_scope(parent)?;
        let p = Scope::parse(&text)?;
        if p.kind() != wanted || p.is_glob() {
            return Err(Error::bad_request(
                "invalid_parents",
                format!("`{text}` cannot be a parent of `{scope}` (expected a {wanted} key)"),
            ));
        }
        canonical.push(text);
    }
    let registration = provost_engine::ScopeRegistration {
        scope,
        parents: canonical,
    };
    Ok(node
        .commit(&actor.username, &[Change::ScopeRegister { registration }])
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
    let role = policy
        .role_id(name)
        .and_then(|id| policy.role(id))
        .ok_or_else(|| {
            Error::not_found(
                "unknown_role",
                format!("there is no role `{}`", truncate(name)),
            )
        })?;
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

/// Whether the caller may do `action` somewhere (a question without a scope), counting the
/// token's own grants. Unknown actions are allowed nowhere.
pub fn allowed_anywhere(index: &Index, actor: &Actor, action: &str) -> bool {
    let policy = index.policy();
    let Some(perm) = policy.perm_id(action) else {
        return false;
    };
    if !index
        .scopes(&actor.username, action, None, now())
        .is_empty()
    {
        return true;
    }
    let kind = policy.perm(perm).map(|p| p.kind);
    actor.grants.iter().any(|g| {
        let holds = policy
            .role_id(&g.role)
            .and_then(|id| policy.role(id))
            .is_some_and(|r| r.closure.contains(perm));
        let reaches = Scope::parse(&g.scope)
            .is_ok_and(|s| kind.is_some_and(|k| s.kind() == k || s.kind().can_contain(k)));
        holds && reaches
    })
}
