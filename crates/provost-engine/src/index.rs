//! The compiled index: interned scope nodes, grants by subject and by scope, applied change by change.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use ahash::AHashMap;

use smallvec::SmallVec;

use crate::model::{Assignment, Change, ScopeRegistration, Timestamp, User};
use crate::policy::{Policy, PolicyDoc, RoleId};
use crate::scope::{Kind, Scope};
use crate::shard::{ChunkedVec, ShardedMap};
use crate::subject::{Name, SubjectId, Subjects};
use crate::table::IdTable;

pub type NodeId = u32;
pub const INSTANCE: NodeId = 0;

/// A concrete scope the index has seen: in an assignment, as a parent, or registered.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// The key's bytes, inline up to 40 (course keys are about 30): a lookup compares it without
    /// another read.
    key: SmallVec<[u8; 40]>,
    pub kind: Kind,
    /// Programs and batches exist only once registered; other kinds are known from their key.
    pub known: bool,
    /// A course's or library's first parent is its org.
    pub parents: SmallVec<[NodeId; 2]>,
}

/// An assignment as the index holds it, in 8 bytes: the node, and the role with the glob's kind
/// filter and a flag for a time window (kept aside in `Index::windows`, as few grants have one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Grant {
    pub node: NodeId,
    bits: u32,
}

const ROLE_BITS: u32 = 0x00ff_ffff;
const FILTER_SHIFT: u32 = 24;
const WINDOWED: u32 = 1 << 31;

impl Node {
    pub fn key(&self) -> &str {
        std::str::from_utf8(&self.key).expect("node keys are made from strings")
    }

    /// The org's short name, for an org node.
    pub fn org_name(&self) -> Option<&str> {
        self.key().strip_prefix("org:")
    }
}

impl Grant {
    /// None when the role id does not fit (more than 16 M roles).
    pub fn new(role: RoleId, node: NodeId, filter: Option<Kind>, windowed: bool) -> Option<Grant> {
        if role > ROLE_BITS {
            return None;
        }
        let filter = filter.map_or(0, |k| k as u32 + 1) << FILTER_SHIFT;
        let window = if windowed { WINDOWED } else { 0 };
        Some(Grant {
            node,
            bits: role | filter | window,
        })
    }
    pub fn role(&self) -> RoleId {
        self.bits & ROLE_BITS
    }
    pub fn filter(&self) -> Option<Kind> {
        let k = (self.bits >> FILTER_SHIFT) & 0x7;
        k.checked_sub(1).map(|k| Kind::ALL[k as usize])
    }
    pub fn windowed(&self) -> bool {
        self.bits & WINDOWED != 0
    }
    /// What identifies the assignment at a subject (node, role, filter), ordered by node.
    pub fn place(&self) -> u64 {
        u64::from(self.node) << 32 | u64::from(self.bits & !WINDOWED)
    }
}

/// A grant at a scope, for `who`: the subject by id, so a name is stored once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScopeGrant {
    pub subject: SubjectId,
    pub grant: Grant,
}

/// A scope's list of grants is kept sorted by subject name from this length on, so `who` pages
/// through a long one (every platform-wide grant) without reading it all. Shorter lists are
/// sorted when asked. Tiny under the property tests, so they exercise the sorted lists too.
pub(crate) const SORTED_FROM: usize = if cfg!(feature = "reference") { 2 } else { 64 };

/// An assignment's window `[from, until)`; grants without one are valid at any time.
pub(crate) type Window = (Timestamp, Timestamp);
const ALWAYS: Window = (Timestamp::MIN, Timestamp::MAX);

