//! The README's and docs/'s command blocks, run as printed, so the docs cannot rot.
//!
//! The convention (docs/README.md says it for writers):
//! - A fenced block tagged `console` is run. Each line starting with `$ ` is a command (a line
//!   ending in `\` continues on the next); the lines after it, up to the next `$ ` or the end of
//!   the block, are its expected output (stdout and stderr together).
//! - Each page runs in a fresh temporary directory (so a fresh `provost.db`), with the freshly
//!   built `provost` first on `PATH` and no `PROVOST_*` variable from outside. Its commands run
//!   in order, each in `bash`; variables a command `export`s are seen by the commands after it,
//!   on the same page.
//! - Every command must exit 0: show a denial's status as `provost check ...; echo $?`.
//! - `$ provost serve ... &` starts a server for the rest of the page (on a free port, with the
//!   page's exported variables); `127.0.0.1:8080` in later commands is rewritten to its address.
//! - Output is compared after normalising what changes from run to run: times, revisions,
//!   tokens and uuids (request ids). An expected line `...` matches any number of lines.
//! - Blocks tagged `sh` are illustrative: they are only checked to parse (`bash -n`). Blocks
//!   tagged `toml` are policy files: they must compile on their own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The pages whose blocks are run: the README and every page of docs/.
const PAGES: &[&str] = &[
    "README.md",
    "docs/README.md",
    "docs/concepts.md",
    "docs/decisions.md",
    "docs/policy.md",
    "docs/http.md",
    "docs/cli.md",
    "docs/configuration.md",
    "docs/nodes.md",
    "docs/operations.md",
    "docs/python-client.md",
];

macro_rules! page_test {
    ($name:ident, $page:literal) => {
        #[test]
        fn $name() {
            run_page($page);
        }
    };
}

page_test!(readme, "README.md");
page_test!(index, "docs/README.md");
page_test!(concepts, "docs/concepts.md");
page_test!(decisions, "docs/decisions.md");
page_test!(policy, "docs/policy.md");
page_test!(http, "docs/http.md");
page_test!(cli, "docs/cli.md");
page_test!(configuration, "docs/configuration.md");
page_test!(nodes, "docs/nodes.md");
page_test!(operations, "docs/operations.md");
page_test!(python_client, "docs/python-client.md");

/// A new page is run too: it must be in PAGES (and so have its test above).
#[test]
fn every_docs_page_is_run_and_linked_from_the_readme() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let mut pages: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .collect();
    pages.sort();
    for page in pages {
        let path = format!("docs/{page}");
        assert!(PAGES.contains(&path.as_str()), "{path} is not in PAGES");
        assert!(
            readme.contains(&format!("]({path})")),
            "README.md does not link {path}"
        );
    }
}

/// A newcomer's first two commands stay first: run it, test it.
#[test]
fn the_readme_starts_with_run_and_test() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let first = blocks(&readme).into_iter().next().expect("a first block");
    let commands: Vec<&str> = first
        .lines
        .iter()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run --release -p provost -- serve",
            "./scripts/test.sh"
        ],
        "the README's first block"
    );
}

/// The repository stands on its own: no link to files a clone does not have.
#[test]
fn no_page_refers_outside_the_repository() {
    let link = regex::Regex::new(r"\]\(([^)#\s]+)(#[^)]*)?\)").expect("regex");
    for page in PAGES {
        let text = std::fs::read_to_string(root().join(page)).expect("page");
        for bad in ["../shared", "DESIGN.md", "STYLE.md", "/work/"] {
            assert!(!text.contains(bad), "{page} refers to `{bad}`");
        }
        // Relative links must point at files that exist.
        let dir = root().join(page).parent().expect("dir").to_path_buf();
        for caps in link.captures_iter(&text) {
            let target = &caps[1];
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            assert!(
                dir.join(target).exists(),
                "{page} links `{target}`, which does not exist"
            );
        }
    }
}

/// A fenced block of a page.
#[derive(Debug)]
struct Block {
    tag: String,
    /// 1-based line of the opening fence.
    line: usize,
    lines: Vec<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match open.take() {
            None => {
                if let Some(tag) = line.trim_start().strip_prefix("```") {
                    open = Some(Block {
                        tag: tag.trim().to_owned(),
                        line: i + 1,
                        lines: Vec::new(),
                    });
                }
            }
            Some(mut block) => {
                if line.trim_start().starts_with("```") {
                    blocks.push(block);
                } else {
                    block.lines.push(line.to_owned());
                    open = Some(block);
                }
            }
        }
    }
    assert!(open.is_none(), "a fenced block is never closed");
    blocks
}

