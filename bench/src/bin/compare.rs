//! One engine at one size of one workload, in a process of its own so memory figures do not mix:
//! builds it from the generated dataset (RSS delta), checks it agrees with Provost, times checks
//! and lookups.
//!
//! `compare --engine provost|cedar|casbin --size N --out FILE [--workload standard|heavy]
//! [--budget SECS] [--criterion DIR]`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use provost_bench::agree::{self, Agreement};
use provost_bench::dataset::Dataset;
use provost_bench::engines::casbin::Casbin;
use provost_bench::engines::cedar::Cedar;
use provost_bench::engines::provost::{self, Provost};
use provost_bench::engines::{BoxError, Engine, PolicyFacts};
use provost_bench::measure::{self, mem_available_bytes, rss_bytes, Timing};
use provost_bench::queries::{self, Actions, Lookup, Query};
use provost_bench::results::EngineRun;
use provost_bench::workload::Workload;
use provost_engine::PolicyDoc;

/// The allocator `provost` ships with, for all three engines alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Queries compared for agreement (all of them unless a slow engine's budget runs out); casbin
/// is timed on these.
const AGREEMENT_QUERIES: usize = 4000;
/// Queries criterion and the per-call loop cycle over.
const TIMING_QUERIES: usize = 4096;
/// Lookups of each kind.
const LOOKUPS: usize = 200;
/// Distinct queries each call is timed on, for cheap engines: far more than the caches hold,
/// so the index is read from memory as a busy server reads it (4 096 queries asked over and
/// over would keep their part of the index in cache, and flatter every engine past 100 k).
const PER_CALL_QUERIES: usize = 200_000;
/// Times each of them is asked, after a round to warm up.
const PER_CALL_ROUNDS: usize = 2;
/// Pages of `who` timed, and their length (a server's first page).
const WHO_PAGES: usize = 200;
const WHO_PAGE_LEN: usize = 100;

struct Args {
    engine: String,
    size: usize,
    workload: Workload,
    out: PathBuf,
    /// Seconds each slow phase (agreement, timing, lookups) may take.
    budget: Duration,
    criterion: PathBuf,
}

fn args() -> Result<Args, BoxError> {
    let mut engine = None;
    let mut size = None;
    let mut out = None;
    let mut workload = Workload::Standard;
    let mut budget = Duration::from_secs(20);
    let mut criterion = PathBuf::from("target/bench/criterion");
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--engine" => engine = Some(value()?),
            "--size" => size = Some(value()?.parse()?),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--workload" => {
                let name = value()?;
                workload = Workload::parse(&name)
                    .ok_or_else(|| format!("unknown workload `{name}` (standard or heavy)"))?;
            }
            "--budget" => budget = Duration::from_secs_f64(value()?.parse()?),
            "--criterion" => criterion = PathBuf::from(value()?),
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let usage = "usage: compare --engine provost|cedar|casbin --size N --out FILE";
    Ok(Args {
        engine: engine.ok_or(usage)?,
        size: size.ok_or(usage)?,
        workload,
        out: out.ok_or(usage)?,
        budget,
        criterion,
    })
}

/// What every engine is asked.
struct Asked {
    agreement: Vec<Query>,
    /// The mix criterion cycles over.
    timing: Vec<Query>,
    /// The queries each call is timed on, and batches are.
    per_call: Vec<Query>,
    scopes: Vec<Lookup>,
    who: Vec<Lookup>,
}

/// Builds an engine and reports the time it took and the resident memory it added.
fn built<T>(build: impl FnOnce() -> Result<T, BoxError>) -> Result<(T, f64, u64), BoxError> {
    let before = rss_bytes();
    let started = Instant::now();
    let engine = build()?;
    let secs = started.elapsed().as_secs_f64();
    Ok((engine, secs, rss_bytes().saturating_sub(before)))
}

