//! The batches app through HTTP in Sunbird's envelope: create, read, update with membership as
//! role assignments, search, participants, enrolment, and every Sunbird key they answer.

use chrono::{Days, NaiveDate, Utc};
use provost_engine::{Assignment, Change, ScopeRegistration};
use provost_store::batches::{self as rows, BatchRow};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{enc, start, Answer, TestServer, COURSE};

const OTHER_COURSE: &str = "course-v1:HarvardX+CS50+2024";

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// `today` moved by `days` (negative: the past), as `yyyy-MM-dd`.
fn day(days: i64) -> String {
    let today = today();
    let date = if days >= 0 {
        today.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        today.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    date.expect("date").format("%Y-%m-%d").to_string()
}

/// A server with users and course roles: `cora` course staff and `carl` course admin on
/// `COURSE`, `dana` course staff on another course; `mona`, `max`, `pat`, `pia`, `eve` plain users.
async fn server() -> TestServer {
    let server = start().await;
    for user in ["cora", "carl", "dana", "mona", "max", "pat", "pia", "eve"] {
        server
            .as_admin()
            .put(&format!("/api/v1/users/{user}"), json!({}))
            .await
            .ok();
    }
    server
        .assign(json!([
            { "subject": "cora", "role": "course_staff", "scope": COURSE },
            { "subject": "carl", "role": "course_admin", "scope": COURSE },
            { "subject": "dana", "role": "course_staff", "scope": OTHER_COURSE },
        ]))
        .await;
    server
}

/// Asserts a refusal in Sunbird's envelope: the status, the key in `params.err` and
/// `params.status`, the response code of that status, a message, an empty result.
#[track_caller]
fn refused(answer: Answer, status: u16, key: &str) -> Answer {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.text);
    let body = &answer.body;
    assert_eq!(body["params"]["err"], key, "{}", answer.text);
    assert_eq!(body["params"]["status"], key, "{}", answer.text);
    let code = match status {
        401 | 403 => "UNAUTHORIZED",
        404 => "RESOURCE_NOT_FOUND",
        s if s >= 500 => "SERVER_ERROR",
        _ => "CLIENT_ERROR",
    };
    assert_eq!(body["responseCode"], code, "{}", answer.text);
    assert!(body["params"]["errmsg"].is_string(), "{}", answer.text);
    assert_eq!(body["result"], json!({}), "{}", answer.text);
    assert_eq!(body["ver"], "v1");
    answer
}

/// Asserts a success in Sunbird's envelope and returns its `result`.
#[track_caller]
fn success(answer: Answer) -> Value {
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
    let body = &answer.body;
    assert_eq!(body["responseCode"], "OK", "{}", answer.text);
    assert_eq!(body["params"]["status"], "success");
    assert!(body["params"]["err"].is_null());
    assert!(body["id"].as_str().is_some_and(|id| id.starts_with("api.")));
    assert!(body["ts"].is_string());
    body["result"].clone()
}

async fn create(server: &TestServer, user: &str, batch: Value) -> Answer {
    server
        .as_user(user)
        .post("/v1/course/batch/create", json!({ "request": batch }))
        .await
}

async fn update(server: &TestServer, user: &str, batch: Value) -> Answer {
    server
        .as_user(user)
        .send(
            Method::PATCH,
            "/v1/course/batch/update",
            Some(json!({ "request": batch })),
        )
        .await
}

async fn read(server: &TestServer, user: &str, id: &str) -> Answer {
    server
        .as_user(user)
        .get(&format!("/v1/course/batch/read/{id}"))
        .await
}

async fn participants(server: &TestServer, user: &str, id: &str) -> Answer {
    let body = json!({ "request": { "batch": { "batchId": id } } });
    server
        .as_user(user)
        .post("/v1/batch/participants/list", body)
        .await
}

async fn enrol(server: &TestServer, user: &str, path: &str, id: &str, course: &str) -> Answer {
    let body = json!({ "request": { "courseId": course, "batchId": id, "userId": user } });
    server.as_user(user).post(path, body).await
}

