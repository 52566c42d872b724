//! The authz app: decisions, lookups, assignments, users, roles and the audit log.

pub mod actor;
pub mod service;
