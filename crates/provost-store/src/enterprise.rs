//! The enterprise app's rows: learners, subsidies and their ledger, catalogs, subsidy access
//! policies, content assignments and learner credit requests. One statement text serves both
//! dialects (`$N` placeholders, integers for times, money and flags).

use sqlx::FromRow;

use crate::err::StoreError;
use crate::tx::Conn;

type Result<T> = std::result::Result<T, StoreError>;

/// Runs one query on whichever dialect `$conn` is, with `$method` (`execute`, `fetch_optional`...).
macro_rules! run {
    // `execute` answers the rows it touched (the result types differ by dialect).
    ($conn:expr, $query:expr, execute) => {
        match $conn {
            Conn::Sqlite(c) => $query.execute(&mut *c).await?.rows_affected(),
            Conn::Postgres(c) => $query.execute(&mut *c).await?.rows_affected(),
        }
    };
    ($conn:expr, $query:expr, $method:ident) => {
        match $conn {
            Conn::Sqlite(c) => $query.$method(&mut *c).await?,
            Conn::Postgres(c) => $query.$method(&mut *c).await?,
        }
    };
}

/// A learner of an enterprise customer (the LMS's enterprise customer user, stood in for here).
#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Learner {
    pub enterprise_uuid: String,
    pub lms_user_id: i64,
    pub username: String,
    pub email: String,
}

/// A subsidy (enterprise-subsidy's, stood in for here): its deposit and what its ledger holds.
#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Subsidy {
    pub uuid: String,
    pub enterprise_uuid: String,
    pub title: String,
    pub starting_balance_cents: i64,
    /// The sum of the ledger's created, pending and committed transactions.
    pub spent_cents: i64,
    pub active_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Catalog {
    pub uuid: String,
    pub enterprise_uuid: String,
    pub title: String,
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct CatalogItem {
    pub content_key: String,
    pub price_cents: i64,
    pub enroll_by: Option<i64>,
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Policy {
    pub uuid: String,
    pub enterprise_uuid: String,
    pub policy_type: String,
    pub display_name: String,
    pub description: String,
    pub active: i64,
    pub retired: i64,
    pub catalog_uuid: String,
    pub subsidy_uuid: String,
    pub access_method: String,
    pub spend_limit_cents: Option<i64>,
    pub per_learner_enrollment_limit: Option<i64>,
    pub per_learner_spend_limit_cents: Option<i64>,
    pub spent_cents: i64,
    pub allocated_cents: i64,
    pub created_at: i64,
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Transaction {
    pub uuid: String,
    pub idempotency_key: String,
    pub subsidy_uuid: String,
    pub policy_uuid: String,
    pub lms_user_id: i64,
    pub content_key: String,
    pub amount_cents: i64,
    pub state: String,
    pub metadata: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Assignment {
    pub uuid: String,
    pub policy_uuid: String,
    pub learner_email: String,
    pub lms_user_id: Option<i64>,
    pub content_key: String,
    pub amount_cents: i64,
    pub state: String,
    pub allocated_at: i64,
    pub expires_at: i64,
    pub state_changed_at: i64,
    pub transaction_uuid: Option<String>,
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct CreditRequest {
    pub uuid: String,
    pub enterprise_uuid: String,
    pub policy_uuid: String,
    pub lms_user_id: i64,
    pub username: String,
    pub email: String,
    pub course_id: String,
    pub course_price_cents: i64,
    pub state: String,
    pub reviewer: Option<String>,
    pub reviewed_at: Option<i64>,
    pub decline_reason: Option<String>,
    pub assignment_uuid: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
}

// ---- learners ----

/// Adds or updates a learner; returns whether anything changed.
pub async fn upsert_learner(conn: Conn<'_>, l: &Learner) -> Result<bool> {
    Ok(run!(
        conn,
        sqlx::query(
            "INSERT INTO enterprise_learners (enterprise_uuid, lms_user_id, username, email)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (enterprise_uuid, lms_user_id) DO UPDATE
         SET username = excluded.username, email = excluded.email
         WHERE enterprise_learners.username <> excluded.username
            OR enterprise_learners.email <> excluded.email",
        )
        .bind(&l.enterprise_uuid)
        .bind(l.lms_user_id)
        .bind(&l.username)
        .bind(&l.email),
        execute
    ) > 0)
}

const LEARNER: &str =
    "SELECT enterprise_uuid, lms_user_id, username, email FROM enterprise_learners";

pub async fn learner_by_id(conn: Conn<'_>, enterprise: &str, id: i64) -> Result<Option<Learner>> {
    let sql = format!("{LEARNER} WHERE enterprise_uuid = $1 AND lms_user_id = $2");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Learner>(&sql).bind(enterprise).bind(id),
        fetch_optional
    ))
}

pub async fn learner_by_username(
    conn: Conn<'_>,
    enterprise: &str,
    username: &str,
) -> Result<Option<Learner>> {
    let sql = format!("{LEARNER} WHERE enterprise_uuid = $1 AND username = $2");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Learner>(&sql)
            .bind(enterprise)
            .bind(username),
        fetch_optional
    ))
}

pub async fn learner_by_email(
    conn: Conn<'_>,
    enterprise: &str,
    email: &str,
) -> Result<Option<Learner>> {
    let sql = format!("{LEARNER} WHERE enterprise_uuid = $1 AND email = $2 ORDER BY lms_user_id");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Learner>(&sql)
            .bind(enterprise)
            .bind(email),
        fetch_optional
    ))
}