/// An invite-only batch starting tomorrow, created by `cora` with these lists; its id.
async fn invite_only(server: &TestServer, mentors: &[&str], participants: &[&str]) -> String {
    let batch = json!({
        "courseId": COURSE, "name": "Evening cohort", "enrollmentType": "invite-only",
        "startDate": day(1), "endDate": day(30), "mentors": mentors, "participants": participants,
    });
    let result = success(create(server, "cora", batch).await);
    assert_eq!(result["response"], "SUCCESS");
    result["batchId"].as_str().expect("batchId").to_owned()
}

async fn open_batch(server: &TestServer) -> String {
    let batch = json!({
        "courseId": COURSE, "name": "Open cohort", "enrollmentType": "open",
        "startDate": day(0), "endDate": day(30), "enrollmentEndDate": day(10),
    });
    let result = success(create(server, "cora", batch).await);
    result["batchId"].as_str().expect("batchId").to_owned()
}

/// Who the engine says may do `action` at the batch (`provost who`'s answer).
async fn who(server: &TestServer, action: &str, id: &str) -> Vec<String> {
    let path = format!(
        "/api/v1/lookup/subjects?action={action}&scope={}",
        enc(&format!("batch:{id}"))
    );
    let answer = server.as_admin().get(&path).await.ok();
    let items = answer.body["items"].as_array().expect("items").clone();
    items
        .into_iter()
        .map(|v| v.as_str().expect("name").to_owned())
        .collect()
}

/// A batch written straight to the store (as if made weeks ago), registered under `COURSE`,
/// created by `cora`: the past dates the API would refuse today.
async fn stored_batch(server: &TestServer, id: &str, kind: &str, dates: [Option<String>; 3]) {
    let [start, end, enrollment_end] = dates;
    let row = BatchRow {
        id: id.into(),
        course_id: COURSE.into(),
        name: "Past cohort".into(),
        description: None,
        enrollment_type: kind.into(),
        start_date: start.expect("a start"),
        end_date: end,
        enrollment_end_date: enrollment_end,
        created_for: "[]".into(),
        created_by: "cora".into(),
        created_date: "2026-01-01T00:00:00.000Z".into(),
        updated_date: None,
    };
    let scope = format!("batch:{id}");
    server
        .node
        .write("setup", |tx| {
            Box::pin(async move {
                rows::insert(tx.conn(), &row).await?;
                let registration = ScopeRegistration {
                    scope: scope.clone(),
                    parents: vec![COURSE.into()],
                };
                tx.apply(&Change::ScopeRegister { registration }).await?;
                let assignment = Assignment::new("cora", "batch_admin", &scope);
                tx.apply(&Change::AssignmentAdd { assignment }).await?;
                Ok::<_, provost_server::Error>(())
            })
        })
        .await
        .expect("stored");
}

