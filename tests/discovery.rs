//! Discovery endpoints (RFC 7644 §4) return schema-valid JSON per RFC 7643 §5 (ServiceProviderConfig),
//! §6 (ResourceType) and §7 (Schema).
mod common;

use common::*;
use serde_json::{json, Value};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RT_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

#[track_caller]
fn has_schema(v: &Value, urn: &str) {
    assert!(v["schemas"].as_array().is_some_and(|a| a.iter().any(|s| s == urn)), "schemas lacks {urn}: {v:#}");
}

#[track_caller]
fn supported(spc: &Value, feature: &str) -> bool {
    spc[feature]["supported"].as_bool().unwrap_or_else(|| panic!("{feature}.supported must be a boolean: {spc:#}"))
}

#[test]
fn service_provider_config_tells_the_truth() {
    let srv = TestServer::start();
    let r = srv.get("/ServiceProviderConfig");
    r.expect(200);
    assert_scim_content_type(&r);
    let spc = &r.json;
    has_schema(spc, SPC_SCHEMA);
    assert!(supported(spc, "patch"), "patch is implemented");
    // RFC 7643 §5 bulk, with the defaults of `serve` (the limits are enforced: tests/bulk.rs).
    assert!(supported(spc, "bulk"), "bulk is implemented");
    assert_eq!(spc["bulk"]["maxOperations"], 1000, "bulk.maxOperations (§5): {spc:#}");
    assert_eq!(spc["bulk"]["maxPayloadSize"], 4 << 20, "bulk.maxPayloadSize (§5): {spc:#}");
    // RFC 9865 §4: both paging methods, index the default.
    assert_eq!(
        spc["pagination"],
        json!({"cursor": true, "index": true, "defaultPaginationMethod": "index", "defaultPageSize": 1000,
               "maxPageSize": 1000, "cursorTimeout": 3600}),
        "{spc:#}"
    );
    assert!(supported(spc, "filter"));
    let max = spc["filter"]["maxResults"].as_u64().expect("filter.maxResults");
    assert!(max > 0);
    assert!(!supported(spc, "changePassword"));
    assert!(supported(spc, "sort"));
    assert!(supported(spc, "etag"));
    let schemes = spc["authenticationSchemes"].as_array().expect("authenticationSchemes array");
    assert!(!schemes.is_empty());
    for s in schemes {
        for field in ["type", "name", "description"] {
            assert!(s[field].is_string(), "authenticationSchemes[].{field} required: {s:#}");
        }
    }
    assert!(schemes.iter().any(|s| s["type"] == "oauthbearertoken"), "an oauthbearertoken scheme: {schemes:#?}");
    if !spc["meta"].is_null() {
        assert_eq!(spc["meta"]["resourceType"], "ServiceProviderConfig");
    }
}

/// RFC 7643 §7: every attribute definition carries these characteristics.
#[track_caller]
fn check_attribute(schema_id: &str, a: &Value, depth: usize) {
    let name = a["name"].as_str().unwrap_or_else(|| panic!("attribute without name in {schema_id}: {a:#}"));
    let ty = a["type"].as_str().unwrap_or_else(|| panic!("{schema_id}:{name} has no type"));
    assert!(
        ["string", "boolean", "decimal", "integer", "dateTime", "reference", "complex", "binary"].contains(&ty),
        "{schema_id}:{name} bad type {ty}"
    );
    assert!(a["multiValued"].is_boolean(), "{schema_id}:{name} multiValued");
    assert!(a["required"].is_boolean(), "{schema_id}:{name} required");
    if let Some(m) = a.get("mutability") {
        assert!(
            ["readOnly", "readWrite", "immutable", "writeOnly"].contains(&m.as_str().unwrap_or("")),
            "{schema_id}:{name} mutability {m}"
        );
    }
    if let Some(m) = a.get("returned") {
        assert!(
            ["always", "never", "default", "request"].contains(&m.as_str().unwrap_or("")),
            "{schema_id}:{name} returned {m}"
        );
    }
    if let Some(m) = a.get("uniqueness") {
        assert!(["none", "server", "global"].contains(&m.as_str().unwrap_or("")), "{schema_id}:{name} uniqueness {m}");
    }
    if ty == "string" {
        assert!(a["caseExact"].is_boolean(), "{schema_id}:{name} caseExact for strings");
    }
    if ty == "reference" {
        assert!(a["referenceTypes"].is_array(), "{schema_id}:{name} referenceTypes");
    }
    if ty == "complex" {
        // Resource schemas nest complex attributes only once (RFC 7643 §2.3.8); the Schema
        // meta-schema itself (§8.7.2) nests `subAttributes` deeper.
        let meta_schema = schema_id.starts_with("urn:ietf:params:scim:schemas:core:2.0:Schema")
            || schema_id.contains(":ServiceProviderConfig")
            || schema_id.contains(":ResourceType");
        assert!(
            depth == 0 || (meta_schema && depth < 8),
            "{schema_id}:{name}: complex attributes nest only once (§2.3.8)"
        );
        let subs =
            a["subAttributes"].as_array().unwrap_or_else(|| panic!("{schema_id}:{name} complex without subAttributes"));
        assert!(!subs.is_empty());
        for s in subs {
            check_attribute(schema_id, s, depth + 1);
        }
    }
}

