//! The figures behind bench/results.md: measured or extrapolated (and marked), formatted, and the
//! load runs and machine they come from.

use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::cpu::CpuSample;
use crate::engines::BoxError;
use crate::measure::Method;
use crate::results::EngineRun;

pub const ENGINES: [&str; 3] = ["provost", "cedar", "casbin"];

/// How a figure grows past the largest size an engine was run at.
#[derive(Clone, Copy)]
pub enum Growth {
    /// In proportion to assignments (casbin scans every domain; memory of any engine).
    Linear,
    /// Not at all (Cedar's check reads a user's attributes and a short ancestor chain).
    Flat,
}

/// A figure for one engine at one size, measured or extrapolated.
#[derive(Clone, Copy, Debug)]
pub struct Figure {
    pub value: f64,
    pub extrapolated: bool,
}

impl Figure {
    pub fn mark(&self) -> &'static str {
        if self.extrapolated {
            " *(extrapolated)*"
        } else {
            ""
        }
    }
}

pub fn run<'r>(runs: &'r [EngineRun], engine: &str, size: usize) -> Option<&'r EngineRun> {
    runs.iter().find(|r| r.engine == engine && r.size == size)
}

/// `get` of the engine's run at `size`, else scaled from its largest run below `size`.
pub fn figure(
    runs: &[EngineRun],
    engine: &str,
    size: usize,
    growth: Growth,
    get: impl Fn(&EngineRun) -> Option<f64>,
) -> Option<Figure> {
    if let Some(r) = run(runs, engine, size) {
        return get(r).map(|value| Figure {
            value,
            extrapolated: false,
        });
    }
    let largest = runs
        .iter()
        .filter(|r| r.engine == engine && r.size < size)
        .max_by_key(|r| r.size)?;
    let scale = match growth {
        Growth::Linear => size as f64 / largest.size as f64,
        Growth::Flat => 1.0,
    };
    get(largest).map(|v| Figure {
        value: v * scale,
        extrapolated: true,
    })
}

fn growth_of_checks(engine: &str) -> Growth {
    if engine == "casbin" {
        Growth::Linear
    } else {
        Growth::Flat
    }
}

/// The median call of `allowed` (each call timed on its own).
pub fn check_ns(runs: &[EngineRun], engine: &str, size: usize) -> Option<Figure> {
    figure(runs, engine, size, growth_of_checks(engine), |r| {
        Some(r.per_call().median_ns)
    })
}

/// The mean cost of a check over the query mix (criterion's figure for cheap engines).
pub fn mix_ns(runs: &[EngineRun], engine: &str, size: usize) -> Option<Figure> {
    figure(runs, engine, size, growth_of_checks(engine), |r| {
        Some(match r.check.method {
            Method::Criterion => r.check.median_ns,
            _ => r.check.mean_ns,
        })
    })
}

pub fn memory(runs: &[EngineRun], engine: &str, size: usize) -> Option<Figure> {
    figure(runs, engine, size, Growth::Linear, |r| {
        Some(r.rss_bytes as f64)
    })
}

/// One workload's runs, and the sizes Provost was run at in it.
pub struct Group {
    pub workload: String,
    pub runs: Vec<EngineRun>,
    pub sizes: Vec<usize>,
}

/// The runs by workload: standard first, then heavy, then any other by name.
pub fn groups(runs: &[EngineRun]) -> Vec<Group> {
    let mut names: Vec<&str> = runs.iter().map(|r| r.workload.as_str()).collect();
    let rank = |w: &str| match w {
        "standard" => 0,
        "heavy" => 1,
        _ => 2,
    };
    names.sort_by_key(|w| (rank(w), *w));
    names.dedup();
    names
        .into_iter()
        .map(|workload| {
            let mine: Vec<EngineRun> = runs
                .iter()
                .filter(|r| r.workload == workload)
                .cloned()
                .collect();
            Group {
                workload: workload.to_owned(),
                sizes: sizes(&mine),
                runs: mine,
            }
        })
        .collect()
}

