//! The API page a person opens first: `/` links it, `/docs/` renders every operation in a real
//! browser (headless Chromium, installed by `scripts/ensure-chromium.sh`), from assets the
//! binary carries.

use std::process::Command;

use crate::{Cli, ServeNode};

/// The page as Chromium leaves it once its scripts have run.
fn rendered(url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            // No network but the node: an asset fetched from a CDN would fail to load.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("chromium runs (scripts/ensure-chromium.sh installs it)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn chromium() -> String {
    std::env::var("PROVOST_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

#[test]
fn the_api_page_renders_every_operation_in_a_browser() {
    let cli = Cli::new();
    let node = ServeNode::start(&cli.url());
    let home = rendered(&format!("{}/", node.url));
    assert!(
        home.contains("href=\"/docs/\"") && home.contains("href=\"/healthz\""),
        "{home}"
    );
    let page = rendered(&format!("{}/docs/", node.url));
    // Swagger UI draws one block per operation once it has fetched and read the document.
    for operation in ["/api/v1/check", "/api/v1/assignments", "/healthz"] {
        assert!(
            page.contains(&format!("data-path=\"{operation}\"")),
            "{operation} is not on the page:\n{}",
            &page[..page.len().min(2000)]
        );
    }
    assert!(page.contains("Provost"), "the document's title is shown");
}
