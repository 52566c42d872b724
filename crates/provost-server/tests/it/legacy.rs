//! The legacy app against a real MariaDB/MySQL holding the platform's own role tables: migration,
//! rollback, `delete`, runs, the course authoring flag and the compatibility view.

use std::collections::BTreeMap;
use std::time::Duration;

use provost_testkit::mysql::{LEGACY_COURSE, MAPPED_ROLES, OTHER_COURSE};
use provost_testkit::{LegacyFixture, TestMysql};
use serde_json::{json, Value};

use crate::support::{enc, start, TestServer};

type Row = (String, String, String, String);

/// Starts a run over HTTP and waits until it has ended; returns the run with its rows.
async fn run(server: &TestServer, body: Value) -> Value {
    let started = server
        .as_admin()
        .post("/api/v1/legacy/migrations", body)
        .await
        .expect_status(202);
    let id = started.body["id"].as_str().expect("run id").to_owned();
    for _ in 0..2400 {
        let run = server
            .as_admin()
            .get(&format!("/api/v1/legacy/migrations/{id}"))
            .await
            .ok();
        if run.body["status"] != "running" {
            return run.body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("run {id} did not end");
}

fn migrate(db: &TestMysql, extra: Value) -> Value {
    let mut body = json!({ "database": db.url, "filter": { "all": true } });
    merge(&mut body, extra);
    body
}

fn rollback(db: &TestMysql, extra: Value) -> Value {
    let mut body =
        json!({ "direction": "rollback", "database": db.url, "filter": { "all": true } });
    merge(&mut body, extra);
    body
}

fn merge(body: &mut Value, extra: Value) {
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
}

/// Every assignment on the server, as sorted (subject, role, scope).
fn assignments(server: &TestServer) -> Vec<(String, String, String)> {
    let mut all: Vec<_> = server
        .node
        .index()
        .assignments()
        .map(|a| (a.subject, a.role, a.scope))
        .collect();
    all.sort();
    all
}

fn counts(run: &Value) -> BTreeMap<String, u64> {
    serde_json::from_value(run["counts"].clone()).expect("counts")
}

fn expect_counts(run: &Value, expected: &[(&str, u64)]) {
    let mut want: BTreeMap<String, u64> = expected
        .iter()
        .map(|(k, n)| ((*k).to_owned(), *n))
        .collect();
    let got = counts(run);
    want.insert("rows".into(), expected.iter().map(|(_, n)| n).sum());
    assert_eq!(got, want, "{run:#}");
}

/// The assignments the every-role fixture's course table must become.
fn expected_course_assignments() -> Vec<(String, String, String)> {
    let provost = [
        "course_admin",
        "course_staff",
        "course_limited_staff",
        "course_data_researcher",
        "course_beta_tester",
        "ccx_coach",
    ];
    let mut expected = Vec::new();
    for role in provost {
        expected.push(("ada".into(), role.into(), LEGACY_COURSE.into()));
        expected.push(("bob".into(), role.into(), "course-v1:MITx+*".into()));
    }
    expected.push(("eve".into(), "course_admin".into(), OTHER_COURSE.into()));
    expected.sort();
    expected
}

async fn every_role_db() -> TestMysql {
    let db = TestMysql::create().await;
    db.load(&LegacyFixture::every_role()).await;
    db
}

/// The fixture's rows that have an exact equivalent: mapped roles of active, known users at a
/// course-v1 key or org-wide.
fn rows_with_equivalents(rows: &[Row]) -> Vec<Row> {
    rows.iter()
        .filter(|(user, org, course, role)| {
            ["ada", "bob", "eve"].contains(&user.as_str())
                && MAPPED_ROLES.contains(&role.as_str())
                && (course.starts_with("course-v1:") || (course.is_empty() && !org.is_empty()))
        })
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_legacy_role_migrates_to_exactly_the_expected_assignments_and_report() {
    let server = start().await;
    let db = every_role_db().await;
    let before = db.course_access_roles().await;

    let first = run(&server, migrate(&db, json!({}))).await;
    assert_eq!(first["status"], "partial_success", "{first:#}");
    expect_counts(
        &first,
        &[
            ("migrated", 13),
            ("no_equivalent", 18),
            ("no_scope", 6),
            ("inactive_user", 1),
            ("unknown_user", 1),
            ("unsupported_key", 2),
            ("unknown_role", 1),
        ],
    );
    assert_eq!(assignments(&server), expected_course_assignments());
    // Each row's outcome, with its reason.
    let rows = first["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 42);
    let outcome_of = |user: &str, course: &str, role: &str| {
        rows.iter()
            .find(|r| r["user"] == user && r["course_id"] == course && r["legacy_role"] == role)
            .map(|r| r["outcome"].as_str().expect("outcome").to_owned())
            .unwrap_or_else(|| panic!("no row {user} {course} {role}"))
    };
    assert_eq!(outcome_of("ada", LEGACY_COURSE, "instructor"), "migrated");
    assert_eq!(outcome_of("bob", "", "beta_testers"), "migrated");
    assert_eq!(outcome_of("dee", "", "instructor"), "no_scope");
    assert_eq!(
        outcome_of("ada", LEGACY_COURSE, "finance_admin"),
        "no_equivalent"
    );
    assert_eq!(outcome_of("cyd", LEGACY_COURSE, "staff"), "inactive_user");
    assert_eq!(outcome_of("#99", LEGACY_COURSE, "staff"), "unknown_user");
    assert_eq!(
        outcome_of("ada", "MITx/6.002x/2012_Fall", "staff"),
        "unsupported_key"
    );
    assert_eq!(
        outcome_of("ada", "ccx-v1:MITx+6.00x+2024T1+ccx@3", "ccx_coach"),
        "unsupported_key"
    );
    assert_eq!(outcome_of("ada", LEGACY_COURSE, "wizard"), "unknown_role");
    // Users come from auth_user with their flags; only those of migrated rows.
    let index = server.node.index();
    let eve = index.user("eve").expect("eve upserted");
    assert!(eve.superuser && !eve.staff);
    assert_eq!(eve.email.as_deref(), Some("eve@example.com"));
    assert!(index.user("dee").is_none() && index.user("cyd").is_none());
    // The legacy tables were only read.
    assert_eq!(db.course_access_roles().await, before);

    // The run's writes are audited with its id: start, each page with what it assigned, end.
    let log = server
        .as_admin()
        .get("/api/v1/audit?since=0&limit=1000")
        .await
        .ok();
    let legacy: Vec<&Value> = log.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["app"] == "legacy")
        .collect();
    let ops: Vec<&str> = legacy
        .iter()
        .map(|e| e["op"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ops, ["run_start", "migrate_batch", "run_end"]);
    assert!(legacy.iter().all(|e| e["change"]["run"] == first["id"]));
    assert_eq!(
        legacy[1]["change"]["assigned"].as_array().map(Vec::len),
        Some(13)
    );

    // A second run changes nothing: every migrated row is already present.
    let revision = server.revision().await;
    let second = run(&server, migrate(&db, json!({}))).await;
    expect_counts(
        &second,
        &[
            ("already_present", 13),
            ("no_equivalent", 18),
            ("no_scope", 6),
            ("inactive_user", 1),
            ("unknown_user", 1),
            ("unsupported_key", 2),
            ("unknown_role", 1),
        ],
    );
    assert_eq!(assignments(&server), expected_course_assignments());
    // Only the run's own start and end entries were logged.
    let log = server
        .as_admin()
        .get(&format!("/api/v1/audit?since={revision}"))
        .await
        .ok();
    let ops: Vec<(&str, &str)> = log.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["app"].as_str().unwrap_or("engine"),
                e["op"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(ops, [("legacy", "run_start"), ("legacy", "run_end")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forum_roles_map_to_the_default_policys_forum_roles_students_only_when_asked() {
    let server = start().await;
    let db = every_role_db().await;
    let filter = json!({ "filter": { "courses": [LEGACY_COURSE, OTHER_COURSE] }, "forum": true });
    let first = run(&server, migrate(&db, filter)).await;
    let forum: Vec<_> = assignments(&server)
        .into_iter()
        .filter(|(_, role, _)| role.starts_with("forum_"))
        .collect();
    let expected: Vec<_> = [
        "forum_administrator",
        "forum_community_ta",
        "forum_group_moderator",
        "forum_moderator",
    ]
    .iter()
    .map(|r| ("ada".to_owned(), (*r).to_owned(), LEGACY_COURSE.to_owned()))
    .collect();
    assert_eq!(forum, expected);
    assert_eq!(counts(&first)["student_skipped"], 2);

    let with_students =
        json!({ "filter": { "courses": [OTHER_COURSE] }, "forum": true, "forum_students": true });
    run(&server, migrate(&db, with_students)).await;
    assert!(assignments(&server).contains(&(
        "eve".into(),
        "forum_student".into(),
        OTHER_COURSE.into()
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_into_an_empty_copy_writes_exactly_the_rows_with_equivalents_and_warns_for_the_rest(
) {
    let server = start().await;
    let db = every_role_db().await;
    run(&server, migrate(&db, json!({}))).await;
    // Assignments without a legacy equivalent: a role the platform lacks, an org scope, a window.
    server
        .assign(json!([
            { "subject": "ada", "role": "course_editor", "scope": LEGACY_COURSE },
            { "subject": "bob", "role": "course_staff", "scope": "org:MITx" },
            { "subject": "eve", "role": "course_staff", "scope": OTHER_COURSE, "valid_until": "2099-01-01T00:00:00Z" },
        ]))
        .await;

    let empty = TestMysql::create().await;
    let users_only = LegacyFixture {
        users: LegacyFixture::every_role().users,
        ..LegacyFixture::default()
    };
    empty.load(&users_only).await;
    let back = run(&server, rollback(&empty, json!({}))).await;
    expect_counts(&back, &[("written_back", 13), ("no_legacy_equivalent", 3)]);
    assert_eq!(back["status"], "partial_success");
    let original = db.course_access_roles().await;
    assert_eq!(
        empty.course_access_roles().await,
        rows_with_equivalents(&original)
    );
    let warned: Vec<_> = back["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["outcome"] == "no_legacy_equivalent")
        .map(|r| {
            (
                r["user"].as_str().unwrap_or_default(),
                r["role"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        warned,
        [
            ("ada", "course_editor"),
            ("bob", "course_staff"),
            ("eve", "course_staff")
        ]
    );

    // Again: the unique key holds, nothing is duplicated.
    let again = run(&server, rollback(&empty, json!({}))).await;
    expect_counts(
        &again,
        &[("already_present", 13), ("no_legacy_equivalent", 3)],
    );
    assert_eq!(
        empty.course_access_roles().await,
        rows_with_equivalents(&original)
    );

    // Migrate → rollback → migrate is stable.
    let before = assignments(&server);
    let third = run(&server, migrate(&empty, json!({}))).await;
    assert_eq!(counts(&third)["already_present"], 13);
    assert_eq!(assignments(&server), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_with_remove_moves_the_roles_back_out_of_provost() {
    let server = start().await;
    let db = every_role_db().await;
    run(&server, migrate(&db, json!({ "forum": true }))).await;
    let empty = TestMysql::create().await;
    empty
        .load(&LegacyFixture {
            users: LegacyFixture::every_role().users,
            ..LegacyFixture::default()
        })
        .await;
    let org = json!({ "filter": { "org": "MITx" }, "forum": true, "remove": true });
    let back = run(&server, rollback(&empty, org)).await;
    assert_eq!(counts(&back)["removed"], 16, "{back:#}");
    // Only HarvardX's role stays in Provost; the forum roles are back in the forum tables.
    assert_eq!(
        assignments(&server),
        [(
            "eve".to_owned(),
            "course_admin".to_owned(),
            OTHER_COURSE.to_owned()
        )]
    );
    assert_eq!(empty.forum_roles().await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_from_the_legacy_tables_exactly_the_migrated_rows() {
    let server = start().await;
    let db = every_role_db().await;
    let before = db.course_access_roles().await;
    let dry = run(
        &server,
        migrate(&db, json!({ "delete": true, "dry_run": true })),
    )
    .await;
    assert_eq!(counts(&dry)["migrated"], 13);
    assert_eq!(assignments(&server), []);
    assert_eq!(db.course_access_roles().await, before);

    let done = run(&server, migrate(&db, json!({ "delete": true }))).await;
    assert_eq!(counts(&done)["deleted"], 13);
    let migrated = rows_with_equivalents(&before);
    let left: Vec<Row> = before
        .iter()
        .filter(|r| !migrated.contains(r))
        .cloned()
        .collect();
    assert_eq!(db.course_access_roles().await, left);
    assert_eq!(assignments(&server), expected_course_assignments());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_exports_migrate_like_the_database() {
    let server = start().await;
    let db = every_role_db().await;
    let dir = tempfile::tempdir().expect("dir");
    db.export_csv(dir.path()).await;
    let request = provost_server::apps::legacy::service::RunRequest {
        direction: provost_server::apps::legacy::service::Direction::Forward,
        database: dir.path().display().to_string(),
        filter: provost_server::apps::legacy::source::Filter::All,
        options: provost_server::apps::legacy::service::RunOptions {
            forum: true,
            batch_size: 7,
            ..Default::default()
        },
    };
    let actor = provost_server::access::Actor::operator();
    let quiet = provost_server::apps::legacy::service::Quiet;
    let view = provost_server::apps::legacy::service::run(&server.node, &actor, &request, &quiet)
        .await
        .expect("csv run");
    assert_eq!(view.counts["migrated"], 17);
    let mut expected = expected_course_assignments();
    for role in [
        "forum_administrator",
        "forum_community_ta",
        "forum_group_moderator",
        "forum_moderator",
    ] {
        expected.push(("ada".into(), role.into(), LEGACY_COURSE.into()));
    }
    expected.sort();
    assert_eq!(assignments(&server), expected);
    // Over HTTP a run reads only databases: a path on the server is refused.
    let body = json!({ "database": dir.path().display().to_string(), "filter": { "all": true } });
    server
        .as_admin()
        .post("/api/v1/legacy/migrations", body)
        .await
        .expect(400, "invalid_legacy_source");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_run_migrations_and_one_run_at_a_time_per_scope() {
    let server = start().await;
    let db = every_role_db().await;
    server
        .as_user("mallory")
        .post("/api/v1/legacy/migrations", migrate(&db, json!({})))
        .await
        .expect(403, "forbidden");
    server
        .as_user("mallory")
        .get("/api/v1/legacy/migrations")
        .await
        .expect(403, "forbidden");
    // A course admin of MITx is not an admin of the platform either.
    server
        .assign(json!([{ "subject": "carla", "role": "course_admin", "scope": "org:MITx" }]))
        .await;
    let mitx = json!({ "filter": { "org": "MITx" } });
    server
        .as_user("carla")
        .post("/api/v1/legacy/migrations", migrate(&db, mitx.clone()))
        .await
        .expect(403, "forbidden");
    assert_eq!(assignments(&server).len(), 1);

    // A run this process is running over MITx holds MITx's courses until it ends.
    let actor = provost_server::access::Actor::operator();
    let request: provost_server::apps::legacy::service::RunRequest = serde_json::from_value(json!({
        "direction": "forward", "database": db.url, "filter": { "org": "MITx" }, "batch_size": 1000
    }))
    .expect("request");
    let id = provost_server::apps::legacy::service::begin(&server.node, &actor, &request)
        .await
        .expect("begin");
    let course = json!({ "filter": { "courses": [LEGACY_COURSE] } });
    let refused = server
        .as_admin()
        .post("/api/v1/legacy/migrations", migrate(&db, course))
        .await
        .expect(409, "migration_running");
    assert_eq!(refused.body["error"]["details"]["run"], id.as_str());
    // Another org's courses are free.
    let harvard = run(
        &server,
        migrate(&db, json!({ "filter": { "org": "HarvardX" } })),
    )
    .await;
    assert_eq!(counts(&harvard)["migrated"], 1);
    let quiet = provost_server::apps::legacy::service::Quiet;
    provost_server::apps::legacy::service::execute(&server.node, &actor, &id, &request, &quiet)
        .await
        .expect("execute");
    run(&server, migrate(&db, mitx)).await;

    let list = server
        .as_admin()
        .get("/api/v1/legacy/migrations?limit=2")
        .await
        .ok();
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(2));
    server
        .as_admin()
        .get("/api/v1/legacy/migrations/no-such-run")
        .await
        .expect(404, "run_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_change_nothing() {
    let server = start().await;
    let db = every_role_db().await;
    let revision = server.revision().await;
    for (body, status, code) in [
        (
            json!({ "forum_students": true }),
            422,
            "invalid_run_options",
        ),
        (
            json!({ "direction": "rollback", "delete": true }),
            422,
            "invalid_run_options",
        ),
        (json!({ "remove": true }), 422, "invalid_run_options"),
        (
            json!({ "filter": { "courses": [] } }),
            400,
            "invalid_run_filter",
        ),
        (
            json!({ "filter": { "courses": ["MITx/6.002x/2012_Fall"] } }),
            400,
            "invalid_run_filter",
        ),
        (
            json!({ "filter": { "org": "MIT x" } }),
            400,
            "invalid_run_filter",
        ),
        (json!({ "batch_size": 0 }), 422, "invalid_run_options"),
        (
            json!({ "database": "postgres://x/y" }),
            400,
            "invalid_legacy_source",
        ),
        (json!({ "filter": "some" }), 400, "invalid_body"),
        (
            json!({ "filter": { "all": true, "org": "MITx" } }),
            422,
            "invalid_run_options",
        ),
        (json!({ "filter": {} }), 422, "invalid_run_options"),
        (json!({ "batch_size": 2.5 }), 422, "invalid_run_options"),
    ] {
        server
            .as_admin()
            .post("/api/v1/legacy/migrations", migrate(&db, body))
            .await
            .expect(status, code);
    }
    assert_eq!(server.revision().await, revision);
    // An unreachable database is a failed run with the reason, not a half-written one.
    let gone = json!({ "database": "mysql://root@127.0.0.1:1/nothing", "filter": { "all": true } });
    let failed = run(&server, gone).await;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot reach")),
        "{failed:#}"
    );
    assert_eq!(assignments(&server), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flag_course_beats_org_beats_instance_on_and_off() {
    let server = start().await;
    let path = "/api/v1/flags/authz.enable_course_authoring";
    let get = |scope: &str| format!("{path}?scope={}", enc(scope));
    let course = LEGACY_COURSE;
    let sibling = "course-v1:MITx+8.01x+2024T1";
    let harvard = OTHER_COURSE;
    let server = &server;
    let ask = |scope: String| async move {
        let answer = server.as_user("anyone").get(&scope).await.ok();
        (
            answer.body["enabled"].as_bool().expect("enabled"),
            answer.body["decided_by"]
                .as_str()
                .expect("decided_by")
                .to_owned(),
        )
    };
    assert_eq!(ask(get(course)).await, (false, "default".into()));
    let set = |scope: &str, enabled: Value| {
        let body = json!({ "scope": scope, "enabled": enabled });
        async move { server.as_admin().put(path, body).await.ok() }
    };
    set("*", json!(true)).await;
    assert_eq!(ask(get(course)).await, (true, "instance".into()));
    set("org:MITx", json!(false)).await;
    assert_eq!(ask(get(course)).await, (false, "org".into()));
    assert_eq!(ask(get(harvard)).await, (true, "instance".into()));
    assert_eq!(ask(get("org:MITx")).await, (false, "org".into()));
    set(course, json!(true)).await;
    assert_eq!(ask(get(course)).await, (true, "course".into()));
    assert_eq!(ask(get(sibling)).await, (false, "org".into()));
    set("org:MITx", json!(true)).await;
    set(course, json!(false)).await;
    assert_eq!(ask(get(course)).await, (false, "course".into()));
    assert_eq!(ask(get(sibling)).await, (true, "org".into()));
    set("*", json!(false)).await;
    assert_eq!(ask(get(harvard)).await, (false, "instance".into()));
    // Clearing a value hands the decision up.
    set(course, Value::Null).await;
    assert_eq!(ask(get(course)).await, (true, "org".into()));

    // Reading needs a token; setting needs an admin; bad names and scopes are refused.
    server
        .anonymous()
        .get(&get(course))
        .await
        .expect(401, "missing_token");
    server
        .as_user("mallory")
        .put(path, json!({ "scope": "*", "enabled": true }))
        .await
        .expect(403, "forbidden");
    server
        .as_user("x")
        .get("/api/v1/flags/nope?scope=*")
        .await
        .expect(404, "unknown_flag");
    server
        .as_user("x")
        .get(&get("lib:MITx:python"))
        .await
        .expect(400, "invalid_flag_scope");
    assert_eq!(ask(get(course)).await, (true, "org".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compatibility_view_answers_legacy_rows_where_the_flag_is_on() {
    let server = start().await;
    let db = every_role_db().await;
    run(&server, migrate(&db, json!({}))).await;
    let path = |query: &str| format!("/api/v1/legacy/course-access-roles?{query}");
    let course = format!("course_id={}", enc(LEGACY_COURSE));

    // Off (the default): the legacy tables decide; Provost says so and lists nothing.
    let off = server.as_admin().get(&path(&course)).await.ok();
    assert_eq!(off.body["source"], "legacy");
    assert_eq!(off.body["items"], json!([]));

    let flag = json!({ "scope": "org:MITx", "enabled": true });
    server
        .as_admin()
        .put("/api/v1/flags/authz.enable_course_authoring", flag)
        .await
        .ok();
    let on = server.as_admin().get(&path(&course)).await.ok();
    assert_eq!(on.body["source"], "provost");
    let rows: Vec<(String, String)> = on.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            assert_eq!(
                (&r["org"], &r["course_id"]),
                (&json!("MITx"), &json!(LEGACY_COURSE))
            );
            (
                r["username"].as_str().unwrap_or_default().to_owned(),
                r["role"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = MAPPED_ROLES
        .iter()
        .map(|r| ("ada".to_owned(), (*r).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(rows, expected);
    // The org's view has the org-wide rows too.
    let org = server.as_admin().get(&path("org=MITx&user=bob")).await.ok();
    assert_eq!(org.body["items"].as_array().map(Vec::len), Some(6));
    assert!(org.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|r| r["course_id"] == ""));

    // Who may ask: the course's team managers, and anyone about themself; nobody else, and a
    // manager of another org's courses not about this one.
    server
        .as_user("ada")
        .get(&path(&format!("{course}&user=ada")))
        .await
        .ok();
    server
        .as_user("mallory")
        .get(&path(&course))
        .await
        .expect(403, "forbidden");
    server
        .as_user("eve_of_harvard")
        .get(&path(&course))
        .await
        .expect(403, "forbidden");
    server
        .assign(json!([
            { "subject": "hanna", "role": "course_admin", "scope": "org:HarvardX" },
            { "subject": "mia", "role": "course_admin", "scope": "org:MITx" },
        ]))
        .await;
    server
        .as_user("hanna")
        .get(&path(&course))
        .await
        .expect(403, "forbidden");
    server
        .as_user("hanna")
        .get(&path("org=MITx"))
        .await
        .expect(403, "forbidden");
    server.as_user("mia").get(&path(&course)).await.ok();
    server.as_user("mia").get(&path("org=MITx")).await.ok();
    server
        .as_admin()
        .get(&path(""))
        .await
        .expect(422, "one_scope_required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_course_kept_off_by_its_own_flag_value_is_skipped_both_ways() {
    let server = start().await;
    let db = every_role_db().await;
    let flag = json!({ "scope": LEGACY_COURSE, "enabled": false });
    server
        .as_admin()
        .put("/api/v1/flags/authz.enable_course_authoring", flag)
        .await
        .ok();
    let first = run(&server, migrate(&db, json!({}))).await;
    // The course's own rows stay with the legacy tables; the org-wide ones move.
    assert_eq!(counts(&first)["skipped_for_flag_override"], 6);
    assert_eq!(counts(&first)["migrated"], 7);
    assert!(assignments(&server)
        .iter()
        .all(|(_, _, scope)| scope != LEGACY_COURSE));

    // Forced on for a course, its roles are not rolled back.
    let on = json!({ "scope": OTHER_COURSE, "enabled": true });
    server
        .as_admin()
        .put("/api/v1/flags/authz.enable_course_authoring", on)
        .await
        .ok();
    let empty = TestMysql::create().await;
    empty
        .load(&LegacyFixture {
            users: LegacyFixture::every_role().users,
            ..LegacyFixture::default()
        })
        .await;
    let back = run(&server, rollback(&empty, json!({}))).await;
    expect_counts(
        &back,
        &[("written_back", 6), ("skipped_for_flag_override", 1)],
    );
}
