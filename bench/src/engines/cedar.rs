//! cedar-policy with scopes as entities in a hierarchy and one policy per role.
//!
//! Entities: `Instance::"*"` ← `Org::"org:OrgN"` ← `CourseGlob::"course-v1:OrgN+*"` ← each
//! `Course`, and likewise `LibraryGlob` ← each `Library`; the platform globs
//! `AllCourses::"course-v1:*"` and `AllLibraries::"lib:*"` (under the instance) are the other parent
//! of every org's course and library glob. A user's attribute named after a role is
//! the set of scope entities where they hold it, so `resource in principal.course_staff` walks the
//! hierarchy (inheritance from org, glob and instance) with a fixed policy set of one `permit` per
//! role. Actions are grouped: a permission's parents are the permissions implying it and the
//! `Action::"role:R"` groups of the roles listing it, so `action in Action::"role:R"` is the
//! role's closure.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression,
};
use provost_engine::Kind;

use crate::dataset::{course_key, library_key, user_name, Dataset, Place, ROLES};
use crate::engines::{BoxError, Engine, PolicyFacts};
use crate::queries::Query;

struct Types {
    user: EntityTypeName,
    course: EntityTypeName,
    library: EntityTypeName,
    course_glob: EntityTypeName,
    library_glob: EntityTypeName,
    all_courses: EntityTypeName,
    all_libraries: EntityTypeName,
    org: EntityTypeName,
    instance: EntityTypeName,
    action: EntityTypeName,
}

impl Types {
    fn new() -> Result<Types, BoxError> {
        let t = |name: &str| EntityTypeName::from_str(name).map_err(Box::new);
        Ok(Types {
            user: t("User")?,
            course: t("Course")?,
            library: t("Library")?,
            course_glob: t("CourseGlob")?,
            library_glob: t("LibraryGlob")?,
            all_courses: t("AllCourses")?,
            all_libraries: t("AllLibraries")?,
            org: t("Org")?,
            instance: t("Instance")?,
            action: t("Action")?,
        })
    }

    fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
    }

    fn place(&self, place: Place) -> EntityUid {
        let ty = match place {
            Place::Course(..) => &self.course,
            Place::Library(..) => &self.library,
            Place::Org(_) => &self.org,
            Place::CourseGlob(_) => &self.course_glob,
            Place::LibraryGlob(_) => &self.library_glob,
            Place::AllCourses => &self.all_courses,
            Place::AllLibraries => &self.all_libraries,
            Place::Instance => &self.instance,
        };
        Types::uid(ty, &place.key())
    }
}

pub struct Cedar {
    types: Types,
    policies: PolicySet,
    entities: Entities,
    authorizer: Authorizer,
}

fn role_group(role: &str) -> String {
    format!("role:{role}")
}

/// One `permit` per role, on resources of the role's kind.
fn policy_text(facts: &PolicyFacts) -> String {
    let mut text = String::new();
    for (role, kind, _) in &facts.roles {
        let ty = if *kind == Kind::Course {
            "Course"
        } else {
            "Library"
        };
        text.push_str(&format!(
            "permit (principal, action in Action::\"{group}\", resource is {ty})\n  \
             when {{ principal has {role} && resource in principal.{role} }};\n",
            group = role_group(role),
        ));
    }
    text
}

