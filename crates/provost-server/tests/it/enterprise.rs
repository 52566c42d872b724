//! The enterprise app end to end: roles from tokens and assignments, the stand-ins, subsidy access
//! policies, redemption (every reason, retries, never overspending under concurrency), content
//! assignments and learner credit requests.

use std::sync::Arc;
use std::time::Duration;

use provost_server::access::Actor;
use provost_server::apps::enterprise::assignments;
use provost_server::TokenSpec;
use serde_json::{json, Value};

use crate::support::{enc, start, Answer, TestServer};

pub(crate) const A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
pub(crate) const B: &str = "bbbbbbbb-0000-4000-8000-000000000002";
pub(crate) const COURSE: &str = "edX+DemoX";
pub(crate) const CHEAP: &str = "edX+Cheap";
pub(crate) const LATE: &str = "edX+Late";

/// A token with `roles` claim entries.
pub(crate) fn with_roles(server: &TestServer, user: &str, roles: &[&str]) -> String {
    server.token_with(TokenSpec {
        username: user.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        ttl: Duration::from_secs(600),
        ..TokenSpec::default()
    })
}

pub(crate) fn operator(server: &TestServer) -> String {
    with_roles(server, "olga", &["enterprise_openedx_operator:*"])
}

pub(crate) fn learner(server: &TestServer, user: &str, customer: &str) -> String {
    with_roles(server, user, &[&format!("enterprise_learner:{customer}")])
}

pub(crate) fn admin_of(server: &TestServer, user: &str, customer: &str) -> String {
    with_roles(server, user, &[&format!("enterprise_admin:{customer}")])
}

/// A customer's subsidy and catalog, as the stand-ins hold them.
pub(crate) struct Customer {
    pub(crate) uuid: &'static str,
    pub(crate) subsidy: String,
    pub(crate) catalog: String,
}

pub(crate) async fn subsidy(
    server: &TestServer,
    customer: &str,
    cents: i64,
    from: &str,
    until: &str,
) -> String {
    let answer = server
        .post(
            "/api/v1/subsidies",
            &operator(server),
            json!({ "enterprise_customer_uuid": customer, "title": "Learner credit",
                    "starting_balance_cents": cents, "active_datetime": from, "expiration_datetime": until }),
        )
        .await
        .expect_status(201);
    answer.body["uuid"].as_str().expect("uuid").to_owned()
}

/// A customer with a subsidy of `cents`, a catalog (COURSE 10 000, CHEAP 1 000, LATE past its
/// enroll-by date) and learners ada (1), bob (2) and cy (3).
pub(crate) async fn customer(server: &TestServer, uuid: &'static str, cents: i64) -> Customer {
    let op = operator(server);
    let subsidy = subsidy(
        server,
        uuid,
        cents,
        "2020-01-01T00:00:00Z",
        "2099-01-01T00:00:00Z",
    )
    .await;
    let catalog = server
        .post(
            "/api/v1/catalogs",
            &op,
            json!({ "enterprise_customer_uuid": uuid, "title": "All", "content": [
                { "content_key": COURSE, "price_cents": 10000 },
                { "content_key": CHEAP, "price_cents": 1000 },
                { "content_key": LATE, "price_cents": 1000, "enroll_by": "2021-01-01T00:00:00Z" },
            ] }),
        )
        .await
        .expect_status(201);
    let learners: Vec<Value> = [("ada", 1), ("bob", 2), ("cy", 3)]
        .iter()
        .map(|(name, id)| json!({ "username": name, "lms_user_id": id, "email": format!("{name}@example.com") }))
        .collect();
    server
        .with_token(&op)
        .put(
            &format!("/api/v1/enterprise-customers/{uuid}/learners"),
            json!({ "learners": learners }),
        )
        .await
        .ok();
    Customer {
        uuid,
        subsidy,
        catalog: catalog.body["uuid"].as_str().expect("uuid").to_owned(),
    }
}

/// Creates a policy as the operator with `extra` fields; returns its uuid.
pub(crate) async fn policy(server: &TestServer, c: &Customer, kind: &str, extra: Value) -> String {
    let mut body = json!({ "policy_type": kind, "enterprise_customer_uuid": c.uuid, "description": "d",
                           "catalog_uuid": c.catalog, "subsidy_uuid": c.subsidy, "active": true });
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    let answer = server
        .post("/api/v1/subsidy-access-policies/", &operator(server), body)
        .await
        .expect_status(201);
    answer.body["uuid"].as_str().expect("uuid").to_owned()
}

pub(crate) async fn redeem(
    server: &TestServer,
    token: &str,
    policy: &str,
    user_id: i64,
    content: &str,
) -> Answer {
    server
        .post(
            &format!("/api/v1/policy-redemption/{policy}/redeem/"),
            token,
            json!({ "lms_user_id": user_id, "content_key": content }),
        )
        .await
}

/// The reason a redeem was refused with.
#[track_caller]
pub(crate) fn reason(answer: Answer) -> String {
    let answer = answer.expect(422, "not_redeemable");
    answer.body["error"]["details"]["reasons"][0]["reason"]
        .as_str()
        .expect("reason")
        .to_owned()
}

pub(crate) async fn ledger(server: &TestServer, subsidy: &str) -> Value {
    server
        .get(&format!("/api/v1/subsidies/{subsidy}"), &operator(server))
        .await
        .ok()
        .body
}

/// Nothing was paid through `policy`: the customer's subsidy has no ledger entry at all (not even
/// a failed one), still holds `balance`, and the policy has redeemed nothing.
#[track_caller]
pub(crate) fn assert_nothing_paid<'a>(
    server: &'a TestServer,
    c: &'a Customer,
    policy: &'a str,
    balance: i64,
) -> impl std::future::Future<Output = ()> + 'a {
    let caller = std::panic::Location::caller();
    async move {
        let book = ledger(server, &c.subsidy).await;
        assert_eq!(
            book["transactions"],
            json!([]),
            "a ledger entry (called at {caller})"
        );
        assert_eq!(
            book["subsidy"]["current_balance_cents"].as_i64(),
            Some(balance),
            "the subsidy's balance (called at {caller})"
        );
        let now = server
            .get(
                &format!("/api/v1/subsidy-access-policies/{policy}/"),
                &operator(server),
            )
            .await
            .ok();
        assert_eq!(
            now.body["total_redeemed"], 0,
            "the policy's spend (called at {caller})"
        );
    }
}

pub(crate) const ENROLL: &str = "PerLearnerEnrollmentCreditAccessPolicy";
pub(crate) const SPEND: &str = "PerLearnerSpendCreditAccessPolicy";
pub(crate) const ASSIGNED: &str = "AssignedLearnerCreditAccessPolicy";

