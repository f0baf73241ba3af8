//! Parsing a token request (RFC 6749 §4.4.2): form-encoded parameters, each at most once, and the client's
//! credentials by `client_secret_basic` (the Authorization header, §2.3.1) or `client_secret_post` (the body).
//! No HTTP types here: the handler passes the header values and the body's bytes.

use super::{ErrorCode, OAuthError};
use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::collections::HashMap;

/// How the client sent its credentials (RFC 8414 `token_endpoint_auth_methods_supported`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Basic,
    Post,
}

#[derive(Debug)]
pub struct TokenRequest {
    pub grant_type: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// The `scope` parameter as sent (space-delimited), if any.
    pub scope: Option<String>,
    pub method: AuthMethod,
}

/// The parameters of a form body: RFC 6749 §3.2 forbids repeating one; §3.1 treats an empty one as omitted.
fn form_params(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut params = HashMap::new();
    for (name, value) in form_urlencoded::parse(body) {
        if params.contains_key(name.as_ref()) {
            return Err(OAuthError::request(format!("the parameter \"{}\" is sent more than once", clip(&name))));
        }
        params.insert(name.into_owned(), value.into_owned());
    }
    params.retain(|_, v| !v.is_empty());
    Ok(params)
}

/// A client-supplied name, shortened for an error message or a log line.
pub fn clip(text: &str) -> String {
    let mut clipped: String = text.chars().filter(|c| !c.is_control()).take(64).collect();
    if text.chars().count() > 64 {
        clipped.push('…');
    }
    clipped
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(client_id) ":" urlencode(client_secret))`.
fn basic_credentials(value: &str) -> Result<(String, Secret), OAuthError> {
    let bad = |why: &str| OAuthError::client(format!("the Authorization header is not valid Basic credentials: {why}"));
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(|| bad("expected \"Basic <credentials>\""))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::client(
            "client authentication uses HTTP Basic (client_secret_basic) or the request body (client_secret_post)",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad("not base64"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad("not UTF-8"))?;
    let (id, secret) = decoded.split_once(':').ok_or_else(|| bad("no \":\" between client id and secret"))?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    Ok((unescape(id), Secret::new(unescape(secret))))
}

/// Parses a token request. `content_type` and `authorization` are the headers' values, `query` the URL's query
/// string, `body` the request body.
pub fn parse(
    content_type: Option<&str>,
    authorization: Option<&str>,
    query: &str,
    body: &[u8],
) -> Result<TokenRequest, OAuthError> {
    // RFC 6749 §2.3.1: credentials never in the URL (they would end up in logs and histories).
    if form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "client_secret") {
        return Err(OAuthError::request("client_secret must not be sent in the URL; send it in the body or as Basic"));
    }
    let essence = content_type.and_then(|v| v.split(';').next()).map(str::trim).unwrap_or("");
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::request(
            "a token request is sent as application/x-www-form-urlencoded (RFC 6749 §4.4.2)",
        ));
    }
    let mut params = form_params(body)?;
    let grant_type = params.remove("grant_type").ok_or_else(|| OAuthError::request("grant_type is missing"))?;
    let body_id = params.remove("client_id");
    let body_secret = params.remove("client_secret");
    let (client_id, client_secret, method) = match (authorization, body_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::request(
                "the client authenticated twice (Authorization header and client_secret); use one method",
            ))
        }
        (Some(header), None) => {
            let (id, secret) = basic_credentials(header)?;
            if body_id.as_ref().is_some_and(|b| *b != id) {
                return Err(OAuthError::request(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            (id, secret, AuthMethod::Basic)
        }
        (None, Some(secret)) => {
            let id = body_id.ok_or_else(|| OAuthError::request("client_id is missing"))?;
            (id, Secret::new(secret), AuthMethod::Post)
        }
        (None, None) => {
            return Err(OAuthError::new(
                ErrorCode::InvalidClient,
                "client authentication is missing: send HTTP Basic credentials or client_id and client_secret",
            )
            .with_client(body_id.unwrap_or_default()))
        }
    };
    if client_id.is_empty() {
        return Err(OAuthError::client("the client id is empty"));
    }
    let scope = params.remove("scope");
    Ok(TokenRequest { grant_type, client_id, client_secret, scope, method })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn code(r: Result<TokenRequest, OAuthError>) -> (ErrorCode, u16) {
        let e = r.unwrap_err();
        (e.code, e.status())
    }

    #[test]
    fn both_client_authentication_methods() {
        let r =
            parse(FORM, Some(&basic("c1", "s%3A1")), "", b"grant_type=client_credentials&scope=scim%3Aread").unwrap();
        assert_eq!((r.client_id.as_str(), r.client_secret.expose(), r.method), ("c1", "s:1", AuthMethod::Basic));
        assert_eq!(r.scope.as_deref(), Some("scim:read"));
        let r = parse(FORM, None, "", b"grant_type=client_credentials&client_id=c2&client_secret=s2").unwrap();
        assert_eq!((r.client_id.as_str(), r.client_secret.expose(), r.method), ("c2", "s2", AuthMethod::Post));
        assert!(!format!("{r:?}").contains("s2"), "the secret is redacted in Debug");
        // An empty parameter counts as omitted (RFC 6749 §3.1).
        assert_eq!(
            parse(FORM, None, "", b"grant_type=client_credentials&client_id=c&client_secret=s&scope=").unwrap().scope,
            None
        );
    }

    #[test]
    fn malformed_requests() {
        let ok_body: &[u8] = b"grant_type=client_credentials&client_id=c&client_secret=s";
        type Case<'a> = (Option<&'a str>, Option<String>, &'a str, &'a [u8], ErrorCode, u16);
        let cases: Vec<Case> = vec![
            (FORM, None, "", b"client_id=c&client_secret=s", ErrorCode::InvalidRequest, 400),
            (
                FORM,
                None,
                "",
                b"grant_type=client_credentials&grant_type=client_credentials&client_id=c&client_secret=s",
                ErrorCode::InvalidRequest,
                400,
            ),
            (
                FORM,
                None,
                "",
                b"grant_type=client_credentials&client_id=c&client_id=c&client_secret=s",
                ErrorCode::InvalidRequest,
                400,
            ),
            (FORM, None, "", b"grant_type=client_credentials&client_secret=s", ErrorCode::InvalidRequest, 400),
            (FORM, None, "", b"grant_type=client_credentials&client_id=c", ErrorCode::InvalidClient, 401),
            (FORM, Some(basic("c", "s")), "", ok_body, ErrorCode::InvalidRequest, 400),
            (
                FORM,
                Some(basic("c", "s")),
                "",
                b"grant_type=client_credentials&client_id=other",
                ErrorCode::InvalidRequest,
                400,
            ),
            (FORM, Some("Basic !!!".into()), "", b"grant_type=client_credentials", ErrorCode::InvalidClient, 401),
            (
                FORM,
                Some(format!("Basic {}", STANDARD.encode("no-colon"))),
                "",
                b"grant_type=client_credentials",
                ErrorCode::InvalidClient,
                401,
            ),
            (FORM, Some("Bearer abc".into()), "", b"grant_type=client_credentials", ErrorCode::InvalidClient, 401),
            (FORM, None, "client_secret=s", ok_body, ErrorCode::InvalidRequest, 400),
            (Some("application/json"), None, "", ok_body, ErrorCode::InvalidRequest, 400),
            (None, None, "", ok_body, ErrorCode::InvalidRequest, 400),
        ];
        for (i, (ct, auth, query, body, want, status)) in cases.into_iter().enumerate() {
            assert_eq!(code(parse(ct, auth.as_deref(), query, body)), (want, status), "case {i}");
        }
    }
}
