//! SQLite writes: `BEGIN IMMEDIATE` transactions and the row operations of a commit.

use provost_engine::{Assignment, Change, User};
use sqlx::SqliteConnection;

use super::SqliteStore;
use crate::commit::{self, Of, Table, WriteTx};
use crate::err::StoreError;
use crate::model::{AuditEntry, Committed};
use crate::rows::{to_i64, to_u64, AssignmentRow, UserRow};

impl SqliteStore {
    /// Applies `changes` in one transaction; see `Store::commit`.
    pub async fn commit(&self, actor: &str, changes: &[Change]) -> Result<Committed, StoreError> {
        commit::retrying(|| async {
            // IMMEDIATE takes the write lock up front: writers queue (busy_timeout) instead of
            // failing on upgrade, and the next revision read below stays ours until commit.
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let committed = commit::apply(&mut *tx, actor, changes).await?;
            tx.commit().await?;
            Ok(committed)
        })
        .await
    }
}

impl WriteTx for SqliteConnection {
    async fn last_revision(&mut self) -> Result<u64, StoreError> {
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(revision), 0) FROM audit")
            .fetch_one(self)
            .await?;
        to_u64(last)
    }

    async fn get_named(&mut self, table: Table, name: &str) -> Result<Option<String>, StoreError> {
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = ?1",
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
        let sql = format!(
            "INSERT INTO {t} ({key}, {body_col}, pos) VALUES (?1, ?2, ?3) \
             ON CONFLICT ({key}) DO UPDATE SET {body_col} = excluded.{body_col}"
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
        let sql = format!("DELETE FROM {} WHERE {} = ?1", table.name(), table.key());
        sqlx::query(&sql).bind(name).execute(self).await?;
        Ok(())
    }

    async fn get_user(&mut self, username: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT username, email, staff, superuser FROM users WHERE username = ?1",
        )
        .bind(username)
        .fetch_optional(self)
        .await?;
        Ok(row.map(User::from))
    }

    async fn put_user(&mut self, user: &User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (username, email, staff, superuser) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (username) DO UPDATE SET \
             email = excluded.email, staff = excluded.staff, superuser = excluded.superuser",
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
        sqlx::query("DELETE FROM users WHERE username = ?1")
            .bind(username)
            .execute(self)
            .await?;
        Ok(())
    }

    async fn get_assignment(
        &mut self,
        subject: &str,
        role: &str,
        scope: &str,
    ) -> Result<Option<Assignment>, StoreError> {
        let row: Option<AssignmentRow> = sqlx::query_as(
            "SELECT subject, role, scope, valid_from, valid_until FROM assignments \
             WHERE subject = ?1 AND role = ?2 AND scope = ?3",
        )
        .bind(subject)
        .bind(role)
        .bind(scope)
        .fetch_optional(self)
        .await?;
        Ok(row.map(Assignment::from))
    }

    async fn put_assignment(&mut self, a: &Assignment) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO assignments (subject, role, scope, valid_from, valid_until) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (subject, role, scope) DO UPDATE SET \
             valid_from = excluded.valid_from, valid_until = excluded.valid_until",
        )
        .bind(&a.subject)
        .bind(&a.role)
        .bind(&a.scope)
        .bind(a.valid_from)
        .bind(a.valid_until)
        .execute(self)
        .await?;
        Ok(())
    }

    async fn delete_assignment(
        &mut self,
        subject: &str,
        role: &str,
        scope: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM assignments WHERE subject = ?1 AND role = ?2 AND scope = ?3")
            .bind(subject)
            .bind(role)
            .bind(scope)
            .execute(self)
            .await?;
        Ok(())
    }

    async fn assignments_of(&mut self, by: Of<'_>) -> Result<Vec<Assignment>, StoreError> {
        let (column, value) = match by {
            Of::Subject(subject) => ("subject", subject),
            Of::Role(role) => ("role", role),
        };
        let sql = format!(
            "SELECT subject, role, scope, valid_from, valid_until FROM assignments \
             WHERE {column} = ?1 ORDER BY subject, role, scope"
        );
        let rows: Vec<AssignmentRow> = sqlx::query_as(&sql).bind(value).fetch_all(self).await?;
        Ok(rows.into_iter().map(Assignment::from).collect())
    }

    async fn append(&mut self, entry: &AuditEntry) -> Result<(), StoreError> {
        let change = serde_json::to_string(&entry.change)?;
        let before = entry
            .before
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?;
        sqlx::query(
            "INSERT INTO audit (revision, at, actor, op, subject, scope, change, before) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(to_i64(entry.revision))
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(entry.change.op())
        .bind(entry.change.subject())
        .bind(entry.change.scope())
        .bind(change)
        .bind(before)
        .execute(self)
        .await?;
        Ok(())
    }
}
