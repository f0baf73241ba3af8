//! RFC 9865 cursor paging over the real binary: walks forwards and backwards, with filters and sortBy,
//! under concurrent inserts and deletes; cursors bound to their query, tamper-evident, expiring.
mod common;

use common::*;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Every page of a cursor walk from the first, following `nextCursor` (`query` is the rest of the URL).
fn walk(srv: &TestServer, endpoint: &str, query: &str) -> Vec<Resp> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = srv.get(&format!("/{endpoint}?{query}&cursor={}", enc(&cursor)));
        r.expect(200);
        let next = r.json["nextCursor"].as_str().map(str::to_string);
        pages.push(r);
        assert!(pages.len() < 10_000, "the walk does not end");
        match next {
            Some(c) => cursor = c,
            None => return pages,
        }
    }
}

fn ids_of(pages: &[Resp]) -> Vec<String> {
    pages.iter().flat_map(Resp::ids).collect()
}

fn create_users(srv: &TestServer, n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| id_of(&srv.create_user(&format!("{prefix}{i:03}@example.com")))).collect()
}

#[test]
fn a_walk_visits_every_user_once_in_list_order() {
    let srv = TestServer::start();
    let ids = create_users(&srv, 25, "walk");
    let pages = walk(&srv, "Users", "count=7");
    assert_eq!(pages.len(), 4);
    assert_eq!(ids_of(&pages), ids, "creation order, as index paging gives it");
    for (i, page) in pages.iter().enumerate() {
        let j = &page.json;
        assert_eq!(j["schemas"], json!([LIST_SCHEMA]));
        assert_eq!(page.total(), 25, "exact totalResults on every page");
        assert_eq!(j["itemsPerPage"], json!(if i < 3 { 7 } else { 4 }));
        // RFC 9865 §2.2: no startIndex on cursor pages; nextCursor on all but the last, previousCursor on
        // all but the first.
        assert!(j.get("startIndex").is_none(), "{j:#}");
        assert_eq!(j.get("nextCursor").is_some(), i < 3, "page {i}");
        assert_eq!(j.get("previousCursor").is_some(), i > 0, "page {i}");
        let cursor = j["nextCursor"].as_str().or(j["previousCursor"].as_str()).unwrap();
        // RFC 9865 §2.1: only unreserved characters (RFC 3986 §2.3): URL-safe as it is.
        assert!(cursor.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)), "{cursor}");
    }
    // The same walk as index pages gives.
    let index = srv.get("/Users?startIndex=1&count=100");
    assert_eq!(index.ids(), ids);
}

#[test]
fn previous_cursors_walk_back_to_the_first_page() {
    let srv = TestServer::start();
    create_users(&srv, 10, "back");
    let forward = walk(&srv, "Users", "count=3&attributes=userName");
    assert_eq!(forward.len(), 4);
    let mut back = vec![forward.last().unwrap().clone()];
    while let Some(prev) = back.last().unwrap().json["previousCursor"].as_str().map(str::to_string) {
        let r = srv.get(&format!("/Users?count=3&attributes=userName&cursor={prev}"));
        r.expect(200);
        back.push(r);
        assert!(back.len() < 10);
    }
    back.reverse();
    let f: Vec<Vec<String>> = forward.iter().map(Resp::ids).collect();
    let b: Vec<Vec<String>> = back.iter().map(Resp::ids).collect();
    assert_eq!(b, f, "walking back gives the same pages");
    assert!(back[0].json.get("previousCursor").is_none(), "the first page has no previousCursor");
    assert!(back[0].json.get("nextCursor").is_some());
}

