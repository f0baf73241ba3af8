//! The admin's token workflow through the real `scimd token …` subcommands against a temp
//! database, and its effect on a running server (issue 2, item 3).
mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// GET /Users with this token in Bearer style; returns the status.
fn status_with(srv: &TestServer, token: &str) -> u16 {
    let auth = format!("Bearer {token}");
    srv.raw("GET", "/Users", &[("Authorization", &auth)], None).status
}

/// A revoked or superseded token is refused within a second on a running server (its verdict cache's
/// lifetime); polls until then and says how long it took.
#[track_caller]
fn refused_soon(srv: &TestServer, token: &str) -> Duration {
    let started = Instant::now();
    loop {
        match status_with(srv, token) {
            401 => return started.elapsed(),
            200 if started.elapsed() < Duration::from_secs(3) => std::thread::sleep(Duration::from_millis(50)),
            other => panic!("token still answered {other} after {:?}", started.elapsed()),
        }
    }
}

fn list(db: &Path) -> String {
    let (st, out, err) = run_cli(db, &["token", "list"]);
    assert!(st.success(), "token list failed: {err}");
    out
}

/// The whitespace-separated fields of the `token list` row whose name column is `name`.
fn row(list_out: &str, name: &str) -> Vec<String> {
    let rows: Vec<Vec<String>> = list_out
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .filter(|f| f.get(1).map(String::as_str) == Some(name))
        .collect();
    assert_eq!(rows.len(), 1, "expected one row named {name:?} in:\n{list_out}");
    rows[0].clone()
}

/// All rows named `name`, each as its whole line.
fn rows_named(list_out: &str, name: &str) -> Vec<String> {
    list_out.lines().filter(|l| l.split_whitespace().nth(1) == Some(name)).map(String::from).collect()
}

fn state_of_line(line: &str) -> &str {
    line.split_whitespace().last().unwrap_or_default()
}

#[test]
fn migrate_creates_the_database_and_exits_zero() {
    let dir = TempDir::new("migrate");
    let db = dir.db();
    let (st, out, err) = run_cli(&db, &["migrate"]);
    assert!(st.success(), "migrate: {st:?}\n{out}\n{err}");
    assert!(db.exists(), "database file not created");
    // Idempotent.
    let (st, _, err) = run_cli(&db, &["migrate"]);
    assert!(st.success(), "second migrate: {err}");
}

#[test]
fn database_flag_after_subcommand_and_env_var_are_accepted() {
    let dir = TempDir::new("dbflag");
    let db = dir.db();
    let mut cmd = scimd_command();
    cmd.args(["token", "create", "--name", "late"]).arg("--database").arg(&db);
    let (st, out, err) = run_command(cmd);
    assert!(st.success(), "--database after subcommand: {err}");
    token_from_stdout(&out);

    let mut cmd = scimd_command();
    cmd.env("SCIMD_DATABASE", &db).args(["token", "list"]);
    let (st, out, err) = run_command(cmd);
    assert!(st.success(), "SCIMD_DATABASE: {err}");
    row(&out, "late");
}

#[test]
fn token_create_prints_a_strong_prefixed_token_once() {
    let dir = TempDir::new("create");
    let db = dir.db();
    let a = cli_create_token(&db, "okta", &[]);
    let b = cli_create_token(&db, "other", &[]);
    assert_ne!(a, b);
    for t in [&a, &b] {
        let secret = t.trim_start_matches("scimd_");
        // >= 256 bits: at least 43 base64url characters (or 64 hex).
        assert!(secret.len() >= 43, "token too short: {t}");
        assert!(
            secret.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "token has characters unsafe for a header paste: {t}"
        );
    }
}

#[test]
fn token_list_shows_columns_and_state_but_never_a_secret() {
    let dir = TempDir::new("list");
    let db = dir.db();
    let t = cli_create_token(&db, "okta", &[]);
    let _e = cli_create_token(&db, "temp", &["--expires-in", "90d"]);
    let out = list(&db);
    let header = out.lines().next().unwrap_or_default().to_ascii_lowercase();
    for col in ["id", "name", "created", "last used", "expires", "state"] {
        assert!(header.contains(col), "column {col:?} missing from header {header:?}");
    }
    assert_eq!(state_of_line(&rows_named(&out, "okta")[0]), "active");
    assert_eq!(state_of_line(&rows_named(&out, "temp")[0]), "active");
    assert!(!out.contains(&t), "token list printed a token:\n{out}");
    assert!(!out.contains(t.trim_start_matches("scimd_")));
    assert!(!out.contains("scimd_"), "token list printed something token-like:\n{out}");
}

