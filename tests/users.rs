//! /Users over real HTTP (issue 3): CRUD, validation, uniqueness, meta and ETags, paging,
//! sorting, attribute projection, POST /.search, and nothing written on error.
mod common;

use common::*;
use serde_json::{json, Value};

fn full_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": user_name,
        "externalId": "ext-1",
        "name": {"givenName": "Jane", "familyName": "Doe", "formatted": "Jane Doe"},
        "displayName": "Jane Doe",
        "nickName": "jd",
        "title": "Engineer",
        "locale": "en-US",
        "emails": [
            {"value": user_name, "type": "work", "primary": true},
            {"value": "jane@home.example.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "password": "Sup3r-Secret-Pa55",
        "active": true,
        ENTERPRISE: {"employeeNumber": "E-7", "department": "R&D",
                     "manager": {"value": "m-1", "displayName": "Boss"}}
    })
}

#[test]
fn create_returns_201_location_etag_and_full_resource() {
    let srv = TestServer::start();
    let r = srv.post("/Users", &full_user("jane@example.com"));
    r.expect(201);
    assert_scim_content_type(&r);
    let u = &r.json;
    let id = id_of(u);
    assert!(!id.is_empty());
    assert!(u["schemas"].as_array().unwrap().iter().any(|s| s == USER_SCHEMA));
    assert_eq!(u["userName"], "jane@example.com");
    assert_eq!(u["externalId"], "ext-1");
    assert_eq!(u["name"]["givenName"], "Jane");
    assert_eq!(u["name"]["familyName"], "Doe");
    assert_eq!(u["displayName"], "Jane Doe");
    assert_eq!(u["title"], "Engineer");
    assert_eq!(u["active"], true);
    assert_eq!(u["emails"].as_array().unwrap().len(), 2);
    assert_eq!(u["phoneNumbers"][0]["value"], "+1 555 0100");
    assert_eq!(u[ENTERPRISE]["employeeNumber"], "E-7");
    assert_eq!(u[ENTERPRISE]["manager"]["value"], "m-1");
    let meta = &u["meta"];
    assert_eq!(meta["resourceType"], "User");
    assert!(meta["created"].is_string() && meta["lastModified"].is_string());
    let loc = meta["location"].as_str().expect("meta.location");
    assert_eq!(loc, srv.url(&format!("/Users/{id}")));
    assert_eq!(r.header("location"), Some(loc), "Location header equals meta.location");
    let version = meta["version"].as_str().expect("meta.version");
    assert!(version.starts_with("W/\""), "weak ETag: {version}");
    assert_eq!(r.etag(), version);
    assert!(u.get("password").is_none(), "password returned");
    assert!(!r.text.contains("Sup3r-Secret-Pa55"), "password value echoed");
}

#[test]
fn get_returns_the_same_user_with_etag() {
    let srv = TestServer::start();
    let created = srv.create_user_body(&full_user("g@example.com"));
    let id = id_of(&created);
    let r = srv.get(&format!("/Users/{id}"));
    r.expect(200);
    assert_eq!(r.json["id"], created["id"]);
    assert_eq!(r.json["userName"], "g@example.com");
    assert_eq!(r.json["name"], created["name"]);
    assert_eq!(r.json["meta"]["version"], created["meta"]["version"]);
    assert_eq!(r.etag(), r.json["meta"]["version"].as_str().unwrap());
    assert!(r.json.get("password").is_none());
    assert!(!r.text.contains("Sup3r-Secret-Pa55"));
}

#[test]
fn password_is_never_returned_even_when_asked_for() {
    let srv = TestServer::start();
    let u = srv.create_user_body(&full_user("pw@example.com"));
    let id = id_of(&u);
    for path in [
        format!("/Users/{id}?attributes=password"),
        "/Users?attributes=password,userName".to_string(),
        "/Users".to_string(),
    ] {
        let r = srv.get(&path);
        r.expect(200);
        assert!(!r.text.contains("Sup3r-Secret-Pa55"), "{path}: {}", r.text);
        assert!(!r.text.contains("\"password\""), "{path}: {}", r.text);
    }
}

