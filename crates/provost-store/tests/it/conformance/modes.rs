//! Cases for how a store is read and opened: the audit log newest first, read-only stores.

use provost_store::{AuditFilter, AuditRange, Store, StoreOptions};

use super::*;
use crate::support::TestDb;

/// Without `since`, people read the newest changes first and page backwards with `Before`;
/// `After` stays the forward change feed.
pub async fn audit_reads_newest_first(db: &TestDb) {
    let store = &db.store;
    let base = commit(store, &small_policy()).await.revision;
    for subject in ["alice", "bob", "carol", "dave"] {
        commit(store, &[add(subject, "course_staff", COURSE)]).await;
    }
    let everyone = AuditFilter::default();
    let newest = store
        .audit(&everyone, AuditRange::Before(None), 3)
        .await
        .expect("audit");
    assert_eq!(revisions(&newest), [base + 4, base + 3, base + 2]);
    assert_eq!(newest[0].change.subject(), Some("dave"));

    // The next page starts below the last revision shown, and the last page is short.
    let next = AuditRange::Before(None).next(base + 2);
    assert_eq!(next, AuditRange::Before(Some(base + 2)));
    let older = store.audit(&everyone, next, 3).await.expect("audit");
    assert_eq!(revisions(&older), [base + 1, base, base - 1]);
    let oldest = store
        .audit(&everyone, AuditRange::Before(Some(3)), 100)
        .await
        .expect("audit");
    assert_eq!(revisions(&oldest), [2, 1]);

    // Filters apply the same way in both directions.
    let bob = AuditFilter {
        subject: Some("bob".into()),
        scope: None,
    };
    let backwards = store
        .audit(&bob, AuditRange::Before(None), 10)
        .await
        .expect("audit");
    let forwards = store
        .audit(&bob, AuditRange::After(0), 10)
        .await
        .expect("audit");
    assert_eq!(revisions(&backwards), [base + 2]);
    assert_eq!(backwards, forwards);

    // The feed reads forward from `since`, oldest first.
    let feed = store
        .audit(&everyone, AuditRange::After(base + 1), 2)
        .await
        .expect("audit");
    assert_eq!(revisions(&feed), [base + 2, base + 3]);
}

/// A read-only handle on a database another handle writes: it reads and follows the writer's
/// changes, and refuses every commit with `read_only` without touching the database.
pub async fn read_only_store_reads_and_refuses_writes(db: &TestDb) {
    let writer = &db.store;
    commit(writer, &small_policy()).await;
    let options = StoreOptions {
        read_only: true,
        ..StoreOptions::default()
    };
    let reader = Store::connect_with(&db.url, &options)
        .await
        .expect("open read-only");
    assert!(reader.read_only());
    assert!(!writer.read_only());
    let before = reader.revision().await.expect("revision");
    assert_eq!(before, writer.revision().await.expect("revision"));

    let refused = reader
        .commit("tester", &[add("alice", "course_staff", COURSE)])
        .await
        .expect_err("read-only");
    assert_eq!(refused.code(), "read_only", "{refused}");
    assert_eq!(reader.revision().await.expect("revision"), before);

    // A change by the writer reaches the reader's change feed.
    commit(writer, &[add("bob", "course_staff", COURSE)]).await;
    let feed = reader.changes_since(before, 10).await.expect("feed");
    assert_eq!(ops(&feed), ["assignment_add"]);
    assert_eq!(feed[0].change.subject(), Some("bob"));
    assert_eq!(all_assignments(&reader).await.len(), 1);
    reader.close().await;
}
