//! The conformance suite: every case takes a fresh database and holds on SQLite and PostgreSQL alike.

use std::collections::BTreeSet;

use provost_engine::{
    policy_changes, Assignment, AssignmentKey, Change, Index, Kind, PermissionDef, PolicyDoc,
    RoleDef, ScopeRegistration, User,
};
use provost_store::{AssignmentFilter, AuditEntry, AuditFilter, Committed, Outcome, Store};
use serde_json::json;

use crate::support::TestDb;

const COURSE: &str = "course-v1:MITx+6.00x+2024T1";
const OTHER_COURSE: &str = "course-v1:HarvardX+CS50+2024";
const LIBRARY: &str = "lib:MITx:python-basics";

fn perm(name: &str, implies: &[&str]) -> PermissionDef {
    PermissionDef {
        name: name.into(),
        description: String::new(),
        implies: implies.iter().map(|s| (*s).into()).collect(),
    }
}

fn role(name: &str, permissions: &[&str]) -> RoleDef {
    RoleDef {
        name: name.into(),
        description: String::new(),
        permissions: permissions.iter().map(|s| (*s).into()).collect(),
        builtin: false,
        org: None,
    }
}

fn user(name: &str) -> User {
    User {
        username: name.into(),
        email: Some(format!("{name}@example.com")),
        staff: false,
        superuser: false,
    }
}

fn add(subject: &str, role: &str, scope: &str) -> Change {
    Change::AssignmentAdd {
        assignment: Assignment::new(subject, role, scope),
    }
}

fn remove(subject: &str, role: &str, scope: &str) -> Change {
    Change::AssignmentRemove {
        subject: subject.into(),
        role: role.into(),
        scope: scope.into(),
    }
}

/// Two apps, three permissions, three roles: enough to hold assignments.
fn small_policy() -> Vec<Change> {
    vec![
        Change::AppPut {
            app: "courses".into(),
            kind: Kind::Course,
        },
        Change::AppPut {
            app: "content_libraries".into(),
            kind: Kind::Library,
        },
        Change::PermissionPut {
            permission: perm("courses.view_course", &[]),
        },
        Change::PermissionPut {
            permission: perm("courses.edit_course_content", &["courses.view_course"]),
        },
        Change::PermissionPut {
            permission: perm("content_libraries.view_library", &[]),
        },
        Change::RolePut {
            role: role("course_auditor", &["courses.view_course"]),
        },
        Change::RolePut {
            role: role("course_staff", &["courses.edit_course_content"]),
        },
        Change::RolePut {
            role: role("library_user", &["content_libraries.view_library"]),
        },
    ]
}

async fn commit(store: &Store, changes: &[Change]) -> Committed {
    store.commit("tester", changes).await.expect("commit")
}

async fn all_assignments(store: &Store) -> Vec<Assignment> {
    store
        .assignments(&AssignmentFilter::default(), None, u32::MAX)
        .await
        .expect("list assignments")
}

async fn whole_log(store: &Store) -> Vec<AuditEntry> {
    store
        .changes_since(0, u32::MAX)
        .await
        .expect("read the audit log")
}

fn ops(entries: &[AuditEntry]) -> Vec<&'static str> {
    entries.iter().map(|e| e.change.op()).collect()
}

fn revisions(entries: &[AuditEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.revision).collect()
}

fn sorted(mut assignments: Vec<Assignment>) -> Vec<Assignment> {
    assignments
        .sort_by(|a, b| (&a.subject, &a.role, &a.scope).cmp(&(&b.subject, &b.role, &b.scope)));
    assignments
}

