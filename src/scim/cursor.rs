//! RFC 9865 cursors: opaque, URL-safe and tamper-evident. A cursor carries a position in a listing's order
//! (see `store::keyset`), which side of it the page lies on, a fingerprint of the query it belongs to, and
//! when it was issued; an HMAC-SHA256 over all of it, with a key only the server knows, makes any change to
//! it detectable. The text is `base64url(payload) "." base64url(mac)`: only RFC 3986 unreserved characters
//! (RFC 9865 §2.1).

use crate::scim::error::{ScimError, ScimResult, ScimType};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest cursor text accepted; a real one is well under 1 KiB.
const MAX_CURSOR_LEN: usize = 4096;
/// Bytes of the MAC kept (128 bits).
const MAC_LEN: usize = 16;
const FORMAT: u8 = 1;

/// One component of a position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KeyPart {
    #[serde(rename = "i")]
    Int(i64),
    #[serde(rename = "r")]
    Real(f64),
    #[serde(rename = "s")]
    Text(String),
}

/// Which side of a position a page lies on, in listing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    #[serde(rename = "a")]
    After,
    #[serde(rename = "b")]
    Before,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "v")]
    format: u8,
    /// Fingerprint of the query (resource types, filter, sort) the cursor was issued for.
    #[serde(rename = "q")]
    pub query: String,
    /// Seconds since the Unix epoch.
    #[serde(rename = "t")]
    pub issued: i64,
    #[serde(rename = "d")]
    pub side: Side,
    #[serde(rename = "p")]
    pub position: Vec<KeyPart>,
}

impl Cursor {
    pub fn new(query: &str, issued: i64, side: Side, position: Vec<KeyPart>) -> Cursor {
        Cursor { format: FORMAT, query: query.to_string(), issued, side, position }
    }
}

/// A short fingerprint of a query's canonical text.
pub fn query_fingerprint(canonical: &str) -> String {
    hex::encode(&Sha256::digest(canonical.as_bytes())[..8])
}

/// Issues and checks cursors with the server's key. `Debug` never shows the key.
#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
    /// Seconds a cursor stays valid (advertised as `pagination.cursorTimeout`).
    pub timeout_secs: i64,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CursorCodec").field("key", &"<redacted>").field("timeout_secs", &self.timeout_secs).finish()
    }
}

fn invalid(detail: &str) -> ScimError {
    ScimError::new(
        400,
        Some(ScimType::InvalidCursor),
        format!(
            "{detail}; send the nextCursor or previousCursor of an earlier page of this same query, \
             or an empty cursor for the first page (RFC 9865 §2.1)"
        ),
    )
}

impl CursorCodec {
    pub fn new(key: &[u8], timeout_secs: i64) -> CursorCodec {
        CursorCodec { key: key.to_vec(), timeout_secs }
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(payload);
        mac
    }

    pub fn encode(&self, cursor: &Cursor) -> String {
        let payload = serde_json::to_vec(cursor).expect("a cursor serialises");
        let tag = self.mac(&payload).finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(&tag[..MAC_LEN]))
    }

    /// Checks a cursor's integrity, its query and its age (`now` in seconds since the epoch).
    pub fn decode(&self, text: &str, query: &str, now: i64) -> ScimResult<Cursor> {
        if text.len() > MAX_CURSOR_LEN {
            return Err(invalid("the cursor is too long to be one of ours"));
        }
        let (payload, tag) = text.split_once('.').ok_or_else(|| invalid("the cursor is malformed"))?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid("the cursor is malformed"))?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid("the cursor is malformed"))?;
        if tag.len() != MAC_LEN {
            return Err(invalid("the cursor is malformed"));
        }
        self.mac(&payload)
            .verify_truncated_left(&tag)
            .map_err(|_| invalid("the cursor was altered or not issued here"))?;
        let cursor: Cursor = serde_json::from_slice(&payload).map_err(|_| invalid("the cursor is malformed"))?;
        if cursor.format != FORMAT {
            return Err(invalid("the cursor is from another version of this server"));
        }
        if cursor.query != query {
            return Err(invalid("the cursor belongs to a different query (filter, sortBy, sortOrder or endpoint)"));
        }
        if now.saturating_sub(cursor.issued) > self.timeout_secs {
            return Err(ScimError::new(
                400,
                Some(ScimType::ExpiredCursor),
                format!(
                    "the cursor has expired: cursors are valid for {} seconds (cursorTimeout); start again with \
                     an empty cursor (RFC 9865 §2.1)",
                    self.timeout_secs
                ),
            ));
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> CursorCodec {
        CursorCodec::new(b"0123456789abcdef0123456789abcdef", 600)
    }

    fn sample() -> Cursor {
        Cursor::new("q1", 1000, Side::After, vec![KeyPart::Text("Zoë".into()), KeyPart::Real(1.5), KeyPart::Int(7)])
    }

    #[test]
    fn round_trip_is_url_safe() {
        let text = codec().encode(&sample());
        assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)), "{text}");
        assert_eq!(codec().decode(&text, "q1", 1500).unwrap(), sample());
    }

    #[test]
    fn tampering_truncation_and_other_keys_are_invalid_cursor() {
        let text = codec().encode(&sample());
        let kind = |t: &str| codec().decode(t, "q1", 1000).unwrap_err().scim_type;
        let mut flipped = text.clone().into_bytes();
        flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(kind(&String::from_utf8(flipped).unwrap()), Some(ScimType::InvalidCursor));
        assert_eq!(kind(&text[..text.len() - 2]), Some(ScimType::InvalidCursor));
        assert_eq!(kind("garbage"), Some(ScimType::InvalidCursor));
        assert_eq!(kind("a.b.c"), Some(ScimType::InvalidCursor));
        assert_eq!(kind(&"x".repeat(10_000)), Some(ScimType::InvalidCursor));
        let other = CursorCodec::new(b"another key", 600).encode(&sample());
        assert_eq!(kind(&other), Some(ScimType::InvalidCursor));
        assert_eq!(codec().decode(&text, "q2", 1000).unwrap_err().scim_type, Some(ScimType::InvalidCursor));
    }

    #[test]
    fn old_cursors_expire() {
        let text = codec().encode(&sample());
        assert!(codec().decode(&text, "q1", 1600).is_ok());
        let e = codec().decode(&text, "q1", 1601).unwrap_err();
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::ExpiredCursor)));
    }

    #[test]
    fn debug_hides_the_key() {
        assert!(!format!("{:?}", codec()).contains("0123456789"));
    }
}
