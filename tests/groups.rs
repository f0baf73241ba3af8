//! /Groups and memberships over HTTP (issue 4): CRUD, member validation, PATCH on members and
//! displayName, uniqueness, nested groups and User.groups, cascading deletes; every bad input
//! leaves the state unchanged.
mod common;

use common::*;
use serde_json::{json, Value};

const UNKNOWN: &str = "6f1c4b8e-3a5d-4e2f-9b7c-1d2e3f4a5b6c";

fn gpath(id: &str) -> String {
    format!("/Groups/{id}")
}

#[track_caller]
fn get_group(srv: &TestServer, id: &str) -> Value {
    let r = srv.get(&gpath(id));
    r.expect(200);
    r.json
}

/// PATCH a group, expecting 204 and an empty body; returns the group as read back.
#[track_caller]
fn patch_group(srv: &TestServer, id: &str, ops: Value) -> Value {
    let r = srv.patch(&gpath(id), &patch_body(ops.clone()));
    assert_eq!(r.status, 204, "group PATCH {ops}: {r:#?}");
    assert!(r.text.is_empty(), "204 must have no body: {:?}", r.text);
    get_group(srv, id)
}

/// The `groups` of a user as (value, type) pairs, sorted.
#[track_caller]
fn user_groups(srv: &TestServer, uid: &str) -> Vec<(String, String)> {
    let r = srv.get(&format!("/Users/{uid}"));
    r.expect(200);
    groups_of_user(&r.json)
}

fn pair(id: &str, ty: &str) -> (String, String) {
    (id.to_string(), ty.to_string())
}

#[test]
fn create_group_201_with_location_and_etag() {
    let srv = TestServer::start();
    let r = srv.post(
        "/Groups",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "externalId": "g-ext", "members": []}),
    );
    r.expect(201);
    assert_scim_content_type(&r);
    let g = &r.json;
    let id = id_of(g);
    assert_eq!(g["displayName"], "Engineering");
    assert_eq!(g["externalId"], "g-ext");
    assert!(g["schemas"].as_array().unwrap().iter().any(|s| s == GROUP_SCHEMA));
    assert_eq!(g["meta"]["resourceType"], "Group");
    let loc = g["meta"]["location"].as_str().unwrap();
    assert_eq!(loc, srv.url(&gpath(&id)));
    assert_eq!(r.header("location"), Some(loc));
    assert_eq!(r.etag(), g["meta"]["version"].as_str().unwrap());
    assert!(member_ids(g).is_empty());
    let r = srv.get(&gpath(&id));
    r.expect(200);
    assert_eq!(r.json["displayName"], "Engineering");
    assert_eq!(r.etag(), r.json["meta"]["version"].as_str().unwrap());
}

#[test]
fn create_with_members_fills_display_ref_and_type() {
    let srv = TestServer::start();
    let u = srv.create_user("jane@example.com");
    let uid = id_of(&u);
    let inner = srv.create_group("Inner", &[]);
    let gid_inner = id_of(&inner);
    let r = srv.post(
        "/Groups",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "Outer",
                "members": [{"value": uid}, {"value": gid_inner, "type": "Group"}]}),
    );
    r.expect(201);
    let g = &r.json;
    assert_eq!(member_ids(g), sorted(vec![uid.clone(), gid_inner.clone()]));
    for m in g["members"].as_array().unwrap() {
        if m["value"] == json!(uid) {
            assert_eq!(m["type"], "User");
            assert_eq!(m["display"], "jane@example.com");
            assert!(m["$ref"].as_str().unwrap_or("").ends_with(&format!("/Users/{uid}")), "{m:#}");
        } else {
            assert_eq!(m["type"], "Group");
            assert_eq!(m["display"], "Inner");
            assert!(m["$ref"].as_str().unwrap_or("").ends_with(&format!("/Groups/{gid_inner}")), "{m:#}");
        }
    }
    assert_eq!(get_group(&srv, &id_of(g))["members"], g["members"]);
}