#[tokio::test]
async fn a_jwt_role_and_a_stored_assignment_grant_the_same() {
    let server = start().await;
    let a = customer(&server, A, 1_000_000).await;
    let p = policy(
        &server,
        &a,
        ENROLL,
        json!({ "spend_limit": 100000, "per_learner_enrollment_limit": 5 }),
    )
    .await;
    server.assign(json!([{ "subject": "bob", "role": "enterprise_learner", "scope": format!("enterprise:{A}") }])).await;
    let by_token = learner(&server, "ada", A);
    let by_assignment = server.token("bob");
    for (token, id) in [(&by_token, 1), (&by_assignment, 2)] {
        let list = server
            .get(
                &format!("/api/v1/subsidy-access-policies/?enterprise_customer_uuid={A}"),
                token,
            )
            .await
            .ok();
        assert_eq!(list.body["count"], 1);
        redeem(&server, token, &p, id, CHEAP).await.ok();
        server
            .get(
                &format!("/api/v1/subsidy-access-policies/?enterprise_customer_uuid={B}"),
                token,
            )
            .await
            .expect(403, "forbidden");
    }
    // Nobody else: a plain user, or a learner redeeming for someone else.
    server
        .get(
            &format!("/api/v1/subsidy-access-policies/?enterprise_customer_uuid={A}"),
            &server.token("cy"),
        )
        .await
        .expect(403, "forbidden");
    redeem(&server, &by_token, &p, 2, COURSE)
        .await
        .expect(403, "forbidden");
}

#[tokio::test]
async fn a_learner_of_one_customer_can_neither_read_nor_redeem_at_another() {
    let server = start().await;
    let _a = customer(&server, A, 1_000_000).await;
    let b = customer(&server, B, 1_000_000).await;
    let pb = policy(&server, &b, ENROLL, json!({ "spend_limit": 100000 })).await;
    let ada = learner(&server, "ada", A);
    server
        .get(
            &format!("/api/v1/subsidy-access-policies/?enterprise_customer_uuid={B}"),
            &ada,
        )
        .await
        .expect(403, "forbidden");
    server
        .get(&format!("/api/v1/subsidy-access-policies/{pb}/"), &ada)
        .await
        .expect(403, "forbidden");
    redeem(&server, &ada, &pb, 1, CHEAP)
        .await
        .expect(403, "forbidden");
    server
        .get(
            &format!(
                "/api/v1/policy-redemption/enterprise-customer/{B}/can-redeem/?content_key={}",
                enc(CHEAP)
            ),
            &ada,
        )
        .await
        .expect(403, "forbidden");
    server
        .get(
            &format!("/api/v1/policy-redemption/credits_available/?enterprise_customer_uuid={B}"),
            &ada,
        )
        .await
        .expect(403, "forbidden");
    server
        .get(
            &format!("/api/v1/subsidies/{}", b.subsidy),
            &admin_of(&server, "ann", A),
        )
        .await
        .expect(403, "forbidden");
    assert_nothing_paid(&server, &b, &pb, 1_000_000).await;
}

#[tokio::test]
async fn operators_write_policies_admins_do_not() {
    let server = start().await;
    let a = customer(&server, A, 1_000_000).await;
    let body = json!({ "policy_type": ENROLL, "enterprise_customer_uuid": A, "catalog_uuid": a.catalog, "subsidy_uuid": a.subsidy, "spend_limit": 1000 });
    server
        .post(
            "/api/v1/subsidy-access-policies/",
            &admin_of(&server, "ann", A),
            body.clone(),
        )
        .await
        .expect(403, "forbidden");
    server.post("/api/v1/subsidies", &admin_of(&server, "ann", A), json!({ "enterprise_customer_uuid": A, "title": "t", "starting_balance_cents": 1, "active_datetime": "2020-01-01T00:00:00Z", "expiration_datetime": "2030-01-01T00:00:00Z" })).await.expect(403, "forbidden");
    let created = server
        .post(
            "/api/v1/subsidy-access-policies/",
            &operator(&server),
            body.clone(),
        )
        .await
        .expect_status(201);
    assert_eq!(
        created.body["active"], false,
        "a new policy is inactive by default"
    );
    assert_eq!(created.body["priority"], 1);
    // An operator of one customer only cannot write at another.
    let op_a = with_roles(
        &server,
        "otto",
        &[&format!("enterprise_openedx_operator:{A}")],
    );
    let mut at_b = body.clone();
    at_b["enterprise_customer_uuid"] = json!(B);
    server
        .post("/api/v1/subsidy-access-policies/", &op_a, at_b)
        .await
        .expect(403, "forbidden");
    // Provisioning admins load the stand-ins.
    let prov = with_roles(&server, "pat", &["enterprise_provisioning_admin:*"]);
    server.post("/api/v1/subsidies", &prov, json!({ "enterprise_customer_uuid": B, "title": "t", "starting_balance_cents": 1, "active_datetime": "2020-01-01T00:00:00Z", "expiration_datetime": "2030-01-01T00:00:00Z" })).await.expect_status(201);
}

#[tokio::test]
async fn policy_types_limits_and_lifecycle() {
    let server = start().await;
    let a = customer(&server, A, 100_000).await;
    let op = operator(&server);
    let base = json!({ "enterprise_customer_uuid": A, "catalog_uuid": a.catalog, "subsidy_uuid": a.subsidy, "active": true, "description": "x" });
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        b
    };
    let refuse = [
        json!({ "policy_type": ASSIGNED }),
        json!({ "policy_type": ASSIGNED, "spend_limit": 10, "per_learner_spend_limit": 5 }),
        json!({ "policy_type": ASSIGNED, "spend_limit": 10, "per_learner_enrollment_limit": 5 }),
        json!({ "policy_type": ENROLL, "spend_limit": 10, "per_learner_spend_limit": 5 }),
        json!({ "policy_type": SPEND, "spend_limit": 10, "per_learner_enrollment_limit": 5 }),
        json!({ "policy_type": SPEND, "spend_limit": 10, "access_method": "assigned" }),
    ];
    for extra in refuse {
        server
            .post("/api/v1/subsidy-access-policies/", &op, with(extra.clone()))
            .await
            .expect(422, "policy_constraint");
    }
    let assigned = server
        .post(
            "/api/v1/subsidy-access-policies/",
            &op,
            with(json!({ "policy_type": ASSIGNED, "spend_limit": 60000 })),
        )
        .await
        .expect_status(201);
    assert_eq!(
        (
            assigned.body["priority"].clone(),
            assigned.body["access_method"].clone()
        ),
        (json!(0), json!("assigned"))
    );
    // The deposit is 100 000: 60 000 + 50 000 active is too much; inactive is fine.
    server
        .post(
            "/api/v1/subsidy-access-policies/",
            &op,
            with(json!({ "policy_type": SPEND, "spend_limit": 50000 })),
        )
        .await
        .expect(422, "spend_limit_exceeds_deposits");
    let spend = server.post("/api/v1/subsidy-access-policies/", &op, with(json!({ "policy_type": SPEND, "spend_limit": 40000, "per_learner_spend_limit": 2000 }))).await.expect_status(201);
    let uuid = spend.body["uuid"].as_str().expect("uuid").to_owned();
    // The same again: the identical active policy, not a second one.
    let again = server.post("/api/v1/subsidy-access-policies/", &op, with(json!({ "policy_type": SPEND, "spend_limit": 40000, "per_learner_spend_limit": 2000 }))).await.ok();
    assert_eq!(again.body["uuid"], json!(uuid));
    let path = format!("/api/v1/subsidy-access-policies/{uuid}/");
    server
        .with_token(&op)
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(json!({ "spend_limit": 50000 })),
        )
        .await
        .expect(422, "spend_limit_exceeds_deposits");
    // Spend, then it cannot be deactivated.
    redeem(&server, &learner(&server, "ada", A), &uuid, 1, CHEAP)
        .await
        .ok();
    server
        .with_token(&op)
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(json!({ "active": false })),
        )
        .await
        .expect(422, "policy_has_spend");
    server
        .with_token(&admin_of(&server, "ann", A))
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(json!({ "display_name": "x" })),
        )
        .await
        .expect(403, "forbidden");
    // Retired: gone from the list, still readable, pays for nothing.
    let retired = server.with_token(&op).delete(&path).await.ok();
    assert_eq!(retired.body["retired"], true);
    let list = server
        .get(
            &format!("/api/v1/subsidy-access-policies/?enterprise_customer_uuid={A}"),
            &op,
        )
        .await
        .ok();
    assert_eq!(list.body["count"], 1);
    assert_eq!(
        reason(redeem(&server, &learner(&server, "bob", A), &uuid, 2, CHEAP).await),
        "policy_expired"
    );
}

