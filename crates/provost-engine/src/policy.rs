//! Policy definitions (apps, permissions, roles) and their compiled form with closures.

use std::collections::{BTreeMap, BTreeSet};

use ahash::AHashMap;
use serde::{Deserialize, Serialize};

use crate::err::PolicyError;
use crate::model::Change;
use crate::scope::Kind;

/// A permission as written in a policy file or sent to the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub implies: Vec<String>,
}

/// A role: a named set of permissions, built in (from a policy file) or custom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Built-in roles come from policy files and are read-only through the API.
    #[serde(default)]
    pub builtin: bool,
    /// An owning org makes a custom role assignable only inside that org.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

/// An app of the policy (the prefix of its permissions' names): the scope kind its permissions
/// are granted on and, optionally, the permission that lets someone manage the assignments at
/// scopes of that kind (its team). Written `courses = "course"`, or
/// `courses = { kind = "course", manage = "courses.manage_course_team" }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppDef {
    pub kind: Kind,
    pub manage: Option<String>,
}

impl From<Kind> for AppDef {
    fn from(kind: Kind) -> AppDef {
        AppDef { kind, manage: None }
    }
}

/// An app entry as written: a bare kind, or a table.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum AppEntry {
    Kind(Kind),
    Table(AppTable),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppTable {
    kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    manage: Option<String>,
}

impl Serialize for AppDef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.manage {
            None => AppEntry::Kind(self.kind),
            Some(manage) => AppEntry::Table(AppTable {
                kind: self.kind,
                manage: Some(manage.clone()),
            }),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AppDef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match AppEntry::deserialize(deserializer)? {
            AppEntry::Kind(kind) => kind.into(),
            AppEntry::Table(AppTable { kind, manage }) => AppDef { kind, manage },
        })
    }
}

/// The contents of a policy file (`policy/default.toml`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    #[serde(default = "one")]
    pub version: u32,
    #[serde(default)]
    pub apps: BTreeMap<String, AppDef>,
    #[serde(default)]
    pub permissions: Vec<PermissionDef>,
    #[serde(default)]
    pub roles: Vec<RoleDef>,
}

fn one() -> u32 {
    1
}

/// The default policy shipped with Provost.
pub const DEFAULT_POLICY: &str = include_str!("../../../policy/default.toml");

impl PolicyDoc {
    /// Parses a policy file; roles in a file are built in.
    pub fn from_toml(text: &str) -> Result<PolicyDoc, PolicyError> {
        let mut doc: PolicyDoc =
            toml::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
        if doc.version != 1 {
            return Err(PolicyError::Syntax(format!(
                "unsupported policy version {}",
                doc.version
            )));
        }
        for role in &mut doc.roles {
            role.builtin = true;
        }
        Policy::compile(&doc)?;
        Ok(doc)
    }

    pub fn default_policy() -> PolicyDoc {
        PolicyDoc::from_toml(DEFAULT_POLICY).expect("the shipped default policy compiles")
    }

    /// The scope kind of an app's permissions.
    pub fn kind_of_app(&self, app: &str) -> Option<Kind> {
        self.apps.get(app).map(|a| a.kind)
    }

    /// Applies a policy change (apps, permissions, roles) to the document; other changes are ignored.
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::AppPut { app, kind, manage } => {
                let def = AppDef {
                    kind: *kind,
                    manage: manage.clone(),
                };
                self.apps.insert(app.clone(), def);
            }
            Change::PermissionPut { permission } => {
                match self
                    .permissions
                    .iter_mut()
                    .find(|p| p.name == permission.name)
                {
                    Some(existing) => *existing = permission.clone(),
                    None => self.permissions.push(permission.clone()),
                }
            }
            Change::PermissionRemove { name } => self.permissions.retain(|p| p.name != *name),
            Change::RolePut { role } => match self.roles.iter_mut().find(|r| r.name == role.name) {
                Some(existing) => *existing = role.clone(),
                None => self.roles.push(role.clone()),
            },
            Change::RoleRemove { name } => self.roles.retain(|r| r.name != *name),
            _ => {}
        }
    }
}

pub fn valid_permission_name(name: &str) -> bool {
    let Some((app, verb)) = name.split_once('.') else {
        return false;
    };
    valid_role_name(app) && valid_role_name(verb)
}

pub fn valid_role_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 100
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

pub type PermId = u32;
pub type RoleId = u32;

/// A fixed-width set of permission ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermSet(Vec<u64>);

