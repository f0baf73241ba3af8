//! /Users and /Groups (RFC 7644 §3.3–§3.6): parse, call the directory, render.

use super::auth::Caller;
use super::body::ScimJson;
use super::error::SCIM_CONTENT_TYPE;
use super::{blocking, scim_response, AppState};
use crate::directory::{BodyPart, Kind, Rendered};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::list::ListQuery;
use crate::scim::meta::{etag, etag_matches};
use crate::scim::schema::AttrSelection;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::scim_resource("/.search")
            .route(web::post().to(root_search))
            .default_service(super::method_not_allowed("POST")),
    );
    for kind in [Kind::User, Kind::Group] {
        let base = format!("/{}", kind.endpoint());
        cfg.service(
            super::scim_resource(&base)
                .route(web::get().to(move |s, r| list(kind, s, r)))
                .route(web::head().to(move |s, r| list(kind, s, r)))
                .route(web::post().to(move |s, r, c, b| create(kind, s, r, c, b)))
                .default_service(super::method_not_allowed("GET, HEAD, POST")),
        )
        .service(
            super::scim_resource(&format!("{base}/.search"))
                .route(web::post().to(move |s, r, b| search(kind, s, r, b)))
                .default_service(super::method_not_allowed("POST")),
        )
        .service(
            super::scim_resource(&format!("{base}/{{id}}"))
                .route(web::get().to(move |s, r, p| get(kind, s, r, p)))
                .route(web::head().to(move |s, r, p| get(kind, s, r, p)))
                .route(web::put().to(move |s, r, c, p, b| replace(kind, s, r, c, p, b)))
                .route(web::patch().to(move |s, r, c, p, b| patch(kind, s, r, c, p, b)))
                .route(web::delete().to(move |s, r, c, p| delete(kind, s, r, c, p)))
                .default_service(super::method_not_allowed("GET, HEAD, PUT, PATCH, DELETE")),
        );
    }
}

fn query_pairs(req: &HttpRequest) -> ScimResult<Vec<(String, String)>> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .map_err(|e| ScimError::invalid_value(format!("malformed query string: {e}")))
}

/// `attributes` / `excludedAttributes` from the query string (RFC 7644 §3.9), if any was given.
fn selection(req: &HttpRequest) -> ScimResult<Option<AttrSelection>> {
    let pairs = query_pairs(req)?;
    let find = |name: &str| pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let (attributes, excluded) = (find("attributes"), find("excludedAttributes"));
    if attributes.is_none() && excluded.is_none() {
        return Ok(None);
    }
    AttrSelection::parse(attributes, excluded).map(Some)
}

fn header_value(req: &HttpRequest, name: header::HeaderName) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// RFC 7644 §3.14: single-resource responses carry the version as an ETag.
fn with_etag(mut response: HttpResponse, version: i64) -> HttpResponse {
    if let Ok(value) = header::HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

fn resource_response(status: StatusCode, rendered: &Rendered) -> HttpResponse {
    with_etag(scim_response(status, &rendered.body), rendered.version)
}

async fn list(kind: Kind, state: web::Data<AppState>, req: HttpRequest) -> ScimResult<HttpResponse> {
    let query = ListQuery::from_query_pairs(&query_pairs(&req)?, state.config.max_results)?;
    run_list(&[kind], state, query).await
}

async fn search(kind: Kind, state: web::Data<AppState>, _req: HttpRequest, body: ScimJson) -> ScimResult<HttpResponse> {
    let query = ListQuery::from_search_request(&body.0, state.config.max_results)?;
    run_list(&[kind], state, query).await
}

/// `POST /.search` (RFC 7644 §3.4.3): Users and Groups in one listing, each with its own `schemas`.
pub async fn root_search(state: web::Data<AppState>, body: ScimJson) -> ScimResult<HttpResponse> {
    let query = ListQuery::from_search_request(&body.0, state.config.max_results)?;
    run_list(&[Kind::User, Kind::Group], state, query).await
}

async fn run_list(kinds: &[Kind], state: web::Data<AppState>, query: ListQuery) -> ScimResult<HttpResponse> {
    let directory = state.directory.clone();
    let kinds = kinds.to_vec();
    let send_timeout = state.config.limits.send_timeout;
    let (_, body) = streamed(send_timeout, move |emit| directory.list_streamed(&kinds, &query, emit)).await?;
    Ok(HttpResponse::Ok().insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE)).streaming(body))
}

type Producer = Box<dyn FnOnce(&mut dyn FnMut(BodyPart) -> bool) -> ScimResult<()> + Send>;