#[test]
fn created_token_works_and_revoke_by_name_stops_it() {
    let srv = TestServer::start();
    let t = cli_create_token(&srv.db, "okta", &[]);
    assert_eq!(status_with(&srv, &t), 200);
    let (st, out, err) = run_cli(&srv.db, &["token", "revoke", "okta"]);
    assert!(st.success(), "revoke: {out}\n{err}");
    assert!(refused_soon(&srv, &t) <= Duration::from_millis(1500), "revocation takes effect within a second");
    // The default token is untouched.
    assert_eq!(status_with(&srv, &srv.token), 200);
    assert_eq!(state_of_line(&rows_named(&list(&srv.db), "okta")[0]), "revoked");
}

#[test]
fn revoke_by_id() {
    let srv = TestServer::start();
    let t = cli_create_token(&srv.db, "byid", &[]);
    assert_eq!(status_with(&srv, &t), 200);
    let id = row(&list(&srv.db), "byid")[0].clone();
    let (st, _, err) = run_cli(&srv.db, &["token", "revoke", &id]);
    assert!(st.success(), "revoke by id {id}: {err}");
    assert!(refused_soon(&srv, &t) <= Duration::from_millis(1500));
}

#[test]
fn unknown_name_or_id_fails_with_a_message() {
    let dir = TempDir::new("unknown");
    let db = dir.db();
    cli_create_token(&db, "okta", &[]);
    for args in [
        vec!["token", "revoke", "nobody"],
        vec!["token", "rotate", "nobody"],
        vec!["token", "revoke", "00000000-0000-0000-0000-000000000000"],
    ] {
        let (st, out, err) = run_cli(&db, &args);
        assert!(!st.success(), "{args:?} should fail; stdout {out}");
        assert!(!err.trim().is_empty(), "{args:?} failed without a message");
        assert!(!out.contains("scimd_"), "{args:?} printed a token: {out}");
    }
    // Still active.
    assert_eq!(state_of_line(&rows_named(&list(&db), "okta")[0]), "active");
}

#[test]
fn rotate_with_grace_keeps_both_tokens_working() {
    let srv = TestServer::start();
    let old = cli_create_token(&srv.db, "okta", &[]);
    let (st, out, err) = run_cli(&srv.db, &["token", "rotate", "okta", "--grace", "24h"]);
    assert!(st.success(), "rotate: {err}");
    let new = token_from_stdout(&out);
    assert_ne!(old, new);
    assert_eq!(status_with(&srv, &old), 200, "old token must work during the grace");
    assert_eq!(status_with(&srv, &new), 200, "new token must work");
    let l = list(&srv.db);
    let states: Vec<&str> = l.lines().skip(1).map(state_of_line).collect();
    assert!(states.contains(&"expiring"), "the rotated token should show as expiring during the grace:\n{l}");
    // The server's `default` token plus the successor are active; the old one is expiring.
    assert_eq!(states.iter().filter(|s| **s == "active").count(), 2, "{l}");
    assert_eq!(states.iter().filter(|s| **s == "expiring").count(), 1, "{l}");
    assert!(!l.contains(&new) && !l.contains(&old));
}

#[test]
fn rotate_with_zero_grace_ends_the_old_token_at_once() {
    let srv = TestServer::start();
    let old = cli_create_token(&srv.db, "okta", &[]);
    assert_eq!(status_with(&srv, &old), 200);
    let (st, out, err) = run_cli(&srv.db, &["token", "rotate", "okta", "--grace", "0s"]);
    assert!(st.success(), "rotate: {err}");
    let new = token_from_stdout(&out);
    assert!(refused_soon(&srv, &old) <= Duration::from_millis(1500), "the old token stops within a second");
    assert_eq!(status_with(&srv, &new), 200);
}