// ---- subsidies ----

const SUBSIDY: &str = "SELECT uuid, enterprise_uuid, title, starting_balance_cents, spent_cents,
    active_at, expires_at FROM enterprise_subsidies";

pub async fn subsidy(conn: Conn<'_>, uuid: &str) -> Result<Option<Subsidy>> {
    let sql = format!("{SUBSIDY} WHERE uuid = $1");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Subsidy>(&sql).bind(uuid),
        fetch_optional
    ))
}

pub async fn insert_subsidy(conn: Conn<'_>, s: &Subsidy) -> Result<()> {
    run!(conn, sqlx::query(
        "INSERT INTO enterprise_subsidies (uuid, enterprise_uuid, title, starting_balance_cents,
            spent_cents, active_at, expires_at) VALUES ($1, $2, $3, $4, 0, $5, $6)",
    )
    .bind(&s.uuid)
    .bind(&s.enterprise_uuid)
    .bind(&s.title)
    .bind(s.starting_balance_cents)
    .bind(s.active_at)
    .bind(s.expires_at), execute);
    Ok(())
}

/// Updates a subsidy's title, deposit and window (its ledger stays).
pub async fn update_subsidy(conn: Conn<'_>, s: &Subsidy) -> Result<()> {
    run!(conn, sqlx::query(
        "UPDATE enterprise_subsidies SET title = $2, starting_balance_cents = $3, active_at = $4,
            expires_at = $5 WHERE uuid = $1",
    )
    .bind(&s.uuid)
    .bind(&s.title)
    .bind(s.starting_balance_cents)
    .bind(s.active_at)
    .bind(s.expires_at), execute);
    Ok(())
}

// ---- catalogs ----

pub async fn catalog(conn: Conn<'_>, uuid: &str) -> Result<Option<Catalog>> {
    Ok(run!(
        conn,
        sqlx::query_as::<_, Catalog>(
            "SELECT uuid, enterprise_uuid, title FROM enterprise_catalogs WHERE uuid = $1",
        )
        .bind(uuid),
        fetch_optional
    ))
}

pub async fn upsert_catalog(conn: Conn<'_>, c: &Catalog) -> Result<()> {
    run!(
        conn,
        sqlx::query(
            "INSERT INTO enterprise_catalogs (uuid, enterprise_uuid, title) VALUES ($1, $2, $3)
         ON CONFLICT (uuid) DO UPDATE SET title = excluded.title",
        )
        .bind(&c.uuid)
        .bind(&c.enterprise_uuid)
        .bind(&c.title),
        execute
    );
    Ok(())
}

pub async fn clear_catalog(conn: Conn<'_>, uuid: &str) -> Result<()> {
    run!(
        conn,
        sqlx::query("DELETE FROM enterprise_catalog_content WHERE catalog_uuid = $1").bind(uuid),
        execute
    );
    Ok(())
}

