//! A Redis of a test's own: the machine's `redis-server` binary on a free port, so killing and
//! restarting it disturbs no one. Like the machine's, it keeps nothing on disk, so a restart
//! loses every stream. `scripts/ensure-redis.sh` installs the binary.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::StreamRangeReply;
use redis::AsyncCommands;
use serde_json::Value;

pub struct TestRedis {
    pub port: u16,
    child: Option<Child>,
}

impl TestRedis {
    pub fn start() -> TestRedis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = TestRedis { port, child: None };
        redis.launch();
        redis
    }

    /// Starts it again on the same port (empty) after `kill`.
    pub fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/ensure-redis.sh installs it)");
        self.child = Some(child);
    }

    /// SIGKILL: whatever it held is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A connection, once the server answers PING.
    pub async fn connection(&self) -> MultiplexedConnection {
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

    /// The role-assignment events on `topic`, oldest first, as (type, event_data). Checks on the
    /// way that each message's id and `revision` field name the revision its data carries.
    pub async fn events(&self, topic: &str) -> Vec<(String, Value)> {
        let mut conn = self.connection().await;
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

    /// The number of messages on `topic`.
    pub async fn len(&self, topic: &str) -> usize {
        let mut conn = self.connection().await;
        conn.xlen(topic).await.expect("xlen")
    }

    /// Waits until the last event on `topic` is `revision`.
    pub async fn caught_up(&self, topic: &str, revision: u64) {
        for _ in 0..600 {
            let events = self.events(topic).await;
            if events.last().and_then(|(_, d)| d["revision"].as_u64()) == Some(revision) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the stream never reached revision {revision}");
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
