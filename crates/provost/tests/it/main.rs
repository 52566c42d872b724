//! Tests of the real `provost` binary: the CLI on a fresh SQLite file per test, and `serve` nodes.

mod commands;
mod nodes;
mod scenario;

use std::path::PathBuf;
use std::process::Output;

/// A fresh database in its own directory, and a way to run `provost` against it.
pub struct Cli {
    _dir: tempfile::TempDir,
    pub db: PathBuf,
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

    pub fn run(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
            .args(args)
            .env(
                "PROVOST_DATABASE_URL",
                format!("sqlite://{}?mode=rwc", self.db.display()),
            )
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
