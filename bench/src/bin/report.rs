//! Rewrites bench/results.md (the measured tables) and its SVG charts from the results under
//! target/bench/. bench/README.md, the prose, is written by hand and is never touched.
//!
//! `report [--results DIR] [--http DIR] [--bench DIR] [--elapsed SECS]`

use std::path::PathBuf;

use provost_bench::engines::BoxError;
use provost_bench::report::{read_load_runs, Machine, ServerFacts};
use provost_bench::results::read_all;
use provost_bench::tables::{self, Inputs};

fn main() -> Result<(), BoxError> {
    let mut results = PathBuf::from("target/bench/results");
    let mut http = PathBuf::from("target/bench/http");
    let mut bench = PathBuf::from("bench");
    let mut elapsed_secs = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--results" => results = value.into(),
            "--http" => http = value.into(),
            "--bench" => bench = value.into(),
            "--elapsed" => elapsed_secs = Some(value.parse()?),
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let runs = read_all(&results)?;
    if runs.is_empty() {
        return Err(format!("no results in {}", results.display()).into());
    }
    let server: Option<ServerFacts> = std::fs::read_to_string(http.join("server.json"))
        .ok()
        .map(|text| serde_json::from_str(&text))
        .transpose()?;
    let load = match &server {
        Some(server) => read_load_runs(&http, server.batch_size)?,
        None => Vec::new(),
    };
    let inputs = Inputs {
        runs,
        load,
        server,
        machine: Machine::here(),
        elapsed_secs,
    };
    tables::charts(&inputs, &bench)?;
    let out = bench.join("results.md");
    std::fs::write(&out, tables::render(&inputs))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
