//! Authentication over real HTTP (issue 2, item 3): Bearer and raw-header styles, 401s with a
//! SCIM error body and `WWW-Authenticate: Bearer`, discovery behind auth unless --public-discovery.
mod common;

use common::*;
use serde_json::json;

#[track_caller]
fn assert_401(r: &Resp) {
    r.expect_error(401, None);
    let www = r.header("www-authenticate").unwrap_or_default();
    assert!(www.to_ascii_lowercase().starts_with("bearer"), "WWW-Authenticate should be Bearer, got {www:?}; {r:#?}");
}

#[test]
fn startup_mints_a_default_token_and_prints_the_base_url() {
    let srv = TestServer::start();
    assert!(srv.token.starts_with("scimd_"), "token: {:?}", srv.token);
    assert_eq!(srv.printed_base, srv.base, "printed SCIM base URL");
    assert!(srv.origin.starts_with("http://127.0.0.1:"));
}

#[test]
fn bearer_token_is_accepted() {
    let srv = TestServer::start();
    let auth = format!("Bearer {}", srv.token);
    let r = srv.raw("GET", "/Users", &[("Authorization", &auth)], None);
    r.expect(200);
    assert_scim_content_type(&r);
    assert_eq!(r.json["schemas"], json!([LIST_SCHEMA]));
    assert_eq!(r.json["totalResults"], json!(0));
}

#[test]
fn raw_token_as_whole_header_is_accepted() {
    let srv = TestServer::start();
    let r = srv.raw("GET", "/Users", &[("Authorization", &srv.token)], None);
    r.expect(200);
    assert_eq!(r.json["totalResults"], json!(0));
    // Writes work with the raw style too.
    let body = serde_json::to_vec(&user_body("raw@example.com")).unwrap();
    let r = srv.raw("POST", "/Users", &[("Authorization", &srv.token), ("Content-Type", SCIM_JSON)], Some(&body));
    r.expect(201);
}

#[test]
fn missing_authorization_is_401() {
    let srv = TestServer::start();
    assert_401(&srv.raw("GET", "/Users", &[], None));
    assert_401(&srv.raw("GET", "/Groups", &[], None));
}

#[test]
fn unknown_and_malformed_credentials_are_401() {
    let srv = TestServer::start();
    // A token that differs from the real one in its last character.
    let mut wrong = srv.token.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    let prefix_only = "scimd_".to_string();
    let bearer_wrong = format!("Bearer {wrong}");
    let extra = format!("Bearer {}x", srv.token);
    let cases: Vec<&str> = vec![
        &bearer_wrong,
        &wrong,
        &extra,
        "Bearer ",
        "Bearer",
        "",
        "non-token",
        &prefix_only,
        "Basic dXNlcjpwYXNzd29yZA==",
    ];
    for auth in cases {
        let r = srv.raw("GET", "/Users", &[("Authorization", auth)], None);
        assert_eq!(r.status, 401, "Authorization {auth:?} must be rejected: {r:#?}");
        assert_401(&r);
    }
    // Basic carrying the real token as its credentials is still Basic.
    let basic = format!("Basic {}", srv.token);
    assert_401(&srv.raw("GET", "/Users", &[("Authorization", &basic)], None));
}

#[test]
fn unauthenticated_requests_are_not_processed() {
    let srv = TestServer::start();
    // A valid create without credentials: 401 and nothing written.
    let body = serde_json::to_vec(&user_body("sneaky@example.com")).unwrap();
    let r = srv.raw("POST", "/Users", &[("Content-Type", SCIM_JSON)], Some(&body));
    assert_401(&r);
    // Malformed JSON without credentials: still 401 (auth comes first), not 400.
    let r = srv.raw(
        "POST",
        "/Users",
        &[("Content-Type", SCIM_JSON), ("Authorization", "Bearer nope")],
        Some(b"{\"userName\":"),
    );
    assert_401(&r);
    assert_eq!(srv.count("/Users"), 0);
}

#[test]
fn discovery_requires_auth_by_default() {
    let srv = TestServer::start();
    for path in [
        "/ServiceProviderConfig",
        "/Schemas",
        "/ResourceTypes",
        "/ResourceTypes/User",
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
    ] {
        let r = srv.raw("GET", path, &[], None);
        assert_eq!(r.status, 401, "{path} without auth: {r:#?}");
        assert_401(&r);
        srv.get(path).expect(200);
    }
}

#[test]
fn public_discovery_opens_discovery_only() {
    let srv = TestServer::start_with(&["--public-discovery"]);
    for path in ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/ResourceTypes/Group"] {
        let r = srv.raw("GET", path, &[], None);
        assert_eq!(r.status, 200, "{path} with --public-discovery: {r:#?}");
        assert_scim_content_type(&r);
    }
    assert_401(&srv.raw("GET", "/Users", &[], None));
    assert_401(&srv.raw("GET", "/Groups", &[], None));
    // Exactly the discovery routes: no look-alike path, no other spelling, nothing below them.
    for path in [
        "/serviceproviderconfig",
        "/ServiceProviderConfig/x",
        "/Schemas/a/b",
        "/ResourceTypesX",
        "/Schemas/../Users",
        "/Bulk",
        "/.search",
        "/Me",
        "/Nope",
    ] {
        assert_401(&srv.raw("GET", path, &[], None));
    }
    // A HEAD is a read like GET; other methods on discovery are 405 for everybody.
    srv.raw("HEAD", "/Schemas", &[], None).expect(200);
    srv.raw("POST", "/Schemas", &[("Content-Type", "application/scim+json")], Some(b"{}")).expect(405);
}

