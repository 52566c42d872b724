//! Server settings: limits and timeouts, and the keys that verify (and mint) tokens.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::RngCore;

use crate::err::{Error, ErrorCode, Result};
use crate::token_cache::TokenCache;

/// The resolved settings of one server (validated; every field set).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub auth: AuthConfig,
    /// Longest a request may run before it is answered 503 `timeout`.
    pub request_timeout: Duration,
    /// Largest request body, in bytes (413 `body_too_large` above it).
    pub body_limit: usize,
    /// Longest a request with `at_least_revision` waits for this node to catch up.
    pub revision_wait: Duration,
    /// How often the node reads the audit log for changes made elsewhere.
    pub poll_interval: Duration,
    /// Most checks in one batch, items in one bulk assignment request or questions to the MFE endpoint.
    pub max_items: usize,
    /// Serve `/metrics` only on its own listener (`serve_metrics`), not on the main one.
    pub metrics_separate: bool,
    /// The bearer token `/metrics` requires; open when unset (as Prometheus scrapes by default).
    pub metrics_token: Option<Secret>,
    /// Where program reports are and how long their download links live (the programs app).
    pub reports: crate::apps::programs::reports::ReportSettings,
    /// The time zone batch days end in (the batches app).
    pub batch_calendar: crate::apps::batches::days::Calendar,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            auth: AuthConfig::default(),
            request_timeout: Duration::from_secs(30),
            body_limit: 1 << 20,
            revision_wait: Duration::from_secs(2),
            poll_interval: Duration::from_secs(1),
            max_items: 1000,
            metrics_separate: false,
            metrics_token: None,
            reports: Default::default(),
            batch_calendar: Default::default(),
        }
    }
}

/// What the operator configured for tokens, before validation.
#[derive(Clone, Default)]
pub struct AuthSettings {
    /// Shared HS256 secret (the LMS's `JWT_SECRET_KEY`).
    pub hs256_secret: Option<String>,
    /// A JWKS document (JSON text) with RS256 public keys.
    pub jwks: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`; 30 s when unset.
    pub leeway: Option<Duration>,
}

/// The clock skew allowed between the token's issuer and this server by default.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("jwks", &self.jwks.as_ref().map(|_| "<jwks>"))
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish()
    }
}

/// Keys and claims checks for bearer tokens. With no key at all, every token is refused.
#[derive(Clone)]
pub struct AuthConfig {
    pub(crate) hs256: Option<(EncodingKey, DecodingKey)>,
    /// RS256 public keys with their key ids.
    pub(crate) rs256: Vec<(Option<String>, DecodingKey)>,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub(crate) leeway: u64,
    /// Tokens verified with these keys, shared by every clone.
    pub(crate) verified: Arc<TokenCache>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            hs256: None,
            rs256: Vec::new(),
            issuer: None,
            audience: None,
            leeway: DEFAULT_LEEWAY.as_secs(),
            verified: Arc::default(),
        }
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("hs256", &self.hs256.as_ref().map(|_| "<redacted>"))
            .field("rs256_keys", &self.rs256.len())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_seconds", &self.leeway)
            .finish()
    }
}

impl AuthConfig {
    /// Validates the settings: a non-empty secret, a JWKS with at least one usable RS256 key.
    pub fn new(settings: AuthSettings) -> Result<AuthConfig> {
        let hs256 = match settings.hs256_secret {
            Some(secret) if secret.is_empty() => {
                return Err(Error::new(
                    ErrorCode::InvalidJwtSecret,
                    "the JWT secret is empty",
                ))
            }
            Some(secret) => Some((
                EncodingKey::from_secret(secret.as_bytes()),
                DecodingKey::from_secret(secret.as_bytes()),
            )),
            None => None,
        };
        let rs256 = match settings.jwks {
            Some(text) => rsa_keys(&text)?,
            None => Vec::new(),
        };
        Ok(AuthConfig {
            hs256,
            rs256,
            issuer: settings.issuer.filter(|s| !s.is_empty()),
            audience: settings.audience.filter(|s| !s.is_empty()),
            leeway: settings.leeway.unwrap_or(DEFAULT_LEEWAY).as_secs(),
            verified: Arc::default(),
        })
    }

    /// A random HS256 secret for one run, for a first start with nothing configured.
    pub fn random_secret() -> String {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Whether any key is configured (else no token can pass).
    pub fn has_keys(&self) -> bool {
        self.hs256.is_some() || !self.rs256.is_empty()
    }
}

fn rsa_keys(text: &str) -> Result<Vec<(Option<String>, DecodingKey)>> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorCode::InvalidJwks,
            format!("the JWKS file is not valid: {e}"),
        )
    })?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let rsa = matches!(
            jwk.algorithm,
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_)
        );
        if !rsa {
            continue;
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| {
            Error::new(
                ErrorCode::InvalidJwks,
                format!("a JWKS key is not usable: {e}"),
            )
        })?;
        keys.push((jwk.common.key_id.clone(), key));
    }
    if keys.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidJwks,
            "the JWKS file has no RSA key",
        ));
    }
    Ok(keys)
}

/// A token to mint (`provost token`, and the admin token of a first start).
#[derive(Clone, Debug, Default)]
pub struct TokenSpec {
    pub username: String,
    pub staff: bool,
    pub superuser: bool,
    /// `ROLE:SCOPE` entries, as the LMS puts them in the `roles` claim.
    pub roles: Vec<String>,
    pub ttl: Duration,
}

/// A secret setting (the metrics token): never printed, compared in constant time.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// An empty text is no secret at all: `None`.
    pub fn new(text: impl Into<String>) -> Option<Secret> {
        let text = text.into();
        (!text.is_empty()).then_some(Secret(text))
    }

    /// Whether `given` is this secret; the time taken does not depend on where they differ.
    pub fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let config = ServerConfig {
            metrics_token: Secret::new("scrape-secret"),
            ..ServerConfig::default()
        };
        let text = format!("{config:?}");
        assert!(!text.contains("scrape-secret"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        assert!(Secret::new("").is_none());
        let secret = Secret::new("abc").expect("a secret");
        assert!(secret.matches("abc"));
        assert!(!secret.matches("abd") && !secret.matches("ab") && !secret.matches("abcd"));
    }
}
