//! Credential scopes: a read-only token (`scimd token create --read-only`) may GET and search and gets a 403
//! SCIM error on every write, bulk included; the check sits in the auth middleware for every route at once.
mod common;

use common::*;
use serde_json::{json, Value};

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

fn call(srv: &TestServer, token: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bearer {token}");
    let mut headers: Vec<(&str, &str)> = vec![("Authorization", &auth)];
    let bytes = body.map(|b| serde_json::to_vec(b).expect("serialize"));
    if bytes.is_some() {
        headers.push(("Content-Type", "application/scim+json"));
    }
    srv.raw(method, path, &headers, bytes.as_deref())
}

/// A body the route would accept from a read-write token, so that a 403 cannot be mistaken for a 400.
fn body_for(method: &str, path: &str, user: &str, group: &str) -> Option<Value> {
    let user_body = json!({"schemas": [USER_SCHEMA], "userName": "ro-attempt@example.com"});
    let group_body = json!({"schemas": [GROUP_SCHEMA], "displayName": "RO attempt", "members": [{"value": user}]});
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "changed"}]});
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 5});
    match method {
        "POST" if path.ends_with("/.search") => Some(search),
        "POST" if path == "/Users" => Some(user_body),
        "POST" if path == "/Groups" => Some(group_body),
        "POST" if path == "/Bulk" => Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": user_body},
                {"method": "DELETE", "path": format!("/Groups/{group}")}
            ]
        })),
        "PUT" if path.starts_with("/Users/") => Some(user_body),
        "PUT" if path.starts_with("/Groups/") => Some(group_body),
        "PATCH" => Some(patch),
        "POST" | "PUT" => Some(json!({})),
        _ => None,
    }
}

/// A concrete path for every route the router has (`scimd::http::scim_route_patterns`, recorded as the routes
/// are registered), so a route added later is walked here without editing this test; plus paths no route
/// matches.
fn every_route(uid: &str, gid: &str) -> Vec<String> {
    let patterns = scimd::http::scim_route_patterns();
    assert!(patterns.len() >= 15, "{patterns:?}");
    let mut paths: Vec<String> = patterns
        .iter()
        .map(|pattern| {
            let id = if pattern.starts_with("/Groups") { gid } else { uid };
            let filled = pattern
                .replace("{id}", id)
                .replace("{urn}", USER_SCHEMA)
                .replace("{name}", "User")
                .replace("{endpoint:Me}", "Me")
                .replace("{rest:.*}", "x");
            assert!(!filled.contains('{'), "a new route pattern {pattern}: say here what to put in it");
            filled
        })
        .collect();
    paths.extend(["/NoSuchEndpoint".to_string(), format!("/Users/{uid}/extra"), "/NoSuch/.search".to_string()]);
    paths
}

/// Every method on every route: a read-only credential gets exactly what a read-write token gets for reads,
/// and 403 for everything else; afterwards nothing has changed.
#[test]
fn a_read_only_token_reads_and_is_refused_every_write() {
    let srv = TestServer::start();
    let ro = cli_create_token(&srv.db, "collector", &["--read-only"]);
    assert_reads_only(&srv, &ro);
}

/// The same for OAuth access tokens: from a client created read-only, and from a read-write client that asked
/// for `scope=scim:read`.
#[test]
fn read_only_oauth_tokens_read_and_are_refused_every_write() {
    let srv = TestServer::start();
    let reader = cli_create_client(&srv.db, "collector", &["--scope", "scim:read"]);
    let (st, list, _) = run_cli(&srv.db, &["client", "list"]);
    assert!(st.success());
    let row: Vec<&str> = list.lines().find(|l| l.starts_with(&reader.id)).unwrap().split_whitespace().collect();
    assert_eq!(row[2], "read-only", "client list shows the scope: {list}");
    let token = srv.access_token(&reader, None);
    assert_reads_only(&srv, &token);

    let writer = cli_create_client(&srv.db, "idp", &[]);
    let narrowed = srv.access_token(&writer, Some("scim:read"));
    assert_reads_only(&srv, &narrowed);
    // The same client's full token writes.
    let full = srv.access_token(&writer, None);
    call(&srv, &full, "POST", "/Users", Some(&json!({"schemas": [USER_SCHEMA], "userName": "w@example.com"})))
        .expect(201);
}

