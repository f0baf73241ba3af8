//! HTTPS over the real binary: a certificate made inside the test (rcgen), a verified handshake and SCIM
//! calls over it, renewals picked up while serving (file change and SIGHUP) without dropping connections, and
//! bad certificate files refused at start with one line.
mod common;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Pki { ca: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap() }
    }

    /// A leaf for localhost and 127.0.0.1, signed by the CA: (certificate PEM, key PEM, certificate DER).
    fn leaf(&self) -> (String, String, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let cert = params.signed_by(&key, &self.ca).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }

    fn client(&self, versions: &[&'static rustls::SupportedProtocolVersion]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(versions)
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

fn write_pair(dir: &TempDir, cert: &str, key: &str) -> (String, String) {
    let (c, k) = (dir.path.join("cert.pem"), dir.path.join("key.pem"));
    // Written aside and renamed in, as certbot does: never a half-written file.
    std::fs::write(dir.path.join("cert.tmp"), cert).unwrap();
    std::fs::write(dir.path.join("key.tmp"), key).unwrap();
    std::fs::rename(dir.path.join("key.tmp"), &k).unwrap();
    std::fs::rename(dir.path.join("cert.tmp"), &c).unwrap();
    (c.to_string_lossy().into_owned(), k.to_string_lossy().into_owned())
}

/// One TLS connection, verified against the test CA for the name "localhost".
struct Conn {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl Conn {
    fn open(port: u16, config: Arc<rustls::ClientConfig>) -> std::io::Result<Conn> {
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(Conn { tls })
    }

    fn peer_certificate(&self) -> Vec<u8> {
        self.tls.conn.peer_certificates().and_then(|c| c.first()).map(|c: &CertificateDer| c.to_vec()).unwrap()
    }

    fn version(&self) -> rustls::ProtocolVersion {
        self.tls.conn.protocol_version().unwrap()
    }

    /// A GET on the kept-alive connection: (status, body).
    fn get(&mut self, path: &str, auth: &str) -> (u16, String) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\n\r\n");
        self.tls.write_all(request.as_bytes()).unwrap();
        let mut reader = BufReader::new(&mut self.tls);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        let status: u16 = status_line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap();
                }
                if k.eq_ignore_ascii_case("transfer-encoding") && v.trim().eq_ignore_ascii_case("chunked") {
                    chunked = true;
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            // Streamed responses (lists) come in chunks: size line, data, CRLF; a 0-size chunk ends them.
            loop {
                let mut size = String::new();
                reader.read_line(&mut size).unwrap();
                let n = usize::from_str_radix(size.trim(), 16).unwrap();
                let mut chunk = vec![0u8; n + 2];
                reader.read_exact(&mut chunk).unwrap();
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(length, 0);
            reader.read_exact(&mut body).unwrap();
        }
        (status, String::from_utf8(body).unwrap())
    }
}

fn port_of(srv: &TestServer) -> u16 {
    srv.origin.rsplit(':').next().unwrap().parse().unwrap()
}

fn start_tls(db: &Path, cert: &str, key: &str) -> TestServer {
    TestServer::start_on(db, &["--tls-cert", cert, "--tls-key", key], &[])
}

#[test]
fn https_with_a_verified_certificate() {
    let pki = Pki::new();
    let dir = TempDir::new("tls");
    let (cert_pem, key_pem, der) = pki.leaf();
    let (cert, key) = write_pair(&dir, &cert_pem, &key_pem);
    let srv = start_tls(&dir.db(), &cert, &key);
    assert!(srv.printed_base.starts_with("https://127.0.0.1:"), "{}", srv.printed_base);
    let port = port_of(&srv);
    let mut conn = Conn::open(port, pki.client(&[&rustls::version::TLS13])).expect("verified TLS 1.3 handshake");
    assert_eq!(conn.peer_certificate(), der);
    assert_eq!(conn.version(), rustls::ProtocolVersion::TLSv1_3);
    let (status, body) = conn.get("/scim/v2/Users?count=1", &srv.auth());
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ListResponse"), "{body}");
    let (status, body) = conn.get("/scim/v2/Users?count=1", "Bearer wrong");
    assert_eq!(status, 401, "{body}");
    // TLS 1.2 is served too.
    let conn12 = Conn::open(port, pki.client(&[&rustls::version::TLS12])).expect("TLS 1.2 handshake");
    assert_eq!(conn12.version(), rustls::ProtocolVersion::TLSv1_2);
    // A client that does not trust the CA is refused.
    let stranger = Pki::new();
    assert!(Conn::open(port, stranger.client(&[&rustls::version::TLS13])).is_err());
    // Plain HTTP on the TLS port gets no SCIM answer.
    let plain = agent().get(&format!("http://127.0.0.1:{port}/scim/v2/Users")).call();
    assert!(plain.is_err(), "a plain HTTP request on the TLS port gets no HTTP answer");
}

#[test]
fn renewals_are_picked_up_while_serving_without_dropping_connections() {
    let pki = Pki::new();
    let dir = TempDir::new("tls-renew");
    let (cert_pem, key_pem, first) = pki.leaf();
    let (cert, key) = write_pair(&dir, &cert_pem, &key_pem);
    let srv = start_tls(&dir.db(), &cert, &key);
    let port = port_of(&srv);
    let client = pki.client(&[&rustls::version::TLS13, &rustls::version::TLS12]);
    let mut kept = Conn::open(port, client.clone()).unwrap();
    assert_eq!(kept.get("/scim/v2/ServiceProviderConfig", &srv.auth()).0, 200);
    assert_eq!(kept.peer_certificate(), first);

    // A renewal written to the files (certbot's way) is served to new connections within seconds.
    let (cert_pem, key_pem, second) = pki.leaf();
    write_pair(&dir, &cert_pem, &key_pem);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Conn::open(port, client.clone()).unwrap().peer_certificate() != second {
        assert!(Instant::now() < deadline, "the renewed certificate was not picked up");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The connection opened before the renewal still works (within the keep-alive time).
    assert_eq!(kept.get("/scim/v2/ServiceProviderConfig", &srv.auth()).0, 200);
    assert_eq!(kept.peer_certificate(), first, "its session goes on with the certificate it began with");

    // SIGHUP reloads at once.
    // Files written so that the watcher cannot tell they changed (same length, old modification time): only
    // the signal can make the server read them.
    let old_cert = std::fs::read_to_string(&cert).unwrap();
    let (old_key, old_time) =
        (std::fs::read_to_string(&key).unwrap(), std::fs::metadata(&cert).unwrap().modified().unwrap());
    let (cert_pem, key_pem, third) = (0..50)
        .map(|_| pki.leaf())
        .find(|(c, k, _)| c.len() == old_cert.len() && k.len() == old_key.len())
        .expect("a leaf of the same length");
    write_pair(&dir, &cert_pem, &key_pem);
    for f in [&cert, &key] {
        std::fs::File::options().write(true).open(f).unwrap().set_modified(old_time).unwrap();
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_ne!(Conn::open(port, client.clone()).unwrap().peer_certificate(), third, "not without the signal");
    // A connection in use across the reload (idle gaps stay well under the keep-alive time).
    let mut kept = Conn::open(port, client.clone()).unwrap();
    assert_eq!(kept.get("/scim/v2/ServiceProviderConfig", &srv.auth()).0, 200);
    let pid = srv.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Conn::open(port, client.clone()).unwrap().peer_certificate() != third {
        assert!(Instant::now() < deadline, "SIGHUP did not reload the certificate");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(kept.get("/scim/v2/ServiceProviderConfig", &srv.auth()).0, 200);

    // A renewal that does not load keeps the certificate in use, and says why.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n").unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let mut after = Conn::open(port, client.clone()).unwrap();
    assert_eq!(after.peer_certificate(), third);
    assert_eq!(after.get("/scim/v2/ServiceProviderConfig", &srv.auth()).0, 200);
    assert!(srv.stderr_text().contains("TLS certificate not reloaded"), "{}", srv.stderr_text());
}

#[test]
fn bad_certificate_files_stop_serve_with_one_line_naming_the_file() {
    let pki = Pki::new();
    let dir = TempDir::new("tls-bad");
    let (cert_pem, key_pem, _) = pki.leaf();
    let (_, other_key_pem, _) = pki.leaf();
    let (cert, key) = write_pair(&dir, &cert_pem, &key_pem);
    let other_key = dir.path.join("other-key.pem");
    std::fs::write(&other_key, other_key_pem).unwrap();
    let garbage = dir.path.join("garbage.pem");
    std::fs::write(&garbage, "hello").unwrap();
    let missing = dir.path.join("missing.pem").to_string_lossy().into_owned();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--tls-cert", &missing, "--tls-key", &key], "missing.pem"),
        (vec!["--tls-cert", &cert, "--tls-key", &missing], "missing.pem"),
        (vec!["--tls-cert", garbage.to_str().unwrap(), "--tls-key", &key], "garbage.pem"),
        (vec!["--tls-cert", &cert, "--tls-key", garbage.to_str().unwrap()], "garbage.pem"),
        (vec!["--tls-cert", &cert, "--tls-key", other_key.to_str().unwrap()], "does not belong"),
        (vec!["--tls-cert", &cert], "--tls-key"),
    ];
    for (args, want) in cases {
        let mut full = vec!["serve", "--bind", "127.0.0.1:0"];
        full.extend(args.iter().copied());
        let (status, _, err) = run_cli(&dir.db(), &full);
        assert!(!status.success(), "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        if want != "--tls-key" {
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        }
    }
}
