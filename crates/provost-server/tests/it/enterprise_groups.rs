//! Enterprise groups: a policy for some of the customer's groups pays only for learners in one
//! of them (`learner_not_in_enterprise_group`, right after `learner_not_in_enterprise`), and a
//! policy can be for its own customer's groups only.

use serde_json::{json, Value};

use crate::enterprise::{
    admin_of, assert_nothing_paid, audit_text, customer, learner, operator, policy, reason, redeem,
    with_roles, A, B, CHEAP, SPEND,
};
use crate::support::{enc, start, Answer, TestServer};

const RED: &str = "00000000-0000-4000-8000-00000000000a";
const BLUE: &str = "00000000-0000-4000-8000-00000000000b";
const B_GROUP: &str = "00000000-0000-4000-8000-0000000000bb";

/// Loads `groups` (uuid, members) at `customer` as `token`.
async fn put_groups(
    server: &TestServer,
    token: &str,
    customer: &str,
    groups: &[(&str, &[i64])],
) -> Answer {
    let groups: Vec<Value> = groups
        .iter()
        .map(|(uuid, ids)| json!({ "uuid": uuid, "name": format!("group {uuid}"), "lms_user_ids": ids }))
        .collect();
    server
        .with_token(token)
        .put(
            &format!("/api/v1/enterprise-customers/{customer}/groups"),
            json!({ "groups": groups }),
        )
        .await
}

fn reasons(answer: &Value) -> Vec<&str> {
    answer["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["reason"].as_str().expect("reason"))
        .collect()
}

#[tokio::test]
async fn the_group_reason_comes_right_after_the_learner_one() {
    let server = start().await;
    let a = customer(&server, A, 1_000_000).await;
    let op = operator(&server);
    put_groups(&server, &op, A, &[(RED, &[2]), (BLUE, &[3])])
        .await
        .ok();
    let grouped = policy(
        &server,
        &a,
        SPEND,
        json!({ "spend_limit": 100_000, "group_uuids": [RED, BLUE] }),
    )
    .await;
    let read = server
        .get(&format!("/api/v1/subsidy-access-policies/{grouped}/"), &op)
        .await
        .ok();
    let mut expected = vec![RED, BLUE];
    expected.sort_unstable();
    assert_eq!(read.body["group_uuids"], json!(expected));
    // Not a learner of the customer at all: that reason comes first.
    assert_eq!(
        reason(redeem(&server, &op, &grouped, 999, "nowhere").await),
        "learner_not_in_enterprise"
    );
    // A learner in none of the groups: before the content's own reasons.
    let ada = learner(&server, "ada", A);
    assert_eq!(
        reason(redeem(&server, &ada, &grouped, 1, "nowhere").await),
        "learner_not_in_enterprise_group"
    );
    assert_eq!(
        reason(redeem(&server, &ada, &grouped, 1, CHEAP).await),
        "learner_not_in_enterprise_group"
    );
    // can-redeem puts it in enterprise-access's order among the other policies' reasons.
    policy(
        &server,
        &a,
        SPEND,
        json!({ "spend_limit": 1000, "active": false, "display_name": "off" }),
    )
    .await;
    let capped = policy(
        &server,
        &a,
        SPEND,
        json!({ "spend_limit": 999, "display_name": "small" }),
    )
    .await;
    let answer = server
        .get(
            &format!(
                "/api/v1/policy-redemption/enterprise-customer/{A}/can-redeem/?content_key={}",
                enc(CHEAP)
            ),
            &ada,
        )
        .await
        .ok();
    assert_eq!(answer.body[0]["can_redeem"], false);
    assert_eq!(
        reasons(&answer.body[0]),
        [
            "policy_expired",
            "learner_not_in_enterprise_group",
            "policy_spend_limit_reached"
        ]
    );
    assert_eq!(
        answer.body[0]["reasons"][1]["policy_uuids"],
        json!([grouped])
    );
    assert_eq!(
        answer.body[0]["reasons"][2]["policy_uuids"],
        json!([capped])
    );
    // Learners in either group redeem; nothing was paid for ada.
    redeem(&server, &learner(&server, "bob", A), &grouped, 2, CHEAP)
        .await
        .ok();
    redeem(&server, &learner(&server, "cy", A), &grouped, 3, CHEAP)
        .await
        .ok();
    let read = server
        .get(&format!("/api/v1/subsidy-access-policies/{grouped}/"), &op)
        .await
        .ok();
    assert_eq!(read.body["total_redeemed"], 2000);
}

#[tokio::test]
async fn a_learner_added_to_the_group_can_redeem_and_one_removed_cannot() {
    let server = start().await;
    let a = customer(&server, A, 1_000_000).await;
    let op = operator(&server);
    let first = put_groups(&server, &op, A, &[(RED, &[2])]).await.ok();
    assert_eq!(
        (
            first.body["changed"].clone(),
            first.body["unchanged"].clone()
        ),
        (json!(1), json!(0))
    );
    let p = policy(
        &server,
        &a,
        SPEND,
        json!({ "spend_limit": 100_000, "group_uuids": [RED] }),
    )
    .await;
    let (ada, bob) = (learner(&server, "ada", A), learner(&server, "bob", A));
    assert_eq!(
        reason(redeem(&server, &ada, &p, 1, CHEAP).await),
        "learner_not_in_enterprise_group"
    );
    assert_nothing_paid(&server, &a, &p, 1_000_000).await;
    // The same load again changes nothing; adding ada and dropping bob does.
    let same = put_groups(&server, &op, A, &[(RED, &[2])]).await.ok();
    assert_eq!(same.body["unchanged"], 1);
    put_groups(&server, &op, A, &[(RED, &[1])]).await.ok();
    let paid = redeem(&server, &ada, &p, 1, CHEAP).await.ok();
    assert_eq!(paid.body["state"], "committed");
    assert_eq!(
        reason(redeem(&server, &bob, &p, 2, CHEAP).await),
        "learner_not_in_enterprise_group"
    );
    // Without groups the policy is for every learner of the customer again.
    server
        .with_token(&op)
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/subsidy-access-policies/{p}/"),
            Some(json!({ "group_uuids": [] })),
        )
        .await
        .ok();
    redeem(&server, &bob, &p, 2, CHEAP).await.ok();
    // Each change of a group is in the log, with its actor.
    let audit = audit_text(&server, Some(RED)).await;
    assert_eq!(audit.matches("group_put").count(), 2, "{audit}");
    assert!(audit.contains("olga"), "{audit}");
}

