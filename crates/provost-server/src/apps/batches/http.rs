//! The batches app's HTTP handlers in Sunbird's shapes: `{"request": {...}}` in, `{id, ver, ts,
//! params, responseCode, result}` out. Errors take the same envelope (`mod.rs`, `sunbird_error`),
//! except those the service answers before it routes a request (431 header limits, 405 methods),
//! which keep Provost's shape as the document's shared answers say.

use axum::extract::{FromRef, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::days::Calendar;
use super::members::{self, EnrolInput, SearchInput, SearchPage};
use super::read::{self, BatchView};
use super::service::{self, BatchInput, ListChange};
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::err::{Error, ErrorCode};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

impl FromRef<AppState> for Calendar {
    fn from_ref(state: &AppState) -> Calendar {
        // `Batches::state` puts it in; a state built without the app counts days in UTC.
        state.app_state::<Calendar>().copied().unwrap_or_default()
    }
}

/// Sunbird's `params`: ids of the exchange, and the error key and message on failure.
#[derive(Debug, Serialize, ToSchema)]
pub struct Params {
    pub resmsgid: Option<String>,
    pub msgid: Option<String>,
    pub err: Option<String>,
    /// `success`, or the error key.
    pub status: String,
    pub errmsg: Option<String>,
}

/// The time stamp Sunbird writes in `ts`.
pub fn timestamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S:%3f%z")
        .to_string()
}

/// Declares an answer type: Sunbird's envelope around one operation's `result`.
macro_rules! answer {
    ($name:ident, $result:ty) => {
        #[derive(Debug, Serialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub id: String,
            pub ver: String,
            pub ts: String,
            pub params: Params,
            /// `OK`
            pub response_code: String,
            pub result: $result,
        }

        impl $name {
            fn new(id: &str, headers: &HeaderMap, result: $result) -> Json<$name> {
                let msgid = headers
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                Json($name {
                    id: id.into(),
                    ver: "v1".into(),
                    ts: timestamp(),
                    params: Params {
                        resmsgid: Some(uuid::Uuid::new_v4().to_string()),
                        msgid,
                        err: None,
                        status: "success".into(),
                        errmsg: None,
                    },
                    response_code: "OK".into(),
                    result,
                })
            }
        }
    };
}

/// What every refusal and failure of these routes answers (`params.err` holds the key).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SunbirdError {
    pub id: String,
    pub ver: String,
    pub ts: String,
    pub params: Params,
    /// `CLIENT_ERROR`, `UNAUTHORIZED`, `RESOURCE_NOT_FOUND` or `SERVER_ERROR`.
    pub response_code: String,
    #[schema(value_type = Object)]
    pub result: serde_json::Value,
}

