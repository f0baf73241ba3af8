//! The one error type of scimd. Every failure, from a bad filter to a database fault, becomes a
//! `ScimError`; the HTTP layer renders it as an RFC 7644 §3.12 error body in one place.

use serde_json::{json, Value};
use std::fmt;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
    /// RFC 9865 §2.1: a cursor that is malformed, forged, or from another query.
    InvalidCursor,
    /// RFC 9865 §2.1: a cursor older than the advertised `cursorTimeout`.
    ExpiredCursor,
    /// A request over the server's size limit (413; RFC 7644 §3.7.4 names the limit in `detail`).
    TooLarge,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
            ScimType::ExpiredCursor => "expiredCursor",
            ScimType::TooLarge => "tooLarge",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

pub type ScimResult<T> = Result<T, ScimError>;

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError { status, scim_type, detail: detail.into() }
    }
    fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidFilter, detail)
    }
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidPath, detail)
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidValue, detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidSyntax, detail)
    }
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::Mutability, detail)
    }
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::NoTarget, detail)
    }
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::TooMany, detail)
    }
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400, None, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, None, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, None, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, None, detail)
    }
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(413, Some(ScimType::TooLarge), detail)
    }
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(415, None, detail)
    }
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(501, None, detail)
    }
    pub fn service_unavailable(detail: impl Into<String>) -> Self {
        Self::new(503, None, detail)
    }
    /// A fault on our side. The detail shown to the client is generic; the cause is for the log.
    pub fn internal(cause: impl fmt::Display) -> Self {
        log::error!("internal error: {cause}");
        Self::new(500, None, "internal server error")
    }

    /// RFC 7644 §3.12: `status` is a string.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t.as_str());
        }
        body
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scim_type {
            Some(t) => write!(f, "{} {}: {}", self.status, t.as_str(), self.detail),
            None => write!(f, "{}: {}", self.status, self.detail),
        }
    }
}

impl std::error::Error for ScimError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rfc7644_error_body() {
        let e = ScimError::uniqueness("userName 'a' is taken");
        let v = e.to_json();
        assert_eq!(v["schemas"][0], ERROR_SCHEMA);
        assert_eq!(v["status"], "409");
        assert_eq!(v["scimType"], "uniqueness");
        assert_eq!(v["detail"], "userName 'a' is taken");
        assert!(ScimError::not_found("x").to_json().get("scimType").is_none());
    }
}
