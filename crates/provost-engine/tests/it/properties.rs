//! Property tests: on random policies and queries the compiled engine agrees with the reference.

use std::collections::BTreeMap;

use proptest::prelude::*;
use provost_engine::{
    policy_changes, Assignment, Change, Index, Kind, PermissionDef, PolicyDoc, Reason, RoleDef,
    ScopeRegistration, User,
};

use provost_engine::reference::Reference;

const APPS: [(&str, Kind); 7] = [
    ("courses", Kind::Course),
    ("libs", Kind::Library),
    ("progs", Kind::Program),
    ("bat", Kind::Batch),
    ("ent", Kind::Enterprise),
    ("sys", Kind::Instance),
    ("orgs", Kind::Org),
];
const PER_APP: usize = 2;
const ROLES: usize = 4;
const SUBJECTS: [&str; 6] = ["u0", "u1", "u2", "u3", "u4", "ghost"];

/// Scopes assignments may be held at.
const HELD: [&str; 17] = [
    "*",
    "org:A",
    "org:B",
    "course-v1:A+c1+r",
    "course-v1:A+c2+r",
    "course-v1:B+c1+r",
    "lib:A:l1",
    "lib:B:l1",
    "program:p1",
    "program:p2",
    "program:p3",
    "batch:b1",
    "enterprise:00000000-0000-4000-8000-000000000001",
    "course-v1:A+*",
    "course-v1:*",
    "lib:A:*",
    "lib:*",
];
/// Scopes only asked about: never held, some never seen, some unknown.
const ASKED_ONLY: [&str; 6] = [
    "course-v1:C+c9+r",
    "lib:C:x",
    "org:C",
    "batch:b2",
    "course-v1:B+*",
    "enterprise:00000000-0000-4000-8000-000000000002",
];
const CONCRETE: [&str; 14] = [
    "*",
    "org:A",
    "org:B",
    "org:C",
    "course-v1:A+c1+r",
    "course-v1:A+c2+r",
    "course-v1:B+c1+r",
    "course-v1:C+c9+r",
    "lib:A:l1",
    "lib:B:l1",
    "lib:C:x",
    "program:p1",
    "program:p2",
    "batch:b1",
];

fn permission_names() -> Vec<String> {
    APPS.iter()
        .flat_map(|(app, _)| (0..PER_APP).map(move |i| format!("{app}.p{i}")))
        .collect()
}

fn all_scopes() -> Vec<&'static str> {
    HELD.iter().chain(ASKED_ONLY.iter()).copied().collect()
}

#[derive(Clone, Debug)]
struct World {
    policy: PolicyDoc,
    users: Vec<User>,
    assignments: Vec<Assignment>,
}

fn window() -> impl Strategy<Value = (Option<i64>, Option<i64>)> {
    (
        prop::option::weighted(0.2, prop::sample::select(vec![10i64, 60])),
        prop::option::weighted(0.2, prop::sample::select(vec![40i64, 90])),
    )
}

fn world() -> impl Strategy<Value = World> {
    world_of(0..30, 0.0)
}

/// Worlds where `u0` holds many grants (globs, windows and all): `heavy` of the drawn grants are
/// `u0`'s, so it holds more than the few a subject is answered for by a plain scan.
fn heavy_world() -> impl Strategy<Value = World> {
    world_of(30..90, 0.8)
}

