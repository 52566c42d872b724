//! Provost persistence: one `Store` over SQLite or PostgreSQL, with the audit log that is also the change feed.

mod commit;
mod err;
mod model;
mod rows;
mod store;

pub mod postgres;
pub mod sqlite;

pub use err::StoreError;
pub use model::{AssignmentFilter, AuditEntry, AuditFilter, Committed, Outcome, Snapshot};
pub use store::Store;
