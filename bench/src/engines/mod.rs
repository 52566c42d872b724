//! The three engines behind one face: each is built from the dataset and answers prepared queries.

pub mod casbin;
pub mod cedar;
pub mod provost;

use std::collections::BTreeMap;

use provost_engine::{app_of, Kind, PolicyDoc};

use crate::dataset::ROLES;
use crate::queries::Query;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An engine answering `allowed`. Queries are prepared outside the timed loop, so each engine is
/// timed on its own decision only (Cedar's request building is left out).
pub trait Engine {
    type Prepared;
    fn prepare(&self, query: &Query) -> Self::Prepared;
    fn allowed(&self, prepared: &Self::Prepared) -> bool;
}

/// What the peers need of Provost's default policy, for the roles the dataset hands out:
/// each role's own permissions, the implications between permissions, and permission kinds.
pub struct PolicyFacts {
    /// Role name, its kind, and the course or library permissions it lists (before implication).
    pub roles: Vec<(String, Kind, Vec<String>)>,
    /// `(a, b)`: holding permission `a` implies `b`; course and library permissions only.
    pub implies: Vec<(String, String)>,
    /// Course and library permissions and their kind.
    pub kinds: BTreeMap<String, Kind>,
}

impl PolicyFacts {
    pub fn from_default() -> Result<PolicyFacts, BoxError> {
        let doc = PolicyDoc::default_policy();
        let kind_of = |perm: &str| doc.kind_of_app(app_of(perm));
        let mut kinds = BTreeMap::new();
        let mut implies = Vec::new();
        for perm in &doc.permissions {
            let Some(kind @ (Kind::Course | Kind::Library)) = kind_of(&perm.name) else {
                continue;
            };
            kinds.insert(perm.name.clone(), kind);
            for implied in &perm.implies {
                // The peers carry the kind on the granting permission; an implication across
                // kinds would grant on the wrong scopes there.
                if kind_of(implied) != Some(kind) {
                    return Err(
                        format!("`{}` implies `{implied}` of another kind", perm.name).into(),
                    );
                }
                implies.push((perm.name.clone(), implied.clone()));
            }
        }
        let mut roles = Vec::new();
        for name in ROLES {
            let role = doc
                .roles
                .iter()
                .find(|r| r.name == name)
                .ok_or_else(|| format!("the default policy has no role `{name}`"))?;
            // Permissions on other kinds (course staff may create batches) are granted on
            // scopes the queries never ask about.
            let perms: Vec<String> = role
                .permissions
                .iter()
                .filter(|p| kinds.contains_key(*p))
                .cloned()
                .collect();
            let kind = perms
                .first()
                .map(|p| kinds[p])
                .ok_or("a role without permissions")?;
            if perms.iter().any(|p| kinds[p] != kind) {
                return Err(format!("role `{name}` mixes course and library permissions").into());
            }
            roles.push((name.to_owned(), kind, perms));
        }
        Ok(PolicyFacts {
            roles,
            implies,
            kinds,
        })
    }
}
