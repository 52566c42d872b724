//! The programs app's HTTP handlers (Registrar's paths and shapes): extract, call the service,
//! answer. Every path also answers with a trailing slash, as its own documented operation.

use axum::extract::{FromRef, Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::enrollments::{self, Item, Mode, Results, Target, WriteGuards, MAX_UPLOAD_BYTES};
use super::reports::{self, Link, Report, ReportStore};
use super::schemas::EnrollmentList;
use super::service::{self, ListQuery, NewProgram, ProgramChange, ProgramView};
use crate::api_error::{ApiError, ErrorBody};
use crate::auth::Principal;
use crate::err::ErrorCode;
use crate::extract::{
    decode_cursor, encode_cursor, next_page, page_limit, ApiJson, ApiPath, ApiQuery,
};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

/// The programs app's state: the report store and the per-program write guards.
#[derive(Clone)]
pub struct ProgramsState {
    pub reports: ReportStore,
    pub guards: WriteGuards,
}

impl FromRef<AppState> for ProgramsState {
    fn from_ref(state: &AppState) -> ProgramsState {
        // `AppState::new` runs every listed app's `state`, so it is there.
        state
            .app_state::<ProgramsState>()
            .cloned()
            .expect("put in by Programs::state")
    }
}

/// Registrar's listing query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only programs this org manages (404 when it manages none).
    pub org: Option<String>,
    /// `read_metadata` (default), `read_enrollments`, `write_enrollments` or `read_reports`.
    pub user_has_perm: Option<String>,
    /// A program type's name (404 when there is none).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub program_type: Option<String>,
    /// Part of the title, any case.
    pub program_title: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A page of programs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramPage {
    pub items: Vec<ProgramView>,
    pub next_cursor: Option<String>,
}

/// A program and the revision that wrote it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramSaved {
    #[serde(flatten)]
    pub program: ProgramView,
    pub revision: u64,
}

/// A program key in a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct KeyPath {
    pub key: String,
}

/// A program key and a course run key in a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CoursePath {
    pub key: String,
    /// A course run key of the program's curriculum.
    pub course_id: String,
}

/// `?fmt=csv` for CSV; JSON otherwise.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FormatParams {
    pub fmt: Option<Format>,
}

#[derive(Clone, Copy, Debug, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
}

/// One enrollment change: program statuses `enrolled|pending|suspended|canceled|ended`,
/// course statuses `active|inactive`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentItem {
    #[schema(value_type = super::schemas::StudentKey)]
    pub student_key: String,
    pub status: String,
}

/// `{student_key: status or error}`: the status set, or `duplicated`, `invalid-status`,
/// `conflict`, `not-in-program`, `not-found`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = std::collections::BTreeMap<String, String>)]
pub struct EnrollmentResults(Results);

/// A CSV upload: a `file` part with `student_key` and `status` columns. Other parts are
/// ignored, but their names must be plain (a part header with control characters is malformed:
/// 400 `invalid_upload`).
pub struct UploadForm;

impl utoipa::PartialSchema for UploadForm {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        let file = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .content_media_type("text/csv");
        let plain_name = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[A-Za-z0-9._-]+$"));
        ObjectBuilder::new()
            .property("file", file)
            .required("file")
            .property_names(Some(plain_name))
            .description(Some(
                "A CSV upload: a `file` part with `student_key` and `status` columns.",
            ))
            .into()
    }
}

impl ToSchema for UploadForm {}

/// `?min_created_date=YYYY-MM-DD`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Only reports of this day or later (400 when not a real date).
    #[param(value_type = Option<super::schemas::ReportDate>)]
    pub min_created_date: Option<String>,
}

/// A signed download link's query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DownloadParams {
    /// `<org>/<uuid hex>/<name>`.
    pub file: String,
    /// Unix seconds.
    pub expires: i64,
    /// Hex HMAC-SHA256.
    pub signature: String,
}

fn program_page(mut items: Vec<ProgramView>, limit: u32) -> ProgramPage {
    let next_cursor = next_page(&mut items, limit, |p| encode_cursor(&p.key));
    ProgramPage { items, next_cursor }
}

