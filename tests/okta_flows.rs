//! Okta's sequences replayed over real HTTP with Okta's headers and the sample bodies from
//! `tests/fixtures/okta/` (copies of `shared/okta/requests/`): issue 3 item 7 (user lifecycle and
//! import) and issue 4 item 6 (Push Groups), checking `User.groups` at every step.
mod common;

use common::*;
use serde_json::{json, Value};

const CREATE_USER: &str = include_str!("fixtures/okta/create-user.json");
const PUT_USER: &str = include_str!("fixtures/okta/put-user.json");
const LIST_EMPTY: &str = include_str!("fixtures/okta/list-empty.json");
const DEACTIVATE: &str = include_str!("fixtures/okta/patch-deactivate.json");
const PASSWORD: &str = include_str!("fixtures/okta/patch-password.json");
const CREATE_GROUP: &str = include_str!("fixtures/okta/create-group.json");
const RENAME: &str = include_str!("fixtures/okta/patch-group-rename.json");
const MEMBERS: &str = include_str!("fixtures/okta/patch-group-members.json");
const REPLACE_EMPTY: &str = include_str!("fixtures/okta/patch-group-members-replace-empty.json");
const ENTRA_REMOVE: &str = include_str!("fixtures/okta/patch-entra-remove-member.json");

// Ids baked into the sample bodies, swapped for real ones at run time.
const SAMPLE_USER_ID: &str = "2819c223-7f76-453a-919d-413861904646";
const SAMPLE_OTHER_USER_ID: &str = "902c246b-6245-4190-8e05-00816be7344a";
const SAMPLE_GROUP_ID: &str = "a1f0c3e2-5b7d-4c1e-9f8a-2d3b4c5e6f70";

fn fixture(text: &str, swaps: &[(&str, &str)]) -> Value {
    let mut t = text.to_string();
    for (from, to) in swaps {
        t = t.replace(from, to);
    }
    serde_json::from_str(&t).expect("fixture is JSON")
}

/// Sends a request the way Okta's SCIM client does: raw token header, Okta's headers.
fn okta(srv: &TestServer, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let mut headers = vec![
        ("Authorization", srv.token.as_str()),
        ("User-Agent", "Okta SCIM Client 1.0.0"),
        ("Accept", "application/scim+json"),
        ("Accept-Charset", "utf-8"),
        ("Accept-Encoding", "gzip,deflate"),
    ];
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    if bytes.is_some() {
        headers.push(("Content-Type", "application/scim+json; charset=utf-8"));
    }
    let r = srv.raw(method, path, &headers, bytes.as_deref());
    if r.status != 204 && r.status != 304 {
        assert_scim_content_type(&r);
    }
    r
}

/// Okta's existence check: `GET /<endpoint>?filter=<attr> eq "<value>"&startIndex=1&count=100`, encoded as
/// Okta encodes it.
fn lookup(srv: &TestServer, endpoint: &str, attr: &str, value: &str) -> Resp {
    let path = format!("/{endpoint}?filter={attr}%20eq%20%22{}%22&startIndex=1&count=100", enc(value));
    let r = okta(srv, "GET", &path, None);
    r.expect(200);
    r
}

fn by_user_name(srv: &TestServer, user_name: &str) -> Resp {
    lookup(srv, "Users", "userName", user_name)
}

fn by_display_name(srv: &TestServer, name: &str) -> Resp {
    lookup(srv, "Groups", "displayName", name)
}

fn groups_of(srv: &TestServer, uid: &str) -> Vec<(String, String)> {
    let r = okta(srv, "GET", &format!("/Users/{uid}"), None);
    r.expect(200);
    groups_of_user(&r.json)
}

fn direct(gid: &str) -> (String, String) {
    (gid.to_string(), "direct".to_string())
}

/// Group PATCH: 204 with no body (Okta accepts it; the contract's choice).
#[track_caller]
fn group_patch(srv: &TestServer, gid: &str, body: &Value) {
    let r = okta(srv, "PATCH", &format!("/Groups/{gid}"), Some(body));
    assert_eq!(r.status, 204, "{r:#?}");
    assert!(r.text.is_empty());
}