fn world_of(grants: std::ops::Range<usize>, heavy: f64) -> impl Strategy<Value = World> {
    let perms = permission_names();
    let n = perms.len();
    (
        prop::collection::vec(prop::bool::weighted(0.15), n * n),
        prop::collection::vec(prop::collection::vec(prop::bool::weighted(0.3), n), ROLES),
        prop::collection::vec(
            (prop::bool::weighted(0.15), prop::bool::weighted(0.1)),
            SUBJECTS.len() - 1,
        ),
        prop::collection::vec(
            (
                prop::bool::weighted(heavy),
                0..SUBJECTS.len() - 1,
                0..ROLES,
                0..HELD.len(),
                window(),
            ),
            grants,
        ),
        // Some roles are owned by an org, and grant only inside it.
        prop::collection::vec(
            prop::option::weighted(0.3, prop::sample::select(vec!["A", "B"])),
            ROLES,
        ),
    )
        .prop_map(move |(implies, roles, flags, grants, orgs)| {
            let permissions = (0..n)
                .map(|i| PermissionDef {
                    name: perms[i].clone(),
                    description: String::new(),
                    // Only lower-numbered targets: random implications without cycles.
                    implies: (0..i)
                        .filter(|j| implies[i * n + j])
                        .map(|j| perms[j].clone())
                        .collect(),
                })
                .collect();
            let roles = roles
                .iter()
                .enumerate()
                .map(|(r, picks)| RoleDef {
                    name: format!("r{r}"),
                    description: String::new(),
                    permissions: (0..n)
                        .filter(|p| picks[*p])
                        .map(|p| perms[p].clone())
                        .collect(),
                    builtin: true,
                    org: orgs[r].map(str::to_owned),
                })
                .collect();
            let policy = PolicyDoc {
                version: 1,
                apps: APPS
                    .iter()
                    .map(|(a, k)| ((*a).to_owned(), (*k).into()))
                    .collect(),
                permissions,
                roles,
            };
            let users = flags
                .iter()
                .enumerate()
                .map(|(i, (staff, superuser))| User {
                    username: SUBJECTS[i].into(),
                    email: None,
                    staff: *staff,
                    superuser: *superuser,
                })
                .collect();
            // One assignment per (subject, role, scope): the last one written wins, as in the store.
            let mut unique = BTreeMap::new();
            for (to_u0, s, r, h, (from, until)) in grants {
                let s = if to_u0 { 0 } else { s };
                unique.insert((s, r, h), (from, until));
            }
            let assignments = unique
                .into_iter()
                .map(|((s, r, h), (from, until))| Assignment {
                    subject: SUBJECTS[s].into(),
                    role: format!("r{r}"),
                    scope: HELD[h].into(),
                    valid_from: from,
                    valid_until: until,
                })
                .collect();
            World {
                policy,
                users,
                assignments,
            }
        })
}

fn registrations() -> Vec<ScopeRegistration> {
    vec![
        ScopeRegistration {
            scope: "program:p1".into(),
            parents: vec!["org:A".into()],
        },
        ScopeRegistration {
            scope: "program:p2".into(),
            parents: vec!["org:A".into(), "org:B".into()],
        },
        ScopeRegistration {
            scope: "batch:b1".into(),
            parents: vec!["course-v1:A+c1+r".into()],
        },
    ]
}

fn build(world: &World) -> (Index, Reference) {
    let mut index = Index::new();
    index.apply(1, &policy_changes(&world.policy));
    let mut changes: Vec<Change> = world
        .users
        .iter()
        .map(|u| Change::UserPut { user: u.clone() })
        .collect();
    changes.extend(
        registrations()
            .into_iter()
            .map(|r| Change::ScopeRegister { registration: r }),
    );
    changes.extend(world.assignments.iter().map(|a| Change::AssignmentAdd {
        assignment: a.clone(),
    }));
    index.apply(2, &changes);
    let reference = Reference {
        policy: world.policy.clone(),
        users: world.users.clone(),
        registrations: registrations(),
        assignments: world.assignments.clone(),
    };
    (index, reference)
}

/// `who` read two at a time through `who_page`'s cursor.
fn who_in_pages(index: &Index, action: &str, scope: &str, at: i64) -> Vec<String> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = index.who_page(action, scope, at, after.as_deref(), 2);
        assert!(page.subjects.len() <= 2);
        all.extend(page.subjects);
        match page.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}

