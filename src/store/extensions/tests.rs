use super::*;
use crate::scim::filter::parse_filter;
use crate::scim::schema::{validate, Schemas};
use crate::store::filter_sql::filter_to_sql;
use crate::store::Dialect;
use serde_json::json;

const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

fn db() -> Conn {
    use diesel_migrations::MigrationHarness;
    let mut c = Conn::Sqlite(SqliteConnection::establish(":memory:").expect("open"));
    c.run_pending_migrations(crate::store::MIGRATIONS).expect("the real migrations");
    for (i, code) in [Some("CC-1"), Some("cc-1"), Some("CC-2"), None].iter().enumerate() {
        let mut doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("u{i}")});
        if let Some(code) = code {
            doc["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ACME]);
            doc[ACME] = json!({"code": code, "level": i});
        }
        diesel::sql_query(
            "INSERT INTO users (id, user_name_folded, active, created, last_modified, version, resource) \
             VALUES (?, ?, 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1, ?)",
        )
        .bind::<Text, _>(format!("u{i}"))
        .bind::<Text, _>(format!("u{i}"))
        .bind::<Text, _>(doc.to_string())
        .execute(&mut c)
        .expect("insert");
    }
    c
}

fn schemas(indexed: &[&str]) -> Schemas {
    let doc =
        json!({"id": ACME, "attributes": [{"name": "code", "type": "string"}, {"name": "level", "type": "integer"}]});
    let indexed: Vec<String> = indexed.iter().map(|s| s.to_string()).collect();
    let ext = validate(&doc, "User", false, &indexed, Schemas::embedded()).unwrap();
    Schemas::with_extensions(&[ext]).unwrap()
}

#[derive(QueryableByName)]
struct Detail {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    id: String,
}

fn run(c: &mut Conn, sc: &Schemas, filter: &str) -> (Vec<String>, String) {
    let f =
        filter_to_sql(sc, sc.resource_type("User").unwrap(), &parse_filter(filter).unwrap(), Dialect::Sqlite).unwrap();
    let sql = format!("SELECT id FROM users WHERE {} ORDER BY seq", f.sql);
    let ids = f.bind_to(diesel::sql_query(&sql).into_boxed()).load::<Id>(c).unwrap();
    let plan =
        f.bind_to(diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}")).into_boxed()).load::<Detail>(c).unwrap();
    (ids.into_iter().map(|r| r.id).collect(), plan.into_iter().map(|r| r.detail).collect::<Vec<_>>().join("; "))
}

#[test]
fn indexed_extension_attributes_are_filtered_through_their_index() {
    let mut c = db();
    let plain = schemas(&[]);
    let (ids, plan) = run(&mut c, &plain, &format!("{ACME}:code eq \"cc-1\""));
    assert_eq!(ids, ["u0", "u1"], "caseExact false");
    assert!(plan.contains("SCAN users"), "no index yet: {plan}");
    sync_indexes(&mut c, Table::Users, ACME, &[], &[("code".into(), true), ("level".into(), false)]).unwrap();
    let indexed = schemas(&["code", "level"]);
    for (filter, want) in [
        (format!("{ACME}:code eq \"cc-1\""), vec!["u0", "u1"]),
        (format!("{ACME}:code eq \"CC-2\""), vec!["u2"]),
        (format!("{ACME}:level eq 2"), vec!["u2"]),
        (format!("{ACME}:level ge 1"), vec!["u1", "u2"]),
        (format!("{ACME}:code sw \"cc\""), vec!["u0", "u1", "u2"]),
    ] {
        let (ids, plan) = run(&mut c, &indexed, &filter);
        assert_eq!(ids, want, "{filter}");
        // `eq` is what identity providers send; ranges and `sw` may scan a table this small.
        if filter.contains(" eq ") {
            assert!(plan.contains("USING INDEX ext_users_"), "{filter}: {plan}");
        }
    }
    // Absent values behave as before: `ne` and `not` match the user without the extension.
    let (ids, _) = run(&mut c, &indexed, &format!("{ACME}:code ne \"CC-2\""));
    assert_eq!(ids, ["u0", "u1", "u3"]);
    let (ids, _) = run(&mut c, &indexed, &format!("not ({ACME}:code pr)"));
    assert_eq!(ids, ["u3"]);
    // Dropping the index.
    sync_indexes(&mut c, Table::Users, ACME, &["code".into(), "level".into()], &[]).unwrap();
    let (_, plan) = run(&mut c, &plain, &format!("{ACME}:code eq \"cc-1\""));
    assert!(plan.contains("SCAN users"), "{plan}");
}

#[test]
fn counts_duplicates_holders_and_strip() {
    let mut c = db();
    assert_eq!(count_with_values(&mut c, Table::Users, ACME, &["level".into()]).unwrap(), 3);
    assert_eq!(count_without(&mut c, Table::Users, ACME, None).unwrap(), 1);
    assert_eq!(count_duplicates(&mut c, Table::Users, ACME, "code", true).unwrap(), 2);
    assert_eq!(count_duplicates(&mut c, Table::Users, ACME, "code", false).unwrap(), 0);
    assert_eq!(
        holder_of(&mut c, Table::Users, ACME, "code", &json!("CC-1"), true, Some("u0")).unwrap().as_deref(),
        Some("u1")
    );
    assert_eq!(holder_of(&mut c, Table::Users, ACME, "level", &json!(2), false, None).unwrap().as_deref(), Some("u2"));
    assert_eq!(holder_of(&mut c, Table::Users, ACME, "level", &json!("2"), false, None).unwrap(), None);
    assert_eq!(strip(&mut c, Table::Users, ACME, Some(&["level".into()]), "2026-02-01T00:00:00.000Z").unwrap(), 3);
    assert_eq!(count_with_values(&mut c, Table::Users, ACME, &["level".into()]).unwrap(), 0);
    assert_eq!(strip(&mut c, Table::Users, ACME, None, "2026-02-01T00:00:00.000Z").unwrap(), 3);
    assert_eq!(count_without(&mut c, Table::Users, ACME, None).unwrap(), 4);
    #[derive(QueryableByName)]
    struct Doc {
        #[diesel(sql_type = Text)]
        resource: String,
        #[diesel(sql_type = BigInt)]
        version: i64,
    }
    let row: Doc = diesel::sql_query("SELECT resource, version FROM users WHERE id = 'u0'").get_result(&mut c).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&row.resource).unwrap();
    assert_eq!(doc, json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u0"}));
    assert_eq!(row.version, 3, "each strip that changed the user gave it a new version");
    assert!(json_path_literal(&[ACME, "a'b"]).is_err());
}