/// Declares the trailing-slash twin of a handler: the same arguments and answer, its own
/// documented operation (Registrar's clients send the slash).
macro_rules! slash_twin {
    ($twin:ident => $handler:ident ($($arg:ident : $ty:ty),*) -> $out:ty; $($doc:tt)*) => {
        /// The same as without the trailing slash.
        #[utoipa::path($($doc)*)]
        pub async fn $twin($($arg: $ty),*) -> $out {
            $handler($($arg),*).await
        }
    };
}

/// List programs
///
/// Lists the programs on which the caller holds `user_has_perm` (one engine lookup), each with
/// the caller's own permissions on it. Anyone signed in; they see only what they may.
#[utoipa::path(get, path = "/api/v1/programs", tag = "programs", params(ListParams),
    responses((status = 200, body = ProgramPage), (status = 404, description = "unknown org, type or permission", body = ErrorBody)))]
pub async fn list_programs(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiQuery(q): ApiQuery<ListParams>,
) -> ApiResult<Json<ProgramPage>> {
    let limit = page_limit(q.limit)?;
    let after: Option<String> = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let index = state.index_at(None).await?;
    let query = ListQuery {
        org: q.org,
        user_has_perm: q.user_has_perm,
        program_type: q.program_type,
        program_title: q.program_title,
        after,
        limit: limit + 1,
    };
    let items = service::list(state.node(), &index, &actor, query).await?;
    Ok(Json(program_page(items, limit)))
}

slash_twin!(list_programs_slash => list_programs(state: State<AppState>, actor: Principal, q: ApiQuery<ListParams>) -> ApiResult<Json<ProgramPage>>;
    get, path = "/api/v1/programs/", tag = "programs", params(ListParams),
    responses((status = 200, body = ProgramPage), (status = 404, description = "unknown org, type or permission", body = ErrorBody)));

/// Create a program
///
/// Creates a program and registers `program:<key>` under its orgs, in one write. Admins, or
/// whoever holds `programs.manage_access` at every one of its orgs.
#[utoipa::path(post, path = "/api/v1/programs", tag = "programs", request_body = NewProgram,
    responses((status = 201, body = ProgramSaved), (status = 422, description = "unknown program type", body = ErrorBody)))]
pub async fn create_program(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<NewProgram>,
) -> ApiResult<(StatusCode, Json<ProgramSaved>)> {
    let (program, revision) = service::create(state.node(), &actor, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(ProgramSaved { program, revision }),
    ))
}

slash_twin!(create_program_slash => create_program(state: State<AppState>, actor: Principal, body: ApiJson<NewProgram>) -> ApiResult<(StatusCode, Json<ProgramSaved>)>;
    post, path = "/api/v1/programs/", tag = "programs", request_body = NewProgram,
    responses((status = 201, body = ProgramSaved), (status = 422, description = "unknown program type", body = ErrorBody)));

/// One program
///
/// A program, for who holds `programs.read_metadata` on it (at the program or its org).
#[utoipa::path(get, path = "/api/v1/programs/{key}", tag = "programs", params(KeyPath),
    responses((status = 200, body = ProgramView), (status = 404, description = "no such program", body = ErrorBody)))]
pub async fn get_program(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(path): ApiPath<KeyPath>,
) -> ApiResult<Json<ProgramView>> {
    let index = state.index_at(None).await?;
    Ok(Json(
        service::show(state.node(), &index, &actor, &path.key).await?,
    ))
}

slash_twin!(get_program_slash => get_program(state: State<AppState>, actor: Principal, path: ApiPath<KeyPath>) -> ApiResult<Json<ProgramView>>;
    get, path = "/api/v1/programs/{key}/", tag = "programs", params(KeyPath),
    responses((status = 200, body = ProgramView), (status = 404, description = "no such program", body = ErrorBody)));

/// Change a program
///
/// Changes a program's title, type, curriculum or orgs. Admins, or who holds
/// `programs.manage_access` on it; moving it between orgs needs that at the old and new orgs.
#[utoipa::path(patch, path = "/api/v1/programs/{key}", tag = "programs", params(KeyPath), request_body = ProgramChange,
    responses((status = 200, body = ProgramSaved), (status = 404, description = "no such program", body = ErrorBody),
        (status = 422, description = "unknown program type", body = ErrorBody)))]
