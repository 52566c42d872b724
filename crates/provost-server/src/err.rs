//! The service layer's one error type: a stable code, a message for a person, and details; the
//! code (`ErrorCode`) fixes the wire string and the class.

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
    /// A known route with another method (405).
    MethodNotAllowed,
    /// Conflicts with the current state (409).
    Conflict,
    /// The body is over the limit (413).
    PayloadTooLarge,
    /// The body is not JSON (415).
    UnsupportedMediaType,
    /// Well-formed but refused by a rule (422).
    Refused,
    /// Busy or locked, try again (429).
    Busy,
    /// A header is over the limit (431).
    HeaderTooLarge,
    /// A dependency (the database) is down, or this node is read-only; checks still work (503).
    Unavailable,
    /// The database's disk is full: writes fail until space is freed; checks still work (507).
    StorageFull,
    /// A bug, or a failure of the command line's own (500).
    Internal,
}

/// Declares `ErrorCode` from one table: variant, wire string, class.
macro_rules! error_codes {
    ($($variant:ident => $code:literal, $class:ident;)*) => {
        /// Every error code of the service and the command line. `as_str` is what clients branch
        /// on and never changes; two variants may share a string when the class differs
        /// (`unknown_role` is a 404 when read, a 422 when assigned).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            /// The stable snake_case code on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The class, which fixes the HTTP status.
            pub fn class(self) -> ErrorClass {
                match self {
                    $(ErrorCode::$variant => ErrorClass::$class,)*
                }
            }

            #[cfg(test)]
            const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];
        }
    };
}

