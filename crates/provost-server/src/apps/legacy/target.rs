//! Writing roles back into the platform's legacy tables (rollback): `INSERT IGNORE` on their
//! unique keys, so a row that is already there is never duplicated.

use std::collections::HashMap;

use sqlx::mysql::MySqlPool;
use sqlx::{QueryBuilder, Row};

use super::mapping::Table;
use super::source::{connect, redact, source_error};
use crate::err::Result;

/// The platform's MySQL database, written to by a rollback.
pub struct MysqlTarget {
    pool: MySqlPool,
    url: String,
}

impl MysqlTarget {
    pub async fn open(url: &str) -> Result<MysqlTarget> {
        Ok(MysqlTarget {
            pool: connect(url).await?,
            url: redact(url),
        })
    }

    /// Where it writes, without credentials.
    pub fn describe(&self) -> &str {
        &self.url
    }

    /// The `auth_user` ids of `usernames` (those that have one).
    pub async fn user_ids(&self, usernames: &[&str]) -> Result<HashMap<String, i64>> {
        if usernames.is_empty() {
            return Ok(HashMap::new());
        }
        let mut query = QueryBuilder::<sqlx::MySql>::new(
            "SELECT id, username FROM auth_user WHERE username IN (",
        );
        let mut list = query.separated(", ");
        for name in usernames {
            list.push_bind(*name);
        }
        list.push_unseparated(")");
        let rows = query
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| source_error(&self.url, &e))?;
        rows.iter()
            .map(|r| {
                let id: i32 = r.try_get("id")?;
                Ok((r.try_get::<String, _>("username")?, i64::from(id)))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(|e| source_error(&self.url, &e))
    }

    /// Writes a `student_courseaccessrole` row unless its unique key is taken; whether it wrote.
    pub async fn write_course_role(
        &self,
        user_id: i64,
        org: &str,
        course_id: &str,
        role: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT IGNORE INTO student_courseaccessrole (user_id, org, course_id, role) VALUES (?, ?, ?, ?)",
        )
        .bind(user_id)
        .bind(org)
        .bind(course_id)
        .bind(role)
        .execute(&self.pool)
        .await
        .map_err(|e| source_error(&self.url, &e))?;
        Ok(done.rows_affected() > 0)
    }

    /// Makes `user_id` a member of forum role `name` in `course_id` (creating the role row when
    /// the course has none: the table has no unique key, so the first match is used); whether it wrote.
    pub async fn write_forum_role(
        &self,
        user_id: i64,
        name: &str,
        course_id: &str,
    ) -> Result<bool> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT id FROM django_comment_client_role WHERE name = ? AND course_id = ? ORDER BY id LIMIT 1",
        )
        .bind(name)
        .bind(course_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| source_error(&self.url, &e))?;
        let role_id = match found {
            Some(id) => i64::from(id),
            None => {
                let done = sqlx::query(
                    "INSERT INTO django_comment_client_role (name, course_id) VALUES (?, ?)",
                )
                .bind(name)
                .bind(course_id)
                .execute(&self.pool)
                .await
                .map_err(|e| source_error(&self.url, &e))?;
                i64::try_from(done.last_insert_id()).unwrap_or(i64::MAX)
            }
        };
        let done = sqlx::query(
            "INSERT IGNORE INTO django_comment_client_role_users (role_id, user_id) VALUES (?, ?)",
        )
        .bind(role_id)
        .bind(user_id)
        .execute(&self.pool)
        .await
        .map_err(|e| source_error(&self.url, &e))?;
        Ok(done.rows_affected() > 0)
    }

    /// Whether the legacy table already has the role (what a dry run reports).
    pub async fn has_role(
        &self,
        table: Table,
        user_id: i64,
        org: &str,
        course_id: &str,
        role: &str,
    ) -> Result<bool> {
        let query = match table {
            Table::CourseAccessRole => sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM student_courseaccessrole WHERE user_id = ? AND org = ? AND course_id = ? AND role = ?",
            )
            .bind(user_id)
            .bind(org)
            .bind(course_id)
            .bind(role),
            Table::ForumRole => sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM django_comment_client_role_users m JOIN django_comment_client_role r \
                 ON r.id = m.role_id WHERE m.user_id = ? AND r.course_id = ? AND r.name = ?",
            )
            .bind(user_id)
            .bind(course_id)
            .bind(role),
        };
        let n = query
            .fetch_one(&self.pool)
            .await
            .map_err(|e| source_error(&self.url, &e))?;
        Ok(n > 0)
    }
}