/// `{"request": {...}}` around a batch's fields. Named apart from the authz app's `BatchRequest`
/// (a batch of checks) in the document, where one name holds one schema.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CourseBatchRequest)]
pub struct BatchRequest {
    pub request: Option<BatchInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SearchRequest {
    pub request: Option<SearchInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EnrolRequest {
    pub request: Option<EnrolInput>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantsBatch {
    pub batch_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ParticipantsInput {
    pub batch: Option<ParticipantsBatch>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ParticipantsRequest {
    pub request: Option<ParticipantsInput>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    /// `SUCCESS`
    pub response: String,
    pub batch_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadResult {
    pub response: BatchView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateResult {
    /// `SUCCESS`
    pub response: String,
    pub batch_id: String,
    pub mentors: ListChange,
    pub participants: ListChange,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    pub response: SearchPage,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Participants {
    pub count: u64,
    pub participants: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantsResult {
    pub batch: Participants,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    /// `SUCCESS`
    pub response: String,
}

answer!(CreateAnswer, Created);
answer!(ReadAnswer, ReadResult);
answer!(UpdateAnswer, UpdateResult);
answer!(SearchAnswer, SearchResult);
answer!(ParticipantsAnswer, ParticipantsResult);
answer!(DoneAnswer, Done);

fn request<T>(body: Option<T>) -> Result<T, Error> {
    body.ok_or_else(|| {
        Error::new(
            ErrorCode::BatchParameterMissing,
            "request is a mandatory parameter.",
        )
    })
}

const SUCCESS: &str = "SUCCESS";

/// How many mentors and participants a request names (at most the server's `max_items`).
fn members_sent(input: &BatchInput) -> usize {
    let count = |list: &Option<Vec<String>>| list.as_ref().map_or(0, Vec::len);
    count(&input.mentors) + count(&input.participants)
}

/// Create a batch
///
/// Create a batch. Who: holders of `batches.create` at the course (course staff and admins);
/// mentors and participants are added only by those who may grant their roles there.
#[utoipa::path(post, path = "/v1/course/batch/create", tag = "batches", request_body = BatchRequest,
    responses((status = 200, body = CreateAnswer), (status = 400, body = SunbirdError), (status = 401, body = SunbirdError),
        (status = 413, body = SunbirdError), (status = 415, body = SunbirdError), (status = 429, body = SunbirdError),
        (status = 500, body = SunbirdError), (status = 503, body = SunbirdError)))]
pub async fn create(
    State(state): State<AppState>,
    State(calendar): State<Calendar>,
    headers: HeaderMap,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<BatchRequest>,
) -> ApiResult<Json<CreateAnswer>> {
    let input = request(body.request)?;
    state.check_items(members_sent(&input))?;
    let index = state.index_at(None).await?;
    let (batch_id, _) =
        service::create(state.node(), &index, &actor, calendar.today(), input).await?;
    let result = Created {
        response: SUCCESS.into(),
        batch_id,
    };
    Ok(CreateAnswer::new(
        "api.course.batch.create",
        &headers,
        result,
    ))
}

/// Update a batch
///
/// Update a batch (fields and lists sent replace the stored ones). Who: holders of
/// `batches.edit` at the batch (its creator and mentors) or at its course (course staff and
/// admins); changing the lists also needs the right to grant and remove their roles there.
/// A batch changed by someone else meanwhile answers 409 `CONFLICT` (try again).
#[utoipa::path(patch, path = "/v1/course/batch/update", tag = "batches", request_body = BatchRequest,
    responses((status = 200, body = UpdateAnswer), (status = 400, body = SunbirdError), (status = 401, body = SunbirdError),
        (status = 404, body = SunbirdError), (status = 409, body = SunbirdError), (status = 413, body = SunbirdError), (status = 415, body = SunbirdError),
        (status = 429, body = SunbirdError), (status = 500, body = SunbirdError),
        (status = 503, body = SunbirdError)))]
pub async fn update(
    State(state): State<AppState>,
    State(calendar): State<Calendar>,
    headers: HeaderMap,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<BatchRequest>,
) -> ApiResult<Json<UpdateAnswer>> {
    let input = request(body.request)?;
    state.check_items(members_sent(&input))?;
    let batch_id = input.id.clone().unwrap_or_default();
    let index = state.index_at(None).await?;
    let updated = service::update(state.node(), &index, &actor, calendar.today(), input).await?;
    let result = UpdateResult {
        response: SUCCESS.into(),
        batch_id: batch_id.trim().to_owned(),
        mentors: updated.mentors,
        participants: updated.participants,
    };
    Ok(UpdateAnswer::new(
        "api.course.batch.update",
        &headers,
        result,
    ))
}

/// Read a batch
///
/// Read a batch. Who: anyone signed in for an open batch; `batches.view` at the batch (its
/// members, course staff) for an invite-only one.
#[utoipa::path(get, path = "/v1/course/batch/read/{id}", tag = "batches", params(("id" = String, Path, description = "the batch id")),
    responses((status = 200, body = ReadAnswer), (status = 400, body = SunbirdError), (status = 401, body = SunbirdError),
        (status = 404, body = SunbirdError), (status = 429, body = SunbirdError),
        (status = 500, body = SunbirdError), (status = 503, body = SunbirdError)))]
pub async fn read(
    State(state): State<AppState>,
    State(calendar): State<Calendar>,
    headers: HeaderMap,
    Principal(actor): Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ReadAnswer>> {
    let index = state.index_at(None).await?;
    let batch = read::read(state.node(), &index, &actor, calendar.today(), &id).await?;
    Ok(ReadAnswer::new(
        "api.course.batch.read",
        &headers,
        ReadResult { response: batch },
    ))
}

/// Search batches
///
/// Search batches (at least one filter). Who: anyone signed in; the answer holds only the
/// batches they may read (open ones, and invite-only ones where they hold `batches.view`).
#[utoipa::path(post, path = "/v1/course/batch/search", tag = "batches", request_body = SearchRequest,
    responses((status = 200, body = SearchAnswer), (status = 400, body = SunbirdError), (status = 401, body = SunbirdError),
        (status = 413, body = SunbirdError), (status = 415, body = SunbirdError), (status = 429, body = SunbirdError),
        (status = 500, body = SunbirdError), (status = 503, body = SunbirdError)))]
pub async fn search(
    State(state): State<AppState>,
    State(calendar): State<Calendar>,
    headers: HeaderMap,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<SearchRequest>,
) -> ApiResult<Json<SearchAnswer>> {
    let input = request(body.request)?;
    let index = state.index_at(None).await?;
    let page = members::search(state.node(), &index, &actor, calendar.today(), input).await?;
    Ok(SearchAnswer::new(
        "api.course.batch.search",
        &headers,
        SearchResult { response: page },
    ))
}

/// Search batches (gateway path)
///
/// The API gateway's spelling of `/v1/course/batch/search`; the same rules.
#[utoipa::path(post, path = "/course/v1/batch/list", tag = "batches", request_body = SearchRequest,
    responses((status = 200, body = SearchAnswer), (status = 400, body = SunbirdError), (status = 401, body = SunbirdError),
        (status = 413, body = SunbirdError), (status = 415, body = SunbirdError), (status = 429, body = SunbirdError),
        (status = 500, body = SunbirdError), (status = 503, body = SunbirdError)))]