#[test]
fn expired_token_is_rejected() {
    let srv = TestServer::start();
    let t0 = Instant::now();
    let t = cli_create_token(&srv.db, "short", &["--expires-in", "2s"]);
    let fresh = status_with(&srv, &t);
    if t0.elapsed() < Duration::from_millis(1500) {
        assert_eq!(fresh, 200, "token must work before it expires");
    }
    let wait = Duration::from_millis(2600).saturating_sub(t0.elapsed());
    std::thread::sleep(wait);
    assert_eq!(status_with(&srv, &t), 401, "expired token accepted");
    let l = list(&srv.db);
    assert_eq!(state_of_line(&rows_named(&l, "short")[0]), "expired", "{l}");
    assert_eq!(status_with(&srv, &srv.token), 200);
}

#[test]
fn server_mints_a_new_default_when_no_token_is_usable() {
    let dir = TempDir::new("remint");
    let db = dir.db();
    let first = TestServer::start_on(&db, &[], &[]);
    let old = first.token.clone();
    drop(first);
    let (st, _, err) = run_cli(&db, &["token", "revoke", "default"]);
    assert!(st.success(), "revoke default: {err}");
    let second = TestServer::start_on(&db, &[], &[]);
    assert!(second.token.starts_with("scimd_"), "no new token minted");
    assert_ne!(second.token, old);
    assert_eq!(status_with(&second, &old), 401);
    assert_eq!(status_with(&second, &second.token), 200);
}

#[test]
fn server_with_a_cli_token_mints_none() {
    let dir = TempDir::new("nomint");
    let db = dir.db();
    let t = cli_create_token(&db, "okta", &[]);
    let srv = TestServer::start_on(&db, &[], &[]);
    assert_eq!(srv.token, "", "a token was minted although one is usable");
    assert_eq!(status_with(&srv, &t), 200);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn database_files_contain_no_token_in_clear() {
    let srv = TestServer::start();
    let a = cli_create_token(&srv.db, "okta", &[]);
    let (st, out, _) = run_cli(&srv.db, &["token", "rotate", "okta", "--grace", "1h"]);
    assert!(st.success());
    let b = token_from_stdout(&out);
    // Use every token so last-used timestamps are written too.
    for t in [&srv.token, &a, &b] {
        assert_eq!(status_with(&srv, t), 200);
        let r = srv.raw("GET", "/Users", &[("Authorization", t)], None);
        r.expect(200);
    }
    let files = database_files(&srv.db);
    for (path, bytes) in &files {
        for t in [&srv.token, &a, &b] {
            let secret = t.trim_start_matches("scimd_");
            assert!(!contains(bytes, t.as_bytes()), "{path} contains a token in clear");
            assert!(!contains(bytes, secret.as_bytes()), "{path} contains a token secret");
            // Nor a long slice of the secret.
            let part = &secret.as_bytes()[..secret.len().min(24)];
            assert!(!contains(bytes, part), "{path} holds part of a secret");
        }
    }
    assert!(!files.is_empty(), "no database file found at {}", srv.db.display());
}

#[test]
fn token_list_records_last_use() {
    let srv = TestServer::start();
    let t = cli_create_token(&srv.db, "okta", &[]);
    let before = rows_named(&list(&srv.db), "okta")[0].clone();
    assert_eq!(status_with(&srv, &t), 200);
    // Last-used writes may be batched; give them a moment.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let after = rows_named(&list(&srv.db), "okta")[0].clone();
        if after != before {
            break;
        }
        assert!(Instant::now() < deadline, "token list's last-used did not change after a request:\n{before}\n{after}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_shuts_the_server_down_gracefully() {
    let dir = TempDir::new("sigterm");
    let mut cmd = scimd_command();
    cmd.arg("--database")
        .arg(dir.db())
        .arg("serve")
        .env("SCIMD_BIND", "127.0.0.1:0") // the env form of --bind
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("listening on") => break,
            Some(Ok(_)) => {}
            _ => panic!("server did not start"),
        }
        assert!(Instant::now() < deadline);
    }
    let st = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server ignored SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful shutdown exits 0, got {status:?}");
}

