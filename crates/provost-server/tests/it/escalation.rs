//! No privilege escalation: random actors try random writes through the service layer; after
//! every accepted write, nobody has gained a permission at a scope where the actor lacked it,
//! as the reference model of the decision rules reads the state before and after.

use std::collections::BTreeSet;

use proptest::prelude::*;
use provost_engine::reference::Reference;
use provost_engine::{Index, ScopeRegistration, User, DEFAULT_POLICY};
use provost_server::access::Actor;
use provost_server::apps::authz::roles::{self, RoleInput};
use provost_server::apps::authz::service::{self, AssignmentInput};
use provost_server::Node;

const SUBJECTS: [&str; 4] = ["u0", "u1", "u2", "u3"];
const ENTERPRISE: &str = "enterprise:00000000-0000-4000-8000-000000000001";
const SCOPES: [&str; 10] = [
    "*",
    "org:A",
    "org:B",
    "course-v1:A+c1+r",
    "course-v1:B+c2+r",
    "course-v1:A+*",
    "lib:A:l1",
    "program:pa",
    "program:pb",
    ENTERPRISE,
];
/// The permissions compared before and after, one or two of every kind.
const ACTIONS: [&str; 12] = [
    "courses.view_course",
    "courses.edit_course_content",
    "courses.manage_course_team",
    "content_libraries.view_library",
    "content_libraries.manage_library_team",
    "programs.read_reports",
    "programs.manage_access",
    "enterprise.manage_access",
    "subsidy_access_policy.has_write_access",
    "authz.manage_roles",
    "authz.check_on_behalf",
    "discussions.edit_content",
];
const ROLES: [&str; 12] = [
    "course_auditor",
    "course_staff",
    "course_admin",
    "library_admin",
    "program_read_reports",
    "program_admin",
    "enterprise_admin",
    "enterprise_operator",
    "authz_admin",
    "forum_moderator",
    "custom_a",
    "custom_b",
];

/// Policy files an actor may try to load: the default with one change each.
fn policy_variants() -> Vec<String> {
    let grow_role = DEFAULT_POLICY.replacen(
        "permissions = [\n  \"courses.view_course\",",
        "permissions = [\n  \"programs.read_reports\",\n  \"enterprise.manage_access\",\n  \"courses.view_course\",",
        1,
    );
    let grow_implication = DEFAULT_POLICY.replacen(
        "name = \"courses.view_course\"\ndescription = \"see the course in studio and its outline read-only, and preview it live\"\nimplies = []",
        "name = \"courses.view_course\"\ndescription = \"see the course in studio and its outline read-only, and preview it live\"\nimplies = [\"courses.manage_course_team\"]",
        1,
    );
    let new_role = format!(
        "{DEFAULT_POLICY}\n[[roles]]\nname = \"extra_viewer\"\ndescription = \"views courses\"\npermissions = [\"courses.view_course\"]\n"
    );
    assert_ne!(
        grow_role, DEFAULT_POLICY,
        "the course_auditor edit must apply"
    );
    assert_ne!(
        grow_implication, DEFAULT_POLICY,
        "the implication edit must apply"
    );
    vec![grow_role, grow_implication, new_role]
}

#[derive(Clone, Debug)]
enum Write {
    Assign(Vec<(usize, usize, usize)>, bool),
    Unassign(usize, usize, usize),
    PutRole {
        role: usize,
        permissions: Vec<usize>,
        org: Option<&'static str>,
        create: bool,
    },
    DeleteRole(usize),
    Upsert {
        subject: usize,
        staff: bool,
        superuser: bool,
    },
    Retire(usize),
    LoadPolicy(usize),
}