/// Builds an engine twice, the first still held while the second is built, and reports the first
/// build's time and the second's memory: the second cannot reuse pages the dataset's generation
/// freed (the first filled them), so its growth is what an engine takes. Where two would not fit
/// in memory, the one build's growth, and `false`.
fn measured_build<T>(
    build: impl Fn() -> Result<T, BoxError>,
) -> Result<(T, f64, u64, bool), BoxError> {
    let (first, secs, grown) = built(&build)?;
    if grown.saturating_mul(2) >= mem_available_bytes() {
        return Ok((first, secs, grown, false));
    }
    let (second, _, rss) = built(&build)?;
    drop(first);
    Ok((second, secs, rss, true))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BoxError> {
    let args = args()?;
    let started = Instant::now();
    let w = args.workload;
    let ds = w.dataset(args.size);
    let census = ds.census();
    let actions = Actions::from_policy(&PolicyDoc::default_policy());
    let (scopes, who) = queries::lookups(&ds, &actions, LOOKUPS);
    let work = Asked {
        agreement: w.queries(&ds, &actions, AGREEMENT_QUERIES, queries::AGREEMENT_SEED),
        timing: w.queries(&ds, &actions, TIMING_QUERIES, queries::TIMING_SEED),
        per_call: w.queries(&ds, &actions, PER_CALL_QUERIES, queries::TIMING_SEED ^ 1),
        scopes,
        who,
    };
    eprintln!(
        "{} at {} ({}): dataset of {} users generated in {:.1?}",
        args.engine,
        args.size,
        w.name(),
        census.users,
        started.elapsed()
    );
    let label = format!("{}-{}-{}", w.name(), args.engine, args.size);
    let mut who_page = None;
    let mut memory_read_ns = None;
    let mut batched_ns = None;
    let (build_secs, rss, twice, agreement, (check, check_per_call), scopes, who) =
        match args.engine.as_str() {
            "provost" => {
                let changes = provost::changes(&ds);
                drop(ds);
                let (engine, secs, rss, twice) = measured_build(|| Ok(Provost::build(&changes)))?;
                drop(changes);
                let agreement = Agreement {
                    checks: work.agreement.len(),
                    allowed: work.agreement.iter().filter(|q| engine.allowed(q)).count(),
                    lookups: 0,
                };
                let check = time_checks(&engine, &work, &args, &label)?;
                let lookup = |l: &Lookup| engine.lookup(l);
                let scopes = measure::timed_loop(&work.scopes, args.budget, |l| drop(lookup(l)));
                let who = measure::timed_loop(&work.who, args.budget, |l| drop(lookup(l)));
                who_page = first_pages(&engine, &work.timing, args.budget);
                batched_ns = Some(provost::batched_ns(
                    &engine.index,
                    &work.per_call,
                    PER_CALL_ROUNDS,
                ));
                memory_read_ns = Some(measure::memory_read_ns(rss));
                (secs, rss, twice, agreement, check, scopes, who)
            }
            "cedar" => {
                let facts = PolicyFacts::from_default()?;
                let (engine, secs, rss, twice) = measured_build(|| Cedar::build(&ds, &facts))?;
                let agreement = agree_with_provost("cedar", &engine, &ds, &work, &args)?;
                drop(ds);
                let check = time_checks(&engine, &work, &args, &label)?;
                (secs, rss, twice, agreement, check, None, None)
            }
            "casbin" => {
                let (engine, secs, rss, twice) =
                    measured_build(|| Casbin::build(&ds, PolicyFacts::from_default()?))?;
                eprintln!("casbin at {}: built in {secs:.1} s", args.size);
                let reference = Provost::build(&provost::changes(&ds));
                drop(ds);
                // Too slow to ask twice: the agreement calls, timed one by one, are its timing,
                // with the budget of both a cheap engine's phases.
                let (mut agreement, each) = agree::checks(
                    "casbin",
                    &engine,
                    &reference,
                    &work.agreement,
                    2 * args.budget,
                    w.times_parsing(),
                )?;
                let check = (Timing::of_calls(each).ok_or("no query timed")?, None);
                // A lookup is tens of `enforce` calls: past a tenth of a second each, one lookup
                // alone would outlast the budget.
                let (scopes, who) = if check.0.median_ns < 1e8 {
                    let lookup = |l: &Lookup| engine.lookup(l);
                    let (n, scopes) =
                        agree::lookups("casbin", lookup, &reference, &work.scopes, args.budget)?;
                    let (m, who) =
                        agree::lookups("casbin", lookup, &reference, &work.who, args.budget)?;
                    agreement.lookups = n + m;
                    (scopes, who)
                } else {
                    (None, None)
                };
                (secs, rss, twice, agreement, check, scopes, who)
            }
            other => return Err(format!("unknown engine `{other}`").into()),
        };
    eprintln!(
        "{label}: built in {build_secs:.1} s, {} MiB ({:.0} B/assignment); agreed on {} checks \
         ({} allowed) and {} lookups; check median {:.0} ns (per call {:.0} ns)",
        rss >> 20,
        rss as f64 / args.size as f64,
        agreement.checks,
        agreement.allowed,
        agreement.lookups,
        check.median_ns,
        check_per_call.as_ref().unwrap_or(&check).median_ns,
    );
    EngineRun {
        workload: w.name().to_owned(),
        engine: args.engine,
        size: args.size,
        census,
        build_secs,
        rss_bytes: rss,
        built_twice: twice,
        agreement,
        check,
        check_per_call,
        scopes,
        who,
        who_page,
        batched_ns,
        memory_read_ns,
        load_average: measure::load_average(),
    }
    .write(&args.out)?;
    Ok(())
}

/// Cedar agrees with Provost on every agreement query (Provost built after Cedar's memory was read).
fn agree_with_provost<E: Engine>(
    name: &str,
    engine: &E,
    ds: &Dataset,
    work: &Asked,
    args: &Args,
) -> Result<Agreement, BoxError> {
    let reference = Provost::build(&provost::changes(ds));
    let (agreement, _) = agree::checks(
        name,
        engine,
        &reference,
        &work.agreement,
        args.budget,
        args.workload.times_parsing(),
    )?;
    Ok(agreement)
}

/// The first page of `who` at the courses the timing queries name, as a server asks for it.
fn first_pages(engine: &Provost, queries: &[Query], budget: Duration) -> Option<Timing> {
    let courses: Vec<&str> = queries
        .iter()
        .map(|q| q.scope.as_str())
        .filter(|scope| scope.starts_with("course-v1:"))
        .take(WHO_PAGES)
        .collect();
    measure::timed_loop(&courses, budget, |scope| {
        std::hint::black_box(engine.index.who_page(
            "courses.view_course",
            scope,
            provost::AT,
            None,
            WHO_PAGE_LEN,
        ));
    })
}

/// criterion over the mix, then each call on its own over many more queries; from the strings
/// on a workload that times parsing, else from requests prepared before.
fn time_checks<E: Engine>(
    engine: &E,
    work: &Asked,
    args: &Args,
    label: &str,
) -> Result<(Timing, Option<Timing>), BoxError> {
    if args.workload.times_parsing() {
        let mix = measure::criterion(&args.criterion, label, &work.timing, |q| {
            engine.allowed_strings(q)
        })?;
        let each = measure::per_call(&work.per_call, PER_CALL_ROUNDS, |q| {
            engine.allowed_strings(q)
        });
        return Ok((mix, each));
    }
    let prepare = |queries: &[Query]| -> Vec<E::Prepared> {
        queries.iter().map(|q| engine.prepare(q)).collect()
    };
    let mix = measure::criterion(&args.criterion, label, &prepare(&work.timing), |p| {
        engine.allowed(p)
    })?;
    let each = measure::per_call(&prepare(&work.per_call), PER_CALL_ROUNDS, |p| {
        engine.allowed(p)
    });
    Ok((mix, each))
}
