//! scimd on PostgreSQL as identical replicas on one database (issue 16): two real servers on one real
//! PostgreSQL database (a throwaway cluster, see `common::pg_database`), racing each other.
mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Two replicas behind one public URL (as behind a load balancer: OAuth tokens name it as their audience).
fn replicas(url: &str) -> (TestServer, TestServer) {
    let public = ["--base-url", "https://scim.example.test/scim/v2"];
    let a = TestServer::start_on(Path::new(url), &public, &[]);
    let mut b = TestServer::start_on(Path::new(url), &public, &[]);
    assert!(!a.token.is_empty(), "the first replica mints the default token");
    assert!(b.token.is_empty(), "the second finds it and mints none");
    b.token = a.token.clone();
    (a, b)
}

fn patch_op(op: &str, path: &str, value: Value) -> Value {
    json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": op, "path": path, "value": value}]})
}

#[test]
fn replicas_starting_together_migrate_once() {
    let url = pg_database();
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || run_cli(Path::new(&url), &["migrate"]))
        })
        .collect();
    for h in handles {
        let (st, out, err) = h.join().unwrap();
        assert!(st.success(), "{out}\n{err}");
        assert!(out.contains("is up to date"), "{out}");
    }
    let srv = TestServer::start_on(Path::new(&url), &[], &[]);
    srv.get("/Users").expect(200);
    let ready = raw(&srv.agent, "GET", &format!("{}/readyz", srv.origin), &[], None);
    ready.expect(200);
}

#[test]
fn what_one_replica_writes_the_other_serves() {
    let url = pg_database();
    let (a, b) = replicas(&url);
    assert!(!a.stderr_text().contains("password"), "the URL is shown without secrets");
    let user = a.create_user("Zoë.Ünïcode@Example.com");
    let id = user["id"].as_str().unwrap().to_string();
    let got = b.get(&format!("/Users/{id}"));
    got.expect(200);
    assert_eq!(got.json["userName"], "Zoë.Ünïcode@Example.com");
    assert_eq!(b.get("/Users").total(), 1);
    // Filters (case-insensitively in full Unicode on userName) and sorting, through the other replica.
    assert_eq!(b.filter("/Users", "userName eq \"ZOË.ünïcode@example.com\"").ids(), vec![id.clone()]);
    assert_eq!(b.filter("/Users", "name.givenName pr and emails[type eq \"work\" and primary eq true]").total(), 1);
    assert_eq!(b.filter("/Users", "name.familyName ne \"Family\"").total(), 0);
    assert_eq!(b.get("/Users?sortBy=userName&sortOrder=descending").ids(), vec![id.clone()]);
    // RFC 9865 cursor pages, with a filter, through either replica (the cursor key is shared).
    let page = b.get(&format!("/Users?cursor&count=5&filter={}", enc("userName pr")));
    page.expect(200);
    assert_eq!(page.ids(), vec![id.clone()]);
    let group = b.create_group("Engineering", &[&id]);
    let gid = group["id"].as_str().unwrap();
    let seen = a.get(&format!("/Users/{id}"));
    assert_eq!(seen.json["groups"][0]["value"], gid);
    assert_eq!(seen.json["groups"][0]["display"], "Engineering");
    assert_eq!(a.get(&format!("/Groups/{gid}")).json["members"][0]["value"], id.as_str());
    // Full-Unicode case-insensitive uniqueness holds across replicas.
    b.post("/Users", &user_body("ZOË.ÜNÏCODE@example.com")).expect_error(409, Some("uniqueness"));
    b.delete(&format!("/Users/{id}")).expect(204);
    a.get(&format!("/Users/{id}")).expect_error(404, None);
    assert!(a.get(&format!("/Groups/{gid}")).json.get("members").is_none(), "the membership went with the user");
}

#[test]
fn the_same_user_name_through_both_replicas_wins_once() {
    let url = pg_database();
    let (a, b) = replicas(&url);
    for round in 0..20 {
        let name = format!("race-{round}@example.com");
        let (ra, rb) = std::thread::scope(|s| {
            let ta = s.spawn(|| a.post("/Users", &user_body(&name)));
            let tb = s.spawn(|| b.post("/Users", &user_body(&name.to_uppercase())));
            (ta.join().unwrap(), tb.join().unwrap())
        });
        let mut statuses = [ra.status, rb.status];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "round {round}: {} / {}", ra.text, rb.text);
        let loser = if ra.status == 409 { &ra } else { &rb };
        assert_eq!(loser.json["scimType"], "uniqueness", "{}", loser.text);
    }
    assert_eq!(a.get("/Users").total(), 20);
}

