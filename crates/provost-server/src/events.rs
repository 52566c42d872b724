//! Role-assignment events on the Open edX event bus (Redis Streams, in event-bus-redis's message
//! shape), from a transactional outbox: the audit log. Each committed `AssignmentAdd` becomes
//! `org.openedx.authz.role_assignment.created.v1`, each `AssignmentRemove`
//! `org.openedx.authz.role_assignment.deleted.v1`.
//!
//! The publisher follows the store's feed and adds each event with the stream id
//! `<revision>-0`. Redis refuses an id not above the stream's last, so the stream is always in
//! revision order and holds each revision once; the last id *is* the record of what was
//! published, kept with the events themselves. After a restart of Provost the publisher resumes
//! after that id; when Redis lost the stream (a restart without persistence) it finds it empty
//! and publishes again from the start, so nothing committed is ever missing from the stream.
//! Off unless `PROVOST_EVENT_BUS_URL` is set. The stream is trimmed to about
//! `PROVOST_EVENT_BUS_STREAM_MAX_LEN` messages (10 000 by default, as event-bus-redis's
//! `EVENT_BUS_REDIS_STREAM_MAX_LEN`); trimming drops the oldest, so the last id stays.
//!
//! An assignment given again with another time window replaces the old one: it is published as
//! `created.v1` with the new window and `replaced: true`, since openedx-authz has no update event.

use std::time::Duration;

use chrono::SecondsFormat;
use provost_engine::Change;
use provost_store::AuditEntry;
use redis::aio::MultiplexedConnection;
use redis::streams::StreamRangeReply;
use redis::AsyncCommands;
use serde_json::json;
use tokio::task::JoinHandle;

use crate::node::Node;

pub const CREATED: &str = "org.openedx.authz.role_assignment.created.v1";
pub const DELETED: &str = "org.openedx.authz.role_assignment.deleted.v1";
/// The stream (event-bus-redis's topic) when `PROVOST_EVENT_BUS_TOPIC` does not name one.
pub const DEFAULT_TOPIC: &str = "authz-role-assignment";
/// About how many messages the stream keeps when `PROVOST_EVENT_BUS_STREAM_MAX_LEN` is unset.
pub const DEFAULT_MAX_LEN: usize = 10_000;

/// Where and how to publish.
#[derive(Clone, Debug)]
pub struct EventBusConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// The stream's key.
    pub topic: String,
    /// How long to wait for new changes when the feed is drained.
    pub poll: Duration,
    /// Feed rows read at a time.
    pub batch: u32,
    /// Trim the stream to about this many messages; `None` keeps everything.
    pub max_len: Option<usize>,
}

impl EventBusConfig {
    /// From `PROVOST_EVENT_BUS_URL` (required: `None` turns the publisher off) and
    /// `PROVOST_EVENT_BUS_TOPIC` (prefixed by `PROVOST_EVENT_BUS_TOPIC_PREFIX` and a hyphen, as
    /// event-bus-redis's `EVENT_BUS_TOPIC_PREFIX` does), and `PROVOST_EVENT_BUS_STREAM_MAX_LEN`
    /// (0 keeps everything). A length that is not a number is refused.
    pub fn from_env() -> crate::Result<Option<EventBusConfig>> {
        let Some(url) = std::env::var("PROVOST_EVENT_BUS_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            return Ok(None);
        };
        let topic = std::env::var("PROVOST_EVENT_BUS_TOPIC")
            .ok()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| DEFAULT_TOPIC.into());
        let topic = match std::env::var("PROVOST_EVENT_BUS_TOPIC_PREFIX") {
            Ok(prefix) if !prefix.is_empty() => format!("{prefix}-{topic}"),
            _ => topic,
        };
        let mut config = EventBusConfig::new(url, topic);
        if let Ok(len) = std::env::var("PROVOST_EVENT_BUS_STREAM_MAX_LEN") {
            let len: usize = len.trim().parse().map_err(|_| {
                crate::Error::new(
                    crate::ErrorCode::Usage,
                    format!("PROVOST_EVENT_BUS_STREAM_MAX_LEN must be a number of messages (0 keeps all), not `{len}`"),
                )
            })?;
            config.max_len = (len > 0).then_some(len);
        }
        Ok(Some(config))
    }

    pub fn new(url: impl Into<String>, topic: impl Into<String>) -> EventBusConfig {
        EventBusConfig {
            url: url.into(),
            topic: topic.into(),
            poll: Duration::from_millis(200),
            batch: 500,
            max_len: Some(DEFAULT_MAX_LEN),
        }
    }
}

/// Starts the publisher; it runs until the task is aborted, reconnecting after any failure.
pub fn spawn(node: Node, config: EventBusConfig) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match publish(&node, &config).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(error = %e, topic = %config.topic, "event bus: publishing stopped; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    })
}

