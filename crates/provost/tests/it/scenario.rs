//! The shared conformance scenario, set up and checked through the command line.

use provost_engine::scenario::Scenario;

use crate::Cli;

const CORE: &str = include_str!("../../../../tests/scenarios/core.toml");

#[test]
fn every_scenario_check_gives_its_expected_exit_status() {
    let scenario = Scenario::from_toml(CORE).expect("scenario parses");
    let cli = Cli::new();
    for u in &scenario.users {
        let mut args = vec!["users", "upsert", u.username.as_str()];
        if u.staff {
            args.push("--staff");
        }
        if u.superuser {
            args.push("--superuser");
        }
        cli.ok(&args);
    }
    for r in &scenario.registrations {
        let mut args = vec!["register", r.scope.as_str()];
        for p in &r.parents {
            args.extend(["--parent", p.as_str()]);
        }
        cli.ok(&args);
    }
    for a in &scenario.assignments {
        let from = a.valid_from.map(|t| {
            chrono::DateTime::from_timestamp(t, 0)
                .expect("time")
                .to_rfc3339()
        });
        let until = a.valid_until.map(|t| {
            chrono::DateTime::from_timestamp(t, 0)
                .expect("time")
                .to_rfc3339()
        });
        let mut args = vec![
            "assign",
            a.subject.as_str(),
            a.role.as_str(),
            a.scope.as_str(),
        ];
        if let Some(from) = &from {
            args.extend(["--from", from.as_str()]);
        }
        if let Some(until) = &until {
            args.extend(["--until", until.as_str()]);
        }
        cli.ok(&args);
    }
    let mut failures = Vec::new();
    for c in &scenario.checks {
        let (code, out, err) = cli.exec(&["--json", "check", &c.subject, &c.action, &c.scope]);
        let expected = if c.allowed { 0 } else { 1 };
        let answer: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        let reason_ok = c.reason.as_deref().is_none_or(|r| answer["reason"] == r);
        if code != expected || !reason_ok {
            failures.push(format!("{}: exit {code}, {out} {err}", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