#[test]
fn meta_location_uses_the_configured_base_url() {
    let srv = TestServer::start_with(&["--base-url", "https://scim.example.com/scim/v2"]);
    let r = srv.post("/Users", &user_body("loc@example.com"));
    r.expect(201);
    let id = id_of(&r.json);
    let want = format!("https://scim.example.com/scim/v2/Users/{id}");
    assert_eq!(r.json["meta"]["location"], json!(want));
    assert_eq!(r.header("location"), Some(want.as_str()));
    // Never the Host header.
    let auth = srv.auth();
    let r = srv.raw("GET", &format!("/Users/{id}"), &[("Authorization", &auth), ("Host", "evil.example.net")], None);
    r.expect(200);
    assert_eq!(r.json["meta"]["location"], json!(want));
}

#[test]
fn read_only_attributes_on_create_are_ignored() {
    let srv = TestServer::start();
    let mut b = user_body("ro@example.com");
    b["id"] = json!("client-chosen-id");
    b["meta"] = json!({"resourceType": "User", "version": "W/\"99\"", "created": "2001-01-01T00:00:00Z"});
    b["groups"] = json!([{"value": "6f1c4b8e-3a5d-4e2f-9b7c-1d2e3f4a5b6c"}]);
    let r = srv.post("/Users", &b);
    r.expect(201);
    assert_ne!(r.json["id"], "client-chosen-id");
    assert_ne!(r.json["meta"]["version"], "W/\"99\"");
    assert_ne!(r.json["meta"]["created"], "2001-01-01T00:00:00Z");
    let groups = r.json["groups"].as_array().cloned().unwrap_or_default();
    assert!(groups.is_empty(), "groups is read-only: {:#}", r.json);
}

#[test]
fn attribute_names_are_case_insensitive() {
    let srv = TestServer::start();
    let r = srv.post(
        "/Users",
        &json!({"schemas": [USER_SCHEMA], "USERNAME": "ci@example.com",
                "Name": {"GivenName": "Ci", "FAMILYNAME": "Case"}, "Active": false}),
    );
    r.expect(201);
    assert_eq!(r.json["userName"], "ci@example.com");
    assert_eq!(r.json["name"]["givenName"], "Ci");
    assert_eq!(r.json["name"]["familyName"], "Case");
    assert_eq!(r.json["active"], false);
    assert!(r.json.get("USERNAME").is_none(), "canonical names only: {:#}", r.json);
}

