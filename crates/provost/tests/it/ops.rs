//! Operating the binary: the audit log newest first.

use serde_json::Value;

use crate::Cli;

const COURSE: &str = "course-v1:MITx+6.00x+2024T1";

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