#[test]
fn unknown_member_id_is_invalid_value_and_writes_nothing() {
    let srv = TestServer::start();
    let u = srv.create_user("u@example.com");
    let uid = id_of(&u);
    let r = srv.post(
        "/Groups",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": uid}, {"value": UNKNOWN}]}),
    );
    r.expect_error(400, Some("invalidValue"));
    assert!(r.json["detail"].as_str().unwrap().contains(UNKNOWN), "detail names the id: {r:#?}");
    assert_eq!(srv.count("/Groups"), 0);
    assert!(user_groups(&srv, &uid).is_empty());
}

#[test]
fn wrong_member_type_is_invalid_value() {
    let srv = TestServer::start();
    let u = srv.create_user("u@example.com");
    let uid = id_of(&u);
    let g = srv.create_group("Real", &[]);
    let gid = id_of(&g);
    for members in [
        json!([{"value": uid, "type": "Group"}]),
        json!([{"value": gid, "type": "User"}]),
        json!([{"value": uid, "type": "Robot"}]),
    ] {
        let r = srv.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "Bad", "members": members}));
        r.expect_error(400, Some("invalidValue"));
    }
    assert_eq!(srv.count("/Groups"), 1);
    // PATCH too.
    let before = get_group(&srv, &gid);
    srv.patch(&gpath(&gid), &patch_body(json!([{"op":"add","path":"members","value":[{"value":uid,"type":"Group"}]}])))
        .expect_error(400, Some("invalidValue"));
    assert_eq!(get_group(&srv, &gid), before);
}

#[test]
fn display_name_is_required_and_unique_case_insensitively() {
    let srv = TestServer::start();
    srv.create_group("Sales", &[]);
    for name in ["Sales", "sales", "SALES"] {
        srv.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": name}))
            .expect_error(409, Some("uniqueness"));
    }
    srv.post("/Groups", &json!({"schemas": [GROUP_SCHEMA]})).expect_error(400, None);
    srv.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": 5})).expect_error(400, None);
    assert_eq!(srv.count("/Groups"), 1);
}

#[test]
fn rename_onto_a_taken_name_is_409_and_changes_nothing() {
    let srv = TestServer::start();
    srv.create_group("Taken", &[]);
    let g = srv.create_group("Mine", &[]);
    let gid = id_of(&g);
    let before = get_group(&srv, &gid);
    srv.patch(&gpath(&gid), &patch_body(json!([{"op":"replace","path":"displayName","value":"TAKEN"}])))
        .expect_error(409, Some("uniqueness"));
    srv.put(&gpath(&gid), &json!({"schemas": [GROUP_SCHEMA], "displayName": "taken"}))
        .expect_error(409, Some("uniqueness"));
    assert_eq!(get_group(&srv, &gid), before);
}

#[test]
fn patch_add_and_remove_members() {
    let srv = TestServer::start();
    let a = id_of(&srv.create_user("a@x.org"));
    let b = id_of(&srv.create_user("b@x.org"));
    let c = id_of(&srv.create_user("c@x.org"));
    let gid = id_of(&srv.create_group("G", &[]));

    let g = patch_group(&srv, &gid, json!([{"op":"add","path":"members","value":[{"value":a}]}]));
    assert_eq!(member_ids(&g), vec![a.clone()]);
    let g = patch_group(
        &srv,
        &gid,
        json!([{"op":"add","path":"members","value":[{"value":b,"display":"whatever"},{"value":c}]}]),
    );
    assert_eq!(member_ids(&g), sorted(vec![a.clone(), b.clone(), c.clone()]));
    let disp_b = g["members"].as_array().unwrap().iter().find(|m| m["value"] == json!(b)).unwrap()["display"].clone();
    assert_eq!(disp_b, "b@x.org", "display is filled by the server");

    // Adding an existing member is a no-op.
    let v = g["meta"]["version"].clone();
    let g = patch_group(&srv, &gid, json!([{"op":"add","path":"members","value":[{"value":a}]}]));
    assert_eq!(g["members"].as_array().unwrap().len(), 3);
    assert_eq!(g["meta"]["version"], v, "a no-op add keeps the version");

    // Remove one by filtered path.
    let g = patch_group(&srv, &gid, json!([{"op":"remove","path":format!("members[value eq \"{b}\"]")}]));
    assert_eq!(member_ids(&g), sorted(vec![a.clone(), c.clone()]));
    assert!(user_groups(&srv, &b).is_empty());
    assert_eq!(user_groups(&srv, &a), vec![pair(&gid, "direct")]);

    // Remove all.
    let g = patch_group(&srv, &gid, json!([{"op":"remove","path":"members"}]));
    assert!(member_ids(&g).is_empty());
    assert!(user_groups(&srv, &a).is_empty());
}

