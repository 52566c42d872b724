//! Provost's own extractors (JSON bodies, query strings, paths that fail in Provost's error
//! shape) and the opaque cursors of paginated listings.

use std::borrow::Cow;
use std::fmt;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::error::Category;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::api_error::ApiError;
use crate::err::{Error, ErrorCode};

/// Default and largest page of a listing.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

/// A JSON body: malformed JSON, wrong types, unknown fields, a missing content type and a body
/// over the limit all answer in Provost's error shape.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        ErrorCode::BodyTooLarge,
                        "the body is larger than this server accepts",
                    )
                } else {
                    ApiError::new(ErrorCode::InvalidBody, "the body could not be read")
                }
            })?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|e| {
            // A type error can come before a syntax error later in the text: JSON that does
            // not parse at all is `malformed_json` whatever serde met first.
            let malformed = |e: serde_json::Error| {
                ApiError::new(
                    ErrorCode::MalformedJson,
                    format!("the body is not valid JSON: {}", plain(&e.to_string())),
                )
            };
            if e.classify() != Category::Data {
                return malformed(e);
            }
            match serde_json::from_slice::<IgnoredAny>(&bytes) {
                Err(syntax) => malformed(syntax),
                Ok(_) => ApiError::new(
                    ErrorCode::InvalidBody,
                    format!("invalid body: {}", plain(&e.to_string())),
                ),
            }
        })
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Query parameters; anything that does not fit answers 400 `invalid_query`. In scope
/// parameters a `+` stays a `+` (see `scope_pluses`).
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let parsed = match scope_pluses(parts.uri.query().unwrap_or_default()) {
            Cow::Borrowed(_) => Query::<T>::try_from_uri(&parts.uri),
            Cow::Owned(query) => {
                let uri = Uri::try_from(format!("/?{query}")).map_err(|_| {
                    ApiError::new(ErrorCode::InvalidQuery, "the query string is not valid")
                })?;
                Query::<T>::try_from_uri(&uri)
            }
        };
        parsed.map(|Query(q)| ApiQuery(q)).map_err(|rejection| {
            let text = rejection.body_text();
            let text = text
                .strip_prefix("Failed to deserialize query string: ")
                .unwrap_or(&text);
            ApiError::new(
                ErrorCode::InvalidQuery,
                format!("invalid query: {}", plain(text)),
            )
        })
    }
}

/// Query parameters whose values are scope keys.
const SCOPE_PARAMS: [&str; 2] = ["scope", "scopes"];

/// Form decoding reads `+` as a space, so `?scope=course-v1:MITx+X+1` would arrive as
/// `course-v1:MITx X 1`. A scope key never holds a space, so in scope parameters a `+` (or an
/// encoded space) is read as a `+`, as Open edX's own APIs do. Other parameters are untouched.
fn scope_pluses(query: &str) -> Cow<'_, str> {
    let is_scope = |pair: &str| {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        SCOPE_PARAMS.contains(&key)
    };
    let spaced = |pair: &str| pair.contains('+') || pair.contains("%20");
    if !query.split('&').any(|pair| is_scope(pair) && spaced(pair)) {
        return Cow::Borrowed(query);
    }
    let pairs: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| {
            if is_scope(pair) {
                Cow::Owned(pair.replace('+', "%2B").replace("%20", "%2B"))
            } else {
                Cow::Borrowed(pair)
            }
        })
        .collect();
    Cow::Owned(pairs.join("&"))
}

/// `at_least_revision` as a body or query string sent it. A value that cannot be a revision
/// (negative, fractional, not a number, or beyond the store's BIGINT) is kept as such and refused
/// by `revision` as 400 `invalid_revision`, rather than waited for or refused as a generic
/// body or query error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtLeastRevision(Option<u64>);

impl AtLeastRevision {
    /// Largest revision the store can hand out (revisions are BIGINT).
    const MAX: u64 = i64::MAX as u64;

    fn of(value: u64) -> AtLeastRevision {
        AtLeastRevision((value <= Self::MAX).then_some(value))
    }

    /// The revision asked for, or 400 `invalid_revision`.
    pub fn revision(self) -> Result<u64, Error> {
        self.0.ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidRevision,
                format!(
                    "`at_least_revision` must be a whole number from 0 to {}",
                    Self::MAX
                ),
            )
        })
    }
}

impl From<u64> for AtLeastRevision {
    fn from(value: u64) -> Self {
        AtLeastRevision::of(value)
    }
}

impl<'de> Deserialize<'de> for AtLeastRevision {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RevisionVisitor)
    }
}

/// Takes any value: numbers from JSON, text from query strings; whatever is not a revision
/// becomes an invalid one.
struct RevisionVisitor;