/// The event for one audit entry, as the stream's fields; `None` for changes that are not
/// assignments.
pub fn event_fields(entry: &AuditEntry, sourcehost: &str) -> Option<Vec<(&'static str, String)>> {
    let time = entry.at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut data = json!({
        "actor": entry.actor,
        "revision": entry.revision,
        "time": time,
    });
    let event_type = match &entry.change {
        Change::AssignmentAdd { assignment } => {
            data["subject"] = json!(assignment.subject);
            data["role"] = json!(assignment.role);
            data["scope"] = json!(assignment.scope);
            data["valid_from"] = json!(assignment.valid_from.map(rfc3339));
            data["valid_until"] = json!(assignment.valid_until.map(rfc3339));
            data["replaced"] = json!(entry.before.is_some());
            CREATED
        }
        Change::AssignmentRemove {
            subject,
            role,
            scope,
        } => {
            data["subject"] = json!(subject);
            data["role"] = json!(role);
            data["scope"] = json!(scope);
            DELETED
        }
        _ => return None,
    };
    Some(vec![
        ("type", event_type.to_owned()),
        ("id", event_id(entry.revision)),
        ("source", "openedx/provost/web".to_owned()),
        ("sourcehost", sourcehost.to_owned()),
        ("time", time),
        ("minorversion", "0".to_owned()),
        ("sourcelib", env!("CARGO_PKG_VERSION").to_owned()),
        ("revision", entry.revision.to_string()),
        ("event_data", data.to_string()),
    ])
}

fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map_or_else(
        || seconds.to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// A UUID-shaped id that is the same each time a revision is published, so a consumer can
/// tell a repeat.
fn event_id(revision: u64) -> String {
    let hex = format!("{revision:016x}");
    format!("00000000-0000-5000-{}-{}", &hex[0..4], &hex[4..16])
}

/// The revision of the stream's last event, 0 when it is empty or missing.
async fn last_published(conn: &mut MultiplexedConnection, topic: &str) -> redis::RedisResult<u64> {
    let reply: StreamRangeReply = conn.xrevrange_count(topic, "+", "-", 1).await?;
    Ok(reply
        .ids
        .first()
        .and_then(|e| e.id.split('-').next()?.parse().ok())
        .unwrap_or(0))
}

#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("store: {0}")]
    Store(#[from] provost_store::StoreError),
}

/// Publishes until something fails. Each round re-reads the stream's last id: if it is not the
/// last one this publisher added, the stream changed under it (Redis restarted empty, or another
/// node published) and it goes on from there.
async fn publish(node: &Node, config: &EventBusConfig) -> Result<(), PublishError> {
    let client = redis::Client::open(config.url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let host = hostname();
    let mut published = last_published(&mut conn, &config.topic).await?;
    let mut since = published;
    tracing::info!(topic = %config.topic, after = published, "event bus: publishing");
    loop {
        let last = last_published(&mut conn, &config.topic).await?;
        if last != published {
            tracing::info!(topic = %config.topic, last, published, "event bus: the stream changed; resuming after its last event");
            published = last;
            since = last;
        }
        let feed = node.store().feed(since, config.batch).await?;
        for entry in &feed.entries {
            let Some(fields) = event_fields(entry, &host) else {
                continue;
            };
            let id = format!("{}-0", entry.revision);
            let added: redis::RedisResult<String> = match config.max_len {
                Some(len) => {
                    let trim = redis::streams::StreamMaxlen::Approx(len);
                    conn.xadd_maxlen(&config.topic, trim, &id, &fields).await
                }
                None => conn.xadd(&config.topic, &id, &fields).await,
            };
            match added {
                Ok(_) => published = entry.revision,
                // Already there (another publisher got to it): the stream holds it once.
                Err(e) if e.to_string().contains("equal or smaller") => {
                    published = last_published(&mut conn, &config.topic).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        since = feed.revision.max(since);
        if !feed.more {
            tokio::time::sleep(config.poll).await;
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "provost".into())
}

#[cfg(test)]
mod tests {
    use super::{event_fields, event_id, CREATED};
    use provost_engine::{Assignment, Change};
    use provost_store::AuditEntry;

    #[test]
    fn a_new_window_on_a_held_assignment_is_a_created_event_marked_replaced() {
        let mut assignment = Assignment::new("ada", "course_staff", "org:MITx");
        assignment.valid_until = Some(1_900_000_000);
        let entry = AuditEntry {
            revision: 7,
            at: chrono::Utc::now(),
            actor: "admin".into(),
            change: Change::AssignmentAdd { assignment },
            before: Some(serde_json::json!({ "subject": "ada" })),
        };
        let fields = event_fields(&entry, "host").expect("an assignment event");
        let field = |name: &str| fields.iter().find(|(k, _)| *k == name).unwrap().1.clone();
        assert_eq!(field("type"), CREATED);
        let data: serde_json::Value = serde_json::from_str(&field("event_data")).unwrap();
        assert_eq!(data["replaced"], true);
        assert_eq!(data["valid_from"], serde_json::Value::Null);
        assert_eq!(data["valid_until"], "2030-03-17T17:46:40Z");
    }

    #[test]
    fn event_ids_are_uuid_shaped_and_name_the_revision() {
        assert_eq!(event_id(1), "00000000-0000-5000-0000-000000000001");
        assert_eq!(event_id(u64::MAX).len(), 36);
    }
}
