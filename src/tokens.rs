//! API tokens: minted once, shown once, stored only as a SHA-256 hash.
//!
//! Format: `scimd_` + 64 hex characters (256 bits from a CSPRNG). The fixed prefix lets secret scanners
//! recognise a leaked token; the high entropy makes a fast, unsalted hash safe (no dictionary to try).

use crate::cache::TtlCache;
use crate::metrics::AuthFailure;
use crate::scim::error::{ScimError, ScimResult};
use crate::secret::Secret;
use crate::store::tokens::{self as token_rows, TokenRow};
use crate::store::{now_timestamp, timestamp, Store};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

pub const TOKEN_PREFIX: &str = "scimd_";

pub fn generate_secret() -> Secret {
    random_secret(TOKEN_PREFIX)
}

/// `prefix` and 64 hex characters: 256 bits from a CSPRNG.
pub fn random_secret(prefix: &str) -> Secret {
    let mut bytes = [0u8; 32];
    // rand's thread RNG is a CSPRNG (ChaCha) seeded and periodically reseeded from the OS.
    rand::fill(&mut bytes);
    Secret::new(format!("{prefix}{}", hex::encode(bytes)))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Parses `90d`, `24h`, `30m`, `10s`, `2w` (a number and one unit).
pub fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("invalid duration \"{text}\": expected a number and a unit, e.g. 90d, 24h, 30m, 10s"))?;
    let duration = match unit {
        "s" => chrono::Duration::try_seconds(n),
        "m" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        "w" => chrono::Duration::try_weeks(n),
        _ => None,
    };
    duration.ok_or_else(|| format!("invalid duration \"{text}\": use s, m, h, d or w as the unit, e.g. 90d"))
}

pub struct MintedToken {
    pub row: TokenRow,
    /// The token in clear: print it once, never store or log it.
    pub secret: Secret,
}

/// What a credential may do. Stored and shown as an OAuth-style scope string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read and write: every route (the default).
    ReadWrite,
    /// GET, HEAD and searches (`POST …/.search`) only; every write is refused with 403.
    ReadOnly,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadWrite => "scim:write",
            Scope::ReadOnly => "scim:read",
        }
    }

    /// A stored scope; anything unknown is read-only (the safe reading of a value this version did not write).
    pub fn from_stored(s: &str) -> Scope {
        if s == Scope::ReadWrite.as_str() {
            Scope::ReadWrite
        } else {
            Scope::ReadOnly
        }
    }

    /// How `token list` shows it.
    pub fn label(self) -> &'static str {
        match self {
            Scope::ReadWrite => "read-write",
            Scope::ReadOnly => "read-only",
        }
    }
}

fn new_row(name: &str, expires_in: Option<chrono::Duration>, scope: Scope) -> MintedToken {
    let secret = generate_secret();
    let now = chrono::Utc::now();
    let row = TokenRow {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        token_hash: hash_token(secret.expose()),
        created: timestamp(now),
        expires: expires_in.map(|d| timestamp(now + d)),
        last_used: None,
        revoked: None,
        replaced_by: None,
        scope: scope.as_str().to_string(),
    };
    MintedToken { row, secret }
}

pub fn create(
    store: &Store,
    name: &str,
    expires_in: Option<chrono::Duration>,
    scope: Scope,
) -> ScimResult<MintedToken> {
    if name.trim().is_empty() {
        return Err(ScimError::invalid_value("a token needs a non-empty name"));
    }
    let minted = new_row(name, expires_in, scope);
    store.write(|c| token_rows::insert(c, &minted.row))?;
    Ok(minted)
}

/// Mints a successor with the same name; the old token stays valid for `grace`, then stops working.
pub fn rotate(store: &Store, key: &str, grace: chrono::Duration) -> ScimResult<(TokenRow, MintedToken)> {
    store.write(|c| {
        let old = token_rows::find_by_name_or_id(c, key)?;
        let now = now_timestamp();
        if !old.is_usable(&now) {
            return Err(ScimError::invalid_value(format!(
                "token \"{}\" ({}) is {}; create a new one instead",
                old.name,
                old.id,
                old.state(&now)
            )));
        }
        // The successor keeps the old token's lifetime policy: same remaining validity length if it had one.
        let expires_in = match &old.expires {
            Some(_) => {
                let created = chrono::DateTime::parse_from_rfc3339(&old.created).ok();
                let expires = old.expires.as_deref().and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok());
                created.zip(expires).map(|(c, e)| e - c)
            }
            None => None,
        };
        // The successor keeps the old token's scope too.
        let minted = new_row(&old.name, expires_in, Scope::from_stored(&old.scope));
        token_rows::insert(c, &minted.row)?;
        let until = timestamp(chrono::Utc::now() + grace);
        token_rows::supersede(c, &old.id, &minted.row.id, &until)?;
        Ok((old, minted))
    })
}

pub fn revoke(store: &Store, key: &str) -> ScimResult<TokenRow> {
    store.write(|c| {
        let row = token_rows::find_by_name_or_id(c, key)?;
        // After a rotation the old token and its successor share the name: revoking "by name" would have to
        // guess which one is meant (the one just leaked, or the one the IdP now uses). Ask for the id.
        if row.id != key {
            let now = now_timestamp();
            let usable: Vec<TokenRow> =
                token_rows::list(c)?.into_iter().filter(|t| t.name == row.name && t.is_usable(&now)).collect();
            if usable.len() > 1 {
                let ids: Vec<String> = usable.iter().map(|t| format!("{} ({})", t.id, t.state(&now))).collect();
                return Err(ScimError::invalid_value(format!(
                    "{} usable tokens are named \"{}\": {}; revoke one by its id",
                    usable.len(),
                    row.name,
                    ids.join(", ")
                )));
            }
        }
        token_rows::revoke(c, &row.id)?;
        Ok(row)
    })
}

