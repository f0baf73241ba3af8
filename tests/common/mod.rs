//! Shared harness for the integration tests: starts the real `scimd` binary on an ephemeral
//! 127.0.0.1 port with a fresh SQLite file, and talks to it over real HTTP.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const BIN: &str = env!("CARGO_BIN_EXE_scimd");

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const SCIM_JSON: &str = "application/scim+json";

const START_TIMEOUT: Duration = Duration::from_secs(20);
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Temp dirs (no tempfile crate available)

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique directory under the system temp dir, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("scimd-test-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn db(&self) -> PathBuf {
        self.path.join("scimd.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A `scimd` command with every SCIMD_* variable and RUST_LOG removed from its environment.
pub fn scimd_command() -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SCIMD_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env_remove("RUST_LOG");
    cmd
}

fn spawn_line_reader<R: Read + Send + 'static>(r: R, log: Arc<Mutex<Vec<String>>>, tx: Option<mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        let reader = BufReader::new(r);
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if let Ok(mut l) = log.lock() {
                l.push(line.clone());
            }
            if let Some(tx) = &tx {
                let _ = tx.send(line);
            }
        }
    });
}

/// Runs `scimd` with `--database <db>` followed by `args`; returns (status, stdout, stderr).
pub fn run_cli(db: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    let mut cmd = scimd_command();
    cmd.arg("--database").arg(db).args(args);
    run_command(cmd)
}

/// Runs an arbitrary prepared command with a timeout; returns (status, stdout, stderr).
pub fn run_command(mut cmd: Command) -> (ExitStatus, String, String) {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn scimd");
    let out = Arc::new(Mutex::new(Vec::new()));
    let err = Arc::new(Mutex::new(Vec::new()));
    let (tx_o, rx_o) = mpsc::channel::<()>();
    let (tx_e, rx_e) = mpsc::channel::<()>();
    {
        let mut so = child.stdout.take().expect("stdout");
        let out = out.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = so.read_to_end(&mut buf);
            if let Ok(mut o) = out.lock() {
                *o = buf;
            }
            let _ = tx_o.send(());
        });
        let mut se = child.stderr.take().expect("stderr");
        let err = err.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = se.read_to_end(&mut buf);
            if let Ok(mut e) = err.lock() {
                *e = buf;
            }
            let _ = tx_e.send(());
        });
    }
    let deadline = Instant::now() + CLI_TIMEOUT;
    let status = loop {
        match child.try_wait().expect("wait scimd") {
            Some(st) => break st,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("scimd CLI did not exit within {CLI_TIMEOUT:?}: {cmd:?}");
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let _ = rx_o.recv_timeout(Duration::from_secs(5));
    let _ = rx_e.recv_timeout(Duration::from_secs(5));
    let stdout = String::from_utf8_lossy(&out.lock().expect("lock")).into_owned();
    let stderr = String::from_utf8_lossy(&err.lock().expect("lock")).into_owned();
    (status, stdout, stderr)
}

/// The token printed by `token create` / `token rotate`: the one stdout line starting `scimd_`.
pub fn token_from_stdout(stdout: &str) -> String {
    let lines: Vec<&str> = stdout.lines().map(str::trim).filter(|l| l.starts_with("scimd_")).collect();
    assert_eq!(lines.len(), 1, "expected exactly one stdout line starting with scimd_, got: {stdout:?}");
    lines[0].to_string()
}

/// `token create --name <name> [extra]`, asserting success; returns the token.
pub fn cli_create_token(db: &Path, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["token", "create", "--name", name];
    args.extend_from_slice(extra);
    let (st, out, err) = run_cli(db, &args);
    assert!(st.success(), "token create failed: {st:?}\nstdout: {out}\nstderr: {err}");
    token_from_stdout(&out)
}

/// An OAuth client as `client create` / `client rotate` printed it.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub id: String,
    pub secret: String,
}

/// The `client_id: …` and `client_secret: …` lines `client create` / `client rotate` print on stdout.
pub fn client_from_stdout(stdout: &str) -> OAuthClient {
    let field = |name: &str| {
        let values: Vec<&str> = stdout.lines().filter_map(|l| l.trim().strip_prefix(name)).map(str::trim).collect();
        assert_eq!(values.len(), 1, "expected one {name} line in {stdout:?}");
        values[0].to_string()
    };
    OAuthClient { id: field("client_id:"), secret: field("client_secret:") }
}

/// `client create --name <name> [extra]`, asserting success.
pub fn cli_create_client(db: &Path, name: &str, extra: &[&str]) -> OAuthClient {
    let mut args = vec!["client", "create", "--name", name];
    args.extend_from_slice(extra);
    let (st, out, err) = run_cli(db, &args);
    assert!(st.success(), "client create failed: {st:?}\nstdout: {out}\nstderr: {err}");
    assert!(!err.contains("scimdcs_"), "the secret goes to stdout only: {err}");
    client_from_stdout(&out)
}

