//! The second workload (issue 17): heavier users and more globs than `dataset`, requests as
//! strings. About 10 assignments per user (3 % hold 20–100); 90 % at a concrete course (81 %) or
//! library (9 %), 9 % at an org's glob (`course-v1:OrgN+*`, `lib:OrgN:*`), 1 % at a platform glob
//! (`course-v1:*`, `lib:*`). Half the queries ask about a held assignment (at the course or
//! library, or one its glob reaches), half about anyone, anything, anywhere.

use provost_engine::{Assignment, Change};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dataset::{course_key, library_key, skewed, user_name, Shape, ROLES};
use crate::queries::{Actions, Query};

pub const SEED: u64 = 0x4845_4156_5931_3701;

/// Where a heavy-workload assignment is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    Course(u32, u32),
    Library(u32, u32),
    OrgCourses(u32),
    OrgLibraries(u32),
    AllCourses,
    AllLibraries,
}

impl Where {
    pub fn key(self) -> String {
        match self {
            Where::Course(o, c) => course_key(o, c),
            Where::Library(o, l) => library_key(o, l),
            Where::OrgCourses(o) => format!("course-v1:Org{o}+*"),
            Where::OrgLibraries(o) => format!("lib:Org{o}:*"),
            Where::AllCourses => "course-v1:*".to_owned(),
            Where::AllLibraries => "lib:*".to_owned(),
        }
    }
    fn course(self) -> bool {
        matches!(
            self,
            Where::Course(..) | Where::OrgCourses(_) | Where::AllCourses
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeavyGrant {
    pub user: u32,
    pub role: u8,
    pub at: Where,
}

pub struct Heavy {
    pub shape: Shape,
    pub users: u32,
    pub grants: Vec<HeavyGrant>,
}

impl Heavy {
    /// Exactly `assignments` distinct assignments, the same for the same size on every run.
    pub fn generate(assignments: usize) -> Heavy {
        let shape = Shape::for_size(assignments);
        let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ assignments as u64);
        let mut grants = Vec::with_capacity(assignments);
        let mut mine: Vec<HeavyGrant> = Vec::new();
        let mut user = 0u32;
        while grants.len() < assignments {
            let wanted = if rng.gen_bool(0.03) {
                rng.gen_range(20..=100)
            } else {
                rng.gen_range(3..=13)
            }
            .min(assignments - grants.len());
            let home = skewed(&mut rng, shape.orgs);
            mine.clear();
            for _ in 0..wanted * 8 {
                if mine.len() == wanted {
                    break;
                }
                let org = if rng.gen_bool(0.8) {
                    home
                } else {
                    skewed(&mut rng, shape.orgs)
                };
                let roll: f64 = rng.gen();
                let at = if roll < 0.81 {
                    Where::Course(org, rng.gen_range(0..shape.courses_per_org))
                } else if roll < 0.90 {
                    Where::Library(org, rng.gen_range(0..shape.libraries_per_org))
                } else if roll < 0.99 {
                    if rng.gen_bool(0.8) {
                        Where::OrgCourses(org)
                    } else {
                        Where::OrgLibraries(org)
                    }
                } else if rng.gen_bool(0.8) {
                    Where::AllCourses
                } else {
                    Where::AllLibraries
                };
                let role = if at.course() {
                    rng.gen_range(0..4)
                } else {
                    rng.gen_range(4..8)
                };
                let grant = HeavyGrant { user, role, at };
                if !mine.iter().any(|g| g.role == role && g.at == at) {
                    mine.push(grant);
                }
            }
            grants.extend_from_slice(&mine);
            user += 1;
        }
        Heavy {
            shape,
            users: user,
            grants,
        }
    }

    pub fn changes(&self) -> Vec<Change> {
        self.grants
            .iter()
            .map(|g| Change::AssignmentAdd {
                assignment: Assignment::new(
                    &user_name(g.user),
                    ROLES[usize::from(g.role)],
                    &g.at.key(),
                ),
            })
            .collect()
    }

    fn scope_in(&self, rng: &mut ChaCha8Rng, org: u32, course: bool) -> String {
        if course {
            course_key(org, rng.gen_range(0..self.shape.courses_per_org))
        } else {
            library_key(org, rng.gen_range(0..self.shape.libraries_per_org))
        }
    }

    /// `count` queries, alternating one at a held assignment and one at random.
    pub fn queries(&self, actions: &Actions, count: usize, seed: u64) -> Vec<Query> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pick = |rng: &mut ChaCha8Rng, course: bool| {
            let list = if course {
                &actions.course
            } else {
                &actions.library
            };
            list[rng.gen_range(0..list.len())].clone()
        };
        (0..count)
            .map(|i| {
                if i % 2 == 0 {
                    let g = self.grants[rng.gen_range(0..self.grants.len())];
                    let course = g.at.course();
                    let scope = match g.at {
                        Where::Course(..) | Where::Library(..) => g.at.key(),
                        Where::OrgCourses(o) | Where::OrgLibraries(o) => {
                            self.scope_in(&mut rng, o, course)
                        }
                        Where::AllCourses | Where::AllLibraries => {
                            let o = skewed(&mut rng, self.shape.orgs);
                            self.scope_in(&mut rng, o, course)
                        }
                    };
                    Query {
                        subject: user_name(g.user),
                        action: pick(&mut rng, course),
                        scope,
                    }
                } else {
                    let users = self.users + self.users / 20 + 1;
                    let course = rng.gen_bool(0.5);
                    let action = pick(&mut rng, course);
                    let org = skewed(&mut rng, self.shape.orgs);
                    let same_kind = !rng.gen_bool(0.1);
                    Query {
                        subject: user_name(rng.gen_range(0..users)),
                        action,
                        scope: self.scope_in(&mut rng, org, course == same_kind),
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_the_issue_names() {
        let h = Heavy::generate(100_000);
        assert_eq!(h.grants.len(), 100_000);
        let per_user = h.grants.len() as f64 / f64::from(h.users);
        assert!((8.0..12.0).contains(&per_user), "{per_user} per user");
        let share = |f: fn(Where) -> bool| {
            h.grants.iter().filter(|g| f(g.at)).count() as f64 / h.grants.len() as f64
        };
        let concrete = share(|w| matches!(w, Where::Course(..) | Where::Library(..)));
        let org_globs = share(|w| matches!(w, Where::OrgCourses(_) | Where::OrgLibraries(_)));
        let platform = share(|w| matches!(w, Where::AllCourses | Where::AllLibraries));
        assert!((0.88..0.92).contains(&concrete), "{concrete}");
        assert!((0.08..0.10).contains(&org_globs), "{org_globs}");
        assert!((0.005..0.015).contains(&platform), "{platform}");
    }
}
