//! Tests of the real `provost` binary: the CLI on a fresh SQLite file per test, and `serve` nodes.

mod api_page;
mod batches;
mod commands;
mod docs;
mod enterprise;
mod events;
mod help;
mod legacy;
mod metrics;
mod nodes;
mod ops;
mod programs;
mod progress;
mod scenario;
mod teach;

use std::path::PathBuf;
use std::process::Output;

/// A fresh database in its own directory, and a way to run `provost` against it.
pub struct Cli {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Default for Cli {
    fn default() -> Self {
        Cli::new()
    }
}

impl Cli {
    pub fn new() -> Cli {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("provost.db");
        Cli { _dir: dir, db }
    }

    /// The database URL every command of this test runs against.
    pub fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.db.display())
    }

    pub fn run(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
            .args(args)
            .env("PROVOST_DATABASE_URL", self.url())
            .env("PROVOST_LOG", "warn")
            .output()
            .expect("provost runs")
    }

    /// Runs and returns (exit code, stdout, stderr).
    pub fn exec(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.run(args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs a command that must succeed and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.exec(args);
        assert_eq!(code, 0, "provost {args:?} failed: {err}");
        out
    }
}

/// The JWT secret of every `serve` a test starts (and of the tokens it mints).
pub const SECRET: &str = "nodes-test-secret-0123456789abcdef";

/// A superuser's token for `serve` nodes started with `SECRET`, minted by `provost token`.
pub fn admin_token() -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
        .args(["token", "--user", "admin", "--superuser", "--ttl", "10m"])
        .env("PROVOST_JWT_SECRET", SECRET)
        .output()
        .expect("provost token runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// A `provost serve` process, the address it listens on, and its "listening" log entry.
pub struct ServeNode {
    pub child: std::process::Child,
    pub url: String,
    pub listening: serde_json::Value,
}

impl ServeNode {
    /// Starts a node on a free port with JSON logs and waits for its "listening" line; every
    /// line before it must be a JSON object.
    pub fn start(database_url: &str) -> ServeNode {
        ServeNode::start_with(database_url, &[])
    }

    /// `start` with more `serve` arguments.
    pub fn start_with(database_url: &str, extra: &[&str]) -> ServeNode {
        ServeNode::start_with_env(database_url, extra, &[])
    }

    /// `start_with` and more environment variables.
    pub fn start_with_env(database_url: &str, extra: &[&str], env: &[(&str, &str)]) -> ServeNode {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .env("PROVOST_DATABASE_URL", database_url)
            .env("PROVOST_JWT_SECRET", SECRET)
            .env("PROVOST_LOG", "info")
            .env("PROVOST_POLL_INTERVAL", "200ms")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("provost serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let listening = loop {
            let line = lines
                .next()
                .expect("the node logs until it listens")
                .expect("a log line");
            let entry: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
            if entry["fields"]["message"] == "provost is listening" {
                break entry;
            }
        };
        let address = listening["fields"]["address"]
            .as_str()
            .expect("the listening line names its address");
        let url = format!("http://{address}");
        // Keep draining stderr so the node never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        ServeNode {
            child,
            url,
            listening,
        }
    }
}

impl Drop for ServeNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
