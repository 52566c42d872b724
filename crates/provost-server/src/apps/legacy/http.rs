//! The legacy app's HTTP handlers and their request shapes: runs, the flag, the compatibility view.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::compat::{self, CompatAnswer, CompatQuery};
use super::flag::{self, FlagAnswer};
use super::service::{self, Direction, Quiet, RunOptions, RunRequest, RunView, DEFAULT_BATCH};
use super::source::{self, Filter};
use crate::api_error::{ApiError, ErrorBody};
use crate::auth::Principal;
use crate::err::{Error, ErrorCode};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

/// Which rows: exactly one of `{"all": true}`, `{"org": "MITx"}`, `{"courses": ["course-v1:..."]}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterBody {
    /// Every row.
    #[serde(default)]
    pub all: bool,
    /// One org's rows.
    pub org: Option<OrgName>,
    /// These courses' rows.
    pub courses: Option<CourseList>,
}

impl FilterBody {
    /// The filter, or 422 when the body names none or several.
    fn filter(self) -> Result<Filter, Error> {
        match (self.all, self.org, self.courses) {
            (true, None, None) => Ok(Filter::All),
            (false, Some(org), None) => Ok(Filter::Org(org.0)),
            (false, None, Some(keys)) => {
                Ok(Filter::Courses(keys.0.into_iter().map(|k| k.0).collect()))
            }
            _ => Err(Error::new(
                ErrorCode::InvalidRunOptions,
                "the filter names exactly one of `all: true`, `org` and `courses`",
            )),
        }
    }
}

/// A string schema with the server's rule for it.
fn string_schema(description: &str, pattern: &str, max: usize) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(pattern))
        .min_length(Some(1))
        .max_length(Some(max))
        .into()
}

/// An org name, checked as the org of a scope (`org:ORG`): the authz app's `OrgName` rule.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct OrgName(String);

impl PartialSchema for OrgName {
    fn schema() -> RefOr<Schema> {
        crate::apps::authz::http_types::OrgName::schema()
    }
}

impl ToSchema for OrgName {}

/// A course key, `course-v1:ORG+COURSE+RUN`.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct CourseKey(String);

impl PartialSchema for CourseKey {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "A course key, `course-v1:ORG+COURSE+RUN`.",
            r"^course-v1:[A-Za-z0-9._-]+\+[A-Za-z0-9._~-]+\+[A-Za-z0-9._~-]+$",
            255,
        )
    }
}

impl ToSchema for CourseKey {}

/// 1 to 1000 course keys.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct CourseList(Vec<CourseKey>);

impl PartialSchema for CourseList {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(Ref::from_schema_name("CourseKey"))
            .min_items(Some(1))
            .max_items(Some(1000))
            .into()
    }
}

impl ToSchema for CourseList {}

/// Start a migration (`forward`, the default) or a rollback.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    #[serde(default = "forward")]
    pub direction: Direction,
    /// The platform's database, `mysql://USER:PASSWORD@HOST:PORT/DB` (`mariadb://` too). Over HTTP
    /// only databases: exported CSV folders are read from the command line.
    #[schema(pattern = r"^(mysql|mariadb)://", max_length = 1000)]
    pub database: String,
    pub filter: FilterBody,
    /// Forum roles too.
    #[serde(default)]
    pub forum: bool,
    /// The automatic forum `Student` role too (needs `forum`).
    #[serde(default)]
    pub forum_students: bool,
    /// Report what would happen; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Forward only: remove from the legacy tables the rows whose role is now in Provost.
    #[serde(default)]
    pub delete: bool,
    /// Rollback only: remove from Provost what was written back.
    #[serde(default)]
    pub remove: bool,
    /// Rows per transaction (10000 by default; at most 50000), a whole number.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 50000)]
    pub batch_size: Option<f64>,
}

fn forward() -> Direction {
    Direction::Forward
}

