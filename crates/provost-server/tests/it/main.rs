//! Provost's HTTP API end to end: a real server on a loopback port, talked to with reqwest.

mod access;
mod assignments;
mod audit;
mod auth;
mod batches;
mod checks;
mod cluster;
mod edge;
mod escalation;
mod events;
mod hostile;
mod listings;
mod meta;
mod metrics;
mod openedx;
mod roles;
mod scenario;
mod storage;
mod support;