pub async fn list(
    state: State<AppState>,
    calendar: State<Calendar>,
    headers: HeaderMap,
    principal: Principal,
    body: ApiJson<SearchRequest>,
) -> ApiResult<Json<SearchAnswer>> {
    search(state, calendar, headers, principal, body).await
}

/// List a batch's participants
///
/// A batch's participants. Who: holders of `batches.view_participants` at the batch (its admin
/// and mentors) or its course (course staff and admins); participants themselves may not.
#[utoipa::path(post, path = "/v1/batch/participants/list", tag = "batches", request_body = ParticipantsRequest,
    responses((status = 200, body = ParticipantsAnswer), (status = 400, body = SunbirdError), (status = 401, body = SunbirdError),
        (status = 404, body = SunbirdError), (status = 413, body = SunbirdError), (status = 415, body = SunbirdError),
        (status = 429, body = SunbirdError), (status = 500, body = SunbirdError),
        (status = 503, body = SunbirdError)))]
pub async fn participants(
    State(state): State<AppState>,
    headers: HeaderMap,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<ParticipantsRequest>,
) -> ApiResult<Json<ParticipantsAnswer>> {
    let input = request(body.request)?;
    let batch = input.batch.unwrap_or_default();
    let id = service::required("batchId", batch.batch_id.as_deref())?;
    let index = state.index_at(None).await?;
    let participants = members::participants(state.node(), &index, &actor, id).await?;
    let result = ParticipantsResult {
        batch: Participants {
            count: participants.len() as u64,
            participants,
        },
    };
    Ok(ParticipantsAnswer::new(
        "api.course.batch.participants.list",
        &headers,
        result,
    ))
}