error_codes! {
    // Input.
    InvalidBody => "invalid_body", BadRequest;
    MalformedJson => "malformed_json", BadRequest;
    InvalidQuery => "invalid_query", BadRequest;
    InvalidPath => "invalid_path", BadRequest;
    InvalidLimit => "invalid_limit", BadRequest;
    InvalidCursor => "invalid_cursor", BadRequest;
    InvalidRevision => "invalid_revision", BadRequest;
    TooManyItems => "too_many_items", BadRequest;
    EmptyRequest => "empty_request", BadRequest;
    InvalidUsername => "invalid_username", BadRequest;
    InvalidEmail => "invalid_email", BadRequest;
    InvalidScope => "invalid_scope", BadRequest;
    InvalidKind => "invalid_kind", BadRequest;
    InvalidParents => "invalid_parents", BadRequest;
    NotRegistrable => "not_registrable", BadRequest;
    InvalidWindow => "invalid_window", BadRequest;
    InvalidRoleName => "invalid_role_name", BadRequest;
    InvalidPermissionName => "invalid_permission_name", BadRequest;
    InvalidDescription => "invalid_description", BadRequest;
    InvalidPolicy => "invalid_policy", BadRequest;
    // Configuration.
    InvalidJwtSecret => "invalid_jwt_secret", BadRequest;
    InvalidJwks => "invalid_jwks", BadRequest;
    NoJwtSecret => "no_jwt_secret", BadRequest;
    UnreadableFile => "unreadable_file", BadRequest;
    // Credentials.
    MissingToken => "missing_token", Unauthorized;
    InvalidToken => "invalid_token", Unauthorized;
    UnsupportedAlgorithm => "unsupported_algorithm", Unauthorized;
    TokenExpired => "token_expired", Unauthorized;
    TokenNotYetValid => "token_not_yet_valid", Unauthorized;
    InvalidSignature => "invalid_signature", Unauthorized;
    InvalidIssuer => "invalid_issuer", Unauthorized;
    InvalidAudience => "invalid_audience", Unauthorized;
    Forbidden => "forbidden", Forbidden;
    // Unknown things.
    NotFound => "not_found", NotFound;
    RoleNotFound => "unknown_role", NotFound;
    UserNotFound => "user_not_found", NotFound;
    MethodNotAllowed => "method_not_allowed", MethodNotAllowed;
    // State.
    Conflict => "conflict", Conflict;
    BuiltinRole => "builtin_role", Conflict;
    RoleExists => "role_exists", Conflict;
    Duplicate => "duplicate", Conflict;
    PermissionInUse => "permission_in_use", Conflict;
    // Limits.
    BodyTooLarge => "body_too_large", PayloadTooLarge;
    UnsupportedMediaType => "unsupported_media_type", UnsupportedMediaType;
    HeaderTooLarge => "header_too_large", HeaderTooLarge;
    // Rules.
    UnknownRole => "unknown_role", Refused;
    UnknownPermission => "unknown_permission", Refused;
    UnknownScope => "unknown_scope", Refused;
    UnknownApp => "unknown_app", Refused;
    UnknownKind => "unknown_kind", Refused;
    ImplicationCycle => "implication_cycle", Refused;
    InvalidManagePermission => "invalid_manage_permission", Refused;
    RoleOrgFixed => "role_org_fixed", Refused;
    RoleNotApplicable => "role_not_applicable", Refused;
    RoleOutsideOrg => "role_outside_org", Refused;
    AtomicRefused => "atomic_refused", Refused;
    NothingApplied => "nothing_applied", Refused;
    // The database and the node.
    Busy => "busy", Busy;
    Timeout => "timeout", Unavailable;
    RevisionNotReached => "revision_not_reached", Unavailable;
    DatabaseUnavailable => "database_unavailable", Unavailable;
    ReadOnly => "read_only", Unavailable;
    SchemaNotReady => "schema_not_ready", Unavailable;
    StorageFull => "storage_full", StorageFull;
    InvalidDatabaseUrl => "invalid_database_url", Internal;
    MigrationFailed => "migration_failed", Internal;
    Internal => "internal", Internal;
    // The command line's own.
    Usage => "usage", Internal;
    ClosedStdout => "closed_stdout", Internal;
    CannotWrite => "cannot_write", Internal;
    CannotListen => "cannot_listen", Internal;
    ServerFailed => "server_failed", Internal;
    // batches app: Sunbird's own keys (and its spelling), which its clients branch on.
    BatchParameterMissing => "MANDATORY_PARAMETER_MISSING", BadRequest;
    BatchInvalidValue => "INVALID_PARAMETER_VALUE", BadRequest;
    BatchDateFormat => "DATE_FORMAT_ERRROR", BadRequest;
    BatchStartBeforeToday => "COURSE_BATCH_START_DATE_INVALID", BadRequest;
    BatchEndNotAfterStart => "END_DATE_ERROR", BadRequest;
    BatchEnrollmentEndBeforeStart => "ENROLLMENT_END_DATE_START_ERROR", BadRequest;
    BatchEnrollmentEndAfterEnd => "ENROLLMENT_END_DATE_END_ERROR", BadRequest;
    BatchNotFound => "INVALID_COURSE_BATCH_ID", NotFound;
    BatchUnknownUser => "INVALID_USER_ID", BadRequest;
    BatchStartedStartChange => "INVALID_BATCH_START_DATE_ERROR", BadRequest;
    BatchEnrollmentType => "ENROLLMENT_TYPE_VALIDATION", BadRequest;
    BatchClosed => "COURSE_BATCH_END_DATE_ERROR", BadRequest;
    BatchUnauthorized => "UNAUTHORIZED_USER", Unauthorized;
    BatchEnrollmentEnded => "COURSE_BATCH_ENROLLMENT_DATE_ENDED", BadRequest;
    BatchCompleted => "COURSE_BATCH_ALREADY_COMPLETED", BadRequest;
    BatchAlreadyEnrolled => "USER_ALREADY_ENROLLED_COURSE", BadRequest;
    BatchNotEnrolled => "USER_NOT_ENROLLED_COURSE", BadRequest;
    // programs app
    InvalidProgramKey => "invalid_program_key", BadRequest;
    InvalidProgram => "invalid_program", BadRequest;
    InvalidDate => "invalid_date", BadRequest;
    InvalidEnrollment => "invalid_enrollment", BadRequest;
    InvalidUpload => "invalid_upload", BadRequest;
    InvalidReportsUrl => "invalid_reports_url", BadRequest;
    ReportLinkInvalid => "invalid_report_link", Forbidden;
    ReportLinkExpired => "report_link_expired", Forbidden;
    EnrollmentNotEnabled => "enrollment_not_enabled_for_program_type", Forbidden;
    ProgramNotFound => "unknown_program", NotFound;
    ProgramTypeNotFound => "unknown_program_type", NotFound;
    OrgNotFound => "unknown_org", NotFound;
    PermissionNotFound => "unknown_permission", NotFound;
    CourseNotInProgram => "course_not_in_program", NotFound;
    ReportNotFound => "unknown_report", NotFound;
    ProgramExists => "program_exists", Conflict;
    ProgramTypeExists => "program_type_exists", Conflict;
    ProgramWriteInProgress => "program_write_in_progress", Conflict;
    TooManyEnrollments => "too_many_items", PayloadTooLarge;
    UnknownProgramType => "unknown_program_type", Refused;
    InvalidCsv => "invalid_csv", Refused;
    ReportStoreUnavailable => "report_store_unavailable", Unavailable;
    // enterprise app
    InvalidUuid => "invalid_uuid", BadRequest;
    InvalidAmount => "invalid_amount", BadRequest;
    InvalidContentKey => "invalid_content_key", BadRequest;
    EmptyWindow => "empty_window", Refused;
    PolicyConstraint => "policy_constraint", Refused;
    SpendLimitExceedsDeposits => "spend_limit_exceeds_deposits", Refused;
    PolicyHasSpend => "policy_has_spend", Refused;
    UnknownReference => "unknown_reference", Refused;
    WrongCustomer => "wrong_customer", Refused;
    SubsidyOverdrawn => "subsidy_overdrawn", Refused;
    NotRedeemable => "not_redeemable", Refused;
    NotEnoughValue => "not_enough_value", Refused;
    PriceOutOfRange => "price_out_of_range", Refused;
    InvalidTransition => "invalid_transition", Refused;
    LearnerNotInEnterprise => "learner_not_in_enterprise", Refused;
    RequestExists => "request_exists", Refused;
    EnrollmentFailed => "enrollment_failed", Refused;
    RedeemConflict => "redeem_conflict", Busy;
    // legacy app
    InvalidLegacySource => "invalid_legacy_source", BadRequest;
    InvalidRunFilter => "invalid_run_filter", BadRequest;
    DeleteNeedsDatabase => "delete_needs_database", BadRequest;
    InvalidFlagScope => "invalid_flag_scope", BadRequest;
    RunNotFound => "run_not_found", NotFound;
    UnknownFlag => "unknown_flag", NotFound;
    MigrationRunning => "migration_running", Conflict;
    InvalidRunOptions => "invalid_run_options", Refused;
    OneScopeRequired => "one_scope_required", Refused;
    InvalidLegacyData => "invalid_legacy_data", Refused;
    LegacySourceUnavailable => "legacy_source_unavailable", Unavailable;
    // teach (issue 15): answers that teach.
    PruneIncomplete => "prune_incomplete", Refused;
    // openedx app (issue 16): openedx-authz's listings and bulk role changes.
    InvalidPage => "invalid_page", NotFound;
    MissingParameter => "missing_parameter", Refused;
    InvalidParameter => "invalid_parameter", BadRequest;
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// On the wire a code is its string.
impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            details: None,
        }
    }
    /// `forbidden`, the one code of every authorization refusal.
    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::Forbidden, message)
    }
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::Internal, message)
    }
    pub fn class(&self) -> ErrorClass {
        self.code.class()
    }
    pub fn with_details(mut self, details: Value) -> Error {
        self.details = Some(details);
        self
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Error {
        let details = serde_json::json!({ "scope": e.key });
        Error::new(ErrorCode::InvalidScope, e.to_string()).with_details(details)
    }
}

