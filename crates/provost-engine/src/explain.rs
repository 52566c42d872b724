//! `explain`: a decision with every granting path, or the reason for a denial, spelled out in
//! words, with the roles that would grant a lacking action.

use serde::Serialize;

use crate::decide::{staff_bypass, Decision, Reason, Target};
use crate::index::Index;
use crate::model::Timestamp;
use crate::scope::Scope;

/// One way a decision was reached (a bypass, or an assignment and how it reached the scope).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Because {
    pub via: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The scope the assignment is held at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_at: Option<String>,
    /// True when held at an ancestor (or glob) of the requested scope rather than at it.
    pub inherited: bool,
    /// The role's own permission that grants the action (itself, or one implying it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
}

/// `check` with its reasons spelled out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub allowed: bool,
    pub reason: Reason,
    pub message: String,
    /// Granting paths when allowed; assignments that would grant but are out of their window when
    /// denied; for `role_lacks_action`, the roles held there (`via: role_lacks_action`).
    pub because: Vec<Because>,
    /// For `role_lacks_action`: the roles that would grant the action there, fewest permissions
    /// first (at most `WOULD_GRANT`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_grant: Vec<String>,
}

/// How many roles a `role_lacks_action` explanation suggests.
pub const WOULD_GRANT: usize = 3;

impl Index {
    /// `check` with every granting path (or the reason for a denial) spelled out.
    pub fn explain(
        &self,
        subject: &str,
        action: &str,
        scope_text: &str,
        at: Timestamp,
    ) -> Explanation {
        let decision = self.check(subject, action, scope_text, at);
        let mut because = Vec::new();
        let mut would_grant = Vec::new();
        if let Ok(scope) = Scope::parse(scope_text) {
            if let (Ok(target), Some(reach)) = (self.target(action, &scope), self.reach(&scope)) {
                let user = self.user(subject);
                if user.is_some_and(|u| u.superuser) {
                    because.push(bypass(Reason::Superuser));
                }
                if user.is_some_and(|u| u.staff) && staff_bypass(&target) {
                    because.push(bypass(Reason::Staff));
                }
                let requested = scope.canonical();
                let entry = self.subjects.get(subject);
                let sid = entry.map(|(id, _)| id);
                for grant in entry.map(|(_, e)| e.grants.as_slice()).unwrap_or(&[]) {
                    let Some(role) = self.policy.role(grant.role()) else {
                        continue;
                    };
                    let (from, until) = self.window(sid, grant);
                    let valid = from <= at && at < until;
                    if decision.reason == Reason::RoleLacksAction
                        && self.holds_without(sid, grant, &reach, &target, at)
                    {
                        let held_at = self.place_key(grant.node, grant.filter());
                        because.push(Because {
                            via: Reason::RoleLacksAction,
                            role: Some(role.def.name.clone()),
                            inherited: held_at != requested,
                            held_at: Some(held_at),
                            permission: None,
                            valid_from: (from != Timestamp::MIN).then_some(from),
                            valid_until: (until != Timestamp::MAX).then_some(until),
                        });
                        continue;
                    }
                    if !role.closure.contains(target.perm) || !self.covers(grant, &reach, &target) {
                        continue;
                    }
                    let inside = self.within_role_org(role, grant.node);
                    // Denied: show what would have granted but is outside its window or its
                    // role's org; allowed: only what grants.
                    let shown = if decision.allowed {
                        inside && valid
                    } else {
                        !inside || !valid
                    };
                    if !shown {
                        continue;
                    }
                    let via = if inside {
                        Reason::Assignment
                    } else {
                        Reason::RoleOutsideOrg
                    };
                    let held_at = self.place_key(grant.node, grant.filter());
                    let permission = role
                        .def
                        .permissions
                        .iter()
                        .filter(|p| {
                            self.policy
                                .perm_id(p)
                                .and_then(|id| self.policy.perm(id))
                                .is_some_and(|i| i.closure.contains(target.perm))
                        })
                        .min_by_key(|p| (p.as_str() != action, p.len()))
                        .cloned();
                    because.push(Because {
                        via,
                        role: Some(role.def.name.clone()),
                        inherited: held_at != requested,
                        held_at: Some(held_at),
                        permission,
                        valid_from: (from != Timestamp::MIN).then_some(from),
                        valid_until: (until != Timestamp::MAX).then_some(until),
                    });
                }
                if decision.reason == Reason::RoleLacksAction {
                    would_grant = self.would_grant(&target, &scope);
                }
            }
        }
        let mut message = message(decision, subject, action, scope_text);
        if decision.reason == Reason::RoleLacksAction {
            message = lacks_message(subject, action, scope_text, &because, &would_grant);
        }
        if decision.reason == Reason::UnknownAction {
            message.push_str(&self.unknown_action_hint(action));
        }
        Explanation {
            allowed: decision.allowed,
            reason: decision.reason,
            message,
            because,
            would_grant,
        }
    }