#[tokio::test]
async fn another_enterprises_group_cannot_be_attached_or_loaded() {
    let server = start().await;
    let a = customer(&server, A, 1_000_000).await;
    let _b = customer(&server, B, 1_000_000).await;
    let op = operator(&server);
    put_groups(&server, &op, B, &[(B_GROUP, &[1])]).await.ok();
    put_groups(&server, &op, A, &[(RED, &[1])]).await.ok();
    // A policy of A cannot be for B's group, or for a group nobody loaded.
    let body = |groups: Value| {
        json!({ "policy_type": SPEND, "enterprise_customer_uuid": A, "catalog_uuid": a.catalog,
                "subsidy_uuid": a.subsidy, "active": true, "spend_limit": 1000, "group_uuids": groups })
    };
    for groups in [json!([B_GROUP]), json!([RED, B_GROUP]), json!([BLUE])] {
        server
            .post("/api/v1/subsidy-access-policies/", &op, body(groups))
            .await
            .expect(422, "unknown_reference");
    }
    server
        .post(
            "/api/v1/subsidy-access-policies/",
            &op,
            body(json!(["not-a-uuid"])),
        )
        .await
        .expect(400, "invalid_uuid");
    let p = policy(
        &server,
        &a,
        SPEND,
        json!({ "spend_limit": 1000, "group_uuids": [RED] }),
    )
    .await;
    let path = format!("/api/v1/subsidy-access-policies/{p}/");
    server
        .with_token(&op)
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(json!({ "group_uuids": [B_GROUP] })),
        )
        .await
        .expect(422, "unknown_reference");
    let read = server.get(&path, &op).await.ok();
    assert_eq!(
        read.body["group_uuids"],
        json!([RED]),
        "the refused patch changed nothing"
    );
    // B's group cannot be taken over from A, not even by an operator of both.
    put_groups(&server, &op, A, &[(RED, &[1, 2]), (B_GROUP, &[2])])
        .await
        .expect(422, "wrong_customer");
    // Nor by someone of A alone: admins do not load groups, A's operator not at B.
    let op_a = with_roles(
        &server,
        "otto",
        &[&format!("enterprise_openedx_operator:{A}")],
    );
    put_groups(&server, &op_a, B, &[(B_GROUP, &[2])])
        .await
        .expect(403, "forbidden");
    put_groups(&server, &admin_of(&server, "ann", A), A, &[(RED, &[2])])
        .await
        .expect(403, "forbidden");
    put_groups(&server, &learner(&server, "ada", A), A, &[(RED, &[2])])
        .await
        .expect(403, "forbidden");
    // None of the refused loads changed a group: ada is still RED's only member, B's group
    // still holds learner 1 only.
    let ada = learner(&server, "ada", A);
    redeem(&server, &ada, &p, 1, CHEAP).await.ok();
    assert_eq!(
        reason(redeem(&server, &learner(&server, "bob", A), &p, 2, CHEAP).await),
        "learner_not_in_enterprise_group"
    );
    let audit = audit_text(&server, Some(B_GROUP)).await;
    assert_eq!(audit.matches("group_put").count(), 1, "{audit}");
    // Bad loads are 4xx and change nothing.
    let bad = [
        json!({ "groups": [{ "uuid": RED, "name": "r", "lms_user_ids": [0] }] }),
        json!({ "groups": [{ "uuid": "red", "name": "r", "lms_user_ids": [] }] }),
        json!({ "groups": [{ "uuid": RED, "name": "", "lms_user_ids": [] }] }),
        json!({ "groups": [{ "uuid": RED, "name": "r", "lms_user_ids": [], "extra": 1 }] }),
    ];
    for body in bad {
        let answer = server
            .with_token(&op)
            .put(
                &format!("/api/v1/enterprise-customers/{A}/groups"),
                body.clone(),
            )
            .await;
        assert!(
            answer.status.is_client_error(),
            "{body} answered {}",
            answer.status
        );
    }
    put_groups(&server, &op, A, &[(RED, &[1]), (RED, &[2])])
        .await
        .expect(409, "duplicate");
    assert_eq!(
        reason(redeem(&server, &learner(&server, "bob", A), &p, 2, CHEAP).await),
        "learner_not_in_enterprise_group"
    );
}
