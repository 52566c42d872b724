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

/// Allocated assignments whose expiry is at or before `now`.
pub async fn assignments_due(conn: Conn<'_>, now: i64) -> Result<Vec<Assignment>> {
    let sql = format!(
        "{ASSIGNMENT} WHERE state = 'allocated' AND expires_at <= $1 ORDER BY expires_at, uuid"
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

/// Saves `a` over the stored assignment only while that is still in state `from`: a
/// compare-and-set, since a redemption (an app-only write, outside the store's write lock) and
/// a cancel or an expiry may move the same assignment at once. False when it had moved.
pub async fn save_assignment_from(conn: Conn<'_>, a: &Assignment, from: &str) -> Result<bool> {
    Ok(run!(
        conn,
        sqlx::query(
            "UPDATE enterprise_assignments SET lms_user_id = $2, amount_cents = $3, state = $4,
            allocated_at = $5, expires_at = $6, state_changed_at = $7, transaction_uuid = $8
         WHERE uuid = $1 AND state = $9",
        )
        .bind(&a.uuid)
        .bind(a.lms_user_id)
        .bind(a.amount_cents)
        .bind(&a.state)
        .bind(a.allocated_at)
        .bind(a.expires_at)
        .bind(a.state_changed_at)
        .bind(&a.transaction_uuid)
        .bind(from),
        execute
    ) > 0)
}

/// Locks the assignment for the rest of the transaction if it is in `state`; false when not.
pub async fn claim_assignment(conn: Conn<'_>, uuid: &str, state: &str) -> Result<bool> {
    Ok(run!(
        conn,
        sqlx::query(
            "UPDATE enterprise_assignments SET state = state WHERE uuid = $1 AND state = $2"
        )
        .bind(uuid)
        .bind(state),
        execute
    ) > 0)
}
