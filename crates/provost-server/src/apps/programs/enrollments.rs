//! Program and course-run enrollments in Registrar's shapes: per-student results, Masters-only,
//! at most 25 students per JSON request, CSV out and in, one write per program at a time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use provost_store::programs::{self as rows, ProgramRecord};
use provost_store::AppAudit;
use serde_json::{json, Value};

use super::service::{self, scope_of, APP};
use crate::access::{truncate, Actor};
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// Most students in one JSON request (Registrar's limit); more is 413 before any is looked at.
pub const MAX_STUDENTS: usize = 25;
/// Largest CSV upload.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// Longest student key.
const MAX_STUDENT_KEY: usize = 255;

pub const PROGRAM_STATUSES: [&str; 5] = ["enrolled", "pending", "suspended", "canceled", "ended"];
pub const COURSE_STATUSES: [&str; 2] = ["active", "inactive"];

/// Creating (POST), changing (PATCH), or either (a CSV upload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
    Upsert,
}

/// One enrollment write: where, how, and the students.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub key: &'a str,
    pub target: Target,
    pub mode: Mode,
    pub items: Vec<Item>,
}

/// Where the enrollments are: the program itself, or one course run of its curriculum.
#[derive(Clone, Debug)]
pub enum Target {
    Program,
    Course(String),
}

impl Target {
    fn statuses(&self) -> &'static [&'static str] {
        match self {
            Target::Program => &PROGRAM_STATUSES,
            Target::Course(_) => &COURSE_STATUSES,
        }
    }
}

/// One requested change, as read from JSON or a CSV row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub student_key: String,
    pub status: String,
}

/// Per-student outcomes: the status set, or an error word (`duplicated`, `conflict`, ...).
pub type Results = BTreeMap<String, String>;

/// Whether every, some or no student went through: 200, 207 or 422.
pub fn verdict(results: &Results, applied: usize) -> u16 {
    if applied == results.len() && applied > 0 {
        200
    } else if applied > 0 {
        207
    } else {
        422
    }
}

/// Programs with an enrollment write running on this node: a second one answers 409 rather
/// than queue behind a long upload. Across nodes (PostgreSQL) a lease does the same.
#[derive(Clone, Default)]
pub struct WriteGuards(Arc<Mutex<HashSet<String>>>);

/// Held while one enrollment write for a program runs.
pub struct Guard {
    guards: WriteGuards,
    program: String,
}

impl WriteGuards {
    pub fn enter(&self, program: &str) -> Result<Guard> {
        let mut running = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !running.insert(program.to_owned()) {
            return Err(busy(program));
        }
        Ok(Guard {
            guards: self.clone(),
            program: program.to_owned(),
        })
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut running = self.guards.0.lock().unwrap_or_else(|e| e.into_inner());
        running.remove(&self.program);
    }
}

fn busy(program: &str) -> Error {
    Error::new(
        ErrorCode::ProgramWriteInProgress,
        format!("another enrollment write for program `{program}` is running; try again when it is done"),
    )
}

fn bad_item(index: usize, why: &str) -> Error {
    Error::new(ErrorCode::InvalidEnrollment, format!("item {index}: {why}"))
        .with_details(json!({ "index": index }))
}

/// Reads a JSON body: a list of `{student_key, status}`. More than 25 items is 413 before any
/// item is looked at; anything malformed is 400.
pub fn items_from_json(body: &Value) -> Result<Vec<Item>> {
    let Some(list) = body.as_array() else {
        return Err(Error::new(
            ErrorCode::InvalidEnrollment,
            "the body is a list of `{\"student_key\", \"status\"}` objects",
        ));
    };
    if list.len() > MAX_STUDENTS {
        return Err(Error::new(
            ErrorCode::TooManyEnrollments,
            format!(
                "at most {MAX_STUDENTS} students per request ({} given)",
                list.len()
            ),
        ));
    }
    if list.is_empty() {
        return Err(Error::new(ErrorCode::EmptyRequest, "the list is empty"));
    }
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let Some(object) = item.as_object() else {
                return Err(bad_item(i, "not an object"));
            };
            if let Some(extra) = object
                .keys()
                .find(|k| *k != "student_key" && *k != "status")
            {
                return Err(bad_item(i, &format!("unknown field `{}`", truncate(extra))));
            }
            let text = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_owned);
            let (Some(student_key), Some(status)) = (text("student_key"), text("status")) else {
                return Err(bad_item(i, "needs `student_key` and `status` as strings"));
            };
            check_student(i, &student_key)?;
            Ok(Item {
                student_key,
                status,
            })
        })
        .collect()
}

