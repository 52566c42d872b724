//! openedx-authz's REST API served by Provost (`/api/authz/v1/...`): the admin console's
//! shapes, page-number pages, the 207 bodies of bulk role changes, and who may call what.

use serde_json::{json, Value};

use crate::support::{enc, start, TestServer};

const LIB: &str = "lib:OrgA:lib1";
const OTHER_LIB: &str = "lib:OrgC:lib9";
const COURSE_B: &str = "course-v1:OrgB+C1+2024";

/// `alice` admin and `bob` user of `LIB` (OrgA); `carol` staff and `dan` admin of `COURSE_B`
/// (OrgB); `erin` holds nothing. Everyone has an email `<name>@example.com`.
async fn server() -> TestServer {
    let server = start().await;
    for user in ["alice", "bob", "carol", "dan", "erin"] {
        server
            .as_admin()
            .put(
                &format!("/api/v1/users/{user}"),
                json!({ "email": format!("{user}@example.com") }),
            )
            .await
            .ok();
    }
    server
        .assign(json!([
            { "subject": "alice", "role": "library_admin", "scope": LIB },
            { "subject": "bob", "role": "library_user", "scope": LIB },
            { "subject": "carol", "role": "course_staff", "scope": COURSE_B },
            { "subject": "dan", "role": "course_admin", "scope": COURSE_B },
        ]))
        .await;
    server
}

