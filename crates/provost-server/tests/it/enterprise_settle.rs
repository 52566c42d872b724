//! Redemptions in two steps around the LMS call: a failure gives back every cent, a retry
//! while the entry is pending returns it as it is, and the sweep settles what a writer that
//! died between the steps left pending.

use provost_server::access::Actor;
use provost_server::apps::enterprise::assignments;
use provost_server::apps::enterprise::redeem::{idempotency_key, settle_stale, PENDING_GRACE};
use provost_store::enterprise::{self as rows, Debit, Transaction};
use serde_json::{json, Value};

use crate::enterprise::{
    admin_of, audit_text, customer, learner, ledger, operator, policy, redeem, refused_content,
    Customer, A, ASSIGNED, CHEAP, COURSE, REFUSED, SPEND,
};
use crate::support::{start, TestServer};

/// What a redemption's first write leaves when its process dies before the second: the ledger
/// entry `pending` with its money taken from the learner's usage, the subsidy and the policy
/// (and, for an assigned policy, the assignment claimed). Returns the entry's uuid.
async fn left_pending(
    server: &TestServer,
    c: &Customer,
    policy: &str,
    lms_user_id: i64,
    content_key: &str,
    amount: i64,
    assignment: Option<&str>,
) -> String {
    let now = provost_server::access::now();
    let t = Transaction {
        uuid: uuid::Uuid::new_v4().hyphenated().to_string(),
        idempotency_key: idempotency_key(policy, lms_user_id, content_key, 0),
        subsidy_uuid: c.subsidy.clone(),
        policy_uuid: policy.to_owned(),
        lms_user_id,
        content_key: content_key.to_owned(),
        amount_cents: amount,
        state: "pending".into(),
        metadata: None,
        created_at: now,
        modified_at: now,
    };
    let debit = Debit {
        now,
        subsidy: &c.subsidy,
        policy,
        lms_user_id,
        amount,
        from_allocation: assignment.map_or(0, |_| amount),
        learner_spend_limit: None,
        learner_enrollment_limit: None,
    };
    let (t, debit, assignment) = (&t, &debit, assignment);
    server
        .node
        .write("test", |tx| {
            Box::pin(async move {
                rows::insert_transaction(tx.conn(), t).await?;
                if let Some(a) = assignment {
                    assert!(rows::claim_assignment(tx.conn(), a, &t.uuid).await?);
                }
                assert_eq!(rows::debit(&mut *tx, debit).await?, None);
                Ok::<_, provost_server::Error>(())
            })
        })
        .await
        .expect("write");
    t.uuid.clone()
}

fn sweeper() -> Actor {
    Actor {
        username: "provost:enterprise-expiry".into(),
        superuser: true,
        ..Actor::default()
    }
}

/// The subsidy's balance and the policy's `total_redeemed`.
async fn money(server: &TestServer, c: &Customer, policy: &str) -> (i64, i64) {
    let book = ledger(server, &c.subsidy).await;
    let p = server
        .get(
            &format!("/api/v1/subsidy-access-policies/{policy}/"),
            &operator(server),
        )
        .await
        .ok();
    (
        book["subsidy"]["current_balance_cents"]
            .as_i64()
            .expect("balance"),
        p.body["total_redeemed"].as_i64().expect("total"),
    )
}

