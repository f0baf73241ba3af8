//! HTTPS with rustls (TLS 1.2 and 1.3 only; no OpenSSL). The certificate and key are read from PEM files and
//! reloaded when the files change (checked every couple of seconds) or on SIGHUP, so a certbot/ACME renewal
//! needs no restart: connections already open keep their session, new handshakes get the new certificate. A
//! renewal that fails to load keeps the certificate in use and logs why.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

/// How often the certificate files are looked at.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// What identifies a file's content cheaply: its modification time and length.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Reads a certificate chain and its private key; every failure is one line naming the file.
fn load_pair(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read the TLS certificate {}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the TLS certificate {} is not valid PEM: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate (-----BEGIN CERTIFICATE-----) in {}", cert.display()));
    }
    let der =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("no usable private key in {}: {e}", key.display()))?;
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| format!("the private key in {} cannot be used: {e}", key.display()))?;
    let certified = CertifiedKey::new(certs, signing);
    certified.keys_match().map_err(|_| {
        format!("the private key in {} does not belong to the certificate in {}", key.display(), cert.display())
    })?;
    Ok(certified)
}

/// The server's certificate, swapped in place when the files change.
#[derive(Debug)]
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The file stamps the current certificate was loaded from.
    loaded_from: Mutex<(Stamp, Stamp)>,
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

impl ReloadingCert {
    /// Loads the pair, or says in one line what is wrong with which file.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<ReloadingCert>, String> {
        let provider = provider();
        let stamps = (stamp(cert), stamp(key));
        let certified = load_pair(cert, key, &provider)?;
        Ok(Arc::new(ReloadingCert {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            current: RwLock::new(Arc::new(certified)),
            loaded_from: Mutex::new(stamps),
        }))
    }

    /// Loads the files again if they changed since the last load (or always, when `force`). A pair that does
    /// not load leaves the certificate in use as it is. Ok(true) when a new certificate is in use.
    pub fn reload(&self, force: bool) -> Result<bool, String> {
        let stamps = (stamp(&self.cert), stamp(&self.key));
        let mut loaded_from = self.loaded_from.lock().map_err(|_| "certificate state poisoned".to_string())?;
        if !force && *loaded_from == stamps {
            return Ok(false);
        }
        // Remember the attempt either way: a broken file is reported once, not every round.
        *loaded_from = stamps;
        let certified = load_pair(&self.cert, &self.key, &self.provider)?;
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(certified);
        }
        Ok(true)
    }

    /// Reloads and logs the outcome.
    pub fn reload_and_log(&self, force: bool) {
        match self.reload(force) {
            Ok(true) => log::info!("TLS certificate reloaded from {}", self.cert.display()),
            Ok(false) => {}
            Err(e) => log::error!("TLS certificate not reloaded, the previous one stays in use: {e}"),
        }
    }

    /// Looks at the files every `every`, on a thread of its own, while the certificate is in use.
    pub fn watch(self: &Arc<Self>, every: Duration) -> Result<(), String> {
        let weak = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("scimd-tls".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                let Some(cert) = weak.upgrade() else { return };
                cert.reload_and_log(false);
            })
            .map(|_| ())
            .map_err(|e| format!("cannot start the certificate watcher: {e}"))
    }

    /// The rustls configuration serving this certificate: TLS 1.3 and 1.2, HTTP/1.1.
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, String> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}