#[test]
fn patch_replace_members_and_entra_style_remove() {
    let srv = TestServer::start();
    let a = id_of(&srv.create_user("a@x.org"));
    let b = id_of(&srv.create_user("b@x.org"));
    let c = id_of(&srv.create_user("c@x.org"));
    let gid = id_of(&srv.create_group("G", &[&a, &b]));
    let g = patch_group(&srv, &gid, json!([{"op":"replace","path":"members","value":[{"value":b},{"value":c}]}]));
    assert_eq!(member_ids(&g), sorted(vec![b.clone(), c.clone()]));
    // Entra: remove with a value list removes exactly those.
    let g = patch_group(&srv, &gid, json!([{"op":"Remove","path":"members","value":[{"value":c}]}]));
    assert_eq!(member_ids(&g), vec![b.clone()]);
    // Replace with [] empties the group.
    let g = patch_group(&srv, &gid, json!([{"op":"replace","path":"members","value":[]}]));
    assert!(member_ids(&g).is_empty());
}

#[test]
fn patch_with_an_unknown_member_changes_nothing() {
    let srv = TestServer::start();
    let a = id_of(&srv.create_user("a@x.org"));
    let b = id_of(&srv.create_user("b@x.org"));
    let gid = id_of(&srv.create_group("G", &[&a]));
    let before = get_group(&srv, &gid);
    for ops in [
        json!([{"op":"add","path":"members","value":[{"value":b}]},
               {"op":"add","path":"members","value":[{"value":UNKNOWN}]}]),
        json!([{"op":"add","path":"members","value":[{"value":b},{"value":UNKNOWN}]}]),
        json!([{"op":"replace","path":"members","value":[{"value":UNKNOWN}]}]),
        json!([{"op":"replace","path":"displayName","value":"Renamed"},
               {"op":"add","path":"members","value":[{"value":"00919288221112222"}]}]),
    ] {
        let r = srv.patch(&gpath(&gid), &patch_body(ops.clone()));
        assert_eq!(r.status, 400, "{ops}: {r:#?}");
        r.expect_error(400, Some("invalidValue"));
        assert_eq!(get_group(&srv, &gid), before, "{ops} changed the group");
    }
    assert!(user_groups(&srv, &b).is_empty());
}

#[test]
fn malformed_member_paths_change_nothing() {
    let srv = TestServer::start();
    let a = id_of(&srv.create_user("a@x.org"));
    let gid = id_of(&srv.create_group("G", &[&a]));
    let before = get_group(&srv, &gid);
    for path in ["members[value eq", "members[value eq \"x\"", "members[]", "members[value zz \"x\"]", "members..value"]
    {
        let r = srv.patch(&gpath(&gid), &patch_body(json!([{"op":"remove","path":path}])));
        assert_eq!(r.status, 400, "path {path:?}: {r:#?}");
        r.expect_error(400, None);
        assert!(
            ["invalidPath", "invalidFilter"].contains(&r.json["scimType"].as_str().unwrap_or("")),
            "path {path:?}: {r:#?}"
        );
    }
    assert_eq!(get_group(&srv, &gid), before);
}

