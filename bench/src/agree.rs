//! The engines must agree before they are timed: every answer is compared with Provost's, and
//! the first disagreement stops the run with the query that caused it.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engines::provost::Provost;
use crate::engines::Engine;
use crate::measure::Timing;
use crate::queries::{Lookup, Query};

/// How much agreement was shown.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Agreement {
    /// Checks compared with Provost (all of them, unless the time budget ran out first).
    pub checks: usize,
    /// Of those, how many were allowed.
    pub allowed: usize,
    /// Lookups compared with Provost.
    pub lookups: usize,
}

pub type Disagreement = String;

/// Asks `peer` and Provost each query, until done or `budget` is spent; also returns the time of
/// each of the peer's calls (for engines too slow to time apart from this), which includes
/// building the peer's request from the strings when `from_strings`.
pub fn checks<E: Engine>(
    name: &str,
    peer: &E,
    reference: &Provost,
    queries: &[Query],
    budget: Duration,
    from_strings: bool,
) -> Result<(Agreement, Vec<f64>), Disagreement> {
    let started = Instant::now();
    let mut agreement = Agreement::default();
    let mut each = Vec::new();
    for q in queries {
        let (theirs, ns) = if from_strings {
            let t = Instant::now();
            let theirs = peer.allowed_strings(q);
            (theirs, t.elapsed().as_nanos())
        } else {
            let prepared = peer.prepare(q);
            let t = Instant::now();
            let theirs = peer.allowed(&prepared);
            (theirs, t.elapsed().as_nanos())
        };
        each.push(ns as f64);
        let ours = reference.allowed(q);
        if theirs != ours {
            return Err(format!(
                "DISAGREEMENT on {q}: provost says {ours}, {name} says {theirs}"
            ));
        }
        agreement.checks += 1;
        agreement.allowed += usize::from(ours);
        if started.elapsed() > budget {
            break;
        }
    }
    Ok((agreement, each))
}

/// Compares `peer`'s answer to each lookup with Provost's, timing the peer's calls; stops when done
/// or `budget` is spent. Returns the number compared and the peer's timing.
pub fn lookups(
    name: &str,
    mut peer: impl FnMut(&Lookup) -> Vec<String>,
    reference: &Provost,
    lookups: &[Lookup],
    budget: Duration,
) -> Result<(usize, Option<Timing>), Disagreement> {
    let started = Instant::now();
    let mut each = Vec::new();
    for lookup in lookups {
        let t = Instant::now();
        let theirs = peer(lookup);
        each.push(t.elapsed().as_nanos() as f64);
        let ours = reference.lookup(lookup);
        if theirs != ours {
            return Err(format!(
                "DISAGREEMENT on {lookup}: provost says {ours:?}, {name} says {theirs:?}"
            ));
        }
        if started.elapsed() > budget {
            break;
        }
    }
    Ok((each.len(), Timing::of_calls(each)))
}
