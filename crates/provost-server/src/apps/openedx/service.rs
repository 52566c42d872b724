//! The rules behind openedx-authz's REST API: who may see which team, and the bulk role changes,
//! which go through the authz app's `assign`/`unassign` so the holding rule applies. Listings
//! are cut in the store (`provost_store::openedx`); nothing here loads every assignment.

use provost_engine::{Index, Kind, Scope};
use provost_store::legacy::{self as legacy_rows, FlagValue};
use provost_store::openedx::{self as rows, Page, ScopeMatch, Selection, Window};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{authorize_team_manager, manage_permission, now, truncate, Actor};
use crate::apps::authz::service::{self as authz, AssignmentInput, ItemResult};
use crate::apps::legacy::flag::COURSE_AUTHORING;
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// The kinds the admin console shows.
const TEAM_KINDS: [Kind; 2] = [Kind::Course, Kind::Library];

/// The permission to see a kind's team: the sibling `view_` of its manage permission
/// (`courses.manage_course_team` → `courses.view_course_team`) when the policy has it, else the
/// manage permission itself.
pub fn view_permission(index: &Index, kind: Kind) -> Option<String> {
    let manage = manage_permission(index, kind)?;
    let view = manage.replacen(".manage_", ".view_", 1);
    if index.policy().perm_id(&view).is_some() {
        Some(view)
    } else {
        Some(manage.to_owned())
    }
}

/// A scope from a query, parsed: a malformed key is 400.
pub fn parse_scope(text: &str) -> Result<Scope<'_>> {
    Ok(Scope::parse(text)?)
}

/// May the actor see the team at `scope` (its kind's view permission there, or admin)?
pub fn authorize_team_viewer(index: &Index, actor: &Actor, scope_text: &str) -> Result<()> {
    let scope = parse_scope(scope_text)?;
    if actor.manages_everything(index) {
        return Ok(());
    }
    let allowed = view_permission(index, scope.kind())
        .is_some_and(|view| actor.may(index, &view, &scope, now()));
    if allowed {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "`{}` may not view the team at `{}`",
            actor.username,
            truncate(scope_text)
        )))
    }
}

/// Where the actor may see (or, with `manage`, manage) course and library teams: `None` for
/// admins (everywhere), else the scopes and globs the engine lists. Refused (403) when nowhere,
/// as openedx-authz's "any scope" gate does.
pub fn visible_places(
    index: &Index,
    actor: &Actor,
    manage: bool,
) -> Result<Option<Vec<ScopeMatch>>> {
    if actor.manages_everything(index) {
        return Ok(None);
    }
    let mut places = Vec::new();
    for kind in TEAM_KINDS {
        let permission = if manage {
            manage_permission(index, kind).map(String::from)
        } else {
            view_permission(index, kind)
        };
        let Some(permission) = permission else {
            continue;
        };
        for key in index.scopes(&actor.username, &permission, Some(kind), now()) {
            places.push(match key.strip_suffix('*') {
                Some(prefix) => ScopeMatch::Prefix(prefix.to_owned()),
                None => ScopeMatch::Exact(key),
            });
        }
    }
    if places.is_empty() {
        return Err(Error::forbidden(format!(
            "`{}` may not view any course or library team",
            actor.username
        )));
    }
    Ok(Some(places))
}

/// The org of a scope key or a glob prefix (`course-v1:MITx+`, `lib:MITx:`); `None` for all orgs.
pub fn org_of(key: &str) -> Option<&str> {
    if let Some(rest) = key.strip_prefix("course-v1:") {
        return rest.split_once('+').map(|(org, _)| org);
    }
    if let Some(rest) = key.strip_prefix("lib:") {
        return rest.split_once(':').map(|(org, _)| org);
    }
    key.strip_prefix("org:")
}

/// A role offered at a scope, with what it grants and how many hold it there.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ScopeRole {
    pub role: String,
    pub permissions: Vec<String>,
    pub user_count: u64,
}

