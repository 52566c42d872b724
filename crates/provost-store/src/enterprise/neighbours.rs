//! The stand-ins' rows: a customer's learners, subsidies and catalogs.

use super::*;

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

/// Removes a learner from a customer (the LMS unlinked them); returns whether they were there.
/// Their ledger and usage stay.
pub async fn remove_learner(conn: Conn<'_>, enterprise: &str, lms_user_id: i64) -> Result<bool> {
    Ok(run!(
        conn,
        sqlx::query(
            "DELETE FROM enterprise_learners WHERE enterprise_uuid = $1 AND lms_user_id = $2"
        )
        .bind(enterprise)
        .bind(lms_user_id),
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

/// Updates a subsidy's title, deposit and window (its ledger stays), unless the new deposit is
/// less than what it has spent; false then, and nothing changes. Redemptions spend outside the
/// store's write lock, so the guard is in the update itself: an earlier read of the spend may
/// be stale by now.
pub async fn update_subsidy(conn: Conn<'_>, s: &Subsidy) -> Result<bool> {
    Ok(run!(conn, sqlx::query(
        "UPDATE enterprise_subsidies SET title = $2, starting_balance_cents = $3, active_at = $4,
            expires_at = $5 WHERE uuid = $1 AND spent_cents <= $3",
    )
    .bind(&s.uuid)
    .bind(&s.title)
    .bind(s.starting_balance_cents)
    .bind(s.active_at)
    .bind(s.expires_at), execute)
        > 0)
}

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
        "INSERT INTO enterprise_catalog_content (catalog_uuid, content_key, price_cents, enroll_by,
            lms_refuses)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(catalog)
    .bind(&item.content_key)
    .bind(item.price_cents)
    .bind(item.enroll_by)
    .bind(item.lms_refuses), execute);
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
            "SELECT content_key, price_cents, enroll_by, lms_refuses FROM enterprise_catalog_content
         WHERE catalog_uuid = $1 AND content_key = $2",
        )
        .bind(catalog)
        .bind(content_key),
        fetch_optional
    ))
}

/// What the stand-ins say about one redemption, read in one statement: the learner
/// `lms_user_id` at `customer`, the subsidy, and `content_key` as the catalog lists it.
pub async fn redeem_facts(
    conn: Conn<'_>,
    customer: &str,
    lms_user_id: i64,
    subsidy: &str,
    catalog: &str,
    content_key: &str,
) -> Result<(Option<Learner>, Option<Subsidy>, Option<CatalogItem>)> {
    type Row = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let row: Row = run!(
        conn,
        sqlx::query_as(
            "SELECT l.username, l.email, s.uuid, s.enterprise_uuid, s.title,
                    s.starting_balance_cents, s.spent_cents, s.active_at, s.expires_at,
                    c.content_key, c.price_cents, c.enroll_by, c.lms_refuses
             FROM (SELECT 1 AS one) AS one
             LEFT JOIN enterprise_learners l ON l.enterprise_uuid = $1 AND l.lms_user_id = $2
             LEFT JOIN enterprise_subsidies s ON s.uuid = $3
             LEFT JOIN enterprise_catalog_content c
                 ON c.catalog_uuid = $4 AND c.content_key = $5",
        )
        .bind(customer)
        .bind(lms_user_id)
        .bind(subsidy)
        .bind(catalog)
        .bind(content_key),
        fetch_one
    );
    let learner = match (row.0, row.1) {
        (Some(username), Some(email)) => Some(Learner {
            enterprise_uuid: customer.to_owned(),
            lms_user_id,
            username,
            email,
        }),
        _ => None,
    };
    let subsidy = match (row.2, row.3, row.4, row.5, row.6, row.7, row.8) {
        (
            Some(uuid),
            Some(enterprise_uuid),
            Some(title),
            Some(start),
            Some(spent),
            Some(from),
            Some(until),
        ) => Some(Subsidy {
            uuid,
            enterprise_uuid,
            title,
            starting_balance_cents: start,
            spent_cents: spent,
            active_at: from,
            expires_at: until,
        }),
        _ => None,
    };
    let item = match (row.9, row.10, row.12) {
        (Some(content_key), Some(price_cents), Some(lms_refuses)) => Some(CatalogItem {
            content_key,
            price_cents,
            enroll_by: row.11,
            lms_refuses,
        }),
        _ => None,
    };
    Ok((learner, subsidy, item))
}
