//! A Provost node: the store, the in-memory engine, and the tail of the audit log between them.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use provost_engine::{
    policy_changes, policy_diff, Change, Engine, Index, PolicyDoc, DEFAULT_POLICY,
};
use provost_store::{
    AppAudit, AppTx, AssignmentFilter, AuditRange, BoxFuture, Committed, Store, StoreOptions, Tx,
    Written,
};
use sha2::{Digest, Sha256};

use crate::err::{Error, ErrorClass, ErrorCode, Result};

/// The audit entry that records which shipped default policy was loaded.
const POLICY_APP: &str = "policy";
const DEFAULT_LOADED: &str = "default_loaded";

/// The SHA-256 of the shipped default policy file, in hex.
pub fn default_policy_hash() -> String {
    hex::encode(Sha256::digest(DEFAULT_POLICY.as_bytes()))
}

/// A database URL mistake, said with the right form and the file it names.
fn url_hint(url: &str, e: Error) -> Error {
    let sqlite = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"));
    let hint = match (e.code, sqlite) {
        (ErrorCode::InvalidDatabaseUrl, None) if !url.contains("://") => format!(
            "`{url}` is not a database URL: for a SQLite file write `sqlite://{url}?mode=rwc` \
             (created if missing); for PostgreSQL, `postgres://USER:PASSWORD@HOST:PORT/DB`"
        ),
        (ErrorCode::DatabaseUnavailable, Some(rest)) => {
            let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
            let path = std::path::Path::new(file);
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            if dir.is_some_and(|d| !d.is_dir()) {
                format!(
                    "cannot open SQLite file `{file}`: its directory `{}` does not exist",
                    dir.map(|d| d.display().to_string()).unwrap_or_default()
                )
            } else if !path.exists() && !query.contains("mode=rwc") {
                format!(
                    "SQLite file `{file}` does not exist; to create it, add `?mode=rwc`: \
                     `sqlite://{file}?mode=rwc`"
                )
            } else {
                format!("cannot open SQLite file `{file}`: {}", e.message)
            }
        }
        _ => return e,
    };
    Error { message: hint, ..e }
}

/// What opening a node did to the default policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultPolicy {
    /// The database had no policy: the default was loaded.
    Loaded { roles: usize, permissions: usize },
    /// The shipped default changed since it was last loaded: its additions and updates were applied.
    Updated { changes: usize },
    /// This version of the default was loaded before (or the node is read-only): nothing written.
    Unchanged,
}

/// How many audit rows one catch-up read takes.
const FEED_PAGE: u32 = 10_000;

/// One node: writes go to the store, reads come from the engine, and the engine follows the
/// audit log in revision order. Cloning shares the same store and engine.
#[derive(Clone)]
pub struct Node {
    store: Store,
    engine: Arc<Engine>,
    /// Whether the last write failed on a full disk (cleared by the next write that succeeds),
    /// for `/healthz`: reads still work then, so only writes can tell.
    storage_full: Arc<AtomicBool>,
}

impl Node {
    /// Connects, loads the state into memory and makes sure the default policy is in place.
    pub async fn open(url: &str) -> Result<Node> {
        Node::open_with(url, &StoreOptions::default()).await
    }

    /// `open` with store options. A read-only node loads no policy: it serves what the
    /// writers stored, and a write would be refused anyway.
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Node> {
        Ok(Node::open_noting(url, options).await?.0)
    }

    /// `open_with`, saying what it did to the default policy (for `serve`'s first log lines).
    pub async fn open_noting(url: &str, options: &StoreOptions) -> Result<(Node, DefaultPolicy)> {
        let store = Store::connect_with(url, options)
            .await
            .map_err(|e| url_hint(url, Error::from(e)))?;
        let node = Node::from_store(store).await?;
        let default = if options.read_only {
            DefaultPolicy::Unchanged
        } else {
            node.ensure_default_policy().await?
        };
        Ok((node, default))
    }

