//! The programs app's rules for programs: create, show, change and list, each decision made by
//! the engine through `access`; HTTP and CLI both call these.

use provost_engine::{Change, Index, Kind, Scope};
use provost_store::programs::{self as rows, ProgramFilter, ProgramRecord, Reach};
use provost_store::AppAudit;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::access::{self, now, truncate, Actor};
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// The app's name in the audit log.
pub const APP: &str = "programs";

/// The program permissions a caller can hold, by their short (Registrar) names.
pub const PERMISSIONS: [&str; 5] = [
    "read_metadata",
    "read_enrollments",
    "write_enrollments",
    "read_reports",
    "manage_access",
];

/// The permissions `user_has_perm` may name.
pub const LISTING_PERMISSIONS: [&str; 4] = [
    "read_metadata",
    "read_enrollments",
    "write_enrollments",
    "read_reports",
];

/// Longest title.
const MAX_TITLE: usize = 255;
/// Most course runs in a curriculum and orgs on a program.
const MAX_LIST: usize = 200;

/// A program to create.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProgram {
    /// Letters, digits, `.`, `_` and `-`; `program:<key>` must fit a scope key (at most 247).
    #[schema(value_type = super::schemas::ProgramKey)]
    pub key: String,
    /// Hyphenated (or 32 hex digits, all hyphens left out); generated when absent.
    #[serde(default)]
    #[schema(
        pattern = "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32})$"
    )]
    pub uuid: Option<String>,
    #[schema(value_type = super::schemas::ProgramTitle)]
    pub title: String,
    /// A program type's name (`masters`, `micromasters`, `professional_certificate`, ...).
    #[serde(rename = "type")]
    pub program_type: String,
    /// Managing orgs, the first one the program's own (reports live under it).
    #[schema(value_type = Vec<super::schemas::ProgramOrg>, min_items = 1, max_items = 200)]
    pub orgs: Vec<String>,
    /// Course run keys.
    #[serde(default)]
    #[schema(value_type = Vec<super::schemas::CourseRunKey>, max_items = 200)]
    pub curriculum: Vec<String>,
}

/// What to change on a program; absent fields stay.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramChange {
    #[schema(value_type = Option<super::schemas::ProgramTitle>)]
    pub title: Option<String>,
    #[serde(rename = "type")]
    pub program_type: Option<String>,
    /// Moving a program between orgs needs the manage permission at the old and the new orgs.
    #[schema(value_type = Option<Vec<super::schemas::ProgramOrg>>, min_items = 1, max_items = 200)]
    pub orgs: Option<Vec<String>>,
    #[schema(value_type = Option<Vec<super::schemas::CourseRunKey>>, max_items = 200)]
    pub curriculum: Option<Vec<String>>,
}

/// A program as a caller sees it, with the caller's own permissions on it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProgramView {
    pub key: String,
    pub uuid: String,
    pub title: String,
    #[serde(rename = "type")]
    pub program_type: String,
    pub orgs: Vec<String>,
    pub curriculum: Vec<String>,
    /// What the caller may do on it, sorted (`read_enrollments`, `read_metadata`, ...).
    pub permissions: Vec<String>,
    /// Registrar's name for `key`.
    pub program_key: String,
    /// Registrar's name for `title`.
    pub program_title: String,
    /// Registrar's `program_type`: the type's title (`Masters`).
    #[serde(rename = "program_type")]
    pub type_title: String,
}

impl ProgramView {
    pub fn of(
        index: &Index,
        actor: &Actor,
        types: &[rows::ProgramType],
        program: ProgramRecord,
    ) -> ProgramView {
        let permissions = permissions_on(index, actor, &program.key);
        let type_title = types
            .iter()
            .find(|t| t.name == program.program_type)
            .map_or_else(|| program.program_type.clone(), |t| t.title.clone());
        ProgramView {
            program_key: program.key.clone(),
            program_title: program.title.clone(),
            type_title,
            key: program.key,
            uuid: program.uuid,
            title: program.title,
            program_type: program.program_type,
            orgs: program.orgs,
            curriculum: program.curriculum,
            permissions,
        }
    }
}

/// The listing's filters (Registrar's query).
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub org: Option<String>,
    pub user_has_perm: Option<String>,
    pub program_type: Option<String>,
    pub program_title: Option<String>,
    pub after: Option<String>,
    pub limit: u32,
}

/// `program:<key>`.
pub fn scope_of(key: &str) -> String {
    format!("program:{key}")
}

