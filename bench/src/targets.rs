//! The targets table of bench/results.md: issue 17's targets, each judged met or missed from the
//! figures of the run, per workload where the figure has one.

use crate::report::{check_ns, duration_ns, mix_ns, ratio, run, size_label, table, Group, LoadRun};
use crate::results::EngineRun;
use crate::tables::Inputs;

/// Provost's median check at these sizes, in ns, on every workload.
const CHECK_P50_NS: [(usize, f64); 2] = [(1_000_000, 150.0), (10_000_000, 250.0)];
/// Cedar's median call over Provost's, at every size.
const CEDAR_RATIO: f64 = 100.0;
/// The size the memory, load and `who` targets are judged at.
const LARGEST: usize = 10_000_000;
const BYTES_PER_ASSIGNMENT: f64 = 100.0;
const LOAD_SECS: f64 = 10.0;
const WHO_PAGE_NS: f64 = 50_000.0;
/// Server CPU per single check, and p99 of single checks at a fixed rate.
const CPU_US_PER_CHECK: f64 = 20.0;
const P99_RATE: u64 = 10_000;
const P99_MS: f64 = 2.0;

fn verdict(ok: bool) -> String {
    if ok { "**met**" } else { "**missed**" }.to_owned()
}

/// A row: target, workload, figure, verdict; "not run" when there is no figure.
fn row(target: String, workload: &str, judged: Option<(String, bool)>) -> Vec<String> {
    let (figure, verdict) = match judged {
        Some((figure, ok)) => (figure, verdict(ok)),
        None => ("not run".to_owned(), "—".to_owned()),
    };
    vec![target, workload.to_owned(), figure, verdict]
}

/// At the largest size: Provost's run there, judged by `judge`.
fn at_largest(
    runs: &[EngineRun],
    judge: impl Fn(&EngineRun) -> Option<(String, bool)>,
) -> Option<(String, bool)> {
    run(runs, "provost", LARGEST).and_then(judge)
}

/// The worst ratio of Cedar's median call to Provost's over the sizes, with the ratio of mixes.
fn worst_cedar_ratio(g: &Group) -> Option<(String, bool)> {
    let mut worst: Option<(f64, f64, usize, bool)> = None;
    for &s in &g.sizes {
        let (Some(p), Some(e)) = (
            check_ns(&g.runs, "provost", s),
            check_ns(&g.runs, "cedar", s),
        ) else {
            continue;
        };
        let (Some(pm), Some(em)) = (mix_ns(&g.runs, "provost", s), mix_ns(&g.runs, "cedar", s))
        else {
            continue;
        };
        let r = e.value / p.value;
        if worst.is_none_or(|(w, ..)| r < w) {
            worst = Some((r, em.value / pm.value, s, e.extrapolated));
        }
    }
    worst.map(|(r, mix, s, guessed)| {
        (
            format!(
                "{} at worst, median calls (at {}{}; {} there over the mix)",
                ratio(r),
                size_label(s),
                if guessed { ", extrapolated" } else { "" },
                ratio(mix)
            ),
            r >= CEDAR_RATIO,
        )
    })
}

fn workload_rows(g: &Group, rows: &mut Vec<Vec<String>>) {
    let w = g.workload.as_str();
    for (size, limit) in CHECK_P50_NS {
        let judged = run(&g.runs, "provost", size).map(|r| {
            let t = r.per_call();
            (
                format!(
                    "{} (p99 {}, mean over the mix {}{})",
                    duration_ns(t.median_ns),
                    t.p99_ns.map_or("—".to_owned(), duration_ns),
                    duration_ns(r.check.median_ns),
                    r.memory_read_ns.map_or(String::new(), |read| format!(
                        "; one memory read {}",
                        duration_ns(read)
                    )),
                ),
                t.median_ns <= limit,
            )
        });
        let target = format!("Provost check p50 at {} ≤ {limit:.0} ns", size_label(size));
        rows.push(row(target, w, judged));
    }
    rows.push(row(
        format!("≥ {CEDAR_RATIO:.0}× Cedar at every size"),
        w,
        worst_cedar_ratio(g),
    ));
    let largest = size_label(LARGEST);
    rows.push(row(
        format!("engine ≤ {BYTES_PER_ASSIGNMENT:.0} B/assignment at {largest}"),
        w,
        at_largest(&g.runs, |r| {
            let per = r.bytes_per_assignment();
            let how = if r.built_twice {
                "second build"
            } else {
                "one build"
            };
            Some((format!("{per:.0} B ({how})"), per <= BYTES_PER_ASSIGNMENT))
        }),
    ));
    rows.push(row(
        format!("load of {largest} ≤ {LOAD_SECS:.0} s"),
        w,
        at_largest(&g.runs, |r| {
            Some((format!("{:.1} s", r.build_secs), r.build_secs <= LOAD_SECS))
        }),
    ));
    rows.push(row(
        format!(
            "`who` first page (100) at a course ≤ {} at {largest}",
            duration_ns(WHO_PAGE_NS)
        ),
        w,
        at_largest(&g.runs, |r| {
            let t = r.who_page.as_ref()?;
            Some((
                format!(
                    "p50 {} (p99 {}, {} pages)",
                    duration_ns(t.median_ns),
                    t.p99_ns.map_or("—".to_owned(), duration_ns),
                    t.queries
                ),
                t.median_ns <= WHO_PAGE_NS,
            ))
        }),
    ));
}

fn find_run<'a>(load: &'a [LoadRun], endpoint: &str, rate: Option<u64>) -> Option<&'a LoadRun> {
    load.iter()
        .find(|r| r.endpoint == endpoint && r.rate == rate)
}

fn http_rows(inputs: &Inputs, rows: &mut Vec<Vec<String>>) {
    let find = |endpoint: &str, rate: Option<u64>| find_run(&inputs.load, endpoint, rate);
    let cpu = |r: Option<&LoadRun>| r.and_then(|r| r.cpu_us_per_check);
    let us = |v: Option<f64>| v.map_or("—".to_owned(), |us| format!("{us:.1} µs"));
    let single = cpu(find("check", None));
    rows.push(row(
        format!("HTTP server CPU per single check ≤ {CPU_US_PER_CHECK:.0} µs"),
        "standard",
        single.map(|v| {
            (
                format!(
                    "{} at full speed ({} at {P99_RATE} req/s; in batches {} per check)",
                    us(Some(v)),
                    us(cpu(find("check", Some(P99_RATE)))),
                    us(cpu(find("batch", None)))
                ),
                v <= CPU_US_PER_CHECK,
            )
        }),
    ));
    rows.push(row(
        format!("HTTP check p99 ≤ {P99_MS:.0} ms at {P99_RATE} checks/s"),
        "standard",
        find("check", Some(P99_RATE)).map(|r| {
            (
                format!(
                    "{:.2} ms ({:.0} checks/s answered)",
                    r.p99_ms, r.checks_per_sec
                ),
                r.p99_ms <= P99_MS,
            )
        }),
    ));
}

pub fn targets(out: &mut String, inputs: &Inputs, groups: &[Group]) {
    out.push_str("## Targets\n\n");
    let mut rows = Vec::new();
    for g in groups {
        workload_rows(g, &mut rows);
    }
    if inputs.server.is_some() {
        http_rows(inputs, &mut rows);
    }
    table(out, &["target", "workload", "figure", "verdict"], &rows);
}
