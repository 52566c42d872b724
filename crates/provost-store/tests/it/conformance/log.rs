//! Cases for the log and the state as a whole: revisions, snapshots, listings, reopening, concurrency.

use std::collections::BTreeSet;

use provost_engine::{
    policy_changes, Assignment, AssignmentKey, Change, Index, PolicyDoc, RoleDef,
    ScopeRegistration, User,
};
use provost_store::AuditRange::After;
use provost_store::{AssignmentFilter, AuditEntry, AuditFilter, Committed, Outcome, Store};

use super::*;
use crate::support::TestDb;

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
        .audit(&by(Some("alice"), None), After(0), 100)
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
        .audit(&by(None, Some(COURSE)), After(0), 100)
        .await
        .expect("audit");
    // Retirement removes alice's assignments in (role, scope) order: course_auditor first.
    assert_eq!(revisions(&course), [base + 2, base + 3, base + 7]);
    let both = store
        .audit(&by(Some("alice"), Some(COURSE)), After(0), 100)
        .await
        .expect("audit");
    assert_eq!(revisions(&both), [base + 2, base + 7]);
    let batch = store
        .audit(&by(None, Some("batch:7")), After(0), 100)
        .await
        .expect("audit");
    assert_eq!(ops(&batch), ["scope_register"]);

    // `since` is exclusive and `limit` caps the page; no filter is the whole log.
    assert_eq!(
        revisions(
            &store
                .audit(&by(Some("alice"), None), After(base + 2), 2)
                .await
                .expect("audit")
        ),
        [base + 4, base + 6]
    );
    assert_eq!(
        store
            .audit(&AuditFilter::default(), After(0), 1000)
            .await
            .expect("audit"),
        whole_log(store).await
    );
    assert!(store
        .audit(&by(Some("nobody"), None), After(0), 100)
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

/// A snapshot larger than one batch (and, on SQLite, one page): every assignment exactly once.
pub async fn snapshot_pages_through_many_assignments(db: &TestDb) {
    let store = &db.store;
    commit(store, &small_policy()).await;
    let many = provost_store::SNAPSHOT_BATCH * 2 + 7;
    let mut expected: Vec<Assignment> = (0..many)
        .map(|i| Assignment {
            valid_until: (i % 3 == 0).then_some(1_800_000_000 + i as i64),
            ..Assignment::new(&format!("learner-é{i}"), "course_auditor", COURSE)
        })
        .collect();
    for chunk in expected.chunks(10_000) {
        let changes: Vec<Change> = chunk
            .iter()
            .map(|a| Change::AssignmentAdd {
                assignment: a.clone(),
            })
            .collect();
        commit(store, &changes).await;
    }
    let snapshot = store.snapshot().await.expect("snapshot");
    let mut got: Vec<Assignment> = snapshot
        .changes
        .into_iter()
        .filter_map(|c| match c {
            Change::AssignmentAdd { assignment } => Some(assignment),
            _ => None,
        })
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got.len(), many);
    assert!(
        got == expected,
        "the snapshot's assignments differ from those committed"
    );
}