#[tokio::test]
async fn every_reason_in_enterprise_access_order() {
    let server = start().await;
    let a = customer(&server, A, 1_000_000).await;
    let op = operator(&server);
    let ada = learner(&server, "ada", A);
    let open = policy(
        &server,
        &a,
        ENROLL,
        json!({ "spend_limit": 500000, "per_learner_enrollment_limit": 1 }),
    )
    .await;
    // The first failing check is the reason: an inactive policy is expired, whatever else fails.
    let inactive = policy(
        &server,
        &a,
        SPEND,
        json!({ "spend_limit": 1000, "active": false }),
    )
    .await;
    assert_eq!(
        reason(redeem(&server, &op, &inactive, 999, "nowhere").await),
        "policy_expired"
    );
    assert_eq!(
        reason(redeem(&server, &op, &open, 999, "nowhere").await),
        "learner_not_in_enterprise"
    );
    assert_eq!(
        reason(redeem(&server, &ada, &open, 1, "nowhere").await),
        "content_not_in_catalog"
    );
    assert_eq!(
        reason(redeem(&server, &ada, &open, 1, LATE).await),
        "beyond_enrollment_deadline"
    );
    // Its own subsidies: expired, and too small.
    let old = Customer {
        uuid: A,
        subsidy: subsidy(
            &server,
            A,
            1_000_000,
            "2020-01-01T00:00:00Z",
            "2021-01-01T00:00:00Z",
        )
        .await,
        catalog: a.catalog.clone(),
    };
    let expired = policy(&server, &old, ENROLL, json!({ "spend_limit": 1000 })).await;
    assert_eq!(
        reason(redeem(&server, &ada, &expired, 1, CHEAP).await),
        "subsidy_expired"
    );
    let small = Customer {
        uuid: A,
        subsidy: subsidy(
            &server,
            A,
            500,
            "2020-01-01T00:00:00Z",
            "2099-01-01T00:00:00Z",
        )
        .await,
        catalog: a.catalog.clone(),
    };
    let poor = policy(&server, &small, ENROLL, json!({ "spend_limit": 500 })).await;
    assert_eq!(
        reason(redeem(&server, &ada, &poor, 1, CHEAP).await),
        "not_enough_value_in_subsidy"
    );
    let capped = policy(&server, &a, ENROLL, json!({ "spend_limit": 999 })).await;
    assert_eq!(
        reason(redeem(&server, &ada, &capped, 1, CHEAP).await),
        "policy_spend_limit_reached"
    );
    redeem(&server, &ada, &open, 1, CHEAP).await.ok();
    assert_eq!(
        reason(redeem(&server, &ada, &open, 1, COURSE).await),
        "learner_max_enrollments_reached"
    );
    let per_spend = policy(
        &server,
        &a,
        SPEND,
        json!({ "spend_limit": 100000, "per_learner_spend_limit": 10500 }),
    )
    .await;
    redeem(&server, &ada, &per_spend, 1, COURSE).await.ok();
    assert_eq!(
        reason(redeem(&server, &ada, &per_spend, 1, CHEAP).await),
        "learner_max_spend_reached"
    );
    let assigned = policy(&server, &a, ASSIGNED, json!({ "spend_limit": 100000 })).await;
    assert_eq!(
        reason(redeem(&server, &ada, &assigned, 1, COURSE).await),
        "reason_learner_not_assigned_content"
    );
    // can-redeem groups the reasons in the same order and picks a redeemable policy.
    let answer = server
        .get(
            &format!(
                "/api/v1/policy-redemption/enterprise-customer/{A}/can-redeem/?content_key={}&content_key={}",
                enc(CHEAP),
                enc(COURSE)
            ),
            &learner(&server, "bob", A),
        )
        .await
        .ok();
    let cheap = &answer.body[0];
    assert_eq!(cheap["can_redeem"], true);
    let reasons: Vec<&str> = cheap["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["reason"].as_str().expect("reason"))
        .collect();
    assert_eq!(
        reasons,
        [
            "policy_expired",
            "subsidy_expired",
            "not_enough_value_in_subsidy",
            "policy_spend_limit_reached",
            "reason_learner_not_assigned_content"
        ]
    );
    assert_eq!(cheap["list_price"]["usd_cents"], 1000);
    assert_eq!(answer.body[1]["content_key"], COURSE);
}

/// `can-redeem` reads its content keys as enterprise-access's list field does: one
/// `content_key` parameter per key, answered in that order; a comma is part of a key.
#[tokio::test]
async fn can_redeem_takes_one_content_key_parameter_per_key() {
    let server = start().await;
    let a = customer(&server, A, 50_000).await;
    policy(&server, &a, SPEND, json!({ "spend_limit": 50000 })).await;
    let bob = learner(&server, "bob", A);
    let path = |query: &str| {
        format!("/api/v1/policy-redemption/enterprise-customer/{A}/can-redeem/?{query}")
    };
    let both = server
        .get(
            &path(&format!(
                "content_key={}&content_key={}",
                enc(COURSE),
                enc(CHEAP)
            )),
            &bob,
        )
        .await
        .ok();
    let keys: Vec<&Value> = both
        .body
        .as_array()
        .expect("answers")
        .iter()
        .map(|a| &a["content_key"])
        .collect();
    assert_eq!(keys, [COURSE, CHEAP]);
    assert_eq!(both.body[0]["can_redeem"], true);
    assert_eq!(both.body[1]["can_redeem"], true);
    let comma = server
        .get(
            &path(&format!("content_key={},{}", enc(COURSE), enc(CHEAP))),
            &bob,
        )
        .await
        .ok();
    assert_eq!(comma.body.as_array().map(Vec::len), Some(1));
    assert_eq!(comma.body[0]["can_redeem"], false);
    assert_eq!(
        comma.body[0]["reasons"][0]["reason"],
        "content_not_in_catalog"
    );
    for bad in [
        String::new(),
        "lms_user_id=2".to_owned(),
        format!("content_key={}&lms_user_id=2&lms_user_id=3", enc(CHEAP)),
        format!("content_key={}&lms_user_id=two", enc(CHEAP)),
        format!("content_key={}&content_keys={}", enc(CHEAP), enc(COURSE)),
    ] {
        server
            .get(&path(&bad), &bob)
            .await
            .expect(400, "invalid_query");
    }
    server
        .get(&path("content_key="), &bob)
        .await
        .expect(400, "invalid_content_key");
}

#[tokio::test]
async fn a_retry_returns_the_first_transaction_and_the_ledger_balances() {
    let server = start().await;
    let a = customer(&server, A, 50_000).await;
    let p = policy(&server, &a, SPEND, json!({ "spend_limit": 50000 })).await;
    let ada = learner(&server, "ada", A);
    let first = redeem(&server, &ada, &p, 1, COURSE).await.ok();
    assert_eq!(first.body["state"], "committed");
    let retry = redeem(&server, &ada, &p, 1, COURSE).await.ok();
    assert_eq!(retry.body["uuid"], first.body["uuid"]);
    let book = ledger(&server, &a.subsidy).await;
    assert_eq!(book["transactions"].as_array().expect("list").len(), 1);
    assert_eq!(book["subsidy"]["current_balance_cents"], 40000);
    // A reversal gives the money back; a new attempt is a new transaction with a new key.
    let tx = first.body["uuid"].as_str().expect("uuid");
    server
        .post(
            &format!("/api/v1/transactions/{tx}/reverse"),
            &admin_of(&server, "ann", A),
            json!({}),
        )
        .await
        .expect(403, "forbidden");
    let reversed = server
        .post(
            &format!("/api/v1/transactions/{tx}/reverse"),
            &operator(&server),
            json!({}),
        )
        .await
        .ok();
    assert_eq!(reversed.body["state"], "reversed");
    server
        .post(
            &format!("/api/v1/transactions/{tx}/reverse"),
            &operator(&server),
            json!({}),
        )
        .await
        .expect(422, "invalid_transition");
    assert_eq!(
        ledger(&server, &a.subsidy).await["subsidy"]["current_balance_cents"],
        50000
    );
    let second = redeem(&server, &ada, &p, 1, COURSE).await.ok();
    assert_ne!(second.body["uuid"], first.body["uuid"]);
    assert_ne!(
        second.body["idempotency_key"],
        first.body["idempotency_key"]
    );
    let credits = server
        .get(
            &format!("/api/v1/policy-redemption/credits_available/?enterprise_customer_uuid={A}"),
            &ada,
        )
        .await
        .ok();
    assert_eq!(credits.body[0]["remaining_balance"], 40000);
    // Every change has its actor in the log.
    let text = audit_text(&server, None).await;
    assert!(
        text.contains("transaction_reverse")
            && text.contains("olga")
            && text.contains("\"redeem\""),
        "{text}"
    );
}

#[tokio::test]
async fn assignments_move_exactly_as_enterprise_access_allows() {
    let server = start().await;
    let a = customer(&server, A, 100_000).await;
    let p = policy(&server, &a, ASSIGNED, json!({ "spend_limit": 25000 })).await;
    let ann = admin_of(&server, "ann", A);
    let allocate = |emails: Value, price: i64| {
        let server = &server;
        let ann = ann.clone();
        let p = p.clone();
        async move {
            server.post(&format!("/api/v1/policy-allocation/{p}/allocate/"), &ann, json!({ "learner_emails": emails, "content_key": COURSE, "content_price_cents": price })).await
        }
    };
    allocate(json!(["ada@example.com"]), 10600)
        .await
        .expect(422, "price_out_of_range");
    allocate(json!(["ada@example.com"]), 9400)
        .await
        .expect(422, "price_out_of_range");
    allocate(
        json!(["ada@example.com", "bob@example.com", "cy@example.com"]),
        10000,
    )
    .await
    .expect(422, "not_enough_value");
    let made = allocate(json!(["ada@example.com", "bob@example.com"]), 10500)
        .await
        .expect_status(202);
    assert_eq!(made.body["created"].as_array().expect("list").len(), 2);
    let again = allocate(json!(["ada@example.com"]), 10000)
        .await
        .expect_status(202);
    assert_eq!(again.body["no_change"].as_array().expect("list").len(), 1);
    // A learner of the customer may not allocate, nor another customer's admin.
    server.post(&format!("/api/v1/policy-allocation/{p}/allocate/"), &learner(&server, "ada", A), json!({ "learner_emails": ["x@example.com"], "content_key": COURSE, "content_price_cents": 10000 })).await.expect(403, "forbidden");
    server.post(&format!("/api/v1/policy-allocation/{p}/allocate/"), &admin_of(&server, "bea", B), json!({ "learner_emails": ["x@example.com"], "content_key": COURSE, "content_price_cents": 10000 })).await.expect(403, "forbidden");
    let uuid_of = |body: &Value, email: &str| {
        body["created"]
            .as_array()
            .expect("list")
            .iter()
            .find(|a| a["learner_email"] == email)
            .map(|a| a["uuid"].as_str().expect("uuid").to_owned())
            .expect("assignment")
    };
    let bob = uuid_of(&made.body, "bob@example.com");
    let ada = uuid_of(&made.body, "ada@example.com");
    let cancel = |uuid: String| {
        let server = &server;
        let ann = ann.clone();
        let p = p.clone();
        async move {
            server
                .post(
                    &format!("/api/v1/assignment-configurations/{p}/admin/assignments/cancel/"),
                    &ann,
                    json!({ "assignment_uuids": [uuid] }),
                )
                .await
        }
    };
    assert_eq!(
        cancel(bob.clone()).await.ok().body["results"][0]["state"],
        "cancelled"
    );
    cancel(bob.clone()).await.expect(422, "invalid_transition");
    assert_eq!(
        reason(redeem(&server, &learner(&server, "bob", A), &p, 2, COURSE).await),
        "reason_learner_assignment_cancelled"
    );
    let updated = allocate(json!(["bob@example.com"]), 10000)
        .await
        .expect_status(202);
    assert_eq!(updated.body["updated"][0]["state"], "allocated");
    // Redeeming accepts; an accepted one is neither cancelled nor expired.
    let tx = redeem(&server, &learner(&server, "ada", A), &p, 1, COURSE)
        .await
        .ok();
    assert_eq!(tx.body["quantity_cents"], 10500);
    cancel(ada.clone()).await.expect(422, "invalid_transition");
    let far = provost_server::access::now() + 91 * 24 * 3600;
    let expired = assignments::expire(&server.node, &Actor::operator(), far)
        .await
        .expect("expire");
    assert_eq!(expired.len(), 1, "only bob's allocated one expires");
    assert_eq!(
        reason(redeem(&server, &learner(&server, "bob", A), &p, 2, COURSE).await),
        "reason_learner_assignment_expired"
    );
    // Reversing the redemption reverses the assignment.
    let t = tx.body["uuid"].as_str().expect("uuid");
    server
        .post(
            &format!("/api/v1/transactions/{t}/reverse"),
            &operator(&server),
            json!({}),
        )
        .await
        .ok();
    assert_eq!(
        reason(redeem(&server, &learner(&server, "ada", A), &p, 1, COURSE).await),
        "reason_learner_assignment_reversed"
    );
    let list = server
        .get(
            &format!("/api/v1/assignment-configurations/{p}/admin/assignments/"),
            &ann,
        )
        .await
        .ok();
    let states: Vec<&str> = list.body["results"]
        .as_array()
        .expect("list")
        .iter()
        .map(|a| a["state"].as_str().expect("state"))
        .collect();
    assert_eq!(states.len(), 2);
    assert!(
        states.contains(&"reversed") && states.contains(&"expired"),
        "{states:?}"
    );
    // A learner sees their own assignments only, and not through another customer's role.
    let own = server
        .get(
            &format!("/api/v1/assignment-configurations/{p}/assignments/"),
            &learner(&server, "ada", A),
        )
        .await
        .ok();
    assert_eq!(own.body["count"], 1);
    assert_eq!(own.body["results"][0]["learner_email"], "ada@example.com");
    server
        .get(
            &format!("/api/v1/assignment-configurations/{p}/assignments/"),
            &learner(&server, "ada", B),
        )
        .await
        .expect(403, "forbidden");
    let policy_now = server
        .get(&format!("/api/v1/subsidy-access-policies/{p}/"), &ann)
        .await
        .ok();
    assert_eq!(
        (
            policy_now.body["total_allocated"].clone(),
            policy_now.body["total_redeemed"].clone()
        ),
        (json!(0), json!(0))
    );
    server
        .get(
            &format!("/api/v1/assignment-configurations/{p}/admin/assignments/"),
            &learner(&server, "ada", A),
        )
        .await
        .expect(403, "forbidden");
}

#[tokio::test]
async fn credit_requests_approve_decline_cancel_and_request_again() {
    let server = start().await;
    let a = customer(&server, A, 100_000).await;
    let p = policy(&server, &a, ASSIGNED, json!({ "spend_limit": 50000 })).await;
    let ada = learner(&server, "ada", A);
    let ann = admin_of(&server, "ann", A);
    let ask = json!({ "enterprise_customer_uuid": A, "policy_uuid": p, "course_id": COURSE });
    let first = server
        .post("/api/v1/learner-credit-requests/", &ada, ask.clone())
        .await
        .expect_status(201);
    let id = first.body["uuid"].as_str().expect("uuid").to_owned();
    server
        .post("/api/v1/learner-credit-requests/", &ada, ask.clone())
        .await
        .expect(422, "request_exists");
    let review = |uuid: &str| json!({ "enterprise_customer_uuid": A, "learner_credit_request_uuid": uuid, "decline_reason": "no budget" });
    server
        .post(
            "/api/v1/learner-credit-requests/approve/",
            &ada,
            review(&id),
        )
        .await
        .expect(403, "forbidden");
    server
        .post(
            "/api/v1/learner-credit-requests/decline/",
            &admin_of(&server, "bea", B),
            json!({ "enterprise_customer_uuid": B, "learner_credit_request_uuid": id }),
        )
        .await
        .expect(404, "not_found");
    let declined = server
        .post(
            "/api/v1/learner-credit-requests/decline/",
            &ann,
            review(&id),
        )
        .await
        .ok();
    assert_eq!(
        (
            declined.body["state"].clone(),
            declined.body["reviewer"].clone(),
            declined.body["decline_reason"].clone()
        ),
        (json!("declined"), json!("ann"), json!("no budget"))
    );
    assert!(declined.body["reviewed_at"].is_string());
    // A declined request does not block a new one; a cancelled one is reused.
    let second = server
        .post("/api/v1/learner-credit-requests/", &ada, ask.clone())
        .await
        .expect_status(201);
    let id2 = second.body["uuid"].as_str().expect("uuid").to_owned();
    assert_ne!(id2, id);
    server
        .post(
            "/api/v1/learner-credit-requests/cancel/",
            &learner(&server, "bob", A),
            review(&id2),
        )
        .await
        .expect(404, "not_found");
    assert_eq!(
        server
            .post(
                "/api/v1/learner-credit-requests/cancel/",
                &ada,
                review(&id2)
            )
            .await
            .ok()
            .body["state"],
        "cancelled"
    );
    let third = server
        .post("/api/v1/learner-credit-requests/", &ada, ask.clone())
        .await
        .ok();
    assert_eq!(
        third.body["uuid"],
        json!(id2),
        "the cancelled request is reused"
    );
    let approved = server
        .post(
            "/api/v1/learner-credit-requests/approve/",
            &ann,
            review(&id2),
        )
        .await
        .ok();
    assert_eq!(approved.body["state"], "approved");
    assert!(approved.body["assignment"].is_string());
    server
        .post(
            "/api/v1/learner-credit-requests/decline/",
            &ann,
            review(&id2),
        )
        .await
        .expect(422, "invalid_transition");
    // Redeeming the assignment accepts the request too.
    redeem(&server, &ada, &p, 1, COURSE).await.ok();
    let mine = server
        .get(
            &format!("/api/v1/learner-credit-requests/?enterprise_customer_uuid={A}"),
            &ada,
        )
        .await
        .ok();
    let states: Vec<(&str, &str)> = mine.body["results"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| {
            (
                r["uuid"].as_str().expect("u"),
                r["state"].as_str().expect("s"),
            )
        })
        .collect();
    assert!(states.contains(&(id2.as_str(), "accepted")), "{states:?}");
    server
        .post("/api/v1/learner-credit-requests/", &ada, ask)
        .await
        .expect(422, "request_exists");
}

/// 1 000 redeems at once: 400 learners, one policy with room for 300 of them, and every learner
/// retrying with the same key. Nothing passes a limit, retries create nothing, the ledger adds up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_parallel_redeems_never_overspend() {
    let server = Arc::new(start().await);
    let a = customer(&server, A, 1_000_000).await;
    let op = operator(&server);
    let learners: Vec<Value> = (1..=400).map(|i| json!({ "username": format!("l{i}"), "lms_user_id": 1000 + i, "email": format!("l{i}@example.com") })).collect();
    server
        .with_token(&op)
        .put(
            &format!("/api/v1/enterprise-customers/{A}/learners"),
            json!({ "learners": learners }),
        )
        .await
        .ok();
    // 300 000 of spend for 1 000-cent content: room for exactly 300 learners, two each at most.
    let p = policy(
        &server,
        &a,
        SPEND,
        json!({ "spend_limit": 300_000, "per_learner_spend_limit": 1000 }),
    )
    .await;
    let limit = Arc::new(tokio::sync::Semaphore::new(64));
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..1000 {
        let i = n % 400 + 1;
        let (server, limit, p) = (server.clone(), limit.clone(), p.clone());
        let token = with_roles(
            &server,
            &format!("l{i}"),
            &[&format!("enterprise_learner:{A}")],
        );
        calls.spawn(async move {
            let _slot = limit.acquire().await.expect("semaphore");
            let answer = redeem(&server, &token, &p, 1000 + i, CHEAP).await;
            (
                i,
                answer.status.as_u16(),
                answer.body["uuid"].as_str().map(str::to_owned),
            )
        });
    }
    let mut firsts: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    let mut statuses = std::collections::BTreeMap::new();
    while let Some(done) = calls.join_next().await {
        let (i, status, uuid) = done.expect("task");
        *statuses.entry(status).or_insert(0) += 1;
        if let Some(uuid) = uuid {
            let first = firsts.entry(i).or_insert_with(|| uuid.clone());
            assert_eq!(
                *first, uuid,
                "a retry of learner {i} made a second transaction"
            );
        }
    }
    eprintln!("redeem answers by status: {statuses:?}");
    let unexpected: Vec<_> = statuses
        .keys()
        .filter(|s| !matches!(**s, 200 | 422 | 429))
        .collect();
    assert!(unexpected.is_empty(), "{statuses:?}");
    let book = ledger(&server, &a.subsidy).await;
    let committed: Vec<&Value> = book["transactions"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|t| t["state"] == "committed")
        .collect();
    let total: i64 = committed
        .iter()
        .map(|t| t["quantity_cents"].as_i64().expect("cents"))
        .sum();
    eprintln!("committed {} transactions, {total} cents", committed.len());
    assert!(total <= 300_000, "spent {total}");
    assert_eq!(
        committed.len(),
        firsts.len(),
        "every 200 is one committed transaction"
    );
    assert_eq!(
        book["subsidy"]["current_balance_cents"].as_i64(),
        Some(1_000_000 - total)
    );
    let mut per_learner = std::collections::HashSet::new();
    assert!(
        committed
            .iter()
            .all(|t| per_learner.insert(t["lms_user_id"].as_i64())),
        "a learner was paid twice"
    );
    let policy_now = server
        .get(&format!("/api/v1/subsidy-access-policies/{p}/"), &op)
        .await
        .ok();
    assert_eq!(policy_now.body["total_redeemed"].as_i64(), Some(total));
    if !statuses.contains_key(&429) {
        assert_eq!(
            total, 300_000,
            "with no busy answers the policy fills up exactly"
        );
    }
}

