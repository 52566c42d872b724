//! Content assignments.

use super::*;

const ASSIGNMENT: &str = "SELECT uuid, policy_uuid, learner_email, lms_user_id, content_key,
    amount_cents, state, allocated_at, expires_at, state_changed_at, transaction_uuid
    FROM enterprise_assignments";

pub async fn assignment(conn: Conn<'_>, uuid: &str) -> Result<Option<Assignment>> {
    let sql = format!("{ASSIGNMENT} WHERE uuid = $1");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Assignment>(&sql).bind(uuid),
        fetch_optional
    ))
}

pub async fn assignment_for(
    conn: Conn<'_>,
    policy: &str,
    email: &str,
    content_key: &str,
) -> Result<Option<Assignment>> {
    let sql =
        format!("{ASSIGNMENT} WHERE policy_uuid = $1 AND learner_email = $2 AND content_key = $3");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Assignment>(&sql)
            .bind(policy)
            .bind(email)
            .bind(content_key),
        fetch_optional
    ))
}

pub async fn assignments_of_policy(conn: Conn<'_>, policy: &str) -> Result<Vec<Assignment>> {
    let sql = format!("{ASSIGNMENT} WHERE policy_uuid = $1 ORDER BY allocated_at, uuid");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Assignment>(&sql).bind(policy),
        fetch_all
    ))
}

/// Allocated assignments whose expiry is at or before `now`, but for those a redemption is
/// paying for right now (claimed by its pending transaction): that one settles them.
pub async fn assignments_due(conn: Conn<'_>, now: i64) -> Result<Vec<Assignment>> {
    let sql = format!(
        "{ASSIGNMENT} WHERE state = 'allocated' AND transaction_uuid IS NULL AND expires_at <= $1
         ORDER BY expires_at, uuid"
    );
    Ok(run!(
        conn,
        sqlx::query_as::<_, Assignment>(&sql).bind(now),
        fetch_all
    ))
}

/// Inserts an assignment, or overwrites the one with its uuid.
pub async fn save_assignment(conn: Conn<'_>, a: &Assignment) -> Result<()> {
    run!(
        conn,
        sqlx::query(
            "INSERT INTO enterprise_assignments (uuid, policy_uuid, learner_email, lms_user_id,
            content_key, amount_cents, state, allocated_at, expires_at, state_changed_at,
            transaction_uuid)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (uuid) DO UPDATE SET lms_user_id = excluded.lms_user_id,
            amount_cents = excluded.amount_cents, state = excluded.state,
            allocated_at = excluded.allocated_at, expires_at = excluded.expires_at,
            state_changed_at = excluded.state_changed_at,
            transaction_uuid = excluded.transaction_uuid",
        )
        .bind(&a.uuid)
        .bind(&a.policy_uuid)
        .bind(&a.learner_email)
        .bind(a.lms_user_id)
        .bind(&a.content_key)
        .bind(a.amount_cents)
        .bind(&a.state)
        .bind(a.allocated_at)
        .bind(a.expires_at)
        .bind(a.state_changed_at)
        .bind(&a.transaction_uuid),
        execute
    );
    Ok(())
}

/// Saves `a` over the stored assignment `before` only while that is still as it was (its state
/// and the transaction it points at): a compare-and-set, since a redemption (an app-only
/// write, outside the store's write lock) and a cancel or an expiry may move the same
/// assignment at once. False when it had moved.
pub async fn save_assignment_from(
    conn: Conn<'_>,
    a: &Assignment,
    before: &Assignment,
) -> Result<bool> {
    Ok(run!(
        conn,
        sqlx::query(
            "UPDATE enterprise_assignments SET lms_user_id = $2, amount_cents = $3, state = $4,
            allocated_at = $5, expires_at = $6, state_changed_at = $7, transaction_uuid = $8
         WHERE uuid = $1 AND state = $9
           AND (transaction_uuid = $10 OR (transaction_uuid IS NULL AND $10 IS NULL))",
        )
        .bind(&a.uuid)
        .bind(a.lms_user_id)
        .bind(a.amount_cents)
        .bind(&a.state)
        .bind(a.allocated_at)
        .bind(a.expires_at)
        .bind(a.state_changed_at)
        .bind(&a.transaction_uuid)
        .bind(&before.state)
        .bind(&before.transaction_uuid),
        execute
    ) > 0)
}

/// Claims an allocated assignment for the redemption `transaction` that pays for it: it stays
/// `allocated`, pointing at that pending transaction, so neither a cancel nor an expiry nor
/// another redemption can take it until the redemption settles (accepted or errored). False
/// when it is no longer allocated, or another redemption holds it.
pub async fn claim_assignment(conn: Conn<'_>, uuid: &str, transaction: &str) -> Result<bool> {
    Ok(run!(
        conn,
        sqlx::query(
            "UPDATE enterprise_assignments SET transaction_uuid = $2
             WHERE uuid = $1 AND state = 'allocated' AND transaction_uuid IS NULL"
        )
        .bind(uuid)
        .bind(transaction),
        execute
    ) > 0)
}

/// The allocated assignment a pending redemption claimed (`claim_assignment`), if any.
pub async fn assignment_claimed_by(
    conn: Conn<'_>,
    transaction: &str,
) -> Result<Option<Assignment>> {
    let sql = format!("{ASSIGNMENT} WHERE transaction_uuid = $1 AND state = 'allocated'");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Assignment>(&sql).bind(transaction),
        fetch_optional
    ))
}
