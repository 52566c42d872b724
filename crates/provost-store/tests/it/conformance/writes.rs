//! Cases for `Store::write`: an app's rows, its audit entries and engine changes in one transaction.

use provost_store::AuditRange::{After, Before};
use provost_store::{AppAudit, AuditFilter, Conn, LogEntry, Outcome, Store, StoreError, Tx};
use serde_json::json;

use super::*;
use crate::support::TestDb;

/// An app's error type: its own refusals, and the store's.
#[derive(Debug)]
enum AppError {
    Store(StoreError),
    Refused,
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        AppError::Store(error)
    }
}

/// The test app's own table, created through a write as an app's migration would create it.
async fn create_batches(store: &Store) {
    let written = store
        .write("tester", |tx| {
            Box::pin(async move {
                let sql = "CREATE TABLE test_batches (id TEXT PRIMARY KEY, name TEXT NOT NULL)";
                match tx.conn() {
                    Conn::Sqlite(c) => sqlx::query(sql).execute(c).await?.rows_affected(),
                    Conn::Postgres(c) => sqlx::query(sql).execute(c).await?.rows_affected(),
                };
                Ok::<_, StoreError>(())
            })
        })
        .await
        .expect("create the app's table");
    assert!(written.entries.is_empty() && written.app_entries.is_empty());
}

async fn insert_batch(tx: &mut Tx<'_>, id: &str, name: &str) -> Result<(), StoreError> {
    let sql = "INSERT INTO test_batches (id, name) VALUES ($1, $2)";
    let inserted = match tx.conn() {
        Conn::Sqlite(c) => sqlx::query(sql)
            .bind(id)
            .bind(name)
            .execute(c)
            .await?
            .rows_affected(),
        Conn::Postgres(c) => sqlx::query(sql)
            .bind(id)
            .bind(name)
            .execute(c)
            .await?
            .rows_affected(),
    };
    assert_eq!(inserted, 1);
    Ok(())
}

/// The app's rows, read in a transaction of their own.
async fn batches(store: &Store) -> Vec<(String, String)> {
    let sql = "SELECT id, name FROM test_batches ORDER BY id";
    store
        .write("tester", |tx| {
            Box::pin(async move {
                let rows = match tx.conn() {
                    Conn::Sqlite(c) => sqlx::query_as(sql).fetch_all(c).await,
                    Conn::Postgres(c) => sqlx::query_as(sql).fetch_all(c).await,
                };
                Ok::<_, StoreError>(rows?)
            })
        })
        .await
        .expect("read the app's rows")
        .value
}

fn created(scope: &str) -> AppAudit {
    AppAudit {
        app: "batches".into(),
        operation: "batch_create".into(),
        subject: Some("alice".into()),
        scope: Some(scope.into()),
        after: Some(json!({ "id": scope, "name": "Python 101" })),
        before: None,
    }
}

/// The write a batches app would make: its row, its creator's assignment, its audit entry.
async fn create_batch(store: &Store, fail: bool) -> Result<provost_store::Written<&str>, AppError> {
    store
        .write("alice", |tx| {
            Box::pin(async move {
                insert_batch(tx, "batch:1", "Python 101").await?;
                let outcome = tx.apply(&add("alice", "course_staff", COURSE)).await?;
                assert_eq!(outcome, Outcome::Applied { revision: 9 });
                let revision = tx.audit(created("batch:1")).await?;
                assert_eq!(revision, 10);
                assert_eq!(tx.revision(), 10);
                if fail {
                    return Err(AppError::Refused);
                }
                Ok("created")
            })
        })
        .await
}

