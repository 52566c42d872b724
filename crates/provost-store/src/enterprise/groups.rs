//! Enterprise groups (the LMS's, stood in for here) and the groups a policy is for.

use super::*;
use crate::bulk;

/// A group of a customer's learners.
#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Group {
    pub uuid: String,
    pub enterprise_uuid: String,
    pub name: String,
}

pub async fn group(conn: Conn<'_>, uuid: &str) -> Result<Option<Group>> {
    Ok(run!(
        conn,
        sqlx::query_as::<_, Group>(
            "SELECT uuid, enterprise_uuid, name FROM enterprise_groups WHERE uuid = $1"
        )
        .bind(uuid),
        fetch_optional
    ))
}

pub async fn upsert_group(conn: Conn<'_>, g: &Group) -> Result<()> {
    run!(
        conn,
        sqlx::query(
            "INSERT INTO enterprise_groups (uuid, enterprise_uuid, name) VALUES ($1, $2, $3)
             ON CONFLICT (uuid) DO UPDATE SET name = excluded.name",
        )
        .bind(&g.uuid)
        .bind(&g.enterprise_uuid)
        .bind(&g.name),
        execute
    );
    Ok(())
}

/// A group's members, by lms_user_id, ascending.
pub async fn group_members(conn: Conn<'_>, group: &str) -> Result<Vec<i64>> {
    Ok(run!(
        conn,
        sqlx::query_scalar::<_, i64>(
            "SELECT lms_user_id FROM enterprise_group_members WHERE group_uuid = $1
             ORDER BY lms_user_id"
        )
        .bind(group),
        fetch_all
    ))
}

/// Replaces a group's members.
pub async fn set_group_members(tx: impl ConnSource, group: &str, members: &[i64]) -> Result<()> {
    replace_links(tx, Links::GroupMembers, group, members).await
}

/// The groups of the customer a learner is in, ascending.
pub async fn learner_groups(
    conn: Conn<'_>,
    enterprise: &str,
    lms_user_id: i64,
) -> Result<Vec<String>> {
    Ok(run!(
        conn,
        sqlx::query_scalar::<_, String>(
            "SELECT m.group_uuid FROM enterprise_group_members m
             JOIN enterprise_groups g ON g.uuid = m.group_uuid
             WHERE g.enterprise_uuid = $1 AND m.lms_user_id = $2 ORDER BY m.group_uuid"
        )
        .bind(enterprise)
        .bind(lms_user_id),
        fetch_all
    ))
}

/// The groups a policy is for, ascending (none: it is for all the customer's learners).
pub async fn policy_groups(conn: Conn<'_>, policy: &str) -> Result<Vec<String>> {
    Ok(run!(
        conn,
        sqlx::query_scalar::<_, String>(
            "SELECT group_uuid FROM enterprise_policy_groups WHERE policy_uuid = $1
             ORDER BY group_uuid"
        )
        .bind(policy),
        fetch_all
    ))
}

/// The groups of every policy of a customer: (policy, group) pairs.
pub(crate) async fn customer_policy_groups(
    conn: Conn<'_>,
    enterprise: &str,
) -> Result<Vec<(String, String)>> {
    Ok(run!(
        conn,
        sqlx::query_as::<_, (String, String)>(
            "SELECT pg.policy_uuid, pg.group_uuid FROM enterprise_policy_groups pg
             JOIN enterprise_policies p ON p.uuid = pg.policy_uuid
             WHERE p.enterprise_uuid = $1 ORDER BY pg.group_uuid"
        )
        .bind(enterprise),
        fetch_all
    ))
}

/// Replaces the groups a policy is for.
pub(crate) async fn set_policy_groups(
    tx: impl ConnSource,
    policy: &str,
    groups: &[String],
) -> Result<()> {
    replace_links(tx, Links::PolicyGroups, policy, groups).await
}

/// A table that links an owner to its members, two key columns and nothing else.
#[derive(Clone, Copy)]
enum Links {
    GroupMembers,
    PolicyGroups,
}

impl Links {
    /// The table, its owner's column and its member's column.
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Links::GroupMembers => ("enterprise_group_members", "group_uuid", "lms_user_id"),
            Links::PolicyGroups => ("enterprise_policy_groups", "policy_uuid", "group_uuid"),
        }
    }
}

/// Replaces `owner`'s links with `members`: one DELETE, then one INSERT per `bulk::ROWS`.
async fn replace_links<T>(
    mut tx: impl ConnSource,
    links: Links,
    owner: &str,
    members: &[T],
) -> Result<()>
where
    for<'q> &'q T: sqlx::Encode<'q, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + sqlx::Encode<'q, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>,
{
    let (table, owner_column, _) = links.names();
    let delete = format!("DELETE FROM {table} WHERE {owner_column} = $1");
    run!(tx.conn(), sqlx::query(&delete).bind(owner), execute);
    for chunk in members.chunks(bulk::ROWS) {
        run!(
            tx.conn(),
            bulk::insert_links(links.names(), owner, chunk).build(),
            execute
        );
    }
    Ok(())
}

/// Whether the learner is in one of the policy's groups, inside a redemption's write. On
/// PostgreSQL the membership row is held (`FOR SHARE`) until the transaction ends, so the
/// learner cannot leave the group before the redemption commits; on SQLite the single writer
/// holds everything anyway.
pub async fn in_policy_groups(conn: Conn<'_>, policy: &str, lms_user_id: i64) -> Result<bool> {
    const SQL: &str = "SELECT m.group_uuid FROM enterprise_policy_groups pg
        JOIN enterprise_group_members m ON m.group_uuid = pg.group_uuid
        WHERE pg.policy_uuid = $1 AND m.lms_user_id = $2 LIMIT 1";
    let found: Option<String> = match conn {
        Conn::Sqlite(c) => {
            sqlx::query_scalar(SQL)
                .bind(policy)
                .bind(lms_user_id)
                .fetch_optional(&mut *c)
                .await?
        }
        Conn::Postgres(c) => {
            sqlx::query_scalar(&format!("{SQL} FOR SHARE OF m"))
                .bind(policy)
                .bind(lms_user_id)
                .fetch_optional(&mut *c)
                .await?
        }
    };
    Ok(found.is_some())
}
