//! Writes bench/README.md and its charts from the results under target/bench/.

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
    /// bench/notes.md: what the profiles say, written by hand.
    pub notes: String,
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

pub fn render(inputs: &Inputs) -> String {
    let mut out = String::new();
    let runs = &inputs.runs;
    let sizes = sizes(runs);
    let elapsed = inputs
        .elapsed_secs
        .map(|s| {
            format!(
                " The last full run took {:.1} minutes, release build included.",
                s / 60.0
            )
        })
        .unwrap_or_default();
    let _ = write!(
        out,
        "# Benchmarks: Provost beside casbin-rs and cedar-policy\n\n\
         ```sh\nbench/run.sh                 # everything below: build, engines, HTTP load, this file and its charts\n\
         SIZES=\"10000 100000\" bench/run.sh   # a quicker subset\n```\n\n\
         This file is written by `bench/run.sh` (its last step, the `report` binary); edit \
         `bench/notes.md` or `bench/src/readme.rs` instead.{elapsed} Results land as JSON under \
         `target/bench/`.\n\n"
    );
    machine(&mut out, &inputs.machine);
    formulations(&mut out);
    dataset(&mut out, runs, &sizes);
    agreement(&mut out, runs, &sizes);
    checks(&mut out, runs, &sizes);
    lookups(&mut out, runs, &sizes);
    memory_section(&mut out, runs, &sizes);
    http(&mut out, inputs);
    targets(&mut out, inputs, &sizes);
    out.push_str("## What bounds the misses, and what would move them\n\n");
    out.push_str(inputs.notes.trim());
    out.push('\n');
    out
}

fn machine(out: &mut String, m: &Machine) {
    let _ = write!(
        out,
        "## Machine\n\n{} cores of {}, {} RAM, {}, {}. Every engine runs single-threaded; the \
         HTTP load generator (oha) shares the two cores with the server.\n\n",
        m.cores, m.cpu, m.ram, m.kernel, m.rustc
    );
}

fn formulations(out: &mut String) {
    out.push_str(
        "## The same decisions, three ways\n\n\
         - **Provost**: `provost_engine::Index` with the real default policy \
         (`policy/default.toml`), one `AssignmentAdd` per assignment; `allowed(subject, action, scope, at)`.\n\
         - **casbin-rs** (2.20): the Open edX authz model of openedx-authz \
         (`engine/config/model.conf`: `g = _, _, _` user → role in a scope, `g2` action implication, \
         matcher `(g(r.sub, p.sub, r.scope) || g(r.sub, p.sub, \"*\")) && keyMatch(r.scope, p.scope) && \
         (r.act == p.act || g2(p.act, r.act))`, deny-override effect) without its Python \
         `custom_check` hook (staff/superuser bypass; the dataset has neither). One `p` line per \
         role and permission with the kind's pattern (`course-v1:*`, `lib:*`), one `g2` per \
         implication, one `g` per assignment whose domain is the scope; inheritance is spelled \
         with `keyMatch` domain patterns as openedx-authz does (org → `course-v1:OrgN+*` and \
         `lib:OrgN:*`, globs as they are, instance `*`), with `key_match` as the role manager's \
         domain matching function.\n\
         - **cedar-policy** (4): scopes are entities in a hierarchy (`Course` → `CourseGlob` → \
         `Org` → `Instance`, `Library` → `LibraryGlob` → `Org`); a user's attribute named after a \
         role is the set of scopes where they hold it; one policy per role, \
         `permit(principal, action in Action::\"role:R\", resource is Course) when { principal has R \
         && resource in principal.R };`, so the policy set is fixed (8 policies) whatever the data; \
         actions are grouped so that `action in Action::\"role:R\"` is the role's closure under \
         implication. Requests are built before timing; only `is_authorized` is timed.\n\n\
         Only the eight roles the dataset hands out are translated for the peers; Provost holds \
         its whole default policy. Queries ask about courses and libraries at one instant (no \
         assignment has a time window).\n\n",
    );
}