pub async fn app_write_is_atomic(db: &TestDb) {
    let store = &db.store;
    let base = commit(store, &small_policy()).await.revision;
    assert_eq!(base, 8);
    create_batches(store).await;
    assert_eq!(store.revision().await.expect("revision"), base);

    // The closure fails after all three steps: none of them is left.
    let error = create_batch(store, true)
        .await
        .expect_err("the closure's error");
    assert!(matches!(error, AppError::Refused), "{error:?}");
    assert_eq!(store.revision().await.expect("revision"), base);
    assert!(batches(store).await.is_empty());
    assert!(all_assignments(store).await.is_empty());
    assert_eq!(
        revisions(&whole_log(store).await),
        (1..=base).collect::<Vec<_>>()
    );
    let app_log = store.app_audit("batches", Before(None), 100).await;
    assert!(app_log.expect("app audit").is_empty());

    // The same write succeeding: all three, in one run of revisions.
    let written = match create_batch(store, false).await {
        Ok(written) => written,
        Err(AppError::Store(e)) => panic!("the write failed: {e}"),
        Err(AppError::Refused) => panic!("the write was refused"),
    };
    assert_eq!(written.value, "created");
    assert_eq!(written.revision, 10);
    assert_eq!(revisions(&written.entries), [9]);
    assert_eq!(ops(&written.entries), ["assignment_add"]);
    let [entry] = written.app_entries.as_slice() else {
        panic!("one app entry: {:?}", written.app_entries);
    };
    assert_eq!(
        (entry.revision, entry.actor.as_str(), entry.app.as_str()),
        (10, "alice", "batches")
    );
    assert_eq!(entry.operation, "batch_create");
    assert_eq!(
        entry.after,
        Some(json!({ "id": "batch:1", "name": "Python 101" }))
    );
    assert_eq!(store.revision().await.expect("revision"), 10);
    assert_eq!(
        batches(store).await,
        [("batch:1".to_owned(), "Python 101".to_owned())]
    );
    assert_eq!(
        all_assignments(store).await,
        [Assignment::new("alice", "course_staff", COURSE)]
    );

    // The app's entry is in the audit log as it was returned, newest first or oldest first.
    let newest_first = store.app_audit("batches", Before(None), 100).await;
    assert_eq!(newest_first.expect("app audit"), written.app_entries);
    let forward = store.app_audit("batches", After(9), 100).await;
    assert_eq!(forward.expect("app audit"), written.app_entries);
    let others = store.app_audit("programs", Before(None), 100).await;
    assert!(others.expect("app audit").is_empty());

    // The engine's reads leave it out: the audit listing and the change feed show engine rows only.
    let listed = store
        .audit(&AuditFilter::default(), Before(None), 3)
        .await
        .expect("audit");
    assert_eq!(revisions(&listed), [9, 8, 7]);
    assert_eq!(whole_log(store).await.last(), written.entries.last());

    // The log for people has both, in one revision order, filtered by subject and scope alike.
    let everything = AuditFilter::default();
    let log = store.audit_log(&everything, Before(None), 3).await;
    let log: Vec<u64> = log
        .expect("audit log")
        .iter()
        .map(LogEntry::revision)
        .collect();
    assert_eq!(log, [10, 9, 8]);
    let about = AuditFilter {
        subject: Some("alice".into()),
        scope: None,
    };
    let log = store
        .audit_log(&about, After(0), 100)
        .await
        .expect("audit log");
    assert!(
        matches!(log.as_slice(), [LogEntry::Engine(e), LogEntry::App(a)]
        if e.revision == 9 && a == &written.app_entries[0]),
        "{log:?}"
    );

    // A node's feed applies revision 9 and moves past 10 without an entry for it.
    let feed = store.feed(base, 100).await.expect("feed");
    assert_eq!(
        (revisions(&feed.entries), feed.revision, feed.more),
        (vec![9], 10, false)
    );
    let feed = store.feed(9, 100).await.expect("feed");
    assert_eq!((feed.entries.len(), feed.revision), (0, 10));
    let feed = store.feed(10, 100).await.expect("feed");
    assert_eq!((feed.entries.len(), feed.revision), (0, 10));
    let feed = store.feed(base, 1).await.expect("feed");
    assert_eq!(
        (revisions(&feed.entries), feed.revision, feed.more),
        (vec![9], 9, true)
    );

    // The next engine commit takes the next revision.
    let next = commit(store, &[remove("alice", "course_staff", COURSE)]).await;
    assert_eq!(next.revision, 11);
}

