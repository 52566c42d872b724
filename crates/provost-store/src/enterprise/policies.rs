//! Subsidy access policies and what each learner used of them.

use super::*;

const POLICY: &str = "SELECT uuid, enterprise_uuid, policy_type, display_name, description, active,
    retired, catalog_uuid, subsidy_uuid, access_method, spend_limit_cents,
    per_learner_enrollment_limit, per_learner_spend_limit_cents, spent_cents, allocated_cents,
    created_at FROM enterprise_policies";

pub async fn policy(mut conn: Conn<'_>, uuid: &str) -> Result<Option<Policy>> {
    let sql = format!("{POLICY} WHERE uuid = $1");
    let found = run!(
        conn.reborrow(),
        sqlx::query_as::<_, Policy>(&sql).bind(uuid),
        fetch_optional
    );
    let Some(mut policy) = found else {
        return Ok(None);
    };
    policy.group_uuids = policy_groups(conn, uuid).await?;
    Ok(Some(policy))
}

/// A policy as one learner's redemption of one content key sees it, read in one statement.
#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct PolicyForRedeem {
    #[sqlx(flatten)]
    pub policy: Policy,
    /// What the learner spent through the policy, and how often they enrolled.
    pub learner_spent_cents: i64,
    pub learner_enrollments: i64,
    /// The learner's attempts at this content through the policy that failed or were reversed
    /// (part of the idempotency key), and those that did not (a retry's first one among them).
    pub spent_attempts: i64,
    pub live_attempts: i64,
    /// How many enterprise groups the policy is for (0: all the customer's learners); its
    /// `policy.group_uuids` are not read here.
    pub group_count: i64,
}

/// The policy `uuid` with the learner's usage of it and their attempts at `content_key`.
pub async fn policy_for_redeem(
    conn: Conn<'_>,
    uuid: &str,
    lms_user_id: i64,
    content_key: &str,
) -> Result<Option<PolicyForRedeem>> {
    const ATTEMPTS: &str = "FROM enterprise_transactions t
        WHERE t.policy_uuid = p.uuid AND t.lms_user_id = $2 AND t.content_key = $3";
    let sql = format!(
        "SELECT p.*, COALESCE(u.spent_cents, 0) AS learner_spent_cents,
                COALESCE(u.enrollments, 0) AS learner_enrollments,
                (SELECT COUNT(*) {ATTEMPTS} AND t.state IN ('failed', 'reversed')) AS spent_attempts,
                (SELECT COUNT(*) {ATTEMPTS} AND t.state NOT IN ('failed', 'reversed'))
                    AS live_attempts,
                (SELECT COUNT(*) FROM enterprise_policy_groups g WHERE g.policy_uuid = p.uuid)
                    AS group_count
         FROM enterprise_policies p
         LEFT JOIN enterprise_policy_learners u ON u.policy_uuid = p.uuid AND u.lms_user_id = $2
         WHERE p.uuid = $1"
    );
    Ok(run!(
        conn,
        sqlx::query_as::<_, PolicyForRedeem>(&sql)
            .bind(uuid)
            .bind(lms_user_id)
            .bind(content_key),
        fetch_optional
    ))
}

/// The customer's policies, oldest first; retired ones only when asked.
pub async fn policies(
    mut conn: Conn<'_>,
    enterprise: &str,
    with_retired: bool,
) -> Result<Vec<Policy>> {
    let sql = format!(
        "{POLICY} WHERE enterprise_uuid = $1 AND (retired = 0 OR $2 = 1) ORDER BY created_at, uuid"
    );
    let mut found = run!(
        conn.reborrow(),
        sqlx::query_as::<_, Policy>(&sql)
            .bind(enterprise)
            .bind(i64::from(with_retired)),
        fetch_all
    );
    for (policy, group) in customer_policy_groups(conn, enterprise).await? {
        if let Some(p) = found.iter_mut().find(|p| p.uuid == policy) {
            p.group_uuids.push(group);
        }
    }
    Ok(found)
}

pub async fn insert_policy(mut conn: Conn<'_>, p: &Policy) -> Result<()> {
    run!(
        conn.reborrow(),
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
    set_policy_groups(&mut conn, &p.uuid, &p.group_uuids).await
}

/// Writes a policy's changeable fields (not its customer, type, subsidy or spend), its groups
/// among them.
pub async fn update_policy(mut conn: Conn<'_>, p: &Policy) -> Result<()> {
    run!(
        conn.reborrow(),
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
    set_policy_groups(&mut conn, &p.uuid, &p.group_uuids).await
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

/// Locks the policy's row for the rest of the transaction: redemptions change its spend outside
/// the store's write lock (`Store::app_write`), so a change that checks the spend holds the row.
pub async fn lock_policy(conn: Conn<'_>, uuid: &str) -> Result<()> {
    run!(
        conn,
        sqlx::query("UPDATE enterprise_policies SET uuid = uuid WHERE uuid = $1").bind(uuid),
        execute
    );
    Ok(())
}