/// The limits live in the database: the guarded debit refuses past a limit on its own, and the
/// tables' CHECKs refuse a plain UPDATE that would overspend, whatever the code above them does.
#[tokio::test]
async fn the_database_itself_refuses_an_overspend() {
    use provost_store::enterprise::{self as rows, Debit, Exceeded};
    use provost_store::Conn;

    let server = start().await;
    let a = customer(&server, A, 1_500).await;
    let p = policy(&server, &a, SPEND, json!({ "spend_limit": 1500 })).await;
    let now = provost_server::access::now();
    let debit = |amount| Debit {
        now,
        subsidy: &a.subsidy,
        policy: &p,
        lms_user_id: 1,
        amount,
        from_allocation: 0,
        learner_spend_limit: None,
        learner_enrollment_limit: None,
    };
    let (first, second) = (debit(1000), debit(1000));
    let outcomes = server
        .node
        .write("test", |tx| {
            Box::pin(async move {
                let one = rows::debit(&mut *tx, &first).await?;
                let two = rows::debit(&mut *tx, &second).await?;
                Ok::<_, provost_server::Error>((one, two))
            })
        })
        .await
        .expect("write")
        .value;
    // The subsidy's guard comes first: 1 000 of 1 500 spent, 1 000 more does not fit.
    assert_eq!(outcomes, (None, Some(Exceeded::Subsidy)));
    let sql = "UPDATE enterprise_policies SET spent_cents = spent_cents + 1000 WHERE uuid = $1";
    let p2 = p.clone();
    let raw = server
        .node
        .write("test", |tx| {
            Box::pin(async move {
                match tx.conn() {
                    Conn::Sqlite(c) => sqlx::query(sql).bind(&p2).execute(c).await.map(|_| ()),
                    Conn::Postgres(c) => sqlx::query(sql).bind(&p2).execute(c).await.map(|_| ()),
                }
                .map_err(|e| provost_server::Error::internal(e.to_string()))
            })
        })
        .await;
    assert!(raw.is_err(), "a CHECK refuses spend beyond the limit");
    let now = server
        .get(
            &format!("/api/v1/subsidy-access-policies/{p}/"),
            &operator(&server),
        )
        .await
        .ok();
    assert_eq!(
        now.body["total_redeemed"], 1000,
        "the refused write left nothing behind"
    );
}