/// Runs a body producer on a blocking thread; a bounded channel hands its parts to the response stream, so
/// a large body flows out as it is read (with backpressure). Returns the `Start` part's version and the
/// stream of the rest; an error before `Start` (404, bad filter, …) is returned as such.
async fn streamed(
    send_timeout: Duration,
    producer: impl FnOnce(&mut dyn FnMut(BodyPart) -> bool) -> ScimResult<()> + Send + 'static,
) -> ScimResult<(i64, impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>>)> {
    let producer: Producer = Box::new(producer);
    let (parts, received) = std::sync::mpsc::sync_channel::<ScimResult<BodyPart>>(4);
    actix_web::rt::spawn(web::block(move || {
        if let Err(e) = producer(&mut |part| send_within(&parts, Ok(part), send_timeout)) {
            let _ = send_within(&parts, Err(e), send_timeout);
        }
    }));
    let received = Arc::new(Mutex::new(received));
    let version = match next_part(&received).await {
        Some(Ok(BodyPart::Start { version })) => version,
        Some(Err(e)) => return Err(e),
        _ => return Err(ScimError::internal("response body ended before it started")),
    };
    let body = futures_util::stream::unfold(received, |received| async move {
        match next_part(&received).await {
            Some(Ok(BodyPart::Bytes(bytes))) => Some((Ok(web::Bytes::from(bytes)), received)),
            // A failure after the head was sent can only cut the response short; the client sees a broken body.
            Some(Err(e)) => Some((Err(actix_web::error::ErrorInternalServerError(e.detail)), received)),
            _ => None,
        }
    });
    Ok((version, body))
}

/// Hands a part to the response stream, waiting at most `timeout` for a client that stopped reading; then the
/// response is abandoned (the producer stops, the connection ends) rather than holding a thread for ever.
fn send_within(parts: &SyncSender<ScimResult<BodyPart>>, part: ScimResult<BodyPart>, timeout: Duration) -> bool {
    let started = Instant::now();
    let mut part = part;
    // Short naps while the client keeps up, longer ones (up to 50 ms) while it stalls.
    let mut nap = Duration::from_millis(1);
    loop {
        match parts.try_send(part) {
            Ok(()) => return true,
            Err(TrySendError::Disconnected(_)) => return false,
            Err(TrySendError::Full(back)) => {
                if started.elapsed() >= timeout {
                    log::warn!("a client stopped reading its response for {} s: response abandoned", timeout.as_secs());
                    return false;
                }
                part = back;
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(50));
            }
        }
    }
}

/// The next part from the producer: at once when it is already there (a small body usually is), else
/// waited for off the async executor.
async fn next_part(received: &Arc<Mutex<Receiver<ScimResult<BodyPart>>>>) -> Option<ScimResult<BodyPart>> {
    match received.lock().ok()?.try_recv() {
        Ok(part) => return Some(part),
        Err(TryRecvError::Disconnected) => return None,
        Err(TryRecvError::Empty) => {}
    }
    let received = received.clone();
    web::block(move || received.lock().ok()?.recv().ok()).await.ok().flatten()
}

async fn create(
    kind: Kind,
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: ScimJson,
) -> ScimResult<HttpResponse> {
    let sel = selection(&req)?.unwrap_or_default();
    let directory = state.directory.clone();
    let rendered = blocking(move || directory.create(&caller, kind, &body.0, &sel)).await?;
    let mut response = resource_response(StatusCode::CREATED, &rendered);
    let location = state.directory.location(kind, &rendered.id);
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn get(
    kind: Kind,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> ScimResult<HttpResponse> {
    let sel = selection(&req)?.unwrap_or_default();
    let directory = state.directory.clone();
    let id = id.into_inner();
    let send_timeout = state.config.limits.send_timeout;
    let (version, body) = streamed(send_timeout, move |emit| directory.get_streamed(kind, &id, &sel, emit)).await?;
    // RFC 7644 §3.14: a client holding the current version gets 304 Not Modified.
    if header_value(&req, header::IF_NONE_MATCH).is_some_and(|h| etag_matches(&h, version)) {
        return Ok(with_etag(HttpResponse::NotModified().finish(), version));
    }
    let response = HttpResponse::Ok().insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE)).streaming(body);
    Ok(with_etag(response, version))
}

async fn replace(
    kind: Kind,
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    body: ScimJson,
) -> ScimResult<HttpResponse> {
    let sel = selection(&req)?.unwrap_or_default();
    let if_match = header_value(&req, header::IF_MATCH);
    let directory = state.directory.clone();
    let id = id.into_inner();
    let rendered = blocking(move || directory.replace(&caller, kind, &id, &body.0, if_match.as_deref(), &sel)).await?;
    Ok(resource_response(StatusCode::OK, &rendered))
}

async fn patch(
    kind: Kind,
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    body: ScimJson,
) -> ScimResult<HttpResponse> {
    // A User PATCH answers 200 with the user (validators fail a 204). A Group PATCH answers 204 unless the
    // client asks for a representation with attributes/excludedAttributes (RFC 7644 §3.5.2): echoing a
    // large membership on every change is what makes group sync slow.
    let sel = match (kind, selection(&req)?) {
        (Kind::User, sel) => Some(sel.unwrap_or_default()),
        (Kind::Group, sel) => sel,
    };
    let if_match = header_value(&req, header::IF_MATCH);
    let directory = state.directory.clone();
    let id = id.into_inner();
    let patched =
        blocking(move || directory.patch(&caller, kind, &id, &body.0, if_match.as_deref(), sel.as_ref())).await?;
    Ok(match patched.rendered {
        Some(rendered) => resource_response(StatusCode::OK, &rendered),
        None => with_etag(HttpResponse::NoContent().finish(), patched.version),
    })
}

async fn delete(
    kind: Kind,
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
) -> ScimResult<HttpResponse> {
    let if_match = header_value(&req, header::IF_MATCH);
    let directory = state.directory.clone();
    let id = id.into_inner();
    blocking(move || directory.delete(&caller, kind, &id, if_match.as_deref())).await?;
    Ok(HttpResponse::NoContent().finish())
}
