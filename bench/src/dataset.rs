//! The generated platform: orgs with courses and libraries, and users holding roles with the skew
//! of a real one. Seeded (ChaCha8), so every run and every engine sees the same assignments.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The seed of every dataset; queries use their own seeds.
pub const SEED: u64 = 0x5052_4f56_4f53_5401;

/// Roles of the default policy the dataset hands out: course authoring, then content libraries.
pub const ROLES: [&str; 8] = [
    "course_auditor",
    "course_editor",
    "course_staff",
    "course_admin",
    "library_user",
    "library_contributor",
    "library_author",
    "library_admin",
];

/// Index into [`ROLES`].
pub type RoleId = u8;

/// Whether a role of [`ROLES`] grants course permissions (else library ones).
pub fn is_course_role(role: RoleId) -> bool {
    role < 4
}

/// Where an assignment is held, by org and course/library number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    Course(u32, u32),
    Library(u32, u32),
    Org(u32),
    CourseGlob(u32),
    LibraryGlob(u32),
    /// Every course of the platform (`course-v1:*`), a platform glob.
    AllCourses,
    /// Every library of the platform (`lib:*`).
    AllLibraries,
    Instance,
}

impl Place {
    /// The Provost scope key (DESIGN §2).
    pub fn key(self) -> String {
        match self {
            Place::Course(org, c) => course_key(org, c),
            Place::Library(org, l) => library_key(org, l),
            Place::Org(org) => format!("org:Org{org}"),
            Place::CourseGlob(org) => format!("course-v1:Org{org}+*"),
            Place::LibraryGlob(org) => format!("lib:Org{org}:*"),
            Place::AllCourses => "course-v1:*".to_owned(),
            Place::AllLibraries => "lib:*".to_owned(),
            Place::Instance => "*".to_owned(),
        }
    }
}

pub fn course_key(org: u32, course: u32) -> String {
    format!("course-v1:Org{org}+C{course}+2026T1")
}

pub fn library_key(org: u32, library: u32) -> String {
    format!("lib:Org{org}:lib{library}")
}

pub fn user_name(user: u32) -> String {
    format!("user{user}")
}

/// One assignment, compactly: engines turn it into their own form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Grant {
    pub user: u32,
    pub role: RoleId,
    pub place: Place,
}

/// How big the platform is for a number of assignments: more orgs as it grows, each with
/// 100 courses and 10 libraries (about 35 course roles per course at every size).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Shape {
    pub assignments: usize,
    pub orgs: u32,
    pub courses_per_org: u32,
    pub libraries_per_org: u32,
}

impl Shape {
    pub fn for_size(assignments: usize) -> Shape {
        Shape {
            assignments,
            orgs: u32::try_from((assignments / 4000).max(5)).unwrap_or(u32::MAX),
            courses_per_org: 100,
            libraries_per_org: 10,
        }
    }

    pub fn courses(&self) -> u64 {
        u64::from(self.orgs) * u64::from(self.courses_per_org)
    }

    pub fn libraries(&self) -> u64 {
        u64::from(self.orgs) * u64::from(self.libraries_per_org)
    }
}

pub struct Dataset {
    pub shape: Shape,
    /// Users are `user0` .. `user{users-1}`; every one holds at least one role.
    pub users: u32,
    pub grants: Vec<Grant>,
}

/// How many assignments are held where, for the report.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Census {
    pub users: u32,
    pub orgs: u32,
    pub courses: u64,
    pub libraries: u64,
    pub at_course: usize,
    pub at_library: usize,
    pub at_org: usize,
    /// At an org's glob (`course-v1:OrgN+*`, `lib:OrgN:*`).
    pub at_glob: usize,
    /// At a platform glob (`course-v1:*`, `lib:*`).
    #[serde(default)]
    pub at_platform_glob: usize,
    pub at_instance: usize,
    /// The most assignments one user holds.
    pub max_per_user: usize,
}

