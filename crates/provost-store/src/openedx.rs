//! The reads behind the openedx app's listings (the admin console's shapes): pages of
//! assignments, team members and scopes, filtered, sorted, counted and cut in SQL, so a page
//! costs the same at 100 000 assignments as at ten. One statement text serves both dialects.

use crate::err::StoreError;
use crate::tx::Conn;

/// A place a listing may show: one scope key, or every key starting with a prefix (a glob
/// `course-v1:MITx+*` is the prefix `course-v1:MITx+`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeMatch {
    Exact(String),
    Prefix(String),
}

/// Which assignments a listing selects. `None` selects every value; a list any of its values.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub subject: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub roles: Option<Vec<String>>,
    /// Org short names: `org:X`, courses `course-v1:X+...` and libraries `lib:X:...`.
    pub orgs: Option<Vec<String>>,
    /// A case-insensitive substring of the username or the email.
    pub search: Option<String>,
    /// A case-insensitive substring of the scope key.
    pub scope_search: Option<String>,
    /// Where the caller may look; `None` is everywhere, an empty list nowhere.
    pub within: Option<Vec<ScopeMatch>>,
}

/// How a page of assignments is ordered (ties broken by subject, role, scope).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Username,
    Email,
    Role,
    Scope,
}

/// A page request: ordering direction, how many to skip, how many to return.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub sort: SortKey,
    pub descending: bool,
    pub offset: u64,
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AssignmentRow {
    pub subject: String,
    pub role: String,
    pub scope: String,
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRow {
    pub username: String,
    pub email: Option<String>,
    pub assignments: i64,
}

/// One page and how many rows match in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub count: u64,
    pub rows: Vec<T>,
}

macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

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

const FROM: &str = " FROM assignments a";

/// The smallest string above every string starting with `prefix`: its last character
/// incremented (`lib:Org1:` → `lib:Org1;`). `None` when there is no such character.
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let next = char::from_u32(u32::from(last) + 1)?;
    chars.push(next);
    Some(chars.into_iter().collect())
}

/// `%text%`, lowercased, with LIKE's wildcards escaped (`ESCAPE '\'`).
fn contains_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

struct Where {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Where {
    fn mark(&mut self, text: &str) -> String {
        self.binds.push(Bind::Text(text.to_owned()));
        format!("${}", self.binds.len())
    }

    /// The scope key starts with `prefix`: a range on the key (both dialects compare keys
    /// bytewise), so the scope index serves it; exact, unlike LIKE in SQLite.
    fn prefix(&mut self, prefix: &str) -> String {
        let low = self.mark(prefix);
        match successor(prefix) {
            Some(above) => {
                let high = self.mark(&above);
                format!("(a.scope >= {low} AND a.scope < {high})")
            }
            None => {
                let len = prefix.chars().count();
                format!("substr(a.scope, 1, {len}) = {low}")
            }
        }
    }

    fn any(&mut self, parts: Vec<String>) {
        if parts.is_empty() {
            self.conditions.push("1 = 0".into());
        } else {
            self.conditions.push(format!("({})", parts.join(" OR ")));
        }
    }

    fn clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }
}

fn where_clause(s: &Selection) -> Where {
    let mut w = Where {
        conditions: Vec::new(),
        binds: Vec::new(),
    };
    if let Some(subject) = &s.subject {
        let m = w.mark(subject);
        w.conditions.push(format!("a.subject = {m}"));
    }
    for (column, values) in [("a.scope", &s.scopes), ("a.role", &s.roles)] {
        if let Some(values) = values {
            let parts = values
                .iter()
                .map(|v| {
                    let m = w.mark(v);
                    format!("{column} = {m}")
                })
                .collect();
            w.any(parts);
        }
    }
    if let Some(orgs) = &s.orgs {
        let mut parts = Vec::new();
        for org in orgs {
            let m = w.mark(&format!("org:{org}"));
            parts.push(format!("a.scope = {m}"));
            parts.push(w.prefix(&format!("course-v1:{org}+")));
            parts.push(w.prefix(&format!("lib:{org}:")));
        }
        w.any(parts);
    }
    if let Some(search) = &s.search {
        let m = w.mark(&contains_pattern(search));
        w.conditions.push(format!(
            "(LOWER(a.subject) LIKE {m} ESCAPE '\\' OR a.subject IN \
             (SELECT username FROM users WHERE LOWER(COALESCE(email, '')) LIKE {m} ESCAPE '\\'))"
        ));
    }
    if let Some(search) = &s.scope_search {
        let m = w.mark(&contains_pattern(search));
        w.conditions
            .push(format!("LOWER(a.scope) LIKE {m} ESCAPE '\\'"));
    }
    if let Some(within) = &s.within {
        let parts = within
            .iter()
            .map(|place| match place {
                ScopeMatch::Exact(key) => {
                    let m = w.mark(key);
                    format!("a.scope = {m}")
                }
                ScopeMatch::Prefix(prefix) => w.prefix(prefix),
            })
            .collect();
        w.any(parts);
    }
    w
}