fn assert_reads_only(srv: &TestServer, ro: &str) {
    let user = srv.create_user(&format!("reader-target-{}@example.com", uuid::Uuid::new_v4()));
    let uid = user["id"].as_str().unwrap().to_string();
    let group = srv.create_group(&format!("Readers {uid}"), &[&uid]);
    let gid = group["id"].as_str().unwrap().to_string();
    let before = (srv.get(&format!("/Users/{uid}")).json, srv.get(&format!("/Groups/{gid}")).json);
    let totals = (srv.get("/Users").total(), srv.get("/Groups").total());

    let paths = every_route(&uid, &gid);
    let mut refused = 0;
    for path in &paths {
        for method in METHODS {
            let body = body_for(method, path, &uid, &gid);
            let r = call(srv, ro, method, path, body.as_ref());
            let reads = matches!(method, "GET" | "HEAD") || (method == "POST" && path.ends_with("/.search"));
            if reads {
                let rw = call(srv, &srv.token, method, path, body.as_ref());
                assert_eq!(r.status, rw.status, "{method} {path}: read-only and read-write tokens differ");
                assert_ne!(r.status, 403, "{method} {path}");
            } else {
                assert_eq!(r.status, 403, "{method} {path}: {:?}", r.json);
                assert_eq!(r.json["schemas"], json!([ERROR_SCHEMA]), "{method} {path}");
                assert_eq!(r.json["status"], "403");
                assert!(r.json.get("scimType").is_none(), "{method} {path}: {}", r.json);
                let detail = r.json["detail"].as_str().unwrap_or_default();
                assert!(detail.contains("read-only"), "{method} {path}: {detail}");
                assert_eq!(
                    r.header("www-authenticate"),
                    Some("Bearer realm=\"scimd\", error=\"insufficient_scope\", scope=\"scim:write\""),
                    "RFC 6750 §3.1"
                );
                refused += 1;
            }
        }
    }
    let searches = paths.iter().filter(|p| p.ends_with("/.search")).count();
    assert_eq!(refused, paths.len() * 5 - searches, "every non-read method on every path");

    let after = (srv.get(&format!("/Users/{uid}")).json, srv.get(&format!("/Groups/{gid}")).json);
    assert_eq!(before, after, "nothing changed");
    let (users, groups) = (srv.get("/Users").total(), srv.get("/Groups").total());
    assert_eq!((users, groups), totals, "nothing was created or deleted");

    // The same writes with the read-write token go through (the refusals above were the scope's).
    srv.patch(&format!("/Groups/{gid}"), &body_for("PATCH", "/Groups/x", &uid, &gid).unwrap()).expect(204);
    srv.post("/Bulk", &body_for("POST", "/Bulk", &uid, &gid).unwrap()).expect(200);
    assert_eq!((srv.get("/Users").total(), srv.get("/Groups").total()), (users + 1, groups - 1));
    srv.delete(&format!("/Users/{uid}")).expect(204);
    let made = srv.filter("/Users", "userName eq \"ro-attempt@example.com\"").ids();
    for id in made {
        srv.delete(&format!("/Users/{id}")).expect(204);
    }
}

/// `token list` shows the scope; a rotated read-only token stays read-only; a default token is read-write.
#[test]
fn scope_is_listed_and_survives_rotation() {
    let srv = TestServer::start();
    let ro = cli_create_token(&srv.db, "auditor", &["--read-only"]);
    cli_create_token(&srv.db, "okta", &[]);
    let (st, out, err) = run_cli(&srv.db, &["token", "list"]);
    assert!(st.success(), "{err}");
    let header = out.lines().next().unwrap();
    assert!(header.contains("SCOPE"), "{header}");
    let scope_of = |out: &str, name: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(name))
            .map(|l| l.split_whitespace().nth(2).unwrap().to_string())
            .collect()
    };
    assert_eq!(scope_of(&out, "auditor"), vec!["read-only"]);
    assert_eq!(scope_of(&out, "okta"), vec!["read-write"]);

    let (st, out, err) = run_cli(&srv.db, &["token", "rotate", "auditor", "--grace", "1h"]);
    assert!(st.success(), "{err}");
    let successor = token_from_stdout(&out);
    let (_, list, _) = run_cli(&srv.db, &["token", "list"]);
    assert_eq!(scope_of(&list, "auditor"), vec!["read-only", "read-only"]);
    for token in [&ro, &successor] {
        call(&srv, token, "GET", "/Users", None).expect(200);
        call(&srv, token, "POST", "/Users", Some(&json!({"schemas": [USER_SCHEMA], "userName": "x@example.com"})))
            .expect(403);
    }
}

/// Defence in depth: the directory itself refuses every write of a read-only caller, whatever route (present
/// or future) it came by; the HTTP middleware is not the only check.
#[test]
fn the_directory_refuses_writes_of_a_read_only_caller() {
    use scimd::caller::Caller;
    use scimd::directory::{Directory, Kind, SchemaRegistry};
    use scimd::scim::cursor::CursorCodec;
    use scimd::scim::schema::AttrSelection;
    use scimd::store::{Store, StoreOptions};
    use scimd::tokens::Scope;
    let dir = TempDir::new("directory-scope");
    let store = Store::open(dir.db().to_str().unwrap(), &StoreOptions::default()).unwrap();
    let schemas = SchemaRegistry::open(store.clone(), false).unwrap();
    let directory = Directory::new(store, "http://127.0.0.1/scim/v2", CursorCodec::new(&[7u8; 32], 3600), schemas);
    let writer = Caller::OAuthClient { client_id: "c1".into(), name: "idp".into(), scope: Scope::ReadWrite };
    let sel = AttrSelection::default();
    let body = json!({"schemas": [USER_SCHEMA], "userName": "dir@example.com"});
    let id = directory.create(&writer, Kind::User, &body, &sel).unwrap().id;
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]});
    let bulk = scimd::scim::bulk::parse_bulk_request(
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [{"method": "DELETE", "path": format!("/Users/{id}")}]}),
        10,
    )
    .unwrap();
    let readers = [
        Caller::ApiToken { id: "t".into(), name: "ro".into(), scope: Scope::ReadOnly },
        Caller::OAuthClient { client_id: "c2".into(), name: "ro".into(), scope: Scope::ReadOnly },
        Caller::Jwt { subject: None, scope: Scope::ReadOnly },
        Caller::Anonymous,
    ];
    for reader in &readers {
        let refusals = [
            directory
                .create(reader, Kind::User, &json!({"schemas": [USER_SCHEMA], "userName": "n@example.com"}), &sel)
                .err(),
            directory.replace(reader, Kind::User, &id, &body, None, &sel).err(),
            directory.patch(reader, Kind::User, &id, &patch, None, Some(&sel)).err(),
            directory.delete(reader, Kind::User, &id, None).err(),
            directory.bulk(reader, &bulk).err(),
        ];
        for (i, refusal) in refusals.into_iter().enumerate() {
            let e = refusal.unwrap_or_else(|| panic!("{reader:?}: write {i} went through"));
            assert_eq!((e.status, e.scim_type), (403, None), "{reader:?}: write {i}");
        }
    }
    directory.delete(&writer, Kind::User, &id, None).unwrap();
}
