//! Program and course-run enrollments in Registrar's shapes: Masters only, 25 students at most,
//! per-student answers (200/207/422, `duplicated`), CSV out and in, one write at a time.

use reqwest::Method;
use serde_json::{json, Value};

use crate::programs::{create, grant};
use crate::support::{start, Answer, TestServer, COURSE};

const ENROLLMENTS: &str = "/api/v1/programs/ms/enrollments";

fn items(pairs: &[(&str, &str)]) -> Value {
    json!(pairs
        .iter()
        .map(|(s, st)| json!({ "student_key": s, "status": st }))
        .collect::<Vec<_>>())
}

async fn send(server: &TestServer, user: &str, method: Method, path: &str, body: Value) -> Answer {
    server.as_user(user).send(method, path, Some(body)).await
}

/// A Masters program `ms` with `COURSE` in its curriculum, and `will` who writes enrollments.
async fn masters() -> TestServer {
    let server = start().await;
    let body = json!({ "key": "ms", "title": "MS", "type": "masters", "orgs": ["MITx"], "curriculum": [COURSE] });
    server
        .as_admin()
        .post("/api/v1/programs", body)
        .await
        .expect_status(201);
    grant(
        &server,
        "will",
        "program_read_write_enrollments",
        "org:MITx",
    )
    .await;
    server
}

#[tokio::test]
async fn only_masters_programs_take_enrollments_whatever_the_roles() {
    let server = start().await;
    create(&server, "mm", "micromasters", &["MITx"]).await;
    grant(
        &server,
        "will",
        "program_read_write_enrollments",
        "program:mm",
    )
    .await;
    let body = items(&[("s1", "enrolled")]);
    let course = format!("/api/v1/programs/mm/courses/{COURSE}/enrollments");
    for user in ["will", "admin"] {
        let client = if user == "admin" {
            server.as_admin()
        } else {
            server.as_user(user)
        };
        for (method, path) in [
            (Method::GET, "/api/v1/programs/mm/enrollments"),
            (Method::POST, "/api/v1/programs/mm/enrollments/"),
            (Method::PATCH, "/api/v1/programs/mm/enrollments"),
            (Method::GET, course.as_str()),
        ] {
            let send_body = (method != Method::GET).then(|| body.clone());
            client
                .send(method.clone(), path, send_body)
                .await
                .expect(403, "enrollment_not_enabled_for_program_type");
        }
    }
}

#[tokio::test]
async fn answers_per_student_200_207_422_with_duplicates_marked() {
    let server = masters().await;
    let all = send(
        &server,
        "will",
        Method::POST,
        ENROLLMENTS,
        items(&[("s1", "enrolled"), ("s2", "pending")]),
    )
    .await;
    assert_eq!(all.status.as_u16(), 200, "{}", all.text);
    assert_eq!(all.body, json!({ "s1": "enrolled", "s2": "pending" }));
    let some = send(
        &server,
        "will",
        Method::POST,
        ENROLLMENTS,
        items(&[("s1", "enrolled"), ("s3", "enrolled")]),
    )
    .await;
    assert_eq!(some.status.as_u16(), 207, "{}", some.text);
    assert_eq!(some.body, json!({ "s1": "conflict", "s3": "enrolled" }));
    let none = send(
        &server,
        "will",
        Method::POST,
        "/api/v1/programs/ms/enrollments/",
        items(&[("s4", "graduated"), ("s5", "enrolled"), ("s5", "pending")]),
    )
    .await;
    assert_eq!(none.status.as_u16(), 422, "{}", none.text);
    assert_eq!(
        none.body,
        json!({ "s4": "invalid-status", "s5": "duplicated" })
    );
    let changed = send(
        &server,
        "will",
        Method::PATCH,
        ENROLLMENTS,
        items(&[("s1", "suspended"), ("s9", "enrolled")]),
    )
    .await;
    assert_eq!(changed.status.as_u16(), 207, "{}", changed.text);
    assert_eq!(
        changed.body,
        json!({ "s1": "suspended", "s9": "not-in-program" })
    );

    let listed = server.as_user("will").get(ENROLLMENTS).await.ok();
    assert_eq!(
        listed.body,
        json!({ "s1": "suspended", "s2": "pending", "s3": "enrolled" })
    );
    let csv = server
        .as_user("will")
        .get("/api/v1/programs/ms/enrollments/?fmt=csv")
        .await
        .ok();
    assert_eq!(
        csv.text,
        "student_key,status\ns1,suspended\ns2,pending\ns3,enrolled\n"
    );
    let audit = server.as_admin().get("/api/v1/audit").await.ok();
    assert!(
        audit.text.contains("program_enrollments_update"),
        "{}",
        audit.text
    );
}

