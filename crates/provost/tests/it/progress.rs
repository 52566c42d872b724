//! Progress on long work: bars only on a terminal, the cold start's final count, and the
//! output scripts read unchanged.

use std::process::Command;

use crate::Cli;

/// `provost ARGS` with stderr and stdout piped (not terminals) and the given log filter;
/// returns (exit code, stdout, stderr).
fn piped(cli: &Cli, log: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_provost"))
        .args(args)
        .env("PROVOST_DATABASE_URL", cli.url())
        .env("PROVOST_LOG", log)
        .output()
        .expect("provost runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_piped_policy_load_shows_no_bar_and_prints_its_summary() {
    let cli = Cli::new();
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/plugin-policy.toml"
    );
    let (code, out, err) = piped(&cli, "warn", &["policy", "load", file]);
    assert_eq!(code, 0, "{err}");
    // No bar: no carriage returns or terminal escapes, on either stream.
    for text in [&out, &err] {
        assert!(!text.contains('\r') && !text.contains('\u{1b}'), "{text:?}");
    }
    assert_eq!(err, "");
    assert!(
        out.starts_with(|c: char| c.is_ascii_digit()) && out.contains(" change(s); revision "),
        "{out}"
    );
    // `--json` output is the same object as before, with nothing around it.
    let (code, out, _) = piped(&cli, "warn", &["--json", "policy", "load", file]);
    assert_eq!(code, 0);
    let answer: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(answer["changes"], 0);
    assert!(answer["revision"].is_u64());
}

#[test]
fn a_cold_start_logs_what_it_loaded() {
    let cli = Cli::new();
    for user in ["alice", "bob", "carol"] {
        cli.ok(&["assign", user, "course_staff", "org:MITx"]);
    }
    // A short load says its count at debug level (a long one at info, with lines on the way).
    let (code, _, err) = piped(
        &cli,
        "provost_server=debug",
        &["who", "courses.view_course", "org:MITx"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("index loaded: 3 assignments"),
        "no summary of the load in: {err}"
    );
    // At the default level a small database loads silently.
    let (_, _, err) = piped(&cli, "info", &["who", "courses.view_course", "org:MITx"]);
    assert!(!err.contains("index loaded"), "{err}");
}