#[tokio::test]
async fn batch_routes_answer_in_sunbirds_envelope() {
    let server = server().await;
    // No token: 401 in the envelope, Sunbird's key.
    let answer = server
        .anonymous()
        .post("/v1/course/batch/create", json!({ "request": {} }))
        .await;
    refused(answer, 401, "UNAUTHORIZED_USER");
    let answer = server.anonymous().get("/v1/course/batch/read/1").await;
    refused(answer, 401, "UNAUTHORIZED_USER");
    // Unknown batch: 404.
    refused(
        read(&server, "cora", "0123").await,
        404,
        "INVALID_COURSE_BATCH_ID",
    );
    let answer = read(&server, "cora", "01%0023").await;
    refused(answer, 404, "INVALID_COURSE_BATCH_ID");
    // Not JSON, and no `request`.
    let answer = server
        .as_user("cora")
        .raw(
            Method::POST,
            "/v1/course/batch/search",
            Some("application/json"),
            b"{".to_vec(),
        )
        .await;
    refused(answer, 400, "MALFORMED_JSON");
    let answer = server
        .as_user("cora")
        .post("/v1/course/batch/create", json!({}))
        .await;
    refused(answer, 400, "MANDATORY_PARAMETER_MISSING");

    // Sunbird's own header carries the same token; its `Authorization` is the gateway's key.
    let token = server.token("cora");
    let batch = json!({ "request": {
        "courseId": COURSE, "name": "Morning", "enrollmentType": "open", "startDate": day(1),
    }});
    let response = server
        .client
        .post(format!("{}/v1/course/batch/create", server.base))
        .header("authorization", "Bearer gateway-api-key")
        .header("x-authenticated-user-token", &token)
        .json(&batch)
        .send()
        .await
        .expect("sent");
    let answer = Answer::from(response).await;
    let id = success(answer)["batchId"].as_str().expect("id").to_owned();
    // A bad token there is refused like a bad bearer token.
    let response = server
        .client
        .get(format!("{}/v1/course/batch/read/{id}", server.base))
        .header("authorization", format!("Bearer {token}"))
        .header("x-authenticated-user-token", "not-a-token")
        .send()
        .await
        .expect("sent");
    refused(Answer::from(response).await, 401, "UNAUTHORIZED_USER");
    let read = success(read(&server, "eve", &id).await);
    assert_eq!(read["response"]["createdBy"], "cora");
    assert_eq!(read["response"]["status"], 0);
}

#[tokio::test]
async fn the_creator_mentors_and_participants_hold_their_batch_roles() {
    let server = server().await;
    let batch = json!({
        "courseId": COURSE, "name": "Evening cohort", "description": "weekday evenings",
        "enrollmentType": "Invite-Only", "startDate": day(0), "endDate": day(30),
        "enrollmentEndDate": day(10), "createdFor": ["0123"], "mentors": ["mona", "mona"],
        "participants": ["pat"], "status": 2,
    });
    let id = success(create(&server, "cora", batch).await)["batchId"]
        .as_str()
        .expect("id")
        .to_owned();
    let view = success(read(&server, "pat", &id).await)["response"].clone();
    assert_eq!(view["enrollmentType"], "invite-only");
    assert_eq!(view["mentors"], json!(["mona"]));
    assert_eq!(view["createdFor"], json!(["0123"]));
    assert_eq!(view["courseId"], COURSE);
    // Status comes from the dates (started today), never from the body.
    assert_eq!(view["status"], 1);
    assert_eq!(view["startDate"], day(0));

    let editors = who(&server, "batches.edit", &id).await;
    for editor in ["cora", "carl", "mona"] {
        assert!(
            editors.contains(&editor.to_owned()),
            "{editor}: {editors:?}"
        );
    }
    for outsider in ["pat", "eve", "dana"] {
        assert!(
            !editors.contains(&outsider.to_owned()),
            "{outsider}: {editors:?}"
        );
    }
    assert!(
        server
            .allows("pat", "batches.view", &format!("batch:{id}"))
            .await
    );
    // An invite-only batch is hidden from outsiders.
    refused(read(&server, "eve", &id).await, 401, "UNAUTHORIZED_USER");
    let list = success(participants(&server, "mona", &id).await);
    assert_eq!(
        list["batch"],
        json!({ "count": 1, "participants": ["pat"] })
    );
    refused(
        participants(&server, "pat", &id).await,
        401,
        "UNAUTHORIZED_USER",
    );
}

