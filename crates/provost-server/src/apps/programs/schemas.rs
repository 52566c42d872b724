//! The keys the programs app validates, as named schemas that state the server's rules, so
//! clients (and schemathesis) see what the server accepts.

use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::enrollments::MAX_STUDENTS;
use super::http::EnrollmentItem;

use crate::openapi::key_type;

key_type!(
    ProgramKey,
    "A program key: letters, digits, `.`, `_` and `-` (`program:<key>` fits a scope key).",
    r"^[A-Za-z0-9._-]+$",
    1,
    247
);
key_type!(
    ProgramOrg,
    "An org, `MITx` or `org:MITx`.",
    r"^(org:)?[A-Za-z0-9._-]+$",
    1,
    251
);
key_type!(
    CourseRunKey,
    "A course run key, `course-v1:ORG+COURSE+RUN`.",
    r"^course-v1:[A-Za-z0-9._-]+\+[A-Za-z0-9._~-]+\+[A-Za-z0-9._~-]+$",
    1,
    255
);
key_type!(
    ProgramTitle,
    "A title: not blank (it is stored trimmed).",
    r"^[\s\S]*\S[\s\S]*$",
    1,
    255
);
key_type!(
    StudentKey,
    "A student key: printable text, not blank.",
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
    1,
    255
);

/// A list of 1 to 25 enrollment changes.
pub struct EnrollmentList;

impl PartialSchema for EnrollmentList {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(EnrollmentItem::schema())
            .min_items(Some(1))
            .max_items(Some(MAX_STUDENTS))
            .into()
    }
}

impl ToSchema for EnrollmentList {}
