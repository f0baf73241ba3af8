//! Content types, malformed bodies, body limit and unknown routes (issue 2, item 6): each gets the
//! right RFC 7644 §3.12 error, and nothing is written.
mod common;

use common::*;
use serde_json::json;

fn body(name: &str) -> Vec<u8> {
    serde_json::to_vec(&user_body(name)).unwrap()
}

#[test]
fn json_and_scim_json_media_types_are_accepted() {
    let srv = TestServer::start();
    let auth = srv.auth();
    for (i, ct) in [
        "application/json",
        "application/scim+json",
        "application/scim+json; charset=utf-8",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
    ]
    .iter()
    .enumerate()
    {
        let b = body(&format!("ct{i}@example.com"));
        let r = srv.raw("POST", "/Users", &[("Authorization", &auth), ("Content-Type", ct)], Some(&b));
        assert_eq!(r.status, 201, "Content-Type {ct:?} must be accepted: {r:#?}");
        assert_scim_content_type(&r);
    }
    assert_eq!(srv.count("/Users"), 5);
}

#[test]
fn other_media_types_are_415() {
    let srv = TestServer::start();
    let auth = srv.auth();
    let b = body("x@example.com");
    for ct in ["text/plain", "application/xml", "application/x-www-form-urlencoded"] {
        let r = srv.raw("POST", "/Users", &[("Authorization", &auth), ("Content-Type", ct)], Some(&b));
        assert_eq!(r.status, 415, "Content-Type {ct:?}: {r:#?}");
        r.expect_error(415, None);
    }
    assert_eq!(srv.count("/Users"), 0, "nothing written");
}

#[test]
fn a_body_without_content_type_is_415() {
    let srv = TestServer::start();
    let auth = srv.auth();
    let b = body("x@example.com");
    srv.raw("POST", "/Users", &[("Authorization", &auth)], Some(&b)).expect_error(415, None);
    assert_eq!(srv.count("/Users"), 0);
}

#[test]
fn wrong_media_type_on_put_and_patch_is_415() {
    let srv = TestServer::start();
    let u = srv.create_user("w@example.com");
    let id = id_of(&u);
    let auth = srv.auth();
    let put = serde_json::to_vec(&user_body("changed@example.com")).unwrap();
    srv.raw("PUT", &format!("/Users/{id}"), &[("Authorization", &auth), ("Content-Type", "text/plain")], Some(&put))
        .expect_error(415, None);
    let patch = serde_json::to_vec(&patch_body(json!([{"op":"replace","value":{"active":false}}]))).unwrap();
    srv.raw(
        "PATCH",
        &format!("/Users/{id}"),
        &[("Authorization", &auth), ("Content-Type", "text/plain")],
        Some(&patch),
    )
    .expect_error(415, None);
    let r = srv.get(&format!("/Users/{id}"));
    assert_eq!(r.json["userName"], "w@example.com");
    assert_eq!(r.json["active"], true);
}

#[test]
fn malformed_json_is_400_invalid_syntax() {
    let srv = TestServer::start();
    let u = srv.create_user("m@example.com");
    let id = id_of(&u);
    let auth = srv.auth();
    let bad: &[&[u8]] = &[b"{\"userName\":", b"{not json}", b"", b"\xff\xfe{}"];
    for (method, path) in [
        ("POST", "/Users".to_string()),
        ("PUT", format!("/Users/{id}")),
        ("PATCH", format!("/Users/{id}")),
        ("POST", "/Groups".to_string()),
        ("POST", "/Users/.search".to_string()),
    ] {
        for b in bad {
            let r = srv.raw(method, &path, &[("Authorization", &auth), ("Content-Type", SCIM_JSON)], Some(b));
            assert_eq!(r.status, 400, "{method} {path} with {b:?}: {r:#?}");
            r.expect_error(400, Some("invalidSyntax"));
        }
    }
    assert_eq!(srv.count("/Users"), 1);
    assert_eq!(srv.count("/Groups"), 0);
    let r = srv.get(&format!("/Users/{id}"));
    assert_eq!(r.json["userName"], "m@example.com");
}

#[test]
fn json_that_is_not_an_object_is_400() {
    let srv = TestServer::start();
    for b in [json!([]), json!("x"), json!(42), json!(null)] {
        let r = srv.post("/Users", &b);
        assert_eq!(r.status, 400, "body {b}: {r:#?}");
        r.expect_error(400, None);
    }
    assert_eq!(srv.count("/Users"), 0);
}

#[test]
fn oversized_body_is_413() {
    let srv = TestServer::start_with(&["--max-body-bytes", "2048"]);
    let mut u = user_body("big@example.com");
    u["title"] = json!("x".repeat(4096));
    let r = srv.post("/Users", &u);
    r.expect_error(413, None);
    assert_eq!(srv.count("/Users"), 0);
    // Under the limit is fine.
    u["title"] = json!("x".repeat(100));
    srv.post("/Users", &u).expect(201);
    assert_eq!(srv.count("/Users"), 1);
}

#[test]
fn oversized_patch_is_413() {
    let srv = TestServer::start_with(&["--max-body-bytes", "2048"]);
    let u = srv.create_user("p@example.com");
    let id = id_of(&u);
    let b = patch_body(json!([{"op":"replace","path":"title","value":"y".repeat(5000)}]));
    srv.patch(&format!("/Users/{id}"), &b).expect_error(413, None);
    assert!(srv.get(&format!("/Users/{id}")).json.get("title").is_none());
}

