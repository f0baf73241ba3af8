//! Stalled readers cannot starve the server: 32 connections ask for a 20,000-member group and read nothing,
//! while other clients' requests (token checks included) keep their normal latency; when the stalled clients
//! leave, the server is whole.
mod common;

use common::*;
use serde_json::{json, Value};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const MEMBERS: usize = 20_000;
const STALLED: usize = 32;

/// CPU time (user + system, in clock ticks) the process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

/// Waits until the server has stopped working (its CPU time stands still), at most 60 s.
fn settle(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = cpu_ticks(pid);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        let now = cpu_ticks(pid);
        if now.saturating_sub(last) <= 2 {
            return;
        }
        last = now;
    }
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

/// A connection that asks for `path` and then reads nothing, with a small receive buffer so the server's
/// writes back up at once.
fn stalled_reader(srv: &TestServer, path: &str) -> TcpStream {
    let addr: std::net::SocketAddr = srv.origin.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    write!(stream, "GET /scim/v2{path} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n", srv.auth()).unwrap();
    stream
}

#[test]
fn stalled_readers_of_a_large_group_do_not_starve_other_clients() {
    let srv = TestServer::start_with(&["--max-body-bytes", "8388608", "--send-timeout", "120"]);
    // 20,000 users in bulks of 1,000, then one group holding them all.
    let mut ids = Vec::with_capacity(MEMBERS);
    for b in 0..MEMBERS / 1000 {
        let ops: Vec<Value> = (0..1000)
            .map(|i| {
                let n = b * 1000 + i;
                json!({"method": "POST", "bulkId": format!("u{n}"), "path": "/Users", "data": user_body(&format!("member{n:05}@example.com"))})
            })
            .collect();
        let r = srv.post(
            "/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}),
        );
        r.expect(200);
        ids.extend(
            r.json["Operations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["location"].as_str().unwrap().rsplit('/').next().unwrap().to_string()),
        );
    }
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    let group = srv.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "Everyone", "members": members}));
    group.expect(201);
    let gid = id_of(&group.json);
    let probe = ids[MEMBERS / 2].clone();

    let measure = |n: usize| -> Vec<Duration> {
        (0..n)
            .map(|i| {
                let started = Instant::now();
                // A fresh token check every time, a point read, and a list page.
                let r = if i % 2 == 0 { srv.get(&format!("/Users/{probe}")) } else { srv.get("/Users?count=5") };
                r.expect(200);
                started.elapsed()
            })
            .collect()
    };
    measure(20); // warm up: the first requests pay for cold caches
    let normal = p99(measure(60));

    let stalled: Vec<TcpStream> = (0..STALLED).map(|_| stalled_reader(&srv, &format!("/Groups/{gid}"))).collect();
    // Let every stalled response fill its buffers and block: its producer then holds nothing but a thread. (Up
    // to several MB of each response fit into the server's socket buffer first, so this is real work.)
    settle(srv.pid());
    let during = measure(60);
    let worst = *during.iter().max().unwrap();
    assert!(
        p99(during.clone()) <= normal * 5 + Duration::from_millis(200),
        "with {STALLED} stalled readers: p99 {:?} against {normal:?} without (worst {worst:?})",
        p99(during.clone())
    );
    assert!(worst < Duration::from_secs(2), "no request waited for a pool connection: worst {worst:?}");

    // They leave: the server is whole, the big group still streams complete.
    drop(stalled);
    let whole = srv.get(&format!("/Groups/{gid}"));
    whole.expect(200);
    assert_eq!(member_ids(&whole.json).len(), MEMBERS);
    let after = p99(measure(30));
    assert!(after <= normal * 5 + Duration::from_millis(200), "{after:?} against {normal:?}");
    // The figures docs/reliability.md reports (`--nocapture`).
    eprintln!(
        "stall: {STALLED} stalled readers of a {MEMBERS}-member group; other clients' p99 {normal:?} before, \
         {:?} during (worst {worst:?}), {after:?} after",
        p99(during)
    );
}