#[test]
fn members_added_concurrently_through_two_replicas_are_all_kept() {
    let url = pg_database();
    let (a, b) = replicas(&url);
    let ids: Vec<String> =
        (0..16).map(|i| a.create_user(&format!("m{i}@example.com"))["id"].as_str().unwrap().to_string()).collect();
    let gid = a.create_group("Everyone", &[])["id"].as_str().unwrap().to_string();
    std::thread::scope(|s| {
        for (i, id) in ids.iter().enumerate() {
            let srv = if i % 2 == 0 { &a } else { &b };
            let gid = &gid;
            s.spawn(move || {
                srv.patch(&format!("/Groups/{gid}"), &patch_op("add", "members", json!([{"value": id}]))).expect(204);
            });
        }
    });
    let members = b.get(&format!("/Groups/{gid}")).json["members"].as_array().cloned().unwrap_or_default();
    let mut got: Vec<String> = members.iter().map(|m| m["value"].as_str().unwrap().to_string()).collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want, "every concurrent add is kept");
    assert_eq!(a.get(&format!("/Groups/{gid}")).json["meta"]["version"], "W/\"17\"", "one version per change");
}

#[test]
fn patches_of_distinct_attributes_through_two_replicas_are_all_applied() {
    let url = pg_database();
    let (a, b) = replicas(&url);
    let id = a.create_user("patched@example.com")["id"].as_str().unwrap().to_string();
    let attrs =
        ["displayName", "nickName", "title", "userType", "preferredLanguage", "locale", "timezone", "profileUrl"];
    std::thread::scope(|s| {
        for (i, attr) in attrs.iter().enumerate() {
            let srv = if i % 2 == 0 { &a } else { &b };
            let id = &id;
            s.spawn(move || {
                let value =
                    if *attr == "profileUrl" { "https://example.com/p".to_string() } else { format!("v-{attr}") };
                srv.patch(&format!("/Users/{id}"), &patch_op("replace", attr, json!(value))).expect(200);
            });
        }
    });
    let user = b.get(&format!("/Users/{id}")).json;
    for attr in attrs {
        assert!(user.get(attr).is_some(), "{attr} was lost: {user}");
    }
    assert_eq!(user["meta"]["version"], "W/\"9\"", "eight changes, eight versions");
}