impl Cedar {
    pub fn build(ds: &Dataset, facts: &PolicyFacts) -> Result<Cedar, BoxError> {
        let types = Types::new()?;
        let policies = PolicySet::from_str(&policy_text(facts))?;
        let mut entities: Vec<Entity> = Vec::new();

        // Actions: permissions under the permissions implying them and the roles listing them.
        let mut parents: HashMap<&str, HashSet<EntityUid>> = HashMap::new();
        for (a, b) in &facts.implies {
            parents
                .entry(b.as_str())
                .or_default()
                .insert(Types::uid(&types.action, a));
        }
        for (role, _, perms) in &facts.roles {
            let group = Types::uid(&types.action, &role_group(role));
            entities.push(Entity::new_no_attrs(group.clone(), HashSet::new()));
            for perm in perms {
                parents
                    .entry(perm.as_str())
                    .or_default()
                    .insert(group.clone());
            }
        }
        for perm in facts.kinds.keys() {
            let up = parents.remove(perm.as_str()).unwrap_or_default();
            entities.push(Entity::new_no_attrs(Types::uid(&types.action, perm), up));
        }

        // Scopes: every course and library of the platform, under their glob, org and instance.
        let instance = types.place(Place::Instance);
        entities.push(Entity::new_no_attrs(instance.clone(), HashSet::new()));
        let all_courses = types.place(Place::AllCourses);
        let all_libraries = types.place(Place::AllLibraries);
        for platform_glob in [&all_courses, &all_libraries] {
            entities.push(Entity::new_no_attrs(
                platform_glob.clone(),
                HashSet::from([instance.clone()]),
            ));
        }
        for org in 0..ds.shape.orgs {
            let org_uid = types.place(Place::Org(org));
            let course_glob = types.place(Place::CourseGlob(org));
            let library_glob = types.place(Place::LibraryGlob(org));
            entities.push(Entity::new_no_attrs(
                org_uid.clone(),
                HashSet::from([instance.clone()]),
            ));
            entities.push(Entity::new_no_attrs(
                course_glob.clone(),
                HashSet::from([org_uid.clone(), all_courses.clone()]),
            ));
            entities.push(Entity::new_no_attrs(
                library_glob.clone(),
                HashSet::from([org_uid, all_libraries.clone()]),
            ));
            for c in 0..ds.shape.courses_per_org {
                let uid = Types::uid(&types.course, &course_key(org, c));
                entities.push(Entity::new_no_attrs(
                    uid,
                    HashSet::from([course_glob.clone()]),
                ));
            }
            for l in 0..ds.shape.libraries_per_org {
                let uid = Types::uid(&types.library, &library_key(org, l));
                entities.push(Entity::new_no_attrs(
                    uid,
                    HashSet::from([library_glob.clone()]),
                ));
            }
        }

        // Users: one attribute per role they hold, the set of scopes where they hold it.
        for mine in ds.grants.chunk_by(|a, b| a.user == b.user) {
            let mut by_role: HashMap<&str, Vec<RestrictedExpression>> = HashMap::new();
            for grant in mine {
                by_role
                    .entry(ROLES[usize::from(grant.role)])
                    .or_default()
                    .push(RestrictedExpression::new_entity_uid(
                        types.place(grant.place),
                    ));
            }
            let attrs: HashMap<String, RestrictedExpression> = by_role
                .into_iter()
                .map(|(role, scopes)| (role.to_owned(), RestrictedExpression::new_set(scopes)))
                .collect();
            let uid = Types::uid(&types.user, &user_name(mine[0].user));
            entities.push(Entity::new(uid, attrs, HashSet::new())?);
        }
        let entities = Entities::from_entities(entities, None)?;
        Ok(Cedar {
            types,
            policies,
            entities,
            authorizer: Authorizer::new(),
        })
    }
}

/// Cedar's request holds its entity ids behind `Arc`s: a clone is what arriving costs it.
impl crate::measure::Arrive for Request {
    fn arrive(&mut self, from: &Self) {
        *self = from.clone();
    }
}

impl Engine for Cedar {
    type Prepared = Request;

    fn prepare(&self, q: &Query) -> Request {
        let resource_type = if q.scope.starts_with("course-v1:") {
            &self.types.course
        } else {
            &self.types.library
        };
        Request::new(
            Types::uid(&self.types.user, &q.subject),
            Types::uid(&self.types.action, &q.action),
            Types::uid(resource_type, &q.scope),
            Context::empty(),
            None,
        )
        .expect("a request without a schema is always valid")
    }

    fn allowed(&self, request: &Request) -> bool {
        self.authorizer
            .is_authorized(request, &self.policies, &self.entities)
            .decision()
            == Decision::Allow
    }
}
