//! Provost's policy engine: scope keys, roles and permission closures, a compiled index, decisions.

mod ahead;
mod decide;
mod engine;
mod err;
mod explain;
mod index;
mod lookup;
mod model;
mod policy;
#[cfg(feature = "reference")]
pub mod reference;
mod scope;
mod shard;
mod subject;
pub mod suggest;
mod table;

pub use ahead::ReadAhead;
pub use decide::{Claims, Decision, ExtraGrant, Reason};
pub use engine::{policy_changes, policy_diff, Engine};
pub use err::{KeyError, PolicyError};
pub use explain::{Because, Explanation};
pub use index::Index;
pub use lookup::{ScopePage, WhoPage};
pub use model::{Assignment, AssignmentKey, Change, ScopeRegistration, Timestamp, User};
pub use policy::{
    app_of, valid_permission_name, valid_role_name, AppDef, PermSet, PermissionDef, Policy,
    PolicyDoc, RoleDef, RoleInfo, DEFAULT_POLICY,
};
pub use scope::{canonical_scope, Kind, Scope, MAX_KEY_LEN};