/// `Basic base64(id:secret)` (RFC 6749 §2.3.1; ids and secrets here need no form-encoding).
pub fn basic_auth(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

// ---------------------------------------------------------------------------------------------
// HTTP

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// One HTTP answer: status, headers (names lower-cased), raw body and the body as JSON
/// (`Value::Null` when the body is empty or not JSON).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    pub fn etag(&self) -> String {
        self.header("etag").unwrap_or_else(|| panic!("no ETag header in {self:?}")).to_string()
    }

    /// Asserts the status, with the whole response in the failure message.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status; response: {self:#?}");
        self
    }

    /// Asserts a SCIM error (RFC 7644 §3.12) with this status and, if given, this scimType.
    #[track_caller]
    pub fn expect_error(&self, status: u16, scim_type: Option<&str>) -> &Self {
        self.expect(status);
        assert_scim_content_type(self);
        let j = &self.json;
        assert!(
            j["schemas"].as_array().is_some_and(|s| s.iter().any(|v| v == ERROR_SCHEMA)),
            "error body lacks the Error schema: {self:#?}"
        );
        assert_eq!(j["status"], json!(status.to_string()), "error status field: {self:#?}");
        assert!(j["detail"].as_str().is_some_and(|d| !d.trim().is_empty()), "error detail empty: {self:#?}");
        if let Some(t) = scim_type {
            assert_eq!(j["scimType"], json!(t), "scimType: {self:#?}");
        }
        self
    }

    /// Ids of `Resources` in a ListResponse.
    pub fn ids(&self) -> Vec<String> {
        self.resources().iter().map(|r| r["id"].as_str().unwrap_or_default().to_string()).collect()
    }

    pub fn resources(&self) -> Vec<Value> {
        self.json["Resources"].as_array().unwrap_or_else(|| panic!("no Resources array in {self:#?}")).clone()
    }

    /// A string field of every resource in a ListResponse (e.g. "userName").
    pub fn field(&self, name: &str) -> Vec<String> {
        self.resources().iter().map(|r| r[name].as_str().unwrap_or_default().to_string()).collect()
    }

    pub fn total(&self) -> i64 {
        self.json["totalResults"].as_i64().unwrap_or_else(|| panic!("totalResults not an integer in {self:#?}"))
    }
}

#[track_caller]
pub fn assert_scim_content_type(r: &Resp) {
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.to_ascii_lowercase().starts_with(SCIM_JSON),
        "Content-Type is {ct:?}, want application/scim+json; response: {r:#?}"
    );
}

/// Percent-encodes a query-string value (everything but RFC 3986 unreserved characters).
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends one request. `url` is absolute. No header is added except those given.
pub fn raw(agent: &ureq::Agent, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
    try_raw(agent, method, url, headers, body).unwrap_or_else(|e| panic!("{method} {url} failed: {e}"))
}

/// As `raw`, but a request that gets no answer (or an unreadable body) is an `Err` rather than a panic.
pub fn try_raw(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Resp, String> {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let result = match body {
        Some(bytes) => agent.run(b.body(bytes.to_vec()).map_err(|e| e.to_string())?),
        None => agent.run(b.body(()).map_err(|e| e.to_string())?),
    };
    let mut resp = result.map_err(|e| format!("no answer: {e}"))?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let text = resp.body_mut().with_config().limit(256 * 1024 * 1024).read_to_string().unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Resp { status, headers, text, json })
}

// ---------------------------------------------------------------------------------------------
// The server

pub struct TestServer {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub origin: String,
    /// `http://127.0.0.1:<port>/scim/v2`, where requests go.
    pub base: String,
    /// What the server printed after `SCIM base URL:` (differs from `base` with --base-url).
    pub printed_base: String,
    /// The token minted at start (`API token (shown once): …`), or "" if none was printed.
    pub token: String,
    pub db: PathBuf,
    pub agent: ureq::Agent,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    // Dropped after the child is killed.
    _dir: Option<TempDir>,
}

impl TestServer {
    /// A server on a fresh database.
    pub fn start() -> TestServer {
        Self::start_with(&[])
    }

    /// A server on a fresh database with extra `serve` arguments: a SQLite file, or a fresh PostgreSQL
    /// database when `SCIMD_TEST_BACKEND=postgres` (the same suite runs on both backends).
    pub fn start_with(args: &[&str]) -> TestServer {
        let dir = TempDir::new("srv");
        let db = match std::env::var("SCIMD_TEST_BACKEND").as_deref() {
            Ok("postgres") => PathBuf::from(pg_database()),
            _ => dir.db(),
        };
        let mut s = Self::start_on(&db, args, &[]);
        s._dir = Some(dir);
        s
    }