/// Enrol in a batch
///
/// Enrol the caller in an open batch. Who: anyone signed in, for themselves only.
#[utoipa::path(post, path = "/v1/course/enroll", tag = "batches", request_body = EnrolRequest,
    responses((status = 200, body = DoneAnswer), (status = 400, body = SunbirdError), (status = 401, body = SunbirdError),
        (status = 404, body = SunbirdError), (status = 409, body = SunbirdError), (status = 413, body = SunbirdError), (status = 415, body = SunbirdError),
        (status = 429, body = SunbirdError), (status = 500, body = SunbirdError),
        (status = 503, body = SunbirdError)))]
pub async fn enrol(
    State(state): State<AppState>,
    State(calendar): State<Calendar>,
    headers: HeaderMap,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<EnrolRequest>,
) -> ApiResult<Json<DoneAnswer>> {
    let input = request(body.request)?;
    members::enrol(state.node(), &actor, calendar.today(), input).await?;
    let done = Done {
        response: SUCCESS.into(),
    };
    Ok(DoneAnswer::new("api.course.enrol", &headers, done))
}

/// Enrol in a batch (gateway path)
///
/// The API gateway's spelling of `/v1/course/enroll`; the same rules.
#[utoipa::path(post, path = "/course/v1/enrol", tag = "batches", request_body = EnrolRequest,
    responses((status = 200, body = DoneAnswer), (status = 400, body = SunbirdError), (status = 401, body = SunbirdError),
        (status = 404, body = SunbirdError), (status = 409, body = SunbirdError), (status = 413, body = SunbirdError), (status = 415, body = SunbirdError),
        (status = 429, body = SunbirdError), (status = 500, body = SunbirdError),
        (status = 503, body = SunbirdError)))]
pub async fn enrol_alias(
    state: State<AppState>,
    calendar: State<Calendar>,
    headers: HeaderMap,
    principal: Principal,
    body: ApiJson<EnrolRequest>,
) -> ApiResult<Json<DoneAnswer>> {
    enrol(state, calendar, headers, principal, body).await
}

/// Unenrol from a batch
///
/// Unenrol the caller from a batch they participate in. Who: anyone signed in, for themselves.
#[utoipa::path(post, path = "/v1/course/unenroll", tag = "batches", request_body = EnrolRequest,
    responses((status = 200, body = DoneAnswer), (status = 400, body = SunbirdError), (status = 401, body = SunbirdError),
        (status = 404, body = SunbirdError), (status = 409, body = SunbirdError), (status = 413, body = SunbirdError), (status = 415, body = SunbirdError),
        (status = 429, body = SunbirdError), (status = 500, body = SunbirdError),
        (status = 503, body = SunbirdError)))]
pub async fn unenrol(
    State(state): State<AppState>,
    State(calendar): State<Calendar>,
    headers: HeaderMap,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<EnrolRequest>,
) -> ApiResult<Json<DoneAnswer>> {
    let input = request(body.request)?;
    members::unenrol(state.node(), &actor, calendar.today(), input).await?;
    let done = Done {
        response: SUCCESS.into(),
    };
    Ok(DoneAnswer::new("api.course.unenrol", &headers, done))
}

/// Unenrol from a batch (gateway path)
///
/// The API gateway's spelling of `/v1/course/unenroll`; the same rules.
#[utoipa::path(post, path = "/course/v1/unenrol", tag = "batches", request_body = EnrolRequest,
    responses((status = 200, body = DoneAnswer), (status = 400, body = SunbirdError), (status = 401, body = SunbirdError),
        (status = 404, body = SunbirdError), (status = 409, body = SunbirdError), (status = 413, body = SunbirdError), (status = 415, body = SunbirdError),
        (status = 429, body = SunbirdError), (status = 500, body = SunbirdError),
        (status = 503, body = SunbirdError)))]
pub async fn unenrol_alias(
    state: State<AppState>,
    calendar: State<Calendar>,
    headers: HeaderMap,
    principal: Principal,
    body: ApiJson<EnrolRequest>,
) -> ApiResult<Json<DoneAnswer>> {
    unenrol(state, calendar, headers, principal, body).await
}
