//! PostgreSQL writes: transactions serialized by an advisory lock, the row operations, the notification.

use provost_engine::{Assignment, User};
use sqlx::PgConnection;

use super::PgStore;
use crate::bulk::{self, AuditValues, Key};
use crate::commit::{Of, Table, WriteTx};
use crate::err::StoreError;
use crate::rows::{to_i64, to_u64, AssignmentRow, UserRow, ASSIGNMENT_COLUMNS};
use crate::tx::Locked;

/// The advisory lock every write transaction takes first ("provost" in ASCII), so that revisions
/// are handed out, and become visible, strictly in order across every node.
const WRITE_LOCK: i64 = 0x0070_726f_766f_7374;

impl PgStore {
    /// Begins a write transaction, holding the write lock; see `Store::write`.
    pub(crate) async fn lock(&self) -> Result<Locked, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(Locked::Postgres(tx))
    }
}

impl WriteTx for PgConnection {
    async fn last_revision(&mut self) -> Result<u64, StoreError> {
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(revision), 0)::BIGINT FROM audit")
            .fetch_one(self)
            .await?;
        to_u64(last)
    }

    async fn get_named(&mut self, table: Table, name: &str) -> Result<Option<String>, StoreError> {
        let sql = format!(
            "SELECT {}::TEXT FROM {} WHERE {} = $1",
            table.body(),
            table.name(),
            table.key()
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(name)
            .fetch_optional(self)
            .await?)
    }

    async fn put_named(
        &mut self,
        table: Table,
        name: &str,
        body: &str,
        pos: u64,
    ) -> Result<(), StoreError> {
        let (t, key, body_col) = (table.name(), table.key(), table.body());
        let cast = if table.json() { "::JSONB" } else { "" };
        let sql = format!(
            "INSERT INTO {t} ({key}, {body_col}, pos) VALUES ($1, $2{cast}, $3) \
             ON CONFLICT ({key}) DO UPDATE SET {body_col} = EXCLUDED.{body_col}"
        );
        sqlx::query(&sql)
            .bind(name)
            .bind(body)
            .bind(to_i64(pos))
            .execute(self)
            .await?;
        Ok(())
    }

    async fn delete_named(&mut self, table: Table, name: &str) -> Result<(), StoreError> {
        let sql = format!("DELETE FROM {} WHERE {} = $1", table.name(), table.key());
        sqlx::query(&sql).bind(name).execute(self).await?;
        Ok(())
    }

    async fn get_user(&mut self, username: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT username, email, staff, superuser FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(self)
        .await?;
        Ok(row.map(User::from))
    }

    async fn put_user(&mut self, user: &User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (username, email, staff, superuser) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (username) DO UPDATE SET \
             email = EXCLUDED.email, staff = EXCLUDED.staff, superuser = EXCLUDED.superuser",
        )
        .bind(&user.username)
        .bind(&user.email)
        .bind(user.staff)
        .bind(user.superuser)
        .execute(self)
        .await?;
        Ok(())
    }

    async fn delete_user(&mut self, username: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(self)
            .await?;
        Ok(())
    }

    async fn find_assignments(&mut self, keys: &[Key<'_>]) -> Result<Vec<Assignment>, StoreError> {
        let rows: Vec<AssignmentRow> = bulk::find_assignments(keys)
            .build_query_as()
            .fetch_all(self)
            .await?;
        Ok(rows.into_iter().map(Assignment::from).collect())
    }

    async fn put_assignments(&mut self, rows: &[&Assignment]) -> Result<(), StoreError> {
        bulk::put_assignments(rows).build().execute(self).await?;
        Ok(())
    }

    async fn delete_assignments(&mut self, keys: &[Key<'_>]) -> Result<(), StoreError> {
        bulk::delete_assignments(keys).build().execute(self).await?;
        Ok(())
    }

    async fn assignments_of(&mut self, by: Of<'_>) -> Result<Vec<Assignment>, StoreError> {
        let (column, value) = match by {
            Of::Subject(subject) => ("subject", subject),
            Of::Role(role) => ("role", role),
        };
        let sql = format!("{ASSIGNMENT_COLUMNS} WHERE {column} = $1 ORDER BY subject, role, scope");
        let rows: Vec<AssignmentRow> = sqlx::query_as(&sql).bind(value).fetch_all(self).await?;
        Ok(rows.into_iter().map(Assignment::from).collect())
    }

    async fn append(&mut self, rows: &[AuditValues<'_>]) -> Result<(), StoreError> {
        bulk::append_audit(rows, "::JSONB")
            .build()
            .execute(self)
            .await?;
        Ok(())
    }
}