fn check_student(index: usize, key: &str) -> Result<()> {
    if key.trim().is_empty()
        || key.chars().count() > MAX_STUDENT_KEY
        || key.chars().any(char::is_control)
    {
        return Err(bad_item(
            index,
            &format!("a student key is 1-{MAX_STUDENT_KEY} printable characters"),
        ));
    }
    Ok(())
}

/// Reads an uploaded CSV: a header with `student_key` and `status`, then one row per student.
pub fn items_from_csv(bytes: &[u8]) -> Result<Vec<Item>> {
    let bad = |why: String| Error::new(ErrorCode::InvalidCsv, why);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("the file is not CSV: {e}")))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(format!("the header has no `{name}` column")))
    };
    let (student, status) = (column("student_key")?, column("status")?);
    let mut items = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("row {}: {e}", i + 1)))?;
        let field = |at: usize| record.get(at).unwrap_or_default().to_owned();
        let item = Item {
            student_key: field(student),
            status: field(status),
        };
        check_student(i, &item.student_key)
            .map_err(|e| bad(format!("row {}: {}", i + 1, e.message)))?;
        items.push(item);
    }
    if items.is_empty() {
        return Err(bad("the file has no rows".into()));
    }
    Ok(items)
}

/// The program, once the caller holds `permission` on it and its type takes enrollments
/// (Masters): 403 `enrollment_not_enabled_for_program_type` otherwise, whatever the roles.
async fn open_program(
    node: &Node,
    index: &provost_engine::Index,
    actor: &Actor,
    key: &str,
    permission: &str,
    target: &Target,
) -> Result<ProgramRecord> {
    let program = service::load(node, key).await?;
    service::require(index, actor, key, permission)?;
    let types = service::types(node).await?;
    let enabled = types
        .iter()
        .any(|t| t.name == program.program_type && t.enrollments);
    if !enabled {
        return Err(Error::new(
            ErrorCode::EnrollmentNotEnabled,
            format!(
                "program `{key}` is of type `{}`, whose enrollments are not managed here (Masters only)",
                program.program_type
            ),
        ));
    }
    if let Target::Course(course) = target {
        if !program.curriculum.contains(course) {
            return Err(Error::new(
                ErrorCode::CourseNotInProgram,
                format!(
                    "course `{}` is not in the curriculum of program `{key}`",
                    truncate(course)
                ),
            ));
        }
    }
    Ok(program)
}

/// Refuses (403, 404) unless `actor` may write enrollments there.
pub async fn check_write(
    node: &Node,
    index: &provost_engine::Index,
    actor: &Actor,
    key: &str,
    target: &Target,
) -> Result<()> {
    open_program(node, index, actor, key, "write_enrollments", target).await?;
    Ok(())
}

/// The enrollments of a program or of one of its course runs, for `programs.read_enrollments`.
pub async fn read(
    node: &Node,
    index: &provost_engine::Index,
    actor: &Actor,
    key: &str,
    target: &Target,
) -> Result<Results> {
    open_program(node, index, actor, key, "read_enrollments", target).await?;
    let mut reader = node.store().reader().await?;
    Ok(match target {
        Target::Program => rows::program_enrollments(reader.conn(), key).await?,
        Target::Course(course) => rows::course_enrollments(reader.conn(), key, course).await?,
    })
}

