//! The commit semantics, written once for both dialects: what each change does, its audit rows, its outcome.

use std::future::Future;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use provost_engine::{Assignment, Change, PermissionDef, RoleDef, ScopeRegistration, User};
use serde_json::{json, Value};

use crate::err::StoreError;
use crate::model::{AuditEntry, Committed, Outcome};

/// The keyed tables whose rows are one text or JSON body under a name.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Table {
    Apps,
    Permissions,
    Roles,
    Scopes,
}

impl Table {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Apps => "apps",
            Table::Permissions => "permissions",
            Table::Roles => "roles",
            Table::Scopes => "scopes",
        }
    }

    pub(crate) fn key(self) -> &'static str {
        match self {
            Table::Apps => "app",
            Table::Permissions | Table::Roles => "name",
            Table::Scopes => "scope",
        }
    }

    pub(crate) fn body(self) -> &'static str {
        match self {
            Table::Apps => "kind",
            Table::Permissions | Table::Roles => "def",
            Table::Scopes => "parents",
        }
    }

    /// Whether the body is JSON (JSONB on PostgreSQL) rather than plain text.
    pub(crate) fn json(self) -> bool {
        !matches!(self, Table::Apps)
    }
}

/// The row operations a write transaction offers; each dialect implements them on its connection,
/// inside a transaction that already holds the database's write lock.
pub(crate) trait WriteTx: Send {
    /// The highest revision in the audit log, 0 when it is empty.
    fn last_revision(&mut self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    fn get_named(
        &mut self,
        table: Table,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Inserts or updates; `pos` (the creating revision, for a stable order) is kept on update.
    fn put_named(
        &mut self,
        table: Table,
        name: &str,
        body: &str,
        pos: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn delete_named(
        &mut self,
        table: Table,
        name: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn get_user(
        &mut self,
        username: &str,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    fn put_user(&mut self, user: &User) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn delete_user(
        &mut self,
        username: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn get_assignment(
        &mut self,
        subject: &str,
        role: &str,
        scope: &str,
    ) -> impl Future<Output = Result<Option<Assignment>, StoreError>> + Send;
    /// Inserts or replaces the window of the assignment with the same (subject, role, scope).
    fn put_assignment(
        &mut self,
        assignment: &Assignment,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn delete_assignment(
        &mut self,
        subject: &str,
        role: &str,
        scope: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every assignment of a subject or of a role, ordered by (subject, role, scope).
    fn assignments_of(
        &mut self,
        by: Of<'_>,
    ) -> impl Future<Output = Result<Vec<Assignment>, StoreError>> + Send;
    fn append(&mut self, entry: &AuditEntry)
        -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Whose assignments `WriteTx::assignments_of` lists.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Of<'a> {
    Subject(&'a str),
    Role(&'a str),
}

/// Applies `changes` in one transaction, appending one audit row per change that alters the state.
pub(crate) async fn apply<T: WriteTx>(
    tx: &mut T,
    actor: &str,
    changes: &[Change],
) -> Result<Committed, StoreError> {
    let revision = tx.last_revision().await?;
    let mut log = Log {
        tx,
        actor,
        // PostgreSQL keeps microseconds; so do we, so that what we return is what is read back.
        at: Utc::now().trunc_subsecs(6),
        revision,
        entries: Vec::new(),
    };
    let mut outcomes = Vec::with_capacity(changes.len());
    for change in changes {
        let applied = log.change(change).await?;
        outcomes.push(if applied {
            Outcome::Applied {
                revision: log.revision,
            }
        } else {
            Outcome::Unchanged
        });
    }
    Ok(Committed {
        revision: log.revision,
        outcomes,
        entries: log.entries,
    })
}

struct Log<'t, 'a, T> {
    tx: &'t mut T,
    actor: &'a str,
    at: chrono::DateTime<Utc>,
    /// The last revision written (or found).
    revision: u64,
    entries: Vec<AuditEntry>,
}

impl<T: WriteTx> Log<'_, '_, T> {
    fn next(&self) -> u64 {
        self.revision + 1
    }

    async fn append(&mut self, change: Change, before: Option<Value>) -> Result<(), StoreError> {
        let entry = AuditEntry {
            revision: self.next(),
            at: self.at,
            actor: self.actor.to_owned(),
            change,
            before,
        };
        self.tx.append(&entry).await?;
        self.revision = entry.revision;
        self.entries.push(entry);
        Ok(())
    }

    /// Applies one change; `true` when it altered the state (and so appended at least one row).
    async fn change(&mut self, change: &Change) -> Result<bool, StoreError> {
        match change {
            Change::AppPut { app, kind } => {
                let old = self.tx.get_named(Table::Apps, app).await?;
                if old.as_deref() == Some(kind.as_str()) {
                    return Ok(false);
                }
                self.tx
                    .put_named(Table::Apps, app, kind.as_str(), self.next())
                    .await?;
                let before = old.map(|old| json!({ "app": app, "kind": old }));
                self.append(change.clone(), before).await?;
            }
            Change::PermissionPut { permission } => {
                let old: Option<PermissionDef> =
                    self.get_json(Table::Permissions, &permission.name).await?;
                if old.as_ref() == Some(permission) {
                    return Ok(false);
                }
                let body = serde_json::to_string(permission)?;
                self.tx
                    .put_named(Table::Permissions, &permission.name, &body, self.next())
                    .await?;
                self.append(change.clone(), to_value(old.as_ref())?).await?;
            }
            Change::RolePut { role } => {
                let old: Option<RoleDef> = self.get_json(Table::Roles, &role.name).await?;
                if old.as_ref() == Some(role) {
                    return Ok(false);
                }
                let body = serde_json::to_string(role)?;
                self.tx
                    .put_named(Table::Roles, &role.name, &body, self.next())
                    .await?;
                self.append(change.clone(), to_value(old.as_ref())?).await?;
            }
            Change::PermissionRemove { name } => {
                let Some(old) = self
                    .get_json::<PermissionDef>(Table::Permissions, name)
                    .await?
                else {
                    return Ok(false);
                };
                self.tx.delete_named(Table::Permissions, name).await?;
                self.append(change.clone(), to_value(Some(&old))?).await?;
            }
            Change::RoleRemove { name } => {
                let removed = self.remove_assignments(Of::Role(name)).await?;
                let old: Option<RoleDef> = self.get_json(Table::Roles, name).await?;
                if old.is_none() && removed == 0 {
                    return Ok(false);
                }
                self.tx.delete_named(Table::Roles, name).await?;
                self.append(change.clone(), to_value(old.as_ref())?).await?;
            }
            Change::UserPut { user } => {
                let old = self.tx.get_user(&user.username).await?;
                if old.as_ref() == Some(user) {
                    return Ok(false);
                }
                self.tx.put_user(user).await?;
                self.append(change.clone(), to_value(old.as_ref())?).await?;
            }
            Change::UserRemove { username } => {
                let removed = self.remove_assignments(Of::Subject(username)).await?;
                let old = self.tx.get_user(username).await?;
                if old.is_none() && removed == 0 {
                    return Ok(false);
                }
                self.tx.delete_user(username).await?;
                self.append(change.clone(), to_value(old.as_ref())?).await?;
            }
            Change::AssignmentAdd { assignment: a } => {
                let old = self
                    .tx
                    .get_assignment(&a.subject, &a.role, &a.scope)
                    .await?;
                if old.as_ref() == Some(a) {
                    return Ok(false);
                }
                self.tx.put_assignment(a).await?;
                self.append(change.clone(), to_value(old.as_ref())?).await?;
            }
            Change::AssignmentRemove {
                subject,
                role,
                scope,
            } => {
                let Some(old) = self.tx.get_assignment(subject, role, scope).await? else {
                    return Ok(false);
                };
                self.tx.delete_assignment(subject, role, scope).await?;
                self.append(change.clone(), to_value(Some(&old))?).await?;
            }
            Change::ScopeRegister { registration } => {
                let old: Option<Vec<String>> =
                    self.get_json(Table::Scopes, &registration.scope).await?;
                if old.as_ref() == Some(&registration.parents) {
                    return Ok(false);
                }
                let body = serde_json::to_string(&registration.parents)?;
                self.tx
                    .put_named(Table::Scopes, &registration.scope, &body, self.next())
                    .await?;
                let before = old.map(|parents| ScopeRegistration {
                    scope: registration.scope.clone(),
                    parents,
                });
                self.append(change.clone(), to_value(before.as_ref())?)
                    .await?;
            }
            Change::ScopeRemove { scope } => {
                let Some(parents) = self.get_json::<Vec<String>>(Table::Scopes, scope).await?
                else {
                    return Ok(false);
                };
                self.tx.delete_named(Table::Scopes, scope).await?;
                let before = ScopeRegistration {
                    scope: scope.clone(),
                    parents,
                };
                self.append(change.clone(), to_value(Some(&before))?)
                    .await?;
            }
        }
        Ok(true)
    }

    /// Removes every assignment of a subject or role, each audited as its own `assignment_remove`.
    async fn remove_assignments(&mut self, of: Of<'_>) -> Result<usize, StoreError> {
        let doomed = self.tx.assignments_of(of).await?;
        for a in &doomed {
            self.tx
                .delete_assignment(&a.subject, &a.role, &a.scope)
                .await?;
            let change = Change::AssignmentRemove {
                subject: a.subject.clone(),
                role: a.role.clone(),
                scope: a.scope.clone(),
            };
            self.append(change, to_value(Some(a))?).await?;
        }
        Ok(doomed.len())
    }

    async fn get_json<D: serde::de::DeserializeOwned>(
        &mut self,
        table: Table,
        name: &str,
    ) -> Result<Option<D>, StoreError> {
        match self.tx.get_named(table, name).await? {
            Some(body) => Ok(Some(serde_json::from_str(&body)?)),
            None => Ok(None),
        }
    }
}

fn to_value<S: serde::Serialize>(value: Option<&S>) -> Result<Option<Value>, StoreError> {
    value
        .map(serde_json::to_value)
        .transpose()
        .map_err(StoreError::internal)
}

/// Runs a write transaction again, with a growing pause, while it fails with `busy`.
pub(crate) async fn retrying<F, Fut, R>(mut attempt: F) -> Result<R, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<R, StoreError>>,
{
    const ATTEMPTS: u32 = 5;
    let mut pause = Duration::from_millis(10);
    for _ in 1..ATTEMPTS {
        match attempt().await {
            Err(e) if e.is_busy() => {
                tracing::debug!(error = %e, "write transaction busy, retrying");
                tokio::time::sleep(pause).await;
                pause *= 3;
            }
            other => return other,
        }
    }
    attempt().await
}
