//! Rollback: Provost assignments with an exact legacy equivalent written back into the legacy
//! tables (never duplicated: `INSERT IGNORE` on their unique keys); the rest of the run's courses'
//! assignments are reported as having none. With `remove`, what is back in the legacy tables leaves
//! Provost, page by page, each page one transaction with an audit entry carrying the run id.

use provost_engine::{Assignment, AssignmentKey, Change, Scope};
use provost_store::{AppAudit, AssignmentFilter};
use serde_json::json;

use super::flag::{self, FlagScope, COURSE_AUTHORING};
use super::mapping::{legacy_place, legacy_role, Table, FORUM_STUDENT};
use super::runs;
use super::service::{Progress, RowOutcome, RowReport, RunRequest, Tally, APP};
use super::source::Filter;
use super::target::MysqlTarget;
use crate::access::Actor;
use crate::err::Result;
use crate::node::Node;

/// Writes back every assignment of the run's filter that has an exact legacy equivalent.
pub async fn backward(
    node: &Node,
    actor: &Actor,
    run: &str,
    request: &RunRequest,
    target: &MysqlTarget,
    progress: &dyn Progress,
    tally: &mut Tally,
) -> Result<()> {
    let flags = flag::values(node, COURSE_AUTHORING).await?;
    progress.total(None);
    let mut after: Option<AssignmentKey> = None;
    let all = AssignmentFilter::default();
    loop {
        let page = node
            .store()
            .assignments(&all, after.as_ref(), request.options.batch_size)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(AssignmentKey {
            subject: last.subject.clone(),
            role: last.role.clone(),
            scope: last.scope.clone(),
        });
        let rows: Vec<RowReport> = page
            .iter()
            .filter(|a| in_area(&request.filter, &a.scope))
            .filter_map(|a| classify(a, request, &flags))
            .collect();
        let rows = write_back(target, request.options.dry_run, rows).await?;
        let mut removed = Vec::new();
        if request.options.remove && !request.options.dry_run {
            removed = remove(node, actor, run, &rows, tally).await?;
        } else {
            save(node, actor, run, &rows, tally).await?;
        }
        if !removed.is_empty() {
            tally.bump("removed", removed.len() as u64);
        }
        progress.advance(page.len() as u64);
        for row in rows {
            tally.add(row);
        }
    }
    Ok(())
}

/// Whether an assignment at `scope` lies in the run's courses: course keys, the orgs' course
/// globs and org keys (an org's assignments are in its courses' area, with or without an equivalent).
fn in_area(filter: &Filter, scope: &str) -> bool {
    let Ok(parsed) = Scope::parse(scope) else {
        return false;
    };
    let course_area = matches!(
        parsed,
        Scope::Course { .. } | Scope::CourseGlob(_) | Scope::Org(_)
    );
    match filter {
        Filter::All => course_area,
        Filter::Org(org) => course_area && parsed.org() == Some(org.as_str()),
        Filter::Courses(keys) => keys.iter().any(|k| k == scope),
    }
}

/// The row for an assignment in the area, or `None` for forum roles when the run leaves them out.
fn classify(a: &Assignment, request: &RunRequest, flags: &flag::FlagValues) -> Option<RowReport> {
    let equivalent = legacy_role(&a.role);
    if matches!(equivalent, Some((Table::ForumRole, _))) && !request.options.forum {
        return None;
    }
    let mut row = RowReport {
        table: equivalent.map_or(Table::CourseAccessRole, |(t, _)| t),
        id: None,
        user: a.subject.clone(),
        org: String::new(),
        course_id: String::new(),
        legacy_role: String::new(),
        role: Some(a.role.clone()),
        scope: Some(a.scope.clone()),
        outcome: RowOutcome::NoLegacyEquivalent,
        deleted: false,
    };
    let place = legacy_place(&a.scope);
    let (Some((table, legacy)), Some((org, course_id))) = (equivalent, place) else {
        return Some(row);
    };
    // Forum roles live per course; a window has no place in either legacy table.
    if (table == Table::ForumRole && course_id.is_empty())
        || a.valid_from.is_some()
        || a.valid_until.is_some()
    {
        return Some(row);
    }
    row.legacy_role = legacy.to_owned();
    row.org = if table == Table::ForumRole {
        String::new()
    } else {
        org.clone()
    };
    row.course_id = course_id.clone();
    row.outcome = RowOutcome::WrittenBack;
    if table == Table::ForumRole && legacy == FORUM_STUDENT && !request.options.forum_students {
        row.outcome = RowOutcome::StudentSkipped;
    }
    let key = if course_id.is_empty() {
        FlagScope::Org(org).key()
    } else {
        course_id
    };
    if flags.set_at(&key) == Some(true) {
        row.outcome = RowOutcome::SkippedForFlagOverride;
    }
    Some(row)
}