pub async fn insert_catalog_item(conn: Conn<'_>, catalog: &str, item: &CatalogItem) -> Result<()> {
    run!(conn, sqlx::query(
        "INSERT INTO enterprise_catalog_content (catalog_uuid, content_key, price_cents, enroll_by)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(catalog)
    .bind(&item.content_key)
    .bind(item.price_cents)
    .bind(item.enroll_by), execute);
    Ok(())
}

pub async fn catalog_item(
    conn: Conn<'_>,
    catalog: &str,
    content_key: &str,
) -> Result<Option<CatalogItem>> {
    Ok(run!(
        conn,
        sqlx::query_as::<_, CatalogItem>(
            "SELECT content_key, price_cents, enroll_by FROM enterprise_catalog_content
         WHERE catalog_uuid = $1 AND content_key = $2",
        )
        .bind(catalog)
        .bind(content_key),
        fetch_optional
    ))
}

// ---- policies ----

const POLICY: &str = "SELECT uuid, enterprise_uuid, policy_type, display_name, description, active,
    retired, catalog_uuid, subsidy_uuid, access_method, spend_limit_cents,
    per_learner_enrollment_limit, per_learner_spend_limit_cents, spent_cents, allocated_cents,
    created_at FROM enterprise_policies";

pub async fn policy(conn: Conn<'_>, uuid: &str) -> Result<Option<Policy>> {
    let sql = format!("{POLICY} WHERE uuid = $1");
    Ok(run!(
        conn,
        sqlx::query_as::<_, Policy>(&sql).bind(uuid),
        fetch_optional
    ))
}

/// The customer's policies, oldest first; retired ones only when asked.
pub async fn policies(conn: Conn<'_>, enterprise: &str, with_retired: bool) -> Result<Vec<Policy>> {
    let sql = format!(
        "{POLICY} WHERE enterprise_uuid = $1 AND (retired = 0 OR $2 = 1) ORDER BY created_at, uuid"
    );
    Ok(run!(
        conn,
        sqlx::query_as::<_, Policy>(&sql)
            .bind(enterprise)
            .bind(i64::from(with_retired)),
        fetch_all
    ))
}

pub async fn insert_policy(conn: Conn<'_>, p: &Policy) -> Result<()> {
    run!(
        conn,
        sqlx::query(
            "INSERT INTO enterprise_policies (uuid, enterprise_uuid, policy_type, display_name,
            description, active, retired, catalog_uuid, subsidy_uuid, access_method,
            spend_limit_cents, per_learner_enrollment_limit, per_learner_spend_limit_cents,
            spent_cents, allocated_cents, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, 0, $14)",
        )
        .bind(&p.uuid)
        .bind(&p.enterprise_uuid)
        .bind(&p.policy_type)
        .bind(&p.display_name)
        .bind(&p.description)
        .bind(p.active)
        .bind(p.retired)
        .bind(&p.catalog_uuid)
        .bind(&p.subsidy_uuid)
        .bind(&p.access_method)
        .bind(p.spend_limit_cents)
        .bind(p.per_learner_enrollment_limit)
        .bind(p.per_learner_spend_limit_cents)
        .bind(p.created_at),
        execute
    );
    Ok(())
}

/// Writes a policy's changeable fields (not its customer, type, subsidy or spend).
pub async fn update_policy(conn: Conn<'_>, p: &Policy) -> Result<()> {
    run!(
        conn,
        sqlx::query(
            "UPDATE enterprise_policies SET display_name = $2, description = $3, active = $4,
            retired = $5, catalog_uuid = $6, spend_limit_cents = $7,
            per_learner_enrollment_limit = $8, per_learner_spend_limit_cents = $9
         WHERE uuid = $1",
        )
        .bind(&p.uuid)
        .bind(&p.display_name)
        .bind(&p.description)
        .bind(p.active)
        .bind(p.retired)
        .bind(&p.catalog_uuid)
        .bind(p.spend_limit_cents)
        .bind(p.per_learner_enrollment_limit)
        .bind(p.per_learner_spend_limit_cents),
        execute
    );
    Ok(())
}

/// The sum of the spend limits of the subsidy's active, unretired policies but `except`.
pub async fn active_spend_limits(conn: Conn<'_>, subsidy: &str, except: &str) -> Result<i64> {
    Ok(run!(
        conn,
        sqlx::query_scalar::<_, i64>(
            "SELECT CAST(COALESCE(SUM(spend_limit_cents), 0) AS BIGINT) FROM enterprise_policies
         WHERE subsidy_uuid = $1 AND active = 1 AND retired = 0 AND uuid <> $2",
        )
        .bind(subsidy)
        .bind(except),
        fetch_one
    ))
}

/// What a learner spent through a policy, and how many enrollments: (cents, enrollments).
pub async fn learner_usage(conn: Conn<'_>, policy: &str, lms_user_id: i64) -> Result<(i64, i64)> {
    Ok(run!(
        conn,
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT spent_cents, enrollments FROM enterprise_policy_learners
         WHERE policy_uuid = $1 AND lms_user_id = $2",
        )
        .bind(policy)
        .bind(lms_user_id),
        fetch_optional
    )
    .unwrap_or((0, 0)))
}

// ---- spending: each step is a conditional update, so no limit can be passed ----

/// A limit a debit would have passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    Subsidy,
    Policy,
    LearnerSpend,
    LearnerEnrollments,
}

/// One redemption's money: `amount` out of the subsidy and into the policy's spend (moving
/// `from_allocation` out of its allocations), and into the learner's usage. Each step is an
/// UPDATE guarded by its limit (and by the subsidy's window and the policy being active); the
/// first that would pass one says which, and the caller rolls the transaction back.
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
    Ok(None)
}

/// Gives a reversed redemption's money back to the subsidy, the policy and the learner.
pub async fn refund(mut tx: impl ConnSource, t: &Transaction) -> Result<()> {
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

// ---- the ledger ----

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

// ---- content assignments ----

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

// ---- learner credit requests ----

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

/// Something that hands out the same transaction's connection again and again (a `Tx`, a
/// `Reader`), for functions that run several statements.
pub trait ConnSource {
    fn conn(&mut self) -> Conn<'_>;
}

impl ConnSource for &mut crate::tx::Tx<'_> {
    fn conn(&mut self) -> Conn<'_> {
        crate::tx::Tx::conn(self)
    }
}

impl ConnSource for &mut crate::tx::Reader {
    fn conn(&mut self) -> Conn<'_> {
        crate::tx::Reader::conn(self)
    }
}
