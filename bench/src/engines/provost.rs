//! Provost's engine on its real default policy.

use provost_engine::{policy_changes, Assignment, Change, Index, Kind, PolicyDoc, Timestamp};

use crate::dataset::{user_name, Dataset, ROLES};
use crate::engines::Engine;
use crate::measure::Arrive;
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

/// Batch size of the server's `POST /api/v1/check/batch` as the bench sends it.
pub const BATCH: usize = 100;

/// Mean time per check when `queries` are asked in batches of [`BATCH`], read ahead as the
/// server's batch route reads them (`Index::read_ahead`), `rounds` times over. Each batch is first
/// copied into one reused buffer, outside the clock: a server has just read its batch off the
/// wire, so its strings are in cache (as `measure::per_call` does for single checks).
pub fn batched_ns(index: &Index, queries: &[Query], rounds: usize) -> f64 {
    let mut batch: Vec<Query> = queries.iter().take(BATCH).cloned().collect();
    let mut spent = std::time::Duration::ZERO;
    let mut allowed = 0usize;
    for _ in 0..rounds {
        for asked in queries.chunks(BATCH) {
            batch.truncate(asked.len());
            for (to, from) in batch.iter_mut().zip(asked) {
                to.arrive(from);
            }
            let t = std::time::Instant::now();
            for (_, q) in index.read_ahead(&batch, |q| (q.subject.as_str(), q.scope.as_str())) {
                allowed += usize::from(index.allowed(&q.subject, &q.action, &q.scope, AT));
            }
            spent += t.elapsed();
        }
    }
    std::hint::black_box(allowed);
    spent.as_nanos() as f64 / (rounds * queries.len()).max(1) as f64
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