fn names(body: &Value, field: &str) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {body}"))
        .iter()
        .map(|r| r[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn roles_at_a_scope_list_permissions_and_holders_in_pages() {
    let server = server().await;
    let path = format!("/api/authz/v1/roles/?scope={}", enc(LIB));
    let body = server.as_user("alice").get(&path).await.ok().body;
    let roles = names(&body, "role");
    // Only library roles, by name, at most 10 a page.
    assert_eq!(body["count"], 4, "{body}");
    assert_eq!(
        roles,
        [
            "library_admin",
            "library_author",
            "library_contributor",
            "library_user"
        ]
    );
    assert!(body["next"].is_null() && body["previous"].is_null());
    let admin = &body["results"][0];
    assert_eq!(admin["user_count"], 1);
    assert!(admin["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("content_libraries.manage_library_team")));
    assert_eq!(body["results"][1]["user_count"], 0);

    let page = server
        .as_user("bob")
        .get(&format!("{path}&page_size=3&page=2"))
        .await
        .ok()
        .body;
    assert_eq!(names(&page, "role"), ["library_user"]);
    assert_eq!(page["count"], 4);
    assert!(page["next"].is_null());
    let previous = page["previous"].as_str().unwrap();
    assert!(previous.starts_with("/api/authz/v1/roles/?") && previous.ends_with("page=1"));

    server
        .as_user("alice")
        .get(&format!("{path}&page=3"))
        .await
        .expect(404, "invalid_page");
    server
        .as_user("alice")
        .get("/api/authz/v1/roles/")
        .await
        .expect(400, "invalid_query");
    // Neither a stranger nor a course's staff in another org sees the library's roles.
    for user in ["erin", "carol"] {
        server
            .as_user(user)
            .get(&path)
            .await
            .expect(403, "forbidden");
    }
}

#[tokio::test]
async fn a_team_is_searched_filtered_sorted_and_paged() {
    let server = server().await;
    server
        .assign(json!([{ "subject": "carol", "role": "library_author", "scope": LIB }]))
        .await;
    let base = format!("/api/authz/v1/roles/users/?scope={}", enc(LIB));
    let alice = server.as_user("alice");
    let body = alice.get(&base).await.ok().body;
    assert_eq!(body["count"], 3);
    assert_eq!(names(&body, "username"), ["alice", "bob", "carol"]);
    assert_eq!(body["results"][0]["email"], "alice@example.com");
    assert_eq!(body["results"][0]["roles"], json!(["library_admin"]));
    assert_eq!(body["results"][0]["full_name"], "");

    let by_email = alice
        .get(&format!("{base}&search=BOB%40EXAMPLE"))
        .await
        .ok()
        .body;
    assert_eq!(names(&by_email, "username"), ["bob"]);
    let by_role = alice
        .get(&format!("{base}&roles=library_author,library_user"))
        .await
        .ok()
        .body;
    assert_eq!(names(&by_role, "username"), ["bob", "carol"]);
    let desc = alice
        .get(&format!("{base}&sort_by=email&order=desc&page_size=2"))
        .await
        .ok()
        .body;
    assert_eq!(names(&desc, "username"), ["carol", "bob"]);
    assert_eq!(desc["count"], 3);
    assert!(desc["next"].as_str().unwrap().ends_with("page=2"));
    alice
        .get(&format!("{base}&sort_by=age"))
        .await
        .expect(400, "invalid_parameter");
    alice
        .get(&format!("{base}&order=sideways"))
        .await
        .expect(400, "invalid_parameter");
    server
        .as_user("erin")
        .get(&base)
        .await
        .expect(403, "forbidden");
    server
        .as_user("dan")
        .get(&base)
        .await
        .expect(403, "forbidden");
}

#[tokio::test]
async fn adding_users_answers_207_per_item_and_the_engine_agrees() {
    let server = server().await;
    let body = json!({
        "role": "library_author",
        "scope": LIB,
        "users": ["carol", "erin@example.com", "ghost", "bob"],
    });
    let answer = server
        .as_user("alice")
        .put("/api/authz/v1/roles/users/", body.clone())
        .await
        .expect_status(207);
    let completed = &answer.body["completed"];
    assert_eq!(
        completed,
        &json!([
            { "user_identifier": "carol", "scope": LIB, "status": "role_added" },
            { "user_identifier": "erin@example.com", "scope": LIB, "status": "role_added" },
            { "user_identifier": "bob", "scope": LIB, "status": "role_added" },
        ]),
        "{}",
        answer.text
    );
    assert_eq!(
        answer.body["errors"],
        json!([{ "user_identifier": "ghost", "scope": LIB, "error": "user_not_found" }])
    );
    // The same decision /api/v1 gives.
    assert!(
        server
            .allows("erin", "content_libraries.publish_library_content", LIB)
            .await
    );

    let again = server
        .as_user("alice")
        .put("/api/authz/v1/roles/users/", body)
        .await
        .expect_status(207);
    assert_eq!(again.body["completed"], json!([]));
    let errors: Vec<&str> = again.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["error"].as_str().unwrap())
        .collect();
    assert_eq!(
        errors,
        [
            "user_not_found",
            "user_already_has_role",
            "user_already_has_role",
            "user_already_has_role"
        ]
    );
}

#[tokio::test]
async fn only_team_managers_change_roles_and_only_in_their_own_scopes() {
    let server = server().await;
    let before = server.revision().await;
    // bob views the team but does not manage it; dan manages a course in another org.
    for (user, scope) in [
        ("bob", LIB),
        ("dan", LIB),
        ("alice", OTHER_LIB),
        ("alice", COURSE_B),
    ] {
        server
            .as_user(user)
            .put(
                "/api/authz/v1/roles/users/",
                json!({ "role": "library_user", "scopes": [scope], "users": ["erin"] }),
            )
            .await
            .expect(403, "forbidden");
        server
            .as_user(user)
            .delete(&format!(
                "/api/authz/v1/roles/users/?role=library_user&scope={}&users=bob",
                enc(scope)
            ))
            .await
            .expect(403, "forbidden");
    }
    // One scope out of reach refuses the whole request.
    server
        .as_user("alice")
        .put(
            "/api/authz/v1/roles/users/",
            json!({ "role": "library_user", "scopes": [LIB, OTHER_LIB], "users": ["erin"] }),
        )
        .await
        .expect(403, "forbidden");
    assert_eq!(
        server.revision().await,
        before,
        "a refused request changed something"
    );
    assert!(
        !server
            .allows("erin", "content_libraries.view_library", LIB)
            .await
    );

    // A manager grants nothing they do not hold: a course role at a library is refused per item.
    let answer = server
        .as_user("alice")
        .put(
            "/api/authz/v1/roles/users/",
            json!({ "role": "course_staff", "scope": LIB, "users": ["erin"] }),
        )
        .await
        .expect_status(207);
    assert_eq!(answer.body["errors"][0]["error"], "role_assignment_error");
    assert!(answer.body["errors"][0]["message"].is_string());
    for (body, status, code) in [
        (
            json!({ "role": "library_user", "users": ["erin"] }),
            422,
            "missing_parameter",
        ),
        (
            json!({ "role": "library_user", "scope": "nope", "users": ["erin"] }),
            400,
            "invalid_scope",
        ),
        (
            json!({ "role": "no such", "scope": LIB, "users": ["erin"] }),
            400,
            "invalid_parameter",
        ),
    ] {
        server
            .as_user("alice")
            .put("/api/authz/v1/roles/users/", body)
            .await
            .expect(status, code);
    }
    let nobody = server
        .as_user("alice")
        .put(
            "/api/authz/v1/roles/users/",
            json!({ "role": "library_user", "scope": LIB, "users": [] }),
        )
        .await
        .expect_status(207);
    assert_eq!(nobody.body, json!({ "completed": [], "errors": [] }));
}

#[tokio::test]
async fn removing_users_answers_207_per_item() {
    let server = server().await;
    let path = format!(
        "/api/authz/v1/roles/users/?role=library_user&scope={}&users=bob,ghost,carol%40example.com",
        enc(LIB)
    );
    let answer = server
        .as_user("alice")
        .delete(&path)
        .await
        .expect_status(207);
    assert_eq!(
        answer.body,
        json!({
            "completed": [{ "user_identifier": "bob", "status": "role_removed" }],
            "errors": [
                { "user_identifier": "ghost", "error": "user_not_found" },
                { "user_identifier": "carol@example.com", "error": "user_does_not_have_role" },
            ],
        }),
        "{}",
        answer.text
    );
    assert!(
        !server
            .allows("bob", "content_libraries.view_library", LIB)
            .await
    );
    server
        .as_user("alice")
        .delete(&format!(
            "/api/authz/v1/roles/users/?role=library_user&scope={}",
            enc(LIB)
        ))
        .await
        .expect(400, "invalid_query");
}

#[tokio::test]
async fn listings_show_only_what_the_caller_may_view() {
    let server = server().await;
    // alice sees her library's team, not the course in OrgB.
    let mine = server
        .as_user("alice")
        .get("/api/authz/v1/assignments/")
        .await
        .ok()
        .body;
    assert_eq!(mine["count"], 2, "{mine}");
    assert_eq!(names(&mine, "username"), ["alice", "bob"]);
    let first = &mine["results"][0];
    assert_eq!(first["org"], "OrgA");
    assert_eq!(first["scope"], LIB);
    assert_eq!(first["email"], "alice@example.com");
    assert_eq!(first["is_superadmin"], false);
    assert_eq!(first["permission_count"], 11);

    let all = server
        .as_admin()
        .get("/api/authz/v1/assignments/?sort_by=role")
        .await
        .ok()
        .body;
    assert_eq!(all["count"], 4);
    assert_eq!(
        names(&all, "role"),
        [
            "course_admin",
            "course_staff",
            "library_admin",
            "library_user"
        ]
    );
    let orgb = server
        .as_admin()
        .get("/api/authz/v1/assignments/?orgs=OrgB&search=DAN")
        .await
        .ok()
        .body;
    assert_eq!(names(&orgb, "username"), ["dan"]);
    // A course key's pluses survive unencoded in `scopes`, as Open edX's clients send them.
    let both = server
        .as_admin()
        .get(&format!(
            "/api/authz/v1/assignments/?scopes={COURSE_B},{LIB}&sort_by=username&order=desc"
        ))
        .await
        .ok()
        .body;
    assert_eq!(names(&both, "username"), ["dan", "carol", "bob", "alice"]);

    let members = server
        .as_user("dan")
        .get("/api/authz/v1/users/")
        .await
        .ok()
        .body;
    assert_eq!(names(&members, "username"), ["carol", "dan"]);
    assert_eq!(members["results"][0]["assignation_count"], 1);

    let carol = server
        .as_user("dan")
        .get("/api/authz/v1/users/carol/assignments/")
        .await
        .ok()
        .body;
    assert_eq!(names(&carol, "role"), ["course_staff"]);
    assert_eq!(carol["results"][0]["org"], "OrgB");
    // alice may not see carol's course assignment.
    let hidden = server
        .as_user("alice")
        .get("/api/authz/v1/users/carol/assignments/")
        .await
        .ok()
        .body;
    assert_eq!(hidden["count"], 0);

    let orgs = server
        .as_user("alice")
        .get("/api/authz/v1/orgs/")
        .await
        .ok()
        .body;
    assert_eq!(names(&orgs, "short_name"), ["OrgA"]);
    let every = server.as_admin().get("/api/authz/v1/orgs/").await.ok().body;
    assert_eq!(names(&every, "short_name"), ["OrgA", "OrgB"]);

    let scopes = server
        .as_user("alice")
        .get("/api/authz/v1/scopes/")
        .await
        .ok()
        .body;
    assert_eq!(names(&scopes, "external_key"), [LIB]);
    assert_eq!(scopes["results"][0]["org"]["short_name"], "OrgA");
    let courses = server
        .as_user("alice")
        .get("/api/authz/v1/scopes/?scope_type=course")
        .await
        .ok()
        .body;
    assert_eq!(courses["count"], 0);
    // bob views his library's team but manages nothing.
    let managed = server
        .as_user("bob")
        .get("/api/authz/v1/scopes/?management_permission_only=true")
        .await;
    managed.expect(403, "forbidden");
    let admin_courses = server
        .as_admin()
        .get("/api/authz/v1/scopes/?scope_type=course&search=c1")
        .await
        .ok()
        .body;
    assert_eq!(names(&admin_courses, "external_key"), [COURSE_B]);

    for path in [
        "/api/authz/v1/assignments/",
        "/api/authz/v1/users/",
        "/api/authz/v1/orgs/",
        "/api/authz/v1/scopes/",
        "/api/authz/v1/users/alice/assignments/",
    ] {
        server
            .as_user("erin")
            .get(path)
            .await
            .expect(403, "forbidden");
        server.anonymous().get(path).await.expect_status(401);
    }
}

#[tokio::test]
async fn users_are_validated_by_username_or_email() {
    let server = server().await;
    let answer = server
        .as_user("alice")
        .post(
            "/api/authz/v1/users/validate/",
            json!({ "users": ["alice", "Bob@Example.com", "ghost", "alice"] }),
        )
        .await
        .ok();
    assert_eq!(
        answer.body,
        json!({
            "valid_users": ["alice", "Bob@Example.com"],
            "invalid_users": ["ghost"],
            "summary": { "total": 3, "valid_count": 2, "invalid_count": 1 },
        })
    );
    server
        .as_user("erin")
        .post(
            "/api/authz/v1/users/validate/",
            json!({ "users": ["alice"] }),
        )
        .await
        .expect(403, "forbidden");
    let none = server
        .as_user("alice")
        .post("/api/authz/v1/users/validate/", json!({ "users": [] }))
        .await
        .ok();
    assert_eq!(
        none.body["summary"],
        json!({ "total": 0, "valid_count": 0, "invalid_count": 0 })
    );
}

#[tokio::test]
async fn pages_default_to_ten_and_cap_at_one_hundred() {
    let server = start().await;
    let items: Vec<Value> = (0..105)
        .map(|i| json!({ "subject": format!("u{i:03}"), "role": "library_user", "scope": LIB }))
        .collect();
    server.assign(Value::Array(items)).await;
    let admin = server.as_admin();
    let first = admin.get("/api/authz/v1/assignments/").await.ok().body;
    assert_eq!(first["count"], 105);
    assert_eq!(first["results"].as_array().unwrap().len(), 10);
    assert_eq!(first["results"][0]["username"], "u000");
    let capped = admin
        .get("/api/authz/v1/assignments/?page_size=500&page=2")
        .await
        .ok()
        .body;
    assert_eq!(
        names(&capped, "username"),
        ["u100", "u101", "u102", "u103", "u104"]
    );
    assert!(capped["next"].is_null());
    let previous = capped["previous"].as_str().unwrap();
    assert!(
        previous.contains("page_size=500") && previous.ends_with("page=1"),
        "{previous}"
    );
    admin
        .get("/api/authz/v1/assignments/?page=3&page_size=100")
        .await
        .expect(404, "invalid_page");
    admin
        .get("/api/authz/v1/assignments/?page=0")
        .await
        .expect(404, "invalid_page");
    let team = admin
        .get(&format!(
            "/api/authz/v1/roles/users/?scope={}&page=11",
            enc(LIB)
        ))
        .await
        .ok()
        .body;
    assert_eq!(
        names(&team, "username"),
        ["u100", "u101", "u102", "u103", "u104"]
    );
}

/// `waffle-flag-states/` answers the legacy app's course-authoring flag as openedx-authz does:
/// the instance value, and the orgs and courses forcing it on or off.
#[tokio::test]
async fn waffle_flag_states_answer_the_course_authoring_flag() {
    let server = server().await;
    let path = "/api/authz/v1/waffle-flag-states/";
    let nothing_set = json!({
        "global": false,
        "org_overrides": { "on": [], "off": [] },
        "course_overrides": { "on": [], "off": [] },
    });
    assert_eq!(
        server.as_user("erin").get(path).await.ok().body,
        nothing_set
    );

    let flag = "/api/v1/flags/authz.enable_course_authoring";
    for (scope, enabled) in [
        ("*", true),
        ("org:OrgA", true),
        ("org:OrgB", false),
        ("org:OrgC", true),
        (COURSE_B, true),
        ("course-v1:OrgA+C2+2024", false),
    ] {
        let body = json!({ "scope": scope, "enabled": enabled });
        server.as_admin().put(flag, body).await.ok();
    }
    let states = json!({
        "global": true,
        "org_overrides": { "on": ["OrgA", "OrgC"], "off": ["OrgB"] },
        "course_overrides": { "on": [COURSE_B], "off": ["course-v1:OrgA+C2+2024"] },
    });
    // Anyone signed in may read it: it says nothing about anyone.
    assert_eq!(server.as_user("erin").get(path).await.ok().body, states);

    // A cleared value is no override; the instance value off is `global: false`.
    for (scope, enabled) in [("*", json!(false)), ("org:OrgC", Value::Null)] {
        let body = json!({ "scope": scope, "enabled": enabled });
        server.as_admin().put(flag, body).await.ok();
    }
    let body = server.as_user("alice").get(path).await.ok().body;
    assert_eq!(body["global"], false, "{body}");
    assert_eq!(
        body["org_overrides"],
        json!({ "on": ["OrgA"], "off": ["OrgB"] })
    );

    server
        .anonymous()
        .get(path)
        .await
        .expect(401, "missing_token");
}