/// A command of a console block and the output it must print.
#[derive(Debug)]
struct Step {
    /// 1-based line of the command in the page.
    line: usize,
    command: String,
    /// 0-based line in the page where the expected output starts.
    output_at: usize,
    expected: Vec<String>,
}

/// The commands of a console block. A command ending in `\\` continues on the next line; one
/// with a here-document (`<<'EOF'`) runs to its terminator.
fn steps(block: &Block) -> Vec<Step> {
    let heredoc = regex::Regex::new(r"<<-?\s*'?([A-Za-z_]+)'?").expect("regex");
    let mut steps: Vec<Step> = Vec::new();
    let mut lines = block.lines.iter().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let at = block.line + i; // 0-based line in the page
        let Some(first) = line.strip_prefix("$ ") else {
            let step = steps.last_mut().unwrap_or_else(|| {
                panic!("line {}: console output before any `$ ` command", at + 1)
            });
            step.expected.push(line.clone());
            continue;
        };
        let mut command = first.to_owned();
        let mut last = first.to_owned();
        while last.ends_with('\\') {
            let (_, next) = lines.next().expect("a continued command goes on");
            command.push('\n');
            command.push_str(next);
            last = next.clone();
        }
        if let Some(caps) = heredoc.captures(&command) {
            let end = caps[1].to_owned();
            loop {
                let (_, next) = lines
                    .next()
                    .unwrap_or_else(|| panic!("line {}: here-document never ends", at + 1));
                command.push('\n');
                command.push_str(next);
                if next.trim() == end {
                    break;
                }
            }
        }
        let output_at = block.line + lines.peek().map_or(block.lines.len(), |(j, _)| *j);
        steps.push(Step {
            line: at + 1,
            command,
            output_at,
            expected: Vec::new(),
        });
    }
    steps
}

