//! The money: guarded debits and refunds, allocations, and the subsidy's ledger.

use super::*;

/// A limit a debit would have passed, or a fact it rests on that no longer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    Subsidy,
    Policy,
    LearnerSpend,
    LearnerEnrollments,
    /// The learner left the customer after the checks outside the transaction.
    NotALearner,
    /// The content left the policy's catalog after the checks outside the transaction.
    NotInCatalog,
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

impl Debit<'_> {
    fn spend_limit(&self) -> i64 {
        self.learner_spend_limit.unwrap_or(i64::MAX)
    }

    fn enrollment_limit(&self) -> i64 {
        self.learner_enrollment_limit.unwrap_or(i64::MAX)
    }

    /// A limit the amount alone passes, before any row is touched.
    fn beyond_learner_limits(&self) -> Option<Exceeded> {
        if self.amount > self.spend_limit() {
            Some(Exceeded::LearnerSpend)
        } else if self.enrollment_limit() < 1 {
            Some(Exceeded::LearnerEnrollments)
        } else {
            None
        }
    }
}

/// The whole debit: the learner's usage (`debit_learner`), then the subsidy and the policy
/// (`debit_shared`).
pub async fn debit(mut tx: impl ConnSource, d: &Debit<'_>) -> Result<Option<Exceeded>> {
    if let Some(exceeded) = debit_learner(&mut tx, d).await? {
        return Ok(Some(exceeded));
    }
    debit_shared(&mut tx, d).await
}

const LEARNER_USAGE_UPSERT: &str = "
    ON CONFLICT (policy_uuid, lms_user_id) DO UPDATE
    SET spent_cents = enterprise_policy_learners.spent_cents + excluded.spent_cents,
        enrollments = enterprise_policy_learners.enrollments + 1
    WHERE enterprise_policy_learners.spent_cents + excluded.spent_cents <= $4
      AND enterprise_policy_learners.enrollments + 1 <= $5";

/// `amount` into the learner's usage of the policy, within their limits.
pub async fn debit_learner(mut tx: impl ConnSource, d: &Debit<'_>) -> Result<Option<Exceeded>> {
    if let Some(exceeded) = d.beyond_learner_limits() {
        return Ok(Some(exceeded));
    }
    let sql = format!(
        "INSERT INTO enterprise_policy_learners (policy_uuid, lms_user_id, spent_cents, enrollments)
         VALUES ($1, $2, $3, 1) {LEARNER_USAGE_UPSERT}"
    );
    let upserted = run!(
        tx.conn(),
        sqlx::query(&sql)
            .bind(d.policy)
            .bind(d.lms_user_id)
            .bind(d.amount)
            .bind(d.spend_limit())
            .bind(d.enrollment_limit()),
        execute
    );
    if upserted == 0 {
        return Ok(Some(learner_limit(&mut tx, d).await?));
    }
    Ok(None)
}

/// Which of the learner's limits a refused usage update would have passed.
async fn learner_limit(mut tx: impl ConnSource, d: &Debit<'_>) -> Result<Exceeded> {
    let (spent, _) = learner_usage(tx.conn(), d.policy, d.lms_user_id).await?;
    Ok(if spent.saturating_add(d.amount) > d.spend_limit() {
        Exceeded::LearnerSpend
    } else {
        Exceeded::LearnerEnrollments
    })
}

/// Where a redemption's learner and content must still be: the learner at the customer, the
/// content in the policy's catalog.
pub struct Standing<'a> {
    pub customer: &'a str,
    pub catalog: &'a str,
}

/// Opens a redemption: records its ledger entry `t` and moves its amount into the learner's
/// usage (`debit_learner`), once the learner still belongs to the customer and the content is
/// still in the catalog (they were checked outside the transaction, and may have left since).
/// On PostgreSQL this is one statement, which holds the learner's and the content's rows
/// (`FOR SHARE`) until the transaction ends, so neither can leave before it commits; on SQLite
/// the single writer holds everything anyway. The entry goes in first: its unique idempotency
/// key makes a concurrent retry wait for this transaction, then conflict.
pub async fn open_redemption(
    mut tx: impl ConnSource,
    t: &Transaction,
    at: &Standing<'_>,
    d: &Debit<'_>,
) -> Result<Option<Exceeded>> {
    if let Some(exceeded) = d.beyond_learner_limits() {
        return Ok(Some(exceeded));
    }
    let opened = match tx.conn() {
        // The single writer goes step by step, below.
        Conn::Sqlite(_) => None,
        Conn::Postgres(c) => {
            let sql = format!(
                "WITH entry AS (
                    INSERT INTO enterprise_transactions (uuid, idempotency_key, subsidy_uuid,
                        policy_uuid, lms_user_id, content_key, amount_cents, state, metadata,
                        created_at, modified_at)
                    VALUES ($6, $7, $8, $1, $2, $9, $3, $10, $11, $12, $13) RETURNING 1)
                 INSERT INTO enterprise_policy_learners (policy_uuid, lms_user_id, spent_cents,
                     enrollments)
                 SELECT $1, $2, $3, 1 FROM entry
                 WHERE EXISTS (SELECT 1 FROM enterprise_learners
                               WHERE enterprise_uuid = $14 AND lms_user_id = $2 FOR SHARE)
                   AND EXISTS (SELECT 1 FROM enterprise_catalog_content
                               WHERE catalog_uuid = $15 AND content_key = $9 FOR SHARE)
                 {LEARNER_USAGE_UPSERT}"
            );
            Some(
                sqlx::query(&sql)
                    .bind(d.policy)
                    .bind(d.lms_user_id)
                    .bind(d.amount)
                    .bind(d.spend_limit())
                    .bind(d.enrollment_limit())
                    .bind(&t.uuid)
                    .bind(&t.idempotency_key)
                    .bind(&t.subsidy_uuid)
                    .bind(&t.content_key)
                    .bind(&t.state)
                    .bind(&t.metadata)
                    .bind(t.created_at)
                    .bind(t.modified_at)
                    .bind(at.customer)
                    .bind(at.catalog)
                    .execute(&mut *c)
                    .await?
                    .rows_affected()
                    > 0,
            )
        }
    };
    let Some(opened) = opened else {
        insert_transaction(tx.conn(), t).await?;
        if let Some(gone) = standing(&mut tx, at, d.lms_user_id, &t.content_key).await? {
            return Ok(Some(gone));
        }
        return debit_learner(&mut tx, d).await;
    };
    if opened {
        return Ok(None);
    }
    if let Some(gone) = standing(&mut tx, at, d.lms_user_id, &t.content_key).await? {
        return Ok(Some(gone));
    }
    Ok(Some(learner_limit(&mut tx, d).await?))
}