#[tokio::test]
async fn credits_and_can_redeem_are_the_learners_own_unless_an_operator_asks() {
    let server = start().await;
    let a = customer(&server, A, 100_000).await;
    let spend = policy(
        &server,
        &a,
        SPEND,
        json!({ "spend_limit": 50000, "per_learner_spend_limit": 1500 }),
    )
    .await;
    let ada = learner(&server, "ada", A);
    let credits = |token: String, query: String| {
        let server = &server;
        async move {
            server.get(&format!("/api/v1/policy-redemption/credits_available/?enterprise_customer_uuid={A}{query}"), &token).await
        }
    };
    let mine = credits(ada.clone(), String::new()).await.ok();
    assert_eq!(
        (
            mine.body[0]["uuid"].clone(),
            mine.body[0]["remaining_balance_per_user"].clone()
        ),
        (json!(spend), json!(1500))
    );
    redeem(&server, &ada, &spend, 1, CHEAP).await.ok();
    assert_eq!(
        credits(ada.clone(), String::new()).await.ok().body[0]["remaining_balance_per_user"],
        500
    );
    // Another learner's credit and redeemability: operators only.
    credits(ada.clone(), "&lms_user_id=2".into())
        .await
        .expect(403, "forbidden");
    let bobs = credits(operator(&server), "&lms_user_id=2".into())
        .await
        .ok();
    assert_eq!(bobs.body[0]["remaining_balance_per_user"], 1500);
    let path = format!("/api/v1/policy-redemption/enterprise-customer/{A}/can-redeem/?content_key={}&lms_user_id=1", enc(CHEAP));
    server
        .get(&path, &learner(&server, "bob", A))
        .await
        .expect(403, "forbidden");
    let for_ada = server.get(&path, &operator(&server)).await.ok();
    assert_eq!(for_ada.body[0]["has_successful_redemption"], true);
    assert_eq!(
        for_ada.body[0]["redemptions"].as_array().map(Vec::len),
        Some(1)
    );
    // Someone without a learner record has no credit.
    assert_eq!(
        credits(learner(&server, "zed", A), String::new())
            .await
            .ok()
            .body,
        json!([])
    );
    // Bad keys are 400, unknown ones 404.
    server
        .get("/api/v1/subsidy-access-policies/not-a-uuid/", &ada)
        .await
        .expect(400, "invalid_uuid");
    server
        .get(&format!("/api/v1/subsidy-access-policies/{B}/"), &ada)
        .await
        .expect(404, "not_found");
}

