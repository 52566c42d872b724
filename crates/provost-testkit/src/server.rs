//! A real server on 127.0.0.1:0 over a test database, with tokens and clients for it.

use std::time::Duration;

use provost_server::{AppState, AuthConfig, AuthSettings, Node, Secret, ServerConfig, TokenSpec};
use reqwest::Method;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;

use crate::client::{Answer, Client};
use crate::db::TestDatabase;

pub const SECRET: &str = "test-secret-for-provost";
pub const JWKS: &str = include_str!("../fixtures/jwks.json");
pub const RSA_KEY: &str = include_str!("../fixtures/rs256-test-key.pem");

pub struct TestServer {
    pub base: String,
    /// The metrics listener's base URL, when `Options::metrics_separate` asked for one.
    pub metrics_base: Option<String>,
    /// The database URL, for a second node on the same database.
    pub url: String,
    /// The same node the server uses (for set-up the API has no route for).
    pub node: Node,
    pub auth: AuthConfig,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    /// The database this server owns, dropped after it stops.
    database: Option<TestDatabase>,
    _dir: Option<TempDir>,
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
/// (`scripts/test.sh` runs the HTTP suite both ways); otherwise a temporary SQLite file.
pub async fn start_with(options: Options) -> TestServer {
    let database = TestDatabase::from_env().await;
    let mut server = start_node(options, database.url.clone(), None).await;
    server.database = Some(database);
    server
}

/// A server on an existing database (a second node on the same PostgreSQL, say).
pub async fn start_on(url: &str) -> TestServer {
    start_node(Options::default(), url.to_owned(), None).await
}

async fn start_node(options: Options, url: String, dir: Option<TempDir>) -> TestServer {
    let node = Node::open(&url).await.expect("node opens");
    let config = ServerConfig {
        auth: auth(options.issuer, options.audience, options.leeway),
        body_limit: options.body_limit,
        metrics_separate: options.metrics_separate,
        metrics_token: options.metrics_token.and_then(Secret::new),
        ..test_config()
    };
    serve(node, config, url, dir).await
}

fn auth(issuer: Option<String>, audience: Option<String>, leeway: Option<Duration>) -> AuthConfig {
    AuthConfig::new(AuthSettings {
        hs256_secret: Some(SECRET.into()),
        jwks: Some(JWKS.into()),
        issuer,
        audience,
        leeway,
    })
    .expect("auth config")
}

/// The settings of every test server: short waits, test keys.
pub fn test_config() -> ServerConfig {
    ServerConfig {
        auth: auth(None, None, None),
        revision_wait: Duration::from_millis(300),
        poll_interval: Duration::from_millis(100),
        ..ServerConfig::default()
    }
}

/// A server for a node the test opened itself (read-only, on a full disk, ...) on `url`;
/// `dir` (the node's files) lives as long as the server.
pub async fn serve_node(node: Node, config: ServerConfig, url: String, dir: TempDir) -> TestServer {
    serve(node, config, url, Some(dir)).await
}

async fn serve(node: Node, config: ServerConfig, url: String, dir: Option<TempDir>) -> TestServer {
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
        // `database` drops after this: a PostgreSQL database is dropped with FORCE, closing
        // the connections the stopping server still holds.
    }
}

impl TestServer {
    /// A client that sends `user`'s token (a plain user: neither staff nor superuser).
    pub fn as_user(&self, user: &str) -> Client<'_> {
        Client::new(self, Some(self.token(user)))
    }

    /// A client that sends a superuser's token (`admin`).
    pub fn as_admin(&self) -> Client<'_> {
        Client::new(self, Some(self.admin()))
    }

    /// A client that sends the given token (minted with `token_with`, or malformed on purpose).
    pub fn with_token(&self, token: &str) -> Client<'_> {
        Client::new(self, Some(token.to_owned()))
    }

    /// A client that sends no token.
    pub fn anonymous(&self) -> Client<'_> {
        Client::new(self, None)
    }

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
        Client::new(self, token.map(str::to_owned))
            .send(method, path, body)
            .await
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
        self.with_token(token)
            .raw(method, path, content_type, body)
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.with_token(token).get(path).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.with_token(token).post(path, body).await
    }

    /// The revision `/healthz` reports.
    pub async fn revision(&self) -> u64 {
        self.anonymous().get("/healthz").await.revision()
    }

    /// Assigns as admin; panics unless every item was applied.
    pub async fn assign(&self, items: Value) -> u64 {
        self.as_admin()
            .post("/api/v1/assignments", json!({ "assignments": items }))
            .await
            .ok()
            .revision()
    }

    /// Whether `subject` may do `action` at `scope` (asked as admin; panics on a refusal).
    pub async fn allows(&self, subject: &str, action: &str, scope: &str) -> bool {
        let question = json!({ "subject": subject, "action": action, "scope": scope });
        let answer = self.as_admin().post("/api/v1/check", question).await.ok();
        answer.body["allowed"].as_bool().expect("allowed")
    }

    pub async fn check(&self, token: &str, body: Value) -> Answer {
        self.post("/api/v1/check", token, body).await
    }
}
