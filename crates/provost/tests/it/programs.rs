//! `provost programs ...` and `provost reports list`: the programs app's services at the command line.

use crate::Cli;

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("json")
}

#[test]
fn programs_are_created_listed_shown_and_changed() {
    let cli = Cli::new();
    let created = json(&cli.ok(&[
        "--json",
        "programs",
        "create",
        "mit-ds",
        "--title",
        "Data Science",
        "--type",
        "masters",
        "--org",
        "MITx",
        "--org",
        "HarvardX",
        "--course",
        "course-v1:MITx+DS1+2024",
    ]));
    assert_eq!(created["orgs"], serde_json::json!(["MITx", "HarvardX"]));
    cli.ok(&[
        "programs",
        "create",
        "mm",
        "--title",
        "Micro",
        "--type",
        "micromasters",
        "--org",
        "MITx",
    ]);
    // The registration came with the row: an org-level role reaches the program.
    cli.ok(&["assign", "hana", "program_read_reports", "org:HarvardX"]);
    assert_eq!(
        cli.exec(&["check", "hana", "programs.read_reports", "program:mit-ds"])
            .0,
        0
    );

    let listed = cli.ok(&["programs", "list", "--type", "masters"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(
        listed.starts_with("mit-ds\tmasters\tMITx,HarvardX\tData Science"),
        "{listed}"
    );
    let all = json(&cli.ok(&["--json", "programs", "list", "--org", "MITx"]));
    assert_eq!(all.as_array().map(Vec::len), Some(2));

    cli.ok(&[
        "programs", "update", "mit-ds", "--title", "Data", "--org", "MITx",
    ]);
    let shown = cli.ok(&["programs", "show", "mit-ds"]);
    assert!(
        shown.starts_with("Data\n") && shown.contains("orgs: MITx\n"),
        "{shown}"
    );
    assert_eq!(
        cli.exec(&["check", "hana", "programs.read_reports", "program:mit-ds"])
            .0,
        1
    );

    let (code, _, err) = cli.exec(&[
        "programs", "create", "x y", "--title", "t", "--type", "masters", "--org", "MITx",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid_program_key"), "{err}");
    let (code, _, err) = cli.exec(&[
        "programs", "create", "p", "--title", "t", "--type", "phd", "--org", "MITx",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown_program_type"), "{err}");
    let (code, _, err) = cli.exec(&["programs", "show", "nothing"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown_program"), "{err}");
}

#[test]
fn operators_add_program_types() {
    let cli = Cli::new();
    let types = cli.ok(&["programs", "types"]);
    assert_eq!(types.lines().count(), 3, "{types}");
    assert!(types.contains("masters\tenrollments\tMasters"), "{types}");
    cli.ok(&[
        "programs",
        "add-type",
        "microbachelors",
        "--title",
        "MicroBachelors",
    ]);
    cli.ok(&[
        "programs",
        "create",
        "mb",
        "--title",
        "MB",
        "--type",
        "microbachelors",
        "--org",
        "MITx",
    ]);
    let (code, _, err) = cli.exec(&["programs", "add-type", "microbachelors", "--title", "Again"]);
    assert_eq!(code, 2);
    assert!(err.contains("program_type_exists"), "{err}");
    let (code, _, err) = cli.exec(&["programs", "add-type", "Bad Name", "--title", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid_program"), "{err}");
    let audit = cli.ok(&["audit", "--limit", "5"]);
    assert!(audit.contains("program_type_add"), "{audit}");
}

#[test]
fn reports_are_listed_from_the_configured_store() {
    let cli = Cli::new();
    let uuid = "11111111-2222-3333-4444-555555555555";
    cli.ok(&[
        "programs", "create", "p1", "--title", "P", "--type", "masters", "--org", "MITx", "--uuid",
        uuid,
    ]);
    let store = tempfile::tempdir().expect("dir");
    let dir = store.path().join("MITx/11111111222233334444555555555555");
    std::fs::create_dir_all(&dir).expect("dirs");
    for name in ["a__2024-01-01.csv", "b__2024-03-01.csv", "readme.txt"] {
        std::fs::write(dir.join(name), name).expect("write");
    }
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
            .args(args)
            .env("PROVOST_DATABASE_URL", cli.url())
            .env(
                "PROVOST_REPORTS_URL",
                format!("file://{}", store.path().display()),
            )
            .env("PROVOST_LOG", "error")
            .output()
            .expect("provost runs")
    };
    let out = run(&["reports", "list", "p1"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        vec!["b__2024-03-01.csv", "a__2024-01-01.csv"],
        "{text}"
    );
    let out = run(&["reports", "list", "p1", "--min-created-date", "2024-02-30"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_date"));
}
