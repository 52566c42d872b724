//! Audit log reads written once for both dialects: which rows (the engine's, an app's, all), and
//! how rows become the engine's entries, an app's entries or a page of the change feed.

use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::err::StoreError;
use crate::model::{AppEntry, AuditEntry, AuditFilter, AuditRange, Feed, LogEntry};
use crate::rows::{to_i64, to_u64, AuditRow};

/// The audit columns `AuditRow` reads, JSON as text on both dialects.
pub(crate) const COLUMNS: &str = "SELECT revision, at, actor, app, op, subject, scope, \
     CAST(change AS TEXT) AS change, CAST(before AS TEXT) AS before FROM audit";

/// Which audit rows a read selects.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Which<'a> {
    /// The engine's own changes about the filter's subject and scope.
    Engine(&'a AuditFilter),
    /// The rows one app appended.
    App(&'a str),
    /// Every row, the engine's and the apps', about the filter's subject and scope: for people.
    Log(&'a AuditFilter),
    /// Every row: the change feed, which must see app rows to move past them.
    All,
}

/// The read of `which` rows in `range`, at most `limit`; `columns` is the dialect's `SELECT`.
pub(crate) fn audit_query<'a, DB>(
    columns: &'a str,
    which: Which<'a>,
    range: AuditRange,
    limit: u32,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(columns);
    let order = match range {
        AuditRange::After(since) => {
            query.push(" WHERE revision > ").push_bind(to_i64(since));
            " ORDER BY revision LIMIT "
        }
        AuditRange::Before(before) => {
            query
                .push(" WHERE revision < ")
                .push_bind(before.map_or(i64::MAX, to_i64));
            " ORDER BY revision DESC LIMIT "
        }
    };
    match which {
        Which::Engine(filter) => {
            query.push(" AND app IS NULL");
            push_filter(&mut query, filter);
        }
        Which::Log(filter) => push_filter(&mut query, filter),
        Which::App(app) => {
            query.push(" AND app = ").push_bind(app);
        }
        Which::All => {}
    }
    query.push(order).push_bind(i64::from(limit));
    query
}

/// Appends the conditions of `filter`'s subject and scope.
fn push_filter<'a, DB>(query: &mut QueryBuilder<'a, DB>, filter: &'a AuditFilter)
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    if let Some(subject) = &filter.subject {
        query.push(" AND subject = ").push_bind(subject.as_str());
    }
    if let Some(scope) = &filter.scope {
        query.push(" AND scope = ").push_bind(scope.as_str());
    }
}

/// Rows of any kind as log entries: the app's when a row names one, the engine's otherwise.
pub(crate) fn log_entries(rows: Vec<AuditRow>) -> Result<Vec<LogEntry>, StoreError> {
    rows.into_iter()
        .map(|row| {
            Ok(if row.app.is_some() {
                LogEntry::App(AppEntry::try_from(row)?)
            } else {
                LogEntry::Engine(AuditEntry::try_from(row)?)
            })
        })
        .collect()
}

/// Rows of the engine's own changes as entries.
pub(crate) fn engine_entries(rows: Vec<AuditRow>) -> Result<Vec<AuditEntry>, StoreError> {
    rows.into_iter().map(AuditEntry::try_from).collect()
}

/// Rows an app appended as its entries.
pub(crate) fn app_entries(rows: Vec<AuditRow>) -> Result<Vec<AppEntry>, StoreError> {
    rows.into_iter().map(AppEntry::try_from).collect()
}

/// A page of the feed read after `since` with `limit`: the engine's entries, app rows skipped.
pub(crate) fn feed(rows: Vec<AuditRow>, since: u64, limit: u32) -> Result<Feed, StoreError> {
    let more = rows.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
    let revision = match rows.last() {
        Some(last) => to_u64(last.revision)?,
        None => since,
    };
    let entries = rows
        .into_iter()
        .filter(|row| row.app.is_none())
        .map(AuditEntry::try_from)
        .collect::<Result<_, _>>()?;
    Ok(Feed {
        entries,
        revision,
        more,
    })
}
