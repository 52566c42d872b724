//! The batches app's rows (one per course batch) and the membership reads it needs. Membership
//! itself is role assignments at `batch:<id>`, written with `Tx::apply` like any other.

use crate::err::StoreError;
use crate::tx::Conn;

/// One course batch as stored. Dates are `yyyy-MM-dd`; status is never stored (the app
/// computes it from the dates and today).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct BatchRow {
    pub id: String,
    /// The course key (`course-v1:...`) the batch is registered under.
    pub course_id: String,
    pub name: String,
    pub description: Option<String>,
    /// `open` or `invite-only`.
    pub enrollment_type: String,
    pub start_date: String,
    pub end_date: Option<String>,
    pub enrollment_end_date: Option<String>,
    /// A JSON array of the org ids the batch was made for.
    pub created_for: String,
    pub created_by: String,
    pub created_date: String,
    pub updated_date: Option<String>,
}

/// Which batches a search selects; `None` matches every value, a list any of its values.
#[derive(Clone, Debug, Default)]
pub struct BatchFilter {
    pub ids: Option<Vec<String>>,
    pub course_ids: Option<Vec<String>>,
    pub enrollment_types: Option<Vec<String>>,
    pub created_by: Option<Vec<String>>,
    /// Statuses (0 upcoming, 1 in progress, 2 completed) as of `today`.
    pub statuses: Option<Vec<u8>>,
    /// Today's date (`yyyy-MM-dd`) in the batch time zone, for `statuses`.
    pub today: String,
}

/// One page of a search and how many batches match in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchPage {
    pub count: u64,
    pub batches: Vec<BatchRow>,
}

const COLUMNS: &str = "SELECT id, course_id, name, description, enrollment_type, start_date, \
     end_date, enrollment_end_date, created_for, created_by, created_date, updated_date FROM batches";

/// Runs `$body` with `$c` bound to the dialect's connection.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

/// A value bound to a `$N` placeholder (the same text serves both dialects).
enum Bind {
    Text(String),
    Int(i64),
}

macro_rules! bound {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.clone()),
                Bind::Int(n) => query.bind(*n),
            };
        }
        query
    }};
}

