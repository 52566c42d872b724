//! `provost serve` and `provost token` (the HTTP side of the binary).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use provost_server::{
    AppState, AuthConfig, AuthSettings, DefaultPolicy, ErrorCode, Node, Secret, ServerConfig,
    TokenSpec,
};
use provost_store::StoreOptions;

use crate::output::Failure;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PROVOST_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    #[command(flatten)]
    pub keys: KeyArgs,

    /// Longest a request may run before it is answered 503 (e.g. `30s`, `500ms`).
    #[arg(long, env = "PROVOST_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Largest request body, in bytes.
    #[arg(long, env = "PROVOST_BODY_LIMIT", default_value_t = 1 << 20)]
    pub body_limit: usize,

    /// Longest a check with `at_least_revision` waits for this node to catch up.
    #[arg(long, env = "PROVOST_REVISION_WAIT", default_value = "2s", value_parser = parse_duration)]
    pub revision_wait: Duration,

    /// How often to read the audit log for changes made elsewhere (the CLI, other nodes).
    #[arg(long, env = "PROVOST_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub poll_interval: Duration,

    /// Serve `/metrics` on this address only (not on `--listen`), e.g. `127.0.0.1:9090`.
    #[arg(long, env = "PROVOST_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,

    /// Require `Authorization: Bearer <this token>` for `/metrics`.
    #[arg(long, env = "PROVOST_METRICS_TOKEN")]
    pub metrics_token: Option<String>,

    /// Never write: open SQLite with `mode=ro` (or use a PostgreSQL hot standby), run no
    /// migrations, load no policy; serve checks and lookups, follow the writers' changes, and
    /// answer every write 503 `read_only`.
    #[arg(long, env = "PROVOST_READ_ONLY")]
    pub read_only: bool,
}

impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeArgs")
            .field("listen", &self.listen)
            .field("keys", &self.keys)
            .field("request_timeout", &self.request_timeout)
            .field("body_limit", &self.body_limit)
            .field("revision_wait", &self.revision_wait)
            .field("poll_interval", &self.poll_interval)
            .field("metrics_listen", &self.metrics_listen)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// How tokens are verified. With none of these set, `serve` makes a secret for the run.
#[derive(Args)]
pub struct KeyArgs {
    /// HS256 secret shared with the LMS (its `JWT_SECRET_KEY`).
    #[arg(long, env = "PROVOST_JWT_SECRET")]
    pub jwt_secret: Option<String>,

    /// A JWKS file with the RS256 public keys tokens may be signed with.
    #[arg(long, env = "PROVOST_JWT_JWKS")]
    pub jwt_jwks: Option<PathBuf>,

    /// Required `iss` claim.
    #[arg(long, env = "PROVOST_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required `aud` claim.
    #[arg(long, env = "PROVOST_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Clock skew allowed on a token's `exp` and `nbf` (e.g. `30s`, `0s`).
    #[arg(long, env = "PROVOST_JWT_LEEWAY", default_value = "30s", value_parser = parse_duration)]
    pub jwt_leeway: Duration,
}

impl fmt::Debug for KeyArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyArgs")
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("jwt_jwks", &self.jwt_jwks)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("jwt_leeway", &self.jwt_leeway)
            .finish()
    }
}

#[derive(Args)]
pub struct TokenArgs {
    /// The username the token is for.
    #[arg(long)]
    pub user: String,

    /// Platform staff (`administrator: true`).
    #[arg(long)]
    pub staff: bool,

    /// Superuser (`superuser: true`).
    #[arg(long)]
    pub superuser: bool,

    /// How long the token is valid (e.g. `1h`, `30m`, `7d`).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub ttl: Duration,

    /// A role the token itself carries, `ROLE:SCOPE` (e.g. `enterprise_admin:<uuid>`); repeatable.
    #[arg(long = "role")]
    pub roles: Vec<String>,

    /// The server's HS256 secret. Without it, the secret a `provost serve` with no key wrote
    /// beside the SQLite database (`FILE.jwt-secret`).
    #[arg(long, env = "PROVOST_JWT_SECRET")]
    pub jwt_secret: Option<String>,

    /// `iss` claim to write (the server's required issuer).
    #[arg(long, env = "PROVOST_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// `aud` claim to write (the server's required audience).
    #[arg(long, env = "PROVOST_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

impl fmt::Debug for TokenArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenArgs")
            .field("user", &self.user)
            .field("staff", &self.staff)
            .field("superuser", &self.superuser)
            .field("ttl", &self.ttl)
            .field("roles", &self.roles)
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// `30s`, `500ms`, `15m`, `1h`, `7d`, or a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like `30s`, `15m` or `1h`"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit `{unit}` (ms, s, m, h, d)")),
    };
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

