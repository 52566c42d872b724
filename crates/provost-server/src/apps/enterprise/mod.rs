//! The enterprise app: learner credit as enterprise-access serves it — subsidy access policies,
//! redemption that never overspends, content assignments and learner credit requests — over
//! stand-ins for its neighbouring services.

pub mod assignments;
pub mod cli;
pub mod eligibility;
pub mod groups;
pub mod http;
pub mod imports;
pub mod neighbours;
pub mod policies;
pub mod redeem;
pub mod requests;
pub mod service;

use axum::routing::{delete, get, post, put};
use axum::Router;
use clap::{ArgMatches, Subcommand};
use utoipa::OpenApi;

use std::future::Future;
use std::pin::Pin;

use super::{chosen, App, CliContext, CliFuture};
use crate::node::Node;
use crate::state::AppState;

/// The enterprise app, as listed in `apps::ALL`.
pub struct Enterprise;

impl App for Enterprise {
    fn router(&self) -> Router<AppState> {
        Router::new()
            .route("/api/v1/subsidies", post(http::put_subsidy))
            .route("/api/v1/subsidies/{uuid}", get(http::get_subsidy))
            .route("/api/v1/catalogs", post(http::put_catalog))
            .route(
                "/api/v1/enterprise-customers/{uuid}/learners",
                put(http::put_learners),
            )
            .route(
                "/api/v1/enterprise-customers/{uuid}/learners/{lms_user_id}",
                delete(http::remove_learner),
            )
            .route(
                "/api/v1/enterprise-customers/{uuid}/groups",
                put(http::put_groups),
            )
            .route("/api/v1/transactions/{uuid}/reverse", post(http::reverse))
            .route(
                "/api/v1/subsidy-access-policies/",
                get(http::list_policies).post(http::create_policy),
            )
            .route(
                "/api/v1/subsidy-access-policies/{uuid}/",
                get(http::get_policy)
                    .patch(http::update_policy)
                    .delete(http::retire_policy),
            )
            .route(
                "/api/v1/policy-redemption/credits_available/",
                get(http::credits_available),
            )
            .route(
                "/api/v1/policy-redemption/enterprise-customer/{uuid}/can-redeem/",
                get(http::can_redeem),
            )
            .route(
                "/api/v1/policy-redemption/{uuid}/redeem/",
                post(http::redeem),
            )
            .route(
                "/api/v1/policy-allocation/{uuid}/allocate/",
                post(http::allocate),
            )
            .route(
                "/api/v1/assignment-configurations/{uuid}/admin/assignments/",
                get(http::list_assignments),
            )
            .route(
                "/api/v1/assignment-configurations/{uuid}/assignments/",
                get(http::my_assignments),
            )
            .route(
                "/api/v1/assignment-configurations/{uuid}/admin/assignments/cancel/",
                post(http::cancel_assignments),
            )
            .route(
                "/api/v1/learner-credit-requests/",
                get(http::list_requests).post(http::create_request),
            )
            .route(
                "/api/v1/learner-credit-requests/approve/",
                post(http::approve_request),
            )
            .route(
                "/api/v1/learner-credit-requests/decline/",
                post(http::decline_request),
            )
            .route(
                "/api/v1/learner-credit-requests/cancel/",
                post(http::cancel_request),
            )
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        EnterpriseApi::openapi()
    }

    /// Expires assignments whose time has come and settles redemptions left pending, every
    /// `assignments::EXPIRY_INTERVAL`.
    fn background(&self, node: &Node) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
        Some(Box::pin(assignments::expire_periodically(node.clone())))
    }

    fn commands(&self, cli: clap::Command) -> clap::Command {
        cli::EnterpriseCommand::augment_subcommands(cli)
    }

    fn run<'a>(&'a self, cx: CliContext<'a>, matches: &ArgMatches) -> Option<CliFuture<'a>> {
        let command = chosen::<cli::EnterpriseCommand>(matches)?;
        Some(Box::pin(cli::run(cx, command)))
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(
        http::put_subsidy, http::get_subsidy, http::put_catalog, http::put_learners, http::remove_learner, http::put_groups, http::reverse,
        http::list_policies, http::create_policy, http::get_policy, http::update_policy, http::retire_policy,
        http::credits_available, http::can_redeem, http::redeem,
        http::allocate, http::list_assignments,
        http::my_assignments, http::cancel_assignments,
        http::list_requests, http::create_request, http::approve_request, http::decline_request, http::cancel_request,
    ),
    components(schemas(
        imports::SubsidyInput, imports::SubsidyView, imports::CatalogInput, imports::ContentInput,
        imports::CatalogView, imports::LearnersInput, imports::LearnerInput, imports::LearnersSaved,
        imports::TransactionView, imports::Ledger, groups::GroupsInput, groups::GroupInput, groups::GroupsSaved,
        policies::PolicyType, policies::PolicyInput, policies::PolicyPatch, policies::PolicyView, policies::PolicyPage,
        redeem::RedeemInput, eligibility::CanRedeem, eligibility::ListPrice, eligibility::ReasonView, eligibility::CreditAvailable,
        assignments::AllocateInput, assignments::Allocated, assignments::AssignmentView, assignments::CancelInput,
        assignments::AssignmentList,
        requests::RequestInput, requests::ReviewInput, requests::RequestView, requests::RequestList,
        service::UuidKey, service::ContentKey, service::Title, service::Text,
        service::EmailKey, service::LearnerName, policies::AccessMethod,
    )),
    tags((name = "enterprise", description = "enterprise learner credit, in enterprise-access's shapes"))
)]
struct EnterpriseApi;
