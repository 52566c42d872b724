//! Provost's engine on its real default policy.

use provost_engine::{policy_changes, Assignment, Change, Index, Kind, PolicyDoc, Timestamp};

use crate::dataset::{user_name, Dataset, ROLES};
use crate::engines::Engine;
use crate::queries::{Lookup, Query};

/// Checks are asked at one fixed instant (no assignment in the dataset has a time window).
pub const AT: Timestamp = 1_800_000_000;

/// The dataset as Provost changes; built before the engine so its memory is not counted.
pub fn changes(ds: &Dataset) -> Vec<Change> {
    ds.grants
        .iter()
        .map(|g| Change::AssignmentAdd {
            assignment: Assignment::new(
                &user_name(g.user),
                ROLES[usize::from(g.role)],
                &g.place.key(),
            ),
        })
        .collect()
}

pub struct Provost {
    pub index: Index,
}

impl Provost {
    pub fn build(changes: &[Change]) -> Provost {
        let mut index = Index::new();
        index.apply(1, &policy_changes(&PolicyDoc::default_policy()));
        index.apply(2, changes);
        Provost { index }
    }

    /// A lookup's answer, sorted: scopes (and globs) for `Scopes`, subjects for `Who`.
    pub fn lookup(&self, lookup: &Lookup) -> Vec<String> {
        match lookup {
            Lookup::Scopes { subject, action } => {
                self.index.scopes(subject, action, None::<Kind>, AT)
            }
            Lookup::Who { action, scope } => self.index.who(action, scope, AT),
        }
    }
}

impl Engine for Provost {
    type Prepared = Query;

    fn prepare(&self, query: &Query) -> Query {
        query.clone()
    }

    fn allowed(&self, q: &Query) -> bool {
        self.index.allowed(&q.subject, &q.action, &q.scope, AT)
    }

    fn allowed_strings(&self, q: &Query) -> bool {
        self.allowed(q)
    }
}
