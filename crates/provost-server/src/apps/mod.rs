//! The apps and the one list that names them: routes, OpenAPI and CLI commands are built from it.

pub mod authz;
pub mod batches;
pub mod enterprise;
pub mod legacy;
pub mod openedx;
pub mod programs;

use std::future::Future;
use std::pin::Pin;

use axum::http::Extensions;
use axum::Router;
use clap::{ArgMatches, Subcommand};
use serde::Serialize;

use crate::access::Actor;
use crate::api_error::{self, Envelope};
use crate::config::ServerConfig;
use crate::err::Result;
use crate::node::Node;
use crate::state::AppState;

/// Every app, in the order their commands appear in `provost --help`. Adding an app is one line
/// here.
pub static ALL: &[&dyn App] = &[
    &authz::Authz,
    &programs::Programs,
    &batches::Batches,
    &enterprise::Enterprise,
    &legacy::Legacy,
    &openedx::Openedx,
];

/// What an app contributes to the service and to the command line. Each app is a unit struct in
/// its `mod.rs` implementing this; everything but `router` and `openapi` is optional.
pub trait App: Sync {
    /// Its routes; handlers reach its state with `State<T>` where `T: FromRef<AppState>`.
    fn router(&self) -> Router<AppState>;

    /// Its paths, schemas and tags, merged into the service's document.
    fn openapi(&self) -> utoipa::openapi::OpenApi;

    /// Its own error envelope, for clients that expect one (Sunbird's): every error of its routes,
    /// 500s and panics included, is rendered by it. `None` keeps Provost's `{"error": ...}`.
    fn envelope(&self) -> Option<Envelope> {
        None
    }

    /// POST routes that only read: the document gives them no 409 or 507.
    fn read_only_posts(&self) -> &'static [&'static str] {
        &[]
    }

    /// Puts the app's own state (a storage handle, say) into `AppState`, once at startup; the app
    /// reads it back with `AppState::app_state` in its `FromRef` impl.
    fn state(&self, _node: &Node, _config: &ServerConfig, _state: &mut Extensions) {}

    /// Adds its subcommands to `provost` (`Subcommand::augment_subcommands`).
    fn commands(&self, cli: clap::Command) -> clap::Command {
        cli
    }

    /// Work the app keeps doing while `serve` runs (a periodic sweep), if any.
    fn background(&self, _node: &Node) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
        None
    }

    /// Runs the subcommand `matches` chose, if it is one of the app's (`chosen` finds it).
    fn run<'a>(&'a self, _cx: CliContext<'a>, _matches: &ArgMatches) -> Option<CliFuture<'a>> {
        None
    }
}

/// What the command line hands an app's command: the opened node and the operator.
#[derive(Clone, Copy)]
pub struct CliContext<'a> {
    pub node: &'a Node,
    pub actor: &'a Actor,
}

/// A running app command.
pub type CliFuture<'a> = Pin<Box<dyn Future<Output = Result<Outcome>> + 'a>>;

/// An app command's answer; the binary prints `json` under `--json`, else `text` (nothing when
/// empty), and exits with `status`.
#[derive(Debug)]
pub struct Outcome {
    /// Pretty-printed, with the fields in the order the type declares them.
    pub json: String,
    pub text: String,
    /// 0, or 1 for "denied" (`check`, `explain`); errors are 2.
    pub status: u8,
    /// Whether `status` stands even when nobody reads stdout (`check | head`): the status is the
    /// answer. Otherwise a closed stdout ends the command with 0.
    pub status_is_answer: bool,
}

impl Outcome {
    /// Success (exit 0).
    pub fn done(json: &impl Serialize, text: String) -> Outcome {
        Outcome {
            json: serde_json::to_string_pretty(json).unwrap_or_else(|_| "null".into()),
            text,
            status: 0,
            status_is_answer: false,
        }
    }

    /// Exit 0 when allowed, 1 when denied.
    pub fn verdict(allowed: bool, json: &impl Serialize, text: String) -> Outcome {
        Outcome {
            status: u8::from(!allowed),
            ..Outcome::done(json, text)
        }
    }
}

/// The subcommand of `C` that `matches` chose, if it chose one of `C`'s.
pub fn chosen<C: Subcommand>(matches: &ArgMatches) -> Option<C> {
    let name = matches.subcommand_name()?;
    if !C::has_subcommand(name) {
        return None;
    }
    C::from_arg_matches(matches).ok()
}

/// The routes of every app.
pub fn router() -> Router<AppState> {
    ALL.iter()
        .fold(Router::new(), |routes, app| routes.merge(routes_of(*app)))
}

/// One app's routes, wrapped in its envelope if it has one.
fn routes_of(app: &dyn App) -> Router<AppState> {
    match app.envelope() {
        Some(envelope) => api_error::enveloped(app.router(), envelope),
        None => app.router(),
    }
}

/// The apps' own state, for `AppState::new`.
pub(crate) fn state(apps: &[&dyn App], node: &Node, config: &ServerConfig) -> Extensions {
    let mut state = Extensions::new();
    for app in apps {
        app.state(node, config, &mut state);
    }
    state
}