#[test]
fn filtered_and_sorted_walks_match_index_pages() {
    let srv = TestServer::start();
    // Display names out of creation order, some missing, some equal (ties go by creation order).
    let names = [Some("delta"), None, Some("Alpha"), Some("charlie"), None, Some("bravo"), Some("alpha"), None];
    for (i, name) in names.iter().enumerate() {
        let mut body = user_body(&format!("sorted{i}@example.com"));
        if let Some(n) = name {
            body["displayName"] = json!(n);
        }
        if i % 3 == 0 {
            body["title"] = json!("Engineer");
        }
        srv.post("/Users", &body).expect(201);
    }
    srv.create_user("other@example.org");
    for query in [
        "sortBy=displayName",
        "sortBy=displayName&sortOrder=descending",
        "sortBy=userName&sortOrder=descending",
        "sortBy=title",
        "filter=userName%20sw%20%22sorted%22&sortBy=displayName",
        "filter=userName%20sw%20%22sorted%22",
        "filter=title%20eq%20%22Engineer%22&sortBy=meta.created&sortOrder=descending",
    ] {
        let index = srv.get(&format!("/Users?{query}&startIndex=1&count=100"));
        index.expect(200);
        for count in [1, 2, 3, 100] {
            let pages = walk(&srv, "Users", &format!("{query}&count={count}"));
            assert_eq!(ids_of(&pages), index.ids(), "{query} count={count}");
            assert_eq!(pages[0].total(), index.total(), "{query}");
            // RFC 9865 §2: totalResults is optional on cursor pages; later pages of a filtered walk leave it
            // out (a count per page would make every page cost a whole count), unfiltered ones keep it.
            let filtered = query.contains("filter=");
            for p in &pages[1..] {
                assert_eq!(p.json.get("totalResults").is_none(), filtered, "{query}: {:#}", p.json);
                if !filtered {
                    assert_eq!(p.total(), index.total(), "{query}");
                }
            }
        }
    }
    // Spot-check the ascending displayName order itself: names case-insensitively, ties and absent last.
    let pages = walk(&srv, "Users", "sortBy=displayName&count=2&filter=userName%20sw%20%22sorted%22");
    let shown: Vec<String> = pages.iter().flat_map(|p| p.field("displayName")).collect();
    assert_eq!(shown, strs(&["Alpha", "alpha", "bravo", "charlie", "delta", "", "", ""]));
}

