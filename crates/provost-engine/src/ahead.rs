//! Checks in a batch, read ahead. Past the processor's caches a check waits for memory a few
//! times in a row: the subject's and the scope's table slots, then the records they name, then a
//! heavy subject's grants. Asked one after another, a batch pays those waits once per check. Here,
//! while one check runs, the slots of the check `2 * AHEAD` places behind it, the records of the
//! one `AHEAD` behind and the grants of the one `AHEAD / 2` behind are already on their way, so
//! the waits of many checks overlap.

use crate::index::Index;
use crate::table::prefetch;

/// How many checks ahead the records are read (twice that, the slots that name them; half, the
/// grants they hold). Measured at 10 M assignments: 4 ahead saves a third of a check's time, 16
/// almost half, 32 no more than 16.
const AHEAD: usize = 16;
const RING: usize = 2 * AHEAD;

/// Read ahead only past this many subject records' worth of memory (64 MiB): below, the index
/// mostly sits in the caches and the reads ahead cost more than they save. Always under test.
const WORTH_IT: usize = if cfg!(test) {
    0
} else {
    (64 << 20) / std::mem::size_of::<crate::subject::Subject>()
};

/// The items of a batch in order, each with its position; see [`Index::read_ahead`].
pub struct ReadAhead<'a, T, F> {
    index: &'a Index,
    items: &'a [T],
    key: F,
    next: usize,
    /// Whether the index is large enough for reading ahead to pay.
    ahead: bool,
    /// The subject's and the scope's hashes of the items between the slot and the grant stages.
    hashes: [(u64, Option<u64>); RING],
}

impl Index {
    /// Walks `items` in order, yielding each with its position, and meanwhile starts reading
    /// what the checks of the items a few places on will read. `key` gives an item's subject
    /// and scope as its check will name them. Only the speed changes: every check is decided
    /// as it would be alone.
    pub fn read_ahead<'a, T, F>(&'a self, items: &'a [T], key: F) -> ReadAhead<'a, T, F>
    where
        F: Fn(&'a T) -> (&'a str, &'a str),
    {
        ReadAhead {
            index: self,
            items,
            key,
            next: 0,
            ahead: self.subjects.len() > WORTH_IT,
            hashes: [(0, None); RING],
        }
    }

    /// A course's or library's node is found by the scope's own text; a hint, not a parse (a
    /// glob gets a hash that finds nothing, and so only a wasted read).
    fn keyed_scope_hash(&self, scope: &str) -> Option<u64> {
        (scope.starts_with("course-v1:") || scope.starts_with("lib:"))
            .then(|| self.node_ids.hash(scope))
    }
}

impl<'a, T, F> ReadAhead<'a, T, F>
where
    F: Fn(&'a T) -> (&'a str, &'a str),
{
    /// Hashes item `at` and starts reading its table slots.
    fn slots(&mut self, at: usize) {
        let Some(item) = self.items.get(at) else {
            return;
        };
        let (subject, scope) = (self.key)(item);
        let index = self.index;
        let hashes = (index.subjects.hash(subject), index.keyed_scope_hash(scope));
        index.subjects.prefetch_slot(hashes.0);
        if let Some(scope) = hashes.1 {
            index.node_ids.prefetch(scope);
        }
        self.hashes[at % RING] = hashes;
    }

    /// Starts reading the records item `at`'s slots name.
    fn records(&self, at: usize) {
        if at >= self.items.len() {
            return;
        }
        let (subject, scope) = self.hashes[at % RING];
        let index = self.index;
        index.subjects.prefetch(subject);
        if let Some(node) = scope
            .and_then(|hash| index.node_ids.first_candidate(hash))
            .and_then(|id| index.nodes.get(id as usize))
        {
            prefetch(node);
        }
    }

    /// Starts reading item `at`'s grants, if its subject is heavy.
    fn grants(&self, at: usize) {
        if at < self.items.len() {
            self.index
                .subjects
                .prefetch_grants(self.hashes[at % RING].0);
        }
    }
}

impl<'a, T, F> Iterator for ReadAhead<'a, T, F>
where
    F: Fn(&'a T) -> (&'a str, &'a str),
{
    type Item = (usize, &'a T);

    fn next(&mut self) -> Option<Self::Item> {
        let i = self.next;
        let item = self.items.get(i)?;
        if self.ahead {
            if i == 0 {
                (0..2 * AHEAD).for_each(|at| self.slots(at));
                (0..AHEAD).for_each(|at| self.records(at));
                (0..AHEAD / 2).for_each(|at| self.grants(at));
            } else {
                self.slots(i + 2 * AHEAD - 1);
                self.records(i + AHEAD - 1);
                self.grants(i + AHEAD / 2 - 1);
            }
        }
        self.next += 1;
        Some((i, item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.items.len() - self.next.min(self.items.len());
        (left, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Assignment, Change, Engine, PolicyDoc};

    #[test]
    fn every_item_once_in_order_with_the_decision_it_has_alone() {
        let engine = Engine::with_policy(&PolicyDoc::default_policy());
        let grants: Vec<Change> = (0..40)
            .map(|i| Change::AssignmentAdd {
                assignment: Assignment::new(
                    &format!("u{i}"),
                    "course_staff",
                    &format!("course-v1:Org{}+C{i}+R", i % 3),
                ),
            })
            .collect();
        engine.apply(1, &grants);
        let index = engine.snapshot();
        let asked: Vec<(String, String)> = (0..150)
            .map(|i| {
                let scope = match i % 5 {
                    0 => format!("lib:Org{}:L{}", i % 3, i % 7),
                    1 => "course-v1:*".to_owned(),
                    _ => format!("course-v1:Org{}+C{}+R", i % 3, i % 41),
                };
                (format!("u{}", i % 45), scope)
            })
            .collect();
        for len in [0, 1, 2, 8, 15, 16, 17, 31, 32, 33, 47, 100, 150] {
            let batch = &asked[..len];
            let walked: Vec<(usize, bool)> = index
                .read_ahead(batch, |(s, c)| (s.as_str(), c.as_str()))
                .map(|(i, (s, c))| (i, index.allowed(s, "courses.view_course", c, 0)))
                .collect();
            let alone: Vec<(usize, bool)> = batch
                .iter()
                .enumerate()
                .map(|(i, (s, c))| (i, index.allowed(s, "courses.view_course", c, 0)))
                .collect();
            assert_eq!(walked, alone, "a batch of {len}");
        }
        assert!(
            asked
                .iter()
                .any(|(s, c)| index.allowed(s, "courses.view_course", c, 0)),
            "some of the batch is allowed, so the comparison means something"
        );
    }
}
