//! Role-assignment events on Redis Streams from the audit log: the publisher is killed while
//! publishing and Redis restarts (losing everything, as this machine's runs it), and still every
//! assignment change appears on the stream, once, in revision order.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use provost_engine::Change;
use provost_server::events::{self, EventBusConfig, CREATED, DELETED};
use redis::streams::StreamRangeReply;
use redis::AsyncCommands;
use serde_json::{json, Value};

use crate::support::start;

/// A Redis of the test's own (the machine's `redis-server` binary) on a free port, so restarting
/// it disturbs no one. Like the machine's, it keeps nothing on disk.
struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = Redis { port, child: None };
        redis.launch();
        redis
    }

    fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/ensure-redis.sh installs it)");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url()).expect("url");
        for _ in 0..200 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut conn).await;
                if pong.is_ok() {
                    return conn;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis on port {} never answered", self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn stream(conn: &mut redis::aio::MultiplexedConnection, topic: &str) -> Vec<(String, Value)> {
    let reply: StreamRangeReply = conn.xrange_all(topic).await.expect("xrange");
    reply
        .ids
        .into_iter()
        .map(|entry| {
            let field = |name: &str| -> String {
                entry
                    .get::<String>(name)
                    .unwrap_or_else(|| panic!("no `{name}` in {}", entry.id))
            };
            let data: Value = serde_json::from_str(&field("event_data")).expect("json");
            assert_eq!(field("revision"), data["revision"].to_string());
            assert_eq!(entry.id, format!("{}-0", data["revision"]));
            (field("type"), data)
        })
        .collect()
}

/// Waits until the stream's last event is `revision`.
async fn caught_up(redis: &Redis, topic: &str, revision: u64) {
    for _ in 0..600 {
        let mut conn = redis.connection().await;
        let events = stream(&mut conn, topic).await;
        if events.last().and_then(|(_, d)| d["revision"].as_u64()) == Some(revision) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the stream never reached revision {revision}");
}

#[tokio::test]
async fn every_assignment_change_is_on_the_stream_in_revision_order_across_restarts() {
    let server = start().await;
    let mut redis = Redis::start();
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
    let mut conn = redis.connection().await;
    for _ in 0..400 {
        let len: usize = conn.xlen(&topic).await.expect("xlen");
        if len > 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    publisher.abort();
    let published_before = stream(&mut conn, &topic).await.len();
    // Changes while no publisher runs, then a new one (Provost restarted).
    server.as_admin().delete("/api/v1/users/u002").await.ok();
    let publisher = events::spawn(server.node.clone(), config.clone());
    // Redis dies (losing the stream) and comes back; changes happen meanwhile.
    redis.kill();
    server.assign(items(300, 310)).await;
    redis.launch();
    let last = server.assign(items(310, 312)).await;
    caught_up(&redis, &topic, last).await;
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
    let mut conn = redis.connection().await;
    let got: Vec<(String, Value)> = stream(&mut conn, &topic)
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