fn find_attr<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("attribute {name} not in schema {}", schema["id"]))
}

#[track_caller]
fn check_schema(s: &Value) {
    let id = s["id"].as_str().expect("schema id");
    assert!(id.starts_with("urn:"), "schema id is a URN: {id}");
    let attrs = s["attributes"].as_array().unwrap_or_else(|| panic!("{id} attributes"));
    assert!(!attrs.is_empty(), "{id} has attributes");
    for a in attrs {
        check_attribute(id, a, 0);
    }
    if !s["meta"].is_null() {
        assert_eq!(s["meta"]["resourceType"], "Schema", "{id} meta.resourceType");
    }
}

#[track_caller]
fn check_list(r: &Resp) -> Vec<Value> {
    r.expect(200);
    assert_scim_content_type(r);
    has_schema(&r.json, LIST_SCHEMA);
    let res = r.resources();
    assert_eq!(r.total(), res.len() as i64, "totalResults equals the resources listed");
    res
}

#[test]
fn schemas_list_holds_valid_user_group_and_enterprise_schemas() {
    let srv = TestServer::start();
    let res = check_list(&srv.get("/Schemas"));
    let ids: Vec<&str> = res.iter().filter_map(|s| s["id"].as_str()).collect();
    for urn in [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE] {
        assert!(ids.contains(&urn), "{urn} missing from /Schemas: {ids:?}");
    }
    for s in &res {
        check_schema(s);
    }
    let user = res.iter().find(|s| s["id"] == USER_SCHEMA).unwrap();
    let un = find_attr(user, "userName");
    assert_eq!(un["required"], true);
    assert_eq!(un["uniqueness"], "server");
    assert_eq!(un["caseExact"], false);
    let pw = find_attr(user, "password");
    assert_eq!(pw["returned"], "never");
    assert_eq!(pw["mutability"], "writeOnly");
    assert_eq!(find_attr(user, "groups")["mutability"], "readOnly");
    assert_eq!(find_attr(user, "emails")["multiValued"], true);
    let group = res.iter().find(|s| s["id"] == GROUP_SCHEMA).unwrap();
    let members = find_attr(group, "members");
    assert_eq!(members["multiValued"], true);
    let subs: Vec<&str> =
        members["subAttributes"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    for sub in ["value", "$ref", "type"] {
        assert!(subs.contains(&sub), "Group.members.{sub} missing: {subs:?}");
    }
    let ent = res.iter().find(|s| s["id"] == ENTERPRISE).unwrap();
    find_attr(ent, "employeeNumber");
    find_attr(ent, "manager");
}

#[test]
fn each_schema_by_urn() {
    let srv = TestServer::start();
    for urn in [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE] {
        let r = srv.get(&format!("/Schemas/{urn}"));
        r.expect(200);
        assert_scim_content_type(&r);
        assert_eq!(r.json["id"], json!(urn));
        check_schema(&r.json);
        if r.json.get("schemas").is_some() {
            has_schema(&r.json, SCHEMA_SCHEMA);
        }
    }
}

#[test]
fn unknown_schema_and_resource_type_are_404() {
    let srv = TestServer::start();
    srv.get("/Schemas/urn:example:nope:2.0:Thing").expect_error(404, None);
    srv.get("/ResourceTypes/Widget").expect_error(404, None);
}

#[track_caller]
fn check_resource_type(rt: &Value) {
    has_schema(rt, RT_SCHEMA);
    for f in ["name", "endpoint", "schema"] {
        assert!(rt[f].is_string(), "ResourceType.{f} required (§6): {rt:#}");
    }
    if let Some(ext) = rt.get("schemaExtensions") {
        for e in ext.as_array().expect("schemaExtensions array") {
            assert!(e["schema"].is_string() && e["required"].is_boolean(), "{e:#}");
        }
    }
    if !rt["meta"].is_null() {
        assert_eq!(rt["meta"]["resourceType"], "ResourceType");
    }
}

#[test]
fn resource_types_describe_user_and_group() {
    let srv = TestServer::start();
    let res = check_list(&srv.get("/ResourceTypes"));
    for rt in &res {
        check_resource_type(rt);
    }
    let user = res.iter().find(|r| r["name"] == "User").expect("User type");
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schema"], USER_SCHEMA);
    let ext = user["schemaExtensions"].as_array().expect("User schemaExtensions");
    assert!(
        ext.iter().any(|e| e["schema"] == ENTERPRISE && e["required"] == false),
        "enterprise extension, optional: {ext:#?}"
    );
    let group = res.iter().find(|r| r["name"] == "Group").expect("Group type");
    assert_eq!(group["endpoint"], "/Groups");
    assert_eq!(group["schema"], GROUP_SCHEMA);

    // Every schema a resource type names is served.
    let schemas = srv.get("/Schemas");
    let ids: Vec<String> = schemas.ids();
    for rt in &res {
        let mut named = vec![rt["schema"].as_str().unwrap().to_string()];
        for e in rt["schemaExtensions"].as_array().cloned().unwrap_or_default() {
            named.push(e["schema"].as_str().unwrap().to_string());
        }
        for n in named {
            assert!(ids.contains(&n), "{n} named by {} but not in /Schemas", rt["name"]);
        }
    }
}

#[test]
fn each_resource_type_by_name() {
    let srv = TestServer::start();
    for (name, endpoint) in [("User", "/Users"), ("Group", "/Groups")] {
        let r = srv.get(&format!("/ResourceTypes/{name}"));
        r.expect(200);
        assert_scim_content_type(&r);
        check_resource_type(&r.json);
        assert_eq!(r.json["name"], name);
        assert_eq!(r.json["endpoint"], endpoint);
    }
}

#[test]
fn discovery_accepts_the_raw_token_style() {
    let srv = TestServer::start();
    let r = srv.raw("GET", "/ServiceProviderConfig", &[("Authorization", &srv.token)], None);
    r.expect(200);
    has_schema(&r.json, SPC_SCHEMA);
}

/// RFC 7644 §4: discovery is read-only. Every other method is 405 with an `Allow` header (RFC 9110
/// §15.5.6), and HEAD answers like GET without a body.
#[test]
fn discovery_endpoints_answer_405_with_allow_and_head() {
    let srv = TestServer::start();
    let paths = [
        "/ServiceProviderConfig".to_string(),
        "/Schemas".to_string(),
        format!("/Schemas/{USER_SCHEMA}"),
        "/ResourceTypes".to_string(),
        "/ResourceTypes/User".to_string(),
    ];
    for path in &paths {
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let r = srv.send(method, path, &[], Some(&json!({})));
            r.expect_error(405, None);
            assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method} {path}");
        }
        let get = srv.get(path);
        get.expect(200);
        let head = srv.send("HEAD", path, &[], None);
        assert_eq!(head.status, 200, "HEAD {path}");
        assert!(head.text.is_empty(), "HEAD {path} has no body");
    }
    // The other endpoints that take one method.
    for (path, allow) in [("/.search", "POST"), ("/Users/.search", "POST"), ("/Bulk", "POST")] {
        let r = srv.get(path);
        r.expect_error(405, None);
        assert_eq!(r.header("allow"), Some(allow), "GET {path}");
    }
}
