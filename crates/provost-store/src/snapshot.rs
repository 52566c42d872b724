//! Snapshots handed over in batches while they are read, so that a cold start never holds the
//! whole state twice (as rows and as an index) and builds while the database still sends.

use futures_util::{Stream, TryStreamExt};
use provost_engine::{Assignment, Change};
use tokio::sync::mpsc;

use crate::err::StoreError;
use crate::model::Snapshot;
use crate::rows::AssignmentRow;

/// Where `Store::snapshot_to` sends its batches.
pub type SnapshotSender = mpsc::Sender<Vec<Change>>;

/// Assignments per batch: large enough that handing over costs nothing, small enough to overlap.
pub const SNAPSHOT_BATCH: usize = 16_384;

/// Sends a batch on; fails when the receiver has gone (whoever wanted the snapshot gave up).
pub(crate) async fn send(to: &SnapshotSender, batch: Vec<Change>) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    to.send(batch)
        .await
        .map_err(|_| StoreError::internal("the snapshot's receiver stopped listening"))
}

/// Streams assignment rows on as `assignment_add` changes, `SNAPSHOT_BATCH` at a time.
pub(crate) async fn send_assignments<S>(rows: S, to: &SnapshotSender) -> Result<(), StoreError>
where
    S: Stream<Item = Result<AssignmentRow, sqlx::Error>>,
{
    let mut rows = std::pin::pin!(rows);
    let mut batch = Vec::with_capacity(SNAPSHOT_BATCH);
    while let Some(row) = rows.try_next().await? {
        batch.push(Change::AssignmentAdd {
            assignment: row.into(),
        });
        if batch.len() == SNAPSHOT_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(SNAPSHOT_BATCH));
            send(to, full).await?;
        }
    }
    send(to, batch).await
}

/// Assignments from a JSON array of `[subject, role, scope, valid_from, valid_until]` rows.
pub(crate) fn assignments_from_json(page: &str) -> Result<Vec<Change>, StoreError> {
    type Row = (String, String, String, Option<i64>, Option<i64>);
    let rows: Vec<Row> = serde_json::from_str(page)?;
    Ok(rows
        .into_iter()
        .map(
            |(subject, role, scope, valid_from, valid_until)| Change::AssignmentAdd {
                assignment: Assignment {
                    subject,
                    role,
                    scope,
                    valid_from,
                    valid_until,
                },
            },
        )
        .collect())
}

/// A whole snapshot in memory, gathered from the batches `produce` sends.
pub(crate) async fn collect<F>(produce: F) -> Result<Snapshot, StoreError>
where
    F: AsyncFnOnce(&SnapshotSender) -> Result<u64, StoreError>,
{
    let (to, mut from) = mpsc::channel(4);
    let gather = async move {
        let mut changes = Vec::new();
        while let Some(batch) = from.recv().await {
            changes.extend(batch);
        }
        changes
    };
    let read = async move { produce(&to).await };
    let (revision, changes) = tokio::join!(read, gather);
    Ok(Snapshot {
        revision: revision?,
        changes,
    })
}
