//! HTTP: routes, extractors, authentication and response rendering (actix-web).

mod auth;
pub mod body;
mod bulk;
mod discovery;
pub mod error;
mod health;
mod oauth;
pub mod observe;
mod resources;
pub mod throttle;
pub mod tls;

use crate::directory::{Directory, SchemaRegistry};
use crate::jwt::JwtVerifier;
use crate::scim::cursor::CursorCodec;
use crate::scim::error::{ScimError, ScimResult};
use crate::store::Store;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpResponse, HttpServer, ResponseError};
use body::BodyLimit;
use error::SCIM_CONTENT_TYPE;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

/// Server settings shared by every handler.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Public base URL of the SCIM API, without a trailing slash (e.g. `https://scim.example.com/scim/v2`).
    /// Used for `meta.location` and `Location`; never derived from the request's Host header.
    pub base_url: String,
    /// Path prefix the SCIM endpoints are mounted under (e.g. `/scim/v2`; empty for the root).
    pub path_prefix: String,
    pub public_discovery: bool,
    pub max_body_bytes: usize,
    /// RFC 7644 §3.4.2.4: the most resources one list page returns (advertised as filter.maxResults).
    pub max_results: usize,
    /// RFC 9865: seconds a cursor stays valid (advertised as pagination.cursorTimeout).
    pub cursor_timeout_secs: i64,
    /// RFC 7644 §3.7: most operations in one bulk request (bulk.maxOperations).
    pub bulk_max_operations: usize,
    /// RFC 7644 §3.7: largest bulk request body in bytes (bulk.maxPayloadSize).
    pub bulk_max_bytes: usize,
    /// Limits that keep slow or idle clients from holding the server (see `Limits`).
    pub limits: Limits,
    /// Failed authentications per client address within `auth_failure_window` before 429.
    pub auth_failure_limit: u32,
    pub auth_failure_window: std::time::Duration,
    /// Lifetime of the access tokens `/oauth/token` issues (1 to 6 hours).
    pub oauth_token_lifetime: std::time::Duration,
}

impl ServerConfig {
    /// The server's own URL: the base URL without the SCIM path prefix (`https://scim.example.com` for
    /// `https://scim.example.com/scim/v2`). The OAuth issuer, and where `/oauth/token` and `/.well-known/…` are.
    pub fn server_url(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        match base.strip_suffix(self.path_prefix.as_str()) {
            Some(root) if !self.path_prefix.is_empty() => root.to_string(),
            _ => base.to_string(),
        }
    }
}

/// Connection limits and timeouts: a client that sends slowly (slowloris), idles, or opens too many
/// connections holds nothing for long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to receive a request's head (request line and headers); then 408 and the connection closes.
    pub header_timeout: std::time::Duration,
    /// Time to receive a request's body once its head arrived; then 408.
    pub body_timeout: std::time::Duration,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive: std::time::Duration,
    /// Most connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// How long a streamed response waits for a client that stopped reading before it is abandoned.
    pub send_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(30),
            keep_alive: std::time::Duration::from_secs(15),
            max_connections: 1024,
            send_timeout: std::time::Duration::from_secs(60),
        }
    }
}

pub struct AppState {
    pub store: Store,
    pub directory: Directory,
    pub config: ServerConfig,
    /// Set when an OAuth issuer is configured: JWT access tokens are then accepted besides API tokens.
    pub jwt: Option<JwtVerifier>,
    /// Slows repeated failed authentication per client address.
    pub throttle: throttle::Throttle,
    /// Slows repeated failed token requests per OAuth client id.
    pub client_throttle: throttle::Throttle<String>,
    /// The authorization server: issues and verifies OAuth access tokens.
    pub oauth: crate::oauth::AuthorizationServer,
}

