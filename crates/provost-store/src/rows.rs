//! Rows as both dialects read them, and their conversion to engine and store types.

use chrono::{DateTime, Utc};
use provost_engine::{AppDef, Assignment, Change, Kind, ScopeRegistration, User};

use crate::err::StoreError;
use crate::model::{AppEntry, AuditEntry};

/// An audit row; JSON columns are read as text on both backends.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub revision: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The app that appended the row; `None` for the engine's own changes.
    pub app: Option<String>,
    pub op: String,
    pub subject: Option<String>,
    pub scope: Option<String>,
    pub change: String,
    pub before: Option<String>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<AuditEntry, StoreError> {
        Ok(AuditEntry {
            revision: to_u64(row.revision)?,
            at: row.at,
            actor: row.actor,
            change: serde_json::from_str(&row.change)?,
            before: row
                .before
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?,
        })
    }
}

impl TryFrom<AuditRow> for AppEntry {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<AppEntry, StoreError> {
        let Some(app) = row.app else {
            return Err(StoreError::internal(format!(
                "audit row {} is the engine's, not an app's",
                row.revision
            )));
        };
        let after: serde_json::Value = serde_json::from_str(&row.change)?;
        Ok(AppEntry {
            revision: to_u64(row.revision)?,
            at: row.at,
            actor: row.actor,
            app,
            operation: row.op,
            subject: row.subject,
            scope: row.scope,
            after: (!after.is_null()).then_some(after),
            before: row
                .before
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?,
        })
    }
}

/// The query every assignment read starts from: the columns of `AssignmentRow`.
pub(crate) const ASSIGNMENT_COLUMNS: &str =
    "SELECT subject, role, scope, valid_from, valid_until FROM assignments";

#[derive(sqlx::FromRow)]
pub(crate) struct AssignmentRow {
    pub subject: String,
    pub role: String,
    pub scope: String,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
}

impl From<AssignmentRow> for Assignment {
    fn from(row: AssignmentRow) -> Assignment {
        Assignment {
            subject: row.subject,
            role: row.role,
            scope: row.scope,
            valid_from: row.valid_from,
            valid_until: row.valid_until,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub username: String,
    pub email: Option<String>,
    pub staff: bool,
    pub superuser: bool,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> User {
        User {
            username: row.username,
            email: row.email,
            staff: row.staff,
            superuser: row.superuser,
        }
    }
}

/// A row of one of the keyed tables (apps, permissions, roles, scopes): key and body as text.
#[derive(sqlx::FromRow)]
pub(crate) struct NamedRow {
    pub name: String,
    pub body: String,
}

/// Revisions are stored as signed 64-bit integers and are never negative.
pub(crate) fn to_u64(revision: i64) -> Result<u64, StoreError> {
    u64::try_from(revision)
        .map_err(|_| StoreError::internal(format!("negative revision {revision} in the audit log")))
}

/// Revisions, limits and offsets as the databases take them.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The small tables of a snapshot, in the order it lists them; assignments follow as a stream.
pub(crate) struct SnapshotRows {
    pub apps: Vec<NamedRow>,
    pub permissions: Vec<NamedRow>,
    pub roles: Vec<NamedRow>,
    pub users: Vec<UserRow>,
    pub scopes: Vec<NamedRow>,
}

impl SnapshotRows {
    /// These tables as changes that rebuild them: apps, permissions, roles, users, scopes.
    pub(crate) fn into_changes(self) -> Result<Vec<Change>, StoreError> {
        let mut changes = Vec::with_capacity(
            self.apps.len()
                + self.permissions.len()
                + self.roles.len()
                + self.users.len()
                + self.scopes.len(),
        );
        for row in self.apps {
            let def = parse_app(&row.name, &row.body)?;
            changes.push(Change::AppPut {
                app: row.name,
                kind: def.kind,
                manage: def.manage,
            });
        }
        for row in self.permissions {
            changes.push(Change::PermissionPut {
                permission: serde_json::from_str(&row.body)?,
            });
        }
        for row in self.roles {
            changes.push(Change::RolePut {
                role: serde_json::from_str(&row.body)?,
            });
        }
        changes.extend(
            self.users
                .into_iter()
                .map(|row| Change::UserPut { user: row.into() }),
        );
        for row in self.scopes {
            let registration = ScopeRegistration {
                scope: row.name,
                parents: serde_json::from_str(&row.body)?,
            };
            changes.push(Change::ScopeRegister { registration });
        }
        Ok(changes)
    }
}

/// An app row's `kind` column: the bare kind, or the entry as JSON when the app names a
/// manage permission (so rows written before apps could name one read as they are).
pub(crate) fn app_body(kind: Kind, manage: Option<&str>) -> String {
    match manage {
        None => kind.as_str().to_owned(),
        Some(manage) => serde_json::json!({ "kind": kind, "manage": manage }).to_string(),
    }
}

/// Reads an app row's `kind` column (`app_body`).
pub(crate) fn parse_app(app: &str, body: &str) -> Result<AppDef, StoreError> {
    let def = if body.starts_with('{') {
        serde_json::from_str::<AppDef>(body).ok()
    } else {
        Kind::parse(body).map(AppDef::from)
    };
    def.ok_or_else(|| StoreError::internal(format!("app `{app}` has unknown kind `{body}`")))
}
