//! Reading the platform's legacy role tables: a `Source` of rows, from its MySQL/MariaDB database
//! or from a folder of CSV exports, always in pages so that memory stays flat in the row count.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use provost_store::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::{QueryBuilder, Row};
use utoipa::ToSchema;

use super::mapping::Table;
use crate::access::truncate;
use crate::err::{Error, ErrorCode, Result};

/// Which legacy rows a run covers: one of all, an org's, or a list of courses'.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    All,
    Org(String),
    Courses(Vec<String>),
}

impl Filter {
    /// Whether a row at `(org, course_id)` of `table` is inside the filter (what the SQL selects).
    pub fn covers(&self, table: Table, org: &str, course_id: &str) -> bool {
        match self {
            Filter::All => true,
            Filter::Org(o) => match table {
                Table::CourseAccessRole => org == o,
                Table::ForumRole => course_org(course_id) == Some(o.as_str()),
            },
            Filter::Courses(keys) => keys.iter().any(|k| k == course_id),
        }
    }
}

/// The org of a `course-v1:ORG+...` key.
fn course_org(course_id: &str) -> Option<&str> {
    course_id
        .strip_prefix("course-v1:")?
        .split_once('+')
        .map(|(org, _)| org)
}

/// A user of `auth_user`, as far as Provost cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyUser {
    pub username: String,
    pub email: String,
    pub staff: bool,
    pub superuser: bool,
    pub active: bool,
}

/// One legacy role row: a `student_courseaccessrole` row, or a forum membership with its role's
/// name and course. `user` is `None` when `auth_user` has no such id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyRow {
    pub table: Table,
    pub id: i64,
    pub user_id: i64,
    /// Empty for forum rows (their org is in the course key).
    pub org: String,
    pub course_id: String,
    pub role: String,
    pub user: Option<LegacyUser>,
}

/// Legacy role rows, page by page, in ascending id order, restricted to the run's filter.
pub trait Source: Send {
    /// The next at most `limit` rows of `table`; empty once they are all read.
    fn next_page(&mut self, table: Table, limit: u32) -> BoxFuture<'_, Result<Vec<LegacyRow>>>;
    /// How many rows of `table` the filter covers, when the source can tell cheaply.
    fn count(&mut self, table: Table) -> BoxFuture<'_, Result<Option<u64>>>;
    /// Removes rows `ids` of `table` from the legacy database (`--delete`); returns how many went.
    fn delete<'a>(&'a mut self, table: Table, ids: &'a [i64]) -> BoxFuture<'a, Result<u64>>;
    /// Where it reads, without credentials.
    fn describe(&self) -> String;
    /// Whether `delete` can work (a database, not exported files).
    fn can_delete(&self) -> bool;
}

/// Opens `from`: a `mysql://` (or `mariadb://`) URL, or a folder of CSV exports.
pub async fn open(from: &str, filter: Filter) -> Result<Box<dyn Source>> {
    if is_database_url(from) {
        let pool = connect(from).await?;
        return Ok(Box::new(MysqlSource {
            pool,
            url: redact(from),
            filter,
            after: HashMap::new(),
        }));
    }
    let dir = Path::new(from);
    if dir.is_dir() {
        return Ok(Box::new(CsvSource::open(dir, filter)?));
    }
    Err(Error::new(
        ErrorCode::InvalidLegacySource,
        format!(
            "`{}` is neither a `mysql://` URL nor a folder of CSV exports",
            truncate(from)
        ),
    ))
}

/// Whether `text` names a MySQL/MariaDB database.
pub fn is_database_url(text: &str) -> bool {
    text.starts_with("mysql://") || text.starts_with("mariadb://")
}

/// A small pool on the legacy database (`mariadb://` is read as `mysql://`).
pub async fn connect(url: &str) -> Result<MySqlPool> {
    let url = match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_owned(),
    };
    let options: sqlx::mysql::MySqlConnectOptions = url.parse().map_err(|e| {
        Error::new(
            ErrorCode::InvalidLegacySource,
            format!("`{}` is not a usable MySQL URL: {e}", redact(&url)),
        )
    })?;
    MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|e| source_error(&redact(&url), &e))
}

/// `url` with any password replaced by `***`, for run records and messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// What a failure of the legacy database means to the caller: unreachable, or not the platform's schema.
pub fn source_error(source: &str, e: &sqlx::Error) -> Error {
    match e {
        sqlx::Error::Database(db) => Error::new(
            ErrorCode::InvalidLegacyData,
            format!(
                "the legacy database `{source}` refused a query: {}",
                db.message()
            ),
        ),
        sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_) => Error::new(
            ErrorCode::InvalidLegacyData,
            format!("the legacy database `{source}` does not have the platform's columns: {e}"),
        ),
        _ => Error::new(
            ErrorCode::LegacySourceUnavailable,
            format!("cannot reach the legacy database `{source}`: {e}"),
        ),
    }
}

