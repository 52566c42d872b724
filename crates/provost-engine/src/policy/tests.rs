//! Tests of the policy format and its compilation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;
use crate::err::PolicyError;
use crate::model::Change;
use crate::scope::Kind;

fn doc(text: &str) -> Result<PolicyDoc, PolicyError> {
    PolicyDoc::from_toml(text)
}

const SMALL: &str = r#"
    [apps]
    content_libraries = "library"
    [[permissions]]
    name = "content_libraries.view_library"
    [[permissions]]
    name = "content_libraries.edit_library_content"
    implies = ["content_libraries.view_library"]
    [[permissions]]
    name = "content_libraries.publish_library_content"
    implies = ["content_libraries.edit_library_content"]
    [[roles]]
    name = "library_author"
    permissions = ["content_libraries.publish_library_content"]
"#;

#[test]
fn implication_chains_close_transitively() {
    let policy = Policy::compile(&doc(SMALL).unwrap()).unwrap();
    let role = policy
        .role(policy.role_id("library_author").unwrap())
        .unwrap();
    assert_eq!(
        policy.names(&role.closure),
        [
            "content_libraries.edit_library_content",
            "content_libraries.publish_library_content",
            "content_libraries.view_library"
        ]
    );
    assert!(role.def.builtin, "roles from a file are built in");
}

#[test]
fn cycles_are_rejected_with_their_path() {
    let text = SMALL.replace(
        "name = \"content_libraries.view_library\"",
        "name = \"content_libraries.view_library\"\nimplies = [\"content_libraries.publish_library_content\"]",
    );
    let err = doc(&text).unwrap_err();
    assert_eq!(err.code(), "implication_cycle");
    assert!(err.to_string().contains("→"), "{err}");
}

#[test]
fn refuses_unknown_apps_fields_and_permissions() {
    assert_eq!(
        doc(&SMALL.replace("content_libraries = \"library\"", ""))
            .unwrap_err()
            .code(),
        "unknown_app"
    );
    assert_eq!(
        doc(&format!(
            "{SMALL}\n[[roles]]\nname = \"x\"\npermissions = [\"content_libraries.nope\"]"
        ))
        .unwrap_err()
        .code(),
        "unknown_permission"
    );
    assert_eq!(doc("surprise = 1").unwrap_err().code(), "invalid_policy");
    assert_eq!(
        doc("[apps]\ncourses = \"galaxy\"").unwrap_err().code(),
        "invalid_policy"
    );
    assert_eq!(
        doc(&format!("{SMALL}\n[[roles]]\nname = \"Bad-Name\""))
            .unwrap_err()
            .code(),
        "invalid_role_name"
    );
    assert_eq!(
        doc(&format!("{SMALL}\n[[roles]]\nname = \"library_author\""))
            .unwrap_err()
            .code(),
        "duplicate"
    );
}

#[test]
fn recompile_keeps_ids() {
    let first = Policy::compile(&doc(SMALL).unwrap()).unwrap();
    let author = first.role_id("library_author").unwrap();
    let mut changed = first.to_doc();
    changed.roles.insert(
        0,
        RoleDef {
            name: "new_role".into(),
            description: String::new(),
            permissions: vec![],
            builtin: false,
            org: None,
        },
    );
    let second = first.recompile(&changed).unwrap();
    assert_eq!(second.role_id("library_author"), Some(author));
    assert!(second.role_id("new_role").is_some());
}

