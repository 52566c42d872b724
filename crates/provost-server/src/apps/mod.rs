//! One module per app; each has its rules in `service` and its routes in `http`.

pub mod authz;

use axum::Router;

use crate::state::AppState;

/// The routes of every app.
pub fn router() -> Router<AppState> {
    Router::new().merge(authz::router())
}
