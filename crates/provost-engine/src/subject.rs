//! Subjects by dense id: each name interned once, with its flags and grants in one record, so a
//! check reads one table slot and one record (and, past `INLINE` grants, the grant array).

use compact_str::CompactString;
use smallvec::SmallVec;

use crate::index::{Grant, NodeId};
use crate::model::User;
use crate::shard::ChunkedVec;
use crate::table::{prefetch, IdTable};

pub(crate) type SubjectId = u32;
pub(crate) type Name = CompactString;

/// Grants a subject record holds inline: ten fill its two cache lines, and cover most users of
/// a learning platform (a handful of courses each), so their check reads no other memory.
pub(crate) const INLINE: usize = 10;

/// A subject's name, flags and grants; names up to 24 bytes and up to `INLINE` grants live
/// inline, in two cache lines that the processor fetches together (128-byte aligned).
/// Grants are sorted (by node, then role), so heavy subjects are searched, not scanned.
#[derive(Clone, Debug, Default)]
#[repr(align(128))]
pub(crate) struct Subject {
    pub name: Name,
    pub user: Option<Box<User>>,
    pub grants: SmallVec<[Grant; INLINE]>,
    pub staff: bool,
    pub superuser: bool,
    /// False once retired (or left with nothing): the id is then free of meaning.
    pub live: bool,
}

const _: () = assert!(std::mem::size_of::<Subject>() == 128);

/// Past this many grants, a check binary-searches the ancestors instead of scanning.
pub(crate) const SCAN: usize = 16;

const GRANTS_PER_LINE: usize = 64 / std::mem::size_of::<Grant>();
const PREFETCH_LINES: usize = 16;

impl Subject {
    /// The grants held at `node` (any role, any filter).
    pub fn grants_at(&self, node: NodeId) -> &[Grant] {
        let grants = self.grants.as_slice();
        let start = grants.partition_point(|g| g.node < node);
        let len = grants[start..].partition_point(|g| g.node == node);
        &grants[start..start + len]
    }

    /// The grants held at any of `nodes` (each listed once), in no particular order.
    pub fn grants_among<'a>(&'a self, nodes: &'a [NodeId]) -> impl Iterator<Item = &'a Grant> + 'a {
        let scan = self.grants.len() <= SCAN;
        let all = scan.then(|| self.grants.iter().filter(|g| nodes.contains(&g.node)));
        let searched = (!scan).then(|| nodes.iter().flat_map(|n| self.grants_at(*n)));
        all.into_iter()
            .flatten()
            .chain(searched.into_iter().flatten())
    }

    /// Starts reading a heavy subject's grant array, every line of it side by side, so that
    /// searching it afterwards waits for memory once instead of once per step (up to
    /// `PREFETCH_LINES` lines: 128 grants).
    #[inline]
    pub fn prefetch_grants(&self) {
        if self.grants.spilled() {
            for line in self.grants.chunks(GRANTS_PER_LINE).take(PREFETCH_LINES) {
                prefetch(&line[0]);
            }
        }
    }

    /// Adds or replaces (same node, role and filter) a grant; true when it was new.
    pub fn put(&mut self, grant: Grant) -> bool {
        match self
            .grants
            .binary_search_by(|g| g.place().cmp(&grant.place()))
        {
            Ok(i) => {
                self.grants[i] = grant;
                false
            }
            Err(i) => {
                self.grants.insert(i, grant);
                true
            }
        }
    }

    /// Removes the grant at this place; the removed grant, if there was one.
    pub fn take(&mut self, place: u64) -> Option<Grant> {
        let i = self
            .grants
            .binary_search_by(|g| g.place().cmp(&place))
            .ok()?;
        Some(self.grants.remove(i))
    }
}

#[derive(Clone, Default)]
pub(crate) struct Subjects {
    ids: IdTable,
    records: ChunkedVec<Subject>,
}

impl Subjects {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn id(&self, name: &str) -> Option<SubjectId> {
        self.id_hashed(name, self.ids.hash(name))
    }

    fn id_hashed(&self, name: &str, hash: u64) -> Option<SubjectId> {
        self.ids.find(hash, |id| self.by_id(id).name == name)
    }

    #[inline]
    pub fn get(&self, name: &str) -> Option<(SubjectId, &Subject)> {
        self.get_hashed(name, self.ids.hash(name))
    }

    /// `get` with the name's hash from `hash`, after `prefetch`.
    #[inline]
    pub fn get_hashed(&self, name: &str, hash: u64) -> Option<(SubjectId, &Subject)> {
        let id = self.id_hashed(name, hash)?;
        Some((id, self.by_id(id)))
    }

    pub fn hash(&self, name: &str) -> u64 {
        self.ids.hash(name)
    }

    /// Starts reading the table slot `get_hashed(_, hash)` starts with.
    #[inline]
    pub fn prefetch_slot(&self, hash: u64) {
        self.ids.prefetch(hash);
    }

    /// Starts reading what `get_hashed(_, hash)` will read: its table slot and, once that has
    /// arrived, the record it most likely names; a check meanwhile places its scope.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        if let Some(record) = self.likely(hash) {
            prefetch(record);
        }
    }

    /// Starts reading the grant array of the record `prefetch(hash)` fetched (which has arrived
    /// by now), if the subject is heavy.
    #[inline]
    pub fn prefetch_grants(&self, hash: u64) {
        if let Some(record) = self.likely(hash) {
            record.prefetch_grants();
        }
    }

    /// The record the first id under `hash` names, its name unconfirmed: a hint for prefetching.
    #[inline]
    fn likely(&self, hash: u64) -> Option<&Subject> {
        let id = self.ids.first_candidate(hash)?;
        self.records.get(id as usize)
    }

    pub fn by_id(&self, id: SubjectId) -> &Subject {
        self.records
            .get(id as usize)
            .expect("subject ids come from this index")
    }

    pub fn by_id_mut(&mut self, id: SubjectId) -> &mut Subject {
        self.records
            .get_mut(id as usize)
            .expect("subject ids come from this index")
    }

    /// The subject's id, interning the name on first sight.
    pub fn intern(&mut self, name: &str) -> SubjectId {
        if let Some(id) = self.id(name) {
            return id;
        }
        let id = self.records.push(Subject {
            name: name.into(),
            live: true,
            ..Subject::default()
        }) as SubjectId;
        self.ids.insert(self.ids.hash(name), id);
        id
    }

    /// Forgets a subject: its name no longer finds it and its record is emptied.
    pub fn remove(&mut self, id: SubjectId) {
        let hash = self.ids.hash(&self.by_id(id).name);
        self.ids.remove(hash, id);
        *self.by_id_mut(id) = Subject::default();
    }

    pub fn iter(&self) -> impl Iterator<Item = (SubjectId, &Subject)> {
        (0..self.records.len())
            .filter_map(|i| Some((i as SubjectId, self.records.get(i)?)))
            .filter(|(_, s)| s.live)
    }
}