/// Writes the page's rows that have an equivalent (`written_back`, or `already_present` when
/// the unique key was taken; `unknown_user` when `auth_user` lacks the user). A dry run only reads.
async fn write_back(
    target: &MysqlTarget,
    dry_run: bool,
    mut rows: Vec<RowReport>,
) -> Result<Vec<RowReport>> {
    let names: Vec<&str> = rows
        .iter()
        .filter(|r| r.outcome == RowOutcome::WrittenBack)
        .map(|r| r.user.as_str())
        .collect();
    let ids = target.user_ids(&names).await?;
    for row in rows
        .iter_mut()
        .filter(|r| r.outcome == RowOutcome::WrittenBack)
    {
        let Some(user_id) = ids.get(&row.user).copied() else {
            row.outcome = RowOutcome::UnknownUser;
            continue;
        };
        let wrote = if dry_run {
            !target
                .has_role(
                    row.table,
                    user_id,
                    &row.org,
                    &row.course_id,
                    &row.legacy_role,
                )
                .await?
        } else {
            match row.table {
                Table::CourseAccessRole => {
                    target
                        .write_course_role(user_id, &row.org, &row.course_id, &row.legacy_role)
                        .await?
                }
                Table::ForumRole => {
                    target
                        .write_forum_role(user_id, &row.legacy_role, &row.course_id)
                        .await?
                }
            }
        };
        if !wrote {
            row.outcome = RowOutcome::AlreadyPresent;
        }
    }
    Ok(rows)
}

fn written(rows: &[RowReport]) -> Vec<serde_json::Value> {
    rows.iter()
        .filter(|r| r.outcome == RowOutcome::WrittenBack)
        .map(|r| json!([r.user, r.org, r.course_id, r.legacy_role]))
        .collect()
}

/// Saves the run's progress, with an audit entry of the rows written back when there are any.
async fn save(
    node: &Node,
    actor: &Actor,
    run: &str,
    rows: &[RowReport],
    tally: &Tally,
) -> Result<()> {
    let counts = counts_after(tally, rows, 0);
    let written = written(rows);
    node.write(&actor.username, |tx| {
        Box::pin(async move {
            runs::save_progress(tx, run, &counts).await?;
            if !written.is_empty() {
                tx.audit(AppAudit {
                    app: APP.into(),
                    operation: "rollback_batch".into(),
                    subject: None,
                    scope: None,
                    after: Some(json!({ "run": run, "written": written })),
                    before: None,
                })
                .await?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(())
}

/// Removes from Provost the page's assignments that the legacy tables now hold, with the run's
/// progress and an audit entry, in one transaction; returns what it removed.
async fn remove(
    node: &Node,
    actor: &Actor,
    run: &str,
    rows: &[RowReport],
    tally: &Tally,
) -> Result<Vec<serde_json::Value>> {
    let changes: Vec<Change> = rows
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                RowOutcome::WrittenBack | RowOutcome::AlreadyPresent
            )
        })
        .filter_map(|r| {
            Some(Change::AssignmentRemove {
                subject: r.user.clone(),
                role: r.role.clone()?,
                scope: r.scope.clone()?,
            })
        })
        .collect();
    let removed: Vec<serde_json::Value> = changes
        .iter()
        .filter_map(|c| match c {
            Change::AssignmentRemove {
                subject,
                role,
                scope,
            } => Some(json!([subject, role, scope])),
            _ => None,
        })
        .collect();
    let counts = counts_after(tally, rows, removed.len());
    let written = written(rows);
    let audit = removed.clone();
    node.write(&actor.username, |tx| {
        Box::pin(async move {
            tx.apply_all(&changes).await?;
            runs::save_progress(tx, run, &counts).await?;
            if !written.is_empty() || !audit.is_empty() {
                tx.audit(AppAudit {
                    app: APP.into(),
                    operation: "rollback_batch".into(),
                    subject: None,
                    scope: None,
                    after: Some(json!({ "run": run, "written": written, "removed": audit })),
                    before: None,
                })
                .await?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(removed)
}

/// The run's counts once this page is added.
fn counts_after(
    tally: &Tally,
    rows: &[RowReport],
    removed: usize,
) -> std::collections::BTreeMap<String, u64> {
    let mut next = Tally {
        counts: tally.counts.clone(),
        ..Tally::default()
    };
    for row in rows {
        next.bump(row.outcome.as_str(), 1);
        next.bump("rows", 1);
    }
    if removed > 0 {
        next.bump("removed", removed as u64);
    }
    next.counts
}
