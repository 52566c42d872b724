//! The batches app's rules for finding batches, listing participants, and enrolling and
//! unenrolling oneself (a `batch_participant` assignment, like those the batch's managers make).

use chrono::NaiveDate;
use provost_engine::{Assignment, Change, Index, Scope};
use provost_store::batches::{self as rows, BatchFilter, BatchRow};
use provost_store::AppAudit;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::days;
use super::read::{self, BatchView};
use super::service::{self, APP, MENTOR, OPEN, PARTICIPANT, VIEW_PARTICIPANTS};
use crate::access::{self, Actor};
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// Default and largest page of a search.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;
/// Most matching batches one search reads before keeping those the caller may see.
const MAX_SCAN: u32 = 10_000;

/// One value or a list of them, as Sunbird's filters take either.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Texts {
    One(String),
    Many(Vec<String>),
}

/// A status filter value: `1` or `"1"`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum StatusValue {
    Number(i64),
    Text(String),
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Statuses {
    One(StatusValue),
    Many(Vec<StatusValue>),
}

/// What a search selects; at least one filter is needed.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchFilters {
    #[serde(alias = "batchId")]
    pub id: Option<Texts>,
    pub course_id: Option<Texts>,
    pub enrollment_type: Option<Texts>,
    pub created_by: Option<Texts>,
    /// 0 upcoming, 1 in progress, 2 completed.
    pub status: Option<Statuses>,
}

/// `POST /v1/course/batch/search`'s `request`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct SearchInput {
    pub filters: Option<SearchFilters>,
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Batches to skip; any 32-bit unsigned number.
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    pub offset: Option<u32>,
}

/// A page of batches and how many the caller may see in all.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct SearchPage {
    pub count: u64,
    pub content: Vec<BatchView>,
}

fn texts(values: Option<Texts>) -> Option<Vec<String>> {
    values.map(|v| match v {
        Texts::One(one) => vec![one],
        Texts::Many(many) => many,
    })
}

fn statuses(values: Option<Statuses>) -> Result<Option<Vec<u8>>> {
    let Some(values) = values else {
        return Ok(None);
    };
    let list = match values {
        Statuses::One(one) => vec![one],
        Statuses::Many(many) => many,
    };
    list.into_iter()
        .map(|value| {
            let number = match value {
                StatusValue::Number(n) => Some(n),
                StatusValue::Text(t) => t.trim().parse().ok(),
            };
            match number {
                Some(n @ 0..=2) => Ok(n as u8),
                _ => Err(Error::new(
                    ErrorCode::BatchInvalidValue,
                    "Invalid value for status: expected 0, 1 or 2.",
                )),
            }
        })
        .collect::<Result<std::collections::BTreeSet<u8>>>()
        .map(|set| Some(set.into_iter().collect()))
}

/// `POST /v1/course/batch/search`: the batches the filters select that the caller may see (open
/// ones, and invite-only ones where they hold `batches.view`). No filter at all is a 400.
pub async fn search(
    node: &Node,
    index: &Index,
    actor: &Actor,
    today: NaiveDate,
    input: SearchInput,
) -> Result<SearchPage> {
    let filters = input.filters.unwrap_or_default();
    let filter = BatchFilter {
        ids: texts(filters.id),
        course_ids: texts(filters.course_id),
        enrollment_types: texts(filters.enrollment_type).map(|types| {
            types
                .iter()
                .map(|t| t.trim().to_ascii_lowercase())
                .collect()
        }),
        created_by: texts(filters.created_by),
        statuses: statuses(filters.status)?,
        today: days::format(today),
    };
    let values = [
        &filter.ids,
        &filter.course_ids,
        &filter.enrollment_types,
        &filter.created_by,
    ];
    let values: Vec<&String> = values.into_iter().flatten().flatten().collect();
    if values.len() > MAX_LIMIT as usize {
        let why = format!("at most {MAX_LIMIT} filter values");
        return Err(service::invalid("filters", &why));
    }
    if values.iter().any(|v| service::has_nul(v)) {
        return Err(service::invalid("filters", "a value holds a NUL character"));
    }
    let filtered = filter.ids.is_some()
        || filter.course_ids.is_some()
        || filter.enrollment_types.is_some()
        || filter.created_by.is_some()
        || filter.statuses.is_some();
    if !filtered {
        return Err(Error::new(
            ErrorCode::BatchParameterMissing,
            "filters is a mandatory parameter: name at least one of id, courseId, enrollmentType, createdBy, status.",
        ));
    }
    let limit = match input.limit {
        None => DEFAULT_LIMIT,
        Some(n @ 1..=MAX_LIMIT) => n,
        Some(_) => {
            return Err(Error::new(
                ErrorCode::BatchInvalidValue,
                format!("Invalid value for limit: expected 1 to {MAX_LIMIT}."),
            ))
        }
    };
    let offset = input.offset.unwrap_or(0) as usize;
    let mut reader = node.store().reader().await?;
    let found = rows::search(reader.conn(), &filter, 0, MAX_SCAN).await?;
    let visible: Vec<BatchRow> = found
        .batches
        .into_iter()
        .filter(|row| read::may_see(index, actor, row))
        .collect();
    let count = visible.len() as u64;
    let page: Vec<BatchRow> = visible
        .into_iter()
        .skip(offset)
        .take(limit as usize)
        .collect();
    let scopes: Vec<String> = page.iter().map(|row| service::scope_of(&row.id)).collect();
    let mentors = rows::members_of_each(reader.conn(), &scopes, &[MENTOR]).await?;
    let content = page
        .into_iter()
        .zip(mentors)
        .map(|(row, mentors)| read::view(row, mentors.into_iter().map(|(s, _)| s).collect(), today))
        .collect::<Result<Vec<_>>>()?;
    Ok(SearchPage { count, content })
}

