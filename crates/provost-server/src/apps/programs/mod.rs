//! The programs app (Registrar's programs): programs and their types, program roles at the
//! program or its orgs, Masters-only enrollments, and program reports in object storage.

pub mod cli;
pub mod enrollments;
pub mod http;
pub mod reports;
pub mod schemas;
pub mod service;

use axum::extract::DefaultBodyLimit;
use axum::http::Extensions;
use axum::routing::get;
use axum::Router;
use clap::{ArgMatches, Subcommand};
use utoipa::OpenApi;

use super::{chosen, App, CliContext, CliFuture};
use crate::config::ServerConfig;
use crate::node::Node;
use crate::state::AppState;
use enrollments::WriteGuards;
use http::ProgramsState;
use reports::ReportStore;

/// The programs app, as listed in `apps::ALL`.
pub struct Programs;

/// Room for the multipart envelope around a CSV of at most 5 MiB.
const UPLOAD_BODY_LIMIT: usize = enrollments::MAX_UPLOAD_BYTES + 64 * 1024;

impl App for Programs {
    fn router(&self) -> Router<AppState> {
        let upload = axum::routing::post(http::upload_enrollments)
            .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT));
        let upload_slash = axum::routing::post(http::upload_enrollments_slash)
            .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT));
        Router::new()
            .route(
                "/api/v1/programs",
                get(http::list_programs).post(http::create_program),
            )
            .route(
                "/api/v1/programs/",
                get(http::list_programs_slash).post(http::create_program_slash),
            )
            .route(
                "/api/v1/programs/{key}",
                get(http::get_program).patch(http::patch_program),
            )
            .route(
                "/api/v1/programs/{key}/",
                get(http::get_program_slash).patch(http::patch_program_slash),
            )
            .route(
                "/api/v1/programs/{key}/enrollments",
                get(http::get_enrollments)
                    .post(http::post_enrollments)
                    .patch(http::patch_enrollments),
            )
            .route(
                "/api/v1/programs/{key}/enrollments/",
                get(http::get_enrollments_slash)
                    .post(http::post_enrollments_slash)
                    .patch(http::patch_enrollments_slash),
            )
            .route("/api/v1/programs/{key}/enrollments/upload", upload)
            .route("/api/v1/programs/{key}/enrollments/upload/", upload_slash)
            .route(
                "/api/v1/programs/{key}/courses/{course_id}/enrollments",
                get(http::get_course_enrollments)
                    .post(http::post_course_enrollments)
                    .patch(http::patch_course_enrollments),
            )
            .route(
                "/api/v1/programs/{key}/courses/{course_id}/enrollments/",
                get(http::get_course_enrollments_slash)
                    .post(http::post_course_enrollments_slash)
                    .patch(http::patch_course_enrollments_slash),
            )
            .route("/api/v1/programs/{key}/reports", get(http::list_reports))
            .route(
                "/api/v1/programs/{key}/reports/",
                get(http::list_reports_slash),
            )
            .route(
                "/api/v1/programs/{key}/reports/download",
                get(http::download_report),
            )
            .route(
                "/api/v1/programs/{key}/reports/download/",
                get(http::download_report_slash),
            )
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        ProgramsApi::openapi()
    }

    fn state(&self, _node: &Node, config: &ServerConfig, state: &mut Extensions) {
        state.insert(ProgramsState {
            reports: ReportStore::open(&config.reports),
            guards: WriteGuards::default(),
        });
    }

    fn commands(&self, cli: clap::Command) -> clap::Command {
        cli::ProgramsCommand::augment_subcommands(cli)
    }

    fn run<'a>(&'a self, cx: CliContext<'a>, matches: &ArgMatches) -> Option<CliFuture<'a>> {
        let command = chosen::<cli::ProgramsCommand>(matches)?;
        Some(Box::pin(cli::run(cx, command)))
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(
        http::list_programs, http::list_programs_slash, http::create_program, http::create_program_slash,
        http::get_program, http::get_program_slash, http::patch_program, http::patch_program_slash,
        http::get_enrollments, http::get_enrollments_slash, http::post_enrollments, http::post_enrollments_slash,
        http::patch_enrollments, http::patch_enrollments_slash, http::upload_enrollments, http::upload_enrollments_slash,
        http::get_course_enrollments, http::get_course_enrollments_slash, http::post_course_enrollments,
        http::post_course_enrollments_slash, http::patch_course_enrollments, http::patch_course_enrollments_slash,
        http::list_reports, http::list_reports_slash, http::download_report, http::download_report_slash,
    ),
    components(schemas(
        service::NewProgram, service::ProgramChange, service::ProgramView, http::ProgramPage, http::ProgramSaved,
        http::EnrollmentItem, http::EnrollmentResults, schemas::EnrollmentList, schemas::ProgramKey,
        schemas::ProgramOrg, schemas::CourseRunKey, schemas::ProgramTitle, schemas::StudentKey, schemas::ReportDate, schemas::UploadRefused, http::UploadForm, http::Format, reports::Report,
    )),
    tags((name = "programs", description = "programs, their enrollments and reports (Registrar's shapes)"))
)]
struct ProgramsApi;
