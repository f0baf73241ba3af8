//! `scimd backup FILE` against a running server with writes going on: the copy is consistent, verified, and
//! restores with every write acknowledged before the backup began.
mod common;

use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[test]
fn a_backup_taken_under_writes_restores_every_acknowledged_write() {
    let dir = TempDir::new("backup");
    let srv = TestServer::start_on(&dir.db(), &[], &[]);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (base, auth, acknowledged, stop) = (srv.url(""), srv.auth(), acknowledged.clone(), stop.clone());
        std::thread::spawn(move || {
            let agent = agent();
            let headers = [("Authorization", auth.as_str()), ("Content-Type", SCIM_JSON)];
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && n < 5000 {
                let body = user_body(&format!("w{n}@example.com")).to_string();
                let r = raw(&agent, "POST", &format!("{base}/Users"), &headers, Some(body.as_bytes()));
                assert_eq!(r.status, 201, "{r:#?}");
                acknowledged.lock().unwrap().push(id_of(&r.json));
                n += 1;
            }
        })
    };
    while acknowledged.lock().unwrap().len() < 50 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let copy = dir.path.join("copy.db");
    let (status, out, err) = run_cli(&dir.db(), &["backup", copy.to_str().unwrap()]);
    let after_backup = acknowledged.lock().unwrap().len();
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert!(status.success(), "{err}");
    assert!(out.contains("integrity ok"), "{out}");
    assert!(after_backup > before.len(), "writes went on during the backup");
    assert!(err.trim().is_empty(), "no progress drawn when stderr is not a terminal: {err}");

    // Restore: serve the copy (its tokens come with it).
    let auth = srv.auth();
    drop(srv);
    let restored = TestServer::start_on(&copy, &[], &[]);
    let header = [("Authorization", auth.as_str())];
    for id in &before {
        assert_eq!(restored.raw("GET", &format!("/Users/{id}"), &header, None).status, 200, "lost {id}");
    }
    let total = restored.raw("GET", "/Users?count=0", &header, None).json["totalResults"].as_u64().unwrap();
    assert!(total >= before.len() as u64);
    let n = out.split(": ").nth(1).and_then(|s| s.split(' ').next()).and_then(|s| s.parse::<u64>().ok());
    assert_eq!(n, Some(total), "the report counts what the copy holds: {out}");
}

#[test]
fn backup_refuses_to_overwrite_and_leaves_nothing_half_written() {
    let dir = TempDir::new("backup-refuse");
    let srv = TestServer::start_on(&dir.db(), &[], &[]);
    srv.create_user("a@example.com");
    let copy = dir.path.join("copy.db");
    std::fs::write(&copy, b"precious").unwrap();
    let (status, _, err) = run_cli(&dir.db(), &["backup", copy.to_str().unwrap()]);
    assert!(!status.success() && err.contains("--overwrite"), "{err}");
    assert_eq!(std::fs::read(&copy).unwrap(), b"precious");
    let (status, out, err) = run_cli(&dir.db(), &["backup", copy.to_str().unwrap(), "--overwrite"]);
    assert!(status.success(), "{err}");
    assert!(out.contains("1 users"), "{out}");
    // An unwritable place: a clean error, nothing left behind.
    let nowhere = dir.path.join("no/such/dir/copy.db");
    let (status, _, err) = run_cli(&dir.db(), &["backup", nowhere.to_str().unwrap()]);
    assert!(!status.success() && err.contains("copy failed"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(&dir.path)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let (status, _, err) = run_cli(&dir.db(), &["backup", dir.db().to_str().unwrap(), "--overwrite"]);
    assert!(!status.success() && err.contains("database itself"), "{err}");
    let missing = dir.path.join("missing.db");
    let (status, _, err) = run_cli(&missing, &["backup", copy.to_str().unwrap(), "--overwrite"]);
    assert!(!status.success() && err.contains("no database"), "{err}");
}