/// The short names of the program permissions `actor` holds on the program, sorted (as
/// Registrar lists them).
pub fn permissions_on(index: &Index, actor: &Actor, key: &str) -> Vec<String> {
    let scope = Scope::Program(key);
    let at = now();
    let mut held: Vec<String> = PERMISSIONS
        .iter()
        .filter(|p| actor.may(index, &format!("programs.{p}"), &scope, at))
        .map(|p| (*p).to_owned())
        .collect();
    held.sort_unstable();
    held
}

/// Refuses (403) unless the actor holds `programs.<permission>` on the program.
pub fn require(index: &Index, actor: &Actor, key: &str, permission: &str) -> Result<()> {
    let action = format!("programs.{permission}");
    if actor.may(index, &action, &Scope::Program(key), now()) {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "`{}` may not {} of program `{key}` (needs `{action}`)",
            actor.username,
            permission.replace('_', " ")
        )))
    }
}

/// The program with this key, or 404.
pub async fn load(node: &Node, key: &str) -> Result<ProgramRecord> {
    rows::program(node.store().reader().await?.conn(), key)
        .await?
        .ok_or_else(|| not_found(key))
}

fn not_found(key: &str) -> Error {
    Error::new(
        ErrorCode::ProgramNotFound,
        format!("there is no program `{}`", truncate(key)),
    )
}

/// A program the caller may read (`programs.read_metadata`).
pub async fn show(node: &Node, index: &Index, actor: &Actor, key: &str) -> Result<ProgramView> {
    let program = load(node, key).await?;
    require(index, actor, key, "read_metadata")?;
    Ok(ProgramView::of(index, actor, &types(node).await?, program))
}

fn check_key(key: &str) -> Result<()> {
    let scope = scope_of(key);
    match Scope::parse(&scope) {
        Ok(Scope::Program(_)) => Ok(()),
        _ => Err(Error::new(
            ErrorCode::InvalidProgramKey,
            format!(
                "program key `{}` must be 1-247 letters, digits, `.`, `_` or `-`",
                truncate(key)
            ),
        )),
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorCode::InvalidProgram, message)
}

fn check_title(title: &str) -> Result<String> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(invalid(format!("a title is 1-{MAX_TITLE} characters")));
    }
    Ok(title.to_owned())
}

fn check_uuid(uuid: Option<&str>) -> Result<String> {
    match uuid {
        None => Ok(uuid::Uuid::new_v4().hyphenated().to_string()),
        Some(text) => uuid::Uuid::try_parse(text)
            .map(|u| u.hyphenated().to_string())
            .map_err(|_| invalid(format!("`{}` is not a uuid", truncate(text)))),
    }
}