fn failure(code: ErrorCode, message: String) -> Failure {
    Failure { code, message }
}

/// `json`: the first run's admin token and sample request go to stdout as one JSON object.
pub async fn serve(
    database_url: &str,
    store: StoreOptions,
    args: ServeArgs,
    json: bool,
) -> Result<(), Failure> {
    let keys = args.keys;
    // Settings read from the environment are checked before anything starts.
    let event_bus = provost_server::events::EventBusConfig::from_env()?;
    let jwks = match &keys.jwt_jwks {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            failure(
                ErrorCode::UnreadableFile,
                format!("cannot read `{}`: {e}", path.display()),
            )
        })?),
        None => None,
    };
    let generated = keys.jwt_secret.is_none() && jwks.is_none();
    let mut secret_note = None;
    let secret = match keys.jwt_secret {
        Some(secret) => Some(secret),
        None if generated => {
            let (secret, note) = dev_secret(database_url, args.read_only)?;
            secret_note = note;
            Some(secret)
        }
        None => None,
    };
    let auth = AuthConfig::new(AuthSettings {
        hs256_secret: secret,
        jwks,
        issuer: keys.jwt_issuer,
        audience: keys.jwt_audience,
        leeway: Some(keys.jwt_leeway),
    })?;
    let store = StoreOptions {
        read_only: args.read_only,
        ..store
    };
    let (node, default_policy) = Node::open_noting(database_url, &store).await?;
    match default_policy {
        DefaultPolicy::Loaded { roles, permissions } => tracing::info!(
            roles,
            permissions,
            "created the database and loaded the default policy ({roles} roles, {permissions} permissions)"
        ),
        DefaultPolicy::Updated { changes } => tracing::info!(
            changes,
            "the shipped default policy changed since it was loaded here: applied {changes} change(s)"
        ),
        DefaultPolicy::Unchanged => {}
    }
    let listener = bind(&args.listen).await?;
    let address = listener
        .local_addr()
        .map_or_else(|_| args.listen.clone(), |a| a.to_string());
    let metrics_listener = match &args.metrics_listen {
        Some(listen) => Some(bind(listen).await?),
        None => None,
    };
    let metrics_address = metrics_listener
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.to_string());
    if generated {
        let spec = TokenSpec {
            username: "admin".into(),
            superuser: true,
            ttl: Duration::from_secs(12 * 3600),
            ..TokenSpec::default()
        };
        let token = auth.mint(&spec)?;
        let note = secret_note.unwrap_or_else(|| {
            "this run uses a random HS256 secret: tokens from earlier runs will not work".into()
        });
        // On stdout, apart from the log lines on stderr.
        if json {
            let check = format!("http://{address}/api/v1/check?explain=true");
            let line = serde_json::json!({ "note": note, "token": token, "ttl_seconds": spec.ttl.as_secs(), "check_url": check });
            println!("{line}");
        } else {
            println!(
            "No JWT key is configured (PROVOST_JWT_SECRET or PROVOST_JWT_JWKS): {note}.\n\
             An admin token (superuser, 12 h):\n\n  {token}\n\n\
             Try (the answer explains itself):\n  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n    \
             -d '{{\"subject\":\"alice\",\"action\":\"courses.view_course\",\"scope\":\"course-v1:MITx+6.00x+2024T1\"}}' \\\n    \
             'http://{address}/api/v1/check?explain=true'\n"
            );
        }
    }
    tracing::info!(
        %address,
        metrics_address = metrics_address.as_deref().unwrap_or(&address),
        backend = node.store().backend(),
        revision = node.engine().revision(),
        read_only = store.read_only,
        "provost is listening"
    );
    // Role-assignment events on the Open edX event bus, when configured.
    let _publisher = event_bus.map(|bus| provost_server::events::spawn(node.clone(), bus));
    let config = ServerConfig {
        auth,
        request_timeout: args.request_timeout,
        body_limit: args.body_limit,
        revision_wait: args.revision_wait,
        poll_interval: args.poll_interval,
        metrics_separate: metrics_listener.is_some(),
        metrics_token: args.metrics_token.and_then(Secret::new),
        reports: provost_server::apps::programs::reports::ReportSettings::from_env()?,
        batch_calendar: provost_server::apps::batches::days::Calendar::from_env()?,
        ..ServerConfig::default()
    };
    let state = AppState::new(node.clone(), config);
    // One signal stops both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let metrics = metrics_listener.map(|listener| {
        tokio::spawn(provost_server::serve_metrics(
            listener,
            state.clone(),
            until_stopped(),
        ))
    });
    let mut main = std::pin::pin!(provost_server::serve(listener, state, until_stopped()));
    let served = tokio::select! {
        served = &mut main => served,
        () = shutdown_signal() => {
            let _ = stop.send(true);
            main.await
        }
    };
    // The main listener may also have stopped by itself: the metrics one follows it.
    let _ = stop.send(true);
    let metrics_served = match metrics {
        Some(task) => task.await.unwrap_or(Ok(())),
        None => Ok(()),
    };
    node.store().close().await;
    served
        .and(metrics_served)
        .map_err(|e| failure(ErrorCode::ServerFailed, format!("the server stopped: {e}")))?;
    tracing::info!("provost stopped");
    Ok(())
}

