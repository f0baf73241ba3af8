//! The one place a `ScimError` becomes an HTTP response (RFC 7644 §3.12).

use crate::scim::error::ScimError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
        if self.status == 401 {
            // RFC 6750 §3: tell the client which scheme to use.
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"scimd\""));
        }
        if self.status == 503 {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.body(self.to_json().to_string())
    }
}
