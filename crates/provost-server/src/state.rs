//! The state handlers share, the router with its middleware, and the server loop.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Extensions;
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use provost_engine::Index;
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::ToSchema;

use crate::api_error::{self, ApiError};
use crate::config::ServerConfig;
use crate::err::{ErrorCode, Result};
use crate::extract::AtLeastRevision;
use crate::metrics::{self, Metrics};
use crate::node::Node;
use crate::{apps, openapi};

/// What every handler sees: the node (store and engine), the settings and the metrics.
/// Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct AppState {
    shared: Arc<Shared>,
}

struct Shared {
    node: Node,
    config: ServerConfig,
    metrics: Metrics,
    /// Each app's own state (`App::state`), one value per type.
    apps: Extensions,
}

impl AppState {
    pub fn new(node: Node, config: ServerConfig) -> AppState {
        AppState::with_apps(node, config, apps::ALL)
    }

    /// The state with the given apps' own state in it (`new` uses every app's).
    pub(crate) fn with_apps(node: Node, config: ServerConfig, apps: &[&dyn apps::App]) -> AppState {
        let apps = apps::state(apps, &node, &config);
        AppState {
            shared: Arc::new(Shared {
                node,
                config,
                metrics: Metrics::new(),
                apps,
            }),
        }
    }

    pub fn node(&self) -> &Node {
        &self.shared.node
    }

    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// The state an app put in at startup (`App::state`); an app's `FromRef<AppState>` impl reads
    /// it here so that its handlers can take `State<T>`.
    pub fn app_state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.shared.apps.get::<T>()
    }

    /// The index to answer from: once this node has applied `at_least_revision` (waiting at
    /// most the configured time), else as of now. A value no revision can have is 400
    /// `invalid_revision` at once. Every handler that reads the index reads it here.
    pub(crate) async fn index_at(&self, revision: Option<AtLeastRevision>) -> Result<Arc<Index>> {
        let revision = revision.map(AtLeastRevision::revision).transpose()?;
        self.node()
            .index_at(revision, self.config().revision_wait)
            .await
    }

    /// Refuses lists longer than the server takes in one request.
    pub(crate) fn check_items(&self, count: usize) -> Result<(), ApiError> {
        let max = self.config().max_items;
        if count > max {
            return Err(ApiError::new(
                ErrorCode::TooManyItems,
                format!("at most {max} items per request ({count} given)"),
            ));
        }
        Ok(())
    }
}

/// Every route of the service, with its middleware. `/metrics` is among them unless the
/// settings put it on a listener of its own (`serve_metrics`).
pub fn router(state: AppState) -> Router {
    let mut routes = Router::new()
        .route("/", get(openapi::home))
        .route("/healthz", get(health))
        .route("/api/v1/openapi.json", get(openapi::spec))
        .merge(openapi::docs_page())
        .merge(apps::router());
    if !state.config().metrics_separate {
        routes = routes.route("/metrics", get(metrics::metrics));
    }
    layered(routes, state)
}

/// The metrics listener's routes: `/metrics` alone.
fn metrics_router(state: AppState) -> Router {
    layered(
        Router::new().route("/metrics", get(metrics::metrics)),
        state,
    )
}

/// Wraps routes in the service's middleware, outermost first: request id, trace span, request
/// id on the answer, header limits, 500s logged once, metrics, panics caught, timeout, body
/// limit.
pub(crate) fn layered(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .fallback(api_error::not_found)
        .method_not_allowed_fallback(api_error::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config().body_limit))
        .layer(from_fn_with_state(state.clone(), timeout))
        .layer(CatchPanicLayer::custom(api_error::panic_response))
        .layer(from_fn_with_state(state.clone(), metrics::track))
        .layer(from_fn(api_error::finish_errors))
        .layer(from_fn(limit_headers))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
                })
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

async fn timeout(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let limit = state.config().request_timeout;
    // The route's app notes its envelope here, so that its timeouts answer in it too.
    let envelope = api_error::EnvelopeSlot::default();
    request.extensions_mut().insert(envelope.clone());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let mut response = ApiError::new(
                ErrorCode::Timeout,
                format!("the request took longer than {} ms", limit.as_millis()),
            )
            .into_response();
            envelope.mark(&mut response);
            response
        }
    }
}

