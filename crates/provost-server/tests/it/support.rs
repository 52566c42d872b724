//! A real server on 127.0.0.1:0 over a temporary SQLite file, and an HTTP client for it.

use std::time::Duration;

use provost_server::{AppState, AuthConfig, AuthSettings, Node, Secret, ServerConfig, TokenSpec};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const SECRET: &str = "test-secret-for-provost";
pub const JWKS: &str = include_str!("fixtures/jwks.json");
pub const RSA_KEY: &str = include_str!("fixtures/rs256-test-key.pem");
pub const COURSE: &str = "course-v1:MITx+6.00x+2024T1";

pub struct TestServer {
    pub base: String,
    /// The metrics listener's base URL, when `Options::metrics_separate` asked for one.
    pub metrics_base: Option<String>,
    /// The database URL, for a second node on the same file.
    pub url: String,
    /// The same node the server uses (for set-up the API has no route for).
    pub node: Node,
    pub auth: AuthConfig,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    /// The PostgreSQL database this server owns, dropped with it.
    database: Option<crate::cluster::Database>,
    _dir: TempDir,
}

/// Settings for a test server; `start()` uses the defaults.
pub struct Options {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub body_limit: usize,
    /// Clock skew allowed on tokens (the server's default when `None`).
    pub leeway: Option<Duration>,
    /// `/metrics` on a listener of its own (`TestServer::metrics_base`).
    pub metrics_separate: bool,
    pub metrics_token: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            issuer: None,
            audience: None,
            body_limit: 64 * 1024,
            leeway: None,
            metrics_separate: false,
            metrics_token: None,
        }
    }
}

pub async fn start() -> TestServer {
    start_with(Options::default()).await
}

/// With `PROVOST_TEST_BACKEND=postgres` every test server gets a fresh PostgreSQL database
/// (`scripts/test.sh` runs the suite both ways); otherwise a temporary SQLite file.
pub async fn start_with(options: Options) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    if std::env::var("PROVOST_TEST_BACKEND").as_deref() == Ok("postgres") {
        let db = crate::cluster::Database::create().await;
        let mut server = start_node(options, db.url.clone(), dir).await;
        server.database = Some(db);
        return server;
    }
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("provost.db").display()
    );
    start_node(options, url, dir).await
}

/// A server on an existing database (a second node on the same PostgreSQL, say).
pub async fn start_on(url: &str) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    start_node(Options::default(), url.to_owned(), dir).await
}

async fn start_node(options: Options, url: String, dir: TempDir) -> TestServer {
    let node = Node::open(&url).await.expect("node opens");
    let auth = AuthConfig::new(AuthSettings {
        hs256_secret: Some(SECRET.into()),
        jwks: Some(JWKS.into()),
        issuer: options.issuer,
        audience: options.audience,
        leeway: options.leeway,
    })
    .expect("auth config");
    let config = ServerConfig {
        auth: auth.clone(),
        body_limit: options.body_limit,
        metrics_separate: options.metrics_separate,
        metrics_token: options.metrics_token.and_then(Secret::new),
        ..test_config()
    };
    serve_node(node, config, url, dir).await
}

/// The settings of every test server: short waits, test keys.
pub fn test_config() -> ServerConfig {
    let auth = AuthConfig::new(AuthSettings {
        hs256_secret: Some(SECRET.into()),
        jwks: Some(JWKS.into()),
        issuer: None,
        audience: None,
        leeway: None,
    })
    .expect("auth config");
    ServerConfig {
        auth,
        revision_wait: Duration::from_millis(300),
        poll_interval: Duration::from_millis(100),
        ..ServerConfig::default()
    }
}

/// A server for a node the test opened itself (read-only, on a full disk, ...) on `url`.
pub async fn serve_node(node: Node, config: ServerConfig, url: String, dir: TempDir) -> TestServer {
    let auth = config.auth.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    let separate = config.metrics_separate;
    let state = AppState::new(node.clone(), config);
    let mut metrics_base = None;
    if separate {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        metrics_base = Some(format!(
            "http://{}",
            listener.local_addr().expect("address")
        ));
        // Stops with the runtime of the test.
        tokio::spawn(provost_server::serve_metrics(
            listener,
            state.clone(),
            std::future::pending(),
        ));
    }
    tokio::spawn(provost_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    TestServer {
        base: format!("http://{address}"),
        metrics_base,
        url,
        node,
        auth,
        client: reqwest::Client::new(),
        stop: Some(stop),
        database: None,
        _dir: dir,
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(db) = self.database.take() {
            // Drop is not async: drop the database from a thread with its own runtime.
            let _ = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    runtime.block_on(db.drop());
                }
            })
            .join();
        }
    }
}

/// An answer: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// The error code of an error body; panics when the body is not Provost's error shape.
    pub fn code(&self) -> &str {
        let error = &self.body["error"];
        assert!(
            error["message"].is_string(),
            "not an error body ({}): {}",
            self.status,
            self.text
        );
        error["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {}", self.text))
    }
}

impl TestServer {
    pub fn token(&self, user: &str) -> String {
        self.token_with(TokenSpec {
            username: user.into(),
            ttl: Duration::from_secs(600),
            ..TokenSpec::default()
        })
    }

    pub fn admin(&self) -> String {
        self.token_with(TokenSpec {
            username: "admin".into(),
            superuser: true,
            ttl: Duration::from_secs(600),
            ..TokenSpec::default()
        })
    }

    pub fn token_with(&self, spec: TokenSpec) -> String {
        self.auth.mint(&spec).expect("mint")
    }

    /// Sends a request with a bearer token (if any) and a JSON body (if any).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("request is sent")).await
    }

    /// Sends raw bytes with the given content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        answer(request.send().await.expect("request is sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn revision(&self) -> u64 {
        let health = self.call(Method::GET, "/healthz", None, None).await;
        health.body["revision"].as_u64().expect("revision")
    }

    /// Assigns as admin; panics unless every item was applied.
    pub async fn assign(&self, items: Value) -> u64 {
        let answer = self
            .post(
                "/api/v1/assignments",
                &self.admin(),
                json!({ "assignments": items }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["revision"].as_u64().expect("revision")
    }

    pub async fn check(&self, token: &str, body: Value) -> Answer {
        self.post("/api/v1/check", token, body).await
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body, text }
}

/// Percent-encodes a value for a query string (`+` would otherwise read as a space).
pub fn enc(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':' | b'*') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