#[test]
fn a_token_revoked_is_refused_by_every_replica() {
    let url = pg_database();
    let (a, b) = replicas(&url);
    let token = cli_create_token(Path::new(&url), "okta", &[]);
    for srv in [&a, &b] {
        srv.get_as(&token, "/Users").expect(200);
    }
    let (st, _, err) = run_cli(Path::new(&url), &["token", "revoke", "okta"]);
    assert!(st.success(), "{err}");
    let deadline = Instant::now() + Duration::from_secs(5);
    for srv in [&a, &b] {
        loop {
            let status = srv.get_as(&token, "/Users").status;
            if status == 401 {
                break;
            }
            assert!(Instant::now() < deadline, "a revoked token still works on a replica");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // An OAuth client revoked the same way: its access token stops on both.
    let client = cli_create_client(Path::new(&url), "entra", &[]);
    let access = a.access_token(&client, None);
    b.get_as(&access, "/Users").expect(200);
    run_cli(Path::new(&url), &["client", "revoke", "entra"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.get_as(&access, "/Users").status != 401 || b.get_as(&access, "/Users").status != 401 {
        assert!(Instant::now() < deadline, "a revoked client's token still works on a replica");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The two backends' migrations describe one logical schema: the same tables, columns (and which may be NULL),
/// primary keys and unique constraints, foreign keys, and indexes. Only dialect-only indexes differ, by name
/// (PostgreSQL's `text_pattern_ops` prefix indexes do what COLLATE NOCASE indexes do on SQLite).
#[test]
fn both_backends_have_the_same_logical_schema() {
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};
    use std::collections::BTreeMap;

    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = BigInt)]
        nn: i64,
        #[diesel(sql_type = BigInt)]
        pk: i64,
    }
    #[derive(QueryableByName)]
    struct Row3 {
        #[diesel(sql_type = Text)]
        a: String,
        #[diesel(sql_type = Text)]
        b: String,
        #[diesel(sql_type = Text)]
        c: String,
    }
    /// table -> (columns with NOT NULL, unique column sets, foreign keys, indexes)
    type Schema = BTreeMap<String, (Vec<(String, bool)>, Vec<String>, Vec<String>, Vec<String>)>;

    let dir = TempDir::new("schema-eq");
    let (st, _, err) = run_cli(&dir.db(), &["migrate"]);
    assert!(st.success(), "{err}");
    let mut lite = diesel::SqliteConnection::establish(dir.db().to_str().unwrap()).unwrap();
    let mut sqlite: Schema = BTreeMap::new();
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '__diesel_schema_migrations' ORDER BY name",
    )
    .load(&mut lite)
    .unwrap();
    for Name { name: t } in tables {
        let cols: Vec<Column> =
            diesel::sql_query(format!("SELECT name, \"notnull\" AS nn, pk FROM pragma_table_info('{t}')"))
                .load(&mut lite)
                .unwrap();
        let mut columns: Vec<(String, bool)> = cols.iter().map(|c| (c.name.clone(), c.nn == 1 || c.pk > 0)).collect();
        columns.sort();
        let mut pk: Vec<(i64, String)> = cols.iter().filter(|c| c.pk > 0).map(|c| (c.pk, c.name.clone())).collect();
        pk.sort();
        let mut unique = vec![pk.into_iter().map(|(_, n)| n).collect::<Vec<_>>().join(",")];
        let mut indexes = Vec::new();
        let list: Vec<Row3> = diesel::sql_query(format!(
            "SELECT l.name AS a, CAST(l.\"unique\" AS TEXT) AS b, l.origin AS c FROM pragma_index_list('{t}') l"
        ))
        .load(&mut lite)
        .unwrap();
        for Row3 { a: index, b: is_unique, c: origin } in list {
            let cols: Vec<Name> =
                diesel::sql_query(format!("SELECT name FROM pragma_index_info('{index}') ORDER BY seqno"))
                    .load(&mut lite)
                    .unwrap();
            let cols = cols.into_iter().map(|n| n.name).collect::<Vec<_>>().join(",");
            if origin == "pk" {
                continue;
            } else if is_unique == "1" {
                unique.push(cols);
            } else {
                indexes.push(format!("{index}({cols})"));
            }
        }
        let fks: Vec<Row3> = diesel::sql_query(format!(
            "SELECT \"from\" AS a, \"table\" AS b, \"to\" AS c FROM pragma_foreign_key_list('{t}')"
        ))
        .load(&mut lite)
        .unwrap();
        let mut fks: Vec<String> = fks.into_iter().map(|f| format!("{}->{}.{}", f.a, f.b, f.c)).collect();
        unique.sort();
        indexes.sort();
        fks.sort();
        sqlite.insert(t, (columns, unique, fks, indexes));
    }

    let url = pg_database();
    let (st, _, err) = run_cli(Path::new(&url), &["migrate"]);
    assert!(st.success(), "{err}");
    let mut pg = diesel::PgConnection::establish(&url).unwrap();
    let mut postgres: Schema = BTreeMap::new();
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_name <> '__diesel_schema_migrations' ORDER BY 1",
    )
    .load(&mut pg)
    .unwrap();
    for Name { name: t } in tables {
        let cols: Vec<Row3> = diesel::sql_query(format!(
            "SELECT column_name::text AS a, is_nullable::text AS b, '' AS c FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = '{t}'"
        ))
        .load(&mut pg)
        .unwrap();
        let mut columns: Vec<(String, bool)> = cols.into_iter().map(|c| (c.a, c.b == "NO")).collect();
        columns.sort();
        let cons: Vec<Row3> = diesel::sql_query(format!(
            "SELECT tc.constraint_type::text AS a, \
                    string_agg(kcu.column_name::text, ',' ORDER BY kcu.ordinal_position) AS b, \
                    COALESCE(max(ccu.table_name::text || '.' || ccu.column_name::text), '') AS c \
             FROM information_schema.table_constraints tc \
             JOIN information_schema.key_column_usage kcu \
               ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name \
             LEFT JOIN information_schema.constraint_column_usage ccu \
               ON tc.constraint_type = 'FOREIGN KEY' AND ccu.constraint_name = tc.constraint_name \
             WHERE tc.table_schema = 'public' AND tc.table_name = '{t}' \
             GROUP BY tc.constraint_name, tc.constraint_type"
        ))
        .load(&mut pg)
        .unwrap();
        let mut unique = Vec::new();
        let mut fks = Vec::new();
        for c in cons {
            match c.a.as_str() {
                "PRIMARY KEY" | "UNIQUE" => unique.push(c.b),
                "FOREIGN KEY" => {
                    let (table, column) = c.c.split_once('.').unwrap();
                    fks.push(format!("{}->{table}.{column}", c.b));
                }
                _ => {}
            }
        }
        let idx: Vec<Row3> = diesel::sql_query(format!(
            "SELECT i.relname::text AS a, pg_get_indexdef(x.indexrelid) AS b, \
                    CASE WHEN x.indisunique THEN 'u' ELSE '' END AS c \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
             WHERE t.relname = '{t}'"
        ))
        .load(&mut pg)
        .unwrap();
        let mut indexes = Vec::new();
        for Row3 { a: name, b: def, c: unique_flag } in idx {
            // Dialect-only: the prefix-match indexes.
            if unique_flag == "u" || name.ends_with("_prefix") {
                continue;
            }
            let cols = def.rsplit_once('(').map(|(_, c)| c.trim_end_matches(')').replace(' ', "")).unwrap();
            indexes.push(format!("{name}({cols})"));
        }
        unique.sort();
        indexes.sort();
        fks.sort();
        postgres.insert(t, (columns, unique, fks, indexes));
    }
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "the same tables on both backends"
    );
    for (table, lite) in &sqlite {
        assert_eq!(lite, &postgres[table], "table {table}: (columns, unique, foreign keys, indexes) differ");
    }
}

