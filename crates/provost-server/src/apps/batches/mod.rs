//! The batches app: Sunbird course batches, open or invite-only, with their creator, mentors and
//! participants as role assignments at `batch:<id>`, on Sunbird's own paths and envelope.

pub mod cli;
pub mod days;
pub mod http;
pub mod members;
pub mod read;
pub mod service;

use axum::http::{Extensions, StatusCode};
use axum::routing::{get, patch, post};
use axum::Router;
use clap::{ArgMatches, Subcommand};
use serde_json::{json, Value};
use utoipa::OpenApi;

use super::{chosen, App, CliContext, CliFuture};
use crate::api_error::{Envelope, ErrorInfo};
use crate::config::ServerConfig;
use crate::node::Node;
use crate::state::AppState;

/// The batches app, as listed in `apps::ALL`.
pub struct Batches;

impl App for Batches {
    /// Sunbird lms-service's backend paths, and the API gateway's spellings beside them.
    fn router(&self) -> Router<AppState> {
        Router::new()
            .route("/v1/course/batch/create", post(http::create))
            .route("/v1/course/batch/update", patch(http::update))
            .route("/v1/course/batch/read/{id}", get(http::read))
            .route("/v1/course/batch/search", post(http::search))
            .route("/course/v1/batch/list", post(http::list))
            .route("/v1/batch/participants/list", post(http::participants))
            .route("/v1/course/enroll", post(http::enrol))
            .route("/course/v1/enrol", post(http::enrol_alias))
            .route("/v1/course/unenroll", post(http::unenrol))
            .route("/course/v1/unenrol", post(http::unenrol_alias))
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        BatchesApi::openapi()
    }

    fn envelope(&self) -> Option<Envelope> {
        Some(sunbird_error)
    }

    fn read_only_posts(&self) -> &'static [&'static str] {
        &[
            "/v1/course/batch/search",
            "/course/v1/batch/list",
            "/v1/batch/participants/list",
        ]
    }

    fn commands(&self, cli: clap::Command) -> clap::Command {
        cli::BatchesCommand::augment_subcommands(cli)
    }

    fn run<'a>(&'a self, cx: CliContext<'a>, matches: &ArgMatches) -> Option<CliFuture<'a>> {
        let command = chosen::<cli::BatchesCommand>(matches)?;
        Some(Box::pin(cli::run(cx, command)))
    }

    /// The zone batch days are counted in (`ServerConfig::batch_calendar`, which `serve` reads
    /// from `PROVOST_BATCH_TIMEZONE` and refuses to start on a name that is no zone).
    fn state(&self, _node: &Node, config: &ServerConfig, state: &mut Extensions) {
        state.insert(config.batch_calendar);
    }
}

/// Sunbird's error envelope: the key in `params.err` and `params.status`, the message in
/// `errmsg`, and `responseCode` by class. Any 401 carries Sunbird's `UNAUTHORIZED_USER`.
fn sunbird_error(status: StatusCode, e: &ErrorInfo) -> Value {
    let response_code = match status {
        s if s.is_server_error() => "SERVER_ERROR",
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "UNAUTHORIZED",
        StatusCode::NOT_FOUND => "RESOURCE_NOT_FOUND",
        _ => "CLIENT_ERROR",
    };
    let key = match (status, e.code.as_str()) {
        (StatusCode::UNAUTHORIZED, _) => "UNAUTHORIZED_USER".to_owned(),
        (_, "internal") => "INTERNAL_ERROR".to_owned(),
        (_, code) => code.to_ascii_uppercase(),
    };
    let request_id = e
        .details
        .as_ref()
        .and_then(|d| d.get("request_id"))
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "id": "api.course.batch",
        "ver": "v1",
        "ts": http::timestamp(),
        "params": {
            "resmsgid": null,
            "msgid": request_id,
            "err": key,
            "status": key,
            "errmsg": e.message,
        },
        "responseCode": response_code,
        "result": {},
    })
}

#[derive(OpenApi)]
#[openapi(
    paths(
        http::create,
        http::update,
        http::read,
        http::search,
        http::list,
        http::participants,
        http::enrol,
        http::enrol_alias,
        http::unenrol,
        http::unenrol_alias,
    ),
    components(schemas(
        http::Params, http::SunbirdError, http::BatchRequest, http::SearchRequest, http::EnrolRequest,
        http::ParticipantsRequest, http::ParticipantsInput, http::ParticipantsBatch, http::Created,
        http::ReadResult, http::UpdateResult, http::SearchResult, http::Participants,
        http::ParticipantsResult, http::Done, http::CreateAnswer, http::ReadAnswer, http::UpdateAnswer,
        http::SearchAnswer, http::ParticipantsAnswer, http::DoneAnswer, service::BatchInput,
        read::BatchView, service::ListChange, members::SearchInput, members::SearchFilters,
        members::Texts, members::Statuses, members::StatusValue, members::SearchPage,
        members::EnrolInput,
    )),
    tags((name = "batches", description = "Sunbird course batches: open or invite-only, with mentors and participants as roles")),
)]
struct BatchesApi;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::extract::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::api_error::enveloped;

    async fn boom() -> String {
        panic!("the batch table is gone")
    }

    async fn slow() -> String {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "late".into()
    }

    async fn call(app: &Router, uri: &str) -> (StatusCode, Value) {
        let request = Request::builder()
            .uri(uri)
            .header("x-request-id", "req-7")
            .body(Body::empty())
            .expect("request");
        let response = app.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("json"))
    }

    /// Panics, timeouts and a missing token on the app's routes answer in Sunbird's envelope.
    #[tokio::test]
    async fn failures_answer_in_sunbirds_envelope() {
        let node = Node::open("sqlite::memory:").await.expect("node");
        let config = ServerConfig {
            request_timeout: Duration::from_millis(50),
            ..ServerConfig::default()
        };
        let state = AppState::with_apps(node, config, &[&Batches]);
        let routes = Batches
            .router()
            .route("/v1/course/batch/boom", get(boom))
            .route("/v1/course/batch/slow", get(slow));
        let app = crate::state::layered(enveloped(routes, sunbird_error), state);

        let (status, body) = call(&app, "/v1/course/batch/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["responseCode"], "SERVER_ERROR");
        assert_eq!(body["params"]["err"], "INTERNAL_ERROR");
        assert_eq!(body["params"]["msgid"], "req-7");
        assert_eq!(
            body["params"]["errmsg"],
            "internal error (request id req-7)"
        );

        let (status, body) = call(&app, "/v1/course/batch/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["responseCode"], "SERVER_ERROR");
        assert_eq!(body["params"]["err"], "TIMEOUT");
        assert_eq!(body["result"], json!({}));

        let (status, body) = call(&app, "/v1/course/batch/read/1").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["responseCode"], "UNAUTHORIZED");
        assert_eq!(body["params"]["err"], "UNAUTHORIZED_USER");
        assert_eq!(body["params"]["status"], "UNAUTHORIZED_USER");
        assert_eq!(body["id"], "api.course.batch");
        assert_eq!(body["ver"], "v1");
    }
}