/// Stored enterprise roles go through the shared grant rule: an admin manages their own
/// customer's team, grants only what they hold, and nothing at another customer.
#[tokio::test]
async fn admins_grant_enterprise_roles_only_within_their_reach() {
    let server = start().await;
    let ann = admin_of(&server, "ann", A);
    let grant = |role: &str, customer: &str| json!({ "assignments": [{ "subject": "dan", "role": role, "scope": format!("enterprise:{customer}") }] });
    server
        .post("/api/v1/assignments", &ann, grant("enterprise_learner", A))
        .await
        .ok();
    server
        .post("/api/v1/assignments", &ann, grant("enterprise_learner", B))
        .await
        .expect(403, "forbidden");
    server
        .post("/api/v1/assignments", &ann, grant("enterprise_operator", A))
        .await
        .expect(403, "forbidden");
    server
        .post(
            "/api/v1/assignments",
            &ann,
            grant("enterprise_provisioning_admin", A),
        )
        .await
        .expect(403, "forbidden");
    let _a = customer(&server, A, 1000).await;
    let list = server
        .get(
            &format!("/api/v1/subsidy-access-policies/?enterprise_customer_uuid={A}"),
            &server.token("dan"),
        )
        .await
        .ok();
    assert_eq!(list.body["count"], 0);
}

/// Loads the customer's catalog again with REFUSED, content the stand-in LMS will not enroll in
/// (or, with `refuse` false, will).
pub(crate) async fn refused_content(server: &TestServer, c: &Customer, refuse: bool) {
    server
        .post(
            "/api/v1/catalogs",
            &operator(server),
            json!({ "uuid": c.catalog, "enterprise_customer_uuid": c.uuid, "title": "All", "content": [
                { "content_key": COURSE, "price_cents": 10000 },
                { "content_key": CHEAP, "price_cents": 1000 },
                { "content_key": REFUSED, "price_cents": 2000, "lms_refuses_enrollment": refuse },
            ] }),
        )
        .await
        .ok();
}

