//! Each command's behaviour as a user sees it: output, exit codes, persistence, audit.

use crate::{Cli, ServeNode};

const COURSE: &str = "course-v1:MITx+6.00x+2024T1";

#[test]
fn check_exit_codes_are_allowed_denied_error() {
    let cli = Cli::new();
    cli.ok(&["assign", "alice", "course_staff", "org:MITx"]);
    assert_eq!(
        cli.exec(&["check", "alice", "courses.edit_course_content", COURSE])
            .0,
        0
    );
    assert_eq!(
        cli.exec(&["check", "bob", "courses.edit_course_content", COURSE])
            .0,
        1
    );
    let (code, _, err) = cli.exec(&["check", "alice", "courses.edit_course_content", "org:MIT*"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("invalid_scope") && err.contains("org:MIT*"),
        "{err}"
    );
    assert_eq!(
        cli.exec(&["check", "alice", "courses.fly", COURSE]).0,
        1,
        "an unknown action is a denial"
    );
}

#[test]
fn every_command_persists_across_restarts_and_is_audited() {
    let cli = Cli::new();
    let start: serde_json::Value =
        serde_json::from_str(&cli.ok(&["--json", "audit", "--since", "0", "--limit", "10000"]))
            .expect("json");
    let policy_rows = start.as_array().expect("array").len();
    assert!(
        policy_rows > 50,
        "the default policy is loaded and audited at first start"
    );

    cli.ok(&[
        "users",
        "upsert",
        "sam",
        "--staff",
        "--email",
        "sam@example.org",
    ]);
    cli.ok(&["assign", "alice", "course_staff", "org:MITx"]);
    cli.ok(&[
        "assign",
        "lena",
        "library_author",
        "lib:MITx:python",
        "--until",
        "2100-01-01T00:00:00Z",
    ]);
    cli.ok(&["unassign", "lena", "library_author", "lib:MITx:python"]);
    // Each invocation is a fresh process reading the same file: a restart.
    assert_eq!(
        cli.ok(&["who", "courses.view_course", COURSE])
            .lines()
            .collect::<Vec<_>>(),
        ["alice", "sam"]
    );
    assert_eq!(
        cli.ok(&["scopes", "alice", "courses.view_course"]).trim(),
        "course-v1:MITx+*"
    );

    let audit: serde_json::Value =
        serde_json::from_str(&cli.ok(&["--json", "audit", "--since", "0", "--limit", "10000"]))
            .expect("json");
    let rows = audit.as_array().expect("array");
    let ops: Vec<&str> = rows[policy_rows..]
        .iter()
        .map(|r| r["change"]["op"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        ops,
        [
            "user_put",
            "assignment_add",
            "assignment_add",
            "assignment_remove"
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r["actor"].as_str().is_some_and(|a| !a.is_empty())));

    // Loading the same policy again changes nothing.
    let load: serde_json::Value =
        serde_json::from_str(&cli.ok(&["--json", "policy", "load"])).expect("json");
    assert_eq!(load["changes"], 0);
}

#[test]
fn retiring_a_user_removes_and_audits_each_assignment() {
    let cli = Cli::new();
    cli.ok(&["users", "upsert", "alice"]);
    cli.ok(&["assign", "alice", "course_staff", "org:MITx"]);
    cli.ok(&["assign", "alice", "library_user", "lib:*"]);
    cli.ok(&["users", "retire", "alice"]);
    assert_eq!(
        cli.exec(&["check", "alice", "courses.view_course", COURSE])
            .0,
        1
    );
    let audit: serde_json::Value =
        serde_json::from_str(&cli.ok(&["--json", "audit", "--since", "0", "--subject", "alice"]))
            .expect("json");
    let ops: Vec<&str> = audit
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["change"]["op"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        ops,
        [
            "user_put",
            "assignment_add",
            "assignment_add",
            "assignment_remove",
            "assignment_remove",
            "user_remove"
        ]
    );
    let (code, _, err) = cli.exec(&["users", "retire", "alice"]);
    assert_eq!(code, 2, "retiring twice is an error");
    assert!(err.contains("user_not_found"), "{err}");
}

#[test]
fn bad_input_exits_2_and_changes_nothing() {
    let cli = Cli::new();
    let before = cli.ok(&["--json", "audit", "--limit", "10000"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["assign", "alice", "course_staff", "course-v1:MITx+6.00x+*"],
            "invalid_scope",
        ),
        (
            &["assign", "alice", "no_such_role", "org:MITx"],
            "unknown_role",
        ),
        (
            &["assign", "alice", "library_user", COURSE],
            "role_not_applicable",
        ),
        (
            &["assign", "al ice", "course_staff", COURSE],
            "invalid_username",
        ),
        (
            &["assign", "alice", "program_read_reports", "program:ghost"],
            "unknown_scope",
        ),
        (
            &[
                "assign",
                "alice",
                "course_staff",
                COURSE,
                "--from",
                "2030-01-01T00:00:00Z",
                "--until",
                "2020-01-01T00:00:00Z",
            ],
            "invalid_window",
        ),
        (
            &[
                "assign",
                "alice",
                "course_staff",
                COURSE,
                "--until",
                "next tuesday",
            ],
            "invalid value",
        ),
        (
            &["scopes", "alice", "courses.view_course", "--kind", "galaxy"],
            "invalid_kind",
        ),
        (
            &["register", "course-v1:MITx+a+b", "--parent", "org:MITx"],
            "not_registrable",
        ),
        (
            &["register", "batch:b1", "--parent", "org:MITx"],
            "invalid_parents",
        ),
        (
            &["policy", "load", "/nonexistent/policy.toml"],
            "unreadable_file",
        ),
        (&["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, needle) in cases {
        let (code, _, err) = cli.exec(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected `{needle}` in: {err}"
        );
    }
    assert_eq!(
        cli.ok(&["--json", "audit", "--limit", "10000"]),
        before,
        "nothing was written"
    );
}

#[test]
fn a_bad_policy_file_is_refused_whole() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[apps]\nx = \"course\"\n[[permissions]]\nname = \"x.a\"\nimplies = [\"x.b\"]\n[[permissions]]\nname = \"x.b\"\nimplies = [\"x.a\"]\n").expect("write");
    let (code, _, err) = cli.exec(&["policy", "load", path.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(err.contains("implication_cycle"), "{err}");
}

/// The shipped plugin example loads over the default policy: its permissions imply built-in
/// ones and its roles work at once; loading it again changes nothing; the built-ins stay.
#[test]
fn a_plugin_policy_extends_the_default_one() {
    let cli = Cli::new();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/plugin-policy.toml"
    );
    let loaded: serde_json::Value =
        serde_json::from_str(&cli.ok(&["--json", "policy", "load", example])).expect("json");
    assert_eq!(
        loaded["changes"], 6,
        "one app, three permissions, two roles"
    );
    cli.ok(&["assign", "rita", "proctoring_reviewer", COURSE]);
    for action in ["proctoring.resolve_flags", "courses.view_course"] {
        assert_eq!(
            cli.exec(&["check", "rita", action, COURSE]).0,
            0,
            "{action}"
        );
    }
    assert_eq!(
        cli.exec(&["check", "rita", "proctoring.configure_exams", COURSE])
            .0,
        1
    );
    let again: serde_json::Value =
        serde_json::from_str(&cli.ok(&["--json", "policy", "load", example])).expect("json");
    assert_eq!(again["changes"], 0);
    cli.ok(&["assign", "alice", "course_staff", COURSE]);
    assert_eq!(
        cli.exec(&["check", "alice", "courses.edit_course_content", COURSE])
            .0,
        0,
        "the built-in roles are still there"
    );
}

/// A file may name what is loaded, but not what is not: the merged policy is checked whole.
#[test]
fn a_file_naming_an_unknown_permission_is_refused() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("typo.toml");
    std::fs::write(
        &path,
        "version = 1\n[apps]\nplug = \"course\"\n[[permissions]]\nname = \"plug.a\"\nimplies = [\"courses.veiw_course\"]\n",
    )
    .expect("write");
    let before = cli.ok(&["--json", "audit", "--limit", "10000"]);
    let (code, _, err) = cli.exec(&["policy", "load", path.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown_permission") && err.contains("courses.veiw_course"),
        "{err}"
    );
    assert_eq!(cli.ok(&["--json", "audit", "--limit", "10000"]), before);
}

/// An app's `manage` must name a permission of its kind; a file naming another is refused whole.
#[test]
fn a_manage_permission_of_another_kind_is_refused() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[apps]\ncourses = { kind = \"course\", manage = \"content_libraries.view_library\" }\ncontent_libraries = \"library\"\n[[permissions]]\nname = \"content_libraries.view_library\"\n",
    )
    .expect("write");
    let before = cli.ok(&["--json", "audit", "--limit", "10000"]);
    let (code, _, err) = cli.exec(&["policy", "load", path.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid_manage_permission"), "{err}");
    assert!(
        err.contains("granted on library scopes, not course"),
        "{err}"
    );
    assert_eq!(cli.ok(&["--json", "audit", "--limit", "10000"]), before);
}

#[test]
fn help_teaches_with_examples() {
    let cli = Cli::new();
    let help = cli.ok(&["--help"]);
    assert!(help.contains("provost check alice"), "{help}");
    let help = cli.ok(&["assign", "--help"]);
    assert!(help.contains("RFC 3339"), "{help}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let cli = Cli::new();
    // `start` reads stderr until the listening line and fails on any line that is not JSON.
    let server = ServeNode::start(&cli.url());
    let entry = &server.listening;
    assert_eq!(entry["level"], "INFO");
    assert!(entry["fields"]["address"]
        .as_str()
        .is_some_and(|a| a.starts_with("127.0.0.1:")));
    drop(server);

    // An unknown format is a usage error that names the choices.
    let (code, _, err) = cli.exec(&["--log-format", "yaml", "roles", "list"]);
    assert_eq!(code, 2);
    assert!(err.contains("text") && err.contains("json"), "{err}");
}

#[test]
fn audit_lists_an_apps_entries_beside_the_engines() {
    let cli = Cli::new();
    cli.ok(&["assign", "alice", "course_staff", COURSE]);
    // An app's entry, written as an app would (the CLI has no app command to write one).
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let store = provost_store::Store::connect(&cli.url())
                .await
                .expect("store");
            store
                .write("ada", |tx| {
                    Box::pin(tx.audit(provost_store::AppAudit {
                        app: "batches".into(),
                        operation: "batch_create".into(),
                        subject: Some("ada".into()),
                        scope: Some("batch:7".into()),
                        ..provost_store::AppAudit::default()
                    }))
                })
                .await
                .expect("app entry");
            store.close().await;
        });
    let text = cli.ok(&["audit", "--limit", "2"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("ada") && lines[0].ends_with("batches batch_create ada batch:7"),
        "{text}"
    );
    assert!(
        lines[1].ends_with(&format!("assign alice course_staff {COURSE}")),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["--json", "audit", "--limit", "1"])).expect("json");
    assert_eq!(
        (&json[0]["app"], &json[0]["operation"]),
        (
            &serde_json::json!("batches"),
            &serde_json::json!("batch_create")
        )
    );
}

/// `--kind` of the action's own kind keeps the ancestors that stand for every scope of that kind
/// below them: an org-wide program role lists `org:MITx` for programs, as `check` allows.
#[test]
fn scopes_of_the_actions_kind_keep_the_ancestors_that_stand_for_them() {
    let cli = Cli::new();
    cli.ok(&["register", "program:mm-ds", "--parent", "org:MITx"]);
    cli.ok(&["assign", "pam", "program_admin", "org:MITx"]);
    cli.ok(&["check", "pam", "programs.read_metadata", "program:mm-ds"]);
    for kind in [&[][..], &["--kind", "program"][..]] {
        let args = [&["scopes", "pam", "programs.read_metadata"][..], kind].concat();
        assert_eq!(cli.ok(&args).trim(), "org:MITx", "{args:?}");
    }
    assert_eq!(
        cli.ok(&[
            "scopes",
            "pam",
            "programs.read_metadata",
            "--kind",
            "course"
        ])
        .trim(),
        "(none)"
    );
}