impl Dataset {
    /// Exactly `assignments` distinct assignments, the same ones for the same size on every run.
    pub fn generate(assignments: usize) -> Dataset {
        let shape = Shape::for_size(assignments);
        let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ assignments as u64);
        // "A few" platform admins: 3 at small sizes, one per 200 k assignments past 600 k.
        let admins = (assignments / 200_000).max(3) as f64 / assignments.max(1) as f64;
        Dataset::of_users(
            assignments,
            shape,
            &mut rng,
            roles_of_one_user,
            |rng, shape, home| draw(rng, shape, home, admins),
        )
    }

    /// Users one after another until `assignments` in all: each holds `wanted(rng)` distinct
    /// assignments (fewer for the last), drawn by `draw` around a home org; retries of a
    /// duplicate are rare and bounded. Both workloads are made this way.
    pub(crate) fn of_users(
        assignments: usize,
        shape: Shape,
        rng: &mut ChaCha8Rng,
        mut wanted: impl FnMut(&mut ChaCha8Rng) -> usize,
        mut draw: impl FnMut(&mut ChaCha8Rng, &Shape, u32) -> (RoleId, Place),
    ) -> Dataset {
        let mut grants = Vec::with_capacity(assignments);
        let mut user = 0u32;
        let mut mine: Vec<Grant> = Vec::new();
        while grants.len() < assignments {
            let wanted = wanted(rng).min(assignments - grants.len());
            let home = skewed(rng, shape.orgs);
            mine.clear();
            for _ in 0..wanted * 8 {
                if mine.len() == wanted {
                    break;
                }
                let (role, place) = draw(rng, &shape, home);
                let grant = Grant { user, role, place };
                if !mine.contains(&grant) {
                    mine.push(grant);
                }
            }
            grants.extend_from_slice(&mine);
            user += 1;
        }
        Dataset {
            shape,
            users: user,
            grants,
        }
    }

    pub fn census(&self) -> Census {
        let mut census = Census {
            users: self.users,
            orgs: self.shape.orgs,
            courses: self.shape.courses(),
            libraries: self.shape.libraries(),
            ..Census::default()
        };
        let mut run = 0usize;
        let mut last = u32::MAX;
        for grant in &self.grants {
            match grant.place {
                Place::Course(..) => census.at_course += 1,
                Place::Library(..) => census.at_library += 1,
                Place::Org(_) => census.at_org += 1,
                Place::CourseGlob(_) | Place::LibraryGlob(_) => census.at_glob += 1,
                Place::AllCourses | Place::AllLibraries => census.at_platform_glob += 1,
                Place::Instance => census.at_instance += 1,
            }
            // Grants come grouped by user.
            run = if grant.user == last { run + 1 } else { 1 };
            last = grant.user;
            census.max_per_user = census.max_per_user.max(run);
        }
        census
    }
}

/// Most users hold one role, a fifth a few, a tenth many (course teams), one in a hundred
/// hundreds (an org's support staff): 3.5 on average.
fn roles_of_one_user(rng: &mut ChaCha8Rng) -> usize {
    match rng.gen_range(0..100) {
        0..70 => 1,
        70..90 => rng.gen_range(2..=4),
        90..99 => rng.gen_range(5..=20),
        _ => rng.gen_range(20..=200),
    }
}

/// An org, big ones more often (density falls like 1/sqrt of rank).
pub fn skewed(rng: &mut ChaCha8Rng, orgs: u32) -> u32 {
    let r: f64 = rng.gen();
    ((f64::from(orgs) * r * r) as u32).min(orgs - 1)
}

fn pick(rng: &mut ChaCha8Rng, weighted: &[(RoleId, u32)]) -> RoleId {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen_range(0..total);
    for (role, weight) in weighted {
        if roll < *weight {
            return *role;
        }
        roll -= weight;
    }
    weighted[0].0
}

/// One role and where it is held: 88 % course roles at a course, 8 % library roles at a
/// library, 2.5 % staff at an org, 1.5 % globs, and the odd admin of everything.
fn draw(rng: &mut ChaCha8Rng, shape: &Shape, home: u32, admins: f64) -> (RoleId, Place) {
    let org = if rng.gen_bool(0.8) {
        home
    } else {
        skewed(rng, shape.orgs)
    };
    let roll: f64 = rng.gen();
    if roll < admins {
        return (pick(rng, &[(3, 1), (7, 1)]), Place::Instance);
    }
    if roll < 0.025 {
        return (
            pick(rng, &[(2, 6), (3, 2), (1, 1), (7, 1)]),
            Place::Org(org),
        );
    }
    if roll < 0.04 {
        return if rng.gen_bool(0.8) {
            (pick(rng, &[(2, 5), (1, 3), (0, 2)]), Place::CourseGlob(org))
        } else {
            (pick(rng, &[(4, 3), (6, 1)]), Place::LibraryGlob(org))
        };
    }
    if roll < 0.12 {
        let lib = rng.gen_range(0..shape.libraries_per_org);
        return (
            pick(rng, &[(4, 50), (5, 15), (6, 30), (7, 5)]),
            Place::Library(org, lib),
        );
    }
    let course = rng.gen_range(0..shape.courses_per_org);
    (
        pick(rng, &[(0, 30), (1, 25), (2, 35), (3, 10)]),
        Place::Course(org, course),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_same_dataset_and_exact_count() {
        let a = Dataset::generate(10_000);
        let b = Dataset::generate(10_000);
        assert_eq!(a.grants, b.grants);
        assert_eq!(a.grants.len(), 10_000);
        let census = a.census();
        assert!(census.at_instance >= 1, "{census:?}");
        assert!(census.at_org > 0 && census.at_glob > 0 && census.at_library > 0);
    }
}
