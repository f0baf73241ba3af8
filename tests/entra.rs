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
