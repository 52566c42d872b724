//! Forward: legacy rows into Provost assignments, a page at a time, each page one transaction
//! (its users, assignments, the run's progress and an audit entry carrying the run id).

use std::collections::HashSet;

use provost_engine::{Assignment, Change, Index, User};
use provost_store::{AppAudit, AssignmentFilter, Outcome};
use serde_json::json;

use super::flag::{self, FlagScope, COURSE_AUTHORING};
use super::mapping::{place, provost_role, Place, Table, FORUM_STUDENT, WITHOUT_EQUIVALENT};
use super::runs;
use super::service::{Progress, RowOutcome, RowReport, RunRequest, Tally, APP};
use super::source::{LegacyRow, Source};
use crate::access::{check_username, Actor};
use crate::err::Result;
use crate::node::Node;

/// What a row becomes: an assignment to make, or an outcome already decided.
enum Plan {
    Assign {
        user: User,
        role: &'static str,
        scope: String,
    },
    Skip(RowOutcome),
}

/// Migrates every row of the run's filter from `source`.
pub async fn forward(
    node: &Node,
    actor: &Actor,
    run: &str,
    request: &RunRequest,
    source: &mut dyn Source,
    progress: &dyn Progress,
    tally: &mut Tally,
) -> Result<()> {
    let flags = flag::values(node, COURSE_AUTHORING).await?;
    let mut tables = vec![Table::CourseAccessRole];
    if request.options.forum {
        tables.push(Table::ForumRole);
    }
    let mut total = Some(0);
    for table in &tables {
        total = match (total, source.count(*table).await?) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }
    progress.total(total);
    for table in tables {
        loop {
            let rows = source.next_page(table, request.options.batch_size).await?;
            if rows.is_empty() {
                break;
            }
            let plans: Vec<Plan> = rows.iter().map(|row| plan(row, request, &flags)).collect();
            let outcomes = if request.options.dry_run {
                let outcomes = dry_run(node, &plans).await?;
                save_dry_progress(node, actor, run, tally, &outcomes).await?;
                outcomes
            } else {
                apply(node, actor, run, &rows, &plans, tally).await?
            };
            let mut deleted = HashSet::new();
            if request.options.delete && !request.options.dry_run {
                let ids: Vec<i64> = rows
                    .iter()
                    .zip(&outcomes)
                    .filter(|(_, o)| matches!(o, RowOutcome::Migrated | RowOutcome::AlreadyPresent))
                    .map(|(r, _)| r.id)
                    .collect();
                source.delete(table, &ids).await?;
                audit_delete(node, actor, run, table, &ids).await?;
                deleted.extend(ids);
            }
            for ((row, plan), outcome) in rows.iter().zip(&plans).zip(&outcomes) {
                tally.add(report(row, plan, *outcome, deleted.contains(&row.id)));
            }
            progress.advance(rows.len() as u64);
        }
    }
    Ok(())
}

/// Decides what `row` becomes, before anything is written.
fn plan(row: &LegacyRow, request: &RunRequest, flags: &flag::FlagValues) -> Plan {
    let role = match provost_role(row.table, &row.role) {
        Some(_)
            if row.table == Table::ForumRole
                && row.role == FORUM_STUDENT
                && !request.options.forum_students =>
        {
            return Plan::Skip(RowOutcome::StudentSkipped)
        }
        Some(role) => role,
        None if row.table == Table::CourseAccessRole
            && WITHOUT_EQUIVALENT.contains(&row.role.as_str()) =>
        {
            return Plan::Skip(RowOutcome::NoEquivalent)
        }
        None => return Plan::Skip(RowOutcome::UnknownRole),
    };
    let scope = match place(&row.org, &row.course_id) {
        Place::At(scope) => scope,
        Place::Global => return Plan::Skip(RowOutcome::NoScope),
        Place::Unsupported => return Plan::Skip(RowOutcome::UnsupportedKey),
    };
    let Some(user) = &row.user else {
        return Plan::Skip(RowOutcome::UnknownUser);
    };
    if !user.active {
        return Plan::Skip(RowOutcome::InactiveUser);
    }
    if check_username(&user.username).is_err() {
        return Plan::Skip(RowOutcome::InvalidUser);
    }
    if turned_off_here(flags, &scope) {
        return Plan::Skip(RowOutcome::SkippedForFlagOverride);
    }
    Plan::Assign {
        user: User {
            username: user.username.clone(),
            email: (!user.email.is_empty()).then(|| user.email.clone()),
            staff: user.staff,
            superuser: user.superuser,
        },
        role,
        scope,
    }
}

/// Whether the flag is set off for this course itself (or, for an org-wide row, for the org
/// itself): the operator kept that place on the legacy tables.
fn turned_off_here(flags: &flag::FlagValues, scope: &str) -> bool {
    let key = match scope
        .strip_prefix("course-v1:")
        .and_then(|rest| rest.strip_suffix("+*"))
    {
        Some(org) => FlagScope::Org(org.to_owned()).key(),
        None => scope.to_owned(),
    };
    flags.set_at(&key) == Some(false)
}

