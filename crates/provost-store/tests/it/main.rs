//! Integration tests of provost-store: one conformance suite, run on SQLite and on PostgreSQL.

mod conformance;
mod connect;
mod support;

/// For each case, a `sqlite::case` and a `postgres::case` test on a fresh database of that backend.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = crate::support::sqlite().await;
                    crate::conformance::$case(&db).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(db) = crate::support::postgres().await else { return };
                    crate::conformance::$case(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}

on_both_backends!(
    policy_puts_and_removes,
    user_put_and_read,
    assignment_add_update_remove,
    bulk_commit_sees_its_own_changes,
    scope_register_and_remove,
    revisions_are_gap_free,
    failed_commit_leaves_nothing,
    role_remove_cascades,
    user_remove_cascades,
    snapshot_round_trip,
    snapshot_pages_through_many_assignments,
    assignment_pages_and_filters,
    audit_filters,
    reopen_keeps_everything,
    concurrent_committers,
    audit_reads_newest_first,
    read_only_store_reads_and_refuses_writes,
    app_write_is_atomic,
    write_after_a_failed_step_does_not_commit,
    app_only_write_enters_the_log_after_commit,
);
