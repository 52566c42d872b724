//! `provost serve --metrics-listen/--metrics-token`: `/metrics` on its own address, behind a token.

use crate::{Cli, ServeNode};

#[tokio::test]
async fn metrics_get_their_own_address_and_token() {
    let cli = Cli::new();
    let server = ServeNode::start_with(
        &cli.url(),
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-token",
            "scrape-secret",
        ],
    );
    let address = server.listening["fields"]["metrics_address"]
        .as_str()
        .expect("the listening line names the metrics address");
    assert_ne!(format!("http://{address}"), server.url);
    let client = reqwest::Client::new();
    let main = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .expect("sent");
    assert_eq!(main.status().as_u16(), 404);
    let refused = client
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status().as_u16(), 401);
    let body: serde_json::Value = refused.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "missing_token");
    let scraped = client
        .get(format!("http://{address}/metrics"))
        .bearer_auth("scrape-secret")
        .send()
        .await
        .expect("sent");
    assert_eq!(scraped.status().as_u16(), 200);
    let text = scraped.text().await.expect("text");
    assert!(text.contains("provost_http_requests_total"), "{text}");
}

#[test]
fn the_metrics_token_stays_out_of_help() {
    let cli = Cli::new();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
        .args(["serve", "--help"])
        .env("PROVOST_METRICS_TOKEN", "scrape-secret")
        .env("PROVOST_METRICS_LISTEN", "127.0.0.1:9464")
        .env("PROVOST_DATABASE_URL", cli.url())
        .output()
        .expect("provost runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--metrics-token"), "{help}");
    assert!(help.contains("--jwt-leeway"), "{help}");
    assert!(!help.contains("scrape-secret"), "{help}");
    // No value set in the environment shows, secret or not: every variable reads one way.
    assert!(!help.contains("127.0.0.1:9464"), "{help}");
    assert!(help.contains("[env: PROVOST_METRICS_LISTEN]"), "{help}");
}
