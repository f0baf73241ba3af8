//! Prometheus metrics (OpenMetrics text, via the `prometheus-client` crate), recorded by the HTTP layer and
//! the store, served by `serve --metrics-bind` on an address of its own. Labels never carry a resource id or a
//! credential: routes are templates (`/scim/v2/Users/{id}`), failures are reasons.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

/// Why a request was refused authentication.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum AuthFailure {
    /// No Authorization header, or an empty one.
    Missing,
    /// A scheme other than Bearer, or no credential after it.
    Malformed,
    /// Not a token this server issued.
    Unknown,
    Revoked,
    Expired,
    /// A JWT that does not verify (signature, issuer, audience, expiry).
    InvalidJwt,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: AuthFailure,
}

/// How a token request (`POST /oauth/token`) ended: `issued`, or its RFC 6749 error code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub token_requests: Family<OutcomeLabels, Counter>,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub auth_failures: Family<ReasonLabels, Counter>,
    /// Writers waiting for the single writer right now.
    pub write_queue: Gauge,
    /// Writes committed together by one group commit.
    pub commit_batch: Histogram,
    /// Seconds spent waiting for a read connection.
    pub read_pool_wait: Histogram,
    /// Bytes of the database file and its WAL, measured at each scrape.
    pub database_bytes: Gauge,
}

fn build() -> Metrics {
    let mut registry = Registry::with_prefix("scimd");
    let requests = Family::<RequestLabels, Counter>::default();
    registry.register("http_requests", "HTTP requests by route template, method and status", requests.clone());
    let latency =
        Family::<RouteLabels, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 16)));
    registry.register("http_request_duration_seconds", "Time to answer a request", latency.clone());
    let auth_failures = Family::<ReasonLabels, Counter>::default();
    registry.register("auth_failures", "Requests refused authentication, by reason", auth_failures.clone());
    let token_requests = Family::<OutcomeLabels, Counter>::default();
    registry.register("oauth_token_requests", "Token requests at /oauth/token, by outcome", token_requests.clone());
    let write_queue = Gauge::default();
    registry.register("write_queue_depth", "Writers waiting for the database writer", write_queue.clone());
    let commit_batch = Histogram::new(exponential_buckets(1.0, 2.0, 12));
    registry.register("group_commit_batch_size", "Writes committed together by one COMMIT", commit_batch.clone());
    let read_pool_wait = Histogram::new(exponential_buckets(0.00001, 4.0, 12));
    registry.register("read_pool_wait_seconds", "Time waiting for a read connection", read_pool_wait.clone());
    let database_bytes = Gauge::default();
    registry.register("database_size_bytes", "Database file plus write-ahead log, in bytes", database_bytes.clone());
    Metrics {
        registry,
        token_requests,
        requests,
        latency,
        auth_failures,
        write_queue,
        commit_batch,
        read_pool_wait,
        database_bytes,
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(build)
}

/// The exposition text, with the database size measured now (see `Store::size_bytes`).
pub fn encode(database_bytes: Option<u64>) -> Result<String, std::fmt::Error> {
    let m = metrics();
    if let Some(bytes) = database_bytes {
        m.database_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &m.registry)?;
    Ok(text)
}
