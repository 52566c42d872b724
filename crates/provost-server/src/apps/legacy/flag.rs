//! The course authoring flag: an instance value, org overrides and course overrides, each on or
//! off; the most specific value set decides (course beats org beats instance; unset is off).

use std::collections::HashMap;

use provost_engine::Scope;
use provost_store::{legacy as store, AppAudit};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::service::APP;
use crate::access::{require_admin, truncate, Actor};
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// The flag that moves course roles from the legacy tables to Provost, course by course.
pub const COURSE_AUTHORING: &str = "authz.enable_course_authoring";

/// The flags this app keeps.
const FLAGS: [&str; 1] = [COURSE_AUTHORING];

/// Which level's value decided a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Course,
    Org,
    Instance,
    /// Nothing is set at any level: off.
    Default,
}

/// A flag's effective value at a scope, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FlagAnswer {
    pub name: String,
    /// The scope asked about: `*`, `org:ORG` or a course key.
    pub scope: String,
    pub enabled: bool,
    pub decided_by: Level,
    /// The scope whose value decided (`None` for the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
}

/// Where a flag can be set or asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagScope {
    Instance,
    Org(String),
    Course { org: String, key: String },
}

impl FlagScope {
    /// `*`, `org:ORG` or a `course-v1:` course key; anything else is refused.
    pub fn parse(text: &str) -> Result<FlagScope> {
        let refuse = || {
            Error::new(
                ErrorCode::InvalidFlagScope,
                format!(
                    "`{}` is not a flag scope: use `*`, `org:ORG` or a course key `course-v1:ORG+COURSE+RUN`",
                    truncate(text)
                ),
            )
        };
        match Scope::parse(text).map_err(|_| refuse())? {
            Scope::Instance => Ok(FlagScope::Instance),
            Scope::Org(org) => Ok(FlagScope::Org(org.to_owned())),
            Scope::Course { org, key, .. } => Ok(FlagScope::Course {
                org: org.to_owned(),
                key: key.to_owned(),
            }),
            _ => Err(refuse()),
        }
    }

    /// The key values are stored under.
    pub fn key(&self) -> String {
        match self {
            FlagScope::Instance => "*".into(),
            FlagScope::Org(org) => format!("org:{org}"),
            FlagScope::Course { key, .. } => key.clone(),
        }
    }

    /// This scope and those above it, most specific first, with their levels.
    fn chain(&self) -> Vec<(Level, String)> {
        let mut chain = Vec::with_capacity(3);
        if let FlagScope::Course { key, .. } = self {
            chain.push((Level::Course, key.clone()));
        }
        match self {
            FlagScope::Course { org, .. } | FlagScope::Org(org) => {
                chain.push((Level::Org, format!("org:{org}")));
            }
            FlagScope::Instance => {}
        }
        chain.push((Level::Instance, "*".into()));
        chain
    }
}

/// Every value set for one flag, by scope key.
#[derive(Clone, Debug, Default)]
pub struct FlagValues {
    name: String,
    values: HashMap<String, bool>,
}

impl FlagValues {
    /// The effective value at `scope`.
    pub fn effective(&self, scope: &FlagScope) -> FlagAnswer {
        let decided = scope
            .chain()
            .into_iter()
            .find_map(|(level, key)| self.values.get(&key).map(|v| (*v, level, key)));
        let (enabled, decided_by, decided_at) = match decided {
            Some((v, level, key)) => (v, level, Some(key)),
            None => (false, Level::Default, None),
        };
        FlagAnswer {
            name: self.name.clone(),
            scope: scope.key(),
            enabled,
            decided_by,
            decided_at,
        }
    }

    /// The value set at exactly `key`, if any.
    pub fn set_at(&self, key: &str) -> Option<bool> {
        self.values.get(key).copied()
    }
}

fn known(name: &str) -> Result<&'static str> {
    FLAGS.iter().copied().find(|f| *f == name).ok_or_else(|| {
        Error::new(
            ErrorCode::UnknownFlag,
            format!(
                "there is no flag `{}` (known: {})",
                truncate(name),
                FLAGS.join(", ")
            ),
        )
    })
}

/// Every value of flag `name`.
pub async fn values(node: &Node, name: &str) -> Result<FlagValues> {
    let name = known(name)?;
    let rows = store::flag_values(node.store().reader().await?.conn(), name).await?;
    Ok(FlagValues {
        name: name.to_owned(),
        values: rows.into_iter().map(|v| (v.scope, v.enabled)).collect(),
    })
}

/// The effective value of `name` at `scope`. Anyone signed in may ask: old code paths of every
/// kind need the answer, and it says nothing about anyone.
pub async fn get(node: &Node, name: &str, scope: &str) -> Result<FlagAnswer> {
    let scope = FlagScope::parse(scope)?;
    Ok(values(node, name).await?.effective(&scope))
}

/// Sets `name` at `scope` on or off, or clears it there (`None`), audited; admins only. Returns
/// the effective value there afterwards and the revision.
pub async fn set(
    node: &Node,
    actor: &Actor,
    name: &str,
    scope: &str,
    enabled: Option<bool>,
) -> Result<(FlagAnswer, u64)> {
    require_admin(&node.index(), actor, "set flags")?;
    let name = known(name)?;
    let scope = FlagScope::parse(scope)?;
    let key = scope.key();
    let written = node
        .write(&actor.username, |tx| {
            let key = key.clone();
            Box::pin(async move {
                let before = store::set_flag(tx, name, &key, enabled).await?;
                if before != enabled {
                    tx.audit(AppAudit {
                        app: APP.into(),
                        operation: "flag_set".into(),
                        subject: None,
                        scope: Some(key.clone()),
                        after: Some(json!({ "flag": name, "enabled": enabled })),
                        before: Some(json!({ "flag": name, "enabled": before })),
                    })
                    .await?;
                }
                Ok(())
            })
        })
        .await?;
    let answer = values(node, name).await?.effective(&scope);
    Ok((answer, written.revision))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(set: &[(&str, bool)]) -> FlagValues {
        FlagValues {
            name: COURSE_AUTHORING.into(),
            values: set.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        }
    }

    #[test]
    fn the_most_specific_value_decides() {
        let course = FlagScope::parse("course-v1:MITx+6.00x+2024T1").expect("course");
        let other = FlagScope::parse("course-v1:MITx+8.01x+2024T1").expect("course");
        let org = FlagScope::parse("org:MITx").expect("org");
        let none = values(&[]);
        assert_eq!(
            (
                none.effective(&course).enabled,
                none.effective(&course).decided_by
            ),
            (false, Level::Default)
        );
        let flags = values(&[
            ("*", true),
            ("org:MITx", false),
            ("course-v1:MITx+6.00x+2024T1", true),
        ]);
        assert_eq!(flags.effective(&course).decided_by, Level::Course);
        assert!(flags.effective(&course).enabled);
        assert_eq!(flags.effective(&other).decided_by, Level::Org);
        assert!(!flags.effective(&other).enabled);
        assert_eq!(flags.effective(&org).decided_by, Level::Org);
        assert!(flags.effective(&FlagScope::Instance).enabled);
    }

    #[test]
    fn only_instance_org_and_course_keys_are_flag_scopes() {
        for bad in [
            "lib:MITx:python",
            "course-v1:MITx+*",
            "program:p1",
            "nonsense",
        ] {
            let e = FlagScope::parse(bad).expect_err(bad);
            assert_eq!(e.code, ErrorCode::InvalidFlagScope);
        }
    }
}
