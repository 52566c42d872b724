//! The money: guarded debits and refunds, allocations, and the subsidy's ledger.

use super::*;

/// A limit a debit would have passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    Subsidy,
    Policy,
    LearnerSpend,
    LearnerEnrollments,
}

/// One redemption's money: `amount` into the learner's usage, out of the subsidy and into the
/// policy's spend (moving `from_allocation` out of its allocations). Each step is an UPDATE
/// guarded by its limit (and by the subsidy's window and the policy being active); the first
/// that would pass one says which, and the caller rolls the transaction back.
///
/// The order is the order of row locks, the same in `refund`, so that two writes never wait
/// for each other: the learner's own row first, then the rows every redemption of the subsidy
/// and of the policy shares, taken last so that they are held only for the rest of the
/// transaction. A concurrent redemption against the same policy waits for them (on PostgreSQL
/// at most `APP_WRITE_LOCK_TIMEOUT` in an app-only write).
pub struct Debit<'a> {
    /// The time of the redemption: the subsidy must be active then.
    pub now: i64,
    pub subsidy: &'a str,
    pub policy: &'a str,
    pub lms_user_id: i64,
    pub amount: i64,
    pub from_allocation: i64,
    pub learner_spend_limit: Option<i64>,
    pub learner_enrollment_limit: Option<i64>,
}

pub async fn debit(mut tx: impl ConnSource, d: &Debit<'_>) -> Result<Option<Exceeded>> {
    let spend_limit = d.learner_spend_limit.unwrap_or(i64::MAX);
    let enrollment_limit = d.learner_enrollment_limit.unwrap_or(i64::MAX);
    if d.amount > spend_limit || enrollment_limit < 1 {
        return Ok(Some(if d.amount > spend_limit {
            Exceeded::LearnerSpend
        } else {
            Exceeded::LearnerEnrollments
        }));
    }
    if run!(tx.conn(), sqlx::query(
        "INSERT INTO enterprise_policy_learners (policy_uuid, lms_user_id, spent_cents, enrollments)
         VALUES ($1, $2, $3, 1)
         ON CONFLICT (policy_uuid, lms_user_id) DO UPDATE
         SET spent_cents = enterprise_policy_learners.spent_cents + excluded.spent_cents,
             enrollments = enterprise_policy_learners.enrollments + 1
         WHERE enterprise_policy_learners.spent_cents + excluded.spent_cents <= $4
           AND enterprise_policy_learners.enrollments + 1 <= $5",
    )
    .bind(d.policy)
    .bind(d.lms_user_id)
    .bind(d.amount)
    .bind(spend_limit)
    .bind(enrollment_limit), execute)
        == 0
    {
        let (spent, _) = learner_usage(tx.conn(), d.policy, d.lms_user_id).await?;
        return Ok(Some(if spent.saturating_add(d.amount) > spend_limit {
            Exceeded::LearnerSpend
        } else {
            Exceeded::LearnerEnrollments
        }));
    }
    if run!(
        tx.conn(),
        sqlx::query(
            "UPDATE enterprise_subsidies SET spent_cents = spent_cents + $2
         WHERE uuid = $1 AND spent_cents + $2 <= starting_balance_cents
           AND active_at <= $3 AND expires_at > $3",
        )
        .bind(d.subsidy)
        .bind(d.amount)
        .bind(d.now),
        execute
    ) == 0
    {
        return Ok(Some(Exceeded::Subsidy));
    }
    if run!(
        tx.conn(),
        sqlx::query(
            "UPDATE enterprise_policies
         SET spent_cents = spent_cents + $2, allocated_cents = allocated_cents - $3
         WHERE uuid = $1 AND allocated_cents >= $3 AND active = 1 AND retired = 0
           AND (spend_limit_cents IS NULL
                OR spent_cents + allocated_cents - $3 + $2 <= spend_limit_cents)",
        )
        .bind(d.policy)
        .bind(d.amount)
        .bind(d.from_allocation),
        execute
    ) == 0
    {
        return Ok(Some(Exceeded::Policy));
    }
    Ok(None)
}

/// Gives a reversed redemption's money back to the learner, the subsidy and the policy (in
/// `debit`'s order of row locks).
pub async fn refund(mut tx: impl ConnSource, t: &Transaction) -> Result<()> {
    run!(
        tx.conn(),
        sqlx::query(
            "UPDATE enterprise_policy_learners
         SET spent_cents = spent_cents - $3, enrollments = enrollments - 1
         WHERE policy_uuid = $1 AND lms_user_id = $2",
        )
        .bind(&t.policy_uuid)
        .bind(t.lms_user_id)
        .bind(t.amount_cents),
        execute
    );
    run!(
        tx.conn(),
        sqlx::query(
            "UPDATE enterprise_subsidies SET spent_cents = spent_cents - $2 WHERE uuid = $1",
        )
        .bind(&t.subsidy_uuid)
        .bind(t.amount_cents),
        execute
    );
    run!(
        tx.conn(),
        sqlx::query(
            "UPDATE enterprise_policies SET spent_cents = spent_cents - $2 WHERE uuid = $1",
        )
        .bind(&t.policy_uuid)
        .bind(t.amount_cents),
        execute
    );
    Ok(())
}

