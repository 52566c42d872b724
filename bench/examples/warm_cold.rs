//! Provost's check warm (the same query five times, best) and cold (4 096 different queries once
//! each), by how many roles the subject holds: what tells memory latency from work.
//! `cargo run --release -p provost-bench --example warm_cold -- 1000000`

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use provost_bench::dataset::{user_name, Dataset};
use provost_bench::engines::provost::{self, Provost};
use provost_bench::engines::Engine;
use provost_bench::queries::{self, Actions};
use provost_engine::PolicyDoc;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let size: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let ds = Dataset::generate(size);
    let mut held: HashMap<String, usize> = HashMap::new();
    for g in &ds.grants {
        *held.entry(user_name(g.user)).or_default() += 1;
    }
    let actions = Actions::from_policy(&PolicyDoc::default_policy());
    let qs = queries::mixed(&ds, &actions, 4096, queries::TIMING_SEED);
    let engine = Provost::build(&provost::changes(&ds));

    let cold: Vec<f64> = qs
        .iter()
        .map(|q| {
            let t = Instant::now();
            black_box(engine.allowed(q));
            t.elapsed().as_nanos() as f64
        })
        .collect();
    println!("{size} assignments, cold: median {:.0} ns", median(cold));
    let warm: Vec<(usize, f64)> = qs
        .iter()
        .map(|q| {
            let best = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    black_box(engine.allowed(q));
                    t.elapsed().as_nanos() as f64
                })
                .fold(f64::MAX, f64::min);
            (held.get(&q.subject).copied().unwrap_or(0), best)
        })
        .collect();
    for (lo, hi) in [(0, 1), (1, 2), (2, 5), (5, 21), (21, 100), (100, 1000)] {
        let band: Vec<f64> = warm
            .iter()
            .filter(|(n, _)| (lo..hi).contains(n))
            .map(|(_, t)| *t)
            .collect();
        if !band.is_empty() {
            println!(
                "warm, subjects holding {lo}..{hi} roles: {} queries, median {:.0} ns",
                band.len(),
                median(band)
            );
        }
    }
}
