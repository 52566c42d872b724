//! The shared conformance scenario, run through the engine, with listings cross-checked.

use provost_engine::scenario::Scenario;
use provost_engine::{policy_changes, Index, PolicyDoc};

const CORE: &str = include_str!("../../../../tests/scenarios/core.toml");

fn now() -> i64 {
    // Scenario windows are 2000-01-01 .. 2100-01-01; any time in between is "now".
    1_800_000_000
}

fn load() -> (Scenario, Index) {
    let scenario = Scenario::from_toml(CORE).expect("scenario parses");
    let mut index = Index::new();
    index.apply(1, &policy_changes(&PolicyDoc::default_policy()));
    index.apply(2, &scenario.changes());
    (scenario, index)
}

#[test]
fn every_scenario_check_gives_its_expected_decision() {
    let (scenario, index) = load();
    let mut failures = Vec::new();
    for c in &scenario.checks {
        let decision = index.check(&c.subject, &c.action, &c.scope, now());
        let reason_ok = c
            .reason
            .as_deref()
            .is_none_or(|r| r == decision.reason.as_str());
        if decision.allowed != c.allowed || !reason_ok {
            failures.push(format!("{}: got {:?}", c.name, decision));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        scenario.checks.len(),
        failures.join("\n")
    );
}

#[test]
fn listings_agree_with_every_scenario_check() {
    let (scenario, index) = load();
    for c in &scenario.checks {
        let who = index.who(&c.action, &c.scope, now());
        assert_eq!(
            who.contains(&c.subject),
            c.allowed,
            "who disagrees on {}: {who:?}",
            c.name
        );
        for region in index.scopes(&c.subject, &c.action, None, now()) {
            assert!(
                index.allowed(&c.subject, &c.action, &region, now()),
                "{}: scopes lists `{region}` but check denies it",
                c.name
            );
        }
    }
}

#[test]
fn explain_names_the_path() {
    let (_, index) = load();
    let e = index.explain(
        "alice",
        "courses.view_course",
        "course-v1:MITx+6.00x+2024T1",
        now(),
    );
    assert!(e.allowed);
    let path = &e.because[0];
    assert_eq!(path.role.as_deref(), Some("course_staff"));
    assert_eq!(path.held_at.as_deref(), Some("org:MITx"));
    assert!(path.inherited);

    let e = index.explain(
        "old",
        "courses.view_course",
        "course-v1:MITx+6.00x+2024T1",
        now(),
    );
    assert!(!e.allowed);
    assert_eq!(e.reason.as_str(), "expired");
    assert_eq!(
        e.because[0].valid_until,
        Some(946_684_800),
        "the expired assignment is shown"
    );
    assert!(e.message.contains("expired"), "{}", e.message);

    let e = index.explain(
        "lena",
        "content_libraries.view_library",
        "lib:MITx:python-basics",
        now(),
    );
    assert!(!e.because[0].inherited);
    assert_eq!(
        e.because[0].permission.as_deref(),
        Some("content_libraries.view_library")
    );
}

#[test]
fn scopes_lists_globs_for_org_assignments() {
    let (_, index) = load();
    assert_eq!(
        index.scopes("alice", "courses.view_course", None, now()),
        ["course-v1:MITx+*"]
    );
    assert_eq!(
        index.scopes("carl", "courses.view_course", None, now()),
        ["course-v1:*"]
    );
    assert_eq!(
        index.scopes("pria", "programs.read_reports", None, now()),
        ["org:HarvardX"]
    );
    assert!(
        index
            .scopes("old", "courses.view_course", None, now())
            .is_empty(),
        "expired assignments list nothing"
    );
    assert_eq!(
        index.scopes("sam", "content_libraries.view_library", None, now()),
        ["lib:*"]
    );
}

#[test]
fn retiring_a_user_removes_their_assignments() {
    let (_, mut index) = load();
    let before = index.assignment_count();
    index.apply(
        3,
        &[provost_engine::Change::UserRemove {
            username: "alice".into(),
        }],
    );
    assert_eq!(index.assignment_count(), before - 1);
    assert!(!index.allowed(
        "alice",
        "courses.view_course",
        "course-v1:MITx+6.00x+2024T1",
        now()
    ));
    assert!(!index
        .who("courses.view_course", "course-v1:MITx+6.00x+2024T1", now())
        .contains(&"alice".to_owned()));
}
