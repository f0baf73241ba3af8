//! Metrics (Prometheus exposition, parsed with a real parser), JSON logs and request ids over the real binary.
mod common;

use common::*;
use serde_json::Value;

fn metrics_url(srv: &TestServer) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(line) = srv.stdout_text().lines().find(|l| l.starts_with("metrics at ")) {
            return line["metrics at ".len()..].trim().to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no metrics line in {}", srv.stdout_text());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn scrape(url: &str) -> (String, prometheus_parse::Scrape) {
    let r = raw(&agent(), "GET", url, &[], None);
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.header("content-type").unwrap().starts_with("application/openmetrics-text"), "{r:#?}");
    let lines = r.text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("a valid exposition");
    (r.text, scrape)
}

fn value(s: &prometheus_parse::Sample) -> f64 {
    match &s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => *v,
        prometheus_parse::Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
        prometheus_parse::Value::Summary(_) => 0.0,
    }
}

#[test]
fn metrics_by_route_template_status_and_reason() {
    let srv = TestServer::start_with(&["--metrics-bind", "127.0.0.1:0"]);
    let url = metrics_url(&srv);
    let user = srv.create_user("metered@example.com");
    let id = id_of(&user);
    srv.get(&format!("/Users/{id}")).expect(200);
    srv.get("/Users/00000000-0000-4000-8000-000000000000").expect(404);
    srv.raw("GET", "/Users", &[("Authorization", "Bearer scimd_0000")], None);
    srv.raw("GET", "/Users", &[], None);
    srv.raw("GET", "/Users", &[("Authorization", "Basic Zm9vOmJhcg==")], None);
    let (text, scrape) = scrape(&url);
    assert!(!text.contains(&id), "no resource id in any label");
    assert!(!text.contains("scimd_0000"), "no credential in any label");
    let find = |name: &str, labels: &[(&str, &str)]| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(value)
            .sum()
    };
    assert_eq!(
        find("scimd_http_requests_total", &[("route", "/scim/v2/Users/:id"), ("status", "200"), ("method", "GET")]),
        1.0
    );
    assert_eq!(find("scimd_http_requests_total", &[("route", "/scim/v2/Users/:id"), ("status", "404")]), 1.0);
    assert_eq!(
        find("scimd_http_requests_total", &[("route", "/scim/v2/Users"), ("status", "201"), ("method", "POST")]),
        1.0
    );
    assert_eq!(find("scimd_auth_failures_total", &[("reason", "Unknown")]), 1.0);
    assert_eq!(find("scimd_auth_failures_total", &[("reason", "Missing")]), 1.0);
    assert_eq!(find("scimd_auth_failures_total", &[("reason", "Malformed")]), 1.0);
    assert!(find("scimd_http_request_duration_seconds", &[("route", "/scim/v2/Users/:id")]) >= 2.0, "{text}");
    assert!(find("scimd_group_commit_batch_size", &[]) >= 1.0, "{text}");
    assert!(find("scimd_read_pool_wait_seconds", &[]) >= 1.0, "{text}");
    // A gauge of this very moment: a write may be queued while the scrape runs (the token's last-use record is
    // written in the background), so it is read again until the server is idle.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut depth = find("scimd_write_queue_depth", &[]);
    while depth != 0.0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let (_, again) = self::scrape(&url);
        depth = again.samples.iter().filter(|s| s.metric == "scimd_write_queue_depth").map(value).sum();
    }
    assert_eq!(depth, 0.0, "writers still queued when idle");
    assert!(find("scimd_database_size_bytes", &[]) > 0.0, "{text}");
    // The metrics address serves nothing else, and the SCIM address no metrics.
    let base = url.trim_end_matches("/metrics");
    assert_eq!(raw(&agent(), "GET", &format!("{base}/scim/v2/Users"), &[], None).status, 404);
    assert_eq!(raw(&agent(), "GET", &format!("{}/metrics", srv.origin), &[], None).status, 404);
}

#[test]
fn metrics_are_off_by_default() {
    let srv = TestServer::start();
    assert!(!srv.stdout_text().contains("metrics at"));
}

#[test]
fn json_logs_one_object_per_line_with_the_request_id() {
    let srv = TestServer::start_with(&["--log-format", "json"]);
    let auth = srv.auth();
    let r = srv.raw(
        "GET",
        "/Users?filter=userName%20eq%20%22secret%40example.com%22",
        &[("Authorization", &auth), ("X-Request-Id", "okta-req-42")],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-request-id"), Some("okta-req-42"));
    let generated = srv.raw("GET", "/Users", &[("Authorization", &auth)], None);
    let gid = generated.header("x-request-id").unwrap().to_string();
    assert!(gid.len() == 24 && gid.chars().all(|c| c.is_ascii_hexdigit()), "{gid}");
    let odd = srv.raw("GET", "/Users", &[("Authorization", &auth), ("X-Request-Id", "no spaces allowed")], None);
    assert_ne!(odd.header("x-request-id"), Some("no spaces allowed"));
    srv.raw("GET", "/Users", &[("Authorization", "Bearer wrong")], None);
    srv.post("/Users", &user_body("logged@example.com")).expect(201);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = srv.stderr_text();
    let lines: Vec<Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect();
    for l in &lines {
        for field in ["time", "level", "target", "message"] {
            assert!(l[field].is_string(), "{field} in {l}");
        }
    }
    let access: Vec<&Value> = lines.iter().filter(|l| l["target"] == "scimd::access").collect();
    let mine = access.iter().find(|l| l["request_id"] == "okta-req-42").expect("the access line of the request");
    assert_eq!(mine["method"], "GET");
    assert_eq!(mine["route"], "/scim/v2/Users");
    assert_eq!(mine["status"], 200);
    assert!(mine["latency_ms"].is_number());
    assert_eq!(mine["credential"], "token:default");
    let refused = access.iter().find(|l| l["status"] == 401).expect("the 401");
    assert_eq!(refused["credential"], "-");
    assert!(access.iter().any(|l| l["request_id"] == gid.as_str()));
    // Never a secret, a password or a query string.
    assert!(!log.contains(srv.token.as_str()));
    assert!(!log.contains("secret@example.com") && !log.contains("secret%40example.com"), "{log}");
    assert!(!log.contains("wrong"));
}
