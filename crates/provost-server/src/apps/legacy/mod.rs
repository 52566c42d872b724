//! The legacy app: Open edX's legacy course and forum roles migrated into Provost and rolled
//! back, the course authoring flag that moves courses over, and a compatibility view for old code.

pub mod cli;
pub mod compat;
pub mod flag;
pub mod http;
pub mod mapping;
mod migrate;
mod rollback;
mod runs;
pub mod service;
pub mod source;
pub mod target;

use axum::routing::get;
use axum::Router;
use clap::{ArgMatches, Subcommand};
use utoipa::OpenApi;

use super::{chosen, App, CliContext, CliFuture};
use crate::state::AppState;

/// The legacy app, as listed in `apps::ALL`.
pub struct Legacy;

impl App for Legacy {
    fn router(&self) -> Router<AppState> {
        Router::new()
            .route(
                "/api/v1/legacy/migrations",
                get(http::list_runs).post(http::start_run),
            )
            .route("/api/v1/legacy/migrations/{id}", get(http::get_run))
            .route(
                "/api/v1/flags/{name}",
                get(http::get_flag).put(http::put_flag),
            )
            .route(
                "/api/v1/legacy/course-access-roles",
                get(http::course_access_roles),
            )
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        LegacyApi::openapi()
    }

    fn commands(&self, cli: clap::Command) -> clap::Command {
        cli::LegacyCommand::augment_subcommands(cli)
    }

    fn run<'a>(&'a self, cx: CliContext<'a>, matches: &ArgMatches) -> Option<CliFuture<'a>> {
        let command = chosen::<cli::LegacyCommand>(matches)?;
        Some(Box::pin(cli::run(cx, command)))
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(
        http::start_run,
        http::list_runs,
        http::get_run,
        http::get_flag,
        http::put_flag,
        http::course_access_roles,
    ),
    components(schemas(
        http::RunBody, http::FilterBody, http::OrgName, http::CourseKey, http::CourseList, http::RunList, http::FlagBody, http::FlagSaved,
        service::RunView, service::RunOptions, service::RowReport, service::RowOutcome, service::Direction,
        source::Filter, mapping::Table, flag::FlagAnswer, flag::Level, compat::CompatAnswer,
        compat::LegacyRoleRow, compat::Authority,
    )),
    tags((name = "legacy", description = "legacy Open edX roles: migration, rollback, the course authoring flag, the compatibility view"))
)]
struct LegacyApi;
