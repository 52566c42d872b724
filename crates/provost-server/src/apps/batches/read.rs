//! The batches app's reads of one batch: finding it, who may see it, and its Sunbird shape.

use chrono::NaiveDate;
use provost_engine::{Index, Scope};
use provost_store::batches::{self as rows, BatchRow};
use serde::Serialize;
use utoipa::ToSchema;

use super::days;
use super::service::{has_nul, scope_of, unauthorized, MENTOR, OPEN, VIEW};
use crate::access::{self, Actor};
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// A batch as Sunbird reads it back.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchView {
    pub identifier: String,
    pub id: String,
    pub batch_id: String,
    pub course_id: String,
    pub collection_id: String,
    pub name: String,
    pub description: Option<String>,
    pub enrollment_type: String,
    pub start_date: String,
    pub end_date: Option<String>,
    pub enrollment_end_date: Option<String>,
    pub created_for: Vec<String>,
    pub created_by: String,
    pub created_date: String,
    pub updated_date: Option<String>,
    pub mentors: Vec<String>,
    /// 0 upcoming, 1 in progress, 2 completed: computed from the dates and today.
    pub status: u8,
}

/// The stored batch `id`, or `INVALID_COURSE_BATCH_ID`.
pub async fn find(node: &Node, id: &str) -> Result<BatchRow> {
    if has_nul(id) {
        return Err(not_found());
    }
    let found = rows::get(node.store().reader().await?.conn(), id).await?;
    found.ok_or_else(not_found)
}

pub fn not_found() -> Error {
    Error::new(ErrorCode::BatchNotFound, "Invalid courseBatchId.")
}

/// Whether the actor may see a batch: anyone signed in sees open batches (to enrol in them),
/// invite-only ones need `batches.view` there (members and course staff).
pub fn may_see(index: &Index, actor: &Actor, row: &BatchRow) -> bool {
    row.enrollment_type == OPEN
        || Scope::parse(&scope_of(&row.id))
            .is_ok_and(|scope| actor.may(index, VIEW, &scope, access::now()))
}

/// `GET /v1/course/batch/read/{id}`: see `may_see`.
pub async fn read(
    node: &Node,
    index: &Index,
    actor: &Actor,
    today: NaiveDate,
    id: &str,
) -> Result<BatchView> {
    let row = find(node, id).await?;
    if !may_see(index, actor, &row) {
        return Err(unauthorized());
    }
    let scope = scope_of(&row.id);
    let members = rows::members(node.store().reader().await?.conn(), &scope, &[MENTOR]).await?;
    view(row, members.into_iter().map(|(s, _)| s).collect(), today)
}

/// The Sunbird shape of a stored batch.
pub fn view(row: BatchRow, mentors: Vec<String>, today: NaiveDate) -> Result<BatchView> {
    let start = days::stored(&row.start_date)?;
    let end = row.end_date.as_deref().map(days::stored).transpose()?;
    let created_for: Vec<String> = serde_json::from_str(&row.created_for).unwrap_or_default();
    Ok(BatchView {
        identifier: row.id.clone(),
        id: row.id.clone(),
        batch_id: row.id,
        collection_id: row.course_id.clone(),
        course_id: row.course_id,
        name: row.name,
        description: row.description,
        enrollment_type: row.enrollment_type,
        start_date: row.start_date,
        end_date: row.end_date,
        enrollment_end_date: row.enrollment_end_date,
        created_for,
        created_by: row.created_by,
        created_date: row.created_date,
        updated_date: row.updated_date,
        mentors,
        status: days::status(today, start, end),
    })
}
