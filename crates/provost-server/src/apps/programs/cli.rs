//! The programs app's `provost` subcommands: `programs create|list|show|update` and
//! `reports list`, the same services as its HTTP routes, as the operator.

use clap::Subcommand;
use provost_store::programs::ProgramType;

use super::reports::{self, ReportSettings, ReportStore};
use super::service::{self, ListQuery, NewProgram, ProgramChange, ProgramView};
use crate::apps::{CliContext, Outcome};
use crate::err::Result;

#[derive(Debug, Subcommand)]
pub enum ProgramsCommand {
    /// Create, list, show and change programs.
    #[command(subcommand)]
    Programs(ProgramCommand),
    /// A program's reports in the report store (`PROVOST_REPORTS_URL`).
    #[command(subcommand)]
    Reports(ReportCommand),
}

#[derive(Debug, Subcommand)]
pub enum ProgramCommand {
    /// Create KEY and register `program:KEY` under its orgs.
    Create {
        /// The program's key: letters, digits, `.`, `_` and `-` (its scope is `program:KEY`).
        key: String,
        /// The title learners see.
        #[arg(long)]
        title: String,
        /// masters, micromasters, professional_certificate, or a type an operator added.
        #[arg(long = "type")]
        program_type: String,
        /// A managing org (repeat for joint programs; the first one holds the reports).
        #[arg(long = "org", required = true)]
        orgs: Vec<String>,
        /// Hyphenated; generated when absent.
        #[arg(long)]
        uuid: Option<String>,
        /// A course run of the curriculum (repeat).
        #[arg(long = "course")]
        curriculum: Vec<String>,
    },
    /// List programs, by key.
    List {
        /// Only programs this org manages.
        #[arg(long)]
        org: Option<String>,
        /// Only programs of this type (`masters`, ...).
        #[arg(long = "type")]
        program_type: Option<String>,
        /// Part of the title, any case.
        #[arg(long)]
        title: Option<String>,
    },
    /// Show KEY.
    Show {
        /// The program's key.
        key: String,
    },
    /// The program types, and whether their programs take enrollments.
    Types,
    /// Add a program type (`microbachelors`, `xseries`, ...).
    AddType {
        /// The type's name, as programs name it with `--type` (lowercase, `_`).
        name: String,
        /// The type's title, as Registrar shows it (`MicroBachelors`).
        #[arg(long)]
        title: String,
        /// Open the enrollment endpoints for its programs (as for `masters`).
        #[arg(long)]
        enrollments: bool,
    },
    /// Change KEY's title, type, orgs or curriculum (lists replace the old ones).
    Update {
        /// The program's key.
        key: String,
        /// A new title.
        #[arg(long)]
        title: Option<String>,
        /// A new type.
        #[arg(long = "type")]
        program_type: Option<String>,
        /// The managing orgs (repeat); given, they replace the old ones.
        #[arg(long = "org")]
        orgs: Vec<String>,
        /// The curriculum's course runs (repeat); given, they replace the old ones.
        #[arg(long = "course")]
        curriculum: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The reports of PROGRAM, newest first, with download links.
    List {
        /// The program's key.
        program: String,
        /// Only reports of this day or later (YYYY-MM-DD).
        #[arg(long)]
        min_created_date: Option<String>,
    },
}

fn line(p: &ProgramView) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        p.key,
        p.program_type,
        p.orgs.join(","),
        p.title
    )
}

/// Runs one programs command.
pub async fn run(cx: CliContext<'_>, command: ProgramsCommand) -> Result<Outcome> {
    let CliContext { node, actor } = cx;
    Ok(match command {
        ProgramsCommand::Programs(ProgramCommand::Create {
            key,
            title,
            program_type,
            orgs,
            uuid,
            curriculum,
        }) => {
            let new = NewProgram {
                key,
                uuid,
                title,
                program_type,
                orgs,
                curriculum,
            };
            let (program, revision) = service::create(node, actor, new).await?;
            let text = format!(
                "created program `{}` ({}); revision {revision}",
                program.key, program.uuid
            );
            Outcome::done(&program, text)
        }
        ProgramsCommand::Programs(ProgramCommand::List {
            org,
            program_type,
            title,
        }) => {
            let index = node.index();
            let mut all: Vec<ProgramView> = Vec::new();
            loop {
                let query = ListQuery {
                    org: org.clone(),
                    user_has_perm: None,
                    program_type: program_type.clone(),
                    program_title: title.clone(),
                    after: all.last().map(|p| p.key.clone()),
                    limit: 1000,
                };
                let page = service::list(node, &index, actor, query).await?;
                let done = page.len() < 1000;
                all.extend(page);
                if done {
                    break;
                }
            }
            let text = all.iter().map(line).collect::<Vec<_>>().join("\n");
            Outcome::done(&all, text)
        }
        ProgramsCommand::Programs(ProgramCommand::Show { key }) => {
            let program = service::show(node, &node.index(), actor, &key).await?;
            let text = format!(
                "{}\nuuid: {}\ntype: {}\norgs: {}\ncurriculum: {}",
                program.title,
                program.uuid,
                program.program_type,
                program.orgs.join(", "),
                program.curriculum.join(", ")
            );
            Outcome::done(&program, text)
        }
        ProgramsCommand::Programs(ProgramCommand::Types) => {
            let types = service::types(node).await?;
            let text = types
                .iter()
                .map(|t| {
                    let enrollments = if t.enrollments { "enrollments" } else { "-" };
                    format!("{}\t{}\t{}", t.name, enrollments, t.title)
                })
                .collect::<Vec<_>>()
                .join("\n");
            Outcome::done(&types, text)
        }
        ProgramsCommand::Programs(ProgramCommand::AddType {
            name,
            title,
            enrollments,
        }) => {
            let program_type = ProgramType {
                name,
                title,
                enrollments,
            };
            let revision = service::add_type(node, actor, program_type.clone()).await?;
            let text = format!(
                "added program type `{}`; revision {revision}",
                program_type.name
            );
            Outcome::done(&program_type, text)
        }
        ProgramsCommand::Programs(ProgramCommand::Update {
            key,
            title,
            program_type,
            orgs,
            curriculum,
        }) => {
            let change = ProgramChange {
                title,
                program_type,
                orgs: (!orgs.is_empty()).then_some(orgs),
                curriculum: (!curriculum.is_empty()).then_some(curriculum),
            };
            let (program, revision) = service::update(node, actor, &key, change).await?;
            let text = format!("updated program `{}`; revision {revision}", program.key);
            Outcome::done(&program, text)
        }
        ProgramsCommand::Reports(ReportCommand::List {
            program,
            min_created_date,
        }) => {
            let store = ReportStore::open(&ReportSettings::from_env()?);
            let min = reports::min_date(min_created_date.as_deref())?;
            let list = reports::list(node, &node.index(), &store, actor, &program, min).await?;
            let text = list
                .iter()
                .map(|r| format!("{}\t{}\t{}", r.created_date, r.name, r.download_url))
                .collect::<Vec<_>>()
                .join("\n");
            Outcome::done(&list, text)
        }
    })
}