/// Which of the learner and the content is gone, if one is.
async fn standing(
    mut tx: impl ConnSource,
    at: &Standing<'_>,
    lms_user_id: i64,
    content_key: &str,
) -> Result<Option<Exceeded>> {
    let (learner, content): (i64, i64) = run!(
        tx.conn(),
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM enterprise_learners
                     WHERE enterprise_uuid = $1 AND lms_user_id = $2),
                    (SELECT COUNT(*) FROM enterprise_catalog_content
                     WHERE catalog_uuid = $3 AND content_key = $4)",
        )
        .bind(at.customer)
        .bind(lms_user_id)
        .bind(at.catalog)
        .bind(content_key),
        fetch_one
    );
    Ok(if learner == 0 {
        Some(Exceeded::NotALearner)
    } else if content == 0 {
        Some(Exceeded::NotInCatalog)
    } else {
        None
    })
}

/// `amount` out of the subsidy and into the policy's spend, within the subsidy's balance and
/// window and the policy's limit. These rows every redemption of the policy shares: the caller
/// takes them as late as it can. On PostgreSQL one statement updates both (the subsidy's row
/// first, as `refund` does).
pub async fn debit_shared(mut tx: impl ConnSource, d: &Debit<'_>) -> Result<Option<Exceeded>> {
    const SUBSIDY: &str = "UPDATE enterprise_subsidies SET spent_cents = spent_cents + $2
         WHERE uuid = $1 AND spent_cents + $2 <= starting_balance_cents
           AND active_at <= $3 AND expires_at > $3";
    const POLICY: &str = "UPDATE enterprise_policies
         SET spent_cents = spent_cents + $2, allocated_cents = allocated_cents - $5
         WHERE uuid = $4 AND allocated_cents >= $5 AND active = 1 AND retired = 0
           AND (spend_limit_cents IS NULL
                OR spent_cents + allocated_cents - $5 + $2 <= spend_limit_cents)";
    let (subsidy, policy) = match tx.conn() {
        Conn::Sqlite(c) => {
            let bind = |sql| {
                sqlx::query(sql)
                    .bind(d.subsidy)
                    .bind(d.amount)
                    .bind(d.now)
                    .bind(d.policy)
                    .bind(d.from_allocation)
            };
            // `$N` names the N-th value on SQLite too; values a statement leaves out are unused.
            let subsidy = bind(SUBSIDY).execute(&mut *c).await?.rows_affected();
            if subsidy == 0 {
                (0, 0)
            } else {
                (
                    subsidy,
                    bind(POLICY).execute(&mut *c).await?.rows_affected(),
                )
            }
        }
        Conn::Postgres(c) => {
            let sql = format!(
                "WITH subsidy AS ({SUBSIDY} RETURNING 1),
                      policy AS ({POLICY} AND EXISTS (SELECT 1 FROM subsidy) RETURNING 1)
                 SELECT (SELECT COUNT(*) FROM subsidy), (SELECT COUNT(*) FROM policy)"
            );
            let counts: (i64, i64) = sqlx::query_as(&sql)
                .bind(d.subsidy)
                .bind(d.amount)
                .bind(d.now)
                .bind(d.policy)
                .bind(d.from_allocation)
                .fetch_one(&mut *c)
                .await?;
            (counts.0 as u64, counts.1 as u64)
        }
    };
    Ok(if subsidy == 0 {
        Some(Exceeded::Subsidy)
    } else if policy == 0 {
        Some(Exceeded::Policy)
    } else {
        None
    })
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

/// Pending transactions created at or before `before`, oldest first: redemptions whose second
/// step (after the LMS call) never ran, for the sweep to settle.
pub async fn pending_transactions(conn: Conn<'_>, before: i64) -> Result<Vec<Transaction>> {
    let sql = format!(
        "{TRANSACTION} WHERE state = 'pending' AND created_at <= $1 ORDER BY created_at, uuid"
    );
    Ok(run!(
        conn,
        sqlx::query_as::<_, Transaction>(&sql).bind(before),
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
