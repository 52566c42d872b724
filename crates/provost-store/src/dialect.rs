//! The SQL both dialects share, written once: the row operations of a write and the plain reads.
//!
//! The statements are the same text on SQLite and PostgreSQL (`$N` placeholders, which sqlx
//! binds by number on SQLite too; `CAST(.. AS TEXT)` to read JSON columns). What differs is the
//! connection type and how text goes into a JSON column (`::JSONB` on PostgreSQL), so each
//! dialect stamps these out for its types; locking, snapshots and connecting stay in
//! `sqlite/` and `postgres/`. Macros rather than generic functions: sqlx's generic executors need
//! bounds that Rust does not imply, which every function would have to spell out again.

/// Implements `commit::WriteTx` for a dialect's connection. `json` is what a bound text needs
/// to go into a JSON column.
macro_rules! write_tx {
    ($conn:ty, $db:ty, json = $json:literal) => {
        impl $crate::commit::WriteTx for $conn {
            async fn last_revision(&mut self) -> Result<u64, $crate::err::StoreError> {
                last_revision(self).await
            }

            async fn get_named(
                &mut self,
                table: $crate::commit::Table,
                name: &str,
            ) -> Result<Option<String>, $crate::err::StoreError> {
                let sql = format!(
                    "SELECT CAST({} AS TEXT) FROM {} WHERE {} = $1",
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
                table: $crate::commit::Table,
                name: &str,
                body: &str,
                pos: u64,
            ) -> Result<(), $crate::err::StoreError> {
                let (t, key, body_col) = (table.name(), table.key(), table.body());
                let cast = if table.json() { $json } else { "" };
                let sql = format!(
                    "INSERT INTO {t} ({key}, {body_col}, pos) VALUES ($1, $2{cast}, $3) \
                     ON CONFLICT ({key}) DO UPDATE SET {body_col} = excluded.{body_col}"
                );
                sqlx::query(&sql)
                    .bind(name)
                    .bind(body)
                    .bind($crate::rows::to_i64(pos))
                    .execute(self)
                    .await?;
                Ok(())
            }

            async fn delete_named(
                &mut self,
                table: $crate::commit::Table,
                name: &str,
            ) -> Result<(), $crate::err::StoreError> {
                let sql = format!("DELETE FROM {} WHERE {} = $1", table.name(), table.key());
                sqlx::query(&sql).bind(name).execute(self).await?;
                Ok(())
            }

            async fn get_user(
                &mut self,
                username: &str,
            ) -> Result<Option<provost_engine::User>, $crate::err::StoreError> {
                user(self, username).await
            }

            async fn put_user(
                &mut self,
                user: &provost_engine::User,
            ) -> Result<(), $crate::err::StoreError> {
                sqlx::query(
                    "INSERT INTO users (username, email, staff, superuser) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO UPDATE SET \
                     email = excluded.email, staff = excluded.staff, \
                     superuser = excluded.superuser",
                )
                .bind(&user.username)
                .bind(&user.email)
                .bind(user.staff)
                .bind(user.superuser)
                .execute(self)
                .await?;
                Ok(())
            }

            async fn delete_user(&mut self, username: &str) -> Result<(), $crate::err::StoreError> {
                sqlx::query("DELETE FROM users WHERE username = $1")
                    .bind(username)
                    .execute(self)
                    .await?;
                Ok(())
            }

            async fn find_assignments(
                &mut self,
                keys: &[$crate::bulk::Key<'_>],
            ) -> Result<Vec<provost_engine::Assignment>, $crate::err::StoreError> {
                let rows: Vec<$crate::rows::AssignmentRow> =
                    $crate::bulk::find_assignments::<$db>(keys)
                        .build_query_as()
                        .fetch_all(self)
                        .await?;
                Ok(rows
                    .into_iter()
                    .map(provost_engine::Assignment::from)
                    .collect())
            }

            async fn put_assignments(
                &mut self,
                rows: &[&provost_engine::Assignment],
            ) -> Result<(), $crate::err::StoreError> {
                $crate::bulk::put_assignments::<$db>(rows)
                    .build()
                    .execute(self)
                    .await?;
                Ok(())
            }

            async fn delete_assignments(
                &mut self,
                keys: &[$crate::bulk::Key<'_>],
            ) -> Result<(), $crate::err::StoreError> {
                $crate::bulk::delete_assignments::<$db>(keys)
                    .build()
                    .execute(self)
                    .await?;
                Ok(())
            }

            async fn assignments_of(
                &mut self,
                by: $crate::commit::Of<'_>,
            ) -> Result<Vec<provost_engine::Assignment>, $crate::err::StoreError> {
                let (column, value) = match by {
                    $crate::commit::Of::Subject(subject) => ("subject", subject),
                    $crate::commit::Of::Role(role) => ("role", role),
                };
                let sql = format!(
                    "{} WHERE {column} = $1 ORDER BY subject, role, scope",
                    $crate::rows::ASSIGNMENT_COLUMNS
                );
                let rows: Vec<$crate::rows::AssignmentRow> =
                    sqlx::query_as(&sql).bind(value).fetch_all(self).await?;
                Ok(rows
                    .into_iter()
                    .map(provost_engine::Assignment::from)
                    .collect())
            }

            async fn role(
                &mut self,
                name: &str,
            ) -> Result<Option<provost_engine::RoleDef>, $crate::err::StoreError> {
                match $crate::commit::WriteTx::get_named(self, $crate::commit::Table::Roles, name)
                    .await?
                {
                    Some(body) => Ok(Some(serde_json::from_str(&body)?)),
                    None => Ok(None),
                }
            }

            async fn role_scopes(
                &mut self,
                role: &str,
            ) -> Result<Vec<String>, $crate::err::StoreError> {
                let mut scopes: Vec<String> =
                    sqlx::query_scalar("SELECT DISTINCT scope FROM assignments WHERE role = $1")
                        .bind(role)
                        .fetch_all(self)
                        .await?;
                // Sorted here, by bytes: PostgreSQL's ORDER BY follows the database's collation.
                scopes.sort_unstable();
                Ok(scopes)
            }

            async fn append(
                &mut self,
                rows: &[$crate::bulk::AuditValues<'_>],
            ) -> Result<(), $crate::err::StoreError> {
                $crate::bulk::append_audit::<$db>(rows, $json)
                    .build()
                    .execute(self)
                    .await?;
                Ok(())
            }

            async fn outbox_put(
                &mut self,
                row: &$crate::bulk::AuditValues<'_>,
            ) -> Result<(), $crate::err::StoreError> {
                $crate::bulk::outbox_put::<$db>(row, $json)
                    .build()
                    .execute(self)
                    .await?;
                Ok(())
            }

            async fn outbox_take(
                &mut self,
            ) -> Result<Vec<$crate::rows::AuditRow>, $crate::err::StoreError> {
                Ok(sqlx::query_as(
                    "DELETE FROM audit_outbox RETURNING id AS revision, at, actor, app, op, \
                     subject, scope, CAST(change AS TEXT) AS change, \
                     CAST(before AS TEXT) AS before",
                )
                .fetch_all(self)
                .await?)
            }
        }
    };
}

/// Implements the plain reads on a dialect's store (`$store` with a `pool` of `$conn`s), and the
/// helpers its snapshot and writes share: `last_revision`, `user`, `snapshot_rows`.
macro_rules! reads {
    ($store:ty, $conn:ty, $db:ty) => {
        impl $store {
            /// The audit rows `which` selects in `range`, at most `limit`; see `Store::audit`.
            pub(crate) async fn audit_rows(
                &self,
                which: $crate::audit::Which<'_>,
                range: $crate::model::AuditRange,
                limit: u32,
            ) -> Result<Vec<$crate::rows::AuditRow>, $crate::err::StoreError> {
                Ok(
                    $crate::audit::audit_query::<$db>($crate::audit::COLUMNS, which, range, limit)
                        .build_query_as()
                        .fetch_all(&self.pool)
                        .await?,
                )
            }

            /// The highest revision in the audit log, 0 when it is empty.
            pub async fn revision(&self) -> Result<u64, $crate::err::StoreError> {
                let mut conn = self.pool.acquire().await?;
                last_revision(&mut conn).await
            }

            /// Assignments matching `filter`, ordered by (subject, role, scope), strictly after
            /// `after`.
            pub async fn assignments(
                &self,
                filter: &$crate::model::AssignmentFilter,
                after: Option<&provost_engine::AssignmentKey>,
                limit: u32,
            ) -> Result<Vec<provost_engine::Assignment>, $crate::err::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new($crate::rows::ASSIGNMENT_COLUMNS);
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
                let rows: Vec<$crate::rows::AssignmentRow> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows
                    .into_iter()
                    .map(provost_engine::Assignment::from)
                    .collect())
            }

            pub async fn count_assignments(
                &self,
                filter: &$crate::model::AssignmentFilter,
            ) -> Result<u64, $crate::err::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM assignments");
                push_filter(&mut query, filter);
                let count: i64 = query.build_query_scalar().fetch_one(&self.pool).await?;
                $crate::rows::to_u64(count)
            }

            pub async fn user(
                &self,
                username: &str,
            ) -> Result<Option<provost_engine::User>, $crate::err::StoreError> {
                let mut conn = self.pool.acquire().await?;
                user(&mut conn, username).await
            }

            /// A pooled connection for an app's own reads (`Store::reader`).
            pub(crate) async fn connection(
                &self,
            ) -> Result<sqlx::pool::PoolConnection<$db>, $crate::err::StoreError> {
                Ok(self.pool.acquire().await?)
            }
        }

        pub(super) async fn last_revision(
            conn: &mut $conn,
        ) -> Result<u64, $crate::err::StoreError> {
            let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(revision), 0) FROM audit")
                .fetch_one(conn)
                .await?;
            $crate::rows::to_u64(last)
        }

        pub(super) async fn user(
            conn: &mut $conn,
            username: &str,
        ) -> Result<Option<provost_engine::User>, $crate::err::StoreError> {
            let row: Option<$crate::rows::UserRow> = sqlx::query_as(
                "SELECT username, email, staff, superuser FROM users WHERE username = $1",
            )
            .bind(username)
            .fetch_optional(conn)
            .await?;
            Ok(row.map(provost_engine::User::from))
        }

        /// The small tables of a snapshot, in policy order.
        pub(super) async fn snapshot_rows(
            conn: &mut $conn,
        ) -> Result<$crate::rows::SnapshotRows, $crate::err::StoreError> {
            Ok($crate::rows::SnapshotRows {
                apps: sqlx::query_as(
                    "SELECT app AS name, kind AS body FROM apps ORDER BY pos, app",
                )
                .fetch_all(&mut *conn)
                .await?,
                permissions: sqlx::query_as(
                    "SELECT name, CAST(def AS TEXT) AS body FROM permissions ORDER BY pos, name",
                )
                .fetch_all(&mut *conn)
                .await?,
                roles: sqlx::query_as(
                    "SELECT name, CAST(def AS TEXT) AS body FROM roles ORDER BY pos, name",
                )
                .fetch_all(&mut *conn)
                .await?,
                users: sqlx::query_as(
                    "SELECT username, email, staff, superuser FROM users ORDER BY username",
                )
                .fetch_all(&mut *conn)
                .await?,
                scopes: sqlx::query_as(
                    "SELECT scope AS name, CAST(parents AS TEXT) AS body FROM scopes \
                     ORDER BY pos, scope",
                )
                .fetch_all(&mut *conn)
                .await?,
            })
        }

        /// Appends `WHERE 1 = 1 AND ...` for each field the filter sets.
        fn push_filter<'a>(
            query: &mut sqlx::QueryBuilder<'a, $db>,
            filter: &'a $crate::model::AssignmentFilter,
        ) {
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
    };
}

pub(crate) use {reads, write_tx};
