//! The programs app's tables: program types, programs (with their orgs and curriculum) and
//! program and course-run enrollments. Typed functions over a `Conn`, so services see no SQL.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::err::StoreError;
use crate::store::Store;
use crate::tx::Conn;

/// Runs the same statement text on whichever dialect `conn` is (`$N` placeholders serve both).
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

/// A program type (`masters`, ...): data, so operators can add their own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ProgramType {
    pub name: String,
    pub title: String,
    /// Whether the enrollment endpoints are open for programs of this type (Masters only).
    pub enrollments: bool,
}

/// A program as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramRecord {
    pub key: String,
    /// Hyphenated, lowercase.
    pub uuid: String,
    pub title: String,
    #[serde(rename = "type")]
    pub program_type: String,
    /// Managing orgs (keys without `org:`), the first one the program's own.
    pub orgs: Vec<String>,
    /// Course run keys.
    pub curriculum: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct ProgramRow {
    key: String,
    uuid: String,
    title: String,
    #[sqlx(rename = "type")]
    program_type: String,
    orgs: String,
    curriculum: String,
}

impl ProgramRow {
    fn into_record(self) -> Result<ProgramRecord, StoreError> {
        Ok(ProgramRecord {
            key: self.key,
            uuid: self.uuid,
            title: self.title,
            program_type: self.program_type,
            orgs: serde_json::from_str(&self.orgs)?,
            curriculum: serde_json::from_str(&self.curriculum)?,
        })
    }
}

/// Which programs a listing wants. `reach` is where the caller may look: `None` for everywhere,
/// else the programs and orgs an engine lookup named.
#[derive(Clone, Debug, Default)]
pub struct ProgramFilter {
    /// Only keys after this one (the cursor).
    pub after: Option<String>,
    pub org: Option<String>,
    pub program_type: Option<String>,
    /// Case-insensitive part of the title.
    pub title: Option<String>,
    pub reach: Option<Reach>,
}

/// The programs (by key) and orgs (every program they manage) a caller reaches.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    pub programs: Vec<String>,
    pub orgs: Vec<String>,
}

const COLUMNS: &str = "p.key, p.uuid, p.title, p.type, p.orgs, p.curriculum";

/// Every program type, by name.
pub async fn program_types(conn: Conn<'_>) -> Result<Vec<ProgramType>, StoreError> {
    let sql = "SELECT name, title, enrollments FROM program_types ORDER BY name";
    Ok(on_conn!(conn, c => sqlx::query_as::<_, ProgramType>(sql).fetch_all(&mut *c).await?))
}

