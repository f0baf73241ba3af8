//! The authorization server's endpoints, outside the SCIM prefix and without authentication:
//! `POST /oauth/token` (RFC 6749 §4.4), `GET /.well-known/jwks.json` (RFC 7517) and
//! `GET /.well-known/oauth-authorization-server` (RFC 8414).

use super::body::{declared_length, read_limited, BodyTimeout};
use super::AppState;
use crate::oauth::request::{self, clip};
use crate::oauth::{scope_string, ErrorCode, OAuthError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

/// A token request is a few short parameters; anything larger is not one.
const TOKEN_BODY_LIMIT: usize = 16 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/oauth/token").route(web::post().to(token)).default_service(web::to(|| async {
        // RFC 6749 §3.2: the token endpoint takes POST only.
        let mut response = render_error(&OAuthError::request("the token endpoint takes POST"), 405);
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        response
    })))
    .service(
        web::resource("/.well-known/jwks.json")
            .route(web::get().to(jwks))
            .route(web::head().to(jwks))
            .default_service(super::method_not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/.well-known/oauth-authorization-server")
            .route(web::get().to(metadata))
            .route(web::head().to(metadata))
            .default_service(super::method_not_allowed("GET, HEAD")),
    );
}

/// RFC 6749 §5.1: token responses (and their errors) are never cached.
fn no_store(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// RFC 6749 §5.2: `{"error": …, "error_description": …}`; a failed Basic authentication carries a challenge.
fn render_error(error: &OAuthError, status: u16) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response =
        HttpResponse::build(status).json(json!({"error": error.code.as_str(), "error_description": error.description}));
    if error.code == ErrorCode::InvalidClient {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"scimd\""));
    }
    no_store(response)
}

fn count(outcome: &'static str) {
    crate::metrics::metrics().token_requests.get_or_create(&crate::metrics::OutcomeLabels { outcome }).inc();
}

/// A refused request: logged (never with a secret), counted per client id and per address, and answered 429
/// with `Retry-After` once either is over the limit. A request with valid credentials never gets here.
fn refuse(state: &AppState, req: &HttpRequest, error: OAuthError, status: u16) -> HttpResponse {
    count(error.code.as_str());
    let peer = req.peer_addr().map(|a| a.ip());
    let throttled = if error.code == ErrorCode::ServerError {
        None
    } else {
        let by_client = error.client_id.clone().and_then(|id| state.client_throttle.failed(id));
        let by_address = peer.and_then(|ip| state.throttle.failed(ip));
        by_client.max(by_address)
    };
    // Once throttled, a flood of failures is not logged line by line (the access log and the metric count it).
    let level = if throttled.is_some() { log::Level::Debug } else { log::Level::Warn };
    log::log!(
        level,
        "token request refused: {}: {}{} (client_id {:?}, from {})",
        error.code.as_str(),
        error.description,
        error.reason.map(|r| format!(" [{r}]")).unwrap_or_default(),
        error.client_id.as_deref().map(clip).as_deref().unwrap_or("-"),
        peer.map(|ip| ip.to_string()).unwrap_or_default()
    );
    match throttled {
        Some(wait) => super::throttle::retry_after(wait, |secs| {
            render_error(
                &OAuthError { description: format!("too many failed token requests; retry in {secs} s"), ..error },
                429,
            )
        }),
        None => render_error(&error, status),
    }
}

async fn token(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let timeout = req.app_data::<web::Data<BodyTimeout>>().map(|t| t.0).unwrap_or(std::time::Duration::from_secs(30));
    let limit = (TOKEN_BODY_LIMIT, "the token request limit");
    let body = match read_limited(payload.into_inner(), declared_length(&req), limit, timeout).await {
        Ok(body) => body,
        Err(e) => return refuse(&state, &req, OAuthError::request(e.detail), e.status),
    };
    let header = |name| req.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let parsed = request::parse(header(header::CONTENT_TYPE), header(header::AUTHORIZATION), req.query_string(), &body);
    let token_request = match parsed {
        Ok(r) => r,
        Err(e) => {
            let status = e.status();
            return refuse(&state, &req, e, status);
        }
    };
    let server = state.clone();
    let issued = web::block(move || server.oauth.issue(&token_request)).await;
    match issued {
        Ok(Ok(issued)) => {
            count("issued");
            log::info!(
                "issued an access token to OAuth client \"{}\" ({}), scope {}, for {} s",
                issued.client.name,
                issued.client.id,
                scope_string(issued.scope),
                issued.expires_in
            );
            no_store(HttpResponse::Ok().json(json!({
                "access_token": issued.access_token.expose(),
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "scope": scope_string(issued.scope),
            })))
        }
        Ok(Err(e)) => {
            let status = e.status();
            refuse(&state, &req, e, status)
        }
        Err(e) => refuse(&state, &req, OAuthError::from(crate::scim::error::ScimError::internal(e)), 500),
    }
}

async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let server = state.clone();
    match web::block(move || server.oauth.jwks()).await {
        // Short caching: a key retired at once leaves every copy of the set within a minute.
        Ok(Ok(keys)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
            .content_type("application/jwk-set+json")
            .body(keys.to_string()),
        Ok(Err(e)) => actix_web::ResponseError::error_response(&e),
        Err(e) => actix_web::ResponseError::error_response(&crate::scim::error::ScimError::internal(e)),
    }
}

async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "public, max-age=300")).json(state.oauth.metadata())
}