/// Most header bytes (names and values) a request may carry.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most headers a request may carry.
const MAX_HEADERS: usize = 100;
/// hyper refuses requests with more headers than this by itself, with an empty 431; it is set
/// well above `MAX_HEADERS` so that `limit_headers` answers first, in Provost's error shape.
/// (hyper's head buffer, about 400 KiB, is likewise well above `MAX_HEADER_BYTES`.)
const HYPER_MAX_HEADERS: usize = 1000;

/// Refuses requests whose headers are too many or too large: 431 `header_too_large`.
async fn limit_headers(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            ErrorCode::HeaderTooLarge,
            format!(
                "the request's headers are too large: at most {MAX_HEADERS} headers and {} KiB",
                MAX_HEADER_BYTES / 1024
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// Serves until `shutdown` resolves, then finishes the requests in flight. Meanwhile the node
/// follows the audit log, so changes made elsewhere (the CLI, other nodes) reach its index.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let follower = tokio::spawn(state.node().clone().follow(state.config().poll_interval));
    let background: Vec<_> = crate::apps::background(state.node())
        .into_iter()
        .map(tokio::spawn)
        .collect();
    let result = serve_router(listener, router(state), shutdown).await;
    follower.abort();
    background.iter().for_each(|task| task.abort());
    result
}

/// Serves `/metrics` alone on its own listener until `shutdown` resolves, beside `serve` (which
/// then leaves `/metrics` out: `ServerConfig::metrics_separate`).
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, metrics_router(state), shutdown).await
}

/// HTTP/1 on every accepted connection, as `axum::serve` does, but with hyper's limits set
/// (`HYPER_MAX_HEADERS`) and a timer, so a client that never finishes its headers is dropped.
async fn serve_router(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .max_headers(HYPER_MAX_HEADERS)
        .timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A failed accept: a client gone already is nothing; anything else (out of file descriptors,
/// say) is logged and waited out for a second rather than spun on.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!("accept error: {e}");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}

/// `GET /healthz`: alive (checks are served from memory even when the database is not), the
/// revision this node's index reflects, and how far it trails the store.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the database cannot be read or its disk is full (checks still
    /// work; writes answer 503 or 507).
    pub status: &'static str,
    pub revision: u64,
    pub backend: &'static str,
    /// `ok`, `unavailable`, or `full` (the last write found no room on the disk).
    pub database: &'static str,
    /// Whether this node refuses writes (`provost serve --read-only`).
    pub read_only: bool,
    /// The store's latest revision, when the database answers.
    pub store_revision: Option<u64>,
    /// Revisions the index has not applied yet.
    pub lag: Option<u64>,
}

/// Health of this node
///
/// The node's applied revision, whether its database answers, whether it is read-only and how far
/// its index lags the store. Open: load balancers and probes ask it without a token.
#[utoipa::path(get, path = "/healthz", tag = "ops", security(()), responses((status = 200, body = Health)))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let node = state.node();
    let revision = node.engine().revision();
    let store_revision =
        tokio::time::timeout(std::time::Duration::from_secs(1), node.store().revision())
            .await
            .ok()
            .and_then(|r| r.ok());
    let database = if store_revision.is_none() {
        "unavailable"
    } else if node.storage_full() {
        "full"
    } else {
        "ok"
    };
    Json(Health {
        status: if database == "ok" { "ok" } else { "degraded" },
        revision,
        backend: node.store().backend(),
        database,
        read_only: node.store().read_only(),
        store_revision,
        lag: store_revision.map(|s| s.saturating_sub(revision)),
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("secret detail")
    }

    #[tokio::test]
    async fn a_panic_answers_internal_error_with_the_request_id_only() {
        let node = Node::open("sqlite::memory:").await.expect("node");
        let state = AppState::new(node, ServerConfig::default());
        let routes = Router::new().route("/boom", get(boom));
        let app = layered(routes, state);
        let request = Request::builder()
            .uri("/boom")
            .header("x-request-id", "req-42")
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()["x-request-id"], "req-42");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("internal error (request id req-42)"),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }

    #[tokio::test]
    async fn a_slow_request_times_out_in_the_error_shape() {
        let node = Node::open("sqlite::memory:").await.expect("node");
        let config = ServerConfig {
            request_timeout: std::time::Duration::from_millis(50),
            ..ServerConfig::default()
        };
        let routes = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                "late"
            }),
        );
        let app = layered(routes, AppState::new(node, config));
        let request = Request::builder()
            .uri("/slow")
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        assert!(String::from_utf8_lossy(&bytes).contains("\"code\":\"timeout\""));
    }
}