pub(crate) const REFUSED: &str = "edX+Refused";

/// A redemption the LMS refuses stays in the ledger as failed, costs nothing, errors its
/// assignment; the next attempt is a new transaction.
#[tokio::test]
async fn a_failed_enrollment_is_a_failed_transaction_and_an_errored_assignment() {
    let server = start().await;
    let a = customer(&server, A, 100_000).await;
    refused_content(&server, &a, true).await;
    let spend = policy(&server, &a, SPEND, json!({ "spend_limit": 50000 })).await;
    let ada = learner(&server, "ada", A);
    let failed = redeem(&server, &ada, &spend, 1, REFUSED)
        .await
        .expect(422, "enrollment_failed");
    let first = failed.body["error"]["details"]["transaction"].clone();
    assert_eq!(first["state"], "failed");
    let book = ledger(&server, &a.subsidy).await;
    assert_eq!(book["subsidy"]["current_balance_cents"], 100_000);
    assert_eq!(book["transactions"][0]["state"], "failed");
    // Once the LMS enrolls again, the next attempt is a new transaction under a new key.
    refused_content(&server, &a, false).await;
    let paid = redeem(&server, &ada, &spend, 1, REFUSED).await.ok();
    assert_eq!(paid.body["state"], "committed");
    assert_ne!(paid.body["idempotency_key"], first["idempotency_key"]);
    assert_eq!(
        ledger(&server, &a.subsidy).await["subsidy"]["current_balance_cents"],
        98_000
    );

    // An assignment whose redemption failed is errored: refused with its reason, then cancelled
    // or allocated again.
    refused_content(&server, &a, true).await;
    let assigned = policy(&server, &a, ASSIGNED, json!({ "spend_limit": 20000 })).await;
    let ann = admin_of(&server, "ann", A);
    let allocate = |p: String| {
        let (server, ann) = (&server, ann.clone());
        async move {
            server.post(&format!("/api/v1/policy-allocation/{p}/allocate/"), &ann, json!({ "learner_emails": ["bob@example.com"], "content_key": REFUSED, "content_price_cents": 2000 })).await
        }
    };
    let made = allocate(assigned.clone()).await.expect_status(202);
    let bob = learner(&server, "bob", A);
    redeem(&server, &bob, &assigned, 2, REFUSED)
        .await
        .expect(422, "enrollment_failed");
    assert_eq!(
        reason(redeem(&server, &bob, &assigned, 2, REFUSED).await),
        "reason_learner_assignment_failed"
    );
    let now = server
        .get(
            &format!("/api/v1/subsidy-access-policies/{assigned}/"),
            &ann,
        )
        .await
        .ok();
    assert_eq!(
        (
            now.body["total_allocated"].clone(),
            now.body["total_redeemed"].clone()
        ),
        (json!(2000), json!(0))
    );
    let again = allocate(assigned.clone()).await.expect_status(202);
    assert_eq!(
        again.body["updated"][0]["state"], "allocated",
        "an errored assignment is allocated again"
    );
    let uuid = made.body["created"][0]["uuid"]
        .as_str()
        .expect("uuid")
        .to_owned();
    redeem(&server, &bob, &assigned, 2, REFUSED)
        .await
        .expect(422, "enrollment_failed");
    let cancelled = server
        .post(
            &format!("/api/v1/assignment-configurations/{assigned}/admin/assignments/cancel/"),
            &ann,
            json!({ "assignment_uuids": [uuid] }),
        )
        .await
        .ok();
    assert_eq!(
        cancelled.body["results"][0]["state"], "cancelled",
        "an errored assignment can be cancelled"
    );
    let now = server
        .get(
            &format!("/api/v1/subsidy-access-policies/{assigned}/"),
            &ann,
        )
        .await
        .ok();
    assert_eq!(now.body["total_allocated"], 0);
}

/// A holder of the store's write lock until `release` fires: a long write elsewhere (an import,
/// a policy load). Resolves `held` once it holds it.
fn hold_the_write_lock(
    server: &TestServer,
) -> (
    tokio::sync::oneshot::Receiver<()>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (held_tx, held) = tokio::sync::oneshot::channel::<()>();
    let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
    let node = server.node.clone();
    let holder = tokio::spawn(async move {
        node.write("holder", |_tx| {
            Box::pin(async move {
                held_tx.send(()).ok();
                release_rx.await.ok();
                Ok(())
            })
        })
        .await
        .expect("the holder's write");
    });
    (held, release, holder)
}

/// The audit log as `GET /api/v1/audit` answers it, all of it or one subject's.
pub(crate) async fn audit_text(server: &TestServer, subject: Option<&str>) -> String {
    let only = subject.map_or_else(String::new, |s| format!("subject={}&", enc(s)));
    server
        .as_admin()
        .get(&format!("/api/v1/audit?{only}limit=1000"))
        .await
        .ok()
        .text
}

/// The audit log's revisions, oldest first.
async fn log_revisions(server: &TestServer) -> Vec<u64> {
    server
        .node
        .store()
        .audit_log(
            &provost_store::AuditFilter::default(),
            provost_store::AuditRange::After(0),
            100_000,
        )
        .await
        .expect("audit log")
        .iter()
        .map(provost_store::LogEntry::revision)
        .collect()
}

/// A redemption changes no engine state, so on PostgreSQL it does not wait for the store's
/// write lock: a long write elsewhere holds up no learner. Its audit entry enters the log once
/// the lock is free, after the rows already there, and the log stays one gap-free run that
/// nodes follow without missing an engine change. (SQLite has a single writer, which stays.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redeem_goes_through_while_another_write_holds_the_write_lock() {
    let server = start().await;
    if server.node.store().backend() != "postgres" {
        return;
    }
    let a = customer(&server, A, 50_000).await;
    let p = policy(&server, &a, SPEND, json!({ "spend_limit": 50000 })).await;
    let ada = learner(&server, "ada", A);
    let (held, release, holder) = hold_the_write_lock(&server);
    held.await.expect("the holder holds the write lock");
    // Were the redeem to wait for the lock, it would wait for ever: the holder waits for it.
    let first = tokio::time::timeout(
        Duration::from_secs(60),
        redeem(&server, &ada, &p, 1, COURSE),
    )
    .await
    .expect("the redeem waited for the write lock")
    .ok();
    assert_eq!(first.body["state"], "committed");
    let before = log_revisions(&server).await;
    assert!(
        !audit_text(&server, None).await.contains("\"redeem\""),
        "the entry waits for the lock"
    );
    release.send(()).expect("release");
    holder.await.expect("holder");
    // The next write moves what waits into the log before its own rows, if no one did yet.
    server
        .node
        .write("next", |_tx| Box::pin(async { Ok(()) }))
        .await
        .expect("a write");
    let after = log_revisions(&server).await;
    assert_eq!(
        after,
        (1..=after.len() as u64).collect::<Vec<_>>(),
        "one gap-free run"
    );
    assert!(after.len() > before.len());
    assert!(audit_text(&server, None).await.contains("\"redeem\""));
    assert_eq!(
        ledger(&server, &a.subsidy).await["subsidy"]["current_balance_cents"],
        40000
    );
}

