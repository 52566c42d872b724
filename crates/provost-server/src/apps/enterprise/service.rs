//! What every enterprise rule shares: customer keys, the permission check at `enterprise:<uuid>`,
//! reads outside a write, audit entries, and times and money as the wire has them.

use chrono::{DateTime, TimeZone, Utc};
use provost_engine::{Index, Scope};
use provost_store::{AppAudit, Reader};
use serde_json::Value;

use crate::access::{self, Actor};
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// The app's name in the audit log.
pub const APP: &str = "enterprise";

/// The permissions of enterprise-access, as the policy file names them.
pub mod perm {
    pub const POLICY_READ: &str = "subsidy_access_policy.has_read_access";
    pub const POLICY_WRITE: &str = "subsidy_access_policy.has_write_access";
    pub const REDEEM: &str = "subsidy_access_policy.has_redemption_access";
    pub const ALLOCATE: &str = "subsidy_access_policy.has_allocation_access";
    pub const ASSIGNMENT_ADMIN_READ: &str = "content_assignment.has_admin_read_access";
    pub const ASSIGNMENT_ADMIN_WRITE: &str = "content_assignment.has_admin_write_access";
    pub const ASSIGNMENT_LEARNER_READ: &str = "content_assignment.has_learner_read_access";
    pub const REQUESTS_ADMIN: &str = "requests.has_admin_access";
    pub const REQUESTS_LEARNER: &str = "requests.has_learner_or_admin_access";
    /// Loading the stand-ins (subsidies, catalogs, learners): operators and provisioning admins.
    pub const PROVISION: &str = "enterprise.provision";
}

/// A uuid as the wire may spell it, canonical (lowercase, hyphenated); 400 `invalid_uuid`.
pub fn uuid(text: &str, what: &str) -> Result<String> {
    uuid::Uuid::parse_str(text)
        .ok()
        .filter(|_| text.len() == 36)
        .map(|u| u.hyphenated().to_string())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidUuid,
                format!(
                    "{what} `{}` is not a hyphenated uuid",
                    access::truncate(text)
                ),
            )
        })
}

/// A fresh uuid, or the one given (checked).
pub fn uuid_or_new(given: Option<&str>, what: &str) -> Result<String> {
    match given {
        Some(text) => uuid(text, what),
        None => Ok(uuid::Uuid::new_v4().hyphenated().to_string()),
    }
}

/// The customer's scope key.
pub fn scope_of(enterprise: &str) -> String {
    format!("enterprise:{enterprise}")
}

/// Whether the actor holds `permission` at the customer (token roles, stored assignments, admin).
pub fn may(index: &Index, actor: &Actor, permission: &str, enterprise: &str) -> bool {
    let key = scope_of(enterprise);
    Scope::parse(&key).is_ok_and(|scope| actor.may(index, permission, &scope, access::now()))
}

/// Refuses (403) unless the actor holds `permission` at the customer.
pub fn authorize(index: &Index, actor: &Actor, permission: &str, enterprise: &str) -> Result<()> {
    if may(index, actor, permission, enterprise) {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "`{}` may not do this for enterprise customer `{enterprise}` (needs `{permission}`)",
            actor.username
        )))
    }
}

/// A connection for reads of the app's tables outside a write.
pub async fn reader(node: &Node) -> Result<Reader> {
    Ok(node.store().reader().await?)
}

/// An audit entry of this app about a customer.
pub fn audit(
    operation: &str,
    enterprise: &str,
    subject: Option<&str>,
    after: Option<Value>,
    before: Option<Value>,
) -> AppAudit {
    AppAudit {
        app: APP.into(),
        operation: operation.into(),
        subject: subject.map(str::to_owned),
        scope: Some(scope_of(enterprise)),
        after,
        before,
    }
}

