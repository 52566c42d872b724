//! Provost persistence: one `Store` over SQLite or PostgreSQL, with the audit log that is also the change feed.
//! How apps write through `Store::write` and add their own tables: see the README.

mod audit;
pub mod batches;
mod bulk;
mod commit;
mod dialect;
pub mod enterprise;
mod err;
pub mod legacy;
mod model;
pub mod openedx;
mod postgres;
pub mod programs;
mod rows;
mod schema;
mod snapshot;
mod sqlite;
mod store;
mod tx;

pub use err::StoreError;
/// What a `Store::write` closure returns, re-exported so apps need no `futures` of their own.
pub use futures_util::future::BoxFuture;
pub use model::{
    AppAudit, AppEntry, AssignmentFilter, AuditEntry, AuditFilter, AuditRange, Committed, Feed,
    LogEntry, Outcome, Snapshot, StoreOptions, Written, DEFAULT_ACQUIRE_TIMEOUT,
};
pub use postgres::{Notifier, APP_WRITE_LOCK_TIMEOUT};
pub use snapshot::{SnapshotSender, SNAPSHOT_BATCH};
pub use store::Store;
pub use tx::{AppTx, AppWrite, Conn, Reader, Tx};