pub async fn patch_program(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(path): ApiPath<KeyPath>,
    ApiJson(body): ApiJson<ProgramChange>,
) -> ApiResult<Json<ProgramSaved>> {
    let (program, revision) = service::update(state.node(), &actor, &path.key, body).await?;
    Ok(Json(ProgramSaved { program, revision }))
}

slash_twin!(patch_program_slash => patch_program(state: State<AppState>, actor: Principal, path: ApiPath<KeyPath>, body: ApiJson<ProgramChange>) -> ApiResult<Json<ProgramSaved>>;
    patch, path = "/api/v1/programs/{key}/", tag = "programs", params(KeyPath), request_body = ProgramChange,
    responses((status = 200, body = ProgramSaved), (status = 404, description = "no such program", body = ErrorBody),
        (status = 422, description = "unknown program type", body = ErrorBody)));

fn enrollment_answer(results: Results, format: Option<Format>) -> ApiResult<Response> {
    if format == Some(Format::Csv) {
        let text = enrollments::to_csv(&results)?;
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response());
    }
    Ok(Json(EnrollmentResults(results)).into_response())
}

fn write_answer((results, applied): (Results, usize)) -> Response {
    let status = match enrollments::verdict(&results, applied) {
        200 => StatusCode::OK,
        207 => StatusCode::MULTI_STATUS,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    (status, Json(EnrollmentResults(results))).into_response()
}

async fn write_enrollments(
    state: &AppState,
    actor: &crate::access::Actor,
    key: &str,
    target: Target,
    mode: Mode,
    items: Vec<Item>,
) -> ApiResult<Response> {
    let index = state.index_at(None).await?;
    let programs = ProgramsState::from_ref(state);
    let request = enrollments::Request {
        key,
        target,
        mode,
        items,
    };
    let done = enrollments::write(state.node(), &index, &programs.guards, actor, request).await?;
    Ok(write_answer(done))
}

/// A program's enrollments
///
/// A Masters program's enrollments (JSON, or `?fmt=csv`), for `programs.read_enrollments`;
/// any other type answers 403 `enrollment_not_enabled_for_program_type`.
#[utoipa::path(get, path = "/api/v1/programs/{key}/enrollments", tag = "programs", params(KeyPath, FormatParams),
    responses((status = 200, body = EnrollmentResults, content((EnrollmentResults = "application/json"), (String = "text/csv"))),
        (status = 404, description = "no such program", body = ErrorBody)))]
pub async fn get_enrollments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(path): ApiPath<KeyPath>,
    ApiQuery(q): ApiQuery<FormatParams>,
) -> ApiResult<Response> {
    let index = state.index_at(None).await?;
    let results =
        enrollments::read(state.node(), &index, &actor, &path.key, &Target::Program).await?;
    enrollment_answer(results, q.fmt)
}

slash_twin!(get_enrollments_slash => get_enrollments(state: State<AppState>, actor: Principal, path: ApiPath<KeyPath>, q: ApiQuery<FormatParams>) -> ApiResult<Response>;
    get, path = "/api/v1/programs/{key}/enrollments/", tag = "programs", params(KeyPath, FormatParams),
    responses((status = 200, body = EnrollmentResults, content((EnrollmentResults = "application/json"), (String = "text/csv"))),
        (status = 404, description = "no such program", body = ErrorBody)));

/// Enroll students in a program
///
/// Enrolls students in a Masters program (at most 25; 413 above), for
/// `programs.write_enrollments`: 200 all enrolled, 207 some, 422 none, per student.
#[utoipa::path(post, path = "/api/v1/programs/{key}/enrollments", tag = "programs", params(KeyPath), request_body = EnrollmentList,
    responses((status = 200, body = EnrollmentResults), (status = 207, body = EnrollmentResults), (status = 422, body = EnrollmentResults),
        (status = 404, description = "no such program", body = ErrorBody)))]
