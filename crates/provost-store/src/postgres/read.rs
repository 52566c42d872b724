//! PostgreSQL reads: the shared ones (`dialect::reads`) and the snapshot, streamed unsorted.

use sqlx::{PgConnection, Postgres};

use super::PgStore;
use crate::dialect;
use crate::err::StoreError;
use crate::rows::{AssignmentRow, ASSIGNMENT_COLUMNS};
use crate::snapshot::{send, send_assignments, SnapshotSender};

dialect::reads!(PgStore, PgConnection, Postgres);

impl PgStore {
    /// The whole state, read in one REPEATABLE READ transaction (one consistent view) and sent
    /// on in batches as it is read; returns its revision. See `Store::snapshot_to`.
    pub async fn snapshot_to(&self, to: &SnapshotSender) -> Result<u64, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let revision = last_revision(&mut tx).await?;
        let rows = snapshot_rows(&mut tx).await?;
        send(to, rows.into_changes()?).await?;
        // The engine needs no order; sorting 10 M rows would dominate a cold start.
        send_assignments(
            sqlx::query_as::<_, AssignmentRow>(ASSIGNMENT_COLUMNS).fetch(&mut *tx),
            to,
        )
        .await?;
        tx.commit().await?;
        Ok(revision)
    }
}