#[test]
fn rename_via_path_and_via_value_object_with_own_id() {
    let srv = TestServer::start();
    let a = id_of(&srv.create_user("a@x.org"));
    let gid = id_of(&srv.create_group("Old", &[&a]));
    let g = patch_group(&srv, &gid, json!([{"op":"replace","path":"displayName","value":"Mid"}]));
    assert_eq!(g["displayName"], "Mid");
    let g = patch_group(&srv, &gid, json!([{"op":"replace","value":{"id":gid,"displayName":"New"}}]));
    assert_eq!(g["displayName"], "New");
    assert_eq!(g["id"], json!(gid));
    assert_eq!(member_ids(&g), vec![a.clone()], "rename keeps members");
    // Members see the new display name.
    let r = srv.get(&format!("/Users/{a}"));
    assert_eq!(r.json["groups"][0]["display"], "New");
    // A different id is refused.
    let before = get_group(&srv, &gid);
    let r =
        srv.patch(&gpath(&gid), &patch_body(json!([{"op":"replace","value":{"id":UNKNOWN,"displayName":"Other"}}])));
    r.expect_error(400, None);
    assert_eq!(get_group(&srv, &gid), before);
}

#[test]
fn many_operations_apply_atomically_and_ops_are_case_insensitive() {
    let srv = TestServer::start();
    let a = id_of(&srv.create_user("a@x.org"));
    let b = id_of(&srv.create_user("b@x.org"));
    let gid = id_of(&srv.create_group("G", &[&a]));
    let g = patch_group(
        &srv,
        &gid,
        json!([{"op":"Remove","path":format!("members[value eq \"{a}\"]")},
               {"op":"ADD","path":"members","value":[{"value":b}]},
               {"op":"Replace","path":"displayName","value":"G2"}]),
    );
    assert_eq!(member_ids(&g), vec![b.clone()]);
    assert_eq!(g["displayName"], "G2");
}

#[test]
fn group_patch_returns_200_with_attributes_query() {
    let srv = TestServer::start();
    let a = id_of(&srv.create_user("a@x.org"));
    let gid = id_of(&srv.create_group("G", &[]));
    let r = srv.patch(
        &format!("/Groups/{gid}?attributes=members"),
        &patch_body(json!([{"op":"add","path":"members","value":[{"value":a}]}])),
    );
    r.expect(200);
    assert_eq!(member_ids(&r.json), vec![a.clone()]);
    assert!(r.json.get("displayName").is_none(), "{:#}", r.json);
    let r = srv.patch(
        &format!("/Groups/{gid}?excludedAttributes=members"),
        &patch_body(json!([{"op":"replace","path":"displayName","value":"H"}])),
    );
    r.expect(200);
    assert_eq!(r.json["displayName"], "H");
    assert!(r.json.get("members").is_none());
    assert_eq!(r.etag(), r.json["meta"]["version"].as_str().unwrap());
}

#[test]
fn put_replaces_members_and_name() {
    let srv = TestServer::start();
    let a = id_of(&srv.create_user("a@x.org"));
    let b = id_of(&srv.create_user("b@x.org"));
    let gid = id_of(&srv.create_group("G", &[&a]));
    let r = srv.put(
        &gpath(&gid),
        &json!({"schemas": [GROUP_SCHEMA], "id": gid, "displayName": "G-renamed", "members": [{"value": b}]}),
    );
    r.expect(200);
    assert_eq!(r.json["displayName"], "G-renamed");
    assert_eq!(member_ids(&r.json), vec![b.clone()]);
    assert_eq!(r.etag(), r.json["meta"]["version"].as_str().unwrap());
    assert!(user_groups(&srv, &a).is_empty());
    assert_eq!(user_groups(&srv, &b), vec![pair(&gid, "direct")]);
    // PUT with an unknown member changes nothing.
    let before = get_group(&srv, &gid);
    srv.put(&gpath(&gid), &json!({"schemas": [GROUP_SCHEMA], "displayName": "X", "members": [{"value": UNKNOWN}]}))
        .expect_error(400, Some("invalidValue"));
    assert_eq!(get_group(&srv, &gid), before);
    srv.put(&gpath(UNKNOWN), &json!({"schemas": [GROUP_SCHEMA], "displayName": "X"})).expect_error(404, None);
}