#[test]
fn restart_keeps_the_token_and_mints_no_new_one() {
    let dir = TempDir::new("restart");
    let db = dir.db();
    let first = TestServer::start_on(&db, &[], &[]);
    let token = first.token.clone();
    assert!(token.starts_with("scimd_"), "first start must mint a token");
    drop(first);
    let second = TestServer::start_on(&db, &[], &[]);
    assert_eq!(second.token, "", "a second start must not mint/print a token");
    assert!(!second.stdout_text().contains(&token), "the token was printed again: {}", second.stdout_text());
    let auth = format!("Bearer {token}");
    second.raw("GET", "/Users", &[("Authorization", &auth)], None).expect(200);
}

#[test]
fn access_log_never_shows_the_token() {
    let dir = TempDir::new("log");
    let db = dir.db();
    let srv = TestServer::start_on(&db, &[], &[("RUST_LOG", "info")]);
    let auth = srv.auth();
    srv.raw("GET", "/Users", &[("Authorization", &auth)], None).expect(200);
    srv.raw("GET", "/Users", &[("Authorization", &srv.token)], None).expect(200);
    srv.raw("GET", "/Nope", &[("Authorization", &auth)], None);
    let bad = format!("Bearer {}zz", srv.token);
    srv.raw("GET", "/Users", &[("Authorization", &bad)], None).expect(401);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let secret = srv.token.trim_start_matches("scimd_").to_string();
    let err = srv.stderr_text();
    assert!(!err.is_empty(), "RUST_LOG=info should produce log lines");
    assert!(!err.contains(&secret), "token secret appears in the log:\n{err}");
    // One access-log line per request, 401s included.
    let access: Vec<&str> = err.lines().filter(|l| l.contains("/scim/v2/")).collect();
    assert!(access.len() >= 4, "one access-log line per request:\n{err}");
    assert!(access.iter().any(|l| l.contains(" 401")), "401s are logged too:\n{err}");
    // stdout shows it exactly once: the startup line.
    let out = srv.stdout_text();
    assert_eq!(out.matches(&secret).count(), 1, "stdout:\n{out}");
}

/// Optional OAuth access tokens (issue 2, item 3): with an issuer, audience and key configured, a signed
/// JWT is accepted besides API tokens; a foreign, expired or mis-addressed one is refused.
#[test]
fn signed_jwt_access_tokens_when_an_issuer_is_configured() {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        aud: &'a str,
        sub: &'a str,
        exp: i64,
    }
    let dir = TempDir::new("jwt");
    let secret = "an HS256 shared secret of at least 32 characters";
    let key_file = dir.path.join("jwt.key");
    std::fs::write(&key_file, secret).unwrap();
    let key_path = key_file.to_string_lossy().to_string();
    let srv = TestServer::start_on(
        &dir.db(),
        &["--jwt-issuer", "https://idp.example", "--jwt-audience", "scimd", "--jwt-key-file", &key_path],
        &[],
    );
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let sign = |iss: &str, aud: &str, exp: i64, secret: &str| {
        let claims = Claims { iss, aud, sub: "okta", exp };
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    };
    let good = sign("https://idp.example", "scimd", now + 600, secret);
    srv.raw("GET", "/Users", &[("Authorization", &format!("Bearer {good}"))], None).expect(200);
    for bad in [
        sign("https://idp.example", "scimd", now - 600, secret),
        sign("https://other.example", "scimd", now + 600, secret),
        sign("https://idp.example", "someone-else", now + 600, secret),
        sign("https://idp.example", "scimd", now + 600, "a different secret that is also long enough"),
    ] {
        assert_401(&srv.raw("GET", "/Users", &[("Authorization", &format!("Bearer {bad}"))], None));
    }
    // API tokens keep working beside JWTs.
    srv.raw("GET", "/Users", &[("Authorization", &srv.auth())], None).expect(200);
}

#[test]
fn jwt_flags_must_come_together() {
    let dir = TempDir::new("jwtflags");
    let (status, _out, err) = run_cli(&dir.db(), &["serve", "--bind", "127.0.0.1:0", "--jwt-issuer", "x"]);
    assert!(!status.success(), "serve must refuse an issuer without audience and key");
    assert!(err.contains("jwt"), "stderr names the missing flags: {err}");
}

/// Repeated failed authentication from one address is slowed (429 with Retry-After); a valid credential from
/// the same address is still served, and the window ends.
#[test]
fn repeated_failures_from_one_address_are_throttled_but_valid_tokens_pass() {
    let srv = TestServer::start_with(&["--auth-failure-limit", "3", "--auth-failure-window", "2"]);
    let bad = [("Authorization", "Bearer scimd_not_a_real_token")];
    for _ in 0..3 {
        srv.raw("GET", "/Users", &bad, None).expect_error(401, None);
    }
    let r = srv.raw("GET", "/Users", &bad, None);
    r.expect_error(429, None);
    let wait: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    assert_eq!(srv.raw("GET", "/Users", &[], None).status, 429, "a missing credential counts too");
    // Someone else's failures never lock out a valid token, even from the same address.
    let auth = srv.auth();
    srv.raw("GET", "/Users", &[("Authorization", &auth)], None).expect(200);
    std::thread::sleep(std::time::Duration::from_millis(2200));
    srv.raw("GET", "/Users", &bad, None).expect_error(401, None);
}
