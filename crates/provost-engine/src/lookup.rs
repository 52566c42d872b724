//! Listings that use the same closure as `check`: who may act at a scope, where a subject may act.

use std::iter::Peekable;

use serde::Serialize;

use crate::decide::{staff_bypass, Reach};
use crate::index::{Index, ScopeGrant, SORTED_FROM};
use crate::model::Timestamp;
use crate::scope::{Kind, Scope};

/// A page of `who`: subjects in name order, and the cursor (`after`) for the next page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WhoPage {
    pub subjects: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A page of `scopes`: scope keys in order, and the cursor (`after`) for the next page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScopePage {
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl Index {
    /// The orgs the index has seen (named by a scope's key or a registration), by short name,
    /// sorted. One pass over the scope nodes, no store read.
    pub fn orgs(&self) -> Vec<String> {
        let mut orgs: Vec<String> = (0..self.nodes.len())
            .filter_map(|i| self.nodes.get(i))
            .filter(|node| node.kind == Kind::Org)
            .filter_map(|node| node.org_name().map(String::from))
            .collect();
        orgs.sort_unstable();
        orgs
    }

    /// Subjects allowed `action` at `scope` at `at`, sorted. Unknown actions or scopes give none.
    pub fn who(&self, action: &str, scope: &str, at: Timestamp) -> Vec<String> {
        self.who_page(action, scope, at, None, usize::MAX).subjects
    }

    /// One page of `who`: the first `limit` subjects (sorted) after `after`, and the cursor for
    /// the next page when there is one. Long scope lists are kept sorted by name, so a page costs
    /// about its own length whatever the number of platform-wide grants.
    pub fn who_page(
        &self,
        action: &str,
        scope: &str,
        at: Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> WhoPage {
        let mut page = WhoPage::default();
        let Ok(scope) = Scope::parse(scope) else {
            return page;
        };
        let Ok(target) = self.target(action, &scope) else {
            return page;
        };
        let Some(chain) = self.chain(&scope) else {
            return page;
        };
        let nodes: Vec<_> = chain.iter().collect();
        let reach = Reach::Chain(chain);
        let granting = self.policy.granted_by(target.perm);
        let qualifies = |held: &ScopeGrant| {
            let grant = &held.grant;
            let (from, until) = self.window(Some(held.subject), grant);
            granting.contains(grant.role())
                && from <= at
                && at < until
                && self.covers(grant, &reach, &target)
                && self.policy.role(grant.role()).is_some_and(|r| {
                    !self.policy.org_owned(grant.role()) || self.within_role_org(r, grant.node)
                })
        };
        let name = |held: &ScopeGrant| self.subjects.by_id(held.subject).name.as_str();
        let later = |n: &str| after.is_none_or(|a| n > a);
        let mut sources: Vec<Peekable<Box<dyn Iterator<Item = &str> + '_>>> = Vec::new();
        let privileged = self
            .privileged
            .iter()
            .filter(|(_, (staff, superuser))| *superuser || (*staff && staff_bypass(&target)))
            .map(|(name, _)| name.as_str())
            .filter(move |n| later(n));
        sources.push((Box::new(privileged) as Box<dyn Iterator<Item = &str>>).peekable());
        for node in nodes {
            let list = self.by_scope.get(&node).map(Vec::as_slice).unwrap_or(&[]);
            let names: Box<dyn Iterator<Item = &str>> = if list.len() >= SORTED_FROM {
                let start = list.partition_point(|s| !later(name(s)));
                Box::new(list[start..].iter().filter(|s| qualifies(s)).map(name))
            } else {
                let mut names: Vec<&str> = list
                    .iter()
                    .filter(|s| qualifies(s))
                    .map(name)
                    .filter(|n| later(n))
                    .collect();
                names.sort_unstable();
                Box::new(names.into_iter())
            };
            sources.push(names.peekable());
        }
        // Merge the sorted sources, each name once, until one past the page.
        let mut last: Option<&str> = None;
        while page.subjects.len() <= limit {
            let Some(next) = sources.iter_mut().filter_map(|s| s.peek().copied()).min() else {
                break;
            };
            for source in &mut sources {
                while source.peek() == Some(&next) {
                    source.next();
                }
            }
            if last != Some(next) {
                if page.subjects.len() == limit {
                    page.next = last.map(str::to_owned);
                    break;
                }
                page.subjects.push(next.to_owned());
                last = Some(next);
            }
        }
        page
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
        let Some((id, entry)) = self.subjects.get(subject) else {
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
                .role(grant.role())
                .is_some_and(|r| r.closure.contains(perm) && self.within_role_org(r, grant.node));
            let (from, until) = self.window(Some(id), grant);
            if !grants || at < from || until <= at {
                continue;
            }
            let node = self.node(grant.node);
            if !node.known {
                continue;
            }
            let text = match grant.filter() {
                Some(only) if only == action_kind || only.can_contain(action_kind) => {
                    self.place_key(grant.node, grant.filter())
                }
                Some(_) => continue,
                None if node.kind == action_kind => node.key().to_owned(),
                None if node.kind.can_contain(action_kind) => match action_kind {
                    Kind::Course | Kind::Library
                        if matches!(node.kind, Kind::Org | Kind::Instance) =>
                    {
                        self.place_key(grant.node, Some(action_kind))
                    }
                    _ => node.key().to_owned(),
                },
                None => continue,
            };
            found.push(text);
        }
        // Asked for the action's own kind, an ancestor listed stands for every scope of that kind
        // below it (`org:MITx` for its programs, `*` for all), so it stays.
        if let Some(kind) = kind {
            found.retain(|text| {
                Scope::parse(text).is_ok_and(|s| {
                    s.kind() == kind || (kind == action_kind && s.kind().can_contain(kind))
                })
            });
        }
        found.sort_unstable();
        found.dedup();
        // A listed region that another listed region contains adds nothing. Only the instance,
        // orgs and globs contain others: each key is compared with those, not with every key.
        let regions: Vec<String> = found
            .iter()
            .filter(|text| Scope::parse(text).is_ok_and(|s| s.is_region()))
            .cloned()
            .collect();
        found.retain(|inner| {
            !regions
                .iter()
                .any(|outer| outer != inner && region_contains(outer, inner))
        });
        found
    }

    /// One page of `scopes`: the scopes after `after` (a scope key, the last of the page
    /// before), at most `limit`, and the cursor for the next page when there is one.
    pub fn scopes_page(
        &self,
        subject: &str,
        action: &str,
        kind: Option<Kind>,
        at: Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> ScopePage {
        let all = self.scopes(subject, action, kind, at);
        let start = after.map_or(0, |a| all.partition_point(|s| s.as_str() <= a));
        let mut scopes: Vec<String> = all
            .into_iter()
            .skip(start)
            .take(limit.saturating_add(1))
            .collect();
        let next = if scopes.len() > limit {
            scopes.truncate(limit);
            scopes.last().cloned()
        } else {
            None
        };
        ScopePage { scopes, next }
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
