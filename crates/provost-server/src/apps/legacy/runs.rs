//! Run records: starting a run under the one-run-per-scope rule (a run whose process died is
//! taken over), its progress, its end, and reading runs back.

use std::collections::BTreeMap;

use provost_store::legacy::{self as store, LegacyRun, RunEnd};
use provost_store::AppAudit;
use serde_json::json;

use super::service::{time, RowReport, RunRequest, RunView, Tally, APP};
use super::source::{redact, Filter};
use crate::access::{now, truncate, Actor};
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// A run whose heartbeat is older than this is taken to be dead, wherever it ran.
const STALE_AFTER_SECS: i64 = 600;

/// A stored run.
pub struct RunRecord(LegacyRun);

/// The scope keys a filter covers, for the one-run-per-scope rule.
fn scopes_of(filter: &Filter) -> Vec<String> {
    match filter {
        Filter::All => vec!["*".into()],
        Filter::Org(org) => vec![format!("org:{org}")],
        Filter::Courses(keys) => keys.clone(),
    }
}

/// `org:ORG` for a course key.
fn org_of(key: &str) -> Option<String> {
    let org = key.strip_prefix("course-v1:")?.split_once('+')?.0;
    Some(format!("org:{org}"))
}

/// Whether two runs' scopes share a course.
fn overlap(a: &[String], b: &[String]) -> bool {
    let touch = |x: &String, y: &String| {
        x == "*"
            || y == "*"
            || x == y
            || org_of(x).as_ref() == Some(y)
            || org_of(y).as_ref() == Some(x)
    };
    a.iter().any(|x| b.iter().any(|y| touch(x, y)))
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// `host:pid` of this process.
fn owner() -> String {
    format!("{}:{}", host(), std::process::id())
}

/// Whether a `running` run is in fact dead: its heartbeat is stale, or it ran on this host in a
/// process that is gone (killed, crashed).
fn abandoned(run: &LegacyRun, at: i64) -> bool {
    if at - run.heartbeat_at > STALE_AFTER_SECS {
        return true;
    }
    let Some((run_host, pid)) = run.owner.rsplit_once(':') else {
        return false;
    };
    let proc = std::path::Path::new("/proc");
    run_host == host() && proc.is_dir() && !proc.join(pid).exists()
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Records `request` as a running run, ending overlapping runs that are dead; 409 while a live
/// one overlaps. Under the write lock, so two runs cannot both start.
pub async fn begin(node: &Node, actor: &Actor, request: &RunRequest) -> Result<String> {
    // Time-ordered, so runs started in the same second still list newest first (`id DESC`).
    let id = uuid::Uuid::now_v7().to_string();
    let scopes = scopes_of(&request.filter);
    let at = now();
    let run = LegacyRun {
        id: id.clone(),
        direction: request.direction.as_str().into(),
        filter: to_json(&request.filter),
        scopes: to_json(&scopes),
        source: redact(&request.database),
        options: to_json(&request.options),
        status: "running".into(),
        counts: "{}".into(),
        error: None,
        report: None,
        actor: actor.username.clone(),
        owner: owner(),
        started_at: at,
        heartbeat_at: at,
        finished_at: None,
    };
    node.write(&actor.username, |tx| {
        Box::pin(async move {
            for other in store::running_runs(tx.conn()).await? {
                let theirs: Vec<String> = serde_json::from_str(&other.scopes).unwrap_or_default();
                if !overlap(&scopes, &theirs) {
                    continue;
                }
                if !abandoned(&other, at) {
                    return Err(Error::new(
                        ErrorCode::MigrationRunning,
                        format!(
                            "run `{}` ({}) is still running over an overlapping scope; wait for it to end",
                            other.id, other.direction
                        ),
                    )
                    .with_details(json!({ "run": other.id })));
                }
                let end = RunEnd {
                    status: "failed",
                    counts: &other.counts,
                    error: Some("abandoned: its process ended before the run did"),
                    report: None,
                    at,
                };
                store::finish_run(tx, &other.id, end).await?;
            }
            store::insert_run(tx, &run).await?;
            tx.audit(AppAudit {
                app: APP.into(),
                operation: "run_start".into(),
                subject: None,
                scope: None,
                after: Some(json!({ "run": run.id, "direction": run.direction, "filter": serde_json::from_str::<serde_json::Value>(&run.filter).unwrap_or_default(), "source": run.source })),
                before: None,
            })
            .await?;
            Ok(())
        })
    })
    .await?;
    Ok(id)
}

/// Ends run `id` with its tally: `failed` with `error`, else `completed` or `partial_success`.
pub async fn finish(
    node: &Node,
    actor: &Actor,
    id: &str,
    tally: &Tally,
    error: Option<&str>,
) -> Result<()> {
    let status = match error {
        Some(_) => "failed",
        None => tally.status(),
    };
    let counts = to_json(&tally.counts);
    let report = to_json(&Report {
        rows: &tally.rows,
        truncated: tally.truncated,
    });
    let error = error.map(truncate_error);
    node.write(&actor.username, |tx| {
        Box::pin(async move {
            let end = RunEnd {
                status,
                counts: &counts,
                error: error.as_deref(),
                report: Some(&report),
                at: now(),
            };
            store::finish_run(tx, id, end).await?;
            tx.audit(AppAudit {
                app: APP.into(),
                operation: "run_end".into(),
                subject: None,
                scope: None,
                after: Some(json!({ "run": id, "status": status, "counts": serde_json::from_str::<serde_json::Value>(&counts).unwrap_or_default(), "error": error })),
                before: None,
            })
            .await?;
            Ok(())
        })
    })
    .await?;
    Ok(())
}

fn truncate_error(message: &str) -> String {
    message.chars().take(1000).collect()
}

/// The report as stored with the run.
#[derive(serde::Serialize)]
struct Report<'a> {
    rows: &'a [RowReport],
    truncated: bool,
}

#[derive(serde::Deserialize)]
struct StoredReport {
    rows: Vec<RowReport>,
    truncated: bool,
}

/// Saves a run's counts so far (its heartbeat too), inside the batch's write.
pub async fn save_progress(
    tx: &mut provost_store::Tx<'_>,
    id: &str,
    counts: &BTreeMap<String, u64>,
) -> std::result::Result<(), provost_store::StoreError> {
    store::save_progress(tx, id, &to_json(counts), now()).await
}

/// Run `id`; 404 when there is none.
pub async fn get(node: &Node, id: &str) -> Result<RunRecord> {
    let found = store::run(node.store().reader().await?.conn(), id).await?;
    found.map(RunRecord).ok_or_else(|| {
        Error::new(
            ErrorCode::RunNotFound,
            format!("there is no legacy run `{}`", truncate(id)),
        )
    })
}

/// The newest `limit` runs, newest first.
pub async fn list(node: &Node, limit: u32) -> Result<Vec<RunRecord>> {
    let runs = store::runs(node.store().reader().await?.conn(), None, limit).await?;
    Ok(runs.into_iter().map(RunRecord).collect())
}

impl RunRecord {
    /// The run with its report.
    pub fn into_view(self) -> Result<RunView> {
        let report: Option<StoredReport> = match &self.0.report {
            Some(text) => Some(serde_json::from_str(text).map_err(corrupt)?),
            None => None,
        };
        let mut view = self.into_summary()?;
        if let Some(report) = report {
            view.rows = Some(report.rows);
            view.rows_truncated = report.truncated;
        }
        Ok(view)
    }

    /// The run without its rows.
    pub fn into_summary(self) -> Result<RunView> {
        let run = self.0;
        let direction = serde_json::from_value(json!(run.direction)).map_err(corrupt)?;
        Ok(RunView {
            id: run.id,
            direction,
            status: run.status,
            filter: serde_json::from_str(&run.filter).map_err(corrupt)?,
            source: run.source,
            options: serde_json::from_str(&run.options).map_err(corrupt)?,
            counts: serde_json::from_str(&run.counts).map_err(corrupt)?,
            error: run.error,
            actor: run.actor,
            started_at: time(run.started_at),
            finished_at: run.finished_at.map(time),
            rows: None,
            rows_truncated: false,
        })
    }
}

fn corrupt(e: serde_json::Error) -> Error {
    Error::internal(format!("a stored legacy run does not read back: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_overlap_when_they_share_a_course() {
        let all = scopes_of(&Filter::All);
        let mitx = scopes_of(&Filter::Org("MITx".into()));
        let harvard = scopes_of(&Filter::Org("HarvardX".into()));
        let course = scopes_of(&Filter::Courses(vec!["course-v1:MITx+6.00x+2024T1".into()]));
        assert!(overlap(&all, &harvard));
        assert!(overlap(&mitx, &course));
        assert!(overlap(&course, &mitx));
        assert!(!overlap(&harvard, &course));
        assert!(!overlap(&mitx, &harvard));
    }
}
