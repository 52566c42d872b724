//! The authz app's request and response shapes (what the OpenAPI document describes).

use chrono::{DateTime, Utc};
use provost_engine::{Because, Reason};
use provost_store::AuditEntry;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::roles::{PermissionView, RoleImpact, RoleView};
use super::service::{AssignmentInput, CheckAnswer};
use crate::extract::AtLeastRevision;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// Who is asking about; the caller when absent.
    pub subject: Option<String>,
    pub action: String,
    pub scope: String,
    /// Wait (bounded) until this node has applied this revision first.
    pub at_least_revision: Option<AtLeastRevision>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckQuery {
    /// Add `reason`, `message` and `because` to the answer.
    #[serde(default)]
    pub explain: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    pub allowed: bool,
    pub revision: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub because: Option<Vec<Because>>,
}

impl From<CheckAnswer> for CheckResponse {
    fn from(answer: CheckAnswer) -> Self {
        let (reason, message, because) = match answer.explanation {
            Some(e) => (Some(e.reason), Some(e.message), Some(e.because)),
            None => (None, None, None),
        };
        CheckResponse {
            allowed: answer.allowed,
            revision: answer.revision,
            reason,
            message,
            because,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub checks: Vec<BatchCheck>,
    pub at_least_revision: Option<AtLeastRevision>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchCheck {
    pub subject: Option<String>,
    pub action: String,
    pub scope: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// One per check, in the order asked.
    pub results: Vec<BatchResult>,
    pub revision: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub allowed: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssignmentsQuery {
    pub subject: Option<String>,
    pub role: Option<String>,
    pub scope: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size: 100 by default, at most 1000.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentPage {
    pub items: Vec<AssignmentInput>,
    /// Null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub assignments: Vec<AssignmentInput>,
    /// All or nothing: one bad item refuses the whole request.
    #[serde(default)]
    pub atomic: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    pub items: Vec<RoleView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleSaved {
    #[serde(flatten)]
    pub role: RoleView,
    pub revision: u64,
}

/// A custom role's new definition (`PUT /api/v1/roles/{name}`; the name is the path's).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    #[serde(default)]
    pub description: String,
    pub permissions: Vec<String>,
    #[serde(default)]
    pub org: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revision {
    pub revision: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImpactQuery {
    /// The proposed permissions, comma-separated (empty: the role would grant nothing).
    pub permissions: String,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImpactPage {
    #[serde(flatten)]
    pub impact: RoleImpact,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionList {
    pub items: Vec<PermissionView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubjectsQuery {
    pub action: String,
    pub scope: String,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
    pub at_least_revision: Option<AtLeastRevision>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScopesQuery {
    /// The caller when absent.
    pub subject: Option<String>,
    pub action: String,
    /// Only scopes of this kind (course, library, program, batch, enterprise, org, instance).
    pub kind: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
    pub at_least_revision: Option<AtLeastRevision>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NamePage {
    pub items: Vec<String>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    pub email: Option<String>,
    #[serde(default)]
    pub staff: bool,
    #[serde(default)]
    pub superuser: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserSaved {
    pub username: String,
    pub revision: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Read forward from this revision (exclusive), oldest first, as a change feed; without it,
    /// the newest changes come first.
    pub since: Option<u64>,
    pub subject: Option<String>,
    pub scope: Option<String>,
    /// The `next_cursor` of the previous page: the next page goes on in the same direction.
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditItem {
    pub revision: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `assignment_add`, `user_put`, `role_remove`, ...
    pub op: &'static str,
    #[schema(value_type = Object)]
    pub change: Value,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
}

impl From<AuditEntry> for AuditItem {
    fn from(e: AuditEntry) -> Self {
        AuditItem {
            revision: e.revision,
            at: e.at,
            actor: e.actor,
            op: e.change.op(),
            change: serde_json::to_value(&e.change).unwrap_or(Value::Null),
            before: e.before,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditItem>,
    pub next_cursor: Option<String>,
}

/// One question of the Open edX MFE: may I do `action` (at `scope`, or anywhere)?
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateItem {
    pub action: String,
    pub scope: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateResult {
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub allowed: bool,
}