impl<'de> Visitor<'de> for RevisionVisitor {
    type Value = AtLeastRevision;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a revision")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(AtLeastRevision::of(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or(AtLeastRevision(None), AtLeastRevision::of))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or(AtLeastRevision(None), AtLeastRevision::of))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or(AtLeastRevision(None), AtLeastRevision::of))
    }

    /// `7.0` is the number 7 to JSON (and to the document's `integer`); fractions are not.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        let whole = v.fract() == 0.0 && (0.0..=Self::Value::MAX as f64).contains(&v);
        Ok(if whole {
            AtLeastRevision::of(v as u64)
        } else {
            AtLeastRevision(None)
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.parse::<u64>()
            .map_or(AtLeastRevision(None), AtLeastRevision::of))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(AtLeastRevision(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(AtLeastRevision(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(AtLeastRevision(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(AtLeastRevision(None))
    }
}

impl PartialSchema for AtLeastRevision {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0))
            .maximum(Some(i64::MAX))
            .description(Some(
                "Wait (bounded) until this node has applied this revision first",
            ))
            .into()
    }
}

impl ToSchema for AtLeastRevision {}

/// Path parameters; anything that does not fit answers 400 `invalid_path`.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| ApiPath(p))
            .map_err(|_| ApiError::new(ErrorCode::InvalidPath, "the path is not valid"))
    }
}

/// Serde's messages without Rust type names (`expected struct CheckRequest` → `expected an object`).
fn plain(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("struct ").or_else(|| rest.find("enum ")) {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let word_end = after.find(' ').map_or(after.len(), |i| i + 1);
        let name_end = after[word_end..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(after.len(), |i| word_end + i);
        out.push_str(if after.starts_with("struct") {
            "an object"
        } else {
            "one of the accepted values"
        });
        rest = &after[name_end..];
    }
    out.push_str(rest);
    out
}

/// The page size asked for: 100 when absent, else 1 to 1000 (what the OpenAPI document says).
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n @ 1..=MAX_LIMIT) => Ok(n),
        Some(_) => Err(ApiError::new(
            ErrorCode::InvalidLimit,
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// An opaque cursor: base64url of the JSON of the last item's key.
pub fn encode_cursor<T: Serialize>(key: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

pub fn decode_cursor<T: DeserializeOwned>(cursor: &str) -> Result<T, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidCursor,
                "`cursor` is not one this server handed out",
            )
        })
}

/// Cuts a page fetched with `limit + 1` rows down to `limit`; the cursor of its last item
/// when more follow, else `None`.
pub fn next_page<T>(items: &mut Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Option<String> {
    let limit = limit as usize;
    if items.len() <= limit {
        return None;
    }
    items.truncate(limit);
    items.last().map(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_lose_type_names() {
        assert_eq!(
            plain("invalid type: sequence, expected struct CheckRequest at line 1 column 0"),
            "invalid type: sequence, expected an object at line 1 column 0"
        );
        assert_eq!(plain("missing field `action`"), "missing field `action`");
    }

    #[test]
    fn scope_parameters_keep_their_pluses() {
        assert_eq!(
            scope_pluses("scope=course-v1:MITx+X+1&subject=a+b"),
            "scope=course-v1:MITx%2BX%2B1&subject=a+b"
        );
        assert_eq!(scope_pluses("scope=lib%3AMITx%3Ax"), "scope=lib%3AMITx%3Ax");
        assert_eq!(scope_pluses("scoped=a+b"), "scoped=a+b");
        // openedx-authz's comma-separated `scopes` holds course keys too.
        assert_eq!(
            scope_pluses("scopes=c:O+X+1,c:O+Y+1"),
            "scopes=c:O%2BX%2B1,c:O%2BY%2B1"
        );
        assert_eq!(scope_pluses("scope=a%20b"), "scope=a%2Bb");
    }

    #[test]
    fn revisions_beyond_bigint_or_not_whole_are_invalid() {
        let read = |json: &str| {
            serde_json::from_str::<AtLeastRevision>(json)
                .expect("any value reads")
                .revision()
                .ok()
        };
        assert_eq!(read("7"), Some(7));
        assert_eq!(read("9223372036854775807"), Some(i64::MAX as u64));
        assert_eq!(read("9223372036854775808"), None);
        assert_eq!(read("18446744073709551616"), None);
        assert_eq!(read("-1"), None);
        assert_eq!(read("1.5"), None);
        assert_eq!(read("\"12\""), Some(12));
        assert_eq!(read("[1, {\"a\": 2}]"), None);
    }

    #[test]
    fn bad_cursors_and_limits_are_refused() {
        assert!(decode_cursor::<String>("!!").is_err());
        assert_eq!(
            decode_cursor::<String>(&encode_cursor(&"u01".to_owned())).ok(),
            Some("u01".to_owned())
        );
        assert_eq!(page_limit(Some(MAX_LIMIT)).ok(), Some(MAX_LIMIT));
        assert!(page_limit(Some(MAX_LIMIT + 1)).is_err());
    }
}
