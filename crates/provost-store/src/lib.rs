//! Provost persistence: one `Store` over SQLite or PostgreSQL, with the audit log that is also the change feed.

mod bulk;
mod commit;
mod err;
mod model;
mod rows;
mod schema;
mod snapshot;
mod store;

pub mod postgres;
pub mod sqlite;

pub use err::StoreError;
pub use model::{
    AssignmentFilter, AuditEntry, AuditFilter, AuditRange, Committed, Outcome, Snapshot,
    StoreOptions, DEFAULT_ACQUIRE_TIMEOUT,
};
pub use snapshot::{SnapshotSender, SNAPSHOT_BATCH};
pub use store::Store;