/// Org keys (`MITx`, or `org:MITx`), in order, without repeats; as `org:` scope keys.
fn check_orgs(orgs: &[String]) -> Result<Vec<String>> {
    if orgs.is_empty() || orgs.len() > MAX_LIST {
        return Err(invalid(format!("a program has 1-{MAX_LIST} orgs")));
    }
    let mut out: Vec<String> = Vec::new();
    for org in orgs {
        let bare = org.strip_prefix("org:").unwrap_or(org);
        let scope = format!("org:{bare}");
        if !matches!(Scope::parse(&scope), Ok(Scope::Org(_))) {
            return Err(invalid(format!(
                "org `{}` must be letters, digits, `.`, `_` or `-`",
                truncate(org)
            )));
        }
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    Ok(out)
}

/// Course run keys, in order, without repeats.
fn check_curriculum(courses: &[String]) -> Result<Vec<String>> {
    if courses.len() > MAX_LIST {
        return Err(invalid(format!(
            "a curriculum has at most {MAX_LIST} course runs"
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for course in courses {
        let canonical = match Scope::parse(course) {
            Ok(s @ Scope::Course { .. }) if !s.is_glob() => s.canonical().into_owned(),
            _ => {
                return Err(invalid(format!(
                    "`{}` is not a course run key (`course-v1:ORG+COURSE+RUN`)",
                    truncate(course)
                )))
            }
        };
        if !out.contains(&canonical) {
            out.push(canonical);
        }
    }
    Ok(out)
}

fn bare_orgs(scopes: &[String]) -> Vec<String> {
    scopes
        .iter()
        .map(|s| s.strip_prefix("org:").unwrap_or(s).to_owned())
        .collect()
}

fn org_scopes(orgs: &[String]) -> Vec<String> {
    orgs.iter().map(|o| format!("org:{o}")).collect()
}

async fn require_type(tx_conn: provost_store::Conn<'_>, name: &str) -> Result<()> {
    let types = rows::program_types(tx_conn).await?;
    if types.iter().any(|t| t.name == name) {
        return Ok(());
    }
    let known: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
    Err(Error::new(
        ErrorCode::UnknownProgramType,
        format!(
            "there is no program type `{}` (known: {})",
            truncate(name),
            known.join(", ")
        ),
    ))
}

/// Creates a program and registers `program:<key>` under its orgs, in one write: admins, or
/// whoever manages programs at every one of its orgs. Returns it and the revision.
pub async fn create(node: &Node, actor: &Actor, new: NewProgram) -> Result<(ProgramView, u64)> {
    check_key(&new.key)?;
    let program = ProgramRecord {
        uuid: check_uuid(new.uuid.as_deref())?,
        title: check_title(&new.title)?,
        program_type: new.program_type,
        orgs: bare_orgs(&check_orgs(&new.orgs)?),
        curriculum: check_curriculum(&new.curriculum)?,
        key: new.key,
    };
    let scope = scope_of(&program.key);
    let index = node.index();
    // A scope registered before (by `provost register`) is moved, not created: the same rule.
    let previous = index.registered_parents(&scope).unwrap_or_default();
    let registration =
        access::program_registration(&index, actor, &scope, &org_scopes(&program.orgs), &previous)?;
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                if rows::program(tx.conn(), &program.key).await?.is_some() {
                    return Err(Error::new(
                        ErrorCode::ProgramExists,
                        format!("program `{}` exists", program.key),
                    ));
                }
                if let Some(other) = rows::program_key_by_uuid(tx.conn(), &program.uuid).await? {
                    return Err(Error::new(
                        ErrorCode::ProgramExists,
                        format!("program `{other}` has uuid `{}`", program.uuid),
                    ));
                }
                require_type(tx.conn(), &program.program_type).await?;
                rows::insert_program(tx.conn(), &program).await?;
                tx.apply(&Change::ScopeRegister { registration }).await?;
                tx.audit(AppAudit {
                    app: APP.into(),
                    operation: "program_create".into(),
                    subject: None,
                    scope: Some(scope),
                    after: Some(json!(program)),
                    before: None,
                })
                .await?;
                Ok(program)
            })
        })
        .await?;
    let index = node.index();
    Ok((
        ProgramView::of(&index, actor, &types(node).await?, written.value),
        written.revision,
    ))
}

/// Changes a program's title, type, curriculum or orgs. Admins, or whoever manages the program
/// (`programs.manage_access` there, from the program or its orgs); moving it between orgs
/// follows `access::program_registration`. Returns it and the revision.
pub async fn update(
    node: &Node,
    actor: &Actor,
    key: &str,
    change: ProgramChange,
) -> Result<(ProgramView, u64)> {
    let title = change.title.as_deref().map(check_title).transpose()?;
    let orgs = change.orgs.as_deref().map(check_orgs).transpose()?;
    let curriculum = change
        .curriculum
        .as_deref()
        .map(check_curriculum)
        .transpose()?;
    let key = key.to_owned();
    let scope = scope_of(&key);
    let actor_name = actor.username.clone();
    let written = node
        .write(&actor_name, |tx| {
            Box::pin(async move {
                // Read under the write lock, so the orgs judged are the orgs moved from.
                let Some(before) = rows::program(tx.conn(), &key).await? else {
                    return Err(not_found(&key));
                };
                let index = node.index();
                if !actor.is_admin(&index)
                    && !access::manages_team(&index, actor, &Scope::Program(&key))
                {
                    let needs = access::manage_permission(&index, Kind::Program).unwrap_or("admin");
                    return Err(Error::forbidden(format!(
                        "`{}` may not change program `{key}` (needs `{needs}` there)",
                        actor.username
                    )));
                }
                let mut after = before.clone();
                if let Some(orgs) = orgs {
                    let registration = access::program_registration(
                        &index,
                        actor,
                        &scope,
                        &orgs,
                        &org_scopes(&before.orgs),
                    )?;
                    after.orgs = bare_orgs(&orgs);
                    if after.orgs != before.orgs {
                        tx.apply(&Change::ScopeRegister { registration }).await?;
                    }
                }
                if let Some(program_type) = change.program_type {
                    require_type(tx.conn(), &program_type).await?;
                    after.program_type = program_type;
                }
                if let Some(title) = title {
                    after.title = title;
                }
                if let Some(curriculum) = curriculum {
                    after.curriculum = curriculum;
                }
                if after != before {
                    rows::update_program(tx.conn(), &after).await?;
                    tx.audit(AppAudit {
                        app: APP.into(),
                        operation: "program_update".into(),
                        subject: None,
                        scope: Some(scope),
                        after: Some(json!(after)),
                        before: Some(json!(before)),
                    })
                    .await?;
                }
                Ok(after)
            })
        })
        .await?;
    let index = node.index();
    Ok((
        ProgramView::of(&index, actor, &types(node).await?, written.value),
        written.revision,
    ))
}

/// Where `actor` holds `programs.<permission>`: everywhere (`None`) or these programs and orgs.
/// One engine lookup, whatever the number of programs.
pub fn reach(index: &Index, actor: &Actor, permission: &str) -> Option<Reach> {
    if actor.is_superuser(index) {
        return None;
    }
    let action = format!("programs.{permission}");
    let mut scopes = index.scopes(&actor.username, &action, None, now());
    // Roles the token carries (`program_read_reports:org:MITx`) count as the checks count them.
    let policy = index.policy();
    for grant in &actor.grants {
        let carries = policy
            .role_id(&grant.role)
            .and_then(|id| policy.role(id))
            .is_some_and(|role| policy.names(&role.closure).contains(&action));
        if carries {
            scopes.push(grant.scope.clone());
        }
    }
    let mut reach = Reach::default();
    for scope in scopes {
        match Scope::parse(&scope) {
            Ok(Scope::Instance) => return None,
            Ok(Scope::Org(org)) => reach.orgs.push(org.to_owned()),
            Ok(Scope::Program(key)) => reach.programs.push(key.to_owned()),
            _ => {}
        }
    }
    Some(reach)
}

/// A page of the programs on which the caller holds `user_has_perm` (default `read_metadata`),
/// filtered by org, type and part of the title; `limit + 1` rows, for the caller to cut.
pub async fn list(
    node: &Node,
    index: &Index,
    actor: &Actor,
    query: ListQuery,
) -> Result<Vec<ProgramView>> {
    let permission = query.user_has_perm.as_deref().unwrap_or("read_metadata");
    if !LISTING_PERMISSIONS.contains(&permission) {
        return Err(Error::new(
            ErrorCode::PermissionNotFound,
            format!(
                "`user_has_perm` is one of {} (`{}` given)",
                LISTING_PERMISSIONS.join(", "),
                truncate(permission)
            ),
        ));
    }
    let filter = ProgramFilter {
        after: query.after,
        org: query
            .org
            .map(|o| o.strip_prefix("org:").unwrap_or(&o).to_owned()),
        program_type: query.program_type,
        title: query.program_title.filter(|t| !t.is_empty()),
        reach: reach(index, actor, permission),
    };
    let limit = query.limit;
    let types = types(node).await?;
    let mut reader = node.store().reader().await?;
    if let Some(org) = &filter.org {
        if !rows::org_has_programs(reader.conn(), org).await? {
            return Err(Error::new(
                ErrorCode::OrgNotFound,
                format!("no program belongs to org `{}`", truncate(org)),
            ));
        }
    }
    if let Some(name) = &filter.program_type {
        if !types.iter().any(|t| &t.name == name) {
            return Err(Error::new(
                ErrorCode::ProgramTypeNotFound,
                format!("there is no program type `{}`", truncate(name)),
            ));
        }
    }
    let programs = rows::list_programs(reader.conn(), &filter, limit).await?;
    Ok(programs
        .into_iter()
        .map(|p| ProgramView::of(index, actor, &types, p))
        .collect())
}

/// Adds a program type (`microbachelors`, `xseries`, ...): admins only; `enrollments` opens
/// the enrollment endpoints for its programs. Returns the revision.
pub async fn add_type(node: &Node, actor: &Actor, program_type: rows::ProgramType) -> Result<u64> {
    access::require_admin(&node.index(), actor, "add program types")?;
    let valid_name = !program_type.name.is_empty()
        && program_type.name.len() <= 100
        && program_type
            .name
            .starts_with(|c: char| c.is_ascii_lowercase())
        && program_type
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid_name {
        return Err(invalid(format!(
            "a program type is a lowercase letter, then lowercase letters, digits and `_` (`{}` given)",
            truncate(&program_type.name)
        )));
    }
    let title = check_title(&program_type.title)?;
    let program_type = rows::ProgramType {
        title,
        ..program_type
    };
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                if !rows::insert_type(tx.conn(), &program_type).await? {
                    return Err(Error::new(
                        ErrorCode::ProgramTypeExists,
                        format!("program type `{}` exists", program_type.name),
                    ));
                }
                tx.audit(AppAudit {
                    app: APP.into(),
                    operation: "program_type_add".into(),
                    subject: None,
                    scope: None,
                    after: Some(json!(program_type)),
                    before: None,
                })
                .await?;
                Ok(())
            })
        })
        .await?;
    Ok(written.revision)
}

/// The program types, for the CLI and clients.
pub async fn types(node: &Node) -> Result<Vec<rows::ProgramType>> {
    Ok(rows::program_types(node.store().reader().await?.conn()).await?)
}