pub async fn policy_puts_and_removes(db: &TestDb) {
    let store = &db.store;
    assert_eq!(store.backend(), db.backend);
    assert_eq!(store.revision().await.expect("revision"), 0);

    let policy = small_policy();
    let first = commit(store, &policy).await;
    let n = policy.len() as u64;
    assert_eq!(first.revision, n);
    assert_eq!(
        first.outcomes,
        (1..=n)
            .map(|revision| Outcome::Applied { revision })
            .collect::<Vec<_>>()
    );
    assert_eq!(revisions(&first.entries), (1..=n).collect::<Vec<_>>());
    assert!(first
        .entries
        .iter()
        .all(|e| e.before.is_none() && e.actor == "tester"));
    assert_eq!(
        first
            .entries
            .iter()
            .map(|e| e.change.clone())
            .collect::<Vec<_>>(),
        policy
    );

    // The same policy again changes nothing and appends nothing.
    let again = commit(store, &policy).await;
    assert_eq!(again.revision, n);
    assert!(again.entries.is_empty());
    assert!(again.outcomes.iter().all(|o| *o == Outcome::Unchanged));

    // Updates are applied and remember what they replaced.
    let staff = role(
        "course_staff",
        &["courses.edit_course_content", "courses.view_course"],
    );
    let view = PermissionDef {
        description: "see the course".into(),
        ..perm("courses.view_course", &[])
    };
    let updated = commit(
        store,
        &[
            Change::AppPut {
                app: "courses".into(),
                kind: Kind::Org,
            },
            Change::PermissionPut {
                permission: view.clone(),
            },
            Change::RolePut {
                role: staff.clone(),
            },
        ],
    )
    .await;
    assert_eq!(updated.revision, n + 3);
    assert_eq!(
        ops(&updated.entries),
        ["app_put", "permission_put", "role_put"]
    );
    assert_eq!(
        updated.entries[0].before,
        Some(json!({"app": "courses", "kind": "course"}))
    );
    assert_eq!(
        updated.entries[1].before,
        Some(serde_json::to_value(perm("courses.view_course", &[])).expect("json"))
    );
    assert_eq!(
        updated.entries[2].before,
        Some(
            serde_json::to_value(role("course_staff", &["courses.edit_course_content"]))
                .expect("json")
        )
    );

    // Removals: applied when present (with the removed definition), unchanged when absent.
    let removed = commit(
        store,
        &[
            Change::RoleRemove {
                name: "library_user".into(),
            },
            Change::PermissionRemove {
                name: "content_libraries.view_library".into(),
            },
            Change::PermissionRemove {
                name: "content_libraries.view_library".into(),
            },
            Change::RoleRemove {
                name: "no_such_role".into(),
            },
        ],
    )
    .await;
    assert_eq!(
        removed.outcomes,
        [
            Outcome::Applied { revision: n + 4 },
            Outcome::Applied { revision: n + 5 },
            Outcome::Unchanged,
            Outcome::Unchanged
        ]
    );
    assert_eq!(
        removed.entries[1].before,
        Some(serde_json::to_value(perm("content_libraries.view_library", &[])).expect("json"))
    );

    let snapshot = store.snapshot().await.expect("snapshot");
    assert_eq!(snapshot.revision, n + 5);
    assert!(snapshot.changes.contains(&Change::AppPut {
        app: "courses".into(),
        kind: Kind::Org
    }));
    assert!(snapshot.changes.contains(&Change::RolePut { role: staff }));
    assert!(snapshot
        .changes
        .contains(&Change::PermissionPut { permission: view }));
    assert!(!snapshot
        .changes
        .iter()
        .any(|c| matches!(c, Change::RolePut { role } if role.name == "library_user")));
    assert_eq!(whole_log(store).await.len() as u64, n + 5);
}

pub async fn user_put_and_read(db: &TestDb) {
    let store = &db.store;
    let alice = user("alice");
    let created = commit(
        store,
        &[Change::UserPut {
            user: alice.clone(),
        }],
    )
    .await;
    assert_eq!(created.outcomes, [Outcome::Applied { revision: 1 }]);
    assert_eq!(created.entries[0].before, None);
    assert_eq!(
        store.user("alice").await.expect("read user"),
        Some(alice.clone())
    );
    assert_eq!(store.user("nobody").await.expect("read user"), None);

    let same = commit(
        store,
        &[Change::UserPut {
            user: alice.clone(),
        }],
    )
    .await;
    assert_eq!(same.outcomes, [Outcome::Unchanged]);
    assert_eq!(same.revision, 1);

    let promoted = User {
        staff: true,
        email: None,
        ..alice.clone()
    };
    let changed = commit(
        store,
        &[Change::UserPut {
            user: promoted.clone(),
        }],
    )
    .await;
    assert_eq!(changed.outcomes, [Outcome::Applied { revision: 2 }]);
    assert_eq!(
        changed.entries[0].before,
        Some(serde_json::to_value(&alice).expect("json"))
    );
    assert_eq!(
        store.user("alice").await.expect("read user"),
        Some(promoted)
    );
}