impl From<&PolicyError> for ErrorCode {
    fn from(e: &PolicyError) -> ErrorCode {
        match e {
            PolicyError::Syntax(_) => ErrorCode::InvalidPolicy,
            PolicyError::BadPermissionName(_) => ErrorCode::InvalidPermissionName,
            PolicyError::BadRoleName(_) => ErrorCode::InvalidRoleName,
            PolicyError::UnknownApp { .. } => ErrorCode::UnknownApp,
            PolicyError::UnknownPermission(_) => ErrorCode::UnknownPermission,
            PolicyError::UnknownRole(_) => ErrorCode::UnknownRole,
            PolicyError::Duplicate(_) => ErrorCode::Duplicate,
            PolicyError::Cycle(_) => ErrorCode::ImplicationCycle,
            PolicyError::UnknownKind(_) => ErrorCode::UnknownKind,
            PolicyError::PermissionInUse { .. } => ErrorCode::PermissionInUse,
            PolicyError::BuiltinRole(_) => ErrorCode::BuiltinRole,
            PolicyError::ManagePermission { .. } => ErrorCode::InvalidManagePermission,
        }
    }
}

impl From<PolicyError> for Error {
    fn from(e: PolicyError) -> Error {
        Error::new(ErrorCode::from(&e), e.to_string())
    }
}