/// The roles that grant something on `scope`'s kind (org-owned roles only in their org), by name.
pub async fn roles_at(
    node: &Node,
    index: &Index,
    actor: &Actor,
    scope_text: &str,
) -> Result<Vec<ScopeRole>> {
    authorize_team_viewer(index, actor, scope_text)?;
    let scope = parse_scope(scope_text)?;
    let key = scope.canonical().into_owned();
    let policy = index.policy();
    let counts = rows::role_counts(node.store().reader().await?.conn(), &key).await?;
    let mut roles: Vec<ScopeRole> = policy
        .roles()
        .filter(|(_, role)| {
            role.def
                .org
                .as_deref()
                .is_none_or(|org| scope.org() == Some(org))
                && role
                    .closure
                    .iter()
                    .any(|p| policy.perm(p).is_some_and(|p| p.kind == scope.kind()))
        })
        .map(|(_, role)| ScopeRole {
            role: role.def.name.clone(),
            permissions: policy.names(&role.closure),
            user_count: counts
                .iter()
                .find(|(name, _)| name == &role.def.name)
                .map_or(0, |(_, n)| *n),
        })
        .collect();
    roles.sort_by(|a, b| a.role.cmp(&b.role));
    Ok(roles)
}

/// A page of the members of the team at `scope`, with every role each holds there.
pub async fn team(
    node: &Node,
    index: &Index,
    actor: &Actor,
    mut selection: Selection,
    window: Window,
) -> Result<Page<(rows::MemberRow, Vec<String>)>> {
    let scope_text = selection
        .scopes
        .as_ref()
        .and_then(|s| s.first().cloned())
        .unwrap_or_default();
    authorize_team_viewer(index, actor, &scope_text)?;
    let key = parse_scope(&scope_text)?.canonical().into_owned();
    selection.scopes = Some(vec![key.clone()]);
    let page = rows::members(node.store().reader().await?.conn(), &selection, window).await?;
    let names: Vec<String> = page.rows.iter().map(|m| m.username.clone()).collect();
    let held = rows::roles_at(node.store().reader().await?.conn(), &key, &names).await?;
    let rows = page
        .rows
        .into_iter()
        .map(|m| {
            let roles = held
                .iter()
                .filter(|(s, _)| s == &m.username)
                .map(|(_, r)| r.clone())
                .collect();
            (m, roles)
        })
        .collect();
    Ok(Page {
        count: page.count,
        rows,
    })
}

/// A page of the assignments the actor may see, as `selection` narrows them.
pub async fn assignments(
    node: &Node,
    index: &Index,
    actor: &Actor,
    mut selection: Selection,
    window: Window,
) -> Result<Page<rows::AssignmentRow>> {
    selection.within = visible_places(index, actor, false)?;
    Ok(rows::assignments(node.store().reader().await?.conn(), &selection, window).await?)
}

/// A page of the subjects holding assignments the actor may see.
pub async fn members(
    node: &Node,
    index: &Index,
    actor: &Actor,
    mut selection: Selection,
    window: Window,
) -> Result<Page<rows::MemberRow>> {
    selection.within = visible_places(index, actor, false)?;
    Ok(rows::members(node.store().reader().await?.conn(), &selection, window).await?)
}

/// A page of the course and library scopes (of `kind`, if given) with assignments the actor may
/// see, or manage with `manage`.
pub async fn scopes(
    node: &Node,
    index: &Index,
    actor: &Actor,
    mut selection: Selection,
    kind: Option<Kind>,
    manage: bool,
    window: Window,
) -> Result<Page<String>> {
    let visible = visible_places(index, actor, manage)?;
    let kinds: Vec<ScopeMatch> = TEAM_KINDS
        .into_iter()
        .filter(|k| kind.is_none_or(|only| only == *k))
        .map(|k| {
            ScopeMatch::Prefix(
                if k == Kind::Course {
                    "course-v1:"
                } else {
                    "lib:"
                }
                .into(),
            )
        })
        .collect();
    // Both must hold: narrow the visible places to the kinds asked for.
    selection.within = Some(match visible {
        None => kinds,
        Some(places) => places
            .into_iter()
            .filter(|p| {
                let key = match p {
                    ScopeMatch::Exact(k) | ScopeMatch::Prefix(k) => k,
                };
                kinds.iter().any(
                    |k| matches!(k, ScopeMatch::Prefix(prefix) if key.starts_with(prefix.as_str())),
                )
            })
            .collect(),
    });
    Ok(rows::scopes(
        node.store().reader().await?.conn(),
        &selection,
        window.offset,
        window.limit,
    )
    .await?)
}