pub async fn assignment_add_update_remove(db: &TestDb) {
    let store = &db.store;
    let base = commit(store, &small_policy()).await.revision;

    let added = commit(store, &[add("alice", "course_staff", COURSE)]).await;
    assert_eq!(added.outcomes, [Outcome::Applied { revision: base + 1 }]);
    assert_eq!(ops(&added.entries), ["assignment_add"]);
    assert_eq!(added.entries[0].before, None);

    let again = commit(store, &[add("alice", "course_staff", COURSE)]).await;
    assert_eq!(again.outcomes, [Outcome::Unchanged]);
    assert_eq!(again.revision, base + 1);

    // The same key with another window is an update, audited with the old assignment.
    let windowed = Assignment {
        valid_from: Some(1_700_000_000),
        valid_until: Some(1_800_000_000),
        ..Assignment::new("alice", "course_staff", COURSE)
    };
    let updated = commit(
        store,
        &[Change::AssignmentAdd {
            assignment: windowed.clone(),
        }],
    )
    .await;
    assert_eq!(updated.outcomes, [Outcome::Applied { revision: base + 2 }]);
    assert_eq!(
        updated.entries[0].before,
        Some(serde_json::to_value(Assignment::new("alice", "course_staff", COURSE)).expect("json"))
    );
    assert_eq!(
        all_assignments(store).await,
        std::slice::from_ref(&windowed)
    );
    assert_eq!(
        store
            .count_assignments(&AssignmentFilter::default())
            .await
            .expect("count"),
        1
    );

    let removed = commit(store, &[remove("alice", "course_staff", COURSE)]).await;
    assert_eq!(removed.outcomes, [Outcome::Applied { revision: base + 3 }]);
    assert_eq!(
        removed.entries[0].before,
        Some(serde_json::to_value(&windowed).expect("json"))
    );
    assert!(all_assignments(store).await.is_empty());

    let absent = commit(store, &[remove("alice", "course_staff", COURSE)]).await;
    assert_eq!(absent.outcomes, [Outcome::Unchanged]);
    assert_eq!(store.revision().await.expect("revision"), base + 3);
}

pub async fn scope_register_and_remove(db: &TestDb) {
    let store = &db.store;
    let program = ScopeRegistration {
        scope: "program:mit-ds".into(),
        parents: vec!["org:MITx".into()],
    };
    let created = commit(
        store,
        &[Change::ScopeRegister {
            registration: program.clone(),
        }],
    )
    .await;
    assert_eq!(created.outcomes, [Outcome::Applied { revision: 1 }]);
    assert_eq!(created.entries[0].before, None);

    let same = commit(
        store,
        &[Change::ScopeRegister {
            registration: program.clone(),
        }],
    )
    .await;
    assert_eq!(same.outcomes, [Outcome::Unchanged]);

    let moved = ScopeRegistration {
        parents: vec!["org:MITx".into(), "org:HarvardX".into()],
        ..program.clone()
    };
    let changed = commit(
        store,
        &[Change::ScopeRegister {
            registration: moved.clone(),
        }],
    )
    .await;
    assert_eq!(changed.outcomes, [Outcome::Applied { revision: 2 }]);
    assert_eq!(
        changed.entries[0].before,
        Some(serde_json::to_value(&program).expect("json"))
    );
    let snapshot = store.snapshot().await.expect("snapshot");
    assert_eq!(
        snapshot.changes,
        [Change::ScopeRegister {
            registration: moved.clone()
        }]
    );

    let scope_remove = Change::ScopeRemove {
        scope: "program:mit-ds".into(),
    };
    let removed = commit(store, std::slice::from_ref(&scope_remove)).await;
    assert_eq!(removed.outcomes, [Outcome::Applied { revision: 3 }]);
    assert_eq!(
        removed.entries[0].before,
        Some(serde_json::to_value(&moved).expect("json"))
    );
    let absent = commit(store, &[scope_remove]).await;
    assert_eq!(absent.outcomes, [Outcome::Unchanged]);
    assert!(store.snapshot().await.expect("snapshot").changes.is_empty());
}

