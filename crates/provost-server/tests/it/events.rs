//! Role-assignment events on Redis Streams from the audit log: the publisher is killed while
//! publishing and Redis restarts (losing everything, as this machine's runs it), and still every
//! assignment change appears on the stream, once, in revision order.

use std::time::Duration;

use provost_engine::Change;
use provost_server::events::{self, EventBusConfig, CREATED, DELETED};
use provost_testkit::TestRedis;
use serde_json::{json, Value};

use crate::support::start;

#[tokio::test]
async fn every_assignment_change_is_on_the_stream_in_revision_order_across_restarts() {
    let server = start().await;
    let mut redis = TestRedis::start();
    let topic = format!("authz-test-{}", redis.port);
    let mut config = EventBusConfig::new(redis.url(), topic.clone());
    config.poll = Duration::from_millis(20);
    config.batch = 7;
    let publisher = events::spawn(server.node.clone(), config.clone());

    let items = |from: usize, to: usize| -> Value {
        Value::Array(
            (from..to)
                .map(|i| json!({ "subject": format!("u{i:03}"), "role": "library_user", "scope": "lib:OrgA:lib1" }))
                .collect(),
        )
    };
    server.assign(items(0, 20)).await;
    server
        .as_admin()
        .put("/api/v1/users/u001", json!({ "email": "u1@example.com" }))
        .await
        .ok();
    // Killed mid-publish: a large batch goes in and the publisher dies once some is out.
    server.assign(items(20, 300)).await;
    for _ in 0..400 {
        if redis.len(&topic).await > 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    publisher.abort();
    let published_before = redis.events(&topic).await.len();
    // Changes while no publisher runs, then a new one (Provost restarted).
    server.as_admin().delete("/api/v1/users/u002").await.ok();
    let publisher = events::spawn(server.node.clone(), config.clone());
    // Redis dies (losing the stream) and comes back; changes happen meanwhile.
    redis.kill();
    server.assign(items(300, 310)).await;
    redis.launch();
    let last = server.assign(items(310, 312)).await;
    redis.caught_up(&topic, last).await;
    publisher.abort();

    let expected: Vec<(String, Value)> = server
        .node
        .store()
        .feed(0, 100_000)
        .await
        .expect("feed")
        .entries
        .into_iter()
        .filter_map(|e| {
            let (kind, subject, role, scope) = match e.change {
                Change::AssignmentAdd { assignment: a } => (CREATED, a.subject, a.role, a.scope),
                Change::AssignmentRemove {
                    subject,
                    role,
                    scope,
                } => (DELETED, subject, role, scope),
                _ => return None,
            };
            let data =
                json!({ "subject": subject, "role": role, "scope": scope, "revision": e.revision });
            Some((kind.to_owned(), data))
        })
        .collect();
    assert_eq!(
        expected.len(),
        313,
        "312 assignments and one removal by retiring u002"
    );
    let got: Vec<(String, Value)> = redis
        .events(&topic)
        .await
        .into_iter()
        .map(|(kind, d)| {
            assert_eq!(d["actor"], "admin", "{d}");
            assert!(d["time"].is_string());
            let data = json!({ "subject": d["subject"], "role": d["role"], "scope": d["scope"], "revision": d["revision"] });
            (kind, data)
        })
        .collect();
    eprintln!("the first publisher was killed after {published_before} of 301 events");
    assert!(
        published_before > 0,
        "the publisher was killed before publishing anything"
    );
    assert_eq!(got, expected);
}

#[tokio::test]
async fn the_stream_is_trimmed_to_about_its_max_len_and_keeps_the_newest() {
    let server = start().await;
    let redis = TestRedis::start();
    let topic = format!("authz-trim-{}", redis.port);
    let mut config = EventBusConfig::new(redis.url(), topic.clone());
    config.poll = Duration::from_millis(20);
    config.max_len = Some(100);
    let publisher = events::spawn(server.node.clone(), config);
    let mut last = 0;
    for chunk in 0..4 {
        let items = Value::Array(
            (chunk * 250..(chunk + 1) * 250)
                .map(|i| json!({ "subject": format!("t{i:04}"), "role": "library_user", "scope": "lib:OrgA:lib1" }))
                .collect(),
        );
        last = server.assign(items).await;
    }
    redis.caught_up(&topic, last).await;
    publisher.abort();
    let kept = redis.events(&topic).await;
    // Redis trims whole nodes of the stream (100 entries each by default), so "about".
    assert!(
        (100..=300).contains(&kept.len()),
        "{} events kept of 1000",
        kept.len()
    );
    let revisions: Vec<u64> = kept
        .iter()
        .map(|(_, d)| d["revision"].as_u64().unwrap())
        .collect();
    assert!(
        revisions.windows(2).all(|w| w[1] == w[0] + 1),
        "the newest, in order"
    );
}
