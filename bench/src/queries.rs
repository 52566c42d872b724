//! The query mix every engine answers: half about roles users really hold (reached directly,
//! through an org, a glob or the instance), half random users, actions and scopes.

use provost_engine::{app_of, Kind, PolicyDoc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::dataset::{course_key, is_course_role, library_key, skewed, user_name, Dataset, Place};

/// Seeds of the query sets (the dataset has its own).
pub const AGREEMENT_SEED: u64 = 11;
pub const TIMING_SEED: u64 = 12;
pub const LOOKUP_SEED: u64 = 13;

/// `allowed(subject, action, scope)`; the scope is always a course or a library.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Query {
    pub subject: String,
    pub action: String,
    pub scope: String,
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "allowed({}, {}, {})",
            self.subject, self.action, self.scope
        )
    }
}

/// The default policy's course and library permissions, the actions queries ask about.
pub struct Actions {
    pub course: Vec<String>,
    pub library: Vec<String>,
}

impl Actions {
    pub fn from_policy(doc: &PolicyDoc) -> Actions {
        let of_kind = |kind: Kind| -> Vec<String> {
            doc.permissions
                .iter()
                .filter(|p| doc.kind_of_app(app_of(&p.name)) == Some(kind))
                .map(|p| p.name.clone())
                .collect()
        };
        Actions {
            course: of_kind(Kind::Course),
            library: of_kind(Kind::Library),
        }
    }

    pub(crate) fn pick(&self, rng: &mut ChaCha8Rng, course: bool) -> String {
        let list = if course { &self.course } else { &self.library };
        list[rng.gen_range(0..list.len())].clone()
    }
}

/// A course or library of `org` (a course when `course`).
pub(crate) fn scope_in(rng: &mut ChaCha8Rng, ds: &Dataset, org: u32, course: bool) -> String {
    if course {
        course_key(org, rng.gen_range(0..ds.shape.courses_per_org))
    } else {
        library_key(org, rng.gen_range(0..ds.shape.libraries_per_org))
    }
}

/// `count` queries, alternating held and random, the same for the same dataset and seed.
pub fn mixed(ds: &Dataset, actions: &Actions, count: usize, seed: u64) -> Vec<Query> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            if i % 2 == 0 {
                held(&mut rng, ds, actions)
            } else {
                random(&mut rng, ds, actions)
            }
        })
        .collect()
}

/// About a role someone holds, at a scope it reaches (or, one time in ten, one of the other kind,
/// which it does not); the action is any of that scope's kind, so roles too weak are denied.
fn held(rng: &mut ChaCha8Rng, ds: &Dataset, actions: &Actions) -> Query {
    let grant = ds.grants[rng.gen_range(0..ds.grants.len())];
    let course = is_course_role(grant.role) != rng.gen_bool(0.1);
    let scope = match grant.place {
        Place::Course(org, c) if course => course_key(org, c),
        Place::Library(org, l) if !course => library_key(org, l),
        Place::Course(org, _)
        | Place::Library(org, _)
        | Place::Org(org)
        | Place::CourseGlob(org)
        | Place::LibraryGlob(org) => scope_in(rng, ds, org, course),
        Place::AllCourses | Place::AllLibraries | Place::Instance => {
            let org = skewed(rng, ds.shape.orgs);
            scope_in(rng, ds, org, course)
        }
    };
    Query {
        subject: user_name(grant.user),
        action: actions.pick(rng, course),
        scope,
    }
}

/// Anyone (one in twenty unknown), any course or library action, a scope of its kind nine times
/// in ten.
fn random(rng: &mut ChaCha8Rng, ds: &Dataset, actions: &Actions) -> Query {
    let users = ds.users + ds.users / 20 + 1;
    let course = rng.gen_bool(0.5);
    let action = actions.pick(rng, course);
    let org = skewed(rng, ds.shape.orgs);
    let same_kind = !rng.gen_bool(0.1);
    let scope = scope_in(rng, ds, org, course == same_kind);
    Query {
        subject: user_name(rng.gen_range(0..users)),
        action,
        scope,
    }
}

/// A lookup of where a subject may act (Provost `scopes`) or who may act somewhere (`who`).
#[derive(Clone, Debug, Serialize)]
pub enum Lookup {
    Scopes { subject: String, action: String },
    Who { action: String, scope: String },
}

impl std::fmt::Display for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lookup::Scopes { subject, action } => write!(f, "scopes({subject}, {action})"),
            Lookup::Who { action, scope } => write!(f, "who({action}, {scope})"),
        }
    }
}

/// `count` lookups of each kind, about held roles so most have answers.
pub fn lookups(ds: &Dataset, actions: &Actions, count: usize) -> (Vec<Lookup>, Vec<Lookup>) {
    let mut rng = ChaCha8Rng::seed_from_u64(LOOKUP_SEED);
    let mut scopes = Vec::with_capacity(count);
    let mut who = Vec::with_capacity(count);
    for _ in 0..count {
        let q = held(&mut rng, ds, actions);
        scopes.push(Lookup::Scopes {
            subject: q.subject,
            action: q.action.clone(),
        });
        who.push(Lookup::Who {
            action: q.action,
            scope: q.scope,
        });
    }
    (scopes, who)
}
