use super::*;
use crate::scim::filter::{parse_attr_path, parse_filter};
use crate::scim::schema::Schemas;
use crate::store::filter_sql::{filter_to_sql, order_by_sql, sort_key_of};
use crate::store::resources;
use diesel::sql_types::{Nullable, Text};

#[derive(QueryableByName)]
struct PlanRow {
    #[diesel(sql_type = Text)]
    detail: String,
}

/// 60 users (every third without a displayName, names out of creation order, some equal) and 7 groups.
fn db() -> Conn {
    use diesel_migrations::MigrationHarness;
    let mut c = Conn::Sqlite(SqliteConnection::establish(":memory:").expect("open"));
    c.run_pending_migrations(crate::store::MIGRATIONS).expect("the real migrations");
    for i in 0..60 {
        let display = (i % 3 != 0).then(|| format!("name{:02}", (i * 37) % 20));
        diesel::sql_query(
            "INSERT INTO users (id, user_name_folded, display_name_folded, active, created, last_modified, \
             version, resource) VALUES (?, ?, ?, 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1, ?)",
        )
        .bind::<Text, _>(format!("u{i:02}"))
        .bind::<Text, _>(format!("user{:02}", (i * 7) % 60))
        .bind::<Nullable<Text>, _>(display.clone())
        .bind::<Text, _>(
            serde_json::json!({"userName": format!("user{:02}", (i * 7) % 60), "displayName": display}).to_string(),
        )
        .execute(&mut c)
        .expect("insert user");
    }
    for i in 0..7 {
        diesel::sql_query(
            "INSERT INTO groups (id, display_name_folded, created, last_modified, version, resource) \
             VALUES (?, ?, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1, ?)",
        )
        .bind::<Text, _>(format!("g{i}"))
        .bind::<Text, _>(format!("name{:02}", i * 3))
        .bind::<Text, _>(serde_json::json!({"displayName": format!("name{:02}", i * 3)}).to_string())
        .execute(&mut c)
        .expect("insert group");
    }
    c
}

fn ids(rows: &[KeyedRow]) -> Vec<String> {
    rows.iter().map(|r| r.row.id.clone()).collect()
}

