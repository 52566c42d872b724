//! The compiled index: interned scope nodes, grants by subject and by scope, applied change by change.

use std::collections::BTreeMap;
use std::sync::Arc;

use compact_str::CompactString;
use smallvec::SmallVec;

use crate::model::{Assignment, Change, ScopeRegistration, Timestamp, User};
use crate::policy::{Policy, PolicyDoc, RoleId};
use crate::scope::{Kind, Scope};
use crate::shard::{ChunkedVec, ShardedMap};

pub type NodeId = u32;
pub const INSTANCE: NodeId = 0;

/// A concrete scope the index has seen: in an assignment, as a parent, or registered.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub key: Box<str>,
    pub kind: Kind,
    pub parents: Vec<NodeId>,
    /// Programs and batches exist only once registered; other kinds are known from their key.
    pub known: bool,
}

/// An assignment as the index holds it: role and place interned, window as plain numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Grant {
    pub role: RoleId,
    pub node: NodeId,
    /// For globs: only scopes of this kind below `node` (`course-v1:MITx+*` = org:MITx, courses).
    pub filter: Option<Kind>,
    pub from: Timestamp,
    pub until: Timestamp,
}

impl Grant {
    pub fn valid_at(&self, at: Timestamp) -> bool {
        self.from <= at && at < self.until
    }
}

/// A subject's flags and grants, laid out so a check touches one hash bucket: names up to 24
/// bytes and up to two grants live inline.
#[derive(Clone, Debug, Default)]
pub(crate) struct SubjectEntry {
    pub staff: bool,
    pub superuser: bool,
    pub user: Option<Box<User>>,
    pub grants: SmallVec<[Grant; 2]>,
}

pub(crate) type Name = CompactString;

#[derive(Clone, Debug)]
pub(crate) struct ScopeGrant {
    pub subject: Name,
    pub grant: Grant,
}

/// One consistent state of the policy at a revision. Readers hold it through an `Arc`;
/// writers clone it (cheaply) and apply changes to the clone.
#[derive(Clone)]
pub struct Index {
    pub(crate) revision: u64,
    pub(crate) doc: Arc<PolicyDoc>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) subjects: ShardedMap<Name, SubjectEntry>,
    pub(crate) by_scope: ShardedMap<NodeId, Vec<ScopeGrant>>,
    pub(crate) node_ids: ShardedMap<Box<str>, NodeId>,
    pub(crate) nodes: ChunkedVec<Node>,
    /// Staff and superusers, for `who`.
    pub(crate) privileged: Arc<BTreeMap<Name, (bool, bool)>>,
    pub(crate) assignments: usize,
}

impl Default for Index {
    fn default() -> Self {
        Index::new()
    }
}

impl Index {
    pub fn new() -> Index {
        let mut index = Index {
            revision: 0,
            doc: Arc::new(PolicyDoc::default()),
            policy: Arc::new(Policy::default()),
            subjects: ShardedMap::new(),
            by_scope: ShardedMap::new(),
            node_ids: ShardedMap::new(),
            nodes: ChunkedVec::default(),
            privileged: Arc::default(),
            assignments: 0,
        };
        let instance = index.intern_key("*", Kind::Instance, Vec::new());
        debug_assert_eq!(instance, INSTANCE);
        index
    }

