//! GET /ServiceProviderConfig, /Schemas[/{urn}], /ResourceTypes[/{name}] (RFC 7644 §4).

use super::{ok_json, AppState};
use crate::scim::discovery::{service_provider_config, Capabilities};
use crate::scim::error::ScimError;
use crate::scim::list::list_response;
use crate::scim::schema::Schemas;
use actix_web::{web, HttpResponse};
use serde_json::Value;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ServiceProviderConfig", web::get().to(service_provider))
        .route("/Schemas", web::get().to(schemas))
        .route("/Schemas/{urn}", web::get().to(schema))
        .route("/ResourceTypes", web::get().to(resource_types))
        .route("/ResourceTypes/{name}", web::get().to(resource_type));
}

/// The embedded JSON carries relative locations (`/Schemas/<urn>`); serve them absolute.
fn with_location(state: &AppState, mut doc: Value) -> Value {
    if let Some(loc) = doc.pointer("/meta/location").and_then(Value::as_str) {
        let absolute = format!("{}{}", state.config.base_url, loc);
        doc["meta"]["location"] = Value::String(absolute);
    }
    doc
}

async fn service_provider(state: web::Data<AppState>) -> HttpResponse {
    let caps = Capabilities { max_results: state.config.max_results, max_payload_size: state.config.max_body_bytes };
    ok_json(&service_provider_config(&caps, &format!("{}/ServiceProviderConfig", state.config.base_url)))
}

async fn schemas(state: web::Data<AppState>) -> HttpResponse {
    let docs: Vec<Value> =
        Schemas::embedded().all_schemas().iter().map(|s| with_location(&state, s.json.clone())).collect();
    ok_json(&list_response(docs.len(), 1, docs))
}

async fn schema(state: web::Data<AppState>, urn: web::Path<String>) -> Result<HttpResponse, ScimError> {
    let schema =
        Schemas::embedded().schema(&urn).ok_or_else(|| ScimError::not_found(format!("no schema \"{urn}\"")))?;
    Ok(ok_json(&with_location(&state, schema.json.clone())))
}

async fn resource_types(state: web::Data<AppState>) -> HttpResponse {
    let docs: Vec<Value> =
        Schemas::embedded().all_resource_types().iter().map(|r| with_location(&state, r.json.clone())).collect();
    ok_json(&list_response(docs.len(), 1, docs))
}

async fn resource_type(state: web::Data<AppState>, name: web::Path<String>) -> Result<HttpResponse, ScimError> {
    let rt = Schemas::embedded()
        .resource_type(&name)
        .ok_or_else(|| ScimError::not_found(format!("no resource type \"{name}\"")))?;
    Ok(ok_json(&with_location(&state, rt.json.clone())))
}
