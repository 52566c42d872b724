//! The one table of exact equivalents between the platform's legacy roles and Provost's roles, a
//! bijection read both ways (migration forward, rollback back), and how legacy rows become scopes.

use provost_engine::Scope;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Which legacy table a role lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Table {
    /// `student_courseaccessrole`: course, org-wide and global rows.
    #[serde(rename = "student_courseaccessrole")]
    CourseAccessRole,
    /// `django_comment_client_role_users` (with `django_comment_client_role`): forum roles per course.
    #[serde(rename = "django_comment_client_role_users")]
    ForumRole,
}

impl Table {
    /// The platform's table name.
    pub fn name(self) -> &'static str {
        match self {
            Table::CourseAccessRole => "student_courseaccessrole",
            Table::ForumRole => "django_comment_client_role_users",
        }
    }
}

/// (table, legacy role, Provost role): every exact equivalent, and nothing else. Both columns are
/// unique, so each direction is a function and rollback reverses migration.
pub const EQUIVALENTS: [(Table, &str, &str); 11] = [
    (Table::CourseAccessRole, "instructor", "course_admin"),
    (Table::CourseAccessRole, "staff", "course_staff"),
    (
        Table::CourseAccessRole,
        "limited_staff",
        "course_limited_staff",
    ),
    (
        Table::CourseAccessRole,
        "data_researcher",
        "course_data_researcher",
    ),
    (
        Table::CourseAccessRole,
        "beta_testers",
        "course_beta_tester",
    ),
    (Table::CourseAccessRole, "ccx_coach", "ccx_coach"),
    (Table::ForumRole, "Administrator", "forum_administrator"),
    (Table::ForumRole, "Moderator", "forum_moderator"),
    (Table::ForumRole, "Group Moderator", "forum_group_moderator"),
    (Table::ForumRole, "Community TA", "forum_community_ta"),
    (Table::ForumRole, "Student", "forum_student"),
];

/// Course access roles the platform knows that have no Provost equivalent (reported, not migrated).
pub const WITHOUT_EQUIVALENT: [&str; 6] = [
    "finance_admin",
    "sales_admin",
    "library_user",
    "org_course_creator_group",
    "course_creator_group",
    "support",
];

/// The forum role every enrolled learner gets automatically; skipped unless asked for.
pub const FORUM_STUDENT: &str = "Student";

/// The Provost role for a legacy role of `table`, if it has an exact equivalent.
pub fn provost_role(table: Table, legacy: &str) -> Option<&'static str> {
    EQUIVALENTS
        .iter()
        .find(|(t, l, _)| *t == table && *l == legacy)
        .map(|(_, _, p)| *p)
}

/// The legacy table and role for a Provost role, if it has an exact equivalent.
pub fn legacy_role(provost: &str) -> Option<(Table, &'static str)> {
    EQUIVALENTS
        .iter()
        .find(|(_, _, p)| *p == provost)
        .map(|(t, l, _)| (*t, *l))
}

/// Where a legacy row's role applies, or why it has no place in Provost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A course (`course-v1:` key) or, for an org-wide row, all the org's courses (`course-v1:ORG+*`).
    At(String),
    /// Empty org and course: a global row.
    Global,
    /// A course key Provost does not take (CCX, the old `Org/Course/Run` form, garbage), or an
    /// org name that cannot be a scope.
    Unsupported,
}

/// The scope of a legacy row from its `org` and `course_id` columns.
pub fn place(org: &str, course_id: &str) -> Place {
    if course_id.is_empty() {
        if org.is_empty() {
            return Place::Global;
        }
        let glob = format!("course-v1:{org}+*");
        return match Scope::parse(&glob) {
            Ok(Scope::CourseGlob(Some(_))) => Place::At(glob),
            _ => Place::Unsupported,
        };
    }
    match Scope::parse(course_id) {
        Ok(scope @ Scope::Course { .. }) => Place::At(scope.canonical().into_owned()),
        _ => Place::Unsupported,
    }
}

/// The legacy `(org, course_id)` of a Provost scope that has an exact equivalent: a course key
/// (its org from the key) or an org's course glob (an org-wide row). Anything else has none.
pub fn legacy_place(scope: &str) -> Option<(String, String)> {
    match Scope::parse(scope).ok()? {
        Scope::Course { org, key, .. } => Some((org.to_owned(), key.to_owned())),
        Scope::CourseGlob(Some(org)) => Some((org.to_owned(), String::new())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_equivalents_are_a_bijection_read_both_ways() {
        let legacy: HashSet<_> = EQUIVALENTS.iter().map(|(t, l, _)| (*t, *l)).collect();
        let provost: HashSet<_> = EQUIVALENTS.iter().map(|(_, _, p)| *p).collect();
        assert_eq!(legacy.len(), EQUIVALENTS.len());
        assert_eq!(provost.len(), EQUIVALENTS.len());
        for (table, old, new) in EQUIVALENTS {
            assert_eq!(provost_role(table, old), Some(new));
            assert_eq!(legacy_role(new), Some((table, old)));
        }
        for role in WITHOUT_EQUIVALENT {
            assert_eq!(provost_role(Table::CourseAccessRole, role), None);
        }
    }

    #[test]
    fn every_provost_role_of_the_table_is_in_the_default_policy() {
        let policy = provost_engine::PolicyDoc::default_policy();
        for (_, _, role) in EQUIVALENTS {
            assert!(policy.roles.iter().any(|r| r.name == role), "{role}");
        }
    }

    #[test]
    fn places_round_trip_for_courses_and_org_wide_rows() {
        let course = "course-v1:MITx+6.00x+2024T1";
        assert_eq!(place("MITx", course), Place::At(course.into()));
        assert_eq!(legacy_place(course), Some(("MITx".into(), course.into())));
        assert_eq!(place("MITx", ""), Place::At("course-v1:MITx+*".into()));
        assert_eq!(
            legacy_place("course-v1:MITx+*"),
            Some(("MITx".into(), String::new()))
        );
        assert_eq!(place("", ""), Place::Global);
        assert_eq!(place("MITx", "MITx/6.002x/2012_Fall"), Place::Unsupported);
        assert_eq!(
            place("MITx", "ccx-v1:MITx+6.00x+2024T1+ccx@3"),
            Place::Unsupported
        );
        assert_eq!(place("bad org", ""), Place::Unsupported);
        assert_eq!(legacy_place("org:MITx"), None);
        assert_eq!(legacy_place("course-v1:*"), None);
    }
}