fn dataset(out: &mut String, runs: &[EngineRun], sizes: &[usize]) {
    out.push_str(
        "## Dataset\n\n\
         Generated with ChaCha8 from a fixed seed (`bench/src/dataset.rs`): an org per 4 000 \
         assignments (at least 5), each with 100 courses and 10 libraries; users hold 1 role \
         (70 %), 2–4 (20 %), 5–20 (9 %) or 20–200 (1 %), mostly in their home org, big orgs more \
         often. Of the assignments, 88 % are course roles at a course (auditor 30 %, editor 25 %, \
         staff 35 %, admin 10 %), 8 % library roles at a library, 2.5 % at an org (`org:OrgN`), \
         1.5 % globs (`course-v1:OrgN+*`, `lib:OrgN:*`) and a few admins at `*`. \
         Queries: half about a role someone holds (at the course, or a course or library its org, \
         glob or instance reaches; one in ten of the other kind; any action of the scope's kind), \
         half random users (one in twenty unknown), actions and scopes.\n\n",
    );
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
    out.push_str(
        "## Agreement first\n\n\
         Before anything is timed, each peer answers the agreement queries and its answers are \
         compared with Provost's, built in the same process after the peer's memory was read; \
         the first difference stops the run with the query printed. casbin-rs also answers the \
         lookups, compared the same way. Where casbin's time budget ran out, fewer queries were \
         compared, as the table says.\n\n",
    );
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
    out.push_str(
        "## Check latency\n\n\
         Provost and Cedar answer the same 4 096 mixed queries; casbin-rs, too slow to ask \
         twice, is timed on its agreement queries (the same mix from another seed), one call \
         after another until its time budget is spent. **Per call**: each call timed on its own \
         (Provost and Cedar: 20 rounds over the queries after one to warm up, less the cost of \
         reading the clock), median and 99th percentile. **Mix**: the mean cost of a check over the mix — criterion for Provost \
         and Cedar (50 samples over 3 s, calls cycling through the queries; its median sample), \
         the mean call for casbin-rs. A few users hold hundreds of roles and are asked about \
         often, so the mix is well above the median call. Ratios are of medians, then of mixes. \
         Where casbin-rs was not run, its figures are scaled linearly from its largest run and \
         marked *extrapolated*.\n\n",
    );
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
    let k = growth_exponent(runs, "casbin");
    let extrapolated = sizes
        .iter()
        .any(|&s| check_ns(runs, "casbin", s).is_some_and(|f| f.extrapolated));
    match k {
        Some(k) if extrapolated => {
            let _ = writeln!(
                out,
                "casbin-rs's median call grew as size^{k:.2} between its two largest measured \
                 sizes; the linear extrapolation (size^1) past them is in casbin's favour.\n"
            );
        }
        Some(k) => {
            let _ = writeln!(
                out,
                "casbin-rs's median call grew as size^{k:.2} between its two largest sizes.\n"
            );
        }
        None => {}
    }
    out.push_str("![check latency against dataset size](check-latency.svg)\n\n");
}

fn lookups(out: &mut String, runs: &[EngineRun], sizes: &[usize]) {
    out.push_str(
        "## Lookups\n\n\
         `scopes(subject, action)` (where may this user act) and `who(action, scope)` (who may act \
         here), 200 of each about held roles, each call timed on its own; medians. casbin-rs has \
         no working equivalent under a domain model (`get_implicit_users_for_permission` asks `g` \
         without a domain and finds nobody), so its side is what an application would write with \
         casbin's API: for `scopes`, the user's `g` lines (`get_filtered_grouping_policy`) kept \
         where `enforce` allows; for `who`, every subject with a `g` line whose domain pattern \
         matches, kept where `enforce` allows. Its answers are compared with Provost's. Cedar has \
         no lookup API.\n\n",
    );
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
    out.push_str(
        "## Memory and build time\n\n\
         Each engine at each size runs in a fresh process (`compare`); the figure is the growth of \
         its resident memory (VmRSS) while the engine is built from the generated dataset, \
         allocator slack and build temporaries included. Input the engine keeps (casbin's policy \
         lines, Cedar's entities) is made inside that window; Provost's `Change` list, which it \
         only reads, before it.\n\n",
    );
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
    let _ = write!(
        out,
        "`provost serve` (release build, SQLite) on {} assignments written by `fill` \
         ({:.0} s, 10 000 changes a commit; the node loaded them in {:.1} s at start), driven on \
         loopback by oha for {} s a run over {} connections, at fixed rates (`-q`, with oha's \
         latency correction against coordinated omission) and at full speed. Bodies are the mixed \
         queries ({:.0} % allowed), sent in turn, as a service token asking for users: `check` is \
         `POST /api/v1/check` with one query, `batch` is `POST /api/v1/check/batch` with {}. \
         The server's answers to one check and one batch are compared with the engine's first. \
         Latencies are oha's, per request.\n\n",
        size_label(server.size),
        server.fill_secs,
        server.start_secs,
        server.duration_secs,
        server.connections,
        server.allowed_share * 100.0,
        server.batch_size,
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
    let loaded = server.rss_kib_loaded as f64 * 1024.0;
    let empty = server.rss_kib_empty as f64 * 1024.0;
    let _ = write!(
        out,
        "Server memory (VmRSS after start): {} with the data, {} with the default policy only: \
         {:.0} bytes per assignment for the data, {:.0} counting the whole process.\n\n",
        bytes(loaded),
        bytes(empty),
        (loaded - empty) / server.size as f64,
        loaded / server.size as f64,
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