/// A page's run: its directory, the variables its commands exported, and its server.
struct Session {
    dir: tempfile::TempDir,
    state: PathBuf,
    path: String,
    server: Option<(Child, String)>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some((child, _)) = &mut self.server {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Session {
    fn new() -> Session {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join(".docs-env");
        std::fs::write(&state, "").expect("state file");
        let bin = Path::new(env!("CARGO_BIN_EXE_provost"))
            .parent()
            .expect("bin dir")
            .to_path_buf();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Session {
            dir,
            state,
            path,
            server: None,
        }
    }

    /// bash in the page's directory, with no `PROVOST_*` variable from outside.
    fn bash(&self) -> Command {
        let mut bash = Command::new("bash");
        for (name, _) in std::env::vars() {
            if name.starts_with("PROVOST_") {
                bash.env_remove(name);
            }
        }
        bash.current_dir(self.dir.path())
            .env("PATH", &self.path)
            .env("NO_COLOR", "1");
        bash
    }

    /// Runs one command; returns its exit status and output.
    fn run(&mut self, command: &str) -> (i32, String) {
        let command = match &self.server {
            Some((_, address)) => command.replace("127.0.0.1:8080", address),
            None => command.to_owned(),
        };
        let state = self.state.display();
        let script = format!(
            "exec 2>&1\n. '{state}'\n{command}\n__status=$?\nexport -p > '{state}'\nexit $__status\n"
        );
        let out = self
            .bash()
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .output()
            .expect("bash runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// `provost serve ... &`: starts it on a free port and waits until it listens.
    fn serve(&mut self, command: &str) {
        use std::io::{BufRead, BufReader};
        assert!(self.server.is_none(), "a page starts one server");
        let args = command.trim_end().trim_end_matches('&').trim_end();
        let script = format!(
            ". '{}'\nexport PROVOST_LISTEN=127.0.0.1:0 PROVOST_LOG=info PROVOST_LOG_FORMAT=json\nexec {args}\n",
            self.state.display()
        );
        let mut child = self
            .bash()
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("provost serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let address = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("`{command}` stopped before it listened"))
                .expect("a log line");
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if entry["fields"]["message"] == "provost is listening" {
                break entry["fields"]["address"]
                    .as_str()
                    .expect("the listening line names its address")
                    .to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        self.server = Some((child, address));
    }
}

fn run_page(page: &str) {
    let path = root().join(page);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{page}: {e}"));
    // BLESS_DOCS=1 writes each command's actual output into the page instead of failing.
    let bless = std::env::var("BLESS_DOCS").is_ok_and(|v| v == "1");
    let mut rewrites: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let mut session = Session::new();
    for block in blocks(&text) {
        match block.tag.as_str() {
            "console" => {
                for step in steps(&block) {
                    if is_serve(&step.command) {
                        session.serve(&step.command);
                        continue;
                    }
                    let (status, output) = session.run(&step.command);
                    let at = format!("{page}:{}: `$ {}`", step.line, step.command);
                    assert_eq!(status, 0, "{at} exited {status}; it printed:\n{output}");
                    let actual: Vec<String> = output.lines().map(str::to_owned).collect();
                    if matches(&step.expected, &actual) {
                        continue;
                    }
                    if bless {
                        let actual = trimmed(&actual);
                        rewrites.push((step.output_at, step.expected.len(), actual));
                        continue;
                    }
                    panic!(
                        "{at} printed something else.\n--- expected\n{}\n--- actual\n{}",
                        step.expected.join("\n"),
                        actual.join("\n")
                    );
                }
            }
            "sh" | "bash" => {
                let out = Command::new("bash")
                    .arg("-n")
                    .arg("-c")
                    .arg(block.lines.join("\n"))
                    .output()
                    .expect("bash -n runs");
                assert!(
                    out.status.success(),
                    "{page}:{}: the sh block does not parse: {}",
                    block.line,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            "toml" => {
                let text = block.lines.join("\n");
                if let Err(e) = provost_engine::PolicyDoc::from_toml(&text) {
                    panic!("{page}:{}: the policy file does not load: {e}", block.line);
                }
            }
            _ => {}
        }
    }
    if !rewrites.is_empty() {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for (at, len, actual) in rewrites.into_iter().rev() {
            lines.splice(at..at + len, actual);
        }
        std::fs::write(&path, lines.join("\n") + "\n").expect("page written");
    }
}

fn is_serve(command: &str) -> bool {
    let command = command.trim();
    command.starts_with("provost serve") && command.ends_with('&')
}

/// Whether the output matches the expected lines, `...` matching any number of lines.
fn matches(expected: &[String], actual: &[String]) -> bool {
    let expected: Vec<String> = trimmed(expected).iter().map(|l| normalise(l)).collect();
    let actual: Vec<String> = trimmed(actual).iter().map(|l| normalise(l)).collect();
    fits(&expected, &actual)
}

fn fits(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| fits(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(line, more)| line == first && fits(rest, more)),
    }
}

/// Lines without trailing spaces, and without blank lines at the end.
fn trimmed(lines: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = lines.iter().map(|l| l.trim_end().to_owned()).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// What changes from run to run, replaced by placeholders.
fn normalise(line: &str) -> String {
    use std::sync::OnceLock;
    static RULES: OnceLock<Vec<(regex::Regex, &'static str)>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            (
                r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
                "<token>",
            ),
            (
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                "<time>",
            ),
            (
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                "<uuid>",
            ),
            (r#"("[a-z_]*revision"\s*:\s*)\d+"#, "${1}<rev>"),
            (r"(?i)(revision|rev) \d+", "${1} <rev>"),
            (r"(--before|--since) \d+", "${1} <rev>"),
            (
                r#""next_cursor":"[A-Za-z0-9_-]+""#,
                r#""next_cursor":"<cursor>""#,
            ),
            // `provost audit`: each row starts with its revision.
            (r"^\s*\d+(\s+<time>)", "<rev>${1}"),
            (r"x-request-id: \S+", "x-request-id: <id>"),
            (r"(?i)date: .* GMT", "date: <date>"),
            // Column widths follow the values.
            (r"\s+", " "),
        ]
        .into_iter()
        .map(|(pattern, to)| (regex::Regex::new(pattern).expect("regex"), to))
        .collect()
    });
    let mut line = line.to_owned();
    for (pattern, to) in rules {
        line = pattern.replace_all(&line, *to).into_owned();
    }
    line
}

#[test]
fn ellipsis_matches_any_lines_and_values_are_normalised() {
    let lines = |s: &[&str]| s.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert!(matches(
        &lines(&["a", "...", "d"]),
        &lines(&["a", "b", "c", "d"])
    ));
    assert!(matches(&lines(&["a", "...", "d"]), &lines(&["a", "d"])));
    assert!(!matches(&lines(&["a", "d"]), &lines(&["a", "b", "d"])));
    assert!(matches(
        &lines(&[r#"{"revision": 12, "at": "2026-01-01T00:00:00Z"}"#]),
        &lines(&[r#"{"revision": 907, "at": "2026-12-01T18:48:36.123Z"}"#])
    ));
}