/// The sizes Provost (the reference, run at every size) was measured at.
pub fn sizes(runs: &[EngineRun]) -> Vec<usize> {
    let mut sizes: Vec<usize> = runs
        .iter()
        .filter(|r| r.engine == "provost")
        .map(|r| r.size)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

/// The exponent k in t ∝ size^k between an engine's two largest measured sizes.
pub fn growth_exponent(runs: &[EngineRun], engine: &str) -> Option<f64> {
    let mut mine: Vec<&EngineRun> = runs.iter().filter(|r| r.engine == engine).collect();
    mine.sort_by_key(|r| r.size);
    let [.., a, b] = mine.as_slice() else {
        return None;
    };
    Some(
        (b.per_call().median_ns / a.per_call().median_ns).ln()
            / (b.size as f64 / a.size as f64).ln(),
    )
}

pub fn size_label(size: usize) -> String {
    match size {
        s if s >= 1_000_000 && s % 1_000_000 == 0 => format!("{} M", s / 1_000_000),
        s if s >= 1_000 && s % 1_000 == 0 => format!("{} k", s / 1_000),
        s => s.to_string(),
    }
}

/// 153 ns, 27.1 µs, 3.40 ms, 1.2 s.
pub fn duration_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

pub fn bytes(b: f64) -> String {
    if b < 1024.0 * 1024.0 {
        format!("{:.0} KiB", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.0} MiB", b / 1024.0 / 1024.0)
    } else {
        format!("{:.2} GiB", b / 1024.0 / 1024.0 / 1024.0)
    }
}

/// 57.5×, 10 749×, 17 958 949× (thin groups of three, so targets like 10 000× read at a glance).
pub fn ratio(r: f64) -> String {
    if r < 100.0 {
        return format!("{r:.1}×");
    }
    let digits = format!("{r:.0}");
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    grouped + "×"
}

/// One oha run against the server.
#[derive(Clone, Debug)]
pub struct LoadRun {
    pub endpoint: String,
    /// Requests per second asked of oha (`-q`); None at full speed.
    pub rate: Option<u64>,
    pub requests_per_sec: f64,
    pub checks_per_sec: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub success_rate: f64,
    /// Requests answered with a 2xx status.
    pub requests: u64,
    /// Server CPU time per check over the run (all requests answered, whatever their status).
    pub cpu_us_per_check: Option<f64>,
}

/// What run.sh recorded about the server under load.
#[derive(Clone, Debug, Deserialize)]
pub struct ServerFacts {
    pub size: usize,
    pub rss_kib_loaded: u64,
    pub rss_kib_empty: u64,
    pub start_secs: f64,
    pub fill_secs: f64,
    pub batch_size: usize,
    /// Share of the mixed queries in the bodies that Provost allows.
    pub allowed_share: f64,
    pub connections: u64,
    /// Seconds each fixed-rate run lasted (it sends rate × this many requests).
    pub duration_secs: u64,
    /// Requests of each full-speed run: single checks, and batches.
    #[serde(default)]
    pub check_count: u64,
    #[serde(default)]
    pub batch_count: u64,
}

/// Reads `oha-<endpoint>-<rate|max>.json` files (oha's `--output-format json`) from `dir`, each
/// with the server's CPU time over it from `cpu-<endpoint>-<rate|max>.json` when there is one.
pub fn read_load_runs(dir: &Path, batch_size: usize) -> Result<Vec<LoadRun>, BoxError> {
    let mut runs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let Some(rest) = stem.strip_prefix("oha-") else {
            continue;
        };
        let Some((endpoint, rate)) = rest.rsplit_once('-') else {
            continue;
        };
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        let num = |ptr: &str| json.pointer(ptr).and_then(serde_json::Value::as_f64);
        // oha's requestsPerSec counts failures too: throughput is answers with a 2xx status.
        let secs = num("/summary/total").ok_or("oha json: no total")?;
        let answered = |ok: fn(&str) -> bool| -> u64 {
            json.pointer("/statusCodeDistribution")
                .and_then(serde_json::Value::as_object)
                .map(|codes| {
                    codes
                        .iter()
                        .filter(|(code, _)| ok(code))
                        .filter_map(|(_, n)| n.as_u64())
                        .sum()
                })
                .unwrap_or(0)
        };
        let requests = answered(|code| code.starts_with('2'));
        let requests_per_sec = requests as f64 / secs;
        let per_request = if endpoint == "batch" { batch_size } else { 1 };
        let cpu_path = dir.join(format!("cpu-{rest}.json"));
        let cpu_us_per_check = match std::fs::read_to_string(&cpu_path) {
            Ok(text) => serde_json::from_str::<CpuSample>(&text)?
                .us_per_check(answered(|_| true) * per_request as u64),
            Err(_) => None,
        };
        runs.push(LoadRun {
            endpoint: endpoint.to_owned(),
            rate: rate.parse().ok(),
            requests_per_sec,
            checks_per_sec: requests_per_sec * per_request as f64,
            p50_ms: num("/latencyPercentiles/p50").unwrap_or(f64::NAN) * 1e3,
            p95_ms: num("/latencyPercentiles/p95").unwrap_or(f64::NAN) * 1e3,
            p99_ms: num("/latencyPercentiles/p99").unwrap_or(f64::NAN) * 1e3,
            success_rate: num("/summary/successRate").unwrap_or(0.0),
            requests,
            cpu_us_per_check,
        });
    }
    runs.sort_by(|a, b| {
        (&a.endpoint, a.rate.unwrap_or(u64::MAX)).cmp(&(&b.endpoint, b.rate.unwrap_or(u64::MAX)))
    });
    Ok(runs)
}

/// The machine the figures come from.
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub ram: String,
    pub rustc: String,
    pub kernel: String,
}

impl Machine {
    pub fn here() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let ram_kib: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let run = |cmd: &str, args: &[&str]| {
            std::process::Command::new(cmd)
                .args(args)
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_else(|| "unknown".to_owned())
        };
        Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            ram: format!("{:.1} GiB", ram_kib / 1024.0 / 1024.0),
            rustc: run("rustc", &["--version"]),
            kernel: run("uname", &["-sr"]),
        }
    }
}

/// Appends a Markdown table.
pub fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", head.iter().map(|_| "---|").collect::<String>());
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}
