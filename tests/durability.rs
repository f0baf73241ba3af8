//! Acknowledged writes are durable: a 201 is only sent after the COMMIT that holds the user (group commit
//! included). The server is killed with SIGKILL in the middle of concurrent creates; after a restart on the
//! same file every acknowledged user is there.
mod common;

use common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Kill rounds: 1 in the ordinary test run; `SCIMD_KILL_ROUNDS=20 cargo test --release --test durability` for
/// the long run of docs/reliability.md.
fn kill_rounds() -> usize {
    std::env::var("SCIMD_KILL_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1)
}

/// Concurrent creates against a server on `db`, killed with SIGKILL after `run_for`; returns the ids of the
/// creates that were acknowledged (201) before the kill.
fn creates_until_killed(db: &std::path::Path, auth: Option<&str>, run_for: Duration) -> (Vec<String>, String) {
    let srv = TestServer::start_on(db, &[], &[]);
    let auth = auth.map(str::to_string).unwrap_or_else(|| srv.auth());
    let url = srv.url("/Users");
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let round = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let clients: Vec<_> = (0..4)
        .map(|t| {
            let (auth, url, acknowledged, stop) = (auth.clone(), url.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = agent();
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let body = user_body(&format!("k{round}-{t}-{i}@x.org")).to_string();
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
    std::thread::sleep(run_for);
    drop(srv); // SIGKILL: no graceful shutdown, no final checkpoint
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    (acknowledged, auth)
}

#[test]
fn acknowledged_creates_survive_kill_9() {
    let dir = TempDir::new("kill9");
    let db = dir.db();
    let mut auth: Option<String> = None;
    let mut all_acknowledged = Vec::new();
    let rounds = kill_rounds();
    for round in 0..rounds {
        let (acknowledged, token) = creates_until_killed(&db, auth.as_deref(), Duration::from_millis(800));
        assert!(acknowledged.len() >= 20, "round {round}: too few creates before the kill: {}", acknowledged.len());
        auth = Some(token);
        all_acknowledged.extend(acknowledged);
        // Every write acknowledged in every round so far is there after the restart.
        let restarted = TestServer::start_on(&db, &[], &[]);
        let auth_header = [("Authorization", auth.as_deref().unwrap())];
        for id in &all_acknowledged {
            let r = restarted.raw("GET", &format!("/Users/{id}"), &auth_header, None);
            assert_eq!(r.status, 200, "round {round}: acknowledged user {id} was lost by a kill");
        }
        let all = restarted.raw("GET", "/Users?count=1", &auth_header, None);
        assert!(all.json["totalResults"].as_u64().unwrap_or(0) >= all_acknowledged.len() as u64);
    }
    if rounds > 1 {
        eprintln!("{rounds} kills survived, {} acknowledged writes verified, 0 lost", all_acknowledged.len());
    }
}

/// The same on PostgreSQL, with replicas: one replica is killed with SIGKILL in the middle of concurrent
/// creates; every create it acknowledged is served by the replica that stayed up.
#[test]
fn acknowledged_creates_survive_kill_9_of_a_postgres_replica() {
    let url = pg_database();
    let db = std::path::Path::new(&url);
    let survivor = TestServer::start_on(db, &[], &[]);
    let (acknowledged, _) = creates_until_killed(db, Some(&survivor.auth()), Duration::from_millis(800));
    assert!(acknowledged.len() >= 20, "too few creates before the kill: {}", acknowledged.len());
    for id in &acknowledged {
        survivor.get(&format!("/Users/{id}")).expect(200);
    }
    assert!(survivor.get("/Users?count=1").total() >= acknowledged.len() as i64);
}