/// The platform's MySQL database, read with keyset pages (`id > last`), joined to `auth_user`.
struct MysqlSource {
    pool: MySqlPool,
    url: String,
    filter: Filter,
    after: HashMap<Table, i64>,
}

impl MysqlSource {
    /// `SELECT` (or `COUNT`) of `table`'s rows in the filter; the caller adds order and limit.
    fn select<'a>(&'a self, table: Table, what: &str, after: i64) -> QueryBuilder<'a, sqlx::MySql> {
        let (from, course, org) = match table {
            Table::CourseAccessRole => (
                format!("SELECT {what} FROM student_courseaccessrole r LEFT JOIN auth_user u ON u.id = r.user_id"),
                "r.course_id",
                Some("r.org"),
            ),
            Table::ForumRole => (
                format!(
                    "SELECT {what} FROM django_comment_client_role_users m \
                     JOIN django_comment_client_role r ON r.id = m.role_id \
                     LEFT JOIN auth_user u ON u.id = m.user_id"
                ),
                "r.course_id",
                None,
            ),
        };
        let id = if table == Table::ForumRole {
            "m.id"
        } else {
            "r.id"
        };
        let mut query = QueryBuilder::new(from);
        query.push(format!(" WHERE {id} > ")).push_bind(after);
        match (&self.filter, org) {
            (Filter::All, _) => {}
            (Filter::Org(o), Some(org)) => {
                query.push(format!(" AND {org} = ")).push_bind(o.as_str());
            }
            (Filter::Org(o), None) => {
                // Org names are `[A-Za-z0-9._-]`: only `_` needs escaping in LIKE.
                let pattern = format!("course-v1:{}+%", o.replace('_', "\\_"));
                query
                    .push(format!(" AND {course} LIKE "))
                    .push_bind(pattern);
            }
            (Filter::Courses(keys), _) => {
                query.push(format!(" AND {course} IN ("));
                let mut list = query.separated(", ");
                for key in keys {
                    list.push_bind(key.as_str());
                }
                list.push_unseparated(")");
            }
        }
        query
    }
}

const COURSE_COLUMNS: &str =
    "r.id AS id, r.user_id AS user_id, r.org AS org, r.course_id AS course_id, \
     r.role AS role, u.username, u.email, u.is_staff, u.is_superuser, u.is_active";
const FORUM_COLUMNS: &str =
    "m.id AS id, m.user_id AS user_id, '' AS org, r.course_id AS course_id, \
     r.name AS role, u.username, u.email, u.is_staff, u.is_superuser, u.is_active";

fn row_of(table: Table, row: &MySqlRow) -> std::result::Result<LegacyRow, sqlx::Error> {
    let username: Option<String> = row.try_get("username")?;
    let user = match username {
        Some(username) => Some(LegacyUser {
            username,
            email: row
                .try_get::<Option<String>, _>("email")?
                .unwrap_or_default(),
            staff: row.try_get::<Option<bool>, _>("is_staff")?.unwrap_or(false),
            superuser: row
                .try_get::<Option<bool>, _>("is_superuser")?
                .unwrap_or(false),
            active: row
                .try_get::<Option<bool>, _>("is_active")?
                .unwrap_or(false),
        }),
        None => None,
    };
    Ok(LegacyRow {
        table,
        id: i64::from(row.try_get::<i32, _>("id")?),
        user_id: i64::from(row.try_get::<i32, _>("user_id")?),
        org: row.try_get("org")?,
        course_id: row.try_get("course_id")?,
        role: row.try_get("role")?,
        user,
    })
}

impl Source for MysqlSource {
    fn next_page(&mut self, table: Table, limit: u32) -> BoxFuture<'_, Result<Vec<LegacyRow>>> {
        Box::pin(async move {
            let after = self.after.get(&table).copied().unwrap_or(0);
            let columns = match table {
                Table::CourseAccessRole => COURSE_COLUMNS,
                Table::ForumRole => FORUM_COLUMNS,
            };
            let id = if table == Table::ForumRole {
                "m.id"
            } else {
                "r.id"
            };
            let mut query = self.select(table, columns, after);
            query
                .push(format!(" ORDER BY {id} LIMIT "))
                .push_bind(limit);
            let rows = query
                .build()
                .fetch_all(&self.pool)
                .await
                .map_err(|e| source_error(&self.url, &e))?;
            let rows = rows
                .iter()
                .map(|r| row_of(table, r))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| source_error(&self.url, &e))?;
            if let Some(last) = rows.last() {
                self.after.insert(table, last.id);
            }
            Ok(rows)
        })
    }

    fn count(&mut self, table: Table) -> BoxFuture<'_, Result<Option<u64>>> {
        Box::pin(async move {
            let n: i64 = self
                .select(table, "COUNT(*)", 0)
                .build_query_scalar()
                .fetch_one(&self.pool)
                .await
                .map_err(|e| source_error(&self.url, &e))?;
            Ok(u64::try_from(n).ok())
        })
    }

    fn delete<'a>(&'a mut self, table: Table, ids: &'a [i64]) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(0);
            }
            let mut query = QueryBuilder::<sqlx::MySql>::new(format!(
                "DELETE FROM {} WHERE id IN (",
                table.name()
            ));
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            list.push_unseparated(")");
            let done = query
                .build()
                .execute(&self.pool)
                .await
                .map_err(|e| source_error(&self.url, &e))?;
            Ok(done.rows_affected())
        })
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    fn can_delete(&self) -> bool {
        true
    }
}