pub async fn revisions_are_gap_free(db: &TestDb) {
    let store = &db.store;
    let mut committed = vec![commit(store, &small_policy()).await];
    committed.push(commit(store, &[]).await);
    committed.push(
        commit(
            store,
            &[
                add("alice", "course_staff", COURSE),
                add("alice", "course_staff", COURSE),
            ],
        )
        .await,
    );
    committed.push(
        commit(
            store,
            &[
                Change::UserPut { user: user("bob") },
                add("bob", "course_auditor", COURSE),
            ],
        )
        .await,
    );
    committed.push(commit(store, &[remove("nobody", "course_staff", COURSE)]).await);
    committed.push(commit(store, &[remove("alice", "course_staff", COURSE)]).await);

    // Every commit reports the revision after it; empty and unchanged commits report the previous one.
    let reported: Vec<u64> = committed.iter().map(|c| c.revision).collect();
    assert_eq!(reported, [8, 8, 9, 11, 11, 12]);
    assert_eq!(committed[1].outcomes, []);
    assert_eq!(
        committed[2].outcomes,
        [Outcome::Applied { revision: 9 }, Outcome::Unchanged]
    );

    // The log holds exactly what the commits returned, in order, with no gaps.
    let log = whole_log(store).await;
    assert_eq!(revisions(&log), (1..=12).collect::<Vec<_>>());
    let returned: Vec<AuditEntry> = committed.into_iter().flat_map(|c| c.entries).collect();
    assert_eq!(log, returned);
    assert_eq!(store.revision().await.expect("revision"), 12);

    assert_eq!(
        revisions(&store.changes_since(8, 2).await.expect("changes")),
        [9, 10]
    );
    assert_eq!(
        revisions(&store.changes_since(10, 100).await.expect("changes")),
        [11, 12]
    );
    assert!(store
        .changes_since(12, 100)
        .await
        .expect("changes")
        .is_empty());
}

pub async fn failed_commit_leaves_nothing(db: &TestDb) {
    let store = &db.store;
    let base = commit(store, &small_policy()).await.revision;
    let batch = [
        Change::UserPut { user: user("bob") },
        add("bob", "course_staff", COURSE),
        Change::ScopeRegister {
            registration: ScopeRegistration {
                scope: "batch:1".into(),
                parents: vec![COURSE.into()],
            },
        },
        // A role that does not exist: the database refuses the row, and so the whole batch.
        add("bob", "no_such_role", COURSE),
    ];
    let error = store
        .commit("tester", &batch)
        .await
        .expect_err("an assignment of an unknown role fails");
    assert_eq!(error.code(), "conflict");
    assert!(!error.is_unavailable());

    assert_eq!(store.revision().await.expect("revision"), base);
    assert_eq!(store.user("bob").await.expect("read user"), None);
    assert!(all_assignments(store).await.is_empty());
    assert!(store
        .changes_since(base, 100)
        .await
        .expect("changes")
        .is_empty());
    let snapshot = store.snapshot().await.expect("snapshot");
    assert_eq!(snapshot.changes.len(), small_policy().len());

    // The next commit takes the next revision: the failure left no gap.
    let ok = commit(store, &batch[..3]).await;
    assert_eq!(revisions(&ok.entries), [base + 1, base + 2, base + 3]);
}