impl From<&StoreError> for ErrorCode {
    fn from(e: &StoreError) -> ErrorCode {
        match e {
            StoreError::InvalidUrl(_) => ErrorCode::InvalidDatabaseUrl,
            StoreError::Unavailable(_) => ErrorCode::DatabaseUnavailable,
            StoreError::Full(_) => ErrorCode::StorageFull,
            StoreError::ReadOnly => ErrorCode::ReadOnly,
            StoreError::Schema(_) => ErrorCode::SchemaNotReady,
            StoreError::Busy(_) => ErrorCode::Busy,
            StoreError::Migration(_) => ErrorCode::MigrationFailed,
            StoreError::Conflict { .. } => ErrorCode::Conflict,
            StoreError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error::new(ErrorCode::from(&e), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lower layers keep their own codes; the service's must be the same strings.
    #[test]
    fn lower_layers_map_to_their_own_strings() {
        let policy = [
            PolicyError::Syntax("x".into()),
            PolicyError::BadPermissionName("x".into()),
            PolicyError::BadRoleName("x".into()),
            PolicyError::UnknownApp {
                permission: "x".into(),
                app: "x".into(),
            },
            PolicyError::UnknownPermission("x".into()),
            PolicyError::UnknownRole("x".into()),
            PolicyError::Duplicate("x".into()),
            PolicyError::Cycle("x".into()),
            PolicyError::UnknownKind("x".into()),
            PolicyError::PermissionInUse {
                permission: "x".into(),
                role: "x".into(),
            },
            PolicyError::BuiltinRole("x".into()),
            PolicyError::ManagePermission {
                app: "x".into(),
                permission: "x".into(),
                reason: "x".into(),
            },
        ];
        for e in &policy {
            assert_eq!(ErrorCode::from(e).as_str(), e.code());
        }
        let store = [
            StoreError::InvalidUrl("x".into()),
            StoreError::Unavailable(sqlx_closed()),
            StoreError::Full(sqlx_closed()),
            StoreError::ReadOnly,
            StoreError::Schema("x".into()),
            StoreError::Busy(sqlx_closed()),
            StoreError::Internal("x".into()),
        ];
        for e in &store {
            assert_eq!(ErrorCode::from(e).as_str(), e.code());
        }
    }

    fn sqlx_closed() -> sqlx::Error {
        sqlx::Error::PoolClosed
    }

    #[test]
    fn a_shared_string_differs_in_class() {
        for a in ErrorCode::ALL {
            for b in ErrorCode::ALL {
                if a != b && a.as_str() == b.as_str() {
                    assert_ne!(a.class(), b.class(), "{a:?} and {b:?}");
                }
            }
        }
    }
}
