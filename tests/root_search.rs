//! `POST /.search` (RFC 7644 §3.4.3): Users and Groups in one listing.
mod common;

use common::*;
use serde_json::json;

fn search(srv: &TestServer, body: serde_json::Value) -> Resp {
    let mut body = body;
    body["schemas"] = json!([SEARCH_SCHEMA]);
    srv.post("/.search", &body)
}

#[test]
fn users_then_groups_each_with_its_own_schemas() {
    let srv = TestServer::start();
    let u1 = id_of(&srv.create_user("ann@example.com"));
    let g1 = id_of(&srv.create_group("Admins", &[&u1]));
    let u2 = id_of(&srv.create_user("bob@example.com"));
    let r = search(&srv, json!({}));
    r.expect(200);
    assert_scim_content_type(&r);
    assert_eq!(r.json["schemas"], json!([LIST_SCHEMA]));
    assert_eq!((r.total(), r.json["startIndex"].clone(), r.json["itemsPerPage"].clone()), (3, json!(1), json!(3)));
    assert_eq!(r.ids(), vec![u1.clone(), u2.clone(), g1.clone()]);
    let res = r.resources();
    assert_eq!(res[0]["schemas"], json!([USER_SCHEMA]));
    assert_eq!(res[0]["meta"]["resourceType"], "User");
    assert_eq!(res[0]["groups"][0]["value"], json!(g1));
    assert_eq!(res[2]["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(res[2]["meta"]["resourceType"], "Group");
    assert_eq!(member_ids(&res[2]), vec![u1.clone()]);
    // Index pages across the boundary between the types.
    let page = search(&srv, json!({"startIndex": 2, "count": 2}));
    assert_eq!((page.total(), page.ids()), (3, vec![u2.clone(), g1.clone()]));
    let past = search(&srv, json!({"startIndex": 4, "count": 2}));
    assert_eq!((past.total(), past.ids().len()), (3, 0));
    // Projection applies to each type.
    let names = search(&srv, json!({"attributes": ["displayName", "userName"]}));
    assert_eq!(names.resources()[2], json!({"id": g1, "schemas": [GROUP_SCHEMA], "displayName": "Admins"}));
    assert_eq!(names.resources()[0], json!({"id": u1, "schemas": [USER_SCHEMA], "userName": "ann@example.com"}));
}

#[test]
fn filters_apply_per_type_and_absent_attributes_match_nothing() {
    let srv = TestServer::start();
    let mut body = user_body("carol@example.com");
    body["displayName"] = json!("Ops");
    let carol = id_of(&srv.post("/Users", &body).json);
    let dave = id_of(&srv.create_user("dave@example.com"));
    let ops = id_of(&srv.create_group("Ops", &[]));
    srv.create_group("Dev", &[]);
    // displayName is on both types.
    let r = search(&srv, json!({"filter": "displayName eq \"ops\""}));
    assert_eq!((r.total(), r.ids()), (2, vec![carol.clone(), ops.clone()]));
    // userName only on Users: Groups lack it, so they do not match.
    let r = search(&srv, json!({"filter": "userName sw \"d\""}));
    assert_eq!(r.ids(), vec![dave.clone()]);
    // ...and `not` of it matches every group.
    let r = search(&srv, json!({"filter": "not (userName pr)"}));
    assert_eq!(r.total(), 2);
    assert!(r.resources().iter().all(|x| x["schemas"] == json!([GROUP_SCHEMA])));
    // Mixed: a user by userName or a group by displayName.
    let r = search(&srv, json!({"filter": "userName eq \"dave@example.com\" or displayName eq \"Dev\""}));
    assert_eq!(r.total(), 2);
    // An attribute no type has is an invalid filter.
    search(&srv, json!({"filter": "nope eq 1"})).expect_error(400, Some("invalidFilter"));
    search(&srv, json!({"filter": "userName eq"})).expect_error(400, Some("invalidFilter"));
}

#[test]
fn sort_and_cursor_walk_across_types() {
    let srv = TestServer::start();
    let mut body = user_body("eve@example.com");
    body["displayName"] = json!("Bravo");
    let eve = id_of(&srv.post("/Users", &body).json);
    let frank = id_of(&srv.create_user("frank@example.com"));
    let alpha = id_of(&srv.create_group("alpha", &[]));
    let charlie = id_of(&srv.create_group("Charlie", &[]));
    // Sorted by displayName case-insensitively across both types; Frank has none: last ascending.
    let r = search(&srv, json!({"sortBy": "displayName"}));
    assert_eq!(r.ids(), vec![alpha.clone(), eve.clone(), charlie.clone(), frank.clone()]);
    // A sortBy only Users have: the groups have no value and come last.
    let r = search(&srv, json!({"sortBy": "userName", "sortOrder": "descending"}));
    assert_eq!(r.ids(), vec![alpha.clone(), charlie.clone(), frank.clone(), eve.clone()]);
    // The same listing walked by cursor, a page at a time.
    for sort in [json!(null), json!("displayName")] {
        let index = search(&srv, json!({"sortBy": sort}));
        let mut cursor = String::new();
        let mut got = Vec::new();
        loop {
            let r = search(&srv, json!({"sortBy": sort, "count": 1, "cursor": cursor}));
            r.expect(200);
            assert_eq!(r.total(), 4);
            got.extend(r.ids());
            match r.json["nextCursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => break,
            }
        }
        assert_eq!(got, index.ids(), "sortBy {sort}");
    }
}

#[test]
fn malformed_search_requests_are_400() {
    let srv = TestServer::start();
    srv.create_user("gina@example.com");
    // Wrong or missing schemas (RFC 7644 §3.4.3).
    srv.post("/.search", &json!({"schemas": [LIST_SCHEMA]})).expect_error(400, Some("invalidValue"));
    srv.post("/.search", &json!({})).expect_error(400, Some("invalidValue"));
    for bad in [
        json!({"count": "ten"}),
        json!({"startIndex": [1]}),
        json!({"sortOrder": "sideways"}),
        json!({"bogus": 1}),
        json!({"attributes": [1, 2]}),
        json!({"sortBy": "nope"}),
    ] {
        let mut body = bad.clone();
        body["schemas"] = json!([SEARCH_SCHEMA]);
        srv.post("/.search", &body).expect_error(400, Some("invalidValue"));
    }
    let auth = srv.auth();
    let broken_json =
        srv.raw("POST", "/.search", &[("Authorization", &auth), ("Content-Type", SCIM_JSON)], Some(b"{\"schemas\":"));
    broken_json.expect_error(400, Some("invalidSyntax"));
    let broken = srv.send("POST", "/.search", &[("Content-Type", SCIM_JSON)], None);
    broken.expect_error(400, Some("invalidSyntax"));
    // Behind authentication like the rest.
    assert_eq!(srv.raw("POST", "/.search", &[("Content-Type", SCIM_JSON)], Some(b"{}")).status, 401);
}