    /// A server on an existing database path (the caller owns the directory).
    pub fn start_on(db: &Path, args: &[&str], env: &[(&str, &str)]) -> TestServer {
        let mut cmd = scimd_command();
        cmd.arg("--database")
            .arg(db)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn scimd serve");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        spawn_line_reader(child.stdout.take().expect("stdout"), stdout.clone(), Some(tx));
        spawn_line_reader(child.stderr.take().expect("stderr"), stderr.clone(), None);

        let deadline = Instant::now() + START_TIMEOUT;
        let mut token = String::new();
        let mut printed_base = String::new();
        let origin;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) => {
                    if let Some(i) = line.find("API token (shown once):") {
                        token = line[i + "API token (shown once):".len()..].trim().to_string();
                    }
                    if let Some(i) = line.find("SCIM base URL:") {
                        printed_base = line[i + "SCIM base URL:".len()..].trim().to_string();
                    }
                    if let Some(i) = line.find("listening on ") {
                        origin = line[i + "listening on ".len()..].trim().trim_end_matches('/').to_string();
                        break;
                    }
                }
                Err(_) => {
                    let exited = child.try_wait().ok().flatten();
                    if Instant::now() >= deadline || exited.is_some() {
                        if exited.is_none() {
                            let _ = child.kill();
                        }
                        let _ = child.wait();
                        std::thread::sleep(Duration::from_millis(100));
                        panic!(
                            "scimd serve did not print its listening line (exit: {exited:?})\n\
                             stdout:\n{}\nstderr:\n{}",
                            stdout.lock().map(|v| v.join("\n")).unwrap_or_default(),
                            stderr.lock().map(|v| v.join("\n")).unwrap_or_default()
                        );
                    }
                }
            }
        }
        TestServer {
            child,
            base: format!("{origin}/scim/v2"),
            origin,
            printed_base,
            token,
            db: db.to_path_buf(),
            agent: agent(),
            stdout,
            stderr,
            _dir: None,
        }
    }

    /// The server's process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub fn stdout_text(&self) -> String {
        self.stdout.lock().map(|v| v.join("\n")).unwrap_or_default()
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().map(|v| v.join("\n")).unwrap_or_default()
    }

    /// Raw request to `path` under the SCIM base, with exactly the given headers.
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
        raw(&self.agent, method, &self.url(path), headers, body)
    }

    /// Authenticated request with optional JSON body (sent as application/scim+json) and extra
    /// headers.
    pub fn send(&self, method: &str, path: &str, extra: &[(&str, &str)], body: Option<&Value>) -> Resp {
        let auth = self.auth();
        let mut headers: Vec<(&str, &str)> = vec![("Authorization", &auth)];
        let bytes = body.map(|b| serde_json::to_vec(b).expect("serialize"));
        if bytes.is_some() {
            headers.push(("Content-Type", SCIM_JSON));
        }
        headers.extend_from_slice(extra);
        self.raw(method, path, &headers, bytes.as_deref())
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], None)
    }

    /// `POST /oauth/token` with a form body and exactly the given extra headers.
    pub fn token_request(&self, headers: &[(&str, &str)], form: &str) -> Resp {
        let mut all: Vec<(&str, &str)> = vec![("Content-Type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        raw(&self.agent, "POST", &format!("{}/oauth/token", self.origin), &all, Some(form.as_bytes()))
    }

    /// An access token for `client` (client_secret_basic), asserting 200.
    #[track_caller]
    pub fn access_token(&self, client: &OAuthClient, scope: Option<&str>) -> String {
        let form = match scope {
            Some(s) => format!("grant_type=client_credentials&scope={}", enc(s)),
            None => "grant_type=client_credentials".to_string(),
        };
        let r = self.token_request(&[("Authorization", &basic_auth(&client.id, &client.secret))], &form);
        assert_eq!(r.status, 200, "token request: {}", r.text);
        r.json["access_token"].as_str().expect("access_token").to_string()
    }

    /// GET `path` under the SCIM base with `Authorization: Bearer <token>`.
    pub fn get_as(&self, token: &str, path: &str) -> Resp {
        self.raw("GET", path, &[("Authorization", &format!("Bearer {token}"))], None)
    }
    pub fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, &[], None)
    }
    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.send("POST", path, &[], Some(body))
    }
    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.send("PUT", path, &[], Some(body))
    }
    pub fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send("PATCH", path, &[], Some(body))
    }

    /// GET with a `filter` query parameter (percent-encoded here) on `/Users` or `/Groups`.
    pub fn filter(&self, endpoint: &str, filter: &str) -> Resp {
        self.get(&format!("{endpoint}?filter={}", enc(filter)))
    }

    /// POSTs a user and asserts 201; returns the created resource.
    #[track_caller]
    pub fn create_user_body(&self, body: &Value) -> Value {
        let r = self.post("/Users", body);
        r.expect(201);
        r.json
    }

    /// Creates a plain user named `user_name`; returns the resource.
    #[track_caller]
    pub fn create_user(&self, user_name: &str) -> Value {
        self.create_user_body(&user_body(user_name))
    }

    /// Creates a group with the given member ids (users or groups); returns the resource.
    #[track_caller]
    pub fn create_group(&self, name: &str, members: &[&str]) -> Value {
        let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
        let r = self.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}));
        r.expect(201);
        r.json
    }

    /// The ListResponse total of an endpoint (`/Users` or `/Groups`).
    #[track_caller]
    pub fn count(&self, endpoint: &str) -> i64 {
        let r = self.get(endpoint);
        r.expect(200);
        r.total()
    }

    /// `filter.maxResults` advertised by the ServiceProviderConfig.
    pub fn max_results(&self) -> i64 {
        let r = self.get("/ServiceProviderConfig");
        r.expect(200);
        r.json["filter"]["maxResults"].as_i64().unwrap_or_else(|| panic!("filter.maxResults not an integer: {r:#?}"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A typical user body.
pub fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true
    })
}