fn grant() -> impl Strategy<Value = (usize, usize, usize)> {
    (0..SUBJECTS.len(), 0..ROLES.len(), 0..SCOPES.len())
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        3 => (prop::collection::vec(grant(), 1..4), any::<bool>()).prop_map(|(g, atomic)| Write::Assign(g, atomic)),
        1 => grant().prop_map(|(s, r, x)| Write::Unassign(s, r, x)),
        3 => (
            10..ROLES.len(),
            prop::collection::vec(0..ACTIONS.len(), 1..4),
            prop::option::of(prop::sample::select(vec!["A", "B"])),
            any::<bool>(),
        )
            .prop_map(|(role, permissions, org, create)| Write::PutRole { role, permissions, org, create }),
        1 => (10..ROLES.len()).prop_map(Write::DeleteRole),
        2 => (0..SUBJECTS.len(), any::<bool>(), prop::bool::weighted(0.3))
            .prop_map(|(subject, staff, superuser)| Write::Upsert { subject, staff, superuser }),
        1 => (0..SUBJECTS.len()).prop_map(Write::Retire),
        1 => (0..3usize).prop_map(Write::LoadPolicy),
    ]
}

/// The starting state an operator set up: flags, custom roles and assignments.
#[derive(Clone, Debug)]
struct World {
    flags: Vec<(bool, bool)>,
    custom: Vec<(Vec<usize>, Option<&'static str>)>,
    grants: Vec<(usize, usize, usize)>,
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(
            (prop::bool::weighted(0.2), prop::bool::weighted(0.05)),
            SUBJECTS.len(),
        ),
        prop::collection::vec(
            (
                prop::collection::vec(0..ACTIONS.len(), 1..4),
                prop::option::of(prop::sample::select(vec!["A", "B"])),
            ),
            2,
        ),
        prop::collection::vec(grant(), 0..10),
    )
        .prop_map(|(flags, custom, grants)| World {
            flags,
            custom,
            grants,
        })
}

fn registrations() -> Vec<ScopeRegistration> {
    vec![
        ScopeRegistration {
            scope: "program:pa".into(),
            parents: vec!["org:A".into()],
        },
        ScopeRegistration {
            scope: "program:pb".into(),
            parents: vec!["org:B".into()],
        },
    ]
}

fn actor(subject: usize) -> Actor {
    Actor {
        username: SUBJECTS[subject].into(),
        ..Actor::default()
    }
}

fn item((subject, role, scope): (usize, usize, usize)) -> AssignmentInput {
    AssignmentInput {
        subject: SUBJECTS[subject].into(),
        role: ROLES[role].into(),
        scope: SCOPES[scope].into(),
        valid_from: None,
        valid_until: None,
    }
}

fn role_input(role: usize, permissions: &[usize], org: Option<&str>) -> RoleInput {
    RoleInput {
        name: ROLES[role].into(),
        description: String::new(),
        permissions: permissions.iter().map(|p| ACTIONS[*p].to_owned()).collect(),
        org: org.map(str::to_owned),
    }
}

/// The state as the reference model sees it.
fn reference(index: &Index) -> Reference {
    Reference {
        policy: index.policy_doc().clone(),
        users: SUBJECTS
            .iter()
            .filter_map(|s| index.user(s).cloned())
            .collect(),
        registrations: registrations(),
        assignments: index.assignments().collect(),
    }
}

/// Everything each subject may do, by (subject, action, scope).
fn abilities(model: &Reference, at: i64) -> BTreeSet<(usize, usize, usize)> {
    let mut set = BTreeSet::new();
    for (s, subject) in SUBJECTS.iter().enumerate() {
        for (a, action) in ACTIONS.iter().enumerate() {
            for (x, scope) in SCOPES.iter().enumerate() {
                if model.allowed(subject, action, scope, at) {
                    set.insert((s, a, x));
                }
            }
        }
    }
    set
}