#[test]
fn test_api_credentials_answers_a_complete_empty_list() {
    let srv = TestServer::start();
    let r = okta(&srv, "GET", "/Users?startIndex=1&count=1", None);
    r.expect(200);
    let want: Value = serde_json::from_str(LIST_EMPTY).unwrap();
    assert_eq!(r.json, want);
    // Bearer style works too.
    srv.get("/Users?startIndex=1&count=1").expect(200);
    // Bad credentials -> 401.
    let r = srv.raw("GET", "/Users?startIndex=1&count=1", &[("Authorization", "non-token")], None);
    r.expect_error(401, None);
}

#[test]
fn user_lifecycle() {
    let srv = TestServer::start();
    let name = "jane.doe@example.com";

    // 1. Existence check: not found.
    let r = by_user_name(&srv, name);
    assert_eq!(r.total(), 0);
    assert_eq!(r.json["Resources"], json!([]));

    // 2. Create with the sample body (password placeholder and groups: []).
    let r = okta(&srv, "POST", "/Users", Some(&fixture(CREATE_USER, &[])));
    r.expect(201);
    let id = id_of(&r.json);
    assert!(r.header("location").is_some_and(|l| l.ends_with(&format!("/Users/{id}"))));
    assert_eq!(r.json["userName"], name);
    assert_eq!(r.json["name"]["givenName"], "Jane");
    assert_eq!(r.json["name"]["familyName"], "Doe");
    assert_eq!(r.json["emails"][0]["value"], name);
    assert_eq!(r.json["active"], true);
    assert_eq!(r.json["externalId"], "00u1abcd2EFGH3ijk4l5");
    assert_eq!(r.json[ENTERPRISE]["employeeNumber"], "E-1042");
    assert_eq!(r.json[ENTERPRISE]["manager"]["value"], "00u9zyxw8VUTS7rqp6o5");
    assert!(!r.text.contains("xY7-random-placeholder"), "password returned");

    // Existence check finds it, also upper-cased (Okta's SPEC test).
    for n in [name.to_string(), name.to_uppercase()] {
        let r = by_user_name(&srv, &n);
        assert_eq!(r.total(), 1, "lookup {n}");
        assert_eq!(r.ids(), vec![id.clone()]);
    }
    // Some setups look up by externalId.
    let r =
        okta(&srv, "GET", "/Users?filter=externalId%20eq%20%2200u1abcd2EFGH3ijk4l5%22&startIndex=1&count=100", None);
    assert_eq!(r.ids(), vec![id.clone()]);

    // 3. Duplicate -> 409.
    let r = okta(&srv, "POST", "/Users", Some(&fixture(CREATE_USER, &[])));
    r.expect_error(409, Some("uniqueness"));

    // 4. GET.
    let r = okta(&srv, "GET", &format!("/Users/{id}"), None);
    r.expect(200);
    assert_eq!(r.json["id"], json!(id));
    assert_eq!(r.json["userName"], name);
    assert_eq!(r.json["name"]["givenName"], "Jane");

    // 5. Profile update: PUT the whole object with read-only fields (id, meta, groups) echoed.
    let put = fixture(PUT_USER, &[(SAMPLE_USER_ID, &id)]);
    let r = okta(&srv, "PUT", &format!("/Users/{id}"), Some(&put));
    r.expect(200);
    assert_eq!(r.json["id"], json!(id));
    assert_eq!(r.json["name"]["givenName"], "Janet");
    assert_eq!(r.json["name"]["middleName"], "Q");
    assert_eq!(r.json["displayName"], "Janet Doe");
    assert_eq!(r.json["title"], "Staff Engineer");
    assert_eq!(r.json[ENTERPRISE]["department"], "Research");
    assert_ne!(r.json["meta"]["location"], put["meta"]["location"], "meta is server-owned");
    assert_ne!(r.json["meta"]["created"], put["meta"]["created"]);
    // The PUT's own meta.version in the body is not a precondition; the real one moved.
    let v_after_put = r.json["meta"]["version"].clone();

    // 6. Deactivate: no path, value map; 200 + the user.
    let r = okta(&srv, "PATCH", &format!("/Users/{id}"), Some(&fixture(DEACTIVATE, &[])));
    r.expect(200);
    assert_eq!(r.json["active"], false);
    assert_eq!(r.json["name"]["givenName"], "Janet", "deactivation changes nothing else");
    assert_ne!(r.json["meta"]["version"], v_after_put);
    // Still readable and findable.
    let r = by_user_name(&srv, name);
    assert_eq!(r.total(), 1);
    assert_eq!(r.resources()[0]["active"], false);
    let r = okta(&srv, "GET", "/Users?filter=active%20eq%20false", None);
    assert_eq!(r.ids(), vec![id.clone()]);

    // 7. Reactivate.
    let react = fixture(&DEACTIVATE.replace("false", "true"), &[]);
    let r = okta(&srv, "PATCH", &format!("/Users/{id}"), Some(&react));
    r.expect(200);
    assert_eq!(r.json["active"], true);

    // 8. Password sync.
    let r = okta(&srv, "PATCH", &format!("/Users/{id}"), Some(&fixture(PASSWORD, &[])));
    r.expect(200);
    assert!(!r.text.contains("new-Secret-9182"));
    assert_eq!(r.json["active"], true);

    // Unknown ids (SPEC test).
    for bad in ["b5c9a4f2-0d5e-4d8e-9b1f-4a5d6c7e8f90", "00919288221112222"] {
        okta(&srv, "GET", &format!("/Users/{bad}"), None).expect_error(404, None);
    }
}

