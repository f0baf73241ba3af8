//! The PostgreSQL backend, for several identical replicas on one database. Every write is one READ COMMITTED
//! transaction whose read-check-write sequences hold row locks: the resource written is locked `FOR UPDATE`
//! (If-Match, version + 1: concurrent writers of one resource take turns), a new member `FOR SHARE` (it cannot
//! be deleted meanwhile; two groups made members of each other at once deadlock, and the loser runs again and
//! sees the cycle), a `uniqueness: server` extension value under an advisory lock on the value; userName and
//! displayName races are settled by their unique indexes (409). A transaction that fails on a serialisation
//! failure or a deadlock is run again from the start (the store's contract: writes are re-runnable closures).
//! Reads run in REPEATABLE READ, READ ONLY transactions: one consistent snapshot each.

use super::url::DatabaseUrl;
use super::{Conn, StoreOptions, PG_MIGRATIONS};
use crate::scim::error::{ScimError, ScimResult};
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{Pool, PooledConnection};
use diesel_migrations::MigrationHarness;
use std::time::Duration;

/// Key of the advisory lock held while migrating: replicas starting together migrate one at a time.
const MIGRATION_LOCK: i64 = 0x5c1d_0001;
/// Attempts at a write PostgreSQL could not serialise before the client gets 503 (with Retry-After).
const WRITE_ATTEMPTS: u32 = 12;

/// Makes the pool's connections, as the store's connection type.
struct PgManager {
    url: String,
}

impl diesel::r2d2::ManageConnection for PgManager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        let mut conn = PgConnection::establish(&self.url).map_err(diesel::r2d2::Error::ConnectionError)?;
        // No JIT: scimd's statements are short index lookups whose cost PostgreSQL can overestimate past
        // `jit_above_cost`; compiling then took 250 ms for a 4 ms query (a list page's groups).
        conn.batch_execute("SET jit = off").map_err(diesel::r2d2::Error::QueryError)?;
        Ok(Conn::Postgres(conn))
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        use diesel::r2d2::R2D2Connection;
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        use diesel::r2d2::R2D2Connection;
        std::thread::panicking() || conn.is_broken()
    }
}

pub struct PgStore {
    pool: Pool<PgManager>,
}

impl PgStore {
    /// Connects, applies pending migrations under an advisory lock, and opens the pool.
    pub fn open(url: &str, options: &StoreOptions) -> Result<PgStore, String> {
        let shown = DatabaseUrl::Postgres(url.to_string()).to_string();
        let url = &without_gss(url);
        let mut first = PgConnection::establish(url).map_err(|e| format!("cannot connect to {shown}: {e}"))?;
        migrate(&mut first).map_err(|e| format!("cannot migrate {shown}: {e}"))?;
        drop(first);
        let pool = Pool::builder()
            // Reads and writes share the pool; a few more than the read connections SQLite would get.
            .max_size(options.read_connections.max(1) + 4)
            .min_idle(Some(1))
            // No `SELECT 1` before every checkout (a round trip per request): a connection the server has
            // dropped fails its BEGIN instead, and `begin` takes another (see there).
            .test_on_check_out(false)
            .connection_timeout(options.pool_wait)
            .build(PgManager { url: url.to_string() })
            .map_err(|e| format!("cannot open a connection pool to {shown}: {e}"))?;
        Ok(PgStore { pool })
    }

    fn conn(&self) -> ScimResult<PooledConnection<PgManager>> {
        let started = std::time::Instant::now();
        let conn = self.pool.get();
        crate::metrics::metrics().read_pool_wait.observe(started.elapsed().as_secs_f64());
        conn.map_err(|e| {
            log::error!("database pool: {e}");
            ScimError::service_unavailable("database busy, retry later")
        })
    }

    pub fn ready(&self, wait: Duration) -> Result<(), String> {
        let mut conn = self.pool.get_timeout(wait).map_err(|e| format!("no database connection: {e}"))?;
        conn.batch_execute("SELECT 1").map_err(|e| format!("the database does not answer: {e}"))?;
        let Conn::Postgres(pg) = &mut *conn else { return Err("not a PostgreSQL connection".into()) };
        let applied: Vec<String> = pg
            .applied_migrations()
            .map_err(|e| format!("cannot read the applied migrations: {e}"))?
            .into_iter()
            .map(|v| v.to_string())
            .collect();
        super::compare_migrations(&applied, &super::known_versions::<diesel::pg::Pg>(&PG_MIGRATIONS)?)
    }

    pub fn read<T>(&self, f: impl FnOnce(&mut Conn) -> ScimResult<T>) -> ScimResult<T> {
        let mut conn = self.begin(READ)?;
        let outcome = f(&mut conn);
        finish(&mut conn, outcome)
    }

