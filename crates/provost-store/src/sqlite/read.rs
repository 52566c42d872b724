//! SQLite reads: the shared ones (`dialect::reads`) and the snapshot, paged by SQLite itself.

use sqlx::{Sqlite, SqliteConnection};

use super::SqliteStore;
use crate::dialect;
use crate::err::StoreError;
use crate::snapshot::{assignments_from_json, send, SnapshotSender, SNAPSHOT_BATCH};

dialect::reads!(SqliteStore, SqliteConnection, Sqlite);

impl SqliteStore {
    /// The whole state, read in one transaction (WAL gives it one consistent view) and sent on
    /// in batches as it is read; returns its revision. See `Store::snapshot_to`.
    pub async fn snapshot_to(&self, to: &SnapshotSender) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let revision = last_revision(&mut tx).await?;
        let rows = snapshot_rows(&mut tx).await?;
        send(to, rows.into_changes()?).await?;
        // Assignments a page at a time, each page one JSON array built by SQLite: sqlx hands
        // rows over from SQLite's worker thread one by one, which cost more than building the
        // index (cold start of 1 M: 4.7 s row by row, 1.7 s by pages). Pages follow rowid, so
        // nothing is sorted.
        let mut after = 0_i64;
        loop {
            let page: (Option<String>, Option<i64>) = sqlx::query_as(
                "SELECT json_group_array(json_array(subject, role, scope, valid_from, valid_until)), \
                 MAX(rowid) FROM (SELECT rowid, * FROM assignments WHERE rowid > ?1 \
                 ORDER BY rowid LIMIT ?2)",
            )
            .bind(after)
            .bind(SNAPSHOT_BATCH as i64)
            .fetch_one(&mut *tx)
            .await?;
            let (Some(json), Some(last)) = page else {
                break;
            };
            send(to, assignments_from_json(&json)?).await?;
            after = last;
        }
        tx.commit().await?;
        Ok(revision)
    }
}