pub fn patch_body(ops: Value) -> Value {
    json!({"schemas": [PATCH_SCHEMA], "Operations": ops})
}

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v:#}")).to_string()
}

/// Member ids of a group resource (empty when `members` is absent or null).
pub fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|a| a.iter().map(|m| m["value"].as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

pub fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The `groups` of a user as (value, type) pairs, sorted, from an already fetched User.
pub fn groups_of_user(user: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = user["groups"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|g| {
                    let field = |k: &str| g[k].as_str().unwrap_or_default().to_string();
                    (field("value"), field("type"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The bytes of the database file and of its `-wal` / `-shm` companions that exist, with their paths.
pub fn database_files(db: &Path) -> Vec<(String, Vec<u8>)> {
    let text = db.to_string_lossy();
    if text.starts_with("postgres://") {
        // PostgreSQL: every row of every table, as text.
        use diesel::{Connection, QueryableByName, RunQueryDsl};
        #[derive(QueryableByName)]
        struct Dump {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        let mut c = diesel::PgConnection::establish(&text).expect("connect");
        let tables: Vec<Dump> = diesel::sql_query(
            "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .load(&mut c)
        .expect("tables");
        return tables
            .into_iter()
            .map(|table| {
                let rows: Vec<Dump> =
                    diesel::sql_query(format!("SELECT r::text AS t FROM {} r", table.t)).load(&mut c).expect("rows");
                let bytes = rows.into_iter().flat_map(|r| r.t.into_bytes()).collect();
                (table.t, bytes)
            })
            .collect();
    }
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let path = format!("{}{suffix}", db.display());
            std::fs::read(&path).ok().map(|bytes| (path, bytes))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// The URL of the test cluster's admin database: `SCIMD_TEST_POSTGRES` when set (`.ci/run` starts a cluster and
/// sets it), else a throwaway cluster `scripts/pg-cluster.sh` starts once in the temp dir and leaves running
/// for later runs (`scripts/pg-cluster.sh stop "$TMPDIR/scimd-test-pg"` ends it).
fn pg_admin_url() -> &'static str {
    static ADMIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ADMIN.get_or_init(|| {
        if let Ok(url) = std::env::var("SCIMD_TEST_POSTGRES") {
            return url;
        }
        let dir = std::env::temp_dir().join("scimd-test-pg");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg-cluster.sh");
        let start = || Command::new(script).arg("start").arg(&dir).output().expect("run scripts/pg-cluster.sh");
        let mut out = start();
        if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not running") {
            // Left behind by a machine that stopped without stopping it: clear it and start afresh.
            let _ = Command::new(script).arg("stop").arg(&dir).output();
            out = start();
        }
        assert!(
            out.status.success(),
            "could not start a PostgreSQL test cluster: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

/// A fresh, empty PostgreSQL database on the test cluster: its URL.
pub fn pg_database() -> String {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let admin = pg_admin_url();
    let name = format!("scimd_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = diesel::PgConnection::establish(admin).expect("connect to the test cluster");
    conn.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a test database");
    let (base, _) = admin.rsplit_once('/').expect("a database URL");
    format!("{base}/{name}")
}
