use super::*;
use serde_json::json;

const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

fn acme(attributes: Value) -> Value {
    json!({"id": ACME, "name": "Acme", "attributes": attributes})
}

fn check(doc: Value) -> Result<Extension, String> {
    validate(&doc, "User", false, &[], Schemas::embedded())
}

#[test]
fn a_valid_extension_is_normalised_and_served() {
    let ext = validate(
        &acme(json!([
            {"name": "project", "type": "string", "description": "Cost code"},
            {"name": "badge", "type": "integer", "uniqueness": "server"},
            {"name": "office", "type": "complex", "subAttributes": [{"name": "floor", "type": "integer"}]}
        ])),
        "User",
        false,
        &["PROJECT".to_string()],
        Schemas::embedded(),
    )
    .unwrap();
    assert_eq!(ext.indexed, vec!["project"]);
    let attrs = &ext.definition["attributes"];
    // Every characteristic spelled out (RFC 7643 §7), defaults per §2.2.
    assert_eq!(
        attrs[0],
        json!({"name": "project", "type": "string", "description": "Cost code", "multiValued": false,
               "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default",
               "uniqueness": "none"})
    );
    assert_eq!(ext.definition["meta"], json!({"resourceType": "Schema", "location": format!("/Schemas/{ACME}")}));
    let schemas = Schemas::with_extensions(&[ext]).unwrap();
    let user = schemas.resource_type("User").unwrap();
    assert_eq!(user.extensions.len(), 2);
    assert_eq!(user.json["schemaExtensions"][1], json!({"schema": ACME, "required": false}));
    assert!(schemas.schema(ACME).unwrap().attributes[0].indexed);
    // The extension works like the built-in one.
    let doc = json!({"schemas": [USER, ACME], "userName": "a", ACME: {"project": "P1", "office": {"floor": 3}}});
    let out = schemas.normalize(user, &doc).unwrap();
    assert_eq!(out[ACME], json!({"project": "P1", "office": {"floor": 3}}));
    let bad = json!({"schemas": [USER, ACME], "userName": "a", ACME: {"badge": "seven"}});
    let e = schemas.normalize(user, &bad).unwrap_err();
    assert!(e.detail.contains("badge"), "{}", e.detail);
}

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

