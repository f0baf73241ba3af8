//! Acknowledged writes are durable: a 201 is only sent after the COMMIT that holds the user (group commit
//! included). The server is killed with SIGKILL in the middle of concurrent creates; after a restart on the
//! same file every acknowledged user is there.
mod common;

use common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn acknowledged_creates_survive_kill_9() {
    let dir = TempDir::new("kill9");
    let db = dir.db();
    let srv = TestServer::start_on(&db, &[], &[]);
    let auth = srv.auth();
    let url = srv.url("/Users");
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|t| {
            let (auth, url, acknowledged, stop) = (auth.clone(), url.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = agent();
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let body = user_body(&format!("k{t}-{i}@x.org")).to_string();
                    let sent = agent
                        .post(&url)
                        .header("Authorization", &auth)
                        .header("Content-Type", SCIM_JSON)
                        .send(body.as_str());
                    // After the kill every request fails: stop.
                    let Ok(mut response) = sent else { break };
                    if response.status().as_u16() == 201 {
                        let text = response.body_mut().read_to_string().unwrap_or_default();
                        let created: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        if let Some(id) = created["id"].as_str() {
                            acknowledged.lock().unwrap().push(id.to_string());
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    drop(srv); // SIGKILL: no graceful shutdown, no final checkpoint
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 20, "too few creates before the kill to prove anything: {}", acknowledged.len());

    let restarted = TestServer::start_on(&db, &[], &[]);
    let auth_header = [("Authorization", auth.as_str())];
    for id in &acknowledged {
        let r = restarted.raw("GET", &format!("/Users/{id}"), &auth_header, None);
        assert_eq!(r.status, 200, "acknowledged user {id} was lost by the kill");
    }
    let all = restarted.raw("GET", "/Users?count=1", &auth_header, None);
    assert!(all.json["totalResults"].as_u64().unwrap_or(0) >= acknowledged.len() as u64);
}
