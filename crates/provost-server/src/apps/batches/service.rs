//! The batches app's rules for creating, reading and updating a batch. Membership is role
//! assignments at `batch:<id>` (creator `batch_admin`, mentors `batch_mentor`, participants
//! `batch_participant`), written with the batch row and its audit entry in one transaction.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use provost_engine::{Assignment, Change, Index, Scope};
use provost_store::batches::{self as rows, BatchRow};
use provost_store::{AppAudit, Tx};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::days;
use super::read::find;
use crate::access::{self, Actor};
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// The app's name in the audit log.
pub const APP: &str = "batches";
pub const ADMIN: &str = "batch_admin";
pub const MENTOR: &str = "batch_mentor";
pub const PARTICIPANT: &str = "batch_participant";
/// Creating a batch on a course needs this there (course staff and admins hold it).
pub const CREATE: &str = "batches.create";
/// Changing a batch needs this at the batch: its creator, its mentors, course-level roles.
pub const EDIT: &str = "batches.edit";
pub const VIEW: &str = "batches.view";
pub const VIEW_PARTICIPANTS: &str = "batches.view_participants";

pub const OPEN: &str = "open";
pub const INVITE_ONLY: &str = "invite-only";

/// A batch's fields as a create or update request sends them (Sunbird's names); a field not
/// sent is `None`. `status` and `createdBy` are never read from here.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchInput {
    /// The batch, for an update.
    pub id: Option<String>,
    /// The course key (`course-v1:...`); mandatory on create.
    pub course_id: Option<String>,
    /// Mandatory on create.
    pub name: Option<String>,
    pub description: Option<String>,
    /// `open` or `invite-only`, any case; mandatory on create.
    pub enrollment_type: Option<String>,
    /// `yyyy-MM-dd`, not before today; mandatory on create.
    pub start_date: Option<String>,
    /// `yyyy-MM-dd`, after the start.
    pub end_date: Option<String>,
    /// `yyyy-MM-dd`, from the start to the end.
    pub enrollment_end_date: Option<String>,
    /// Org ids the batch is made for.
    pub created_for: Option<Vec<String>>,
    /// Usernames; invite-only batches only. On update the list replaces the stored one.
    pub mentors: Option<Vec<String>>,
    /// Usernames; invite-only batches only. On update the list replaces the stored one.
    pub participants: Option<Vec<String>>,
}

impl BatchInput {
    /// Refuses text no Sunbird value holds and PostgreSQL cannot store: a NUL character.
    fn check_text(&self) -> Result<()> {
        let fields = [
            ("id", &self.id),
            ("courseId", &self.course_id),
            ("name", &self.name),
            ("description", &self.description),
            ("enrollmentType", &self.enrollment_type),
            ("startDate", &self.start_date),
            ("endDate", &self.end_date),
            ("enrollmentEndDate", &self.enrollment_end_date),
        ];
        for (field, value) in fields {
            if value.as_deref().is_some_and(has_nul) {
                return Err(invalid(field, "it holds a NUL character"));
            }
        }
        if self.created_for.iter().flatten().any(|t| has_nul(t)) {
            return Err(invalid("createdFor", "it holds a NUL character"));
        }
        Ok(())
    }
}

/// Whether text holds a NUL character, which no batch value may (PostgreSQL refuses it).
pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// Who was added to and removed from one of a batch's lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ListChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// What an update changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Updated {
    pub mentors: ListChange,
    pub participants: ListChange,
    #[serde(skip)]
    pub revision: u64,
}

/// Sunbird's answer to anyone who may not do what they asked.
pub fn unauthorized() -> Error {
    Error::new(ErrorCode::BatchUnauthorized, "You are not authorized.")
}

/// Access refusals (403 `forbidden`) become Sunbird's 401 `UNAUTHORIZED_USER`.
fn as_sunbird(e: Error) -> Error {
    if e.code == ErrorCode::Forbidden {
        unauthorized()
    } else {
        e
    }
}

fn missing(field: &str) -> Error {
    Error::new(
        ErrorCode::BatchParameterMissing,
        format!("{field} is a mandatory parameter."),
    )
}

pub fn invalid(field: &str, why: &str) -> Error {
    Error::new(
        ErrorCode::BatchInvalidValue,
        format!("Invalid value for {field}: {why}."),
    )
}

/// A mandatory text field, trimmed and not empty.
pub fn required<'t>(field: &str, value: Option<&'t str>) -> Result<&'t str> {
    match value.map(str::trim) {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(missing(field)),
    }
}

/// `open` or `invite-only`, any case.
fn enrollment_type(text: &str) -> Result<&'static str> {
    match text.trim().to_ascii_lowercase().as_str() {
        OPEN => Ok(OPEN),
        INVITE_ONLY => Ok(INVITE_ONLY),
        _ => Err(invalid("enrollmentType", "expected open or invite-only")),
    }
}

