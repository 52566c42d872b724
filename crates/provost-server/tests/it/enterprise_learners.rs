//! Removing a learner from an enterprise customer: who may (those who load the learners), who
//! may not (admins, learners, another customer's operators), and what it changes.

use serde_json::json;

use crate::enterprise::{
    admin_of, audit_text, customer, learner, operator, policy, reason, redeem, with_roles, A, B,
    CHEAP, SPEND,
};
use crate::support::{Answer, TestServer};

async fn remove(server: &TestServer, token: &str, customer: &str, id: &str) -> Answer {
    server
        .with_token(token)
        .delete(&format!(
            "/api/v1/enterprise-customers/{customer}/learners/{id}"
        ))
        .await
}

#[tokio::test]
async fn only_who_loads_a_customers_learners_removes_one() {
    let server = crate::support::start().await;
    let a = customer(&server, A, 1_000_000).await;
    let b = customer(&server, B, 1_000_000).await;
    let pa = policy(&server, &a, SPEND, json!({ "spend_limit": 100_000 })).await;
    let pb = policy(&server, &b, SPEND, json!({ "spend_limit": 100_000 })).await;
    // Refused: A's admin, A's learner, B's operator and B's provisioning admin.
    let refused = [
        admin_of(&server, "ann", A),
        learner(&server, "ada", A),
        with_roles(
            &server,
            "otto",
            &[&format!("enterprise_openedx_operator:{B}")],
        ),
        with_roles(
            &server,
            "pat",
            &[&format!("enterprise_provisioning_admin:{B}")],
        ),
        server.token("ada"),
    ];
    for token in &refused {
        remove(&server, token, A, "1")
            .await
            .expect(403, "forbidden");
    }
    // Nothing changed: ada still redeems at A.
    let ada = learner(&server, "ada", A);
    redeem(&server, &ada, &pa, 1, CHEAP).await.ok();
    // A's provisioning admin may; the answer is the learner as they were.
    let pat_a = with_roles(
        &server,
        "pat",
        &[&format!("enterprise_provisioning_admin:{A}")],
    );
    let removed = remove(&server, &pat_a, A, "1").await.ok();
    assert_eq!(
        removed.body,
        json!({ "username": "ada", "lms_user_id": 1, "email": "ada@example.com" })
    );
    assert_eq!(
        reason(redeem(&server, &operator(&server), &pa, 1, "edX+DemoX").await),
        "learner_not_in_enterprise"
    );
    // Gone from A only: learner 1 of B still redeems there.
    redeem(&server, &learner(&server, "ada", B), &pb, 1, CHEAP)
        .await
        .ok();
    // Unknown now, and unknown ids: 404; malformed ones: 400.
    remove(&server, &pat_a, A, "1")
        .await
        .expect(404, "not_found");
    remove(&server, &operator(&server), A, "999")
        .await
        .expect(404, "not_found");
    for bad in ["0", "-3", "ada", "1.5"] {
        remove(&server, &operator(&server), A, bad)
            .await
            .expect(400, "invalid_path");
    }
    remove(&server, &operator(&server), "not-a-customer", "2")
        .await
        .expect(400, "invalid_uuid");
    // The removal is in the log with its actor; the refusals left nothing there.
    let audit = audit_text(&server, Some("ada")).await;
    assert_eq!(audit.matches("learner_remove").count(), 1, "{audit}");
    assert!(audit.contains("\"pat\""), "{audit}");
}
