//! Operating the binary: a closed stdout, errors without backtraces, the audit log newest
//! first, and `serve --read-only` on a SQLite file another process writes.

use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::{admin_token, Cli, ServeNode, SECRET};

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
        (
            &["--db-acquire-timeout", "soon", "roles", "list"],
            "not a duration",
        ),
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

async fn call(node: &ServeNode, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .request(method, format!("{}{path}", node.url))
        .bearer_auth(admin_token())
        .json(&body)
        .send()
        .await
        .expect("the node answers");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("a JSON answer"))
}

async fn allowed(node: &ServeNode, subject: &str, at_least: u64) -> bool {
    let question = json!({
        "subject": subject, "action": "courses.edit_course_content", "scope": COURSE,
        "at_least_revision": at_least,
    });
    let (status, body) = call(node, reqwest::Method::POST, "/api/v1/check", question).await;
    assert_eq!(status, 200, "{body}");
    body["allowed"] == true
}

fn assign_revision(cli: &Cli, subject: &str) -> u64 {
    let out: Value =
        serde_json::from_str(&cli.ok(&["--json", "assign", subject, "course_staff", COURSE]))
            .expect("json");
    out["revision"].as_u64().expect("revision")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_node_follows_a_writer_and_refuses_writes() {
    let cli = Cli::new();
    let first = assign_revision(&cli, "alice");
    let reader = ServeNode::start_with(&cli.url(), &["--read-only"]);
    assert_eq!(reader.listening["fields"]["read_only"], true);
    assert!(allowed(&reader, "alice", first).await);

    // Another process writes the file; the read-only node sees it by the audit log.
    let second = assign_revision(&cli, "bob");
    assert!(allowed(&reader, "bob", second).await);

    let grant =
        json!({ "assignments": [{ "subject": "carol", "role": "course_staff", "scope": COURSE }] });
    let (status, body) = call(&reader, reqwest::Method::POST, "/api/v1/assignments", grant).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "read_only", "{body}");
    let (status, body) = call(
        &reader,
        reqwest::Method::DELETE,
        "/api/v1/users/alice",
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("read_only")),
        "{body}"
    );
    assert_eq!(
        cli.ok(&["who", "courses.view_course", COURSE]).trim(),
        "alice\nbob"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_node_starts_on_a_read_only_file_and_leaves_it_as_it_was() {
    use std::os::unix::fs::PermissionsExt;
    let cli = Cli::new();
    let revision = assign_revision(&cli, "alice");
    let db = cli.url();
    let path = db
        .trim_start_matches("sqlite://")
        .trim_end_matches("?mode=rwc")
        .to_owned();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let before = std::fs::read(&path).expect("read the file");

    let reader = ServeNode::start_with(&db, &["--read-only"]);
    assert_eq!(reader.listening["fields"]["revision"], revision);
    assert!(allowed(&reader, "alice", revision).await);
    let grant =
        json!({ "assignments": [{ "subject": "bob", "role": "course_staff", "scope": COURSE }] });
    let (status, body) = call(&reader, reqwest::Method::POST, "/api/v1/assignments", grant).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("read_only")),
        "{body}"
    );
    drop(reader);
    // Not one byte written (root may write a 0444 file, so this is what proves it).
    assert_eq!(std::fs::read(&path).expect("read the file"), before);
}
