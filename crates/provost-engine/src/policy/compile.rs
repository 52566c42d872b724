//! The compiled policy: interned permissions and roles with their closures precomputed.

use std::collections::{BTreeMap, BTreeSet};

use super::doc::{
    valid_permission_name, valid_role_name, AppDef, PermissionDef, PolicyDoc, RoleDef,
};
use crate::err::PolicyError;
use crate::scope::Kind;

/// Names to ids, looked up once per check: foldhash hashes a short name in fewer instructions
/// than ahash's portable fallback.
type NameMap<V> = foldhash::HashMap<Box<str>, V>;

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
    /// The permissions in this set and not in `other`.
    pub fn without(&self, other: &PermSet) -> PermSet {
        let words = self.0.iter().enumerate();
        PermSet(
            words
                .map(|(i, w)| w & !other.0.get(i).copied().unwrap_or(0))
                .collect(),
        )
    }
    pub fn iter(&self) -> impl Iterator<Item = PermId> + '_ {
        // Set bits only, lowest first: large policies have sparse sets of thousands of words.
        self.0.iter().enumerate().flat_map(|(w, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let b = rest.trailing_zeros();
                rest &= rest - 1;
                Some((w * 64) as PermId + b)
            })
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
    perm_ids: NameMap<PermId>,
    roles: Vec<Option<RoleInfo>>,
    role_ids: NameMap<RoleId>,
    /// For each permission, the roles that grant it (as a set of role ids): a check tests one
    /// bit per grant instead of reading the role's closure.
    granted_by: Vec<PermSet>,
    /// The org-owned roles, which grant only inside their org.
    org_owned: PermSet,
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
        let mut granted_by = vec![PermSet::default(); perms.len()];
        let mut org_owned = PermSet::default();
        for (id, role) in roles.iter().enumerate() {
            let Some(role) = role else { continue };
            for perm in role.closure.iter() {
                granted_by[perm as usize].insert(id as RoleId);
            }
            if role.def.org.is_some() {
                org_owned.insert(id as RoleId);
            }
        }
        Ok(Policy {
            apps: doc.apps.clone(),
            manage,
            perms,
            perm_ids,
            roles,
            role_ids,
            granted_by,
            org_owned,
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
    /// The roles (by id) whose closure holds `perm`.
    pub(crate) fn granted_by(&self, perm: PermId) -> &PermSet {
        static NONE: PermSet = PermSet(Vec::new());
        self.granted_by.get(perm as usize).unwrap_or(&NONE)
    }
    /// Whether a role is owned by an org (and so grants only inside it).
    pub(crate) fn org_owned(&self, role: RoleId) -> bool {
        self.org_owned.contains(role)
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
    ids: &NameMap<PermId>,
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
    ids: &NameMap<PermId>,
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
