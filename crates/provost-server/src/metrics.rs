//! Prometheus metrics: requests and latencies per route, checks by result, engine gauges.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::api_error::{ApiError, ErrorBody};
use crate::err::{Error, ErrorCode};
use crate::state::AppState;

const DURATION: &str = "provost_http_request_duration_seconds";
const BUCKETS: [f64; 14] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// This server's own recorder (not the process-global one, so several servers can share a
/// process, as tests do) and the handle that renders it.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let builder = PrometheusBuilder::new();
        let recorder =
            match builder.set_buckets_for_metric(Matcher::Full(DURATION.into()), &BUCKETS) {
                Ok(builder) => builder.build_recorder(),
                Err(_) => PrometheusBuilder::new().build_recorder(),
            };
        let handle = recorder.handle();
        Metrics { recorder, handle }
    }

    fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// Counts check decisions by result.
    pub fn count_checks(&self, allowed: usize, denied: usize) {
        self.record(|| {
            if allowed > 0 {
                counter!("provost_checks_total", "result" => "allowed").increment(allowed as u64);
            }
            if denied > 0 {
                counter!("provost_checks_total", "result" => "denied").increment(denied as u64);
            }
        });
    }

    fn render(&self, revision: u64, assignments: usize) -> String {
        self.record(|| {
            gauge!("provost_engine_revision").set(revision as f64);
            gauge!("provost_assignments").set(assignments as f64);
        });
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// Counts every request and times it, labelled by the route that matched (not the raw path)
/// and a known method: whatever a client sends, the set of series stays bounded.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let seconds = started.elapsed().as_secs_f64();
    state.metrics().record(|| {
        counter!("provost_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
            .increment(1);
        histogram!(DURATION, "method" => method, "route" => route).record(seconds);
    });
    response
}

/// The method as a label: HTTP accepts any token as a method, so anything else is `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Prometheus metrics
///
/// `GET /metrics`: Prometheus text; with a metrics token configured, only for its bearer.
#[utoipa::path(get, path = "/metrics", tag = "ops", security(()),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "a metrics token is configured and was not sent", body = ErrorBody)))]
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(token) = &state.config().metrics_token {
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, given)| given.trim());
        match given {
            None => {
                return Err(Error::new(
                    ErrorCode::MissingToken,
                    "send the metrics token as `Authorization: Bearer <token>`",
                )
                .into())
            }
            Some(given) if !token.matches(given) => {
                return Err(
                    Error::new(ErrorCode::InvalidToken, "the metrics token is not valid").into(),
                )
            }
            Some(_) => {}
        }
    }
    let index = state.index_at(None).await?;
    let text = state
        .metrics()
        .render(index.revision(), index.assignment_count());
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