async fn bind(listen: &str) -> Result<tokio::net::TcpListener, Failure> {
    tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        failure(
            ErrorCode::CannotListen,
            format!("cannot listen on `{listen}`: {e}"),
        )
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

/// Where `serve` keeps the secret it made for a SQLite database: beside the file, as
/// `FILE.jwt-secret` (mode 0600). None for PostgreSQL and in-memory databases.
fn secret_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let file = rest.split_once('?').map_or(rest, |(f, _)| f);
    if file.is_empty() || file.starts_with(":memory:") {
        return None;
    }
    Some(PathBuf::from(format!("{file}.jwt-secret")))
}

/// The secret of a server with no key configured: the one an earlier run wrote beside the
/// database, or a new one written there with mode 0600 (so that `provost token` can mint
/// tokens for this server), with a note on which.
fn dev_secret(database_url: &str, read_only: bool) -> Result<(String, Option<String>), Failure> {
    let Some(path) = secret_file(database_url) else {
        return Ok((AuthConfig::random_secret(), None));
    };
    if let Ok(text) = std::fs::read_to_string(&path) {
        let secret = text.trim().to_owned();
        if !secret.is_empty() {
            let note = format!(
                "using the secret an earlier run wrote to `{}`",
                path.display()
            );
            return Ok((secret, Some(note)));
        }
    }
    let secret = AuthConfig::random_secret();
    if read_only {
        return Ok((secret, None));
    }
    write_private(&path, &secret).map_err(|e| {
        failure(
            ErrorCode::CannotWrite,
            format!("cannot write the JWT secret to `{}`: {e}", path.display()),
        )
    })?;
    let note = format!(
        "made a random HS256 secret and wrote it to `{}` (mode 0600); `provost token` reads it",
        path.display()
    );
    Ok((secret, Some(note)))
}

/// Writes `text` to a new file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}

/// Prints the token, or `{"token": ...}` with `json`.
pub fn token(args: TokenArgs, database_url: &str, json: bool) -> Result<(), Failure> {
    let from_file = || {
        let path = secret_file(database_url)?;
        let text = std::fs::read_to_string(path).ok()?;
        Some(text.trim().to_owned()).filter(|s| !s.is_empty())
    };
    let Some(secret) = args.jwt_secret.filter(|s| !s.is_empty()).or_else(from_file) else {
        let beside = secret_file(database_url)
            .map(|p| {
                format!(
                    ", or start `provost serve` without one first: it writes its secret to `{}`",
                    p.display()
                )
            })
            .unwrap_or_default();
        return Err(failure(
            ErrorCode::NoJwtSecret,
            format!("no JWT secret is configured: set PROVOST_JWT_SECRET (or pass --jwt-secret) to the server's HS256 secret{beside}"),
        ));
    };
    let auth = AuthConfig::new(AuthSettings {
        hs256_secret: Some(secret),
        jwks: None,
        issuer: args.jwt_issuer,
        audience: args.jwt_audience,
        leeway: None,
    })?;
    let token = auth.mint(&TokenSpec {
        username: args.user,
        staff: args.staff,
        superuser: args.superuser,
        roles: args.roles,
        ttl: args.ttl,
    })?;
    if json {
        return crate::output::print(&serde_json::json!({ "token": token }).to_string());
    }
    crate::output::print(&token)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("h").is_err());
    }
}
