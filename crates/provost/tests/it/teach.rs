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

/// A denial where the subject holds a role there that lacks the action names the role and the
/// roles that would grant it.
#[test]
fn explain_names_the_role_held_and_the_roles_that_would_grant() {
    let cli = Cli::new();
    cli.ok(&["assign", "lena", "library_author", "lib:MITx:python"]);
    let (code, out, _) = cli.exec(&[
        "explain",
        "lena",
        "content_libraries.delete_library",
        "lib:MITx:python",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("`lena` may not `content_libraries.delete_library` at `lib:MITx:python`: holds `library_author` at `lib:MITx:python`, which does not include `content_libraries.delete_library`; `library_admin` would"),
        "{out}"
    );
    let (_, out, _) = cli.exec(&[
        "check",
        "lena",
        "content_libraries.delete_library",
        "lib:MITx:python",
    ]);
    assert_eq!(out.trim(), "denied (role_lacks_action)");
    let (_, out, _) = cli.exec(&[
        "check",
        "bob",
        "content_libraries.delete_library",
        "lib:MITx:python",
    ]);
    assert_eq!(
        out.trim(),
        "denied (no_assignment)",
        "no role at all is still no_assignment"
    );
}

/// Unknown names come with the closest known ones, and a role used as an action (or a
/// permission as a role) is pointed out.
#[test]
fn unknown_names_suggest_the_known_ones() {
    let cli = Cli::new();
    let (code, out, _) = cli.exec(&["check", "lena", "delete_library", "lib:MITx:python"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("did you mean `content_libraries.delete_library`?"),
        "{out}"
    );
    let (_, out, _) = cli.exec(&["check", "lena", "courses.veiw_course", COURSE]);
    assert!(out.contains("did you mean `courses.view_course`?"), "{out}");
    let (_, out, _) = cli.exec(&["explain", "lena", "course_staff", COURSE]);
    assert!(out.contains("`course_staff` is a role"), "{out}");
    let (code, _, err) = cli.exec(&["assign", "lena", "libary_author", "lib:MITx:python"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `library_author`?"), "{err}");
    let (_, _, err) = cli.exec(&["assign", "lena", "courses.view_course", COURSE]);
    assert!(
        err.contains("`courses.view_course` is a permission; roles that include it:"),
        "{err}"
    );
}

/// Empty `who` and `scopes` answers say "(none)"; under `--json` they stay `[]`.
#[test]
fn empty_lookups_say_none() {
    let cli = Cli::new();
    assert_eq!(
        cli.ok(&["who", "courses.view_course", COURSE]).trim(),
        "(none)"
    );
    assert_eq!(
        cli.ok(&["scopes", "bob", "courses.view_course"]).trim(),
        "(none)"
    );
    assert_eq!(
        cli.ok(&["--json", "scopes", "bob", "courses.view_course"])
            .trim(),
        "[]"
    );
}

/// A time that is not RFC 3339 is refused with an example; a window already over is kept with
/// a warning (it is how `explain` shows `expired`).
#[test]
fn times_are_rfc3339_and_a_past_window_is_warned_about() {
    let cli = Cli::new();
    let (code, _, err) = cli.exec(&[
        "assign",
        "lena",
        "library_author",
        "lib:MITx:python",
        "--until",
        "2030-01-01",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("not an RFC 3339 time") && err.contains("2027-01-01T00:00:00Z"),
        "{err}"
    );
    let (code, _, err) = cli.exec(&[
        "assign",
        "lena",
        "library_author",
        "lib:MITx:python",
        "--until",
        "2020-01-01T00:00:00Z",
    ]);
    assert_eq!(code, 0);
    assert!(
        err.contains("warning: --until 2020-01-01T00:00:00Z is already past"),
        "{err}"
    );
}

/// Database URL mistakes say the right form and name the file.
#[test]
fn database_url_mistakes_suggest_the_right_form() {
    let dir = tempfile::tempdir().expect("dir");
    let run = |url: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
            .args(["--database-url", url, "roles", "list"])
            .current_dir(dir.path())
            .env("PROVOST_LOG", "warn")
            .output()
            .expect("provost runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run("provost.db");
    assert_eq!(code, Some(2));
    assert!(err.contains("`sqlite://provost.db?mode=rwc`"), "{err}");
    let (_, err) = run("sqlite://x.db");
    assert!(
        err.contains("SQLite file `x.db` does not exist")
            && err.contains("`sqlite://x.db?mode=rwc`"),
        "{err}"
    );
    let (_, err) = run("sqlite://nodir/x.db?mode=rwc");
    assert!(
        err.contains("its directory `nodir` does not exist"),
        "{err}"
    );
}

/// `assignments list` filters and pages like the API: every assignment once, in order, and
/// the JSON has the API's shape.
#[test]
fn assignments_list_filters_and_pages() {
    let cli = Cli::new();
    for user in ["u1", "u2", "u3"] {
        cli.ok(&["assign", user, "course_staff", "org:MITx"]);
    }
    cli.ok(&["assign", "u1", "library_user", "lib:MITx:python"]);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = vec![
            "--json",
            "assignments",
            "list",
            "--role",
            "course_staff",
            "--limit",
            "2",
        ];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let page: serde_json::Value = serde_json::from_str(&cli.ok(&args)).expect("json");
        for item in page["items"].as_array().expect("items") {
            assert_eq!(item["role"], "course_staff");
            seen.push(item["subject"].as_str().expect("subject").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["u1", "u2", "u3"]);
    let text = cli.ok(&["assignments", "list", "--subject", "u1"]);
    assert_eq!(
        text.lines().count(),
        3,
        "a header and u1's two assignments: {text}"
    );
    let (code, _, err) = cli.exec(&["assignments", "list", "--cursor", "nonsense"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid_cursor"), "{err}");
}

/// `roles list` has a header and descriptions; `roles show` and `permissions list` exist.
#[test]
fn roles_and_permissions_can_be_read_on_the_command_line() {
    let cli = Cli::new();
    let list = cli.ok(&["roles", "list"]);
    assert!(list.starts_with("ROLE "), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("library_user ") && l.contains("views a library")),
        "{list}"
    );
    let show = cli.ok(&["roles", "show", "library_admin"]);
    assert!(
        show.starts_with("library_admin (built-in)")
            && show.contains("  content_libraries.delete_library"),
        "{show}"
    );
    let (code, _, err) = cli.exec(&["roles", "show", "libary_admin"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `library_admin`?"), "{err}");
    let permissions = cli.ok(&["permissions", "list", "--kind", "library"]);
    assert!(
        permissions
            .lines()
            .skip(1)
            .all(|l| l.starts_with("content_libraries.")),
        "{permissions}"
    );
    assert!(
        permissions.contains("content_libraries.delete_library"),
        "{permissions}"
    );
}

/// `serve` with no key: logs that it created the database and loaded the default policy, prints
/// the token and an explaining curl line on stdout (not among the logs), and writes its secret
/// beside the database with mode 0600, from which `provost token` mints tokens it accepts.
#[test]
fn a_dev_server_shares_its_secret_with_provost_token() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .env("PROVOST_DATABASE_URL", &url)
        .env_remove("PROVOST_JWT_SECRET")
        .env("PROVOST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("provost serve starts");
    let mut logs = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut messages = Vec::new();
    let address = loop {
        let line = logs.next().expect("logs until it listens").expect("line");
        let entry: serde_json::Value = serde_json::from_str(&line).expect("json log line");
        let message = entry["fields"]["message"].as_str().unwrap_or("").to_owned();
        if message == "provost is listening" {
            break entry["fields"]["address"]
                .as_str()
                .expect("address")
                .to_owned();
        }
        messages.push(message);
    };
    std::thread::spawn(move || logs.for_each(drop));
    assert!(
        messages.iter().any(|m| m
            .starts_with("created the database and loaded the default policy (")
            && m.contains(" roles, ")
            && m.ends_with(" permissions)")),
        "{messages:?}"
    );
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let printed: Vec<String> = (0..9).map_while(|_| out.next()?.ok()).collect();
    let printed = printed.join("\n");
    assert!(printed.contains("api/v1/check?explain=true"), "{printed}");
    let secret = dir.path().join("p.db.jwt-secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret)
            .expect("secret file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let minted = std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
        .args(["token", "--user", "admin", "--superuser"])
        .env("PROVOST_DATABASE_URL", &url)
        .env_remove("PROVOST_JWT_SECRET")
        .output()
        .expect("provost token runs");
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let token = String::from_utf8_lossy(&minted.stdout).trim().to_owned();
    let answer = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("http://{address}/api/v1/roles"))
        .output()
        .expect("curl runs");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        String::from_utf8_lossy(&answer.stdout),
        "200",
        "the server accepts the token"
    );
}
