//! Custom roles cannot be hijacked: who may change or delete a role is judged against the role as
//! stored, its org is fixed, and whatever a role gains is a grant wherever it is assigned.

use provost_testkit::{start, TestDatabase, TestServer, COURSE};
use reqwest::{Method, StatusCode};
use serde_json::json;

const HARVARD_COURSE: &str = "course-v1:HarvardX+CS50+2024";

/// `olga` administers MITx's courses (and so may define MITx roles); `carol` holds the
/// instance-wide role `reviewer` at `*`, `hal` holds HarvardX's own role in a HarvardX course.
async fn setting() -> TestServer {
    let server = start().await;
    for (role, org) in [("reviewer", None), ("harvard_grader", Some("HarvardX"))] {
        let role = json!({ "name": role, "permissions": ["courses.view_course"], "org": org });
        server
            .as_admin()
            .post("/api/v1/roles", role)
            .await
            .expect_status(201);
    }
    server
        .assign(json!([
            { "subject": "olga", "role": "course_admin", "scope": "org:MITx" },
            { "subject": "carol", "role": "reviewer", "scope": "*" },
            { "subject": "hal", "role": "harvard_grader", "scope": HARVARD_COURSE },
        ]))
        .await;
    server
}

#[tokio::test]
async fn an_org_admin_cannot_take_over_an_instance_role_or_another_orgs_role() {
    let server = setting().await;
    let olga = server.as_user("olga");
    for (role, victim, scope) in [
        ("reviewer", "carol", "course-v1:HarvardX+CS50+2024"),
        ("harvard_grader", "hal", HARVARD_COURSE),
    ] {
        let path = format!("/api/v1/roles/{role}");
        let grown = json!({
            "org": "MITx",
            "permissions": ["courses.view_course", "courses.manage_course_team"],
        });
        olga.put(&path, grown).await.expect(403, "forbidden");
        assert!(
            !server
                .allows(victim, "courses.manage_course_team", scope)
                .await
        );
        let stored = olga.get(&path).await;
        assert_eq!(stored.body["permissions"], json!(["courses.view_course"]));

        olga.delete(&path).await.expect_status(403);
        assert!(server.allows(victim, "courses.view_course", scope).await);
    }
}

#[tokio::test]
async fn a_roles_org_is_fixed_at_creation() {
    let server = setting().await;
    let admin = server.as_admin();
    admin
        .put(
            "/api/v1/roles/harvard_grader",
            json!({ "org": "MITx", "permissions": [] }),
        )
        .await
        .expect(422, "role_org_fixed");
    // Leaving the org out keeps the stored one.
    let kept = admin
        .put(
            "/api/v1/roles/harvard_grader",
            json!({ "permissions": ["courses.view_course"] }),
        )
        .await
        .ok();
    assert_eq!(kept.body["org"], "HarvardX");
}

#[tokio::test]
async fn an_org_admin_manages_their_own_orgs_roles_within_what_they_hold() {
    let server = setting().await;
    let olga = server.as_user("olga");
    let helper =
        json!({ "name": "mitx_helper", "org": "MITx", "permissions": ["courses.view_course"] });
    olga.post("/api/v1/roles", helper).await.expect_status(201);
    let grant =
        json!({ "assignments": [{ "subject": "hugo", "role": "mitx_helper", "scope": COURSE }] });
    olga.post("/api/v1/assignments", grant).await.ok();
    let grown = json!({ "permissions": ["courses.view_course", "courses.edit_course_content"] });
    olga.put("/api/v1/roles/mitx_helper", grown).await.ok();
    assert!(
        server
            .allows("hugo", "courses.edit_course_content", COURSE)
            .await
    );
    // Library permissions reach nothing at a course, but olga holds none at MITx to give.
    let beyond =
        json!({ "permissions": ["courses.view_course", "content_libraries.view_library"] });
    olga.put("/api/v1/roles/mitx_helper", beyond)
        .await
        .expect_status(403);
    olga.delete("/api/v1/roles/mitx_helper").await.ok();
}