pub async fn post_enrollments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(path): ApiPath<KeyPath>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let items = enrollments::items_from_json(&body)?;
    write_enrollments(
        &state,
        &actor,
        &path.key,
        Target::Program,
        Mode::Create,
        items,
    )
    .await
}

slash_twin!(post_enrollments_slash => post_enrollments(state: State<AppState>, actor: Principal, path: ApiPath<KeyPath>, body: ApiJson<Value>) -> ApiResult<Response>;
    post, path = "/api/v1/programs/{key}/enrollments/", tag = "programs", params(KeyPath), request_body = EnrollmentList,
    responses((status = 200, body = EnrollmentResults), (status = 207, body = EnrollmentResults), (status = 422, body = EnrollmentResults),
        (status = 404, description = "no such program", body = ErrorBody)));

/// Change students' program enrollments
///
/// Changes the status of students already in a Masters program, as `POST` answers.
#[utoipa::path(patch, path = "/api/v1/programs/{key}/enrollments", tag = "programs", params(KeyPath), request_body = EnrollmentList,
    responses((status = 200, body = EnrollmentResults), (status = 207, body = EnrollmentResults), (status = 422, body = EnrollmentResults),
        (status = 404, description = "no such program", body = ErrorBody)))]
pub async fn patch_enrollments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(path): ApiPath<KeyPath>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let items = enrollments::items_from_json(&body)?;
    write_enrollments(
        &state,
        &actor,
        &path.key,
        Target::Program,
        Mode::Update,
        items,
    )
    .await
}

slash_twin!(patch_enrollments_slash => patch_enrollments(state: State<AppState>, actor: Principal, path: ApiPath<KeyPath>, body: ApiJson<Value>) -> ApiResult<Response>;
    patch, path = "/api/v1/programs/{key}/enrollments/", tag = "programs", params(KeyPath), request_body = EnrollmentList,
    responses((status = 200, body = EnrollmentResults), (status = 207, body = EnrollmentResults), (status = 422, body = EnrollmentResults),
        (status = 404, description = "no such program", body = ErrorBody)));

/// Enroll students from a CSV file
///
/// Enrolls or changes students from a CSV file (`student_key,status`; at most 5 MiB), for
/// `programs.write_enrollments`; 409 while another enrollment write for the program runs.
#[utoipa::path(post, path = "/api/v1/programs/{key}/enrollments/upload", tag = "programs", params(KeyPath),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = EnrollmentResults), (status = 207, body = EnrollmentResults),
        (status = 422, description = "every student refused, or not a CSV file (`invalid_csv`)", body = super::schemas::UploadRefused),
        (status = 404, description = "no such program", body = ErrorBody)))]
pub async fn upload_enrollments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(path): ApiPath<KeyPath>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    // Who may write, on a program that takes enrollments, before reading up to 5 MiB.
    let index = state.index_at(None).await?;
    enrollments::check_write(state.node(), &index, &actor, &path.key, &Target::Program).await?;
    let bytes = uploaded_file(form).await?;
    let items = enrollments::items_from_csv(&bytes)?;
    write_enrollments(
        &state,
        &actor,
        &path.key,
        Target::Program,
        Mode::Upsert,
        items,
    )
    .await
}

slash_twin!(upload_enrollments_slash => upload_enrollments(state: State<AppState>, actor: Principal, path: ApiPath<KeyPath>, form: Result<Multipart, axum::extract::multipart::MultipartRejection>) -> ApiResult<Response>;
    post, path = "/api/v1/programs/{key}/enrollments/upload/", tag = "programs", params(KeyPath),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = EnrollmentResults), (status = 207, body = EnrollmentResults),
        (status = 422, description = "every student refused, or not a CSV file (`invalid_csv`)", body = super::schemas::UploadRefused),
        (status = 404, description = "no such program", body = ErrorBody)));