impl RunBody {
    /// The run this body asks for, or why it cannot be one (before anything is recorded).
    fn request(self) -> Result<RunRequest, Error> {
        if !source::is_database_url(&self.database) || self.database.chars().count() > 1000 {
            return Err(Error::new(
                ErrorCode::InvalidLegacySource,
                "over HTTP a run reads a `mysql://` database (at most 1000 characters); CSV folders are read by `provost legacy migrate`",
            ));
        }
        let batch_size = match self.batch_size {
            None => DEFAULT_BATCH,
            Some(n) if n.fract() == 0.0 && (1.0..=50_000.0).contains(&n) => n as u32,
            Some(_) => {
                return Err(Error::new(
                    ErrorCode::InvalidRunOptions,
                    "`batch_size` is a whole number from 1 to 50000",
                ))
            }
        };
        Ok(RunRequest {
            direction: self.direction,
            database: self.database,
            filter: self.filter.filter()?,
            options: RunOptions {
                forum: self.forum,
                forum_students: self.forum_students,
                dry_run: self.dry_run,
                delete: self.delete,
                remove: self.remove,
                batch_size,
            },
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// How many runs, newest first: 20 by default, at most 1000.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunList {
    pub items: Vec<RunView>,
}

/// Start a legacy migration run
///
/// `POST /api/v1/legacy/migrations`: starts a run and answers at once (202) with it `running`;
/// `GET .../{id}` follows it. Admins only.
#[utoipa::path(post, path = "/api/v1/legacy/migrations", tag = "legacy", request_body = RunBody,
    responses((status = 202, description = "the run started", body = RunView),
        (status = 409, description = "another run covers an overlapping scope (`migration_running`)", body = ErrorBody),
        (status = 422, description = "options that cannot go together (`invalid_run_options`)", body = ErrorBody)))]
pub async fn start_run(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiJson(body): ApiJson<RunBody>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    let request = body.request()?;
    let node = state.node().clone();
    let id = service::begin(&node, &actor, &request).await?;
    let view = service::view(&node, &actor, &id).await?;
    tokio::spawn(async move {
        // The outcome, failures included, is in the run's record.
        if let Err(e) = service::execute(&node, &actor, &id, &request, &Quiet).await {
            tracing::warn!(run = %id, error = %e, "legacy run failed");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// List migration runs
///
/// `GET /api/v1/legacy/migrations`: runs, newest first. Admins only.
#[utoipa::path(get, path = "/api/v1/legacy/migrations", tag = "legacy", params(RunsQuery),
    responses((status = 200, body = RunList)))]
pub async fn list_runs(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> ApiResult<Json<RunList>> {
    let limit = match query.limit {
        None => 20,
        Some(n @ 1..=1000) => n,
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidLimit,
                "`limit` must be between 1 and 1000",
            ))
        }
    };
    let items = service::list(state.node(), &actor, limit).await?;
    Ok(Json(RunList { items }))
}

/// One migration run
///
/// `GET /api/v1/legacy/migrations/{id}`: one run, its counts and (once ended) its rows. Admins only.
#[utoipa::path(get, path = "/api/v1/legacy/migrations/{id}", tag = "legacy", params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, description = "no such run (`run_not_found`)", body = ErrorBody)))]
pub async fn get_run(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RunView>> {
    Ok(Json(service::view(state.node(), &actor, &id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlagQuery {
    /// `*`, `org:ORG` or a course key.
    #[param(
        pattern = r"^(\*|org:[A-Za-z0-9._-]+|course-v1:[A-Za-z0-9._-]+\+[A-Za-z0-9._~-]+\+[A-Za-z0-9._~-]+)$",
        max_length = 255
    )]
    pub scope: String,
}

/// Set a flag at a scope: `true`, `false`, or `null` to clear the value set there.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagBody {
    #[schema(
        pattern = r"^(\*|org:[A-Za-z0-9._-]+|course-v1:[A-Za-z0-9._-]+\+[A-Za-z0-9._~-]+\+[A-Za-z0-9._~-]+)$",
        max_length = 255
    )]
    pub scope: String,
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlagSaved {
    #[serde(flatten)]
    pub flag: FlagAnswer,
    pub revision: u64,
}

/// A flag's value at a scope
///
/// `GET /api/v1/flags/{name}?scope=`: the flag's effective value there and the level that
/// decided it. Anyone signed in: old code paths of every kind ask it, and it says nothing about anyone.
#[utoipa::path(get, path = "/api/v1/flags/{name}", tag = "legacy",
    params(("name" = String, Path, example = "authz.enable_course_authoring"), FlagQuery),
    responses((status = 200, body = FlagAnswer), (status = 404, description = "no such flag (`unknown_flag`)", body = ErrorBody)))]