/// Where holding `action` "at `scope`" is asked: course and library actions at an org or at `*`
/// are asked at the glob of their kind there, which says the same and is where platform staff
/// pass (staff hold every course, yet a request at `org:A` itself is not one of those kinds).
fn region(action: &str, scope: &str) -> String {
    let glob = |org: &str| match action.split('.').next() {
        Some("courses" | "discussions") => Some(format!("course-v1:{org}*")),
        Some("content_libraries") => Some(format!("lib:{org}*")),
        _ => None,
    };
    let found = match scope {
        "*" => glob(""),
        _ => scope.strip_prefix("org:").and_then(|org| {
            glob(&format!(
                "{org}{}",
                if action.starts_with("content_libraries") {
                    ":"
                } else {
                    "+"
                }
            ))
        }),
    };
    found.unwrap_or_else(|| scope.to_owned())
}

async fn attempt(node: &Node, actor: &Actor, write: &Write) -> bool {
    let policies = policy_variants();
    match write {
        Write::Assign(items, atomic) => {
            let items: Vec<_> = items.iter().copied().map(item).collect();
            service::assign(node, actor, &items, *atomic)
                .await
                .is_ok_and(|r| r.tally().1 > 0)
        }
        Write::Unassign(s, r, x) => service::unassign(node, actor, &[item((*s, *r, *x))], false)
            .await
            .is_ok_and(|r| r.tally().1 > 0),
        Write::PutRole {
            role,
            permissions,
            org,
            create,
        } => roles::save_role(node, actor, role_input(*role, permissions, *org), *create)
            .await
            .is_ok(),
        Write::DeleteRole(role) => roles::delete_role(node, actor, ROLES[*role]).await.is_ok(),
        Write::Upsert {
            subject,
            staff,
            superuser,
        } => service::upsert_user(
            node,
            actor,
            User {
                username: SUBJECTS[*subject].into(),
                email: None,
                staff: *staff,
                superuser: *superuser,
            },
        )
        .await
        .is_ok(),
        Write::Retire(subject) => service::retire_user(node, actor, SUBJECTS[*subject])
            .await
            .is_ok(),
        Write::LoadPolicy(variant) => roles::load_policy(node, actor, &policies[*variant], false)
            .await
            .is_ok(),
    }
}

async fn run(world: World, writes: Vec<(usize, Write)>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
    let node = Node::open(&url).await.expect("open");
    let operator = Actor::operator();
    for r in registrations() {
        provost_server::access::register_scope(&node, &operator, &r.scope, &r.parents)
            .await
            .expect("register");
    }
    for (i, (permissions, org)) in world.custom.iter().enumerate() {
        roles::save_role(
            &node,
            &operator,
            role_input(10 + i, permissions, *org),
            true,
        )
        .await
        .expect("custom role");
    }
    for (i, (staff, superuser)) in world.flags.iter().enumerate() {
        let user = User {
            username: SUBJECTS[i].into(),
            email: None,
            staff: *staff,
            superuser: *superuser,
        };
        service::upsert_user(&node, &operator, user)
            .await
            .expect("user");
    }
    let items: Vec<_> = world.grants.iter().copied().map(item).collect();
    if !items.is_empty() {
        service::assign(&node, &operator, &items, false)
            .await
            .expect("operator's grants");
    }
    let at = chrono::Utc::now().timestamp();
    for (who, write) in writes {
        let actor = actor(who);
        let before = reference(&node.index());
        if !attempt(&node, &actor, &write).await {
            continue;
        }
        let after = reference(&node.index());
        let had = abilities(&before, at);
        for (s, a, x) in abilities(&after, at).difference(&had) {
            let (action, scope) = (ACTIONS[*a], SCOPES[*x]);
            assert!(
                before.allowed(SUBJECTS[who], action, &region(action, scope), at),
                "`{}` did {write:?} and `{}` gained `{action}` at `{scope}`, which the actor lacked",
                SUBJECTS[who],
                SUBJECTS[*s],
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn no_write_grants_more_than_its_actor_holds(
        world in world(),
        writes in prop::collection::vec((0..SUBJECTS.len(), write()), 1..12),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(run(world, writes));
    }
}