/// One consistent state of the policy at a revision. Readers hold it through an `Arc`;
/// writers clone it (cheaply) and apply changes to the clone.
#[derive(Clone)]
pub struct Index {
    pub(crate) revision: u64,
    pub(crate) doc: Arc<PolicyDoc>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) subjects: Subjects,
    pub(crate) windows: ShardedMap<(SubjectId, u64), Window>,
    pub(crate) by_scope: ShardedMap<NodeId, Vec<ScopeGrant>>,
    pub(crate) node_ids: IdTable,
    pub(crate) nodes: ChunkedVec<Node>,
    /// Staff and superusers, for `who`.
    pub(crate) privileged: Arc<BTreeMap<Name, (bool, bool)>>,
    pub(crate) assignments: usize,
    /// From a `load` to the end of the next `apply`: the scope lists appended to, with their
    /// length before, sorted at that end.
    unsettled: AHashMap<NodeId, usize>,
    /// During a `load`: new grants not yet in their scope's list. They go in a node at a time,
    /// sorted by node, so a load of millions finds each list once instead of once per grant.
    arriving: Vec<ScopeGrant>,
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
            subjects: Subjects::default(),
            windows: ShardedMap::new(),
            by_scope: ShardedMap::new(),
            node_ids: IdTable::default(),
            nodes: ChunkedVec::default(),
            privileged: Arc::default(),
            assignments: 0,
            unsettled: AHashMap::new(),
            arriving: Vec::new(),
        };
        let instance = index.intern_key("*", Kind::Instance, SmallVec::new());
        debug_assert_eq!(instance, INSTANCE);
        index
    }

    /// Applies a batch of changes. Policy changes are gathered and compiled once per run of
    /// them (a policy load is one run of tens of thousands), and before any change that names a
    /// role, so assignments always see the roles put before them.
    /// Changes that no longer make sense (an unknown role, a bad key) are skipped: they were
    /// validated before they were written, and the log must never stop a node from starting.
    pub fn apply<'c>(&mut self, revision: u64, changes: impl IntoIterator<Item = &'c Change>) {
        self.load(changes);
        for (node, before) in std::mem::take(&mut self.unsettled) {
            self.settle(node, before);
        }
        self.revision = self.revision.max(revision);
    }

    /// `apply` for one batch of a load in many (a cold start reads its snapshot in batches):
    /// the long scope lists are left unsorted until the next `apply`, which sorts each once.
    /// Sorting them after every batch would copy every long list once per batch. Until then
    /// the index must not answer `who`.
    pub fn load<'c>(&mut self, changes: impl IntoIterator<Item = &'c Change>) {
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
        self.file_arriving();
    }

    /// Appends the grants added since the last call to their scopes' lists.
    fn file_arriving(&mut self) {
        let mut arriving = std::mem::take(&mut self.arriving);
        arriving.sort_unstable_by_key(|s| s.grant.node);
        for run in arriving.chunk_by(|a, b| a.grant.node == b.grant.node) {
            let node = run[0].grant.node;
            let list = self.by_scope.entry_or_insert_with(node, Vec::new);
            // Appended, and sorted in when the batch ends (keeps bulk loads linear).
            self.unsettled.entry(node).or_insert(list.len());
            list.extend_from_slice(run);
        }
    }

    /// Sorts what was appended to a scope's list since it held `before` grants, if it is long
    /// enough to be kept sorted: the new ones are sorted and merged in by binary search, so a
    /// write to a long list costs its copy plus a few name comparisons.
    fn settle(&mut self, node: NodeId, before: usize) {
        let Some(list) = self.by_scope.get_mut(&node) else {
            return;
        };
        if list.len() < SORTED_FROM {
            return;
        }
        let subjects = &self.subjects;
        let sorted = if before >= SORTED_FROM { before } else { 0 };
        let mut tail = list.split_off(sorted);
        tail.sort_by_cached_key(|s| (subjects.by_id(s.subject).name.clone(), s.grant.place()));
        if sorted == 0 {
            *list = tail;
            return;
        }
        let mut merged = Vec::with_capacity(list.len() + tail.len());
        let mut from = 0;
        for held in tail {
            let at = from
                + list[from..]
                    .partition_point(|s| scope_order(subjects, s, &held) == Ordering::Less);
            merged.extend_from_slice(&list[from..at]);
            merged.push(held);
            from = at;
        }
        merged.extend_from_slice(&list[from..]);
        *list = merged;
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
        self.subjects.get(username)?.1.user.as_deref()
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        self.nodes
            .get(id as usize)
            .expect("node ids come from this index")
    }

    /// Orgs are hashed by their short name, so a request names its org without building `org:…`.
    fn org_hash(&self, org: &str) -> u64 {
        self.node_ids.hash(org) ^ 0x6f72_6700_0000_0000
    }

    fn node_hash(&self, key: &str) -> u64 {
        match key.strip_prefix("org:") {
            Some(org) => self.org_hash(org),
            None => self.node_ids.hash(key),
        }
    }

    /// The node with this canonical key, if the index has seen it.
    #[inline]
    pub(crate) fn node_id(&self, key: &str) -> Option<NodeId> {
        self.node_ids.find(self.node_hash(key), |id| {
            self.node(id).key[..] == *key.as_bytes()
        })
    }

    pub(crate) fn org_node(&self, org: &str) -> Option<NodeId> {
        self.node_ids.find(self.org_hash(org), |id| {
            let key = &self.node(id).key;
            key.len() == org.len() + 4 && key.starts_with(b"org:") && key[4..] == *org.as_bytes()
        })
    }

    fn intern_key(&mut self, key: &str, kind: Kind, parents: SmallVec<[NodeId; 2]>) -> NodeId {
        if let Some(id) = self.node_id(key) {
            return id;
        }
        let known = !matches!(kind, Kind::Program | Kind::Batch);
        let id = self.nodes.push(Node {
            key: SmallVec::from_slice(key.as_bytes()),
            kind,
            parents,
            known,
        }) as NodeId;
        self.node_ids.insert(self.node_hash(key), id);
        id
    }

    /// Interns a concrete scope and the parents its key names.
    pub(crate) fn intern(&mut self, scope: &Scope) -> NodeId {
        let key = scope.canonical();
        if let Some(id) = self.node_id(&key) {
            return id;
        }
        let parents = match scope {
            Scope::Instance => return INSTANCE,
            Scope::Org(_) | Scope::Enterprise(_) => smallvec::smallvec![INSTANCE],
            Scope::Course { org, .. } | Scope::Library { org, .. } => {
                smallvec::smallvec![self.intern(&Scope::Org(org))]
            }
            Scope::Program(_) | Scope::Batch(_) => SmallVec::new(),
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
            _ => Some((self.node_id(&scope.canonical())?, None)),
        }
    }

    /// The key an assignment was made at (the glob again for filtered grants).
    pub(crate) fn place_key(&self, node: NodeId, filter: Option<Kind>) -> String {
        let node = self.node(node);
        match (filter, node.kind) {
            (Some(Kind::Course), Kind::Org) => format!("course-v1:{}+*", &node.key()[4..]),
            (Some(Kind::Course), _) => "course-v1:*".into(),
            (Some(Kind::Library), Kind::Org) => format!("lib:{}:*", &node.key()[4..]),
            (Some(Kind::Library), _) => "lib:*".into(),
            _ => node.key().to_owned(),
        }
    }

    /// A grant's window (always valid when it has none).
    pub(crate) fn window(&self, subject: Option<SubjectId>, grant: &Grant) -> Window {
        match subject {
            Some(subject) if grant.windowed() => self
                .windows
                .get(&(subject, grant.place()))
                .copied()
                .unwrap_or(ALWAYS),
            _ => ALWAYS,
        }
    }

    fn put_user(&mut self, user: &User) {
        let id = self.subjects.intern(&user.username);
        let entry = self.subjects.by_id_mut(id);
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
        if let Some(id) = self.subjects.id(username) {
            let grants = std::mem::take(&mut self.subjects.by_id_mut(id).grants);
            for grant in grants {
                self.drop_grant(id, &grant);
            }
            self.subjects.remove(id);
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
        let (node, filter) = match self.node_id(&a.scope) {
            Some(node) => (node, None),
            None => {
                let Ok(scope) = Scope::parse(&a.scope) else {
                    return;
                };
                self.place(&scope)
            }
        };
        let window = (
            a.valid_from.unwrap_or(Timestamp::MIN),
            a.valid_until.unwrap_or(Timestamp::MAX),
        );
        let Some(grant) = Grant::new(role, node, filter, window != ALWAYS) else {
            return;
        };
        let subject = self.subjects.intern(&a.subject);
        let new = self.subjects.by_id_mut(subject).put(grant);
        let key = (subject, grant.place());
        if grant.windowed() {
            *self.windows.entry_or_insert_with(key, || ALWAYS) = window;
        } else if !new {
            self.windows.remove(&key);
        }
        if new {
            self.assignments += 1;
            self.arriving.push(ScopeGrant { subject, grant });
            return;
        }
        // A replaced grant (a new window) may have arrived in this batch: file those first.
        self.file_arriving();
        if let Some(held) = self.by_scope.get_mut(&node).and_then(|list| {
            list.iter_mut()
                .find(|s| s.subject == subject && s.grant.place() == grant.place())
        }) {
            held.grant = grant;
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
        let Some(id) = self.subjects.id(subject) else {
            return;
        };
        let Some(place) = Grant::new(role, node, filter, false).map(|g| g.place()) else {
            return;
        };
        let entry = self.subjects.by_id_mut(id);
        let Some(removed) = entry.take(place) else {
            return;
        };
        let emptied = entry.grants.is_empty() && entry.user.is_none();
        // Its scope list is ordered by the name, so the record goes last.
        self.drop_grant(id, &removed);
        if emptied {
            self.subjects.remove(id);
        }
    }

    /// Drops what a removed grant left beside the subject's record: its window and its place in
    /// its scope's list.
    fn drop_grant(&mut self, subject: SubjectId, grant: &Grant) {
        self.file_arriving();
        self.assignments -= 1;
        if grant.windowed() {
            self.windows.remove(&(subject, grant.place()));
        }
        if let Some(before) = self.unsettled.remove(&grant.node) {
            self.settle(grant.node, before);
        }
        let Some(list) = self.by_scope.get_mut(&grant.node) else {
            return;
        };
        let gone = ScopeGrant {
            subject,
            grant: *grant,
        };
        let subjects = &self.subjects;
        if list.len() >= SORTED_FROM {
            if let Ok(i) = list.binary_search_by(|s| scope_order(subjects, s, &gone)) {
                list.remove(i);
            }
        } else {
            list.retain(|s| !(s.subject == subject && s.grant.place() == grant.place()));
        }
        if list.is_empty() {
            self.by_scope.remove(&grant.node);
        }
    }

    fn register(&mut self, registration: &ScopeRegistration) {
        let Ok(scope) = Scope::parse(&registration.scope) else {
            return;
        };
        if !matches!(scope, Scope::Program(_) | Scope::Batch(_)) {
            return;
        }
        let mut parents = SmallVec::new();
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
        let Some(id) = self.node_id(scope) else {
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
        self.subjects.iter().flat_map(move |(id, entry)| {
            entry.grants.iter().filter_map(move |g| {
                let (from, until) = self.window(Some(id), g);
                Some(Assignment {
                    subject: entry.name.to_string(),
                    role: self.policy.role(g.role())?.def.name.clone(),
                    scope: self.place_key(g.node, g.filter()),
                    valid_from: (from != Timestamp::MIN).then_some(from),
                    valid_until: (until != Timestamp::MAX).then_some(until),
                })
            })
        })
    }

    /// Registered parents of a program or batch (empty when unknown).
    pub fn registered_parents(&self, scope: &str) -> Option<Vec<String>> {
        let id = self.node_id(scope)?;
        let node = self.node(id);
        node.known.then(|| {
            node.parents
                .iter()
                .map(|p| self.node(*p).key().to_owned())
                .collect()
        })
    }
}

/// The order of a long scope list: by subject name, then place.
fn scope_order(subjects: &Subjects, a: &ScopeGrant, b: &ScopeGrant) -> Ordering {
    let name = |s: &ScopeGrant| subjects.by_id(s.subject).name.as_str();
    name(a)
        .cmp(name(b))
        .then(a.grant.place().cmp(&b.grant.place()))
}
