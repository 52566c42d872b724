//! The programs app: creating, reading, changing and listing programs, who may do each, and
//! the program roles held at a program or at its org.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{start, Answer, TestServer};

/// A program body: `key` of `type` under `orgs`.
pub fn program(key: &str, program_type: &str, orgs: &[&str]) -> Value {
    json!({ "key": key, "title": format!("Program {key}"), "type": program_type, "orgs": orgs })
}

/// Creates a program as admin; panics unless it was created.
pub async fn create(server: &TestServer, key: &str, program_type: &str, orgs: &[&str]) -> Value {
    let body = program(key, program_type, orgs);
    server
        .as_admin()
        .post("/api/v1/programs", body)
        .await
        .expect_status(201)
        .body
}

/// Assigns as admin: `subject` gets `role` at `scope`.
pub async fn grant(server: &TestServer, subject: &str, role: &str, scope: &str) {
    server
        .assign(json!([{ "subject": subject, "role": role, "scope": scope }]))
        .await;
}

async fn patch(server: &TestServer, user: &str, path: &str, body: Value) -> Answer {
    server
        .as_user(user)
        .send(Method::PATCH, path, Some(body))
        .await
}

fn keys(answer: &Answer) -> Vec<String> {
    answer.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["key"].as_str().expect("key").to_owned())
        .collect()
}