#[test]
fn a_walk_under_concurrent_inserts_and_deletes_sees_every_lasting_user_once() {
    let srv = TestServer::start();
    let lasting = create_users(&srv, 120, "lasting");
    let doomed = create_users(&srv, 120, "doomed");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (base, auth, stop) = (srv.url(""), srv.auth(), stop.clone());
        std::thread::spawn(move || {
            let agent = agent();
            let headers = [("Authorization", auth.as_str()), ("Content-Type", SCIM_JSON)];
            let mut n = 0usize;
            let mut doomed = doomed.into_iter();
            while !stop.load(Ordering::SeqCst) && n < 2000 {
                let body = user_body(&format!("newcomer{n}@example.com")).to_string();
                assert_eq!(raw(&agent, "POST", &format!("{base}/Users"), &headers, Some(body.as_bytes())).status, 201);
                if let Some(id) = doomed.next() {
                    assert_eq!(raw(&agent, "DELETE", &format!("{base}/Users/{id}"), &headers, None).status, 204);
                }
                n += 1;
            }
            n
        })
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let r = srv.get(&format!("/Users?count=5&attributes=userName&cursor={cursor}"));
        r.expect(200);
        for id in r.ids() {
            *seen.entry(id).or_default() += 1;
        }
        pages += 1;
        match r.json["nextCursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
        // Pause now and then so the writer gets well ahead of the walk.
        if pages % 10 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    stop.store(true, Ordering::SeqCst);
    let written = writer.join().unwrap();
    assert!(written > 0, "the writer ran during the walk");
    for id in &lasting {
        assert_eq!(seen.get(id), Some(&1), "user {id}, present for the whole walk, seen once");
    }
    assert!(seen.values().all(|&n| n == 1), "no resource twice: {seen:?}");
}

#[test]
fn search_endpoints_take_cursors() {
    let srv = TestServer::start();
    let ids = create_users(&srv, 5, "search");
    let body = |cursor: &str| {
        json!({"schemas": [SEARCH_SCHEMA], "filter": "userName sw \"search\"", "count": 2, "cursor": cursor,
               "attributes": ["userName"]})
    };
    let mut cursor = String::new();
    let mut got = Vec::new();
    loop {
        let r = srv.post("/Users/.search", &body(&cursor));
        r.expect(200);
        if cursor.is_empty() {
            assert_eq!(r.total(), 5);
        }
        got.extend(r.ids());
        match r.json["nextCursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(got, ids);
}

#[test]
fn counts_of_zero_and_empty_results() {
    let srv = TestServer::start();
    create_users(&srv, 3, "zero");
    let r = srv.get("/Users?cursor=&count=0");
    r.expect(200);
    assert_eq!((r.total(), r.resources().len()), (3, 0));
    assert!(r.json.get("nextCursor").is_none() && r.json.get("previousCursor").is_none());
    let none = srv.get("/Users?cursor=&filter=userName%20eq%20%22nobody%22");
    none.expect(200);
    assert_eq!((none.total(), none.resources().len()), (0, 0));
    assert!(none.json.get("nextCursor").is_none());
    // Groups too, with an exact total.
    srv.create_group("g1", &[]);
    let g = srv.get("/Groups?cursor=&count=10");
    assert_eq!((g.total(), g.ids().len()), (1, 1));
}

#[test]
fn cursors_are_tamper_evident_and_bound_to_their_query() {
    let srv = TestServer::start();
    create_users(&srv, 4, "bound");
    srv.create_group("g1", &[]);
    srv.create_group("g2", &[]);
    let first = srv.get("/Users?cursor=&count=1&filter=userName%20sw%20%22bound%22");
    let cursor = first.json["nextCursor"].as_str().unwrap().to_string();
    let bad = |path: String| {
        let r = srv.get(&path);
        r.expect_error(400, Some("invalidCursor"));
        assert!(r.json["detail"].as_str().unwrap().contains("cursor"), "{r:#?}");
    };
    // Another filter, another sort, another endpoint.
    bad(format!("/Users?cursor={cursor}&count=1"));
    bad(format!("/Users?cursor={cursor}&count=1&filter=userName%20sw%20%22bound%22&sortBy=userName"));
    let plain = srv.get("/Users?cursor=&count=1").json["nextCursor"].as_str().unwrap().to_string();
    bad(format!("/Groups?cursor={plain}&count=1"));
    srv.post("/.search", &json!({"schemas": [SEARCH_SCHEMA], "cursor": plain, "count": 1}))
        .expect_error(400, Some("invalidCursor"));
    // Altered, truncated, extended, garbage, huge.
    let mut flipped: Vec<char> = cursor.chars().collect();
    flipped[5] = if flipped[5] == 'A' { 'B' } else { 'A' };
    let flipped: String = flipped.into_iter().collect();
    for c in [flipped, cursor[..cursor.len() - 3].to_string(), format!("{cursor}AA"), "abc".into(), "x".repeat(5000)] {
        bad(format!("/Users?cursor={}&count=1&filter=userName%20sw%20%22bound%22", enc(&c)));
    }
    // The untouched cursor still works.
    srv.get(&format!("/Users?cursor={cursor}&count=1&filter=userName%20sw%20%22bound%22")).expect(200);
    // Index and cursor paging do not mix.
    srv.get(&format!("/Users?cursor={cursor}&startIndex=1")).expect_error(400, Some("invalidValue"));
}

#[test]
fn cursors_expire_after_the_advertised_timeout() {
    let srv = TestServer::start_with(&["--cursor-timeout", "1"]);
    assert_eq!(srv.get("/ServiceProviderConfig").json["pagination"]["cursorTimeout"], 1);
    create_users(&srv, 3, "expire");
    let first = srv.get("/Users?cursor=&count=1");
    let cursor = first.json["nextCursor"].as_str().unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_millis(2300));
    let r = srv.get(&format!("/Users?cursor={cursor}&count=1"));
    r.expect_error(400, Some("expiredCursor"));
    assert!(r.json["detail"].as_str().unwrap().contains("1 seconds"), "{r:#?}");
}

#[test]
fn cursor_pages_carry_groups_and_members_like_index_pages() {
    let srv = TestServer::start();
    let u = id_of(&srv.create_user("member@example.com"));
    let g = id_of(&srv.create_group("team", &[&u]));
    let users = srv.get("/Users?cursor=&count=5");
    assert_eq!(users.resources()[0]["groups"][0]["value"], json!(g));
    let groups = srv.get("/Groups?cursor=&count=5");
    assert_eq!(member_ids(&groups.resources()[0]), vec![u]);
    let seen: HashSet<String> = ids_of(&[users, groups]).into_iter().collect();
    assert_eq!(seen.len(), 2);
}