impl AppState {
    /// `cursor_key` signs RFC 9865 cursors (the database's `cursor` server key); `schemas` are the schemas in
    /// force, admin-defined extensions included.
    pub fn new(
        store: Store,
        config: ServerConfig,
        jwt: Option<JwtVerifier>,
        cursor_key: &[u8],
        schemas: Arc<SchemaRegistry>,
    ) -> Self {
        let cursors = CursorCodec::new(cursor_key, config.cursor_timeout_secs);
        let directory = Directory::new(store.clone(), &config.base_url, cursors, schemas);
        let throttle = throttle::Throttle::new(config.auth_failure_limit, config.auth_failure_window);
        let client_throttle = throttle::Throttle::<String>::new(config.auth_failure_limit, config.auth_failure_window);
        let settings = crate::oauth::Settings {
            issuer: config.server_url(),
            audience: config.base_url.clone(),
            lifetime: config.oauth_token_lifetime,
        };
        let oauth = crate::oauth::AuthorizationServer::new(store.clone(), settings);
        AppState { store, directory, config, jwt, throttle, client_throttle, oauth }
    }
}

/// Runs blocking store work off the async executor threads.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> ScimResult<T> + Send + 'static) -> ScimResult<T> {
    web::block(f).await.map_err(ScimError::internal)?
}

pub fn scim_response(status: actix_web::http::StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE)).body(body.to_string())
}

pub fn ok_json(body: &Value) -> HttpResponse {
    scim_response(actix_web::http::StatusCode::OK, body)
}

async fn not_found() -> Result<HttpResponse, ScimError> {
    Err(ScimError::not_found("no such endpoint"))
}

/// A 405 for the methods an endpoint lacks, with the `Allow` header RFC 9110 §15.5.6 requires.
fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move || async move {
        let mut response =
            ScimError::new(405, None, format!("method not allowed here; allowed: {allow}")).error_response();
        response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static(allow));
        response
    })
}

/// RFC 7644 §3.11 (/Me): there is no authenticated "me" among provisioned users for an API token.
async fn not_implemented(req: actix_web::HttpRequest) -> Result<HttpResponse, ScimError> {
    let what = req.match_info().get("endpoint").unwrap_or("this endpoint");
    Err(ScimError::not_implemented(format!("/{what} is not supported by this server")))
}

/// The patterns of every resource registered under the SCIM prefix, as `scim_resource` recorded them.
static SCIM_ROUTES: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// A resource under the SCIM prefix. Every SCIM route is made here, so that the route table
/// (`scim_route_patterns`) is the router's own, and tests that walk every route (the read-only scope on every
/// write, 405s) cannot miss a new one.
fn scim_resource(pattern: &str) -> actix_web::Resource {
    if let Ok(mut routes) = SCIM_ROUTES.lock() {
        routes.insert(pattern.to_string());
    }
    web::resource(pattern)
}

/// Every route pattern under the SCIM prefix (relative to it), read from the router as `configure` builds it.
pub fn scim_route_patterns() -> Vec<String> {
    let config = ServerConfig {
        base_url: "http://127.0.0.1/scim/v2".into(),
        path_prefix: "/scim/v2".into(),
        public_discovery: false,
        max_body_bytes: 1 << 20,
        max_results: 1000,
        cursor_timeout_secs: 3600,
        bulk_max_operations: 1000,
        bulk_max_bytes: 4 << 20,
        limits: Limits::default(),
        auth_failure_limit: 20,
        auth_failure_window: std::time::Duration::from_secs(60),
        oauth_token_lifetime: crate::oauth::MIN_LIFETIME,
    };
    // `App::configure` runs the closure at once: building the app registers (and records) every route.
    let _app = App::new().configure(|cfg| configure(cfg, &config));
    SCIM_ROUTES.lock().map(|routes| routes.iter().cloned().collect()).unwrap_or_default()
}

/// Adds the SCIM routes under `config.path_prefix`; every one of them passes through authentication.
pub fn configure(cfg: &mut web::ServiceConfig, config: &ServerConfig) {
    let scope = web::scope(&config.path_prefix)
        .wrap(from_fn(auth::require_token))
        .configure(discovery::routes)
        .configure(resources::routes)
        .service(bulk::resource(config))
        .service(scim_resource("/{endpoint:Me}").to(not_implemented))
        .service(scim_resource("/{endpoint:Me}/{rest:.*}").to(not_implemented))
        .default_service(web::to(not_found));
    cfg.service(scope);
}

