//! Request bodies: SCIM JSON only (RFC 7644 §3.1 / §8.1), with a size limit, every failure a SCIM error.

use crate::scim::error::ScimError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

/// Largest accepted request body, in bytes (app data; `--max-body-bytes`, or `--bulk-max-bytes` on /Bulk),
/// and the name the limit is advertised under, for the 413's message.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize, pub &'static str);

/// Longest a request body may take to arrive (app data; `--body-timeout`).
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub std::time::Duration);

/// A parsed JSON request body sent as `application/scim+json` or `application/json`.
pub struct ScimJson(pub Value);

fn check_content_type(req: &HttpRequest) -> Result<(), ScimError> {
    let value = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ScimError::unsupported_media_type("a request body must be sent as application/scim+json"))?;
    let essence = value.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/scim+json") || essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ScimError::unsupported_media_type(format!(
            "unsupported media type \"{essence}\": send application/scim+json or application/json"
        )))
    }
}

impl FromRequest for ScimJson {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (limit, name) = req.app_data::<web::Data<BodyLimit>>().map(|l| (l.0, l.1)).unwrap_or((1 << 20, "limit"));
        let checked = check_content_type(req);
        let declared = declared_length(req);
        let payload = payload.take();
        let timeout =
            req.app_data::<web::Data<BodyTimeout>>().map(|t| t.0).unwrap_or(std::time::Duration::from_secs(30));
        Box::pin(async move {
            checked?;
            let body = read_limited(payload, declared, (limit, name), timeout).await?;
            if body.is_empty() {
                return Err(ScimError::invalid_syntax("the request body is empty; a JSON object is required"));
            }
            let value: Value = serde_json::from_slice(&body)
                .map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")))?;
            if !value.is_object() {
                return Err(ScimError::invalid_syntax("the request body must be a JSON object"));
            }
            Ok(ScimJson(value))
        })
    }
}

/// The request's Content-Length, when it sends a valid one.
pub fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok())
}

/// Reads a request body of at most `limit.0` bytes (413 naming `limit.1` beyond it; `declared` is the
/// Content-Length, refused before reading when it is already too large) arriving within `timeout` (then 408).
pub async fn read_limited(
    mut payload: Payload,
    declared: Option<usize>,
    (limit, name): (usize, &'static str),
    timeout: std::time::Duration,
) -> Result<web::BytesMut, ScimError> {
    let deadline = std::time::Instant::now() + timeout;
    let too_large = || ScimError::payload_too_large(format!("the request body exceeds {limit} bytes ({name})"));
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let next = actix_web::rt::time::timeout(left, futures_util::StreamExt::next(&mut payload));
        let Some(chunk) = next.await.map_err(|_| {
            ScimError::new(408, None, format!("the request body did not arrive within {} s", timeout.as_secs()))
        })?
        else {
            break;
        };
        let chunk = chunk.map_err(|e| ScimError::bad_request(format!("could not read request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