pub async fn role_remove_cascades(db: &TestDb) {
    let store = &db.store;
    let base = commit(store, &small_policy()).await.revision;
    commit(
        store,
        &[
            add("carol", "course_staff", OTHER_COURSE),
            add("alice", "course_staff", COURSE),
            add("bob", "course_staff", COURSE),
            add("alice", "course_auditor", COURSE),
        ],
    )
    .await;

    let removed = commit(
        store,
        &[Change::RoleRemove {
            name: "course_staff".into(),
        }],
    )
    .await;
    // Three assignment rows (ordered by subject), then the role's own row.
    assert_eq!(removed.revision, base + 8);
    assert_eq!(removed.outcomes, [Outcome::Applied { revision: base + 8 }]);
    assert_eq!(
        ops(&removed.entries),
        [
            "assignment_remove",
            "assignment_remove",
            "assignment_remove",
            "role_remove"
        ]
    );
    assert_eq!(
        revisions(&removed.entries),
        [base + 5, base + 6, base + 7, base + 8]
    );
    assert_eq!(
        removed.entries[0].change,
        remove("alice", "course_staff", COURSE)
    );
    assert_eq!(
        removed.entries[0].before,
        Some(serde_json::to_value(Assignment::new("alice", "course_staff", COURSE)).expect("json"))
    );
    assert_eq!(
        removed.entries[2].change,
        remove("carol", "course_staff", OTHER_COURSE)
    );
    assert_eq!(
        removed.entries[3].before,
        Some(
            serde_json::to_value(role("course_staff", &["courses.edit_course_content"]))
                .expect("json")
        )
    );
    assert_eq!(
        all_assignments(store).await,
        [Assignment::new("alice", "course_auditor", COURSE)]
    );

    let again = commit(
        store,
        &[Change::RoleRemove {
            name: "course_staff".into(),
        }],
    )
    .await;
    assert_eq!(again.outcomes, [Outcome::Unchanged]);
    assert_eq!(whole_log(store).await.len() as u64, base + 8);
}

pub async fn user_remove_cascades(db: &TestDb) {
    let store = &db.store;
    let base = commit(store, &small_policy()).await.revision;
    let alice = User {
        staff: true,
        ..user("alice")
    };
    commit(
        store,
        &[
            Change::UserPut {
                user: alice.clone(),
            },
            add("alice", "course_staff", COURSE),
            add("alice", "library_user", LIBRARY),
            add("bob", "course_staff", COURSE),
            add("dave", "course_auditor", COURSE),
        ],
    )
    .await;
    let base = base + 5;

    let retired = commit(
        store,
        &[Change::UserRemove {
            username: "alice".into(),
        }],
    )
    .await;
    assert_eq!(retired.outcomes, [Outcome::Applied { revision: base + 3 }]);
    assert_eq!(
        ops(&retired.entries),
        ["assignment_remove", "assignment_remove", "user_remove"]
    );
    assert_eq!(
        retired.entries[1].change,
        remove("alice", "library_user", LIBRARY)
    );
    assert_eq!(
        retired.entries[2].before,
        Some(serde_json::to_value(&alice).expect("json"))
    );
    assert_eq!(store.user("alice").await.expect("read user"), None);
    let left = all_assignments(store).await;
    assert_eq!(
        left,
        [
            Assignment::new("bob", "course_staff", COURSE),
            Assignment::new("dave", "course_auditor", COURSE)
        ]
    );

    // A subject with assignments but no user record is retired too, with no `before` for the user.
    let dave = commit(
        store,
        &[Change::UserRemove {
            username: "dave".into(),
        }],
    )
    .await;
    assert_eq!(ops(&dave.entries), ["assignment_remove", "user_remove"]);
    assert_eq!(dave.entries[1].before, None);
    assert_eq!(dave.outcomes, [Outcome::Applied { revision: base + 5 }]);

    let nobody = commit(
        store,
        &[Change::UserRemove {
            username: "nobody".into(),
        }],
    )
    .await;
    assert_eq!(nobody.outcomes, [Outcome::Unchanged]);
    assert_eq!(store.revision().await.expect("revision"), base + 5);
}