#[tokio::test]
async fn create_answers_sunbirds_keys_and_changes_nothing() {
    let server = server().await;
    let before = server.revision().await;
    let base = json!({
        "courseId": COURSE, "name": "Cohort", "enrollmentType": "invite-only",
        "startDate": day(1), "endDate": day(20),
    });
    let with = |field: &str, value: Value| {
        let mut batch = base.clone();
        batch[field] = value;
        batch
    };
    let without = |field: &str| {
        let mut batch = base.clone();
        batch.as_object_mut().expect("object").remove(field);
        batch
    };
    let cases = [
        (without("courseId"), "MANDATORY_PARAMETER_MISSING"),
        (without("name"), "MANDATORY_PARAMETER_MISSING"),
        (without("enrollmentType"), "MANDATORY_PARAMETER_MISSING"),
        (without("startDate"), "MANDATORY_PARAMETER_MISSING"),
        (with("name", json!("  ")), "MANDATORY_PARAMETER_MISSING"),
        (
            with("enrollmentType", json!("closed")),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            with("courseId", json!("do_1131396442662912001425")),
            "INVALID_PARAMETER_VALUE",
        ),
        (with("startDate", json!("2030-1-5")), "DATE_FORMAT_ERRROR"),
        (with("endDate", json!("31/12/2030")), "DATE_FORMAT_ERRROR"),
        (
            with("enrollmentEndDate", json!("2030-02-30")),
            "DATE_FORMAT_ERRROR",
        ),
        (
            with("startDate", json!(day(-1))),
            "COURSE_BATCH_START_DATE_INVALID",
        ),
        (with("endDate", json!(day(1))), "END_DATE_ERROR"),
        (
            with("enrollmentEndDate", json!(day(0))),
            "ENROLLMENT_END_DATE_START_ERROR",
        ),
        (
            with("enrollmentEndDate", json!(day(21))),
            "ENROLLMENT_END_DATE_END_ERROR",
        ),
        (
            with("name", json!("Cohort\u{0}")),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            with("createdFor", json!(["\u{0}"])),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            with("participants", json!(vec!["pat"; 1001])),
            "TOO_MANY_ITEMS",
        ),
        (with("mentors", json!(["ghost"])), "INVALID_USER_ID"),
        (
            with("participants", json!(["pat", "no body"])),
            "INVALID_USER_ID",
        ),
    ];
    for (batch, key) in cases {
        let answer = create(&server, "cora", batch.clone()).await;
        assert_eq!(
            answer.body["params"]["err"], key,
            "{batch}: {}",
            answer.text
        );
        refused(answer, 400, key);
    }
    let mut open = with("enrollmentType", json!("open"));
    open["mentors"] = json!(["mona"]);
    let answer = refused(
        create(&server, "cora", open).await,
        400,
        "ENROLLMENT_TYPE_VALIDATION",
    );
    assert_eq!(
        answer.body["params"]["errmsg"],
        "Enrollment type should be invite-only."
    );
    let mut open = with("enrollmentType", json!("OPEN"));
    open["participants"] = json!(["pat"]);
    refused(
        create(&server, "cora", open).await,
        400,
        "ENROLLMENT_TYPE_VALIDATION",
    );
    assert_eq!(
        server.revision().await,
        before,
        "a refused create wrote something"
    );
}

#[tokio::test]
async fn only_course_roles_create_and_only_on_their_course() {
    let server = server().await;
    let batch = |course: &str| json!({ "courseId": course, "name": "Cohort", "enrollmentType": "open", "startDate": day(1) });
    let before = server.revision().await;
    for (user, course) in [
        ("eve", COURSE),
        ("mona", COURSE),
        ("dana", COURSE),
        ("cora", OTHER_COURSE),
    ] {
        let answer = create(&server, user, batch(course)).await;
        let answer = refused(answer, 401, "UNAUTHORIZED_USER");
        assert_eq!(answer.body["params"]["errmsg"], "You are not authorized.");
    }
    assert_eq!(server.revision().await, before);
    success(create(&server, "dana", batch(OTHER_COURSE)).await);
    success(create(&server, "carl", batch(COURSE)).await);
}