/// Walks forwards in pages of `n`, then backwards from the last page; both give `want`.
fn check_walks(c: &mut Conn, sources: &[Source<'_>], descending: bool, n: usize, want: &[String]) {
    let mut got = Vec::new();
    let mut position: Option<Vec<KeyPart>> = None;
    let mut last_page = Vec::new();
    loop {
        let rows = page(c, sources, descending, position.as_deref(), Side::After, n).unwrap();
        if rows.is_empty() {
            break;
        }
        assert!(rows.iter().all(|r| fits(sources, &r.key)));
        got.extend(ids(&rows));
        position = Some(rows.last().unwrap().key.clone());
        last_page = rows;
    }
    assert_eq!(got, want, "forwards, pages of {n}");
    let mut back = ids(&last_page);
    let mut position = last_page.first().map(|r| r.key.clone());
    while let Some(p) = position {
        let rows = page(c, sources, descending, Some(&p), Side::Before, n).unwrap();
        position = rows.first().map(|r| r.key.clone());
        back.splice(0..0, ids(&rows));
    }
    assert_eq!(back, want, "backwards, pages of {n}");
}

#[test]
fn keyset_walks_match_index_order() {
    let mut c = db();
    let schemas = Schemas::embedded();
    let user = schemas.resource_type("User").unwrap();
    let group = schemas.resource_type("Group").unwrap();
    for (sort, descending) in
        [(None, false), (Some("displayName"), false), (Some("displayName"), true), (Some("userName"), true)]
    {
        let path = sort.map(|s| parse_attr_path(s).unwrap());
        let key = path.as_ref().map(|p| sort_key_of(schemas, user, p, Dialect::Sqlite).unwrap());
        let order = path.as_ref().map(|p| order_by_sql(schemas, user, p, descending, Dialect::Sqlite).unwrap());
        let filter =
            filter_to_sql(schemas, user, &parse_filter("userName sw \"user\"").unwrap(), Dialect::Sqlite).unwrap();
        let (_, index) = resources::list(&mut c, Table::Users, Some(&filter), order.as_ref(), 0, 1000).unwrap();
        let want: Vec<String> = index.into_iter().map(|r| r.id).collect();
        assert_eq!(want.len(), 60);
        let sources = [Source { table: Table::Users, filter: Some(&filter), sort: key.as_ref() }];
        for n in [1, 7, 60, 100] {
            check_walks(&mut c, &sources, descending, n, &want);
        }
    }
    // Two tables (a search at the root): the offset listing and the keyset walks agree.
    let path = parse_attr_path("displayName").unwrap();
    let (uk, gk) = (
        sort_key_of(schemas, user, &path, Dialect::Sqlite).unwrap(),
        sort_key_of(schemas, group, &path, Dialect::Sqlite).unwrap(),
    );
    for (uk, gk) in [(None, None), (Some(&uk), Some(&gk))] {
        for descending in [false, true] {
            let sources = [
                Source { table: Table::Users, filter: None, sort: uk },
                Source { table: Table::Groups, filter: None, sort: gk },
            ];
            let want = ids(&page_at_offset(&mut c, &sources, descending, 0, 1000).unwrap());
            assert_eq!(want.len(), 67);
            for n in [4, 67] {
                check_walks(&mut c, &sources, descending, n, &want);
            }
            let middle = ids(&page_at_offset(&mut c, &sources, descending, 30, 5).unwrap());
            assert_eq!(middle, want[30..35].to_vec());
        }
    }
}

fn plan(c: &mut Conn, sql: &SqlFragment) -> String {
    let text = format!("EXPLAIN QUERY PLAN {}", sql.sql);
    let rows = sql.bind_to(diesel::sql_query(text).into_boxed()).load::<PlanRow>(c).unwrap();
    rows.into_iter().map(|r| r.detail).collect::<Vec<_>>().join(" | ")
}

/// The page after a position seeks the index (the primary key, or userName's) and reads only the page:
/// no scan from the start, no sort.
#[test]
fn keyset_pages_seek_their_index() {
    let mut c = db();
    let schemas = Schemas::embedded();
    let user = schemas.resource_type("User").unwrap();
    let unsorted = [Source { table: Table::Users, filter: None, sort: None }];
    let shape = Shape::of(&unsorted).unwrap();
    let p = plan(&mut c, &page_sql(&shape, &unsorted, false, Some(&[KeyPart::Int(30)]), Side::After, 10));
    assert!(p.contains("USING INTEGER PRIMARY KEY (rowid>?)"), "{p}");
    assert!(!p.contains("TEMP B-TREE"), "{p}");
    let p = plan(&mut c, &page_sql(&shape, &unsorted, false, Some(&[KeyPart::Int(30)]), Side::Before, 10));
    assert!(p.contains("USING INTEGER PRIMARY KEY (rowid<?)"), "{p}");
    let key = sort_key_of(schemas, user, &parse_attr_path("userName").unwrap(), Dialect::Sqlite).unwrap();
    let sorted = [Source { table: Table::Users, filter: None, sort: Some(&key) }];
    let shape = Shape::of(&sorted).unwrap();
    let position = [KeyPart::Text("user30".into()), KeyPart::Int(12)];
    let p = plan(&mut c, &page_sql(&shape, &sorted, false, Some(&position), Side::After, 10));
    assert!(p.contains("(user_name_folded>?)"), "{p}");
    assert!(!p.contains("TEMP B-TREE"), "{p}");
}

#[test]
fn positions_of_another_shape_do_not_fit() {
    let schemas = Schemas::embedded();
    let user = schemas.resource_type("User").unwrap();
    let key = sort_key_of(schemas, user, &parse_attr_path("displayName").unwrap(), Dialect::Sqlite).unwrap();
    let unsorted = [Source { table: Table::Users, filter: None, sort: None }];
    let sorted = [Source { table: Table::Users, filter: None, sort: Some(&key) }];
    assert!(fits(&unsorted, &[KeyPart::Int(3)]));
    assert!(!fits(&unsorted, &[KeyPart::Text("3".into())]));
    assert!(!fits(&unsorted, &[KeyPart::Int(3), KeyPart::Int(4)]));
    assert!(fits(&sorted, &[KeyPart::Int(0), KeyPart::Text("x".into()), KeyPart::Int(4)]));
    assert!(!fits(&sorted, &[KeyPart::Int(2), KeyPart::Text("x".into()), KeyPart::Int(4)]));
    assert!(!fits(&sorted, &[KeyPart::Int(0), KeyPart::Text("x".into()), KeyPart::Real(4.0)]));
}
