//! Decisions: `check`, allowed or not and the deciding reason (`explain.rs` spells one out).

use serde::Serialize;

use smallvec::SmallVec;

use crate::index::{Grant, Index, NodeId, INSTANCE};
use crate::model::Timestamp;
use crate::policy::{PermId, RoleInfo};
use crate::scope::{Kind, Scope};
use crate::subject::{SubjectId, SCAN};

/// Why a decision came out the way it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Superuser,
    Staff,
    Assignment,
    UnknownAction,
    InvalidScope,
    UnknownScope,
    WrongKind,
    NotYetValid,
    Expired,
    /// The only assignments that would grant are of an org-owned role held outside its org.
    RoleOutsideOrg,
    /// The subject holds a role at (or above) the scope, valid now, but none includes the action.
    RoleLacksAction,
    NoAssignment,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Superuser => "superuser",
            Reason::Staff => "staff",
            Reason::Assignment => "assignment",
            Reason::UnknownAction => "unknown_action",
            Reason::InvalidScope => "invalid_scope",
            Reason::UnknownScope => "unknown_scope",
            Reason::WrongKind => "wrong_kind",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Expired => "expired",
            Reason::RoleOutsideOrg => "role_outside_org",
            Reason::RoleLacksAction => "role_lacks_action",
            Reason::NoAssignment => "no_assignment",
        }
    }
}

/// The answer to a check: never an error, so a caller cannot mistake a failure for a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
}

impl Decision {
    fn allow(reason: Reason) -> Decision {
        Decision {
            allowed: true,
            reason,
        }
    }
    fn deny(reason: Reason) -> Decision {
        Decision {
            allowed: false,
            reason,
        }
    }
}

/// The request scope's ancestors (itself included when interned) and the kinds along them.
pub(crate) struct Chain {
    ids: [NodeId; 8],
    len: usize,
    spill: Vec<NodeId>,
    mask: u8,
}

pub(crate) fn bit(kind: Kind) -> u8 {
    1 << (kind as u8)
}

impl Chain {
    fn new() -> Chain {
        Chain {
            ids: [0; 8],
            len: 0,
            spill: Vec::new(),
            mask: 0,
        }
    }
    fn get(&self, i: usize) -> Option<NodeId> {
        if i >= self.len {
            None
        } else if i < 8 {
            Some(self.ids[i])
        } else {
            self.spill.get(i - 8).copied()
        }
    }
    pub fn contains(&self, id: NodeId) -> bool {
        self.ids[..self.len.min(8)].contains(&id) || self.spill.contains(&id)
    }
    fn push(&mut self, id: NodeId) {
        if self.contains(id) {
            return;
        }
        if self.len < 8 {
            self.ids[self.len] = id;
        } else {
            self.spill.push(id);
        }
        self.len += 1;
    }
    pub fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.len).filter_map(|i| self.get(i))
    }
    pub fn has_kind(&self, kind: Kind) -> bool {
        self.mask & bit(kind) != 0
    }
}

/// A request scope placed in the index.
pub(crate) enum Reach {
    /// Every ancestor by id (programs and batches, whose parents are registered).
    Chain(Chain),
    /// Placed by key: its own node (None for `*`, globs and scopes nobody holds anything at),
    /// the node of the org it names, and its kinds.
    Keyed {
        node: Option<NodeId>,
        org: Option<NodeId>,
        mask: u8,
    },
}

impl Reach {
    /// The nodes a grant must be held at to reach the request, each once.
    pub fn nodes(&self) -> SmallVec<[NodeId; 8]> {
        match self {
            Reach::Chain(chain) => chain.iter().collect(),
            Reach::Keyed { node, org, .. } => {
                let mut nodes: SmallVec<[NodeId; 8]> = smallvec::smallvec![INSTANCE];
                for id in [node, org].into_iter().flatten() {
                    if !nodes.contains(id) {
                        nodes.push(*id);
                    }
                }
                nodes
            }
        }
    }
}

/// A request resolved against the index: what it asks for and where.
pub(crate) struct Target {
    pub perm: PermId,
    pub kind: Kind,
    /// For glob requests: the glob's kind (`course-v1:MITx+*` asks about courses).
    pub filter: Option<Kind>,
    pub scope_kind: Kind,
}