    /// What to say after "`x` is not a known action": a role's name used as an action, or the
    /// closest known actions.
    fn unknown_action_hint(&self, action: &str) -> String {
        let doc = self.policy_doc();
        if let Some(role) = doc.roles.iter().find(|r| r.name == action) {
            let example = role
                .permissions
                .first()
                .map(|p| format!(", such as `{p}`"))
                .unwrap_or_default();
            return format!(
                " (`{action}` is a role: ask about one of its permissions{example}; `provost roles show {action}` lists them)"
            );
        }
        let near =
            crate::suggest::closest(action, doc.permissions.iter().map(|p| p.name.as_str()), 3);
        if near.is_empty() {
            " (`provost permissions list` lists the known ones)".to_owned()
        } else {
            format!("; did you mean {}?", crate::suggest::one_of(&near))
        }
    }

    /// The roles that include `target`'s action and could grant it at `scope` (org-owned ones
    /// only inside their org), fewest permissions first, then by name.
    fn would_grant(&self, target: &Target, scope: &Scope) -> Vec<String> {
        let mut roles: Vec<(usize, &str)> = self
            .policy
            .roles()
            .filter(|(_, r)| r.closure.contains(target.perm))
            .filter(|(_, r)| r.def.org.is_none() || r.def.org.as_deref() == scope.org())
            .map(|(_, r)| (r.closure.iter().count(), r.def.name.as_str()))
            .collect();
        roles.sort_unstable();
        roles
            .into_iter()
            .take(WOULD_GRANT)
            .map(|(_, name)| name.to_owned())
            .collect()
    }
}

fn bypass(via: Reason) -> Because {
    Because {
        via,
        role: None,
        held_at: None,
        inherited: false,
        permission: None,
        valid_from: None,
        valid_until: None,
    }
}

fn message(decision: Decision, subject: &str, action: &str, scope: &str) -> String {
    let verdict = if decision.allowed { "may" } else { "may not" };
    let why = match decision.reason {
        Reason::Superuser => "as a superuser".to_owned(),
        Reason::Staff => "as platform staff".to_owned(),
        Reason::Assignment => "through an assignment".to_owned(),
        Reason::UnknownAction => format!("`{action}` is not a known action"),
        Reason::InvalidScope => format!("`{scope}` is not a valid scope key"),
        Reason::UnknownScope => format!("`{scope}` is not a known scope"),
        Reason::WrongKind => format!("`{action}` does not apply to this kind of scope"),
        Reason::NotYetValid => "the assignment that would allow it is not valid yet".to_owned(),
        Reason::Expired => "the assignment that would allow it has expired".to_owned(),
        Reason::RoleOutsideOrg => {
            "the assignment that would allow it is of a role owned by another org, which grants nothing outside its org".to_owned()
        }
        Reason::RoleLacksAction => "the roles held there do not include it".to_owned(),
        Reason::NoAssignment => "no assignment grants it".to_owned(),
    };
    format!("`{subject}` {verdict} `{action}` at `{scope}`: {why}")
}

/// "`lena` may not `x` at `s`: holds `library_author` at `s`, which does not include `x`;
/// `library_admin` would".
fn lacks_message(
    subject: &str,
    action: &str,
    scope: &str,
    held: &[Because],
    would_grant: &[String],
) -> String {
    let held: Vec<String> = held
        .iter()
        .filter_map(|b| {
            Some(format!(
                "`{}` at `{}`",
                b.role.as_ref()?,
                b.held_at.as_ref()?
            ))
        })
        .collect();
    let which = if held.len() == 1 {
        "which does not include"
    } else {
        "none of which includes"
    };
    let mut text = format!(
        "`{subject}` may not `{action}` at `{scope}`: holds {}, {which} `{action}`",
        held.join(", ")
    );
    if would_grant.is_empty() {
        text.push_str("; no role includes it");
    } else {
        text.push_str(&format!("; {} would", crate::suggest::one_of(would_grant)));
    }
    text
}
