//! A deliberately plain model of DESIGN.md §3: lists, strings and fixpoints, no index.
//!
//! Requests that name many scopes (globs, ancestors) are decided through one *fresh* member:
//! a scope of the action's kind below the request that nothing else mentions. An assignment
//! that reaches the fresh member reaches every member, which is exactly "all of them".

use std::collections::BTreeSet;

use crate::{Assignment, PolicyDoc, ScopeRegistration, Timestamp, User};

pub struct Reference {
    pub policy: PolicyDoc,
    pub users: Vec<User>,
    pub registrations: Vec<ScopeRegistration>,
    pub assignments: Vec<Assignment>,
}

fn kind_of_key(scope: &str) -> &'static str {
    if scope == "*" {
        "instance"
    } else if scope.starts_with("org:") {
        "org"
    } else if scope.starts_with("course-v1:") {
        "course"
    } else if scope.starts_with("lib:") {
        "library"
    } else if scope.starts_with("program:") {
        "program"
    } else if scope.starts_with("batch:") {
        "batch"
    } else {
        "enterprise"
    }
}

fn is_glob(scope: &str) -> bool {
    scope.ends_with('*') && scope != "*"
}

/// The org a course or library key (or glob) names.
fn org_in(scope: &str) -> Option<&str> {
    if let Some(rest) = scope.strip_prefix("course-v1:") {
        return rest.split('+').next().filter(|o| *o != "*");
    }
    if let Some(rest) = scope.strip_prefix("lib:") {
        return rest.split(':').next().filter(|o| *o != "*");
    }
    scope.strip_prefix("org:")
}

impl Reference {
    fn registered(&self, scope: &str) -> Option<&ScopeRegistration> {
        self.registrations.iter().find(|r| r.scope == scope)
    }

    fn known(&self, scope: &str) -> bool {
        !matches!(kind_of_key(scope), "program" | "batch") || self.registered(scope).is_some()
    }

    /// The scope itself and every scope above it.
    fn lineage(&self, scope: &str) -> Vec<String> {
        let mut out = vec![scope.to_owned()];
        match kind_of_key(scope) {
            "instance" => return out,
            "course" | "library" => out.push(format!("org:{}", org_in(scope).unwrap_or_default())),
            "program" | "batch" => {
                for parent in self
                    .registered(scope)
                    .map(|r| r.parents.clone())
                    .unwrap_or_default()
                {
                    out.extend(self.lineage(&parent));
                }
            }
            _ => {}
        }
        out.push("*".into());
        out
    }

    /// Whether an assignment held at `held` reaches the concrete scope `scope`.
    fn reaches(&self, held: &str, scope: &str) -> bool {
        let lineage = self.lineage(scope);
        match held {
            "course-v1:*" => lineage.iter().any(|s| kind_of_key(s) == "course"),
            "lib:*" => lineage.iter().any(|s| kind_of_key(s) == "library"),
            glob if is_glob(glob) => {
                let kind = kind_of_key(glob);
                lineage
                    .iter()
                    .any(|s| kind_of_key(s) == kind && org_in(s) == org_in(glob))
            }
            _ => lineage.iter().any(|s| s == held),
        }
    }

    /// An org-owned role counts only where it is held inside its org.
    fn inside_role_org(&self, role: &str, held: &str) -> bool {
        let org = self
            .policy
            .roles
            .iter()
            .find(|r| r.name == role)
            .and_then(|r| r.org.as_deref());
        let Some(org) = org else {
            return true;
        };
        if is_glob(held) {
            return org_in(held) == Some(org);
        }
        let org_key = format!("org:{org}");
        self.lineage(held).contains(&org_key)
    }

    fn permissions_of(&self, role: &str) -> BTreeSet<String> {
        let Some(role) = self.policy.roles.iter().find(|r| r.name == role) else {
            return BTreeSet::new();
        };
        let mut set: BTreeSet<String> = role.permissions.iter().cloned().collect();
        loop {
            let before = set.len();
            for p in &self.policy.permissions {
                if set.contains(&p.name) {
                    set.extend(p.implies.iter().cloned());
                }
            }
            if set.len() == before {
                return set;
            }
        }
    }

