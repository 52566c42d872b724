//! The authz app's `provost` subcommands: the same services as its HTTP routes, as the operator.

use clap::{Args, Subcommand};
use provost_engine::{Change, Explanation, Reason, DEFAULT_POLICY};
use provost_store::{AppEntry, AssignmentFilter, AuditFilter, AuditRange, LogEntry};
use serde_json::json;

use super::roles;
use super::service::{self, AssignmentInput, BulkResult, CheckAnswer};
use crate::access;
use crate::apps::{CliContext, Outcome};
use crate::err::{Error, ErrorCode, Result};

#[derive(Debug, Subcommand)]
pub enum AuthzCommand {
    /// Load roles and permissions from a policy file.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// List roles, or show one.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// List permissions (the actions a check asks about).
    #[command(subcommand)]
    Permissions(PermissionsCommand),
    /// List assignments, filtered and a page at a time (as `GET /api/v1/assignments`).
    #[command(subcommand)]
    Assignments(AssignmentsCommand),
    /// Create, update or retire users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Give SUBJECT the role ROLE at SCOPE (and everything below it).
    Assign(AssignArgs),
    /// Take ROLE at SCOPE away from SUBJECT. Exit status: 0 removed, 1 nothing changed (SUBJECT
    /// did not hold ROLE at exactly SCOPE), 2 error.
    Unassign(Target),
    /// Decide whether SUBJECT may do ACTION at SCOPE. Exit status: 0 allowed, 1 denied, 2 error.
    Check(Question),
    /// Decide, and show which assignments decided it (or why it was denied).
    Explain(Question),
    /// List the subjects allowed to do ACTION at SCOPE.
    Who {
        /// A permission, like `courses.edit_course_content`.
        action: String,
        /// A scope key or glob.
        scope: String,
    },
    /// List where SUBJECT may do ACTION: scopes and globs.
    Scopes {
        /// The username.
        subject: String,
        /// A permission, like `courses.edit_course_content`.
        action: String,
        /// Only scopes of this kind (course, library, program, batch, enterprise, org, instance).
        #[arg(long)]
        kind: Option<String>,
    },
    /// Register a program under its org(s), or a batch under its course.
    Register {
        /// `program:KEY` or `batch:ID`.
        scope: String,
        /// A parent: `org:ORG` for programs (repeat for joint programs), the course key for batches.
        #[arg(long = "parent", required = true)]
        parents: Vec<String>,
    },
    /// Show the change log (every write, with its actor and revision), newest first.
    Audit {
        /// Read forward from this revision instead, oldest first (a change feed; `--since 0` from the start).
        #[arg(long, conflicts_with = "before")]
        since: Option<u64>,
        /// Only changes before this revision, newest first (the next page: the last revision shown).
        #[arg(long)]
        before: Option<u64>,
        /// Only changes about this subject.
        #[arg(long)]
        subject: Option<String>,
        /// Only changes at this scope.
        #[arg(long)]
        scope: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10000))]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Load FILE over the loaded policy (default: the built-in policy).
    ///
    /// The apps, permissions and roles FILE names are added, or replace those of the same name;
    /// the rest stay. FILE may refer to anything already loaded (a permission implying
    /// `courses.view_course`, a role bundling built-in permissions), and the merged policy must
    /// compile, or nothing is written. Loading the same file twice changes nothing. Example:
    /// `provost policy load examples/plugin-policy.toml`.
    #[command(verbatim_doc_comment)]
    Load {
        /// A policy file (TOML, `version = 1`); without it, the built-in default policy.
        file: Option<std::path::PathBuf>,
        /// Make FILE the whole policy: also remove the built-in roles and permissions it does not
        /// name (custom roles stay). A file that names only additions must not be pruned with.
        #[arg(long)]
        prune: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// Every role: how often it is assigned, built-in or custom, and its description.
    List,
    /// One role: its description, its own permissions and everything they imply.
    Show {
        /// A role, like `course_staff`.
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PermissionsCommand {
    /// Every permission with its scope kind and description, sorted by name.
    List {
        /// Only permissions of this scope kind (course, library, program, batch, enterprise, org, instance).
        #[arg(long)]
        kind: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AssignmentsCommand {
    /// Assignments sorted by subject, role and scope; the filters combine.
    List {
        /// Only this user's.
        #[arg(long)]
        subject: Option<String>,
        /// Only of this role.
        #[arg(long)]
        role: Option<String>,
        /// Only at exactly this scope key or glob.
        #[arg(long)]
        scope: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Start after this cursor (printed at the end of the previous page).
        #[arg(long)]
        cursor: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create or update USERNAME. What you leave out keeps its stored value (for a new user: no
    /// email, not staff, not superuser).
    Upsert {
        /// The username (letters, digits, `.`, `_`, `-`, `@`, `+`).
        username: String,
        /// The user's email address.
        #[arg(long, conflicts_with = "no_email")]
        email: Option<String>,
        /// Clear the stored email.
        #[arg(long)]
        no_email: bool,
        /// Platform staff: pass on every course and library.
        #[arg(long, overrides_with = "no_staff")]
        staff: bool,
        /// Not platform staff (clears the flag).
        #[arg(long, overrides_with = "staff")]
        no_staff: bool,
        /// Superuser: pass everywhere.
        #[arg(long, overrides_with = "no_superuser")]
        superuser: bool,
        /// Not a superuser (clears the flag).
        #[arg(long, overrides_with = "superuser")]
        no_superuser: bool,
    },
    /// Retire USERNAME: remove the user and every assignment they hold (audited).
    Retire {
        /// The username.
        username: String,
    },
}

#[derive(Debug, Args)]
pub struct Target {
    /// The username.
    pub subject: String,
    /// A role, like `course_staff` (see `provost roles list`).
    pub role: String,
    /// A scope key or glob, like `org:MITx` or `course-v1:MITx+*`.
    pub scope: String,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    #[command(flatten)]
    pub target: Target,
    /// Valid from this time, inclusive (RFC 3339, e.g. 2027-01-01T00:00:00Z).
    #[arg(long, value_parser = rfc3339)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Valid until this time, exclusive (RFC 3339, e.g. 2027-07-01T00:00:00Z). A time already
    /// past is accepted with a warning: the assignment then grants nothing.
    #[arg(long, value_parser = rfc3339)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Args)]
pub struct Question {
    /// The username.
    pub subject: String,
    /// A permission, like `courses.edit_course_content`.
    pub action: String,
    /// A scope key or glob.
    pub scope: String,
}

/// A policy load's progress on stderr; indicatif draws nothing when stderr is not a terminal.
struct Steps(indicatif::ProgressBar);

impl roles::LoadSteps for Steps {
    fn step(&self, what: &str, total: u64) {
        let template = if total == 0 {
            "{spinner} {msg} ({elapsed})"
        } else {
            "{msg} {bar:40} {pos}/{len} ({eta} left)"
        };
        // The step's text and count first, then its look: no frame mixes two steps.
        self.0.set_message(what.to_owned());
        self.0.set_length(total);
        self.0.set_position(0);
        self.0.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        self.0
            .enable_steady_tick(std::time::Duration::from_millis(200));
    }
    fn advance(&self, units: u64) {
        self.0.inc(units);
    }
}

/// Runs one authz command.
pub async fn run(cx: CliContext<'_>, command: AuthzCommand) -> Result<Outcome> {
    let CliContext { node, actor } = cx;
    let outcome = match command {
        AuthzCommand::Policy(PolicyCommand::Load { file, prune }) => {
            let text = match &file {
                Some(path) => std::fs::read_to_string(path).map_err(|e| {
                    Error::new(
                        ErrorCode::UnreadableFile,
                        format!("cannot read `{}`: {e}", path.display()),
                    )
                })?,
                None => DEFAULT_POLICY.to_owned(),
            };
            let bar = Steps(indicatif::ProgressBar::new_spinner());
            let load = roles::load_policy_showing(node, actor, &text, prune, &bar).await;
            bar.0.finish_and_clear();
            let load = load?;
            let text = format!("{} change(s); revision {}", load.changes, load.revision);
            Outcome::done(&load, text)
        }
        AuthzCommand::Roles(RolesCommand::List) => {
            let roles = roles::roles(node).await?;
            let mut lines = vec![format!(
                "{:<30} {:>8}  {:<8}  DESCRIPTION",
                "ROLE", "ASSIGNED", "KIND"
            )];
            lines.extend(roles.iter().map(|r| {
                let kind = if r.builtin { "built-in" } else { "custom" };
                format!(
                    "{:<30} {:>8}  {kind:<8}  {}",
                    r.name,
                    r.assignments,
                    clip(&r.description, 60)
                )
            }));
            Outcome::done(&roles, lines.join("\n"))
        }
        AuthzCommand::Roles(RolesCommand::Show { role }) => {
            let r = roles::role(node, &role).await?;
            let kind = if r.builtin { "built-in" } else { "custom" };
            let mut lines = vec![format!("{} ({kind})", r.name)];
            if !r.description.is_empty() {
                lines.push(format!("  {}", r.description));
            }
            if let Some(org) = &r.org {
                lines.push(format!("owned by org:{org}: grants only inside it"));
            }
            lines.push(format!("assigned {} time(s)", r.assignments));
            lines.push("permissions:".into());
            lines.extend(r.permissions.iter().map(|p| format!("  {p}")));
            let implied: Vec<&String> = r
                .closure
                .iter()
                .filter(|p| !r.permissions.contains(p))
                .collect();
            if !implied.is_empty() {
                lines.push("and through them:".into());
                lines.extend(implied.iter().map(|p| format!("  {p}")));
            }
            Outcome::done(&r, lines.join("\n"))
        }
        AuthzCommand::Permissions(PermissionsCommand::List { kind }) => {
            let mut permissions = roles::permissions(&node.index());
            if let Some(kind) = &kind {
                let kind = provost_engine::Kind::parse(kind).ok_or_else(|| {
                    Error::new(
                        ErrorCode::UnknownKind,
                        format!("`{kind}` is not a scope kind (course, library, program, batch, enterprise, org, instance)"),
                    )
                })?;
                permissions.retain(|p| p.kind == kind.as_str());
            }
            let mut lines = vec![format!("{:<48} {:<10}  DESCRIPTION", "PERMISSION", "KIND")];
            lines.extend(permissions.iter().map(|p| {
                format!(
                    "{:<48} {:<10}  {}",
                    p.name,
                    p.kind,
                    clip(&p.description, 60)
                )
            }));
            Outcome::done(&permissions, lines.join("\n"))
        }
        AuthzCommand::Assignments(AssignmentsCommand::List {
            subject,
            role,
            scope,
            limit,
            cursor,
        }) => {
            let after = cursor.as_deref().map(decode_key).transpose()?;
            let filter = AssignmentFilter {
                subject,
                role,
                scope,
            };
            let mut items =
                service::list_assignments(node, actor, filter, after, limit + 1).await?;
            let next_cursor = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items.last().map(|a| {
                    crate::extract::encode_cursor(&provost_engine::AssignmentKey {
                        subject: a.subject.clone(),
                        role: a.role.clone(),
                        scope: a.scope.clone(),
                    })
                })
            } else {
                None
            };
            let mut lines = vec![format!(
                "{:<24} {:<28} {:<36} WINDOW",
                "SUBJECT", "ROLE", "SCOPE"
            )];
            lines.extend(items.iter().map(|a| {
                let window = match (a.valid_from, a.valid_until) {
                    (None, None) => "always".to_owned(),
                    (from, until) => format!(
                        "{} .. {}",
                        from.map_or("".into(), |t| t
                            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                        until.map_or("".into(), |t| t
                            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                    ),
                };
                format!("{:<24} {:<28} {:<36} {window}", a.subject, a.role, a.scope)
            }));
            if items.is_empty() {
                lines = vec!["(none)".into()];
            }
            if let Some(c) = &next_cursor {
                lines.push(format!(
                    "more: provost assignments list --cursor {c} (with the same filters)"
                ));
            }
            Outcome::done(
                &json!({ "items": items, "next_cursor": next_cursor }),
                lines.join("\n"),
            )
        }
        AuthzCommand::Users(UsersCommand::Upsert {
            username,
            email,
            no_email,
            staff,
            no_staff,
            superuser,
            no_superuser,
        }) => {
            let flag = |on: bool, off: bool| (on || off).then_some(on);
            let update = service::UserUpdate {
                username: username.clone(),
                email: if no_email {
                    Some(None)
                } else {
                    email.map(Some)
                },
                staff: flag(staff, no_staff),
                superuser: flag(superuser, no_superuser),
            };
            let revision = service::update_user(node, actor, update).await?;
            Outcome::done(
                &json!({ "username": username, "revision": revision }),
                format!("saved `{username}`; revision {revision}"),
            )
        }
        AuthzCommand::Users(UsersCommand::Retire { username }) => {
            let revision = service::retire_user(node, actor, &username).await?;
            Outcome::done(
                &json!({ "username": username, "revision": revision }),
                format!("retired `{username}`; revision {revision}"),
            )
        }
        AuthzCommand::Assign(args) => {
            if let Some(until) = args.until.filter(|u| *u <= chrono::Utc::now()) {
                // Kept, not refused: an expired assignment is how `explain` shows `expired`.
                eprintln!(
                    "warning: --until {} is already past: this assignment grants nothing",
                    until.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                );
            }
            let item = input(args.target, args.from, args.until);
            single(service::assign(node, actor, &[item], true).await?)?
        }
        AuthzCommand::Unassign(target) => {
            let not_held = format!(
                "nothing changed: `{}` does not hold `{}` at `{}`",
                target.subject, target.role, target.scope
            );
            let item = input(target, None, None);
            let result = service::unassign(node, actor, &[item], true).await?;
            let held = result.items.first().is_none_or(|i| i.status != "not_found");
            let outcome = single(result)?;
            if held {
                outcome
            } else {
                // Nothing to take away: exit 1, like a denial, so that scripts notice.
                Outcome {
                    text: not_held,
                    status: 1,
                    ..outcome
                }
            }
        }
        AuthzCommand::Check(q) => {
            let (answer, e) = ask(cx, &q)?;
            let reason = e.reason;
            let mut text = format!(
                "{} ({})",
                if answer.allowed { "allowed" } else { "denied" },
                reason.as_str()
            );
            if reason == Reason::UnknownAction {
                // Most often a typo: say what was meant.
                text.push('\n');
                text.push_str(&e.message);
            }
            let value =
                json!({ "allowed": answer.allowed, "reason": reason, "revision": answer.revision });
            Outcome {
                status_is_answer: true,
                ..Outcome::verdict(answer.allowed, &value, text)
            }
        }
        AuthzCommand::Explain(q) => {
            let (_, e) = ask(cx, &q)?;
            Outcome::verdict(e.allowed, &e, explanation(&e, &q.action))
        }
        AuthzCommand::Register { scope, parents } => {
            let revision = access::register_scope(node, actor, &scope, &parents).await?;
            Outcome::done(
                &json!({ "scope": scope, "parents": parents, "revision": revision }),
                format!("registered `{scope}`; revision {revision}"),
            )
        }
        AuthzCommand::Who { action, scope } => {
            let subjects =
                service::who(&node.index(), actor, &action, &scope, None, usize::MAX)?.subjects;
            Outcome::done(&subjects, lines_or_none(&subjects))
        }
        AuthzCommand::Scopes {
            subject,
            action,
            kind,
        } => {
            let scopes = service::scopes(
                &node.index(),
                actor,
                Some(&subject),
                &action,
                kind.as_deref(),
                None,
                usize::MAX,
            )?
            .scopes;
            Outcome::done(&scopes, lines_or_none(&scopes))
        }
        AuthzCommand::Audit {
            since,
            before,
            subject,
            scope,
            limit,
        } => {
            let range = since.map_or(AuditRange::Before(before), AuditRange::After);
            let entries =
                service::audit(node, actor, AuditFilter { subject, scope }, range, limit).await?;
            let text = entries
                .iter()
                .map(|e| {
                    let (at, who, what) = match e {
                        LogEntry::Engine(e) => (e.at, &e.actor, describe(&e.change)),
                        LogEntry::App(e) => (e.at, &e.actor, describe_app(e)),
                    };
                    format!(
                        "{:>8}  {}  {:<20} {}",
                        e.revision(),
                        at.format("%Y-%m-%dT%H:%M:%SZ"),
                        who,
                        what
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Outcome::done(&entries, text)
        }
    };
    Ok(outcome)
}

/// A time on the command line: RFC 3339, with a hint at the form when it is not.
fn rfc3339(text: &str) -> std::result::Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            format!(
                "`{text}` is not an RFC 3339 time ({e}); write a date, a time and a zone, like \
                 2027-01-01T00:00:00Z or 2027-01-01T09:00:00+02:00"
            )
        })
}

fn input(
    t: Target,
    valid_from: Option<chrono::DateTime<chrono::Utc>>,
    valid_until: Option<chrono::DateTime<chrono::Utc>>,
) -> AssignmentInput {
    AssignmentInput {
        subject: t.subject,
        role: t.role,
        scope: t.scope,
        valid_from,
        valid_until,
    }
}

/// A failure that only a bug could cause; the CLI has always called it `usage`.
fn usage(message: &str) -> Error {
    Error::new(ErrorCode::Usage, message)
}

/// Decides a question with its explanation, as the operator.
fn ask(cx: CliContext<'_>, q: &Question) -> Result<(CheckAnswer, Explanation)> {
    let answer = service::check(
        &cx.node.index(),
        cx.actor,
        Some(&q.subject),
        &q.action,
        &q.scope,
        true,
    )?;
    let explanation = answer
        .explanation
        .clone()
        .ok_or_else(|| usage("no explanation"))?;
    Ok((answer, explanation))
}

/// `explain` for people: the verdict, then one line per assignment (or rule) that decided it.
fn explanation(e: &Explanation, action: &str) -> String {
    let mut lines = vec![e.message.clone()];
    for b in &e.because {
        let mut line = format!("  via {}", b.via.as_str());
        if let (Reason::RoleLacksAction, Some(role), Some(at)) = (b.via, &b.role, &b.held_at) {
            line = format!("  holds `{role}` at `{at}`, which does not include `{action}`");
        } else if let (Some(role), Some(at)) = (&b.role, &b.held_at) {
            let how = if b.inherited {
                "inherited from"
            } else {
                "held at"
            };
            line = format!("  role `{role}` {how} `{at}`");
        }
        if let Some(p) = &b.permission {
            line.push_str(&format!(", through `{p}`"));
        }
        if let Some(until) = b.valid_until {
            line.push_str(&format!(", valid until {}", time(until)));
        }
        if let Some(from) = b.valid_from {
            line.push_str(&format!(", valid from {}", time(from)));
        }
        lines.push(line);
    }
    if !e.would_grant.is_empty() {
        let roles: Vec<String> = e.would_grant.iter().map(|r| format!("`{r}`")).collect();
        lines.push(format!("  would grant it: {}", roles.join(", ")));
    }
    lines.join("\n")
}

/// The one item of a single assign/unassign; an item error is a failure (exit 2).
fn single(result: BulkResult) -> Result<Outcome> {
    let item = result
        .items
        .into_iter()
        .next()
        .ok_or_else(|| usage("no result"))?;
    if let Some(e) = item.error {
        return Err(Error::new(e.code, e.message));
    }
    let revision = result.revision;
    Ok(Outcome::done(
        &json!({ "status": item.status, "assignment": item.assignment, "revision": revision }),
        format!("{}; revision {revision}", item.status),
    ))
}

/// `text` cut to `width` characters, with `…` when cut.
fn clip(text: &str, width: usize) -> String {
    let first = text.lines().next().unwrap_or("");
    if first.chars().count() <= width && first.len() == text.len() {
        return first.to_owned();
    }
    let mut cut: String = first.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A cursor `assignments list` printed.
fn decode_key(cursor: &str) -> Result<provost_engine::AssignmentKey> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidCursor,
                "`--cursor` is not one `provost assignments list` printed",
            )
        })
}

/// One item a line, or "(none)" so that an empty answer is visibly an answer.
fn lines_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join("\n")
    }
}

fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(|| t.to_string(), |d| d.to_rfc3339())
}

/// An app's audit entry in one line: the app, its operation, whom and where it concerns.
fn describe_app(entry: &AppEntry) -> String {
    let mut line = format!("{} {}", entry.app, entry.operation);
    for part in [&entry.subject, &entry.scope].into_iter().flatten() {
        line.push(' ');
        line.push_str(part);
    }
    line
}

fn describe(change: &Change) -> String {
    use Change::*;
    match change {
        AssignmentAdd { assignment: a } => format!("assign {} {} {}", a.subject, a.role, a.scope),
        AssignmentRemove {
            subject,
            role,
            scope,
        } => format!("unassign {subject} {role} {scope}"),
        UserPut { user } => format!(
            "user {}{}{}",
            user.username,
            if user.staff { " staff" } else { "" },
            if user.superuser { " superuser" } else { "" }
        ),
        UserRemove { username } => format!("retire {username}"),
        RolePut { role } => format!(
            "role {} ({} permissions)",
            role.name,
            role.permissions.len()
        ),
        RoleRemove { name } => format!("remove role {name}"),
        PermissionPut { permission } => format!("permission {}", permission.name),
        PermissionRemove { name } => format!("remove permission {name}"),
        AppPut {
            app,
            kind,
            manage: None,
        } => format!("app {app} → {kind}"),
        AppPut {
            app,
            kind,
            manage: Some(manage),
        } => format!("app {app} → {kind}, teams managed with {manage}"),
        ScopeRegister { registration } => format!(
            "register {} under {}",
            registration.scope,
            registration.parents.join(", ")
        ),
        ScopeRemove { scope } => format!("unregister {scope}"),
    }
}
