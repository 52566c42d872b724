//! Provost's HTTP API end to end: a real server on a loopback port, talked to with reqwest.

mod access;
mod assignments;
mod audit;
mod auth;
mod batches;
mod checks;
mod cluster;
mod edge;
mod enterprise;
mod enterprise_settle;
mod escalation;
mod events;
mod hostile;
mod legacy;
mod listings;
mod meta;
mod metrics;
mod openedx;
mod program_enrollments;
mod program_reports;
mod programs;
mod roles;
mod scenario;
mod storage;
mod support;
mod teach;
