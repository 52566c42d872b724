//! The test server and client live in provost-testkit; this module keeps the names the older tests use.

pub use provost_testkit::server::{
    serve_node, start, start_on, start_with, test_config, Options, TestServer, RSA_KEY, SECRET,
};
pub use provost_testkit::{enc, Answer, COURSE};