#[tokio::test]
async fn twenty_five_students_at_most_and_malformed_bodies_change_nothing() {
    let server = masters().await;
    let students: Vec<String> = (0..26).map(|i| format!("s{i:02}")).collect();
    let pairs: Vec<(&str, &str)> = students.iter().map(|s| (s.as_str(), "enrolled")).collect();
    // 26 items are refused before any is looked at, malformed or not.
    send(&server, "will", Method::POST, ENROLLMENTS, items(&pairs))
        .await
        .expect(413, "too_many_items");
    let junk: Vec<Value> = (0..26).map(|_| json!(null)).collect();
    send(&server, "will", Method::POST, ENROLLMENTS, json!(junk))
        .await
        .expect(413, "too_many_items");
    for bad in [
        json!({ "student_key": "s1", "status": "enrolled" }),
        json!([{ "student_key": "s1" }]),
        json!([{ "student_key": "s1", "status": "enrolled" }, { "student_key": 7, "status": "enrolled" }]),
        json!([{ "student_key": "", "status": "enrolled" }]),
        json!([]),
    ] {
        let answer = send(&server, "will", Method::POST, ENROLLMENTS, bad).await;
        assert_eq!(answer.status.as_u16(), 400, "{}", answer.text);
    }
    assert_eq!(
        server.as_user("will").get(ENROLLMENTS).await.ok().body,
        json!({})
    );
    let ok = send(
        &server,
        "will",
        Method::POST,
        ENROLLMENTS,
        items(&pairs[..25]),
    )
    .await
    .ok();
    assert_eq!(ok.body.as_object().map(|o| o.len()), Some(25));
}

#[tokio::test]
async fn enrollment_rights_come_from_the_program_roles_of_its_org_only() {
    let server = masters().await;
    grant(&server, "reid", "program_read_enrollments", "program:ms").await;
    grant(&server, "rita", "program_read_reports", "org:MITx").await;
    grant(
        &server,
        "hugo",
        "program_read_write_enrollments",
        "org:HarvardX",
    )
    .await;
    let body = items(&[("s1", "enrolled")]);
    server.as_user("reid").get(ENROLLMENTS).await.ok();
    send(&server, "reid", Method::POST, ENROLLMENTS, body.clone())
        .await
        .expect(403, "forbidden");
    for user in ["rita", "hugo", "eve"] {
        server
            .as_user(user)
            .get(ENROLLMENTS)
            .await
            .expect(403, "forbidden");
        send(&server, user, Method::POST, ENROLLMENTS, body.clone())
            .await
            .expect(403, "forbidden");
    }
    server
        .as_user("will")
        .get("/api/v1/programs/none/enrollments")
        .await
        .expect(404, "unknown_program");
}

#[tokio::test]
async fn course_runs_take_the_programs_students_only() {
    let server = masters().await;
    send(
        &server,
        "will",
        Method::POST,
        ENROLLMENTS,
        items(&[("s1", "enrolled")]),
    )
    .await
    .ok();
    let course = format!("/api/v1/programs/ms/courses/{COURSE}/enrollments");
    let added = send(
        &server,
        "will",
        Method::POST,
        &course,
        items(&[("s1", "active"), ("s7", "active")]),
    )
    .await;
    assert_eq!(added.status.as_u16(), 207, "{}", added.text);
    assert_eq!(
        added.body,
        json!({ "s1": "active", "s7": "not-in-program" })
    );
    let changed = send(
        &server,
        "will",
        Method::PATCH,
        &format!("{course}/"),
        items(&[("s1", "inactive")]),
    )
    .await
    .ok();
    assert_eq!(changed.body, json!({ "s1": "inactive" }));
    let bad = send(
        &server,
        "will",
        Method::PATCH,
        &course,
        items(&[("s1", "enrolled")]),
    )
    .await;
    assert_eq!(
        (bad.status.as_u16(), bad.body.clone()),
        (422, json!({ "s1": "invalid-status" }))
    );
    let listed = server
        .as_user("will")
        .get(&format!("{course}?fmt=csv"))
        .await
        .ok();
    assert_eq!(listed.text, "student_key,status\ns1,inactive\n");
    server
        .as_user("will")
        .get("/api/v1/programs/ms/courses/course-v1:MITx+Other+2024/enrollments")
        .await
        .expect(404, "course_not_in_program");
}

const BOUNDARY: &str = "provost-test-boundary";

fn multipart(name: &str, content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"e.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(server: &TestServer, body: Vec<u8>) -> Answer {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    server
        .as_user("will")
        .raw(
            Method::POST,
            "/api/v1/programs/ms/enrollments/upload/",
            Some(&content_type),
            body,
        )
        .await
}

