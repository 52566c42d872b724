//! Provost's test kit (dev-only): test databases, a test server with a fluent client, and the scenario runner.

pub mod client;
pub mod db;
pub mod relay;
pub mod scenario;
pub mod server;

pub use client::{enc, Answer, Client};
pub use db::{Backend, TestDatabase};
pub use scenario::{ExpectedCheck, Implementation, Outcome, Scenario};
pub use server::{serve_node, start, start_on, start_with, test_config, Options, TestServer};

/// A course key most tests use.
pub const COURSE: &str = "course-v1:MITx+6.00x+2024T1";