fn direction(descending: bool) -> &'static str {
    if descending {
        "DESC"
    } else {
        "ASC"
    }
}

/// A page of the assignments `selection` selects, with each subject's email.
pub async fn assignments(
    conn: Conn<'_>,
    selection: &Selection,
    window: Window,
) -> Result<Page<AssignmentRow>, StoreError> {
    let mut w = where_clause(selection);
    let clause = w.clause();
    let dir = direction(window.descending);
    let count_sql = format!("SELECT COUNT(*){FROM}{clause}");
    let n = w.binds.len();
    let (limit, offset) = (n + 1, n + 2);
    let order = |t: &str, key: &str| {
        format!("ORDER BY {key} {dir}, {t}.subject {dir}, {t}.role {dir}, {t}.scope {dir}")
    };
    let page_sql = match window.sort {
        SortKey::Email => format!(
            "SELECT a.subject, a.role, a.scope, u.email FROM assignments a \
             LEFT JOIN users u ON u.username = a.subject{clause} {} LIMIT ${limit} OFFSET ${offset}",
            order("a", "COALESCE(u.email, '')")
        ),
        sort => {
            let column = match sort {
                SortKey::Role => "role",
                SortKey::Scope => "scope",
                _ => "subject",
            };
            format!(
                "SELECT p.subject, p.role, p.scope, u.email FROM \
                 (SELECT a.subject, a.role, a.scope{FROM}{clause} {} LIMIT ${limit} OFFSET ${offset}) p \
                 LEFT JOIN users u ON u.username = p.subject {}",
                order("a", &format!("a.{column}")),
                order("p", &format!("p.{column}"))
            )
        }
    };
    page(conn, count_sql, page_sql, &mut w.binds, window).await
}

/// A page of the subjects holding an assignment `selection` selects, with how many they hold.
pub async fn members(
    conn: Conn<'_>,
    selection: &Selection,
    window: Window,
) -> Result<Page<MemberRow>, StoreError> {
    let mut w = where_clause(selection);
    let clause = w.clause();
    let dir = direction(window.descending);
    let count_sql = format!("SELECT COUNT(DISTINCT a.subject){FROM}{clause}");
    let n = w.binds.len();
    let (limit, offset) = (n + 1, n + 2);
    let grouped = format!(
        "SELECT a.subject AS username, COUNT(*) AS assignments{FROM}{clause} GROUP BY a.subject"
    );
    let page_sql = match window.sort {
        SortKey::Email => format!(
            "SELECT g.username, u.email, g.assignments FROM ({grouped}) g \
             LEFT JOIN users u ON u.username = g.username \
             ORDER BY COALESCE(u.email, '') {dir}, g.username {dir} LIMIT ${limit} OFFSET ${offset}"
        ),
        _ => format!(
            "SELECT g.username, u.email, g.assignments FROM \
             ({grouped} ORDER BY a.subject {dir} LIMIT ${limit} OFFSET ${offset}) g \
             LEFT JOIN users u ON u.username = g.username ORDER BY g.username {dir}"
        ),
    };
    page(conn, count_sql, page_sql, &mut w.binds, window).await
}

#[derive(sqlx::FromRow)]
struct ScopeRow {
    scope: String,
}

