//! SQLite reads: the change feed, snapshots, assignment listings, the audit log, users.

use provost_engine::{Assignment, AssignmentKey, User};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::SqliteStore;
use crate::audit::{audit_query, Which};
use crate::err::StoreError;
use crate::model::{AssignmentFilter, AuditRange};
use crate::rows::{
    to_u64, AssignmentRow, AuditRow, NamedRow, SnapshotRows, UserRow, ASSIGNMENT_COLUMNS,
};
use crate::snapshot::{assignments_from_json, send, SnapshotSender, SNAPSHOT_BATCH};

const AUDIT_COLUMNS: &str =
    "SELECT revision, at, actor, app, op, subject, scope, change, before FROM audit";

impl SqliteStore {
    /// The audit rows `which` selects in `range`, at most `limit`; see `Store::audit`.
    pub(crate) async fn audit_rows(
        &self,
        which: Which<'_>,
        range: AuditRange,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        Ok(audit_query::<Sqlite>(AUDIT_COLUMNS, which, range, limit)
            .build_query_as()
            .fetch_all(&self.pool)
            .await?)
    }

    /// The whole state, read in one transaction (WAL gives it one consistent view) and sent on
    /// in batches as it is read; returns its revision. See `Store::snapshot_to`.
    pub async fn snapshot_to(&self, to: &SnapshotSender) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let revision = last_revision(&mut tx).await?;
        let rows = SnapshotRows {
            apps: named(
                &mut tx,
                "SELECT app AS name, kind AS body FROM apps ORDER BY pos, app",
            )
            .await?,
            permissions: named(
                &mut tx,
                "SELECT name, def AS body FROM permissions ORDER BY pos, name",
            )
            .await?,
            roles: named(
                &mut tx,
                "SELECT name, def AS body FROM roles ORDER BY pos, name",
            )
            .await?,
            users: sqlx::query_as(
                "SELECT username, email, staff, superuser FROM users ORDER BY username",
            )
            .fetch_all(&mut *tx)
            .await?,
            scopes: named(
                &mut tx,
                "SELECT scope AS name, parents AS body FROM scopes ORDER BY pos, scope",
            )
            .await?,
        };
        send(to, rows.into_changes()?).await?;
        // Assignments a page at a time, each page one JSON array built by SQLite: sqlx hands
        // rows over from SQLite's worker thread one by one, which cost more than building the
        // index (cold start of 1 M: 4.7 s row by row, 1.7 s by pages). Pages follow rowid, so
        // nothing is sorted.
        let mut after = 0_i64;
        loop {
            let page: (Option<String>, Option<i64>) = sqlx::query_as(
                "SELECT json_group_array(json_array(subject, role, scope, valid_from, valid_until)), \
                 MAX(rowid) FROM (SELECT rowid, * FROM assignments WHERE rowid > ?1 \
                 ORDER BY rowid LIMIT ?2)",
            )
            .bind(after)
            .bind(SNAPSHOT_BATCH as i64)
            .fetch_one(&mut *tx)
            .await?;
            let (Some(json), Some(last)) = page else {
                break;
            };
            send(to, assignments_from_json(&json)?).await?;
            after = last;
        }
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
        let mut query = QueryBuilder::<Sqlite>::new(ASSIGNMENT_COLUMNS);
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
        let mut query = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM assignments");
        push_filter(&mut query, filter);
        let count: i64 = query.build_query_scalar().fetch_one(&self.pool).await?;
        to_u64(count)
    }

    pub async fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT username, email, staff, superuser FROM users WHERE username = ?1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(User::from))
    }
}

async fn last_revision(conn: &mut SqliteConnection) -> Result<u64, StoreError> {
    let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(revision), 0) FROM audit")
        .fetch_one(conn)
        .await?;
    to_u64(last)
}

async fn named(conn: &mut SqliteConnection, sql: &str) -> Result<Vec<NamedRow>, StoreError> {
    Ok(sqlx::query_as(sql).fetch_all(conn).await?)
}

/// Appends `WHERE 1 = 1 AND ...` for each field the filter sets.
fn push_filter<'a>(query: &mut QueryBuilder<'a, Sqlite>, filter: &'a AssignmentFilter) {
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