/// Moves `delta` cents (negative to release) into a policy's allocations, within its limit.
/// False when the limit would be passed.
pub async fn allocate(conn: Conn<'_>, policy: &str, delta: i64) -> Result<bool> {
    Ok(run!(conn, sqlx::query(
        "UPDATE enterprise_policies SET allocated_cents = allocated_cents + $2
         WHERE uuid = $1 AND allocated_cents + $2 >= 0
           AND (spend_limit_cents IS NULL OR spent_cents + allocated_cents + $2 <= spend_limit_cents)",
    )
    .bind(policy)
    .bind(delta), execute) > 0)
}

const TRANSACTION: &str = "SELECT uuid, idempotency_key, subsidy_uuid, policy_uuid, lms_user_id,
    content_key, amount_cents, state, metadata, created_at, modified_at FROM enterprise_transactions";

pub async fn transaction(conn: Conn<'_>, uuid: &str) -> Result<Option<Transaction>> {
    let sql = format!("{TRANSACTION} WHERE uuid = $1");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Transaction>(&sql).bind(uuid),
        fetch_optional
    ))
}

pub async fn transaction_by_key(conn: Conn<'_>, key: &str) -> Result<Option<Transaction>> {
    let sql = format!("{TRANSACTION} WHERE idempotency_key = $1");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Transaction>(&sql).bind(key),
        fetch_optional
    ))
}

/// A subsidy's or a policy's transactions (whichever `column` names), oldest first.
pub async fn transactions_of_policy(conn: Conn<'_>, policy: &str) -> Result<Vec<Transaction>> {
    let sql = format!("{TRANSACTION} WHERE policy_uuid = $1 ORDER BY created_at, uuid");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Transaction>(&sql).bind(policy),
        fetch_all
    ))
}

pub async fn transactions_of_subsidy(conn: Conn<'_>, subsidy: &str) -> Result<Vec<Transaction>> {
    let sql = format!("{TRANSACTION} WHERE subsidy_uuid = $1 ORDER BY created_at, uuid");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Transaction>(&sql).bind(subsidy),
        fetch_all
    ))
}

/// Every attempt of a learner to redeem this content through this policy, oldest first: how many
/// failed or were reversed is part of the idempotency key, and a retry finds its first one here.
pub async fn attempts(
    conn: Conn<'_>,
    policy: &str,
    lms_user_id: i64,
    content_key: &str,
) -> Result<Vec<Transaction>> {
    let sql = format!(
        "{TRANSACTION} WHERE policy_uuid = $1 AND lms_user_id = $2 AND content_key = $3
         ORDER BY created_at, uuid"
    );
    Ok(run!(
        conn,
        sqlx::query_as::<_, Transaction>(&sql)
            .bind(policy)
            .bind(lms_user_id)
            .bind(content_key),
        fetch_all
    ))
}

pub async fn insert_transaction(conn: Conn<'_>, t: &Transaction) -> Result<()> {
    run!(
        conn,
        sqlx::query(
            "INSERT INTO enterprise_transactions (uuid, idempotency_key, subsidy_uuid, policy_uuid,
            lms_user_id, content_key, amount_cents, state, metadata, created_at, modified_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&t.uuid)
        .bind(&t.idempotency_key)
        .bind(&t.subsidy_uuid)
        .bind(&t.policy_uuid)
        .bind(t.lms_user_id)
        .bind(&t.content_key)
        .bind(t.amount_cents)
        .bind(&t.state)
        .bind(&t.metadata)
        .bind(t.created_at)
        .bind(t.modified_at),
        execute
    );
    Ok(())
}

/// Moves a transaction from `from` to `to`; false when it was not in `from`.
pub async fn set_transaction_state(
    conn: Conn<'_>,
    uuid: &str,
    from: &str,
    to: &str,
    at: i64,
) -> Result<bool> {
    Ok(run!(
        conn,
        sqlx::query(
            "UPDATE enterprise_transactions SET state = $3, modified_at = $4
         WHERE uuid = $1 AND state = $2",
        )
        .bind(uuid)
        .bind(from)
        .bind(to)
        .bind(at),
        execute
    ) > 0)
}
