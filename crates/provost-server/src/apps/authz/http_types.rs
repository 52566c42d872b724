//! The authz app's request and response shapes (what the OpenAPI document describes).

use chrono::{DateTime, Utc};
use provost_engine::{Because, Reason};
use provost_store::LogEntry;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::roles::{PermissionView, RoleImpact, RoleView};
use super::service::{AssignmentInput, CheckAnswer};
use crate::extract::AtLeastRevision;
use crate::openapi::key_type;

// The keys the server validates, as named schemas: each request field the server checks refers
// to one, so the document states each rule once, as the server applies it.

key_type!(
    ScopeKey,
    "A scope key: `*`, `org:ORG`, `course-v1:ORG+COURSE+RUN`, `lib:ORG:SLUG`, `program:KEY`, `batch:ID`, \
     `enterprise:UUID`, or a glob `course-v1:*`, `course-v1:ORG+*`, `lib:*`, `lib:ORG:*`.",
    r"^(\*|org:[A-Za-z0-9._-]+|course-v1:(\*|[A-Za-z0-9._-]+\+(\*|[A-Za-z0-9._~-]+\+[A-Za-z0-9._~-]+))|lib:(\*|[A-Za-z0-9._-]+:(\*|[A-Za-z0-9._-]+))|(program|batch):[A-Za-z0-9._-]+|enterprise:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$",
    1,
    255
);
key_type!(
    Username,
    "A username: 1-150 letters, digits or `@ . _ + - :`.",
    r"^[A-Za-z0-9@._+:-]+$",
    1,
    150
);
key_type!(
    RoleName,
    "A role name: a lowercase letter, then lowercase letters, digits and `_`.",
    r"^[a-z][a-z0-9_]*$",
    1,
    100
);
key_type!(
    PermissionName,
    "A permission name, `<app>.<verb>`, each part like a role name.",
    r"^[a-z][a-z0-9_]{0,99}\.[a-z][a-z0-9_]{0,99}$",
    3,
    201
);
key_type!(
    OrgName,
    "An org name (what follows `org:`).",
    r"^[A-Za-z0-9._-]+$",
    1,
    251
);
key_type!(
    Email,
    "An email address: at most 254 characters, with an `@`.",
    "@",
    1,
    254
);

/// The kinds of scope.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ScopeKind {
    Instance,
    Org,
    Course,
    Library,
    Program,
    Batch,
    Enterprise,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// Who is asking about; the caller when absent.
    pub subject: Option<String>,
    pub action: String,
    #[schema(value_type = ScopeKey)]
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
    /// With `reason: role_lacks_action`: roles that would grant the action there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_grant: Option<Vec<String>>,
}

impl From<CheckAnswer> for CheckResponse {
    fn from(answer: CheckAnswer) -> Self {
        let (reason, message, because, would_grant) = match answer.explanation {
            Some(e) => {
                let would = (!e.would_grant.is_empty()).then_some(e.would_grant);
                (Some(e.reason), Some(e.message), Some(e.because), would)
            }
            None => (None, None, None, None),
        };
        CheckResponse {
            allowed: answer.allowed,
            revision: answer.revision,
            reason,
            message,
            because,
            would_grant,
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
    #[schema(value_type = ScopeKey)]
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
    #[param(value_type = Option<ScopeKey>)]
    pub scope: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size: 100 by default, at most 1000.
    #[param(minimum = 1, maximum = 1000)]
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
    #[schema(min_items = 1)]
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
    #[schema(max_length = 1000)]
    pub description: String,
    #[schema(value_type = Vec<PermissionName>)]
    pub permissions: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Option<OrgName>)]
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
    #[param(minimum = 1, maximum = 1000)]
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
    #[param(value_type = ScopeKey)]
    pub scope: String,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
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
    /// Only scopes of this kind.
    #[param(value_type = Option<ScopeKind>)]
    pub kind: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    pub at_least_revision: Option<AtLeastRevision>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NamePage {
    pub items: Vec<String>,
    pub next_cursor: Option<String>,
}

/// Read only from a JSON object (never from an array, which serde would otherwise take for a
/// struct's fields in order): through `UserFields`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(
    deny_unknown_fields,
    try_from = "serde_json::Map<String, serde_json::Value>"
)]
pub struct UserBody {
    /// Absent: keep the stored email; `null`: clear it.
    #[schema(value_type = Option<Email>)]
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    /// Platform staff. Absent: keep the stored value (false for a new user).
    #[serde(default)]
    pub staff: Option<bool>,
    /// Superuser. Absent: keep the stored value (false for a new user).
    #[serde(default)]
    pub superuser: Option<bool>,
}

/// `UserBody`'s fields, as an object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFields {
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    #[serde(default)]
    staff: Option<bool>,
    #[serde(default)]
    superuser: Option<bool>,
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for UserBody {
    type Error = serde_json::Error;

    fn try_from(map: serde_json::Map<String, serde_json::Value>) -> Result<Self, Self::Error> {
        let f: UserFields = serde_json::from_value(serde_json::Value::Object(map))?;
        Ok(UserBody {
            email: f.email,
            staff: f.staff,
            superuser: f.superuser,
        })
    }
}

/// A field that is present, even as `null` (`Some(None)`), as opposed to absent (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
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
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub since: Option<u64>,
    pub subject: Option<String>,
    #[param(value_type = Option<ScopeKey>)]
    pub scope: Option<String>,
    /// The `next_cursor` of the previous page: the next page goes on in the same direction.
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// One entry of the audit log: an engine change (`op` and `change`), or an operation an app did
/// on its own data (`app` set, `op` its operation, `change` what it wrote).
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditItem {
    pub revision: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The app that wrote the entry, e.g. `batches`; absent on the engine's changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// `assignment_add`, `user_put`, `role_remove`, ...; an app's own operation, e.g. `batch_rename`.
    pub op: String,
    /// Whom and where an app's entry concerns (an engine change names them in `change`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The engine's change; for an app's entry, what it wrote (`{}` when nothing).
    #[schema(value_type = Object)]
    pub change: Value,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
}

impl From<LogEntry> for AuditItem {
    fn from(e: LogEntry) -> Self {
        match e {
            LogEntry::Engine(e) => AuditItem {
                revision: e.revision,
                at: e.at,
                actor: e.actor,
                app: None,
                op: e.change.op().to_owned(),
                subject: None,
                scope: None,
                change: serde_json::to_value(&e.change).unwrap_or(Value::Null),
                before: e.before,
            },
            LogEntry::App(e) => AuditItem {
                revision: e.revision,
                at: e.at,
                actor: e.actor,
                app: Some(e.app),
                op: e.operation,
                subject: e.subject,
                scope: e.scope,
                change: e.after.unwrap_or_else(|| Value::Object(Default::default())),
                before: e.before,
            },
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