/// The schema-extension expression indexes in a database (`ext_<table>_<hash>`), as `ext_<table>`.
fn extension_indexes(database: &str) -> Vec<String> {
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let names: Vec<Name> = if database.starts_with("postgres") {
        let mut c = diesel::PgConnection::establish(database).unwrap();
        diesel::sql_query("SELECT indexname::text AS name FROM pg_indexes WHERE indexname LIKE 'ext\\_%'")
            .load(&mut c)
            .unwrap()
    } else {
        let mut c = diesel::SqliteConnection::establish(database).unwrap();
        diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ext\\_%' ESCAPE '\\'")
            .load(&mut c)
            .unwrap()
    };
    names.into_iter().map(|n| n.name.rsplit_once('_').unwrap().0.to_string()).collect()
}

/// `scimd copy` moves a whole directory from SQLite to PostgreSQL and back: every resource answers the same,
/// in the same order, and the credentials (API tokens, OAuth clients, signing keys) keep working.
#[test]
fn copy_round_trips_a_directory() {
    let public = ["--base-url", "https://scim.example.test/scim/v2"];
    let dir = TempDir::new("copy");
    let lite = dir.db();
    let (st, _, err) =
        run_cli(&lite, &["schema", "add", "tests/fixtures/schemas/acme-user.json", "--index", "costCode"]);
    assert!(st.success(), "{err}");
    let srv = TestServer::start_on(&lite, &public, &[]);
    let client = cli_create_client(&lite, "entra", &["--scope", "scim:read"]);
    let access = srv.access_token(&client, None);
    let mut users = Vec::new();
    for i in 0..25 {
        let mut body = user_body(&format!("Ünïcode-{i}@example.com"));
        body["name"] = json!({"givenName": format!("Given {i}"), "familyName": "Fam"});
        if i % 5 == 0 {
            body["schemas"] = json!([USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:acme:2.0:User"]);
            body["urn:ietf:params:scim:schemas:extension:acme:2.0:User"] = json!({"costCode": format!("CC-{i}")});
        }
        users.push(srv.create_user_body(&body)["id"].as_str().unwrap().to_string());
    }
    let inner = srv.create_group("Inner", &[&users[0], &users[1]])["id"].as_str().unwrap().to_string();
    let outer = srv.create_group("Outer", &[&users[2], &inner])["id"].as_str().unwrap().to_string();
    srv.delete(&format!("/Users/{}", users[3])).expect(204);
    users.remove(3);
    let paths: Vec<String> = users
        .iter()
        .map(|id| format!("/Users/{id}"))
        .chain([format!("/Groups/{inner}"), format!("/Groups/{outer}"), "/Users?count=100".into(), "/Groups".into()])
        .collect();
    let before: Vec<Value> = paths.iter().map(|p| srv.get(p).json).collect();

    // Up to PostgreSQL, while the SQLite server still runs.
    let pg = pg_database();
    let (st, out, err) = run_command({
        let mut c = scimd_command();
        c.args(["copy", "--from", lite.to_str().unwrap(), "--to", &pg]);
        c
    });
    assert!(st.success(), "{out}\n{err}");
    assert!(out.contains("verified: users 24, groups 2, group_members 4"), "{out}");
    let on_pg = TestServer::start_on(Path::new(&pg), &public, &[]);
    assert!(on_pg.token.is_empty(), "the copied token is usable: no new one is minted");
    let mut on_pg = on_pg;
    on_pg.token = srv.token.clone();
    for (path, want) in paths.iter().zip(&before) {
        assert_eq!(&on_pg.get(path).json, want, "{path} differs after the copy");
    }
    on_pg.get_as(&access, "/Users").expect(200);
    // The copy writes rows, not DDL: the indexed extension attribute must be indexed on the target too.
    assert_eq!(extension_indexes(&pg), vec!["ext_users".to_string()], "the costCode index on PostgreSQL");
    assert_eq!(on_pg.access_token(&client, None).split('.').count(), 3, "the client's secret works");

    // A second copy into a database that holds data is refused, unless --overwrite.
    let again = |extra: &[&str]| {
        run_command({
            let mut c = scimd_command();
            c.args(["copy", "--from", lite.to_str().unwrap(), "--to", &pg]).args(extra);
            c
        })
    };
    let (st, _, err) = again(&[]);
    assert!(!st.success() && err.contains("--overwrite"), "{err}");
    let (st, out, err) = again(&["--overwrite"]);
    assert!(st.success(), "{out}\n{err}");
    drop(srv);

    // And back down to a new SQLite file.
    let back = dir.path.join("back.db");
    let (st, out, err) = run_command({
        let mut c = scimd_command();
        c.args(["copy", "--from", &pg, "--to", back.to_str().unwrap()]);
        c
    });
    assert!(st.success(), "{out}\n{err}");
    assert_eq!(extension_indexes(back.to_str().unwrap()), vec!["ext_users".to_string()], "and back on SQLite");
    let mut on_lite = TestServer::start_on(&back, &public, &[]);
    on_lite.token = on_pg.token.clone();
    for (path, want) in paths.iter().zip(&before) {
        assert_eq!(&on_lite.get(path).json, want, "{path} differs after the copy back");
    }
    // The copy keeps creation order and continues it: a new user lists last on both.
    let next = on_pg.create_user("after-copy@example.com");
    let listed = on_pg.get("/Users?count=100").ids();
    assert_eq!(listed.last(), next["id"].as_str().map(String::from).as_ref());
}

/// A connection PostgreSQL drops (a restart, a failover, an idle timeout) costs no request: its BEGIN fails, the
/// pool discards it and the request runs on another (the pool does not ping before every checkout).
#[test]
fn dropped_connections_cost_no_request() {
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let url = pg_database();
    let srv = TestServer::start_on(Path::new(&url), &[], &[]);
    let id = srv.create_user("before@example.com")["id"].as_str().unwrap().to_string();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                srv.get("/Users").expect(200);
            });
        }
    });
    let mut admin = diesel::PgConnection::establish(&url).unwrap();
    let killed = diesel::sql_query(
        "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .get_result::<N>(&mut admin)
    .unwrap()
    .n;
    assert!(killed >= 2, "scimd held {killed} connections");
    for _ in 0..8 {
        srv.get(&format!("/Users/{id}")).expect(200);
    }
    srv.create_user("after@example.com");
    assert_eq!(srv.get("/Users").total(), 2);
    assert!(srv.stderr_text().contains("failed its BEGIN"), "the dropped connections are logged");
}

