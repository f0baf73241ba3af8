//! Admin-defined schema extensions (`scimd schema …`) over the real binary: what an admin adds in Okta's
//! profile editor is declared once and then pushed, read, filtered, sorted and patched like any attribute.
mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
const ACME_FILE: &str = "tests/fixtures/schemas/acme-user.json";

fn schema_cli(db: &Path, args: &[&str]) -> (bool, String, String) {
    let mut full = vec!["schema"];
    full.extend_from_slice(args);
    let (status, out, err) = run_cli(db, &full);
    (status.success(), out, err)
}

/// Writes a schema document to a file in `dir` and returns its path.
fn schema_file(dir: &TempDir, name: &str, doc: &Value) -> String {
    let path = dir.path.join(name);
    std::fs::write(&path, doc.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

/// Waits until the running server serves `urn` from /Schemas (it polls the database every second).
#[track_caller]
fn await_schema(srv: &TestServer, urn: &str, present: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = srv.get(&format!("/Schemas/{urn}")).status;
        if (status == 200) == present {
            return;
        }
        assert!(Instant::now() < deadline, "the server did not pick up the schema change of {urn}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn acme_user(user_name: &str, acme: Value) -> Value {
    let mut body = user_body(user_name);
    body["schemas"] = json!([USER_SCHEMA, ACME]);
    body[ACME] = acme;
    body
}

#[test]
fn okta_custom_attribute_push_works_once_declared() {
    let srv = TestServer::start();
    // Before: refused, naming the schema and how to declare it.
    let r = srv.post("/Users", &acme_user("ann@example.com", json!({"costCode": "CC-1"})));
    r.expect_error(400, Some("invalidValue"));
    let detail = r.json["detail"].as_str().unwrap();
    assert!(detail.contains(ACME) && detail.contains("scimd schema add"), "{detail}");

    let (ok, out, err) = schema_cli(&srv.db, &["add", ACME_FILE, "--index", "costCode"]);
    assert!(ok, "{err}");
    assert!(out.contains("added") && out.contains(ACME) && out.contains("costCode"), "{out}");
    await_schema(&srv, ACME, true);

    // Discovery tells the truth.
    let rt = srv.get("/ResourceTypes/User").json;
    assert_eq!(rt["schemaExtensions"][1], json!({"schema": ACME, "required": false}));
    let schema = srv.get(&format!("/Schemas/{ACME}")).json;
    assert_eq!(schema["id"], ACME);
    assert_eq!(schema["meta"]["location"], json!(srv.url(&format!("/Schemas/{ACME}"))));
    let names: Vec<&str> =
        schema["attributes"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["costCode", "badgeNumber", "remote", "hiredOn", "skills", "office"]);
    assert!(srv.get("/Schemas").json["Resources"].as_array().unwrap().iter().any(|s| s["id"] == ACME));

    // Okta's push: create, read, PUT with a changed value, find by filter.
    let acme = json!({"costCode": "CC-1", "badgeNumber": 7, "remote": true, "hiredOn": "2026-01-05T09:00:00Z",
                      "skills": ["rust", "cobol"], "office": {"building": "B", "floor": 3}});
    let created = srv.post("/Users", &acme_user("ann@example.com", acme.clone()));
    created.expect(201);
    let id = id_of(&created.json);
    assert_eq!(created.json[ACME], acme);
    assert_eq!(created.json["schemas"], json!([USER_SCHEMA, ACME]));
    let mut put = srv.get(&format!("/Users/{id}")).json;
    put[ACME]["costCode"] = json!("CC-2");
    let replaced = srv.put(&format!("/Users/{id}"), &put);
    replaced.expect(200);
    assert_eq!(replaced.json[ACME]["costCode"], "CC-2");
    let bob =
        id_of(&srv.post("/Users", &acme_user("bob@example.com", json!({"costCode": "CC-3", "badgeNumber": 8}))).json);
    srv.create_user("cyd@example.com");
    let found = srv.filter("/Users", &format!("{ACME}:costCode eq \"cc-2\""));
    assert_eq!(found.ids(), vec![id.clone()], "caseExact false: compared case-insensitively");
    let found = srv.filter("/Users", &format!("{ACME}:badgeNumber gt 7 or {ACME}:office.floor eq 3"));
    assert_eq!(sorted(found.ids()), sorted(vec![id.clone(), bob.clone()]));
    let found = srv.filter("/Users", &format!("{ACME}:skills eq \"cobol\" and {ACME}:remote eq true"));
    assert_eq!(found.ids(), vec![id.clone()]);
    let found = srv.filter("/Users", &format!("not ({ACME}:costCode pr)"));
    assert_eq!(found.total(), 1);
    let by_code = srv.get(&format!("/Users?sortBy={}:costCode&sortOrder=descending&attributes=userName", enc(ACME)));
    assert_eq!(by_code.field("userName"), strs(&["cyd@example.com", "bob@example.com", "ann@example.com"]));

    // PATCH with paths that name the URN.
    let r = srv.patch(
        &format!("/Users/{id}"),
        &patch_body(json!([{"op": "replace", "path": format!("{ACME}:office.floor"), "value": 4},
                           {"op": "add", "path": format!("{ACME}:skills"), "value": ["go"]},
                           {"op": "remove", "path": format!("{ACME}:remote")}])),
    );
    r.expect(200);
    assert_eq!(r.json[ACME]["office"]["floor"], 4);
    assert_eq!(r.json[ACME]["skills"], json!(["rust", "cobol", "go"]));
    assert!(r.json[ACME].get("remote").is_none());
    // Wrong types for declared attributes name the attribute.
    for (attr, value) in [("badgeNumber", json!("seven")), ("remote", json!(3)), ("hiredOn", json!("yesterday"))] {
        let r = srv.post("/Users", &acme_user("bad@example.com", json!({attr: value})));
        r.expect_error(400, Some("invalidValue"));
        assert!(r.json["detail"].as_str().unwrap().contains(attr), "{r:#?}");
    }
    // uniqueness: server.
    let r = srv.post("/Users", &acme_user("dup@example.com", json!({"badgeNumber": 8})));
    r.expect_error(409, Some("uniqueness"));
    let mut same = srv.get(&format!("/Users/{bob}")).json;
    same["displayName"] = json!("Bob");
    srv.put(&format!("/Users/{bob}"), &same).expect(200);
    // And in bulk.
    let bulk = srv.post(
        "/Bulk",
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
            {"method": "POST", "bulkId": "d", "path": "/Users", "data": acme_user("dee@example.com", json!({"costCode": "CC-9"}))}]}),
    );
    assert_eq!(bulk.json["Operations"][0]["status"], "201");
    assert_eq!(srv.filter("/Users", &format!("{ACME}:costCode eq \"CC-9\"")).total(), 1);
}