#[tokio::test]
async fn a_created_program_is_registered_under_its_orgs_with_its_row() {
    let server = start().await;
    let created = create(&server, "mit-ds", "masters", &["MITx", "org:HarvardX"]).await;
    assert_eq!(created["orgs"], json!(["MITx", "HarvardX"]));
    assert_eq!(created["type"], "masters");
    assert!(created["uuid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(created["revision"].as_u64().is_some());
    // An org-level reader of either org reaches it: the registration came with the row.
    grant(&server, "hana", "program_read_metadata", "org:HarvardX").await;
    let read = server
        .as_user("hana")
        .get("/api/v1/programs/mit-ds/")
        .await
        .ok();
    assert_eq!(read.body["title"], "Program mit-ds");
    assert_eq!(read.body["permissions"], json!(["read_metadata"]));
    // Someone with no role there reads nothing, and nobody reads a program that is not there.
    server
        .as_user("eve")
        .get("/api/v1/programs/mit-ds")
        .await
        .expect(403, "forbidden");
    server
        .as_user("hana")
        .get("/api/v1/programs/nothing")
        .await
        .expect(404, "unknown_program");
    let audit = server.as_admin().get("/api/v1/audit").await.ok();
    assert!(audit.text.contains("program_create"), "{}", audit.text);
}

#[tokio::test]
async fn bad_programs_are_refused_and_change_nothing() {
    let server = start().await;
    let admin = server.as_admin();
    let cases = [
        (
            program("has space", "masters", &["MITx"]),
            400,
            "invalid_program_key",
        ),
        (
            program(&"k".repeat(248), "masters", &["MITx"]),
            400,
            "invalid_program_key",
        ),
        (program("p1", "masters", &[]), 400, "invalid_program"),
        (program("p1", "masters", &["MIT x"]), 400, "invalid_program"),
        (
            program("p1", "doctorate", &["MITx"]),
            422,
            "unknown_program_type",
        ),
        (
            json!({ "key": "p1", "title": "", "type": "masters", "orgs": ["MITx"] }),
            400,
            "invalid_program",
        ),
        (
            json!({ "key": "p1", "title": "t", "type": "masters", "orgs": ["MITx"], "uuid": "nope" }),
            400,
            "invalid_program",
        ),
        (
            json!({ "key": "p1", "title": "t", "type": "masters", "orgs": ["MITx"], "curriculum": ["MITx+1"] }),
            400,
            "invalid_program",
        ),
        (
            json!({ "key": "p1", "title": "t", "type": "masters", "orgs": ["MITx"], "extra": 1 }),
            400,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        admin
            .post("/api/v1/programs", body)
            .await
            .expect(status, code);
    }
    let listed = admin.get("/api/v1/programs").await.ok();
    assert_eq!(keys(&listed), Vec::<String>::new());
    // Nor was `program:p1` registered: the row and the registration go together or not at all.
    grant(&server, "mia", "program_read_metadata", "org:MITx").await;
    assert!(
        !server
            .allows("mia", "programs.read_metadata", "program:p1")
            .await
    );
    create(&server, "p1", "masters", &["MITx"]).await;
    admin
        .post(
            "/api/v1/programs/",
            program("p1", "micromasters", &["HarvardX"]),
        )
        .await
        .expect(409, "program_exists");
    let read = admin.get("/api/v1/programs/p1").await.ok();
    assert_eq!(
        (read.body["type"].clone(), read.body["orgs"].clone()),
        (json!("masters"), json!(["MITx"]))
    );
}

#[tokio::test]
async fn an_org_program_manager_creates_there_and_nowhere_else() {
    let server = start().await;
    grant(&server, "mo", "program_admin", "org:MITx").await;
    let mo = server.as_user("mo");
    let created = mo
        .post("/api/v1/programs", program("mit-1", "masters", &["MITx"]))
        .await
        .expect_status(201);
    assert_eq!(
        created.body["permissions"].as_array().map(Vec::len),
        Some(5)
    );
    mo.post(
        "/api/v1/programs",
        program("hx-1", "masters", &["HarvardX"]),
    )
    .await
    .expect(403, "forbidden");
    mo.post(
        "/api/v1/programs",
        program("joint", "masters", &["MITx", "HarvardX"]),
    )
    .await
    .expect(403, "forbidden");
    // A program-level reader may not create, even in the org of their program.
    grant(&server, "rita", "program_read_reports", "org:MITx").await;
    server
        .as_user("rita")
        .post("/api/v1/programs", program("mit-2", "masters", &["MITx"]))
        .await
        .expect(403, "forbidden");
    let listed = server.as_admin().get("/api/v1/programs").await.ok();
    assert_eq!(keys(&listed), vec!["mit-1"]);
}

#[tokio::test]
async fn moving_a_program_needs_the_old_and_the_new_orgs() {
    let server = start().await;
    create(&server, "p1", "masters", &["MITx"]).await;
    grant(&server, "mo", "program_admin", "org:MITx").await;
    grant(&server, "hana", "program_read_metadata", "org:HarvardX").await;
    grant(&server, "mia", "program_read_metadata", "org:MITx").await;
    // Managing MITx's programs is not enough to hand one to HarvardX (it would widen who
    // reaches it), nor is managing HarvardX's enough to take one from MITx.
    patch(
        &server,
        "mo",
        "/api/v1/programs/p1",
        json!({ "orgs": ["HarvardX"] }),
    )
    .await
    .expect(403, "forbidden");
    grant(&server, "hugo", "program_admin", "org:HarvardX").await;
    patch(
        &server,
        "hugo",
        "/api/v1/programs/p1",
        json!({ "orgs": ["HarvardX"] }),
    )
    .await
    .expect(403, "forbidden");
    server
        .as_user("hana")
        .get("/api/v1/programs/p1")
        .await
        .expect(403, "forbidden");
    // Changing the title is managing the program: fine for its org's manager.
    let renamed = patch(
        &server,
        "mo",
        "/api/v1/programs/p1/",
        json!({ "title": "Data" }),
    )
    .await
    .ok();
    assert_eq!(renamed.body["title"], "Data");
    // Someone managing both moves it: HarvardX's readers now reach it, MITx's no longer do.
    grant(&server, "mo", "program_admin", "org:HarvardX").await;
    let moved = patch(
        &server,
        "mo",
        "/api/v1/programs/p1",
        json!({ "orgs": ["HarvardX"] }),
    )
    .await
    .ok();
    assert_eq!(moved.body["orgs"], json!(["HarvardX"]));
    server.as_user("hana").get("/api/v1/programs/p1").await.ok();
    server
        .as_user("mia")
        .get("/api/v1/programs/p1")
        .await
        .expect(403, "forbidden");
    // Readers change nothing, and unknown types are refused.
    patch(
        &server,
        "hana",
        "/api/v1/programs/p1",
        json!({ "title": "Mine" }),
    )
    .await
    .expect(403, "forbidden");
    patch(
        &server,
        "mo",
        "/api/v1/programs/p1",
        json!({ "type": "doctorate" }),
    )
    .await
    .expect(422, "unknown_program_type");
    patch(
        &server,
        "mo",
        "/api/v1/programs/none",
        json!({ "title": "x" }),
    )
    .await
    .expect(404, "unknown_program");
}

#[tokio::test]
async fn the_listing_shows_what_the_caller_holds_from_one_lookup() {
    let server = start().await;
    create(&server, "mit-a", "masters", &["MITx"]).await;
    create(&server, "mit-b", "micromasters", &["MITx"]).await;
    create(&server, "hx-a", "masters", &["HarvardX"]).await;
    create(&server, "hx-b", "professional_certificate", &["HarvardX"]).await;
    grant(&server, "rita", "program_read_reports", "org:MITx").await;
    grant(&server, "rita", "program_read_enrollments", "program:hx-a").await;
    let rita = server.as_user("rita");

    let all = rita.get("/api/v1/programs/").await.ok();
    assert_eq!(keys(&all), vec!["hx-a", "mit-a", "mit-b"]);
    assert_eq!(
        all.body["items"][0]["permissions"],
        json!(["read_enrollments", "read_metadata"])
    );
    assert_eq!(
        all.body["items"][1]["permissions"],
        json!(["read_metadata", "read_reports"])
    );
    let reports = rita
        .get("/api/v1/programs?user_has_perm=read_reports")
        .await
        .ok();
    assert_eq!(keys(&reports), vec!["mit-a", "mit-b"]);
    let enrollments = rita
        .get("/api/v1/programs?user_has_perm=read_enrollments")
        .await
        .ok();
    assert_eq!(keys(&enrollments), vec!["hx-a"]);
    let writes = rita
        .get("/api/v1/programs?user_has_perm=write_enrollments")
        .await
        .ok();
    assert_eq!(keys(&writes), Vec::<String>::new());
    let typed = rita.get("/api/v1/programs?type=masters").await.ok();
    assert_eq!(keys(&typed), vec!["hx-a", "mit-a"]);
    let by_org = rita.get("/api/v1/programs?org=HarvardX").await.ok();
    assert_eq!(keys(&by_org), vec!["hx-a"]);
    let titled = rita
        .get("/api/v1/programs?program_title=PROGRAM%20MIT-")
        .await
        .ok();
    assert_eq!(keys(&titled), vec!["mit-a", "mit-b"]);

    rita.get("/api/v1/programs?user_has_perm=manage_everything")
        .await
        .expect(404, "unknown_permission");
    rita.get("/api/v1/programs?org=Nowhere")
        .await
        .expect(404, "unknown_org");
    rita.get("/api/v1/programs?type=doctorate")
        .await
        .expect(404, "unknown_program_type");
    rita.get("/api/v1/programs?limit=0")
        .await
        .expect(400, "invalid_limit");

    // Pages walk the same list.
    let mut seen = Vec::new();
    let mut path = "/api/v1/programs?limit=2".to_owned();
    loop {
        let page = rita.get(&path).await.ok();
        seen.extend(keys(&page));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/programs?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, vec!["hx-a", "mit-a", "mit-b"]);
    // Roles a token carries count in the listing as they count in checks.
    let token = server.token_with(provost_server::TokenSpec {
        username: "tom".into(),
        roles: vec!["program_read_reports:org:HarvardX".into()],
        ttl: std::time::Duration::from_secs(600),
        ..provost_server::TokenSpec::default()
    });
    let tom = server
        .with_token(&token)
        .get("/api/v1/programs?user_has_perm=read_reports")
        .await
        .ok();
    assert_eq!(keys(&tom), vec!["hx-a", "hx-b"]);
    server
        .with_token(&token)
        .get("/api/v1/programs/hx-b")
        .await
        .ok();
    // Nobody sees a program they hold nothing on.
    let eve = server.as_user("eve").get("/api/v1/programs").await.ok();
    assert_eq!(keys(&eve), Vec::<String>::new());
}

#[tokio::test]
async fn program_roles_never_combine_reports_and_enrollments() {
    let server = start().await;
    for role in [
        "program_read_metadata",
        "program_read_enrollments",
        "program_read_write_enrollments",
        "program_read_reports",
    ] {
        let view = server
            .as_admin()
            .get(&format!("/api/v1/roles/{role}"))
            .await
            .ok();
        let closure = view.text;
        assert!(
            closure.contains("programs.read_metadata"),
            "{role}: {closure}"
        );
        assert!(
            !(closure.contains("programs.read_reports")
                && closure.contains("programs.read_enrollments")),
            "{role} grants both: {closure}"
        );
    }
    create(&server, "p1", "masters", &["MITx"]).await;
    grant(&server, "rita", "program_read_reports", "org:MITx").await;
    grant(
        &server,
        "will",
        "program_read_write_enrollments",
        "org:MITx",
    )
    .await;
    server
        .as_user("rita")
        .get("/api/v1/programs/p1/enrollments")
        .await
        .expect(403, "forbidden");
    server
        .as_user("will")
        .get("/api/v1/programs/p1/reports")
        .await
        .expect(403, "forbidden");
}

#[tokio::test]
async fn explain_says_whether_the_program_or_its_org_decided() {
    let server = start().await;
    create(&server, "p1", "masters", &["MITx"]).await;
    grant(&server, "olga", "program_read_reports", "org:MITx").await;
    grant(&server, "pia", "program_read_reports", "program:p1").await;
    let ask = |subject: &str| json!({ "subject": subject, "action": "programs.read_reports", "scope": "program:p1" });
    let via_org = server
        .as_admin()
        .post("/api/v1/check?explain=true", ask("olga"))
        .await
        .ok();
    assert_eq!(via_org.body["allowed"], true);
    assert_eq!(via_org.body["because"][0]["held_at"], "org:MITx");
    assert_eq!(via_org.body["because"][0]["inherited"], true);
    let via_program = server
        .as_admin()
        .post("/api/v1/check?explain=true", ask("pia"))
        .await
        .ok();
    assert_eq!(via_program.body["because"][0]["held_at"], "program:p1");
    assert_eq!(via_program.body["because"][0]["inherited"], false);
}

#[tokio::test]
async fn a_program_scope_registered_before_is_moved_not_taken() {
    let server = start().await;
    // The operator registered `program:p9` under HarvardX before the programs app existed.
    let operator = provost_server::access::Actor::operator();
    provost_server::access::register_scope(
        &server.node,
        &operator,
        "program:p9",
        &["org:HarvardX".into()],
    )
    .await
    .expect("registered");
    grant(&server, "hana", "program_read_metadata", "org:HarvardX").await;
    grant(&server, "mo", "program_admin", "org:MITx").await;
    // Creating it under MITx would take it from HarvardX: MITx's manager alone may not.
    server
        .as_user("mo")
        .post("/api/v1/programs", program("p9", "masters", &["MITx"]))
        .await
        .expect(403, "forbidden");
    assert!(
        server
            .allows("hana", "programs.read_metadata", "program:p9")
            .await
    );
    grant(&server, "mo", "program_admin", "org:HarvardX").await;
    server
        .as_user("mo")
        .post("/api/v1/programs", program("p9", "masters", &["MITx"]))
        .await
        .expect_status(201);
    assert!(
        !server
            .allows("hana", "programs.read_metadata", "program:p9")
            .await
    );
}
