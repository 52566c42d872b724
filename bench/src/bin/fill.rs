//! Fills a Provost database with the generated dataset for the HTTP load, and writes the request
//! bodies the load sends (with the answers Provost's engine gives them).
//!
//! `fill DATABASE_URL SIZE DIR` writes DIR/check.json, DIR/checks.jsonl, DIR/batches.jsonl and
//! DIR/fill.json.

use std::path::PathBuf;
use std::time::Instant;

use provost_bench::dataset::Dataset;
use provost_bench::engines::provost::{self, Provost};
use provost_bench::engines::{BoxError, Engine};
use provost_bench::queries::{self, Actions};
use provost_engine::{policy_changes, PolicyDoc};
use provost_store::Store;
use serde_json::json;

/// Changes per transaction: big enough that commit overhead vanishes, small enough to show progress.
const CHUNK: usize = 10_000;
/// Checks in one batch request.
const BATCH: usize = 100;
/// Batches (and times BATCH, single checks) in the request bodies.
const BODIES: usize = 40;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: fill DATABASE_URL SIZE DIR";
    let url = args.next().ok_or(usage)?;
    let size: usize = args.next().ok_or(usage)?.parse()?;
    let dir = PathBuf::from(args.next().ok_or(usage)?);
    std::fs::create_dir_all(&dir)?;

    let ds = Dataset::generate(size);
    let changes = provost::changes(&ds);
    let store = Store::connect(&url).await?;
    let started = Instant::now();
    store
        .commit("bench", &policy_changes(&PolicyDoc::default_policy()))
        .await?;
    for (i, chunk) in changes.chunks(CHUNK).enumerate() {
        store.commit("bench", chunk).await?;
        if i % 10 == 9 {
            eprint!("\rfilled {}/{size}", (i + 1) * CHUNK);
        }
    }
    let fill_secs = started.elapsed().as_secs_f64();
    eprintln!("\rfilled {size} assignments in {fill_secs:.1} s");
    store.close().await;

    // The bodies: the mixed queries one a line (oha -Z sends them in turn), the same in batches,
    // and one check Provost allows with the first batch's answer count, to verify the server.
    let engine = Provost::build(&changes);
    let actions = Actions::from_policy(&PolicyDoc::default_policy());
    let mix = queries::mixed(&ds, &actions, BODIES * BATCH, queries::TIMING_SEED);
    let allowed_one = mix
        .iter()
        .find(|q| engine.allowed(q))
        .ok_or("no allowed query in the mix")?;
    let lines = |items: Vec<String>| items.join("\n") + "\n";
    let checks: Result<Vec<String>, _> = mix.iter().map(serde_json::to_string).collect();
    let batches: Result<Vec<String>, _> = mix
        .chunks(BATCH)
        .map(|batch| serde_json::to_string(&json!({ "checks": batch })))
        .collect();
    let first_batch_allowed = mix[..BATCH].iter().filter(|q| engine.allowed(q)).count();
    std::fs::write(dir.join("check.json"), serde_json::to_string(allowed_one)?)?;
    std::fs::write(dir.join("checks.jsonl"), lines(checks?))?;
    std::fs::write(dir.join("batches.jsonl"), lines(batches?))?;
    std::fs::write(
        dir.join("fill.json"),
        serde_json::to_string_pretty(&json!({
            "size": size,
            "fill_secs": fill_secs,
            "batch_size": BATCH,
            "first_batch_allowed": first_batch_allowed,
            "allowed_share": mix.iter().filter(|q| engine.allowed(q)).count() as f64 / mix.len() as f64,
        }))?,
    )?;
    Ok(())
}