/// A folder of CSV exports of the four tables (`<table>.csv`, a header row naming the columns).
/// Role rows stream from their files; users and forum roles are read into memory first (they
/// grow with users and courses, not with role rows).
struct CsvSource {
    dir: PathBuf,
    filter: Filter,
    users: HashMap<i64, LegacyUser>,
    forum_roles: HashMap<i64, (String, String)>,
    readers: HashMap<Table, CsvTable>,
}

/// One file being read, with the positions of the columns it needs.
struct CsvTable {
    reader: csv::Reader<File>,
    columns: Vec<usize>,
}

const USER_COLUMNS: [&str; 6] = [
    "id",
    "username",
    "email",
    "is_staff",
    "is_superuser",
    "is_active",
];
const ROLE_COLUMNS: [&str; 5] = ["id", "user_id", "org", "course_id", "role"];
const FORUM_ROLE_COLUMNS: [&str; 3] = ["id", "name", "course_id"];
const MEMBER_COLUMNS: [&str; 3] = ["id", "role_id", "user_id"];

impl CsvSource {
    fn open(dir: &Path, filter: Filter) -> Result<CsvSource> {
        let mut users = HashMap::new();
        let mut table = CsvTable::open(dir, "auth_user", &USER_COLUMNS)?.ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidLegacyData,
                format!("`{}` has no auth_user.csv", dir.display()),
            )
        })?;
        while let Some(f) = table.next_record(dir, "auth_user")? {
            let user = LegacyUser {
                username: f[1].clone(),
                email: f[2].clone(),
                staff: flag(&f[3]),
                superuser: flag(&f[4]),
                active: flag(&f[5]),
            };
            users.insert(number(dir, "auth_user", &f[0])?, user);
        }
        let mut forum_roles = HashMap::new();
        if let Some(mut table) =
            CsvTable::open(dir, "django_comment_client_role", &FORUM_ROLE_COLUMNS)?
        {
            while let Some(f) = table.next_record(dir, "django_comment_client_role")? {
                let id = number(dir, "django_comment_client_role", &f[0])?;
                forum_roles.insert(id, (f[1].clone(), f[2].clone()));
            }
        }
        Ok(CsvSource {
            dir: dir.to_owned(),
            filter,
            users,
            forum_roles,
            readers: HashMap::new(),
        })
    }

    /// The next row of `table` in the filter, or `None` at the end of its file.
    fn next_row(&mut self, table: Table) -> Result<Option<LegacyRow>> {
        let name = table.name();
        if !self.readers.contains_key(&table) {
            let columns: &[&str] = match table {
                Table::CourseAccessRole => &ROLE_COLUMNS,
                Table::ForumRole => &MEMBER_COLUMNS,
            };
            match CsvTable::open(&self.dir, name, columns)? {
                Some(reader) => self.readers.insert(table, reader),
                // A missing export means the table had nothing to export.
                None => return Ok(None),
            };
        }
        loop {
            let Some(reader) = self.readers.get_mut(&table) else {
                return Ok(None);
            };
            let Some(f) = reader.next_record(&self.dir, name)? else {
                return Ok(None);
            };
            let id = number(&self.dir, name, &f[0])?;
            let row = match table {
                Table::CourseAccessRole => {
                    let user_id = number(&self.dir, name, &f[1])?;
                    LegacyRow {
                        table,
                        id,
                        user_id,
                        org: f[2].clone(),
                        course_id: f[3].clone(),
                        role: f[4].clone(),
                        user: self.users.get(&user_id).cloned(),
                    }
                }
                Table::ForumRole => {
                    let role_id = number(&self.dir, name, &f[1])?;
                    let user_id = number(&self.dir, name, &f[2])?;
                    let Some((role, course_id)) = self.forum_roles.get(&role_id).cloned() else {
                        return Err(Error::new(
                            ErrorCode::InvalidLegacyData,
                            format!("{name}.csv row {id} names forum role {role_id}, which django_comment_client_role.csv lacks"),
                        ));
                    };
                    LegacyRow {
                        table,
                        id,
                        user_id,
                        org: String::new(),
                        course_id,
                        role,
                        user: self.users.get(&user_id).cloned(),
                    }
                }
            };
            if self.filter.covers(table, &row.org, &row.course_id) {
                return Ok(Some(row));
            }
        }
    }
}