/// The page's users that are new or changed, and its assignments. The index snapshot is let go
/// before the write: holding it would keep a whole extra copy of the index alive while the
/// write's own copy-on-write builds the next one.
fn changes(index: &Index, plans: &[Plan]) -> (Vec<Change>, Vec<Change>) {
    let mut users = Vec::new();
    let mut seen = HashSet::new();
    let mut assignments = Vec::new();
    for plan in plans {
        if let Plan::Assign { user, role, scope } = plan {
            if index.user(&user.username) != Some(user) && seen.insert(user.username.clone()) {
                users.push(Change::UserPut { user: user.clone() });
            }
            assignments.push(Change::AssignmentAdd {
                assignment: Assignment::new(&user.username, role, scope),
            });
        }
    }
    (users, assignments)
}

/// Writes one page: its users (those new or changed), its assignments, the run's progress and
/// an audit entry with the run id, in one transaction.
async fn apply(
    node: &Node,
    actor: &Actor,
    run: &str,
    rows: &[LegacyRow],
    plans: &[Plan],
    tally: &Tally,
) -> Result<Vec<RowOutcome>> {
    let (users, assignments) = changes(&node.index(), plans);
    // The run's counts as of the end of this page, saved with it: skipped rows are known now,
    // the others once the transaction says what it applied.
    let mut counts = tally.counts.clone();
    *counts.entry("rows".into()).or_default() += rows.len() as u64;
    for plan in plans {
        if let Plan::Skip(outcome) = plan {
            *counts.entry(outcome.as_str().into()).or_default() += 1;
        }
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                tx.apply_all(&users).await?;
                let applied = tx.apply_all(&assignments).await?;
                let mut made = Vec::new();
                for (change, outcome) in assignments.iter().zip(&applied) {
                    if let (Change::AssignmentAdd { assignment: a }, Outcome::Applied { .. }) = (change, outcome) {
                        made.push(json!([a.subject, a.role, a.scope]));
                    }
                }
                let present = applied.len() - made.len();
                *counts.entry("migrated".into()).or_default() += made.len() as u64;
                *counts.entry("already_present".into()).or_default() += present as u64;
                runs::save_progress(tx, run, &counts).await?;
                if !made.is_empty() || !users.is_empty() {
                    tx.audit(AppAudit {
                        app: APP.into(),
                        operation: "migrate_batch".into(),
                        subject: None,
                        scope: None,
                        after: Some(json!({ "run": run, "legacy_ids": ids, "users": users.len(), "assigned": made })),
                        before: None,
                    })
                    .await?;
                }
                Ok(applied)
            })
        })
        .await?;
    let mut applied = written.value.into_iter();
    Ok(plans
        .iter()
        .map(|plan| match plan {
            Plan::Skip(outcome) => *outcome,
            Plan::Assign { .. } => match applied.next() {
                Some(Outcome::Applied { .. }) => RowOutcome::Migrated,
                _ => RowOutcome::AlreadyPresent,
            },
        })
        .collect())
}

/// What `apply` would answer, read without writing.
async fn dry_run(node: &Node, plans: &[Plan]) -> Result<Vec<RowOutcome>> {
    let mut outcomes = Vec::with_capacity(plans.len());
    for plan in plans {
        outcomes.push(match plan {
            Plan::Skip(outcome) => *outcome,
            Plan::Assign { user, role, scope } => {
                let filter = AssignmentFilter {
                    subject: Some(user.username.clone()),
                    role: Some((*role).to_owned()),
                    scope: Some(scope.clone()),
                };
                if node.store().count_assignments(&filter).await? > 0 {
                    RowOutcome::AlreadyPresent
                } else {
                    RowOutcome::Migrated
                }
            }
        });
    }
    Ok(outcomes)
}

/// A dry run's counts so far (and its heartbeat), so that it is followed like any run.
async fn save_dry_progress(
    node: &Node,
    actor: &Actor,
    run: &str,
    tally: &Tally,
    outcomes: &[RowOutcome],
) -> Result<()> {
    let mut counts = tally.counts.clone();
    *counts.entry("rows".into()).or_default() += outcomes.len() as u64;
    for outcome in outcomes {
        *counts.entry(outcome.as_str().into()).or_default() += 1;
    }
    node.write(&actor.username, |tx| {
        Box::pin(async move { Ok(runs::save_progress(tx, run, &counts).await?) })
    })
    .await?;
    Ok(())
}

/// Records the legacy rows `--delete` removed.
async fn audit_delete(
    node: &Node,
    actor: &Actor,
    run: &str,
    table: Table,
    ids: &[i64],
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    node.write(&actor.username, |tx| {
        Box::pin(async move {
            tx.audit(AppAudit {
                app: APP.into(),
                operation: "legacy_delete".into(),
                subject: None,
                scope: None,
                after: Some(json!({ "run": run, "table": table.name(), "ids": ids })),
                before: None,
            })
            .await?;
            Ok(())
        })
    })
    .await?;
    Ok(())
}

fn report(row: &LegacyRow, plan: &Plan, outcome: RowOutcome, deleted: bool) -> RowReport {
    let (role, scope) = match plan {
        Plan::Assign { role, scope, .. } => (Some((*role).to_owned()), Some(scope.clone())),
        Plan::Skip(_) => (None, None),
    };
    RowReport {
        table: row.table,
        id: Some(row.id),
        user: row
            .user
            .as_ref()
            .map_or_else(|| format!("#{}", row.user_id), |u| u.username.clone()),
        org: row.org.clone(),
        course_id: row.course_id.clone(),
        legacy_role: row.role.clone(),
        role,
        scope,
        outcome,
        deleted,
    }
}
