//! The two workloads every engine is run on: `standard` (`dataset`, `queries`: light users,
//! org-level grants, requests prepared before timing) and `heavy` (`heavy`: issue 17's heavy users
//! and globs, requests timed from their strings).

use crate::dataset::Dataset;
use crate::heavy;
use crate::queries::{self, Actions, Query};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Standard,
    Heavy,
}

impl Workload {
    pub const ALL: [Workload; 2] = [Workload::Standard, Workload::Heavy];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Standard => "standard",
            Workload::Heavy => "heavy",
        }
    }

    pub fn parse(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    pub fn dataset(self, size: usize) -> Dataset {
        match self {
            Workload::Standard => Dataset::generate(size),
            Workload::Heavy => heavy::generate(size),
        }
    }

    /// The workload's query mix over `ds`, from `seed`.
    pub fn queries(self, ds: &Dataset, actions: &Actions, count: usize, seed: u64) -> Vec<Query> {
        match self {
            Workload::Standard => queries::mixed(ds, actions, count, seed),
            Workload::Heavy => heavy::queries(ds, actions, count, seed),
        }
    }

    /// Whether each timed call starts from the request's strings (the engine's own request
    /// building is timed), rather than from a request prepared before timing.
    pub fn times_parsing(self) -> bool {
        self == Workload::Heavy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for w in Workload::ALL {
            assert_eq!(Workload::parse(w.name()), Some(w));
        }
        assert_eq!(Workload::parse("light"), None);
    }
}
