//! The policy file format: apps, permissions and roles as written, and changes applied to them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::compile::Policy;
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
pub const DEFAULT_POLICY: &str = include_str!("../../../../policy/default.toml");

impl PolicyDoc {
    /// Parses and compiles a whole policy; roles in a file are built in.
    pub fn from_toml(text: &str) -> Result<PolicyDoc, PolicyError> {
        let doc = PolicyDoc::parse(text)?;
        Policy::compile(&doc)?;
        Ok(doc)
    }

    /// Parses a policy file without resolving its names: a file loaded over a policy may name
    /// the apps, permissions and roles that policy defines, so it is checked merged, not alone.
    pub fn parse(text: &str) -> Result<PolicyDoc, PolicyError> {
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
        self.apply_all([change]);
    }

    /// Applies policy changes in order, finding permissions and roles by name through one map
    /// per batch: a policy load is tens of thousands of puts, and a search per put was quadratic.
    pub fn apply_all<'c>(&mut self, changes: impl IntoIterator<Item = &'c Change>) {
        let mut permissions = Named::new(std::mem::take(&mut self.permissions), |p| &p.name);
        let mut roles = Named::new(std::mem::take(&mut self.roles), |r| &r.name);
        for change in changes {
            match change {
                Change::AppPut { app, kind, manage } => {
                    let def = AppDef {
                        kind: *kind,
                        manage: manage.clone(),
                    };
                    self.apps.insert(app.clone(), def);
                }
                Change::PermissionPut { permission } => {
                    permissions.put(&permission.name, permission.clone())
                }
                Change::PermissionRemove { name } => permissions.remove(name),
                Change::RolePut { role } => roles.put(&role.name, role.clone()),
                Change::RoleRemove { name } => roles.remove(name),
                _ => {}
            }
        }
        self.permissions = permissions.into_vec();
        self.roles = roles.into_vec();
    }
}

/// A list of definitions kept in order, with its positions by name while a batch is applied.
struct Named<T> {
    items: Vec<Option<T>>,
    at: ahash::AHashMap<String, usize>,
}

impl<T> Named<T> {
    fn new(items: Vec<T>, name: impl Fn(&T) -> &String) -> Named<T> {
        let at = items
            .iter()
            .enumerate()
            .map(|(i, item)| (name(item).clone(), i))
            .collect();
        Named {
            items: items.into_iter().map(Some).collect(),
            at,
        }
    }

    /// Replaces the definition in place, or appends it (also after a remove, as before).
    fn put(&mut self, name: &str, item: T) {
        match self.at.get(name) {
            Some(&i) if self.items[i].is_some() => self.items[i] = Some(item),
            _ => {
                self.at.insert(name.to_owned(), self.items.len());
                self.items.push(Some(item));
            }
        }
    }

    fn remove(&mut self, name: &str) {
        if let Some(i) = self.at.remove(name) {
            self.items[i] = None;
        }
    }

    fn into_vec(self) -> Vec<T> {
        self.items.into_iter().flatten().collect()
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
