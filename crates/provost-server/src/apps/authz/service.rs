//! The rules of the authz app: checks, lookups, assignments, users, roles and policy loads.
//! HTTP handlers and CLI commands both call these; nothing here knows about either.

use chrono::{DateTime, TimeZone, Utc};
use provost_engine::{
    canonical_scope, Assignment, Change, Claims, Explanation, Index, Kind, Scope, User,
};
use provost_store::{AssignmentFilter, AuditFilter, Committed, LogEntry, Outcome};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{
    authorize_grant, authorize_on_behalf, check_username, manages_team, now, require_admin,
    truncate, Actor,
};
use crate::err::{Error, ErrorCode, Result};
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
    #[schema(value_type = String)]
    pub code: ErrorCode,
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

/// Validates an assignment and the actor's right to grant (or remove) it; returns it canonical.
fn vet(index: &Index, actor: &Actor, input: &AssignmentInput) -> Result<Assignment> {
    check_username(&input.subject)?;
    let scope_text = canonical_scope(&input.scope)?;
    let scope = Scope::parse(&scope_text)?;
    let policy = index.policy();
    let role_id = policy.role_id(&input.role).ok_or_else(|| {
        Error::new(
            ErrorCode::UnknownRole,
            super::roles::no_such_role(policy, &input.role),
        )
    })?;
    let role = policy
        .role(role_id)
        .ok_or_else(|| Error::internal("role vanished"))?;
    if matches!(scope, Scope::Program(_) | Scope::Batch(_))
        && index.registered_parents(&scope_text).is_none()
    {
        return Err(Error::new(
            ErrorCode::UnknownScope,
            format!("`{scope_text}` is not registered"),
        ));
    }
    if let (Some(from), Some(until)) = (input.valid_from, input.valid_until) {
        if from >= until {
            return Err(Error::new(
                ErrorCode::InvalidWindow,
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
        return Err(Error::new(
            ErrorCode::RoleNotApplicable,
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
            return Err(Error::new(
                ErrorCode::RoleOutsideOrg,
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

/// An item left alone because another item of an atomic request was refused.
fn skipped(index: usize) -> ItemResult {
    ItemResult {
        index,
        status: "skipped",
        assignment: None,
        error: None,
    }
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
    bulk(
        node,
        actor,
        items,
        atomic,
        true,
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
    let change = |a: Assignment| Change::AssignmentRemove {
        subject: a.subject,
        role: a.role,
        scope: a.scope,
    };
    bulk(
        node,
        actor,
        items,
        atomic,
        false,
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
    items: &[AssignmentInput],
    atomic: bool,
    grants: bool,
    to_change: impl Fn(Assignment) -> Change,
    status: impl Fn(&Outcome, bool) -> &'static str,
) -> Result<BulkResult> {
    if items.is_empty() {
        return Err(Error::new(ErrorCode::EmptyRequest, "no assignments given"));
    }
    let index = &node.index();
    let vetted: Vec<Result<Assignment>> =
        items.iter().map(|item| vet(index, actor, item)).collect();
    let any_error = vetted.iter().any(|v| v.is_err());
    if atomic && any_error {
        let items = vetted
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Err(e) => item_error(i, e),
                Ok(_) => skipped(i),
            })
            .collect();
        return Ok(BulkResult {
            items,
            revision: node.engine().revision(),
        });
    }
    let good: Vec<(usize, Assignment)> = vetted
        .iter()
        .enumerate()
        .filter_map(|(i, v)| Some((i, v.as_ref().ok()?.clone())))
        .collect();
    let (committed, changed) = if grants && !good.is_empty() {
        write_unless_roles_changed(node, actor, index, &good, atomic, &to_change).await?
    } else {
        let changes: Vec<Change> = good.iter().map(|(_, a)| to_change(a.clone())).collect();
        (node.commit(&actor.username, &changes).await?, Vec::new())
    };
    let (good, conflicts): (Vec<_>, Vec<_>) = good
        .into_iter()
        .partition(|(_, a)| !changed.contains(&a.role));
    if atomic && !conflicts.is_empty() {
        let items = (0..items.len())
            .map(|i| match conflicts.iter().find(|(c, _)| *c == i) {
                Some((_, a)) => item_error(i, &role_changed(&a.role)),
                None => skipped(i),
            })
            .collect();
        return Ok(BulkResult {
            items,
            revision: committed.revision,
        });
    }
    let mut results: Vec<ItemResult> = vetted
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.as_ref().err().map(|e| item_error(i, e)))
        .chain(
            conflicts
                .iter()
                .map(|(i, a)| item_error(*i, &role_changed(&a.role))),
        )
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

/// Writes the vetted grants in one transaction, unless a role among them changed since `index`
/// (the snapshot they were vetted against): under the write lock the roles are read as stored,
/// and items of a role whose closure differs are left out (all of them with `atomic`). Returns
/// what was committed and the roles that changed. Without this a role grown between the vet and
/// the commit would hand out its new permissions at a scope nobody checked: the growth's own check
/// cannot see an assignment that is not committed yet.
async fn write_unless_roles_changed(
    node: &Node,
    actor: &Actor,
    index: &Index,
    good: &[(usize, Assignment)],
    atomic: bool,
    to_change: &impl Fn(Assignment) -> Change,
) -> Result<(Committed, Vec<String>)> {
    let policy = index.policy();
    let mut roles: Vec<&str> = good.iter().map(|(_, a)| a.role.as_str()).collect();
    roles.sort_unstable();
    roles.dedup();
    let all: Vec<Change> = good.iter().map(|(_, a)| to_change(a.clone())).collect();
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let mut changed = Vec::new();
                for role in roles {
                    let vetted = policy.role_id(role).and_then(|id| policy.role(id));
                    let stored = tx.role(role).await?;
                    let same = match (vetted, stored) {
                        (Some(vetted), Some(stored)) => policy
                            .closure_of(&stored.permissions)
                            .is_ok_and(|closure| closure == vetted.closure),
                        _ => false,
                    };
                    if !same {
                        changed.push(role.to_owned());
                    }
                }
                if atomic && !changed.is_empty() {
                    return Ok((Vec::new(), changed));
                }
                let changes: Vec<Change> = good
                    .iter()
                    .zip(all)
                    .filter(|((_, a), _)| !changed.contains(&a.role))
                    .map(|(_, change)| change)
                    .collect();
                Ok((tx.apply_all(&changes).await?, changed))
            })
        })
        .await?;
    let (outcomes, changed) = written.value;
    Ok((
        Committed {
            revision: written.revision,
            outcomes,
            entries: written.entries,
        },
        changed,
    ))
}

fn role_changed(role: &str) -> Error {
    Error::new(
        ErrorCode::Conflict,
        format!("role `{role}` changed while assigning; retry"),
    )
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
/// One page of them, sorted: at most `limit` after `after`, and the name to ask after next
/// when more follow. The engine walks only as far as the page, whatever the number of grants.
pub fn who(
    index: &Index,
    actor: &Actor,
    action: &str,
    scope: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<provost_engine::WhoPage> {
    let parsed = Scope::parse(scope)?;
    if !manages_team(index, actor, &parsed) {
        authorize_on_behalf(index, actor, "")?;
    }
    Ok(index.who_page(action, scope, now(), after, limit))
}

/// Where `subject` may do `action`: one page of scope keys after `after`.
pub fn scopes(
    index: &Index,
    actor: &Actor,
    subject: Option<&str>,
    action: &str,
    kind: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> Result<provost_engine::ScopePage> {
    let subject = subject.unwrap_or(&actor.username);
    authorize_on_behalf(index, actor, subject)?;
    let kind = match kind {
        None => None,
        Some(k) => Some(Kind::parse(k).ok_or_else(|| {
            Error::new(ErrorCode::InvalidKind, format!("unknown scope kind `{}` (instance, org, course, library, program, batch, enterprise)", truncate(k)))
        })?),
    };
    Ok(index.scopes_page(subject, action, kind, now(), after, limit))
}

/// Creates or updates a user from the LMS. Returns the revision. Making someone a superuser
/// hands out everything, so only a superuser may.
pub async fn upsert_user(node: &Node, actor: &Actor, user: User) -> Result<u64> {
    let index = node.index();
    require_admin(&index, actor, "manage users")?;
    let was_superuser = index.user(&user.username).is_some_and(|u| u.superuser);
    if user.superuser && !was_superuser && !actor.is_superuser(&index) {
        return Err(Error::forbidden(format!(
            "only superusers may make `{}` a superuser",
            truncate(&user.username)
        )));
    }
    check_username(&user.username)?;
    if let Some(email) = &user.email {
        if email.len() > 254 || !email.contains('@') {
            return Err(Error::new(
                ErrorCode::InvalidEmail,
                format!("`{}` is not an email address", truncate(email)),
            ));
        }
    }
    Ok(node
        .commit(&actor.username, &[Change::UserPut { user }])
        .await?
        .revision)
}

/// A change to a user: what is `None` keeps its stored value (false, or no email, for a new
/// user). `email: Some(None)` clears the email.
#[derive(Clone, Debug, Default)]
pub struct UserUpdate {
    pub username: String,
    pub email: Option<Option<String>>,
    pub staff: Option<bool>,
    pub superuser: Option<bool>,
}

/// Creates or updates a user, keeping the stored value of every field the update leaves out
/// (so `users upsert alice --email a@x` does not drop alice's staff flag), then `upsert_user`.
pub async fn update_user(node: &Node, actor: &Actor, update: UserUpdate) -> Result<u64> {
    let stored = node.index().user(&update.username).cloned();
    let keep = stored.unwrap_or_else(|| User {
        username: update.username.clone(),
        email: None,
        staff: false,
        superuser: false,
    });
    let user = User {
        username: update.username,
        email: update.email.unwrap_or(keep.email),
        staff: update.staff.unwrap_or(keep.staff),
        superuser: update.superuser.unwrap_or(keep.superuser),
    };
    upsert_user(node, actor, user).await
}

/// Retires a user: the user and every assignment they hold go, each removal audited.
pub async fn retire_user(node: &Node, actor: &Actor, username: &str) -> Result<u64> {
    require_admin(&node.index(), actor, "retire users")?;
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
        _ => Err(Error::new(
            ErrorCode::UserNotFound,
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
    let index = node.index();
    let own = filter.subject.as_deref() == Some(actor.username.as_str());
    let manages = match filter.scope.as_deref() {
        Some(scope) => manages_team(&index, actor, &Scope::parse(scope)?),
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
        .store()
        .assignments(&filter, after.as_ref(), limit)
        .await?;
    Ok(rows.into_iter().map(AssignmentInput::from).collect())
}

/// The audit log, for admins: the engine's changes and the apps' entries in one revision order,
/// newest first (`AuditRange::Before`), or forward from a revision (`AuditRange::After`).
pub async fn audit(
    node: &Node,
    actor: &Actor,
    filter: AuditFilter,
    range: provost_store::AuditRange,
    limit: u32,
) -> Result<Vec<LogEntry>> {
    require_admin(&node.index(), actor, "read the audit log")?;
    Ok(node.store().audit_log(&filter, range, limit).await?)
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
