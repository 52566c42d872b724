//! `ApiError`: the one place that maps errors to HTTP statuses and bodies (Provost's, or an
//! app's envelope).

use std::any::Any;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{map_request, map_response, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::ToSchema;

use crate::err::{Error, ErrorClass, ErrorCode};

/// An error on its way to the client: `{"error": {"code", "message", "details"?}}`, or the
/// route's app's envelope.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
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

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ErrorInfo {
    /// Stable, snake_case: what clients branch on.
    pub code: String,
    /// For a person.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// How an app's routes answer errors (its own envelope): the body for a status and Provost's
/// error. The status stays Provost's; 500s carry `details.request_id`.
pub type Envelope = fn(StatusCode, &ErrorInfo) -> Value;

/// The cause of a 500, carried from the response to the middleware that logs it once.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

/// The error an answer carries, for the middleware that renders it in an envelope.
#[derive(Clone, Debug)]
struct Carried(ErrorInfo);

/// Marks an answer of a route whose app has its own envelope.
#[derive(Clone, Copy)]
struct UseEnvelope(Envelope);

/// Notes, on the way in, the envelope of the app whose route a request reached, for the one
/// answer made outside the app's routes: a timeout, which never passes the app's mark on the
/// way out.
#[derive(Clone, Default)]
pub(crate) struct EnvelopeSlot(Arc<OnceLock<Envelope>>);

impl EnvelopeSlot {
    /// Marks `response` with the envelope a route noted, if one did.
    pub(crate) fn mark(&self, response: &mut Response) {
        if let Some(envelope) = self.0.get() {
            response.extensions_mut().insert(UseEnvelope(*envelope));
        }
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            details: None,
            cause: None,
        }
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
        status_of(self.code.class())
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

/// The one mapping from error classes to HTTP statuses.
fn status_of(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::BadRequest => StatusCode::BAD_REQUEST,
        ErrorClass::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorClass::Forbidden => StatusCode::FORBIDDEN,
        ErrorClass::NotFound => StatusCode::NOT_FOUND,
        ErrorClass::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorClass::Conflict => StatusCode::CONFLICT,
        ErrorClass::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorClass::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorClass::Refused => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorClass::Busy => StatusCode::TOO_MANY_REQUESTS,
        ErrorClass::HeaderTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorClass::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        if e.class() == ErrorClass::Internal {
            return internal(format!("{}: {}", e.code, e.message));
        }
        ApiError {
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
        code: ErrorCode::Internal,
        message: "internal error".into(),
        details: None,
        cause: Some(cause.into()),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let info = ErrorInfo {
            code: self.code.as_str().to_owned(),
            message: self.message,
            details: self.details.map(|d| *d),
        };
        let mut response = (
            status,
            axum::Json(ErrorBody {
                error: info.clone(),
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            // Busy answers are worth trying again at once: a lock wait timed out.
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response.extensions_mut().insert(Carried(info));
        if let Some(cause) = self.cause {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

/// Makes `routes` answer their errors, panics included, in `envelope` (see `finish_errors`).
pub(crate) fn enveloped<S>(routes: Router<S>, envelope: Envelope) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    // The service's panic catcher sits outside the app's routes, past this mark: catch here.
    routes
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(map_response(move |mut response: Response| async move {
            response.extensions_mut().insert(UseEnvelope(envelope));
            response
        }))
        .layer(map_request(move |request: Request| async move {
            if let Some(slot) = request.extensions().get::<EnvelopeSlot>() {
                let _ = slot.0.set(envelope);
            }
            request
        }))
}

/// Unknown routes.
pub async fn not_found(uri: Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::new(ErrorCode::NotFound, format!("there is no route `{path}`"))
}

/// Known routes with the wrong method.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::new(
        ErrorCode::MethodNotAllowed,
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

/// Logs every 500 once, with its cause and request id, and gives the client the request id;
/// renders the errors of an app with its own envelope in that envelope.
pub async fn finish_errors(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let envelope = response.extensions().get::<UseEnvelope>().map(|e| e.0);
    let info = if status == StatusCode::INTERNAL_SERVER_ERROR {
        let cause = response
            .extensions()
            .get::<InternalCause>()
            .map_or("no cause recorded", |c| c.0.as_str())
            .to_owned();
        tracing::error!(%request_id, %method, %path, %cause, "internal error");
        ErrorInfo {
            code: ErrorCode::Internal.as_str().into(),
            message: format!("internal error (request id {request_id})"),
            details: Some(serde_json::json!({ "request_id": request_id })),
        }
    } else {
        match (envelope, response.extensions().get::<Carried>()) {
            (Some(_), Some(carried)) => carried.0.clone(),
            _ => return response,
        }
    };
    let bytes = match envelope {
        Some(envelope) => serde_json::to_vec(&envelope(status, &info)),
        None => serde_json::to_vec(&ErrorBody { error: info }),
    }
    .unwrap_or_default();
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(bytes))
}