async fn add_server_header(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    res.headers_mut().insert(header::SERVER, header::HeaderValue::from_static("scimd"));
    Ok(res)
}

/// Stops `server` gracefully (in-flight requests finish, up to the shutdown timeout) on SIGINT or SIGTERM,
/// and reloads the TLS certificate on SIGHUP. The handlers are installed when this returns, so a signal sent
/// right after start-up is not lost.
pub fn shutdown_on_signals(
    server: &actix_web::dev::Server,
    certificate: Option<Arc<tls::ReloadingCert>>,
) -> std::io::Result<()> {
    use actix_web::rt::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    actix_web::rt::spawn(async move {
        while hangup.recv().await.is_some() {
            match &certificate {
                Some(cert) => {
                    log::info!("SIGHUP: reloading the TLS certificate");
                    cert.reload_and_log(true);
                }
                None => log::info!("SIGHUP: nothing to reload (no --tls-cert)"),
            }
        }
    });
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        futures_util::future::select(Box::pin(terminate.recv()), Box::pin(interrupt.recv())).await;
        log::info!("signal received: shutting down gracefully");
        handle.stop(true).await;
    });
    Ok(())
}

/// Worker threads actix starts (one per core).
fn workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Builds the server on an already bound listener, speaking TLS when `tls` is given. Returns it, not yet
/// awaited, with its addresses.
pub fn serve(
    state: AppState,
    listener: std::net::TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<(actix_web::dev::Server, Vec<SocketAddr>)> {
    let config = state.config.clone();
    let limits = config.limits;
    let state = web::Data::new(state);
    let limit = web::Data::new(BodyLimit(config.max_body_bytes, "--max-body-bytes"));
    let body_timeout = web::Data::new(body::BodyTimeout(limits.body_timeout));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(limit.clone())
            .app_data(body_timeout.clone())
            .wrap(from_fn(add_server_header))
            .wrap(from_fn(observe::observe))
            .configure(health::routes)
            .configure(oauth::routes)
            .configure(|cfg| configure(cfg, &config))
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(10)
    .client_request_timeout(limits.header_timeout)
    .keep_alive(limits.keep_alive)
    // actix counts connections per worker thread.
    .max_connections((limits.max_connections / workers()).max(1))
    // Responses may go out in several writes (streamed members); without TCP_NODELAY the last small write
    // waits ~40 ms for the client's delayed ACK (Nagle).
    .tcp_nodelay(true)
    // Signals are handled by the caller (see `shutdown_on_signals`), installed before it announces readiness.
    .disable_signals();
    let server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config)?,
        None => server.listen(listener)?,
    };
    let addrs = server.addrs();
    Ok((server.run(), addrs))
}

/// The Prometheus endpoint on an address of its own (`serve --metrics-bind`): `GET /metrics`, no
/// authentication (bind it to a private interface), nothing else.
pub fn serve_metrics(
    listener: std::net::TcpListener,
    store: Store,
) -> std::io::Result<(actix_web::dev::Server, Vec<SocketAddr>)> {
    let store = web::Data::new(store);
    let server = HttpServer::new(move || {
        App::new().app_data(store.clone()).service(
            web::resource("/metrics")
                .route(web::get().to(|store: web::Data<Store>| async move {
                    let store = store.clone();
                    let size = web::block(move || store.size_bytes()).await.ok().flatten();
                    match crate::metrics::encode(size) {
                        Ok(text) => HttpResponse::Ok()
                            .insert_header((
                                header::CONTENT_TYPE,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            ))
                            .body(text),
                        Err(e) => ScimError::internal(e).error_response(),
                    }
                }))
                .default_service(method_not_allowed("GET")),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?;
    let addrs = server.addrs();
    Ok((server.run(), addrs))
}