impl PermSet {
    pub fn contains(&self, id: PermId) -> bool {
        self.0
            .get((id / 64) as usize)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }
    pub fn insert(&mut self, id: PermId) {
        let word = (id / 64) as usize;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (id % 64);
    }
    pub fn union_with(&mut self, other: &PermSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = PermId> + '_ {
        self.0.iter().enumerate().flat_map(|(w, bits)| {
            (0..64)
                .filter(move |b| bits & (1u64 << b) != 0)
                .map(move |b| (w * 64 + b) as PermId)
        })
    }
}

#[derive(Clone, Debug)]
pub struct PermInfo {
    pub def: PermissionDef,
    pub kind: Kind,
    /// Every permission this one implies, itself included.
    pub closure: PermSet,
}

#[derive(Clone, Debug)]
pub struct RoleInfo {
    pub def: RoleDef,
    /// Every permission the role grants, after implication.
    pub closure: PermSet,
}

/// The compiled policy: interned permissions and roles with precomputed closures.
///
/// Ids are stable across recompiles (`Policy::recompile`) so the assignment index,
/// which stores role ids, survives policy changes.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub apps: BTreeMap<String, AppDef>,
    /// Each kind's manage-team permission, from the apps that name one.
    manage: BTreeMap<Kind, PermId>,
    perms: Vec<Option<PermInfo>>,
    perm_ids: AHashMap<Box<str>, PermId>,
    roles: Vec<Option<RoleInfo>>,
    role_ids: AHashMap<Box<str>, RoleId>,
}

impl Policy {
    pub fn compile(doc: &PolicyDoc) -> Result<Policy, PolicyError> {
        Policy::default().recompile(doc)
    }

    /// Compiles `doc` keeping the ids this policy already gave to names.
    pub fn recompile(&self, doc: &PolicyDoc) -> Result<Policy, PolicyError> {
        let mut perm_ids = self.perm_ids.clone();
        let mut role_ids = self.role_ids.clone();
        let mut seen = BTreeSet::new();
        for p in &doc.permissions {
            if !valid_permission_name(&p.name) {
                return Err(PolicyError::BadPermissionName(p.name.clone()));
            }
            let app = app_of(&p.name);
            if !doc.apps.contains_key(app) {
                return Err(PolicyError::UnknownApp {
                    permission: p.name.clone(),
                    app: app.to_owned(),
                });
            }
            if !seen.insert(p.name.as_str()) {
                return Err(PolicyError::Duplicate(p.name.clone()));
            }
            let next = perm_ids.len() as PermId;
            perm_ids.entry(p.name.as_str().into()).or_insert(next);
        }
        let mut perms: Vec<Option<PermInfo>> = vec![None; perm_ids.len()];
        for p in &doc.permissions {
            for target in &p.implies {
                if !seen.contains(target.as_str()) {
                    return Err(PolicyError::UnknownPermission(target.clone()));
                }
            }
            let id = perm_ids[p.name.as_str()];
            perms[id as usize] = Some(PermInfo {
                def: p.clone(),
                kind: doc.apps[app_of(&p.name)].kind,
                closure: PermSet::default(),
            });
        }
        // Closures by depth-first search; a grey node met again is a cycle.
        let mut state = vec![0u8; perms.len()];
        let mut closures: Vec<PermSet> = vec![PermSet::default(); perms.len()];
        for p in &doc.permissions {
            let mut path = Vec::new();
            close(
                perm_ids[p.name.as_str()],
                &perms,
                &perm_ids,
                &mut state,
                &mut closures,
                &mut path,
            )?;
        }
        for (info, closure) in perms.iter_mut().zip(closures) {
            if let Some(info) = info {
                info.closure = closure;
            }
        }
        let mut roles: Vec<Option<RoleInfo>> = Vec::new();
        let mut seen_roles = BTreeSet::new();
        for r in &doc.roles {
            if !valid_role_name(&r.name) {
                return Err(PolicyError::BadRoleName(r.name.clone()));
            }
            if !seen_roles.insert(r.name.as_str()) {
                return Err(PolicyError::Duplicate(r.name.clone()));
            }
            let mut closure = PermSet::default();
            for name in &r.permissions {
                let info = perm_ids
                    .get(name.as_str())
                    .and_then(|id| perms[*id as usize].as_ref())
                    .ok_or_else(|| PolicyError::UnknownPermission(name.clone()))?;
                closure.union_with(&info.closure);
            }
            let next = role_ids.len() as RoleId;
            let id = *role_ids.entry(r.name.as_str().into()).or_insert(next);
            if roles.len() <= id as usize {
                roles.resize(id as usize + 1, None);
            }
            roles[id as usize] = Some(RoleInfo {
                def: r.clone(),
                closure,
            });
        }
        roles.resize(role_ids.len(), None);
        let manage = manage_permissions(doc, &perms, &perm_ids)?;
        Ok(Policy {
            apps: doc.apps.clone(),
            manage,
            perms,
            perm_ids,
            roles,
            role_ids,
        })
    }

