//! Operating the binary: a closed stdout, errors without backtraces, the audit log newest first.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{Cli, SECRET};

const COURSE: &str = "course-v1:MITx+6.00x+2024T1";

/// Runs `provost ARGS` with its stdout already closed by the reader (as `| head -1` does once it
/// has its line) and `RUST_BACKTRACE=1` as in CI; returns (exit code, stderr).
fn with_closed_stdout(cli: &Cli, args: &[&str]) -> (i32, String) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_provost"))
        .args(args)
        .env("PROVOST_DATABASE_URL", cli.url())
        .env("PROVOST_LOG", "warn")
        .env("PROVOST_JWT_SECRET", SECRET)
        .env("RUST_BACKTRACE", "1")
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("provost runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let cli = Cli::new();
    cli.ok(&["assign", "alice", "course_staff", COURSE]);
    for args in [
        &["audit"][..],
        &["roles", "list"],
        &["--json", "roles", "list"],
        &["who", "courses.view_course", COURSE],
        &["token", "--user", "alice"],
    ] {
        let (code, err) = with_closed_stdout(&cli, args);
        assert_eq!(code, 0, "provost {args:?}: {err}");
        assert_eq!(err, "", "provost {args:?} says nothing on stderr");
    }
    // `check` answers by its exit status, which a closed stdout does not change.
    let denied = with_closed_stdout(&cli, &["check", "bob", "courses.view_course", COURSE]);
    assert_eq!(denied, (1, String::new()));
    let allowed = with_closed_stdout(&cli, &["check", "alice", "courses.view_course", COURSE]);
    assert_eq!(allowed, (0, String::new()));
}

#[test]
fn expected_errors_show_no_backtrace() {
    let cli = Cli::new();
    for (args, code) in [
        (
            &["check", "alice", "courses.view_course", "org:MIT*"][..],
            "invalid_scope",
        ),
        (&["assign", "alice", "no_such_role", COURSE], "unknown_role"),
        (
            &[
                "--database-url",
                "postgres://postgres@127.0.0.1:1/provost",
                "roles",
                "list",
            ],
            "database_unavailable",
        ),
        (&["audit", "--since", "1", "--before", "5"], "--before"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_provost"))
            .args(args)
            .env("PROVOST_DATABASE_URL", cli.url())
            .env("PROVOST_LOG", "warn")
            .env("RUST_BACKTRACE", "1")
            .output()
            .expect("provost runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(code), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{args:?}: {err}"
        );
    }
}

fn revisions(audit: &str) -> Vec<u64> {
    let rows: Value = serde_json::from_str(audit).expect("json");
    rows.as_array()
        .expect("array")
        .iter()
        .map(|r| r["revision"].as_u64().expect("revision"))
        .collect()
}

#[test]
fn audit_shows_the_newest_changes_first() {
    let cli = Cli::new();
    cli.ok(&["assign", "alice", "course_staff", COURSE]);
    cli.ok(&["assign", "bob", "course_staff", COURSE]);
    // For people: the latest change on top, not the default policy loaded at first start.
    let text = cli.ok(&["audit", "--limit", "2"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("assign bob course_staff"), "{text}");
    assert!(lines[1].contains("assign alice course_staff"), "{text}");

    let newest = revisions(&cli.ok(&["--json", "audit", "--limit", "2"]));
    let last = newest[0];
    assert_eq!(newest, [last, last - 1]);
    // `--before` pages back from the last revision shown.
    let before = (last - 1).to_string();
    let older = revisions(&cli.ok(&["--json", "audit", "--limit", "2", "--before", &before]));
    assert_eq!(older, [last - 2, last - 3]);
    // `--since` reads forward, oldest first: the change feed.
    let feed = revisions(&cli.ok(&["--json", "audit", "--since", "0", "--limit", "2"]));
    assert_eq!(feed, [1, 2]);
}