#[test]
fn list_filter_paging_projection_and_search() {
    let srv = TestServer::start();
    let a = id_of(&srv.create_user("a@x.org"));
    let ids: Vec<String> = ["Eng", "Sales", "Ops"].iter().map(|n| id_of(&srv.create_group(n, &[&a]))).collect();
    let r = srv.get("/Groups");
    r.expect(200);
    assert_eq!(r.json["schemas"], json!([LIST_SCHEMA]));
    assert_eq!(r.ids(), ids);
    assert!(r.resources().iter().all(|g| member_ids(g) == vec![a.clone()]));
    let r = srv.filter("/Groups", "displayName eq \"sales\"");
    assert_eq!(r.ids(), vec![ids[1].clone()]);
    let r = srv.get("/Groups?startIndex=2&count=1");
    assert_eq!(r.total(), 3);
    assert_eq!(r.ids(), vec![ids[1].clone()]);
    let r = srv.get("/Groups?startIndex=4&count=1");
    assert_eq!(r.json["itemsPerPage"], 0);
    assert_eq!(r.json["Resources"], json!([]));
    let r = srv.get("/Groups?excludedAttributes=members");
    assert_eq!(r.ids(), ids);
    assert!(r.resources().iter().all(|g| g.get("members").is_none() && g["displayName"].is_string()));
    let r = srv.get("/Groups?attributes=displayName");
    assert!(r.resources().iter().all(|g| g.get("members").is_none() && g["id"].is_string()));
    let r = srv.get("/Groups?sortBy=displayName&sortOrder=descending");
    assert_eq!(r.field("displayName"), strs(&["Sales", "Ops", "Eng"]));
    let r = srv.get(&format!("/Groups/{}?excludedAttributes=members", ids[0]));
    assert!(r.json.get("members").is_none());
    let r = srv.post(
        "/Groups/.search",
        &json!({"schemas": [SEARCH_SCHEMA], "filter": "displayName sw \"o\" or displayName eq \"ENG\"",
                "excludedAttributes": ["members"], "sortBy": "displayName"}),
    );
    r.expect(200);
    assert_eq!(r.field("displayName"), strs(&["Eng", "Ops"]));
    srv.filter("/Groups", "displayName eq").expect_error(400, Some("invalidFilter"));
    // Filtering groups by member.
    let r = srv.filter("/Groups", &format!("members.value eq \"{a}\""));
    r.expect(200);
    assert_eq!(r.total(), 3);
}

#[test]
fn user_groups_direct_and_indirect_and_filterable() {
    let srv = TestServer::start();
    let u = id_of(&srv.create_user("u@x.org"));
    let other = id_of(&srv.create_user("other@x.org"));
    let g1 = id_of(&srv.create_group("G1", &[&u]));
    let g2 = id_of(&srv.create_group("G2", &[&g1]));
    let g3 = id_of(&srv.create_group("G3", &[&g2]));
    let _lonely = id_of(&srv.create_group("Lonely", &[&other]));
    assert_eq!(
        user_groups(&srv, &u),
        sorted_pairs(vec![pair(&g1, "direct"), pair(&g2, "indirect"), pair(&g3, "indirect")])
    );
    let r = srv.get(&format!("/Users/{u}"));
    let g1e = r.json["groups"].as_array().unwrap().iter().find(|g| g["value"] == json!(g1)).unwrap().clone();
    assert_eq!(g1e["display"], "G1");
    assert!(g1e["$ref"].as_str().unwrap_or("").ends_with(&format!("/Groups/{g1}")), "{g1e:#}");

    // A list page computes the groups of all its users at once: the same answer as each user's GET.
    let loner = id_of(&srv.create_user("loner@x.org"));
    let page = srv.get("/Users?count=50");
    page.expect(200);
    for resource in page.resources() {
        let id = resource["id"].as_str().unwrap_or_default().to_string();
        assert_eq!(groups_of_user(&resource), user_groups(&srv, &id), "groups of {id} on a list page");
        if id == loner {
            assert!(resource.get("groups").is_none(), "a user in no group has no groups attribute");
        }
    }
    let r = srv.filter("/Users", &format!("groups.value eq \"{g1}\""));
    assert_eq!(r.ids(), vec![u.clone()]);
    let r = srv.filter("/Users", &format!("groups.value eq \"{g3}\""));
    assert_eq!(r.ids(), vec![u.clone()], "indirect memberships are part of groups");
    let r = srv.filter("/Users", &format!("groups[value eq \"{g1}\"]"));
    assert_eq!(r.ids(), vec![u.clone()]);
    let r = srv.filter("/Users", "groups pr");
    assert_eq!(sorted(r.ids()), sorted(vec![u.clone(), other.clone()]));

    // Breaking the chain in the middle drops the indirect ones above it.
    patch_group(&srv, &g2, json!([{"op":"remove","path":format!("members[value eq \"{g1}\"]")}]));
    assert_eq!(user_groups(&srv, &u), vec![pair(&g1, "direct")]);
    let r = srv.filter("/Users", &format!("groups.value eq \"{g3}\""));
    assert_eq!(r.total(), 0);
}

