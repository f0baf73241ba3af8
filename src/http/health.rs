//! `GET /healthz` (liveness: the process answers) and `GET /readyz` (readiness: the database answers a query
//! and its migrations are the ones this binary knows), outside the SCIM prefix and without authentication,
//! for load balancers and orchestrators.

use super::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;
use std::time::Duration;

/// How long `/readyz` waits for a database connection before it answers 503.
const READY_WAIT: Duration = Duration::from_secs(2);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(healthz))
            .route(web::head().to(healthz))
            .default_service(super::method_not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(readyz))
            .route(web::head().to(readyz))
            .default_service(super::method_not_allowed("GET, HEAD")),
    );
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    match web::block(move || store.ready(READY_WAIT)).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Ok(Err(reason)) => {
            log::warn!("/readyz: not ready: {reason}");
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "1"))
                .json(json!({"status": "unavailable", "reason": reason}))
        }
        Err(e) => HttpResponse::ServiceUnavailable().json(json!({"status": "unavailable", "reason": e.to_string()})),
    }
}
