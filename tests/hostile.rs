//! A hostile-input corpus: hundreds of malformed or adversarial requests across every route, each pinned to
//! the one right answer (status and, for a 400, the RFC 7644 §3.12 `scimType`). Afterwards the database is
//! logically unchanged, row for row, and the server still answers.
//!
//! Cases marked `// BUG:` pin the right answer where the server, when the corpus was written, gave another.
mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// An extension registered before the server starts, for the attribute types the core schemas lack.
const ACME: &str = "urn:ietf:params:scim:schemas:extension:hostile:2.0:User";
const P: &str = "/scim/v2";
const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// The table

/// What a case must get back.
#[derive(Debug, Clone)]
enum Want {
    /// A SCIM error body with this status and `scimType` (none when `None`).
    Error(u16, Option<&'static str>),
    /// A ListResponse with this `totalResults` (hostile input that is nonetheless a valid query).
    Total(i64),
    /// A success without a checked body (read-only requests only).
    Ok(u16),
    /// A BulkResponse whose operations got these statuses and scimTypes, in this order.
    Bulk(Vec<(u16, Option<&'static str>)>),
    /// A request that is not HTTP at all, refused by the HTTP layer before any route: status only.
    Http(u16),
}

fn e400(t: &'static str) -> Want {
    Want::Error(400, Some(t))
}
fn e(status: u16) -> Want {
    Want::Error(status, None)
}

struct Case {
    category: &'static str,
    method: String,
    /// From the origin (`/scim/v2/Users/...`, `/healthz`).
    path: String,
    auth: bool,
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    /// Bytes written to the socket as they are, instead of an HTTP client request.
    wire: Option<Vec<u8>>,
    want: Want,
}

impl Case {
    fn ct(mut self, ct: Option<&str>) -> Self {
        self.content_type = ct.map(str::to_string);
        self
    }
    fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
    fn no_auth(mut self) -> Self {
        self.auth = false;
        self
    }
}

#[derive(Default)]
struct Table {
    cases: Vec<Case>,
    category: &'static str,
}

impl Table {
    fn cat(&mut self, category: &'static str) {
        self.category = category;
    }
    /// A case on `path` under the SCIM prefix (or from the origin when `path` starts with `!`).
    fn add(&mut self, method: &str, path: &str, body: Option<Vec<u8>>, want: Want) -> &mut Case {
        let path = match path.strip_prefix('!') {
            Some(p) => p.to_string(),
            None => format!("{P}{path}"),
        };
        let content_type = body.as_ref().map(|_| SCIM_JSON.to_string());
        self.cases.push(Case {
            category: self.category,
            method: method.to_string(),
            path,
            auth: true,
            content_type,
            headers: vec![],
            body,
            wire: None,
            want,
        });
        self.cases.last_mut().unwrap()
    }
    fn json(&mut self, method: &str, path: &str, body: Value, want: Want) -> &mut Case {
        self.add(method, path, Some(body.to_string().into_bytes()), want)
    }
    fn get(&mut self, path: &str, want: Want) -> &mut Case {
        self.add("GET", path, None, want)
    }
    fn edit(&mut self, f: impl FnOnce(Case) -> Case) {
        let last = self.cases.pop().unwrap();
        self.cases.push(f(last));
    }
    fn wire(&mut self, label_path: &str, bytes: Vec<u8>, want: Want) {
        self.add("RAW", label_path, None, want);
        self.cases.last_mut().unwrap().wire = Some(bytes);
    }
}

/// The route a case hits, for the breakdown.
fn route_of(path: &str) -> String {
    let p = path.split('?').next().unwrap_or("");
    let Some(rest) = p.strip_prefix(P).filter(|r| r.is_empty() || r.starts_with('/')) else {
        return if p == "/healthz" || p == "/readyz" { p.to_string() } else { "(no route)".to_string() };
    };
    let segs: Vec<&str> = rest.trim_start_matches('/').splitn(2, '/').collect();
    match (segs[0], segs.get(1)) {
        ("Users" | "Groups", Some(&".search")) => format!("/{}/.search", segs[0]),
        ("Users" | "Groups" | "Schemas" | "ResourceTypes", Some(_)) => format!("/{}/{{id}}", segs[0]),
        (s, None)
            if ["Users", "Groups", ".search", "Bulk", "ServiceProviderConfig", "Schemas", "ResourceTypes"]
                .contains(&s) =>
        {
            format!("/{s}")
        }
        _ => "(no route)".to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Sending

/// What came back: the harness's response type (status, lower-cased headers, text, JSON).
type Got = Resp;

fn send(agent: &ureq::Agent, origin: &str, token: &str, c: &Case) -> Result<Got, String> {
    if let Some(bytes) = &c.wire {
        return send_wire(origin, bytes);
    }
    let auth = format!("Bearer {token}");
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if c.auth {
        headers.push(("Authorization", &auth));
    }
    if let Some(ct) = &c.content_type {
        headers.push(("Content-Type", ct.as_str()));
    }
    headers.extend(c.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    try_raw(agent, c.method.as_str(), &format!("{origin}{}", c.path), &headers, c.body.as_deref())
}

/// Writes `bytes` to a fresh connection and reads the answer's status line, headers and (Content-Length) body.
fn send_wire(origin: &str, bytes: &[u8]) -> Result<Got, String> {
    let addr = origin.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    s.write_all(bytes).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if buf.is_empty() => return Err(format!("no answer: {e}")),
            Err(_) => break,
        }
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    let end = find(&buf, b"\r\n\r\n").ok_or_else(|| format!("no HTTP head in {:?}", String::from_utf8_lossy(&buf)))?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let text = String::from_utf8_lossy(&buf[end + 4..]).to_string();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Got { status, headers, text, json })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Why `got` is not what the case wants, if it is not.
fn judge(c: &Case, got: &Got) -> Option<String> {
    let scim_error = |status: u16, t: Option<&str>| -> Option<String> {
        if got.status != status {
            return Some(format!("status {} (want {status})", got.status));
        }
        let ct = got.header("content-type").unwrap_or("");
        if !ct.to_ascii_lowercase().starts_with(SCIM_JSON) {
            return Some(format!("Content-Type {ct:?}"));
        }
        let j = &got.json;
        if !j["schemas"].as_array().is_some_and(|s| s.iter().any(|v| v == ERROR_SCHEMA)) {
            return Some("no Error schema".into());
        }
        if j["status"] != json!(status.to_string()) {
            return Some(format!("status field {}", j["status"]));
        }
        if j["detail"].as_str().is_none_or(|d| d.trim().is_empty()) {
            return Some("empty detail".into());
        }
        let have = j["scimType"].as_str();
        if have != t {
            return Some(format!("scimType {have:?} (want {t:?})"));
        }
        None
    };
    match &c.want {
        Want::Error(status, t) => {
            if let Some(why) = scim_error(*status, *t) {
                return Some(why);
            }
            if *status == 405 && got.header("allow").is_none() {
                return Some("405 without Allow".into());
            }
            if *status == 401 && got.header("www-authenticate").is_none() {
                return Some("401 without WWW-Authenticate".into());
            }
            None
        }
        Want::Total(n) => {
            if got.status != 200 {
                return Some(format!("status {} (want 200)", got.status));
            }
            (got.json["totalResults"] != json!(n))
                .then(|| format!("totalResults {} (want {n})", got.json["totalResults"]))
        }
        Want::Ok(status) => (got.status != *status).then(|| format!("status {} (want {status})", got.status)),
        Want::Http(status) => (got.status != *status).then(|| format!("status {} (want {status})", got.status)),
        Want::Bulk(want) => {
            if got.status != 200 || got.json["schemas"] != json!([BULK_RESPONSE]) {
                return Some(format!("status {} (want a 200 BulkResponse)", got.status));
            }
            let have: Vec<(u16, Option<&str>)> = got.json["Operations"]
                .as_array()
                .map(|ops| {
                    ops.iter()
                        .map(|o| {
                            let s = o["status"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
                            (s, o["response"]["scimType"].as_str())
                        })
                        .collect()
                })
                .unwrap_or_default();
            let want: Vec<(u16, Option<&str>)> = want.to_vec();
            (have != want).then(|| format!("operations {have:?} (want {want:?})"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The database, logically

/// Every row of every table, columns `quote()`d (type and bytes preserved), in primary-key order.
fn dump(db: &std::path::Path) -> String {
    use diesel::sql_types::Text;
    use diesel::{Connection, QueryableByName, RunQueryDsl};
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text)]
        line: String,
    }
    let tables = [
        ("users", "seq"),
        ("groups", "seq"),
        ("group_members", "group_id, member_id"),
        ("api_tokens", "id"),
        ("resource_counts", "resource_table"),
        ("server_keys", "name"),
        ("schema_extensions", "urn"),
        ("schema_generation", "id"),
    ];
    let mut c = diesel::sqlite::SqliteConnection::establish(db.to_str().unwrap()).expect("open database");
    let mut out = String::new();
    for (table, order) in tables {
        let cols: Vec<String> =
            diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"))
                .load::<Name>(&mut c)
                .expect("columns")
                .into_iter()
                .map(|n| n.name)
                .filter(|n| !(table == "api_tokens" && n == "last_used"))
                .collect();
        assert!(!cols.is_empty(), "table {table} exists");
        let select = cols.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || '|' || ");
        let rows = diesel::sql_query(format!("SELECT {select} AS line FROM {table} ORDER BY {order}"))
            .load::<Line>(&mut c)
            .expect("rows");
        out.push_str(&format!("== {table} ({})\n", cols.join(", ")));
        for r in rows {
            out.push_str(&r.line);
            out.push('\n');
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Inputs

/// SQL and LIKE metacharacters, quotes and escapes, as they appear inside a filter's string literal.
const META: &[&str] = &[
    "' OR 1=1 --",
    "' OR '1'='1",
    "\\\" OR 1=1 --",
    "%",
    "%%",
    "_",
    "__%",
    "\\\\",
    "\\\\%",
    "\\\"",
    "'; DROP TABLE users; --",
    "*",
    "[",
    ")) OR ((1=1",
];

/// Names that are not attribute names, in the attribute position of a filter.
const BAD_ATTRS: &[&str] = &[
    "userName'",
    "user%Name",
    "userName--",
    "1=1",
    "\"userName\"",
    "userName;DROP",
    "user_name",
    "%",
    "_",
    "userName OR 1",
    "nope",
    "emails..value",
    "name.givenName.x",
    "urn:nope:userName",
    "emails[value eq \"x\"].nope",
];

fn bytes(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

fn search_body(extra: Value) -> Value {
    let mut b = json!({"schemas": [SEARCH_SCHEMA]});
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

/// A user body with `value` put at `path` (`title`, `name.givenName`, `urn:…:User:attr`).
fn user_with(user_name: &str, path: &str, value: Value) -> Value {
    let mut b = json!({"schemas": [USER_SCHEMA, ENTERPRISE, ACME], "userName": user_name});
    set_path(&mut b, path, value);
    b
}

fn set_path(b: &mut Value, path: &str, value: Value) {
    for urn in [ENTERPRISE, ACME] {
        if let Some(attr) = path.strip_prefix(&format!("{urn}:")) {
            if !b[urn].is_object() {
                b[urn] = json!({});
            }
            return set_path(&mut b[urn], attr, value);
        }
    }
    match path.split_once('.') {
        Some((a, sub)) => {
            if !b[a].is_object() {
                b[a] = json!({});
            }
            b[a][sub] = value;
        }
        None => b[path] = value,
    }
}

fn acme_schema() -> Value {
    json!({
        "id": ACME, "name": "Hostile", "description": "every attribute type",
        "attributes": [
            {"name": "code", "type": "string"},
            {"name": "level", "type": "integer"},
            {"name": "ratio", "type": "decimal"},
            {"name": "flag", "type": "boolean"},
            {"name": "since", "type": "dateTime"},
            {"name": "link", "type": "reference", "referenceTypes": ["external"]},
            {"name": "blob", "type": "binary"},
            {"name": "tags", "type": "string", "multiValued": true},
            {"name": "office", "type": "complex", "subAttributes": [
                {"name": "building", "type": "string"}, {"name": "floor", "type": "integer"}]}
        ]
    })
}

// ---------------------------------------------------------------------------------------------
// The corpus

struct Seed {
    uid: String,
    gid: String,
    alice: String,
    token: String,
}

fn corpus(s: &Seed) -> Table {
    let mut t = Table::default();
    let (uid, gid) = (s.uid.as_str(), s.gid.as_str());
    let upath = format!("/Users/{uid}");
    let gpath = format!("/Groups/{gid}");
    let body_routes: Vec<(&str, String)> = vec![
        ("POST", "/Users".into()),
        ("PUT", upath.clone()),
        ("PATCH", upath.clone()),
        ("POST", "/Groups".into()),
        ("PUT", gpath.clone()),
        ("PATCH", gpath.clone()),
        ("POST", "/Users/.search".into()),
        ("POST", "/Groups/.search".into()),
        ("POST", "/.search".into()),
        ("POST", "/Bulk".into()),
    ];

    // --- Bodies that are not a JSON object ------------------------------------------------------
    t.cat("broken JSON");
    let mut broken: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b" \r\n\t ".to_vec(),
        b"{".to_vec(),
        b"{\"userName\":".to_vec(),
        b"{not json}".to_vec(),
        b"{'userName':'x'}".to_vec(),
        b"{\"schemas\":[],}".to_vec(),
        b"{} trailing".to_vec(),
        b"{}{}".to_vec(),
        b"{/* comment */}".to_vec(),
        b"{\"a\":NaN}".to_vec(),
        b"{\"a\":1e999999}".to_vec(),
        b"{\"a\":01}".to_vec(),
        b"\xef\xbb\xbf{}".to_vec(),
        b"\xff\xfe{\x00}\x00".to_vec(),
        b"{\"userName\":\"\xff\xfe\xc0\xaf\"}".to_vec(),
        b"{\"userName\":\"a\x00b\"}".to_vec(),
        b"{\"userName\":\"\\ud800\"}".to_vec(),
        b"{\"userName\":\"\\x41\"}".to_vec(),
        b"{\"a\x00\":1}".to_vec(),
        "[".repeat(100_000).into_bytes(),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
        format!("{{\"schemas\":{}1{}}}", "{\"a\":".repeat(50_000), "}".repeat(50_000)).into_bytes(),
        b"[]".to_vec(),
        b"[{}]".to_vec(),
        b"\"{}\"".to_vec(),
        b"42".to_vec(),
        b"null".to_vec(),
        b"true".to_vec(),
    ];
    broken.dedup();
    for (m, p) in &body_routes {
        for b in &broken {
            t.add(m, p, Some(b.clone()), e400("invalidSyntax"));
        }
    }

    // --- Media types -----------------------------------------------------------------------------
    t.cat("media type");
    let valid_for = |p: &str| -> Value {
        if p.contains(".search") {
            search_body(json!({}))
        } else if p == "/Bulk" {
            json!({"schemas": [BULK_REQUEST], "Operations": []})
        } else if p.starts_with("/Groups") {
            json!({"schemas": [GROUP_SCHEMA], "displayName": "media-type-group"})
        } else {
            user_body("media-type@example.com")
        }
    };
    for (m, p) in &body_routes {
        let body = if *m == "PATCH" {
            patch_body(json!([{"op": "replace", "path": "displayName", "value": "media"}]))
        } else {
            valid_for(p)
        };
        for ct in [
            None,
            Some("text/plain"),
            Some("application/xml"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/json-patch+json"),
            Some("application/merge-patch+json"),
            Some("application/scim+json+xml"),
            Some("application/jsonx"),
            Some("*/*"),
            Some(""),
            Some("application"),
        ] {
            t.add(m, p, Some(body.to_string().into_bytes()), e(415));
            t.edit(|c| c.ct(ct));
        }
    }

    // --- Methods not allowed ---------------------------------------------------------------------
    t.cat("method not allowed");
    let allow: Vec<(String, &[&str])> = vec![
        ("/Users".into(), &["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]),
        ("/Groups".into(), &["PUT", "PATCH", "DELETE", "OPTIONS"]),
        (upath.clone(), &["POST", "OPTIONS", "TRACE"]),
        (gpath.clone(), &["POST", "OPTIONS"]),
        ("/Users/.search".into(), &["GET", "PUT", "PATCH", "DELETE", "HEAD"]),
        ("/Groups/.search".into(), &["GET", "PUT", "DELETE"]),
        ("/.search".into(), &["GET", "PUT", "PATCH", "DELETE"]),
        ("/Bulk".into(), &["GET", "PUT", "PATCH", "DELETE", "HEAD"]),
        ("/ServiceProviderConfig".into(), &["POST", "PUT", "PATCH", "DELETE"]),
        ("/Schemas".into(), &["POST", "PUT", "DELETE"]),
        (format!("/Schemas/{USER_SCHEMA}"), &["POST", "PUT", "PATCH", "DELETE"]),
        ("/ResourceTypes".into(), &["POST", "DELETE"]),
        ("/ResourceTypes/User".into(), &["POST", "PUT", "PATCH", "DELETE"]),
    ];
    for (p, methods) in &allow {
        for m in methods.iter() {
            if *m == "HEAD" {
                // A 405 to HEAD has no body to check.
                t.add(m, p, None, Want::Ok(405));
            } else {
                t.add(m, p, None, e(405));
            }
        }
    }
    // Methods an HTTP client library will not send.
    for (m, p) in [("PROPFIND", "/Users".to_string()), ("MERGE", upath.clone()), ("BREW", "/Bulk".to_string())] {
        let req =
            format!("{m} {P}{p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n", s.token);
        t.wire(&format!("{P}{p}"), req.into_bytes(), e(405));
    }
    for p in ["!/healthz", "!/readyz"] {
        for m in ["POST", "PUT", "DELETE", "PATCH"] {
            t.add(m, p, None, e(405));
        }
    }

    // --- Authentication --------------------------------------------------------------------------
    t.cat("authentication");
    for (m, p) in [
        ("GET", "/Users"),
        ("GET", upath.as_str()),
        ("DELETE", upath.as_str()),
        ("POST", "/Users"),
        ("GET", "/Groups"),
        ("DELETE", gpath.as_str()),
        ("POST", "/.search"),
        ("POST", "/Bulk"),
        ("GET", "/ServiceProviderConfig"),
        ("GET", "/Schemas"),
        ("GET", "/ResourceTypes"),
        ("GET", "/Nope"),
    ] {
        t.add(m, p, bytes("{}"), e(401));
        t.edit(Case::no_auth);
    }
    for bad in [
        "Bearer",
        "Bearer ",
        "Bearer x",
        "Bearer ' OR 1=1 --",
        "Basic dXNlcjpwYXNz",
        "Bearer scimd_0000000000000000000000000000000000000000000000000000000000000000",
        "bearer%20x",
    ] {
        t.get("/Users", e(401));
        t.edit(|c| c.no_auth().header("Authorization", bad));
    }
    let long = format!("Bearer {}", "a".repeat(6000));
    t.get("/Users", e(401));
    t.edit(|c| c.no_auth().header("Authorization", &long));

    // --- Ids: traversal, encoding, injection -----------------------------------------------------
    t.cat("id tricks");
    let long_id = "a".repeat(4000);
    let ids: Vec<String> = vec![
        "%2e%2e".into(),
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd".into(),
        "..%2F..%2Fetc%2Fpasswd".into(),
        "..;".into(),
        "..%3B".into(),
        "%2F".into(),
        "%00".into(),
        format!("{uid}%00"),
        format!("{uid}%20"),
        format!("%20{uid}"),
        format!("{uid}'"),
        "%27%20OR%20%271%27%3D%271".into(),
        "1%20OR%201%3D1".into(),
        "*".into(),
        "%25".into(),
        "_".into(),
        "%5F%25".into(),
        long_id.clone(),
        "bulkId:x".into(),
        "null".into(),
        "0".into(),
        "-1".into(),
        "%0d%0aX-Injected:%201".into(),
        "%C0%AE%C0%AE".into(),
        "%E2%80%AE".into(),
    ];
    for kind in ["Users", "Groups"] {
        let valid = if kind == "Users" {
            user_body("id-trick@example.com")
        } else {
            json!({"schemas": [GROUP_SCHEMA], "displayName": "id-trick"})
        };
        let patch = patch_body(json!([{"op": "replace", "path": "displayName", "value": "id-trick"}]));
        for id in &ids {
            let p = format!("/{kind}/{id}");
            t.get(&p, e(404));
            t.json("PUT", &p, valid.clone(), e(404));
            t.json("PATCH", &p, patch.clone(), e(404));
            t.add("DELETE", &p, None, e(404));
        }
        // The other kind's id, and a case-changed id (ids are caseExact, RFC 7643 §3.1).
        let other = if kind == "Users" { gid } else { uid };
        t.get(&format!("/{kind}/{other}"), e(404));
        t.add("DELETE", &format!("/{kind}/{other}"), None, e(404));
        let own = if kind == "Users" { uid } else { gid };
        t.get(&format!("/{kind}/{}", own.to_ascii_uppercase()), e(404));
    }
    // Invalid UTF-8 once decoded.
    for id in ["%FF", "%C3%28", "%ED%A0%80", "a%80b"] {
        for kind in ["Users", "Groups"] {
            t.get(&format!("/{kind}/{id}"), e(404));
            t.add("DELETE", &format!("/{kind}/{id}"), None, e(404));
        }
    }
    // Paths that are no route.
    for p in [
        format!("/Users/{uid}/"),
        format!("/Users//{uid}"),
        format!("/Users/{uid}/.."),
        format!("/Users/{uid}/groups"),
        "/Users/../Groups".into(),
        format!("/USERS/{uid}"),
        "/users".into(),
        "/Users/.search/x".into(),
        "/%2e%2e/Users".into(),
        "/Bulk/x".into(),
        "/ServiceProviderConfig/x".into(),
        "/Schemas/x/y".into(),
        "/;/Users".into(),
        "/Users;x=1".into(),
    ] {
        t.get(&p, e(404));
        t.add("DELETE", &p, None, e(404));
    }
    for p in ["!/scim/v3/Users", "!/scim/Users", "!/SCIM/V2/Users", "!/scim/v2/../v2/Users/x/y", "!/healthz/x"] {
        t.get(p, e(404));
    }

    // --- Discovery with bad names ---------------------------------------------------------------
    t.cat("discovery names");
    for name in [
        "nope",
        "%00",
        "urn:ietf:params:scim:schemas:core:2.0:User%00",
        "urn:ietf:params:scim:schemas:core:2.0:user%2F..",
        "..%2FResourceTypes",
        "%27%20OR%201%3D1%20--",
        "%25",
        "%FF",
        &"u".repeat(3000),
    ] {
        t.get(&format!("/Schemas/{name}"), e(404));
        t.get(&format!("/ResourceTypes/{name}"), e(404));
    }

    // --- Wrong JSON types for every attribute type ----------------------------------------------
    t.cat("wrong attribute type");
    let string_bad =
        || vec![json!(42), json!(true), json!(1.5), json!([]), json!(["x"]), json!({}), json!({"value": "x"})];
    // "True"/"False" strings are accepted on purpose (Entra ID sends them); other strings are not.
    let bool_bad = || vec![json!("yes"), json!(1), json!(0), json!("1"), json!([]), json!({}), json!([true])];
    let complex_bad = || vec![json!("x"), json!(42), json!(true), json!([]), json!([{}]), json!({"nope": 1})];
    let multi_bad = || {
        vec![
            json!("x"),
            json!(42),
            json!(true),
            json!([42]),
            json!(["x"]),
            json!([[]]),
            json!([{"value": 42}]),
            json!([{"nope": "x"}]),
            json!([{"value": "x", "primary": "yes"}]),
        ]
    };
    let int_bad = || vec![json!("1"), json!(1.5), json!(true), json!([]), json!({}), json!(1e30)];
    let dec_bad = || vec![json!("1.5"), json!(true), json!([]), json!({}), json!("NaN")];
    let date_bad = || {
        vec![
            json!("yesterday"),
            json!("2024-13-45T00:00:00Z"),
            json!("2024-01-01T25:00:00Z"),
            json!("2024-01-01"),
            json!(42),
            json!(true),
            json!("' OR 1=1 --"),
        ]
    };
    // RFC 7643 §2.3.6: binary values MUST be base64-encoded ("not base64!!!" was once stored as sent).
    let bin_bad = || vec![json!(42), json!(true), json!("not base64!!!"), json!([])];
    let ref_bad = || vec![json!(42), json!(true), json!({}), json!([])];
    let ent = |a: &str| format!("{ENTERPRISE}:{a}");
    let acme = |a: &str| format!("{ACME}:{a}");
    let mut attrs: Vec<(String, Vec<Value>)> = vec![];
    for a in [
        "userName",
        "displayName",
        "nickName",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "externalId",
        "password",
        "name.formatted",
        "name.familyName",
        "name.givenName",
        "name.middleName",
        "name.honorificPrefix",
        "name.honorificSuffix",
    ] {
        attrs.push((a.into(), string_bad()));
    }
    attrs.push(("profileUrl".into(), ref_bad()));
    for a in ["employeeNumber", "costCenter", "organization", "division", "department", "manager.value"] {
        attrs.push((ent(a), string_bad()));
    }
    attrs.push(("active".into(), bool_bad()));
    attrs.push(("name".into(), complex_bad()));
    attrs.push((ent("manager"), complex_bad()));
    for a in ["emails", "phoneNumbers", "ims", "photos", "addresses", "entitlements", "roles", "x509Certificates"] {
        attrs.push((a.into(), multi_bad()));
    }
    attrs.push((acme("code"), string_bad()));
    attrs.push((acme("level"), int_bad()));
    attrs.push((acme("ratio"), dec_bad()));
    attrs.push((acme("flag"), bool_bad()));
    attrs.push((acme("since"), date_bad()));
    attrs.push((acme("link"), ref_bad()));
    attrs.push((acme("blob"), bin_bad()));
    attrs.push((acme("tags"), vec![json!(42), json!([42]), json!([[]]), json!([{}]), json!([true])]));
    attrs.push((acme("office"), complex_bad()));
    attrs.push((acme("office.floor"), int_bad()));
    let mut n = 0;
    for (path, values) in &attrs {
        for (i, v) in values.iter().enumerate() {
            n += 1;
            // POST every value; PUT and PATCH every other one (the same validation, fewer requests).
            t.json(
                "POST",
                "/Users",
                user_with(&format!("wrong-{n}@example.com"), path, v.clone()),
                e400("invalidValue"),
            );
            if i % 2 == 0 {
                t.json("PUT", &upath, user_with(&s.alice, path, v.clone()), e400("invalidValue"));
            } else if *v != json!([]) {
                let op = json!([{"op": "replace", "path": path, "value": v}]);
                t.json("PATCH", &upath, patch_body(op), e400("invalidValue"));
            }
        }
    }
    // Required userName missing or null, schemas wrong.
    for b in [
        json!({"schemas": [USER_SCHEMA]}),
        json!({"schemas": [USER_SCHEMA], "userName": null}),
        json!({"schemas": [USER_SCHEMA], "userName": ""}),
        json!({"schemas": [], "userName": "schemas-3@example.com"}),
        json!({"schemas": ["urn:nope"], "userName": "schemas-4@example.com"}),
        json!({"schemas": [GROUP_SCHEMA], "userName": "schemas-5@example.com"}),
        json!({"schemas": [USER_SCHEMA], "userName": "unknown-attr@example.com", "nope": 1}),
        json!({"schemas": [USER_SCHEMA], "userName": "unknown-urn@example.com", "urn:nope:2.0:User": {"a": 1}}),
        json!({"schemas": [USER_SCHEMA], "userName": "nul-key@example.com", "user\u{0}Name": "x"}),
    ] {
        t.json("POST", "/Users", b.clone(), e400("invalidValue"));
        t.json("PUT", &upath, b, e400("invalidValue"));
    }
    // `schemas` that is not an array of strings: the body does not fit the resource schema.
    for b in
        [json!({"schemas": "x", "userName": "schemas-1@example.com"}), json!({"schemas": [42], "userName": "s2@x.org"})]
    {
        t.json("POST", "/Users", b.clone(), e400("invalidSyntax"));
        t.json("PUT", &upath, b, e400("invalidSyntax"));
    }
    // RFC 7643 §2.5 makes `[]` equivalent to unassigned only for multi-valued attributes: a PATCH `replace` of a
    // single-valued attribute with `[]` is a wrong value (400 invalidValue), as in POST and PUT (it once unassigned it).
    for path in ["title", "nickName", "name.givenName", "externalId", "userName", &ent("department"), &acme("level")] {
        t.json(
            "PATCH",
            &upath,
            patch_body(json!([{"op": "replace", "path": path, "value": []}])),
            e400("invalidValue"),
        );
    }
    t.json("PATCH", &upath, patch_body(json!([{"op": "replace", "value": {"USERNAME": []}}])), e400("invalidValue"));
    for path in ["displayName", "externalId"] {
        t.json(
            "PATCH",
            &gpath,
            patch_body(json!([{"op": "replace", "path": path, "value": []}])),
            e400("invalidValue"),
        );
    }
    // Groups.
    for (path, values) in [
        ("displayName", string_bad()),
        ("externalId", string_bad()),
        ("members", multi_bad()),
        ("members.value", vec![json!(42), json!(true), json!({}), json!([])]),
    ] {
        for (i, v) in values.into_iter().enumerate() {
            n += 1;
            let mut b = json!({"schemas": [GROUP_SCHEMA], "displayName": format!("wrong-{n}")});
            match path.split_once('.') {
                Some((a, sub)) => b[a] = json!([{ sub: v.clone() }]),
                None => b[path] = v.clone(),
            }
            t.json("POST", "/Groups", b.clone(), e400("invalidValue"));
            if i % 2 == 0 {
                b["displayName"] = if path == "displayName" { v.clone() } else { json!("Engineering") };
                t.json("PUT", &gpath, b, e400("invalidValue"));
            } else if path == "members.value" {
                // Sub-attributes of members are not patchable at all.
                t.json(
                    "PATCH",
                    &gpath,
                    patch_body(json!([{"op": "replace", "path": path, "value": v}])),
                    e400("invalidPath"),
                );
            } else if v != json!([]) {
                t.json(
                    "PATCH",
                    &gpath,
                    patch_body(json!([{"op": "replace", "path": path, "value": v}])),
                    e400("invalidValue"),
                );
            }
        }
    }
    for members in [
        json!([{"value": "no-such-id"}]),
        json!([{"value": "' OR 1=1 --"}]),
        json!([{"value": "%"}]),
        json!([{"value": ""}]),
        json!([{"value": uid}, {"value": "no-such-id"}]),
    ] {
        n += 1;
        t.json(
            "POST",
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": format!("members-{n}"), "members": members}),
            e400("invalidValue"),
        );
        t.json(
            "PATCH",
            &gpath,
            patch_body(json!([{"op": "add", "path": "members", "value": members}])),
            e400("invalidValue"),
        );
    }
    for b in [json!({"schemas": [GROUP_SCHEMA]}), json!({"schemas": [GROUP_SCHEMA], "displayName": null})] {
        t.json("POST", "/Groups", b.clone(), e400("invalidValue"));
        t.json("PUT", &gpath, b, e400("invalidValue"));
    }

    // --- Duplicate keys: the last one counts (serde_json), and it is bad ---------------------------
    t.cat("duplicate keys");
    let schemas = format!("\"schemas\":[\"{USER_SCHEMA}\"]");
    for body in [
        format!("{{{schemas},\"userName\":\"dup-1@example.com\",\"userName\":42}}"),
        format!("{{{schemas},\"userName\":\"dup-2@example.com\",\"active\":true,\"active\":\"yes\"}}"),
        format!("{{{schemas},\"userName\":\"dup-3@example.com\",\"userName\":\"{}\"}}", s.alice.to_uppercase()),
        format!("{{\"schemas\":[\"{USER_SCHEMA}\"],\"schemas\":\"x\",\"userName\":\"dup-4@example.com\"}}"),
        format!("{{{schemas},\"userName\":\"dup-5@example.com\",\"name\":{{\"givenName\":\"a\",\"givenName\":[1]}}}}"),
    ] {
        let want = if body.contains(&s.alice.to_uppercase()) {
            Want::Error(409, Some("uniqueness"))
        } else if body.contains("\"schemas\":\"x\"") {
            e400("invalidSyntax")
        } else {
            e400("invalidValue")
        };
        t.add("POST", "/Users", Some(body.into_bytes()), want);
    }
    let dup_patch = format!(
        "{{\"schemas\":[\"{PATCH_SCHEMA}\"],\"Operations\":[{{\"op\":\"replace\",\"path\":\"title\",\"value\":\"x\"}}],\"Operations\":\"x\"}}"
    );
    t.add("PATCH", &upath, Some(dup_patch.into_bytes()), e400("invalidValue"));
    let dup_op = format!(
        "{{\"schemas\":[\"{PATCH_SCHEMA}\"],\"Operations\":[{{\"op\":\"replace\",\"op\":\"frobnicate\",\"path\":\"title\",\"value\":\"x\"}}]}}"
    );
    t.add("PATCH", &upath, Some(dup_op.into_bytes()), e400("invalidValue"));
    let dup_search =
        format!("{{\"schemas\":[\"{SEARCH_SCHEMA}\"],\"filter\":\"userName pr\",\"filter\":\"userName eq\"}}");
    t.add("POST", "/Users/.search", Some(dup_search.into_bytes()), e400("invalidFilter"));

    // --- Size limits -------------------------------------------------------------------------------
    t.cat("size");
    let over = "x".repeat(MIB + 1);
    for (m, p) in body_routes.iter().filter(|(_, p)| p != "/Bulk") {
        let mut b = if p.contains(".search") { search_body(json!({"filter": "userName pr"})) } else { json!({}) };
        b["title"] = json!(over);
        t.json(m, p, b, Want::Error(413, Some("tooLarge")));
    }
    let mut many = user_body("many-emails@example.com");
    many["emails"] = json!(vec![json!({"value": "e@example.com"}); 60_000]);
    t.json("POST", "/Users", many, Want::Error(413, Some("tooLarge")));
    t.add("POST", "/Users", Some(vec![b'['; MIB + 10]), Want::Error(413, Some("tooLarge")));
    let bulk_over = json!({"schemas": [BULK_REQUEST], "Operations": [{"method": "POST", "path": "/Users",
        "bulkId": "big", "data": {"schemas": [USER_SCHEMA], "userName": "x".repeat(4 * MIB + 1)}}]});
    t.json("POST", "/Bulk", bulk_over, Want::Error(413, Some("tooLarge")));
    // Just under the limit, still refused for what the bytes say.
    let under = "y".repeat(MIB - 4096);
    t.json("POST", "/Users", user_with("under-1@example.com", "active", json!(under)), e400("invalidValue"));
    t.json("PATCH", &upath, patch_body(json!([{"op": "replace", "path": under, "value": 1}])), e400("invalidPath"));
    t.json(
        "POST",
        "/Users/.search",
        search_body(json!({"filter": format!("userName eq \"{under}\"")})),
        e400("invalidFilter"),
    );
    t.json(
        "POST",
        "/Users",
        json!({"schemas": [USER_SCHEMA], "userName": "under-2@example.com", under.clone(): 1}),
        e400("invalidValue"),
    );
    let mut many = user_body("many-emails-2@example.com");
    many["emails"] = json!((0..1001).map(|i| json!({"value": format!("e{i}@example.com")})).collect::<Vec<_>>());
    t.json("POST", "/Users", many, e400("invalidValue"));
    let ops: Vec<Value> = (0..1001).map(|_| json!({"op": "replace", "path": "title", "value": "x"})).collect();
    t.json("PATCH", &upath, patch_body(json!(ops)), e400("tooMany"));
    // Over the bulk operation count.
    let ops: Vec<Value> =
        (0..1001).map(|i| json!({"method": "DELETE", "path": format!("/Users/nobody-{i}")})).collect();
    t.json("POST", "/Bulk", json!({"schemas": [BULK_REQUEST], "Operations": ops}), Want::Error(413, Some("tooMany")));
    // Over 1 MiB but within the bulk limit: a bulk whose one operation is bad.
    let big_bad = json!({"schemas": [BULK_REQUEST], "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b",
        "data": user_with("bulk-big@example.com", "active", json!("z".repeat(2 * MIB)))}]});
    t.json("POST", "/Bulk", big_bad, Want::Bulk(vec![(400, Some("invalidValue"))]));
    // A long URL.
    t.get(&format!("/Users?filter={}", enc(&format!("userName eq \"{}\"", "q".repeat(6000)))), Want::Total(0));
    t.get(&format!("/Users?{}", vec!["a=1"; 2000].join("&")), Want::Total(3));

    // --- Filters -------------------------------------------------------------------------------------
    t.cat("filter values");
    let value_templates = [
        "userName eq \"{}\"",
        "userName co \"{}\"",
        "userName sw \"{}\"",
        "userName ew \"{}\"",
        "emails.value co \"{}\"",
        "emails[value co \"{}\"]",
        "name.familyName eq \"{}\"",
        "title gt \"{}\"",
        "externalId eq \"{}\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department co \"{}\"",
    ];
    for (i, tpl) in value_templates.iter().enumerate() {
        for (j, m) in META.iter().enumerate() {
            let f = tpl.replace("{}", m);
            // Spread over GET and the two search routes.
            match (i + j) % 3 {
                0 => t.get(&format!("/Users?filter={}", enc(&f)), Want::Total(0)),
                1 => t.json("POST", "/Users/.search", search_body(json!({"filter": f})), Want::Total(0)),
                _ => t.json("POST", "/.search", search_body(json!({"filter": f})), Want::Total(0)),
            };
        }
    }
    for tpl in ["displayName co \"{}\"", "members.value eq \"{}\"", "externalId sw \"{}\"", "members[value co \"{}\"]"]
    {
        for m in META {
            let f = tpl.replace("{}", m);
            t.get(&format!("/Groups?filter={}", enc(&f)), Want::Total(0));
        }
    }
    // An escaped NUL in a filter value is refused like a raw one (SQLite's text functions stop at a NUL, so `co`
    // and `ew` once matched everything).
    for f in ["userName eq \"\\u0000\"", "userName co \"\\u0000\"", "emails[value ew \"a\\u0000\"]"] {
        t.get(&format!("/Users?filter={}", enc(f)), e400("invalidFilter"));
        t.json("POST", "/.search", search_body(json!({"filter": f})), e400("invalidFilter"));
    }
    t.get(&format!("/Groups?filter={}", enc("displayName co \"\\u0000\"")), e400("invalidFilter"));
    t.cat("filter attributes");
    for a in BAD_ATTRS {
        let f = format!("{a} eq \"x\"");
        t.get(&format!("/Users?filter={}", enc(&f)), e400("invalidFilter"));
        t.get(&format!("/Groups?filter={}", enc(&f)), e400("invalidFilter"));
        t.json("POST", "/.search", search_body(json!({"filter": f})), e400("invalidFilter"));
    }
    t.cat("filter operators");
    for op in ["=", "==", "like", "LIKE", "eq'", "eq--", "%", "_", "regex", "in", "ne'", "e q", "eqq", "OR", "pr\""] {
        let f = format!("userName {op} \"x\"");
        t.get(&format!("/Users?filter={}", enc(&f)), e400("invalidFilter"));
        t.json(
            "POST",
            "/Groups/.search",
            search_body(json!({"filter": f.replace("userName", "displayName")})),
            e400("invalidFilter"),
        );
    }
    for f in [
        "userName eq \"x\" OR 1=1",
        "userName eq \"x\" or 1=1 --",
        "userName eq \"x\"; DROP TABLE users",
        "userName eq \"x\" -- comment",
        "userName eq \"x\" and",
        "userName eq x",
        "userName eq 'x'",
        "userName eq \"x",
        "userName eq \"x\\\"",
        "userName eq \"\\q\"",
        "userName eq \"\\u12\"",
        "userName eq \"\\uD800\"",
        "active eq TRUE1",
        "active eq 1",
        "active gt true",
        "active eq \"true\"",
        "meta.created gt \"yesterday\"",
        "meta.created gt 42",
        "userName eq null null",
        "emails[",
        "emails[]",
        "emails[value eq \"x\"",
        "emails[value eq \"x\"]]",
        "emails[emails[value pr]]",
        "emails[type eq \"work\"] .value eq \"x\"",
        "emails[type eq \"work\"].value.x eq \"x\"",
        "emails[type eq \"work\"].",
        "(userName eq \"x\"",
        "userName eq \"x\")",
        "()",
        "not userName eq \"x\"",
        "not",
        "and",
        "\u{0}",
        "userName eq \"x\"\u{0}",
        "userName\u{0} eq \"x\"",
        "userName pr\u{0}",
        "userName eq 1e999999",
        "title gt 99999999999999999999999999",
        "userName eq \"x\" or userName eq \"y\" and",
    ] {
        t.get(&format!("/Users?filter={}", enc(f)), e400("invalidFilter"));
        t.json("POST", "/Users/.search", search_body(json!({"filter": f})), e400("invalidFilter"));
    }
    // Unknown attributes, unknown to every type, at the root.
    t.json("POST", "/.search", search_body(json!({"filter": "nope pr"})), e400("invalidFilter"));
    // Deep and wide.
    let deep = format!("{}userName eq \"a\"{}", "(".repeat(20_000), ")".repeat(20_000));
    t.json("POST", "/Users/.search", search_body(json!({"filter": deep})), e400("invalidFilter"));
    let nots = format!("{}userName pr{}", "not (".repeat(5_000), ")".repeat(5_000));
    t.json(
        "POST",
        "/Groups/.search",
        search_body(json!({"filter": nots.replace("userName", "displayName")})),
        e400("invalidFilter"),
    );
    let brackets = format!("emails[{}value pr{}]", "(".repeat(5_000), ")".repeat(5_000));
    t.get(&format!("/Users?filter={}", enc(&brackets)), e400("invalidFilter"));
    t.cat("filter case tricks");
    // Attribute names and operators are case-insensitive (RFC 7644 §3.4.2.2, RFC 7643 §2.1): these match.
    let alice = &s.alice;
    for f in [
        format!("USERNAME EQ \"{alice}\""),
        format!("uSeRnAmE eQ \"{}\"", alice.to_uppercase()),
        format!("userName Eq \"{alice}\" AND active Eq TRUE"),
        format!("NOT (userName ne \"{alice}\")"),
        format!("EMAILS[TYPE EQ \"WORK\" and VALUE eq \"{alice}\"]"),
        format!("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"{alice}\""),
        format!("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME eq \"{alice}\""),
        format!("userName eq \"{alice}\" Or userName eq \"no\""),
        format!("userName SW \"{}\"", &alice[..7].to_uppercase()),
        format!("(((userName eq \"{alice}\")))"),
    ] {
        t.get(&format!("/Users?filter={}", enc(&f)), Want::Total(1));
    }
    // externalId is caseExact: a case-changed value matches nothing.
    t.get(&format!("/Users?filter={}", enc("externalId eq \"EXT-ALICE\"")), Want::Total(0));
    t.cat("invalid UTF-8 in queries");
    for q in [
        "filter=userName%20eq%20%22%FF%22",
        "filter=userName%20eq%20%22%C0%AF%22",
        "filter=userName%20eq%20%22%ED%A0%80%22",
        "filter=%FF%20eq%20%22x%22",
        "filter=userName%20eq%20%22%zz%22",
        "filter=userName%20eq%20%22%%22",
        // A raw control character inside a string literal is not a string (JSON rules).
        "filter=userName%20eq%20%22%00%22",
    ] {
        let want =
            if q.starts_with("filter=%FF") || q.contains("%00") { e400("invalidFilter") } else { Want::Total(0) };
        t.get(&format!("/Users?{q}"), want);
    }
    for q in ["startIndex=%FF", "count=%FF", "sortOrder=%FF", "count=1%00", "startIndex=%001"] {
        t.get(&format!("/Users?{q}"), e400("invalidValue"));
    }
    t.get("/Users?sortBy=%FF", e400("invalidPath"));
    t.get("/Users?cursor=%FF", e400("invalidCursor"));

    // --- Paging ------------------------------------------------------------------------------------
    t.cat("paging");
    // RFC 7644 §3.4.2.4: startIndex < 1 is read as 1, a negative count as 0: valid queries.
    for (q, total) in [
        ("startIndex=-1", 3),
        ("startIndex=0", 3),
        ("startIndex=-9223372036854775808", 3),
        ("startIndex=9223372036854775807", 3),
        ("count=-1", 3),
        ("count=0", 3),
        ("count=-9223372036854775808", 3),
        ("count=9223372036854775807", 3),
        ("startIndex=+2&count=+1", 3),
        ("startIndex=%201%20", 3),
        ("STARTINDEX=2&COUNT=1", 3),
    ] {
        t.get(&format!("/Users?{q}"), Want::Total(total));
        t.get(&format!("/Groups?{q}"), Want::Total(2));
    }
    for v in [
        "9223372036854775808",
        "-9223372036854775809",
        "1e30",
        "1.5",
        "1.0",
        "abc",
        "",
        "0x10",
        "1%20OR%201%3D1",
        "%27",
        "NaN",
        "Infinity",
        "--1",
        "1_000",
        "%E2%91%A0",
    ] {
        t.get(&format!("/Users?startIndex={v}"), e400("invalidValue"));
        t.get(&format!("/Groups?count={v}"), e400("invalidValue"));
    }
    for v in [
        json!("abc"),
        json!(1.5),
        json!(1e30),
        json!(9223372036854775808u64),
        json!(true),
        json!([1]),
        json!({"n": 1}),
        json!("1 OR 1=1"),
    ] {
        t.json("POST", "/Users/.search", search_body(json!({"startIndex": v})), e400("invalidValue"));
        t.json("POST", "/.search", search_body(json!({"count": v})), e400("invalidValue"));
    }
    t.json("POST", "/Groups/.search", search_body(json!({"startIndex": -5, "count": -5})), Want::Total(2));

    // --- Cursors ---------------------------------------------------------------------------------------
    t.cat("cursors");
    for c in ["abc", "%2e%2e%2F", "%27%20OR%201%3D1", "AAAA", "____", "----", "%00", &"z".repeat(5000), "null", "1"] {
        t.get(&format!("/Users?cursor={c}"), e400("invalidCursor"));
        t.get(&format!("/Groups?cursor={c}&count=1"), e400("invalidCursor"));
        t.json("POST", "/.search", search_body(json!({"cursor": c})), e400("invalidCursor"));
    }
    t.get("/Users?cursor=&startIndex=1", e400("invalidValue"));
    t.get("/Users?cursor=abc&startIndex=1", e400("invalidValue"));
    t.json("POST", "/Users/.search", search_body(json!({"cursor": "", "startIndex": 1})), e400("invalidValue"));
    t.json("POST", "/Users/.search", search_body(json!({"cursor": 42})), e400("invalidCursor"));
    for v in [json!(true), json!({}), json!([1])] {
        t.json("POST", "/Users/.search", search_body(json!({"cursor": v})), e400("invalidValue"));
    }

    // --- Sorting -------------------------------------------------------------------------------------
    t.cat("sorting");
    // Well-formed names of no attribute: a bad value.
    for by in ["nope", "urn:nope:x", "members.nope"] {
        t.get(&format!("/Users?sortBy={}", enc(by)), e400("invalidValue"));
        t.json("POST", "/Groups/.search", search_body(json!({"sortBy": by})), e400("invalidValue"));
    }
    // Not an attribute path at all (RFC 7644 §3.10 grammar): a bad path.
    for by in [
        "userName'--",
        "userName,displayName",
        "1",
        ";DROP TABLE users",
        "emails[type eq \"work\"]",
        "emails[type eq \"work\"].value",
        "%",
        "name..givenName",
        "userName desc",
    ] {
        t.get(&format!("/Users?sortBy={}", enc(by)), e400("invalidPath"));
        t.json("POST", "/Groups/.search", search_body(json!({"sortBy": by})), e400("invalidPath"));
    }
    for order in ["sideways", "ASC", "desc", "1", "' OR 1=1 --", "ascending;", "descending--", "%00"] {
        t.get(&format!("/Users?sortBy=userName&sortOrder={}", enc(order)), e400("invalidValue"));
        t.json(
            "POST",
            "/Users/.search",
            search_body(json!({"sortBy": "userName", "sortOrder": order})),
            e400("invalidValue"),
        );
    }
    t.json("POST", "/.search", search_body(json!({"sortBy": 1})), e400("invalidPath"));
    for v in [json!(true), json!({})] {
        t.json("POST", "/.search", search_body(json!({"sortBy": v})), e400("invalidValue"));
        t.json("POST", "/.search", search_body(json!({"sortOrder": v})), e400("invalidValue"));
    }
    t.json("POST", "/.search", search_body(json!({"sortOrder": 1})), e400("invalidValue"));
    // Case tricks in sortOrder and sortBy are fine.
    t.get("/Users?sortBy=USERNAME&sortOrder=DESCENDING", Want::Total(3));
    t.get("/Users?SORTBY=name.FAMILYNAME&SORTORDER=Ascending", Want::Total(3));

    // --- attributes / excludedAttributes -------------------------------------------------------------
    t.cat("attribute selection");
    for a in ["userName'--", "%", "emails[type eq \"work\"]", "name..givenName", "1=1", ";DROP", "userName,%"] {
        t.get(&format!("/Users?attributes={}", enc(a)), e400("invalidPath"));
        t.get(&format!("/Groups/{gid}?excludedAttributes={}", enc(a)), e400("invalidPath"));
        t.json("POST", "/.search", search_body(json!({"attributes": a})), e400("invalidPath"));
    }
    // Empty names between commas are skipped.
    t.get("/Users?attributes=%2C%2C%2C", Want::Total(3));
    t.get(&format!("/Groups/{gid}?excludedAttributes=%2C%2C"), Want::Ok(200));
    for v in [json!([1, 2]), json!([null]), json!({}), json!(true)] {
        t.json("POST", "/Users/.search", search_body(json!({"attributes": v.clone()})), e400("invalidValue"));
        t.json("POST", "/Users/.search", search_body(json!({"excludedAttributes": v})), e400("invalidValue"));
    }

    // --- SearchRequests --------------------------------------------------------------------------------
    t.cat("SearchRequest");
    for route in ["/Users/.search", "/Groups/.search", "/.search"] {
        for b in [
            json!({}),
            json!({"schemas": []}),
            json!({"schemas": [LIST_SCHEMA]}),
            json!({"schemas": SEARCH_SCHEMA}),
            json!({"schemas": [42]}),
            json!({"schemas": [format!("{SEARCH_SCHEMA}'--")]}),
            search_body(json!({"bogus": 1})),
            search_body(json!({"filter": true})),
            search_body(json!({"filter": {"userName": "x"}})),
            // RFC 7644 §3.4.3 makes `filter` a string (an array was once joined with "," and run).
            search_body(json!({"filter": ["userName pr"]})),
        ] {
            t.json("POST", route, b, e400("invalidValue"));
        }
        // A number is read as its text, which is no filter; a parameter given twice (names are
        // case-insensitive) counts the last time.
        t.json("POST", route, search_body(json!({"filter": 42})), e400("invalidFilter"));
        t.json("POST", route, search_body(json!({"FILTER": "userName pr", "Filter": 1})), e400("invalidFilter"));
    }

    // --- PATCH ---------------------------------------------------------------------------------------------
    t.cat("PATCH");
    for (target, member_path) in [(upath.as_str(), "emails"), (gpath.as_str(), "members")] {
        let ok_patch = Want::Ok(if member_path == "emails" { 200 } else { 204 });
        let ops: Vec<(Value, Want)> = vec![
            (json!({"op": "frobnicate", "path": "displayName", "value": "x"}), e400("invalidValue")),
            (json!({"op": "", "path": "displayName", "value": "x"}), e400("invalidValue")),
            (json!({"op": 42, "path": "displayName", "value": "x"}), e400("invalidValue")),
            (json!({"op": null, "path": "displayName", "value": "x"}), e400("invalidValue")),
            (json!({"op": ["add"], "path": "displayName", "value": "x"}), e400("invalidValue")),
            (json!({"path": "displayName", "value": "x"}), e400("invalidValue")),
            (json!({"op": "add' OR 1=1", "path": "displayName", "value": "x"}), e400("invalidValue")),
            (json!({"op": "remove"}), e400("noTarget")),
            (json!({"op": "add", "path": "displayName"}), e400("invalidValue")),
            (json!({"op": "add", "value": "x"}), e400("invalidValue")),
            (json!({"op": "replace", "value": 42}), e400("invalidValue")),
            (json!({"op": "replace", "value": [1]}), e400("invalidValue")),
            (json!({"op": "add", "path": 42, "value": "x"}), e400("invalidPath")),
            // An empty path is no path: then the value must be an object.
            (json!({"op": "add", "path": "", "value": "x"}), e400("invalidValue")),
            (json!({"op": "add", "path": "nope", "value": "x"}), e400("invalidPath")),
            (json!({"op": "add", "path": "displayName'--", "value": "x"}), e400("invalidPath")),
            (json!({"op": "add", "path": "%", "value": "x"}), e400("invalidPath")),
            (json!({"op": "add", "path": "_", "value": "x"}), e400("invalidPath")),
            (json!({"op": "add", "path": "display\u{0}Name", "value": "x"}), e400("invalidPath")),
            (json!({"op": "add", "path": "displayName.x.y", "value": "x"}), e400("invalidPath")),
            (json!({"op": "add", "path": "urn:nope:2.0:User:x", "value": "x"}), e400("invalidPath")),
            (json!({"op": "add", "path": format!("{member_path}[value eq \"x\""), "value": "x"}), e400("invalidPath")),
            (json!({"op": "add", "path": format!("{member_path}[value zz \"x\"]"), "value": "x"}), e400("invalidPath")),
            (json!({"op": "add", "path": format!("{member_path}[]"), "value": "x"}), e400("invalidPath")),
            // A filter on no sub-attribute: for emails it matches nothing, members refuse it as a path.
            (
                json!({"op": "add", "path": format!("{member_path}[nope eq \"x\"]"), "value": {"value": 1}}),
                e400(if member_path == "emails" { "noTarget" } else { "invalidPath" }),
            ),
            // A remove whose filter matches nothing succeeds and changes nothing (RFC 7644 §3.5.2.2); LIKE
            // metacharacters must not match every value (the final dump would show it).
            (json!({"op": "remove", "path": format!("{member_path}[value eq \"' OR 1=1 --\"]")}), ok_patch.clone()),
            (json!({"op": "remove", "path": format!("{member_path}[value co \"%\"]")}), ok_patch.clone()),
            (json!({"op": "remove", "path": format!("{member_path}[value sw \"_\"]")}), ok_patch.clone()),
            (json!({"op": "remove", "path": format!("{member_path}[value ew \"\\\\\"]")}), ok_patch.clone()),
            (json!({"op": "replace", "path": "id", "value": "other"}), e400("mutability")),
            (json!({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}), e400("mutability")),
            (json!({"op": "replace", "path": "meta", "value": {}}), e400("mutability")),
            (json!({"op": "remove", "path": "id"}), e400("mutability")),
        ];
        for (op, want) in ops {
            t.json("PATCH", target, patch_body(json!([op])), want);
        }
        for b in [
            json!({"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}),
            json!({"schemas": [], "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}),
            json!({"schemas": [USER_SCHEMA], "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}),
            json!({"schemas": [PATCH_SCHEMA]}),
            json!({"schemas": [PATCH_SCHEMA], "Operations": null}),
            json!({"schemas": [PATCH_SCHEMA], "Operations": []}),
            json!({"schemas": [PATCH_SCHEMA], "Operations": "replace"}),
            json!({"schemas": [PATCH_SCHEMA], "Operations": {"op": "replace", "path": "displayName", "value": "x"}}),
            json!({"schemas": [PATCH_SCHEMA], "Operations": ["replace"]}),
            json!({"schemas": [PATCH_SCHEMA], "Operations": [null]}),
            json!({"schemas": [PATCH_SCHEMA], "Operations": [[]]}),
        ] {
            t.json("PATCH", target, b, e400("invalidValue"));
        }
        // A bad operation after good ones: all or nothing.
        t.json(
            "PATCH",
            target,
            patch_body(json!([{"op": "replace", "path": "displayName", "value": "changed"},
                              {"op": "add", "path": "nope", "value": 1}])),
            e400("invalidPath"),
        );
        // A stale or garbage If-Match.
        for etag in ["W/\"999\"", "\"1\" OR 1=1", "garbage", "W/\"-1\"", &"W/\"1\"".repeat(1000)] {
            t.json(
                "PATCH",
                target,
                patch_body(json!([{"op": "replace", "path": "displayName", "value": "x"}])),
                e(412),
            );
            t.edit(|c| c.header("If-Match", etag));
            t.add("DELETE", target, None, e(412));
            t.edit(|c| c.header("If-Match", etag));
        }
    }
    // User-only paths.
    for (op, want) in [
        (json!({"op": "replace", "path": "groups", "value": []}), e400("mutability")),
        (json!({"op": "remove", "path": "userName"}), e400("mutability")),
        (json!({"op": "replace", "path": "userName", "value": null}), e400("mutability")),
        (json!({"op": "replace", "path": "members", "value": []}), e400("invalidPath")),
        (json!({"op": "add", "path": "emails[type eq \"work\"].nope", "value": "x"}), e400("invalidPath")),
        (
            json!({"op": "replace", "path": "userName", "value": "SEED-BOB@example.com"}),
            Want::Error(409, Some("uniqueness")),
        ),
        (json!({"op": "replace", "value": {"userName": 42}}), e400("invalidValue")),
        (json!({"op": "replace", "value": {"USERNAME": 42}}), e400("invalidValue")),
        (json!({"op": "replace", "value": {"id": "x"}}), e400("mutability")),
        (json!({"op": "add", "path": format!("{ENTERPRISE}:nope"), "value": "x"}), e400("invalidPath")),
        (json!({"op": "add", "path": format!("{ENTERPRISE}:manager.nope"), "value": "x"}), e400("invalidPath")),
    ] {
        t.json("PATCH", &upath, patch_body(json!([op])), want);
    }

    // --- Bulk ------------------------------------------------------------------------------------------------
    t.cat("bulk requests");
    for b in [
        json!({"Operations": []}),
        json!({"schemas": [], "Operations": []}),
        json!({"schemas": [LIST_SCHEMA], "Operations": []}),
        json!({"schemas": [BULK_REQUEST]}),
        json!({"schemas": [BULK_REQUEST], "Operations": null}),
        json!({"schemas": [BULK_REQUEST], "Operations": "x"}),
        json!({"schemas": [BULK_REQUEST], "Operations": {"method": "DELETE"}}),
    ] {
        t.json("POST", "/Bulk", b, e400("invalidSyntax"));
    }
    t.json(
        "POST",
        "/Bulk",
        json!({"schemas": [BULK_REQUEST], "failOnErrors": 9223372036854775808u64, "Operations": []}),
        Want::Bulk(vec![]),
    );
    for f in [json!(0), json!(-1), json!("x"), json!(1.5), json!(true), json!([1])] {
        t.json(
            "POST",
            "/Bulk",
            json!({"schemas": [BULK_REQUEST], "failOnErrors": f, "Operations": []}),
            e400("invalidValue"),
        );
    }
    let post_user = |bulk_id: &str| {
        json!({"method": "POST", "bulkId": bulk_id, "path": "/Users",
                                            "data": user_with(&format!("{bulk_id}@example.com"), "active", json!("no"))})
    };
    t.json(
        "POST",
        "/Bulk",
        json!({"schemas": [BULK_REQUEST], "Operations": [post_user("same"), post_user("same")]}),
        e400("invalidValue"),
    );
    t.cat("bulk operations");
    let nobody = "00000000-0000-4000-8000-000000000000";
    let one = |op: Value, want: (u16, Option<&'static str>)| (op, want);
    let bad_ops: Vec<(Value, (u16, Option<&'static str>))> = vec![
        one(json!({"method": "FETCH", "path": upath}), (400, Some("invalidSyntax"))),
        one(json!({"method": "GET", "path": upath}), (400, Some("invalidSyntax"))),
        one(json!({"method": "", "path": upath}), (400, Some("invalidSyntax"))),
        one(json!({"method": 42, "path": upath}), (400, Some("invalidSyntax"))),
        one(json!({"method": null, "path": upath}), (400, Some("invalidSyntax"))),
        one(json!({"path": upath}), (400, Some("invalidSyntax"))),
        one(json!({"method": "DELETE' OR 1=1", "path": upath}), (400, Some("invalidSyntax"))),
        one(json!({"method": "DELETE"}), (400, Some("invalidSyntax"))),
        one(json!({"method": "DELETE", "path": 42}), (400, Some("invalidSyntax"))),
        one(json!({"method": "DELETE", "path": ""}), (400, Some("invalidPath"))),
        one(json!({"method": "DELETE", "path": format!("/Users/../Groups/{gid}")}), (400, Some("invalidPath"))),
        one(json!({"method": "DELETE", "path": format!("/Users/%2e%2e/Groups/{gid}")}), (400, Some("invalidPath"))),
        one(json!({"method": "DELETE", "path": format!("Users/{uid}")}), (400, Some("invalidPath"))),
        one(
            json!({"method": "DELETE", "path": format!("http://evil.example/scim/v2/Users/{uid}")}),
            (400, Some("invalidPath")),
        ),
        one(json!({"method": "DELETE", "path": format!("/scim/v2/Users/{uid}")}), (400, Some("invalidPath"))),
        one(json!({"method": "DELETE", "path": format!("/Users/{uid}/x")}), (400, Some("invalidPath"))),
        one(json!({"method": "DELETE", "path": format!("/Users/{uid}\u{0}")}), (400, Some("invalidPath"))),
        one(json!({"method": "DELETE", "path": "/Schemas/x"}), (400, Some("invalidPath"))),
        one(json!({"method": "POST", "bulkId": "r", "path": "/Bulk", "data": {}}), (400, Some("invalidPath"))),
        one(
            json!({"method": "POST", "bulkId": "s", "path": "/.search", "data": search_body(json!({}))}),
            (400, Some("invalidPath")),
        ),
        one(json!({"method": "POST", "bulkId": "m", "path": "/Me", "data": {}}), (400, Some("invalidPath"))),
        one(json!({"method": "DELETE", "path": "/Users"}), (400, Some("invalidPath"))),
        one(
            json!({"method": "POST", "bulkId": "p", "path": upath, "data": user_body("p@example.com")}),
            (400, Some("invalidPath")),
        ),
        one(json!({"method": "DELETE", "path": format!("/Users/{nobody}")}), (404, None)),
        one(json!({"method": "DELETE", "path": format!("/Users/{}", "%27%20OR%201%3D1")}), (400, Some("invalidPath"))),
        one(json!({"method": "DELETE", "path": format!("/Groups/{uid}")}), (404, None)),
        one(json!({"method": "DELETE", "path": "/Users/bulkId:nowhere"}), (400, Some("invalidValue"))),
        one(json!({"method": "DELETE", "path": upath, "version": "W/\"999\""}), (412, None)),
        one(json!({"method": "DELETE", "path": gpath, "version": "' OR 1=1 --"}), (412, None)),
        one(
            json!({"method": "POST", "path": "/Users", "data": user_body("no-bulk-id@example.com")}),
            (400, Some("invalidSyntax")),
        ),
        one(
            json!({"method": "POST", "bulkId": "", "path": "/Users", "data": user_body("empty-bulk-id@example.com")}),
            (400, Some("invalidValue")),
        ),
        one(
            json!({"method": "POST", "bulkId": 42, "path": "/Users", "data": user_body("num-bulk-id@example.com")}),
            (400, Some("invalidValue")),
        ),
        one(json!({"method": "POST", "bulkId": "nodata", "path": "/Users"}), (400, Some("invalidSyntax"))),
        one(
            json!({"method": "POST", "bulkId": "strdata", "path": "/Users", "data": "x"}),
            (400, Some("invalidSyntax")),
        ),
        one(
            json!({"method": "POST", "bulkId": "wrong", "path": "/Users", "data": user_with("w@example.com", "active", json!("yes"))}),
            (400, Some("invalidValue")),
        ),
        one(
            json!({"method": "POST", "bulkId": "dup", "path": "/Users", "data": user_body(&s.alice.to_uppercase())}),
            (409, Some("uniqueness")),
        ),
        one(
            json!({"method": "POST", "bulkId": "g", "path": "/Groups", "data": {"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": "' OR 1=1 --"}]}}),
            (400, Some("invalidValue")),
        ),
        one(
            json!({"method": "PUT", "path": format!("/Users/{nobody}"), "data": user_body("ghost@example.com")}),
            (404, None),
        ),
        one(
            json!({"method": "PUT", "path": upath, "data": user_with(&s.alice, "name", json!("x"))}),
            (400, Some("invalidValue")),
        ),
        one(
            json!({"method": "PATCH", "path": upath, "data": patch_body(json!([{"op": "frobnicate"}]))}),
            (400, Some("invalidValue")),
        ),
        one(
            json!({"method": "PATCH", "path": upath, "data": patch_body(json!([{"op": "add", "path": "nope", "value": 1}]))}),
            (400, Some("invalidPath")),
        ),
        one(
            json!({"method": "PATCH", "path": gpath, "data": patch_body(json!([{"op": "remove", "path": "members[value eq \"%\"]"}]))}),
            (204, None),
        ),
        one(json!({"method": "PATCH", "path": gpath, "data": {"Operations": []}}), (400, Some("invalidValue"))),
        one(json!("not an object"), (400, Some("invalidSyntax"))),
        one(json!(null), (400, Some("invalidSyntax"))),
        one(json!([]), (400, Some("invalidSyntax"))),
    ];
    for (op, want) in bad_ops {
        t.json("POST", "/Bulk", json!({"schemas": [BULK_REQUEST], "Operations": [op]}), Want::Bulk(vec![want]));
    }
    // A circle and a reference to a failed POST.
    let ring = json!({"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "bulkId": "a", "path": "/Groups", "data": {"schemas": [GROUP_SCHEMA], "displayName": "RA", "members": [{"value": "bulkId:b"}]}},
        {"method": "POST", "bulkId": "b", "path": "/Groups", "data": {"schemas": [GROUP_SCHEMA], "displayName": "RB", "members": [{"value": "bulkId:a"}]}}]});
    t.json("POST", "/Bulk", ring, Want::Bulk(vec![(409, None), (409, None)]));
    let chain = json!({"schemas": [BULK_REQUEST], "Operations": [post_user("bad"),
        {"method": "POST", "bulkId": "g2", "path": "/Groups", "data": {"schemas": [GROUP_SCHEMA], "displayName": "G2", "members": [{"value": "bulkId:bad"}]}}]});
    t.json("POST", "/Bulk", chain, Want::Bulk(vec![(400, Some("invalidValue")), (400, Some("invalidValue"))]));
    // failOnErrors stops after the first failure.
    let stop = json!({"schemas": [BULK_REQUEST], "failOnErrors": 1, "Operations": [
        post_user("f1"), {"method": "POST", "bulkId": "f2", "path": "/Users", "data": user_body("f2@example.com")}]});
    t.json("POST", "/Bulk", stop, Want::Bulk(vec![(400, Some("invalidValue"))]));

    // --- Bytes no HTTP client sends --------------------------------------------------------------------
    t.cat("raw HTTP");
    let auth_line = format!("Authorization: Bearer {}\r\n", s.token);
    for (label, head) in [
        ("/Users/\\xff", b"GET /scim/v2/Users/\xff\xfe HTTP/1.1\r\n".to_vec()),
        ("/Users?filter=\\xff", b"GET /scim/v2/Users?filter=userName%20eq%20%22\xff%22 HTTP/1.1\r\n".to_vec()),
        ("/Users/\\x00", b"GET /scim/v2/Users/a\x00b HTTP/1.1\r\n".to_vec()),
        ("/Users with space", b"GET /scim/v2/Users/a b HTTP/1.1\r\n".to_vec()),
        ("no version", b"GET /scim/v2/Users\r\n".to_vec()),
        ("HTTP/9.9", b"GET /scim/v2/Users HTTP/9.9\r\n".to_vec()),
    ] {
        let mut req = head;
        req.extend_from_slice(format!("Host: x\r\n{auth_line}Connection: close\r\n\r\n").as_bytes());
        t.wire(&format!("{P}{label}"), req, Want::Http(400));
    }
    for (label, header) in [("header \\x00", b"X-Bad: a\x00b\r\n".to_vec()), ("header no colon", b"X-Bad\r\n".to_vec())]
    {
        let mut req = b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n".to_vec();
        req.extend_from_slice(&header);
        req.extend_from_slice(format!("{auth_line}Connection: close\r\n\r\n").as_bytes());
        t.wire(&format!("{P}/Users {label}"), req, Want::Http(400));
    }
    // obs-text in a header value is allowed (RFC 9110 §5.5).
    let mut req = format!("GET {P}/Users?count=0 HTTP/1.1\r\nHost: x\r\nX-Odd: ").into_bytes();
    req.push(0xff);
    req.extend_from_slice(format!("\r\n{auth_line}Connection: close\r\n\r\n").as_bytes());
    t.wire(&format!("{P}/Users"), req, Want::Ok(200));
    // A body in a content type with invalid UTF-8, sent as such.
    let body = b"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"\xc3\x28@example.com\"}";
    let mut req = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n{auth_line}Content-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    t.wire(&format!("{P}/Users"), req, Want::Error(400, Some("invalidSyntax")));
    // Conflicting lengths (request smuggling).
    let req = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n{auth_line}Content-Type: application/scim+json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"
    );
    t.wire(&format!("{P}/Users"), req.into_bytes(), Want::Http(400));
    t
}

// ---------------------------------------------------------------------------------------------
// The test

#[test]
fn hostile_inputs_get_the_right_error_and_change_nothing() {
    let dir = TempDir::new("hostile");
    let db = dir.db();
    let (st, out, err) = run_cli(&db, &["migrate"]);
    assert!(st.success(), "migrate: {out}\n{err}");
    let schema_file = dir.path.join("hostile.json");
    std::fs::write(&schema_file, acme_schema().to_string()).unwrap();
    let (st, out, err) = run_cli(&db, &["schema", "add", schema_file.to_str().unwrap()]);
    assert!(st.success(), "schema add: {out}\n{err}");
    // Many cases carry no or a bad token on purpose: no throttling of them.
    let srv = TestServer::start_on(&db, &["--auth-failure-limit", "100000"], &[]);

    // Seed.
    let alice = "seed-alice@example.com".to_string();
    let mut a = user_body(&alice);
    a["schemas"] = json!([USER_SCHEMA, ENTERPRISE, ACME]);
    a["externalId"] = json!("ext-alice");
    a["name"] = json!({"givenName": "Alice", "familyName": "Liddell"});
    a[ENTERPRISE] = json!({"department": "R&D", "employeeNumber": "7"});
    a[ACME] = json!({"code": "C-1", "level": 3, "since": "2024-01-01T00:00:00Z", "tags": ["a", "b"]});
    let uid = id_of(&srv.create_user_body(&a));
    let bob = id_of(&srv.create_user("seed-bob@example.com"));
    srv.create_user("seed-carol@example.org");
    let gid = id_of(&srv.create_group("Engineering", &[&uid, &bob]));
    srv.create_group("Empty", &[]);
    let seed = Seed { uid, gid, alice, token: srv.token.clone() };

    let mut table = corpus(&seed);
    // Reads first: a write the server wrongly accepts must not change what the reads see.
    table.cases.sort_by_key(|c| !(["GET", "HEAD"].contains(&c.method.as_str()) || c.path.ends_with(".search")));
    let before = dump(&srv.db);

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut by_route: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, c) in table.cases.iter().enumerate() {
        *by_route.entry(route_of(&c.path)).or_default() += 1;
        *by_category.entry(c.category).or_default() += 1;
        let t0 = Instant::now();
        let verdict = match send(&agent, &srv.origin, &srv.token, c) {
            Ok(got) => judge(c, &got).map(|why| {
                let shown: String = got.text.chars().take(300).collect();
                format!("{why}; got {} {shown}", got.status)
            }),
            Err(e) => Some(e),
        };
        let took = t0.elapsed();
        if let Some(why) = verdict {
            let body = c.body.as_deref().map(|b| {
                let text = String::from_utf8_lossy(b);
                let chars: Vec<char> = text.chars().collect();
                match chars.len() {
                    0..=400 => text.to_string(),
                    n => format!(
                        "{}…{}",
                        chars[..200].iter().collect::<String>(),
                        chars[n - 200..].iter().collect::<String>()
                    ),
                }
            });
            let path: String = c.path.chars().take(160).collect();
            failures.push(format!("#{i} [{}] {} {path} body={body:?}: {why}", c.category, c.method));
        }
        assert!(took < Duration::from_secs(10), "case #{i} took {took:?}: {} {}", c.method, c.path);
    }
    let elapsed = started.elapsed();
    let total = table.cases.len();
    println!("{total} hostile requests in {elapsed:?}");
    println!("by route: {by_route:#?}");
    println!("by category: {by_category:#?}");
    table.cases.clear();

    // Nothing changed, and the server is still up.
    let after = dump(&srv.db);
    let health = raw(&agent, "GET", &format!("{}/healthz", srv.origin), &[], None);
    let users = srv.get("/Users");
    assert!(total >= 500, "the corpus has {total} cases");
    assert!(failures.is_empty(), "{} of {total} cases got a wrong answer:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(before, after, "the database changed");
    assert_eq!(health.status, 200, "{health:#?}");
    assert_eq!(users.status, 200);
    assert_eq!(users.total(), 3);
    assert_eq!(srv.get(&format!("/Users/{}", seed.uid)).json["userName"], json!(seed.alice));
}
