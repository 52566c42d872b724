//! Provost's HTTP service and the app services it shares with the CLI.

pub mod apps;
mod err;
mod node;

pub use err::{Error, ErrorClass, Result};
pub use node::Node;