#[tokio::test]
async fn a_csv_upload_answers_per_row_and_refuses_big_or_broken_files() {
    let server = masters().await;
    send(
        &server,
        "will",
        Method::POST,
        ENROLLMENTS,
        items(&[("s1", "enrolled")]),
    )
    .await
    .ok();
    let csv = b"student_key,status\ns1,ended\ns2,pending\ns3,lost\n";
    let answer = upload(&server, multipart("file", csv)).await;
    assert_eq!(answer.status.as_u16(), 207, "{}", answer.text);
    assert_eq!(
        answer.body,
        json!({ "s1": "ended", "s2": "pending", "s3": "invalid-status" })
    );
    let big = vec![b'x'; 5 * 1024 * 1024 + 1];
    upload(&server, multipart("file", &big))
        .await
        .expect(413, "body_too_large");
    upload(&server, multipart("other", csv))
        .await
        .expect(400, "invalid_upload");
    upload(&server, multipart("file", b"name,state\na,b\n"))
        .await
        .expect(422, "invalid_csv");
    upload(&server, multipart("file", b"\x89PNG\r\n\x1a\n"))
        .await
        .expect(422, "invalid_csv");
    let listed = server.as_user("will").get(ENROLLMENTS).await.ok();
    assert_eq!(listed.body, json!({ "s1": "ended", "s2": "pending" }));
}

/// Holds the database's write lock from another store until the sender fires.
async fn hold_write_lock(
    url: &str,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let other = provost_store::Store::connect(url)
        .await
        .expect("second store");
    let (locked, is_locked) = tokio::sync::oneshot::channel::<()>();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let writer = tokio::spawn(async move {
        let _ = other
            .write("other", |_tx| {
                Box::pin(async move {
                    let _ = locked.send(());
                    let _ = released.await;
                    Ok::<_, provost_store::StoreError>(())
                })
            })
            .await;
        other.close().await;
    });
    is_locked.await.expect("the other writer holds the lock");
    (writer, release)
}

#[tokio::test]
async fn a_second_write_for_the_same_program_is_refused_while_one_runs() {
    let server = masters().await;
    let (writer, release) = hold_write_lock(&server.url).await;
    // Both writes start while the database is locked: whichever enters first waits for the
    // lock, holding the program; the other is refused at once, so it is the first to answer.
    let first = upload(
        &server,
        multipart("file", b"student_key,status\ns1,enrolled\n"),
    );
    let second = send(
        &server,
        "will",
        Method::POST,
        ENROLLMENTS,
        items(&[("s2", "enrolled")]),
    );
    tokio::pin!(first, second);
    let (refused, waiting_is_upload) = tokio::select! {
        answer = &mut first => (answer, false),
        answer = &mut second => (answer, true),
    };
    refused.expect(409, "program_write_in_progress");
    let _ = release.send(());
    let done = if waiting_is_upload {
        first.await
    } else {
        second.await
    };
    done.ok();
    writer.await.expect("writer");
    assert_eq!(
        server
            .as_user("will")
            .get(ENROLLMENTS)
            .await
            .ok()
            .body
            .as_object()
            .map(|o| o.len()),
        Some(1)
    );
}

#[tokio::test]
async fn a_write_for_the_same_program_on_another_node_is_refused_too() {
    let server = masters().await;
    if !server.url.starts_with("postgres") {
        // SQLite serves one node; `scripts/test.sh` runs this suite on PostgreSQL as well.
        eprintln!("one node on SQLite: the cross-node lease is PostgreSQL's");
        return;
    }
    let other = crate::support::start_on(&server.url).await;
    let (writer, release) = hold_write_lock(&server.url).await;
    let first = upload(
        &server,
        multipart("file", b"student_key,status\ns1,enrolled\n"),
    );
    let second = send(
        &other,
        "will",
        Method::POST,
        ENROLLMENTS,
        items(&[("s2", "enrolled")]),
    );
    tokio::pin!(first, second);
    let (refused, waiting_is_upload) = tokio::select! {
        answer = &mut first => (answer, false),
        answer = &mut second => (answer, true),
    };
    refused.expect(409, "program_write_in_progress");
    let _ = release.send(());
    let done = if waiting_is_upload {
        first.await
    } else {
        second.await
    };
    done.ok();
    writer.await.expect("writer");
    // The lease went with the write: the next one on either node goes through.
    send(
        &other,
        "will",
        Method::POST,
        ENROLLMENTS,
        items(&[("s3", "enrolled")]),
    )
    .await
    .ok();
}