/// A schema extension registered while two replicas serve (`scimd schema add` against the shared database) is
/// served by both within the poll interval, and data written through one under it reads the same through the
/// other.
#[test]
fn a_schema_extension_added_is_served_by_every_replica() {
    const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
    let url = pg_database();
    let (a, b) = replicas(&url);
    a.get(&format!("/Schemas/{ACME}")).expect(404);
    b.get(&format!("/Schemas/{ACME}")).expect(404);
    let (st, out, err) =
        run_cli(Path::new(&url), &["schema", "add", "tests/fixtures/schemas/acme-user.json", "--index", "costCode"]);
    assert!(st.success(), "{out}\n{err}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while [&a, &b].iter().any(|srv| srv.get(&format!("/Schemas/{ACME}")).status != 200) {
        assert!(Instant::now() < deadline, "a replica did not pick up {ACME}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut body = user_body("ext@example.com");
    body["schemas"] = json!([USER_SCHEMA, ACME]);
    body[ACME] = json!({"costCode": "CC-7", "badgeNumber": 7});
    let id = a.create_user_body(&body)["id"].as_str().unwrap().to_string();
    let got = b.get(&format!("/Users/{id}"));
    got.expect(200);
    assert_eq!(got.json[ACME], json!({"costCode": "CC-7", "badgeNumber": 7}));
    assert_eq!(b.filter("/Users", &format!("{ACME}:costCode eq \"cc-7\"")).ids(), vec![id]);
}
