//! The facts the engine decides on (users, assignments, registered scopes) and the changes to them.

use serde::{Deserialize, Serialize};

use crate::policy::{PermissionDef, RoleDef};
use crate::scope::Kind;

/// Seconds since the Unix epoch (UTC).
pub type Timestamp = i64;

/// A user known from the LMS, with the platform-wide flags that bypass assignments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub staff: bool,
    #[serde(default)]
    pub superuser: bool,
}

/// A role held by a subject at a scope, optionally for a time window `[valid_from, valid_until)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub subject: String,
    pub role: String,
    /// Canonical scope key (validated before it reaches the engine).
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
}

impl Assignment {
    pub fn new(subject: &str, role: &str, scope: &str) -> Assignment {
        Assignment {
            subject: subject.into(),
            role: role.into(),
            scope: scope.into(),
            valid_from: None,
            valid_until: None,
        }
    }

    pub fn valid_at(&self, at: Timestamp) -> bool {
        self.valid_from.is_none_or(|from| from <= at)
            && self.valid_until.is_none_or(|until| at < until)
    }
}

/// The identity of an assignment: one per (subject, role, scope).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AssignmentKey {
    pub subject: String,
    pub role: String,
    pub scope: String,
}

/// A scope whose parents cannot be read from its key (programs → orgs, batches → course).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeRegistration {
    pub scope: String,
    pub parents: Vec<String>,
}

/// One change to the policy; the audit log is a sequence of these, one per revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    AppPut {
        app: String,
        kind: Kind,
        /// The permission that manages the teams of this kind (`AppDef::manage`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        manage: Option<String>,
    },
    PermissionPut {
        permission: PermissionDef,
    },
    PermissionRemove {
        name: String,
    },
    RolePut {
        role: RoleDef,
    },
    RoleRemove {
        name: String,
    },
    UserPut {
        user: User,
    },
    /// Retirement: the user and all their assignments go.
    UserRemove {
        username: String,
    },
    AssignmentAdd {
        assignment: Assignment,
    },
    AssignmentRemove {
        subject: String,
        role: String,
        scope: String,
    },
    ScopeRegister {
        registration: ScopeRegistration,
    },
    ScopeRemove {
        scope: String,
    },
}

impl Change {
    /// Whether the change is to the policy (apps, permissions, roles) rather than to the facts.
    pub fn is_policy(&self) -> bool {
        matches!(
            self,
            Change::AppPut { .. }
                | Change::PermissionPut { .. }
                | Change::PermissionRemove { .. }
                | Change::RolePut { .. }
                | Change::RoleRemove { .. }
        )
    }

    /// The operation name, as stored in the audit log.
    pub fn op(&self) -> &'static str {
        match self {
            Change::AppPut { .. } => "app_put",
            Change::PermissionPut { .. } => "permission_put",
            Change::PermissionRemove { .. } => "permission_remove",
            Change::RolePut { .. } => "role_put",
            Change::RoleRemove { .. } => "role_remove",
            Change::UserPut { .. } => "user_put",
            Change::UserRemove { .. } => "user_remove",
            Change::AssignmentAdd { .. } => "assignment_add",
            Change::AssignmentRemove { .. } => "assignment_remove",
            Change::ScopeRegister { .. } => "scope_register",
            Change::ScopeRemove { .. } => "scope_remove",
        }
    }

    /// The subject a change is about, if any (for audit filters).
    pub fn subject(&self) -> Option<&str> {
        match self {
            Change::UserPut { user } => Some(&user.username),
            Change::UserRemove { username } => Some(username),
            Change::AssignmentAdd { assignment } => Some(&assignment.subject),
            Change::AssignmentRemove { subject, .. } => Some(subject),
            _ => None,
        }
    }

    /// The scope a change is about, if any (for audit filters).
    pub fn scope(&self) -> Option<&str> {
        match self {
            Change::AssignmentAdd { assignment } => Some(&assignment.scope),
            Change::AssignmentRemove { scope, .. } => Some(scope),
            Change::ScopeRegister { registration } => Some(&registration.scope),
            Change::ScopeRemove { scope } => Some(scope),
            _ => None,
        }
    }
}