fn states(book: &Value) -> Vec<(String, String)> {
    book["transactions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|t| {
            (
                t["uuid"].as_str().expect("uuid").to_owned(),
                t["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect()
}

/// An LMS refusal after the money was reserved gives back exactly what was taken: the subsidy,
/// the policy and the learner's own limit, to the cent; the audit log shows the reservation and
/// its failure, by the learner's redemption.
#[tokio::test]
async fn a_refused_enrollment_gives_back_every_cent() {
    let server = start().await;
    let a = customer(&server, A, 100_003).await;
    server
        .post(
            "/api/v1/catalogs",
            &operator(&server),
            json!({ "uuid": a.catalog, "enterprise_customer_uuid": A, "title": "All", "content": [
                { "content_key": CHEAP, "price_cents": 1000 },
                { "content_key": REFUSED, "price_cents": 1999, "lms_refuses_enrollment": true },
            ] }),
        )
        .await
        .ok();
    let p = policy(
        &server,
        &a,
        SPEND,
        json!({ "spend_limit": 50_001, "per_learner_spend_limit": 2_999 }),
    )
    .await;
    let ada = learner(&server, "ada", A);
    let failed = redeem(&server, &ada, &p, 1, REFUSED)
        .await
        .expect(422, "enrollment_failed");
    assert_eq!(
        failed.body["error"]["details"]["transaction"]["state"],
        "failed"
    );
    assert_eq!(
        failed.body["error"]["details"]["transaction"]["quantity_cents"],
        1999
    );
    assert_eq!(money(&server, &a, &p).await, (100_003, 0));
    let credits = server
        .get(
            &format!("/api/v1/policy-redemption/credits_available/?enterprise_customer_uuid={A}"),
            &ada,
        )
        .await
        .ok();
    assert_eq!(credits.body[0]["remaining_balance_per_user"], 2_999);
    assert_eq!(credits.body[0]["remaining_balance"], 100_003);
    // What was given back is spendable: 1 000 + 1 999 is exactly the learner's limit.
    redeem(&server, &ada, &p, 1, CHEAP).await.ok();
    refused_content_at(&server, &a, 1999).await;
    let paid = redeem(&server, &ada, &p, 1, REFUSED).await.ok();
    assert_eq!(paid.body["state"], "committed");
    assert_eq!(money(&server, &a, &p).await, (100_003 - 2_999, 2_999));
    let audit = audit_text(&server, Some("ada")).await;
    for op in ["\"redeem\"", "\"redeem_failed\"", "\"redeem_commit\""] {
        assert!(audit.contains(op), "{op} missing from {audit}");
    }
}

/// The catalog again, with REFUSED at `price` and enrolled in.
async fn refused_content_at(server: &TestServer, c: &Customer, price: i64) {
    server
        .post(
            "/api/v1/catalogs",
            &operator(server),
            json!({ "uuid": c.catalog, "enterprise_customer_uuid": c.uuid, "title": "All", "content": [
                { "content_key": CHEAP, "price_cents": 1000 },
                { "content_key": REFUSED, "price_cents": price },
            ] }),
        )
        .await
        .ok();
}

/// A redemption whose writer died between reserving the money and recording the LMS's answer:
/// a retry returns it pending and changes nothing; the sweep leaves it alone for
/// `PENDING_GRACE`, then asks the LMS again and commits it (enrolled) or fails it (refused,
/// with its money back).
#[tokio::test]
async fn the_sweep_settles_what_a_crash_left_pending() {
    let server = start().await;
    let a = customer(&server, A, 100_000).await;
    refused_content(&server, &a, true).await;
    let p = policy(&server, &a, SPEND, json!({ "spend_limit": 50_000 })).await;
    let paid = left_pending(&server, &a, &p, 1, COURSE, 10_000, None).await;
    let lost = left_pending(&server, &a, &p, 2, REFUSED, 2_000, None).await;
    assert_eq!(money(&server, &a, &p).await, (88_000, 12_000));
    // A retry finds its entry pending, returns it, and writes nothing.
    let retry = redeem(&server, &learner(&server, "ada", A), &p, 1, COURSE)
        .await
        .ok();
    assert_eq!(
        (retry.body["uuid"].as_str(), retry.body["state"].as_str()),
        (Some(paid.as_str()), Some("pending"))
    );
    assert_eq!(states(&ledger(&server, &a.subsidy).await).len(), 2);
    // Within the grace period the writer may still be alive: nothing is settled.
    let now = provost_server::access::now();
    let early = settle_stale(&server.node, &sweeper(), now)
        .await
        .expect("sweep");
    assert!(early.is_empty(), "{early:?}");
    let settled = settle_stale(&server.node, &sweeper(), now + PENDING_GRACE + 1)
        .await
        .expect("sweep");
    assert_eq!(settled.len(), 2);
    let mut after = states(&ledger(&server, &a.subsidy).await);
    after.sort();
    let mut expected = vec![
        (paid.clone(), "committed".to_owned()),
        (lost.clone(), "failed".to_owned()),
    ];
    expected.sort();
    assert_eq!(after, expected);
    assert_eq!(money(&server, &a, &p).await, (90_000, 10_000));
    // Settled once: the next sweep finds nothing, a retry returns the committed entry.
    let again = settle_stale(&server.node, &sweeper(), now + PENDING_GRACE + 1)
        .await
        .expect("sweep");
    assert!(again.is_empty());
    let retry = redeem(&server, &learner(&server, "ada", A), &p, 1, COURSE)
        .await
        .ok();
    assert_eq!(
        (retry.body["uuid"].as_str(), retry.body["state"].as_str()),
        (Some(paid.as_str()), Some("committed"))
    );
    let audit = audit_text(&server, Some("bob")).await;
    assert!(
        audit.contains("redeem_failed") && audit.contains("provost:enterprise-expiry"),
        "{audit}"
    );
}

/// An assignment a pending redemption pays for can be neither cancelled nor expired meanwhile;
/// the sweep accepts it with the redemption.
#[tokio::test]
async fn a_pending_redemption_holds_its_assignment_until_it_settles() {
    let server = start().await;
    let a = customer(&server, A, 100_000).await;
    let p = policy(&server, &a, ASSIGNED, json!({ "spend_limit": 20_000 })).await;
    let ann = admin_of(&server, "ann", A);
    let made = server
        .post(
            &format!("/api/v1/policy-allocation/{p}/allocate/"),
            &ann,
            json!({ "learner_emails": ["ada@example.com"], "content_key": COURSE, "content_price_cents": 10_000 }),
        )
        .await
        .expect_status(202);
    let assignment = made.body["created"][0]["uuid"]
        .as_str()
        .expect("uuid")
        .to_owned();
    let pending = left_pending(&server, &a, &p, 1, COURSE, 10_000, Some(&assignment)).await;
    server
        .post(
            &format!("/api/v1/assignment-configurations/{p}/admin/assignments/cancel/"),
            &ann,
            json!({ "assignment_uuids": [assignment] }),
        )
        .await
        .expect(422, "invalid_transition");
    // Long past its expiry, the sweep leaves it to its redemption, which accepts it.
    let later = provost_server::access::now() + 400 * 24 * 3600;
    let expired = assignments::expire(&server.node, &sweeper(), later)
        .await
        .expect("expire");
    assert!(expired.is_empty(), "{expired:?}");
    let settled = settle_stale(&server.node, &sweeper(), later)
        .await
        .expect("sweep");
    assert_eq!(settled[0].state, "committed");
    let list = server
        .get(
            &format!("/api/v1/assignment-configurations/{p}/admin/assignments/"),
            &ann,
        )
        .await
        .ok();
    assert_eq!(list.body["results"][0]["state"], "accepted");
    assert_eq!(list.body["results"][0]["transaction_uuid"], json!(pending));
    let now = server
        .get(&format!("/api/v1/subsidy-access-policies/{p}/"), &ann)
        .await
        .ok();
    assert_eq!(
        (
            now.body["total_allocated"].clone(),
            now.body["total_redeemed"].clone()
        ),
        (json!(0), json!(10_000))
    );
}
