//! Conformance scenarios (tests/scenarios/*.toml) and the one trait the engine, HTTP and CLI runs implement.
//!
//! The shape follows cedar's `CedarTestImplementation`: an implementation knows how to set
//! facts up and how to answer a check; `run` drives any of them through a scenario and
//! compares every decision with the one the file expects. Every implementation starts from
//! the default policy (scenario files carry no policy of their own yet).

use std::path::{Path, PathBuf};

use provost_engine::{Assignment, Change, ScopeRegistration, User};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub registrations: Vec<ScopeRegistration>,
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    #[serde(default)]
    pub checks: Vec<ExpectedCheck>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedCheck {
    pub name: String,
    pub subject: String,
    pub action: String,
    pub scope: String,
    pub allowed: bool,
    /// The deciding reason (`Reason::as_str`), when the scenario pins it.
    pub reason: Option<String>,
}

/// What an implementation decided: allowed or not, and the deciding reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub allowed: bool,
    pub reason: String,
}

/// One way of running Provost (the engine in memory, the HTTP API, the CLI), set up and asked
/// through the same steps. Set-up methods panic on failure: a scenario whose facts do not
/// load is a broken test, not a wrong decision.
#[expect(
    async_fn_in_trait,
    reason = "test code: no caller needs the future to be Send"
)]
pub trait Implementation {
    async fn put_users(&mut self, users: &[User]);
    async fn register_scopes(&mut self, registrations: &[ScopeRegistration]);
    async fn assign(&mut self, assignments: &[Assignment]);
    async fn check(&mut self, subject: &str, action: &str, scope: &str) -> Outcome;
}

/// The folder of the shared scenario files.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios")
}

impl Scenario {
    pub fn from_toml(text: &str) -> Result<Scenario, toml::de::Error> {
        toml::from_str(text)
    }

    /// Every scenario file in tests/scenarios, by file name; panics on one that does not parse.
    pub fn all() -> Vec<(String, Scenario)> {
        let dir = scenarios_dir();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no scenario in {}", dir.display());
        files
            .into_iter()
            .map(|path| {
                let name = path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
                let scenario = Scenario::from_toml(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                (name, scenario)
            })
            .collect()
    }

    /// The core scenario (tests/scenarios/core.toml).
    pub fn core() -> Scenario {
        Scenario::from_toml(include_str!("../../../tests/scenarios/core.toml"))
            .expect("core.toml parses")
    }

    /// The engine changes that set the scenario up (after the policy is loaded).
    pub fn changes(&self) -> Vec<Change> {
        let users = self
            .users
            .iter()
            .map(|u| Change::UserPut { user: u.clone() });
        let scopes = self.registrations.iter().map(|r| Change::ScopeRegister {
            registration: r.clone(),
        });
        let grants = self.assignments.iter().map(|a| Change::AssignmentAdd {
            assignment: a.clone(),
        });
        users.chain(scopes).chain(grants).collect()
    }

    /// Sets the scenario up on `implementation` and asks every check; panics listing every
    /// check whose decision (or pinned reason) differs from the file's.
    pub async fn run(&self, implementation: &mut impl Implementation) {
        implementation.put_users(&self.users).await;
        implementation.register_scopes(&self.registrations).await;
        implementation.assign(&self.assignments).await;
        let mut failures = Vec::new();
        for c in &self.checks {
            let got = implementation.check(&c.subject, &c.action, &c.scope).await;
            let reason_ok = c.reason.as_deref().is_none_or(|r| r == got.reason);
            if got.allowed != c.allowed || !reason_ok {
                failures.push(format!(
                    "{}: got allowed={} ({})",
                    c.name, got.allowed, got.reason
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} checks failed:\n{}",
            failures.len(),
            self.checks.len(),
            failures.join("\n")
        );
    }
}