    /// The policy as a document again (for diffs and edits).
    pub fn to_doc(&self) -> PolicyDoc {
        PolicyDoc {
            version: 1,
            apps: self.apps.clone(),
            permissions: self.permissions().map(|(_, p)| p.def.clone()).collect(),
            roles: self.roles().map(|(_, r)| r.def.clone()).collect(),
        }
    }

    /// The permission that lets someone manage the assignments at scopes of `kind`, if the
    /// policy names one (an app's `manage`).
    pub fn manage_permission(&self, kind: Kind) -> Option<&str> {
        let id = self.manage.get(&kind)?;
        self.perm(*id).map(|p| p.def.name.as_str())
    }

    pub fn perm_id(&self, name: &str) -> Option<PermId> {
        let id = *self.perm_ids.get(name)?;
        self.perms[id as usize].as_ref().map(|_| id)
    }
    pub fn perm(&self, id: PermId) -> Option<&PermInfo> {
        self.perms.get(id as usize)?.as_ref()
    }
    pub fn role_id(&self, name: &str) -> Option<RoleId> {
        let id = *self.role_ids.get(name)?;
        self.roles[id as usize].as_ref().map(|_| id)
    }
    pub fn role(&self, id: RoleId) -> Option<&RoleInfo> {
        self.roles.get(id as usize)?.as_ref()
    }
    /// The id a role name has or will get; ids are never reused.
    pub fn role_slot(&self, name: &str) -> Option<RoleId> {
        self.role_ids.get(name).copied()
    }
    pub fn permissions(&self) -> impl Iterator<Item = (PermId, &PermInfo)> {
        self.perms
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((i as PermId, p.as_ref()?)))
    }
    pub fn roles(&self) -> impl Iterator<Item = (RoleId, &RoleInfo)> {
        self.roles
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i as RoleId, r.as_ref()?)))
    }
    /// Names of the permissions in a set, sorted.
    pub fn names(&self, set: &PermSet) -> Vec<String> {
        let mut names: Vec<String> = set
            .iter()
            .filter_map(|id| self.perm(id))
            .map(|p| p.def.name.clone())
            .collect();
        names.sort();
        names
    }
    /// The closure of an arbitrary list of permission names (for proposed role changes).
    pub fn closure_of(&self, names: &[String]) -> Result<PermSet, PolicyError> {
        let mut set = PermSet::default();
        for name in names {
            let id = self
                .perm_id(name)
                .ok_or_else(|| PolicyError::UnknownPermission(name.clone()))?;
            set.union_with(
                &self.perms[id as usize]
                    .as_ref()
                    .map(|p| p.closure.clone())
                    .unwrap_or_default(),
            );
        }
        Ok(set)
    }
}

/// Each kind's manage-team permission: it must exist and be granted on that kind, and the apps
/// of one kind may not name two different ones.
fn manage_permissions(
    doc: &PolicyDoc,
    perms: &[Option<PermInfo>],
    ids: &AHashMap<Box<str>, PermId>,
) -> Result<BTreeMap<Kind, PermId>, PolicyError> {
    let mut manage: BTreeMap<Kind, PermId> = BTreeMap::new();
    for (app, def) in &doc.apps {
        let Some(name) = &def.manage else { continue };
        let refuse = |reason: String| PolicyError::ManagePermission {
            app: app.clone(),
            permission: name.clone(),
            reason,
        };
        let Some((id, info)) = ids
            .get(name.as_str())
            .and_then(|id| Some((*id, perms.get(*id as usize)?.as_ref()?)))
        else {
            return Err(refuse("there is no such permission".into()));
        };
        if info.kind != def.kind {
            return Err(refuse(format!(
                "it is granted on {} scopes, not {}",
                info.kind, def.kind
            )));
        }
        if let Some(other) = manage.insert(def.kind, id).filter(|other| *other != id) {
            let other = perms[other as usize]
                .as_ref()
                .map_or("", |p| p.def.name.as_str());
            return Err(refuse(format!(
                "`{other}` already manages {} scopes",
                def.kind
            )));
        }
    }
    Ok(manage)
}

pub fn app_of(permission: &str) -> &str {
    permission
        .split_once('.')
        .map_or(permission, |(app, _)| app)
}