fn sorted_pairs(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

#[test]
fn membership_cycles_do_not_hang() {
    let srv = TestServer::start();
    let u = id_of(&srv.create_user("u@x.org"));
    let a = id_of(&srv.create_group("A", &[&u]));
    let b = id_of(&srv.create_group("B", &[&a]));
    // Closing the cycle A -> B -> A is refused: a group would contain itself.
    let r = srv.patch(&gpath(&a), &patch_body(json!([{"op":"add","path":"members","value":[{"value":b}]}])));
    r.expect_error(400, Some("invalidValue"));
    let groups = user_groups(&srv, &u);
    assert!(groups.contains(&pair(&a, "direct")));
    assert!(groups.contains(&pair(&b, "indirect")));
    assert_eq!(groups.len(), 2, "each group once: {groups:?}");
    // A group containing itself.
    let r = srv.patch(&gpath(&a), &patch_body(json!([{"op":"add","path":"members","value":[{"value":a}]}])));
    r.expect_error(400, Some("invalidValue"));
    srv.get(&gpath(&a)).expect(200);
    assert_eq!(user_groups(&srv, &u).len(), 2);
}

#[test]
fn deleting_a_user_removes_its_memberships() {
    let srv = TestServer::start();
    let a = id_of(&srv.create_user("a@x.org"));
    let b = id_of(&srv.create_user("b@x.org"));
    let gid = id_of(&srv.create_group("G", &[&a, &b]));
    let v = get_group(&srv, &gid)["meta"]["version"].clone();
    srv.delete(&format!("/Users/{a}")).expect(204);
    let g = get_group(&srv, &gid);
    assert_eq!(member_ids(&g), vec![b.clone()]);
    let _ = v;
    let r = srv.filter("/Groups", &format!("members.value eq \"{a}\""));
    assert_eq!(r.total(), 0);
}

#[test]
fn deleting_a_group_cascades() {
    let srv = TestServer::start();
    let u = id_of(&srv.create_user("u@x.org"));
    let inner = id_of(&srv.create_group("Inner", &[&u]));
    let outer = id_of(&srv.create_group("Outer", &[&inner]));
    let r = srv.delete(&gpath(&inner));
    r.expect(204);
    assert!(r.text.is_empty());
    srv.get(&gpath(&inner)).expect_error(404, None);
    srv.delete(&gpath(&inner)).expect_error(404, None);
    assert!(member_ids(&get_group(&srv, &outer)).is_empty(), "the outer group lost its member");
    assert!(user_groups(&srv, &u).is_empty(), "no direct nor indirect membership left");
    // The name is free again.
    srv.create_group("inner", &[]);
}

#[test]
fn group_etags() {
    let srv = TestServer::start();
    let gid = id_of(&srv.create_group("E", &[]));
    let g = srv.get(&gpath(&gid));
    let etag = g.etag();
    srv.send("GET", &gpath(&gid), &[("If-None-Match", &etag)], None).expect(304);
    let p = patch_body(json!([{"op":"replace","path":"displayName","value":"E2"}]));
    srv.send("PATCH", &gpath(&gid), &[("If-Match", "W/\"424242\"")], Some(&p)).expect_error(412, None);
    assert_eq!(get_group(&srv, &gid)["displayName"], "E");
    srv.send("PATCH", &gpath(&gid), &[("If-Match", &etag)], Some(&p)).expect(204);
    let g2 = srv.get(&gpath(&gid));
    assert_ne!(g2.etag(), etag);
    srv.send("DELETE", &gpath(&gid), &[("If-Match", &etag)], None).expect_error(412, None);
    srv.send("DELETE", &gpath(&gid), &[("If-Match", &g2.etag())], None).expect(204);
}

#[test]
fn unknown_group_ids_are_404() {
    let srv = TestServer::start();
    for id in [UNKNOWN, "00919288221112222"] {
        srv.get(&gpath(id)).expect_error(404, None);
        srv.delete(&gpath(id)).expect_error(404, None);
        srv.patch(&gpath(id), &patch_body(json!([{"op":"replace","path":"displayName","value":"x"}])))
            .expect_error(404, None);
    }
}

#[test]
fn concurrent_member_adds_are_not_lost() {
    let srv = TestServer::start();
    let users: Vec<String> = (0..24).map(|i| id_of(&srv.create_user(&format!("m{i}@x.org")))).collect();
    let gid = id_of(&srv.create_group("Busy", &[]));
    std::thread::scope(|s| {
        for chunk in users.chunks(6) {
            let srv = &srv;
            let gid = &gid;
            s.spawn(move || {
                for u in chunk {
                    let r = srv
                        .patch(&gpath(gid), &patch_body(json!([{"op":"add","path":"members","value":[{"value":u}]}])));
                    assert_eq!(r.status, 204, "{r:#?}");
                }
            });
        }
    });
    let g = get_group(&srv, &gid);
    assert_eq!(member_ids(&g), sorted(users.clone()), "a concurrent add was lost");
}

#[test]
fn a_group_lists_all_of_its_members() {
    let srv = TestServer::start();
    let users: Vec<String> = (0..150).map(|i| id_of(&srv.create_user(&format!("big{i:03}@x.org")))).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let gid = id_of(&srv.create_group("Big", &refs));
    assert_eq!(member_ids(&get_group(&srv, &gid)), sorted(users.clone()));
    // Remove one from the middle.
    let g = patch_group(&srv, &gid, json!([{"op":"remove","path":format!("members[value eq \"{}\"]", users[75])}]));
    assert_eq!(g["members"].as_array().unwrap().len(), 149);
    assert!(!member_ids(&g).contains(&users[75]));
    let r = srv.get(&format!("/Groups?filter={}&excludedAttributes=members", enc("displayName eq \"Big\"")));
    assert_eq!(r.ids(), vec![gid.clone()]);
    assert!(r.resources()[0].get("members").is_none());
}

#[test]
fn bad_group_patch_requests_change_nothing() {
    let srv = TestServer::start();
    let a = id_of(&srv.create_user("a@x.org"));
    let gid = id_of(&srv.create_group("G", &[&a]));
    let before = get_group(&srv, &gid);
    for body in [
        patch_body(json!([{"op":"frobnicate","path":"members","value":[]}])),
        patch_body(json!([{"op":"add","path":"members","value":"not-a-list-of-members"}])),
        patch_body(json!([{"op":"replace","path":"displayName","value":""}])),
        patch_body(json!([{"op":"remove","path":"displayName"}])),
        patch_body(json!([{"op":"replace","path":"displayName","value":"X"}, {"op":"remove"}])),
        json!({"schemas": [PATCH_SCHEMA]}),
    ] {
        let r = srv.patch(&gpath(&gid), &body);
        assert_eq!(r.status, 400, "{body}: {r:#?}");
        r.expect_error(400, None);
        assert_eq!(get_group(&srv, &gid), before, "{body} changed the group");
    }
}

/// GET /Groups/{id} writes a large membership out in chunks (64 KiB each) from one read transaction:
/// the body must still be one valid JSON document, honour `attributes` on member sub-attributes, and
/// carry the ETag so that If-None-Match answers 304.
#[test]
fn a_large_membership_is_streamed_as_one_valid_document() {
    let srv = TestServer::start();
    let users: Vec<String> = (0..450).map(|i| id_of(&srv.create_user(&format!("stream{i:03}@x.org")))).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let gid = id_of(&srv.create_group("Streamed", &refs));
    let r = srv.get(&gpath(&gid));
    r.expect(200);
    assert!(r.text.len() > 64 * 1024, "the body spans several chunks: {} bytes", r.text.len());
    assert_eq!(member_ids(&r.json), sorted(users.clone()));
    assert_eq!(r.json["displayName"], "Streamed");
    let first = &r.json["members"][0];
    assert_eq!(first["type"], "User");
    assert!(first["display"].as_str().is_some_and(|d| d.starts_with("stream")), "{first}");
    assert!(first["$ref"].as_str().is_some_and(|d| d.ends_with(first["value"].as_str().unwrap())), "{first}");
    // Sub-attribute selection applies to every streamed element.
    let only_values = srv.get(&format!("{}?attributes=members.value", gpath(&gid)));
    only_values.expect(200);
    let members = only_values.json["members"].as_array().expect("members");
    assert_eq!(members.len(), 450);
    assert!(members.iter().all(|m| m.as_object().is_some_and(|o| o.len() == 1 && o.contains_key("value"))));
    assert!(only_values.json.get("displayName").is_none());
    // The ETag comes with the streamed body, and a current one gets 304 with no body.
    let etag = r.header("etag").expect("ETag on a streamed group");
    assert_eq!(etag, r.json["meta"]["version"].as_str().unwrap());
    let not_modified = srv.send("GET", &gpath(&gid), &[("If-None-Match", etag)], None);
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.text.is_empty());
    // An empty group has no members attribute at all, streamed or not.
    let empty = id_of(&srv.create_group("Nobody", &[]));
    let r = srv.get(&gpath(&empty));
    r.expect(200);
    assert!(r.json.get("members").is_none(), "{}", r.text);
    // List pages stream the same way (Okta's group import reads pages without excludedAttributes).
    let page = srv.get("/Groups?startIndex=1&count=10");
    page.expect(200);
    assert_eq!(page.json["totalResults"], 2);
    assert_eq!(page.json["itemsPerPage"], 2);
    assert_eq!(page.json["startIndex"], 1);
    let listed = page.resources();
    assert_eq!(listed.len(), 2);
    assert_eq!(member_ids(&listed[0]), sorted(users.clone()));
    assert!(listed[1].get("members").is_none());
    let values = srv.get("/Groups?attributes=members.value&filter=displayName%20eq%20%22streamed%22");
    values.expect(200);
    let members = values.resources()[0]["members"].as_array().expect("members").clone();
    assert_eq!(members.len(), 450);
    assert!(members.iter().all(|m| m.as_object().is_some_and(|o| o.len() == 1)));
}

