//! The conformance suite: every case takes a fresh database and holds on SQLite and PostgreSQL alike.

mod changes;
mod log;
mod modes;
mod writes;

pub use changes::*;
pub use log::*;
pub use modes::*;
pub use writes::*;

use provost_engine::{Assignment, Change, Kind, PermissionDef, RoleDef, User};
use provost_store::{AssignmentFilter, AuditEntry, Committed, Store};

pub const COURSE: &str = "course-v1:MITx+6.00x+2024T1";
pub const OTHER_COURSE: &str = "course-v1:HarvardX+CS50+2024";
pub const LIBRARY: &str = "lib:MITx:python-basics";

pub fn perm(name: &str, implies: &[&str]) -> PermissionDef {
    PermissionDef {
        name: name.into(),
        description: String::new(),
        implies: implies.iter().map(|s| (*s).into()).collect(),
    }
}

pub fn role(name: &str, permissions: &[&str]) -> RoleDef {
    RoleDef {
        name: name.into(),
        description: String::new(),
        permissions: permissions.iter().map(|s| (*s).into()).collect(),
        builtin: false,
        org: None,
    }
}

pub fn user(name: &str) -> User {
    User {
        username: name.into(),
        email: Some(format!("{name}@example.com")),
        staff: false,
        superuser: false,
    }
}

pub fn add(subject: &str, role: &str, scope: &str) -> Change {
    Change::AssignmentAdd {
        assignment: Assignment::new(subject, role, scope),
    }
}

pub fn remove(subject: &str, role: &str, scope: &str) -> Change {
    Change::AssignmentRemove {
        subject: subject.into(),
        role: role.into(),
        scope: scope.into(),
    }
}

/// Two apps, three permissions, three roles: enough to hold assignments.
pub fn small_policy() -> Vec<Change> {
    vec![
        Change::AppPut {
            app: "courses".into(),
            kind: Kind::Course,
            manage: None,
        },
        Change::AppPut {
            app: "content_libraries".into(),
            kind: Kind::Library,
            manage: None,
        },
        Change::PermissionPut {
            permission: perm("courses.view_course", &[]),
        },
        Change::PermissionPut {
            permission: perm("courses.edit_course_content", &["courses.view_course"]),
        },
        Change::PermissionPut {
            permission: perm("content_libraries.view_library", &[]),
        },
        Change::RolePut {
            role: role("course_auditor", &["courses.view_course"]),
        },
        Change::RolePut {
            role: role("course_staff", &["courses.edit_course_content"]),
        },
        Change::RolePut {
            role: role("library_user", &["content_libraries.view_library"]),
        },
    ]
}

pub async fn commit(store: &Store, changes: &[Change]) -> Committed {
    store.commit("tester", changes).await.expect("commit")
}

pub async fn all_assignments(store: &Store) -> Vec<Assignment> {
    store
        .assignments(&AssignmentFilter::default(), None, u32::MAX)
        .await
        .expect("list assignments")
}

pub async fn whole_log(store: &Store) -> Vec<AuditEntry> {
    store
        .changes_since(0, u32::MAX)
        .await
        .expect("read the audit log")
}

pub fn ops(entries: &[AuditEntry]) -> Vec<&'static str> {
    entries.iter().map(|e| e.change.op()).collect()
}

pub fn revisions(entries: &[AuditEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.revision).collect()
}

pub fn sorted(mut assignments: Vec<Assignment>) -> Vec<Assignment> {
    assignments
        .sort_by(|a, b| (&a.subject, &a.role, &a.scope).cmp(&(&b.subject, &b.role, &b.scope)));
    assignments
}
