//! Errors of the engine: bad scope keys and policies that cannot compile.

use thiserror::Error;

/// A scope key that does not parse; `reason` names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid scope `{key}`: {reason}")]
pub struct KeyError {
    pub key: String,
    pub reason: String,
}

impl KeyError {
    pub(crate) fn new(key: &str, reason: String) -> KeyError {
        let mut key = key.to_owned();
        if key.len() > 80 {
            // Keep hostile input out of error messages and logs.
            let cut = (0..=80)
                .rev()
                .find(|i| key.is_char_boundary(*i))
                .unwrap_or(0);
            key.truncate(cut);
            key.push('…');
        }
        KeyError { key, reason }
    }

    pub fn code(&self) -> &'static str {
        "invalid_scope"
    }
}

/// A policy (file or change) that the engine refuses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("cannot read the policy file: {0}")]
    Syntax(String),
    #[error("invalid permission name `{0}`: expected `<app>.<verb>` in lowercase letters, digits and `_`")]
    BadPermissionName(String),
    #[error("invalid role name `{0}`: expected lowercase letters, digits and `_`")]
    BadRoleName(String),
    #[error("permission `{permission}` belongs to app `{app}`, which has no scope kind in [apps]")]
    UnknownApp { permission: String, app: String },
    #[error("unknown permission `{0}`")]
    UnknownPermission(String),
    #[error("unknown role `{0}`")]
    UnknownRole(String),
    #[error("`{0}` is defined twice")]
    Duplicate(String),
    #[error("implication cycle: {0}")]
    Cycle(String),
    #[error("unknown scope kind `{0}`")]
    UnknownKind(String),
    #[error("permission `{permission}` is still used by role `{role}`")]
    PermissionInUse { permission: String, role: String },
    #[error("role `{0}` is built in and cannot be changed at run time")]
    BuiltinRole(String),
    #[error(
        "app `{app}` names `{permission}` as the permission to manage its teams, but {reason}"
    )]
    ManagePermission {
        app: String,
        permission: String,
        reason: String,
    },
}

impl PolicyError {
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Syntax(_) => "invalid_policy",
            PolicyError::BadPermissionName(_) => "invalid_permission_name",
            PolicyError::BadRoleName(_) => "invalid_role_name",
            PolicyError::UnknownApp { .. } => "unknown_app",
            PolicyError::UnknownPermission(_) => "unknown_permission",
            PolicyError::UnknownRole(_) => "unknown_role",
            PolicyError::Duplicate(_) => "duplicate",
            PolicyError::Cycle(_) => "implication_cycle",
            PolicyError::UnknownKind(_) => "unknown_kind",
            PolicyError::PermissionInUse { .. } => "permission_in_use",
            PolicyError::BuiltinRole(_) => "builtin_role",
            PolicyError::ManagePermission { .. } => "invalid_manage_permission",
        }
    }
}