#[test]
fn invalid_bodies_are_400_and_write_nothing() {
    let srv = TestServer::start();
    let cases = vec![
        ("missing userName", json!({"schemas": [USER_SCHEMA], "name": {"givenName": "A"}})),
        ("empty userName", json!({"schemas": [USER_SCHEMA], "userName": ""})),
        ("userName not a string", json!({"schemas": [USER_SCHEMA], "userName": 42})),
        ("active not boolean", json!({"schemas": [USER_SCHEMA], "userName": "a@x", "active": "maybe"})),
        ("name not complex", json!({"schemas": [USER_SCHEMA], "userName": "a@x", "name": "A B"})),
        ("emails not a list of objects", json!({"schemas": [USER_SCHEMA], "userName": "a@x", "emails": [42]})),
        (
            "two primaries",
            json!({"schemas": [USER_SCHEMA], "userName": "a@x", "emails": [
            {"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}]}),
        ),
        (
            "unknown schema attribute",
            json!({"schemas": [USER_SCHEMA], "userName": "a@x",
            "urn:example:unknown:1.0:User": {"x": 1}}),
        ),
        (
            "unknown schema in schemas",
            json!({"schemas": [USER_SCHEMA, "urn:example:unknown:1.0:User"],
            "userName": "a@x"}),
        ),
        (
            "enterprise not an object",
            json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "a@x",
            ENTERPRISE: "nope"}),
        ),
    ];
    for (what, body) in cases {
        let r = srv.post("/Users", &body);
        assert_eq!(r.status, 400, "{what}: {r:#?}");
        r.expect_error(400, None);
        assert!(
            ["invalidValue", "invalidSyntax"].contains(&r.json["scimType"].as_str().unwrap_or("")),
            "{what}: scimType {}",
            r.json["scimType"]
        );
    }
    assert_eq!(srv.count("/Users"), 0, "nothing written");
}

#[test]
fn unknown_schema_attribute_is_invalid_value() {
    let srv = TestServer::start();
    let r = srv.post(
        "/Users",
        &json!({"schemas": [USER_SCHEMA], "userName": "a@x", "urn:example:unknown:1.0:User": {"x": 1}}),
    );
    r.expect_error(400, Some("invalidValue"));
    assert_eq!(srv.count("/Users"), 0);
}

#[test]
fn user_name_is_unique_case_insensitively() {
    let srv = TestServer::start();
    srv.create_user("Dup@Example.com");
    for name in ["Dup@Example.com", "dup@example.com", "DUP@EXAMPLE.COM"] {
        let r = srv.post("/Users", &user_body(name));
        r.expect_error(409, Some("uniqueness"));
    }
    assert_eq!(srv.count("/Users"), 1);
}

#[test]
fn rename_onto_a_taken_user_name_is_409_and_changes_nothing() {
    let srv = TestServer::start();
    srv.create_user("taken@example.com");
    let b = srv.create_user("free@example.com");
    let id = id_of(&b);
    let before = srv.get(&format!("/Users/{id}")).json;
    let mut put = user_body("TAKEN@example.com");
    put["title"] = json!("changed");
    srv.put(&format!("/Users/{id}"), &put).expect_error(409, Some("uniqueness"));
    srv.patch(
        &format!("/Users/{id}"),
        &patch_body(json!([{"op":"replace","path":"title","value":"x"},
                           {"op":"replace","path":"userName","value":"taken@EXAMPLE.com"}])),
    )
    .expect_error(409, Some("uniqueness"));
    let after = srv.get(&format!("/Users/{id}")).json;
    assert_eq!(after, before, "a failed rename must change nothing");
    // Renaming to a case variant of its own name is allowed.
    let r = srv.put(&format!("/Users/{id}"), &user_body("FREE@example.com"));
    r.expect(200);
    assert_eq!(r.json["userName"], "FREE@example.com");
}

#[test]
fn put_replaces_the_whole_resource() {
    let srv = TestServer::start();
    let u = srv.create_user_body(&full_user("put@example.com"));
    let id = id_of(&u);
    let v1 = u["meta"]["version"].clone();
    // Echo read-only attributes back, as Okta does; drop title and nickName.
    let mut body = u.clone();
    body.as_object_mut().unwrap().remove("title");
    body.as_object_mut().unwrap().remove("nickName");
    body["name"]["givenName"] = json!("Janet");
    body["groups"] = json!([]);
    let r = srv.put(&format!("/Users/{id}"), &body);
    r.expect(200);
    assert_eq!(r.json["id"], json!(id));
    assert_eq!(r.json["name"]["givenName"], "Janet");
    assert!(r.json.get("title").is_none(), "PUT replaces: title must be gone: {:#}", r.json);
    assert!(r.json.get("nickName").is_none());
    assert_eq!(r.json[ENTERPRISE]["employeeNumber"], "E-7");
    assert_ne!(r.json["meta"]["version"], v1, "version must change");
    assert_eq!(r.etag(), r.json["meta"]["version"].as_str().unwrap());
    assert_eq!(r.json["meta"]["created"], u["meta"]["created"]);
    let g = srv.get(&format!("/Users/{id}"));
    assert_eq!(g.json["name"]["givenName"], "Janet");
    assert!(g.json.get("title").is_none());
}

#[test]
fn put_with_a_different_id_in_the_body_keeps_the_path_id() {
    let srv = TestServer::start();
    let u = srv.create_user("pid@example.com");
    let id = id_of(&u);
    let mut body = user_body("pid@example.com");
    body["id"] = json!("6f1c4b8e-3a5d-4e2f-9b7c-1d2e3f4a5b6c");
    // `id` is readOnly (RFC 7643 §3.1): ignored in the body; the path names the resource.
    let r = srv.put(&format!("/Users/{id}"), &body);
    r.expect(200);
    assert_eq!(r.json["id"], json!(id));
    srv.get(&format!("/Users/{id}")).expect(200);
    assert_eq!(srv.count("/Users"), 1);
}

#[test]
fn put_invalid_body_is_400_and_changes_nothing() {
    let srv = TestServer::start();
    let u = srv.create_user_body(&full_user("pi@example.com"));
    let id = id_of(&u);
    let before = srv.get(&format!("/Users/{id}")).json;
    srv.put(&format!("/Users/{id}"), &json!({"schemas": [USER_SCHEMA], "name": {"givenName": "X"}}))
        .expect_error(400, None);
    srv.put(&format!("/Users/{id}"), &json!({"schemas": [USER_SCHEMA], "userName": "pi@example.com", "active": "no"}))
        .expect_error(400, None);
    assert_eq!(srv.get(&format!("/Users/{id}")).json, before);
}

#[test]
fn delete_is_204_then_404() {
    let srv = TestServer::start();
    let u = srv.create_user("del@example.com");
    let id = id_of(&u);
    let r = srv.delete(&format!("/Users/{id}"));
    r.expect(204);
    assert!(r.text.is_empty(), "204 has no body: {:?}", r.text);
    srv.get(&format!("/Users/{id}")).expect_error(404, None);
    srv.delete(&format!("/Users/{id}")).expect_error(404, None);
    assert_eq!(srv.count("/Users"), 0);
    // The name is free again.
    srv.create_user("del@example.com");
}

#[test]
fn etags_if_none_match_and_if_match() {
    let srv = TestServer::start();
    let u = srv.create_user("etag@example.com");
    let id = id_of(&u);
    let path = format!("/Users/{id}");
    let g = srv.get(&path);
    let etag = g.etag();
    assert_eq!(etag, g.json["meta"]["version"].as_str().unwrap());

    // If-None-Match current -> 304, stale -> 200.
    let r = srv.send("GET", &path, &[("If-None-Match", &etag)], None);
    r.expect(304);
    assert!(r.text.is_empty());
    srv.send("GET", &path, &[("If-None-Match", "W/\"999999\"")], None).expect(200);

    // Stale If-Match on PUT / PATCH / DELETE -> 412, nothing changed.
    let stale = "W/\"999999\"";
    let mut body = user_body("etag@example.com");
    body["title"] = json!("nope");
    srv.send("PUT", &path, &[("If-Match", stale)], Some(&body)).expect_error(412, None);
    let p = patch_body(json!([{"op":"replace","path":"title","value":"nope"}]));
    srv.send("PATCH", &path, &[("If-Match", stale)], Some(&p)).expect_error(412, None);
    srv.send("DELETE", &path, &[("If-Match", stale)], None).expect_error(412, None);
    let now = srv.get(&path);
    assert!(now.json.get("title").is_none(), "412 must not write: {:#}", now.json);
    assert_eq!(now.etag(), etag);

    // Current If-Match -> applied; the ETag moves.
    let r = srv.send("PATCH", &path, &[("If-Match", &etag)], Some(&p));
    r.expect(200);
    assert_eq!(r.json["title"], "nope");
    let etag2 = r.etag();
    assert_ne!(etag2, etag);
    assert_eq!(etag2, r.json["meta"]["version"].as_str().unwrap());
    // The old ETag is now stale.
    srv.send("PUT", &path, &[("If-Match", &etag)], Some(&body)).expect_error(412, None);
    body["title"] = json!("changed by PUT");
    let r = srv.send("PUT", &path, &[("If-Match", &etag2)], Some(&body));
    r.expect(200);
    let etag3 = r.etag();
    assert_ne!(etag3, etag2, "a PUT that changes the user moves the ETag");
    srv.send("GET", &path, &[("If-None-Match", &etag2)], None).expect(200);
    srv.send("DELETE", &path, &[("If-Match", &etag3)], None).expect(204);
}

#[test]
fn last_modified_moves_and_created_stays() {
    let srv = TestServer::start();
    let u = srv.create_user("lm@example.com");
    let id = id_of(&u);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let r = srv.patch(&format!("/Users/{id}"), &patch_body(json!([{"op":"replace","path":"title","value":"T"}])));
    r.expect(200);
    assert_eq!(r.json["meta"]["created"], u["meta"]["created"]);
    assert_ne!(r.json["meta"]["lastModified"], u["meta"]["lastModified"]);
}

fn make_users(srv: &TestServer, names: &[&str]) -> Vec<String> {
    names.iter().map(|n| id_of(&srv.create_user(n))).collect()
}

#[test]
fn list_pages_are_stable_and_complete() {
    let srv = TestServer::start();
    let names = ["e@x.org", "a@x.org", "d@x.org", "b@x.org", "c@x.org"];
    let ids = make_users(&srv, &names);
    // Default: everything, in creation order.
    let all = srv.get("/Users");
    all.expect(200);
    assert_eq!(all.json["schemas"], json!([LIST_SCHEMA]));
    assert_eq!(all.total(), 5);
    assert_eq!(all.ids(), ids);
    assert_eq!(all.json["startIndex"], 1);
    assert_eq!(all.json["itemsPerPage"], 5);
    // Pages of 2.
    let mut seen = Vec::new();
    for (start, n) in [(1, 2), (3, 2), (5, 1)] {
        let r = srv.get(&format!("/Users?startIndex={start}&count=2"));
        r.expect(200);
        assert_eq!(r.total(), 5);
        assert_eq!(r.json["startIndex"], json!(start));
        assert_eq!(r.json["itemsPerPage"], json!(n));
        assert_eq!(r.resources().len(), n);
        seen.extend(r.ids());
    }
    assert_eq!(seen, ids, "pages concatenate to the whole list in a stable order");
    // Past the end.
    let r = srv.get("/Users?startIndex=6&count=2");
    r.expect(200);
    assert_eq!(r.total(), 5);
    assert_eq!(r.json["itemsPerPage"], 0);
    assert_eq!(r.json["Resources"], json!([]));
    let r = srv.get("/Users?startIndex=100&count=100");
    assert_eq!(r.json["Resources"], json!([]));
    // count=0: only the total (RFC 7644 §3.4.2.4).
    let r = srv.get("/Users?count=0");
    r.expect(200);
    assert_eq!(r.total(), 5);
    assert_eq!(r.json["itemsPerPage"], 0);
    // A negative count is interpreted as 0 (RFC 7644 §3.4.2.4).
    let r = srv.get("/Users?count=-1");
    r.expect(200);
    assert_eq!(r.total(), 5);
    assert_eq!(r.json["itemsPerPage"], 0);
    assert_eq!(r.json["Resources"], json!([]));
    // startIndex < 1 is treated as 1.
    let r = srv.get("/Users?startIndex=0&count=2");
    r.expect(200);
    assert_eq!(r.ids(), ids[..2].to_vec());
    // Odd windows.
    let r = srv.get("/Users?startIndex=2&count=3");
    assert_eq!(r.ids(), ids[1..4].to_vec());
}

#[test]
fn list_with_no_users_is_a_complete_list_response() {
    let srv = TestServer::start();
    let r = srv.get("/Users?startIndex=1&count=1");
    r.expect(200);
    assert_eq!(
        r.json,
        json!({"schemas": [LIST_SCHEMA], "totalResults": 0, "startIndex": 1,
               "itemsPerPage": 0, "Resources": []})
    );
}

#[test]
fn count_is_capped_at_max_results() {
    let srv = TestServer::start();
    let max = srv.max_results();
    assert!(max > 0);
    if max <= 1000 {
        for i in 0..=max {
            srv.create_user(&format!("cap{i:05}@example.com"));
        }
        let r = srv.get(&format!("/Users?count={}", max + 10));
        r.expect(200);
        assert_eq!(r.total(), max + 1);
        assert_eq!(r.json["itemsPerPage"], json!(max));
        assert_eq!(r.resources().len() as i64, max);
        // Without count too.
        let r = srv.get("/Users");
        assert!(r.resources().len() as i64 <= max);
    } else {
        srv.create_user("only@example.com");
        let r = srv.get(&format!("/Users?count={}", max + 10));
        r.expect(200);
        assert_eq!(r.resources().len(), 1);
    }
}

#[test]
fn sort_by_and_sort_order() {
    let srv = TestServer::start();
    let mk = |un: &str, family: &str| {
        let mut b = user_body(un);
        b["name"]["familyName"] = json!(family);
        srv.create_user_body(&b);
    };
    mk("bob@x.org", "Young");
    mk("Carol@x.org", "Adams");
    mk("alice@x.org", "Miller");
    let r = srv.get("/Users?sortBy=userName");
    r.expect(200);
    // userName is caseExact=false: order ignores case.
    assert_eq!(r.field("userName"), strs(&["alice@x.org", "bob@x.org", "Carol@x.org"]));
    let r = srv.get("/Users?sortBy=userName&sortOrder=descending");
    assert_eq!(r.field("userName"), strs(&["Carol@x.org", "bob@x.org", "alice@x.org"]));
    let r = srv.get("/Users?sortBy=userName&sortOrder=ascending");
    assert_eq!(r.field("userName"), strs(&["alice@x.org", "bob@x.org", "Carol@x.org"]));
    let r = srv.get("/Users?sortBy=name.familyName");
    assert_eq!(r.field("userName"), strs(&["Carol@x.org", "alice@x.org", "bob@x.org"]));
    let r = srv.get("/Users?sortBy=NAME.FAMILYNAME&sortOrder=descending");
    assert_eq!(r.field("userName"), strs(&["bob@x.org", "alice@x.org", "Carol@x.org"]));
    // Sorted paging.
    let r = srv.get("/Users?sortBy=userName&startIndex=2&count=1");
    assert_eq!(r.field("userName"), strs(&["bob@x.org"]));
    assert_eq!(r.total(), 3);
}

#[test]
fn attributes_and_excluded_attributes() {
    let srv = TestServer::start();
    let u = srv.create_user_body(&full_user("proj@example.com"));
    let id = id_of(&u);

    let r = srv.get("/Users?attributes=userName");
    r.expect(200);
    let x = &r.resources()[0];
    assert_eq!(x["id"], json!(id), "id is returned always");
    assert_eq!(x["userName"], "proj@example.com");
    assert!(x.get("name").is_none() && x.get("emails").is_none() && x.get("title").is_none(), "{x:#}");
    assert!(x.get(ENTERPRISE).is_none(), "{x:#}");

    let r = srv.get(&format!("/Users/{id}?attributes=name.givenName,emails"));
    r.expect(200);
    assert_eq!(r.json["name"]["givenName"], "Jane");
    assert!(r.json["name"].get("familyName").is_none(), "{:#}", r.json);
    assert_eq!(r.json["emails"].as_array().unwrap().len(), 2);
    assert!(r.json.get("title").is_none());

    let r = srv.get(&format!("/Users/{id}?excludedAttributes=emails,name,id"));
    r.expect(200);
    assert!(r.json.get("emails").is_none() && r.json.get("name").is_none());
    assert_eq!(r.json["id"], json!(id), "id cannot be excluded (returned: always)");
    assert_eq!(r.json["userName"], "proj@example.com");
    assert_eq!(r.json["title"], "Engineer");

    let r = srv.get(&format!("/Users/{id}?attributes={ENTERPRISE}:department"));
    r.expect(200);
    assert_eq!(r.json[ENTERPRISE]["department"], "R&D");
    assert!(r.json[ENTERPRISE].get("employeeNumber").is_none(), "{:#}", r.json);
    assert!(r.json.get("title").is_none());

    let r = srv.get(&format!("/Users?excludedAttributes={ENTERPRISE}"));
    assert!(r.resources()[0].get(ENTERPRISE).is_none());
    assert_eq!(r.resources()[0]["title"], "Engineer");

    // Case-insensitive names.
    let r = srv.get(&format!("/Users/{id}?attributes=USERNAME"));
    assert_eq!(r.json["userName"], "proj@example.com");
    assert!(r.json.get("title").is_none());
}

#[test]
fn search_endpoint() {
    let srv = TestServer::start();
    let ids = make_users(&srv, &["s1@x.org", "s2@x.org", "t1@x.org", "s3@x.org"]);
    let r = srv.post(
        "/Users/.search",
        &json!({"schemas": [SEARCH_SCHEMA], "filter": "userName sw \"s\"",
                "startIndex": 1, "count": 2, "sortBy": "userName", "sortOrder": "descending",
                "attributes": ["userName"]}),
    );
    r.expect(200);
    assert_scim_content_type(&r);
    assert_eq!(r.json["schemas"], json!([LIST_SCHEMA]));
    assert_eq!(r.total(), 3);
    assert_eq!(r.json["itemsPerPage"], 2);
    assert_eq!(r.field("userName"), strs(&["s3@x.org", "s2@x.org"]));
    assert!(r.resources()[0].get("emails").is_none());
    // excludedAttributes and no filter.
    let r = srv.post("/Users/.search", &json!({"schemas": [SEARCH_SCHEMA], "excludedAttributes": ["emails"]}));
    r.expect(200);
    assert_eq!(r.ids(), ids);
    assert!(r.resources().iter().all(|x| x.get("emails").is_none()));
    // Bad filter.
    srv.post("/Users/.search", &json!({"schemas": [SEARCH_SCHEMA], "filter": "userName eq"}))
        .expect_error(400, Some("invalidFilter"));
}

#[test]
fn list_resources_carry_meta() {
    let srv = TestServer::start();
    let u = srv.create_user("m@x.org");
    let r = srv.get("/Users");
    let x = &r.resources()[0];
    assert_eq!(x["meta"]["resourceType"], "User");
    assert_eq!(x["meta"]["location"], u["meta"]["location"]);
    assert!(x["schemas"].as_array().is_some_and(|s| s.iter().any(|v| v == USER_SCHEMA)));
}

#[test]
fn concurrent_creates_of_one_user_name_yield_exactly_one_201() {
    let srv = TestServer::start();
    let statuses: Vec<Resp> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let srv = &srv;
                s.spawn(move || {
                    let name = if i % 2 == 0 { "race@example.com" } else { "RACE@example.com" };
                    srv.post("/Users", &user_body(name))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = statuses.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "{statuses:#?}");
    for r in statuses.iter().filter(|r| r.status != 201) {
        r.expect_error(409, Some("uniqueness"));
    }
    assert_eq!(srv.count("/Users"), 1);
}

#[test]
fn concurrent_updates_of_different_users_all_land() {
    let srv = TestServer::start();
    let ids: Vec<String> = (0..8).map(|i| id_of(&srv.create_user(&format!("c{i}@example.com")))).collect();
    std::thread::scope(|s| {
        for (i, id) in ids.iter().enumerate() {
            let srv = &srv;
            s.spawn(move || {
                for j in 0..5 {
                    let r = srv.patch(
                        &format!("/Users/{id}"),
                        &patch_body(json!([{"op":"replace","path":"title","value":format!("t{i}-{j}")}])),
                    );
                    r.expect(200);
                }
            });
        }
    });
    for (i, id) in ids.iter().enumerate() {
        let r = srv.get(&format!("/Users/{id}"));
        assert_eq!(r.json["title"], json!(format!("t{i}-4")));
    }
}

#[test]
fn passwords_are_not_stored_in_clear() {
    let srv = TestServer::start();
    let mut b = user_body("secret@example.com");
    b["password"] = json!("Pl41n-T3xt-Pa55w0rd-1");
    let u = srv.create_user_body(&b);
    let id = id_of(&u);
    let r = srv.patch(
        &format!("/Users/{id}"),
        &patch_body(json!([{"op":"replace","value":{"password":"Pl41n-T3xt-Pa55w0rd-2"}}])),
    );
    r.expect(200);
    let mut put = user_body("secret@example.com");
    put["password"] = json!("Pl41n-T3xt-Pa55w0rd-3");
    srv.put(&format!("/Users/{id}"), &put).expect(200);
    let files = database_files(&srv.db);
    assert!(!files.is_empty());
    for (path, bytes) in &files {
        for pw in ["Pl41n-T3xt-Pa55w0rd-1", "Pl41n-T3xt-Pa55w0rd-2", "Pl41n-T3xt-Pa55w0rd-3"] {
            assert!(!bytes.windows(pw.len()).any(|w| w == pw.as_bytes()), "{path} holds the password {pw} in clear");
        }
    }
    let all = srv.get("/Users");
    assert!(!all.text.contains("Pl41n-T3xt"));
}

#[test]
fn non_ascii_user_names_round_trip_and_match_case_insensitively() {
    let srv = TestServer::start();
    let u = srv.create_user("zoë.łukasz@example.com");
    assert_eq!(u["userName"], "zoë.łukasz@example.com");
    let r = srv.filter("/Users", "userName eq \"zoë.łukasz@example.com\"");
    assert_eq!(r.ids(), vec![id_of(&u)]);
    // caseExact=false applies beyond ASCII (RFC 7643 §2.3.1 / §4.1.1).
    let r = srv.filter("/Users", "userName eq \"ZOË.ŁUKASZ@EXAMPLE.COM\"");
    assert_eq!(r.ids(), vec![id_of(&u)], "non-ASCII case-insensitive match");
    srv.post("/Users", &user_body("ZOË.ŁUKASZ@example.com")).expect_error(409, Some("uniqueness"));
}

#[test]
fn base_url_from_the_environment() {
    let dir = TempDir::new("envbase");
    let srv = TestServer::start_on(&dir.db(), &[], &[("SCIMD_BASE_URL", "https://idp-facing.example.org/scim/v2")]);
    let r = srv.post("/Users", &user_body("env@example.com"));
    r.expect(201);
    let id = id_of(&r.json);
    assert_eq!(r.json["meta"]["location"], json!(format!("https://idp-facing.example.org/scim/v2/Users/{id}")));
}

/// A profile PUT that leaves `active` out keeps the stored value: it must not re-enable a user the IdP
/// deactivated. A new user without `active` is active.
#[test]
fn put_without_active_keeps_the_stored_value() {
    let srv = TestServer::start();
    let u = srv.create_user_body(&json!({"schemas": [USER_SCHEMA], "userName": "keep@x.org"}));
    assert_eq!(u["active"], true);
    let id = id_of(&u);
    let path = format!("/Users/{id}");
    let r = srv.put(&path, &json!({"schemas": [USER_SCHEMA], "userName": "keep@x.org", "active": false}));
    r.expect(200);
    assert_eq!(r.json["active"], false);
    let r = srv.put(&path, &json!({"schemas": [USER_SCHEMA], "userName": "keep@x.org", "title": "Engineer"}));
    r.expect(200);
    assert_eq!(r.json["active"], false, "PUT without active re-enabled the user");
    assert_eq!(r.json["title"], "Engineer");
    let r = srv.filter("/Users", "active eq false");
    assert_eq!(r.ids(), vec![id]);
}

#[test]
fn a_multi_valued_attribute_holds_at_most_1000_values() {
    let srv = TestServer::start();
    let mut body = user_body("many@x.org");
    body["emails"] = json!((0..1001).map(|i| json!({"value": format!("e{i}@x.org")})).collect::<Vec<_>>());
    srv.post("/Users", &body).expect_error(400, Some("invalidValue"));
    assert_eq!(srv.filter("/Users", "userName eq \"many@x.org\"").ids().len(), 0);
}
