//! scimd as its own OAuth 2.0 authorization server for the client-credentials grant (RFC 6749 §4.4): clients
//! (`scimd client …`) exchange their id and secret at `POST /oauth/token` for a signed JWT access token
//! (RFC 9068 profile, ES256), which the SCIM API accepts beside API tokens. Keys are published as a JWKS with
//! RFC 8414 metadata. No HTTP here: `http::oauth` parses, calls and renders.

pub mod clients;
pub mod keys;
pub mod request;

use crate::cache::TtlCache;
use crate::scim::error::{ScimError, ScimResult};
use crate::secret::Secret;
use crate::store::oauth::{self as rows, ClientRow};
use crate::store::Store;
use crate::tokens::Scope;
use keys::KeyRing;
use request::{clip, TokenRequest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Bounds of `--oauth-token-lifetime` (Microsoft's gallery asks for access tokens of 1 to 6 hours).
pub const MIN_LIFETIME: Duration = Duration::from_secs(3600);
pub const MAX_LIFETIME: Duration = Duration::from_secs(6 * 3600);
pub const DEFAULT_LIFETIME: &str = "1h";
/// The only grant this server issues tokens for.
pub const GRANT_TYPE: &str = "client_credentials";
/// Clock skew tolerated on `exp` between the processes that sign and verify.
const LEEWAY_SECS: u64 = 30;
/// How long a client's row, once read, answers for it: a revocation stops its tokens within this time.
const CLIENT_TTL: Duration = Duration::from_secs(1);
const CACHE_MAX: usize = 10_000;

/// RFC 6749 §5.2 error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnsupportedGrantType,
    InvalidScope,
    /// Not a §5.2 code for the client's fault: our fault (500), described generically.
    ServerError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::ServerError => "server_error",
        }
    }
}

/// A refused token request. `client_id` (public) is kept for throttling and the log; the description never
/// holds a secret.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    pub client_id: Option<String>,
    /// What the log says beyond the description (why a client's credentials were refused); never a secret.
    pub reason: Option<&'static str>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError { code, description: description.into(), client_id: None, reason: None }
    }
    pub fn request(description: impl Into<String>) -> OAuthError {
        Self::new(ErrorCode::InvalidRequest, description)
    }
    pub fn client(description: impl Into<String>) -> OAuthError {
        Self::new(ErrorCode::InvalidClient, description)
    }
    pub fn with_client(mut self, client_id: impl Into<String>) -> OAuthError {
        let id = client_id.into();
        self.client_id = (!id.is_empty()).then_some(id);
        self
    }

    /// RFC 6749 §5.2: 400, except 401 for a failed client authentication, 500 for our own fault.
    pub fn status(&self) -> u16 {
        match self.code {
            ErrorCode::InvalidClient => 401,
            ErrorCode::ServerError => 500,
            _ => 400,
        }
    }
}

impl From<ScimError> for OAuthError {
    fn from(e: ScimError) -> Self {
        // ScimError::internal has logged the cause already.
        OAuthError::new(ErrorCode::ServerError, e.detail)
    }
}

/// The claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// How a scope is written in a token and a token response: the set of scopes granted (RFC 6749 §3.3).
pub fn scope_string(scope: Scope) -> &'static str {
    match scope {
        Scope::ReadWrite => "scim:read scim:write",
        Scope::ReadOnly => "scim:read",
    }
}

/// A `scope` claim or parameter read back: read-write only when it grants `scim:write`.
fn scope_of(text: &str) -> Scope {
    if text.split(' ').any(|s| s == Scope::ReadWrite.as_str()) {
        Scope::ReadWrite
    } else {
        Scope::ReadOnly
    }
}

/// The scope granted for `requested` (RFC 6749 §3.3) to a client allowed `allowed`: omitted means all the
/// client may have; asking for more, or for a scope this server does not know, is `invalid_scope`.
pub fn grant_scope(requested: Option<&str>, allowed: Scope) -> Result<Scope, OAuthError> {
    let Some(requested) = requested else { return Ok(allowed) };
    let mut wants = Scope::ReadOnly;
    for s in requested.split(' ').filter(|s| !s.is_empty()) {
        match s {
            "scim:read" => {}
            "scim:write" => wants = Scope::ReadWrite,
            other => {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("unknown scope \"{}\"; this server grants scim:read and scim:write", clip(other)),
                ))
            }
        }
    }
    if wants == Scope::ReadWrite && allowed == Scope::ReadOnly {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "this client may only read (scope scim:read)"));
    }
    Ok(wants)
}

