//! Provost's HTTP service and the app services it shares with the CLI.

pub mod access;
mod api_error;
pub mod apps;
mod auth;
mod config;
mod err;
pub mod events;
mod extract;
mod metrics;
mod node;
mod openapi;
mod state;
mod token_cache;

pub use api_error::{Envelope, ErrorInfo};
pub use config::{AuthConfig, AuthSettings, Secret, ServerConfig, TokenSpec, DEFAULT_LEEWAY};
pub use err::{Error, ErrorClass, ErrorCode, Result};
pub use node::{default_policy_hash, DefaultPolicy, Node};
pub use state::{router, serve, serve_metrics, AppState};
