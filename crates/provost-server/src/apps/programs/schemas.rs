//! The keys the programs app validates, as named schemas that state the server's rules, so
//! clients (and schemathesis) see what the server accepts.

use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat,
    Type,
};
use utoipa::openapi::{Ref, RefOr};
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

/// `?min_created_date=`: a date, or empty for no lower bound (as Registrar reads it).
pub struct ReportDate;

impl PartialSchema for ReportDate {
    fn schema() -> RefOr<Schema> {
        let date = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)));
        let empty = ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(0));
        AnyOfBuilder::new()
            .item(date)
            .item(empty)
            .description(Some("A day, `YYYY-MM-DD`, or empty for no lower bound."))
            .into()
    }
}

impl ToSchema for ReportDate {}

/// An upload's 422: every student refused (the per-student results), or a file that is not
/// CSV (`invalid_csv`, in the error shape).
pub struct UploadRefused;

impl PartialSchema for UploadRefused {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(Ref::from_schema_name("EnrollmentResults"))
            .item(Ref::from_schema_name("ErrorBody"))
            .into()
    }
}

impl ToSchema for UploadRefused {}

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
