//! The SCIM filter grammar over HTTP (RFC 7644 §3.4.2.2): every operator, logical operators and
//! precedence, value paths, sub-attributes, URN paths, literals, and invalidFilter errors.
mod common;

use common::*;
use serde_json::json;

/// Four users with distinguishing attributes.
fn setup() -> TestServer {
    let srv = TestServer::start();
    let users = [
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "alice@example.com",
               "externalId": "ext-1",
               "name": {"givenName": "Alice", "familyName": "Smith"}, "displayName": "Alice Smith",
               "title": "Engineer", "active": true,
               "emails": [{"value": "alice@example.com", "type": "work", "primary": true},
                          {"value": "alice@home.org", "type": "home"}],
               ENTERPRISE: {"employeeNumber": "100", "department": "Eng"}}),
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "bob@example.com",
               "externalId": "EXT-2", "nickName": "bobby",
               "name": {"givenName": "Bob", "familyName": "Jones"}, "displayName": "Bob Jones",
               "title": "Manager", "active": false,
               "emails": [{"value": "bob@example.com", "type": "work"}],
               ENTERPRISE: {"employeeNumber": "200", "department": "Sales"}}),
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "carol@test.org",
               "name": {"givenName": "Carol", "familyName": "Smith"}, "active": true,
               "emails": [{"value": "carol@test.org", "type": "home"}],
               ENTERPRISE: {"employeeNumber": "300"}}),
        json!({"schemas": [USER_SCHEMA], "userName": "dave@example.com",
               "name": {"givenName": "Dave", "familyName": "O\"Brien"},
               "title": "Engineer II", "active": true}),
    ];
    for u in &users {
        srv.create_user_body(u);
    }
    srv
}

/// Short names (the part before '@') of the users matching `filter`, sorted.
#[track_caller]
fn names(srv: &TestServer, filter: &str) -> Vec<String> {
    let r = srv.filter("/Users", filter);
    assert_eq!(r.status, 200, "filter {filter:?}: {r:#?}");
    assert_eq!(r.total(), r.resources().len() as i64, "filter {filter:?}");
    sorted(r.field("userName").iter().map(|u| u.split('@').next().unwrap_or_default().to_string()).collect())
}

#[track_caller]
fn check(srv: &TestServer, filter: &str, want: &[&str]) {
    assert_eq!(names(srv, filter), strs(want), "filter: {filter}");
}

