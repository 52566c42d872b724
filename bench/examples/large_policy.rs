//! A large policy: 20 000 permissions in implication chains of 50 and 3 000 roles of 20
//! permissions each. Times its load (the service `provost policy load` runs), a cold start of
//! the database it made, and a check against it.
//! `cargo run --release -p provost-bench --example large_policy [-- PERMISSIONS ROLES]`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use provost_engine::{Assignment, Change};
use provost_server::access::Actor;
use provost_server::apps::authz::roles::load_policy;
use provost_server::Node;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The allocator `provost serve` runs with, so the times are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CHAIN: usize = 50;
const ROLE_SIZE: usize = 20;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let permissions: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20_000);
    let roles: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(3_000);
    let text = policy(permissions, roles);

    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("large.db").display()
    );
    let node = Node::open(&url).await?;
    let started = Instant::now();
    let loaded = load_policy(&node, &Actor::operator(), &text, false).await?;
    println!(
        "load: {permissions} permissions, {roles} roles ({} changes) in {:.2?}",
        loaded.changes,
        started.elapsed()
    );

    // One user per role, at one course each, so checks have something to find.
    let assignments: Vec<Change> = (0..roles)
        .map(|r| Change::AssignmentAdd {
            assignment: Assignment::new(
                &format!("user{r}"),
                &format!("role_{r}"),
                &format!("course-v1:Org+C{r}+2026"),
            ),
        })
        .collect();
    node.commit("bench", &assignments).await?;
    node.store().close().await;

    let started = Instant::now();
    let node = Node::open(&url).await?;
    println!("cold start: {:.2?}", started.elapsed());

    let index = node.index();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let queries: Vec<(String, String, String)> = (0..10_000)
        .map(|_| {
            let r = rng.gen_range(0..roles);
            let p = rng.gen_range(0..permissions);
            (
                format!("user{r}"),
                format!("big.p{p}"),
                format!("course-v1:Org+C{r}+2026"),
            )
        })
        .collect();
    let rounds = 100;
    let started = Instant::now();
    let mut allowed = 0usize;
    for _ in 0..rounds {
        for (subject, action, scope) in &queries {
            allowed += usize::from(index.allowed(black_box(subject), action, scope, 0));
        }
    }
    let per_check = started.elapsed() / (rounds * queries.len()) as u32;
    println!(
        "check: {per_check:.0?} per check ({} of {} allowed)",
        allowed / rounds,
        queries.len()
    );
    Ok(())
}

/// The policy file: permissions `big.p<i>`, each implying the next within its chain of 50, and
/// roles of 20 permissions drawn at random (seeded).
fn policy(permissions: usize, roles: usize) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut text = String::from("version = 1\n[apps]\nbig = \"course\"\n");
    for i in 0..permissions {
        let implies = if i % CHAIN == CHAIN - 1 || i + 1 == permissions {
            String::new()
        } else {
            format!("\"big.p{}\"", i + 1)
        };
        let _ = writeln!(
            text,
            "[[permissions]]\nname = \"big.p{i}\"\nimplies = [{implies}]"
        );
    }
    for r in 0..roles {
        let picked: Vec<String> = sample(&mut rng, permissions, ROLE_SIZE.min(permissions))
            .iter()
            .map(|p| format!("\"big.p{p}\""))
            .collect();
        let _ = writeln!(
            text,
            "[[roles]]\nname = \"role_{r}\"\npermissions = [{}]",
            picked.join(", ")
        );
    }
    text
}
