//! The shared conformance scenarios, run through the engine in memory, with listings
//! cross-checked. They live with the kit, not in the engine's tests, so that the engine's own
//! dependencies, dev ones included, stay free of I/O crates.

use provost_engine::{policy_changes, Assignment, Index, PolicyDoc, ScopeRegistration, User};
use provost_testkit::scenario::{Implementation, Outcome, Scenario};

fn now() -> i64 {
    // Scenario windows are 2000-01-01 .. 2100-01-01; any time in between is "now".
    1_800_000_000
}

fn load() -> (Scenario, Index) {
    let scenario = Scenario::core();
    let mut index = Index::new();
    index.apply(1, &policy_changes(&PolicyDoc::default_policy()));
    index.apply(2, &scenario.changes());
    (scenario, index)
}

/// The engine in memory, each set-up step one revision.
struct InMemory {
    index: Index,
    revision: u64,
}

impl InMemory {
    fn new() -> InMemory {
        let mut index = Index::new();
        index.apply(1, &policy_changes(&PolicyDoc::default_policy()));
        InMemory { index, revision: 1 }
    }

    fn apply(&mut self, changes: Vec<provost_engine::Change>) {
        self.revision += 1;
        self.index.apply(self.revision, &changes);
    }
}

impl Implementation for InMemory {
    async fn put_users(&mut self, users: &[User]) {
        let changes = users
            .iter()
            .cloned()
            .map(|user| provost_engine::Change::UserPut { user });
        self.apply(changes.collect());
    }

    async fn register_scopes(&mut self, registrations: &[ScopeRegistration]) {
        let changes = registrations
            .iter()
            .cloned()
            .map(|registration| provost_engine::Change::ScopeRegister { registration });
        self.apply(changes.collect());
    }

    async fn assign(&mut self, assignments: &[Assignment]) {
        let changes = assignments
            .iter()
            .cloned()
            .map(|assignment| provost_engine::Change::AssignmentAdd { assignment });
        self.apply(changes.collect());
    }

    async fn check(&mut self, subject: &str, action: &str, scope: &str) -> Outcome {
        let decision = self.index.check(subject, action, scope, now());
        Outcome {
            allowed: decision.allowed,
            reason: decision.reason.as_str().to_owned(),
        }
    }
}

#[tokio::test]
async fn every_scenario_check_gives_its_expected_decision() {
    for (name, scenario) in Scenario::all() {
        eprintln!("scenario {name}");
        scenario.run(&mut InMemory::new()).await;
    }
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
