//! The rules of the authz app: checks, lookups, assignments, users, roles and policy loads.
//! HTTP handlers and CLI commands both call these; nothing here knows about either.

use chrono::{DateTime, TimeZone, Utc};
use provost_engine::{
    canonical_scope, Assignment, Change, Claims, Explanation, Index, Kind, Scope, User,
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
    #[schema(value_type = super::http_types::Username)]
    pub subject: String,
    #[schema(value_type = super::http_types::RoleName)]
    pub role: String,
    #[schema(value_type = super::http_types::ScopeKey)]
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

pub(crate) fn truncate(text: &str) -> String {
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

/// Managing a scope needs admin, `authz.manage_roles` at `*`, or its kind's manage-team
/// permission there; and nobody, admins included, grants a permission they do not hold there.
fn authorize_grant(
    index: &Index,
    actor: &Actor,
    role: &str,
    scope: &Scope,
    scope_text: &str,
) -> Result<()> {
    let at = now();
    if !actor.manages_everything(index) {
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
    }
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

/// Of `permissions`, those that would apply at `scope` but that `actor` does not hold there:
/// what granting them there would hand out beyond the actor's own reach.
pub(crate) fn missing_grants(
    index: &Index,
    actor: &Actor,
    permissions: &[String],
    scope: &Scope,
    at: provost_engine::Timestamp,
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
    at: provost_engine::Timestamp,
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

pub(crate) fn require_admin(index: &Index, actor: &Actor, what: &str) -> Result<()> {
    if actor.is_admin(index) {
        Ok(())
    } else {
        Err(Error::forbidden(format!("only admins may {what}")))
    }
}

/// Creates or updates a user from the LMS. Returns the revision. Making someone a superuser
/// hands out everything, so only a superuser may.
pub async fn upsert_user(node: &Node, actor: &Actor, user: User) -> Result<u64> {
    let index = node.engine.snapshot();
    require_admin(&index, actor, "manage users")?;
    if user.superuser && !actor.is_superuser(&index) {
        return Err(Error::forbidden(format!(
            "only superusers may make `{}` a superuser",
            truncate(&user.username)
        )));
    }
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

/// The change log, for admins: newest first (`AuditRange::Before`), or forward from a revision
/// as a change feed (`AuditRange::After`).
pub async fn audit(
    node: &Node,
    actor: &Actor,
    filter: AuditFilter,
    range: provost_store::AuditRange,
    limit: u32,
) -> Result<Vec<AuditEntry>> {
    require_admin(&node.engine.snapshot(), actor, "read the audit log")?;
    Ok(node.store.audit(&filter, range, limit).await?)
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

/// Whether the caller may do `action` somewhere (a question without a scope), counting the
/// token's own grants. Unknown actions are allowed nowhere.
pub fn allowed_anywhere(index: &Index, actor: &Actor, action: &str) -> bool {
    let policy = index.policy();
    let Some(perm) = policy.perm_id(action) else {
        return false;
    };
    // The token's flags count as in a check with a scope: a superuser may do every known
    // action, platform staff every course and library action (the user record's flags are
    // counted by `scopes`).
    let kind = policy.perm(perm).map(|p| p.kind);
    if actor.superuser || (actor.staff && matches!(kind, Some(Kind::Course | Kind::Library))) {
        return true;
    }
    if !index
        .scopes(&actor.username, action, None, now())
        .is_empty()
    {
        return true;
    }
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