/// Operations that cancel out are a no-op (issue 3: a no-op PATCH keeps meta.version), and a remove of
/// `members` with an explicit null value is refused rather than read as "remove everyone".
#[test]
fn cancelling_member_operations_keep_the_version_and_null_removal_is_refused() {
    let srv = TestServer::start();
    let a = id_of(&srv.create_user("a@x.org"));
    let b = id_of(&srv.create_user("b@x.org"));
    let gid = id_of(&srv.create_group("Net", &[&a]));
    let before = get_group(&srv, &gid);
    let after = patch_group(
        &srv,
        &gid,
        json!([{"op":"add","path":"members","value":[{"value": b}]},
               {"op":"remove","path":format!("members[value eq \"{b}\"]")}]),
    );
    assert_eq!(after["meta"]["version"], before["meta"]["version"], "add+remove of one member is a no-op");
    assert_eq!(member_ids(&after), vec![a.clone()]);
    let r = srv.patch(&gpath(&gid), &patch_body(json!([{"op":"remove","path":"members","value":null}])));
    r.expect_error(400, Some("invalidValue"));
    assert_eq!(get_group(&srv, &gid), before, "the group must keep its members");
    // A real change still moves the version.
    let changed = patch_group(&srv, &gid, json!([{"op":"add","path":"members","value":[{"value": b}]}]));
    assert_ne!(changed["meta"]["version"], before["meta"]["version"]);
}
