//! Authentication as middleware around the whole SCIM scope, so that no route can forget it.

use super::{blocking, AppState};
use crate::scim::error::ScimError;
use crate::tokens;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

/// RFC 7644 §4: the discovery endpoints. They may be opened to anonymous clients with `--public-discovery`.
fn is_discovery(path_in_scope: &str) -> bool {
    let first = path_in_scope.trim_start_matches('/').split('/').next().unwrap_or("");
    ["ServiceProviderConfig", "Schemas", "ResourceTypes"].iter().any(|d| first.eq_ignore_ascii_case(d))
}

pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Err(refused) = check(&req).await {
        // Answered here as a response (not an Err) so that the access log records the 401 like any other.
        return Ok(req.into_response(refused.error_response()).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

async fn check(req: &ServiceRequest) -> Result<(), ScimError> {
    let state = req.app_data::<web::Data<AppState>>().cloned().expect("AppState is registered");
    let prefix_len = state.config.path_prefix.len();
    let in_scope = req.path().get(prefix_len..).unwrap_or("");
    if state.config.public_discovery && is_discovery(in_scope) {
        return Ok(());
    }
    // Only the header's value is handed on; it is never logged or echoed.
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token = tokens::credential(header)?.to_owned();
    match &state.jwt {
        // Not one of our API tokens, and an OAuth issuer is configured: a signed JWT access token.
        Some(jwt) if !token.starts_with(tokens::TOKEN_PREFIX) => jwt.verify(&token),
        _ => authenticated_api_token(&state, token).await,
    }
}

async fn authenticated_api_token(state: &web::Data<AppState>, token: String) -> Result<(), ScimError> {
    let store = state.store.clone();
    let row = blocking(move || tokens::authenticate(&store, &token)).await?;
    if tokens::use_is_stale(&row) {
        // Off the request path: recording use must not slow the answer.
        let store = state.store.clone();
        actix_web::rt::spawn(async move {
            let _ = web::block(move || tokens::note_use(&store, &row)).await;
        });
    }
    Ok(())
}
