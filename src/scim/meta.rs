//! Resource `meta` (RFC 7643 §3.1) and ETags (RFC 7644 §3.14).

use serde_json::{json, Value};

/// A weak entity tag derived from the resource version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Whether an `If-Match` / `If-None-Match` header value names this version: `*`, or a comma-separated list
/// of tags compared weakly (RFC 9110 §8.8.3.2), so `"3"` and `W/"3"` both match version 3.
pub fn etag_matches(header: &str, version: i64) -> bool {
    let wanted = version.to_string();
    header.split(',').map(str::trim).any(|tag| {
        if tag == "*" {
            return true;
        }
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')).is_some_and(|t| t == wanted)
    })
}

pub fn meta(resource_type: &str, created: &str, last_modified: &str, location: &str, version: i64) -> Value {
    json!({
        "resourceType": resource_type,
        "created": created,
        "lastModified": last_modified,
        "location": location,
        "version": etag(version),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_compare_weakly() {
        assert_eq!(etag(3), "W/\"3\"");
        assert!(etag_matches("W/\"3\"", 3));
        assert!(etag_matches("\"3\"", 3));
        assert!(etag_matches("W/\"1\", W/\"3\"", 3));
        assert!(etag_matches("*", 9));
        assert!(!etag_matches("W/\"2\"", 3));
        assert!(!etag_matches("W/\"33\"", 3));
        assert!(!etag_matches("3", 3));
    }
}