#[test]
fn definition_changes_that_invalidate_data_are_refused_unless_forced() {
    let srv = TestServer::start();
    let dir = TempDir::new("schemas");
    let v1 = json!({"id": ACME, "attributes": [{"name": "costCode", "type": "string"}, {"name": "level", "type": "integer"}]});
    assert!(schema_cli(&srv.db, &["add", &schema_file(&dir, "v1.json", &v1)]).0);
    await_schema(&srv, ACME, true);
    let ann = id_of(&srv.post("/Users", &acme_user("ann@example.com", json!({"costCode": "A", "level": 2}))).json);
    let bob = id_of(&srv.post("/Users", &acme_user("bob@example.com", json!({"costCode": "B"}))).json);

    // Extending keeps every value.
    let v2 = json!({"id": ACME, "attributes": [{"name": "costCode", "type": "string"}, {"name": "level", "type": "integer"},
                                              {"name": "team", "type": "string"}]});
    let (ok, out, err) = schema_cli(&srv.db, &["add", &schema_file(&dir, "v2.json", &v2)]);
    assert!(ok && out.contains("updated"), "{out}{err}");
    assert_eq!(srv.get(&format!("/Users/{ann}")).json[ACME], json!({"costCode": "A", "level": 2}));

    // Removing `level` (held by one user) and making costCode required-unique-incompatible: refused.
    let v3 =
        json!({"id": ACME, "attributes": [{"name": "costCode", "type": "string"}, {"name": "team", "type": "string"}]});
    let v3_file = schema_file(&dir, "v3.json", &v3);
    let (ok, _, err) = schema_cli(&srv.db, &["add", &v3_file]);
    assert!(!ok);
    assert!(err.contains("1 user") && err.contains("level") && err.contains("--force"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (_, shown, _) = schema_cli(&srv.db, &["show", ACME]);
    assert!(shown.contains("\"level\""), "nothing changed: {shown}");
    // Making an attribute required that a user lacks: refused with the count.
    let v4 = json!({"id": ACME, "attributes": [{"name": "costCode", "type": "string"}, {"name": "level", "type": "integer", "required": true},
                                              {"name": "team", "type": "string"}]});
    let (ok, _, err) = schema_cli(&srv.db, &["add", &schema_file(&dir, "v4.json", &v4)]);
    assert!(!ok && err.contains("1 user has") && err.contains("level"), "{err}");
    // Changing a type with data: refused.
    let v5 = json!({"id": ACME, "attributes": [{"name": "costCode", "type": "integer"}, {"name": "level", "type": "integer"},
                                              {"name": "team", "type": "string"}]});
    let (ok, _, err) = schema_cli(&srv.db, &["add", &schema_file(&dir, "v5.json", &v5)]);
    assert!(!ok && err.contains("2 users") && err.contains("costCode"), "{err}");
    let before = srv.get(&format!("/Users/{ann}")).json;
    assert_eq!(before[ACME]["level"], 2);

    // Forced: the removed attribute's values go, with a new version.
    let (ok, out, err) = schema_cli(&srv.db, &["add", &v3_file, "--force"]);
    assert!(ok && out.contains("forced") && out.contains("1 user changed"), "{out}{err}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv.get(&format!("/Schemas/{ACME}")).text.contains("\"level\"") {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = srv.get(&format!("/Users/{ann}")).json;
    assert_eq!(after[ACME], json!({"costCode": "A"}));
    assert_ne!(after["meta"]["version"], before["meta"]["version"]);
    assert_eq!(srv.get(&format!("/Users/{bob}")).json[ACME], json!({"costCode": "B"}));
    srv.post("/Users", &acme_user("cyd@example.com", json!({"level": 1}))).expect_error(400, Some("invalidValue"));

    // Removing the extension while users carry it: refused, then forced.
    let (ok, _, err) = schema_cli(&srv.db, &["remove", ACME]);
    assert!(!ok && err.contains("2 users carry") && err.contains("--force"), "{err}");
    let (ok, out, err) = schema_cli(&srv.db, &["remove", ACME, "--force"]);
    assert!(ok && out.contains("removed") && out.contains("2 users changed"), "{out}{err}");
    await_schema(&srv, ACME, false);
    let gone = srv.get(&format!("/Users/{ann}")).json;
    assert!(gone.get(ACME).is_none(), "{gone:#}");
    assert_eq!(gone["schemas"], json!([USER_SCHEMA]));
    let (_, listed, _) = schema_cli(&srv.db, &["list"]);
    assert!(listed.contains("no schema extensions"), "{listed}");
    let (ok, _, err) = schema_cli(&srv.db, &["remove", ACME]);
    assert!(!ok && err.contains("no schema extension"), "{err}");
}

#[test]
fn bad_schema_files_are_refused_with_one_line_and_nothing_registered() {
    let dir = TempDir::new("bad-schemas");
    let db = dir.db();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"id": "urn:ietf:params:scim:schemas:core:2.0:Mine", "attributes": [{"name": "a", "type": "string"}]}),
            "reserved",
        ),
        (json!({"id": "not-a-urn", "attributes": [{"name": "a", "type": "string"}]}), "not a URN"),
        (
            json!({"id": ACME, "attributes": [{"name": "userName", "type": "string"}]}),
            "clashes with the core attribute",
        ),
        (json!({"id": ACME, "attributes": [{"name": "department", "type": "string"}]}), "another extension"),
        (json!({"id": ACME, "attributes": [{"name": "a", "type": "money"}]}), "unknown variant"),
        (
            json!({"id": ACME, "attributes": [{"name": "a", "type": "string"}, {"name": "a", "type": "string"}]}),
            "twice",
        ),
        (json!({"id": ACME, "attributes": []}), "non-empty"),
    ];
    for (i, (doc, want)) in cases.iter().enumerate() {
        let (ok, _, err) = schema_cli(&db, &["add", &schema_file(&dir, &format!("bad{i}.json"), doc)]);
        assert!(!ok, "{doc}");
        assert!(err.contains(want), "{doc}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    let broken = dir.path.join("broken.json");
    std::fs::write(&broken, "{\"id\": ").unwrap();
    let (ok, _, err) = schema_cli(&db, &["add", broken.to_str().unwrap()]);
    assert!(!ok && err.contains("not valid JSON"), "{err}");
    let huge = dir.path.join("huge.json");
    std::fs::write(&huge, format!("{{\"id\": \"{ACME}\", \"description\": \"{}\"}}", "x".repeat(300_000))).unwrap();
    let (ok, _, err) = schema_cli(&db, &["add", huge.to_str().unwrap()]);
    assert!(!ok && err.contains("bytes"), "{err}");
    let (ok, _, err) = schema_cli(&db, &["add", "/no/such/file.json"]);
    assert!(!ok && err.contains("cannot read"), "{err}");
    let (_, listed, _) = schema_cli(&db, &["list"]);
    assert!(listed.contains("no schema extensions"), "{listed}");
    // Group extensions, required.
    let group_ext =
        json!({"id": "urn:example:scim:GroupExtra", "attributes": [{"name": "costCode", "type": "string"}]});
    let (ok, out, err) =
        schema_cli(&db, &["add", &schema_file(&dir, "g.json", &group_ext), "--resource-type", "group", "--required"]);
    assert!(ok && out.contains("attached to Group, required"), "{out}{err}");
}

#[test]
fn undeclared_attributes_are_refused_or_ignored_as_configured() {
    let body = json!({"schemas": [USER_SCHEMA, "urn:example:undeclared:User"], "userName": "eve@example.com",
                      "nickName": "Eve", "favouriteColour": "teal", "urn:example:undeclared:User": {"x": 1},
                      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops", "shoeSize": 9}});
    let strict = TestServer::start();
    let r = strict.post("/Users", &body);
    r.expect_error(400, Some("invalidValue"));
    assert!(r.json["detail"].as_str().unwrap().contains("--unknown-attributes ignore"), "{r:#?}");
    assert_eq!(strict.count("/Users"), 0);

    let lenient = TestServer::start_with(&["--unknown-attributes", "ignore"]);
    for i in 0..3 {
        let mut b = body.clone();
        b["userName"] = json!(format!("eve{i}@example.com"));
        let r = lenient.post("/Users", &b);
        r.expect(201);
        assert_eq!(r.json["nickName"], "Eve");
        assert!(r.json.get("favouriteColour").is_none() && r.json.get("urn:example:undeclared:User").is_none());
        assert_eq!(r.json[ENTERPRISE], json!({"department": "Ops"}));
        assert_eq!(r.json["schemas"], json!([USER_SCHEMA, ENTERPRISE]));
    }
    // Each distinct undeclared name is logged once, however often it comes.
    std::thread::sleep(Duration::from_millis(200));
    let log = lenient.stderr_text();
    for name in ["favouriteColour", "urn:example:undeclared:User", "shoeSize"] {
        let n = log.lines().filter(|l| l.contains("ignored the undeclared") && l.contains(name)).count();
        assert_eq!(n, 1, "{name} logged once:\n{log}");
    }
}

#[test]
fn the_enterprise_extension_end_to_end_with_a_resolved_manager() {
    let srv = TestServer::start();
    let mut boss = user_body("boss@example.com");
    boss["displayName"] = json!("Max Manager");
    let boss = id_of(&srv.post("/Users", &boss).json);
    let mut body = user_body("emp@example.com");
    body["schemas"] = json!([USER_SCHEMA, ENTERPRISE]);
    body[ENTERPRISE] = json!({"employeeNumber": "E-1", "costCenter": "CC", "organization": "Org", "division": "Div",
                              "department": "Dep", "manager": {"value": boss, "$ref": "https://elsewhere/x", "displayName": "ignored"}});
    let created = srv.post("/Users", &body);
    created.expect(201);
    let id = id_of(&created.json);
    let want = json!({"employeeNumber": "E-1", "costCenter": "CC", "organization": "Org", "division": "Div",
                      "department": "Dep", "manager": {"value": boss, "$ref": srv.url(&format!("/Users/{boss}")),
                      "displayName": "Max Manager"}});
    assert_eq!(created.json[ENTERPRISE], want);
    assert_eq!(srv.get(&format!("/Users/{id}")).json[ENTERPRISE], want);
    // On list pages too, and the manager's new name shows at once.
    let mut renamed = srv.get(&format!("/Users/{boss}")).json;
    renamed["displayName"] = json!("Maxine Manager");
    srv.put(&format!("/Users/{boss}"), &renamed).expect(200);
    let listed = srv.filter("/Users", &format!("{ENTERPRISE}:manager.value eq \"{boss}\""));
    assert_eq!(listed.ids(), vec![id.clone()]);
    assert_eq!(listed.resources()[0][ENTERPRISE]["manager"]["displayName"], "Maxine Manager");
    // Every attribute filterable.
    for (attr, value) in [
        ("employeeNumber", "E-1"),
        ("costCenter", "cc"),
        ("organization", "Org"),
        ("division", "Div"),
        ("department", "Dep"),
    ] {
        assert_eq!(
            srv.filter("/Users", &format!("{ENTERPRISE}:{attr} eq \"{value}\"")).ids(),
            vec![id.clone()],
            "{attr}"
        );
    }
    // A manager id that names no scimd user (Okta sends its own managerId) is kept as sent.
    let okta = srv.patch(
        &format!("/Users/{id}"),
        &patch_body(json!([{"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": "00u9zyxw8VUTS7rqp6o5"}}])),
    );
    okta.expect(200);
    assert_eq!(okta.json[ENTERPRISE]["manager"], json!({"value": "00u9zyxw8VUTS7rqp6o5"}));
    // Removing the manager.
    let r = srv.patch(
        &format!("/Users/{id}"),
        &patch_body(json!([{"op": "remove", "path": format!("{ENTERPRISE}:manager")}])),
    );
    assert!(r.json[ENTERPRISE].get("manager").is_none(), "{:#}", r.json);
}

#[test]
fn returned_and_mutability_of_extension_attributes_are_honoured() {
    let srv = TestServer::start();
    let dir = TempDir::new("schemas-rm");
    let doc = json!({"id": ACME, "attributes": [
        {"name": "pin", "type": "string", "mutability": "writeOnly", "returned": "never"},
        {"name": "secretCode", "type": "string", "returned": "request"},
        {"name": "grade", "type": "string", "returned": "always"},
        {"name": "serial", "type": "string", "mutability": "immutable"},
        {"name": "computed", "type": "string", "mutability": "readOnly"},
        {"name": "region", "type": "string", "required": true}
    ]});
    assert!(schema_cli(&srv.db, &["add", &schema_file(&dir, "rm.json", &doc)]).0);
    await_schema(&srv, ACME, true);
    let body = acme_user(
        "ren@example.com",
        json!({"pin": "1234", "secretCode": "s", "grade": "A", "serial": "X1",
                                                    "computed": "client value", "region": "EU"}),
    );
    let created = srv.post("/Users", &body);
    created.expect(201);
    let id = id_of(&created.json);
    // Default view: never- and request-returned attributes left out; readOnly input ignored.
    assert_eq!(created.json[ACME], json!({"grade": "A", "serial": "X1", "region": "EU"}));
    let picked = srv.get(&format!("/Users/{id}?attributes={}:secretCode", enc(ACME)));
    assert_eq!(picked.json[ACME], json!({"secretCode": "s", "grade": "A"}), "returned always comes along");
    let excluded = srv.get(&format!("/Users/{id}?excludedAttributes={}:grade", enc(ACME)));
    assert_eq!(excluded.json[ACME]["grade"], "A", "returned always cannot be excluded");
    // writeOnly/never: not filterable either.
    srv.filter("/Users", &format!("{ACME}:pin eq \"1234\"")).expect_error(400, Some("invalidFilter"));
    // immutable: may not change once set.
    let mut put = srv.get(&format!("/Users/{id}")).json;
    put[ACME]["serial"] = json!("X2");
    srv.put(&format!("/Users/{id}"), &put).expect_error(400, Some("mutability"));
    // required inside the extension.
    let r = srv.post("/Users", &acme_user("sam@example.com", json!({"grade": "B"})));
    r.expect_error(400, Some("invalidValue"));
    assert!(r.json["detail"].as_str().unwrap().contains("region"), "{r:#?}");
}