pub async fn write_after_a_failed_step_does_not_commit(db: &TestDb) {
    let store = &db.store;
    let base = commit(store, &small_policy()).await.revision;
    // The closure goes on after a step failed (an unknown role) and returns `Ok`: the first,
    // successful step must not be committed alone.
    let result = store
        .write("tester", |tx| {
            Box::pin(async move {
                tx.apply(&Change::UserPut { user: user("bob") }).await?;
                let failed = tx.apply(&add("bob", "no_such_role", COURSE)).await;
                assert_eq!(failed.expect_err("unknown role").code(), "conflict");
                Ok::<_, StoreError>(())
            })
        })
        .await;
    assert_eq!(result.expect_err("no commit").code(), "internal");
    assert_eq!(store.revision().await.expect("revision"), base);
    assert_eq!(store.user("bob").await.expect("read user"), None);
}

/// An app-only write (`Store::app_write`): its row and its audit entry commit together or not at
/// all; the entry enters the log at the next revision once a holder of the write lock moves it
/// there (at once when the lock is free), and the log stays one gap-free run the feed follows.
/// On PostgreSQL it commits while another write holds the lock, and the feed still gets that
/// write's engine row: the app's entry comes after it.
pub async fn app_only_write_enters_the_log_after_commit(db: &TestDb) {
    let store = &db.store;
    create_batches(store).await;
    let base = commit(store, &small_policy()).await.revision;
    let insert = |id: &'static str, fail: bool| async move {
        store
            .app_write("alice", |tx| {
                Box::pin(async move {
                    let sql = "INSERT INTO test_batches (id, name) VALUES ($1, 'x')";
                    let inserted = match tx.conn() {
                        Conn::Sqlite(c) => sqlx::query(sql).bind(id).execute(c).await.map(|_| ()),
                        Conn::Postgres(c) => sqlx::query(sql).bind(id).execute(c).await.map(|_| ()),
                    };
                    inserted.map_err(StoreError::from)?;
                    tx.audit(created(id)).await?;
                    if fail {
                        return Err(AppError::Refused);
                    }
                    Ok::<_, AppError>(id)
                })
            })
            .await
    };
    assert!(matches!(
        insert("batch:0", true).await,
        Err(AppError::Refused)
    ));
    assert_eq!(
        insert("batch:1", false).await.expect("app write"),
        "batch:1"
    );
    assert_eq!(
        batches(store).await.len(),
        1,
        "the refused write left no row"
    );
    let entries = store
        .app_audit("batches", After(0), 10)
        .await
        .expect("app audit");
    let [entry] = entries.as_slice() else {
        panic!("one entry, the committed write's: {entries:?}");
    };
    assert_eq!(
        (entry.revision, entry.actor.as_str(), entry.scope.as_deref()),
        (base + 1, "alice", Some("batch:1"))
    );
    let feed = store.feed(base, 100).await.expect("feed");
    assert_eq!((feed.entries.len(), feed.revision), (0, base + 1));

    if db.backend != "postgres" {
        return;
    }
    // A write holds the lock; an app-only write commits meanwhile, and its entry waits.
    let (held_tx, held) = tokio::sync::oneshot::channel::<()>();
    let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
    let holder_store = store.clone();
    let holder = tokio::spawn(async move {
        holder_store
            .write("bob", |tx| {
                Box::pin(async move {
                    tx.apply(&add("bob", "course_staff", COURSE)).await?;
                    held_tx.send(()).ok();
                    release_rx.await.ok();
                    Ok::<_, StoreError>(())
                })
            })
            .await
            .expect("the holder's write")
            .revision
    });
    held.await.expect("the holder holds the lock");
    insert("batch:2", false)
        .await
        .expect("app write beside the lock");
    assert_eq!(store.revision().await.expect("revision"), base + 1);
    release.send(()).expect("release");
    let engine_revision = holder.await.expect("holder");
    assert_eq!(engine_revision, base + 2);
    // The next write moves what still waits, before its own rows.
    store
        .write("tester", |_| Box::pin(async { Ok::<_, StoreError>(()) }))
        .await
        .expect("a write");
    let feed = store.feed(base + 1, 100).await.expect("feed");
    assert_eq!(revisions(&feed.entries), [base + 2], "the engine's row");
    assert_eq!(feed.revision, base + 3, "then the app's");
    let log = store
        .audit_log(&AuditFilter::default(), After(0), 1000)
        .await
        .expect("audit log");
    let log: Vec<u64> = log.iter().map(LogEntry::revision).collect();
    assert_eq!(log, (1..=base + 3).collect::<Vec<_>>());
}