/// The `file` part of a multipart form, at most 5 MiB (413 above).
async fn uploaded_file(
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Vec<u8>> {
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidUpload,
            "send the CSV as the `file` part of a multipart/form-data body (other parts need plain names: letters, digits, `.`, `_`, `-`)",
        )
    };
    let too_large = || {
        ApiError::new(
            ErrorCode::BodyTooLarge,
            format!(
                "the file is larger than {} MiB",
                MAX_UPLOAD_BYTES / (1024 * 1024)
            ),
        )
    };
    let mut form = form.map_err(|rejection| {
        if rejection.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the file as multipart/form-data",
            )
        } else {
            bad()
        }
    })?;
    // Every part is read, so that what the document says of all of them holds: one `file`, and
    // other parts (ignored) with plain names.
    let plain = |name: &str| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    let mut file = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return file.ok_or_else(bad),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => return Err(bad()),
        };
        let name = field.name().unwrap_or_default();
        if !plain(name) {
            return Err(bad());
        }
        if name != "file" || file.is_some() {
            continue;
        }
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                bad()
            }
        })?;
        if bytes.len() > MAX_UPLOAD_BYTES {
            return Err(too_large());
        }
        file = Some(bytes.to_vec());
    }
}

/// A program course run's enrollments
///
/// A course run's enrollments under a Masters program (JSON, or `?fmt=csv`), for
/// `programs.read_enrollments`; 404 when the course is not in the curriculum.
#[utoipa::path(get, path = "/api/v1/programs/{key}/courses/{course_id}/enrollments", tag = "programs", params(CoursePath, FormatParams),
    responses((status = 200, body = EnrollmentResults, content((EnrollmentResults = "application/json"), (String = "text/csv"))),
        (status = 404, description = "no such program, or the course is not in it", body = ErrorBody)))]
pub async fn get_course_enrollments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(path): ApiPath<CoursePath>,
    ApiQuery(q): ApiQuery<FormatParams>,
) -> ApiResult<Response> {
    let index = state.index_at(None).await?;
    let target = Target::Course(path.course_id);
    let results = enrollments::read(state.node(), &index, &actor, &path.key, &target).await?;
    enrollment_answer(results, q.fmt)
}

slash_twin!(get_course_enrollments_slash => get_course_enrollments(state: State<AppState>, actor: Principal, path: ApiPath<CoursePath>, q: ApiQuery<FormatParams>) -> ApiResult<Response>;
    get, path = "/api/v1/programs/{key}/courses/{course_id}/enrollments/", tag = "programs", params(CoursePath, FormatParams),
    responses((status = 200, body = EnrollmentResults, content((EnrollmentResults = "application/json"), (String = "text/csv"))),
        (status = 404, description = "no such program, or the course is not in it", body = ErrorBody)));

/// Enroll program students in a course run
///
/// Enrolls program students in a course run of its curriculum (`active|inactive`), for
/// `programs.write_enrollments`: per student, 200/207/422 as for the program.
#[utoipa::path(post, path = "/api/v1/programs/{key}/courses/{course_id}/enrollments", tag = "programs", params(CoursePath),
    request_body = EnrollmentList,
    responses((status = 200, body = EnrollmentResults), (status = 207, body = EnrollmentResults), (status = 422, body = EnrollmentResults),
        (status = 404, description = "no such program, or the course is not in it", body = ErrorBody)))]
pub async fn post_course_enrollments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(path): ApiPath<CoursePath>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let items = enrollments::items_from_json(&body)?;
    let target = Target::Course(path.course_id);
    write_enrollments(&state, &actor, &path.key, target, Mode::Create, items).await
}

slash_twin!(post_course_enrollments_slash => post_course_enrollments(state: State<AppState>, actor: Principal, path: ApiPath<CoursePath>, body: ApiJson<Value>) -> ApiResult<Response>;
    post, path = "/api/v1/programs/{key}/courses/{course_id}/enrollments/", tag = "programs", params(CoursePath),
    request_body = EnrollmentList,
    responses((status = 200, body = EnrollmentResults), (status = 207, body = EnrollmentResults), (status = 422, body = EnrollmentResults),
        (status = 404, description = "no such program, or the course is not in it", body = ErrorBody)));