impl Index {
    /// Whether `subject` may do `action` at `scope` at time `at` (DESIGN.md §3).
    pub fn allowed(&self, subject: &str, action: &str, scope: &str, at: Timestamp) -> bool {
        self.check(subject, action, scope, at).allowed
    }

    pub fn check(&self, subject: &str, action: &str, scope: &str, at: Timestamp) -> Decision {
        let scope = match Scope::parse(scope) {
            Ok(scope) => scope,
            Err(_) => {
                let reason = if self.policy.perm_id(action).is_none() {
                    Reason::UnknownAction
                } else {
                    Reason::InvalidScope
                };
                return Decision::deny(reason);
            }
        };
        self.check_scope(subject, action, &scope, at, &[])
    }

    /// `check` with extra grants that hold for this request only (roles from a token's claims).
    pub fn check_scope(
        &self,
        subject: &str,
        action: &str,
        scope: &Scope,
        at: Timestamp,
        extra: &[ExtraGrant],
    ) -> Decision {
        let claims = Claims {
            grants: extra,
            ..Claims::default()
        };
        self.check_claims(subject, action, scope, at, &claims)
    }

    /// `check` for a subject who also carries a token's claims (flags and roles), which count
    /// for this request only, on top of what the index holds for them.
    pub fn check_claims(
        &self,
        subject: &str,
        action: &str,
        scope: &Scope,
        at: Timestamp,
        claims: &Claims,
    ) -> Decision {
        let extra = claims.grants;
        let target = match self.target(action, scope) {
            Ok(target) => target,
            Err(reason) => return Decision::deny(reason),
        };
        // The subject and the scope's nodes are looked up side by side, each by one table slot
        // and one record: their reads are asked for first, so they wait for memory together.
        let hash = self.subjects.hash(subject);
        self.subjects.prefetch_slot(hash);
        self.prefetch_scope(scope);
        self.subjects.prefetch(hash);
        let reach = self.reach(scope);
        let entry = self.subjects.get_hashed(subject, hash);
        if let Some((_, e)) = entry {
            e.prefetch_grants();
        }
        let (sid, held) = match entry {
            Some((id, e)) => (Some(id), e.grants.as_slice()),
            None => (None, &[][..]),
        };
        if claims.superuser || entry.is_some_and(|(_, e)| e.superuser) {
            return match reach {
                Some(_) => Decision::allow(Reason::Superuser),
                None => Decision::deny(Reason::UnknownScope),
            };
        }
        if (claims.staff || entry.is_some_and(|(_, e)| e.staff)) && staff_bypass(&target) {
            return Decision::allow(Reason::Staff);
        }
        let mut denial = Reason::NoAssignment;
        for e in extra {
            // A token's grant at exactly the requested scope needs no index entry.
            let same = Scope::parse(&e.scope).is_ok_and(|s| s.canonical() == scope.canonical());
            let holds = self
                .policy
                .role_id(&e.role)
                .and_then(|r| self.policy.role(r))
                .is_some_and(|r| {
                    r.closure.contains(target.perm) && self.scope_within_role_org(r, scope)
                });
            if same && holds && reach.is_some() {
                return Decision::allow(Reason::Assignment);
            }
        }
        // Only programs and batches can be unknown.
        let Some(reach) = reach else {
            return Decision::deny(Reason::UnknownScope);
        };
        // A subject with many grants has those at the request's nodes searched, not scanned.
        let mut near: SmallVec<[Grant; 16]> = SmallVec::new();
        let held = match entry {
            Some((_, e)) if held.len() > SCAN => {
                near.extend(e.grants_among(&reach.nodes()).copied());
                near.as_slice()
            }
            _ => held,
        };
        let extra_grants: SmallVec<[Grant; 2]> =
            extra.iter().filter_map(|e| self.extra_grant(e)).collect();
        let grants = || {
            held.iter()
                .map(move |g| (sid, *g))
                .chain(extra_grants.iter().map(|g| (None, *g)))
        };
        let granting = self.policy.granted_by(target.perm);
        // Whether a role that lacks the action is held there, for the reason of a denial:
        // found in the same pass, among the grants that reach the scope.
        let mut lacks = false;
        for (subject, grant) in grants() {
            if !self.covers(&grant, &reach, &target) {
                continue;
            }
            if !granting.contains(grant.role()) {
                lacks = lacks || self.holds_without(subject, &grant, &reach, &target, at);
                continue;
            }
            if self.policy.org_owned(grant.role())
                && !self
                    .policy
                    .role(grant.role())
                    .is_some_and(|role| self.within_role_org(role, grant.node))
            {
                denial = Reason::RoleOutsideOrg;
                continue;
            }
            let (from, until) = self.window(subject, &grant);
            if from <= at && at < until {
                return Decision::allow(Reason::Assignment);
            }
            denial = if at < from {
                Reason::NotYetValid
            } else {
                Reason::Expired
            };
        }
        if denial == Reason::NoAssignment && lacks {
            denial = Reason::RoleLacksAction;
        }
        Decision::deny(denial)
    }

