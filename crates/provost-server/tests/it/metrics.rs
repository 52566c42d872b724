//! `/metrics`: strangers cannot add series to it, and it can have its own listener and token.

use std::collections::BTreeSet;

use rand::distributions::Alphanumeric;
use rand::Rng;
use reqwest::{Method, StatusCode};

use crate::support::{start, start_with, Options, TestServer};

/// Every series of the `provost_http_*` metrics: name and labels, without the value.
fn series(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| line.starts_with("provost_http_"))
        .filter_map(|line| line.rsplit_once(' ').map(|(series, _)| series.to_owned()))
        .collect()
}

async fn scrape(server: &TestServer) -> String {
    let answer = server.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.text
}

fn word(rng: &mut impl Rng, len: usize) -> String {
    rng.sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A request with a made-up method: on a made-up path, on a route (405), or on a route with a
/// made-up path parameter. Answers the method sent.
async fn stranger(client: reqwest::Client, base: String, n: usize) -> String {
    let (method, path) = {
        let mut rng = rand::thread_rng();
        let len = rng.gen_range(3..12);
        let method = format!("X{}", word(&mut rng, len).to_ascii_uppercase());
        let path = match n % 3 {
            0 => format!("/{}/{}", word(&mut rng, 8), word(&mut rng, 5)),
            1 => "/healthz".to_owned(),
            _ => format!("/api/v1/roles/{}", word(&mut rng, 10)),
        };
        (method, path)
    };
    let verb = Method::from_bytes(method.as_bytes()).expect("a method token");
    let response = client
        .request(verb, format!("{base}{path}"))
        .send()
        .await
        .expect("sent");
    assert!(
        matches!(response.status().as_u16(), 404 | 405),
        "{method} {path}: {}",
        response.status()
    );
    method
}

#[tokio::test]
async fn made_up_methods_and_paths_add_no_series() {
    let server = start().await;
    // Every kind of stranger once, and one scrape: the series they make are all there will be.
    for n in 0..6 {
        stranger(server.client.clone(), server.base.clone(), n).await;
    }
    scrape(&server).await;
    let before = series(&scrape(&server).await);
    assert!(
        before.iter().any(|s| s.contains("method=\"other\"")
            && s.contains("route=\"unmatched\"")
            && s.contains("status=\"404\"")),
        "{before:#?}"
    );

    // 20 000 of them, 32 at a time.
    let mut sent = Vec::new();
    let mut running = tokio::task::JoinSet::new();
    for n in 0..20_000 {
        if running.len() == 32 {
            sent.push(running.join_next().await.expect("a task").expect("joined"));
        }
        running.spawn(stranger(server.client.clone(), server.base.clone(), n));
    }
    while let Some(method) = running.join_next().await {
        sent.push(method.expect("joined"));
    }
    assert_eq!(sent.len(), 20_000);

    let text = scrape(&server).await;
    assert_eq!(series(&text), before);
    assert!(
        !sent.iter().take(100).any(|m| text.contains(m.as_str())),
        "a made-up method became a label"
    );
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let server = start_with(Options {
        metrics_token: Some("scrape-secret".into()),
        ..Options::default()
    })
    .await;
    let none = server.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(
        (none.status, none.code()),
        (StatusCode::UNAUTHORIZED, "missing_token")
    );
    let wrong = server
        .call(Method::GET, "/metrics", Some("scrape-secreT"), None)
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    // A user's JWT is not the metrics token either.
    let jwt = server.admin();
    let user = server.call(Method::GET, "/metrics", Some(&jwt), None).await;
    assert_eq!(user.status, StatusCode::UNAUTHORIZED);
    let right = server
        .call(Method::GET, "/metrics", Some("scrape-secret"), None)
        .await;
    assert_eq!(right.status, StatusCode::OK);
    assert!(right.text.contains("provost_http_requests_total"));
}

#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let server = start_with(Options {
        metrics_separate: true,
        metrics_token: Some("scrape-secret".into()),
        ..Options::default()
    })
    .await;
    let main = server.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(
        (main.status, main.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let main = server
        .call(Method::GET, "/metrics", Some("scrape-secret"), None)
        .await;
    assert_eq!(main.status, StatusCode::NOT_FOUND);
    // The API stays on the main listener.
    let health = server.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);

    let base = server.metrics_base.clone().expect("a metrics listener");
    let get = |token: Option<&str>| {
        let mut request = server.client.get(format!("{base}/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let refused = get(None).await.expect("sent");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let text = get(Some("scrape-secret"))
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    // It counts the main listener's requests.
    assert!(text.contains("route=\"/healthz\""), "{text}");
    let other = server
        .client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}
