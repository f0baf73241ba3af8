//! scimd as its own OAuth 2.0 authorization server (client credentials, RFC 6749 §4.4): the whole flow against
//! the real binary, the issued tokens checked against the published JWKS by an independent library (ring), and
//! every bad input answered with its RFC 6749 / RFC 6750 error.
mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn user(name: &str) -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": name})
}

fn as_bearer(srv: &TestServer, token: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bearer {token}");
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    let mut headers = vec![("Authorization", auth.as_str())];
    if bytes.is_some() {
        headers.push(("Content-Type", SCIM_JSON));
    }
    srv.raw(method, path, &headers, bytes.as_deref())
}

/// A refused bearer token: 401, a SCIM error, and RFC 6750's `invalid_token` challenge.
#[track_caller]
fn assert_invalid_token(r: &Resp, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    assert_eq!(r.json["schemas"], json!([ERROR_SCHEMA]), "{what}");
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"scimd\", error=\"invalid_token\""), "{what}");
}

/// Polls until `token` is refused (a revocation reaches every process within a second), at most 5 s.
#[track_caller]
fn refused_soon(srv: &TestServer, token: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = srv.get_as(token, "/Users");
        if r.status == 401 || Instant::now() > deadline {
            assert_invalid_token(&r, what);
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// mint → call SCIM → rotate with grace → revoke → refused, with both client authentication methods.
#[test]
fn client_credentials_flow_end_to_end() {
    let srv = TestServer::start();
    let client = cli_create_client(&srv.db, "entra", &[]);
    assert!(client.secret.starts_with("scimdcs_"), "{}", client.secret);

    // Discovery (RFC 8414) says where the token endpoint is.
    let meta = raw(&srv.agent, "GET", &format!("{}/.well-known/oauth-authorization-server", srv.origin), &[], None);
    meta.expect(200);
    assert_eq!(meta.json["issuer"], srv.origin);
    assert_eq!(meta.json["token_endpoint"], format!("{}/oauth/token", srv.origin));
    assert_eq!(meta.json["jwks_uri"], format!("{}/.well-known/jwks.json", srv.origin));
    assert_eq!(meta.json["grant_types_supported"], json!(["client_credentials"]));
    assert_eq!(
        meta.json["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(meta.json["scopes_supported"], json!(["scim:read", "scim:write"]));

    // client_secret_basic.
    let r = srv
        .token_request(&[("Authorization", &basic_auth(&client.id, &client.secret))], "grant_type=client_credentials");
    r.expect(200);
    assert_eq!(r.json["token_type"], "Bearer");
    assert_eq!(r.json["expires_in"], 3600, "the default lifetime is one hour");
    assert_eq!(r.json["scope"], "scim:read scim:write");
    assert_eq!(r.header("cache-control"), Some("no-store"), "RFC 6749 §5.1");
    assert_eq!(r.header("pragma"), Some("no-cache"));
    let basic_token = r.json["access_token"].as_str().unwrap().to_string();

    // client_secret_post.
    let form = format!("grant_type=client_credentials&client_id={}&client_secret={}", client.id, client.secret);
    let r = srv.token_request(&[], &form);
    r.expect(200);
    let post_token = r.json["access_token"].as_str().unwrap().to_string();
    assert_ne!(basic_token, post_token);

    // Both call the SCIM API, reading and writing; the access log names the client, never the token.
    let created = as_bearer(&srv, &basic_token, "POST", "/Users", Some(&user("oauth-1@example.com")));
    created.expect(201);
    as_bearer(&srv, &post_token, "GET", &format!("/Users/{}", created.json["id"].as_str().unwrap()), None).expect(200);
    assert_eq!(srv.get_as(&post_token, "/Users").total(), 1);

    // Rotation with a grace period: old and new secrets both work.
    let (st, out, err) = run_cli(&srv.db, &["client", "rotate", "entra", "--grace", "1h"]);
    assert!(st.success(), "{err}");
    let second = client_from_stdout(&out);
    assert_eq!(second.id, client.id, "rotation keeps the client id");
    assert_ne!(second.secret, client.secret);
    let first_token = srv.access_token(&client, None);
    let second_token = srv.access_token(&second, None);
    srv.get_as(&second_token, "/Users").expect(200);
    let (_, list, _) = run_cli(&srv.db, &["client", "list"]);
    let row: Vec<&str> = list.lines().find(|l| l.starts_with(&client.id)).unwrap().split_whitespace().collect();
    assert_eq!((row[1], row[2], row[5], row[6]), ("entra", "read-write", "2", "rotating"), "{list}");

    // A rotation with no grace ends every previous secret at once; tokens already issued keep working.
    let (st, out, err) = run_cli(&srv.db, &["client", "rotate", &client.id, "--grace", "0s"]);
    assert!(st.success(), "{err}");
    let third = client_from_stdout(&out);
    for old in [&client, &second] {
        let r =
            srv.token_request(&[("Authorization", &basic_auth(&old.id, &old.secret))], "grant_type=client_credentials");
        r.expect(401);
        assert_eq!(r.json["error"], "invalid_client");
    }
    srv.access_token(&third, None);
    srv.get_as(&first_token, "/Users").expect(200);

    // Revocation: the client's secrets and every unexpired access token stop working.
    let (st, _, err) = run_cli(&srv.db, &["client", "revoke", "entra"]);
    assert!(st.success(), "{err}");
    for token in [&basic_token, &post_token, &first_token, &second_token] {
        refused_soon(&srv, token, "a token of a revoked client");
    }
    let r =
        srv.token_request(&[("Authorization", &basic_auth(&third.id, &third.secret))], "grant_type=client_credentials");
    r.expect(401);
    assert_eq!(r.json["error"], "invalid_client");
    let (_, list, _) = run_cli(&srv.db, &["client", "list"]);
    assert!(list.lines().any(|l| l.starts_with(&client.id) && l.ends_with("revoked")), "{list}");

    // No secret and no access token ever reached the log.
    let log = srv.stderr_text() + &srv.stdout_text();
    for secret in [&client.secret, &second.secret, &third.secret, &basic_token, &post_token, &first_token] {
        assert!(!log.contains(secret.as_str()), "a secret reached the log");
    }
    assert!(log.contains("credential=client:entra"), "the access log names the client");
}

/// The issued token verifies against the published JWKS with ring (not the library that signed it), and its
/// claims follow RFC 9068.
#[test]
fn issued_tokens_verify_against_the_jwks_with_an_independent_library() {
    let srv = TestServer::start();
    let client = cli_create_client(&srv.db, "verifier", &[]);
    let token = srv.access_token(&client, None);
    let jwks = raw(&srv.agent, "GET", &format!("{}/.well-known/jwks.json", srv.origin), &[], None);
    jwks.expect(200);
    assert_eq!(jwks.header("content-type"), Some("application/jwk-set+json"));
    let keys = jwks.json["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let jwk = &keys[0];
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str(), jwk["alg"].as_str()),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    assert!(jwk.get("d").is_none(), "no private part is published");

    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode_part(parts[0]);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt", "RFC 9068 §2.1");
    assert_eq!(header["kid"], jwk["kid"]);

    // ES256: the uncompressed point 0x04 || x || y; the signature is r || s over "header.payload".
    let mut point = vec![4u8];
    point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
    let public = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &point);
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    public.verify(signed.as_bytes(), &signature).expect("the signature verifies with the published key");
    let tampered = format!("{}.{}", parts[0], URL_SAFE_NO_PAD.encode(b"{\"sub\":\"someone-else\"}"));
    assert!(public.verify(tampered.as_bytes(), &signature).is_err(), "ring refuses a changed payload");

    let claims = decode_part(parts[1]);
    assert_eq!(claims["iss"], srv.origin);
    assert_eq!(claims["aud"], srv.base);
    assert_eq!(claims["sub"], client.id.as_str());
    assert_eq!(claims["client_id"], client.id.as_str());
    assert_eq!(claims["scope"], "scim:read scim:write");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
}

#[test]
fn token_lifetime_is_configurable_from_one_to_six_hours() {
    let srv = TestServer::start_with(&["--oauth-token-lifetime", "6h"]);
    let client = cli_create_client(&srv.db, "long", &[]);
    let r = srv
        .token_request(&[("Authorization", &basic_auth(&client.id, &client.secret))], "grant_type=client_credentials");
    r.expect(200);
    assert_eq!(r.json["expires_in"], 21600);
    let claims = decode_part(r.json["access_token"].as_str().unwrap().split('.').nth(1).unwrap());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 21600);

    let dir = TempDir::new("lifetime");
    for bad in ["7h", "30m", "0s", "forever"] {
        let (st, _, err) = run_cli(&dir.db(), &["serve", "--bind", "127.0.0.1:0", "--oauth-token-lifetime", bad]);
        assert!(!st.success(), "{bad} accepted");
        assert!(err.contains("--oauth-token-lifetime") || err.contains("invalid duration"), "{bad}: {err}");
    }
}

/// Every malformed or unauthorised token request: the exact RFC 6749 §5.2 answer, never cached, never logged
/// with its secret, and nothing issued.
#[test]
fn token_endpoint_answers_bad_requests_with_rfc6749_errors() {
    let srv = TestServer::start_with(&["--auth-failure-limit", "1000"]);
    let client = cli_create_client(&srv.db, "idp", &[]);
    let reader = cli_create_client(&srv.db, "collector", &["--scope", "scim:read"]);
    let gone = cli_create_client(&srv.db, "gone", &[]);
    run_cli(&srv.db, &["client", "revoke", "gone"]);
    let good_basic = basic_auth(&client.id, &client.secret);
    let wrong_basic = basic_auth(&client.id, "scimdcs_wrong-secret-value");
    let unknown_basic = basic_auth("no-such-client", &client.secret);
    let gone_basic = basic_auth(&gone.id, &gone.secret);
    let reader_basic = basic_auth(&reader.id, &reader.secret);
    let cc = "grant_type=client_credentials";
    let post = |id: &str, secret: &str| format!("{cc}&client_id={id}&client_secret={secret}");
    let form = "application/x-www-form-urlencoded";
    let secret_query = format!("?client_secret={}", client.secret);

    // (what, method, extra query, content type, Authorization, body, status, error)
    type Case<'a> = (&'a str, &'a str, &'a str, &'a str, Option<String>, String, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("wrong secret (basic)", "POST", "", form, Some(wrong_basic.clone()), cc.into(), 401, "invalid_client"),
        ("wrong secret (post)", "POST", "", form, None, post(&client.id, "scimdcs_nope"), 401, "invalid_client"),
        ("unknown client", "POST", "", form, Some(unknown_basic), cc.into(), 401, "invalid_client"),
        ("revoked client", "POST", "", form, Some(gone_basic), cc.into(), 401, "invalid_client"),
        ("no client authentication", "POST", "", form, None, cc.into(), 401, "invalid_client"),
        (
            "a secret without a client id",
            "POST",
            "",
            form,
            None,
            format!("{cc}&client_secret={}", client.secret),
            400,
            "invalid_request",
        ),
        ("malformed Basic", "POST", "", form, Some("Basic %%%".into()), cc.into(), 401, "invalid_client"),
        ("a Bearer header", "POST", "", form, Some("Bearer abc".into()), cc.into(), 401, "invalid_client"),
        (
            "two authentication methods",
            "POST",
            "",
            form,
            Some(good_basic.clone()),
            post(&client.id, &client.secret),
            400,
            "invalid_request",
        ),
        (
            "missing grant_type",
            "POST",
            "",
            form,
            Some(good_basic.clone()),
            "scope=scim%3Aread".into(),
            400,
            "invalid_request",
        ),
        (
            "duplicated grant_type",
            "POST",
            "",
            form,
            Some(good_basic.clone()),
            format!("{cc}&{cc}"),
            400,
            "invalid_request",
        ),
        (
            "duplicated client_id",
            "POST",
            "",
            form,
            None,
            format!("{}&client_id={}", post(&client.id, &client.secret), client.id),
            400,
            "invalid_request",
        ),
        (
            "password grant",
            "POST",
            "",
            form,
            Some(good_basic.clone()),
            "grant_type=password&username=a&password=b".into(),
            400,
            "unsupported_grant_type",
        ),
        (
            "authorization_code grant",
            "POST",
            "",
            form,
            Some(good_basic.clone()),
            "grant_type=authorization_code&code=x".into(),
            400,
            "unsupported_grant_type",
        ),
        (
            "refresh_token grant",
            "POST",
            "",
            form,
            Some(good_basic.clone()),
            "grant_type=refresh_token&refresh_token=x".into(),
            400,
            "invalid_grant",
        ),
        (
            "unknown scope",
            "POST",
            "",
            form,
            Some(good_basic.clone()),
            format!("{cc}&scope=scim%3Aadmin"),
            400,
            "invalid_scope",
        ),
        (
            "read-only client asks to write",
            "POST",
            "",
            form,
            Some(reader_basic),
            format!("{cc}&scope=scim%3Awrite"),
            400,
            "invalid_scope",
        ),
        (
            "JSON body",
            "POST",
            "",
            "application/json",
            Some(good_basic.clone()),
            r#"{"grant_type":"client_credentials"}"#.into(),
            400,
            "invalid_request",
        ),
        ("secret in the URL", "POST", &secret_query, form, Some(good_basic.clone()), cc.into(), 400, "invalid_request"),
        ("GET", "GET", "", form, Some(good_basic.clone()), String::new(), 405, "invalid_request"),
        (
            "oversized body",
            "POST",
            "",
            form,
            Some(good_basic.clone()),
            format!("{cc}&pad={}", "x".repeat(20_000)),
            413,
            "invalid_request",
        ),
    ];
    for (what, method, query, content_type, authorization, body, status, error) in &cases {
        let mut headers: Vec<(&str, &str)> = vec![("Content-Type", content_type)];
        if let Some(a) = authorization {
            headers.push(("Authorization", a));
        }
        let url = format!("{}/oauth/token{query}", srv.origin);
        let r = raw(&srv.agent, method, &url, &headers, (!body.is_empty()).then_some(body.as_bytes()));
        assert_eq!(r.status, *status, "{what}: {}", r.text);
        assert_eq!(r.json["error"], *error, "{what}: {}", r.text);
        assert!(r.json["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{what}");
        assert!(r.json.get("access_token").is_none(), "{what}");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
        let challenge = r.header("www-authenticate");
        if *error == "invalid_client" {
            assert_eq!(challenge, Some("Basic realm=\"scimd\""), "{what}");
        } else {
            assert_eq!(challenge, None, "{what}");
        }
        if *method == "GET" {
            assert_eq!(r.header("allow"), Some("POST"), "{what}");
        }
        assert!(!r.text.contains(&client.secret), "{what}: the answer echoes the secret");
    }

    // The server still issues to the same client, and never logged a secret.
    srv.access_token(&client, None);
    let log = srv.stderr_text();
    for secret in [&client.secret, &reader.secret, &gone.secret] {
        assert!(!log.contains(secret.as_str()), "a client secret reached the log");
    }
    assert!(log.contains("invalid_client"), "refusals are logged");
}

/// Failures are throttled per client id: over the limit they get 429 with Retry-After, while the right secret
/// is always served.
#[test]
fn token_endpoint_throttles_failures_without_locking_out_valid_clients() {
    let srv = TestServer::start_with(&["--auth-failure-limit", "3", "--auth-failure-window", "60"]);
    let client = cli_create_client(&srv.db, "target", &[]);
    let other = cli_create_client(&srv.db, "bystander", &[]);
    let wrong = basic_auth(&client.id, "scimdcs_guess");
    for _ in 0..3 {
        let r = srv.token_request(&[("Authorization", &wrong)], "grant_type=client_credentials");
        assert_eq!((r.status, r.json["error"].as_str()), (401, Some("invalid_client")));
    }
    let r = srv.token_request(&[("Authorization", &wrong)], "grant_type=client_credentials");
    assert_eq!((r.status, r.json["error"].as_str()), (429, Some("invalid_client")), "{}", r.text);
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // The valid client is served at once, and so is another one.
    srv.access_token(&client, None);
    srv.access_token(&other, None);
}

/// Tokens that are not ours, not valid, or not for us: each a 401 with RFC 6750's `invalid_token`.
#[test]
fn bad_access_tokens_are_refused() {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use scimd::oauth::AccessClaims;
    let srv = TestServer::start_with(&["--auth-failure-limit", "1000"]);
    let client = cli_create_client(&srv.db, "idp", &[]);
    let good = srv.access_token(&client, None);
    srv.get_as(&good, "/Users").expect(200);
    let parts: Vec<&str> = good.split('.').collect();
    let header = decode_part(parts[0]);
    let claims: AccessClaims = serde_json::from_value(decode_part(parts[1])).unwrap();

    // The test holds the database, hence the server's signing key: it can sign what the server never would.
    let store = scimd::store::Store::open(srv.db.to_str().unwrap(), &Default::default()).unwrap();
    let ring = scimd::oauth::keys::KeyRing::new(store.clone());
    let now = chrono::Utc::now().timestamp();
    let with = |f: &dyn Fn(&mut AccessClaims)| {
        let mut c = claims.clone();
        f(&mut c);
        ring.sign(&c).unwrap().1.expose().to_string()
    };
    let server_key = {
        use base64::engine::general_purpose::STANDARD;
        let rows = store.read(scimd::store::oauth::signing_keys).unwrap();
        EncodingKey::from_ec_der(&STANDARD.decode(&rows[0].private_key).unwrap())
    };
    let foreign_key = {
        use base64::engine::general_purpose::STANDARD;
        EncodingKey::from_ec_der(&STANDARD.decode(scimd::oauth::keys::generate().unwrap().private_key).unwrap())
    };
    let kid = header["kid"].as_str().unwrap().to_string();
    let sign_raw = |key: &EncodingKey, alg: Algorithm, typ: &str, kid: &str| {
        let mut h = Header::new(alg);
        h.typ = Some(typ.into());
        h.kid = Some(kid.into());
        encode(&h, &claims, key).unwrap()
    };
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string()),
        parts[1]
    );
    let mut more_scope = claims.clone();
    more_scope.sub = "someone-else".into();
    let tampered =
        format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(serde_json::to_vec(&more_scope).unwrap()), parts[2]);

    let cases: Vec<(&str, String)> = vec![
        ("alg none", unsigned),
        ("tampered payload", tampered),
        ("truncated signature", format!("{}.{}.{}", parts[0], parts[1], &parts[2][..20])),
        ("signed by an unknown key", sign_raw(&foreign_key, Algorithm::ES256, "at+jwt", &kid)),
        ("unknown kid", sign_raw(&server_key, Algorithm::ES256, "at+jwt", "not-a-key-of-ours")),
        (
            "HS256 with the key id",
            sign_raw(&EncodingKey::from_secret(kid.as_bytes()), Algorithm::HS256, "at+jwt", &kid),
        ),
        ("typ JWT, not at+jwt", sign_raw(&server_key, Algorithm::ES256, "JWT", &kid)),
        (
            "expired",
            with(&|c| {
                c.iat = now - 7200;
                c.exp = now - 3600;
            }),
        ),
        ("another audience", with(&|c| c.aud = "https://other.example/scim/v2".into())),
        ("another issuer", with(&|c| c.iss = "https://evil.example".into())),
        ("an unknown client", with(&|c| c.client_id = "no-such-client".into())),
        ("not a JWT", "a.b.c".into()),
    ];
    for (what, token) in &cases {
        assert_invalid_token(&srv.get_as(token, "/Users"), what);
        assert_invalid_token(&as_bearer(&srv, token, "POST", "/Users", Some(&user("x@example.com"))), what);
    }
    // The checks above are the server's: the same claims signed properly are accepted.
    srv.get_as(&with(&|_| {}), "/Users").expect(200);
    assert_eq!(srv.get("/Users").total(), 0, "nothing was written");
}

