//! Policy definitions (apps, permissions, roles) and their compiled form with closures.

mod compile;
mod doc;
#[cfg(test)]
mod tests;

pub use compile::{app_of, PermId, PermSet, Policy, RoleId, RoleInfo};
pub use doc::{
    valid_permission_name, valid_role_name, AppDef, PermissionDef, PolicyDoc, RoleDef,
    DEFAULT_POLICY,
};
