//! `POST /Bulk` (RFC 7644 §3.7) over the real binary.
mod common;

use common::*;
use serde_json::{json, Value};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

fn bulk(srv: &TestServer, ops: Value) -> Resp {
    srv.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "Operations": ops}))
}

fn results(r: &Resp) -> Vec<Value> {
    r.expect(200);
    assert_eq!(r.json["schemas"], json!([BULK_RESPONSE]));
    r.json["Operations"].as_array().unwrap_or_else(|| panic!("no Operations in {r:#?}")).clone()
}

fn post_user(bulk_id: &str, user_name: &str) -> Value {
    json!({"method": "POST", "bulkId": bulk_id, "path": "/Users", "data": user_body(user_name)})
}

fn post_group(bulk_id: &str, name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"method": "POST", "bulkId": bulk_id, "path": "/Groups",
           "data": {"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}})
}

/// The id at the end of an operation result's `location`.
fn location_id(op: &Value) -> String {
    op["location"].as_str().unwrap_or_else(|| panic!("no location in {op}")).rsplit('/').next().unwrap().to_string()
}

#[test]
fn references_resolve_in_dependency_order_whatever_the_request_order() {
    let srv = TestServer::start();
    let r = bulk(
        &srv,
        json!([
            // The group names two users created later in the request.
            post_group("team", "Team", &["bulkId:ann", "bulkId:bob"]),
            {"method": "PATCH", "path": "/Groups/bulkId:team", "data": patch_body(json!([
                {"op": "add", "path": "members", "value": [{"value": "bulkId:cyd"}]}]))},
            post_user("ann", "ann@example.com"),
            post_user("bob", "bob@example.com"),
            post_user("cyd", "cyd@example.com"),
            // A user whose manager is another user of the request.
            {"method": "POST", "bulkId": "dee", "path": "/Users", "data": {
                "schemas": [USER_SCHEMA, ENTERPRISE], "userName": "dee@example.com",
                ENTERPRISE: {"manager": {"value": "bulkId:ann"}}}},
        ]),
    );
    let ops = results(&r);
    assert_eq!(ops.len(), 6);
    // Run order: each operation once the POSTs it refers to have run, the lowest request position first
    // among those ready.
    let order: Vec<&str> = ops.iter().map(|o| o["bulkId"].as_str().unwrap_or("-")).collect();
    assert_eq!(order, vec!["ann", "bob", "team", "cyd", "-", "dee"]);
    let status: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(status, vec!["201", "201", "201", "201", "204", "201"]);
    for i in [0, 1, 2, 3, 5] {
        assert_eq!(ops[i]["method"], "POST");
        assert_eq!(ops[i]["version"], "W/\"1\"");
        assert!(ops[i].get("response").is_none(), "{}", ops[i]);
    }
    let (ann, bob, team, cyd) =
        (location_id(&ops[0]), location_id(&ops[1]), location_id(&ops[2]), location_id(&ops[3]));
    assert_eq!(ops[0]["location"], json!(srv.url(&format!("/Users/{ann}"))));
    assert_eq!(ops[2]["location"], json!(srv.url(&format!("/Groups/{team}"))));
    assert_eq!(ops[4]["method"], "PATCH");
    assert_eq!(ops[4]["location"], json!(srv.url(&format!("/Groups/{team}"))));
    assert_eq!(ops[4]["version"], "W/\"2\"");
    let group = srv.get(&format!("/Groups/{team}"));
    assert_eq!(sorted(member_ids(&group.json)), sorted(vec![ann.clone(), bob, cyd]));
    let dee = srv.get(&format!("/Users/{}", location_id(&ops[5])));
    assert_eq!(dee.json[ENTERPRISE]["manager"]["value"], json!(ann));
}

#[test]
fn circular_references_are_409_and_the_rest_runs() {
    let srv = TestServer::start();
    let r = bulk(
        &srv,
        json!([
            post_group("a", "A", &["bulkId:b"]),
            post_group("b", "B", &["bulkId:a"]),
            post_group("self", "Self", &["bulkId:self"]),
            post_user("u", "u@example.com"),
        ]),
    );
    let ops = results(&r);
    let got: Vec<(String, String)> = ops
        .iter()
        .map(|o| (o["bulkId"].as_str().unwrap().to_string(), o["status"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("u".into(), "201".into()),
            ("a".into(), "409".into()),
            ("b".into(), "409".into()),
            ("self".into(), "409".into())
        ]
    );
    for op in &ops[1..] {
        assert_eq!(op["response"]["status"], "409");
        assert!(op["response"]["detail"].as_str().unwrap().contains("circular"), "{op}");
        assert!(op.get("location").is_none(), "a failed POST has no location: {op}");
    }
    assert_eq!(srv.count("/Groups"), 0);
    assert_eq!(srv.count("/Users"), 1);
}

#[test]
fn a_long_ring_of_references_is_answered_at_once() {
    let srv = TestServer::start();
    let ring: Vec<Value> = (0..1000)
        .map(|i| post_group(&format!("r{i}"), &format!("R{i}"), &[&format!("bulkId:r{}", (i + 1) % 1000)]))
        .collect();
    let ops = results(&bulk(&srv, json!(ring)));
    assert_eq!(ops.len(), 1000);
    assert!(ops.iter().all(|o| o["status"] == "409"));
    assert_eq!(srv.count("/Groups"), 0);
}

#[test]
fn fail_on_errors_stops_after_that_many_errors() {
    let srv = TestServer::start();
    srv.create_user("taken@example.com");
    let body = |fail_on_errors: Value| {
        json!({"schemas": [BULK_REQUEST], "failOnErrors": fail_on_errors, "Operations": [
            post_user("a", "a@example.com"),
            post_user("dup1", "taken@example.com"),
            post_user("b", "b@example.com"),
            post_user("dup2", "TAKEN@example.com"),
            post_user("c", "c@example.com"),
        ]})
    };
    let ops = results(&srv.post("/Bulk", &body(json!(1))));
    let status: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(status, vec!["201", "409"], "nothing runs after the first error");
    assert_eq!(ops[1]["response"]["scimType"], "uniqueness");
    assert_eq!(srv.count("/Users"), 2, "what ran before the error stays");
    let ops = results(&srv.post("/Bulk", &body(json!(2))));
    let status: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    // a@ exists now too: errors at 1 and 2, stop.
    assert_eq!(status, vec!["409", "409"]);
    let ops = results(&bulk(&srv, json!([post_user("x", "taken@example.com"), post_user("y", "y@example.com")])));
    let status: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(status, vec!["409", "201"], "without failOnErrors everything runs");
}

#[test]
fn limits_are_advertised_and_enforced() {
    let srv = TestServer::start_with(&["--bulk-max-operations", "3", "--bulk-max-bytes", "2000"]);
    let spc = srv.get("/ServiceProviderConfig").json;
    assert_eq!(spc["bulk"], json!({"supported": true, "maxOperations": 3, "maxPayloadSize": 2000}));
    let four: Vec<Value> = (0..4).map(|i| post_user(&format!("u{i}"), &format!("u{i}@x.org"))).collect();
    let r = bulk(&srv, json!(four));
    r.expect_error(413, Some("tooMany"));
    assert!(r.json["detail"].as_str().unwrap().contains('3'), "names the limit: {r:#?}");
    let mut big = user_body("big@x.org");
    big["displayName"] = json!("x".repeat(2500));
    let r = bulk(&srv, json!([{"method": "POST", "bulkId": "b", "path": "/Users", "data": big}]));
    r.expect_error(413, Some("tooLarge"));
    assert!(r.json["detail"].as_str().unwrap().contains("2000"), "names the limit: {r:#?}");
    assert_eq!(srv.count("/Users"), 0, "nothing was written");
    // The ordinary body limit is not the bulk one.
    let three: Vec<Value> = (0..3).map(|i| post_user(&format!("u{i}"), &format!("u{i}@x.org"))).collect();
    assert_eq!(results(&bulk(&srv, json!(three))).len(), 3);
}

#[test]
fn versions_are_checked_per_operation() {
    let srv = TestServer::start();
    let user = srv.create_user("ver@example.com");
    let id = id_of(&user);
    let mut put = user_body("ver@example.com");
    put["displayName"] = json!("V2");
    let ops = results(&bulk(
        &srv,
        json!([
            {"method": "PUT", "path": format!("/Users/{id}"), "version": "W/\"1\"", "data": put},
            // Stale now: the PUT made it version 2.
            {"method": "PATCH", "path": format!("/Users/{id}"), "version": "W/\"1\"",
             "data": patch_body(json!([{"op": "replace", "path": "displayName", "value": "V3"}]))},
            {"method": "DELETE", "path": format!("/Users/{id}"), "version": "W/\"9\""},
            {"method": "DELETE", "path": format!("/Users/{id}"), "version": "W/\"2\""},
        ]),
    ));
    let status: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(status, vec!["200", "412", "412", "204"]);
    assert_eq!(ops[0]["version"], "W/\"2\"");
    assert_eq!(ops[0]["location"], json!(srv.url(&format!("/Users/{id}"))));
    assert_eq!(ops[1]["location"], json!(srv.url(&format!("/Users/{id}"))), "a failed PATCH keeps its location");
    assert!(ops[3].get("version").is_none());
    srv.get(&format!("/Users/{id}")).expect(404);
}

#[test]
fn each_operation_is_atomic_and_bad_operations_change_nothing() {
    let srv = TestServer::start();
    let keep = id_of(&srv.create_user("keep@example.com"));
    let before = srv.get(&format!("/Users/{keep}")).json;
    let ops = results(&bulk(
        &srv,
        json!([
            // Its second operation fails: the first is not applied either.
            {"method": "PATCH", "path": format!("/Users/{keep}"), "data": patch_body(json!([
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "remove", "path": "userName"}]))},
            {"method": "FETCH", "path": format!("/Users/{keep}")},
            {"method": "DELETE", "path": format!("/Users/../Groups/{keep}")},
            {"method": "DELETE", "path": format!("/Users/{keep}\u{0}")},
            {"method": "DELETE", "path": format!("/Schemas/{keep}")},
            {"method": "DELETE", "path": "/Users/bulkId:nowhere"},
            {"method": "POST", "path": "/Users", "data": user_body("nobulkid@example.com")},
            {"method": "POST", "bulkId": "m", "path": "/Groups",
             "data": {"schemas": [GROUP_SCHEMA], "displayName": "M", "members": [{"value": "no-such-user"}]}},
            {"method": "PUT", "path": "/Users/00000000-0000-4000-8000-000000000000", "data": user_body("ghost@x.org")},
            "not an object",
        ]),
    ));
    let got: Vec<(String, Option<String>)> = ops
        .iter()
        .map(|o| (o["status"].as_str().unwrap().to_string(), o["response"]["scimType"].as_str().map(str::to_string)))
        .collect();
    let want = |s: &str, t: Option<&str>| (s.to_string(), t.map(str::to_string));
    assert_eq!(
        got,
        vec![
            want("400", Some("mutability")),
            want("400", Some("invalidSyntax")),
            want("400", Some("invalidPath")),
            want("400", Some("invalidPath")),
            want("400", Some("invalidPath")),
            want("400", Some("invalidValue")),
            want("400", Some("invalidSyntax")),
            want("400", Some("invalidValue")),
            want("404", None),
            want("400", Some("invalidSyntax")),
        ]
    );
    assert_eq!(ops[1]["method"], "FETCH", "the method as sent");
    for op in &ops {
        assert!(op["response"]["schemas"] == json!([ERROR_SCHEMA]), "{op}");
    }
    assert_eq!(srv.get(&format!("/Users/{keep}")).json, before, "nothing changed");
    assert_eq!((srv.count("/Users"), srv.count("/Groups")), (1, 0));
}

#[test]
fn malformed_bulk_requests_are_rejected_whole() {
    let srv = TestServer::start();
    let auth = srv.auth();
    let headers = [("Authorization", auth.as_str()), ("Content-Type", SCIM_JSON)];
    srv.raw("POST", "/Bulk", &headers, Some(b"{\"Operations\": [")).expect_error(400, Some("invalidSyntax"));
    srv.post("/Bulk", &json!({"Operations": [post_user("a", "a@x.org")]})).expect_error(400, Some("invalidSyntax"));
    srv.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "Operations": {"a": 1}}))
        .expect_error(400, Some("invalidSyntax"));
    srv.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "failOnErrors": 0, "Operations": []}))
        .expect_error(400, Some("invalidValue"));
    bulk(&srv, json!([post_user("same", "a@x.org"), post_user("same", "b@x.org")]))
        .expect_error(400, Some("invalidValue"));
    srv.send("PUT", "/Bulk", &[], Some(&json!({}))).expect_error(405, None);
    assert_eq!(srv.raw("POST", "/Bulk", &[("Content-Type", SCIM_JSON)], Some(b"{}")).status, 401);
    assert_eq!(srv.count("/Users"), 0);
    // An empty bulk is a valid, empty answer.
    assert_eq!(results(&bulk(&srv, json!([]))).len(), 0);
}

