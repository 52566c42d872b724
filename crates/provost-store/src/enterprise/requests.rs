//! Learner credit requests.

use super::*;

const REQUEST: &str = "SELECT uuid, enterprise_uuid, policy_uuid, lms_user_id, username, email,
    course_id, course_price_cents, state, reviewer, reviewed_at, decline_reason, assignment_uuid,
    created_at, modified_at FROM enterprise_credit_requests";

pub async fn credit_request(conn: Conn<'_>, uuid: &str) -> Result<Option<CreditRequest>> {
    let sql = format!("{REQUEST} WHERE uuid = $1");
    Ok(run!(
        conn,
        sqlx::query_as::<_, CreditRequest>(&sql).bind(uuid),
        fetch_optional
    ))
}

/// The learner's requests for a course at a customer, newest first.
pub async fn credit_requests_for(
    conn: Conn<'_>,
    enterprise: &str,
    lms_user_id: i64,
    course_id: &str,
) -> Result<Vec<CreditRequest>> {
    let sql = format!(
        "{REQUEST} WHERE enterprise_uuid = $1 AND lms_user_id = $2 AND course_id = $3
         ORDER BY created_at DESC, uuid"
    );
    Ok(run!(
        conn,
        sqlx::query_as::<_, CreditRequest>(&sql)
            .bind(enterprise)
            .bind(lms_user_id)
            .bind(course_id),
        fetch_all
    ))
}

pub async fn credit_requests(conn: Conn<'_>, enterprise: &str) -> Result<Vec<CreditRequest>> {
    let sql = format!("{REQUEST} WHERE enterprise_uuid = $1 ORDER BY created_at, uuid");
    Ok(run!(
        conn,
        sqlx::query_as::<_, CreditRequest>(&sql).bind(enterprise),
        fetch_all
    ))
}

pub async fn credit_request_of_assignment(
    conn: Conn<'_>,
    assignment: &str,
) -> Result<Option<CreditRequest>> {
    let sql = format!("{REQUEST} WHERE assignment_uuid = $1");
    Ok(run!(
        conn,
        sqlx::query_as::<_, CreditRequest>(&sql).bind(assignment),
        fetch_optional
    ))
}

/// Inserts a request, or overwrites the one with its uuid.
pub async fn save_credit_request(conn: Conn<'_>, r: &CreditRequest) -> Result<()> {
    run!(conn, sqlx::query(
        "INSERT INTO enterprise_credit_requests (uuid, enterprise_uuid, policy_uuid, lms_user_id,
            username, email, course_id, course_price_cents, state, reviewer, reviewed_at,
            decline_reason, assignment_uuid, created_at, modified_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (uuid) DO UPDATE SET policy_uuid = excluded.policy_uuid,
            course_price_cents = excluded.course_price_cents, state = excluded.state,
            reviewer = excluded.reviewer, reviewed_at = excluded.reviewed_at,
            decline_reason = excluded.decline_reason, assignment_uuid = excluded.assignment_uuid,
            modified_at = excluded.modified_at",
    )
    .bind(&r.uuid)
    .bind(&r.enterprise_uuid)
    .bind(&r.policy_uuid)
    .bind(r.lms_user_id)
    .bind(&r.username)
    .bind(&r.email)
    .bind(&r.course_id)
    .bind(r.course_price_cents)
    .bind(&r.state)
    .bind(&r.reviewer)
    .bind(r.reviewed_at)
    .bind(&r.decline_reason)
    .bind(&r.assignment_uuid)
    .bind(r.created_at)
    .bind(r.modified_at), execute);
    Ok(())
}
