//! The shared engine: lock-free reads of the current index, serialized writers that swap in a new one.

use std::sync::{Arc, Mutex};

use ahash::{AHashMap, AHashSet};
use arc_swap::ArcSwap;

use crate::index::Index;
use crate::model::Change;
use crate::policy::{PermissionDef, Policy, PolicyDoc, RoleDef};

/// Holds the current `Index`. Readers `snapshot()` it without locking; writers apply changes to a
/// copy-on-write clone and publish it atomically, so a reader sees one revision, whole.
pub struct Engine {
    current: ArcSwap<Index>,
    writer: Mutex<()>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(Index::new())
    }
}

impl Engine {
    pub fn new(index: Index) -> Engine {
        Engine {
            current: ArcSwap::from_pointee(index),
            writer: Mutex::new(()),
        }
    }

    /// An engine holding only a policy document (no users or assignments), at revision 0.
    pub fn with_policy(doc: &PolicyDoc) -> Engine {
        let mut index = Index::new();
        let changes = policy_changes(doc);
        index.apply(0, &changes);
        Engine::new(index)
    }

    /// The index as of now; cheap, lock-free, and stable for as long as it is held.
    pub fn snapshot(&self) -> Arc<Index> {
        self.current.load_full()
    }

    pub fn revision(&self) -> u64 {
        self.current.load().revision()
    }

    /// Applies changes that the store committed at `revision` (the last one of the batch).
    /// Revisions at or below the current one are ignored, so replays are harmless.
    pub fn apply(&self, revision: u64, changes: &[Change]) {
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.current.load();
        if revision <= current.revision() && revision != 0 {
            return;
        }
        let mut next = Index::clone(&current);
        next.apply(revision, changes);
        self.current.store(Arc::new(next));
    }

    /// Applies a stream of (revision, change) in order, skipping those already applied.
    pub fn apply_log(&self, entries: &[(u64, Change)]) {
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.current.load();
        let from = current.revision();
        let fresh: Vec<&(u64, Change)> = entries.iter().filter(|(rev, _)| *rev > from).collect();
        let Some(last) = fresh.last().map(|(rev, _)| *rev) else {
            return;
        };
        let mut next = Index::clone(&current);
        next.apply(last, fresh.iter().map(|(_, c)| c));
        self.current.store(Arc::new(next));
    }

    /// Replaces the whole index (after a cold start from a snapshot).
    pub fn replace(&self, index: Index) {
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.current.store(Arc::new(index));
    }

    pub fn policy(&self) -> Arc<Policy> {
        self.current.load().policy.clone()
    }
}

/// The changes that bring an empty policy to `doc` (apps, then permissions, then roles).
pub fn policy_changes(doc: &PolicyDoc) -> Vec<Change> {
    let mut changes: Vec<Change> = doc
        .apps
        .iter()
        .map(|(app, def)| Change::AppPut {
            app: app.clone(),
            kind: def.kind,
            manage: def.manage.clone(),
        })
        .collect();
    changes.extend(doc.permissions.iter().map(|p| Change::PermissionPut {
        permission: p.clone(),
    }));
    changes.extend(
        doc.roles
            .iter()
            .map(|r| Change::RolePut { role: r.clone() }),
    );
    changes
}

/// The changes that turn policy `from` into `to`, for an idempotent `policy load`:
/// nothing when they are equal; roles and permissions missing from `to` are kept unless `prune`,
/// and so is the manage permission of an app that `to` gives none (files written before apps
/// named one).
pub fn policy_diff(from: &PolicyDoc, to: &PolicyDoc, prune: bool) -> Vec<Change> {
    let mut changes = Vec::new();
    for (app, def) in &to.apps {
        let old = from.apps.get(app);
        let manage = match (&def.manage, old) {
            (None, Some(old)) if !prune && old.kind == def.kind => old.manage.clone(),
            _ => def.manage.clone(),
        };
        if old.is_none_or(|old| old.kind != def.kind || old.manage != manage) {
            changes.push(Change::AppPut {
                app: app.clone(),
                kind: def.kind,
                manage,
            });
        }
    }
    // By name through maps: policies run to tens of thousands of entries.
    let from_permissions: AHashMap<&str, &PermissionDef> = from
        .permissions
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect();
    let from_roles: AHashMap<&str, &RoleDef> =
        from.roles.iter().map(|r| (r.name.as_str(), r)).collect();
    for p in &to.permissions {
        if from_permissions.get(p.name.as_str()) != Some(&p) {
            changes.push(Change::PermissionPut {
                permission: p.clone(),
            });
        }
    }
    for r in &to.roles {
        if from_roles.get(r.name.as_str()) != Some(&r) {
            changes.push(Change::RolePut { role: r.clone() });
        }
    }
    if prune {
        let to_permissions: AHashSet<&str> =
            to.permissions.iter().map(|p| p.name.as_str()).collect();
        let to_roles: AHashSet<&str> = to.roles.iter().map(|r| r.name.as_str()).collect();
        for r in &from.roles {
            if r.builtin && !to_roles.contains(r.name.as_str()) {
                changes.push(Change::RoleRemove {
                    name: r.name.clone(),
                });
            }
        }
        for p in &from.permissions {
            if !to_permissions.contains(p.name.as_str()) {
                changes.push(Change::PermissionRemove {
                    name: p.name.clone(),
                });
            }
        }
    }
    changes
}
