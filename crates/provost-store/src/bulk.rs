//! Multi-row statements for the bulk parts of a commit (assignments and audit rows), written once
//! for both dialects: `QueryBuilder` numbers the placeholders each database's way.

use chrono::{DateTime, Utc};
use provost_engine::Assignment;
use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::err::StoreError;
use crate::model::{AppEntry, AuditEntry};
use crate::rows::{to_i64, ASSIGNMENT_COLUMNS};

/// Rows per statement: 9 parameters a row stays far below SQLite's 32 766 and PostgreSQL's 65 535.
pub(crate) const ROWS: usize = 1000;

/// An assignment's primary key: (subject, role, scope).
pub(crate) type Key<'a> = (&'a str, &'a str, &'a str);

/// `SELECT` of the assignments among `keys`.
pub(crate) fn find_assignments<'a, DB>(keys: &[Key<'a>]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(ASSIGNMENT_COLUMNS);
    query.push(" WHERE (subject, role, scope) IN ");
    push_keys(&mut query, keys);
    query
}

/// `DELETE` of the assignments among `keys`.
pub(crate) fn delete_assignments<'a, DB>(keys: &[Key<'a>]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new("DELETE FROM assignments WHERE (subject, role, scope) IN ");
    push_keys(&mut query, keys);
    query
}

/// `(VALUES (?, ?, ?), ...)`: row values work in `IN` on both databases.
fn push_keys<'a, DB>(query: &mut QueryBuilder<'a, DB>, keys: &[Key<'a>])
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    query.push("(");
    query.push_values(keys.iter().copied(), |mut row, (subject, role, scope)| {
        row.push_bind(subject).push_bind(role).push_bind(scope);
    });
    query.push(")");
}

/// `INSERT` of the rows linking `owner` to each of `members` in a two-column link table (at
/// most `ROWS` of them); `table` and its columns are the caller's constants, never input.
pub(crate) fn insert_links<'a, DB, T>(
    (table, owner_column, member_column): (&str, &str, &str),
    owner: &'a str,
    members: &'a [T],
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a T: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(format!(
        "INSERT INTO {table} ({owner_column}, {member_column}) "
    ));
    query.push_values(members, |mut row, member| {
        row.push_bind(owner).push_bind(member);
    });
    query
}

/// Upsert of `rows` (each key at most once): new windows replace old ones.
pub(crate) fn put_assignments<'a, DB>(rows: &[&'a Assignment]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    Option<i64>: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(
        "INSERT INTO assignments (subject, role, scope, valid_from, valid_until) ",
    );
    query.push_values(rows.iter().copied(), |mut row, a| {
        row.push_bind(a.subject.as_str())
            .push_bind(a.role.as_str())
            .push_bind(a.scope.as_str())
            .push_bind(a.valid_from)
            .push_bind(a.valid_until);
    });
    query.push(
        " ON CONFLICT (subject, role, scope) DO UPDATE SET \
         valid_from = excluded.valid_from, valid_until = excluded.valid_until",
    );
    query
}

/// An audit row with its JSON already written, so a statement can borrow it.
pub(crate) struct AuditValues<'a> {
    revision: i64,
    at: DateTime<Utc>,
    actor: &'a str,
    app: Option<&'a str>,
    op: &'a str,
    subject: Option<&'a str>,
    scope: Option<&'a str>,
    change: String,
    before: Option<String>,
}

impl<'a> AuditValues<'a> {
    pub(crate) fn of(entry: &'a AuditEntry) -> Result<AuditValues<'a>, StoreError> {
        Ok(AuditValues {
            revision: to_i64(entry.revision),
            at: entry.at,
            actor: &entry.actor,
            app: None,
            op: entry.change.op(),
            subject: entry.change.subject(),
            scope: entry.change.scope(),
            change: serde_json::to_string(&entry.change)?,
            before: entry
                .before
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        })
    }

    /// An app's row: `op` is its operation, `change` what it wrote (JSON `null` for nothing).
    pub(crate) fn of_app(entry: &'a AppEntry) -> Result<AuditValues<'a>, StoreError> {
        Ok(AuditValues {
            revision: to_i64(entry.revision),
            at: entry.at,
            actor: &entry.actor,
            app: Some(&entry.app),
            op: &entry.operation,
            subject: entry.subject.as_deref(),
            scope: entry.scope.as_deref(),
            change: serde_json::to_string(&entry.after)?,
            before: entry
                .before
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        })
    }
}

/// `INSERT` of audit rows; `json` is the cast the JSON columns need (`::JSONB` on PostgreSQL).
pub(crate) fn append_audit<'a, DB>(rows: &'a [AuditValues<'a>], json: &str) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    Option<&'a str>: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    DateTime<Utc>: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(
        "INSERT INTO audit (revision, at, actor, app, op, subject, scope, change, before) ",
    );
    query.push_values(rows, |mut row, r| {
        row.push_bind(r.revision)
            .push_bind(r.at)
            .push_bind(r.actor)
            .push_bind(r.app)
            .push_bind(r.op)
            .push_bind(r.subject)
            .push_bind(r.scope)
            .push_bind(r.change.as_str())
            .push_unseparated(json)
            .push_bind(r.before.as_deref())
            .push_unseparated(json);
    });
    query
}

/// `INSERT` of one audit row into the outbox, where app-only writes leave their rows until they
/// get a revision (`commit::flush_outbox`); `json` as in `append_audit`.
pub(crate) fn outbox_put<'a, DB>(r: &'a AuditValues<'a>, json: &str) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    Option<&'a str>: Encode<'a, DB> + Type<DB>,
    DateTime<Utc>: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(
        "INSERT INTO audit_outbox (at, actor, app, op, subject, scope, change, before) VALUES (",
    );
    let mut row = query.separated(", ");
    row.push_bind(r.at)
        .push_bind(r.actor)
        .push_bind(r.app)
        .push_bind(r.op)
        .push_bind(r.subject)
        .push_bind(r.scope)
        .push_bind(r.change.as_str())
        .push_unseparated(json)
        .push_bind(r.before.as_deref())
        .push_unseparated(json);
    query.push(")");
    query
}