#[tokio::test]
async fn adding_a_permission_grants_it_wherever_the_role_is_assigned() {
    let server = start().await;
    server
        .as_admin()
        .post(
            "/api/v1/roles",
            json!({ "name": "helper", "permissions": ["courses.view_course"] }),
        )
        .await
        .expect_status(201);
    server
        .assign(json!([
            { "subject": "rolf", "role": "authz_admin", "scope": "*" },
            { "subject": "lib", "role": "library_admin", "scope": "lib:HarvardX:cs" },
            { "subject": "hugo", "role": "helper", "scope": COURSE },
            { "subject": "hugo", "role": "helper", "scope": "org:HarvardX" },
        ]))
        .await;
    // rolf manages roles everywhere, but holds no course permission to hand out.
    let rolf = server.as_user("rolf");
    let grown = rolf
        .put(
            "/api/v1/roles/helper",
            json!({ "permissions": ["courses.view_course", "courses.edit_course_content"] }),
        )
        .await
        .expect_status(403);
    let scopes: Vec<&str> = grown.body["error"]["details"]["scopes"]
        .as_array()
        .expect("offending scopes")
        .iter()
        .filter_map(|s| s["scope"].as_str())
        .collect();
    assert_eq!(scopes, vec![COURSE, "org:HarvardX"]);
    assert!(
        !server
            .allows("hugo", "courses.edit_course_content", COURSE)
            .await
    );
    // Shrinking hands out nothing, so it needs no holding.
    rolf.put("/api/v1/roles/helper", json!({ "permissions": [] }))
        .await
        .ok();
}

#[tokio::test]
async fn staff_cannot_make_superusers_nor_grant_beyond_courses_and_libraries() {
    let server = start().await;
    let staff = server.token_with(provost_server::TokenSpec {
        username: "stan".into(),
        staff: true,
        ttl: std::time::Duration::from_secs(600),
        ..Default::default()
    });
    let staff = server.with_token(&staff);
    staff
        .put("/api/v1/users/mallory", json!({ "superuser": true }))
        .await
        .expect_status(403);
    let enterprise = staff
        .post(
            "/api/v1/assignments",
            json!({ "assignments": [{ "subject": "mallory", "role": "enterprise_admin", "scope": "enterprise:00000000-0000-4000-8000-000000000001" }] }),
        )
        .await
        .expect_status(403);
    assert_eq!(
        enterprise.body["error"]["details"]["items"][0]["error"]["code"],
        "forbidden"
    );
    // Course roles that carry only course permissions, even org-wide, are within staff's reach.
    staff
        .post(
            "/api/v1/assignments",
            json!({ "assignments": [{ "subject": "mallory", "role": "course_auditor", "scope": "org:MITx" }] }),
        )
        .await
        .ok();
}

#[tokio::test]
async fn an_org_role_held_outside_its_org_grants_nothing_and_explain_says_why() {
    let server = start().await;
    let admin = server.as_admin();
    let operator = provost_server::access::Actor::operator();
    let register = |parent: &'static str| {
        let node = server.node.clone();
        let operator = operator.clone();
        async move {
            provost_server::access::register_scope(
                &node,
                &operator,
                "program:ds",
                &[parent.to_owned()],
            )
            .await
            .expect("register")
        }
    };
    register("org:MITx").await;
    admin
        .post(
            "/api/v1/roles",
            json!({ "name": "mitx_reports", "org": "MITx", "permissions": ["programs.read_reports"] }),
        )
        .await
        .expect_status(201);
    server
        .assign(json!([{ "subject": "rita", "role": "mitx_reports", "scope": "program:ds" }]))
        .await;
    assert!(
        server
            .allows("rita", "programs.read_reports", "program:ds")
            .await
    );
    // The program moves to another org: the assignment now lies outside the role's org.
    let revision = register("org:HarvardX").await;
    let explained = admin
        .post(
            "/api/v1/check?explain=true",
            json!({ "subject": "rita", "action": "programs.read_reports", "scope": "program:ds", "at_least_revision": revision }),
        )
        .await;
    assert_eq!(explained.body["allowed"], false, "{}", explained.text);
    assert_eq!(
        explained.body["reason"], "role_outside_org",
        "{}",
        explained.text
    );
    assert_eq!(explained.body["because"][0]["via"], "role_outside_org");
    // And a new one outside the org is refused.
    let outside = admin
        .post(
            "/api/v1/assignments",
            json!({ "assignments": [{ "subject": "rita", "role": "mitx_reports", "scope": "program:ds" }] }),
        )
        .await;
    assert_eq!(
        outside.body["error"]["details"]["items"][0]["error"]["code"], "role_outside_org",
        "{}",
        outside.text
    );
}

