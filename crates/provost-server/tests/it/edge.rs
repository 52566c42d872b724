//! The HTTP edge: token times and usernames, oversized headers, revisions no store can reach,
//! scope keys with `+` in query strings, and scopeless MFE questions from superusers and staff.

use std::time::Duration;

use jsonwebtoken::{encode, EncodingKey, Header};
use provost_server::TokenSpec;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{start, start_with, Answer, Options, TestServer, COURSE, SECRET};

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn signed(claims: &Value) -> String {
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("encode")
}

/// The caller's own check with this token.
async fn own_check(server: &TestServer, claims: &Value) -> Answer {
    server
        .check(
            &signed(claims),
            json!({ "action": "courses.view_course", "scope": COURSE }),
        )
        .await
}

fn refused(answer: &Answer) -> &str {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
    answer.code()
}

#[tokio::test]
async fn tokens_not_valid_yet_are_refused() {
    let server = start().await;
    let early = json!({ "preferred_username": "ada", "exp": now() + 3600, "nbf": now() + 600 });
    assert_eq!(
        refused(&own_check(&server, &early).await),
        "token_not_yet_valid"
    );
    // Within the leeway (30 s by default), a clock a little behind the issuer's is forgiven.
    let skewed = json!({ "preferred_username": "ada", "exp": now() + 3600, "nbf": now() + 10 });
    assert_eq!(own_check(&server, &skewed).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_leeway_is_a_setting() {
    let default = start().await;
    let strict = start_with(Options {
        leeway: Some(Duration::ZERO),
        ..Options::default()
    })
    .await;
    let just_expired = json!({ "preferred_username": "ada", "exp": now() - 10 });
    assert_eq!(
        own_check(&default, &just_expired).await.status,
        StatusCode::OK
    );
    assert_eq!(
        refused(&own_check(&strict, &just_expired).await),
        "token_expired"
    );
    // 30 s, not jsonwebtoken's 60.
    let long_expired = json!({ "preferred_username": "ada", "exp": now() - 45 });
    assert_eq!(
        refused(&own_check(&default, &long_expired).await),
        "token_expired"
    );
    let soon = json!({ "preferred_username": "ada", "exp": now() + 3600, "nbf": now() + 10 });
    assert_eq!(
        refused(&own_check(&strict, &soon).await),
        "token_not_yet_valid"
    );
}

#[tokio::test]
async fn usernames_must_be_plain_text_of_sane_length() {
    let server = start().await;
    let exp = now() + 600;
    let longest = "a".repeat(255);
    assert_eq!(
        own_check(
            &server,
            &json!({ "preferred_username": longest, "exp": exp })
        )
        .await
        .status,
        StatusCode::OK
    );
    for claims in [
        json!({ "preferred_username": "", "exp": exp }),
        // An empty `preferred_username` does not fall back to `sub`.
        json!({ "preferred_username": "", "sub": "ada", "exp": exp }),
        json!({ "sub": "", "exp": exp }),
        json!({ "preferred_username": "a".repeat(256), "exp": exp }),
        json!({ "preferred_username": "ada\nadmin", "exp": exp }),
        json!({ "preferred_username": "ada\u{0}", "exp": exp }),
        json!({ "sub": "ada\u{7f}", "exp": exp }),
    ] {
        let answer = own_check(&server, &claims).await;
        assert_eq!(refused(&answer), "invalid_token", "{claims}");
    }
    assert_eq!(
        own_check(&server, &json!({ "sub": "ada", "exp": exp }))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn oversized_headers_answer_in_the_error_shape() {
    let server = start().await;
    let send = |headers: Vec<(String, String)>| {
        let mut request = server.client.get(format!("{}/healthz", server.base));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let fine = send(vec![("x-big".into(), "a".repeat(10_000))])
        .await
        .expect("sent");
    assert_eq!(fine.status(), StatusCode::OK);

    let big = vec![("x-big".into(), "a".repeat(100_000))];
    let many = (0..150).map(|i| (format!("x-h{i}"), "v".into())).collect();
    for headers in [big, many] {
        let response = send(headers).await.expect("sent");
        assert_eq!(
            response.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        assert!(response.headers().contains_key("x-request-id"));
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(body["error"]["code"], "header_too_large", "{body}");
        assert!(body["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn revisions_no_store_can_reach_are_bad_requests() {
    let server = start().await;
    let admin = server.admin();
    let beyond_bigint = "9223372036854775808";
    for value in [
        beyond_bigint,
        "18446744073709551615",
        "1e30",
        "-1",
        "1.5",
        "\"soon\"",
    ] {
        let body = format!(
            r#"{{"action": "courses.view_course", "scope": "{COURSE}", "at_least_revision": {value}}}"#
        );
        let answer = server
            .raw(
                Method::POST,
                "/api/v1/check",
                &admin,
                Some("application/json"),
                body.into_bytes(),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::BAD_REQUEST, "invalid_revision"),
            "{value}"
        );
    }
    let batch = server
        .raw(
            Method::POST,
            "/api/v1/check/batch",
            &admin,
            Some("application/json"),
            format!(r#"{{"checks": [], "at_least_revision": {beyond_bigint}}}"#).into_bytes(),
        )
        .await;
    assert_eq!(batch.code(), "invalid_revision");
    for value in [beyond_bigint, "-1", "1.5", "x"] {
        for path in [
            format!("/api/v1/lookup/subjects?action=courses.view_course&scope=*&at_least_revision={value}"),
            format!("/api/v1/lookup/scopes?action=courses.view_course&at_least_revision={value}"),
        ] {
            let answer = server.get(&path, &admin).await;
            assert_eq!(
                (answer.status, answer.code()),
                (StatusCode::BAD_REQUEST, "invalid_revision"),
                "{path}"
            );
        }
    }
    // The audit feed's `since` is a revision too.
    let since = server
        .get(&format!("/api/v1/audit?since={beyond_bigint}"), &admin)
        .await;
    assert_eq!(
        (since.status, since.code()),
        (StatusCode::BAD_REQUEST, "invalid_revision"),
        "{}",
        since.text
    );
    // A revision this node has applied is still fine.
    let revision = server.revision().await;
    let answer = server
        .check(
            &admin,
            json!({ "action": "courses.view_course", "scope": COURSE, "at_least_revision": revision }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn scope_keys_keep_their_plus_signs_in_query_strings() {
    let server = start().await;
    let admin = server.admin();
    server
        .assign(json!([{ "subject": "alice", "role": "course_staff", "scope": COURSE }]))
        .await;
    // `COURSE` as a browser or curl sends it unencoded: `course-v1:MITx+6.00x+2024T1`.
    let listed = server
        .get(&format!("/api/v1/assignments?scope={COURSE}"), &admin)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(
        listed.body["items"][0]["subject"], "alice",
        "{}",
        listed.text
    );

    let who = server
        .get(
            &format!("/api/v1/lookup/subjects?action=courses.view_course&scope={COURSE}"),
            &admin,
        )
        .await;
    assert_eq!(who.status, StatusCode::OK, "{}", who.text);
    assert_eq!(who.body["items"], json!(["alice"]));

    let audit = server
        .get(&format!("/api/v1/audit?scope={COURSE}"), &admin)
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    assert_eq!(audit.body["items"].as_array().map(Vec::len), Some(1));

    // A glob, and an encoded space, read the same way.
    let glob = server
        .get(
            "/api/v1/lookup/subjects?action=courses.view_course&scope=course-v1:MITx+*",
            &admin,
        )
        .await;
    assert_eq!(glob.status, StatusCode::OK, "{}", glob.text);
    let spaced = server
        .get(
            "/api/v1/assignments?scope=course-v1:MITx%206.00x%202024T1",
            &admin,
        )
        .await;
    assert_eq!(
        spaced.body["items"][0]["subject"], "alice",
        "{}",
        spaced.text
    );
    // Other parameters decode as forms do.
    let subject = server
        .get("/api/v1/assignments?subject=ali+ce", &admin)
        .await;
    assert_eq!(subject.status, StatusCode::OK);
    assert_eq!(subject.body["items"], json!([]));
}

#[tokio::test]
async fn scopeless_mfe_questions_count_superuser_and_staff_tokens() {
    let server = start().await;
    let questions = json!([
        { "action": "courses.view_course" },
        { "action": "content_libraries.edit_library_content" },
        { "action": "programs.read_reports" },
        { "action": "courses.launch_rocket" },
    ]);
    let ask = |token: String| {
        let questions = questions.clone();
        let server = &server;
        async move {
            let answer = server
                .post("/api/authz/v1/permissions/validate/me", &token, questions)
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            answer
                .body
                .as_array()
                .expect("array")
                .iter()
                .map(|r| r["allowed"].as_bool().expect("bool"))
                .collect::<Vec<bool>>()
        }
    };
    let token = |staff: bool, superuser: bool| {
        server.token_with(TokenSpec {
            username: "tess".into(),
            staff,
            superuser,
            ttl: Duration::from_secs(600),
            ..TokenSpec::default()
        })
    };
    assert_eq!(ask(token(false, false)).await, [false, false, false, false]);
    // Staff: course and library actions (as a check with a scope), never others or unknown ones.
    assert_eq!(ask(token(true, false)).await, [true, true, false, false]);
    // Superuser: every known action.
    assert_eq!(ask(token(false, true)).await, [true, true, true, false]);
}