    /// Whether a grant is of a role that lacks the action but is held, valid at `at` and inside
    /// its org, at (or above) the requested scope: the subject has a role there, just not one
    /// that includes the action.
    pub(crate) fn holds_without(
        &self,
        subject: Option<SubjectId>,
        grant: &Grant,
        reach: &Reach,
        target: &Target,
        at: Timestamp,
    ) -> bool {
        self.policy.role(grant.role()).is_some_and(|role| {
            let (from, until) = self.window(subject, grant);
            !role.closure.contains(target.perm)
                && from <= at
                && at < until
                && self.covers(grant, reach, target)
                && self.within_role_org(role, grant.node)
        })
    }

    /// Where a request sits, resolved as cheaply as its kind allows: courses, libraries, orgs,
    /// enterprises and globs are placed by their key alone; programs and batches by registration.
    /// None for unknown scopes.
    pub(crate) fn reach(&self, scope: &Scope) -> Option<Reach> {
        let mut mask = bit(scope.kind()) | bit(Kind::Instance);
        if scope.org().is_some() || scope.is_glob() {
            mask |= bit(Kind::Org);
        }
        let (node, org) = match scope {
            Scope::Program(_) | Scope::Batch(_) => return self.chain(scope).map(Reach::Chain),
            // A course or library node's first parent is its org.
            Scope::Course { key, org } | Scope::Library { key, org } => match self.node_id(key) {
                Some(node) => (Some(node), self.node(node).parents.first().copied()),
                None => (None, self.org_node(org)),
            },
            Scope::Org(org) => {
                let node = self.org_node(org);
                (node, node)
            }
            Scope::Enterprise(key) => (self.node_id(key), None),
            Scope::CourseGlob(org) | Scope::LibraryGlob(org) => {
                (None, org.and_then(|org| self.org_node(org)))
            }
            Scope::Instance => (None, None),
        };
        Some(Reach::Keyed { node, org, mask })
    }

    /// Starts reading the table slot `reach` will read for a course or library.
    #[inline]
    fn prefetch_scope(&self, scope: &Scope) {
        if let Scope::Course { key, .. } | Scope::Library { key, .. } = scope {
            self.node_ids.prefetch(self.node_ids.hash(key));
        }
    }

    /// Whether a grant reaches every scope the request asks about.
    pub(crate) fn covers(&self, grant: &Grant, reach: &Reach, target: &Target) -> bool {
        let filter = grant.filter();
        let (at_or_above, has_kind) = match reach {
            Reach::Chain(chain) => (
                chain.contains(grant.node),
                filter.is_some_and(|k| chain.has_kind(k)),
            ),
            Reach::Keyed { node, org, mask } => (
                grant.node == INSTANCE || Some(grant.node) == *node || Some(grant.node) == *org,
                filter.is_some_and(|k| mask & bit(k) != 0),
            ),
        };
        if !at_or_above {
            return false;
        }
        match filter {
            None => true,
            Some(only) => {
                has_kind
                    || target.filter.is_some_and(|f| f.always_below(only))
                    || target.kind.always_below(only)
            }
        }
    }