#[test]
fn the_default_policy_compiles_and_keeps_legacy_permissions_apart() {
    let policy = Policy::compile(&PolicyDoc::default_policy()).unwrap();
    let names =
        |role: &str| policy.names(&policy.role(policy.role_id(role).unwrap()).unwrap().closure);
    let admin = names("course_admin");
    assert!(admin.contains(&"courses.legacy_instructor_role_permissions".to_owned()));
    assert!(!admin
        .iter()
        .any(|p| p == "courses.legacy_staff_role_permissions"));
    assert!(admin.contains(&"courses.manage_course_team".to_owned()));
    assert!(names("course_staff").contains(&"courses.legacy_staff_role_permissions".to_owned()));
    assert!(names("ccx_coach").is_empty());
    for role in [
        "library_admin",
        "library_author",
        "library_contributor",
        "library_user",
        "course_auditor",
        "course_editor",
        "course_staff",
        "course_limited_staff",
        "course_data_researcher",
        "course_beta_tester",
        "forum_administrator",
        "forum_moderator",
        "forum_group_moderator",
        "forum_community_ta",
        "forum_student",
        "program_read_metadata",
        "program_read_enrollments",
        "program_read_write_enrollments",
        "program_read_reports",
        "batch_admin",
        "batch_mentor",
        "batch_participant",
        "enterprise_learner",
        "enterprise_admin",
        "enterprise_operator",
        "authz_service",
    ] {
        assert!(
            policy.role_id(role).is_some(),
            "default policy lacks {role}"
        );
    }
    for manage in [
        "courses.manage_course_team",
        "content_libraries.manage_library_team",
        "programs.manage_access",
        "batches.manage_members",
        "enterprise.manage_access",
    ] {
        assert!(
            policy.perm_id(manage).is_some(),
            "default policy lacks {manage}"
        );
    }
}

#[test]
fn each_kind_names_its_manage_permission_in_the_policy() {
    let policy = Policy::compile(&PolicyDoc::default_policy()).unwrap();
    for (kind, manage) in [
        (Kind::Course, Some("courses.manage_course_team")),
        (Kind::Library, Some("content_libraries.manage_library_team")),
        (Kind::Program, Some("programs.manage_access")),
        (Kind::Batch, Some("batches.manage_members")),
        (Kind::Enterprise, Some("enterprise.manage_access")),
        (Kind::Org, None),
        (Kind::Instance, None),
    ] {
        assert_eq!(policy.manage_permission(kind), manage, "{kind}");
    }
    // A bare kind names none.
    let small = Policy::compile(&doc(SMALL).unwrap()).unwrap();
    assert_eq!(small.manage_permission(Kind::Library), None);
}

#[test]
fn refuses_a_manage_permission_that_is_unknown_of_another_kind_or_a_second_one() {
    let managed = |manage: &str| {
        SMALL.replace(
            "content_libraries = \"library\"",
            &format!("content_libraries = {{ kind = \"library\", manage = \"{manage}\" }}\ncourses = {{ kind = \"course\", manage = \"courses.manage\" }}\nextra = {{ kind = \"library\", manage = \"extra.manage\" }}"),
        ) + "\n[[permissions]]\nname = \"courses.manage\"\n[[permissions]]\nname = \"extra.manage\"\n"
    };
    for (manage, reason) in [
        ("content_libraries.nope", "there is no such permission"),
        ("courses.manage", "granted on course scopes, not library"),
        (
            "content_libraries.view_library",
            "already manages library scopes",
        ),
    ] {
        let err = doc(&managed(manage)).unwrap_err();
        assert_eq!(err.code(), "invalid_manage_permission", "{manage}");
        assert!(err.to_string().contains(reason), "{manage}: {err}");
    }
    assert_eq!(
        doc("[apps]\ncourses = { kind = \"course\", surprise = 1 }")
            .unwrap_err()
            .code(),
        "invalid_policy"
    );
}

#[test]
fn an_app_entry_is_written_back_as_it_was_read() {
    let text = "[apps]\na = \"course\"\nb = { kind = \"library\", manage = \"b.m\" }\n";
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Apps {
        apps: BTreeMap<String, AppDef>,
    }
    let apps: Apps = toml::from_str(text).unwrap();
    assert_eq!(apps.apps["a"], AppDef::from(Kind::Course));
    assert_eq!(apps.apps["b"].manage.as_deref(), Some("b.m"));
    let json = serde_json::to_value(&apps).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "apps": { "a": "course", "b": { "kind": "library", "manage": "b.m" } } })
    );
    assert_eq!(serde_json::from_value::<Apps>(json).unwrap(), apps);
}

#[test]
fn a_load_without_manage_keeps_the_stored_one_unless_pruned() {
    let stored = PolicyDoc::default_policy();
    let mut old = stored.clone();
    old.apps.insert("courses".into(), Kind::Course.into());
    assert!(crate::policy_diff(&stored, &old, false).is_empty());
    let pruned = crate::policy_diff(&stored, &old, true);
    assert_eq!(
        pruned,
        [Change::AppPut {
            app: "courses".into(),
            kind: Kind::Course,
            manage: None
        }]
    );
}
