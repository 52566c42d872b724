//! `--help` of every command: every argument described, environment variables shown one way.

use crate::Cli;

/// The subcommands a help page lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    section(help, "Commands:")
        .iter()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// The lines of a help section (`Commands:`, `Arguments:`, `Options:`), up to the next one.
fn section<'a>(help: &'a str, title: &str) -> Vec<&'a str> {
    help.lines()
        .skip_while(|line| *line != title)
        .skip(1)
        .take_while(|line| line.starts_with(' '))
        .collect()
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Text that describes, as opposed to clap's bracketed notes (`[env: ...]`, `[default: ...]`).
fn describes(text: &str) -> bool {
    text.split('[').next().is_some_and(|t| !t.trim().is_empty())
}

/// The arguments and options of a help page that have no description, on their line (after
/// the name) or on the lines below it (clap puts it there when names are long).
fn undescribed(help: &str) -> Vec<String> {
    let mut missing = Vec::new();
    for title in ["Arguments:", "Options:"] {
        let lines = section(help, title);
        for (i, line) in lines.iter().enumerate() {
            let entry = line.trim_start();
            if indent(line) > 6
                || !(entry.starts_with('-') || entry.starts_with('<') || entry.starts_with('['))
            {
                continue;
            }
            let (name, rest) = entry.split_once("  ").unwrap_or((entry, ""));
            let below = lines
                .get(i + 1)
                .is_some_and(|next| indent(next) > 6 && describes(next));
            if !describes(rest) && !below {
                missing.push(name.trim().to_owned());
            }
        }
    }
    missing
}

/// Environment variables set while reading the help pages: clap shows `[env: NAME=value]` for
/// those set unless told not to, and every page must show them as `[env: NAME]`.
const SET_IN_ENV: &[(&str, &str)] = &[
    ("PROVOST_LISTEN", "127.0.0.1:9999"),
    ("PROVOST_JWT_ISSUER", "https://lms.example.com"),
    ("PROVOST_DB_ACQUIRE_TIMEOUT", "5s"),
    ("PROVOST_LOG_FORMAT", "json"),
    ("PROVOST_JWT_SECRET", "help-test-secret"),
];

fn help_page(cli: &Cli, path: &[String]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_provost"))
        .args(path)
        .arg("-h")
        .env("PROVOST_DATABASE_URL", cli.url())
        .envs(SET_IN_ENV.iter().copied())
        .output()
        .expect("provost runs");
    assert!(
        out.status.success(),
        "provost {} -h: {out:?}",
        path.join(" ")
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_argument_of_every_command_is_described() {
    let cli = Cli::new();
    let mut commands = vec![Vec::<String>::new()];
    let mut problems = Vec::new();
    let mut pages = 0;
    while let Some(path) = commands.pop() {
        let help = help_page(&cli, &path);
        pages += 1;
        let command = format!("provost {}", path.join(" "));
        for name in undescribed(&help) {
            problems.push(format!("{command}: {name} has no description"));
        }
        for (name, _) in SET_IN_ENV {
            if help.contains(&format!("[env: {name}=")) {
                problems.push(format!("{command}: shows the value of {name}"));
            }
        }
        for sub in subcommands(&help) {
            let mut next = path.clone();
            next.push(sub);
            commands.push(next);
        }
    }
    assert!(pages > 20, "only {pages} help pages found");
    assert!(problems.is_empty(), "\n  {}", problems.join("\n  "));
}
