//! A fluent HTTP client for a test server: `server.as_user("ada").post(path, body).await.expect(403, "forbidden")`.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::server::TestServer;

/// Requests to one test server as one caller (a user's token, the admin's, or none).
pub struct Client<'a> {
    server: &'a TestServer,
    token: Option<String>,
}

impl<'a> Client<'a> {
    pub(crate) fn new(server: &'a TestServer, token: Option<String>) -> Client<'a> {
        Client { server, token }
    }

    /// The bearer token this client sends, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }

    /// A DELETE with a JSON body (`DELETE /api/v1/assignments`).
    pub async fn delete_with(&self, path: &str, body: Value) -> Answer {
        self.send(Method::DELETE, path, Some(body)).await
    }

    /// Any method, with a JSON body when one is given.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Answer::from(request.send().await.expect("request is sent")).await
    }

    /// Raw bytes with the given content type (malformed bodies, other media types).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let mut request = self.request(method, path).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        Answer::from(request.send().await.expect("request is sent")).await
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self
            .server
            .client
            .request(method, format!("{}{path}", self.server.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}

/// An answer: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub async fn from(response: reqwest::Response) -> Answer {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, text }
    }

    /// The error code of an error body; panics when the body is not Provost's error shape.
    pub fn code(&self) -> &str {
        let error = &self.body["error"];
        assert!(
            error["message"].is_string(),
            "not an error body ({}): {}",
            self.status,
            self.text
        );
        error["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {}", self.text))
    }

    /// Asserts a refusal: this status and this error code.
    #[track_caller]
    pub fn expect(self, status: u16, code: &str) -> Answer {
        let answer = self.expect_status(status);
        assert_eq!(answer.code(), code, "{}", answer.text);
        answer
    }

    /// Asserts the status, whatever the body.
    #[track_caller]
    pub fn expect_status(self, status: u16) -> Answer {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        self
    }

    /// Asserts 200 OK.
    #[track_caller]
    pub fn ok(self) -> Answer {
        self.expect_status(200)
    }

    /// The `revision` a write or a read answered.
    #[track_caller]
    pub fn revision(&self) -> u64 {
        self.body["revision"]
            .as_u64()
            .unwrap_or_else(|| panic!("no revision: {}", self.text))
    }
}

/// Percent-encodes a value for a query string (`+` would otherwise read as a space).
pub fn enc(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':' | b'*') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
