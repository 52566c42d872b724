//! Provost alone on both workloads at each size: load time, engine heap per assignment, check
//! latency (requests as strings, parsing timed) and `who` at a course. Issue 17's measurements.
//!
//! `heavy [SIZE ...]` (default 10000 100000 1000000); `WORKLOAD=heavy|standard|both` (both).

use std::hint::black_box;
use std::time::Instant;

use provost_bench::dataset::Dataset;
use provost_bench::engines::provost::{self, Provost, AT};
use provost_bench::heavy;
use provost_bench::measure::{self, rss_bytes};
use provost_bench::queries::{self, Actions, Query};
use provost_engine::{Change, PolicyDoc};

/// The allocator `provost` ships with. Memory is the RSS growth while the index is built (the
/// changes are made before, and dropped after), per assignment.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    let workload = std::env::var("WORKLOAD").unwrap_or_else(|_| "both".into());
    let actions = Actions::from_policy(&PolicyDoc::default_policy());
    println!("workload  size        load_s  rss_B/asg  p50_ns  p99_ns  mean_ns  loop_ns  batch_ns  read_ns  allowed%  who_us(p50,max)  page_us(p50,max)");
    for &size in &sizes {
        if workload != "standard" {
            let h = heavy::generate(size);
            let changes = provost::changes(&h);
            let qs = heavy::queries(&h, &actions, 200_000, 17);
            run("heavy", size, changes, &qs);
        }
        if workload != "heavy" {
            let ds = Dataset::generate(size);
            let changes = provost::changes(&ds);
            let qs = queries::mixed(&ds, &actions, 200_000, queries::TIMING_SEED);
            run("standard", size, changes, &qs);
        }
    }
}

fn run(name: &str, size: usize, changes: Vec<Change>, qs: &[Query]) {
    // mimalloc returns freed pages after a short delay: let it return what generating the
    // workload freed, or the index reuses those pages and its growth reads far too low.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let before = rss_bytes();
    let t = Instant::now();
    let engine = Provost::build(&changes);
    let load = t.elapsed().as_secs_f64();
    // Read before the changes are freed: mimalloc returns their pages, which would hide the index.
    let per_assignment = rss_bytes().saturating_sub(before) as f64 / size as f64;
    drop(changes);
    let index = &engine.index;
    let timing = measure::per_call(qs, 3, |q| {
        index.allowed(&q.subject, &q.action, &q.scope, AT)
    })
    .expect("queries");
    let t = Instant::now();
    let mut allowed = 0usize;
    for _ in 0..3 {
        for q in qs {
            allowed += usize::from(black_box(index.allowed(
                black_box(&q.subject),
                &q.action,
                &q.scope,
                AT,
            )));
        }
    }
    let looped = t.elapsed().as_nanos() as f64 / (3 * qs.len()) as f64;
    let batched = provost::batched_ns(index, qs, 3);
    let read = measure::memory_read_ns((per_assignment * size as f64) as u64);
    // `who` at the courses the first 200 queries name (the whole answer, as the engine gives it).
    let mut who: Vec<f64> = qs
        .iter()
        .filter(|q| q.scope.starts_with("course-v1:"))
        .take(200)
        .map(|q| {
            let t = Instant::now();
            black_box(index.who("courses.view_course", &q.scope, AT));
            t.elapsed().as_nanos() as f64 / 1000.0
        })
        .collect();
    who.sort_by(f64::total_cmp);
    // The first page of 100, as a server would ask for it.
    let mut page: Vec<f64> = qs
        .iter()
        .filter(|q| q.scope.starts_with("course-v1:"))
        .take(200)
        .map(|q| {
            let t = Instant::now();
            black_box(index.who_page("courses.view_course", &q.scope, AT, None, 100));
            t.elapsed().as_nanos() as f64 / 1000.0
        })
        .collect();
    page.sort_by(f64::total_cmp);
    println!(
        "{name:<9} {size:<10} {load:>7.2} {per_assignment:>10.0} {:>7.0} {:>7.0} {:>8.0} {looped:>8.0} {batched:>9.0} {read:>7.0} {:>8.1}  {:.0},{:.0}  {:.1},{:.1}",
        timing.median_ns,
        timing.p99_ns.unwrap_or(f64::NAN),
        timing.mean_ns,
        100.0 * allowed as f64 / (3 * qs.len()) as f64,
        who.get(who.len() / 2).copied().unwrap_or(f64::NAN),
        who.last().copied().unwrap_or(f64::NAN),
        page.get(page.len() / 2).copied().unwrap_or(f64::NAN),
        page.last().copied().unwrap_or(f64::NAN),
    );
}
