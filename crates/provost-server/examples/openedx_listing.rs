//! How long openedx-authz's listings take over 100 000 assignments, through HTTP on a real
//! server (SQLite by default, PostgreSQL with `PROVOST_TEST_BACKEND=postgres`).
//!
//!     cargo run --release -p provost-server --example openedx_listing
//!
//! Seeds 20 000 users (with emails) and 100 000 `library_user` assignments over 1 000 libraries
//! in 5 orgs, plus `boss`, admin of every library in one org; then times each listing (median
//! and slowest of 20 calls, after one warm-up).

use std::time::{Duration, Instant};

use provost_engine::{Assignment, Change, User};
use provost_testkit::server::start;

const USERS: usize = 20_000;
const ASSIGNMENTS: usize = 100_000;

#[tokio::main]
async fn main() {
    let server = start().await;
    let seeded = Instant::now();
    let users: Vec<Change> = (0..USERS)
        .map(|i| Change::UserPut {
            user: User {
                username: format!("u{i:05}"),
                email: Some(format!("user{i:05}@example.com")),
                staff: false,
                superuser: false,
            },
        })
        .collect();
    for chunk in users.chunks(5_000) {
        server.node.commit("bench", chunk).await.expect("users");
    }
    let assignments: Vec<Change> = (0..ASSIGNMENTS)
        .map(|i| {
            let subject = format!("u{:05}", i % USERS);
            let scope = format!("lib:Org{}:lib{}", i / USERS, (i % USERS) % 200);
            Change::AssignmentAdd {
                assignment: Assignment::new(&subject, "library_user", &scope),
            }
        })
        .chain(std::iter::once(Change::AssignmentAdd {
            assignment: Assignment::new("boss", "library_admin", "lib:Org1:*"),
        }))
        .collect();
    for chunk in assignments.chunks(10_000) {
        server
            .node
            .commit("bench", chunk)
            .await
            .expect("assignments");
    }
    println!(
        "seeded {USERS} users and {} assignments in {:.1?} ({})",
        ASSIGNMENTS + 1,
        seeded.elapsed(),
        server.node.store().backend()
    );

    let admin = server.as_admin();
    let boss = server.as_user("boss");
    let cases: [(&str, &provost_testkit::Client<'_>, &str); 8] = [
        ("assignments, page 1", &admin, "/api/authz/v1/assignments/"),
        (
            "assignments, page 4000 of 20/page",
            &admin,
            "/api/authz/v1/assignments/?page=4000&page_size=20",
        ),
        (
            "assignments, search, by email desc",
            &admin,
            "/api/authz/v1/assignments/?search=user0123&sort_by=email&order=desc",
        ),
        (
            "assignments, one org, non-admin",
            &boss,
            "/api/authz/v1/assignments/?sort_by=scope&page=50",
        ),
        (
            "team of one library",
            &admin,
            "/api/authz/v1/roles/users/?scope=lib:Org3:lib77&sort_by=email",
        ),
        (
            "members, by email desc",
            &admin,
            "/api/authz/v1/users/?sort_by=email&order=desc&page=3",
        ),
        (
            "scopes, non-admin",
            &boss,
            "/api/authz/v1/scopes/?search=lib1",
        ),
        (
            "roles at a library",
            &admin,
            "/api/authz/v1/roles/?scope=lib:Org0:lib5",
        ),
    ];
    for (name, client, path) in cases {
        let first = client.get(path).await.ok();
        let count = first.body["count"].as_u64().unwrap_or(0);
        let mut times: Vec<Duration> = Vec::new();
        for _ in 0..20 {
            let start = Instant::now();
            client.get(path).await.ok();
            times.push(start.elapsed());
        }
        times.sort();
        println!(
            "{name:<40} count {count:>6}  median {:>8.2?}  max {:>8.2?}",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
}