/// A course key (not a glob), canonical.
fn course_key(text: &str) -> Result<String> {
    match Scope::parse(text) {
        Ok(scope @ Scope::Course { .. }) if !scope.is_glob() => Ok(scope.canonical().into_owned()),
        _ => Err(invalid(
            "courseId",
            "expected a course key like course-v1:ORG+COURSE+RUN",
        )),
    }
}

/// A batch's id as it appears in its scope key.
pub fn scope_of(id: &str) -> String {
    format!("batch:{id}")
}

/// A list of usernames: trimmed, without repeats, each a known user (`INVALID_USER_ID`).
fn users(index: &Index, field: &str, names: &[String]) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for name in names {
        let name = name.trim();
        if access::check_username(name).is_err() || index.user(name).is_none() {
            return Err(Error::new(
                ErrorCode::BatchUnknownUser,
                format!("Invalid user id in {field}: `{}`.", access::truncate(name)),
            ));
        }
        out.insert(name.to_owned());
    }
    Ok(out)
}

/// The dates a batch ends up with, checked against each other and today.
struct Dates {
    start: NaiveDate,
    end: Option<NaiveDate>,
    enrollment_end: Option<NaiveDate>,
}

impl Dates {
    /// End after start (`END_DATE_ERROR`), not before today; enrollment end within start..end.
    fn check(&self, today: NaiveDate) -> Result<()> {
        if let Some(end) = self.end {
            if end <= self.start {
                return Err(Error::new(
                    ErrorCode::BatchEndNotAfterStart,
                    "End date should be greater than start date.",
                ));
            }
            if end < today {
                return Err(Error::new(
                    ErrorCode::BatchEndNotAfterStart,
                    "End date should not be before today.",
                ));
            }
        }
        if let Some(enrollment_end) = self.enrollment_end {
            if enrollment_end < self.start {
                return Err(Error::new(
                    ErrorCode::BatchEnrollmentEndBeforeStart,
                    "Enrollment end date should be greater than or equal to start date.",
                ));
            }
            if self.end.is_some_and(|end| enrollment_end > end) {
                return Err(Error::new(
                    ErrorCode::BatchEnrollmentEndAfterEnd,
                    "Enrollment end date should be less than or equal to end date.",
                ));
            }
        }
        Ok(())
    }
}

fn date_field(field: &str, value: Option<&str>) -> Result<Option<NaiveDate>> {
    value
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| days::parse(field, t))
        .transpose()
}

fn open_batch_lists() -> Error {
    Error::new(
        ErrorCode::BatchEnrollmentType,
        "Enrollment type should be invite-only.",
    )
}

