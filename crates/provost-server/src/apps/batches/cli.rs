//! The batches app's `provost batches` subcommands: the same services as its HTTP routes, read
//! as the operator, with days counted in `PROVOST_BATCH_TIMEZONE` as `serve` counts them.

use clap::Subcommand;

use super::days::Calendar;
use super::members::{self, SearchFilters, SearchInput, StatusValue, Statuses, Texts};
use super::read::{self, BatchView};
use crate::apps::{CliContext, Outcome};
use crate::err::Result;

#[derive(Debug, Subcommand)]
pub enum BatchesCommand {
    /// Course batches (Sunbird's): show one, list a course's, list a batch's participants.
    #[command(subcommand)]
    Batches(BatchCommand),
}

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Show a batch: its dates, status (0 upcoming, 1 in progress, 2 completed) and mentors.
    Show {
        /// The batch id (as in `batch:ID`).
        id: String,
    },
    /// List the batches of a course.
    List {
        /// The course key, e.g. `course-v1:MITx+6.00x+2024T1`.
        #[arg(long)]
        course: String,
        /// Only batches in this status: 0 upcoming, 1 in progress, 2 completed.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=2))]
        status: Option<u8>,
    },
    /// List the participants of a batch.
    Participants {
        /// The batch id.
        id: String,
    },
}

fn line(batch: &BatchView) -> String {
    format!(
        "{:<20} {} {:<11} {} .. {}  {}",
        batch.id,
        batch.status,
        batch.enrollment_type,
        batch.start_date,
        batch.end_date.as_deref().unwrap_or("(no end)"),
        batch.name
    )
}

pub async fn run(cx: CliContext<'_>, command: BatchesCommand) -> Result<Outcome> {
    let CliContext { node, actor } = cx;
    let today = Calendar::from_env()?.today();
    let BatchesCommand::Batches(command) = command;
    let index = node.index();
    Ok(match command {
        BatchCommand::Show { id } => {
            let batch = read::read(node, &index, actor, today, &id).await?;
            let mentors = batch.mentors.join(" ");
            let text = format!("{}\nmentors: {mentors}", line(&batch));
            Outcome::done(&batch, text)
        }
        BatchCommand::List { course, status } => {
            let input = SearchInput {
                filters: Some(SearchFilters {
                    course_id: Some(Texts::One(course)),
                    status: status.map(|s| Statuses::One(StatusValue::Number(i64::from(s)))),
                    ..SearchFilters::default()
                }),
                limit: Some(members::MAX_LIMIT),
                offset: None,
            };
            let page = members::search(node, &index, actor, today, input).await?;
            let text = page.content.iter().map(line).collect::<Vec<_>>().join("\n");
            Outcome::done(&page, text)
        }
        BatchCommand::Participants { id } => {
            let participants = members::participants(node, &index, actor, &id).await?;
            let text = participants.join("\n");
            Outcome::done(&participants, text)
        }
    })
}
