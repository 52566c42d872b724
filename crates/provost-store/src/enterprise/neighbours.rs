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
