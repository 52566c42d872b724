//! Cases for how a store is read and opened: the audit log newest first.

use provost_store::{AuditFilter, AuditRange};

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