/// Adds a program type; false when one of that name exists (nothing changes then).
pub async fn insert_type(conn: Conn<'_>, program_type: &ProgramType) -> Result<bool, StoreError> {
    let sql = "INSERT INTO program_types (name, title, enrollments) VALUES ($1, $2, $3) \
               ON CONFLICT (name) DO NOTHING";
    let added = on_conn!(conn, c => sqlx::query(sql)
        .bind(&program_type.name)
        .bind(&program_type.title)
        .bind(program_type.enrollments)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(added == 1)
}

/// The program with this key.
pub async fn program(conn: Conn<'_>, key: &str) -> Result<Option<ProgramRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM programs p WHERE p.key = $1");
    let row = on_conn!(conn, c => sqlx::query_as::<_, ProgramRow>(&sql).bind(key).fetch_optional(&mut *c).await?);
    row.map(ProgramRow::into_record).transpose()
}

/// The key of the program with this uuid, if any.
pub async fn program_key_by_uuid(conn: Conn<'_>, uuid: &str) -> Result<Option<String>, StoreError> {
    let sql = "SELECT key FROM programs WHERE uuid = $1";
    Ok(
        on_conn!(conn, c => sqlx::query_scalar::<_, String>(sql).bind(uuid).fetch_optional(&mut *c).await?),
    )
}

/// Whether any program is managed by `org`.
pub async fn org_has_programs(conn: Conn<'_>, org: &str) -> Result<bool, StoreError> {
    let sql = "SELECT COUNT(*) FROM program_orgs WHERE org = $1";
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(sql).bind(org).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

/// Up to `limit` programs matching `filter`, by key.
pub async fn list_programs(
    conn: Conn<'_>,
    filter: &ProgramFilter,
    limit: u32,
) -> Result<Vec<ProgramRecord>, StoreError> {
    let title = filter.title.as_deref().map(like_pattern);
    let mut sql = format!(
        "SELECT {COLUMNS} FROM programs p \
         WHERE ($1 IS NULL OR p.key > $1) AND ($2 IS NULL OR p.type = $2) \
         AND ($3 IS NULL OR EXISTS (SELECT 1 FROM program_orgs o WHERE o.program = p.key AND o.org = $3)) \
         AND ($4 IS NULL OR lower(p.title) LIKE $4 ESCAPE '\\')"
    );
    // `$8` is "everywhere"; else the reach is `$5` (programs) and `$6` (orgs), each bound once
    // as a whole list rather than one placeholder per key: a reach can be long.
    let everywhere = filter.reach.is_none();
    let reach = filter.reach.clone().unwrap_or_default();
    let rows = match conn {
        Conn::Sqlite(c) => {
            sql.push_str(
                " AND ($8 OR p.key IN (SELECT value FROM json_each($5)) OR EXISTS (SELECT 1 FROM program_orgs o \
                 WHERE o.program = p.key AND o.org IN (SELECT value FROM json_each($6)))) ORDER BY p.key LIMIT $7",
            );
            sqlx::query_as::<_, ProgramRow>(&sql)
                .bind(&filter.after)
                .bind(&filter.program_type)
                .bind(&filter.org)
                .bind(&title)
                .bind(serde_json::to_string(&reach.programs)?)
                .bind(serde_json::to_string(&reach.orgs)?)
                .bind(i64::from(limit))
                .bind(everywhere)
                .fetch_all(&mut *c)
                .await?
        }
        Conn::Postgres(c) => {
            sql.push_str(
                " AND ($8 OR p.key = ANY($5) OR EXISTS (SELECT 1 FROM program_orgs o \
                 WHERE o.program = p.key AND o.org = ANY($6))) ORDER BY p.key LIMIT $7",
            );
            sqlx::query_as::<_, ProgramRow>(&sql)
                .bind(&filter.after)
                .bind(&filter.program_type)
                .bind(&filter.org)
                .bind(&title)
                .bind(&reach.programs)
                .bind(&reach.orgs)
                .bind(i64::from(limit))
                .bind(everywhere)
                .fetch_all(&mut *c)
                .await?
        }
    };
    rows.into_iter().map(ProgramRow::into_record).collect()
}

/// `%part%`, lowercase, with LIKE's wildcards in `part` taken literally.
fn like_pattern(part: &str) -> String {
    let mut out = String::from("%");
    for ch in part.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// Writes a new program and its org rows.
pub async fn insert_program(conn: Conn<'_>, program: &ProgramRecord) -> Result<(), StoreError> {
    let orgs = serde_json::to_string(&program.orgs)?;
    let curriculum = serde_json::to_string(&program.curriculum)?;
    let sql = "INSERT INTO programs (key, uuid, title, type, orgs, curriculum) VALUES ($1, $2, $3, $4, $5, $6)";
    on_conn!(conn, c => {
        sqlx::query(sql)
            .bind(&program.key)
            .bind(&program.uuid)
            .bind(&program.title)
            .bind(&program.program_type)
            .bind(&orgs)
            .bind(&curriculum)
            .execute(&mut *c)
            .await?;
        for org in &program.orgs {
            sqlx::query("INSERT INTO program_orgs (org, program) VALUES ($1, $2)")
                .bind(org)
                .bind(&program.key)
                .execute(&mut *c)
                .await?;
        }
    });
    Ok(())
}

/// Replaces a program's title, type, orgs and curriculum (its key and uuid stay).
pub async fn update_program(conn: Conn<'_>, program: &ProgramRecord) -> Result<(), StoreError> {
    let orgs = serde_json::to_string(&program.orgs)?;
    let curriculum = serde_json::to_string(&program.curriculum)?;
    let sql =
        "UPDATE programs SET title = $2, type = $3, orgs = $4, curriculum = $5 WHERE key = $1";
    on_conn!(conn, c => {
        sqlx::query(sql)
            .bind(&program.key)
            .bind(&program.title)
            .bind(&program.program_type)
            .bind(&orgs)
            .bind(&curriculum)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM program_orgs WHERE program = $1")
            .bind(&program.key)
            .execute(&mut *c)
            .await?;
        for org in &program.orgs {
            sqlx::query("INSERT INTO program_orgs (org, program) VALUES ($1, $2)")
                .bind(org)
                .bind(&program.key)
                .execute(&mut *c)
                .await?;
        }
    });
    Ok(())
}

/// A program's enrollments, `student_key -> status`.
pub async fn program_enrollments(
    conn: Conn<'_>,
    program: &str,
) -> Result<BTreeMap<String, String>, StoreError> {
    let sql = "SELECT student_key, status FROM program_enrollments WHERE program = $1 ORDER BY student_key";
    let rows: Vec<(String, String)> =
        on_conn!(conn, c => sqlx::query_as(sql).bind(program).fetch_all(&mut *c).await?);
    Ok(rows.into_iter().collect())
}

/// Rows per statement when setting many enrollments at once.
const BATCH: usize = 10_000;

/// Sets students' program enrollment statuses (`(student_key, status)`, no student twice).
pub async fn put_program_enrollments(
    conn: Conn<'_>,
    program: &str,
    enrollments: &[(String, String)],
) -> Result<(), StoreError> {
    let target = "program_enrollments (program, student_key, status)";
    let conflict = "ON CONFLICT (program, student_key) DO UPDATE SET status = excluded.status";
    put_many(conn, target, &[program], enrollments, conflict).await
}

/// Sets students' statuses in a course run of a program (`(student_key, status)`).
pub async fn put_course_enrollments(
    conn: Conn<'_>,
    program: &str,
    course: &str,
    enrollments: &[(String, String)],
) -> Result<(), StoreError> {
    let target = "program_course_enrollments (program, course_key, student_key, status)";
    let conflict =
        "ON CONFLICT (program, course_key, student_key) DO UPDATE SET status = excluded.status";
    put_many(conn, target, &[program, course], enrollments, conflict).await
}

/// `INSERT INTO target` the `fixed` values then each pair, a batch per statement: the pairs go
/// in as one JSON array (SQLite) or two arrays (PostgreSQL), not one placeholder each.
async fn put_many(
    conn: Conn<'_>,
    target: &str,
    fixed: &[&str],
    pairs: &[(String, String)],
    conflict: &str,
) -> Result<(), StoreError> {
    let n = fixed.len();
    let leading: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    let leading = leading.join(", ");
    match conn {
        Conn::Sqlite(c) => {
            let sql = format!(
                "INSERT INTO {target} SELECT {leading}, json_extract(value, '$[0]'), json_extract(value, '$[1]') \
                 FROM json_each(${}) WHERE true {conflict}",
                n + 1
            );
            for chunk in pairs.chunks(BATCH) {
                let mut query = sqlx::query(&sql);
                for value in fixed {
                    query = query.bind(*value);
                }
                query
                    .bind(serde_json::to_string(chunk)?)
                    .execute(&mut *c)
                    .await?;
            }
        }
        Conn::Postgres(c) => {
            let sql = format!(
                "INSERT INTO {target} SELECT {leading}, s, st FROM UNNEST(${}::text[], ${}::text[]) AS t (s, st) {conflict}",
                n + 1,
                n + 2
            );
            for chunk in pairs.chunks(BATCH) {
                let (students, statuses): (Vec<&str>, Vec<&str>) = chunk
                    .iter()
                    .map(|(s, st)| (s.as_str(), st.as_str()))
                    .unzip();
                let mut query = sqlx::query(&sql);
                for value in fixed {
                    query = query.bind(*value);
                }
                query.bind(students).bind(statuses).execute(&mut *c).await?;
            }
        }
    }
    Ok(())
}

/// A course run's enrollments under a program, `student_key -> status`.
pub async fn course_enrollments(
    conn: Conn<'_>,
    program: &str,
    course: &str,
) -> Result<BTreeMap<String, String>, StoreError> {
    let sql = "SELECT student_key, status FROM program_course_enrollments \
               WHERE program = $1 AND course_key = $2 ORDER BY student_key";
    let rows: Vec<(String, String)> = on_conn!(conn, c => sqlx::query_as(sql).bind(program).bind(course).fetch_all(&mut *c).await?);
    Ok(rows.into_iter().collect())
}

/// The advisory lock space of program leases ("prog"), apart from the store's write lock.
const LEASE_SPACE: i32 = 0x7072_6f67;

/// One program's enrollment-write lease across nodes: on PostgreSQL a transaction-level
/// advisory lock, held on a connection of its own until `release` (or, if dropped, until that
/// transaction's rollback); on SQLite, which serves one node, nothing.
pub struct Lease(Option<sqlx::Transaction<'static, sqlx::Postgres>>);

impl Lease {
    pub async fn release(self) -> Result<(), StoreError> {
        if let Some(tx) = self.0 {
            tx.rollback().await?;
        }
        Ok(())
    }
}

/// The program's lease, or `None` when another node's write for it holds it (never waits).
pub async fn try_lease(store: &Store, program: &str) -> Result<Option<Lease>, StoreError> {
    let Some(pool) = store.pg_pool() else {
        return Ok(Some(Lease(None)));
    };
    let mut tx = pool.begin().await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, hashtext($2))")
        .bind(LEASE_SPACE)
        .bind(program)
        .fetch_one(&mut *tx)
        .await?;
    Ok(got.then_some(Lease(Some(tx))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_parts_match_literally() {
        assert_eq!(like_pattern("Data"), "%data%");
        assert_eq!(like_pattern("100%_x\\"), "%100\\%\\_x\\\\%");
    }
}