impl CsvTable {
    /// Opens `<table>.csv` in `dir` (`None` when there is none) and finds `columns` in its header.
    fn open(dir: &Path, table: &str, columns: &[&str]) -> Result<Option<CsvTable>> {
        let path = dir.join(format!("{table}.csv"));
        if !path.exists() {
            return Ok(None);
        }
        let mut reader = csv::Reader::from_path(&path).map_err(|e| csv_error(&path, &e))?;
        let header: HashMap<String, usize> = reader
            .headers()
            .map_err(|e| csv_error(&path, &e))?
            .iter()
            .enumerate()
            .map(|(i, name)| (name.trim().to_owned(), i))
            .collect();
        let positions = columns
            .iter()
            .map(|c| {
                header.get(*c).copied().ok_or_else(|| {
                    Error::new(
                        ErrorCode::InvalidLegacyData,
                        format!("`{}` has no column `{c}`", path.display()),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(CsvTable {
            reader,
            columns: positions,
        }))
    }

    /// The next record's needed fields, in the order asked for at `open`.
    fn next_record(&mut self, dir: &Path, table: &str) -> Result<Option<Vec<String>>> {
        let mut record = csv::StringRecord::new();
        let more = self
            .reader
            .read_record(&mut record)
            .map_err(|e| csv_error(&dir.join(format!("{table}.csv")), &e))?;
        if !more {
            return Ok(None);
        }
        Ok(Some(
            self.columns
                .iter()
                .map(|i| record.get(*i).unwrap_or_default().to_owned())
                .collect(),
        ))
    }
}

fn csv_error(path: &Path, e: &csv::Error) -> Error {
    Error::new(
        ErrorCode::InvalidLegacyData,
        format!("cannot read `{}`: {e}", path.display()),
    )
}

fn number(dir: &Path, table: &str, text: &str) -> Result<i64> {
    text.trim().parse().map_err(|_| {
        Error::new(
            ErrorCode::InvalidLegacyData,
            format!(
                "`{}` has `{}` where a number belongs",
                dir.join(format!("{table}.csv")).display(),
                truncate(text)
            ),
        )
    })
}

/// MySQL's booleans as exported: `1`/`0` (or `true`/`false`).
fn flag(text: &str) -> bool {
    matches!(text.trim(), "1" | "true" | "True" | "TRUE")
}

impl Source for CsvSource {
    fn next_page(&mut self, table: Table, limit: u32) -> BoxFuture<'_, Result<Vec<LegacyRow>>> {
        Box::pin(async move {
            let mut rows = Vec::new();
            while rows.len() < limit as usize {
                match self.next_row(table)? {
                    Some(row) => rows.push(row),
                    None => break,
                }
            }
            Ok(rows)
        })
    }

    fn count(&mut self, _table: Table) -> BoxFuture<'_, Result<Option<u64>>> {
        Box::pin(async { Ok(None) })
    }

    fn delete<'a>(&'a mut self, _table: Table, _ids: &'a [i64]) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Err(Error::new(
                ErrorCode::DeleteNeedsDatabase,
                "`--delete` removes rows from the legacy database; CSV exports cannot be changed",
            ))
        })
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    fn can_delete(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_leave_the_url() {
        assert_eq!(
            redact("mysql://root:secret@db:3306/edxapp"),
            "mysql://root:***@db:3306/edxapp"
        );
        assert_eq!(redact("mysql://root@db/edxapp"), "mysql://root@db/edxapp");
        assert_eq!(redact("mysql://db/edxapp"), "mysql://db/edxapp");
    }

    #[test]
    fn filters_cover_what_their_sql_selects() {
        let course = "course-v1:MITx+6.00x+2024T1";
        let org = Filter::Org("MITx".into());
        assert!(org.covers(Table::CourseAccessRole, "MITx", ""));
        assert!(org.covers(Table::ForumRole, "", course));
        assert!(!org.covers(Table::ForumRole, "", "course-v1:MITxx+1+2"));
        let courses = Filter::Courses(vec![course.into()]);
        assert!(courses.covers(Table::CourseAccessRole, "MITx", course));
        assert!(!courses.covers(Table::CourseAccessRole, "MITx", ""));
    }
}