    /// Loads the shipped default policy only when it has not been loaded in this version: into
    /// an empty database, or once after an upgrade that changed the shipped file (adds and
    /// updates, never removes). Which version was loaded is kept in the audit log (app
    /// `policy`, operation `default_loaded`, with the file's SHA-256), so an operator's
    /// `policy load` that changed a built-in role is never undone by the next command.
    pub async fn ensure_default_policy(&self) -> Result<DefaultPolicy> {
        let hash = default_policy_hash();
        let last = self
            .store
            .app_audit(POLICY_APP, AuditRange::Before(None), 1)
            .await?;
        let loaded = last
            .first()
            .filter(|e| e.operation == DEFAULT_LOADED)
            .and_then(|e| e.after.as_ref())
            .and_then(|after| after.get("sha256"))
            .and_then(|h| h.as_str());
        if loaded == Some(hash.as_str()) {
            return Ok(DefaultPolicy::Unchanged);
        }
        let doc = PolicyDoc::default_policy();
        let current = self.engine.snapshot().policy_doc().clone();
        let empty = current.permissions.is_empty() && current.roles.is_empty();
        let changes = if empty {
            policy_changes(&doc)
        } else {
            policy_diff(&current, &doc, false)
        };
        let changes = &changes;
        let hash = &hash;
        self.write("provost", |tx| {
            Box::pin(async move {
                tx.apply_all(changes).await?;
                tx.audit(AppAudit {
                    app: POLICY_APP.into(),
                    operation: DEFAULT_LOADED.into(),
                    subject: None,
                    scope: None,
                    after: Some(serde_json::json!({ "sha256": hash })),
                    before: None,
                })
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(if empty {
            DefaultPolicy::Loaded {
                roles: doc.roles.len(),
                permissions: doc.permissions.len(),
            }
        } else {
            DefaultPolicy::Updated {
                changes: changes.len(),
            }
        })
    }

    /// Builds the engine from a consistent snapshot, then follows the log from its revision.
    /// The index is built on a blocking thread from batches while the database still sends the
    /// rest, so reading and building overlap and the rows are never all in memory at once.
    /// A long load logs its progress (see `LoadProgress`).
    pub async fn from_store(store: Store) -> Result<Node> {
        let (to, mut batches) = tokio::sync::mpsc::channel::<Vec<Change>>(4);
        let progress = LoadProgress::new();
        let total = progress.total.clone();
        // Counted beside the snapshot, so a small database never waits for the count.
        let counting = {
            let store = store.clone();
            tokio::spawn(async move {
                if let Ok(n) = store.count_assignments(&AssignmentFilter::default()).await {
                    total.store(n, Ordering::Relaxed);
                }
            })
        };
        let build = tokio::task::spawn_blocking(move || {
            let mut progress = progress;
            let mut index = Index::new();
            while let Some(batch) = batches.blocking_recv() {
                index.load(&batch);
                progress.read(&batch);
            }
            progress.finish();
            index
        });
        let read = store.snapshot_to(&to).await;
        drop(to);
        counting.abort();
        let mut index = build
            .await
            .map_err(|e| Error::internal(format!("building the index failed: {e}")))?;
        index.apply(read?, &[]);
        let node = Node {
            store,
            engine: Arc::new(Engine::new(index)),
            storage_full: Arc::new(AtomicBool::new(false)),
        };
        node.sync().await?;
        Ok(node)
    }

    /// Loads `doc` if the stored policy differs (adds and updates only; never removes).
    pub async fn ensure_policy(&self, doc: &PolicyDoc, actor: &str) -> Result<Committed> {
        let current = self.engine.snapshot().policy_doc().clone();
        let changes = if current.permissions.is_empty() && current.roles.is_empty() {
            policy_changes(doc)
        } else {
            policy_diff(&current, doc, false)
        };
        self.commit(actor, &changes).await
    }

    /// Commits engine changes in one transaction and brings the engine up to the new revision:
    /// a `write` that only applies `changes`. Nothing to change writes nothing.
    pub async fn commit(&self, actor: &str, changes: &[Change]) -> Result<Committed> {
        if changes.is_empty() {
            let revision = self.engine.revision();
            return Ok(Committed {
                revision,
                outcomes: Vec::new(),
                entries: Vec::new(),
            });
        }
        let written = self
            .write(actor, |tx| {
                Box::pin(async move { Ok(tx.apply_all(changes).await?) })
            })
            .await?;
        Ok(Committed {
            revision: written.revision,
            outcomes: written.value,
            entries: written.entries,
        })
    }

    /// Runs `f` in one store transaction (`Store::write`: engine changes, the app's own rows and
    /// its audit entries, all or nothing) and brings the engine up to the new revision before
    /// returning, so the writer reads its own write. Every write of every app comes through
    /// here; a read-only node's store refuses it (`read_only`). A full disk is remembered for
    /// `/healthz` until a write succeeds.
    pub async fn write<'a, T, F>(&self, actor: &str, f: F) -> Result<Written<T>>
    where
        F: for<'t> FnOnce(&'t mut Tx<'a>) -> BoxFuture<'t, Result<T>>,
    {
        let written = self.store.write(actor, f).await;
        self.note_storage(&written);
        let written = written?;
        self.sync().await?;
        Ok(written)
    }

    /// Runs `f` as an app-only write (`Store::app_write`): the app's own rows and audit entries,
    /// no engine changes, and on PostgreSQL without the store's write lock, so such writes do
    /// not queue behind every other write. Only for writes that change no engine state and need
    /// throughput on the app's own rows (redemptions); every other write goes through `write`.
    /// The engine has nothing to catch up on, so it returns as soon as the write committed.
    pub async fn app_write<'a, T, F>(&self, actor: &str, f: F) -> Result<T>
    where
        F: for<'t> FnOnce(&'t mut AppTx<'a>) -> BoxFuture<'t, Result<T>>,
    {
        let written = self.store.app_write(actor, f).await;
        self.note_storage(&written);
        written
    }

    /// `app_write` without waiting for the disk (`Store::app_write_unflushed`): only for a
    /// write whose loss in a crash repairs itself.
    pub async fn app_write_unflushed<'a, T, F>(&self, actor: &str, f: F) -> Result<T>
    where
        F: for<'t> FnOnce(&'t mut AppTx<'a>) -> BoxFuture<'t, Result<T>>,
    {
        let written = self.store.app_write_unflushed(actor, f).await;
        self.note_storage(&written);
        written
    }

    /// Remembers whether a write found the disk full, for `/healthz`.
    fn note_storage<T>(&self, written: &Result<T>) {
        match written {
            Ok(_) => self.storage_full.store(false, Ordering::Relaxed),
            Err(e) if e.class() == ErrorClass::StorageFull => {
                self.storage_full.store(true, Ordering::Relaxed);
            }
            Err(_) => {}
        }
    }

    /// Whether the last write found the disk full.
    pub fn storage_full(&self) -> bool {
        self.storage_full.load(Ordering::Relaxed)
    }

    /// Applies every audit row after the engine's revision, in order: the engine's changes, and
    /// app rows only as revisions passed. Returns the new revision.
    pub async fn sync(&self) -> Result<u64> {
        loop {
            let from = self.engine.revision();
            let feed = self.store.feed(from, FEED_PAGE).await?;
            if feed.revision <= from {
                return Ok(from);
            }
            let batch: Vec<(u64, Change)> = feed
                .entries
                .into_iter()
                .map(|e| (e.revision, e.change))
                .collect();
            self.engine.apply_log(&batch);
            if self.engine.revision() < feed.revision {
                // The page ended on app rows: the engine has nothing to apply for them.
                self.engine.apply(feed.revision, &[]);
            }
            if !feed.more {
                return Ok(self.engine.revision());
            }
        }
    }

    /// Follows the audit log for as long as the task runs: wakes on commit notifications
    /// (PostgreSQL) and polls every `poll` in any case, since notifications can be lost and
    /// other processes (the CLI, other nodes) write too. Errors are logged and retried.
    pub async fn follow(self, poll: Duration) {
        let mut notifier = None;
        let mut failing = false;
        loop {
            if notifier.is_none() {
                notifier = self.store.listen().await.ok().flatten();
            }
            match self.sync().await {
                Ok(revision) if failing => {
                    tracing::info!(revision, "caught up with the audit log again");
                    failing = false;
                }
                Err(e) if !failing => {
                    tracing::warn!(error = %e, "cannot read the audit log; checks are served from revision {}", self.engine.revision());
                    failing = true;
                }
                _ => {}
            }
            match notifier.as_mut() {
                Some(n) => {
                    tokio::select! {
                        received = n.recv() => if received.is_err() { notifier = None },
                        () = tokio::time::sleep(poll) => {}
                    }
                }
                None => tokio::time::sleep(poll).await,
            }
        }
    }

    /// Waits until the engine has applied `revision` (read-your-writes), polling the log.
    pub async fn wait_for(&self, revision: u64, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.engine.revision() < revision {
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorCode::RevisionNotReached,
                    format!(
                        "this node is at revision {} and did not reach {revision} in time",
                        self.engine.revision()
                    ),
                ));
            }
            // A failed read here is the same as no progress: keep waiting until the deadline.
            let _ = self.sync().await;
            if self.engine.revision() < revision {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Ok(())
    }
}

/// Read access to the parts; writes go through `write`, so the engine stays in step with the store.
impl Node {
    /// The store: reads of what the engine does not hold (assignment pages, the audit log).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The in-memory engine (its revision; `index` for reads).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The index as of now: one revision, whole, for as long as it is held.
    pub fn index(&self) -> Arc<Index> {
        self.engine.snapshot()
    }

    /// The index once this node has applied `revision` (read-your-writes), waiting at most
    /// `timeout`; the current one when no revision is asked for.
    pub async fn index_at(&self, revision: Option<u64>, timeout: Duration) -> Result<Arc<Index>> {
        if let Some(revision) = revision {
            self.wait_for(revision, timeout).await?;
        }
        Ok(self.engine.snapshot())
    }
}

/// Progress of building the index from the database, on a cold start: a log line at most every
/// `EVERY` (assignments read, of how many the database holds), then the final count and time.
/// A load that ends within `EVERY` logs its summary at debug level only, so that every CLI
/// command (each opens the node) stays quiet on a small database.
struct LoadProgress {
    /// The assignments in the database, once counted (`u64::MAX` until then).
    total: Arc<AtomicU64>,
    rows: u64,
    assignments: u64,
    started: Instant,
    logged: Instant,
}

impl LoadProgress {
    const EVERY: Duration = Duration::from_secs(1);

    fn new() -> LoadProgress {
        let now = Instant::now();
        LoadProgress {
            total: Arc::new(AtomicU64::new(u64::MAX)),
            rows: 0,
            assignments: 0,
            started: now,
            logged: now,
        }
    }

    fn read(&mut self, batch: &[Change]) {
        self.rows += batch.len() as u64;
        self.assignments += batch
            .iter()
            .filter(|c| matches!(c, Change::AssignmentAdd { .. }))
            .count() as u64;
        if self.logged.elapsed() < Self::EVERY {
            return;
        }
        self.logged = Instant::now();
        match self.total.load(Ordering::Relaxed) {
            u64::MAX => tracing::info!(
                assignments = self.assignments,
                "loading the index: {} assignments read",
                self.assignments
            ),
            total => tracing::info!(
                assignments = self.assignments,
                total,
                "loading the index: {} of {total} assignments read ({}%)",
                self.assignments,
                self.assignments * 100 / total.max(1)
            ),
        }
    }

    fn finish(&self) {
        let seconds = self.started.elapsed().as_secs_f64();
        let (rows, assignments) = (self.rows, self.assignments);
        let message =
            format!("index loaded: {assignments} assignments ({rows} rows) in {seconds:.1} s");
        if self.started.elapsed() >= Self::EVERY {
            tracing::info!(rows, assignments, seconds, "{message}");
        } else {
            tracing::debug!(rows, assignments, seconds, "{message}");
        }
    }
}
