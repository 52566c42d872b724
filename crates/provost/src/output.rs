//! How the CLI prints results and errors, as text or `--json`, and its exit codes.

use std::process::ExitCode;

use provost_server::Error;
use serde::Serialize;

/// A command that did not succeed: exit status 2 (1 is reserved for "denied").
#[derive(Debug)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: "usage",
            message: message.into(),
        }
    }

    pub fn report(&self, json: bool) -> ExitCode {
        if json {
            let body =
                serde_json::json!({ "error": { "code": self.code, "message": self.message } });
            eprintln!("{body}");
        } else {
            eprintln!("error[{}]: {}", self.code, self.message);
        }
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

/// Prints `value` as JSON, or `text` for people.
pub fn emit<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into())
        );
    } else {
        let text = text();
        if !text.is_empty() {
            println!("{text}");
        }
    }
}