#[test]
fn a_thousand_creates_in_one_bulk() {
    let srv = TestServer::start();
    let ops: Vec<Value> = (0..1000).map(|i| post_user(&format!("u{i}"), &format!("user{i:04}@example.com"))).collect();
    let res = results(&bulk(&srv, json!(ops)));
    assert_eq!(res.len(), 1000);
    assert!(res.iter().all(|o| o["status"] == "201"));
    assert_eq!(srv.count("/Users"), 1000);
    let listed = srv.get("/Users?filter=userName%20eq%20%22user0999%40example.com%22");
    assert_eq!(listed.ids(), vec![location_id(&res[999])]);
}

#[test]
fn bulk_writes_survive_a_kill() {
    let dir = TempDir::new("bulk-restart");
    let (ids, auth) = {
        let srv = TestServer::start_on(&dir.db(), &[], &[]);
        let ops = results(&bulk(&srv, json!([post_user("a", "a@x.org"), post_group("g", "G", &["bulkId:a"])])));
        (ops.iter().map(location_id).collect::<Vec<_>>(), srv.auth())
        // Dropped: SIGKILL, no graceful shutdown.
    };
    let srv = TestServer::start_on(&dir.db(), &[], &[]);
    let group = srv.raw("GET", &format!("/Groups/{}", ids[1]), &[("Authorization", auth.as_str())], None);
    group.expect(200);
    assert_eq!(member_ids(&group.json), vec![ids[0].clone()]);
}