pub async fn get_flag(
    State(state): State<AppState>,
    _caller: Principal,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<FlagQuery>,
) -> ApiResult<Json<FlagAnswer>> {
    Ok(Json(flag::get(state.node(), &name, &query.scope).await?))
}

/// Set or clear a flag at a scope
///
/// `PUT /api/v1/flags/{name}`: sets the flag on or off at a scope, or clears it there. Admins only.
#[utoipa::path(put, path = "/api/v1/flags/{name}", tag = "legacy",
    params(("name" = String, Path, example = "authz.enable_course_authoring")), request_body = FlagBody,
    responses((status = 200, body = FlagSaved), (status = 404, description = "no such flag (`unknown_flag`)", body = ErrorBody)))]
pub async fn put_flag(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<FlagBody>,
) -> ApiResult<Json<FlagSaved>> {
    let (flag, revision) =
        flag::set(state.node(), &actor, &name, &body.scope, body.enabled).await?;
    Ok(Json(FlagSaved { flag, revision }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompatParams {
    /// One course's rows (give this or `org`).
    #[param(
        pattern = r"^course-v1:[A-Za-z0-9._-]+\+[A-Za-z0-9._~-]+\+[A-Za-z0-9._~-]+$",
        max_length = 255
    )]
    pub course_id: Option<String>,
    /// One org's rows: org-wide rows and its courses' (give this or `course_id`).
    #[param(pattern = r"^[A-Za-z0-9._-]+$", max_length = 64)]
    pub org: Option<String>,
    /// Only this user's rows.
    #[param(pattern = r"^[A-Za-z0-9@._+:-]+$", max_length = 150)]
    pub user: Option<String>,
}

/// Course access roles, legacy-shaped
///
/// `GET /api/v1/legacy/course-access-roles`: `student_courseaccessrole`-shaped rows from Provost
/// for a course or an org where the course authoring flag is on (`"source": "provost"`); where it
/// is off, `"source": "legacy"` and no rows: the legacy tables decide there. Who may call: admins
/// and the `authz_service` role (anywhere), the course's (or every org course's) team managers,
/// and anyone about themself (`user` = the caller).
#[utoipa::path(get, path = "/api/v1/legacy/course-access-roles", tag = "legacy", params(CompatParams),
    responses((status = 200, body = CompatAnswer),
        (status = 422, description = "neither or both of `course_id` and `org` (`one_scope_required`)", body = ErrorBody)))]
pub async fn course_access_roles(
    State(state): State<AppState>,
    Principal(actor): Principal,
    ApiQuery(params): ApiQuery<CompatParams>,
) -> ApiResult<Json<CompatAnswer>> {
    let too_long = [
        (&params.course_id, 255),
        (&params.org, 64),
        (&params.user, 150),
    ]
    .iter()
    .any(|(value, max)| value.as_ref().is_some_and(|v| v.chars().count() > *max));
    if too_long {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "`course_id` is at most 255 characters, `org` 64 and `user` 150",
        ));
    }
    if let Some(user) = &params.user {
        crate::access::check_username(user)?;
    }
    let index = state.node().index();
    let query = CompatQuery {
        course_id: params.course_id,
        org: params.org,
        user: params.user,
    };
    Ok(Json(
        compat::course_access_roles(state.node(), &index, &actor, &query).await?,
    ))
}