/// A page of the distinct scopes of the assignments `selection` selects, by key.
pub async fn scopes(
    conn: Conn<'_>,
    selection: &Selection,
    offset: u64,
    limit: u32,
) -> Result<Page<String>, StoreError> {
    let mut w = where_clause(selection);
    let clause = w.clause();
    let count_sql = format!("SELECT COUNT(DISTINCT a.scope){FROM}{clause}");
    let n = w.binds.len();
    let page_sql = format!(
        "SELECT a.scope{FROM}{clause} GROUP BY a.scope ORDER BY a.scope LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let window = Window {
        sort: SortKey::Scope,
        descending: false,
        offset,
        limit,
    };
    let page: Page<ScopeRow> = page(conn, count_sql, page_sql, &mut w.binds, window).await?;
    Ok(Page {
        count: page.count,
        rows: page.rows.into_iter().map(|r| r.scope).collect(),
    })
}

async fn page<T>(
    conn: Conn<'_>,
    count_sql: String,
    page_sql: String,
    binds: &mut Vec<Bind>,
    window: Window,
) -> Result<Page<T>, StoreError>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let offset = i64::try_from(window.offset).unwrap_or(i64::MAX);
    let (count, rows) = on_conn!(conn, c => {
        let count: i64 = bound!(sqlx::query_scalar(&count_sql), binds.iter())
            .fetch_one(&mut *c)
            .await?;
        binds.push(Bind::Int(i64::from(window.limit)));
        binds.push(Bind::Int(offset));
        let rows: Vec<T> = bound!(sqlx::query_as(&page_sql), binds.iter())
            .fetch_all(&mut *c)
            .await?;
        (count, rows)
    });
    Ok(Page {
        count: crate::rows::to_u64(count)?,
        rows,
    })
}

#[derive(sqlx::FromRow)]
struct Pair {
    first: String,
    second: String,
}

/// The roles each of `subjects` holds at `scope`, as (subject, role), ordered.
pub async fn roles_at(
    conn: Conn<'_>,
    scope: &str,
    subjects: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    if subjects.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..subjects.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT subject AS first, role AS second FROM assignments WHERE scope = $1 AND subject IN ({}) \
         ORDER BY subject, role",
        marks.join(", ")
    );
    let mut binds = vec![Bind::Text(scope.to_owned())];
    binds.extend(subjects.iter().map(|s| Bind::Text(s.clone())));
    let rows: Vec<Pair> = on_conn!(conn, c => {
        bound!(sqlx::query_as(&sql), binds.iter()).fetch_all(&mut *c).await?
    });
    Ok(rows.into_iter().map(|p| (p.first, p.second)).collect())
}

#[derive(sqlx::FromRow)]
struct RoleCount {
    role: String,
    n: i64,
}

/// How many subjects hold each role at `scope`.
pub async fn role_counts(conn: Conn<'_>, scope: &str) -> Result<Vec<(String, u64)>, StoreError> {
    let sql = "SELECT role, COUNT(*) AS n FROM assignments WHERE scope = $1 GROUP BY role";
    let rows: Vec<RoleCount> = on_conn!(conn, c => {
        sqlx::query_as(sql).bind(scope.to_owned()).fetch_all(&mut *c).await?
    });
    rows.into_iter()
        .map(|r| Ok((r.role, crate::rows::to_u64(r.n)?)))
        .collect()
}

/// The usernames of the users with these emails, as (email, username). Emails compare
/// case-insensitively.
pub async fn usernames_by_email(
    conn: Conn<'_>,
    emails: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..emails.len()).map(|i| format!("${}", i + 1)).collect();
    let sql = format!(
        "SELECT LOWER(email) AS first, username AS second FROM users WHERE LOWER(email) IN ({}) \
         ORDER BY username",
        marks.join(", ")
    );
    let binds: Vec<Bind> = emails
        .iter()
        .map(|e| Bind::Text(e.to_lowercase()))
        .collect();
    let rows: Vec<Pair> = on_conn!(conn, c => {
        bound!(sqlx::query_as(&sql), binds.iter()).fetch_all(&mut *c).await?
    });
    Ok(rows.into_iter().map(|p| (p.first, p.second)).collect())
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn a_prefix_range_ends_at_the_successor() {
        assert_eq!(super::successor("lib:Org1:").as_deref(), Some("lib:Org1;"));
        assert_eq!(
            super::successor("course-v1:X+").as_deref(),
            Some("course-v1:X,")
        );
        assert_eq!(super::successor(""), None);
    }

    #[test]
    fn search_text_is_escaped_and_lowercased() {
        assert_eq!(contains_pattern("Ab_%\\"), "%ab\\_\\%\\\\%");
    }
}