#[test]
fn eq_and_ne() {
    let srv = setup();
    check(&srv, r#"userName eq "alice@example.com""#, &["alice"]);
    check(&srv, r#"userName eq "ALICE@Example.COM""#, &["alice"]); // caseExact=false
    check(&srv, r#"userName EQ "bob@example.com""#, &["bob"]); // operators case-insensitive
    check(&srv, r#"USERNAME eq "bob@example.com""#, &["bob"]); // attribute names too
    check(&srv, r#"userName eq "nobody@example.com""#, &[]);
    check(&srv, r#"userName ne "alice@example.com""#, &["bob", "carol", "dave"]);
    check(&srv, r#"displayName eq "alice smith""#, &["alice"]);
    // externalId is caseExact=true (RFC 7643 §3.1).
    check(&srv, r#"externalId eq "EXT-2""#, &["bob"]);
    check(&srv, r#"externalId eq "ext-2""#, &[]);
    check(&srv, r#"externalId eq "ext-1""#, &["alice"]);
}

#[test]
fn eq_on_id() {
    let srv = setup();
    let r = srv.filter("/Users", r#"userName eq "carol@test.org""#);
    let id = r.ids()[0].clone();
    check(&srv, &format!("id eq \"{id}\""), &["carol"]);
}

#[test]
fn co_sw_ew() {
    let srv = setup();
    check(&srv, r#"userName co "example""#, &["alice", "bob", "dave"]);
    check(&srv, r#"userName co "EXAMPLE""#, &["alice", "bob", "dave"]);
    check(&srv, r#"userName sw "b""#, &["bob"]);
    check(&srv, r#"userName sw "B""#, &["bob"]);
    check(&srv, r#"userName ew ".org""#, &["carol"]);
    check(&srv, r#"title co "engineer""#, &["alice", "dave"]);
    check(&srv, r#"title sw "Eng""#, &["alice", "dave"]);
    check(&srv, r#"title ew "II""#, &["dave"]);
    // LIKE wildcards in the value are literal characters.
    check(&srv, r#"userName co "%""#, &[]);
    check(&srv, r#"userName co "_""#, &[]);
    check(&srv, r#"userName sw "a%""#, &[]);
}

#[test]
fn pr() {
    let srv = setup();
    check(&srv, "title pr", &["alice", "bob", "dave"]);
    check(&srv, "nickName pr", &["bob"]);
    check(&srv, "emails pr", &["alice", "bob", "carol"]);
    check(&srv, "externalId pr", &["alice", "bob"]);
    check(&srv, &format!("{ENTERPRISE}:department pr"), &["alice", "bob"]);
}

#[test]
fn ordering_operators() {
    let srv = setup();
    check(&srv, r#"userName gt "bob@example.com""#, &["carol", "dave"]);
    check(&srv, r#"userName ge "bob@example.com""#, &["bob", "carol", "dave"]);
    check(&srv, r#"userName lt "bob@example.com""#, &["alice"]);
    check(&srv, r#"userName le "BOB@example.com""#, &["alice", "bob"]);
    check(&srv, &format!("{ENTERPRISE}:employeeNumber gt \"150\""), &["bob", "carol"]);
    check(&srv, &format!("{ENTERPRISE}:employeeNumber le \"200\""), &["alice", "bob"]);
    // dateTime literals.
    check(&srv, r#"meta.created gt "2000-01-01T00:00:00Z""#, &["alice", "bob", "carol", "dave"]);
    check(&srv, r#"meta.lastModified lt "2000-01-01T00:00:00Z""#, &[]);
    check(&srv, r#"meta.lastModified ge "2999-01-01T00:00:00Z""#, &[]);
}

#[test]
fn booleans() {
    let srv = setup();
    check(&srv, "active eq true", &["alice", "carol", "dave"]);
    check(&srv, "active eq false", &["bob"]);
    check(&srv, "active ne true", &["bob"]);
    check(&srv, "active eq TRUE", &["alice", "carol", "dave"]);
}

#[test]
fn logical_operators_and_precedence() {
    let srv = setup();
    check(&srv, r#"title pr and active eq true"#, &["alice", "dave"]);
    check(&srv, r#"userName sw "a" or userName sw "c""#, &["alice", "carol"]);
    check(&srv, r#"userName sw "a" OR userName sw "c""#, &["alice", "carol"]);
    check(&srv, "not (active eq true)", &["bob"]);
    // `and` binds tighter than `or`: carol or (alice and title pr).
    check(&srv, r#"userName sw "c" or userName sw "a" and title pr"#, &["alice", "carol"]);
    // Parentheses override it.
    check(&srv, r#"(userName sw "c" or userName sw "a") and title pr"#, &["alice"]);
    check(&srv, r#"not (userName sw "a") and active eq true"#, &["carol", "dave"]);
    check(&srv, r#"not (userName sw "a" or userName sw "b")"#, &["carol", "dave"]);
    check(&srv, r#"((name.familyName eq "Smith") and (not (title pr))) or nickName eq "BOBBY""#, &["bob", "carol"]);
}

#[test]
fn sub_attributes() {
    let srv = setup();
    check(&srv, r#"name.familyName eq "smith""#, &["alice", "carol"]);
    check(&srv, r#"NAME.GIVENNAME sw "d""#, &["dave"]);
    check(&srv, r#"emails.value co "home.org""#, &["alice"]);
    check(&srv, r#"emails.type eq "work""#, &["alice", "bob"]);
    check(&srv, r#"emails.value eq "carol@test.org""#, &["carol"]);
}

#[test]
fn value_paths() {
    let srv = setup();
    check(&srv, r#"emails[type eq "work" and value co "@example.com"]"#, &["alice", "bob"]);
    check(&srv, r#"emails[type eq "home"]"#, &["alice", "carol"]);
    // Both conditions must hold on the same element.
    check(&srv, r#"emails[type eq "home" and value co "example.com"]"#, &[]);
    check(&srv, r#"emails[primary eq true]"#, &["alice"]);
    check(&srv, r#"emails[type eq "home" or primary eq true]"#, &["alice", "carol"]);
    check(&srv, r#"emails[not (type eq "work")]"#, &["alice", "carol"]);
    check(&srv, r#"emails[type eq "work"] and active eq false"#, &["bob"]);
}

#[test]
fn urn_qualified_paths() {
    let srv = setup();
    check(&srv, &format!("{ENTERPRISE}:employeeNumber eq \"200\""), &["bob"]);
    // department is caseExact=false.
    check(&srv, &format!("{ENTERPRISE}:department eq \"eng\""), &["alice"]);
    check(&srv, &format!("{USER_SCHEMA}:userName eq \"bob@example.com\""), &["bob"]);
    check(&srv, &format!("{USER_SCHEMA}:name.familyName eq \"Jones\""), &["bob"]);
}

#[test]
fn string_literal_escapes() {
    let srv = setup();
    check(&srv, r#"name.familyName eq "O\"Brien""#, &["dave"]);
    check(&srv, r#"name.givenName eq "\u0041lice""#, &["alice"]);
    check(&srv, r#"userName eq "alice\u0040example.com""#, &["alice"]);
}

#[test]
fn injection_attempts_are_plain_values() {
    let srv = setup();
    check(&srv, r#"userName eq "x' OR '1'='1""#, &[]);
    check(&srv, r#"userName eq "\"); DROP TABLE users; --""#, &[]);
    check(&srv, r#"title co "' or 1=1 --""#, &[]);
    assert_eq!(srv.count("/Users"), 4);
}

#[test]
fn filter_with_paging_and_search() {
    let srv = setup();
    let r = srv.get(&format!("/Users?filter={}&startIndex=2&count=1", enc("userName co \"example\"")));
    r.expect(200);
    assert_eq!(r.total(), 3);
    assert_eq!(r.json["itemsPerPage"], 1);
    assert_eq!(r.field("userName"), strs(&["bob@example.com"]));
    let r = srv.post("/Users/.search", &json!({"schemas": [SEARCH_SCHEMA], "filter": "emails[type eq \"home\"]"}));
    r.expect(200);
    assert_eq!(sorted(r.field("userName")), strs(&["alice@example.com", "carol@test.org"]));
}

#[test]
fn malformed_filters_are_invalid_filter() {
    let srv = setup();
    for f in [
        "userName eq",
        "userName",
        "userName zz \"a\"",
        "(userName eq \"a\"",
        "userName eq \"a\")",
        "userName eq \"a\" and",
        "and userName eq \"a\"",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"]]",
        "userName eq \"unterminated",
        "userName eq 'single'",
        "userName eq unquoted",
        "title pr \"x\"",
        "not userName eq \"a\"",
        "userName eq \"a\" userName eq \"b\"",
        "userName eq \"\\x\"",
        "emails[]",
        "()",
        "active gt true", // RFC 7644 §3.4.2.2: gt/ge/lt/le on booleans -> invalidFilter
    ] {
        let r = srv.filter("/Users", f);
        assert_eq!(r.status, 400, "filter {f:?} should be invalid: {r:#?}");
        r.expect_error(400, Some("invalidFilter"));
    }
}

#[test]
fn empty_filter_parameter_is_no_filter() {
    let srv = setup();
    // An empty (or blank) filter parameter filters nothing, as if it were not given.
    for q in ["/Users?filter=", "/Users?filter=%20%20"] {
        let r = srv.get(q);
        r.expect(200);
        assert_eq!(r.total(), 4, "{q}");
    }
}

#[test]
fn hostile_filters_error_without_crashing() {
    let srv = setup();
    let depth = 10_000;
    let deep = format!("{}userName eq \"a\"{}", "(".repeat(depth), ")".repeat(depth));
    let nots = format!("{}userName eq \"a\"{}", "not (".repeat(depth), ")".repeat(depth));
    let vpath = format!("emails[{}type eq \"a\"{}]", "(".repeat(depth), ")".repeat(depth));
    for f in [&deep, &nots, &vpath] {
        let r = srv.post("/Users/.search", &json!({"schemas": [SEARCH_SCHEMA], "filter": f}));
        r.expect_error(400, Some("invalidFilter"));
    }
    // A long chain of `or` (wide, not deep) must not overflow either.
    let wide = vec!["userName eq \"zz\""; 3000].join(" or ");
    let r = srv.post("/Users/.search", &json!({"schemas": [SEARCH_SCHEMA], "filter": wide}));
    r.expect_error(400, Some("invalidFilter"));
    // A huge literal.
    let big = format!("userName eq \"{}\"", "a".repeat(200_000));
    let r = srv.post("/Users/.search", &json!({"schemas": [SEARCH_SCHEMA], "filter": big}));
    r.expect_error(400, Some("invalidFilter"));
    // Still alive and correct.
    check(&srv, r#"userName eq "alice@example.com""#, &["alice"]);
}

#[test]
fn plus_encoded_spaces_in_the_query() {
    let srv = setup();
    let r = srv.get("/Users?filter=userName+eq+%22bob%40example.com%22");
    r.expect(200);
    assert_eq!(r.field("userName"), strs(&["bob@example.com"]));
}

#[test]
fn group_filters() {
    let srv = setup();
    for (n, ext) in [("Engineering", "e-1"), ("Eng Ops", "E-2"), ("Sales", "s-3")] {
        srv.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": n, "externalId": ext})).expect(201);
    }
    let g = |f: &str| {
        let r = srv.filter("/Groups", f);
        assert_eq!(r.status, 200, "{f}: {r:#?}");
        sorted(r.field("displayName"))
    };
    assert_eq!(g("displayName eq \"ENGINEERING\""), strs(&["Engineering"]));
    assert_eq!(g("displayName sw \"eng\""), strs(&["Eng Ops", "Engineering"]));
    assert_eq!(g("displayName co \"ops\" or externalId eq \"s-3\""), strs(&["Eng Ops", "Sales"]));
    assert_eq!(g("externalId eq \"e-2\""), Vec::<String>::new());
    assert_eq!(g("not (displayName sw \"Eng\")"), strs(&["Sales"]));
    srv.filter("/Groups", "displayName eq \"x\" and").expect_error(400, Some("invalidFilter"));
}