#[tokio::test]
async fn mentors_edit_until_removed_and_participants_never() {
    let server = server().await;
    let id = invite_only(&server, &["mona", "max"], &["pat"]).await;
    let rename = |name: &str| json!({ "id": id, "courseId": COURSE, "name": name });

    let result = success(update(&server, "mona", rename("Mona's cohort")).await);
    assert_eq!(result["response"], "SUCCESS");
    assert_eq!(result["mentors"], json!({ "added": [], "removed": [] }));
    refused(
        update(&server, "pat", rename("Pat's cohort")).await,
        401,
        "UNAUTHORIZED_USER",
    );
    refused(
        update(&server, "eve", rename("Eve's cohort")).await,
        401,
        "UNAUTHORIZED_USER",
    );
    // A mentor edits the batch but does not manage its members.
    let grow = json!({ "id": id, "mentors": ["mona", "max", "eve"] });
    refused(
        update(&server, "mona", grow).await,
        401,
        "UNAUTHORIZED_USER",
    );

    // The creator replaces the mentors: mona removed, max kept; participants not sent, kept.
    let result = success(update(&server, "cora", json!({ "id": id, "mentors": ["max"] })).await);
    assert_eq!(
        result["mentors"],
        json!({ "added": [], "removed": ["mona"] })
    );
    assert_eq!(
        result["participants"],
        json!({ "added": [], "removed": [] })
    );
    refused(
        update(&server, "mona", rename("Still mine")).await,
        401,
        "UNAUTHORIZED_USER",
    );
    success(update(&server, "max", rename("Max's cohort")).await);
    let list = success(participants(&server, "cora", &id).await);
    assert_eq!(list["batch"]["participants"], json!(["pat"]));

    // Replace semantics on participants: added, kept, removed.
    let body = json!({ "id": id, "participants": ["pat", "pia"] });
    let result = success(update(&server, "cora", body).await);
    assert_eq!(
        result["participants"],
        json!({ "added": ["pia"], "removed": [] })
    );
    let body = json!({ "id": id, "participants": ["pia", "eve"] });
    let result = success(update(&server, "cora", body).await);
    assert_eq!(
        result["participants"],
        json!({ "added": ["eve"], "removed": ["pat"] })
    );
    let view = success(read(&server, "cora", &id).await)["response"].clone();
    assert_eq!(view["name"], "Max's cohort");
    assert_eq!(view["mentors"], json!(["max"]));
    let list = success(participants(&server, "max", &id).await);
    assert_eq!(
        list["batch"],
        json!({ "count": 2, "participants": ["eve", "pia"] })
    );
    assert!(
        !server
            .allows("pat", "batches.view", &format!("batch:{id}"))
            .await
    );
}

