//! Batch days in `PROVOST_BATCH_TIMEZONE`: `provost serve` counts a batch's dates in that zone,
//! so a day ends at 23:59:59 there, not in UTC; `provost who` names a batch's editors and
//! `provost batches` reads batches as the operator.

use chrono::{Days, NaiveDate, Timelike, Utc};
use serde_json::{json, Value};

use crate::{Cli, ServeNode, SECRET};

fn text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A zone whose date differs from UTC's right now, by at least an hour either way, and its date:
/// UTC+14 (already tomorrow) from 11:00 UTC, else UTC-12 (still yesterday).
fn zone_on_another_day() -> (&'static str, NaiveDate) {
    let now = Utc::now();
    let today = now.date_naive();
    if now.hour() >= 11 {
        (
            "Pacific/Kiritimati",
            today.checked_add_days(Days::new(1)).expect("date"),
        )
    } else {
        (
            "Etc/GMT+12",
            today.checked_sub_days(Days::new(1)).expect("date"),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_days_are_counted_in_the_configured_zone() {
    let cli = Cli::new();
    cli.ok(&["users", "upsert", "cora"]);
    cli.ok(&[
        "assign",
        "cora",
        "course_staff",
        "course-v1:MITx+6.00x+2024T1",
    ]);
    let token = {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
            .args(["token", "--user", "cora", "--ttl", "10m"])
            .env("PROVOST_JWT_SECRET", SECRET)
            .output()
            .expect("provost token runs");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    };
    let (zone, local_today) = zone_on_another_day();
    let node = ServeNode::start_with_env(&cli.url(), &[], &[("PROVOST_BATCH_TIMEZONE", zone)]);
    let client = reqwest::Client::new();
    let create = |start: NaiveDate| {
        let request = json!({ "request": {
            "courseId": "course-v1:MITx+6.00x+2024T1", "name": "Cohort",
            "enrollmentType": "open", "startDate": text(start),
        }});
        let call = client
            .post(format!("{}/v1/course/batch/create", node.url))
            .header("x-authenticated-user-token", &token)
            .json(&request)
            .send();
        async move {
            let response = call.await.expect("sent");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("json"))
        }
    };
    let status_of = |id: String| {
        let call = client
            .get(format!("{}/v1/course/batch/read/{id}", node.url))
            .header("x-authenticated-user-token", &token)
            .send();
        async move {
            let body: Value = call.await.expect("sent").json().await.expect("json");
            body["result"]["response"]["status"].clone()
        }
    };

    // Today in the zone: accepted and in progress, whatever the date is in UTC.
    let (status, body) = create(local_today).await;
    assert_eq!(status, 200, "{zone}: {body}");
    let id = body["result"]["batchId"].as_str().expect("id").to_owned();
    assert_eq!(status_of(id.clone()).await, 1, "{zone}");
    // The creator holds `batch_admin` there, so the engine names her among its editors.
    let editors = cli.ok(&["who", "batches.edit", &format!("batch:{id}")]);
    assert_eq!(editors.lines().collect::<Vec<_>>(), ["cora"]);
    // The zone's yesterday has ended there (even when it is still today in UTC).
    let yesterday = local_today.checked_sub_days(Days::new(1)).expect("date");
    let (status, body) = create(yesterday).await;
    assert_eq!(status, 400, "{zone}: {body}");
    assert_eq!(body["params"]["err"], "COURSE_BATCH_START_DATE_INVALID");
    // The zone's tomorrow has not begun there (even when it is today in UTC).
    let tomorrow = local_today.checked_add_days(Days::new(1)).expect("date");
    let (status, body) = create(tomorrow).await;
    assert_eq!(status, 200, "{zone}: {body}");
    let id = body["result"]["batchId"].as_str().expect("id").to_owned();
    assert_eq!(status_of(id.clone()).await, 0, "{zone}");

    // The operator reads the same batches through the same services.
    let shown = cli.ok(&["batches", "show", &id]);
    assert!(
        shown.starts_with(&id) && shown.contains("Cohort"),
        "{shown}"
    );
    let listed = cli.ok(&["batches", "list", "--course", "course-v1:MITx+6.00x+2024T1"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let json: Value =
        serde_json::from_str(&cli.ok(&["--json", "batches", "participants", &id])).expect("json");
    assert_eq!(json, json!([]));
    let (code, _, err) = cli.exec(&["batches", "show", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Invalid courseBatchId"), "{err}");
}

#[test]
fn serve_refuses_a_zone_that_is_no_zone() {
    let cli = Cli::new();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PROVOST_DATABASE_URL", cli.url())
        .env("PROVOST_JWT_SECRET", SECRET)
        .env("PROVOST_BATCH_TIMEZONE", "Mars/Olympus")
        .output()
        .expect("provost runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a usage error, not a panic: {err}"
    );
    assert!(
        err.contains("PROVOST_BATCH_TIMEZONE `Mars/Olympus` is not an IANA time zone")
            && !err.contains("panicked"),
        "{err}"
    );
}
