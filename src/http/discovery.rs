//! GET /ServiceProviderConfig, /Schemas[/{urn}], /ResourceTypes[/{name}] (RFC 7644 §4).

use super::{ok_json, AppState};
use crate::scim::discovery::{service_provider_config, Capabilities};
use crate::scim::error::ScimError;
use crate::scim::list::list_response;
use actix_web::{web, HttpResponse};
use serde_json::Value;

/// Discovery is read-only: GET and HEAD; any other method is 405 with `Allow` (RFC 7644 §4).
fn read_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    super::scim_resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(super::method_not_allowed("GET, HEAD"))
}

/// The discovery route group (RFC 7644 §4), relative to the SCIM base. Registered from this list, and
/// `--public-discovery` opens exactly these routes to anonymous callers (`is_discovery_route`).
const ROUTES: [&str; 5] =
    ["/ServiceProviderConfig", "/Schemas", "/Schemas/{urn}", "/ResourceTypes", "/ResourceTypes/{name}"];

pub fn routes(cfg: &mut web::ServiceConfig) {
    let [service_provider_path, schemas_path, schema_path, resource_types_path, resource_type_path] = ROUTES;
    cfg.service(read_only(service_provider_path, service_provider))
        .service(read_only(schemas_path, schemas))
        .service(read_only(schema_path, schema))
        .service(read_only(resource_types_path, resource_types))
        .service(read_only(resource_type_path, resource_type));
}

/// Whether `path_in_scope` (the request path after the SCIM base) is one of the discovery routes, matched
/// the way the router matches them.
pub fn is_discovery_route(path_in_scope: &str) -> bool {
    use std::sync::OnceLock;
    static DEFS: OnceLock<Vec<actix_web::dev::ResourceDef>> = OnceLock::new();
    DEFS.get_or_init(|| ROUTES.iter().map(|r| actix_web::dev::ResourceDef::new(*r)).collect())
        .iter()
        .any(|d| d.is_match(path_in_scope))
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
    let c = &state.config;
    let caps = Capabilities {
        max_results: c.max_results,
        bulk_max_operations: c.bulk_max_operations,
        bulk_max_payload_size: c.bulk_max_bytes,
        cursor_timeout_secs: c.cursor_timeout_secs,
    };
    ok_json(&service_provider_config(&caps, &format!("{}/ServiceProviderConfig", state.config.base_url)))
}

async fn schemas(state: web::Data<AppState>) -> HttpResponse {
    let sc = state.directory.schemas();
    let docs: Vec<Value> = sc.all_schemas().iter().map(|s| with_location(&state, s.json.clone())).collect();
    ok_json(&list_response(docs.len(), 1, docs))
}

async fn schema(state: web::Data<AppState>, urn: web::Path<String>) -> Result<HttpResponse, ScimError> {
    let sc = state.directory.schemas();
    let schema = sc.schema(&urn).ok_or_else(|| ScimError::not_found(format!("no schema \"{urn}\"")))?;
    Ok(ok_json(&with_location(&state, schema.json.clone())))
}

async fn resource_types(state: web::Data<AppState>) -> HttpResponse {
    let sc = state.directory.schemas();
    let docs: Vec<Value> = sc.all_resource_types().iter().map(|r| with_location(&state, r.json.clone())).collect();
    ok_json(&list_response(docs.len(), 1, docs))
}

async fn resource_type(state: web::Data<AppState>, name: web::Path<String>) -> Result<HttpResponse, ScimError> {
    let sc = state.directory.schemas();
    let rt = sc.resource_type(&name).ok_or_else(|| ScimError::not_found(format!("no resource type \"{name}\"")))?;
    Ok(ok_json(&with_location(&state, rt.json.clone())))
}