#[test]
fn invalid_durations_are_refused() {
    let dir = TempDir::new("baddur");
    let db = dir.db();
    for d in ["5 parsecs", "-1d", "abc", ""] {
        let (st, out, err) = run_cli(&db, &["token", "create", "--name", "x", "--expires-in", d]);
        assert!(!st.success(), "--expires-in {d:?} accepted: {out}");
        assert!(!err.trim().is_empty());
        assert!(!out.contains("scimd_"), "a token was minted for {d:?}");
    }
    let ok = cli_create_token(&db, "okta", &[]);
    let (st, out, _) = run_cli(&db, &["token", "rotate", "okta", "--grace", "soon"]);
    assert!(!st.success(), "--grace soon accepted: {out}");
    // The failed rotation left the token as it was.
    assert_eq!(state_of_line(&rows_named(&list(&db), "okta")[0]), "active");
    assert!(!list(&db).contains(&ok));
    let names: Vec<String> =
        list(&db).lines().skip(1).filter_map(|l| l.split_whitespace().nth(1).map(String::from)).collect();
    assert!(!names.contains(&"x".to_string()), "a failed create stored a token: {names:?}");
}

/// After a rotation the old token and its successor share a name: `token revoke NAME` refuses to guess and
/// lists both ids; revoking by id works, and then the name is unambiguous again.
#[test]
fn revoke_by_a_name_two_usable_tokens_share_is_refused() {
    let srv = TestServer::start();
    let old = cli_create_token(&srv.db, "okta", &[]);
    let (st, out, err) = run_cli(&srv.db, &["token", "rotate", "okta", "--grace", "1h"]);
    assert!(st.success(), "rotate: {err}");
    let new = token_from_stdout(&out);
    let ids: Vec<String> =
        rows_named(&list(&srv.db), "okta").iter().map(|l| l.split_whitespace().next().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 2);

    let (st, out, err) = run_cli(&srv.db, &["token", "revoke", "okta"]);
    assert!(!st.success(), "an ambiguous name must be refused; stdout {out}");
    for id in &ids {
        assert!(err.contains(id.as_str()), "the refusal lists {id}: {err}");
    }
    assert!(err.contains("by its id"), "{err}");
    assert_eq!(status_with(&srv, &old), 200, "nothing was revoked");
    assert_eq!(status_with(&srv, &new), 200);

    // The old one (now "expiring") by id; then the name names one token.
    let lines = rows_named(&list(&srv.db), "okta");
    let expiring = lines.iter().find(|l| state_of_line(l) == "expiring").expect("the old token is expiring");
    let old_id = expiring.split_whitespace().next().unwrap();
    let (st, _, err) = run_cli(&srv.db, &["token", "revoke", old_id]);
    assert!(st.success(), "revoke by id: {err}");
    assert!(refused_soon(&srv, &old) <= Duration::from_millis(1500));
    assert_eq!(status_with(&srv, &new), 200);
    let (st, _, err) = run_cli(&srv.db, &["token", "revoke", "okta"]);
    assert!(st.success(), "revoke the one usable okta token by name: {err}");
    assert!(refused_soon(&srv, &new) <= Duration::from_millis(1500));
}

/// `--database` is dispatched on its scheme: a path or `sqlite://FILE` is a SQLite file; an unknown scheme (a typo
/// of `postgres://`) is an error that creates nothing, rather than a new SQLite file named after the URL.
#[test]
fn database_urls_are_dispatched_on_their_scheme() {
    let dir = TempDir::new("db-url");
    let file = dir.db();
    let url = format!("sqlite://{}", file.display());
    let (st, out, err) = run_command({
        let mut c = scimd_command();
        c.args(["--database", &url, "migrate"]);
        c
    });
    assert!(st.success(), "{err}");
    assert!(out.contains(&format!("database {} is up to date", file.display())), "{out}");
    assert!(file.exists());
    let cwd = TempDir::new("db-url-typo");
    for bad in ["postgress://scimd@db/scimd", "mysql://db/scimd"] {
        let (st, _, err) = run_command({
            let mut c = scimd_command();
            c.current_dir(&cwd.path).args(["--database", bad, "token", "list"]);
            c
        });
        assert!(!st.success(), "{bad} accepted");
        assert!(err.contains("unknown database scheme"), "{bad}: {err}");
        assert_eq!(std::fs::read_dir(&cwd.path).unwrap().count(), 0, "{bad}: a file was created");
    }
}
