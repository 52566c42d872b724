//! How long Registrar's listing takes with `user_has_perm` over 10 000 programs: one engine
//! lookup (`Index::scopes`) and one query, against a check per program for comparison.
//!
//! `cargo run -p provost-server --example programs_listing [DATABASE_URL]` (a temporary SQLite
//! file by default; a PostgreSQL URL works too, on an empty database).

use std::time::{Duration, Instant};

use provost_engine::{Assignment, Change, Scope, ScopeRegistration};
use provost_server::access::{now, Actor};
use provost_server::apps::programs::service::{self, ListQuery};
use provost_server::Node;
use provost_store::programs::{self as rows, ProgramRecord};

const PROGRAMS: usize = 10_000;
const ORGS: usize = 10;
const RUNS: usize = 50;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()));
    let node = Node::open(&url).await?;
    let started = Instant::now();
    seed(&node).await?;
    println!(
        "seeded {PROGRAMS} programs in {ORGS} orgs in {:?}",
        started.elapsed()
    );

    // rita reads the reports of every program of Org3 (1 000) and of 50 programs of Org0.
    let mut grants = vec![Change::AssignmentAdd {
        assignment: Assignment::new("rita", "program_read_reports", "org:Org3"),
    }];
    for i in (0..PROGRAMS).step_by(PROGRAMS / 50) {
        grants.push(Change::AssignmentAdd {
            assignment: Assignment::new(
                "rita",
                "program_read_reports",
                &format!("program:p{i:05}"),
            ),
        });
    }
    node.commit("bench", &grants).await?;
    let rita = Actor {
        username: "rita".into(),
        ..Actor::default()
    };
    let index = node.index();

    let lookup = median(RUNS, || {
        let started = Instant::now();
        let scopes = index.scopes("rita", "programs.read_reports", None, now());
        assert!(scopes.len() > 1);
        started.elapsed()
    });
    println!("engine lookup (Index::scopes): median {lookup:?}");

    for limit in [100_u32, 1000] {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..RUNS {
            let query = ListQuery {
                user_has_perm: Some("read_reports".into()),
                limit: limit + 1,
                ..ListQuery::default()
            };
            let started = Instant::now();
            let page = service::list(&node, &index, &rita, query).await?;
            times.push(started.elapsed());
            found = page.len();
        }
        times.sort();
        println!(
            "listing, first page of {limit} ({found} rows read, with each program's permissions): median {:?}, max {:?}",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }

    // The shape this replaces: a check per program.
    let per_program = median(5, || {
        let started = Instant::now();
        let allowed = (0..PROGRAMS)
            .filter(|i| {
                let key = format!("p{i:05}");
                rita.may(
                    &index,
                    "programs.read_reports",
                    &Scope::Program(&key),
                    now(),
                )
            })
            .count();
        assert_eq!(allowed, 1000 + 50);
        started.elapsed()
    });
    println!("a check per program over {PROGRAMS}: median {per_program:?}");
    Ok(())
}

fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| f()).collect();
    times.sort();
    times[times.len() / 2]
}

/// 10 000 programs, `p00000`.., round-robin over `Org0`..`Org9`, written and registered in one
/// write (as `service::create` does one at a time).
async fn seed(node: &Node) -> Result<(), provost_server::Error> {
    node.write("bench", |tx| {
        Box::pin(async move {
            for i in 0..PROGRAMS {
                let program = ProgramRecord {
                    key: format!("p{i:05}"),
                    uuid: uuid::Uuid::new_v4().hyphenated().to_string(),
                    title: format!("Program {i}"),
                    program_type: "masters".into(),
                    orgs: vec![format!("Org{}", i % ORGS)],
                    curriculum: Vec::new(),
                };
                rows::insert_program(tx.conn(), &program).await?;
                let registration = ScopeRegistration {
                    scope: format!("program:{}", program.key),
                    parents: vec![format!("org:Org{}", i % ORGS)],
                };
                tx.apply(&Change::ScopeRegister { registration }).await?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(())
}