/// `scopes` read two at a time through `scopes_page`'s cursor.
fn scopes_in_pages(index: &Index, subject: &str, action: &str, at: i64) -> Vec<String> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = index.scopes_page(subject, action, None, at, after.as_deref(), 2);
        assert!(page.scopes.len() <= 2);
        all.extend(page.scopes);
        match page.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}

fn actions() -> Vec<String> {
    let mut actions = permission_names();
    actions.push("courses.unknown".into());
    actions
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn allowed_agrees_with_the_reference(world in world(), at in prop::sample::select(vec![0i64, 50, 100])) {
        let (index, reference) = build(&world);
        for subject in SUBJECTS {
            for action in actions() {
                for scope in all_scopes() {
                    let fast = index.allowed(subject, &action, scope, at);
                    let plain = reference.allowed(subject, &action, scope, at);
                    prop_assert_eq!(fast, plain, "allowed({}, {}, {}) at {}: {:?}", subject, action, scope, at,
                        index.explain(subject, &action, scope, at));
                }
            }
        }
    }

    /// A denial names the roles held there that lack the action (`role_lacks_action`) exactly
    /// when the reference finds such roles, and names the same ones.
    #[test]
    fn role_lacks_action_agrees_with_the_reference(world in world(), at in prop::sample::select(vec![0i64, 50, 100])) {
        let (index, reference) = build(&world);
        for subject in SUBJECTS {
            for action in actions() {
                for scope in all_scopes() {
                    let e = index.explain(subject, &action, scope, at);
                    if e.allowed || !matches!(e.reason, Reason::NoAssignment | Reason::RoleLacksAction) {
                        continue;
                    }
                    let held = reference.held_without(subject, &action, scope, at);
                    let named: std::collections::BTreeSet<String> = e.because.iter()
                        .filter(|b| b.via == Reason::RoleLacksAction)
                        .filter_map(|b| b.role.clone())
                        .collect();
                    prop_assert_eq!(e.reason == Reason::RoleLacksAction, !held.is_empty(), "explain({}, {}, {}) at {}: {:?}", subject, action, scope, at, e);
                    prop_assert_eq!(&named, &held, "explain({}, {}, {}) at {}: {:?}", subject, action, scope, at, e);
                }
            }
        }
    }

    #[test]
    fn who_agrees_with_the_reference(world in world(), at in prop::sample::select(vec![0i64, 50, 100])) {
        let (index, reference) = build(&world);
        for action in actions() {
            for scope in all_scopes() {
                let expected = reference.who(&action, scope, at);
                prop_assert_eq!(&index.who(&action, scope, at), &expected, "who({}, {})", action, scope);
                prop_assert_eq!(who_in_pages(&index, &action, scope, at), expected, "who_page({}, {})", action, scope);
            }
        }
    }

    #[test]
    fn scopes_lists_exactly_where_check_allows(world in world(), at in prop::sample::select(vec![0i64, 50, 100])) {
        let (index, reference) = build(&world);
        for subject in SUBJECTS {
            for action in actions() {
                let listed = index.scopes(subject, &action, None, at);
                prop_assert_eq!(&scopes_in_pages(&index, subject, &action, at), &listed, "scopes_page({}, {})", subject, action);
                for region in &listed {
                    prop_assert!(reference.allowed(subject, &action, region, at), "{} listed for {} {} but not allowed", region, subject, action);
                }
                let kind = APPS.iter().find(|(app, _)| action.starts_with(&format!("{app}."))).map(|(_, k)| *k);
                // Scopes of the action's own kind; ancestors stand for many scopes and are covered above.
                let own_kind = CONCRETE.iter().filter(|s| provost_engine::Scope::parse(s).is_ok_and(|p| Some(p.kind()) == kind));
                for scope in own_kind {
                    if reference.allowed(subject, &action, scope, at) {
                        prop_assert!(listed.iter().any(|r| reference.region_contains(r, scope)),
                            "{} may {} at {} but scopes lists only {:?}", subject, action, scope, listed);
                    }
                }
            }
        }
    }

    #[test]
    fn applying_changes_one_at_a_time_equals_applying_them_at_once(world in world()) {
        let (whole, _) = build(&world);
        let mut stepwise = Index::new();
        let mut revision = 0;
        for change in policy_changes(&world.policy) {
            revision += 1;
            stepwise.apply(revision, [&change]);
        }
        for a in &world.assignments {
            revision += 1;
            stepwise.apply(revision, [&Change::AssignmentAdd { assignment: a.clone() }]);
        }
        let mut left: Vec<_> = whole.assignments().collect();
        let mut right: Vec<_> = stepwise.assignments().collect();
        left.sort();
        right.sort();
        prop_assert_eq!(left, right);
    }

    /// A cold start loads its snapshot in batches (`load`) and sorts the long scope lists once,
    /// at the `apply` after the last: `who`, read whole and in pages, and every check must be
    /// the reference's, whatever the batches' size.
    #[test]
    fn a_load_in_batches_agrees_with_the_reference(world in heavy_world(), size in 1usize..40, at in prop::sample::select(vec![0i64, 50, 100])) {
        let (_, reference) = build(&world);
        let mut changes = policy_changes(&world.policy);
        changes.extend(world.users.iter().map(|u| Change::UserPut { user: u.clone() }));
        changes.extend(registrations().into_iter().map(|r| Change::ScopeRegister { registration: r }));
        changes.extend(world.assignments.iter().map(|a| Change::AssignmentAdd { assignment: a.clone() }));
        let mut index = Index::new();
        for batch in changes.chunks(size) {
            index.load(batch);
        }
        index.apply(1, &[]);
        for action in actions() {
            for scope in all_scopes() {
                let expected = reference.who(&action, scope, at);
                prop_assert_eq!(&index.who(&action, scope, at), &expected, "who({}, {})", action, scope);
                prop_assert_eq!(who_in_pages(&index, &action, scope, at), expected, "who_page({}, {})", action, scope);
                for subject in SUBJECTS {
                    prop_assert_eq!(index.allowed(subject, &action, scope, at), reference.allowed(subject, &action, scope, at),
                        "allowed({}, {}, {})", subject, action, scope);
                }
            }
        }
    }

    /// A cold start reads policy and facts as one batch: the roles put in it must be compiled
    /// before the assignments that name them, so its decisions equal those of a stepwise build.
    #[test]
    fn policy_and_facts_in_one_batch_decide_as_when_applied_apart(world in world()) {
        let (apart, _) = build(&world);
        let mut changes = policy_changes(&world.policy);
        changes.extend(world.users.iter().map(|u| Change::UserPut { user: u.clone() }));
        changes.extend(registrations().into_iter().map(|r| Change::ScopeRegister { registration: r }));
        changes.extend(world.assignments.iter().map(|a| Change::AssignmentAdd { assignment: a.clone() }));
        let mut together = Index::new();
        together.apply(1, &changes);
        for subject in SUBJECTS {
            for action in actions() {
                for scope in all_scopes() {
                    prop_assert_eq!(together.allowed(subject, &action, scope, 50), apart.allowed(subject, &action, scope, 50),
                        "allowed({}, {}, {})", subject, action, scope);
                }
            }
        }
    }

    /// A subject with many grants is answered from those held at the request's nodes; it must
    /// decide as the reference does, through globs, ancestors, windows and org-owned roles.
    #[test]
    fn heavy_subjects_agree_with_the_reference(world in heavy_world(), at in prop::sample::select(vec![0i64, 50, 100])) {
        let (index, reference) = build(&world);
        prop_assume!(world.assignments.iter().filter(|a| a.subject == "u0").count() > 8);
        for subject in SUBJECTS {
            for action in actions() {
                for scope in all_scopes() {
                    prop_assert_eq!(index.allowed(subject, &action, scope, at), reference.allowed(subject, &action, scope, at),
                        "allowed({}, {}, {}) at {}: {:?}", subject, action, scope, at, index.explain(subject, &action, scope, at));
                }
            }
        }
    }

    /// Removing assignments (some of a heavy subject's, some never held) leaves an index that
    /// decides as one built from the rest.
    #[test]
    fn removals_agree_with_the_reference(world in heavy_world(), drop in prop::collection::vec(any::<bool>(), 90), strays in prop::collection::vec((0..ROLES, 0..HELD.len()), 0..5)) {
        let (mut index, mut reference) = build(&world);
        let mut removals: Vec<Change> = Vec::new();
        let mut kept = Vec::new();
        for (a, gone) in world.assignments.iter().zip(drop.iter().chain(std::iter::repeat(&false))) {
            if *gone {
                removals.push(Change::AssignmentRemove { subject: a.subject.clone(), role: a.role.clone(), scope: a.scope.clone() });
            } else {
                kept.push(a.clone());
            }
        }
        // Removing what nobody holds changes nothing.
        for (r, h) in strays {
            let (role, scope) = (format!("r{r}"), HELD[h].to_owned());
            if !world.assignments.iter().any(|a| a.subject == "u4" && a.role == role && a.scope == scope) {
                removals.push(Change::AssignmentRemove { subject: "u4".into(), role, scope });
            }
        }
        index.apply(3, &removals);
        reference.assignments = kept;
        prop_assert_eq!(index.assignment_count(), reference.assignments.len());
        for subject in SUBJECTS {
            for action in actions() {
                for scope in all_scopes() {
                    prop_assert_eq!(index.allowed(subject, &action, scope, 50), reference.allowed(subject, &action, scope, 50),
                        "allowed({}, {}, {}): {:?}", subject, action, scope, index.explain(subject, &action, scope, 50));
                }
            }
        }
        for action in actions() {
            for scope in all_scopes() {
                let expected = reference.who(&action, scope, 50);
                prop_assert_eq!(&index.who(&action, scope, 50), &expected, "who({}, {})", action, scope);
                prop_assert_eq!(who_in_pages(&index, &action, scope, 50), expected, "who_page({}, {})", action, scope);
            }
        }
    }

    /// Writing an assignment again with another window (or none) replaces its window: windows are
    /// kept beside the grants, only for those that have one.
    #[test]
    fn rewritten_windows_agree_with_the_reference(world in heavy_world(), windows in prop::collection::vec(window(), 90), at in prop::sample::select(vec![0i64, 50, 100])) {
        let (mut index, mut reference) = build(&world);
        let mut rewritten = Vec::new();
        for (a, (from, until)) in world.assignments.iter().zip(windows) {
            rewritten.push(Assignment { valid_from: from, valid_until: until, ..a.clone() });
        }
        let changes: Vec<Change> = rewritten.iter().map(|a| Change::AssignmentAdd { assignment: a.clone() }).collect();
        index.apply(3, &changes);
        let untouched = world.assignments.iter().skip(rewritten.len()).cloned();
        reference.assignments = rewritten.into_iter().chain(untouched).collect();
        prop_assert_eq!(index.assignment_count(), reference.assignments.len());
        let mut listed: Vec<_> = index.assignments().collect();
        let mut expected = reference.assignments.clone();
        listed.sort();
        expected.sort();
        prop_assert_eq!(listed, expected);
        for subject in SUBJECTS {
            for action in actions() {
                for scope in all_scopes() {
                    prop_assert_eq!(index.allowed(subject, &action, scope, at), reference.allowed(subject, &action, scope, at),
                        "allowed({}, {}, {}) at {}: {:?}", subject, action, scope, at, index.explain(subject, &action, scope, at));
                }
            }
        }
        for action in actions() {
            for scope in all_scopes() {
                prop_assert_eq!(who_in_pages(&index, &action, scope, at), reference.who(&action, scope, at), "who_page({}, {})", action, scope);
            }
        }
    }
}
