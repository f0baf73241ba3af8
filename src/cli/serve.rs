//! `scimd serve`: open (and migrate) the database, make sure a token exists, run the HTTP server.

use crate::http::{self, AppState, ServerConfig};
use crate::jwt::JwtVerifier;
use crate::store::tokens as token_rows;
use crate::tokens;
use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnknownAttributes {
    Reject,
    Ignore,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SCIMD_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Public base URL of the SCIM API as clients reach it, e.g. https://scim.example.com/scim/v2. Used for
    /// meta.location and Location headers. Default: http://<bound address><path prefix>.
    #[arg(long, env = "SCIMD_BASE_URL")]
    pub base_url: Option<String>,
    /// Path under which the SCIM endpoints are served.
    #[arg(long, env = "SCIMD_PATH_PREFIX", default_value = "/scim/v2")]
    pub path_prefix: String,
    /// Serve /ServiceProviderConfig, /Schemas and /ResourceTypes without a token.
    #[arg(long, env = "SCIMD_PUBLIC_DISCOVERY")]
    pub public_discovery: bool,
    /// Largest accepted request body in bytes (larger: 413).
    #[arg(long, env = "SCIMD_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Most resources returned in one list page (filter.maxResults).
    #[arg(long, env = "SCIMD_MAX_RESULTS", default_value_t = 1000)]
    pub max_results: usize,
    /// Accept JWT access tokens issued by this issuer (`iss`), besides API tokens. Needs --jwt-audience and
    /// --jwt-key-file.
    #[arg(long, env = "SCIMD_JWT_ISSUER", requires_all = ["jwt_audience", "jwt_key_file"])]
    pub jwt_issuer: Option<String>,
    /// Required `aud` of JWT access tokens.
    #[arg(long, env = "SCIMD_JWT_AUDIENCE", requires = "jwt_issuer")]
    pub jwt_audience: Option<String>,
    /// The issuer's public key in PEM (RSA: RS256, EC P-256: ES256), or a file holding an HS256 shared secret.
    #[arg(long, env = "SCIMD_JWT_KEY_FILE", requires = "jwt_issuer")]
    pub jwt_key_file: Option<std::path::PathBuf>,
    /// Lifetime of the OAuth access tokens issued at /oauth/token, from 1h to 6h.
    #[arg(long, env = "SCIMD_OAUTH_TOKEN_LIFETIME", default_value = crate::oauth::DEFAULT_LIFETIME)]
    pub oauth_token_lifetime: String,
    /// Seconds an RFC 9865 cursor (nextCursor/previousCursor) stays valid.
    #[arg(long, env = "SCIMD_CURSOR_TIMEOUT", default_value_t = 3600)]
    pub cursor_timeout: u32,
    /// Most operations in one /Bulk request (bulk.maxOperations).
    #[arg(long, env = "SCIMD_BULK_MAX_OPERATIONS", default_value_t = 1000)]
    pub bulk_max_operations: usize,
    /// Largest /Bulk request body in bytes (bulk.maxPayloadSize).
    #[arg(long, env = "SCIMD_BULK_MAX_BYTES", default_value_t = 4 << 20)]
    pub bulk_max_bytes: usize,
    /// What to do with an attribute or schema no schema declares: refuse the resource (400 naming it), or drop
    /// the attribute and log it once (so a push never fails on an attribute nobody declared).
    #[arg(long, env = "SCIMD_UNKNOWN_ATTRIBUTES", value_enum, default_value_t = UnknownAttributes::Reject)]
    pub unknown_attributes: UnknownAttributes,
    /// Serve HTTPS with this certificate chain (PEM; reloaded when the file changes or on SIGHUP). Needs
    /// --tls-key.
    #[arg(long, env = "SCIMD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1). Needs --tls-cert.
    #[arg(long, env = "SCIMD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (off by default; no authentication there, so bind it to
    /// a private address, e.g. 127.0.0.1:9100).
    #[arg(long, env = "SCIMD_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// Seconds a client may take to send a request's head (request line and headers); then 408.
    #[arg(long, env = "SCIMD_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a client may take to send a request's body; then 408.
    #[arg(long, env = "SCIMD_BODY_TIMEOUT", default_value_t = 30)]
    pub body_timeout: u64,
    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, env = "SCIMD_KEEP_ALIVE", default_value_t = 15)]
    pub keep_alive: u64,
    /// Seconds a streamed response waits for a client that stopped reading; then it is abandoned.
    #[arg(long, env = "SCIMD_SEND_TIMEOUT", default_value_t = 60)]
    pub send_timeout: u64,
    /// Seconds a request waits for a read connection when all are busy; then 503 with Retry-After.
    #[arg(long, env = "SCIMD_POOL_WAIT", default_value_t = 1)]
    pub pool_wait: u64,
    /// Most client connections served at once (more wait until one closes).
    #[arg(long, env = "SCIMD_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Failed authentications from one client address, within --auth-failure-window, after which further
    /// failures from it are answered 429 with Retry-After (valid credentials are always served).
    #[arg(long, env = "SCIMD_AUTH_FAILURE_LIMIT", default_value_t = 20)]
    pub auth_failure_limit: u32,
    /// Seconds over which failed authentications are counted.
    #[arg(long, env = "SCIMD_AUTH_FAILURE_WINDOW", default_value_t = 60)]
    pub auth_failure_window: u64,
    /// Read connections in the database pool.
    #[arg(long, env = "SCIMD_READ_CONNECTIONS", default_value_t = 4)]
    pub read_connections: u32,
}

fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