#[tokio::test]
async fn a_course_role_edits_every_batch_of_its_course_and_no_other() {
    let server = server().await;
    let first = invite_only(&server, &[], &[]).await;
    let second = open_batch(&server).await;
    for id in [&first, &second] {
        let body = json!({ "id": id, "description": "run by the course admin" });
        success(update(&server, "carl", body).await);
        let body = json!({ "id": id, "description": "another course's staff" });
        refused(
            update(&server, "dana", body).await,
            401,
            "UNAUTHORIZED_USER",
        );
    }
    // The course admin manages the batch's members too.
    let body = json!({ "id": first, "mentors": ["mona"], "participants": ["pat"] });
    let result = success(update(&server, "carl", body).await);
    assert_eq!(result["mentors"]["added"], json!(["mona"]));
    // Another course's staff cannot read an invite-only batch, nor list its participants.
    refused(
        read(&server, "dana", &first).await,
        401,
        "UNAUTHORIZED_USER",
    );
    refused(
        participants(&server, "dana", &first).await,
        401,
        "UNAUTHORIZED_USER",
    );
    // Unknown batches and wrong courses.
    let body = json!({ "id": "999", "name": "x" });
    refused(
        update(&server, "carl", body).await,
        404,
        "INVALID_COURSE_BATCH_ID",
    );
    let body = json!({ "id": first, "courseId": OTHER_COURSE, "name": "x" });
    refused(
        update(&server, "carl", body).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    refused(
        update(&server, "carl", json!({ "name": "x" })).await,
        400,
        "MANDATORY_PARAMETER_MISSING",
    );
}

#[tokio::test]
async fn update_keeps_sunbirds_date_and_type_rules() {
    let server = server().await;
    let id = invite_only(&server, &["mona"], &[]).await;
    let before = server.revision().await;
    let cases = [
        (json!({ "id": id, "endDate": day(1) }), "END_DATE_ERROR"),
        (
            json!({ "id": id, "startDate": day(-2) }),
            "COURSE_BATCH_START_DATE_INVALID",
        ),
        (
            json!({ "id": id, "startDate": "tomorrow" }),
            "DATE_FORMAT_ERRROR",
        ),
        (
            json!({ "id": id, "enrollmentEndDate": day(31) }),
            "ENROLLMENT_END_DATE_END_ERROR",
        ),
        (
            json!({ "id": id, "enrollmentType": "public" }),
            "INVALID_PARAMETER_VALUE",
        ),
        (json!({ "id": id, "mentors": ["ghost"] }), "INVALID_USER_ID"),
        // Open while it has mentors, or with lists sent: refused.
        (
            json!({ "id": id, "enrollmentType": "open" }),
            "ENROLLMENT_TYPE_VALIDATION",
        ),
        (
            json!({ "id": id, "enrollmentType": "open", "mentors": [], "participants": ["pat"] }),
            "ENROLLMENT_TYPE_VALIDATION",
        ),
    ];
    for (body, key) in cases {
        refused(update(&server, "cora", body).await, 400, key);
    }
    assert_eq!(server.revision().await, before);
    // Dropping the mentors while opening it is fine; a not-yet-started batch may move its start.
    let body = json!({ "id": id, "enrollmentType": "open", "mentors": [], "startDate": day(2) });
    let result = success(update(&server, "cora", body).await);
    assert_eq!(result["mentors"]["removed"], json!(["mona"]));
    let view = success(read(&server, "eve", &id).await)["response"].clone();
    assert_eq!(view["enrollmentType"], "open");
    assert_eq!(view["startDate"], day(2));
    assert!(view["updatedDate"].is_string());

    // A started batch keeps its start date.
    let started = [Some(day(-3)), Some(day(20)), None];
    stored_batch(&server, "started1", "invite-only", started).await;
    let body = json!({ "id": "started1", "startDate": day(1) });
    refused(
        update(&server, "cora", body).await,
        400,
        "INVALID_BATCH_START_DATE_ERROR",
    );
    success(
        update(
            &server,
            "cora",
            json!({ "id": "started1", "startDate": day(-3), "name": "Same start" }),
        )
        .await,
    );
}

#[tokio::test]
async fn a_closed_batch_takes_no_change() {
    let server = server().await;
    let dates = [Some(day(-30)), Some(day(-1)), None];
    stored_batch(&server, "closed1", "open", dates).await;
    let view = success(read(&server, "eve", "closed1").await)["response"].clone();
    assert_eq!(view["status"], 2);
    let before = server.revision().await;
    for body in [
        json!({ "id": "closed1", "name": "Reopened" }),
        json!({ "id": "closed1", "endDate": day(10) }),
    ] {
        let answer = refused(
            update(&server, "cora", body).await,
            400,
            "COURSE_BATCH_END_DATE_ERROR",
        );
        assert_eq!(answer.body["params"]["errmsg"], "Batch has been closed.");
    }
    let answer = enrol(&server, "eve", "/v1/course/enroll", "closed1", COURSE).await;
    refused(answer, 400, "COURSE_BATCH_ALREADY_COMPLETED");
    let answer = enrol(&server, "eve", "/v1/course/unenroll", "closed1", COURSE).await;
    refused(answer, 400, "COURSE_BATCH_ALREADY_COMPLETED");
    assert_eq!(server.revision().await, before);
    // Closed, it still shows up under its status.
    let search = json!({ "request": { "filters": { "courseId": COURSE, "status": [2] } } });
    let found = success(
        server
            .as_user("eve")
            .post("/v1/course/batch/search", search)
            .await,
    );
    assert_eq!(found["response"]["count"], 1);
    assert_eq!(found["response"]["content"][0]["id"], "closed1");
}

#[tokio::test]
async fn learners_enrol_in_open_batches_only() {
    let server = server().await;
    let id = open_batch(&server).await;
    for path in ["/v1/course/enroll", "/course/v1/enrol"] {
        let result = success(enrol(&server, "eve", path, &id, COURSE).await);
        assert_eq!(result["response"], "SUCCESS");
        let again = enrol(&server, "eve", path, &id, COURSE).await;
        refused(again, 400, "USER_ALREADY_ENROLLED_COURSE");
        let list = success(participants(&server, "cora", &id).await);
        assert_eq!(list["batch"]["participants"], json!(["eve"]));
        let unenrol = match path {
            "/v1/course/enroll" => "/v1/course/unenroll",
            _ => "/course/v1/unenrol",
        };
        success(enrol(&server, "eve", unenrol, &id, COURSE).await);
        refused(
            enrol(&server, "eve", unenrol, &id, COURSE).await,
            400,
            "USER_NOT_ENROLLED_COURSE",
        );
    }
    // Only oneself; the right course; a known batch.
    let body = json!({ "request": { "courseId": COURSE, "batchId": id, "userId": "pat" } });
    let answer = server.as_user("eve").post("/v1/course/enroll", body).await;
    refused(answer, 401, "UNAUTHORIZED_USER");
    refused(
        enrol(&server, "eve", "/v1/course/enroll", &id, OTHER_COURSE).await,
        404,
        "INVALID_COURSE_BATCH_ID",
    );
    refused(
        enrol(&server, "eve", "/v1/course/enroll", "nope", COURSE).await,
        404,
        "INVALID_COURSE_BATCH_ID",
    );
    let body = json!({ "request": { "batchId": id } });
    let answer = server.as_user("eve").post("/v1/course/enroll", body).await;
    refused(answer, 400, "MANDATORY_PARAMETER_MISSING");
    // Invite-only batches take the participants their managers add.
    let invite = invite_only(&server, &[], &["pat"]).await;
    let answer = enrol(&server, "eve", "/v1/course/enroll", &invite, COURSE).await;
    refused(answer, 400, "ENROLLMENT_TYPE_VALIDATION");
    let answer = enrol(&server, "pat", "/v1/course/enroll", &invite, COURSE).await;
    refused(answer, 400, "USER_ALREADY_ENROLLED_COURSE");
    // Past the enrollment end date, an open batch takes nobody new.
    let dates = [Some(day(-10)), Some(day(10)), Some(day(-1))];
    stored_batch(&server, "late1", "open", dates).await;
    let answer = enrol(&server, "eve", "/v1/course/enroll", "late1", COURSE).await;
    refused(answer, 400, "COURSE_BATCH_ENROLLMENT_DATE_ENDED");
}

#[tokio::test]
async fn search_needs_a_filter_and_shows_only_what_the_caller_may_read() {
    let server = server().await;
    let open = open_batch(&server).await;
    let invite = invite_only(&server, &["mona"], &["pat"]).await;
    let search = |user: &'static str, path: &'static str, request: Value| {
        let server = &server;
        async move {
            server
                .as_user(user)
                .post(path, json!({ "request": request }))
                .await
        }
    };
    for request in [json!({}), json!({ "filters": {} }), json!({ "limit": 5 })] {
        let answer = search("eve", "/v1/course/batch/search", request).await;
        refused(answer, 400, "MANDATORY_PARAMETER_MISSING");
    }
    let answer = search(
        "eve",
        "/v1/course/batch/search",
        json!({ "filters": { "status": 7 } }),
    )
    .await;
    refused(answer, 400, "INVALID_PARAMETER_VALUE");
    let nul = json!({ "filters": { "courseId": "course-v1:MITx+6.00x+2024T1\u{0}" } });
    let answer = search("eve", "/v1/course/batch/search", nul).await;
    refused(answer, 400, "INVALID_PARAMETER_VALUE");
    let by_course = json!({ "filters": { "courseId": COURSE } });
    let ids = |result: &Value| -> Vec<String> {
        let content = result["response"]["content"].as_array().expect("content");
        content
            .iter()
            .map(|b| b["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let eve = success(search("eve", "/v1/course/batch/search", by_course.clone()).await);
    assert_eq!(ids(&eve), vec![open.clone()]);
    assert_eq!(eve["response"]["count"], 1);
    for user in ["pat", "mona", "cora", "carl"] {
        let seen = success(search(user, "/course/v1/batch/list", by_course.clone()).await);
        assert_eq!(seen["response"]["count"], 2, "{user}");
    }
    let filters = json!({ "filters": { "courseId": [COURSE], "status": "0", "enrollmentType": "Invite-Only" } });
    let upcoming = success(search("cora", "/v1/course/batch/search", filters).await);
    assert_eq!(ids(&upcoming), vec![invite.clone()]);
    assert_eq!(
        upcoming["response"]["content"][0]["mentors"],
        json!(["mona"])
    );
    let page = json!({ "filters": { "createdBy": "cora" }, "limit": 1, "offset": 1 });
    let second = success(search("cora", "/v1/course/batch/search", page).await);
    assert_eq!(second["response"]["count"], 2);
    assert_eq!(ids(&second).len(), 1);
    let other = json!({ "filters": { "courseId": OTHER_COURSE } });
    let none = success(search("cora", "/v1/course/batch/search", other).await);
    assert_eq!(none["response"], json!({ "count": 0, "content": [] }));
}

#[tokio::test]
async fn batch_and_membership_changes_are_audited_with_their_actor() {
    let server = server().await;
    let id = invite_only(&server, &["mona"], &["pat"]).await;
    success(update(&server, "mona", json!({ "id": id, "name": "Renamed" })).await);
    success(update(&server, "cora", json!({ "id": id, "participants": [] })).await);
    let open = open_batch(&server).await;
    success(enrol(&server, "eve", "/v1/course/enroll", &open, COURSE).await);
    success(enrol(&server, "eve", "/v1/course/unenroll", &open, COURSE).await);
    let path = format!(
        "/api/v1/audit?scope={}&limit=100",
        enc(&format!("batch:{open}"))
    );
    let log = server.as_admin().get(&path).await.ok();
    let ops: Vec<(&str, &str)> = log.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["op"].as_str().expect("op"),
                e["actor"].as_str().expect("actor"),
            )
        })
        .collect();
    for op in [
        "batch_enrol",
        "assignment_add",
        "batch_unenrol",
        "assignment_remove",
    ] {
        assert!(ops.contains(&(op, "eve")), "{op}: {ops:?}");
    }

    let path = format!(
        "/api/v1/audit?scope={}&limit=100",
        enc(&format!("batch:{id}"))
    );
    let log = server.as_admin().get(&path).await.ok();
    let entries: Vec<(String, String, String)> = log.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            let subject = e["subject"]
                .as_str()
                .or_else(|| e["change"]["assignment"]["subject"].as_str())
                .or_else(|| e["change"]["subject"].as_str())
                .unwrap_or("-");
            (
                e["op"].as_str().expect("op").to_owned(),
                e["actor"].as_str().expect("actor").to_owned(),
                subject.to_owned(),
            )
        })
        .collect();
    let has = |op: &str, actor: &str, subject: &str| {
        entries
            .iter()
            .any(|e| (e.0.as_str(), e.1.as_str(), e.2.as_str()) == (op, actor, subject))
    };
    assert!(has("batch_create", "cora", "-"), "{entries:?}");
    assert!(has("scope_register", "cora", "-"), "{entries:?}");
    assert!(has("assignment_add", "cora", "cora"), "{entries:?}");
    assert!(has("assignment_add", "cora", "mona"), "{entries:?}");
    assert!(has("assignment_add", "cora", "pat"), "{entries:?}");
    assert!(has("batch_update", "mona", "-"), "{entries:?}");
    assert!(has("assignment_remove", "cora", "pat"), "{entries:?}");
    assert!(has("batch_update", "cora", "-"), "{entries:?}");
    let update = log.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["op"] == "batch_update" && e["actor"] == "mona")
        .expect("mona's update")
        .clone();
    assert_eq!(update["app"], "batches");
    assert_eq!(update["change"]["name"], "Renamed");
    assert_eq!(update["before"]["name"], "Evening cohort");
}