pub async fn snapshot_round_trip(db: &TestDb) {
    let store = &db.store;
    let doc = PolicyDoc::default_policy();
    commit(store, &policy_changes(&doc)).await;
    let custom = RoleDef {
        org: Some("MITx".into()),
        ..role("mitx_viewer", &["courses.view_course"])
    };
    commit(
        store,
        &[
            Change::RolePut {
                role: custom.clone(),
            },
            Change::UserPut {
                user: User {
                    superuser: true,
                    ..user("root")
                },
            },
            Change::UserPut {
                user: user("alice"),
            },
            Change::ScopeRegister {
                registration: ScopeRegistration {
                    scope: "program:mit-ds".into(),
                    parents: vec!["org:MITx".into()],
                },
            },
            Change::ScopeRegister {
                registration: ScopeRegistration {
                    scope: "batch:42".into(),
                    parents: vec![COURSE.into()],
                },
            },
            add("alice", "course_staff", COURSE),
            add("alice", "course_staff", "course-v1:MITx+*"),
            add("bob", "library_author", "lib:*"),
            add("bob", "mitx_viewer", "org:MITx"),
            add("carol", "batch_admin", "batch:42"),
            add("carol", "program_read_reports", "program:mit-ds"),
            Change::AssignmentAdd {
                assignment: Assignment {
                    valid_from: Some(1_700_000_000),
                    valid_until: Some(1_900_000_000),
                    ..Assignment::new("dave", "course_auditor", OTHER_COURSE)
                },
            },
            add("erin", "course_admin", "*"),
        ],
    )
    .await;
    // Later edits: an updated built-in role keeps its place, a retired user, a removed assignment.
    let mut staff = doc
        .roles
        .iter()
        .find(|r| r.name == "course_staff")
        .expect("course_staff")
        .clone();
    staff.description = "edited".into();
    commit(
        store,
        &[
            Change::RolePut { role: staff },
            Change::UserRemove {
                username: "erin".into(),
            },
            remove("bob", "library_author", "lib:*"),
        ],
    )
    .await;

    let snapshot = store.snapshot().await.expect("snapshot");
    assert_eq!(snapshot.revision, store.revision().await.expect("revision"));
    // Ordered by kind: apps, permissions, roles, users, scopes, assignments.
    let rank = |c: &Change| {
        [
            "app_put",
            "permission_put",
            "role_put",
            "user_put",
            "scope_register",
            "assignment_add",
        ]
        .iter()
        .position(|op| *op == c.op())
        .expect("only puts, registrations and additions")
    };
    let ranks: Vec<usize> = snapshot.changes.iter().map(rank).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] <= w[1]),
        "snapshot out of order: {ranks:?}"
    );

    let mut from_snapshot = Index::new();
    from_snapshot.apply(snapshot.revision, &snapshot.changes);
    let mut from_log = Index::new();
    let log = whole_log(store).await;
    from_log.apply(snapshot.revision, log.iter().map(|e| &e.change));

    let stored = all_assignments(store).await;
    assert_eq!(stored.len(), 6);
    assert_eq!(sorted(from_snapshot.assignments().collect()), stored);
    assert_eq!(sorted(from_log.assignments().collect()), stored);
    assert_eq!(from_snapshot.revision(), snapshot.revision);
    assert_eq!(from_snapshot.policy_doc(), from_log.policy_doc());
    assert!(from_snapshot.policy_doc().roles.contains(&custom));
    for name in ["root", "alice", "erin"] {
        assert_eq!(from_snapshot.user(name), from_log.user(name), "user {name}");
        assert_eq!(
            from_snapshot.user(name).cloned(),
            store.user(name).await.expect("read user")
        );
    }
    assert_eq!(
        from_snapshot.registered_parents("batch:42"),
        Some(vec![COURSE.to_owned()])
    );
}

