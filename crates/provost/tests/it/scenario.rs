//! The shared conformance scenarios (tests/scenarios/*.toml), set up and checked through the command line.

use provost_engine::{Assignment, ScopeRegistration, User};
use provost_testkit::scenario::{Implementation, Outcome, Scenario};

use crate::Cli;

/// A timestamp as the CLI's `--from`/`--until` take it.
fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .expect("time")
        .to_rfc3339()
}

impl Implementation for Cli {
    async fn put_users(&mut self, users: &[User]) {
        for u in users {
            let mut args = vec!["users", "upsert", u.username.as_str()];
            if u.staff {
                args.push("--staff");
            }
            if u.superuser {
                args.push("--superuser");
            }
            self.ok(&args);
        }
    }

    async fn register_scopes(&mut self, registrations: &[ScopeRegistration]) {
        for r in registrations {
            let mut args = vec!["register", r.scope.as_str()];
            for p in &r.parents {
                args.extend(["--parent", p.as_str()]);
            }
            self.ok(&args);
        }
    }

    async fn assign(&mut self, assignments: &[Assignment]) {
        for a in assignments {
            let from = a.valid_from.map(rfc3339);
            let until = a.valid_until.map(rfc3339);
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
            self.ok(&args);
        }
    }

    /// Exit 0 allows, 1 denies; the reason comes from `--json`.
    async fn check(&mut self, subject: &str, action: &str, scope: &str) -> Outcome {
        let (code, out, err) = self.exec(&["--json", "check", subject, action, scope]);
        assert!(code == 0 || code == 1, "check exited {code}: {out} {err}");
        let answer: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        Outcome {
            allowed: code == 0,
            reason: answer["reason"].as_str().unwrap_or_default().to_owned(),
        }
    }
}

#[tokio::test]
async fn every_scenario_check_gives_its_expected_exit_status() {
    for (name, scenario) in Scenario::all() {
        eprintln!("scenario {name}");
        scenario.run(&mut Cli::new()).await;
    }
}