#[test]
fn unknown_routes_are_scim_404() {
    let srv = TestServer::start();
    for path in ["/Nope", "/Users/x/y", "/Bogus/123"] {
        let r = srv.get(path);
        assert_eq!(r.status, 404, "{path}: {r:#?}");
        r.expect_error(404, None);
    }
    let r = raw(&srv.agent, "GET", &format!("{}/not-scim", srv.origin), &[("Authorization", &srv.auth())], None);
    r.expect_error(404, None);
}

#[test]
fn unknown_ids_are_scim_404() {
    let srv = TestServer::start();
    for id in ["6f1c4b8e-3a5d-4e2f-9b7c-1d2e3f4a5b6c", "00919288221112222"] {
        srv.get(&format!("/Users/{id}")).expect_error(404, None);
        srv.get(&format!("/Groups/{id}")).expect_error(404, None);
        srv.delete(&format!("/Users/{id}")).expect_error(404, None);
        srv.put(&format!("/Users/{id}"), &user_body("nobody@example.com")).expect_error(404, None);
        srv.patch(&format!("/Users/{id}"), &patch_body(json!([{"op":"replace","value":{"active":false}}])))
            .expect_error(404, None);
    }
    assert_eq!(srv.count("/Users"), 0, "PUT on an unknown id must not create");
}

#[test]
fn success_responses_are_scim_json() {
    let srv = TestServer::start();
    let r = srv.post("/Users", &user_body("ct@example.com"));
    r.expect(201);
    assert_scim_content_type(&r);
    let id = id_of(&r.json);
    for path in ["/Users".to_string(), format!("/Users/{id}"), "/Groups".to_string()] {
        let r = srv.get(&path);
        r.expect(200);
        assert_scim_content_type(&r);
    }
}

#[test]
fn wrong_method_on_a_known_path_is_a_scim_error() {
    let srv = TestServer::start();
    let r = srv.patch("/Users", &patch_body(json!([])));
    r.expect_error(405, None);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
    let r = srv.delete("/ServiceProviderConfig");
    r.expect_error(405, None);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

#[test]
fn method_not_allowed_names_the_allowed_methods() {
    let srv = TestServer::start();
    let r = srv.patch("/Users", &patch_body(json!([])));
    r.expect_error(405, None);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"), "{r:#?}");
    let id = id_of(&srv.create_user("allow@x.org"));
    let r = srv.send("POST", &format!("/Users/{id}"), &[], Some(&user_body("allow@x.org")));
    r.expect_error(405, None);
    assert_eq!(r.header("allow"), Some("GET, HEAD, PUT, PATCH, DELETE"));
}

/// RFC 9110 §9.1: HEAD is served wherever GET is, with the same headers and no body.
#[test]
fn head_answers_like_get_without_a_body() {
    let srv = TestServer::start();
    let id = id_of(&srv.create_user("head@x.org"));
    let get = srv.get(&format!("/Users/{id}"));
    let head = srv.send("HEAD", &format!("/Users/{id}"), &[], None);
    assert_eq!(head.status, 200);
    assert!(head.text.is_empty(), "{head:#?}");
    assert_eq!(head.header("etag"), get.header("etag"));
    assert_eq!(srv.send("HEAD", "/Users", &[], None).status, 200);
    assert_eq!(srv.send("HEAD", "/Users/no-such-id", &[], None).status, 404);
}

/// RFC 7644 §3.11: /Me is not implemented: 501, not 404.
#[test]
fn me_is_not_implemented() {
    let srv = TestServer::start();
    srv.get("/Me").expect_error(501, None);
    // Still behind authentication.
    assert_eq!(srv.raw("GET", "/Me", &[], None).status, 401);
}

/// `/healthz` and `/readyz` answer without a token, outside the SCIM prefix.
#[test]
fn health_and_readiness() {
    let srv = TestServer::start();
    let agent = agent();
    let get = |path: &str| raw(&agent, "GET", &format!("{}{path}", srv.origin), &[], None);
    let r = get("/healthz");
    assert_eq!((r.status, r.json.clone()), (200, json!({"status": "ok"})));
    let r = get("/readyz");
    assert_eq!((r.status, r.json.clone()), (200, json!({"status": "ready"})));
    let r = raw(&agent, "POST", &format!("{}/readyz", srv.origin), &[], Some(b"{}"));
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    // Not under the SCIM prefix.
    assert_eq!(srv.get("/healthz").status, 404);
}

/// A database whose schema is newer than this binary (another process upgraded it) is not ready.
#[test]
fn readiness_fails_on_an_unknown_migration() {
    let srv = TestServer::start();
    let agent = agent();
    {
        use diesel::{Connection, RunQueryDsl};
        let db = srv.db.to_str().unwrap();
        let insert = diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES ('99991231000000')");
        if db.starts_with("postgres://") {
            insert.execute(&mut diesel::PgConnection::establish(db).unwrap()).unwrap();
        } else {
            insert.execute(&mut diesel::sqlite::SqliteConnection::establish(db).unwrap()).unwrap();
        }
    }
    let r = raw(&agent, "GET", &format!("{}/readyz", srv.origin), &[], None);
    assert_eq!(r.status, 503, "{r:#?}");
    assert!(r.json["reason"].as_str().unwrap().contains("99991231000000"), "{r:#?}");
    assert_eq!(r.header("retry-after"), Some("1"));
    let r = raw(&agent, "GET", &format!("{}/healthz", srv.origin), &[], None);
    assert_eq!(r.status, 200, "still alive");
}