fn close(
    id: PermId,
    perms: &[Option<PermInfo>],
    ids: &AHashMap<Box<str>, PermId>,
    state: &mut [u8],
    closures: &mut [PermSet],
    path: &mut Vec<String>,
) -> Result<(), PolicyError> {
    let Some(info) = perms[id as usize].as_ref() else {
        return Ok(());
    };
    match state[id as usize] {
        2 => return Ok(()),
        1 => {
            path.push(info.def.name.clone());
            let start = path.iter().position(|n| *n == info.def.name).unwrap_or(0);
            return Err(PolicyError::Cycle(path[start..].join(" → ")));
        }
        _ => {}
    }
    state[id as usize] = 1;
    path.push(info.def.name.clone());
    let mut closure = PermSet::default();
    closure.insert(id);
    for target in &info.def.implies {
        let tid = ids[target.as_str()];
        close(tid, perms, ids, state, closures, path)?;
        let sub = closures[tid as usize].clone();
        closure.union_with(&sub);
    }
    path.pop();
    closures[id as usize] = closure;
    state[id as usize] = 2;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Result<PolicyDoc, PolicyError> {
        PolicyDoc::from_toml(text)
    }

    const SMALL: &str = r#"
        [apps]
        content_libraries = "library"
        [[permissions]]
        name = "content_libraries.view_library"
        [[permissions]]
        name = "content_libraries.edit_library_content"
        implies = ["content_libraries.view_library"]
        [[permissions]]
        name = "content_libraries.publish_library_content"
        implies = ["content_libraries.edit_library_content"]
        [[roles]]
        name = "library_author"
        permissions = ["content_libraries.publish_library_content"]
    "#;

    #[test]
    fn implication_chains_close_transitively() {
        let policy = Policy::compile(&doc(SMALL).unwrap()).unwrap();
        let role = policy
            .role(policy.role_id("library_author").unwrap())
            .unwrap();
        assert_eq!(
            policy.names(&role.closure),
            [
                "content_libraries.edit_library_content",
                "content_libraries.publish_library_content",
                "content_libraries.view_library"
            ]
        );
        assert!(role.def.builtin, "roles from a file are built in");
    }

    #[test]
    fn cycles_are_rejected_with_their_path() {
        let text = SMALL.replace(
            "name = \"content_libraries.view_library\"",
            "name = \"content_libraries.view_library\"\nimplies = [\"content_libraries.publish_library_content\"]",
        );
        let err = doc(&text).unwrap_err();
        assert_eq!(err.code(), "implication_cycle");
        assert!(err.to_string().contains("→"), "{err}");
    }

    #[test]
    fn refuses_unknown_apps_fields_and_permissions() {
        assert_eq!(
            doc(&SMALL.replace("content_libraries = \"library\"", ""))
                .unwrap_err()
                .code(),
            "unknown_app"
        );
        assert_eq!(
            doc(&format!(
                "{SMALL}\n[[roles]]\nname = \"x\"\npermissions = [\"content_libraries.nope\"]"
            ))
            .unwrap_err()
            .code(),
            "unknown_permission"
        );
        assert_eq!(doc("surprise = 1").unwrap_err().code(), "invalid_policy");
        assert_eq!(
            doc("[apps]\ncourses = \"galaxy\"").unwrap_err().code(),
            "invalid_policy"
        );
        assert_eq!(
            doc(&format!("{SMALL}\n[[roles]]\nname = \"Bad-Name\""))
                .unwrap_err()
                .code(),
            "invalid_role_name"
        );
        assert_eq!(
            doc(&format!("{SMALL}\n[[roles]]\nname = \"library_author\""))
                .unwrap_err()
                .code(),
            "duplicate"
        );
    }

    #[test]
    fn recompile_keeps_ids() {
        let first = Policy::compile(&doc(SMALL).unwrap()).unwrap();
        let author = first.role_id("library_author").unwrap();
        let mut changed = first.to_doc();
        changed.roles.insert(
            0,
            RoleDef {
                name: "new_role".into(),
                description: String::new(),
                permissions: vec![],
                builtin: false,
                org: None,
            },
        );
        let second = first.recompile(&changed).unwrap();
        assert_eq!(second.role_id("library_author"), Some(author));
        assert!(second.role_id("new_role").is_some());
    }

    #[test]
    fn the_default_policy_compiles_and_keeps_legacy_permissions_apart() {
        let policy = Policy::compile(&PolicyDoc::default_policy()).unwrap();
        let names =
            |role: &str| policy.names(&policy.role(policy.role_id(role).unwrap()).unwrap().closure);
        let admin = names("course_admin");
        assert!(admin.contains(&"courses.legacy_instructor_role_permissions".to_owned()));
        assert!(!admin
            .iter()
            .any(|p| p == "courses.legacy_staff_role_permissions"));
        assert!(admin.contains(&"courses.manage_course_team".to_owned()));
        assert!(names("course_staff").contains(&"courses.legacy_staff_role_permissions".to_owned()));
        assert!(names("ccx_coach").is_empty());
        for role in [
            "library_admin",
            "library_author",
            "library_contributor",
            "library_user",
            "course_auditor",
            "course_editor",
            "course_staff",
            "course_limited_staff",
            "course_data_researcher",
            "course_beta_tester",
            "forum_administrator",
            "forum_moderator",
            "forum_group_moderator",
            "forum_community_ta",
            "forum_student",
            "program_read_metadata",
            "program_read_enrollments",
            "program_read_write_enrollments",
            "program_read_reports",
            "batch_admin",
            "batch_mentor",
            "batch_participant",
            "enterprise_learner",
            "enterprise_admin",
            "enterprise_operator",
            "authz_service",
        ] {
            assert!(
                policy.role_id(role).is_some(),
                "default policy lacks {role}"
            );
        }
        for manage in [
            "courses.manage_course_team",
            "content_libraries.manage_library_team",
            "programs.manage_access",
            "batches.manage_members",
            "enterprise.manage_access",
        ] {
            assert!(
                policy.perm_id(manage).is_some(),
                "default policy lacks {manage}"
            );
        }
    }

    #[test]
    fn each_kind_names_its_manage_permission_in_the_policy() {
        let policy = Policy::compile(&PolicyDoc::default_policy()).unwrap();
        for (kind, manage) in [
            (Kind::Course, Some("courses.manage_course_team")),
            (Kind::Library, Some("content_libraries.manage_library_team")),
            (Kind::Program, Some("programs.manage_access")),
            (Kind::Batch, Some("batches.manage_members")),
            (Kind::Enterprise, Some("enterprise.manage_access")),
            (Kind::Org, None),
            (Kind::Instance, None),
        ] {
            assert_eq!(policy.manage_permission(kind), manage, "{kind}");
        }
        // A bare kind names none.
        let small = Policy::compile(&doc(SMALL).unwrap()).unwrap();
        assert_eq!(small.manage_permission(Kind::Library), None);
    }

    #[test]
    fn refuses_a_manage_permission_that_is_unknown_of_another_kind_or_a_second_one() {
        let managed = |manage: &str| {
            SMALL.replace(
                "content_libraries = \"library\"",
                &format!("content_libraries = {{ kind = \"library\", manage = \"{manage}\" }}\ncourses = {{ kind = \"course\", manage = \"courses.manage\" }}\nextra = {{ kind = \"library\", manage = \"extra.manage\" }}"),
            ) + "\n[[permissions]]\nname = \"courses.manage\"\n[[permissions]]\nname = \"extra.manage\"\n"
        };
        for (manage, reason) in [
            ("content_libraries.nope", "there is no such permission"),
            ("courses.manage", "granted on course scopes, not library"),
            (
                "content_libraries.view_library",
                "already manages library scopes",
            ),
        ] {
            let err = doc(&managed(manage)).unwrap_err();
            assert_eq!(err.code(), "invalid_manage_permission", "{manage}");
            assert!(err.to_string().contains(reason), "{manage}: {err}");
        }
        assert_eq!(
            doc("[apps]\ncourses = { kind = \"course\", surprise = 1 }")
                .unwrap_err()
                .code(),
            "invalid_policy"
        );
    }

    #[test]
    fn an_app_entry_is_written_back_as_it_was_read() {
        let text = "[apps]\na = \"course\"\nb = { kind = \"library\", manage = \"b.m\" }\n";
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Apps {
            apps: BTreeMap<String, AppDef>,
        }
        let apps: Apps = toml::from_str(text).unwrap();
        assert_eq!(apps.apps["a"], AppDef::from(Kind::Course));
        assert_eq!(apps.apps["b"].manage.as_deref(), Some("b.m"));
        let json = serde_json::to_value(&apps).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "apps": { "a": "course", "b": { "kind": "library", "manage": "b.m" } } })
        );
        assert_eq!(serde_json::from_value::<Apps>(json).unwrap(), apps);
    }

    #[test]
    fn a_load_without_manage_keeps_the_stored_one_unless_pruned() {
        let stored = PolicyDoc::default_policy();
        let mut old = stored.clone();
        old.apps.insert("courses".into(), Kind::Course.into());
        assert!(crate::policy_diff(&stored, &old, false).is_empty());
        let pruned = crate::policy_diff(&stored, &old, true);
        assert_eq!(
            pruned,
            [Change::AppPut {
                app: "courses".into(),
                kind: Kind::Course,
                manage: None
            }]
        );
    }
}
