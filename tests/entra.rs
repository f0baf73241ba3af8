//! Microsoft Entra ID's request shapes over real HTTP, from Microsoft's "Tutorial: Develop and plan
//! provisioning for a SCIM endpoint" and "Known issues and resolutions with SCIM 2.0 protocol compliance"
//! (`shared/notes/idp-behaviour.md` summarises them).
mod common;

use common::*;
use serde_json::json;

/// Entra's lookups before it creates or updates: `userName eq`, `externalId eq`, and
/// `emails[type eq "work"].value eq "…"`, which is outside RFC 7644's grammar and means "an element whose
/// type is work and whose value is …". Test Connection's filter on a random value answers 200 and nothing.
#[test]
fn entra_user_lookups() {
    let srv = TestServer::start();
    let jan = srv.create_user_body(&json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": "jan@contoso.example",
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "emails": [
            {"type": "work", "value": "Jan.Work@contoso.example", "primary": true},
            {"type": "home", "value": "jan@home.example"}
        ]
    }));
    let other = srv.create_user_body(&json!({
        "schemas": [USER_SCHEMA],
        "userName": "kim@contoso.example",
        "emails": [{"type": "home", "value": "Jan.Work@contoso.example"}]
    }));
    let jan_id = jan["id"].as_str().unwrap().to_string();
    let other_id = other["id"].as_str().unwrap().to_string();

    let cases: [(&str, Vec<&str>); 8] = [
        (r#"userName eq "jan@contoso.example""#, vec![&jan_id]),
        (r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#, vec![&jan_id]),
        // The work email of Jan; Kim has the same address as a home email and is not found.
        (r#"emails[type eq "work"].value eq "Jan.Work@contoso.example""#, vec![&jan_id]),
        // emails.value is caseExact=false (RFC 7643 §4.1.2).
        (r#"emails[type eq "work"].value eq "jan.work@CONTOSO.example""#, vec![&jan_id]),
        (r#"emails[type eq "home"].value eq "Jan.Work@contoso.example""#, vec![&other_id]),
        // Jan's home address is not a work address.
        (r#"emails[type eq "work"].value eq "jan@home.example""#, vec![]),
        (r#"emails[type eq "home"].value pr"#, vec![&jan_id, &other_id]),
        // Test Connection: a random value, 200 with an empty ListResponse.
        (r#"userName eq "non-existent user 7e5c2bb5-6e0f-4c1a-8a0b-2f0e9d1c3b4a""#, vec![]),
    ];
    for (filter, want) in cases {
        let r = srv.get(&format!("/Users?filter={}&startIndex=1&count=100", enc(filter)));
        r.expect(200);
        let mut got = r.ids();
        got.sort();
        let mut want: Vec<String> = want.into_iter().map(str::to_string).collect();
        want.sort();
        assert_eq!(got, want, "{filter}");
        assert_eq!(r.total(), want.len() as i64, "{filter}");
        assert_eq!(r.json["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
    }

    // The compatibility flag of the Tenant URL, when a request carries it, changes nothing.
    let r = srv.get(&format!(
        "/Users?aadOptscim062020&filter={}",
        enc(r#"emails[type eq "work"].value eq "Jan.Work@contoso.example""#)
    ));
    r.expect(200);
    assert_eq!(r.ids(), vec![jan_id.clone()]);

    // The same shape in a SearchRequest.
    let r = srv.post(
        "/Users/.search",
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "emails[type eq \"work\"].value eq \"Jan.Work@contoso.example\""
        }),
    );
    r.expect(200);
    assert_eq!(r.ids(), vec![jan_id.clone()]);

    // Only one sub-attribute may follow the brackets, right after them.
    for bad in [r#"emails[type eq "work"].value.x eq "a""#, r#"emails[type eq "work"] .value eq "a""#] {
        srv.get(&format!("/Users?filter={}", enc(bad))).expect_error(400, Some("invalidFilter"));
    }
}

/// Entra's group lookup: `displayName eq` with `excludedAttributes=members`.
#[test]
fn entra_group_lookup_without_members() {
    let srv = TestServer::start();
    let u = srv.create_user("member@contoso.example");
    let g = srv.create_group("Sales EMEA", &[u["id"].as_str().unwrap()]);
    let r = srv.get(&format!("/Groups?excludedAttributes=members&filter={}", enc(r#"displayName eq "Sales EMEA""#)));
    r.expect(200);
    assert_eq!(r.ids(), vec![g["id"].as_str().unwrap().to_string()]);
    let found = &r.resources()[0];
    assert_eq!(found["displayName"], "Sales EMEA");
    assert!(found.get("members").is_none(), "members excluded: {found}");
    // A group name Entra has not created yet: 200 and nothing.
    let r = srv.get(&format!("/Groups?excludedAttributes=members&filter={}", enc(r#"displayName eq "Nobody""#)));
    r.expect(200);
    assert_eq!(r.total(), 0);
    assert!(r.ids().is_empty());
}

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn patch_body(ops: serde_json::Value) -> serde_json::Value {
    json!({ "schemas": [PATCH_OP], "Operations": ops })
}

fn id_of(v: &serde_json::Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// A user's PATCHes as Entra sends them without `aadOptscim062020` (capitalised ops, booleans as strings,
/// per-attribute paths, the manager as a plain id) and with it (lowercase ops, real booleans, one pathless
/// replace with dotted and URN-prefixed keys, the manager as `{"value": id}`). Both end in the same user.
#[test]
fn entra_user_patches_with_and_without_the_compatibility_flag() {
    let srv = TestServer::start();
    let boss = id_of(&srv.create_user("boss@contoso.example"));
    let mut results = Vec::new();
    for (flag, ops) in [
        (
            false,
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Replace", "path": "name.givenName", "value": "Jan"},
                {"op": "Replace", "path": "name.familyName", "value": "Jansen"},
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "jan@contoso.example"},
                {"op": "Add", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "701984"},
                {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": boss},
            ]),
        ),
        (
            true,
            json!([
                {"op": "replace", "path": "active", "value": false},
                {"op": "replace", "value": {
                    "name.givenName": "Jan",
                    "name.familyName": "Jansen",
                    "emails[type eq \"work\"].value": "jan@contoso.example",
                    format!("{ENTERPRISE}:employeeNumber"): "701984",
                    format!("{ENTERPRISE}:manager"): {"value": boss},
                }},
            ]),
        ),
    ] {
        // No email yet: Entra's `emails[type eq "work"].value` creates the element (project decision).
        let user = srv.create_user_body(&json!({
            "schemas": [USER_SCHEMA],
            "userName": format!("jan-{flag}@contoso.example"),
            "name": {"givenName": "Given", "familyName": "Family"},
            "active": true
        }));
        // The flag lives in the Tenant URL's query; a request carrying it is served as any other.
        let query = if flag { "?aadOptscim062020" } else { "" };
        let r = srv.patch(&format!("/Users/{}{query}", id_of(&user)), &patch_body(ops));
        r.expect(200);
        let u = r.json.clone();
        assert_eq!(u["active"], json!(false), "flag {flag}: {u}");
        assert_eq!(u["name"]["givenName"], "Jan");
        assert_eq!(u["name"]["familyName"], "Jansen");
        assert_eq!(u["emails"], json!([{"type": "work", "value": "jan@contoso.example"}]), "flag {flag}");
        assert_eq!(u[ENTERPRISE]["employeeNumber"], "701984");
        assert_eq!(u[ENTERPRISE]["manager"]["value"], json!(boss), "flag {flag}: {u}");
        // What was answered is what is stored.
        let stored = srv.get(&format!("/Users/{}", id_of(&user)));
        stored.expect(200);
        assert_eq!(stored.json, u);
        results.push(u);
    }
    // Entra removes the manager by path, capitalised or not.
    for (u, op) in results.iter().zip(["Remove", "remove"]) {
        let r = srv.patch(
            &format!("/Users/{}", id_of(u)),
            &patch_body(json!([{"op": op, "path": format!("{ENTERPRISE}:manager")}])),
        );
        r.expect(200);
        assert!(r.json[ENTERPRISE].get("manager").is_none(), "{}", r.json);
    }
    // Entra's string booleans are only "True" and "False" (any case); anything else is refused.
    let u = &results[0];
    let r = srv.patch(
        &format!("/Users/{}", id_of(u)),
        &patch_body(json!([{"op": "Replace", "path": "active", "value": "True"}])),
    );
    r.expect(200);
    assert_eq!(r.json["active"], json!(true));
    srv.patch(
        &format!("/Users/{}", id_of(u)),
        &patch_body(json!([{"op": "Replace", "path": "active", "value": "yes"}])),
    )
    .expect_error(400, Some("invalidValue"));
}

/// Group PATCHes: `Add`/`Remove` of members with `"$ref": null`, a `Remove` with a value array removing exactly
/// those members (never all), the flag's `remove` with `members[value eq "…"]`, and a rename. Each answers 204.
#[test]
fn entra_group_patches() {
    let srv = TestServer::start();
    let ids: Vec<String> = (0..4).map(|i| id_of(&srv.create_user(&format!("m{i}@contoso.example")))).collect();
    let g = srv.create_group("Engineering", &[&ids[0]]);
    let gid = id_of(&g);
    let members = |srv: &TestServer| {
        let r = srv.get(&format!("/Groups/{gid}"));
        r.expect(200);
        let mut m: Vec<String> = r.json["members"]
            .as_array()
            .map(|a| a.iter().map(|m| m["value"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        m.sort();
        (m, r.json["displayName"].clone())
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    srv.patch(
        &format!("/Groups/{gid}"),
        &patch_body(json!([{"op": "Add", "path": "members", "value": [
            {"$ref": null, "value": ids[1]}, {"$ref": null, "value": ids[2]}, {"$ref": null, "value": ids[3]}
        ]}])),
    )
    .expect(204);
    assert_eq!(members(&srv).0, sorted(ids.clone()));

    srv.patch(
        &format!("/Groups/{gid}"),
        &patch_body(json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": ids[1]}]}])),
    )
    .expect(204);
    assert_eq!(members(&srv).0, sorted(vec![ids[0].clone(), ids[2].clone(), ids[3].clone()]));

    srv.patch(
        &format!("/Groups/{gid}?aadOptscim062020"),
        &patch_body(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[2])}])),
    )
    .expect(204);
    assert_eq!(members(&srv).0, sorted(vec![ids[0].clone(), ids[3].clone()]));

    srv.patch(
        &format!("/Groups/{gid}"),
        &patch_body(json!([{"op": "Replace", "path": "displayName", "value": "Engineering EMEA"}])),
    )
    .expect(204);
    let (m, name) = members(&srv);
    assert_eq!(name, "Engineering EMEA");
    assert_eq!(m, sorted(vec![ids[0].clone(), ids[3].clone()]));
}
