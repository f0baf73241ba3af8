//! Every request's trace: a request id (taken from a well-formed `X-Request-Id`, else made here, and returned
//! in the response's `X-Request-Id`), the metrics (by route template, never by raw id), and one access-log
//! line: method, route template, status, latency, the caller's credential name. Never a secret, never a query
//! string (filters can hold e-mail addresses), never a body.

use super::auth::Caller;
use crate::metrics::{metrics, RequestLabels, RouteLabels};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use std::time::Instant;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of a request, for handlers and logs.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A client's own id is kept when it is short and plain (so it can go into logs as it is).
fn acceptable(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A route template as labels and logs show it: `/scim/v2/Users/{id}` becomes `/scim/v2/Users/:id` (plain
/// text every exposition parser reads; a regex in a segment, `{rest:.*}`, is dropped).
fn route_label(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else { break };
        let inner = &rest[open + 1..open + close];
        out.push(':');
        out.push_str(inner.split(':').next().unwrap_or(inner));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

fn new_id() -> String {
    let mut bytes = [0u8; 12];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_string)
        .unwrap_or_else(new_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let peer = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    let mut res = next.call(req).await?;
    let pattern = res.request().match_pattern();
    let route = pattern.as_deref().map(route_label).unwrap_or_else(|| "unmatched".to_string());
    // A request no route matched is logged with its path (no query string): that is how a wrong base URL in an
    // identity provider shows up. Metrics keep the one label "unmatched".
    let shown = if pattern.is_some() { route.clone() } else { res.request().path().to_string() };
    let status = res.status().as_u16();
    let caller = res.request().extensions().get::<Caller>().map(Caller::label).unwrap_or_else(|| "-".into());
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    let elapsed = started.elapsed();
    let m = metrics();
    m.requests.get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status }).inc();
    m.latency
        .get_or_create(&RouteLabels { method: method.clone(), route: route.clone() })
        .observe(elapsed.as_secs_f64());
    let latency_ms = (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
    log::info!(
        target: "scimd::access",
        request_id = id.as_str(), method = method.as_str(), route = route.as_str(), status = status,
        latency_ms = latency_ms, credential = caller.as_str(), peer = peer.as_str(), path = shown.as_str();
        "{method} {shown} {status} {latency_ms}ms"
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_labels_are_plain_templates() {
        assert_eq!(super::route_label("/scim/v2/Users/{id}"), "/scim/v2/Users/:id");
        assert_eq!(super::route_label("/scim/v2/{endpoint:Me}/{rest:.*}"), "/scim/v2/:endpoint/:rest");
        assert_eq!(super::route_label("/healthz"), "/healthz");
    }
}