pub async fn assignment_pages_and_filters(db: &TestDb) {
    let store = &db.store;
    commit(store, &small_policy()).await;
    // Names that sort differently bytewise than in most locales.
    let subjects = ["alice", "Zed", "bob-1", "bob_2", "émile", "Bob"];
    let roles = ["course_staff", "course_auditor"];
    let scopes = [COURSE, OTHER_COURSE, "course-v1:MITx+*"];
    let mut changes = Vec::new();
    for s in subjects {
        for r in roles {
            for sc in scopes {
                changes.push(add(s, r, sc));
            }
        }
    }
    commit(store, &changes).await;
    let expected: Vec<Assignment> = sorted(
        changes
            .iter()
            .map(|c| match c {
                Change::AssignmentAdd { assignment } => assignment.clone(),
                _ => unreachable!(),
            })
            .collect(),
    );
    assert_eq!(expected.len(), 36);
    assert_eq!(all_assignments(store).await, expected);

    let paged = page_through(store, &AssignmentFilter::default(), 7).await;
    assert_eq!(paged, expected);
    assert_eq!(
        store
            .count_assignments(&AssignmentFilter::default())
            .await
            .expect("count"),
        36
    );

    let filters = [
        AssignmentFilter {
            subject: Some("émile".into()),
            ..Default::default()
        },
        AssignmentFilter {
            role: Some("course_auditor".into()),
            ..Default::default()
        },
        AssignmentFilter {
            scope: Some(COURSE.into()),
            ..Default::default()
        },
        AssignmentFilter {
            subject: Some("Bob".into()),
            role: Some("course_staff".into()),
            scope: Some(OTHER_COURSE.into()),
        },
        AssignmentFilter {
            subject: Some("nobody".into()),
            ..Default::default()
        },
    ];
    for filter in filters {
        let want: Vec<Assignment> = expected
            .iter()
            .filter(|a| filter.subject.as_ref().is_none_or(|s| *s == a.subject))
            .filter(|a| filter.role.as_ref().is_none_or(|r| *r == a.role))
            .filter(|a| filter.scope.as_ref().is_none_or(|s| *s == a.scope))
            .cloned()
            .collect();
        assert_eq!(
            store.assignments(&filter, None, 100).await.expect("list"),
            want,
            "{filter:?}"
        );
        assert_eq!(
            page_through(store, &filter, 4).await,
            want,
            "{filter:?} paged"
        );
        assert_eq!(
            store.count_assignments(&filter).await.expect("count"),
            want.len() as u64,
            "{filter:?} count"
        );
    }
    assert!(store
        .assignments(&AssignmentFilter::default(), None, 0)
        .await
        .expect("list")
        .is_empty());
}

/// Lists all pages of `limit`, each starting strictly after the last key of the one before.
async fn page_through(store: &Store, filter: &AssignmentFilter, limit: u32) -> Vec<Assignment> {
    let mut all = Vec::new();
    let mut after: Option<AssignmentKey> = None;
    loop {
        let page = store
            .assignments(filter, after.as_ref(), limit)
            .await
            .expect("page");
        assert!(page.len() <= limit as usize);
        let Some(last) = page.last() else { break };
        after = Some(AssignmentKey {
            subject: last.subject.clone(),
            role: last.role.clone(),
            scope: last.scope.clone(),
        });
        let short = page.len() < limit as usize;
        all.extend(page);
        if short {
            break;
        }
    }
    all
}

pub async fn audit_filters(db: &TestDb) {
    let store = &db.store;
    let base = commit(store, &small_policy()).await.revision;
    commit(
        store,
        &[
            Change::UserPut {
                user: user("alice"),
            },
            add("alice", "course_staff", COURSE),
            add("bob", "course_staff", COURSE),
            add("alice", "course_auditor", OTHER_COURSE),
            Change::ScopeRegister {
                registration: ScopeRegistration {
                    scope: "batch:7".into(),
                    parents: vec![COURSE.into()],
                },
            },
        ],
    )
    .await;
    store
        .commit(
            "admin",
            &[Change::UserRemove {
                username: "alice".into(),
            }],
        )
        .await
        .expect("retire alice");

    let by = |subject: Option<&str>, scope: Option<&str>| AuditFilter {
        subject: subject.map(Into::into),
        scope: scope.map(Into::into),
    };
    let alice = store
        .audit(&by(Some("alice"), None), 0, 100)
        .await
        .expect("audit");
    assert_eq!(
        ops(&alice),
        [
            "user_put",
            "assignment_add",
            "assignment_add",
            "assignment_remove",
            "assignment_remove",
            "user_remove"
        ]
    );
    assert!(alice.iter().all(|e| e.change.subject() == Some("alice")));
    assert_eq!(alice.last().map(|e| e.actor.as_str()), Some("admin"));

    let course = store
        .audit(&by(None, Some(COURSE)), 0, 100)
        .await
        .expect("audit");
    // Retirement removes alice's assignments in (role, scope) order: course_auditor first.
    assert_eq!(revisions(&course), [base + 2, base + 3, base + 7]);
    let both = store
        .audit(&by(Some("alice"), Some(COURSE)), 0, 100)
        .await
        .expect("audit");
    assert_eq!(revisions(&both), [base + 2, base + 7]);
    let batch = store
        .audit(&by(None, Some("batch:7")), 0, 100)
        .await
        .expect("audit");
    assert_eq!(ops(&batch), ["scope_register"]);

    // `since` is exclusive and `limit` caps the page; no filter is the whole log.
    assert_eq!(
        revisions(
            &store
                .audit(&by(Some("alice"), None), base + 2, 2)
                .await
                .expect("audit")
        ),
        [base + 4, base + 6]
    );
    assert_eq!(
        store
            .audit(&AuditFilter::default(), 0, 1000)
            .await
            .expect("audit"),
        whole_log(store).await
    );
    assert!(store
        .audit(&by(Some("nobody"), None), 0, 100)
        .await
        .expect("audit")
        .is_empty());
}

