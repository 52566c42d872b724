//! Listings that use the same closure as `check`: who may act at a scope, where a subject may act.

use crate::decide::{staff_bypass, Reach};
use crate::index::Index;
use crate::model::Timestamp;
use crate::scope::{Kind, Scope};

impl Index {
    /// The orgs the index has seen (named by a scope's key or a registration), by short name,
    /// sorted. One pass over the scope nodes, no store read.
    pub fn orgs(&self) -> Vec<String> {
        let mut orgs: Vec<String> = (0..self.nodes.len())
            .filter_map(|i| self.nodes.get(i))
            .filter(|node| node.kind == Kind::Org)
            .filter_map(|node| node.key.strip_prefix("org:").map(String::from))
            .collect();
        orgs.sort_unstable();
        orgs
    }

    /// Subjects allowed `action` at `scope` at `at`, sorted. Unknown actions or scopes give none.
    pub fn who(&self, action: &str, scope: &str, at: Timestamp) -> Vec<String> {
        let Ok(scope) = Scope::parse(scope) else {
            return Vec::new();
        };
        let Ok(target) = self.target(action, &scope) else {
            return Vec::new();
        };
        let Some(chain) = self.chain(&scope) else {
            return Vec::new();
        };
        let nodes: Vec<_> = chain.iter().collect();
        let reach = Reach::Chain(chain);
        let mut subjects: Vec<String> = Vec::new();
        for (name, (staff, superuser)) in self.privileged.iter() {
            if *superuser || (*staff && staff_bypass(&target)) {
                subjects.push(name.to_string());
            }
        }
        for node in nodes {
            for held in self.by_scope.get(&node).map(Vec::as_slice).unwrap_or(&[]) {
                let grant = &held.grant;
                let grants = self.policy.role(grant.role).is_some_and(|r| {
                    r.closure.contains(target.perm) && self.within_role_org(r, grant.node)
                });
                if grants && grant.valid_at(at) && self.covers(grant, &reach, &target) {
                    subjects.push(held.subject.to_string());
                }
            }
        }
        subjects.sort_unstable();
        subjects.dedup();
        subjects
    }

    /// Where `subject` may do `action` at `at`: concrete scopes, globs (`course-v1:MITx+*`) and
    /// ancestors standing for everything of the action's kind below them (`org:MITx` for programs).
    /// `check` allows every scope listed, and every scope it allows is at or below one listed.
    pub fn scopes(
        &self,
        subject: &str,
        action: &str,
        kind: Option<Kind>,
        at: Timestamp,
    ) -> Vec<String> {
        let Some(perm) = self.policy.perm_id(action) else {
            return Vec::new();
        };
        let Some(action_kind) = self.policy.perm(perm).map(|p| p.kind) else {
            return Vec::new();
        };
        let Some(entry) = self.subjects.get(subject) else {
            return Vec::new();
        };
        let mut found: Vec<String> = Vec::new();
        let everywhere = || match action_kind {
            Kind::Course => "course-v1:*".to_owned(),
            Kind::Library => "lib:*".to_owned(),
            _ => "*".to_owned(),
        };
        if let Some(user) = &entry.user {
            if user.superuser || (user.staff && matches!(action_kind, Kind::Course | Kind::Library))
            {
                found.push(everywhere());
            }
        }
        for grant in &entry.grants {
            let grants = self
                .policy
                .role(grant.role)
                .is_some_and(|r| r.closure.contains(perm) && self.within_role_org(r, grant.node));
            if !grants || !grant.valid_at(at) {
                continue;
            }
            let node = self.node(grant.node);
            if !node.known {
                continue;
            }
            let text = match grant.filter {
                Some(only) if only == action_kind || only.can_contain(action_kind) => {
                    self.place_key(grant.node, grant.filter)
                }
                Some(_) => continue,
                None if node.kind == action_kind => node.key.to_string(),
                None if node.kind.can_contain(action_kind) => match action_kind {
                    Kind::Course | Kind::Library
                        if matches!(node.kind, Kind::Org | Kind::Instance) =>
                    {
                        self.place_key(grant.node, Some(action_kind))
                    }
                    _ => node.key.to_string(),
                },
                None => continue,
            };
            found.push(text);
        }
        if let Some(kind) = kind {
            found.retain(|text| Scope::parse(text).is_ok_and(|s| s.kind() == kind));
        }
        found.sort_unstable();
        found.dedup();
        // A listed region that another listed region contains adds nothing.
        let keep: Vec<bool> = found
            .iter()
            .map(|inner| {
                !found
                    .iter()
                    .any(|outer| outer != inner && region_contains(outer, inner))
            })
            .collect();
        found
            .into_iter()
            .zip(keep)
            .filter_map(|(text, keep)| keep.then_some(text))
            .collect()
    }
}

/// Whether the region named by `outer` contains the one named by `inner`, by their keys alone
/// (instance ⊇ course-v1:* ⊇ course-v1:ORG+* ⊇ courses of ORG, and org:ORG ⊇ its courses).
fn region_contains(outer: &str, inner: &str) -> bool {
    let (Ok(outer), Ok(inner)) = (Scope::parse(outer), Scope::parse(inner)) else {
        return false;
    };
    match (&outer, &inner) {
        (Scope::Instance, _) => true,
        (Scope::CourseGlob(None), Scope::CourseGlob(_) | Scope::Course { .. }) => true,
        (Scope::LibraryGlob(None), Scope::LibraryGlob(_) | Scope::Library { .. }) => true,
        (Scope::CourseGlob(Some(org)), Scope::Course { .. })
        | (Scope::LibraryGlob(Some(org)), Scope::Library { .. }) => inner.org() == Some(org),
        (Scope::Org(org), _) => inner.org() == Some(org) && !matches!(inner, Scope::Org(_)),
        _ => false,
    }
}