/// A new batch id, Sunbird-like: digits, ordered by creation time.
fn new_id() -> String {
    let millis = chrono::Utc::now().timestamp_millis();
    let tail: u32 = rand::random::<u32>() % 100_000;
    format!("0{millis:013}{tail:05}")
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn row_json(row: &BatchRow) -> serde_json::Value {
    serde_json::json!({
        "id": row.id, "courseId": row.course_id, "name": row.name, "description": row.description,
        "enrollmentType": row.enrollment_type, "startDate": row.start_date, "endDate": row.end_date,
        "enrollmentEndDate": row.enrollment_end_date, "createdFor": row.created_for,
        "createdBy": row.created_by,
    })
}

fn text_list(list: &[String]) -> Result<String> {
    serde_json::to_string(list).map_err(|e| Error::internal(e.to_string()))
}

/// `POST /v1/course/batch/create`: needs `batches.create` at the course. The creator becomes
/// `batch_admin`, mentors `batch_mentor`, participants `batch_participant` (invite-only
/// batches), granted as anyone grants (`access::authorize_grant`: only what they hold there).
pub async fn create(
    node: &Node,
    index: &Index,
    actor: &Actor,
    today: NaiveDate,
    input: BatchInput,
) -> Result<(String, u64)> {
    input.check_text()?;
    let course = required("courseId", input.course_id.as_deref())?;
    let name = required("name", input.name.as_deref())?;
    let kind = enrollment_type(required(
        "enrollmentType",
        input.enrollment_type.as_deref(),
    )?)?;
    let start = days::parse(
        "startDate",
        required("startDate", input.start_date.as_deref())?,
    )?;
    let dates = Dates {
        start,
        end: date_field("endDate", input.end_date.as_deref())?,
        enrollment_end: date_field("enrollmentEndDate", input.enrollment_end_date.as_deref())?,
    };
    let course = course_key(course)?;
    let course_scope = Scope::parse(&course)?;
    if !actor.may(index, CREATE, &course_scope, access::now()) {
        return Err(unauthorized());
    }
    if start < today {
        return Err(Error::new(
            ErrorCode::BatchStartBeforeToday,
            "Batch start date should be either today or future date.",
        ));
    }
    dates.check(today)?;
    let mentors = users(
        index,
        "mentors",
        input.mentors.as_deref().unwrap_or_default(),
    )?;
    let participants = users(
        index,
        "participants",
        input.participants.as_deref().unwrap_or_default(),
    )?;
    if kind == OPEN && !(mentors.is_empty() && participants.is_empty()) {
        return Err(open_batch_lists());
    }
    let id = new_id();
    let scope = scope_of(&id);
    let registration =
        access::new_scope_registration(index, actor, &scope, std::slice::from_ref(&course), CREATE)
            .map_err(as_sunbird)?;
    // Grants are judged as they will apply: with the batch under its course.
    let mut preview = index.clone();
    preview.apply(
        index.revision(),
        [&Change::ScopeRegister {
            registration: registration.clone(),
        }],
    );
    let batch = Scope::parse(&scope)?;
    let mut grants = vec![Assignment::new(&actor.username, ADMIN, &scope)];
    grants.extend(mentors.iter().map(|m| Assignment::new(m, MENTOR, &scope)));
    grants.extend(
        participants
            .iter()
            .map(|p| Assignment::new(p, PARTICIPANT, &scope)),
    );
    for role in [ADMIN, MENTOR, PARTICIPANT] {
        if grants.iter().any(|g| g.role == role) {
            access::authorize_grant(&preview, actor, role, &batch, &scope).map_err(as_sunbird)?;
        }
    }
    let row = BatchRow {
        id: id.clone(),
        course_id: course,
        name: name.to_owned(),
        description: input.description,
        enrollment_type: kind.to_owned(),
        start_date: days::format(start),
        end_date: dates.end.map(days::format),
        enrollment_end_date: dates.enrollment_end.map(days::format),
        created_for: text_list(input.created_for.as_deref().unwrap_or_default())?,
        created_by: actor.username.clone(),
        created_date: now_text(),
        updated_date: None,
    };
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                rows::insert(tx.conn(), &row).await?;
                tx.apply(&Change::ScopeRegister { registration }).await?;
                let changes: Vec<Change> = grants
                    .into_iter()
                    .map(|assignment| Change::AssignmentAdd { assignment })
                    .collect();
                tx.apply_all(&changes).await?;
                audit(tx, "batch_create", &row, None).await
            })
        })
        .await?;
    Ok((id, written.revision))
}

async fn audit(
    tx: &mut Tx<'_>,
    operation: &str,
    row: &BatchRow,
    before: Option<&BatchRow>,
) -> Result<()> {
    tx.audit(AppAudit {
        app: APP.into(),
        operation: operation.into(),
        subject: None,
        scope: Some(scope_of(&row.id)),
        after: Some(row_json(row)),
        before: before.map(row_json),
    })
    .await?;
    Ok(())
}

