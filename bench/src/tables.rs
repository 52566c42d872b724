//! The table writer: bench/results.md (measured tables only) and its charts, from the results
//! under target/bench/. What each table means is bench/README.md's job, written by hand.

use std::fmt::Write as _;
use std::path::Path;

use plotters::style::RGBColor;

use crate::engines::BoxError;
use crate::plot::{self, Series};
use crate::report::{
    bytes, check_ns, duration_ns, growth_exponent, memory, mix_ns, ratio, run, size_label, sizes,
    table, Figure, LoadRun, Machine, ServerFacts, ENGINES,
};
use crate::results::EngineRun;

pub struct Inputs {
    pub runs: Vec<EngineRun>,
    pub load: Vec<LoadRun>,
    pub server: Option<ServerFacts>,
    pub machine: Machine,
    /// Wall time of the whole `bench/run.sh`, if it said.
    pub elapsed_secs: Option<f64>,
}

fn color(engine: &str) -> RGBColor {
    match engine {
        "provost" => RGBColor(0x1f, 0x77, 0xb4),
        "cedar" => RGBColor(0x2c, 0xa0, 0x2c),
        _ => RGBColor(0xd6, 0x27, 0x28),
    }
}

/// Draws the two charts into `dir`.
pub fn charts(inputs: &Inputs, dir: &Path) -> Result<(), BoxError> {
    let sizes = sizes(&inputs.runs);
    let series = |get: &dyn Fn(&str, usize) -> Option<crate::report::Figure>| -> Vec<Series> {
        ENGINES
            .iter()
            .map(|engine| Series {
                name: (*engine).to_owned(),
                color: color(engine),
                points: sizes
                    .iter()
                    .filter_map(|&s| get(engine, s).map(|f| (s as f64, f.value, f.extrapolated)))
                    .collect(),
            })
            .collect()
    };
    let runs = &inputs.runs;
    plot::log_log(
        &dir.join("check-latency.svg"),
        "allowed(): the median call",
        "ns per check",
        &series(&|e, s| check_ns(runs, e, s)),
    )?;
    plot::log_log(
        &dir.join("memory.svg"),
        "memory held by the engine (RSS delta while building)",
        "bytes",
        &series(&|e, s| memory(runs, e, s)),
    )?;
    Ok(())
}

/// bench/results.md: a heading and a table per measurement, nothing else.
pub fn render(inputs: &Inputs) -> String {
    let mut out = String::from(
        "<!-- Written by bench/run.sh (the `report` binary, bench/src/tables.rs); do not edit. \
         What each table measures and how to read it: README.md. -->\n\n\
         # Benchmark results\n\n",
    );
    let runs = &inputs.runs;
    let sizes = sizes(runs);
    machine(&mut out, &inputs.machine, inputs.elapsed_secs);
    dataset(&mut out, runs, &sizes);
    agreement(&mut out, runs, &sizes);
    checks(&mut out, runs, &sizes);
    lookups(&mut out, runs, &sizes);
    memory_section(&mut out, runs, &sizes);
    http(&mut out, inputs);
    targets(&mut out, inputs, &sizes);
    out
}

fn machine(out: &mut String, m: &Machine, elapsed_secs: Option<f64>) {
    out.push_str("## Machine\n\n");
    let took = elapsed_secs.map_or("—".to_owned(), |s| format!("{:.1} min", s / 60.0));
    let row = vec![
        m.cores.to_string(),
        m.cpu.clone(),
        m.ram.clone(),
        m.kernel.clone(),
        m.rustc.clone(),
        took,
    ];
    table(
        out,
        &[
            "cores",
            "CPU",
            "RAM",
            "kernel",
            "rustc",
            "whole run (build included)",
        ],
        &[row],
    );
}

