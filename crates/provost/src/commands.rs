//! Each CLI command: open the node, call a service as the operator, print the answer.

use std::process::ExitCode;

use provost_engine::{Explanation, User, DEFAULT_POLICY};
use provost_server::access::{self, Actor};
use provost_server::apps::authz::roles;
use provost_server::apps::authz::service::{self, AssignmentInput, BulkResult, CheckAnswer};
use provost_server::Node;
use provost_store::{AppEntry, AuditFilter, AuditRange, LogEntry, StoreOptions};

use crate::cli::{Cli, Command, PolicyCommand, Question, RolesCommand, UsersCommand};
use crate::output::{emit, Failure};

pub async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let json = cli.json;
    let url = cli.database_url;
    let store = StoreOptions {
        acquire_timeout: cli.db_acquire_timeout,
        ..StoreOptions::default()
    };
    match cli.command {
        Command::Serve(args) => crate::serve::serve(&url, store, args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Token(args) => crate::serve::token(args).map(|()| ExitCode::SUCCESS),
        command => {
            let node = Node::open_with(&url, &store).await?;
            let result = run_on(&node, json, command).await;
            node.store().close().await;
            result
        }
    }
}

async fn run_on(node: &Node, json: bool, command: Command) -> Result<ExitCode, Failure> {
    let actor = Actor::operator();
    match command {
        Command::Policy(PolicyCommand::Load { file, prune }) => {
            let text = match &file {
                Some(path) => std::fs::read_to_string(path).map_err(|e| Failure {
                    code: "unreadable_file",
                    message: format!("cannot read `{}`: {e}", path.display()),
                })?,
                None => DEFAULT_POLICY.to_owned(),
            };
            let load = roles::load_policy(node, &actor, &text, prune).await?;
            emit(json, &load, || {
                format!("{} change(s); revision {}", load.changes, load.revision)
            })?;
        }
        Command::Roles(RolesCommand::List) => {
            let roles = roles::roles(node).await?;
            emit(json, &roles, || {
                roles
                    .iter()
                    .map(|r| {
                        let kind = if r.builtin { "built-in" } else { "custom" };
                        format!(
                            "{:<32} {:>6} assigned  {kind:<8} {}",
                            r.name,
                            r.assignments,
                            r.closure.join(" ")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
        }
        Command::Users(UsersCommand::Upsert {
            username,
            email,
            staff,
            superuser,
        }) => {
            let revision = service::upsert_user(
                node,
                &actor,
                User {
                    username: username.clone(),
                    email,
                    staff,
                    superuser,
                },
            )
            .await?;
            emit(
                json,
                &serde_json::json!({ "username": username, "revision": revision }),
                || format!("saved `{username}`; revision {revision}"),
            )?;
        }
        Command::Users(UsersCommand::Retire { username }) => {
            let revision = service::retire_user(node, &actor, &username).await?;
            emit(
                json,
                &serde_json::json!({ "username": username, "revision": revision }),
                || format!("retired `{username}`; revision {revision}"),
            )?;
        }
        Command::Assign(args) => {
            let t = args.target;
            let item = AssignmentInput {
                subject: t.subject,
                role: t.role,
                scope: t.scope,
                valid_from: args.from,
                valid_until: args.until,
            };
            return single(json, service::assign(node, &actor, &[item], true).await?);
        }
        Command::Unassign(t) => {
            let item = AssignmentInput {
                subject: t.subject,
                role: t.role,
                scope: t.scope,
                valid_from: None,
                valid_until: None,
            };
            return single(json, service::unassign(node, &actor, &[item], true).await?);
        }
        Command::Check(q) => {
            let (answer, e) = ask(node, &actor, &q)?;
            let reason = e.reason;
            let printed = emit(
                json,
                &serde_json::json!({ "allowed": answer.allowed, "reason": reason, "revision": answer.revision }),
                || {
                    format!(
                        "{} ({})",
                        if answer.allowed { "allowed" } else { "denied" },
                        reason.as_str()
                    )
                },
            );
            // The exit status is the answer: a closed stdout must not turn "denied" into 0.
            match printed {
                Err(failure) if !failure.is_closed_stdout() => return Err(failure),
                _ => return Ok(verdict(answer.allowed)),
            }
        }
        Command::Explain(q) => {
            let (_, e) = ask(node, &actor, &q)?;
            emit(json, &e, || {
                let mut lines = vec![e.message.clone()];
                for b in &e.because {
                    let mut line = format!("  via {}", b.via.as_str());
                    if let (Some(role), Some(at)) = (&b.role, &b.held_at) {
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
                lines.join("\n")
            })?;
            return Ok(verdict(e.allowed));
        }
        Command::Register { scope, parents } => {
            let revision = access::register_scope(node, &actor, &scope, &parents).await?;
            emit(
                json,
                &serde_json::json!({ "scope": scope, "parents": parents, "revision": revision }),
                || format!("registered `{scope}`; revision {revision}"),
            )?;
        }
        Command::Who { action, scope } => {
            let subjects = service::who(&node.index(), &actor, &action, &scope)?;
            emit(json, &subjects, || subjects.join("\n"))?;
        }
        Command::Scopes {
            subject,
            action,
            kind,
        } => {
            let scopes = service::scopes(
                &node.index(),
                &actor,
                Some(&subject),
                &action,
                kind.as_deref(),
            )?;
            emit(json, &scopes, || scopes.join("\n"))?;
        }
        Command::Audit {
            since,
            before,
            subject,
            scope,
            limit,
        } => {
            let range = since.map_or(AuditRange::Before(before), AuditRange::After);
            let entries =
                service::audit(node, &actor, AuditFilter { subject, scope }, range, limit).await?;
            emit(json, &entries, || {
                entries
                    .iter()
                    .map(|e| {
                        let (at, actor, what) = match e {
                            LogEntry::Engine(e) => (e.at, &e.actor, describe(&e.change)),
                            LogEntry::App(e) => (e.at, &e.actor, describe_app(e)),
                        };
                        format!(
                            "{:>8}  {}  {:<20} {}",
                            e.revision(),
                            at.format("%Y-%m-%dT%H:%M:%SZ"),
                            actor,
                            what
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
        }
        Command::Serve(_) | Command::Token(_) => {
            unreachable!("handled before opening the database")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Decides a question with its explanation, as the operator.
fn ask(node: &Node, actor: &Actor, q: &Question) -> Result<(CheckAnswer, Explanation), Failure> {
    let answer = service::check(
        &node.index(),
        actor,
        Some(&q.subject),
        &q.action,
        &q.scope,
        true,
    )?;
    let explanation = answer
        .explanation
        .clone()
        .ok_or_else(|| Failure::usage("no explanation"))?;
    Ok((answer, explanation))
}

/// `check` and `explain` exit 0 when allowed and 1 when denied.
fn verdict(allowed: bool) -> ExitCode {
    if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Prints the one item of a single assign/unassign; an item error is a failure (exit 2).
fn single(json: bool, result: BulkResult) -> Result<ExitCode, Failure> {
    let item = result
        .items
        .into_iter()
        .next()
        .ok_or_else(|| Failure::usage("no result"))?;
    if let Some(e) = item.error {
        return Err(Failure {
            code: e.code,
            message: e.message,
        });
    }
    let revision = result.revision;
    emit(
        json,
        &serde_json::json!({ "status": item.status, "assignment": item.assignment, "revision": revision }),
        || format!("{}; revision {revision}", item.status),
    )?;
    Ok(ExitCode::SUCCESS)
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

fn describe(change: &provost_engine::Change) -> String {
    use provost_engine::Change::*;
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
