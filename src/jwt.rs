//! Optional: signed JWT bearer tokens from an OAuth authorization server, for identity providers that send
//! access tokens instead of a static API token. Off unless an issuer, an audience and a key are configured.

use crate::scim::error::{ScimError, ScimResult};
use crate::tokens::Scope;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    /// RFC 8693 §4.2 / RFC 9068: space-delimited scopes.
    #[serde(default)]
    scope: Option<String>,
    /// The same as a list, as some issuers (Entra among them) send it.
    #[serde(default)]
    scp: Option<serde_json::Value>,
}

impl Claims {
    /// Read-only when the token grants `scim:read` and not `scim:write`; read-write otherwise (a token without
    /// scim scopes keeps the read-write access external tokens always had).
    fn scope(&self) -> Scope {
        let mut scopes: Vec<&str> = self.scope.as_deref().unwrap_or("").split(' ').collect();
        match &self.scp {
            Some(serde_json::Value::String(s)) => scopes.extend(s.split(' ')),
            Some(serde_json::Value::Array(list)) => scopes.extend(list.iter().filter_map(|v| v.as_str())),
            _ => {}
        }
        if scopes.contains(&"scim:read") && !scopes.contains(&"scim:write") {
            Scope::ReadOnly
        } else {
            Scope::ReadWrite
        }
    }
}

impl JwtVerifier {
    /// `key` is either a PEM public key (RSA: RS256; EC P-256: ES256) or, for HS256, the shared secret.
    pub fn new(issuer: &str, audience: &str, key: &[u8]) -> Result<Self, String> {
        let text = String::from_utf8_lossy(key);
        let (key, algorithm) = if text.contains("-----BEGIN") {
            if let Ok(k) = DecodingKey::from_rsa_pem(key) {
                (k, Algorithm::RS256)
            } else {
                let k = DecodingKey::from_ec_pem(key)
                    .map_err(|e| format!("JWT key is neither an RSA nor an EC public key in PEM: {e}"))?;
                (k, Algorithm::ES256)
            }
        } else {
            let secret = text.trim();
            if secret.len() < 32 {
                return Err("a JWT HS256 secret must be at least 32 characters".into());
            }
            (DecodingKey::from_secret(secret.as_bytes()), Algorithm::HS256)
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        Ok(JwtVerifier { key, validation })
    }

    /// Verifies a JWT access token; returns its subject (`sub`), if any, and the scope it grants.
    pub fn verify(&self, token: &str) -> ScimResult<(Option<String>, Scope)> {
        decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| {
                let scope = data.claims.scope();
                (data.claims.sub, scope)
            })
            .map_err(|_| ScimError::unauthorized("invalid, expired or foreign bearer token"))
    }
}

/// jsonwebtoken compiles without a crypto backend and then panics at the first use: prove at start-up
/// that signing and verifying work in this build.
pub fn self_test() -> Result<(), String> {
    #[derive(Serialize, Deserialize)]
    struct Probe {
        exp: u64,
    }
    let secret = b"scimd start-up self-test secret, not used for anything";
    let token = encode(&Header::new(Algorithm::HS256), &Probe { exp: u64::MAX / 2 }, &EncodingKey::from_secret(secret))
        .map_err(|e| format!("JWT self-test failed to sign: {e}"))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp"]);
    decode::<Probe>(&token, &DecodingKey::from_secret(secret), &validation)
        .map(|_| ())
        .map_err(|e| format!("JWT self-test failed to verify: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Token<'a> {
        iss: &'a str,
        aud: &'a str,
        exp: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        scope: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        scp: Option<serde_json::Value>,
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef-test";

    fn sign(iss: &str, aud: &str, exp: i64) -> String {
        sign_scoped(iss, aud, exp, None, None)
    }

    fn sign_scoped(iss: &str, aud: &str, exp: i64, scope: Option<&str>, scp: Option<serde_json::Value>) -> String {
        let claims = Token { iss, aud, exp, scope, scp };
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
    }

    #[test]
    fn backend_works() {
        self_test().unwrap();
    }

    #[test]
    fn verifies_issuer_audience_and_expiry() {
        let v = JwtVerifier::new("https://idp.example", "scimd", SECRET.as_bytes()).unwrap();
        let future = chrono::Utc::now().timestamp() + 600;
        assert!(v.verify(&sign("https://idp.example", "scimd", future)).is_ok());
        assert_eq!(v.verify(&sign("https://evil.example", "scimd", future)).unwrap_err().status, 401);
        assert!(v.verify(&sign("https://idp.example", "other", future)).is_err());
        assert!(v.verify(&sign("https://idp.example", "scimd", 1000)).is_err());
        assert!(v.verify("not.a.jwt").is_err());
        assert!(JwtVerifier::new("i", "a", b"short").is_err());
    }

    #[test]
    fn scope_claims_make_a_token_read_only() {
        let v = JwtVerifier::new("https://idp.example", "scimd", SECRET.as_bytes()).unwrap();
        let exp = chrono::Utc::now().timestamp() + 600;
        let scope_of = |scope: Option<&str>, scp: Option<serde_json::Value>| {
            v.verify(&sign_scoped("https://idp.example", "scimd", exp, scope, scp)).unwrap().1
        };
        assert_eq!(scope_of(None, None), Scope::ReadWrite);
        assert_eq!(scope_of(Some("openid scim:read"), None), Scope::ReadOnly);
        assert_eq!(scope_of(Some("scim:read scim:write"), None), Scope::ReadWrite);
        assert_eq!(scope_of(None, Some(serde_json::json!(["scim:read"]))), Scope::ReadOnly);
        assert_eq!(scope_of(None, Some(serde_json::json!("scim:read"))), Scope::ReadOnly);
        assert_eq!(scope_of(Some("other"), None), Scope::ReadWrite);
    }
}
