//! `allowed` on a generated platform-shaped dataset (default 1 M assignments; set
//! `PROVOST_BENCH_ASSIGNMENTS` for other sizes, e.g. 10000000).

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use provost_engine::{policy_changes, Assignment, Change, Index, PolicyDoc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ORGS: usize = 200;
const COURSES_PER_ORG: usize = 50;
const LIBS_PER_ORG: usize = 10;

fn course(org: usize, c: usize) -> String {
    format!("course-v1:Org{org}+C{c}+2026T1")
}

/// Most users hold a role or two on courses, some are staff of an org, a few admins of everything.
fn dataset(assignments: usize, rng: &mut StdRng) -> (Vec<Change>, usize) {
    let users = assignments * 2 / 5;
    let mut changes = Vec::with_capacity(assignments);
    let course_roles = [
        "course_auditor",
        "course_editor",
        "course_staff",
        "course_admin",
    ];
    let lib_roles = ["library_user", "library_author"];
    for i in 0..assignments {
        let subject = format!(
            "user{}",
            if i < users {
                i
            } else {
                rng.gen_range(0..users)
            }
        );
        let roll = rng.gen_range(0..1000);
        let (role, scope) = if roll < 900 {
            (
                course_roles[rng.gen_range(0..4)],
                course(rng.gen_range(0..ORGS), rng.gen_range(0..COURSES_PER_ORG)),
            )
        } else if roll < 979 {
            (
                lib_roles[rng.gen_range(0..2)],
                format!(
                    "lib:Org{}:lib{}",
                    rng.gen_range(0..ORGS),
                    rng.gen_range(0..LIBS_PER_ORG)
                ),
            )
        } else if roll < 999 {
            ("course_staff", format!("org:Org{}", rng.gen_range(0..ORGS)))
        } else {
            ("course_admin", "*".to_owned())
        };
        changes.push(Change::AssignmentAdd {
            assignment: Assignment::new(&subject, role, &scope),
        });
    }
    (changes, users)
}

/// Resident memory of this process (Linux), for bytes per assignment.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    kib * 1024
}

fn bench_allowed(c: &mut Criterion) {
    let size: usize = std::env::var("PROVOST_BENCH_ASSIGNMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut rng = StdRng::seed_from_u64(7);
    let (changes, users) = dataset(size, &mut rng);
    let rss_before = rss_bytes();
    let started = Instant::now();
    let mut index = Index::new();
    index.apply(1, &policy_changes(&PolicyDoc::default_policy()));
    index.apply(2, &changes);
    // Half the queries ask about a role someone really holds (a course they teach), half are random.
    let held: Vec<(String, String)> = changes
        .iter()
        .step_by(97)
        .filter_map(|c| match c {
            Change::AssignmentAdd { assignment } if assignment.scope.starts_with("course-v1:") => {
                Some((assignment.subject.clone(), assignment.scope.clone()))
            }
            _ => None,
        })
        .collect();
    drop(changes);
    let held_bytes = rss_bytes().saturating_sub(rss_before);
    eprintln!(
        "memory: {} MiB resident for the index, {} bytes per assignment",
        held_bytes >> 20,
        held_bytes / index.assignment_count().max(1) as u64
    );
    eprintln!(
        "dataset: {} assignments, {} subjects, {} scopes; built in {:.1?}",
        index.assignment_count(),
        index.subject_count(),
        index.scope_count(),
        started.elapsed()
    );
    let actions = [
        "courses.view_course",
        "courses.edit_course_content",
        "courses.manage_course_team",
        "content_libraries.view_library",
    ];
    let queries: Vec<(String, &str, String)> = (0..4096)
        .map(|q| {
            if q % 2 == 0 {
                let (subject, scope) = held[rng.gen_range(0..held.len())].clone();
                return (subject, "courses.view_course", scope);
            }
            let org = rng.gen_range(0..ORGS);
            let action = actions[rng.gen_range(0..actions.len())];
            let scope = if action.starts_with("content") {
                format!("lib:Org{org}:lib{}", rng.gen_range(0..LIBS_PER_ORG))
            } else {
                course(org, rng.gen_range(0..COURSES_PER_ORG))
            };
            (format!("user{}", rng.gen_range(0..users)), action, scope)
        })
        .collect();
    let granted = queries
        .iter()
        .filter(|(s, a, sc)| index.allowed(s, a, sc, 0))
        .count();
    eprintln!("queries: {} of {} allowed", granted, queries.len());
    let mut group = c.benchmark_group(format!("allowed/{size}"));
    let mut i = 0;
    group.bench_function("mixed", |b| {
        b.iter(|| {
            let (s, a, sc) = &queries[i % queries.len()];
            i += 1;
            black_box(index.allowed(s, a, sc, 1_800_000_000))
        })
    });
    let (s, a, sc) = queries
        .iter()
        .find(|(s, a, sc)| index.allowed(s, a, sc, 0))
        .cloned()
        .unwrap_or_else(|| queries[0].clone());
    group.bench_function("allowed_hit", |b| {
        b.iter(|| black_box(index.allowed(&s, a, &sc, 1_800_000_000)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench_allowed
}
criterion_main!(benches);