/// Adds a batch.
pub async fn insert(conn: Conn<'_>, row: &BatchRow) -> Result<(), StoreError> {
    let sql =
        "INSERT INTO batches (id, course_id, name, description, enrollment_type, start_date, \
         end_date, enrollment_end_date, created_for, created_by, created_date, updated_date) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    on_conn!(conn, c => {
        sqlx::query(sql)
            .bind(&row.id)
            .bind(&row.course_id)
            .bind(&row.name)
            .bind(&row.description)
            .bind(&row.enrollment_type)
            .bind(&row.start_date)
            .bind(&row.end_date)
            .bind(&row.enrollment_end_date)
            .bind(&row.created_for)
            .bind(&row.created_by)
            .bind(&row.created_date)
            .bind(&row.updated_date)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// Replaces a batch's fields (all but its id, course, creator and creation date).
pub async fn update(conn: Conn<'_>, row: &BatchRow) -> Result<(), StoreError> {
    let sql = "UPDATE batches SET name = $2, description = $3, enrollment_type = $4, \
         start_date = $5, end_date = $6, enrollment_end_date = $7, created_for = $8, \
         updated_date = $9 WHERE id = $1";
    on_conn!(conn, c => {
        sqlx::query(sql)
            .bind(&row.id)
            .bind(&row.name)
            .bind(&row.description)
            .bind(&row.enrollment_type)
            .bind(&row.start_date)
            .bind(&row.end_date)
            .bind(&row.enrollment_end_date)
            .bind(&row.created_for)
            .bind(&row.updated_date)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// The batch with this id, if any.
pub async fn get(conn: Conn<'_>, id: &str) -> Result<Option<BatchRow>, StoreError> {
    let sql = format!("{COLUMNS} WHERE id = $1");
    Ok(on_conn!(conn, c => {
        sqlx::query_as::<_, BatchRow>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await?
    }))
}

/// The batches `filter` selects, ordered by id, `limit` of them after skipping `offset`.
pub async fn search(
    conn: Conn<'_>,
    filter: &BatchFilter,
    offset: u32,
    limit: u32,
) -> Result<BatchPage, StoreError> {
    let (clause, mut binds) = where_clause(filter);
    let count_sql = format!("SELECT COUNT(*) FROM batches{clause}");
    let n = binds.len();
    let page_sql = format!(
        "{COLUMNS}{clause} ORDER BY id LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let (count, batches) = on_conn!(conn, c => {
        let count: i64 = bound!(sqlx::query_scalar(&count_sql), &binds)
            .fetch_one(&mut *c)
            .await?;
        binds.push(Bind::Int(i64::from(limit)));
        binds.push(Bind::Int(i64::from(offset)));
        let batches: Vec<BatchRow> = bound!(sqlx::query_as(&page_sql), &binds)
            .fetch_all(&mut *c)
            .await?;
        (count, batches)
    });
    Ok(BatchPage {
        count: crate::rows::to_u64(count)?,
        batches,
    })
}

/// ` WHERE ...` for `filter` (empty when it selects everything) and its values, in order.
fn where_clause(filter: &BatchFilter) -> (String, Vec<Bind>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut binds: Vec<Bind> = Vec::new();
    let mut any_of = |column: &str, values: &Option<Vec<String>>| {
        if let Some(values) = values {
            let mut marks = Vec::new();
            for value in values {
                binds.push(Bind::Text(value.clone()));
                marks.push(format!("${}", binds.len()));
            }
            if marks.is_empty() {
                conditions.push("FALSE".into());
            } else {
                conditions.push(format!("{column} IN ({})", marks.join(", ")));
            }
        }
    };
    any_of("id", &filter.ids);
    any_of("course_id", &filter.course_ids);
    any_of("enrollment_type", &filter.enrollment_types);
    any_of("created_by", &filter.created_by);
    if let Some(statuses) = &filter.statuses {
        binds.push(Bind::Text(filter.today.clone()));
        let today = format!("${}", binds.len());
        let states: Vec<String> = statuses
            .iter()
            .filter_map(|status| match status {
                0 => Some(format!("start_date > {today}")),
                1 => Some(format!(
                    "(start_date <= {today} AND (end_date IS NULL OR end_date >= {today}))"
                )),
                2 => Some(format!("end_date < {today}")),
                _ => None,
            })
            .collect();
        if states.is_empty() {
            conditions.push("FALSE".into());
        } else {
            conditions.push(format!("({})", states.join(" OR ")));
        }
    }
    if conditions.is_empty() {
        (String::new(), binds)
    } else {
        (format!(" WHERE {}", conditions.join(" AND ")), binds)
    }
}

/// Who holds which of `roles` directly at `scope` (not through a parent), as (subject, role),
/// ordered by role and subject.
pub async fn members(
    conn: Conn<'_>,
    scope: &str,
    roles: &[&str],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut each = members_of_each(conn, &[scope.to_owned()], roles).await?;
    Ok(each.pop().unwrap_or_default())
}

/// `members` of each of `scopes`, in their order, on one connection.
pub async fn members_of_each(
    conn: Conn<'_>,
    scopes: &[String],
    roles: &[&str],
) -> Result<Vec<Vec<(String, String)>>, StoreError> {
    let marks: Vec<String> = (0..roles.len()).map(|i| format!("${}", i + 2)).collect();
    if marks.is_empty() {
        return Ok(scopes.iter().map(|_| Vec::new()).collect());
    }
    let sql = format!(
        "SELECT subject, role FROM assignments WHERE scope = $1 AND role IN ({}) ORDER BY role, subject",
        marks.join(", ")
    );
    let mut all = Vec::with_capacity(scopes.len());
    on_conn!(conn, c => {
        for scope in scopes {
            let mut binds = vec![Bind::Text(scope.clone())];
            binds.extend(roles.iter().map(|r| Bind::Text((*r).to_owned())));
            let members: Vec<(String, String)> =
                bound!(sqlx::query_as(&sql), &binds).fetch_all(&mut *c).await?;
            all.push(members);
        }
    });
    Ok(all)
}
