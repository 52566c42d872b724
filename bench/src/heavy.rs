//! The second workload (issue 17): heavier users and more globs than `dataset`, requests as
//! strings. About 10 assignments per user (3 % hold 20–100); 90 % at a concrete course (81 %) or
//! library (9 %), 9 % at an org's glob (`course-v1:OrgN+*`, `lib:OrgN:*`), 1 % at a platform glob
//! (`course-v1:*`, `lib:*`). Half the queries ask about a held assignment (at the course or
//! library, or one its glob reaches), half about anyone, anything, anywhere.
//!
//! It is a [`Dataset`] like the standard one, in the same [`Place`]s, so every engine encodes both
//! workloads one way.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dataset::{is_course_role, skewed, user_name, Dataset, Place, RoleId, Shape};
use crate::queries::{scope_in, Actions, Query};

pub const SEED: u64 = 0x4845_4156_5931_3701;

/// Whether a place holds course roles (else library ones); the heavy workload never grants at an
/// org or the instance.
fn holds_courses(place: Place) -> bool {
    matches!(
        place,
        Place::Course(..) | Place::CourseGlob(_) | Place::AllCourses
    )
}

/// Exactly `assignments` distinct assignments, the same for the same size on every run.
pub fn generate(assignments: usize) -> Dataset {
    let shape = Shape::for_size(assignments);
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ assignments as u64);
    Dataset::of_users(assignments, shape, &mut rng, wanted, draw)
}

/// How many assignments one user holds: 3–13, or 20–100 for 3 % of users.
fn wanted(rng: &mut ChaCha8Rng) -> usize {
    if rng.gen_bool(0.03) {
        rng.gen_range(20..=100)
    } else {
        rng.gen_range(3..=13)
    }
}

/// One assignment of a user whose home org is `home`: 80 % there; 81 % at a course, 9 % at a
/// library, 9 % at an org's glob, 1 % at a platform glob.
fn draw(rng: &mut ChaCha8Rng, shape: &Shape, home: u32) -> (RoleId, Place) {
    let org = if rng.gen_bool(0.8) {
        home
    } else {
        skewed(rng, shape.orgs)
    };
    let roll: f64 = rng.gen();
    let place = if roll < 0.81 {
        Place::Course(org, rng.gen_range(0..shape.courses_per_org))
    } else if roll < 0.90 {
        Place::Library(org, rng.gen_range(0..shape.libraries_per_org))
    } else if roll < 0.99 {
        if rng.gen_bool(0.8) {
            Place::CourseGlob(org)
        } else {
            Place::LibraryGlob(org)
        }
    } else if rng.gen_bool(0.8) {
        Place::AllCourses
    } else {
        Place::AllLibraries
    };
    let role = if holds_courses(place) {
        rng.gen_range(0..4)
    } else {
        rng.gen_range(4..8)
    };
    (role, place)
}

/// `count` queries about `ds` (made by [`generate`]), alternating one at a held assignment and
/// one at random.
pub fn queries(ds: &Dataset, actions: &Actions, count: usize, seed: u64) -> Vec<Query> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            if i % 2 == 0 {
                let g = ds.grants[rng.gen_range(0..ds.grants.len())];
                let course = is_course_role(g.role);
                let scope = match g.place {
                    Place::Course(..) | Place::Library(..) => g.place.key(),
                    Place::CourseGlob(o) | Place::LibraryGlob(o) | Place::Org(o) => {
                        scope_in(&mut rng, ds, o, course)
                    }
                    Place::AllCourses | Place::AllLibraries | Place::Instance => {
                        let o = skewed(&mut rng, ds.shape.orgs);
                        scope_in(&mut rng, ds, o, course)
                    }
                };
                Query {
                    subject: user_name(g.user),
                    action: actions.pick(&mut rng, course),
                    scope,
                }
            } else {
                let users = ds.users + ds.users / 20 + 1;
                let course = rng.gen_bool(0.5);
                let action = actions.pick(&mut rng, course);
                let org = skewed(&mut rng, ds.shape.orgs);
                let same_kind = !rng.gen_bool(0.1);
                Query {
                    subject: user_name(rng.gen_range(0..users)),
                    action,
                    scope: scope_in(&mut rng, ds, org, course == same_kind),
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_the_issue_names() {
        let h = generate(100_000);
        assert_eq!(h.grants.len(), 100_000);
        let per_user = h.grants.len() as f64 / f64::from(h.users);
        assert!((8.0..12.0).contains(&per_user), "{per_user} per user");
        let census = h.census();
        let share = |n: usize| n as f64 / h.grants.len() as f64;
        let concrete = share(census.at_course + census.at_library);
        assert!((0.88..0.92).contains(&concrete), "{concrete}");
        assert!((0.08..0.10).contains(&share(census.at_glob)), "{census:?}");
        assert!(
            (0.005..0.015).contains(&share(census.at_platform_glob)),
            "{census:?}"
        );
        assert_eq!(census.at_org + census.at_instance, 0, "{census:?}");
    }

    #[test]
    fn roles_match_the_kind_of_their_place() {
        for g in generate(10_000).grants {
            assert_eq!(is_course_role(g.role), holds_courses(g.place), "{g:?}");
        }
    }
}
