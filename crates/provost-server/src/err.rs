//! The service layer's one error type: a stable code, a message for a person, and its class.

use provost_engine::{KeyError, PolicyError};
use provost_store::StoreError;
use serde_json::Value;

/// What sort of refusal an error is; the HTTP layer maps each to one status, the CLI to exit 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Malformed input or key (400).
    BadRequest,
    /// No or bad credentials (401).
    Unauthorized,
    /// Authenticated but not allowed (403).
    Forbidden,
    /// An unknown thing (404).
    NotFound,
    /// Conflicts with the current state (409).
    Conflict,
    /// Well-formed but refused by a rule (422).
    Refused,
    /// Busy or locked, try again (429).
    Busy,
    /// A dependency (the database) is down, or this node is read-only; checks still work (503).
    Unavailable,
    /// The database's disk is full: writes fail until space is freed; checks still work (507).
    StorageFull,
    /// A bug (500).
    Internal,
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub class: ErrorClass,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(class: ErrorClass, code: &'static str, message: impl Into<String>) -> Error {
        Error {
            class,
            code,
            message: message.into(),
            details: None,
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorClass::BadRequest, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::new(ErrorClass::Forbidden, "forbidden", message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorClass::NotFound, code, message)
    }
    pub fn refused(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorClass::Refused, code, message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorClass::Conflict, code, message)
    }
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorClass::Internal, "internal", message)
    }
    pub fn with_details(mut self, details: Value) -> Error {
        self.details = Some(details);
        self
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Error {
        let code = e.code();
        let details = serde_json::json!({ "scope": e.key });
        Error::bad_request(code, e.to_string()).with_details(details)
    }
}

impl From<PolicyError> for Error {
    fn from(e: PolicyError) -> Error {
        let class = match e {
            PolicyError::Syntax(_)
            | PolicyError::BadPermissionName(_)
            | PolicyError::BadRoleName(_) => ErrorClass::BadRequest,
            PolicyError::UnknownRole(_) | PolicyError::UnknownPermission(_) => ErrorClass::Refused,
            PolicyError::BuiltinRole(_)
            | PolicyError::Duplicate(_)
            | PolicyError::PermissionInUse { .. } => ErrorClass::Conflict,
            _ => ErrorClass::Refused,
        };
        Error::new(class, e.code(), e.to_string())
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        let class = if e.code() == "busy" {
            ErrorClass::Busy
        } else if e.is_full() {
            ErrorClass::StorageFull
        } else if e.is_unavailable() || matches!(e.code(), "read_only" | "schema_not_ready") {
            ErrorClass::Unavailable
        } else if e.code() == "conflict" {
            ErrorClass::Conflict
        } else {
            ErrorClass::Internal
        };
        Error::new(class, e.code(), e.to_string())
    }
}