    fn action_kind(&self, action: &str) -> Option<&'static str> {
        self.policy.permissions.iter().find(|p| p.name == action)?;
        let app = action.split('.').next()?;
        Some(self.policy.kind_of_app(app)?.as_str())
    }

    /// The member a request stands for: the scope itself, or a fresh scope of the action's kind below it.
    fn member(&self, scope: &str, kind: &str) -> Option<(String, Vec<ScopeRegistration>)> {
        let scope_kind = kind_of_key(scope);
        if scope_kind == kind && !is_glob(scope) {
            return Some((scope.to_owned(), Vec::new()));
        }
        let org = org_in(scope).map_or_else(|| "FreshOrg".to_owned(), str::to_owned);
        let fresh_course = || match scope_kind {
            "course" if !is_glob(scope) => scope.to_owned(),
            _ => format!("course-v1:{org}+fresh+run"),
        };
        let reg = |scope: &str, parents: Vec<String>| ScopeRegistration {
            scope: scope.into(),
            parents,
        };
        let fits = |from: &str| match (from, kind) {
            ("instance", k) => k != "instance",
            ("org", "course" | "library" | "program" | "batch") => true,
            ("course", "batch") => true,
            _ => false,
        };
        // A glob asks about its own kind; read it as its kind when checking what fits.
        let from = if is_glob(scope) {
            kind_of_key(scope)
        } else {
            scope_kind
        };
        if !(from == kind || fits(from)) {
            return None;
        }
        if is_glob(scope) && kind != from && !(from == "course" && kind == "batch") {
            return None;
        }
        Some(match kind {
            "course" => (fresh_course(), Vec::new()),
            "library" => (format!("lib:{org}:fresh"), Vec::new()),
            "org" => (format!("org:{org}"), Vec::new()),
            "program" => (
                "program:fresh".into(),
                vec![reg("program:fresh", vec![format!("org:{org}")])],
            ),
            "batch" => (
                "batch:fresh".into(),
                vec![reg("batch:fresh", vec![fresh_course()])],
            ),
            "enterprise" => (
                "enterprise:00000000-0000-4000-8000-00000000f5e5".into(),
                Vec::new(),
            ),
            _ => return None,
        })
    }

    pub fn allowed(&self, subject: &str, action: &str, scope: &str, at: Timestamp) -> bool {
        let Some(kind) = self.action_kind(action) else {
            return false;
        };
        if !self.known(scope) {
            return false;
        }
        let Some((member, fresh)) = self.member(scope, kind) else {
            return false;
        };
        let user = self.users.iter().find(|u| u.username == subject);
        if user.is_some_and(|u| u.superuser) {
            return true;
        }
        let scope_kind = kind_of_key(scope);
        if user.is_some_and(|u| u.staff)
            && matches!(scope_kind, "course" | "library")
            && scope_kind == kind
        {
            return true;
        }
        let with_fresh = Reference {
            policy: PolicyDoc::default(),
            users: Vec::new(),
            registrations: self.registrations.iter().cloned().chain(fresh).collect(),
            assignments: Vec::new(),
        };
        self.assignments.iter().any(|a| {
            a.subject == subject
                && a.valid_at(at)
                && self.permissions_of(&a.role).contains(action)
                && self.inside_role_org(&a.role, &a.scope)
                && with_fresh.reaches(&a.scope, &member)
        })
    }

    /// The roles `subject` holds at (or above) `scope`, valid at `at` and inside their org, that
    /// do not include `action`: what a `role_lacks_action` denial names. Empty for an unknown
    /// action or scope, or one of another kind.
    pub fn held_without(
        &self,
        subject: &str,
        action: &str,
        scope: &str,
        at: Timestamp,
    ) -> BTreeSet<String> {
        let Some(kind) = self.action_kind(action) else {
            return BTreeSet::new();
        };
        if !self.known(scope) {
            return BTreeSet::new();
        }
        let Some((member, fresh)) = self.member(scope, kind) else {
            return BTreeSet::new();
        };
        let with_fresh = Reference {
            policy: PolicyDoc::default(),
            users: Vec::new(),
            registrations: self.registrations.iter().cloned().chain(fresh).collect(),
            assignments: Vec::new(),
        };
        self.assignments
            .iter()
            .filter(|a| {
                a.subject == subject
                    && a.valid_at(at)
                    && !self.permissions_of(&a.role).contains(action)
                    && self.inside_role_org(&a.role, &a.scope)
                    && with_fresh.reaches(&a.scope, &member)
            })
            .map(|a| a.role.clone())
            .collect()
    }

    pub fn who(&self, action: &str, scope: &str, at: Timestamp) -> Vec<String> {
        let subjects: BTreeSet<&str> = self
            .users
            .iter()
            .map(|u| u.username.as_str())
            .chain(self.assignments.iter().map(|a| a.subject.as_str()))
            .collect();
        subjects
            .into_iter()
            .filter(|s| self.allowed(s, action, scope, at))
            .map(str::to_owned)
            .collect()
    }

    /// Whether a listed region contains a concrete scope (for checking `scopes`).
    pub fn region_contains(&self, region: &str, scope: &str) -> bool {
        self.reaches(region, scope)
    }
}