fn unauthorized() -> ScimError {
    ScimError::unauthorized("missing, unknown, revoked or expired API token")
}

/// A refused credential: the one 401 every client sees (never saying which check failed), and the reason,
/// for metrics and logs only.
#[derive(Debug)]
pub struct Refused {
    pub reason: AuthFailure,
    pub error: ScimError,
}

impl Refused {
    pub fn new(reason: AuthFailure) -> Refused {
        Refused { reason, error: unauthorized() }
    }
}

/// The credential in an `Authorization` header. Okta's Header Auth sends either `Bearer <token>` or the
/// raw token, depending on what the admin pasted: both are accepted. Other schemes (Basic, …) are refused.
pub fn credential(header: Option<&str>) -> Result<&str, Refused> {
    let value = header.map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| Refused::new(AuthFailure::Missing))?;
    match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") && !rest.trim().is_empty() => Ok(rest.trim()),
        Some(_) => Err(Refused::new(AuthFailure::Malformed)),
        None if value.eq_ignore_ascii_case("bearer") => Err(Refused::new(AuthFailure::Malformed)),
        None => Ok(value),
    }
}

/// How long a token's row, once read, answers for it: a revocation (or a new expiry) takes effect within this
/// time on every serving process.
pub const VERDICT_TTL: std::time::Duration = std::time::Duration::from_secs(1);
/// Most token rows remembered (the cache is emptied when full: bounded memory whatever clients send).
const VERDICT_CACHE_MAX: usize = 10_000;

/// The token row for `hash`, from the verdict cache when read less than `VERDICT_TTL` ago, else from the
/// database (on the store's authentication connection, never the read pool).
fn token_row(store: &Store, hash: &str) -> ScimResult<Option<TokenRow>> {
    static VERDICTS: OnceLock<TtlCache<String, Option<TokenRow>>> = OnceLock::new();
    let cache = VERDICTS.get_or_init(|| TtlCache::new(VERDICT_TTL, VERDICT_CACHE_MAX));
    cache.get_or_load(hash.to_string(), || store.read_auth(|c| token_rows::find_by_hash(c, hash)))
}

/// Checks an API token (`scimd_…`); returns its row when usable.
pub fn authenticate(store: &Store, token: &str) -> Result<TokenRow, Refused> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Err(Refused::new(AuthFailure::Unknown));
    }
    let hash = hash_token(token);
    let row = token_row(store, &hash)
        .map_err(|error| Refused { reason: AuthFailure::Unknown, error })?
        .ok_or_else(|| Refused::new(AuthFailure::Unknown))?;
    if row.revoked.is_some() {
        return Err(Refused::new(AuthFailure::Revoked));
    }
    if !row.is_usable(&now_timestamp()) {
        return Err(Refused::new(AuthFailure::Expired));
    }
    Ok(row)
}

/// `last_used` is recorded at most once a minute per token, so that reads don't each cost a durable write.
pub fn use_is_stale(row: &TokenRow) -> bool {
    stale(row.last_used.as_deref())
}

/// Whether a `last_used` timestamp is missing or more than a minute old.
pub fn stale(last_used: Option<&str>) -> bool {
    last_used
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_none_or(|t| chrono::Utc::now().signed_duration_since(t) > chrono::Duration::seconds(60))
}

pub fn note_use(store: &Store, row: &TokenRow) {
    let when = now_timestamp();
    if let Err(e) = store.write(|c| token_rows::touch(c, &row.id, &when)) {
        log::warn!("could not record token use: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_long_and_distinct() {
        let (a, b) = (generate_secret(), generate_secret());
        let (a, b) = (a.expose(), b.expose());
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_ne!(a, b);
        assert_ne!(hash_token(a), hash_token(b));
        assert!(!hash_token(a).contains(&a[TOKEN_PREFIX.len()..]));
    }

    #[test]
    fn authorization_header_forms() {
        assert_eq!(credential(Some("Bearer scimd_x")).unwrap(), "scimd_x");
        assert_eq!(credential(Some("bearer   scimd_x ")).unwrap(), "scimd_x");
        assert_eq!(credential(Some("scimd_x")).unwrap(), "scimd_x");
        let reason = |h: Option<&str>| {
            let refused = credential(h).unwrap_err();
            assert_eq!(refused.error.status, 401);
            refused.reason
        };
        assert_eq!(reason(None), AuthFailure::Missing);
        assert_eq!(reason(Some("")), AuthFailure::Missing);
        for bad in [Some("Bearer "), Some("Basic dXNlcjpwYXNz"), Some("Token a b")] {
            assert_eq!(reason(bad), AuthFailure::Malformed, "{bad:?}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90d").unwrap(), chrono::Duration::days(90));
        assert_eq!(parse_duration("24h").unwrap(), chrono::Duration::hours(24));
        assert_eq!(parse_duration("0s").unwrap(), chrono::Duration::zero());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