/// Change students' course run enrollments
///
/// Changes course run enrollments of students already enrolled there, as `POST` answers.
#[utoipa::path(patch, path = "/api/v1/programs/{key}/courses/{course_id}/enrollments", tag = "programs", params(CoursePath),
    request_body = EnrollmentList,
    responses((status = 200, body = EnrollmentResults), (status = 207, body = EnrollmentResults), (status = 422, body = EnrollmentResults),
        (status = 404, description = "no such program, or the course is not in it", body = ErrorBody)))]
pub async fn patch_course_enrollments(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(path): ApiPath<CoursePath>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let items = enrollments::items_from_json(&body)?;
    let target = Target::Course(path.course_id);
    write_enrollments(&state, &actor, &path.key, target, Mode::Update, items).await
}

slash_twin!(patch_course_enrollments_slash => patch_course_enrollments(state: State<AppState>, actor: Principal, path: ApiPath<CoursePath>, body: ApiJson<Value>) -> ApiResult<Response>;
    patch, path = "/api/v1/programs/{key}/courses/{course_id}/enrollments/", tag = "programs", params(CoursePath),
    request_body = EnrollmentList,
    responses((status = 200, body = EnrollmentResults), (status = 207, body = EnrollmentResults), (status = 422, body = EnrollmentResults),
        (status = 404, description = "no such program, or the course is not in it", body = ErrorBody)));

/// List a program's reports
///
/// The program's reports (`<name>__YYYY-MM-DD[.ext]` under `<org>/<uuid hex>/`), newest first,
/// each with a download link that expires; for `programs.read_reports`.
#[utoipa::path(get, path = "/api/v1/programs/{key}/reports", tag = "programs", params(KeyPath, ReportParams),
    responses((status = 200, body = Vec<Report>), (status = 404, description = "no such program", body = ErrorBody)))]
pub async fn list_reports(
    State(state): State<AppState>,
    State(programs): State<ProgramsState>,
    Principal(actor): Principal,
    ApiPath(path): ApiPath<KeyPath>,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> ApiResult<Json<Vec<Report>>> {
    let min = reports::min_date(q.min_created_date.as_deref())?;
    let index = state.index_at(None).await?;
    let list = reports::list(
        state.node(),
        &index,
        &programs.reports,
        &actor,
        &path.key,
        min,
    )
    .await?;
    Ok(Json(list))
}

slash_twin!(list_reports_slash => list_reports(state: State<AppState>, programs: State<ProgramsState>, actor: Principal, path: ApiPath<KeyPath>, q: ApiQuery<ReportParams>) -> ApiResult<Json<Vec<Report>>>;
    get, path = "/api/v1/programs/{key}/reports/", tag = "programs", params(KeyPath, ReportParams),
    responses((status = 200, body = Vec<Report>), (status = 404, description = "no such program", body = ErrorBody)));

/// Download a report
///
/// Downloads a local report through the signed link its listing gave: no token, the link is
/// the right (for this file of this program, until it expires; 403 otherwise).
#[utoipa::path(get, path = "/api/v1/programs/{key}/reports/download", tag = "programs", params(KeyPath, DownloadParams), security(()),
    responses((status = 200, description = "the report", content_type = "application/octet-stream"),
        (status = 404, description = "no such program or report", body = ErrorBody)))]
pub async fn download_report(
    State(state): State<AppState>,
    State(programs): State<ProgramsState>,
    ApiPath(path): ApiPath<KeyPath>,
    ApiQuery(q): ApiQuery<DownloadParams>,
) -> ApiResult<Response> {
    let link = Link {
        program: path.key,
        file: q.file,
        expires: q.expires,
        signature: q.signature,
    };
    let program = service::load(state.node(), &link.program).await?;
    let bytes = programs
        .reports
        .download(&link, &reports::dirs_of(&program))
        .await?;
    let name = link
        .file
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .replace('"', "");
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

slash_twin!(download_report_slash => download_report(state: State<AppState>, programs: State<ProgramsState>, path: ApiPath<KeyPath>, q: ApiQuery<DownloadParams>) -> ApiResult<Response>;
    get, path = "/api/v1/programs/{key}/reports/download/", tag = "programs", params(KeyPath, DownloadParams), security(()),
    responses((status = 200, description = "the report", content_type = "application/octet-stream"),
        (status = 404, description = "no such program or report", body = ErrorBody)));
