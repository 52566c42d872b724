//! What one engine at one size measured, as written under `target/bench/results/` and read by the report.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::agree::Agreement;
use crate::dataset::Census;
use crate::measure::Timing;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EngineRun {
    /// `standard` or `heavy` (`crate::workload`).
    #[serde(default = "standard")]
    pub workload: String,
    pub engine: String,
    pub size: usize,
    pub census: Census,
    /// Seconds to build the engine from the dataset.
    pub build_secs: f64,
    /// Resident memory gained while building it (RSS delta, allocator slack included).
    pub rss_bytes: u64,
    /// Whether `rss_bytes` is the growth of a second build made while the first was still held
    /// (so it cannot reuse pages the dataset's generation freed), rather than of the only one.
    #[serde(default)]
    pub built_twice: bool,
    pub agreement: Agreement,
    /// criterion's figure for cheap engines (a mean over the query mix); the timed loop for casbin.
    pub check: Timing,
    /// Cheap engines: every call timed on its own (p50, p99); casbin's `check` is already that.
    pub check_per_call: Option<Timing>,
    pub scopes: Option<Timing>,
    pub who: Option<Timing>,
    /// Provost: the first page (100 subjects) of `who` at a course.
    #[serde(default)]
    pub who_page: Option<Timing>,
    /// Provost: mean time per check when the timing queries are asked in batches of 100, read
    /// ahead as the server's batch route reads them (`engines::provost::batched_ns`).
    #[serde(default)]
    pub batched_ns: Option<f64>,
    /// Provost: one read at a random place in memory of the engine's size, each waiting for the
    /// last (`measure::memory_read_ns`): what any check that fetches one line of it costs at least.
    #[serde(default)]
    pub memory_read_ns: Option<f64>,
    /// One-minute load average when the run ended (2 means both cores were busy).
    pub load_average: f64,
}

fn standard() -> String {
    "standard".to_owned()
}

impl EngineRun {
    /// The per-call latency: median call, and 99th percentile if known.
    pub fn per_call(&self) -> &Timing {
        self.check_per_call.as_ref().unwrap_or(&self.check)
    }

    pub fn bytes_per_assignment(&self) -> f64 {
        self.rss_bytes as f64 / self.size.max(1) as f64
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)?)
    }
}

/// Every run found in `dir` (`*.json`), ordered by workload, engine, then size.
pub fn read_all(dir: &Path) -> std::io::Result<Vec<EngineRun>> {
    let mut runs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let run: EngineRun = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
            runs.push(run);
        }
    }
    runs.sort_by(|a, b| (&a.workload, &a.engine, a.size).cmp(&(&b.workload, &b.engine, b.size)));
    Ok(runs)
}
