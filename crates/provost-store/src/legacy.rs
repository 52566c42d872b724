//! The legacy app's tables: its migration/rollback runs and the course authoring flag's values.
//! One statement text serves both dialects (`$N` placeholders); writes take the write's `Tx`,
//! reads a `Conn` (`Store::read`, or `Tx::conn` inside a write).

use crate::err::StoreError;
use crate::tx::{Conn, Tx};

/// One migration or rollback run, as stored. JSON columns stay text here; the app owns their shape.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LegacyRun {
    pub id: String,
    /// `forward` or `rollback`.
    pub direction: String,
    /// JSON: what the run covers (`{"all": true}`, `{"org": "MITx"}`, `{"courses": [...]}`).
    pub filter: String,
    /// JSON array of the scope keys the run covers (`*`, `org:X`, course keys).
    pub scopes: String,
    /// The legacy database or folder, without credentials.
    pub source: String,
    /// JSON: the run's options (forum, dry run, delete, remove).
    pub options: String,
    /// `running`, `completed`, `partial_success` or `failed`.
    pub status: String,
    /// JSON: rows per outcome so far.
    pub counts: String,
    pub error: Option<String>,
    /// JSON: the first rows' outcomes, saved when the run ends.
    pub report: Option<String>,
    pub actor: String,
    /// `host:pid` of the process running it.
    pub owner: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
    pub finished_at: Option<i64>,
}

/// A flag's value set at one scope.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct FlagValue {
    pub scope: String,
    pub enabled: bool,
}

const RUN_COLUMNS: &str =
    "id, direction, filter, scopes, source, options, status, counts, error, report, \
     actor, owner, started_at, heartbeat_at, finished_at";

/// Runs `$body` with `$c` bound to either dialect's connection.
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

/// Records a new run.
pub async fn insert_run(tx: &mut Tx<'_>, run: &LegacyRun) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO legacy_runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    );
    on!(tx.conn(), c => {
        sqlx::query(&sql)
            .bind(&run.id)
            .bind(&run.direction)
            .bind(&run.filter)
            .bind(&run.scopes)
            .bind(&run.source)
            .bind(&run.options)
            .bind(&run.status)
            .bind(&run.counts)
            .bind(&run.error)
            .bind(&run.report)
            .bind(&run.actor)
            .bind(&run.owner)
            .bind(run.started_at)
            .bind(run.heartbeat_at)
            .bind(run.finished_at)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// The runs still marked `running`, under the write lock when read through a `Tx`.
pub async fn running_runs(conn: Conn<'_>) -> Result<Vec<LegacyRun>, StoreError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM legacy_runs WHERE status = 'running' ORDER BY id");
    Ok(on!(conn, c => sqlx::query_as::<_, LegacyRun>(&sql).fetch_all(c).await?))
}

/// Saves a run's counts so far and its heartbeat.
pub async fn save_progress(
    tx: &mut Tx<'_>,
    id: &str,
    counts: &str,
    at: i64,
) -> Result<(), StoreError> {
    let sql = "UPDATE legacy_runs SET counts = $1, heartbeat_at = $2 WHERE id = $3";
    on!(tx.conn(), c => {
        sqlx::query(sql).bind(counts).bind(at).bind(id).execute(c).await?;
    });
    Ok(())
}

/// How a run ended.
#[derive(Clone, Copy, Debug)]
pub struct RunEnd<'a> {
    pub status: &'a str,
    pub counts: &'a str,
    pub error: Option<&'a str>,
    pub report: Option<&'a str>,
    pub at: i64,
}

/// Ends run `id` with its status, final counts, error (if it failed) and report.
pub async fn finish_run(tx: &mut Tx<'_>, id: &str, end: RunEnd<'_>) -> Result<(), StoreError> {
    let sql = "UPDATE legacy_runs SET status = $1, counts = $2, error = $3, report = $4, \
               heartbeat_at = $5, finished_at = $5 WHERE id = $6";
    on!(tx.conn(), c => {
        sqlx::query(sql)
            .bind(end.status)
            .bind(end.counts)
            .bind(end.error)
            .bind(end.report)
            .bind(end.at)
            .bind(id)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// The run `id`, if there is one.
pub async fn run(conn: Conn<'_>, id: &str) -> Result<Option<LegacyRun>, StoreError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM legacy_runs WHERE id = $1");
    Ok(on!(conn, c => sqlx::query_as::<_, LegacyRun>(&sql).bind(id).fetch_optional(c).await?))
}

/// Runs newest first, strictly before `(started_at, id)` when given, at most `limit`.
pub async fn runs(
    conn: Conn<'_>,
    before: Option<(i64, &str)>,
    limit: u32,
) -> Result<Vec<LegacyRun>, StoreError> {
    let (at, id) = before.unwrap_or((i64::MAX, ""));
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM legacy_runs WHERE started_at < $1 OR (started_at = $1 AND id < $2) \
         ORDER BY started_at DESC, id DESC LIMIT $3"
    );
    let limit = i64::from(limit);
    Ok(
        on!(conn, c => sqlx::query_as::<_, LegacyRun>(&sql).bind(at).bind(id).bind(limit).fetch_all(c).await?),
    )
}

/// Every value `name` is set to, at any scope (a handful: the instance, some orgs and courses).
pub async fn flag_values(conn: Conn<'_>, name: &str) -> Result<Vec<FlagValue>, StoreError> {
    let sql = "SELECT scope, enabled FROM legacy_flags WHERE name = $1 ORDER BY scope";
    Ok(on!(conn, c => sqlx::query_as::<_, FlagValue>(sql).bind(name).fetch_all(c).await?))
}

/// Sets `name` at `scope` to `enabled`, or clears it there (`None`); returns what it was.
pub async fn set_flag(
    tx: &mut Tx<'_>,
    name: &str,
    scope: &str,
    enabled: Option<bool>,
) -> Result<Option<bool>, StoreError> {
    let read = "SELECT enabled FROM legacy_flags WHERE name = $1 AND scope = $2";
    let before: Option<bool> = on!(tx.conn(), c => sqlx::query_scalar(read).bind(name).bind(scope).fetch_optional(c).await?);
    let delete = "DELETE FROM legacy_flags WHERE name = $1 AND scope = $2";
    on!(tx.conn(), c => {
        sqlx::query(delete).bind(name).bind(scope).execute(c).await?;
    });
    if let Some(enabled) = enabled {
        let insert = "INSERT INTO legacy_flags (name, scope, enabled) VALUES ($1, $2, $3)";
        on!(tx.conn(), c => {
            sqlx::query(insert).bind(name).bind(scope).bind(enabled).execute(c).await?;
        });
    }
    Ok(before)
}