    /// Applies a batch of changes. Policy changes are gathered and compiled once per run of
    /// them (a policy load is one run of tens of thousands), and before any change that names a
    /// role, so assignments always see the roles put before them.
    /// Changes that no longer make sense (an unknown role, a bad key) are skipped: they were
    /// validated before they were written, and the log must never stop a node from starting.
    pub fn apply<'c>(&mut self, revision: u64, changes: impl IntoIterator<Item = &'c Change>) {
        let mut policy_changes: Vec<&Change> = Vec::new();
        for change in changes {
            if change.is_policy() {
                policy_changes.push(change);
                continue;
            }
            self.apply_policy(&mut policy_changes);
            self.apply_fact(change);
        }
        self.apply_policy(&mut policy_changes);
        self.revision = self.revision.max(revision);
    }

    fn apply_fact(&mut self, change: &Change) {
        match change {
            Change::UserPut { user } => self.put_user(user),
            Change::UserRemove { username } => self.remove_user(username),
            Change::AssignmentAdd { assignment } => self.add_assignment(assignment),
            Change::AssignmentRemove {
                subject,
                role,
                scope,
            } => self.remove_assignment(subject, role, scope),
            Change::ScopeRegister { registration } => self.register(registration),
            Change::ScopeRemove { scope } => self.unregister(scope),
            // Gathered by `apply` and compiled together.
            Change::AppPut { .. }
            | Change::PermissionPut { .. }
            | Change::PermissionRemove { .. }
            | Change::RolePut { .. }
            | Change::RoleRemove { .. } => {}
        }
    }

    fn apply_policy(&mut self, changes: &mut Vec<&Change>) {
        if changes.is_empty() {
            return;
        }
        Arc::make_mut(&mut self.doc).apply_all(changes.drain(..));
        self.recompile();
    }

    fn recompile(&mut self) {
        // A change that breaks compilation leaves the previous compiled policy in force.
        if let Ok(policy) = self.policy.recompile(&self.doc) {
            self.policy = Arc::new(policy);
        }
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
    pub fn policy_doc(&self) -> &PolicyDoc {
        &self.doc
    }
    pub fn assignment_count(&self) -> usize {
        self.assignments
    }
    pub fn scope_count(&self) -> usize {
        self.nodes.len()
    }
    pub fn subject_count(&self) -> usize {
        self.subjects.len()
    }
    pub fn user(&self, username: &str) -> Option<&User> {
        self.subjects.get(username)?.user.as_deref()
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        self.nodes
            .get(id as usize)
            .expect("node ids come from this index")
    }

    fn intern_key(&mut self, key: &str, kind: Kind, parents: Vec<NodeId>) -> NodeId {
        if let Some(id) = self.node_ids.get(key) {
            return *id;
        }
        let known = !matches!(kind, Kind::Program | Kind::Batch);
        let id = self.nodes.push(Node {
            key: key.into(),
            kind,
            parents,
            known,
        }) as NodeId;
        self.node_ids.entry_or_insert_with(key.into(), || id);
        id
    }

    /// Interns a concrete scope and the parents its key names.
    pub(crate) fn intern(&mut self, scope: &Scope) -> NodeId {
        let key = scope.canonical();
        if let Some(id) = self.node_ids.get(key.as_ref()) {
            return *id;
        }
        let parents = match scope {
            Scope::Instance => return INSTANCE,
            Scope::Org(_) | Scope::Enterprise(_) => vec![INSTANCE],
            Scope::Course { org, .. } | Scope::Library { org, .. } => {
                vec![self.intern(&Scope::Org(org))]
            }
            Scope::Program(_) | Scope::Batch(_) => Vec::new(),
            Scope::CourseGlob(_) | Scope::LibraryGlob(_) => {
                unreachable!("globs are regions, not nodes")
            }
        };
        self.intern_key(&key, scope.kind(), parents)
    }

    /// Where an assignment at this key is held: a node, and a kind filter for globs.
    pub(crate) fn place(&mut self, scope: &Scope) -> (NodeId, Option<Kind>) {
        match scope {
            Scope::CourseGlob(org) | Scope::LibraryGlob(org) => {
                let node = match org {
                    Some(org) => self.intern(&Scope::Org(org)),
                    None => INSTANCE,
                };
                (node, Some(scope.kind()))
            }
            _ => (self.intern(scope), None),
        }
    }

    /// Where an assignment at this key would be held, without interning: None when the index has
    /// never seen the place (so nothing can be held there).
    pub(crate) fn placed(&self, scope: &Scope) -> Option<(NodeId, Option<Kind>)> {
        match scope {
            Scope::CourseGlob(None) | Scope::LibraryGlob(None) => {
                Some((INSTANCE, Some(scope.kind())))
            }
            Scope::CourseGlob(Some(org)) | Scope::LibraryGlob(Some(org)) => {
                Some((self.org_node(org)?, Some(scope.kind())))
            }
            _ => Some((*self.node_ids.get(scope.canonical().as_ref())?, None)),
        }
    }

    /// The key an assignment was made at (the glob again for filtered grants).
    pub(crate) fn place_key(&self, node: NodeId, filter: Option<Kind>) -> String {
        let node = self.node(node);
        match (filter, node.kind) {
            (Some(Kind::Course), Kind::Org) => format!("course-v1:{}+*", &node.key[4..]),
            (Some(Kind::Course), _) => "course-v1:*".into(),
            (Some(Kind::Library), Kind::Org) => format!("lib:{}:*", &node.key[4..]),
            (Some(Kind::Library), _) => "lib:*".into(),
            _ => node.key.to_string(),
        }
    }

    fn put_user(&mut self, user: &User) {
        let entry = self
            .subjects
            .entry_or_insert_with(user.username.as_str().into(), SubjectEntry::default);
        entry.user = Some(Box::new(user.clone()));
        entry.staff = user.staff;
        entry.superuser = user.superuser;
        let privileged = Arc::make_mut(&mut self.privileged);
        if user.staff || user.superuser {
            privileged.insert(user.username.as_str().into(), (user.staff, user.superuser));
        } else {
            privileged.remove(user.username.as_str());
        }
    }

    fn remove_user(&mut self, username: &str) {
        if let Some(entry) = self.subjects.remove(username) {
            for grant in entry.grants {
                self.drop_scope_grant(username, grant.role, grant.node, grant.filter);
                self.assignments -= 1;
            }
        }
        if self.privileged.contains_key(username) {
            Arc::make_mut(&mut self.privileged).remove(username);
        }
    }

    fn add_assignment(&mut self, a: &Assignment) {
        let Some(role) = self.policy.role_slot(&a.role) else {
            return;
        };
        // Stored keys are canonical, so a key the index already holds is that node: no parsing
        // on the bulk path (a cold start places millions of assignments on a few thousand nodes).
        let (node, filter) = match self.node_ids.get(a.scope.as_str()) {
            Some(&node) => (node, None),
            None => {
                let Ok(scope) = Scope::parse(&a.scope) else {
                    return;
                };
                self.place(&scope)
            }
        };
        let grant = Grant {
            role,
            node,
            filter,
            from: a.valid_from.unwrap_or(Timestamp::MIN),
            until: a.valid_until.unwrap_or(Timestamp::MAX),
        };
        let subject = Name::new(&a.subject);
        let entry = self
            .subjects
            .entry_or_insert_with(subject.clone(), SubjectEntry::default);
        let existed = match entry
            .grants
            .iter_mut()
            .find(|g| g.role == role && g.node == node && g.filter == filter)
        {
            Some(existing) => {
                *existing = grant;
                true
            }
            None => {
                entry.grants.push(grant);
                self.assignments += 1;
                false
            }
        };
        let at_scope = self.by_scope.entry_or_insert_with(node, Vec::new);
        // Only a changed window needs the scan; a new assignment is appended (keeps bulk loads linear).
        let found = existed
            .then(|| {
                at_scope.iter_mut().find(|s| {
                    s.subject == subject && s.grant.role == role && s.grant.filter == filter
                })
            })
            .flatten();
        match found {
            Some(existing) => existing.grant = grant,
            None => at_scope.push(ScopeGrant { subject, grant }),
        }
    }

    fn remove_assignment(&mut self, subject: &str, role: &str, scope: &str) {
        let Some(role) = self.policy.role_slot(role) else {
            return;
        };
        let Ok(scope) = Scope::parse(scope) else {
            return;
        };
        let Some((node, filter)) = self.placed(&scope) else {
            return;
        };
        let Some(entry) = self.subjects.get_mut(subject) else {
            return;
        };
        let before = entry.grants.len();
        entry
            .grants
            .retain(|g| !(g.role == role && g.node == node && g.filter == filter));
        if entry.grants.len() < before {
            self.assignments -= 1;
            let empty = entry.grants.is_empty() && entry.user.is_none();
            if empty {
                self.subjects.remove(subject);
            }
            self.drop_scope_grant(subject, role, node, filter);
        }
    }

    fn drop_scope_grant(
        &mut self,
        subject: &str,
        role: RoleId,
        node: NodeId,
        filter: Option<Kind>,
    ) {
        if let Some(list) = self.by_scope.get_mut(&node) {
            list.retain(|s| {
                !(*s.subject == *subject && s.grant.role == role && s.grant.filter == filter)
            });
            if list.is_empty() {
                self.by_scope.remove(&node);
            }
        }
    }

    fn register(&mut self, registration: &ScopeRegistration) {
        let Ok(scope) = Scope::parse(&registration.scope) else {
            return;
        };
        if !matches!(scope, Scope::Program(_) | Scope::Batch(_)) {
            return;
        }
        let mut parents = Vec::new();
        for parent in &registration.parents {
            if let Ok(p) = Scope::parse(parent) {
                if !p.is_glob() {
                    parents.push(self.intern(&p));
                }
            }
        }
        let id = self.intern(&scope);
        if let Some(node) = self.nodes.get_mut(id as usize) {
            node.parents = parents;
            node.known = true;
        }
    }

    fn unregister(&mut self, scope: &str) {
        let Some(id) = self.node_ids.get(scope).copied() else {
            return;
        };
        if let Some(node) = self.nodes.get_mut(id as usize) {
            if matches!(node.kind, Kind::Program | Kind::Batch) {
                node.known = false;
                node.parents.clear();
            }
        }
    }

    /// Every assignment, in no particular order (for digests and tests).
    pub fn assignments(&self) -> impl Iterator<Item = Assignment> + '_ {
        self.subjects.iter().flat_map(move |(subject, entry)| {
            entry.grants.iter().filter_map(move |g| {
                Some(Assignment {
                    subject: subject.to_string(),
                    role: self.policy.role(g.role)?.def.name.clone(),
                    scope: self.place_key(g.node, g.filter),
                    valid_from: (g.from != Timestamp::MIN).then_some(g.from),
                    valid_until: (g.until != Timestamp::MAX).then_some(g.until),
                })
            })
        })
    }

    /// Registered parents of a program or batch (empty when unknown).
    pub fn registered_parents(&self, scope: &str) -> Option<Vec<String>> {
        let id = *self.node_ids.get(scope)?;
        let node = self.node(id);
        node.known.then(|| {
            node.parents
                .iter()
                .map(|p| self.node(*p).key.to_string())
                .collect()
        })
    }
}