/// Creates or changes enrollments, for `programs.write_enrollments`, in one write with one audit
/// entry; returns the per-student results and how many were applied.
pub async fn write(
    node: &Node,
    index: &provost_engine::Index,
    guards: &WriteGuards,
    actor: &Actor,
    request: Request<'_>,
) -> Result<(Results, usize)> {
    let Request {
        key,
        target,
        mode,
        items,
    } = request;
    open_program(node, index, actor, key, "write_enrollments", &target).await?;
    let _guard = guards.enter(key)?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for item in &items {
        *seen.entry(item.student_key.as_str()).or_default() += 1;
    }
    let mut results = Results::new();
    let mut wanted: Vec<Item> = Vec::new();
    for item in &items {
        if seen[item.student_key.as_str()] > 1 {
            results.insert(item.student_key.clone(), "duplicated".into());
        } else if !target.statuses().contains(&item.status.as_str()) {
            results.insert(item.student_key.clone(), "invalid-status".into());
        } else {
            wanted.push(item.clone());
        }
    }
    // The guard refuses a second write on this node; the lease, one on another node.
    let Some(lease) = rows::try_lease(node.store(), key).await? else {
        return Err(busy(key));
    };
    let key = key.to_owned();
    let written = node
        .write(&actor.username, |tx| {
            Box::pin(async move {
                let in_program = rows::program_enrollments(tx.conn(), &key).await?;
                let current = match &target {
                    Target::Program => in_program.clone(),
                    Target::Course(course) => {
                        rows::course_enrollments(tx.conn(), &key, course).await?
                    }
                };
                let mut applied = Vec::new();
                for item in wanted {
                    let outcome = match (&target, mode, current.contains_key(&item.student_key)) {
                        (Target::Course(_), _, _)
                            if !in_program.contains_key(&item.student_key) =>
                        {
                            "not-in-program"
                        }
                        (_, Mode::Create, true) => "conflict",
                        (Target::Program, Mode::Update, false) => "not-in-program",
                        (Target::Course(_), Mode::Update, false) => "not-found",
                        _ => {
                            applied.push((item.student_key.clone(), item.status.clone()));
                            item.status.as_str()
                        }
                    };
                    results.insert(item.student_key.clone(), outcome.to_owned());
                }
                // One statement for the lot: an upload may carry a hundred thousand rows.
                match &target {
                    Target::Program => {
                        rows::put_program_enrollments(tx.conn(), &key, &applied).await?
                    }
                    Target::Course(course) => {
                        rows::put_course_enrollments(tx.conn(), &key, course, &applied).await?
                    }
                }
                let count = applied.len();
                if count > 0 {
                    let operation = match (&target, mode) {
                        (Target::Program, Mode::Create) => "program_enrollments_create",
                        (Target::Program, Mode::Update) => "program_enrollments_update",
                        (Target::Program, Mode::Upsert) => "program_enrollments_upload",
                        (Target::Course(_), Mode::Create) => "course_enrollments_create",
                        (Target::Course(_), _) => "course_enrollments_update",
                    };
                    let course = match &target {
                        Target::Course(course) => Some(course.clone()),
                        Target::Program => None,
                    };
                    tx.audit(AppAudit {
                        app: APP.into(),
                        operation: operation.into(),
                        subject: None,
                        scope: Some(scope_of(&key)),
                        after: Some(
                            json!({ "course": course, "enrollments": Results::from_iter(applied) }),
                        ),
                        before: None,
                    })
                    .await?;
                }
                Ok((results, count))
            })
        })
        .await;
    lease.release().await?;
    Ok(written?.value)
}

/// Enrollments as CSV (`student_key,status`).
pub fn to_csv(results: &Results) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Error::internal(format!("cannot write csv: {e}"));
    writer
        .write_record(["student_key", "status"])
        .map_err(fail)?;
    for (student, status) in results {
        writer.write_record([student, status]).map_err(fail)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::internal(format!("cannot write csv: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::internal(format!("cannot write csv: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_body_is_read_whole_or_refused() {
        let ok = json!([{ "student_key": "s1", "status": "enrolled" }]);
        assert_eq!(items_from_json(&ok).map(|i| i.len()).ok(), Some(1));
        let many: Vec<Value> = (0..26).map(|_| json!("not even an object")).collect();
        assert_eq!(
            items_from_json(&json!(many)).err().map(|e| e.code),
            Some(ErrorCode::TooManyEnrollments)
        );
        let bad = json!([{ "student_key": 3, "status": "enrolled" }]);
        assert_eq!(
            items_from_json(&bad).err().map(|e| e.code),
            Some(ErrorCode::InvalidEnrollment)
        );
    }

    #[test]
    fn csv_needs_its_columns() {
        let items = items_from_csv(b"status,student_key\nenrolled,s1\npending, s2\n").expect("csv");
        assert_eq!(
            items[1],
            Item {
                student_key: "s2".into(),
                status: "pending".into()
            }
        );
        assert!(items_from_csv(b"name,status\nx,enrolled\n").is_err());
    }

    #[test]
    fn verdicts() {
        let results: Results = [("a".to_owned(), "enrolled".to_owned())].into();
        assert_eq!(verdict(&results, 1), 200);
        assert_eq!(verdict(&results, 0), 422);
    }
}
