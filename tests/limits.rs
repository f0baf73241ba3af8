//! Connection limits and timeouts, tested with raw sockets against the real binary: slow request heads
//! (slowloris) and bodies, idle keep-alive connections, a cap on concurrent connections, broken framing.
mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn connect(srv: &TestServer) -> TcpStream {
    let addr = srv.origin.trim_start_matches("http://");
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Everything the server sends until it closes the connection or `wait` passes.
fn read_for(s: &mut TcpStream, wait: Duration) -> String {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A complete GET on `s`; returns the status line.
fn get(s: &mut TcpStream, auth: &str) -> String {
    write!(s, "GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n").unwrap();
    let mut buf = [0u8; 8192];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_string()
}

#[test]
fn a_slow_request_head_is_cut_off_and_others_are_served_meanwhile() {
    let srv = TestServer::start_with(&["--header-timeout", "1"]);
    let mut slow = connect(&srv);
    slow.write_all(b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n").unwrap();
    // Meanwhile everyone else is served at once.
    let started = Instant::now();
    srv.get("/ServiceProviderConfig").expect(200);
    assert!(started.elapsed() < Duration::from_secs(1));
    let answer = read_for(&mut slow, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
}

#[test]
fn a_slow_request_body_gets_408() {
    let srv = TestServer::start_with(&["--body-timeout", "1"]);
    let mut slow = connect(&srv);
    write!(
        slow,
        "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: application/scim+json\r\n\
         Content-Length: 100\r\n\r\n{{\"schemas\":",
        srv.auth()
    )
    .unwrap();
    let started = Instant::now();
    let answer = read_for(&mut slow, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(answer.contains("did not arrive within 1 s"), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(srv.count("/Users"), 0);
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let srv = TestServer::start_with(&["--keep-alive", "1"]);
    let mut s = connect(&srv);
    assert_eq!(get(&mut s, &srv.auth()), "HTTP/1.1 200 OK");
    let started = Instant::now();
    let rest = read_for(&mut s, Duration::from_secs(5));
    assert!(rest.is_empty(), "{rest:?}");
    let idle = started.elapsed();
    assert!(idle >= Duration::from_millis(500) && idle < Duration::from_secs(4), "closed after {idle:?}");
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    // actix caps connections per worker thread, one worker per core: one each here.
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let srv = TestServer::start_with(&["--max-connections", &workers.to_string(), "--keep-alive", "30"]);
    let auth = srv.auth();
    let mut held: Vec<TcpStream> = (0..workers).map(|_| connect(&srv)).collect();
    for s in held.iter_mut() {
        assert_eq!(get(s, &auth), "HTTP/1.1 200 OK");
    }
    let mut extra = connect(&srv);
    write!(extra, "GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n").unwrap();
    extra.set_read_timeout(Some(Duration::from_millis(1500))).unwrap();
    let mut buf = [0u8; 64];
    assert!(extra.read(&mut buf).is_err(), "the connection beyond the cap waits");
    // A slot frees: the waiting connection is served.
    drop(held.pop());
    extra.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = extra.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&buf[..n]));
}

#[test]
fn broken_framing_is_400() {
    let srv = TestServer::start();
    let auth = srv.auth();
    // Broken heads: actix answers 400 itself.
    let cases = [
        format!("POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/scim+json\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{{}}"),
        format!("POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: abc\r\n\r\n{{}}"),
        "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n".to_string(),
    ];
    for case in cases {
        let mut s = connect(&srv);
        s.write_all(case.as_bytes()).unwrap();
        let answer = read_for(&mut s, Duration::from_secs(5));
        assert!(answer.starts_with("HTTP/1.1 400"), "{case:?} -> {answer:?}");
    }
    // A body whose chunk size is not hex: the head was good, so the request reached the handler; actix drops
    // the connection when the body turns out broken, before any answer can be sent. Nothing is written.
    let mut s = connect(&srv);
    let broken = format!("POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n");
    s.write_all(broken.as_bytes()).unwrap();
    assert_eq!(read_for(&mut s, Duration::from_secs(5)), "", "closed without an answer");
    assert_eq!(srv.count("/Users"), 0);
}