/// The orgs the actor may see: all the index knows for admins, else those of their teams.
pub fn orgs(index: &Index, actor: &Actor) -> Result<Vec<String>> {
    let all = index.orgs();
    let Some(places) = visible_places(index, actor, false)? else {
        return Ok(all);
    };
    let mut mine: Vec<String> = Vec::new();
    for place in &places {
        let key = match place {
            ScopeMatch::Exact(k) | ScopeMatch::Prefix(k) => k,
        };
        match org_of(key) {
            Some(org) if !org.is_empty() => mine.push(org.to_owned()),
            // `course-v1:` or `lib:`: every org.
            _ => return Ok(all),
        }
    }
    mine.sort_unstable();
    mine.dedup();
    Ok(mine)
}

/// Usernames for identifiers that are usernames or emails; `None` where no user matches.
pub async fn resolve_users(
    node: &Node,
    index: &Index,
    identifiers: &[String],
) -> Result<Vec<Option<String>>> {
    let emails: Vec<String> = identifiers
        .iter()
        .filter(|i| index.user(i).is_none() && i.contains('@'))
        .cloned()
        .collect();
    let by_email = rows::usernames_by_email(node.store().reader().await?.conn(), &emails).await?;
    Ok(identifiers
        .iter()
        .map(|i| {
            if index.user(i).is_some() {
                return Some(i.clone());
            }
            let lower = i.to_lowercase();
            by_email
                .iter()
                .find(|(e, _)| *e == lower)
                .map(|(_, u)| u.clone())
        })
        .collect())
}

/// One identifier's outcome in a bulk role change: `status` when done, `error` otherwise.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RoleOutcome {
    pub user_identifier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    /// Why an item was refused, when Provost knows more than the code says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The 207 body of a bulk role change.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct RoleChanges {
    pub completed: Vec<RoleOutcome>,
    pub errors: Vec<RoleOutcome>,
}

/// Adds (`add`) or removes `role` for `users` at each of `scopes`: the caller must manage each
/// scope's team (403 otherwise, nothing changed); then each item succeeds or fails on its own,
/// through the authz app's `assign`/`unassign` (one transaction, audited).
pub async fn change_roles(
    node: &Node,
    actor: &Actor,
    role: &str,
    scopes: &[String],
    users: &[String],
    add: bool,
) -> Result<RoleChanges> {
    let index = node.index();
    let mut keys = Vec::new();
    for scope in scopes {
        let parsed = parse_scope(scope)?;
        let key = parsed.canonical().into_owned();
        authorize_team_manager(&index, actor, &parsed, &key)?;
        keys.push(key);
    }
    let resolved = resolve_users(node, &index, users).await?;
    let mut out = RoleChanges::default();
    // (identifier, scope as given, item index into `items`)
    let mut pending = Vec::new();
    let mut items = Vec::new();
    for (scope, key) in scopes.iter().zip(&keys) {
        for (identifier, username) in users.iter().zip(&resolved) {
            let shown_scope = add.then(|| scope.clone());
            match username {
                None => out.errors.push(RoleOutcome {
                    user_identifier: identifier.clone(),
                    scope: shown_scope,
                    status: None,
                    error: Some("user_not_found"),
                    message: None,
                }),
                Some(username) => {
                    pending.push((identifier.clone(), shown_scope));
                    items.push(AssignmentInput {
                        subject: username.clone(),
                        role: role.to_owned(),
                        scope: key.clone(),
                        valid_from: None,
                        valid_until: None,
                    });
                }
            }
        }
    }
    if items.is_empty() {
        return Ok(out);
    }
    let result = if add {
        authz::assign(node, actor, &items, false).await?
    } else {
        authz::unassign(node, actor, &items, false).await?
    };
    for ((identifier, scope), item) in pending.into_iter().zip(result.items) {
        let (status, error, message) = outcome(&item, add);
        let entry = RoleOutcome {
            user_identifier: identifier,
            scope,
            status,
            error,
            message,
        };
        if entry.error.is_some() {
            out.errors.push(entry);
        } else {
            out.completed.push(entry);
        }
    }
    Ok(out)
}