fn dataset(out: &mut String, runs: &[EngineRun], sizes: &[usize]) {
    out.push_str("## Dataset\n\n");
    let rows: Vec<Vec<String>> = sizes
        .iter()
        .filter_map(|&s| run(runs, "provost", s))
        .map(|r| {
            let c = &r.census;
            vec![
                size_label(r.size),
                c.users.to_string(),
                c.orgs.to_string(),
                c.courses.to_string(),
                c.libraries.to_string(),
                c.at_course.to_string(),
                c.at_library.to_string(),
                c.at_org.to_string(),
                c.at_glob.to_string(),
                c.at_instance.to_string(),
                c.max_per_user.to_string(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "assignments",
            "users",
            "orgs",
            "courses",
            "libraries",
            "at a course",
            "at a library",
            "at an org",
            "globs",
            "at `*`",
            "most held by one user",
        ],
        &rows,
    );
}

fn agreement(out: &mut String, runs: &[EngineRun], sizes: &[usize]) {
    out.push_str("## Agreement\n\n");
    let mut rows = Vec::new();
    for &s in sizes {
        for engine in ["cedar", "casbin"] {
            if let Some(r) = run(runs, engine, s) {
                rows.push(vec![
                    size_label(s),
                    engine.to_owned(),
                    r.agreement.checks.to_string(),
                    r.agreement.allowed.to_string(),
                    r.agreement.lookups.to_string(),
                    format!("{:.1}", r.load_average),
                ]);
            }
        }
    }
    table(
        out,
        &[
            "assignments",
            "peer",
            "checks agreed",
            "of which allowed",
            "lookups agreed",
            "load average after",
        ],
        &rows,
    );
}

fn checks(out: &mut String, runs: &[EngineRun], sizes: &[usize]) {
    out.push_str("## Check latency\n\n");
    let mut rows = Vec::new();
    for &s in sizes {
        let per_call = |engine: &str| match (run(runs, engine, s), check_ns(runs, engine, s)) {
            (Some(r), _) => {
                let t = r.per_call();
                match t.p99_ns {
                    Some(p99) => format!("{} / {}", duration_ns(t.median_ns), duration_ns(p99)),
                    None => duration_ns(t.median_ns),
                }
            }
            (None, Some(f)) => format!("{}{}", duration_ns(f.value), f.mark()),
            _ => "—".to_owned(),
        };
        let mix = |engine: &str| match mix_ns(runs, engine, s) {
            Some(f) => format!("{}{}", duration_ns(f.value), f.mark()),
            None => "—".to_owned(),
        };
        let versus = |engine: &str| {
            let one = |get: fn(&[EngineRun], &str, usize) -> Option<Figure>| match (
                get(runs, engine, s),
                get(runs, "provost", s),
            ) {
                (Some(e), Some(p)) => ratio(e.value / p.value),
                _ => "—".to_owned(),
            };
            let guessed = check_ns(runs, engine, s).is_some_and(|f| f.extrapolated);
            format!(
                "{} / {}{}",
                one(check_ns),
                one(mix_ns),
                if guessed { " *(extrapolated)*" } else { "" }
            )
        };
        let queries =
            run(runs, "casbin", s).map_or("—".to_owned(), |r| r.check.queries.to_string());
        rows.push(vec![
            size_label(s),
            per_call("provost"),
            mix("provost"),
            per_call("cedar"),
            mix("cedar"),
            per_call("casbin"),
            mix("casbin"),
            queries,
            versus("cedar"),
            versus("casbin"),
        ]);
    }
    table(
        out,
        &[
            "assignments",
            "Provost p50 / p99",
            "Provost mix",
            "Cedar p50 / p99",
            "Cedar mix",
            "casbin-rs p50 / p99",
            "casbin-rs mix",
            "casbin calls timed",
            "Cedar ÷ Provost (p50 / mix)",
            "casbin ÷ Provost (p50 / mix)",
        ],
        &rows,
    );
    if let Some(k) = growth_exponent(runs, "casbin") {
        let _ = writeln!(
            out,
            "casbin-rs median call ∝ size^{k:.2} between its two largest measured sizes.\n"
        );
    }
    out.push_str("![check latency against dataset size](check-latency.svg)\n\n");
}

fn lookups(out: &mut String, runs: &[EngineRun], sizes: &[usize]) {
    out.push_str("## Lookups\n\n");
    let mut rows = Vec::new();
    for &s in sizes {
        let Some(p) = run(runs, "provost", s) else {
            continue;
        };
        let k = run(runs, "casbin", s);
        let t = |t: Option<&crate::measure::Timing>| {
            t.map_or("—".to_owned(), |t| {
                format!("{} ({} q)", duration_ns(t.median_ns), t.queries)
            })
        };
        let r =
            |a: Option<&crate::measure::Timing>, b: Option<&crate::measure::Timing>| match (a, b) {
                (Some(a), Some(b)) => ratio(b.median_ns / a.median_ns),
                _ => "—".to_owned(),
            };
        let (ks, kw) = (
            k.and_then(|k| k.scopes.as_ref()),
            k.and_then(|k| k.who.as_ref()),
        );
        rows.push(vec![
            size_label(s),
            t(p.scopes.as_ref()),
            t(ks),
            r(p.scopes.as_ref(), ks),
            t(p.who.as_ref()),
            t(kw),
            r(p.who.as_ref(), kw),
        ]);
    }
    table(
        out,
        &[
            "assignments",
            "Provost scopes",
            "casbin scopes",
            "ratio",
            "Provost who",
            "casbin who",
            "ratio",
        ],
        &rows,
    );
}

fn memory_section(out: &mut String, runs: &[EngineRun], sizes: &[usize]) {
    out.push_str("## Memory and build time\n\n");
    let mut rows = Vec::new();
    for &s in sizes {
        let mut row = vec![size_label(s)];
        for engine in ENGINES {
            row.push(match (memory(runs, engine, s), run(runs, engine, s)) {
                (Some(m), Some(r)) => format!(
                    "{} ({:.0} B/assignment), built in {:.1} s",
                    bytes(m.value),
                    m.value / s as f64,
                    r.build_secs
                ),
                (Some(m), None) => format!("{}{}", bytes(m.value), m.mark()),
                _ => "—".to_owned(),
            });
        }
        rows.push(row);
    }
    table(
        out,
        &["assignments", "Provost", "Cedar", "casbin-rs"],
        &rows,
    );
    out.push_str("![memory against dataset size](memory.svg)\n\n");
}

fn http(out: &mut String, inputs: &Inputs) {
    out.push_str("## HTTP\n\n");
    let Some(server) = &inputs.server else {
        out.push_str("Not run.\n\n");
        return;
    };
    let loaded = server.rss_kib_loaded as f64 * 1024.0;
    let empty = server.rss_kib_empty as f64 * 1024.0;
    table(
        out,
        &[
            "assignments",
            "filled in",
            "loaded at start in",
            "RSS with the data",
            "RSS, default policy only",
            "bytes/assignment (data / whole process)",
            "oha runs",
            "queries allowed",
            "checks per batch",
        ],
        &[vec![
            size_label(server.size),
            format!("{:.0} s", server.fill_secs),
            format!("{:.1} s", server.start_secs),
            bytes(loaded),
            bytes(empty),
            format!(
                "{:.0} / {:.0}",
                (loaded - empty) / server.size as f64,
                loaded / server.size as f64
            ),
            format!(
                "{} s over {} connections",
                server.duration_secs, server.connections
            ),
            format!("{:.0} %", server.allowed_share * 100.0),
            server.batch_size.to_string(),
        ]],
    );
    let rows: Vec<Vec<String>> = inputs
        .load
        .iter()
        .map(|r| {
            vec![
                r.endpoint.clone(),
                r.rate
                    .map_or("full speed".to_owned(), |q| format!("{q} req/s")),
                format!("{:.0}", r.requests_per_sec),
                format!("{:.0}", r.checks_per_sec),
                format!("{:.2} ms", r.p50_ms),
                format!("{:.2} ms", r.p95_ms),
                format!("{:.2} ms", r.p99_ms),
                format!("{:.2} %", r.success_rate * 100.0),
            ]
        })
        .collect();
    table(
        out,
        &[
            "endpoint",
            "asked",
            "requests/s",
            "checks/s",
            "p50",
            "p95",
            "p99",
            "success",
        ],
        &rows,
    );
}

fn targets(out: &mut String, inputs: &Inputs, sizes: &[usize]) {
    out.push_str("## Targets\n\n");
    let runs = &inputs.runs;
    let verdict = |ok: bool| if ok { "**met**" } else { "**missed**" }.to_owned();
    let mut rows = Vec::new();

    match run(runs, "provost", 10_000_000) {
        Some(r) => rows.push(vec![
            "Provost check p50 at 10 M ≤ 200 ns".to_owned(),
            format!(
                "{} (mean over the mix {})",
                duration_ns(r.per_call().median_ns),
                duration_ns(r.check.median_ns)
            ),
            verdict(r.per_call().median_ns <= 200.0),
        ]),
        None => rows.push(vec![
            "Provost check p50 at 10 M ≤ 200 ns".to_owned(),
            "not run".to_owned(),
            "—".to_owned(),
        ]),
    }

    for endpoint in ["check", "batch"] {
        let mine: Vec<&LoadRun> = inputs
            .load
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let good = mine
            .iter()
            .filter(|r| r.checks_per_sec >= 30_000.0 && r.p99_ms <= 2.0)
            .max_by(|a, b| a.checks_per_sec.total_cmp(&b.checks_per_sec));
        let best = mine
            .iter()
            .max_by(|a, b| a.checks_per_sec.total_cmp(&b.checks_per_sec));
        let text = match (good, best) {
            (Some(r), _) | (None, Some(r)) => format!(
                "{:.0} checks/s with p99 {:.2} ms ({})",
                r.checks_per_sec,
                r.p99_ms,
                r.rate
                    .map_or("full speed".to_owned(), |q| format!("asked {q} req/s"))
            ),
            _ => "—".to_owned(),
        };
        rows.push(vec![
            format!("HTTP `{endpoint}` ≥ 30 k checks/s with p99 ≤ 2 ms"),
            text,
            verdict(good.is_some()),
        ]);
    }

    if let Some(largest) = sizes.iter().rev().find_map(|&s| run(runs, "provost", s)) {
        let per = largest.bytes_per_assignment();
        rows.push(vec![
            format!(
                "≤ 150 bytes/assignment (engine, at {})",
                size_label(largest.size)
            ),
            format!("{per:.0} B"),
            verdict(per <= 150.0),
        ]);
    }
    if let Some(server) = &inputs.server {
        let per = (server.rss_kib_loaded.saturating_sub(server.rss_kib_empty)) as f64 * 1024.0
            / server.size as f64;
        rows.push(vec![
            format!(
                "≤ 150 bytes/assignment (server, at {})",
                size_label(server.size)
            ),
            format!("{per:.0} B"),
            verdict(per <= 150.0),
        ]);
    }

    for (engine, want) in [("casbin", 10_000.0), ("cedar", 100.0)] {
        let mut worst: Option<(f64, f64, usize, bool)> = None;
        for &s in sizes {
            let (Some(p), Some(e)) = (check_ns(runs, "provost", s), check_ns(runs, engine, s))
            else {
                continue;
            };
            let (Some(pm), Some(em)) = (mix_ns(runs, "provost", s), mix_ns(runs, engine, s)) else {
                continue;
            };
            let r = e.value / p.value;
            if worst.is_none_or(|(w, ..)| r < w) {
                worst = Some((r, em.value / pm.value, s, e.extrapolated));
            }
        }
        if let Some((r, mix, s, guessed)) = worst {
            let name = if engine == "casbin" {
                "casbin-rs"
            } else {
                "Cedar"
            };
            rows.push(vec![
                format!("≥ {}× {name} at every size", want as u64),
                format!(
                    "{} at worst, median calls (at {}{}; {} there over the mix)",
                    ratio(r),
                    size_label(s),
                    if guessed { ", extrapolated" } else { "" },
                    ratio(mix)
                ),
                verdict(r >= want),
            ]);
        }
    }
    table(out, &["target", "figure", "verdict"], &rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One engine's run, as `compare` writes it (the figures are made up, and round).
    fn run_json(engine: &str, size: usize, median_ns: f64, rss_bytes: u64) -> EngineRun {
        let loop_timing = |ns: f64| {
            serde_json::json!({"method": "timed_loop", "queries": 200, "median_ns": ns,
                               "mean_ns": ns, "p99_ns": ns * 2.0})
        };
        let casbin = engine == "casbin";
        serde_json::from_value(serde_json::json!({
            "engine": engine, "size": size,
            "census": {"users": size / 4, "orgs": 5, "courses": 500, "libraries": 50,
                       "at_course": size - 100, "at_library": 60, "at_org": 30, "at_glob": 9,
                       "at_instance": 1, "max_per_user": 191},
            "build_secs": 0.5, "rss_bytes": rss_bytes,
            "agreement": {"checks": 4000, "allowed": 866, "lookups": if casbin { 277 } else { 0 }},
            "check": if casbin { loop_timing(median_ns) } else {
                serde_json::json!({"method": "criterion", "queries": 4096,
                                   "median_ns": median_ns * 1.5, "mean_ns": median_ns * 1.5})
            },
            "check_per_call": if casbin { serde_json::Value::Null } else { loop_timing(median_ns) },
            "scopes": if engine == "cedar" { serde_json::Value::Null } else { loop_timing(median_ns * 2.0) },
            "who": if engine == "cedar" { serde_json::Value::Null } else { loop_timing(median_ns * 10.0) },
            "load_average": 1.0,
        }))
        .expect("fixture run")
    }

    fn fixture() -> Inputs {
        let mut runs = vec![
            run_json("provost", 10_000, 200.0, 2_000_000),
            run_json("provost", 100_000, 250.0, 20_000_000),
            run_json("cedar", 10_000, 12_000.0, 30_000_000),
            run_json("cedar", 100_000, 12_500.0, 200_000_000),
            run_json("casbin", 10_000, 2_000_000.0, 15_000_000),
        ];
        runs.sort_by(|a, b| (&a.engine, a.size).cmp(&(&b.engine, b.size)));
        let server: ServerFacts = serde_json::from_value(serde_json::json!({
            "size": 100_000, "rss_kib_loaded": 51_200, "rss_kib_empty": 25_600,
            "start_secs": 0.1, "fill_secs": 5.0, "batch_size": 100, "allowed_share": 0.21,
            "connections": 32, "duration_secs": 10,
        }))
        .expect("fixture server");
        let load = LoadRun {
            endpoint: "batch".to_owned(),
            rate: Some(400),
            requests_per_sec: 400.0,
            checks_per_sec: 40_000.0,
            p50_ms: 0.5,
            p95_ms: 0.6,
            p99_ms: 0.7,
            success_rate: 1.0,
            requests: 4000,
        };
        Inputs {
            runs,
            load: vec![load],
            server: Some(server),
            machine: Machine {
                cores: 2,
                cpu: "Test CPU".to_owned(),
                ram: "1.0 GiB".to_owned(),
                rustc: "rustc 1.0".to_owned(),
                kernel: "Linux 6".to_owned(),
            },
            elapsed_secs: Some(600.0),
        }
    }

    #[test]
    fn every_measurement_becomes_a_row_of_its_table() {
        let md = render(&fixture());
        for row in [
            "| 2 | Test CPU | 1.0 GiB | Linux 6 | rustc 1.0 | 10.0 min |",
            "| 10 k | 2500 | 5 | 500 | 50 | 9900 | 60 | 30 | 9 | 1 | 191 |",
            "| 10 k | casbin | 4000 | 866 | 277 | 1.0 |",
            // casbin was not run at 100 k: scaled linearly from 10 k, and marked.
            "| 100 k | 250 ns / 500 ns | 375 ns | 12.5 µs / 25.0 µs | 18.8 µs | 20.00 ms *(extrapolated)* | 20.00 ms *(extrapolated)* | — | 50.0× / 50.0× | 80\u{202f}000× / 53\u{202f}333× *(extrapolated)* |",
            "| 10 k | 400 ns (200 q) | 4.00 ms (200 q) | 10\u{202f}000× | 2.0 µs (200 q) | 20.00 ms (200 q) | 10\u{202f}000× |",
            "| 100 k | 19 MiB (200 B/assignment), built in 0.5 s | 191 MiB (2000 B/assignment), built in 0.5 s | 143 MiB *(extrapolated)* |",
            "| 100 k | 5 s | 0.1 s | 50 MiB | 25 MiB | 262 / 524 | 10 s over 32 connections | 21 % | 100 |",
            "| batch | 400 req/s | 400 | 40000 | 0.50 ms | 0.60 ms | 0.70 ms | 100.00 % |",
            "| HTTP `batch` ≥ 30 k checks/s with p99 ≤ 2 ms | 40000 checks/s with p99 0.70 ms (asked 400 req/s) | **met** |",
            "| ≥ 100× Cedar at every size | 50.0× at worst, median calls (at 100 k; 50.0× there over the mix) | **missed** |",
        ] {
            assert!(md.lines().any(|l| l == row), "no row\n{row}\nin\n{md}");
        }
    }

    #[test]
    fn the_file_holds_tables_and_charts_not_prose() {
        let md = render(&fixture());
        let stray: Vec<&str> = md
            .lines()
            .filter(|l| !l.is_empty())
            .filter(|l| {
                !(l.starts_with('#')
                    || l.starts_with('|')
                    || l.starts_with("![")
                    || l.starts_with("<!--")
                    || l.starts_with("casbin-rs median call ∝ size^"))
            })
            .collect();
        assert!(stray.is_empty(), "prose in results.md: {stray:?}");
        assert!(md.contains("![check latency against dataset size](check-latency.svg)"));
        assert!(md.contains("![memory against dataset size](memory.svg)"));
    }
}