/// A new signing key signs at once; the previous one verifies its tokens until they expire, or stops at once
/// with --retire-now.
#[test]
fn signing_keys_rotate_with_and_without_overlap() {
    let srv = TestServer::start();
    let client = cli_create_client(&srv.db, "idp", &[]);
    let jwks = || raw(&srv.agent, "GET", &format!("{}/.well-known/jwks.json", srv.origin), &[], None).json;
    let kid_of = |token: &str| decode_part(token.split('.').next().unwrap())["kid"].as_str().unwrap().to_string();
    let before = srv.access_token(&client, None);

    let (st, _, err) = run_cli(&srv.db, &["signing-key", "rotate"]);
    assert!(st.success(), "{err}");
    std::thread::sleep(Duration::from_millis(1100));
    let after = srv.access_token(&client, None);
    assert_ne!(kid_of(&before), kid_of(&after), "the new key signs");
    assert_eq!(jwks()["keys"].as_array().unwrap().len(), 2, "both keys are published");
    srv.get_as(&before, "/Users").expect(200);
    srv.get_as(&after, "/Users").expect(200);
    let (_, list, _) = run_cli(&srv.db, &["signing-key", "list"]);
    let states: Vec<&str> = list.lines().skip(1).filter_map(|l| l.split_whitespace().last()).collect();
    assert_eq!(states, vec!["verifying", "signing"], "{list}");

    let (st, _, err) = run_cli(&srv.db, &["signing-key", "rotate", "--retire-now"]);
    assert!(st.success(), "{err}");
    refused_soon(&srv, &before, "a token of a key retired at once");
    refused_soon(&srv, &after, "a token of a key retired at once");
    assert_eq!(jwks()["keys"].as_array().unwrap().len(), 1);
    let fresh = srv.access_token(&client, None);
    srv.get_as(&fresh, "/Users").expect(200);
}
