//! Authentication as middleware around the whole SCIM scope, so that no route can forget it.

use super::AppState;
pub use crate::caller::Caller;
use crate::metrics::AuthFailure;
use crate::oauth::Rejection;
use crate::scim::error::ScimError;
use crate::secret::Secret;
use crate::tokens::{self, Refused, Scope};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

/// Whether a request only reads: GET, HEAD, or a POST to a `.search` endpoint (RFC 7644 §3.4.3). Decided
/// here, for every route at once, so that a new write route cannot forget the read-only check.
fn only_reads(req: &ServiceRequest) -> bool {
    use actix_web::http::Method;
    let method = req.method();
    method == Method::GET
        || method == Method::HEAD
        || (method == Method::POST && req.path().trim_end_matches('/').ends_with("/.search"))
}

impl actix_web::FromRequest for Caller {
    type Error = ScimError;
    type Future = std::future::Ready<Result<Caller, ScimError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::HttpMessage;
        std::future::ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(|| ScimError::internal("a handler outside the authenticated scope asked for the caller")),
        )
    }
}

pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    use actix_web::HttpMessage;
    match check(&req).await {
        // (An anonymous caller only reaches discovery, whose routes answer a write with 405 themselves.)
        Ok(caller) if caller != Caller::Anonymous && caller.scope() == Scope::ReadOnly && !only_reads(&req) => {
            // RFC 7644 §3.12: 403, the operation is not permitted with this authorization.
            let error = caller.may_write(req.method().as_str()).expect_err("a read-only caller");
            req.extensions_mut().insert(caller);
            let mut response = error.error_response();
            // RFC 6750 §3.1: the token is valid but its scope does not cover this request.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(
                    "Bearer realm=\"scimd\", error=\"insufficient_scope\", scope=\"scim:write\"",
                ),
            );
            Ok(req.into_response(response).map_into_right_body())
        }
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.call(req).await.map(ServiceResponse::map_into_left_body)
        }
        Err(refused) => {
            crate::metrics::metrics()
                .auth_failures
                .get_or_create(&crate::metrics::ReasonLabels { reason: refused.reason })
                .inc();
            let state = req.app_data::<web::Data<AppState>>().cloned().expect("AppState is registered");
            let wait = req.peer_addr().and_then(|peer| state.throttle.failed(peer.ip()));
            // Answered here as a response (not an Err) so that the access log records it like any other.
            let response = match wait {
                Some(wait) => super::throttle::retry_after(wait, |secs| {
                    ScimError::new(
                        429,
                        None,
                        format!("too many failed authentications from this address; retry in {secs} s"),
                    )
                    .error_response()
                }),
                None => {
                    let mut r = refused.error.error_response();
                    // RFC 6750 §3.1: a credential was presented and is not valid (none presented: no error code).
                    if !matches!(refused.reason, AuthFailure::Missing | AuthFailure::Malformed) {
                        r.headers_mut().insert(
                            header::WWW_AUTHENTICATE,
                            header::HeaderValue::from_static("Bearer realm=\"scimd\", error=\"invalid_token\""),
                        );
                    }
                    r
                }
            };
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

async fn check(req: &ServiceRequest) -> Result<Caller, Refused> {
    let state = req.app_data::<web::Data<AppState>>().cloned().expect("AppState is registered");
    let prefix_len = state.config.path_prefix.len();
    let in_scope = req.path().get(prefix_len..).unwrap_or("");
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    // RFC 7644 §4: the discovery route group may be opened to anonymous clients with `--public-discovery`.
    if state.config.public_discovery && super::discovery::is_discovery_route(in_scope) {
        return Ok(Caller::Anonymous);
    }
    // Only the header's value is handed on, as a Secret; it is never logged or echoed.
    let token = Secret::new(tokens::credential(header)?);
    if token.expose().starts_with(tokens::TOKEN_PREFIX) {
        return authenticated_api_token(&state, token).await;
    }
    // A JWT (three dot-separated parts): one scimd issued, or else one from the external issuer if configured.
    if token.expose().split('.').count() != 3 {
        return Err(Refused::new(AuthFailure::Unknown));
    }
    let server = state.clone();
    let checked = {
        let token = token.clone();
        web::block(move || server.oauth.verify(token.expose()))
            .await
            .map_err(|e| Refused { reason: AuthFailure::Unknown, error: ScimError::internal(e) })?
    };
    match checked {
        Ok(p) => Ok(Caller::OAuthClient { client_id: p.client_id, name: p.name, scope: p.scope }),
        Err(Rejection::ClientRevoked) => Err(Refused::new(AuthFailure::Revoked)),
        Err(Rejection::Invalid(why)) => {
            log::debug!("access token refused: {why}");
            Err(Refused::new(AuthFailure::InvalidJwt))
        }
        Err(Rejection::NotOurs) => match &state.jwt {
            Some(jwt) => jwt
                .verify(token.expose())
                .map(|(subject, scope)| Caller::Jwt { subject, scope })
                .map_err(|error| Refused { reason: AuthFailure::InvalidJwt, error }),
            None => Err(Refused::new(AuthFailure::InvalidJwt)),
        },
    }
}

async fn authenticated_api_token(state: &web::Data<AppState>, token: Secret) -> Result<Caller, Refused> {
    let store = state.store.clone();
    let row = web::block(move || tokens::authenticate(&store, token.expose()))
        .await
        .map_err(|e| Refused { reason: AuthFailure::Unknown, error: ScimError::internal(e) })??;
    let caller = Caller::ApiToken { id: row.id.clone(), name: row.name.clone(), scope: Scope::from_stored(&row.scope) };
    if tokens::use_is_stale(&row) {
        // Off the request path: recording use must not slow the answer.
        let store = state.store.clone();
        actix_web::rt::spawn(async move {
            let _ = web::block(move || tokens::note_use(&store, &row)).await;
        });
    }
    Ok(caller)
}