#[test]
fn bad_definitions_are_refused_with_one_clear_line() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"name": "x", "attributes": [{"name": "a", "type": "string"}]}), "no \"id\""),
        (json!({"id": "acme:user", "attributes": [{"name": "a", "type": "string"}]}), "not a URN"),
        (json!({"id": "urn:acme", "attributes": [{"name": "a", "type": "string"}]}), "not a URN"),
        (json!({"id": "urn:acme:x y", "attributes": [{"name": "a", "type": "string"}]}), "not a URN"),
        (
            json!({"id": "urn:ietf:params:scim:schemas:core:2.0:Thing", "attributes": [{"name": "a", "type": "string"}]}),
            "reserved",
        ),
        (
            json!({"id": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "attributes": [{"name": "a", "type": "string"}]}),
            "reserved",
        ),
        (
            json!({"id": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:sub", "attributes": [{"name": "a", "type": "string"}]}),
            "ambiguous",
        ),
        (acme(json!([])), "non-empty \"attributes\""),
        (acme(json!("x")), "non-empty \"attributes\""),
        (acme(json!([{"name": "a", "type": "text"}])), "unknown variant `text`"),
        (acme(json!([{"name": "a"}])), "missing field `type`"),
        (acme(json!([{"name": "1a", "type": "string"}])), "not valid"),
        (acme(json!([{"name": "a.b", "type": "string"}])), "not valid"),
        (acme(json!([{"name": "a", "type": "string"}, {"name": "A", "type": "integer"}])), "defined twice"),
        (acme(json!([{"name": "a", "type": "string", "mutable": true}])), "unknown characteristic \"mutable\""),
        (acme(json!([{"name": "a", "type": "complex"}])), "needs \"subAttributes\""),
        (
            acme(json!([{"name": "a", "type": "string", "subAttributes": [{"name": "b", "type": "string"}]}])),
            "only a complex",
        ),
        (
            acme(
                json!([{"name": "a", "type": "complex", "subAttributes": [{"name": "b", "type": "complex", "subAttributes": [{"name": "c", "type": "string"}]}]}]),
            ),
            "cannot be complex",
        ),
        (acme(json!([{"name": "a", "type": "string", "uniqueness": "global"}])), "global"),
        (acme(json!([{"name": "a", "type": "string", "multiValued": true, "uniqueness": "server"}])), "single-valued"),
        (
            acme(json!([{"name": "a", "type": "string", "required": true, "mutability": "readOnly"}])),
            "readOnly attribute cannot be required",
        ),
        (acme(json!([{"name": "userName", "type": "string"}])), "clashes with the core attribute"),
        (acme(json!([{"name": "externalId", "type": "string"}])), "clashes with the core attribute"),
        (acme(json!([{"name": "schemas", "type": "string"}])), "clashes with the core attribute"),
        (acme(json!([{"name": "employeeNumber", "type": "string"}])), "another extension"),
        (acme(json!([{"name": "a", "type": "string", "multiValued": "yes"}])), "invalid type"),
    ];
    for (doc, want) in cases {
        let e = check(doc.clone()).expect_err(&doc.to_string());
        assert!(e.contains(want), "{doc}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
    let many: Vec<Value> = (0..201).map(|i| json!({"name": format!("a{i}"), "type": "string"})).collect();
    assert!(check(acme(json!(many))).unwrap_err().contains("at most 200"));
    assert!(parse_definition(&"x".repeat(MAX_DEFINITION_BYTES + 1)).unwrap_err().contains("bytes"));
    assert!(parse_definition("{").unwrap_err().contains("not valid JSON"));
    assert!(parse_definition("[]").unwrap_err().contains("JSON object"));
    let idx = |name: &str| {
        validate(
            &acme(json!([{"name": "tags", "type": "string", "multiValued": true},
                         {"name": "o", "type": "complex", "subAttributes": [{"name": "f", "type": "string"}]}])),
            "User",
            false,
            &[name.to_string()],
            Schemas::embedded(),
        )
        .unwrap_err()
    };
    assert!(idx("tags").contains("single-valued"));
    assert!(idx("o").contains("single-valued"));
    assert!(idx("nope").contains("no attribute"));
    let e = validate(&acme(json!([{"name": "a", "type": "string"}])), "Widget", false, &[], Schemas::embedded());
    assert!(e.unwrap_err().contains("User or Group"));
}

#[test]
fn group_extensions_may_reuse_user_attribute_names() {
    let doc = json!({"id": "urn:acme:scim:Group", "attributes": [{"name": "userName", "type": "string"},
                                                              {"name": "employeeNumber", "type": "string"}]});
    let ext = validate(&doc, "Group", true, &[], Schemas::embedded()).unwrap();
    assert_eq!((ext.resource_type.as_str(), ext.required), ("Group", true));
    // displayName is a core Group attribute.
    let doc = json!({"id": "urn:acme:scim:Group", "attributes": [{"name": "displayName", "type": "string"}]});
    assert!(validate(&doc, "Group", false, &[], Schemas::embedded()).unwrap_err().contains("core attribute"));
}

#[test]
fn diff_finds_what_no_longer_fits() {
    let ext = |attrs: Value, required: bool| Extension {
        urn: ACME.into(),
        resource_type: "User".into(),
        required,
        definition: acme(attrs),
        indexed: vec![],
    };
    let old = ext(
        json!([{"name": "a", "type": "string"}, {"name": "b", "type": "integer"},
               {"name": "c", "type": "complex", "subAttributes": [{"name": "x", "type": "string"}, {"name": "y", "type": "string"}]},
               {"name": "d", "type": "string"}, {"name": "e", "type": "string"}]),
        false,
    );
    let new = ext(
        json!([{"name": "A", "type": "string", "required": true}, {"name": "b", "type": "string"},
               {"name": "c", "type": "complex", "subAttributes": [{"name": "x", "type": "string"}]},
               {"name": "e", "type": "string", "uniqueness": "server"}, {"name": "f", "type": "string"}]),
        true,
    );
    assert_eq!(
        diff(&old, &new),
        Change {
            dropped: vec!["b".into(), "c".into(), "d".into()],
            now_required: vec!["A".into()],
            now_unique: vec!["e".into()],
            extension_now_required: true,
        }
    );
    // Adding attributes changes nothing stored.
    let grown = ext(
        json!([{"name": "a", "type": "string"}, {"name": "b", "type": "integer"},
               {"name": "c", "type": "complex", "subAttributes": [{"name": "x", "type": "string"}, {"name": "y", "type": "string"}, {"name": "z", "type": "string"}]},
               {"name": "d", "type": "string"}, {"name": "e", "type": "string"}, {"name": "g", "type": "boolean"}]),
        false,
    );
    assert_eq!(diff(&old, &grown), Change::default());
}
