//! Cases for each kind of change: applied, unchanged, audited with what it replaced; cascades; atomicity.

use provost_engine::{Assignment, Change, Kind, PermissionDef, ScopeRegistration, User};
use provost_store::Outcome;
use serde_json::json;

use super::*;
use crate::support::TestDb;

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
            // An app's manage permission is stored with it and comes back in snapshots.
            Change::AppPut {
                app: "courses".into(),
                kind: Kind::Org,
                manage: Some("courses.manage_course_team".into()),
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
        kind: Kind::Org,
        manage: Some("courses.manage_course_team".into()),
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

/// One commit that names the same assignment several times, and enough others to take more than
/// one statement: each change sees the ones before it, exactly as if committed one by one.
pub async fn bulk_commit_sees_its_own_changes(db: &TestDb) {
    let store = &db.store;
    let base = commit(store, &small_policy()).await.revision;
    commit(store, &[add("kept", "course_staff", COURSE)]).await;
    let windowed = Assignment {
        valid_until: Some(1_800_000_000),
        ..Assignment::new("alice", "course_staff", COURSE)
    };
    let mut changes = vec![
        add("alice", "course_staff", COURSE),
        add("alice", "course_staff", COURSE),
        Change::AssignmentAdd {
            assignment: windowed.clone(),
        },
        remove("kept", "course_staff", COURSE),
        remove("kept", "course_staff", COURSE),
        add("kept", "course_staff", COURSE),
        add("bob", "course_staff", COURSE),
        remove("bob", "course_staff", COURSE),
        remove("nobody", "course_staff", COURSE),
    ];
    let many = 2_500;
    changes.extend((0..many).map(|i| add(&format!("learner{i:05}"), "course_auditor", COURSE)));
    let done = commit(store, &changes).await;

    let first = base + 2;
    let applied = |revision| Outcome::Applied { revision };
    assert_eq!(
        done.outcomes[..9],
        [
            applied(first),
            Outcome::Unchanged,
            applied(first + 1),
            applied(first + 2),
            Outcome::Unchanged,
            applied(first + 3),
            applied(first + 4),
            applied(first + 5),
            Outcome::Unchanged,
        ]
    );
    assert_eq!(done.revision, first + 5 + many);
    assert_eq!(
        revisions(&done.entries),
        (first..=done.revision).collect::<Vec<_>>()
    );
    assert_eq!(
        done.entries[1].before,
        Some(serde_json::to_value(Assignment::new("alice", "course_staff", COURSE)).expect("json"))
    );
    // The audit log holds exactly the rows the commit answered with.
    let logged = store
        .changes_since(base + 1, 10_000)
        .await
        .expect("changes");
    assert_eq!(logged, done.entries);

    let held = all_assignments(store).await;
    assert_eq!(held.len() as u64, 2 + many);
    assert!(held.contains(&windowed));
    assert!(held.contains(&Assignment::new("kept", "course_staff", COURSE)));
    assert!(!held.iter().any(|a| a.subject == "bob"));
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
