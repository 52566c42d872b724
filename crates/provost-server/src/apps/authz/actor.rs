//! Who is asking: the caller of a service, with the platform flags and token grants it carries.

use provost_engine::{Claims, ExtraGrant, Index, Scope, Timestamp};

/// The caller of a service: a token's user over HTTP, the operator on the command line.
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub username: String,
    /// Platform staff (`administrator: true` in the token).
    pub staff: bool,
    pub superuser: bool,
    /// Roles carried by the token itself (`enterprise_admin:<uuid>`), valid for this request only.
    pub grants: Vec<ExtraGrant>,
}

impl Actor {
    /// The operator at the command line, who owns the database file: a superuser.
    pub fn operator() -> Actor {
        let name = std::env::var("USER").unwrap_or_else(|_| "operator".into());
        Actor {
            username: format!("cli:{name}"),
            staff: false,
            superuser: true,
            grants: Vec::new(),
        }
    }

    /// Admins manage everything: superusers, platform staff, and the same flags on the user record.
    pub fn is_admin(&self, index: &Index) -> bool {
        self.superuser
            || self.staff
            || index
                .user(&self.username)
                .is_some_and(|u| u.superuser || u.staff)
    }

    /// Superusers hold every permission everywhere, so nothing they grant is beyond their reach.
    pub fn is_superuser(&self, index: &Index) -> bool {
        self.superuser || index.user(&self.username).is_some_and(|u| u.superuser)
    }

    /// Admins, and holders of `authz.manage_roles` at `*`, manage roles and assignments at
    /// every scope (still granting only what they hold there).
    pub fn manages_everything(&self, index: &Index) -> bool {
        self.is_admin(index) || self.may(index, "authz.manage_roles", &Scope::Instance, now())
    }

    /// What the actor's token says about them, for decisions about themself.
    pub fn claims(&self) -> Claims<'_> {
        Claims {
            staff: self.staff,
            superuser: self.superuser,
            grants: &self.grants,
        }
    }

    /// Whether the actor may do `action` at `scope`, counting the token's flags and grants.
    pub fn may(&self, index: &Index, action: &str, scope: &Scope, at: Timestamp) -> bool {
        index
            .check_claims(&self.username, action, scope, at, &self.claims())
            .allowed
    }
}

pub fn now() -> Timestamp {
    chrono::Utc::now().timestamp()
}
