//! Slowing down repeated failed authentication from one client address: after `limit` failures within
//! `window`, further failures from that address are answered 429 with `Retry-After` (until the window ends)
//! instead of 401. A valid credential is always checked and served first, so nobody is locked out by someone
//! else's failures, even behind the same address. Memory is bounded: at most `MAX_TRACKED` addresses are
//! remembered; expired ones are dropped first, and if all are live the oldest goes.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most client addresses tracked at once.
pub const MAX_TRACKED: usize = 10_000;

/// The whole seconds a throttled client is told to wait (at least 1), and a response carrying them as
/// `Retry-After`.
pub fn retry_after(wait: Duration, response: impl FnOnce(u64) -> actix_web::HttpResponse) -> actix_web::HttpResponse {
    let secs = wait.as_secs().max(1);
    let mut r = response(secs);
    r.headers_mut().insert(actix_web::http::header::RETRY_AFTER, actix_web::http::header::HeaderValue::from(secs));
    r
}

/// Failures counted per key: a client address (SCIM authentication), or a client id (the token endpoint).
#[derive(Debug)]
pub struct Throttle<K = IpAddr> {
    limit: u32,
    window: Duration,
    failures: Mutex<HashMap<K, (u32, Instant)>>,
}

impl<K: Eq + Hash + Clone> Throttle<K> {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { limit: limit.max(1), window, failures: Mutex::new(HashMap::new()) }
    }

    /// Records a failed authentication under `key`. Returns how long the client should wait when it is over
    /// the limit (the answer is then 429 with `Retry-After`), None while it may still get a plain 401.
    pub fn failed(&self, key: K) -> Option<Duration> {
        self.failed_at(key, Instant::now())
    }

    fn failed_at(&self, key: K, now: Instant) -> Option<Duration> {
        let Ok(mut failures) = self.failures.lock() else { return None };
        if failures.len() >= MAX_TRACKED && !failures.contains_key(&key) {
            let window = self.window;
            failures.retain(|_, (_, since)| now.duration_since(*since) < window);
            if failures.len() >= MAX_TRACKED {
                if let Some(oldest) = failures.iter().min_by_key(|(_, (_, since))| *since).map(|(k, _)| k.clone()) {
                    failures.remove(&oldest);
                }
            }
        }
        let entry = failures.entry(key).or_insert((0, now));
        if now.duration_since(entry.1) >= self.window {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
        (entry.0 > self.limit).then(|| self.window.saturating_sub(now.duration_since(entry.1)))
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.failures.lock().map(|f| f.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_limit_within_the_window_then_reset() {
        let t = Throttle::new(3, Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let start = Instant::now();
        assert_eq!(t.failed_at(ip, start), None);
        assert_eq!(t.failed_at(ip, start), None);
        assert_eq!(t.failed_at(ip, start), None);
        let wait = t.failed_at(ip, start + Duration::from_secs(10)).unwrap();
        assert_eq!(wait, Duration::from_secs(50));
        // Another address is not affected.
        assert_eq!(t.failed_at("192.0.2.2".parse().unwrap(), start), None);
        // A new window starts afresh.
        assert_eq!(t.failed_at(ip, start + Duration::from_secs(61)), None);
    }

    #[test]
    fn keyed_by_client_id() {
        let t = Throttle::<String>::new(2, Duration::from_secs(60));
        let start = Instant::now();
        assert_eq!(t.failed_at("client-a".into(), start), None);
        assert_eq!(t.failed_at("client-a".into(), start), None);
        assert_eq!(t.failed_at("client-a".into(), start), Some(Duration::from_secs(60)));
        assert_eq!(t.failed_at("client-b".into(), start), None, "another client id is counted apart");
    }

    #[test]
    fn memory_is_bounded() {
        let t = Throttle::new(1, Duration::from_secs(60));
        let start = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 500) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            t.failed_at(ip, start + Duration::from_millis(u64::from(i)));
        }
        assert!(t.tracked() <= MAX_TRACKED, "{}", t.tracked());
    }
}