/// `POST /v1/batch/participants/list`: needs `batches.view_participants` at the batch (its
/// admin and mentors, course-level roles). The usernames holding `batch_participant` there.
pub async fn participants(
    node: &Node,
    index: &Index,
    actor: &Actor,
    id: &str,
) -> Result<Vec<String>> {
    let row = read::find(node, id).await?;
    let scope = service::scope_of(&row.id);
    if !actor.may(
        index,
        VIEW_PARTICIPANTS,
        &Scope::parse(&scope)?,
        access::now(),
    ) {
        return Err(service::unauthorized());
    }
    let members =
        rows::members(node.store().reader().await?.conn(), &scope, &[PARTICIPANT]).await?;
    Ok(members.into_iter().map(|(s, _)| s).collect())
}

/// An enrolment request: the user is the caller (a `userId` naming someone else is refused).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrolInput {
    pub course_id: Option<String>,
    pub batch_id: Option<String>,
    pub user_id: Option<String>,
}

/// `POST /v1/course/enroll` (`/course/v1/enrol`): the caller enrols in an open batch until its
/// enrollment end date and never after it completed. Invite-only batches take only the
/// participants their managers add (create and update).
pub async fn enrol(node: &Node, actor: &Actor, today: NaiveDate, input: EnrolInput) -> Result<u64> {
    let row = enrolment_batch(node, actor, &input).await?;
    if days::is_over(
        today,
        row.end_date.as_deref().map(days::stored).transpose()?,
    ) {
        return Err(completed());
    }
    let enrollment_end = row
        .enrollment_end_date
        .as_deref()
        .map(days::stored)
        .transpose()?;
    if days::is_over(today, enrollment_end) {
        return Err(Error::new(
            ErrorCode::BatchEnrollmentEnded,
            "Batch enrollment date has ended.",
        ));
    }
    // Self-enrolment in an open batch is the batch's own rule (Sunbird's): the role grants only
    // `batches.view`, which an open batch shows to everyone anyway. Invite-only batches are
    // refused in `membership`, once it knows whether the caller is a participant already.
    membership(node, actor, &row, true).await
}

/// `POST /v1/course/unenroll` (`/course/v1/unenrol`): the caller leaves a batch they are a
/// participant of, unless it has completed.
pub async fn unenrol(
    node: &Node,
    actor: &Actor,
    today: NaiveDate,
    input: EnrolInput,
) -> Result<u64> {
    let row = enrolment_batch(node, actor, &input).await?;
    if days::is_over(
        today,
        row.end_date.as_deref().map(days::stored).transpose()?,
    ) {
        return Err(completed());
    }
    membership(node, actor, &row, false).await
}

fn completed() -> Error {
    Error::new(ErrorCode::BatchCompleted, "Batch is already completed.")
}

/// The batch an enrolment names, checked: mandatory fields, the caller as the user, the batch
/// on that course.
async fn enrolment_batch(node: &Node, actor: &Actor, input: &EnrolInput) -> Result<BatchRow> {
    let course = service::required("courseId", input.course_id.as_deref())?;
    let id = service::required("batchId", input.batch_id.as_deref())?;
    if let Some(user) = input.user_id.as_deref().map(str::trim) {
        if !user.is_empty() && user != actor.username {
            return Err(service::unauthorized());
        }
    }
    let row = read::find(node, id).await?;
    let course = Scope::parse(course).map(|s| s.canonical().into_owned());
    if course.ok().as_deref() != Some(row.course_id.as_str()) {
        return Err(read::not_found());
    }
    Ok(row)
}

/// Adds (`join`) or removes the caller's `batch_participant` assignment with its audit entry,
/// checking under the write lock whether they hold it (and that the batch did not change).
async fn membership(node: &Node, actor: &Actor, row: &BatchRow, join: bool) -> Result<u64> {
    let scope = service::scope_of(&row.id);
    let username = actor.username.clone();
    let open = row.enrollment_type == OPEN;
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                // The batch's rules were checked on `row`: it must still be the stored one.
                if rows::get(tx.conn(), &row.id).await?.as_ref() != Some(row) {
                    return Err(Error::new(
                        ErrorCode::Conflict,
                        "The batch changed while this enrolment was checked; try again.",
                    ));
                }
                let members = rows::members(tx.conn(), &scope, &[PARTICIPANT]).await?;
                let enrolled = members.iter().any(|(s, _)| *s == username);
                let change = match (join, enrolled) {
                    (true, true) => {
                        return Err(Error::new(
                            ErrorCode::BatchAlreadyEnrolled,
                            "User has already enrolled in this batch.",
                        ))
                    }
                    (false, false) => {
                        return Err(Error::new(
                            ErrorCode::BatchNotEnrolled,
                            "User is not enrolled in this batch.",
                        ))
                    }
                    (true, false) if !open => {
                        return Err(Error::new(
                            ErrorCode::BatchEnrollmentType,
                            "Enrollment type should be open: invite-only batches take the participants their managers add.",
                        ))
                    }
                    (true, false) => Change::AssignmentAdd {
                        assignment: Assignment::new(&username, PARTICIPANT, &scope),
                    },
                    (false, true) => Change::AssignmentRemove {
                        subject: username.clone(),
                        role: PARTICIPANT.into(),
                        scope: scope.clone(),
                    },
                };
                tx.apply(&change).await?;
                tx.audit(AppAudit {
                    app: APP.into(),
                    operation: if join { "batch_enrol" } else { "batch_unenrol" }.into(),
                    subject: Some(username.clone()),
                    scope: Some(scope.clone()),
                    after: None,
                    before: None,
                })
                .await?;
                Ok(())
            })
        })
        .await?;
    Ok(written.revision)
}
