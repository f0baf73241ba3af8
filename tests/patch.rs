//! User PATCH over HTTP (RFC 7644 §3.5.2): add/remove/replace with simple, sub-attribute, filtered
//! and URN paths, no-path value objects, Entra quirks, atomicity, and no-op version stability.
mod common;

use common::*;
use serde_json::{json, Value};

const ENTRA_QUIRKS: &str = include_str!("fixtures/okta/patch-entra-quirks.json");
const CREATE_USER: &str = include_str!("fixtures/okta/create-user.json");

fn setup() -> (TestServer, String) {
    let srv = TestServer::start();
    let u = srv.create_user_body(&json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": "pat@example.com",
        "name": {"givenName": "Pat", "familyName": "Doe"},
        "title": "Engineer",
        "active": true,
        "emails": [{"value": "pat@example.com", "type": "work", "primary": true},
                   {"value": "pat@home.org", "type": "home"}],
        ENTERPRISE: {"employeeNumber": "7", "department": "Eng"}
    }));
    let id = id_of(&u);
    (srv, id)
}

#[track_caller]
fn patch_ok(srv: &TestServer, id: &str, ops: Value) -> Value {
    let r = srv.patch(&format!("/Users/{id}"), &patch_body(ops.clone()));
    assert_eq!(r.status, 200, "PATCH {ops}: {r:#?}");
    assert_scim_content_type(&r);
    assert_eq!(r.etag(), r.json["meta"]["version"].as_str().unwrap_or_default());
    // The response is the stored state.
    let g = srv.get(&format!("/Users/{id}"));
    assert_eq!(g.json, r.json, "PATCH response differs from a later GET");
    r.json
}

fn email<'a>(u: &'a Value, ty: &str) -> Vec<&'a Value> {
    u["emails"].as_array().map(|a| a.iter().filter(|e| e["type"] == ty).collect()).unwrap_or_default()
}

#[test]
fn replace_without_path_deactivates_and_reactivates() {
    let (srv, id) = setup();
    let v0 = srv.get(&format!("/Users/{id}")).json["meta"]["version"].clone();
    let u = patch_ok(&srv, &id, json!([{"op":"replace","value":{"active":false}}]));
    assert_eq!(u["active"], false);
    assert_eq!(u["title"], "Engineer", "other attributes untouched");
    assert_ne!(u["meta"]["version"], v0);
    let u = patch_ok(&srv, &id, json!([{"op":"replace","value":{"active":true}}]));
    assert_eq!(u["active"], true);
}

#[test]
fn replace_sub_attribute_and_simple_paths() {
    let (srv, id) = setup();
    let u = patch_ok(
        &srv,
        &id,
        json!([{"op":"replace","path":"name.givenName","value":"Patricia"},
               {"op":"replace","path":"title","value":"Lead"},
               {"op":"replace","path":"userName","value":"patricia@example.com"}]),
    );
    assert_eq!(u["name"]["givenName"], "Patricia");
    assert_eq!(u["name"]["familyName"], "Doe");
    assert_eq!(u["title"], "Lead");
    assert_eq!(u["userName"], "patricia@example.com");
}

#[test]
fn add_operations() {
    let (srv, id) = setup();
    let u = patch_ok(
        &srv,
        &id,
        json!([{"op":"add","path":"emails","value":[{"value":"pat@other.net","type":"other"}]},
               {"op":"add","path":"nickName","value":"patty"},
               {"op":"add","value":{"displayName":"Pat D","locale":"fr-FR"}}]),
    );
    assert_eq!(u["emails"].as_array().unwrap().len(), 3);
    assert_eq!(email(&u, "other")[0]["value"], "pat@other.net");
    assert_eq!(u["nickName"], "patty");
    assert_eq!(u["displayName"], "Pat D");
    assert_eq!(u["locale"], "fr-FR");
    // add on an existing single-valued attribute replaces it (RFC 7644 §3.5.2.1).
    let u = patch_ok(&srv, &id, json!([{"op":"add","path":"title","value":"Boss"}]));
    assert_eq!(u["title"], "Boss");
}

