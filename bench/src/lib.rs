//! Provost beside casbin-rs and cedar-policy: one dataset, one query mix, three engines, the report.

pub mod agree;
pub mod dataset;
pub mod engines;
pub mod measure;
pub mod plot;
pub mod queries;
pub mod readme;
pub mod report;
pub mod results;
