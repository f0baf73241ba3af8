//! The authenticated caller as a typed value, known to every layer above the store (no HTTP here).

use crate::scim::error::{ScimError, ScimResult};
use crate::tokens::Scope;

/// Who is calling, as authentication established it: the HTTP layer's middleware puts it into the request,
/// handlers hand it to the directory (which refuses a write from a read-only caller whatever route it came
/// by), and the access log names it. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An API token, by its id and name (`scimd token create --name …`), with what it may do.
    ApiToken { id: String, name: String, scope: Scope },
    /// An access token scimd issued (`POST /oauth/token`), by its OAuth client's id and name, with the scope
    /// granted (never more than the client has now).
    OAuthClient { client_id: String, name: String, scope: Scope },
    /// A JWT access token from the configured external issuer, by its subject; read-only when its `scope` (or
    /// `scp`) grants `scim:read` and not `scim:write`, else read-write.
    Jwt { subject: Option<String>, scope: Scope },
    /// No credential, on an endpoint opened with `--public-discovery`.
    Anonymous,
}

impl Caller {
    /// How the access log names the caller.
    pub fn label(&self) -> String {
        match self {
            Caller::ApiToken { name, .. } => format!("token:{name}"),
            Caller::OAuthClient { name, .. } => format!("client:{name}"),
            Caller::Jwt { subject, .. } => format!("jwt:{}", subject.as_deref().unwrap_or("-")),
            Caller::Anonymous => "anonymous".to_string(),
        }
    }

    pub fn scope(&self) -> Scope {
        match self {
            Caller::ApiToken { scope, .. } | Caller::OAuthClient { scope, .. } | Caller::Jwt { scope, .. } => *scope,
            // Only discovery is open to anonymous callers, and only for reading.
            Caller::Anonymous => Scope::ReadOnly,
        }
    }
}

impl Caller {
    /// Ok when this caller may write; otherwise the 403 (RFC 7644 §3.12) naming what was attempted.
    pub fn may_write(&self, attempted: &str) -> ScimResult<()> {
        match self.scope() {
            Scope::ReadWrite => Ok(()),
            Scope::ReadOnly => Err(ScimError::forbidden(format!(
                "this credential is read-only (scope {}): it may GET and search, not {attempted} here",
                Scope::ReadOnly.as_str(),
            ))),
        }
    }
}
