//! Clocks and memory: resident memory of this process, timed loops, and criterion run in-process.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use serde::{Deserialize, Serialize};

/// Resident memory of this process (Linux `VmRSS`), in bytes.
pub fn rss_bytes() -> u64 {
    vm_rss_kib("/proc/self/status") * 1024
}

/// `VmRSS` of `/proc/PID/status`-shaped file, in KiB (0 if unreadable).
pub fn vm_rss_kib(status_path: &str) -> u64 {
    std::fs::read_to_string(status_path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Memory the kernel could still hand out (Linux `MemAvailable`), in bytes.
pub fn mem_available_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// How a latency figure was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// criterion: the median over samples of the mean time per call, calls cycling over the queries.
    Criterion,
    /// Each call timed on its own over a fixed list of queries; the median call.
    TimedLoop,
}

/// A latency figure, in nanoseconds per call.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Timing {
    pub method: Method,
    /// Distinct queries the calls cycled over (criterion) or calls timed (loop).
    pub queries: usize,
    /// criterion: median over samples of the mean per call; loop: the median call.
    pub median_ns: f64,
    pub mean_ns: f64,
    /// Loop only: the 99th percentile call.
    #[serde(default)]
    pub p99_ns: Option<f64>,
}

impl Timing {
    /// From each call's time, sorted here.
    pub fn of_calls(mut each: Vec<f64>) -> Option<Timing> {
        if each.is_empty() {
            return None;
        }
        let mean = each.iter().sum::<f64>() / each.len() as f64;
        each.sort_by(f64::total_cmp);
        let at = |q: f64| each[((each.len() - 1) as f64 * q).round() as usize];
        Some(Timing {
            method: Method::TimedLoop,
            queries: each.len(),
            median_ns: at(0.5),
            mean_ns: mean,
            p99_ns: Some(at(0.99)),
        })
    }
}

/// Times each call of `f` over `items` until all are done or `budget` is spent (at least one).
pub fn timed_loop<T>(items: &[T], budget: Duration, mut f: impl FnMut(&T)) -> Option<Timing> {
    let started = Instant::now();
    let mut each: Vec<f64> = Vec::new();
    for item in items {
        let t = Instant::now();
        f(item);
        each.push(t.elapsed().as_nanos() as f64);
        if started.elapsed() > budget {
            break;
        }
    }
    Timing::of_calls(each)
}

/// What reading the clock twice costs, the median of many tries.
fn clock_overhead_ns() -> f64 {
    let mut each: Vec<f64> = (0..100_000)
        .map(|_| {
            let t = Instant::now();
            black_box(());
            t.elapsed().as_nanos() as f64
        })
        .collect();
    each.sort_by(f64::total_cmp);
    each[each.len() / 2]
}

/// Each call of a cheap `f` timed on its own, `rounds` times over `items` (after one round to
/// warm up), less the clock's own cost: the distribution criterion's averages hide.
pub fn per_call<T: Arrive>(
    items: &[T],
    rounds: usize,
    mut f: impl FnMut(&T) -> bool,
) -> Option<Timing> {
    for item in items {
        black_box(f(black_box(item)));
    }
    let overhead = clock_overhead_ns();
    let mut each = Vec::with_capacity(items.len() * rounds);
    let mut request = items.first()?.clone();
    for _ in 0..rounds {
        for item in items {
            request.arrive(item);
            let t = Instant::now();
            black_box(f(black_box(&request)));
            each.push((t.elapsed().as_nanos() as f64 - overhead).max(0.0));
        }
    }
    Timing::of_calls(each)
}

/// A request as a server holds it when its check starts: just read off the wire, so in cache.
/// `per_call` copies each item into one reused request before its clock starts; the timed call
/// then pays for the index's memory, not for fetching a request from a list of a million.
pub trait Arrive: Clone {
    fn arrive(&mut self, from: &Self);
}

impl Arrive for crate::queries::Query {
    fn arrive(&mut self, from: &Self) {
        self.subject.clone_from(&from.subject);
        self.action.clone_from(&from.action);
        self.scope.clone_from(&from.scope);
    }
}

/// What one read of memory costs when it waits for the read before and lands at a random place
/// in `bytes` of memory (a pointer chase, one cache line a step, through this process's
/// allocator and so its pages): the least a check pays for each line of the index it must fetch,
/// at the index's size, on this machine.
pub fn memory_read_ns(bytes: u64) -> f64 {
    use rand::{Rng, SeedableRng};
    const WORDS_PER_LINE: usize = 8;
    let lines = (bytes as usize / 64).max(1024);
    // Sattolo's shuffle: one cycle through every line, so the chase cannot settle in a short loop.
    let mut order: Vec<u32> = (0..lines as u32).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x6d65_6d6f_7279);
    for i in (1..lines).rev() {
        order.swap(i, rng.gen_range(0..i));
    }
    let mut memory = vec![0u64; lines * WORDS_PER_LINE];
    for (i, &line) in order.iter().enumerate() {
        let next = order[(i + 1) % lines];
        memory[line as usize * WORDS_PER_LINE] = u64::from(next) * WORDS_PER_LINE as u64;
    }
    drop(order);
    let chase = |steps: usize| {
        let mut at = 0u64;
        for _ in 0..steps {
            at = memory[at as usize];
        }
        black_box(at)
    };
    chase(lines.min(1 << 20));
    const STEPS: usize = 2_000_000;
    let t = Instant::now();
    chase(STEPS);
    t.elapsed().as_nanos() as f64 / STEPS as f64
}

/// The one-minute load average (Linux), to tell a quiet machine from a busy one.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct Estimates {
    mean: Estimate,
    median: Estimate,
}

/// Runs `f` (one call per iteration, cycling over `items`) under criterion, with results under
/// `dir`, and reads its estimates back.
pub fn criterion<T>(
    dir: &Path,
    group: &str,
    items: &[T],
    mut f: impl FnMut(&T) -> bool,
) -> Result<Timing, Box<dyn std::error::Error + Send + Sync>> {
    let mut c = Criterion::default()
        .output_directory(dir)
        .without_plots()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    let mut i = 0usize;
    c.bench_function(group, |b| {
        b.iter(|| {
            let item = &items[i % items.len()];
            i += 1;
            black_box(f(black_box(item)))
        })
    });
    let path = dir.join(group).join("new").join("estimates.json");
    let estimates: Estimates = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    Ok(Timing {
        method: Method::Criterion,
        queries: items.len(),
        median_ns: estimates.median.point_estimate,
        mean_ns: estimates.mean.point_estimate,
        p99_ns: None,
    })
}