#[test]
fn remove_operations() {
    let (srv, id) = setup();
    let u = patch_ok(
        &srv,
        &id,
        json!([{"op":"remove","path":"title"},
               {"op":"remove","path":"emails[type eq \"home\"]"},
               {"op":"remove","path":"name.familyName"}]),
    );
    assert!(u.get("title").is_none(), "{u:#}");
    let emails = u["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["type"], "work");
    assert_eq!(u["name"]["givenName"], "Pat");
    assert!(u["name"].get("familyName").is_none());
    let u = patch_ok(&srv, &id, json!([{"op":"remove","path":"emails"}]));
    assert!(u.get("emails").is_none() || u["emails"] == json!([]), "{u:#}");
}

#[test]
fn filtered_paths() {
    let (srv, id) = setup();
    let u = patch_ok(
        &srv,
        &id,
        json!([{"op":"replace","path":"emails[type eq \"work\"].value","value":"new@example.com"}]),
    );
    assert_eq!(email(&u, "work")[0]["value"], "new@example.com");
    assert_eq!(email(&u, "work")[0]["primary"], true, "other sub-attributes kept");
    assert_eq!(email(&u, "home")[0]["value"], "pat@home.org");
    let u = patch_ok(
        &srv,
        &id,
        json!([{"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"h2@home.org","type":"home"}}]),
    );
    assert_eq!(email(&u, "home")[0]["value"], "h2@home.org");
    assert_eq!(email(&u, "work")[0]["value"], "new@example.com");
}

#[test]
fn extension_urn_paths() {
    let (srv, id) = setup();
    let u = patch_ok(
        &srv,
        &id,
        json!([{"op":"replace","path":format!("{ENTERPRISE}:department"),"value":"Sales"},
               {"op":"add","path":format!("{ENTERPRISE}:costCenter"),"value":"CC-1"}]),
    );
    assert_eq!(u[ENTERPRISE]["department"], "Sales");
    assert_eq!(u[ENTERPRISE]["costCenter"], "CC-1");
    assert_eq!(u[ENTERPRISE]["employeeNumber"], "7");
    let u = patch_ok(&srv, &id, json!([{"op":"remove","path":format!("{ENTERPRISE}:department")}]));
    assert!(u[ENTERPRISE].get("department").is_none(), "{u:#}");
    assert_eq!(u[ENTERPRISE]["employeeNumber"], "7");
}

#[test]
fn op_names_are_case_insensitive_and_string_booleans_coerced() {
    let (srv, id) = setup();
    let u = patch_ok(&srv, &id, json!([{"op":"Replace","path":"active","value":"False"}]));
    assert_eq!(u["active"], json!(false), "\"False\" must become a JSON boolean");
    let u = patch_ok(&srv, &id, json!([{"op":"REPLACE","value":{"active":"True"}}]));
    assert_eq!(u["active"], json!(true));
    let u = patch_ok(
        &srv,
        &id,
        json!([{"op":"Add","path":"nickName","value":"p"},
                                       {"op":"Remove","path":"title"}]),
    );
    assert_eq!(u["nickName"], "p");
    assert!(u.get("title").is_none());
}

#[test]
fn entra_quirks_fixture() {
    let srv = TestServer::start();
    let created = srv.create_user_body(&serde_json::from_str(CREATE_USER).unwrap());
    let id = id_of(&created);
    let body: Value = serde_json::from_str(ENTRA_QUIRKS).unwrap();
    let r = srv.patch(&format!("/Users/{id}"), &body);
    r.expect(200);
    let u = &r.json;
    assert_eq!(u["active"], json!(false));
    assert_eq!(u["name"]["givenName"], "Jan");
    assert_eq!(u["name"]["familyName"], "Doe");
    assert_eq!(u[ENTERPRISE]["department"], "Sales");
    assert_eq!(u[ENTERPRISE]["employeeNumber"], "E-1042");
    let home = email(u, "home");
    assert_eq!(home.len(), 1, "Entra's filtered add creates the home email: {u:#}");
    assert_eq!(home[0]["value"], "jan@example.org");
    assert_eq!(email(u, "work")[0]["value"], "jane.doe@example.com");
    assert!(!r.text.contains("xY7-random-placeholder"));
    assert_eq!(srv.get(&format!("/Users/{id}")).json, r.json);
}

#[test]
fn no_path_value_with_dotted_and_urn_keys() {
    let (srv, id) = setup();
    let u = patch_ok(
        &srv,
        &id,
        json!([{"op":"replace","value":{"name.familyName":"Roe",
                format!("{ENTERPRISE}:employeeNumber"):"8"}}]),
    );
    assert_eq!(u["name"]["familyName"], "Roe");
    assert_eq!(u["name"]["givenName"], "Pat");
    assert_eq!(u[ENTERPRISE]["employeeNumber"], "8");
    assert_eq!(u[ENTERPRISE]["department"], "Eng");
}

#[test]
fn setting_a_primary_clears_the_other_primaries() {
    let (srv, id) = setup();
    let u = patch_ok(
        &srv,
        &id,
        json!([{"op":"add","path":"emails","value":[{"value":"p2@x.org","type":"other","primary":true}]}]),
    );
    let primaries: Vec<&Value> = u["emails"].as_array().unwrap().iter().filter(|e| e["primary"] == true).collect();
    assert_eq!(primaries.len(), 1, "at most one primary (RFC 7644 §3.5.2): {u:#}");
    assert_eq!(primaries[0]["value"], "p2@x.org");
}

#[test]
fn password_patch_is_accepted_and_not_returned() {
    let (srv, id) = setup();
    let r = srv.patch(
        &format!("/Users/{id}"),
        &serde_json::from_str(include_str!("fixtures/okta/patch-password.json")).unwrap(),
    );
    r.expect(200);
    assert!(!r.text.contains("new-Secret-9182"));
    assert!(r.json.get("password").is_none());
}

#[test]
fn failing_operation_rolls_back_the_whole_request() {
    let (srv, id) = setup();
    let path = format!("/Users/{id}");
    let before = srv.get(&path).json;
    let bad_second_ops = [
        json!({"op":"replace","path":"emails[type eq","value":"x"}),
        json!({"op":"remove","path":"userName"}),
        json!({"op":"replace","path":"active","value":"not-a-bool"}),
        json!({"op":"frobnicate","path":"title","value":"x"}),
        json!({"op":"remove"}),
        json!({"op":"replace","path":"name.givenName","value":{"nested":"object"}}),
    ];
    for bad in bad_second_ops {
        let ops = json!([{"op":"replace","path":"title","value":"CHANGED"},
                         {"op":"add","path":"nickName","value":"CHANGED"},
                         bad]);
        let r = srv.patch(&path, &patch_body(ops.clone()));
        assert_eq!(r.status, 400, "{ops}: {r:#?}");
        r.expect_error(400, None);
        let now = srv.get(&path).json;
        assert_eq!(now, before, "a failed PATCH changed the user: {ops}");
    }
}

#[test]
fn error_types_for_bad_operations() {
    let (srv, id) = setup();
    let path = format!("/Users/{id}");
    // RFC 7644 §3.5.2.2: remove without path -> noTarget.
    srv.patch(&path, &patch_body(json!([{"op":"remove"}]))).expect_error(400, Some("noTarget"));
    // Removing a required attribute.
    let r = srv.patch(&path, &patch_body(json!([{"op":"remove","path":"userName"}])));
    r.expect_error(400, None);
    assert!(["mutability", "invalidValue"].contains(&r.json["scimType"].as_str().unwrap_or("")), "{r:#?}");
    // Malformed path.
    let r = srv.patch(&path, &patch_body(json!([{"op":"replace","path":"emails[type eq \"work\"","value":"x"}])));
    r.expect_error(400, None);
    assert!(["invalidPath", "invalidFilter"].contains(&r.json["scimType"].as_str().unwrap_or("")), "{r:#?}");
    // Not a PatchOp at all.
    srv.patch(&path, &json!({"schemas": [PATCH_SCHEMA]})).expect_error(400, None);
    srv.patch(&path, &json!({"schemas": [PATCH_SCHEMA], "Operations": "replace"})).expect_error(400, None);
}

#[test]
fn no_op_patch_keeps_the_version() {
    let (srv, id) = setup();
    let path = format!("/Users/{id}");
    let before = srv.get(&path);
    let r = srv.patch(
        &path,
        &patch_body(json!([{"op":"replace","value":{"active":true}},
                           {"op":"replace","path":"title","value":"Engineer"}])),
    );
    r.expect(200);
    assert_eq!(r.json["meta"]["version"], before.json["meta"]["version"]);
    assert_eq!(r.json["meta"]["lastModified"], before.json["meta"]["lastModified"]);
    assert_eq!(r.etag(), before.etag());
    assert_eq!(srv.get(&path).json, before.json);
}

#[test]
fn read_only_and_immutable_targets() {
    let (srv, id) = setup();
    let path = format!("/Users/{id}");
    let before = srv.get(&path).json;
    let r = srv.patch(&path, &patch_body(json!([{"op":"replace","path":"id","value":"other"}])));
    r.expect_error(400, Some("mutability"));
    let r = srv.patch(&path, &patch_body(json!([{"op":"replace","path":"groups","value":[]}])));
    r.expect_error(400, Some("mutability"));
    assert_eq!(srv.get(&path).json, before);
}

#[test]
fn patch_response_honours_attributes() {
    let (srv, id) = setup();
    let r = srv.patch(
        &format!("/Users/{id}?attributes=userName"),
        &patch_body(json!([{"op":"replace","path":"title","value":"X"}])),
    );
    r.expect(200);
    assert_eq!(r.json["userName"], "pat@example.com");
    assert!(r.json.get("title").is_none(), "{:#}", r.json);
    assert_eq!(srv.get(&format!("/Users/{id}")).json["title"], "X");
}

#[test]
fn filtered_paths_on_addresses() {
    let (srv, id) = setup();
    let u = patch_ok(
        &srv,
        &id,
        json!([{"op":"add","path":"addresses","value":[
            {"type":"work","streetAddress":"1 Main St","locality":"Springfield","country":"US"},
            {"type":"home","locality":"Shelbyville"}]}]),
    );
    assert_eq!(u["addresses"].as_array().unwrap().len(), 2);
    let u = patch_ok(
        &srv,
        &id,
        json!([{"op":"replace","path":"addresses[type eq \"work\"].locality","value":"Capital City"}]),
    );
    let work: Vec<&Value> = u["addresses"].as_array().unwrap().iter().filter(|a| a["type"] == "work").collect();
    assert_eq!(work[0]["locality"], "Capital City");
    assert_eq!(work[0]["streetAddress"], "1 Main St");
    let u = patch_ok(&srv, &id, json!([{"op":"remove","path":"addresses[type eq \"work\"]"}]));
    let addrs = u["addresses"].as_array().unwrap();
    assert_eq!(addrs.len(), 1);
    assert_eq!(addrs[0]["locality"], "Shelbyville");
}

/// scim2-tester's check_add/replace_attribute: the whole extension as the path, its value an object that
/// carries the extension's URN in a `schemas` member (as typed SCIM client libraries send it).
#[test]
fn extension_urn_path_with_an_object_value() {
    let (srv, id) = setup();
    let manager = id_of(&srv.create_user("boss@example.com"));
    let value = json!({"schemas": [ENTERPRISE], "employeeNumber": "8", "manager": {"value": manager}});
    let u = patch_ok(&srv, &id, json!([{"op": "replace", "path": ENTERPRISE, "value": value}]));
    assert_eq!(u[ENTERPRISE]["employeeNumber"], "8");
    assert_eq!(u[ENTERPRISE]["manager"]["value"], json!(manager));
    assert_eq!(u[ENTERPRISE]["department"], "Eng", "replace of the extension keeps attributes it does not name");
    assert!(u[ENTERPRISE].get("schemas").is_none(), "{u:#}");
    let u = patch_ok(
        &srv,
        &id,
        json!([{"op": "add", "path": ENTERPRISE, "value": {"schemas": [ENTERPRISE], "division": "W"}}]),
    );
    assert_eq!(u[ENTERPRISE]["division"], "W");
    assert_eq!(u["schemas"], json!([USER_SCHEMA, ENTERPRISE]));
    // A POST with the same shape is accepted too.
    let mut body = user_body("typed@example.com");
    body["schemas"] = json!([USER_SCHEMA, ENTERPRISE]);
    body[ENTERPRISE] = json!({"schemas": [ENTERPRISE], "costCenter": "9"});
    let created = srv.post("/Users", &body);
    created.expect(201);
    assert_eq!(created.json[ENTERPRISE], json!({"costCenter": "9"}));
    // An unknown key inside a value is a bad value, not a bad path (RFC 7644 §3.12).
    srv.patch(&format!("/Users/{id}"), &patch_body(json!([{"op": "add", "value": {"nope": 1}}])))
        .expect_error(400, Some("invalidValue"));
    srv.patch(&format!("/Users/{id}"), &patch_body(json!([{"op": "add", "path": ENTERPRISE, "value": {"nope": 1}}])))
        .expect_error(400, Some("invalidValue"));
}

/// RFC 7644 §3.5.2.2: `remove` of `active` (not required, RFC 7643 §4.1.1) leaves it unassigned; a later
/// PUT without it keeps it unassigned, and filters treat it as absent.
#[test]
fn remove_of_active_unassigns_it() {
    let (srv, id) = setup();
    let other = id_of(&srv.create_user("other@example.com"));
    let u = patch_ok(&srv, &id, json!([{"op": "remove", "path": "active"}]));
    assert!(u.get("active").is_none(), "{u:#}");
    assert_eq!(srv.filter("/Users", "active pr").ids(), vec![other.clone()]);
    assert_eq!(srv.filter("/Users", "active eq true").ids(), vec![other.clone()]);
    assert_eq!(srv.filter("/Users", "active eq false").ids(), Vec::<String>::new());
    assert_eq!(srv.filter("/Users", "not (active pr)").ids(), vec![id.clone()]);
    // A PUT that leaves it out keeps what is stored: nothing.
    let put = srv.put(&format!("/Users/{id}"), &json!({"schemas": [USER_SCHEMA], "userName": "pat@example.com"}));
    put.expect(200);
    assert!(put.json.get("active").is_none(), "{:#}", put.json);
    // Set again by replace; `replace` with null unassigns it too.
    let u = patch_ok(&srv, &id, json!([{"op": "replace", "value": {"active": false}}]));
    assert_eq!(u["active"], false);
    assert_eq!(srv.filter("/Users", "active eq false").ids(), vec![id.clone()]);
    let u = patch_ok(&srv, &id, json!([{"op": "replace", "value": {"active": null}}]));
    assert!(u.get("active").is_none(), "{u:#}");
    // Sorting puts the user without a value last.
    let sorted = srv.get("/Users?sortBy=active&sortOrder=descending");
    assert_eq!(sorted.ids(), vec![id.clone(), other.clone()], "descending: absent first (RFC 7644 §3.4.2.3)");
}

/// canonicalValues are advertised, not enforced: any `type` is stored as sent (RFC 7643 §7).
#[test]
fn types_outside_canonical_values_are_stored_as_sent() {
    let srv = TestServer::start();
    let mut body = user_body("types@example.com");
    body["ims"] = json!([{"value": "types", "type": "slack"}]);
    body["emails"] = json!([{"value": "t@x.org", "type": "Work"}, {"value": "p@x.org", "type": "pager"}]);
    let created = srv.post("/Users", &body);
    created.expect(201);
    let id = id_of(&created.json);
    let u = srv.get(&format!("/Users/{id}")).json;
    assert_eq!(u["ims"], json!([{"value": "types", "type": "slack"}]));
    assert_eq!(u["emails"], json!([{"value": "t@x.org", "type": "Work"}, {"value": "p@x.org", "type": "pager"}]));
    let u =
        patch_ok(&srv, &id, json!([{"op": "add", "path": "phoneNumbers[type eq \"satellite\"].value", "value": "+1"}]));
    assert_eq!(u["phoneNumbers"], json!([{"type": "satellite", "value": "+1"}]));
    // Filters still compare type case-insensitively (caseExact false).
    assert_eq!(srv.filter("/Users", "emails[type eq \"work\"]").ids(), vec![id.clone()]);
    // The schema advertises the canonical values.
    let schema = srv.get(&format!("/Schemas/{USER_SCHEMA}")).json;
    let emails = schema["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "emails").unwrap().clone();
    let ty = emails["subAttributes"].as_array().unwrap().iter().find(|a| a["name"] == "type").unwrap().clone();
    assert_eq!(ty["canonicalValues"], json!(["work", "home", "other"]));
}

/// Project decision: an add/replace on a filtered path that matches nothing creates the element only for a
/// `type eq "…"` filter (Entra's shape); any other such filter is `400 noTarget` and changes nothing.
#[test]
fn only_a_type_eq_filter_creates_a_missing_element() {
    let (srv, id) = setup();
    let before = srv.get(&format!("/Users/{id}")).json;
    for path in [
        "emails[display eq \"Other\"].value",
        "emails[type eq \"other\" and primary eq false].value",
        "phoneNumbers[value sw \"+1\"].type",
    ] {
        for op in ["add", "replace"] {
            let r = srv.patch(&format!("/Users/{id}"), &patch_body(json!([{"op": op, "path": path, "value": "x"}])));
            r.expect_error(400, Some("noTarget"));
        }
    }
    assert_eq!(srv.get(&format!("/Users/{id}")).json, before, "nothing changed");
    let u =
        patch_ok(&srv, &id, json!([{"op": "replace", "path": "phoneNumbers[type eq \"fax\"].value", "value": "+4"}]));
    assert_eq!(u["phoneNumbers"], json!([{"type": "fax", "value": "+4"}]));
}