#[test]
fn import_by_pages() {
    let srv = TestServer::start();
    let mut ids = Vec::new();
    for i in 0..7 {
        let body = fixture(
            CREATE_USER,
            &[("jane.doe@example.com", &format!("user{i}@example.com")), ("00u1abcd2EFGH3ijk4l5", &format!("00u-{i}"))],
        );
        let r = okta(&srv, "POST", "/Users", Some(&body));
        r.expect(201);
        ids.push(id_of(&r.json));
    }
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let r = okta(&srv, "GET", &format!("/Users?startIndex={start}&count=3"), None);
        r.expect(200);
        assert_eq!(r.total(), 7);
        assert!(r.json["startIndex"].is_i64() && r.json["itemsPerPage"].is_i64());
        let page = r.resources();
        assert_eq!(r.json["itemsPerPage"], json!(page.len()));
        for u in &page {
            for ptr in ["/id", "/userName", "/name/givenName", "/name/familyName", "/emails/0/value", "/active"] {
                assert!(u.pointer(ptr).is_some(), "import needs {ptr}: {u:#}");
            }
        }
        seen.extend(r.ids());
        start += 3;
        if start > 7 {
            break;
        }
    }
    assert_eq!(seen, ids);
    let r = okta(&srv, "GET", "/Users?startIndex=8&count=3", None);
    r.expect(200);
    assert_eq!(r.json["itemsPerPage"], 0);
    assert_eq!(r.json["Resources"], json!([]));
    // GET /Users/{id} returns the same id.
    let r = okta(&srv, "GET", &format!("/Users/{}", ids[3]), None);
    assert_eq!(r.json["id"], json!(ids[3]));
    // Groups import too.
    let r = okta(&srv, "GET", "/Groups?startIndex=1&count=100", None);
    r.expect(200);
    assert_eq!(r.total(), 0);
    assert_eq!(r.json["Resources"], json!([]));
}

