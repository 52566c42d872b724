//! The three engines behind one face: each is built from the dataset and answers prepared queries.

pub mod casbin;
pub mod cedar;
pub mod provost;

use std::collections::BTreeMap;

use provost_engine::{app_of, Kind, PolicyDoc};

use crate::dataset::ROLES;
use crate::queries::Query;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An engine answering `allowed`. On the standard workload queries are prepared outside the timed
/// loop, so each engine is timed on its own decision only (Cedar's request building is left out);
/// on the heavy one the request arrives as strings and [`Engine::allowed_strings`] is timed.
pub trait Engine {
    type Prepared: crate::measure::Arrive;
    fn prepare(&self, query: &Query) -> Self::Prepared;
    fn allowed(&self, prepared: &Self::Prepared) -> bool;

    /// The decision from the request's strings, the engine's request building included. Engines
    /// that take strings as they are override it, so no copy is timed.
    fn allowed_strings(&self, query: &Query) -> bool {
        self.allowed(&self.prepare(query))
    }
}

/// What the peers need of Provost's default policy, for the roles the dataset hands out:
/// each role's own permissions, the implications between permissions, and permission kinds.
pub struct PolicyFacts {
    /// Role name, its kind, and the course or library permissions it lists (before implication).
    pub roles: Vec<(String, Kind, Vec<String>)>,
    /// `(a, b)`: holding permission `a` implies `b`; course and library permissions only.
    pub implies: Vec<(String, String)>,
    /// Course and library permissions and their kind.
    pub kinds: BTreeMap<String, Kind>,
}

impl PolicyFacts {
    pub fn from_default() -> Result<PolicyFacts, BoxError> {
        let doc = PolicyDoc::default_policy();
        let kind_of = |perm: &str| doc.kind_of_app(app_of(perm));
        let mut kinds = BTreeMap::new();
        let mut implies = Vec::new();
        for perm in &doc.permissions {
            let Some(kind @ (Kind::Course | Kind::Library)) = kind_of(&perm.name) else {
                continue;
            };
            kinds.insert(perm.name.clone(), kind);
            for implied in &perm.implies {
                // The peers carry the kind on the granting permission; an implication across
                // kinds would grant on the wrong scopes there.
                if kind_of(implied) != Some(kind) {
                    return Err(
                        format!("`{}` implies `{implied}` of another kind", perm.name).into(),
                    );
                }
                implies.push((perm.name.clone(), implied.clone()));
            }
        }
        let mut roles = Vec::new();
        for name in ROLES {
            let role = doc
                .roles
                .iter()
                .find(|r| r.name == name)
                .ok_or_else(|| format!("the default policy has no role `{name}`"))?;
            // Permissions on other kinds (course staff may create batches) are granted on
            // scopes the queries never ask about.
            let perms: Vec<String> = role
                .permissions
                .iter()
                .filter(|p| kinds.contains_key(*p))
                .cloned()
                .collect();
            let kind = perms
                .first()
                .map(|p| kinds[p])
                .ok_or("a role without permissions")?;
            if perms.iter().any(|p| kinds[p] != kind) {
                return Err(format!("role `{name}` mixes course and library permissions").into());
            }
            roles.push((name.to_owned(), kind, perms));
        }
        Ok(PolicyFacts {
            roles,
            implies,
            kinds,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::casbin::Casbin;
    use super::cedar::Cedar;
    use super::provost::{changes, Provost};
    use super::*;
    use crate::agree;
    use crate::dataset::{course_key, library_key, Dataset, Grant, Place, Shape};
    use crate::queries::Actions;

    /// One user per place the workloads grant at, the platform globs included.
    fn every_place() -> Dataset {
        let places = [
            (2, Place::AllCourses),
            (6, Place::AllLibraries),
            (1, Place::CourseGlob(1)),
            (4, Place::LibraryGlob(1)),
            (2, Place::Org(3)),
            (0, Place::Course(2, 3)),
            (5, Place::Library(2, 3)),
            (3, Place::Instance),
        ];
        Dataset {
            shape: Shape::for_size(places.len()),
            users: places.len() as u32,
            grants: places
                .iter()
                .enumerate()
                .map(|(user, &(role, place))| Grant {
                    user: user as u32,
                    role,
                    place,
                })
                .collect(),
        }
    }

    #[test]
    fn the_three_engines_agree_on_every_place_including_platform_globs() {
        let ds = every_place();
        let actions = Actions::from_policy(&PolicyDoc::default_policy());
        let scopes = [
            course_key(0, 0),
            course_key(1, 5),
            course_key(2, 3),
            course_key(3, 9),
            library_key(0, 0),
            library_key(1, 2),
            library_key(2, 3),
            library_key(3, 1),
        ];
        let mut queries = Vec::new();
        for user in 0..=ds.users {
            for scope in &scopes {
                for action in actions.course.iter().chain(&actions.library) {
                    queries.push(Query {
                        subject: crate::dataset::user_name(user),
                        action: action.clone(),
                        scope: scope.clone(),
                    });
                }
            }
        }
        let reference = Provost::build(&changes(&ds));
        let allowed = |user: u32, action: &str, scope: &str| {
            reference.allowed(&Query {
                subject: crate::dataset::user_name(user),
                action: action.to_owned(),
                scope: scope.to_owned(),
            })
        };
        // `course-v1:*` reaches every course and no library; `lib:*` the other way round.
        assert!(allowed(0, "courses.view_course", &course_key(3, 9)));
        assert!(!queries
            .iter()
            .filter(|q| q.subject == "user0" && q.scope.starts_with("lib:"))
            .any(|q| reference.allowed(q)));
        assert!(queries
            .iter()
            .filter(|q| q.subject == "user1" && q.scope.starts_with("lib:"))
            .any(|q| reference.allowed(q)));
        assert!(!queries
            .iter()
            .filter(|q| q.subject == "user1" && q.scope.starts_with("course-v1:"))
            .any(|q| reference.allowed(q)));

        let facts = || PolicyFacts::from_default().expect("default policy facts");
        let budget = Duration::from_secs(3600);
        let cedar = Cedar::build(&ds, &facts()).expect("cedar");
        let casbin = Casbin::build(&ds, facts()).expect("casbin");
        for from_strings in [false, true] {
            let (a, _) = agree::checks("cedar", &cedar, &reference, &queries, budget, from_strings)
                .expect("cedar agrees");
            assert_eq!(a.checks, queries.len());
            assert!(a.allowed > 0);
            let (b, _) = agree::checks(
                "casbin",
                &casbin,
                &reference,
                &queries,
                budget,
                from_strings,
            )
            .expect("casbin agrees");
            assert_eq!((b.checks, b.allowed), (a.checks, a.allowed));
        }
    }
}
