//! casbin-rs with the Open edX authz model (openedx-authz `engine/config/model.conf`): RBAC with
//! domains, `g` for user → role in a scope, `g2` for action implication, `keyMatch` on scopes.

use std::collections::HashSet;

use casbin::function_map::key_match;
use casbin::prelude::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use provost_engine::Kind;

use crate::dataset::{Dataset, Place, ROLES};
use crate::engines::{BoxError, Engine, PolicyFacts};
use crate::queries::{Lookup, Query};

/// openedx-authz's model, less its `custom_check(...) ||` prefix (a Python hook for platform
/// staff and superusers, whom the dataset does not have). Its effect is kept: allow unless a rule
/// denies, so every policy line is evaluated on every request.
pub const MODEL: &str = r#"
[request_definition]
r = sub, act, scope

[policy_definition]
p = sub, act, scope, eft

[role_definition]
g = _, _, _
g2 = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = (g(r.sub, p.sub, r.scope) || g(r.sub, p.sub, "*")) && keyMatch(r.scope, p.scope) && (r.act == p.act || g2(p.act, r.act))
"#;

/// The `keyMatch` pattern of every scope of a kind, as openedx-authz writes `lib^*`.
fn kind_pattern(kind: Kind) -> &'static str {
    if kind == Kind::Course {
        "course-v1:*"
    } else {
        "lib:*"
    }
}

/// The `g` domains an assignment is held in. Inheritance is spelled with `keyMatch` patterns, as
/// openedx-authz does: an org holds its courses and libraries (`course-v1:OrgN+*`, `lib:OrgN:*`),
/// a glob is its own pattern, the instance is `*`.
fn domains(place: Place) -> Vec<String> {
    match place {
        Place::Org(org) => vec![Place::CourseGlob(org).key(), Place::LibraryGlob(org).key()],
        other => vec![other.key()],
    }
}

pub struct Casbin {
    enforcer: Enforcer,
    facts: PolicyFacts,
}

impl Casbin {
    /// `p` lines per role and permission, `g2` per implication, `g` per assignment (deduplicated:
    /// an org grant and the same role on the org's course glob are one `g` line here).
    pub fn build(ds: &Dataset, facts: PolicyFacts) -> Result<Casbin, BoxError> {
        let mut p = Vec::new();
        for (role, kind, perms) in &facts.roles {
            for perm in perms {
                p.push(vec![
                    role.clone(),
                    perm.clone(),
                    kind_pattern(*kind).to_owned(),
                    "allow".to_owned(),
                ]);
            }
        }
        let g2: Vec<Vec<String>> = facts
            .implies
            .iter()
            .map(|(a, b)| vec![a.clone(), b.clone()])
            .collect();
        let mut seen = HashSet::new();
        let mut g = Vec::with_capacity(ds.grants.len());
        for grant in &ds.grants {
            for domain in domains(grant.place) {
                let line = vec![
                    crate::dataset::user_name(grant.user),
                    ROLES[usize::from(grant.role)].to_owned(),
                    domain,
                ];
                if seen.insert(line.clone()) {
                    g.push(line);
                }
            }
        }
        drop(seen);
        let runtime = tokio::runtime::Builder::new_current_thread().build()?;
        let enforcer = runtime.block_on(async move {
            let model = DefaultModel::from_str(MODEL).await?;
            let mut e = Enforcer::new(model, MemoryAdapter::default()).await?;
            // The adapter would keep a second copy of every line.
            e.enable_auto_save(false);
            e.add_policies(p).await?;
            e.add_named_grouping_policies("g2", g2).await?;
            e.add_grouping_policies(g).await?;
            // Domain patterns: a `g` line in `course-v1:Org1+*` holds in every Org1 course. Set
            // after loading, as casbin-rs's own pattern-domain test does; set before, every link
            // would be copied into every matching domain as it is added.
            e.get_role_manager()
                .write()
                .matching_fn(None, Some(key_match));
            Ok::<_, casbin::Error>(e)
        })?;
        Ok(Casbin { enforcer, facts })
    }

    fn enforce(&self, subject: &str, action: &str, scope: &str) -> bool {
        self.enforcer
            .enforce((subject, action, scope))
            .expect("the model and requests are well-formed")
    }

    /// The same questions as Provost's lookups, with casbin's API as an application would use it
    /// (casbin-rs's `get_implicit_users_for_permission` asks `g` without a domain, so it finds
    /// nobody under a domain model):
    /// - scopes: the subject's `g` lines (`get_filtered_grouping_policy`), each domain kept when
    ///   `enforce` allows the action there (`*` asked as every scope of the action's kind);
    /// - who: every subject with a `g` line whose domain pattern matches the scope, kept when
    ///   `enforce` allows them.
    ///
    /// Answers are reduced like Provost's: a region inside another listed one is dropped.
    pub fn lookup(&self, lookup: &Lookup) -> Vec<String> {
        match lookup {
            Lookup::Scopes { subject, action } => {
                let Some(kind) = self.facts.kinds.get(action) else {
                    return Vec::new();
                };
                let mut found: Vec<String> = self
                    .enforcer
                    .get_filtered_grouping_policy(0, vec![subject.clone()])
                    .into_iter()
                    .filter_map(|line| line.get(2).cloned())
                    .map(|domain| {
                        if domain == "*" {
                            kind_pattern(*kind).to_owned()
                        } else {
                            domain
                        }
                    })
                    .filter(|domain| self.enforce(subject, action, domain))
                    .collect();
                found.sort_unstable();
                found.dedup();
                prune_contained(found)
            }
            Lookup::Who { action, scope } => {
                let lines = self
                    .enforcer
                    .get_model()
                    .get_model()
                    .get("g")
                    .and_then(|g| g.get("g"))
                    .map(|g| g.get_policy());
                let mut candidates: Vec<&str> = lines
                    .into_iter()
                    .flatten()
                    .filter(|line| line.len() == 3 && key_match(scope, &line[2]))
                    .map(|line| line[0].as_str())
                    .collect();
                candidates.sort_unstable();
                candidates.dedup();
                candidates
                    .into_iter()
                    .filter(|subject| self.enforce(subject, action, scope))
                    .map(str::to_owned)
                    .collect()
            }
        }
    }
}

/// Drops every key that another key's `*` pattern covers (`course-v1:Org1+C1+2026T1` under
/// `course-v1:Org1+*`, that under `course-v1:*`); `found` is sorted and distinct.
fn prune_contained(found: Vec<String>) -> Vec<String> {
    let covered = |inner: &String| {
        found.iter().any(|outer| {
            outer != inner
                && outer
                    .strip_suffix('*')
                    .is_some_and(|prefix| inner.starts_with(prefix))
        })
    };
    found.iter().filter(|k| !covered(k)).cloned().collect()
}

impl Engine for Casbin {
    type Prepared = Query;

    fn prepare(&self, query: &Query) -> Query {
        query.clone()
    }

    fn allowed(&self, q: &Query) -> bool {
        self.enforce(&q.subject, &q.action, &q.scope)
    }

    fn allowed_strings(&self, q: &Query) -> bool {
        self.allowed(q)
    }
}