/// Where this server is, as its clients reach it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// RFC 8414 `issuer`: the server's URL without the SCIM path prefix (`iss` of every token).
    pub issuer: String,
    /// The SCIM base URL: the `aud` every token is issued for and must carry.
    pub audience: String,
    pub lifetime: Duration,
}

impl Settings {
    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth/token", self.issuer)
    }
    pub fn jwks_uri(&self) -> String {
        format!("{}/.well-known/jwks.json", self.issuer)
    }
}

/// An issued access token.
#[derive(Debug)]
pub struct Issued {
    pub access_token: Secret,
    pub expires_in: u64,
    pub scope: Scope,
    pub client: ClientRow,
}

/// Who an access token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub client_id: String,
    pub name: String,
    pub scope: Scope,
}

/// Why an access token was refused (for metrics and the log; every client hears the same 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not signed by a key of ours (maybe the external issuer's, when one is configured).
    NotOurs,
    /// Ours, but invalid: bad signature, wrong issuer or audience, expired, malformed.
    Invalid(String),
    /// Its client is revoked or gone.
    ClientRevoked,
}

/// A verified token, remembered so that the signature of a token seen before is not checked again.
#[derive(Clone)]
struct Verified {
    kid: String,
    claims: AccessClaims,
}

pub struct AuthorizationServer {
    store: Store,
    keys: KeyRing,
    settings: Settings,
    clients: TtlCache<String, Option<ClientRow>>,
    verified: TtlCache<String, Verified>,
}

