//! Conformance scenarios: users, registrations and assignments with the decisions they must give.

use serde::Deserialize;

use crate::err::PolicyError;
use crate::model::{Assignment, Change, ScopeRegistration, User};

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

impl Scenario {
    pub fn from_toml(text: &str) -> Result<Scenario, PolicyError> {
        toml::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))
    }

    /// The changes that set the scenario up (after the policy is loaded).
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
}