    /// A pooled connection inside a transaction opened by `begin` (a BEGIN with its isolation level: one round
    /// trip, where `Connection::transaction` and a SET TRANSACTION take two). A connection whose BEGIN fails
    /// (the server dropped it: a restart, a failover, an idle timeout) is marked broken, so that the pool
    /// discards it, and another is tried: nothing ran on it, so nothing is lost. At most one more time than the
    /// pool holds connections. Nested `transaction` calls become savepoints, as inside `Connection::transaction`.
    fn begin(&self, begin: &str) -> ScimResult<PooledConnection<PgManager>> {
        let mut left = self.pool.max_size() + 1;
        loop {
            let mut conn = self.conn()?;
            match AnsiTransactionManager::begin_transaction_sql(pg(&mut conn), begin) {
                Ok(()) => return Ok(conn),
                Err(e) => {
                    AnsiTransactionManager::transaction_manager_status_mut(pg(&mut conn)).set_in_error();
                    left -= 1;
                    if left == 0 {
                        return Err(e.into());
                    }
                    log::warn!("a database connection failed its BEGIN ({e}); trying another");
                }
            }
        }
    }

    pub fn write<T>(&self, f: impl Fn(&mut Conn) -> ScimResult<T>) -> ScimResult<T> {
        let mut attempt = 1;
        loop {
            let outcome = {
                let mut conn = self.begin(WRITE)?;
                let outcome = f(&mut conn);
                finish(&mut conn, outcome)
            };
            match outcome {
                Err(e) if is_conflict(&e) && attempt < WRITE_ATTEMPTS => {
                    // Another transaction won; ours left nothing behind. Back off a little, with jitter, and
                    // run the whole write again on fresh data.
                    let base = 2u64.saturating_pow(attempt.min(6));
                    let jitter = rand::random_range(0..=base);
                    std::thread::sleep(Duration::from_millis(base + jitter));
                    attempt += 1;
                }
                other => {
                    if other.is_ok() {
                        // One write per COMMIT here (no group commit on PostgreSQL).
                        crate::metrics::metrics().commit_batch.observe(1.0);
                    }
                    return other;
                }
            }
        }
    }
}

/// How reads and writes begin: reads see one snapshot; writes lock what their checks rely on (module doc).
const READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
const WRITE: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

fn pg(conn: &mut Conn) -> &mut PgConnection {
    match conn {
        Conn::Postgres(pg) => pg,
        Conn::Sqlite(_) => unreachable!("the PostgreSQL pool makes PostgreSQL connections only"),
    }
}

/// Ends the transaction `begin` opened: COMMIT when `outcome` is a success, ROLLBACK otherwise (a failed COMMIT
/// rolls back too, as in `Connection::transaction`). A connection whose ROLLBACK fails is left marked broken
/// by Diesel, and the pool discards it.
fn finish<T>(conn: &mut Conn, outcome: ScimResult<T>) -> ScimResult<T> {
    match outcome {
        Ok(value) => match AnsiTransactionManager::commit_transaction(pg(conn)) {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = AnsiTransactionManager::rollback_transaction(pg(conn));
                Err(e.into())
            }
        },
        Err(e) => {
            // The error that ended the transaction is the one to report, not a failed ROLLBACK's.
            let _ = AnsiTransactionManager::rollback_transaction(pg(conn));
            Err(e)
        }
    }
}

/// `url` with GSSAPI encryption off unless it asks for it (`gssencmode`): libpq's default (`prefer`) loads
/// Kerberos for every connection, and a pool thread still inside Kerberos when the process exits aborts it
/// (`k5_mutex_lock` assertion). TLS (`sslmode`) is unaffected.
fn without_gss(url: &str) -> String {
    if url.contains("gssencmode=") {
        return url.to_string();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}gssencmode=disable")
}

/// Applies pending migrations while holding the migration advisory lock.
fn migrate(conn: &mut PgConnection) -> Result<(), String> {
    conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).map_err(|e| e.to_string())?;
    let result = conn.run_pending_migrations(PG_MIGRATIONS).map(|_| ()).map_err(|e| e.to_string());
    let unlocked =
        conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).map_err(|e| e.to_string());
    result.and(unlocked)
}

/// The detail of the error a serialisation failure becomes (see `From<diesel::result::Error>`).
pub const CONFLICT_DETAIL: &str = "concurrent writes conflicted and could not be serialised; retry the request";

/// Whether `e` is a write PostgreSQL could not serialise (SQLSTATE 40001) or broke a deadlock with (40P01),
/// which is safe to run again.
pub fn is_conflict(e: &ScimError) -> bool {
    e.status == 503 && e.detail == CONFLICT_DETAIL
}

#[cfg(test)]
mod tests {
    #[test]
    fn gss_is_off_unless_asked_for() {
        assert_eq!(super::without_gss("postgres://h/db"), "postgres://h/db?gssencmode=disable");
        assert_eq!(
            super::without_gss("postgres://h/db?sslmode=require"),
            "postgres://h/db?sslmode=require&gssencmode=disable"
        );
        assert_eq!(super::without_gss("postgres://h/db?gssencmode=require"), "postgres://h/db?gssencmode=require");
    }
}
