//! RFC 7644 §4 / RFC 7643 §5: the ServiceProviderConfig, which must tell the truth about what this build does.

use serde_json::{json, Value};

pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

#[derive(Debug, Clone)]
pub struct Capabilities {
    pub max_results: usize,
    pub bulk_max_operations: usize,
    pub bulk_max_payload_size: usize,
    pub cursor_timeout_secs: i64,
}

pub fn service_provider_config(caps: &Capabilities, location: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/scimd/scimd#readme",
        "patch": { "supported": true },
        "bulk": {
            "supported": true,
            "maxOperations": caps.bulk_max_operations,
            "maxPayloadSize": caps.bulk_max_payload_size
        },
        "filter": { "supported": true, "maxResults": caps.max_results },
        // RFC 9865 §4: both paging methods; index paging stays the default for clients that know no cursors.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": caps.max_results,
            "maxPageSize": caps.max_results,
            "cursorTimeout": caps.cursor_timeout_secs
        },
        // Passwords are accepted (Okta always sends one) but never stored, so they cannot be changed.
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API token",
            "description": "An API token minted by `scimd token create`, sent in the Authorization header \
                            as `Bearer <token>` or as the raw token.",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": location
        }
    })
}
