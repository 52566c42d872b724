//! Cold start: fills a database with N generated assignments (once), then times how long a node
//! takes to load it into memory. `cargo run --release -p provost-bench --example coldstart --
//! DATABASE_URL [N]` (N defaults to 1000000; an already-filled database is reused).

use std::time::Instant;

use provost_engine::{Assignment, Change};
use provost_server::Node;

/// The allocator `provost serve` runs with, so the times are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: coldstart DATABASE_URL [ASSIGNMENTS]")?;
    let wanted: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);

    let node = Node::open(&url).await?;
    let have = node.index().assignment_count();
    if have < wanted {
        let started = Instant::now();
        let mut next = have;
        while next < wanted {
            let chunk: Vec<Change> = (next..(next + 20_000).min(wanted))
                .map(|i| {
                    let scope = format!("course-v1:Org{}+C{}+2026T1", i % 200, (i / 200) % 50);
                    Change::AssignmentAdd {
                        assignment: Assignment::new(
                            &format!("user{}", i * 2 / 5),
                            "course_staff",
                            &scope,
                        ),
                    }
                })
                .collect();
            next += chunk.len();
            node.store().commit("coldstart", &chunk).await?;
            eprint!("\rfilled {next}/{wanted}");
        }
        eprintln!("\rfilled {wanted} assignments in {:.1?}", started.elapsed());
    }
    node.store().close().await;

    let started = Instant::now();
    let store = provost_store::Store::connect(&url).await?;
    let node = Node::from_store(store).await?;
    let elapsed = started.elapsed();
    println!(
        "cold start: {} assignments at revision {} loaded in {:.2?} ({})",
        node.index().assignment_count(),
        node.engine().revision(),
        elapsed,
        node.store().backend()
    );
    Ok(())
}
