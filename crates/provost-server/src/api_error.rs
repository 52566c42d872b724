//! `ApiError`: the one place that maps errors to HTTP statuses and Provost's error body.

use std::any::Any;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::err::{Error, ErrorClass};

/// An error on its way to the client: `{"error": {"code", "message", "details"?}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Boxed: errors travel in every handler's `Result`, and a JSON value is large (larger still
    /// when a dependency turns on serde_json's `preserve_order`).
    details: Option<Box<Value>>,
    /// For 500s: what went wrong, for the log (never for the client).
    cause: Option<String>,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorInfo,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorInfo {
    /// Stable, snake_case: what clients branch on.
    pub code: String,
    /// For a person.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// The cause of a 500, carried from the response to the middleware that logs it once.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
            cause: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(Box::new(details));
        self
    }

    /// Names the item of a list request that failed (`details.index`).
    pub fn at_index(mut self, index: usize) -> ApiError {
        let mut details = match self.details.take().map(|d| *d) {
            Some(Value::Object(map)) => map,
            Some(other) => [("value".to_owned(), other)].into_iter().collect(),
            None => serde_json::Map::new(),
        };
        details.insert("index".into(), index.into());
        self.details = Some(Box::new(Value::Object(details)));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

fn status_of(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::BadRequest => StatusCode::BAD_REQUEST,
        ErrorClass::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorClass::Forbidden => StatusCode::FORBIDDEN,
        ErrorClass::NotFound => StatusCode::NOT_FOUND,
        ErrorClass::Conflict => StatusCode::CONFLICT,
        ErrorClass::Refused => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorClass::Busy => StatusCode::TOO_MANY_REQUESTS,
        ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorClass::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status = status_of(e.class);
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            return internal(format!("{}: {}", e.code, e.message));
        }
        ApiError {
            status,
            code: e.code,
            message: e.message,
            details: e.details.map(Box::new),
            cause: None,
        }
    }
}

/// A 500: the client learns nothing but the request id; `cause` goes to the log.
pub fn internal(cause: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal",
        message: "internal error".into(),
        details: None,
        cause: Some(cause.into()),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorInfo {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details.map(|d| *d),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(cause) = self.cause {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

/// Unknown routes.
pub async fn not_found(uri: Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("there is no route `{path}`"),
    )
}

/// Known routes with the wrong method.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("`{method}` is not allowed on `{path}`"),
    )
}

/// A panicking handler answers a plain 500; the panic message goes to the log only.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a handler panicked".to_owned());
    internal(format!("panic: {message}")).into_response()
}

/// Logs every 500 once, with its cause and request id, and gives the client the request id.
pub async fn finish_internal(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let cause = response
        .extensions()
        .get::<InternalCause>()
        .map_or("no cause recorded", |c| c.0.as_str())
        .to_owned();
    tracing::error!(%request_id, %method, %path, %cause, "internal error");
    let body = ErrorBody {
        error: ErrorInfo {
            code: "internal".into(),
            message: format!("internal error (request id {request_id})"),
            details: Some(serde_json::json!({ "request_id": request_id })),
        },
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    Response::from_parts(parts, Body::from(bytes))
}