#[tokio::test]
async fn growing_a_role_sees_an_assignment_another_process_just_committed() {
    let server = start().await;
    let admin = server.admin();
    let created = server
        .post(
            "/api/v1/roles",
            &admin,
            json!({ "name": "helper", "permissions": ["courses.view_course"] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    server
        .assign(json!([{ "subject": "rolf", "role": "authz_admin", "scope": "*" }]))
        .await;
    // Another process assigns the role, straight into the database: this node's engine has not
    // read it yet, but the check reads the role's scopes in the transaction that grows it.
    let other = provost_store::Store::connect(&server.url)
        .await
        .expect("second store");
    let assignment = provost_engine::Assignment::new("hugo", "helper", COURSE);
    other
        .commit(
            "other",
            &[provost_engine::Change::AssignmentAdd { assignment }],
        )
        .await
        .expect("assigned");
    let grown = server
        .call(
            Method::PUT,
            "/api/v1/roles/helper",
            Some(&server.token("rolf")),
            Some(json!({ "permissions": ["courses.view_course", "courses.edit_course_content"] })),
        )
        .await;
    assert_eq!(grown.status, StatusCode::FORBIDDEN, "{}", grown.text);
    assert_eq!(grown.body["error"]["details"]["scope_count"], 1);
    assert_eq!(grown.body["error"]["details"]["scopes"][0]["scope"], COURSE);
    other.close().await;
}

/// The race itself, on PostgreSQL where a writer waiting for the write lock shows in `pg_locks`:
/// another process assigns the role in a transaction that holds the lock while the role's growth
/// is asked for; the growth waits, then sees the assignment. A check made before taking the lock
/// would have found no assignment and let the growth through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_racing_a_role_growth_is_seen_by_the_check() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let server = crate::support::start_on(&db.url).await;
    let admin = server.admin();
    let created = server
        .post(
            "/api/v1/roles",
            &admin,
            json!({ "name": "helper", "permissions": ["courses.view_course"] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    server
        .assign(json!([{ "subject": "rolf", "role": "authz_admin", "scope": "*" }]))
        .await;

    let assignment = provost_engine::Assignment::new("hugo", "helper", COURSE);
    let (assigning, release) = hold_write_lock(
        &db.url,
        provost_engine::Change::AssignmentAdd { assignment },
    )
    .await;

    let rolf = server.token("rolf");
    let grow = server.call(
        Method::PUT,
        "/api/v1/roles/helper",
        Some(&rolf),
        Some(json!({ "permissions": ["courses.view_course", "courses.edit_course_content"] })),
    );
    // Commit the assignment only once the growth waits for the write lock.
    let let_go = release_when_a_writer_waits(&db.url, release);
    let (grown, ()) = tokio::join!(grow, let_go);
    assigning
        .await
        .expect("the other writer")
        .expect("assigned");
    assert_eq!(grown.status, StatusCode::FORBIDDEN, "{}", grown.text);
    assert_eq!(grown.body["error"]["details"]["scopes"][0]["scope"], COURSE);
    assert!(
        !server
            .allows("hugo", "courses.edit_course_content", COURSE)
            .await
    );
    drop(server);
    drop(db);
}

/// The symmetric race: an assignment vetted against the role as it was, committed after another
/// process grew the role. `tina` manages the course team and holds `helper`'s permissions, but
/// not what `helper` gains; her assignment of it waits for the write lock while the growth
/// holds it. Committed as vetted, it would give `hugo` the gained permission at a scope nobody
/// checked (the growth's own check cannot see an assignment not yet committed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_growing_while_an_assignment_waits_is_seen_by_the_assignment() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let server = crate::support::start_on(&db.url).await;
    for (name, permissions) in [
        ("helper", json!(["courses.view_course"])),
        (
            "team_lead",
            json!(["courses.view_course", "courses.manage_course_team"]),
        ),
    ] {
        server
            .as_admin()
            .post(
                "/api/v1/roles",
                json!({ "name": name, "permissions": permissions }),
            )
            .await
            .expect_status(201);
    }
    server
        .assign(json!([{ "subject": "tina", "role": "team_lead", "scope": COURSE }]))
        .await;

    let role = provost_engine::RoleDef {
        name: "helper".into(),
        description: String::new(),
        permissions: vec![
            "courses.view_course".into(),
            "courses.edit_course_content".into(),
        ],
        builtin: false,
        org: None,
    };
    let (growing, release) =
        hold_write_lock(&db.url, provost_engine::Change::RolePut { role }).await;

    let tina = server.as_user("tina");
    let item = json!({ "assignments": [{ "subject": "hugo", "role": "helper", "scope": COURSE }] });
    let assign = tina.post("/api/v1/assignments", item.clone());
    // Commit the growth only once the assignment waits for the write lock.
    let let_go = release_when_a_writer_waits(&db.url, release);
    let (assigned, ()) = tokio::join!(assign, let_go);
    growing.await.expect("the other writer").expect("grown");
    let assigned = assigned.expect(409, "conflict");
    assert_eq!(
        assigned.body["error"]["details"]["items"][0]["error"]["code"],
        "conflict"
    );
    assert!(
        !server
            .allows("hugo", "courses.edit_course_content", COURSE)
            .await
    );
    // Retried, the assignment is vetted against the grown role: tina does not hold all of it.
    tina.post("/api/v1/assignments", item)
        .await
        .expect(403, "forbidden");
    assert!(!server.allows("hugo", "courses.view_course", COURSE).await);
    drop(server);
    drop(db);
}

/// Another process applies `change` in a transaction that holds the database's write lock until
/// the returned sender fires (or is dropped); returns once the lock is held, with the writer's
/// task, which ends with the revision it committed.
async fn hold_write_lock(
    url: &str,
    change: provost_engine::Change,
) -> (
    tokio::task::JoinHandle<Result<u64, provost_store::StoreError>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let other = provost_store::Store::connect(url)
        .await
        .expect("second store");
    let (locked, is_locked) = tokio::sync::oneshot::channel::<()>();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let writer = tokio::spawn(async move {
        let written = other
            .write("other", |tx| {
                Box::pin(async move {
                    tx.apply(&change).await?;
                    let _ = locked.send(());
                    let _ = released.await;
                    Ok::<_, provost_store::StoreError>(())
                })
            })
            .await;
        other.close().await;
        written.map(|w| w.revision)
    });
    is_locked.await.expect("the other writer holds the lock");
    (writer, release)
}

/// Fires `release` once some writer waits for PostgreSQL's write lock (an advisory lock not yet
/// granted in this database), so the waiting request is known to be queued behind it.
async fn release_when_a_writer_waits(url: &str, release: tokio::sync::oneshot::Sender<()>) {
    use sqlx::Connection;

    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(&mut conn)
        .await
        .expect("pg_locks");
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let _ = release.send(());
}