/// `PATCH /v1/course/batch/update`: needs `batches.edit` at the batch (its creator, its mentors,
/// or a course-level role). Fields sent replace the stored ones; a list sent replaces the
/// stored list (who is added is granted as anyone grants, who is removed needs the batch's
/// team manager), a list not sent is kept. A closed batch takes no change.
pub async fn update(
    node: &Node,
    index: &Index,
    actor: &Actor,
    today: NaiveDate,
    input: BatchInput,
) -> Result<Updated> {
    input.check_text()?;
    let id = required("id", input.id.as_deref())?.to_owned();
    let stored = find(node, &id).await?;
    let scope = scope_of(&id);
    let batch = Scope::parse(&scope)?;
    if !actor.may(index, EDIT, &batch, access::now()) {
        return Err(unauthorized());
    }
    if let Some(course) = input.course_id.as_deref().map(str::trim) {
        if !course.is_empty() && course_key(course)? != stored.course_id {
            return Err(invalid("courseId", "the batch belongs to another course"));
        }
    }
    let stored_start = days::stored(&stored.start_date)?;
    let stored_end = stored.end_date.as_deref().map(days::stored).transpose()?;
    if days::is_over(today, stored_end) {
        return Err(Error::new(ErrorCode::BatchClosed, "Batch has been closed."));
    }
    let mut row = stored.clone();
    if let Some(name) = input.name.as_deref() {
        row.name = required("name", Some(name))?.to_owned();
    }
    if let Some(description) = input.description {
        row.description = Some(description);
    }
    if let Some(kind) = input.enrollment_type.as_deref() {
        row.enrollment_type = enrollment_type(kind)?.to_owned();
    }
    let start = date_field("startDate", input.start_date.as_deref())?.unwrap_or(stored_start);
    if start != stored_start {
        if today >= stored_start {
            return Err(Error::new(
                ErrorCode::BatchStartedStartChange,
                "Please provide valid Start Date.",
            ));
        }
        if start < today {
            return Err(Error::new(
                ErrorCode::BatchStartBeforeToday,
                "Batch start date should be either today or future date.",
            ));
        }
    }
    let dates = Dates {
        start,
        end: match input.end_date.as_deref() {
            Some(_) => date_field("endDate", input.end_date.as_deref())?,
            None => stored_end,
        },
        enrollment_end: match input.enrollment_end_date.as_deref() {
            Some(_) => date_field("enrollmentEndDate", input.enrollment_end_date.as_deref())?,
            None => row
                .enrollment_end_date
                .as_deref()
                .map(days::stored)
                .transpose()?,
        },
    };
    dates.check(today)?;
    row.start_date = days::format(dates.start);
    row.end_date = dates.end.map(days::format);
    row.enrollment_end_date = dates.enrollment_end.map(days::format);
    if let Some(created_for) = input.created_for.as_deref() {
        row.created_for = text_list(created_for)?;
    }
    row.updated_date = Some(now_text());
    let mentors = input
        .mentors
        .as_deref()
        .map(|m| users(index, "mentors", m))
        .transpose()?;
    let participants = input
        .participants
        .as_deref()
        .map(|p| users(index, "participants", p))
        .transpose()?;
    let sends_members = mentors.as_ref().is_some_and(|m| !m.is_empty())
        || participants.as_ref().is_some_and(|p| !p.is_empty());
    if row.enrollment_type == OPEN && sends_members {
        return Err(open_batch_lists());
    }
    let scope = scope.as_str();
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                // Under the write lock: the batch and its lists cannot change before this
                // commits; a change since they were checked above is a conflict, not lost.
                if rows::get(tx.conn(), &stored.id).await?.as_ref() != Some(&stored) {
                    return Err(Error::new(
                        ErrorCode::Conflict,
                        "The batch changed while this update was checked; try again.",
                    ));
                }
                let current = rows::members(tx.conn(), scope, &[MENTOR, PARTICIPANT]).await?;
                let held = |role: &str| -> BTreeSet<String> {
                    current
                        .iter()
                        .filter(|(_, r)| r == role)
                        .map(|(s, _)| s.clone())
                        .collect()
                };
                let stored_mentors = held(MENTOR);
                if row.enrollment_type == OPEN && mentors.is_none() && !stored_mentors.is_empty() {
                    return Err(open_batch_lists());
                }
                let mut changes = Vec::new();
                let mut updated = Updated::default();
                if let Some(wanted) = &mentors {
                    updated.mentors = replace(
                        index,
                        actor,
                        &batch,
                        MENTOR,
                        &stored_mentors,
                        wanted,
                        &mut changes,
                    )?;
                }
                if let Some(wanted) = &participants {
                    updated.participants = replace(
                        index,
                        actor,
                        &batch,
                        PARTICIPANT,
                        &held(PARTICIPANT),
                        wanted,
                        &mut changes,
                    )?;
                }
                rows::update(tx.conn(), &row).await?;
                tx.apply_all(&changes).await?;
                audit(tx, "batch_update", &row, Some(&stored)).await?;
                Ok(updated)
            })
        })
        .await?;
    Ok(Updated {
        revision: written.revision,
        ..written.value
    })
}

/// The changes that make `role`'s holders at the batch `wanted` instead of `held`, each
/// authorized as any grant or removal at the batch is.
fn replace(
    index: &Index,
    actor: &Actor,
    batch: &Scope,
    role: &str,
    held: &BTreeSet<String>,
    wanted: &BTreeSet<String>,
    changes: &mut Vec<Change>,
) -> Result<ListChange> {
    let scope = batch.canonical().into_owned();
    let added: Vec<String> = wanted.difference(held).cloned().collect();
    let removed: Vec<String> = held.difference(wanted).cloned().collect();
    if !added.is_empty() {
        access::authorize_grant(index, actor, role, batch, &scope).map_err(as_sunbird)?;
    }
    if !removed.is_empty() {
        access::authorize_team_manager(index, actor, batch, &scope).map_err(as_sunbird)?;
    }
    for subject in &added {
        changes.push(Change::AssignmentAdd {
            assignment: Assignment::new(subject, role, &scope),
        });
    }
    for subject in &removed {
        changes.push(Change::AssignmentRemove {
            subject: subject.clone(),
            role: role.to_owned(),
            scope: scope.clone(),
        });
    }
    Ok(ListChange { added, removed })
}