/// Unix seconds as the wire's RFC 3339.
pub fn time(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Refuses a negative amount of money, or one beyond what the ledger can add up.
pub fn cents(value: i64, field: &str) -> Result<i64> {
    const MAX: i64 = MAX_CENTS;
    if (0..=MAX).contains(&value) {
        Ok(value)
    } else {
        Err(Error::new(
            ErrorCode::InvalidAmount,
            format!("`{field}` must be between 0 and {MAX} cents"),
        ))
    }
}

/// A short text field: at most 255 characters, none a control character; not empty unless
/// `allow_empty` (the `Title` and `Text` schemas).
pub fn text(value: &str, field: &str, allow_empty: bool) -> Result<String> {
    let n = value.chars().count();
    if n > 255 || (!allow_empty && n == 0) || value.chars().any(char::is_control) {
        return Err(Error::new(
            ErrorCode::InvalidBody,
            format!("`{field}` must be at most 255 characters without control characters"),
        ));
    }
    Ok(value.to_owned())
}

/// A content key (a course or run key): 1-255 printable ASCII characters, no spaces (the
/// `ContentKey` schema).
pub fn content_key(value: &str) -> Result<String> {
    if value.is_empty() || value.len() > 255 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::new(
            ErrorCode::InvalidContentKey,
            format!(
                "content key `{}` must be 1-255 printable characters without spaces (send `+` as `%2B` in a query)",
                access::truncate(value)
            ),
        ));
    }
    Ok(value.to_owned())
}

/// A learner's id in the LMS: positive.
pub fn lms_user_id(value: i64) -> Result<i64> {
    if value > 0 {
        Ok(value)
    } else {
        Err(Error::new(
            ErrorCode::InvalidBody,
            "`lms_user_id` must be a positive integer",
        ))
    }
}

/// 404 for a thing that is not there (or that the caller may not know about).
pub fn not_found(what: &str, key: &str) -> Error {
    Error::new(
        ErrorCode::NotFound,
        format!("there is no {what} `{}`", access::truncate(key)),
    )
}

use crate::openapi::key_type;

key_type!(
    UuidKey,
    "A uuid, hyphenated.",
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    36,
    36
);
key_type!(
    ContentKey,
    "A content key (course or run key): printable ASCII without spaces.",
    CONTENT_KEY_PATTERN,
    1,
    255
);
key_type!(
    Title,
    "A name: 1-255 characters, no control characters.",
    TEXT_PATTERN,
    1,
    255
);
key_type!(
    Text,
    "Text: at most 255 characters, no control characters.",
    TEXT_PATTERN_EMPTY,
    0,
    255
);
key_type!(
    EmailKey,
    "An email address: one `@`, a dot inside the domain, no spaces.",
    r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$",
    5,
    254
);
key_type!(
    LearnerName,
    "A username: 1-150 letters, digits or `@ . _ + - :`.",
    r"^[A-Za-z0-9@._+:-]+$",
    1,
    150
);

/// A learner's id in the LMS: a positive integer.
pub struct LmsUserId;

impl utoipa::PartialSchema for LmsUserId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .description(Some("A learner's id in the LMS: a positive integer."))
            .into()
    }
}

impl utoipa::ToSchema for LmsUserId {}

const CONTENT_KEY_PATTERN: &str = "^[!-~]+$";
const TEXT_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]+$";
const TEXT_PATTERN_EMPTY: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

/// The most cents an amount may be (a trillion dollars: sums of many still fit in 64 bits).
pub const MAX_CENTS: i64 = 100_000_000_000_000;

/// Integers as JSON may spell them: `5` or `5.0` (JSON Schema's integers include the latter).
pub mod int {
    use serde::{Deserialize, Deserializer};

    fn whole<E: serde::de::Error>(n: serde_json::Number) -> Result<i64, E> {
        if let Some(i) = n.as_i64() {
            return Ok(i);
        }
        match n.as_f64() {
            // Whole floats within i64's range; JSON's `2165138692014365.0` parses a few ulps off,
            // so "whole" allows that much (the cast saturates, so the range check comes first).
            Some(f)
                if (f - f.round()).abs() <= f.abs() * 4.0 * f64::EPSILON
                    && (-9.2e18..=9.2e18).contains(&f) =>
            {
                Ok(f.round() as i64)
            }
            _ => Err(E::custom(format!("expected an integer, got `{n}`"))),
        }
    }

    pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        whole(serde_json::Number::deserialize(d)?)
    }

    pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
        Vec::<serde_json::Number>::deserialize(d)?
            .into_iter()
            .map(whole)
            .collect()
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Option::<serde_json::Number>::deserialize(d)?
            .map(whole)
            .transpose()
    }
}