    /// Checks the action and its kind against the scope's kind.
    pub(crate) fn target(&self, action: &str, scope: &Scope) -> Result<Target, Reason> {
        let perm = self.policy.perm_id(action).ok_or(Reason::UnknownAction)?;
        let kind = self
            .policy
            .perm(perm)
            .map(|p| p.kind)
            .ok_or(Reason::UnknownAction)?;
        let scope_kind = scope.kind();
        let fits = scope_kind == kind || scope_kind.can_contain(kind);
        if !fits {
            return Err(Reason::WrongKind);
        }
        Ok(Target {
            perm,
            kind,
            filter: scope.is_glob().then_some(scope_kind),
            scope_kind,
        })
    }

    /// The ancestors of a request scope, or None when the scope is unknown
    /// (a program or batch that was never registered).
    pub(crate) fn chain(&self, scope: &Scope) -> Option<Chain> {
        let mut chain = Chain::new();
        chain.mask |= bit(scope.kind());
        let start = match scope {
            Scope::Instance => Some(INSTANCE),
            Scope::Course { key, org } | Scope::Library { key, org } => {
                self.node_id(key).or_else(|| self.org_node(org))
            }
            Scope::Program(_) | Scope::Batch(_) => {
                let id = self.node_id(&scope.canonical())?;
                if !self.node(id).known {
                    return None;
                }
                Some(id)
            }
            Scope::Org(org) => self.org_node(org),
            Scope::Enterprise(key) => self.node_id(key),
            Scope::CourseGlob(org) | Scope::LibraryGlob(org) => {
                chain.mask |= bit(Kind::Org);
                org.and_then(|org| self.org_node(org))
            }
        };
        chain.push(start.unwrap_or(INSTANCE));
        chain.mask |= bit(Kind::Instance);
        let mut i = 0;
        while let Some(id) = chain.get(i) {
            let node = self.node(id);
            chain.mask |= bit(node.kind);
            for parent in &node.parents {
                chain.push(*parent);
            }
            i += 1;
        }
        Some(chain)
    }
}

/// What a token says about its bearer beyond the index: platform flags and roles.
#[derive(Clone, Copy, Debug, Default)]
pub struct Claims<'a> {
    pub staff: bool,
    pub superuser: bool,
    pub grants: &'a [ExtraGrant],
}

/// A grant carried by a token for one request (`enterprise_admin:<uuid>` in a JWT `roles` claim).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraGrant {
    pub role: String,
    pub scope: String,
}

impl Index {
    /// An org-owned role grants only inside its org: an assignment of it held anywhere else
    /// (made before a rule existed, or reached by a later registration) grants nothing.
    pub(crate) fn within_role_org(&self, role: &RoleInfo, node: NodeId) -> bool {
        let Some(org) = role.def.org.as_deref() else {
            return true;
        };
        let Some(org_node) = self.org_node(org) else {
            return false;
        };
        // Scope trees are shallow (instance > org > course > batch, programs under orgs).
        let mut pending: smallvec::SmallVec<[NodeId; 8]> = smallvec::smallvec![node];
        while let Some(id) = pending.pop() {
            if id == org_node {
                return true;
            }
            pending.extend(self.node(id).parents.iter().copied());
        }
        false
    }

    /// `within_role_org` for a scope the index may not have interned (a token's grant).
    fn scope_within_role_org(&self, role: &RoleInfo, scope: &Scope) -> bool {
        let Some(org) = role.def.org.as_deref() else {
            return true;
        };
        match scope {
            Scope::Program(_) | Scope::Batch(_) => self
                .placed(scope)
                .is_some_and(|(node, _)| self.within_role_org(role, node)),
            _ => scope.org() == Some(org),
        }
    }

    fn extra_grant(&self, extra: &ExtraGrant) -> Option<Grant> {
        let role = self.policy.role_id(&extra.role)?;
        let scope = Scope::parse(&extra.scope).ok()?;
        // A node the index has never seen holds no subtree the request could be in, except
        // itself, which `check_claims` compares by key.
        let (node, filter) = self.placed(&scope)?;
        Grant::new(role, node, filter, false)
    }
}

/// Platform staff pass on courses and libraries (and their globs) for actions of that kind.
pub(crate) fn staff_bypass(target: &Target) -> bool {
    matches!(target.scope_kind, Kind::Course | Kind::Library) && target.scope_kind == target.kind
}
