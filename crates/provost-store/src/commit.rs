//! The commit semantics, written once for both dialects: what each change does, its audit rows, its outcome.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use provost_engine::{Assignment, Change, PermissionDef, RoleDef, ScopeRegistration, User};
use serde_json::{json, Value};

use crate::bulk::{AuditValues, Key, ROWS};
use crate::err::StoreError;
use crate::model::{AppAudit, AppEntry, AuditEntry, Outcome};
use crate::rows::AuditRow;

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
    /// The assignments among `keys` (at most `bulk::ROWS` of them).
    fn find_assignments(
        &mut self,
        keys: &[Key<'_>],
    ) -> impl Future<Output = Result<Vec<Assignment>, StoreError>> + Send;
    /// Inserts `rows`, or replaces the windows of those already there (at most `bulk::ROWS`).
    fn put_assignments(
        &mut self,
        rows: &[&Assignment],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn delete_assignments(
        &mut self,
        keys: &[Key<'_>],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every assignment of a subject or of a role, ordered by (subject, role, scope).
    fn assignments_of(
        &mut self,
        by: Of<'_>,
    ) -> impl Future<Output = Result<Vec<Assignment>, StoreError>> + Send;
    /// The role named `name` as stored, if there is one.
    fn role(
        &mut self,
        name: &str,
    ) -> impl Future<Output = Result<Option<RoleDef>, StoreError>> + Send;
    /// The distinct scopes where `role` is assigned, sorted by bytes on both dialects.
    fn role_scopes(
        &mut self,
        role: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    /// Appends audit rows (at most `bulk::ROWS`).
    fn append(
        &mut self,
        rows: &[AuditValues<'_>],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Puts an app-only write's audit row in the outbox (its revision is left out).
    fn outbox_put(
        &mut self,
        row: &AuditValues<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Takes every committed row out of the outbox, each with its id as `revision`, in no order.
    fn outbox_take(&mut self) -> impl Future<Output = Result<Vec<AuditRow>, StoreError>> + Send;
}

/// Whose assignments `WriteTx::assignments_of` lists.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Of<'a> {
    Subject(&'a str),
    Role(&'a str),
}

/// What a write transaction has appended so far, carried from one `Tx` call to the next.
pub(crate) struct Pending {
    pub(crate) actor: String,
    pub(crate) at: DateTime<Utc>,
    /// The last revision handed out (or found when the transaction began).
    pub(crate) revision: u64,
    pub(crate) entries: Vec<AuditEntry>,
    pub(crate) app_entries: Vec<AppEntry>,
    /// How many rows of app-only writes it moved from the outbox into the log.
    pub(crate) flushed: usize,
}

impl Pending {
    /// Starts numbering after the log's last revision; `tx` already holds the write lock. First
    /// it moves the audit rows that app-only writes committed meanwhile into the log, so they
    /// come before this write's own.
    pub(crate) async fn begin<T: WriteTx>(tx: &mut T, actor: &str) -> Result<Pending, StoreError> {
        let mut pending = Pending {
            actor: actor.to_owned(),
            at: now(),
            revision: tx.last_revision().await?,
            entries: Vec::new(),
            app_entries: Vec::new(),
            flushed: 0,
        };
        flush_outbox(tx, &mut pending).await?;
        Ok(pending)
    }
}

/// The time of a write. PostgreSQL keeps microseconds; so do we, so that what we return is
/// what is read back.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Moves every committed row of the outbox into the audit log at the next revisions, lowest id
/// first, keeping each row's time and actor; `tx` holds the write lock.
async fn flush_outbox<T: WriteTx>(tx: &mut T, pending: &mut Pending) -> Result<(), StoreError> {
    let mut rows = tx.outbox_take().await?;
    if rows.is_empty() {
        return Ok(());
    }
    rows.sort_unstable_by_key(|row| row.revision);
    let entries = rows
        .into_iter()
        .zip(pending.revision + 1..)
        .map(|(row, revision)| {
            AppEntry::try_from(AuditRow {
                revision: crate::rows::to_i64(revision),
                ..row
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for chunk in entries.chunks(ROWS) {
        let values = chunk
            .iter()
            .map(AuditValues::of_app)
            .collect::<Result<Vec<_>, _>>()?;
        tx.append(&values).await?;
    }
    pending.revision += entries.len() as u64;
    pending.flushed += entries.len();
    Ok(())
}

/// Puts an app-only write's audit row in the outbox, where it waits for its revision.
pub(crate) async fn outbox<T: WriteTx>(
    tx: &mut T,
    actor: &str,
    at: DateTime<Utc>,
    audit: AppAudit,
) -> Result<(), StoreError> {
    let entry = AppEntry {
        revision: 0,
        at,
        actor: actor.to_owned(),
        app: audit.app,
        operation: audit.operation,
        subject: audit.subject,
        scope: audit.scope,
        after: audit.after,
        before: audit.before,
    };
    tx.outbox_put(&AuditValues::of_app(&entry)?).await
}

/// Applies `changes`, appending one audit row per change that alters the state.
pub(crate) async fn apply<T: WriteTx>(
    tx: &mut T,
    pending: &mut Pending,
    changes: &[Change],
) -> Result<Vec<Outcome>, StoreError> {
    let mut log = Log {
        tx,
        actor: &pending.actor,
        at: pending.at,
        revision: pending.revision,
        entries: Vec::new(),
    };
    let mut outcomes = Vec::with_capacity(changes.len());
    let mut rest = changes;
    while !rest.is_empty() {
        let run = rest.iter().take_while(|c| is_assignment(c)).count();
        if run > 0 {
            let (now, later) = rest.split_at(run);
            outcomes.extend(log.assignments(now).await?.into_iter().map(outcome));
            rest = later;
        } else {
            let applied = log.change(&rest[0]).await?;
            outcomes.push(outcome(applied.then_some(log.revision)));
            rest = &rest[1..];
        }
    }
    let Log {
        tx,
        entries,
        revision,
        ..
    } = log;
    for chunk in entries.chunks(ROWS) {
        let rows = chunk
            .iter()
            .map(AuditValues::of)
            .collect::<Result<Vec<_>, _>>()?;
        tx.append(&rows).await?;
    }
    pending.revision = revision;
    pending.entries.extend(entries);
    Ok(outcomes)
}

/// Appends an app's audit row at the next revision; returns that revision.
pub(crate) async fn audit<T: WriteTx>(
    tx: &mut T,
    pending: &mut Pending,
    audit: AppAudit,
) -> Result<u64, StoreError> {
    let entry = AppEntry {
        revision: pending.revision + 1,
        at: pending.at,
        actor: pending.actor.clone(),
        app: audit.app,
        operation: audit.operation,
        subject: audit.subject,
        scope: audit.scope,
        after: audit.after,
        before: audit.before,
    };
    tx.append(&[AuditValues::of_app(&entry)?]).await?;
    pending.revision = entry.revision;
    pending.app_entries.push(entry);
    Ok(pending.revision)
}

fn outcome(revision: Option<u64>) -> Outcome {
    match revision {
        Some(revision) => Outcome::Applied { revision },
        None => Outcome::Unchanged,
    }
}

fn is_assignment(change: &Change) -> bool {
    matches!(
        change,
        Change::AssignmentAdd { .. } | Change::AssignmentRemove { .. }
    )
}

fn key_of(change: &Change) -> Option<Key<'_>> {
    match change {
        Change::AssignmentAdd { assignment: a } => Some((&a.subject, &a.role, &a.scope)),
        Change::AssignmentRemove {
            subject,
            role,
            scope,
        } => Some((subject, role, scope)),
        _ => None,
    }
}

/// The audit rows of a commit, numbered as they are decided and written together at the end.
struct Log<'t, 'a, T> {
    tx: &'t mut T,
    actor: &'a str,
    at: DateTime<Utc>,
    /// The last revision handed out (or found).
    revision: u64,
    entries: Vec<AuditEntry>,
}

impl<T: WriteTx> Log<'_, '_, T> {
    fn next(&self) -> u64 {
        self.revision + 1
    }

    fn append(&mut self, change: Change, before: Option<Value>) {
        self.revision = self.next();
        self.entries.push(AuditEntry {
            revision: self.revision,
            at: self.at,
            actor: self.actor.to_owned(),
            change,
            before,
        });
    }

    /// A run of assignment changes (imports, fills, bulk requests), read and written
    /// `bulk::ROWS` rows per statement instead of a few statements per change. Returns each
    /// change's revision, None where it changed nothing.
    async fn assignments(&mut self, run: &[Change]) -> Result<Vec<Option<u64>>, StoreError> {
        let mut keys: Vec<Key<'_>> = run.iter().filter_map(key_of).collect();
        keys.sort_unstable();
        keys.dedup();
        // What the database holds for each key, then what the run leaves there.
        let mut state: Vec<Option<Assignment>> = vec![None; keys.len()];
        for chunk in keys.chunks(ROWS) {
            for found in self.tx.find_assignments(chunk).await? {
                let at = keys.binary_search(&(&found.subject, &found.role, &found.scope));
                if let Ok(i) = at {
                    state[i] = Some(found);
                }
            }
        }
        let mut touched = vec![false; keys.len()];
        let mut revisions = Vec::with_capacity(run.len());
        for change in run {
            let i = key_of(change)
                .and_then(|key| keys.binary_search(&key).ok())
                .expect("a run holds assignment changes only, and every key was collected");
            let applied = match change {
                Change::AssignmentAdd { assignment } if state[i].as_ref() != Some(assignment) => {
                    let old = state[i].replace(assignment.clone());
                    self.append(change.clone(), to_value(old.as_ref())?);
                    true
                }
                Change::AssignmentRemove { .. } => match state[i].take() {
                    Some(old) => {
                        self.append(change.clone(), to_value(Some(&old))?);
                        true
                    }
                    None => false,
                },
                _ => false,
            };
            touched[i] |= applied;
            revisions.push(applied.then_some(self.revision));
        }
        let mut puts = Vec::new();
        let mut gone = Vec::new();
        for (i, key) in keys.iter().enumerate().filter(|(i, _)| touched[*i]) {
            match &state[i] {
                Some(a) => puts.push(a),
                None => gone.push(*key),
            }
        }
        for chunk in gone.chunks(ROWS) {
            self.tx.delete_assignments(chunk).await?;
        }
        for chunk in puts.chunks(ROWS) {
            self.tx.put_assignments(chunk).await?;
        }
        Ok(revisions)
    }

    /// Applies one change; `true` when it altered the state (and so appended at least one row).
    async fn change(&mut self, change: &Change) -> Result<bool, StoreError> {
        match change {
            Change::AppPut { app, kind, manage } => {
                let body = crate::rows::app_body(*kind, manage.as_deref());
                let old = self.tx.get_named(Table::Apps, app).await?;
                if old.as_deref() == Some(body.as_str()) {
                    return Ok(false);
                }
                self.tx
                    .put_named(Table::Apps, app, &body, self.next())
                    .await?;
                let before = match old {
                    Some(old) => {
                        let def = crate::rows::parse_app(app, &old)?;
                        let mut before = json!({ "app": app, "kind": def.kind });
                        if let Some(manage) = def.manage {
                            before["manage"] = json!(manage);
                        }
                        Some(before)
                    }
                    None => None,
                };
                self.append(change.clone(), before);
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
                self.append(change.clone(), to_value(old.as_ref())?);
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
                self.append(change.clone(), to_value(old.as_ref())?);
            }
            Change::PermissionRemove { name } => {
                let Some(old) = self
                    .get_json::<PermissionDef>(Table::Permissions, name)
                    .await?
                else {
                    return Ok(false);
                };
                self.tx.delete_named(Table::Permissions, name).await?;
                self.append(change.clone(), to_value(Some(&old))?);
            }
            Change::RoleRemove { name } => {
                let removed = self.remove_assignments(Of::Role(name)).await?;
                let old: Option<RoleDef> = self.get_json(Table::Roles, name).await?;
                if old.is_none() && removed == 0 {
                    return Ok(false);
                }
                self.tx.delete_named(Table::Roles, name).await?;
                self.append(change.clone(), to_value(old.as_ref())?);
            }
            Change::UserPut { user } => {
                let old = self.tx.get_user(&user.username).await?;
                if old.as_ref() == Some(user) {
                    return Ok(false);
                }
                self.tx.put_user(user).await?;
                self.append(change.clone(), to_value(old.as_ref())?);
            }
            Change::UserRemove { username } => {
                let removed = self.remove_assignments(Of::Subject(username)).await?;
                let old = self.tx.get_user(username).await?;
                if old.is_none() && removed == 0 {
                    return Ok(false);
                }
                self.tx.delete_user(username).await?;
                self.append(change.clone(), to_value(old.as_ref())?);
            }
            Change::AssignmentAdd { .. } | Change::AssignmentRemove { .. } => {
                let revisions = self.assignments(std::slice::from_ref(change)).await?;
                return Ok(revisions.first().is_some_and(Option::is_some));
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
                self.append(change.clone(), to_value(before.as_ref())?);
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
                self.append(change.clone(), to_value(Some(&before))?);
            }
        }
        Ok(true)
    }

    /// Removes every assignment of a subject or role, each audited as its own `assignment_remove`.
    async fn remove_assignments(&mut self, of: Of<'_>) -> Result<usize, StoreError> {
        let doomed = self.tx.assignments_of(of).await?;
        let keys: Vec<Key<'_>> = doomed
            .iter()
            .map(|a| (a.subject.as_str(), a.role.as_str(), a.scope.as_str()))
            .collect();
        for chunk in keys.chunks(ROWS) {
            self.tx.delete_assignments(chunk).await?;
        }
        for a in &doomed {
            let change = Change::AssignmentRemove {
                subject: a.subject.clone(),
                role: a.role.clone(),
                scope: a.scope.clone(),
            };
            self.append(change, to_value(Some(a))?);
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
