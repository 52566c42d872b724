//! Authentication: missing, expired, forged, `alg: none` and foreign-algorithm tokens are 401s.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{start, start_with, Options, TestServer, COURSE, RSA_KEY, SECRET};

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(user: &str) -> Value {
    json!({ "preferred_username": user, "exp": now() + 600, "iat": now() })
}

fn hs(alg: Algorithm, secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode")
}

async fn own_check(server: &TestServer, authorization: Option<&str>) -> crate::support::Answer {
    let mut request = server
        .client
        .post(format!("{}/api/v1/check", server.base))
        .json(&json!({ "action": "courses.view_course", "scope": COURSE }));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("send");
    let status = response.status();
    let www = response.headers().get("www-authenticate").cloned();
    let text = response.text().await.expect("text");
    if status == StatusCode::UNAUTHORIZED {
        assert_eq!(www.as_ref().and_then(|v| v.to_str().ok()), Some("Bearer"));
    }
    crate::support::Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

#[tokio::test]
async fn tokens_are_verified() {
    let server = start().await;

    let none = own_check(&server, None).await;
    assert_eq!(
        (none.status, none.code()),
        (StatusCode::UNAUTHORIZED, "missing_token")
    );

    let good = hs(Algorithm::HS256, SECRET, &claims("alice"));
    assert_eq!(
        own_check(&server, Some(&format!("Bearer {good}")))
            .await
            .status,
        StatusCode::OK
    );
    // Open edX's own scheme.
    assert_eq!(
        own_check(&server, Some(&format!("JWT {good}")))
            .await
            .status,
        StatusCode::OK
    );

    let expired = hs(
        Algorithm::HS256,
        SECRET,
        &json!({ "preferred_username": "alice", "exp": now() - 3600 }),
    );
    let answer = own_check(&server, Some(&format!("Bearer {expired}"))).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::UNAUTHORIZED, "token_expired")
    );

    let forged = hs(Algorithm::HS256, "not-the-secret", &claims("alice"));
    let answer = own_check(&server, Some(&format!("Bearer {forged}"))).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::UNAUTHORIZED, "invalid_signature")
    );

    // `alg: none`, unsigned: refused whatever it claims.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims("admin").to_string());
    for unsigned in [format!("{header}.{body}."), format!("{header}.{body}")] {
        let answer = own_check(&server, Some(&format!("Bearer {unsigned}"))).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
    }

    // The right secret under an algorithm the server was not configured for.
    let hs384 = hs(Algorithm::HS384, SECRET, &claims("alice"));
    let answer = own_check(&server, Some(&format!("Bearer {hs384}"))).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::UNAUTHORIZED, "unsupported_algorithm")
    );

    for junk in [
        "Bearer",
        "Bearer abc.def.ghi",
        "Basic dXNlcjpwYXNz",
        "token",
    ] {
        let answer = own_check(&server, Some(junk)).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{junk}: {}",
            answer.text
        );
    }

    let no_user = hs(Algorithm::HS256, SECRET, &json!({ "exp": now() + 600 }));
    let answer = own_check(&server, Some(&format!("Bearer {no_user}"))).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
}

#[tokio::test]
async fn rs256_tokens_verify_against_the_jwks() {
    let server = start().await;
    let key = EncodingKey::from_rsa_pem(RSA_KEY.as_bytes()).expect("rsa key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-1".into());
    let token = encode(&header, &claims("alice"), &key).expect("encode");
    let answer = own_check(&server, Some(&format!("Bearer {token}"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);

    // The RSA token re-labelled HS256 (the classic key-confusion attack) must not pass.
    let parts: Vec<&str> = token.split('.').collect();
    let confused = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        parts[1],
        parts[2]
    );
    let answer = own_check(&server, Some(&format!("Bearer {confused}"))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let server = start_with(Options {
        issuer: Some("https://lms.example".into()),
        audience: Some("provost".into()),
        ..Options::default()
    })
    .await;
    let mut c = claims("alice");
    let plain = hs(Algorithm::HS256, SECRET, &c);
    assert_eq!(
        own_check(&server, Some(&format!("Bearer {plain}")))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    c["iss"] = json!("https://lms.example");
    c["aud"] = json!("someone-else");
    let wrong_aud = hs(Algorithm::HS256, SECRET, &c);
    let answer = own_check(&server, Some(&format!("Bearer {wrong_aud}"))).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::UNAUTHORIZED, "invalid_audience")
    );
    c["aud"] = json!("provost");
    let good = hs(Algorithm::HS256, SECRET, &c);
    assert_eq!(
        own_check(&server, Some(&format!("Bearer {good}")))
            .await
            .status,
        StatusCode::OK
    );
    // Minted tokens carry the configured issuer and audience.
    let minted = server.token("alice");
    assert_eq!(
        own_check(&server, Some(&format!("Bearer {minted}")))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn ops_routes_are_open_and_unknown_routes_answer_in_shape() {
    let server = start().await;
    let health = server.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "ok");
    assert_eq!(health.body["backend"], server.node.store().backend());
    assert_eq!(health.body["database"], "ok");
    assert!(health.body["revision"].as_u64().is_some_and(|r| r > 0));

    let missing = server
        .call(Method::GET, "/api/v1/nope", Some(&server.admin()), None)
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let wrong = server
        .call(Method::DELETE, "/api/v1/check", Some(&server.admin()), None)
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let wrong = server.call(Method::POST, "/healthz", None, None).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);

    // Every answer carries a request id; a given one is echoed.
    let response = server
        .client
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "given-id")
        .send()
        .await
        .expect("send");
    assert_eq!(response.headers()["x-request-id"], "given-id");
    let response = server
        .client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("send");
    assert!(response.headers().contains_key("x-request-id"));
}