fn jwt_verifier(args: &ServeArgs) -> Result<Option<JwtVerifier>, String> {
    crate::jwt::self_test()?;
    match (&args.jwt_issuer, &args.jwt_audience, &args.jwt_key_file) {
        (Some(issuer), Some(audience), Some(path)) => {
            let key = std::fs::read(path).map_err(|e| format!("cannot read JWT key {}: {e}", path.display()))?;
            JwtVerifier::new(issuer, audience, &key).map(Some)
        }
        _ => Ok(None),
    }
}

/// `--oauth-token-lifetime`, within the bounds Microsoft's gallery asks for.
fn token_lifetime(text: &str) -> Result<std::time::Duration, String> {
    let lifetime = tokens::parse_duration(text)?.to_std().map_err(|_| format!("invalid duration \"{text}\""))?;
    let (min, max) = (crate::oauth::MIN_LIFETIME, crate::oauth::MAX_LIFETIME);
    if lifetime < min || lifetime > max {
        return Err(format!(
            "--oauth-token-lifetime {text} is out of range: access tokens live from {} to {} hours",
            min.as_secs() / 3600,
            max.as_secs() / 3600
        ));
    }
    Ok(lifetime)
}

pub fn run(database: &str, args: ServeArgs) -> Result<(), String> {
    let jwt = jwt_verifier(&args)?;
    let oauth_token_lifetime = token_lifetime(&args.oauth_token_lifetime)?;
    // Checked before anything else starts: a bad certificate or key stops `serve` with one line naming it.
    let certificate = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::http::tls::ReloadingCert::load(cert, key)?),
        _ => None,
    };
    let tls = certificate.as_ref().map(|c| c.server_config()).transpose()?;
    let store = crate::store::Store::open(
        database,
        &crate::store::StoreOptions {
            read_connections: args.read_connections,
            pool_wait: std::time::Duration::from_secs(args.pool_wait.max(1)),
            ..Default::default()
        },
    )?;
    // First start on an empty database: mint a token so a newcomer can paste URL and token into the IdP.
    let minted = if store.read(token_rows::any_usable).map_err(|e| e.detail)? {
        None
    } else {
        Some(tokens::create(&store, "default", None, tokens::Scope::ReadWrite).map_err(|e| e.detail)?)
    };
    let path_prefix = normalize_prefix(&args.path_prefix);
    let mut config = ServerConfig {
        base_url: String::new(),
        path_prefix,
        public_discovery: args.public_discovery,
        max_body_bytes: args.max_body_bytes,
        max_results: args.max_results.max(1),
        cursor_timeout_secs: i64::from(args.cursor_timeout.max(1)),
        bulk_max_operations: args.bulk_max_operations.max(1),
        bulk_max_bytes: args.bulk_max_bytes.max(1),
        limits: http::Limits {
            header_timeout: std::time::Duration::from_secs(args.header_timeout.max(1)),
            body_timeout: std::time::Duration::from_secs(args.body_timeout.max(1)),
            keep_alive: std::time::Duration::from_secs(args.keep_alive.max(1)),
            max_connections: args.max_connections.max(1),
            send_timeout: std::time::Duration::from_secs(args.send_timeout.max(1)),
        },
        auth_failure_limit: args.auth_failure_limit.max(1),
        auth_failure_window: std::time::Duration::from_secs(args.auth_failure_window.max(1)),
        oauth_token_lifetime,
    };
    // The key that signs OAuth access tokens: made on first start, shared by every process on this database.
    crate::oauth::keys::ensure_signing_key(&store).map_err(|e| e.detail)?;
    let cursor_key = store.server_key("cursor").map_err(|e| e.detail)?;
    let cursor_key = hex::decode(cursor_key).map_err(|e| format!("the database's cursor key is damaged: {e}"))?;
    let ignore_unknown = args.unknown_attributes == UnknownAttributes::Ignore;
    let schemas = crate::directory::SchemaRegistry::open(store.clone(), ignore_unknown)?;
    schemas.watch(crate::directory::schemas::REFRESH_INTERVAL)?;
    let explicit_base = args.base_url.as_deref().map(|b| b.trim_end_matches('/').to_string());
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        // Bind first: with port 0 the default base URL needs the port actually chosen.
        let listener =
            std::net::TcpListener::bind(&args.bind).map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        config.base_url = explicit_base.unwrap_or_else(|| format!("{scheme}://{addr}{}", config.path_prefix));
        let state = AppState::new(store.clone(), config.clone(), jwt, &cursor_key, schemas);
        let (server, addrs) = http::serve(state, listener, tls).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        http::shutdown_on_signals(&server, certificate.clone())
            .map_err(|e| format!("cannot install signal handlers: {e}"))?;
        if let Some(cert) = &certificate {
            cert.watch(crate::http::tls::RELOAD_INTERVAL)?;
        }
        if let Some(bind) = &args.metrics_bind {
            let listener =
                std::net::TcpListener::bind(bind).map_err(|e| format!("cannot listen on {bind} for metrics: {e}"))?;
            let (metrics, addrs) = http::serve_metrics(listener, store.clone())
                .map_err(|e| format!("cannot serve metrics on {bind}: {e}"))?;
            for a in &addrs {
                println!("metrics at http://{a}/metrics");
            }
            actix_web::rt::spawn(metrics);
        }
        if let Some(m) = minted {
            println!("API token (shown once): {}", m.secret.expose());
        }
        println!("SCIM base URL: {}", config.base_url);
        for a in &addrs {
            println!("scimd listening on {scheme}://{a}");
        }
        let shown = crate::store::url::DatabaseUrl::parse(database).map(|u| u.to_string()).unwrap_or_default();
        log::info!("serving SCIM at {} (database {shown})", config.base_url);
        server.await.map_err(|e| format!("server error: {e}"))?;
        // Leave a compact database file behind: everything in the main file, an empty WAL.
        if let Err(e) = store.checkpoint() {
            log::warn!("final checkpoint failed: {e}");
        }
        Ok(())
    })
}