impl AuthorizationServer {
    pub fn new(store: Store, settings: Settings) -> AuthorizationServer {
        AuthorizationServer {
            keys: KeyRing::new(store.clone()),
            store,
            settings,
            clients: TtlCache::new(CLIENT_TTL, CACHE_MAX),
            verified: TtlCache::new(MAX_LIFETIME, CACHE_MAX),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The client-credentials grant (RFC 6749 §4.4.2–4.4.3). Blocking: runs on the store.
    pub fn issue(&self, req: &TokenRequest) -> Result<Issued, OAuthError> {
        let with_client = |e: OAuthError| e.with_client(req.client_id.clone());
        match req.grant_type.as_str() {
            GRANT_TYPE => {}
            // No refresh token is ever issued here (RFC 6749 §4.4.3), so none presented can be valid.
            "refresh_token" => return Err(with_client(OAuthError::new(
                ErrorCode::InvalidGrant,
                "this server issues no refresh tokens; ask for a new access token with grant_type=client_credentials",
            ))),
            other => {
                return Err(with_client(OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    format!("grant_type \"{}\" is not supported; use client_credentials", clip(other)),
                )))
            }
        }
        let client = match clients::authenticate(&self.store, &req.client_id, &req.client_secret)? {
            Ok(client) => client,
            Err(refusal) => {
                let error = OAuthError::client("unknown client, revoked client, or wrong secret");
                return Err(with_client(OAuthError { reason: Some(refusal.as_str()), ..error }));
            }
        };
        let scope = grant_scope(req.scope.as_deref(), Scope::from_stored(&client.scope)).map_err(with_client)?;
        let now = chrono::Utc::now().timestamp();
        let lifetime = self.settings.lifetime.as_secs();
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: client.id.clone(),
            aud: self.settings.audience.clone(),
            client_id: client.id.clone(),
            scope: scope_string(scope).to_string(),
            iat: now,
            exp: now + lifetime as i64,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let (_, access_token) = self.keys.sign(&claims)?;
        Ok(Issued { access_token, expires_in: lifetime, scope, client })
    }

    /// Checks an access token presented to the SCIM API. Blocking: may read the store.
    pub fn verify(&self, token: &str) -> Result<Principal, Rejection> {
        let hash = hex::encode(Sha256::digest(token.as_bytes()));
        let verified = match self.verified.get(&hash) {
            Some(v) => v,
            None => {
                let v = self.verify_signature(token)?;
                self.verified.put(hash, v.clone());
                v
            }
        };
        let now = chrono::Utc::now().timestamp();
        if verified.claims.exp + LEEWAY_SECS as i64 <= now {
            return Err(Rejection::Invalid("expired".into()));
        }
        // A key retired at once (`signing-key rotate --retire-now`) takes its tokens with it.
        if !self.keys.knows(&verified.kid) {
            return Err(Rejection::Invalid(format!("key {} no longer verifies", verified.kid)));
        }
        let client_id = verified.claims.client_id.clone();
        let client = self
            .clients
            .get_or_load(client_id.clone(), || self.store.read_auth(|c| rows::find_client(c, &client_id)))
            .map_err(|e| Rejection::Invalid(e.detail))?;
        match client {
            Some(client) if client.revoked.is_none() => {
                // Never more than the client has now, whatever the token says.
                let scope = match (scope_of(&verified.claims.scope), Scope::from_stored(&client.scope)) {
                    (Scope::ReadWrite, Scope::ReadWrite) => Scope::ReadWrite,
                    _ => Scope::ReadOnly,
                };
                Ok(Principal { client_id: client.id, name: client.name, scope })
            }
            _ => Err(Rejection::ClientRevoked),
        }
    }

    fn verify_signature(&self, token: &str) -> Result<Verified, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::NotOurs)?;
        let Some(kid) = header.kid.filter(|k| self.keys.knows(k)) else { return Err(Rejection::NotOurs) };
        let key = self
            .keys
            .decoding_key(&kid)
            .map_err(|e| Rejection::Invalid(e.detail))?
            .ok_or_else(|| Rejection::Invalid("key retired".into()))?;
        // RFC 9068 §4: the resource server checks `typ`.
        let typ = header.typ.as_deref().unwrap_or("");
        if !typ.eq_ignore_ascii_case(keys::ACCESS_TOKEN_TYPE) && !typ.eq_ignore_ascii_case("application/at+jwt") {
            return Err(Rejection::Invalid(format!("typ {typ:?} is not at+jwt")));
        }
        // The algorithm is pinned: a header naming another (or "none") does not verify.
        let mut validation = jsonwebtoken::Validation::new(keys::ALGORITHM);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .map_err(|e| Rejection::Invalid(e.to_string()))?;
        Ok(Verified { kid, claims: data.claims })
    }

    pub fn jwks(&self) -> ScimResult<serde_json::Value> {
        self.keys.jwks()
    }

    /// RFC 8414 §2: the authorization server's metadata.
    pub fn metadata(&self) -> serde_json::Value {
        serde_json::json!({
            "issuer": self.settings.issuer,
            "token_endpoint": self.settings.token_endpoint(),
            "jwks_uri": self.settings.jwks_uri(),
            "grant_types_supported": [GRANT_TYPE],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["scim:read", "scim:write"],
            // No authorization endpoint: the client-credentials grant needs none.
            "response_types_supported": [],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_granted() {
        assert_eq!(grant_scope(None, Scope::ReadWrite).unwrap(), Scope::ReadWrite);
        assert_eq!(grant_scope(None, Scope::ReadOnly).unwrap(), Scope::ReadOnly);
        assert_eq!(grant_scope(Some("scim:read"), Scope::ReadWrite).unwrap(), Scope::ReadOnly);
        assert_eq!(grant_scope(Some("scim:read scim:write"), Scope::ReadWrite).unwrap(), Scope::ReadWrite);
        assert_eq!(grant_scope(Some("scim:write"), Scope::ReadOnly).unwrap_err().code, ErrorCode::InvalidScope);
        assert_eq!(grant_scope(Some("scim:read admin"), Scope::ReadWrite).unwrap_err().code, ErrorCode::InvalidScope);
        for s in [Scope::ReadWrite, Scope::ReadOnly] {
            assert_eq!(scope_of(scope_string(s)), s);
        }
    }

    #[test]
    fn error_statuses() {
        assert_eq!(OAuthError::client("x").status(), 401);
        assert_eq!(OAuthError::request("x").status(), 400);
        assert_eq!(OAuthError::new(ErrorCode::UnsupportedGrantType, "x").status(), 400);
        assert_eq!(OAuthError::request("x").with_client("").client_id, None);
    }
}
