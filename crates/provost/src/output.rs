//! How the CLI prints results and errors, as text or `--json`, and its exit codes.

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use provost_server::{Error, ErrorCode};

/// A command that did not succeed: exit status 2 (1 is reserved for "denied").
#[derive(Debug)]
pub struct Failure {
    pub code: ErrorCode,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: ErrorCode::Usage,
            message: message.into(),
        }
    }

    /// Whether this is only the reader of stdout having gone away.
    pub fn is_closed_stdout(&self) -> bool {
        // Stdout closed by its reader (`provost audit | head -1`): the command ends with 0.
        self.code == ErrorCode::ClosedStdout
    }

    /// Prints the error on stderr and gives the exit status: 2, or 0 for a closed stdout.
    /// Nothing here panics: a closed stderr loses the message, not the exit status.
    pub fn report(&self, json: bool) -> ExitCode {
        if self.is_closed_stdout() {
            return ExitCode::SUCCESS;
        }
        let line = if json {
            serde_json::json!({ "error": { "code": self.code, "message": self.message } })
                .to_string()
        } else {
            format!("error[{}]: {}", self.code, self.message)
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
        ExitCode::from(2)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            code: e.code,
            message: e.message,
        }
    }
}

/// Writes `text` and a newline on stdout: the CLI's only way to print a result. `println!` would
/// panic when the reader has gone (EPIPE, `provost roles list | head -1`); here that ends the
/// command quietly instead.
pub fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Err(Failure {
            code: ErrorCode::ClosedStdout,
            message: "stdout was closed".into(),
        }),
        Err(e) => Err(Failure {
            code: ErrorCode::CannotWrite,
            message: format!("cannot write the output: {e}"),
        }),
    }
}