/// Every app's background work, for `serve` to spawn.
pub(crate) fn background(node: &Node) -> Vec<Pin<Box<dyn Future<Output = ()> + Send>>> {
    ALL.iter().filter_map(|app| app.background(node)).collect()
}

/// `provost`'s command line with every app's subcommands added.
pub fn commands(cli: clap::Command) -> clap::Command {
    ALL.iter().fold(cli, |cli, app| app.commands(cli))
}

/// Runs the app command `matches` chose; `None` when no app has it.
pub async fn run(cx: CliContext<'_>, matches: &ArgMatches) -> Option<Result<Outcome>> {
    for app in ALL {
        if let Some(run) = app.run(cx, matches) {
            return Some(run.await);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::extract::{FromRef, Request, State};
    use axum::http::StatusCode;
    use axum::routing::get;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use super::*;
    use crate::err::{Error, ErrorCode};

    /// An app with state of its own, as a reports app would keep its storage handle.
    struct Notes;

    #[derive(Clone)]
    struct NoteBook(Arc<str>);

    impl FromRef<AppState> for NoteBook {
        fn from_ref(state: &AppState) -> NoteBook {
            state
                .app_state::<NoteBook>()
                .cloned()
                .expect("put in by Notes::state")
        }
    }

    async fn first_note(State(book): State<NoteBook>) -> String {
        book.0.to_string()
    }

    impl App for Notes {
        fn router(&self) -> Router<AppState> {
            Router::new().route("/notes", get(first_note))
        }
        fn openapi(&self) -> utoipa::openapi::OpenApi {
            utoipa::openapi::OpenApi::default()
        }
        fn state(&self, _node: &Node, config: &ServerConfig, state: &mut Extensions) {
            let note = format!("at most {} items", config.max_items);
            state.insert(NoteBook(note.into()));
        }
    }

    #[tokio::test]
    async fn an_app_reaches_its_own_state_through_from_ref() {
        let node = Node::open("sqlite::memory:").await.expect("node");
        let config = ServerConfig {
            max_items: 7,
            ..ServerConfig::default()
        };
        let state = AppState::with_apps(node, config, &[&Notes]);
        let app = crate::state::layered(Notes.router(), state);
        let request = Request::builder()
            .uri("/notes")
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("response");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        assert_eq!(&bytes[..], b"at most 7 items");
    }

    /// An app answering in an envelope of its own, as the batches app answers in Sunbird's.
    struct Legacy;

    fn sunbird(status: StatusCode, e: &crate::ErrorInfo) -> Value {
        let response_code = if status.is_server_error() {
            "SERVER_ERROR"
        } else {
            "CLIENT_ERROR"
        };
        json!({
            "id": "api.legacy",
            "params": { "status": "failed", "err": e.code, "errmsg": e.message },
            "responseCode": response_code,
            "result": {},
        })
    }

    async fn missing_batch() -> Result<String, crate::api_error::ApiError> {
        Err(Error::new(ErrorCode::NotFound, "there is no batch `b1`").into())
    }

    async fn boom() -> String {
        panic!("the batch table is gone")
    }

    impl App for Legacy {
        fn router(&self) -> Router<AppState> {
            Router::new()
                .route("/legacy/batches/b1", get(missing_batch))
                .route("/legacy/boom", get(boom))
        }
        fn openapi(&self) -> utoipa::openapi::OpenApi {
            utoipa::openapi::OpenApi::default()
        }
        fn envelope(&self) -> Option<Envelope> {
            Some(sunbird)
        }
    }

    async fn get_json(app: &Router, uri: &str) -> (StatusCode, Value) {
        let request = Request::builder()
            .uri(uri)
            .header("x-request-id", "req-1")
            .body(Body::empty())
            .expect("request");
        let response = app.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("json"))
    }

    #[tokio::test]
    async fn an_app_answers_its_errors_and_panics_in_its_envelope() {
        let node = Node::open("sqlite::memory:").await.expect("node");
        let state = AppState::with_apps(node, ServerConfig::default(), &[&Legacy, &authz::Authz]);
        let routes = routes_of(&Legacy).merge(routes_of(&authz::Authz));
        let app = crate::state::layered(routes, state);

        let (status, body) = get_json(&app, "/legacy/batches/b1").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body,
            json!({
                "id": "api.legacy",
                "params": { "status": "failed", "err": "not_found", "errmsg": "there is no batch `b1`" },
                "responseCode": "CLIENT_ERROR",
                "result": {},
            })
        );

        let (status, body) = get_json(&app, "/legacy/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body,
            json!({
                "id": "api.legacy",
                "params": { "status": "failed", "err": "internal", "errmsg": "internal error (request id req-1)" },
                "responseCode": "SERVER_ERROR",
                "result": {},
            })
        );

        // Provost's own routes, and unknown ones, keep Provost's shape.
        let (status, body) = get_json(&app, "/api/v1/roles").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "missing_token");
        let (status, body) = get_json(&app, "/legacy/nothing").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
    }
}