/// Redemptions against one policy wait for each other's row lock, but not for ever: past
/// `APP_WRITE_LOCK_TIMEOUT` the answer is 429 `redeem_conflict` with Retry-After, and nothing of
/// the attempt is left (no ledger entry, no spend). Trying again then succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redeem_that_waits_too_long_for_its_policy_answers_429_and_changes_nothing() {
    use provost_store::enterprise as rows;

    let server = start().await;
    if server.node.store().backend() != "postgres" {
        return;
    }
    let a = customer(&server, A, 50_000).await;
    let p = policy(&server, &a, SPEND, json!({ "spend_limit": 50000 })).await;
    let ada = learner(&server, "ada", A);
    // Another app-only write holds the policy's row.
    let (held_tx, held) = tokio::sync::oneshot::channel::<()>();
    let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
    let (node, locked) = (server.node.clone(), p.clone());
    let holder = tokio::spawn(async move {
        node.app_write("holder", |tx| {
            Box::pin(async move {
                rows::lock_policy(tx.conn(), &locked).await?;
                held_tx.send(()).ok();
                release_rx.await.ok();
                Ok(())
            })
        })
        .await
        .expect("the holder's write");
    });
    held.await.expect("the holder holds the policy's row");
    let answer = server
        .client
        .post(format!(
            "{}/api/v1/policy-redemption/{p}/redeem/",
            server.base
        ))
        .bearer_auth(&ada)
        .json(&json!({ "lms_user_id": 1, "content_key": COURSE }))
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status().as_u16(), 429);
    assert_eq!(
        answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body["error"]["code"], "redeem_conflict", "{body}");
    release.send(()).expect("release");
    holder.await.expect("holder");
    assert_nothing_paid(&server, &a, &p, 50000).await;
    let again = redeem(&server, &ada, &p, 1, COURSE).await.ok();
    assert_eq!(again.body["state"], "committed");
}

/// Waits until a transaction in the test server's database waits for a lock another holds.
async fn until_a_lock_is_awaited(url: &str) {
    use sqlx::Connection;

    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut conn)
        .await
        .expect("pg_stat_activity");
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A deposit cannot go under what the subsidy spent: 422 `subsidy_overdrawn`, nothing changed.
/// On PostgreSQL redemptions spend outside the store's write lock, so one can spend between
/// the update's read of the spend and its write: the update checks again, and answers the same
/// rather than breaking the table's CHECK (a 500).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deposit_under_the_spend_is_refused_even_while_redemptions_spend() {
    use provost_store::enterprise::{self as rows, Debit};

    let server = start().await;
    let a = customer(&server, A, 50_000).await;
    let p = policy(&server, &a, SPEND, json!({ "spend_limit": 50000 })).await;
    redeem(&server, &learner(&server, "ada", A), &p, 1, COURSE)
        .await
        .ok();
    let lower_to = |cents: i64| {
        json!({ "uuid": a.subsidy, "enterprise_customer_uuid": A, "title": "Learner credit",
                "starting_balance_cents": cents, "active_datetime": "2020-01-01T00:00:00Z",
                "expiration_datetime": "2099-01-01T00:00:00Z" })
    };
    let refused = server
        .post("/api/v1/subsidies", &operator(&server), lower_to(5_000))
        .await
        .expect(422, "subsidy_overdrawn");
    assert!(refused.text.contains("10000 cents"), "{}", refused.text);
    if server.node.store().backend() != "postgres" {
        return;
    }
    // A redemption's write has spent 10 000 more and not committed yet.
    let (held_tx, held) = tokio::sync::oneshot::channel::<()>();
    let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
    let (node, policy_uuid, subsidy_uuid) = (server.node.clone(), p.clone(), a.subsidy.clone());
    let spender = tokio::spawn(async move {
        node.app_write("spender", |tx| {
            Box::pin(async move {
                let debit = Debit {
                    now: provost_server::access::now(),
                    subsidy: &subsidy_uuid,
                    policy: &policy_uuid,
                    lms_user_id: 2,
                    amount: 10_000,
                    from_allocation: 0,
                    learner_spend_limit: None,
                    learner_enrollment_limit: None,
                };
                assert_eq!(rows::debit(&mut *tx, &debit).await?, None);
                held_tx.send(()).ok();
                release_rx.await.ok();
                Ok(())
            })
        })
        .await
        .expect("the spender's write");
    });
    held.await.expect("the spender holds the subsidy's row");
    // 15 000 is above the 10 000 the update reads, under the 20 000 spent once it may write.
    let op = operator(&server);
    let (answer, ()) = tokio::join!(
        server.post("/api/v1/subsidies", &op, lower_to(15_000)),
        async {
            until_a_lock_is_awaited(&server.url).await;
            release.send(()).expect("release");
        }
    );
    spender.await.expect("spender");
    let refused = answer.expect(422, "subsidy_overdrawn");
    assert!(refused.text.contains("20000 cents"), "{}", refused.text);
    let book = ledger(&server, &a.subsidy).await;
    assert_eq!(book["subsidy"]["starting_balance_cents"], 50000);
    assert_eq!(book["subsidy"]["current_balance_cents"], 30000);
}

/// A learner who leaves the customer, or content that leaves the catalog, after a
/// redemption's checks and before its write is not paid for: the write checks both again and
/// holds them until it commits. (PostgreSQL, where the interleaving can be staged: a write that
/// removes them holds their rows while the redemption reads, then commits once the
/// redemption's write waits for them.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_learner_or_content_gone_before_the_write_is_not_paid_for() {
    use provost_store::enterprise as rows;

    let server = start().await;
    if server.node.store().backend() != "postgres" {
        return;
    }
    let a = customer(&server, A, 50_000).await;
    let p = policy(&server, &a, SPEND, json!({ "spend_limit": 50000 })).await;
    for (who, id, gone) in [
        ("ada", 1, "learner_not_in_enterprise"),
        ("bob", 2, "content_not_in_catalog"),
    ] {
        let (held_tx, held) = tokio::sync::oneshot::channel::<()>();
        let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
        let (node, catalog) = (server.node.clone(), a.catalog.clone());
        let remover = tokio::spawn(async move {
            node.app_write("remover", |tx| {
                Box::pin(async move {
                    if gone == "learner_not_in_enterprise" {
                        assert!(rows::remove_learner(tx.conn(), A, id).await?);
                    } else {
                        rows::clear_catalog(tx.conn(), &catalog).await?;
                    }
                    held_tx.send(()).ok();
                    // Released once the redemption waits, or when the test ends.
                    release_rx.await.ok();
                    Ok(())
                })
            })
            .await
            .expect("the remover's write");
        });
        held.await.expect("the remover holds the row");
        let token = learner(&server, who, A);
        let redeeming = redeem(&server, &token, &p, id, COURSE);
        tokio::pin!(redeeming);
        // A redemption that does not wait for the remover's rows answers first (and is wrong).
        let answer = tokio::select! {
            answer = &mut redeeming => answer,
            () = until_a_lock_is_awaited(&server.url) => {
                release.send(()).expect("release");
                redeeming.await
            }
        };
        assert_eq!(reason(answer), gone);
        remover.await.expect("remover");
    }
    assert_nothing_paid(&server, &a, &p, 50000).await;
}