type Outcome = (Option<&'static str>, Option<&'static str>, Option<String>);

fn outcome(item: &ItemResult, add: bool) -> Outcome {
    match (item.status, add) {
        ("created" | "updated", true) => (Some("role_added"), None, None),
        ("exists", true) => (None, Some("user_already_has_role"), None),
        ("removed", false) => (Some("role_removed"), None, None),
        ("not_found", false) => (None, Some("user_does_not_have_role"), None),
        (_, add) => {
            let code = if add {
                "role_assignment_error"
            } else {
                "role_removal_error"
            };
            let message = item
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.code, e.message));
            (None, Some(code), message)
        }
    }
}

/// Which identifiers name a user: by username or email, duplicates dropped, order kept.
pub async fn validate_users(
    node: &Node,
    index: &Index,
    actor: &Actor,
    users: &[String],
) -> Result<(Vec<String>, Vec<String>)> {
    visible_places(index, actor, false)?;
    let mut unique: Vec<String> = Vec::new();
    for u in users {
        if !unique.contains(u) {
            unique.push(u.clone());
        }
    }
    let resolved = resolve_users(node, index, &unique).await?;
    let (mut valid, mut invalid) = (Vec::new(), Vec::new());
    for (identifier, username) in unique.into_iter().zip(resolved) {
        if username.is_some() {
            valid.push(identifier);
        } else {
            invalid.push(identifier);
        }
    }
    Ok((valid, invalid))
}

/// How many permissions a role grants (after implication); 0 for a role the policy lost.
pub fn permission_count(index: &Index, role: &str) -> usize {
    let policy = index.policy();
    policy
        .role_id(role)
        .and_then(|id| policy.role(id))
        .map_or(0, |r| r.closure.iter().count())
}

/// A 400 for a query value that is not one of `allowed`.
pub fn invalid_choice(name: &str, value: &str, allowed: &str) -> Error {
    Error::new(
        ErrorCode::InvalidParameter,
        format!(
            "`{name}` must be one of {allowed}, not `{}`",
            truncate(value)
        ),
    )
}

/// The course-authoring flag as openedx-authz's `waffle-flag-states/` answers it: on for
/// everyone or not, and the orgs and courses that force it on or off.
#[derive(Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct WaffleFlagStates {
    /// The instance value (unset is off).
    pub global: bool,
    /// Org short names.
    pub org_overrides: Overrides,
    /// Course keys.
    pub course_overrides: Overrides,
}

/// The places that force a flag on, and those that force it off.
#[derive(Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Overrides {
    pub on: Vec<String>,
    pub off: Vec<String>,
}

impl Overrides {
    fn add(&mut self, place: String, enabled: bool) {
        if enabled { &mut self.on } else { &mut self.off }.push(place);
    }
}

impl WaffleFlagStates {
    /// From the flag's rows (scope `*`, `org:ORG` or a course key), in scope order.
    fn from_rows(rows: Vec<FlagValue>) -> WaffleFlagStates {
        let mut states = WaffleFlagStates::default();
        for row in rows {
            if row.scope == "*" {
                states.global = row.enabled;
            } else if let Some(org) = row.scope.strip_prefix("org:") {
                states.org_overrides.add(org.to_owned(), row.enabled);
            } else {
                states.course_overrides.add(row.scope, row.enabled);
            }
        }
        states
    }
}

/// The legacy app's course-authoring flag, read from its table through the store (the legacy
/// app owns the flag and writes it; this only reads).
pub async fn waffle_flag_states(node: &Node) -> Result<WaffleFlagStates> {
    let rows =
        legacy_rows::flag_values(node.store().reader().await?.conn(), COURSE_AUTHORING).await?;
    Ok(WaffleFlagStates::from_rows(rows))
}
