//! `provost legacy ...` against a real MariaDB/MySQL with the platform's role tables: the report
//! in text and JSON, refusals that exit 2 and change nothing, and a migration killed half way.

use std::process::Stdio;
use std::time::Duration;

use provost_engine::AssignmentKey;
use provost_store::{AssignmentFilter, Store};
use provost_testkit::mysql::LEGACY_COURSE;
use provost_testkit::{LegacyFixture, TestMysql};
use serde_json::Value;

use crate::Cli;

/// Every assignment in `cli`'s database, sorted.
async fn assignments(cli: &Cli) -> Vec<(String, String, String)> {
    let store = Store::connect(&cli.url()).await.expect("store");
    let mut all = Vec::new();
    let mut after: Option<AssignmentKey> = None;
    loop {
        let page = store
            .assignments(&AssignmentFilter::default(), after.as_ref(), 1000)
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        after = Some(AssignmentKey {
            subject: last.subject.clone(),
            role: last.role.clone(),
            scope: last.scope.clone(),
        });
        all.extend(page.into_iter().map(|a| (a.subject, a.role, a.scope)));
    }
    store.close().await;
    all
}

fn runs(cli: &Cli) -> Vec<Value> {
    let out = cli.ok(&["legacy", "runs", "--json"]);
    serde_json::from_str(&out).expect("runs json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_reports_each_row_in_text_and_json() {
    let db = TestMysql::create().await;
    db.load(&LegacyFixture::every_role()).await;
    let cli = Cli::new();
    let text = cli.ok(&[
        "legacy",
        "migrate",
        "--from",
        &db.url,
        "--course-id-list",
        LEGACY_COURSE,
    ]);
    assert!(text.contains("partial_success"), "{text}");
    assert!(
        text.lines().any(|l| l.contains("migrated")
            && l.contains("instructor")
            && l.contains("course_admin")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("unknown_user") && l.contains("#99")),
        "{text}"
    );
    let json = cli.ok(&[
        "legacy",
        "migrate",
        "--from",
        &db.url,
        "--course-id-list",
        LEGACY_COURSE,
        "--json",
    ]);
    let run: Value = serde_json::from_str(&json).expect("json");
    assert_eq!(run["counts"]["already_present"], 6);
    assert_eq!(run["counts"]["migrated"], Value::Null);
    assert_eq!(assignments(&cli).await.len(), 6);

    let flag = cli.ok(&[
        "legacy",
        "flag",
        "set",
        "authz.enable_course_authoring",
        "--scope",
        "org:MITx",
        "on",
    ]);
    assert!(flag.contains("is on"), "{flag}");
    let read = cli.ok(&[
        "legacy",
        "flag",
        "get",
        "authz.enable_course_authoring",
        "--scope",
        LEGACY_COURSE,
        "--json",
    ]);
    let read: Value = serde_json::from_str(&read).expect("json");
    assert_eq!(
        (read["enabled"].as_bool(), read["decided_by"].as_str()),
        (Some(true), Some("org"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_and_changes_nothing() {
    let db = TestMysql::create().await;
    db.load(&LegacyFixture::every_role()).await;
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("dir");
    let folder = dir.path().display().to_string();
    for args in [
        vec!["legacy", "migrate", "--from", "/nowhere/at/all", "--all"],
        vec![
            "legacy",
            "migrate",
            "--from",
            &db.url,
            "--course-id-list",
            "MITx/6.002x/2012_Fall",
        ],
        vec!["legacy", "migrate", "--from", &db.url, "--org", "MIT x"],
        vec!["legacy", "migrate", "--from", &folder, "--all", "--delete"],
        vec!["legacy", "rollback", "--to", &folder, "--all"],
        vec![
            "legacy",
            "flag",
            "set",
            "no.such_flag",
            "--scope",
            "*",
            "on",
        ],
        vec![
            "legacy",
            "flag",
            "get",
            "authz.enable_course_authoring",
            "--scope",
            "lib:MITx:x",
        ],
        vec!["legacy", "migrate", "--from", &db.url],
        vec![
            "legacy", "migrate", "--from", &db.url, "--all", "--org", "MITx",
        ],
        vec![
            "legacy",
            "migrate",
            "--from",
            &db.url,
            "--all",
            "--forum-students",
        ],
    ] {
        let (code, _, err) = cli.exec(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    assert_eq!(runs(&cli), Vec::<Value>::new());
    assert_eq!(assignments(&cli).await, []);
    // An unreachable database: the run is recorded as failed, nothing else changes.
    let (code, _, err) = cli.exec(&[
        "legacy",
        "migrate",
        "--from",
        "mysql://root@127.0.0.1:1/x",
        "--all",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("legacy_source_unavailable"), "{err}");
    assert_eq!(runs(&cli)[0]["status"], "failed");
    assert_eq!(assignments(&cli).await, []);
}

/// SIGKILL half way through, then the same command again: the same end state as one clean run,
/// and the dead run is marked failed instead of blocking its scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_killed_half_way_and_run_again_ends_like_one_clean_run() {
    const ROWS: u64 = 6000;
    let db = TestMysql::create().await;
    db.generate(ROWS).await;
    let args = [
        "legacy",
        "migrate",
        "--from",
        db.url.as_str(),
        "--all",
        "--batch-size",
        "50",
    ];

    let killed = Cli::new();
    // The database exists before two processes open it at once.
    assert_eq!(runs(&killed), Vec::<Value>::new());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
        .args(args)
        .env("PROVOST_DATABASE_URL", killed.url())
        .env("PROVOST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("provost runs");
    // Wait until some pages are in, then kill it without warning.
    let mut seen = 0;
    for _ in 0..6000 {
        if let Some(run) = runs_if_ready(&killed).first() {
            seen = run["counts"]["rows"].as_u64().unwrap_or(0);
            if seen >= 500 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let half = runs(&killed);
    assert_eq!(
        half[0]["status"], "running",
        "the run ended before it was killed"
    );
    let done_before = half[0]["counts"]["rows"].as_u64().unwrap_or(0);
    assert!(
        done_before >= seen && done_before < ROWS,
        "{done_before} rows"
    );
    let partial = assignments(&killed).await.len() as u64;
    assert!(partial > 0 && partial < ROWS, "{partial}");

    let again: Value =
        serde_json::from_str(&killed.ok(&[&args[..], &["--json"]].concat())).expect("json");
    assert_eq!(again["status"], "completed", "{again:#}");
    assert_eq!(again["counts"]["already_present"].as_u64(), Some(partial));
    let runs_after = runs(&killed);
    assert_eq!(runs_after[1]["status"], "failed");
    assert!(runs_after[1]["error"]
        .as_str()
        .is_some_and(|e| e.contains("abandoned")));

    let clean = Cli::new();
    clean.ok(&args);
    let expected = assignments(&clean).await;
    assert_eq!(expected.len() as u64, ROWS);
    assert_eq!(assignments(&killed).await, expected);
}

/// `runs`, or nothing while the killed-to-be process still creates the database.
fn runs_if_ready(cli: &Cli) -> Vec<Value> {
    let out = cli.run(&["legacy", "runs", "--json"]);
    if !out.status.success() {
        return Vec::new();
    }
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}
