//! Provost's test kit (dev-only): test databases, a test server with a fluent client, and the scenario runner.
//!
//! ```ignore
//! let server = provost_testkit::start().await; // SQLite, or PostgreSQL with PROVOST_TEST_BACKEND=postgres
//! server.as_user("ada").post("/api/v1/assignments", body).await.expect(403, "forbidden");
//! let revision = server.as_admin().post("/api/v1/assignments", body).await.ok().revision();
//! ```
//!
//! `TestDatabase::create(Backend::Postgres)` gives `None` (with a message) only when
//! `PROVOST_SKIP_POSTGRES=1`; an unreachable PostgreSQL fails the test.

pub mod client;
pub mod db;
pub mod mysql;
pub mod redis_server;
pub mod relay;
pub mod scenario;
pub mod server;

pub use client::{enc, Answer, Client};
pub use db::{sqlite_at_capacity, Backend, TestDatabase};
pub use mysql::{LegacyFixture, TestMysql};
pub use redis_server::TestRedis;
pub use scenario::{ExpectedCheck, Implementation, Outcome, Scenario};
pub use server::{serve_node, start, start_on, start_with, test_config, Options, TestServer};

/// A course key most tests use.
pub const COURSE: &str = "course-v1:MITx+6.00x+2024T1";
