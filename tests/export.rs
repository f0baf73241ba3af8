//! `scimd export`, `scimd users|groups list|show`: the directory as the apps behind scimd read it, checked
//! against the API.
mod common;

use common::*;
use serde_json::{json, Value};

fn fixture(srv: &TestServer) -> (Vec<String>, String) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut body = user_body(&format!("user{i}@example.com"));
        body["displayName"] = json!(format!("User, \"{i}\""));
        if i == 3 {
            body["active"] = json!(false);
            body["schemas"] = json!([USER_SCHEMA, ENTERPRISE]);
            body[ENTERPRISE] = json!({"department": "Ops"});
        }
        ids.push(id_of(&srv.post("/Users", &body).json));
    }
    let g = id_of(&srv.create_group("Admins; West", &[&ids[0], &ids[3]]));
    srv.create_group("Everyone", &ids.iter().map(String::as_str).collect::<Vec<_>>());
    (ids, g)
}

#[test]
fn json_export_is_what_the_api_returns() {
    let srv = TestServer::start();
    let (ids, _) = fixture(&srv);
    let dir = TempDir::new("export");
    let out = dir.path.join("users.json");
    let (status, stdout, err) =
        run_cli(&srv.db, &["export", "--format", "json", "--out", out.to_str().unwrap(), "--base-url", &srv.url("")]);
    assert!(status.success(), "{err}");
    assert!(stdout.is_empty() && err.contains("exported 7 users"), "{stdout}{err}");
    let exported: Vec<Value> = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(exported.len(), 7);
    for (i, user) in exported.iter().enumerate() {
        assert_eq!(user["id"], json!(ids[i]), "creation order");
        assert_eq!(*user, srv.get(&format!("/Users/{}", ids[i])).json, "the same as GET /Users/{{id}}");
    }
    assert_eq!(exported[3]["groups"].as_array().unwrap().len(), 2);
    // To standard output, filtered.
    let (status, stdout, _) = run_cli(&srv.db, &["export", "--filter", "active eq false", "--base-url", &srv.url("")]);
    assert!(status.success());
    let only: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(only.iter().map(|u| u["id"].clone()).collect::<Vec<_>>(), vec![json!(ids[3])]);
    // An empty directory is an empty array.
    let empty = TestServer::start();
    let (_, stdout, _) = run_cli(&empty.db, &["export"]);
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap(), json!([]));
}

#[test]
fn csv_export_has_one_quoted_row_per_user() {
    let srv = TestServer::start();
    let (ids, _) = fixture(&srv);
    let (status, stdout, err) = run_cli(&srv.db, &["export", "--format", "csv"]);
    assert!(status.success(), "{err}");
    let mut reader = csv::Reader::from_reader(stdout.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        header,
        strs(&[
            "id",
            "userName",
            "externalId",
            "active",
            "displayName",
            "givenName",
            "familyName",
            "email",
            "groups",
            "created",
            "lastModified"
        ])
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 7);
    let row = &rows[3];
    assert_eq!(&row[0], ids[3].as_str());
    assert_eq!(&row[1], "user3@example.com");
    assert_eq!(&row[3], "false");
    assert_eq!(&row[4], "User, \"3\"", "commas and quotes survive (RFC 4180 quoting)");
    assert_eq!(&row[7], "user3@example.com");
    let mut groups: Vec<&str> = row[8].split(';').collect();
    groups.sort();
    assert_eq!(groups, vec![" West", "Admins", "Everyone"]);
    assert_eq!(&row[9], srv.get(&format!("/Users/{}", ids[3])).json["meta"]["created"].as_str().unwrap());
}

#[test]
fn export_failures_leave_nothing_half_written() {
    let srv = TestServer::start();
    fixture(&srv);
    let dir = TempDir::new("export-fail");
    let nowhere = dir.path.join("missing/dir/out.json");
    let (status, _, err) = run_cli(&srv.db, &["export", "--out", nowhere.to_str().unwrap()]);
    assert!(!status.success() && err.contains("cannot write"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (status, _, err) = run_cli(&srv.db, &["export", "--filter", "userName eq"]);
    assert!(!status.success() && err.contains("--filter"), "{err}");
    let out = dir.path.join("out.csv");
    let (status, _, err) =
        run_cli(&srv.db, &["export", "--format", "csv", "--filter", "nope eq 1", "--out", out.to_str().unwrap()]);
    assert!(!status.success() && err.contains("nope"), "{err}");
    assert!(std::fs::read_dir(&dir.path).unwrap().next().is_none(), "no partial file");
    let (status, _, err) = run_cli(&dir.path.join("none.db"), &["export"]);
    assert!(!status.success() && err.contains("no database"), "{err}");
    assert!(!dir.path.join("none.db").exists(), "a reading command creates no database");
}

#[test]
fn users_and_groups_list_and_show() {
    let srv = TestServer::start();
    let (ids, admins) = fixture(&srv);
    let (status, out, err) = run_cli(&srv.db, &["users", "list"]);
    assert!(status.success(), "{err}");
    assert_eq!(out.lines().count(), 7);
    assert!(out.lines().nth(3).unwrap().starts_with(&ids[3]) && out.contains("(inactive)"), "{out}");
    assert!(err.contains("7 users"), "{err}");
    let (_, out, err) =
        run_cli(&srv.db, &["users", "list", "--filter", "userName sw \"user1\" or displayName co \"5\""]);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(err.contains("2 users matched"), "{err}");
    let (status, out, _) = run_cli(&srv.db, &["users", "show", "USER2@example.com", "--base-url", &srv.url("")]);
    assert!(status.success());
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown, srv.get(&format!("/Users/{}", ids[2])).json);
    let (_, out, _) = run_cli(&srv.db, &["users", "show", &ids[4], "--base-url", &srv.url("")]);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["id"], json!(ids[4]));
    let (status, _, err) = run_cli(&srv.db, &["users", "show", "nobody"]);
    assert!(!status.success() && err.contains("no User"), "{err}");
    let (_, out, _) = run_cli(&srv.db, &["groups", "list"]);
    assert!(out.contains("Admins; West  (2 members)") && out.contains("Everyone  (7 members)"), "{out}");
    let (_, out, _) = run_cli(&srv.db, &["groups", "show", "admins; west", "--base-url", &srv.url("")]);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), srv.get(&format!("/Groups/{admins}")).json);
}

/// A reader that stops early (`| head`) ends the output quietly: no panic, no error.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let srv = TestServer::start();
    let ops: Vec<serde_json::Value> = (0..1000)
        .map(|i| json!({"method": "POST", "bulkId": format!("u{i}"), "path": "/Users", "data": user_body(&format!("p{i}@example.com"))}))
        .collect();
    srv.post("/Bulk", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}))
        .expect(200);
    for args in [
        vec!["users", "list"],
        vec!["export"],
        vec!["export", "--format", "csv"],
        vec!["users", "show", "p1@example.com"],
    ] {
        let mut cmd = scimd_command();
        cmd.arg("--database").arg(&srv.db).args(&args);
        let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        assert!(out.status.success(), "{args:?}: {:?} {err}", out.status);
    }
}
