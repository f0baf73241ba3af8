//! RFC 7644 §4 / RFC 7643 §5: the ServiceProviderConfig, which must tell the truth about what this build does.

use serde_json::{json, Value};

pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

#[derive(Debug, Clone)]
pub struct Capabilities {
    pub max_results: usize,
    pub max_payload_size: usize,
}

pub fn service_provider_config(caps: &Capabilities, location: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/scimd/scimd#readme",
        "patch": { "supported": true },
        // /Bulk is not implemented yet: advertise it as unsupported.
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": caps.max_results },
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
