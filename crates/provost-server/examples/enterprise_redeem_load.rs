//! Redeems on one policy from 32 concurrent clients: throughput, and how many answered 429.
//!
//! `PROVOST_TEST_BACKEND=postgres cargo run -p provost-server --example enterprise_redeem_load`
//! (SQLite without the variable). `REDEEMS` (default 4000) distinct learners redeem once each,
//! `CLIENTS` (default 32) at a time, through a real server on loopback. Not a test: it reports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use provost_server::TokenSpec;
use provost_testkit::server::start;
use serde_json::json;

const CUSTOMER: &str = "dddddddd-0000-4000-8000-000000000004";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let redeems = env_number("REDEEMS", 4000);
    let clients = env_number("CLIENTS", 32);
    let server = Arc::new(start().await);
    let operator = server.token_with(TokenSpec {
        username: "olga".into(),
        roles: vec!["enterprise_openedx_operator:*".into()],
        ttl: Duration::from_secs(3600),
        ..TokenSpec::default()
    });
    let op = server.with_token(&operator);
    let subsidy = op
        .post(
            "/api/v1/subsidies",
            json!({ "enterprise_customer_uuid": CUSTOMER, "title": "load",
            "starting_balance_cents": 1_000_000_000, "active_datetime": "2020-01-01T00:00:00Z",
            "expiration_datetime": "2099-01-01T00:00:00Z" }),
        )
        .await
        .expect_status(201);
    let catalog = op
        .post(
            "/api/v1/catalogs",
            json!({ "enterprise_customer_uuid": CUSTOMER, "title": "load",
            "content": [{ "content_key": "edX+Load", "price_cents": 1000 }] }),
        )
        .await
        .expect_status(201);
    for chunk in (1..=redeems).collect::<Vec<_>>().chunks(500) {
        let learners: Vec<_> = chunk
            .iter()
            .map(|i| json!({ "username": format!("l{i}"), "lms_user_id": i, "email": format!("l{i}@example.com") }))
            .collect();
        op.put(
            &format!("/api/v1/enterprise-customers/{CUSTOMER}/learners"),
            json!({ "learners": learners }),
        )
        .await
        .ok();
    }
    let policy = op
        .post("/api/v1/subsidy-access-policies/", json!({ "policy_type": "PerLearnerEnrollmentCreditAccessPolicy",
            "enterprise_customer_uuid": CUSTOMER, "catalog_uuid": catalog.body["uuid"], "subsidy_uuid": subsidy.body["uuid"],
            "spend_limit": 1_000_000_000, "per_learner_enrollment_limit": 1, "active": true }))
        .await
        .expect_status(201);
    let path = format!(
        "/api/v1/policy-redemption/{}/redeem/",
        policy.body["uuid"].as_str().expect("uuid")
    );
    let tokens: Vec<String> = (1..=redeems)
        .map(|i| {
            server.token_with(TokenSpec {
                username: format!("l{i}"),
                roles: vec![format!("enterprise_learner:{CUSTOMER}")],
                ttl: Duration::from_secs(3600),
                ..TokenSpec::default()
            })
        })
        .collect();
    let tokens = Arc::new(tokens);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let began = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (server, tokens, next, path) =
            (server.clone(), tokens.clone(), next.clone(), path.clone());
        workers.spawn(async move {
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= tokens.len() {
                    return statuses;
                }
                let answer = server
                    .with_token(&tokens[i])
                    .post(
                        &path,
                        json!({ "lms_user_id": i + 1, "content_key": "edX+Load" }),
                    )
                    .await;
                *statuses.entry(answer.status.as_u16()).or_default() += 1;
            }
        });
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    while let Some(done) = workers.join_next().await {
        for (status, n) in done.expect("worker") {
            *statuses.entry(status).or_default() += n;
        }
    }
    let elapsed = began.elapsed();
    let backend = std::env::var("PROVOST_TEST_BACKEND").unwrap_or_else(|_| "sqlite".into());
    println!(
        "{backend}: {redeems} redeems of distinct learners on one policy, {clients} clients: {:.2}s, {:.0} redeems/s, answers {statuses:?} (429: {})",
        elapsed.as_secs_f64(),
        redeems as f64 / elapsed.as_secs_f64(),
        statuses.get(&429).copied().unwrap_or(0)
    );
    let began = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (node, next) = (server.node.clone(), next.clone());
        writers.spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < redeems {
                node.write("load", |tx| {
                    Box::pin(async move {
                        let entry = provost_store::AppAudit {
                            app: "load".into(),
                            operation: "probe".into(),
                            ..provost_store::AppAudit::default()
                        };
                        tx.audit(entry).await?;
                        Ok(())
                    })
                })
                .await
                .expect("a bare write");
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.expect("writer");
    }
    println!(
        "{backend}: {redeems} bare store writes (one audit row each), {clients} tasks: {:.0} writes/s",
        redeems as f64 / began.elapsed().as_secs_f64()
    );
}
