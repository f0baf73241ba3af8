//! `POST /Bulk` (RFC 7644 §3.7): parse, run in the directory, answer with a BulkResponse.

use super::auth::Caller;
use super::body::{BodyLimit, ScimJson};
use super::{blocking, ok_json, AppState, ServerConfig};
use crate::scim::bulk::{bulk_response, parse_bulk_request};
use crate::scim::error::ScimResult;
use actix_web::{web, HttpResponse};

/// The /Bulk endpoint, with its own body limit: the advertised `bulk.maxPayloadSize` (RFC 7644 §3.7.4).
pub fn resource(config: &ServerConfig) -> actix_web::Resource {
    super::scim_resource("/Bulk")
        .app_data(web::Data::new(BodyLimit(config.bulk_max_bytes, "bulk.maxPayloadSize")))
        .route(web::post().to(bulk))
        .default_service(super::method_not_allowed("POST"))
}

async fn bulk(state: web::Data<AppState>, caller: Caller, body: ScimJson) -> ScimResult<HttpResponse> {
    let request = parse_bulk_request(&body.0, state.config.bulk_max_operations)?;
    let directory = state.directory.clone();
    let results = blocking(move || directory.bulk(&caller, &request)).await?;
    Ok(ok_json(&bulk_response(&results)))
}
