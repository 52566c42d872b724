//! Issue 15's "first hour": what a newcomer trips over, as they would see it.

use crate::Cli;

const COURSE: &str = "course-v1:MITx+6.00x+2024T1";

fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf-8").to_owned()
}

/// A loaded file's change to a built-in role survives later commands: the default policy is
/// loaded into an empty database (or after an upgrade changed it), never over an operator's load.
#[test]
fn a_loaded_change_to_a_builtin_role_is_not_undone() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("dir");
    let path = file(
        &dir,
        "wider.toml",
        "version = 1\n[[roles]]\nname = \"library_user\"\npermissions = [\"content_libraries.view_library\", \"content_libraries.edit_library_content\"]\n",
    );
    cli.ok(&["assign", "lena", "library_user", "lib:MITx:python"]);
    let edit = [
        "check",
        "lena",
        "content_libraries.edit_library_content",
        "lib:MITx:python",
    ];
    assert_eq!(cli.exec(&edit).0, 1);
    cli.ok(&["policy", "load", &path]);
    // Every command is a new process that opens the database again.
    for _ in 0..2 {
        assert_eq!(cli.exec(&edit).0, 0, "the loaded role stays as loaded");
    }
    let audit = cli.ok(&["audit", "--limit", "10000"]);
    assert_eq!(
        audit.matches("policy default_loaded").count(),
        1,
        "the default is loaded once: {audit}"
    );
}

/// `--prune` with a file that drops an app's manage permission is refused with the app named,
/// and nothing changes.
#[test]
fn a_partial_prune_is_refused_naming_the_app() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("dir");
    let path = file(
        &dir,
        "part.toml",
        "version = 1\n[apps]\ncontent_libraries = { kind = \"library\" }\n[[permissions]]\nname = \"content_libraries.view_library\"\n",
    );
    let before = cli.ok(&["--json", "audit", "--limit", "10000"]);
    let (code, _, err) = cli.exec(&["policy", "load", "--prune", &path]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("prune_incomplete")
            && err.contains("`courses` (manages with `courses.manage_course_team`)"),
        "{err}"
    );
    assert_eq!(cli.ok(&["--json", "audit", "--limit", "10000"]), before);
}

/// `users upsert` keeps the flags it is not given; `--no-staff` / `--no-superuser` clear them.
#[test]
fn upsert_keeps_flags_it_is_not_given() {
    let cli = Cli::new();
    let edit = ["check", "sam", "courses.edit_course_content", COURSE];
    cli.ok(&["users", "upsert", "sam", "--staff"]);
    assert_eq!(cli.exec(&edit).0, 0);
    cli.ok(&["users", "upsert", "sam", "--email", "sam@example.org"]);
    assert_eq!(cli.exec(&edit).0, 0, "an email change keeps --staff");
    cli.ok(&["users", "upsert", "sam", "--no-staff"]);
    assert_eq!(cli.exec(&edit).0, 1, "--no-staff clears it");
    cli.ok(&["users", "upsert", "sam", "--superuser"]);
    cli.ok(&["users", "upsert", "sam"]);
    assert_eq!(cli.exec(&edit).0, 0, "a bare upsert keeps --superuser");
    cli.ok(&["users", "upsert", "sam", "--no-superuser"]);
    assert_eq!(cli.exec(&edit).0, 1);
}

/// `unassign` of something not held says so and exits 1; of something held, exits 0.
#[test]
fn unassign_of_what_is_not_held_exits_1() {
    let cli = Cli::new();
    let (code, out, _) = cli.exec(&["unassign", "alice", "course_staff", COURSE]);
    assert_eq!(code, 1);
    assert_eq!(
        out.trim(),
        format!("nothing changed: `alice` does not hold `course_staff` at `{COURSE}`")
    );
    cli.ok(&["assign", "alice", "course_staff", COURSE]);
    assert!(cli
        .ok(&["unassign", "alice", "course_staff", COURSE])
        .starts_with("removed"));
}
