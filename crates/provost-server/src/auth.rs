//! Bearer JWTs: verified (HS256 and/or RS256) into the request's `Actor`, and minted for local use.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, Header, Validation};
use provost_engine::ExtraGrant;
use serde::{Deserialize, Serialize};

use crate::access::Actor;
use crate::api_error::ApiError;
use crate::config::{AuthConfig, TokenSpec};
use crate::err::{Error, ErrorCode, Result};
use crate::state::AppState;

/// The claims Provost reads; every other claim of an LMS token is ignored.
#[derive(Debug, Deserialize)]
struct Claims {
    preferred_username: Option<String>,
    sub: Option<String>,
    administrator: Option<bool>,
    superuser: Option<bool>,
    roles: Option<Vec<String>>,
    /// Read again only to know how long the verified token may be remembered (a number, whole
    /// or not, as the validation takes it).
    exp: Option<f64>,
}

/// The claims `provost token` writes.
#[derive(Serialize)]
struct Minted<'a> {
    preferred_username: &'a str,
    sub: &'a str,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    administrator: bool,
    superuser: bool,
    roles: &'a [String],
}

fn unauthorized(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(code, message)
}

impl AuthConfig {
    /// Checks a token's signature, algorithm, `exp`, `nbf`, `iss` and `aud`, and reads its user.
    pub(crate) fn verify(&self, token: &str) -> Result<Actor> {
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(actor) = self.verified.get(token, now) {
            return Ok(actor);
        }
        // `alg: none` does not parse here, so it is refused with every other malformed header.
        let header = decode_header(token)
            .map_err(|_| unauthorized(ErrorCode::InvalidToken, "the token is not a valid JWT"))?;
        let keys: Vec<&DecodingKey> = match header.alg {
            Algorithm::HS256 => self.hs256.iter().map(|(_, d)| d).collect(),
            Algorithm::RS256 => self
                .rs256
                .iter()
                .filter(|(kid, _)| header.kid.is_none() || kid.is_none() || *kid == header.kid)
                .map(|(_, key)| key)
                .collect(),
            _ => Vec::new(),
        };
        if keys.is_empty() {
            return Err(unauthorized(
                ErrorCode::UnsupportedAlgorithm,
                format!("tokens signed with {:?} are not accepted here", header.alg),
            ));
        }
        let validation = self.validation(header.alg);
        let mut last = None;
        for key in keys {
            match decode::<Claims>(token, key, &validation) {
                Ok(data) => {
                    let exp = data.claims.exp;
                    let actor = actor(data.claims)?;
                    if let Some(exp) = exp {
                        let until = (exp as u64).saturating_add(self.leeway);
                        self.verified.put(token, &actor, until);
                    }
                    return Ok(actor);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(match last.as_ref().map(|e| e.kind()) {
            Some(ErrorKind::ExpiredSignature) => {
                unauthorized(ErrorCode::TokenExpired, "the token has expired")
            }
            Some(ErrorKind::ImmatureSignature) => unauthorized(
                ErrorCode::TokenNotYetValid,
                "the token is not valid yet (its `nbf` is in the future)",
            ),
            Some(ErrorKind::InvalidSignature) => unauthorized(
                ErrorCode::InvalidSignature,
                "the token's signature does not verify",
            ),
            Some(ErrorKind::InvalidIssuer) => unauthorized(
                ErrorCode::InvalidIssuer,
                "the token's issuer is not accepted",
            ),
            Some(ErrorKind::InvalidAudience) => unauthorized(
                ErrorCode::InvalidAudience,
                "the token's audience is not accepted",
            ),
            Some(ErrorKind::MissingRequiredClaim(claim)) => unauthorized(
                ErrorCode::InvalidToken,
                format!("the token lacks the `{claim}` claim"),
            ),
            _ => unauthorized(ErrorCode::InvalidToken, "the token is not valid"),
        })
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }

    /// Whether tokens can be minted here (an HS256 secret is configured).
    pub fn can_mint(&self) -> bool {
        self.hs256.is_some()
    }

    /// Signs a HS256 token for `spec` with the configured secret, issuer and audience.
    pub fn mint(&self, spec: &TokenSpec) -> Result<String> {
        let Some((key, _)) = &self.hs256 else {
            return Err(Error::new(
                ErrorCode::NoJwtSecret,
                "no JWT secret is configured: set PROVOST_JWT_SECRET (or --jwt-secret) to the server's HS256 secret",
            ));
        };
        let iat = jsonwebtoken::get_current_timestamp();
        let claims = Minted {
            preferred_username: &spec.username,
            sub: &spec.username,
            iat,
            exp: iat.saturating_add(spec.ttl.as_secs()),
            iss: self.issuer.as_deref(),
            aud: self.audience.as_deref(),
            administrator: spec.staff,
            superuser: spec.superuser,
            roles: &spec.roles,
        };
        encode(&Header::new(Algorithm::HS256), &claims, key)
            .map_err(|e| Error::internal(format!("cannot sign the token: {e}")))
    }
}

/// Longest username a token may carry, in bytes.
const MAX_USERNAME: usize = 255;

fn actor(claims: Claims) -> Result<Actor> {
    // `preferred_username` when the token has one (even empty: no falling back to another
    // claim then), else `sub`.
    let (claim, username) = match (claims.preferred_username, claims.sub) {
        (Some(name), _) => ("preferred_username", name),
        (None, Some(sub)) => ("sub", sub),
        (None, None) => {
            return Err(unauthorized(
                ErrorCode::InvalidToken,
                "the token names no user (`preferred_username` or `sub`)",
            ))
        }
    };
    if username.is_empty()
        || username.len() > MAX_USERNAME
        || username.chars().any(char::is_control)
    {
        return Err(unauthorized(
            ErrorCode::InvalidToken,
            format!(
                "the token's `{claim}` must be 1-{MAX_USERNAME} bytes without control characters"
            ),
        ));
    }
    let grants = claims
        .roles
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| grant(entry))
        .collect();
    Ok(Actor {
        username,
        staff: claims.administrator.unwrap_or(false),
        superuser: claims.superuser.unwrap_or(false),
        grants,
    })
}

/// One `roles` claim entry, `ROLE:SCOPE`: `enterprise_admin:<uuid>` is the role at
/// `enterprise:<uuid>`, `ROLE:*` the role everywhere, `ROLE:<scope key>` the role at that key.
/// Enterprise's system-wide names are mapped to Provost's (`enterprise_openedx_operator`).
pub(crate) fn grant(entry: &str) -> Option<ExtraGrant> {
    let (role, scope) = entry.split_once(':')?;
    let role = match role {
        "enterprise_openedx_operator" => "enterprise_operator",
        other => other,
    };
    if role.is_empty() || scope.is_empty() {
        return None;
    }
    let scope = if scope == "*" || scope.contains(':') {
        scope.to_owned()
    } else {
        format!("enterprise:{scope}")
    };
    Some(ExtraGrant {
        role: role.to_owned(),
        scope,
    })
}

/// The authenticated caller: `Authorization: Bearer <JWT>` (or Open edX's `JWT <JWT>`), or
/// Sunbird's `x-authenticated-user-token: <JWT>`, the same token under another name.
pub struct Principal(pub Actor);

/// Sunbird clients send the user's token here; their `Authorization` then carries the API
/// gateway's key, not a user's token, so this header wins when both are sent.
const SUNBIRD_USER_TOKEN: &str = "x-authenticated-user-token";

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(SUNBIRD_USER_TOKEN) {
            let token = value.to_str().map_err(|_| {
                unauthorized(
                    ErrorCode::InvalidToken,
                    "the x-authenticated-user-token header is not text",
                )
            })?;
            return Ok(Principal(state.config().auth.verify(token.trim())?));
        }
        let value = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            unauthorized(
                ErrorCode::MissingToken,
                "send a token as `Authorization: Bearer <JWT>`",
            )
        })?;
        let text = value.to_str().map_err(|_| {
            unauthorized(
                ErrorCode::InvalidToken,
                "the authorization header is not text",
            )
        })?;
        let (scheme, token) = text.trim().split_once(' ').ok_or_else(|| {
            unauthorized(
                ErrorCode::InvalidToken,
                "expected `Authorization: Bearer <JWT>` or `JWT <JWT>`",
            )
        })?;
        if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("jwt") {
            return Err(unauthorized(
                ErrorCode::InvalidToken,
                "expected `Authorization: Bearer <JWT>` or `JWT <JWT>`",
            )
            .into());
        }
        Ok(Principal(state.config().auth.verify(token.trim())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_claim_entries_become_grants() {
        let g = grant("enterprise_admin:3f1c").expect("grant");
        assert_eq!(
            (g.role.as_str(), g.scope.as_str()),
            ("enterprise_admin", "enterprise:3f1c")
        );
        let g = grant("enterprise_openedx_operator:*").expect("grant");
        assert_eq!(
            (g.role.as_str(), g.scope.as_str()),
            ("enterprise_operator", "*")
        );
        let g = grant("course_staff:course-v1:MITx+6.00x+2024T1").expect("grant");
        assert_eq!(g.scope, "course-v1:MITx+6.00x+2024T1");
        assert!(grant("nonsense").is_none());
        assert!(grant(":x").is_none());
    }

    #[test]
    fn minted_tokens_verify_and_carry_their_flags() {
        let auth = AuthConfig::new(crate::config::AuthSettings {
            hs256_secret: Some("s3cret".into()),
            issuer: Some("https://lms".into()),
            audience: Some("provost".into()),
            ..Default::default()
        })
        .expect("config");
        let token = auth
            .mint(&TokenSpec {
                username: "ada".into(),
                staff: true,
                roles: vec!["enterprise_admin:e1".into()],
                ttl: std::time::Duration::from_secs(60),
                ..Default::default()
            })
            .expect("mint");
        let actor = auth.verify(&token).expect("verifies");
        assert_eq!(actor.username, "ada");
        assert!(actor.staff && !actor.superuser);
        assert_eq!(actor.grants.len(), 1);
        let other = AuthConfig::new(crate::config::AuthSettings {
            hs256_secret: Some("s3cret".into()),
            audience: Some("someone-else".into()),
            ..Default::default()
        })
        .expect("config");
        assert_eq!(
            other.verify(&token).map_err(|e| e.code.as_str()).err(),
            Some("invalid_audience")
        );
    }

    /// A token served from the cache of verified tokens still expires, and one that never
    /// verified is never served from it.
    #[test]
    fn a_remembered_token_expires_on_time() {
        let auth = AuthConfig::new(crate::config::AuthSettings {
            hs256_secret: Some("s3cret".into()),
            leeway: Some(std::time::Duration::ZERO),
            ..Default::default()
        })
        .expect("config");
        let token = auth
            .mint(&TokenSpec {
                username: "ada".into(),
                ttl: std::time::Duration::from_secs(1),
                ..Default::default()
            })
            .expect("mint");
        assert_eq!(auth.verify(&token).expect("fresh").username, "ada");
        assert_eq!(auth.verify(&token).expect("remembered").username, "ada");
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert_eq!(
            auth.verify(&token).map_err(|e| e.code.as_str()).err(),
            Some("token_expired")
        );
        let stranger = AuthConfig::new(crate::config::AuthSettings {
            hs256_secret: Some("not-the-secret".into()),
            ..Default::default()
        })
        .expect("config");
        let forged = stranger
            .mint(&TokenSpec {
                username: "ada".into(),
                ttl: std::time::Duration::from_secs(60),
                ..Default::default()
            })
            .expect("mint");
        for _ in 0..2 {
            assert_eq!(
                auth.verify(&forged).map_err(|e| e.code.as_str()).err(),
                Some("invalid_signature")
            );
        }
    }
}
