//! Provost beside casbin-rs and cedar-policy: one dataset, one query mix, three engines, the result tables.

pub mod agree;
pub mod cpu;
pub mod dataset;
pub mod engines;
pub mod heavy;
pub mod measure;
pub mod plot;
pub mod queries;
pub mod report;
pub mod results;
pub mod tables;
pub mod targets;
pub mod workload;