pub async fn reopen_keeps_everything(db: &TestDb) {
    let store = &db.store;
    commit(store, &small_policy()).await;
    commit(
        store,
        &[
            Change::UserPut {
                user: user("alice"),
            },
            add("alice", "course_staff", COURSE),
            Change::ScopeRegister {
                registration: ScopeRegistration {
                    scope: "batch:1".into(),
                    parents: vec![COURSE.into()],
                },
            },
        ],
    )
    .await;
    let before = store.snapshot().await.expect("snapshot");
    let log = whole_log(store).await;
    store.close().await;
    assert!(
        store.revision().await.is_err(),
        "a closed store refuses work"
    );

    let reopened = db.open().await;
    assert_eq!(reopened.snapshot().await.expect("snapshot"), before);
    assert_eq!(whole_log(&reopened).await, log);
    assert_eq!(
        reopened.user("alice").await.expect("read user"),
        Some(user("alice"))
    );
    let next = commit(&reopened, &[add("bob", "course_staff", COURSE)]).await;
    assert_eq!(next.revision, before.revision + 1);
    reopened.close().await;
}

pub async fn concurrent_committers(db: &TestDb) {
    const WRITERS: usize = 16;
    const COMMITS: usize = 5;
    let store = &db.store;
    let base = commit(store, &small_policy()).await.revision;
    let mut handles = Vec::new();
    for _ in 0..WRITERS {
        handles.push(db.open().await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (w, handle) in handles.iter().cloned().enumerate() {
        tasks.spawn(async move {
            let mut results = Vec::new();
            for c in 0..COMMITS {
                let subject = format!("user{w:02}");
                let scope = format!("course-v1:Org{c}+C+R");
                let changes = [
                    add(&subject, "course_staff", &scope),
                    add(&subject, "course_auditor", &scope),
                    // Already there after the first commit of this writer: unchanged.
                    Change::UserPut {
                        user: user(&subject),
                    },
                ];
                results.push(
                    handle
                        .commit(&format!("writer{w}"), &changes)
                        .await
                        .expect("concurrent commit"),
                );
            }
            results
        });
    }
    let mut committed: Vec<Committed> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        committed.extend(joined.expect("writer task"));
    }
    for handle in &handles {
        handle.close().await;
    }

    let per_writer_rows = COMMITS * 2 + 1;
    let total = base + (WRITERS * per_writer_rows) as u64;
    let log = whole_log(store).await;
    assert_eq!(
        revisions(&log),
        (1..=total).collect::<Vec<_>>(),
        "revisions are gap-free"
    );
    assert_eq!(store.revision().await.expect("revision"), total);

    // Each commit's rows are consecutive, its revision is its last row, and every row is some commit's.
    let mut seen = BTreeSet::new();
    for c in &committed {
        let revs = revisions(&c.entries);
        assert!(
            revs.windows(2).all(|w| w[1] == w[0] + 1),
            "rows of one commit are consecutive: {revs:?}"
        );
        assert_eq!(revs.last().copied(), Some(c.revision));
        for e in &c.entries {
            assert!(
                seen.insert(e.revision),
                "revision {} handed out twice",
                e.revision
            );
            assert_eq!(log[(e.revision - 1) as usize], *e);
        }
    }
    assert_eq!(seen.len() as u64, total - base);
    let applied = committed
        .iter()
        .flat_map(|c| &c.outcomes)
        .filter(|o| matches!(o, Outcome::Applied { .. }))
        .count();
    assert_eq!(applied, WRITERS * per_writer_rows);
    assert_eq!(
        store
            .count_assignments(&AssignmentFilter::default())
            .await
            .expect("count"),
        (WRITERS * COMMITS * 2) as u64
    );
}