#[test]
fn push_groups() {
    let srv = TestServer::start();
    let jane = id_of(&okta(&srv, "POST", "/Users", Some(&fixture(CREATE_USER, &[]))).json);
    let john_body =
        fixture(CREATE_USER, &[("jane.doe@example.com", "john.roe@example.com"), ("00u1abcd2EFGH3ijk4l5", "00u-john")]);
    let r = okta(&srv, "POST", "/Users", Some(&john_body));
    r.expect(201);
    let john = id_of(&r.json);

    // 1. Lookup: not there.
    assert_eq!(by_display_name(&srv, "Engineering").total(), 0);

    // 2. Create (no members).
    let r = okta(&srv, "POST", "/Groups", Some(&fixture(CREATE_GROUP, &[])));
    r.expect(201);
    let gid = id_of(&r.json);
    assert_eq!(r.json["displayName"], "Engineering");
    let r = by_display_name(&srv, "Engineering");
    assert_eq!(r.ids(), vec![gid.clone()]);
    // Duplicate -> 409.
    okta(&srv, "POST", "/Groups", Some(&fixture(CREATE_GROUP, &[]))).expect_error(409, Some("uniqueness"));

    // 3. Rename, repeating the group's own id.
    group_patch(&srv, &gid, &fixture(RENAME, &[(SAMPLE_GROUP_ID, &gid)]));
    let r = okta(&srv, "GET", &format!("/Groups/{gid}"), None);
    assert_eq!(r.json["displayName"], "Engineering (all)");
    assert_eq!(r.json["id"], json!(gid));
    assert_eq!(by_display_name(&srv, "Engineering (all)").ids(), vec![gid.clone()]);
    assert_eq!(by_display_name(&srv, "Engineering").total(), 0);

    // 4. Membership: add jane, then Okta's mixed remove-jane/add-john request.
    group_patch(
        &srv,
        &gid,
        &patch_body(json!([{"op":"add","path":"members","value":[{"value":jane,"display":"jane.doe@example.com"}]}])),
    );
    assert_eq!(groups_of(&srv, &jane), vec![direct(&gid)]);
    assert!(groups_of(&srv, &john).is_empty());
    let mixed = fixture(MEMBERS, &[(SAMPLE_USER_ID, &jane), (SAMPLE_OTHER_USER_ID, &john)]);
    group_patch(&srv, &gid, &mixed);
    let g = okta(&srv, "GET", &format!("/Groups/{gid}"), None).json;
    assert_eq!(member_ids(&g), vec![john.clone()]);
    assert!(groups_of(&srv, &jane).is_empty());
    assert_eq!(groups_of(&srv, &john), vec![direct(&gid)]);
    // Re-sending the same request is harmless (remove of a non-member by filter, add of a member).
    let r = okta(&srv, "PATCH", &format!("/Groups/{gid}"), Some(&mixed));
    assert_eq!(r.status, 204, "{r:#?}");
    assert_eq!(member_ids(&okta(&srv, "GET", &format!("/Groups/{gid}"), None).json), vec![john.clone()]);

    // Create with initial members.
    let with = json!({"schemas": [GROUP_SCHEMA], "displayName": "Ops",
                      "members": [{"value": jane, "display": "jane.doe@example.com"}, {"value": john}]});
    let r = okta(&srv, "POST", "/Groups", Some(&with));
    r.expect(201);
    let ops = id_of(&r.json);
    assert_eq!(member_ids(&r.json), sorted(vec![jane.clone(), john.clone()]));
    assert_eq!(groups_of(&srv, &jane), vec![direct(&ops)]);
    let mut want = vec![direct(&gid), direct(&ops)];
    want.sort();
    assert_eq!(groups_of(&srv, &john), want);

    // Entra-style removal of exactly one member.
    group_patch(&srv, &ops, &fixture(ENTRA_REMOVE, &[(SAMPLE_OTHER_USER_ID, &john)]));
    assert_eq!(member_ids(&okta(&srv, "GET", &format!("/Groups/{ops}"), None).json), vec![jane.clone()]);
    assert_eq!(groups_of(&srv, &john), vec![direct(&gid)]);

    // Full push with an empty list.
    group_patch(&srv, &gid, &fixture(REPLACE_EMPTY, &[]));
    let g = okta(&srv, "GET", &format!("/Groups/{gid}"), None).json;
    assert!(member_ids(&g).is_empty());
    assert!(groups_of(&srv, &john).is_empty());

    // List with excludedAttributes=members.
    let r = okta(&srv, "GET", "/Groups?excludedAttributes=members&startIndex=1&count=100", None);
    r.expect(200);
    assert_eq!(r.total(), 2);
    assert!(r.resources().iter().all(|g| g.get("members").is_none()));

    // 5. Existence check then delete.
    okta(&srv, "GET", &format!("/Groups/{ops}"), None).expect(200);
    let r = okta(&srv, "DELETE", &format!("/Groups/{ops}"), None);
    r.expect(204);
    okta(&srv, "GET", &format!("/Groups/{ops}"), None).expect_error(404, None);
    assert!(groups_of(&srv, &jane).is_empty());
    assert_eq!(by_display_name(&srv, "Ops").total(), 0);

    // 6. Custom (AIW) apps: PUT with the full member list.
    let put = json!({"schemas": [GROUP_SCHEMA], "id": gid, "displayName": "Engineering (all)",
                     "members": [{"value": jane}, {"value": john}]});
    let r = okta(&srv, "PUT", &format!("/Groups/{gid}"), Some(&put));
    r.expect(200);
    assert_eq!(member_ids(&r.json), sorted(vec![jane.clone(), john.clone()]));
    assert_eq!(groups_of(&srv, &jane), vec![direct(&gid)]);
    assert_eq!(groups_of(&srv, &john), vec![direct(&gid)]);

    // Okta never deletes users; deactivation leaves memberships alone.
    let r = okta(&srv, "PATCH", &format!("/Users/{jane}"), Some(&fixture(DEACTIVATE, &[])));
    r.expect(200);
    assert_eq!(groups_of(&srv, &jane), vec![direct(&gid)]);
}
