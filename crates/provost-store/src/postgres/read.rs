//! PostgreSQL reads: the change feed, snapshots, assignment listings, the audit log, users.

use provost_engine::{Assignment, AssignmentKey, User};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::PgStore;
use crate::err::StoreError;
use crate::model::{AssignmentFilter, AuditEntry, AuditFilter, AuditRange};
use crate::rows::{
    audit_entries, to_i64, to_u64, AssignmentRow, AuditRow, NamedRow, SnapshotRows, UserRow,
    ASSIGNMENT_COLUMNS,
};
use crate::snapshot::{send, send_assignments, SnapshotSender};

const AUDIT_COLUMNS: &str =
    "SELECT revision, at, actor, change::TEXT AS change, before::TEXT AS before FROM audit";

impl PgStore {
    /// Audit rows with a revision above `revision`, ascending, at most `limit`.
    pub async fn changes_since(
        &self,
        revision: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<AuditRow> = sqlx::query_as(&format!(
            "{AUDIT_COLUMNS} WHERE revision > $1 ORDER BY revision LIMIT $2"
        ))
        .bind(to_i64(revision))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        audit_entries(rows)
    }

    /// The whole state, read in one REPEATABLE READ transaction (one consistent view) and sent
    /// on in batches as it is read; returns its revision. See `Store::snapshot_to`.
    pub async fn snapshot_to(&self, to: &SnapshotSender) -> Result<u64, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let revision = last_revision(&mut tx).await?;
        let rows = SnapshotRows {
            apps: named(
                &mut tx,
                "SELECT app AS name, kind AS body FROM apps ORDER BY pos, app",
            )
            .await?,
            permissions: named(
                &mut tx,
                "SELECT name, def::TEXT AS body FROM permissions ORDER BY pos, name",
            )
            .await?,
            roles: named(
                &mut tx,
                "SELECT name, def::TEXT AS body FROM roles ORDER BY pos, name",
            )
            .await?,
            users: sqlx::query_as(
                "SELECT username, email, staff, superuser FROM users ORDER BY username",
            )
            .fetch_all(&mut *tx)
            .await?,
            scopes: named(
                &mut tx,
                "SELECT scope AS name, parents::TEXT AS body FROM scopes ORDER BY pos, scope",
            )
            .await?,
        };
        send(to, rows.into_changes()?).await?;
        // The engine needs no order; sorting 10 M rows would dominate a cold start.
        send_assignments(
            sqlx::query_as::<_, AssignmentRow>(ASSIGNMENT_COLUMNS).fetch(&mut *tx),
            to,
        )
        .await?;
        tx.commit().await?;
        Ok(revision)
    }

    /// The highest revision in the audit log, 0 when it is empty.
    pub async fn revision(&self) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        last_revision(&mut conn).await
    }

    /// Assignments matching `filter`, ordered by (subject, role, scope), strictly after `after`.
    pub async fn assignments(
        &self,
        filter: &AssignmentFilter,
        after: Option<&AssignmentKey>,
        limit: u32,
    ) -> Result<Vec<Assignment>, StoreError> {
        let mut query = QueryBuilder::<Postgres>::new(ASSIGNMENT_COLUMNS);
        push_filter(&mut query, filter);
        if let Some(after) = after {
            query.push(" AND (subject, role, scope) > (");
            query.push_bind(after.subject.as_str()).push(", ");
            query.push_bind(after.role.as_str()).push(", ");
            query.push_bind(after.scope.as_str()).push(")");
        }
        query
            .push(" ORDER BY subject, role, scope LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<AssignmentRow> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Assignment::from).collect())
    }

    pub async fn count_assignments(&self, filter: &AssignmentFilter) -> Result<u64, StoreError> {
        let mut query = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM assignments");
        push_filter(&mut query, filter);
        let count: i64 = query.build_query_scalar().fetch_one(&self.pool).await?;
        to_u64(count)
    }

    /// Audit rows in `range` about the filter's subject and scope; see `Store::audit`.
    pub async fn audit(
        &self,
        filter: &AuditFilter,
        range: AuditRange,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut query = QueryBuilder::<Postgres>::new(AUDIT_COLUMNS);
        let order = match range {
            AuditRange::After(since) => {
                query.push(" WHERE revision > ").push_bind(to_i64(since));
                " ORDER BY revision LIMIT "
            }
            AuditRange::Before(before) => {
                query
                    .push(" WHERE revision < ")
                    .push_bind(before.map_or(i64::MAX, to_i64));
                " ORDER BY revision DESC LIMIT "
            }
        };
        if let Some(subject) = &filter.subject {
            query.push(" AND subject = ").push_bind(subject.as_str());
        }
        if let Some(scope) = &filter.scope {
            query.push(" AND scope = ").push_bind(scope.as_str());
        }
        query.push(order).push_bind(i64::from(limit));
        let rows: Vec<AuditRow> = query.build_query_as().fetch_all(&self.pool).await?;
        audit_entries(rows)
    }

    pub async fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT username, email, staff, superuser FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(User::from))
    }
}

async fn last_revision(conn: &mut PgConnection) -> Result<u64, StoreError> {
    let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(revision), 0)::BIGINT FROM audit")
        .fetch_one(conn)
        .await?;
    to_u64(last)
}

async fn named(conn: &mut PgConnection, sql: &str) -> Result<Vec<NamedRow>, StoreError> {
    Ok(sqlx::query_as(sql).fetch_all(conn).await?)
}

/// Appends `WHERE 1 = 1 AND ...` for each field the filter sets.
fn push_filter<'a>(query: &mut QueryBuilder<'a, Postgres>, filter: &'a AssignmentFilter) {
    query.push(" WHERE 1 = 1");
    for (column, value) in [
        ("subject", &filter.subject),
        ("role", &filter.role),
        ("scope", &filter.scope),
    ] {
        if let Some(value) = value {
            query
                .push(format_args!(" AND {column} = "))
                .push_bind(value.as_str());
        }
    }
}
