//! The compatibility view for old code paths: legacy-shaped `student_courseaccessrole` rows
//! computed from Provost's assignments with exact equivalents, where the flag has moved the
//! course to Provost; where it has not, the legacy tables stay authoritative and the answer says so.

use provost_engine::{Index, Scope};
use serde::Serialize;
use utoipa::ToSchema;

use super::flag::{self, FlagAnswer, FlagScope, COURSE_AUTHORING};
use super::mapping::{legacy_place, legacy_role, Table};
use crate::access::{authorize_on_behalf, manages_team, now, truncate, Actor};
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// What the caller asks: one course's rows or one org's, optionally one user's.
#[derive(Clone, Debug, Default)]
pub struct CompatQuery {
    pub course_id: Option<String>,
    pub org: Option<String>,
    pub user: Option<String>,
}

/// A row as `student_courseaccessrole` would hold it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
pub struct LegacyRoleRow {
    pub username: String,
    pub org: String,
    /// Empty for an org-wide row.
    pub course_id: String,
    pub role: String,
}

/// Where the answer comes from: `provost` (the rows are Provost's) or `legacy` (the flag is off
/// here: ask the legacy tables; `items` is then empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Authority {
    Provost,
    Legacy,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CompatAnswer {
    pub source: Authority,
    /// The flag at the course (or org) asked about, which decided `source`.
    pub flag: FlagAnswer,
    pub items: Vec<LegacyRoleRow>,
}

/// The legacy rows for a course or an org. Who may ask: admins and holders of `authz_service`
/// (any course), managers of the course's team (or of every course of the org, for an org), and
/// anyone about themself (`user` = the caller).
pub async fn course_access_roles(
    node: &Node,
    index: &Index,
    actor: &Actor,
    query: &CompatQuery,
) -> Result<CompatAnswer> {
    let (scope, region) = match (&query.course_id, &query.org) {
        (Some(course), None) => {
            let scope = FlagScope::parse(course)?;
            if !matches!(scope, FlagScope::Course { .. }) {
                return Err(invalid(&format!(
                    "`{}` is not a course key",
                    truncate(course)
                )));
            }
            (scope, course.clone())
        }
        (None, Some(org)) => {
            let scope = FlagScope::parse(&format!("org:{org}"))?;
            (scope, format!("course-v1:{org}+*"))
        }
        _ => {
            return Err(Error::new(
                ErrorCode::OneScopeRequired,
                "give exactly one of `course_id` and `org`",
            ))
        }
    };
    let about_self = query.user.as_deref() == Some(actor.username.as_str());
    if !about_self {
        let region_scope = Scope::parse(&region)?;
        if !manages_team(index, actor, &region_scope) {
            // Admins and the `authz_service` role may ask about anyone anywhere.
            authorize_on_behalf(index, actor, query.user.as_deref().unwrap_or("*"))?;
        }
    }
    let flags = flag::values(node, COURSE_AUTHORING).await?;
    let answer = flags.effective(&scope);
    if !answer.enabled {
        return Ok(CompatAnswer {
            source: Authority::Legacy,
            flag: answer,
            items: Vec::new(),
        });
    }
    let at = now();
    let mut items: Vec<LegacyRoleRow> = index
        .assignments()
        .filter(|a| query.user.as_ref().is_none_or(|u| *u == a.subject))
        .filter(|a| a.valid_from.is_none_or(|f| f <= at) && a.valid_until.is_none_or(|u| at < u))
        .filter_map(|a| {
            let (Table::CourseAccessRole, role) = legacy_role(&a.role)? else {
                return None;
            };
            let (org, course_id) = legacy_place(&a.scope)?;
            let wanted = match (&query.course_id, &query.org) {
                (Some(course), _) => *course == course_id,
                (_, Some(o)) => *o == org,
                _ => false,
            };
            // In an org, courses whose own override is off stay with the legacy tables.
            let moved = course_id.is_empty() || flags.set_at(&course_id) != Some(false);
            (wanted && moved).then(|| LegacyRoleRow {
                username: a.subject,
                org,
                course_id,
                role: role.to_owned(),
            })
        })
        .collect();
    items.sort();
    Ok(CompatAnswer {
        source: Authority::Provost,
        flag: answer,
        items,
    })
}

fn invalid(message: &str) -> Error {
    Error::new(ErrorCode::InvalidQuery, message)
}
