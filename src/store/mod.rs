//! Storage: Diesel over SQLite. Every SQL text and every SQL-dialect difference lives under this module,
//! so a PostgreSQL backend can be added here without touching the protocol or HTTP layers.
//!
//! Connections: a pool of read connections (`query_only`) and a single writer connection. SQLite allows one
//! writer at a time anyway; queueing writers on our own pool is cheaper and fairer than letting several
//! connections spin on SQLITE_BUSY, and every write transaction starts with `BEGIN IMMEDIATE` so a
//! read-modify-write never has to upgrade its lock halfway.

pub mod filter_sql;
pub mod groups;
pub mod resources;
pub mod schema;
pub mod tokens;
pub mod users;

use crate::scim::error::{ScimError, ScimResult};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type Conn = SqliteConnection;
type SqlitePool = Pool<ConnectionManager<SqliteConnection>>;

/// Fixed-width UTC timestamps ("2026-11-24T10:00:00.123Z"), so that string order is time order in SQL.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format(TIMESTAMP_FORMAT).to_string()
}

/// The form in which case-insensitive hot attributes (userName, displayName) are stored and looked up:
/// lower case in full Unicode, so "ZOË" and "zoë" are one userName (RFC 7643 §4.1.1: caseExact=false).
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

pub fn now_timestamp() -> String {
    timestamp(chrono::Utc::now())
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub read_connections: u32,
    /// Per-connection page cache, in KiB. Bounds memory whatever the table size.
    pub cache_kib: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { read_connections: 4, cache_kib: 16 * 1024 }
    }
}

#[derive(Debug)]
struct Pragmas {
    read_only: bool,
    cache_kib: u32,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        // synchronous=FULL: in WAL mode NORMAL may lose the last acknowledged commits on power loss; FULL
        // fsyncs the WAL on every commit so an answered 201/200 survives a crash (~0.2 ms per commit here).
        let mut sql = format!(
            "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; \
             PRAGMA cache_size = -{}; PRAGMA temp_store = MEMORY;",
            self.cache_kib
        );
        if self.read_only {
            sql.push_str(" PRAGMA query_only = ON;");
        }
        conn.batch_execute(&sql).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The bundled SQLite keeps SQLITE_DEFAULT_MEMSTATUS=1, a process-wide mutex on every allocation that made
/// two readers slower than one. It can only be switched off before SQLite initialises.
fn disable_sqlite_memstatus() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called once, before any connection is opened by this process; if SQLite was already
        // initialised the call returns SQLITE_MISUSE and changes nothing.
        unsafe {
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0);
        }
    });
}

#[derive(Clone)]
pub struct Store {
    read: SqlitePool,
    write: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &str, options: &StoreOptions) -> Result<Store, String> {
        disable_sqlite_memstatus();
        if path.is_empty() {
            return Err("database path is empty".into());
        }
        // Page size must be set before the first table exists; WAL mode is persistent in the file.
        let mut first = SqliteConnection::establish(path).map_err(|e| format!("cannot open database {path}: {e}"))?;
        first
            .batch_execute("PRAGMA busy_timeout = 10000; PRAGMA page_size = 8192; PRAGMA journal_mode = WAL;")
            .map_err(|e| format!("cannot configure database {path}: {e}"))?;
        first.run_pending_migrations(MIGRATIONS).map_err(|e| format!("cannot migrate database {path}: {e}"))?;
        drop(first);

        let build = |size: u32, read_only: bool| {
            Pool::builder()
                .max_size(size)
                .connection_timeout(Duration::from_secs(30))
                .connection_customizer(Box::new(Pragmas { read_only, cache_kib: options.cache_kib }))
                .build(ConnectionManager::<SqliteConnection>::new(path))
                .map_err(|e| format!("cannot open database {path}: {e}"))
        };
        Ok(Store { read: build(options.read_connections.max(1), true)?, write: build(1, false)? })
    }

    fn conn(pool: &SqlitePool) -> ScimResult<PooledConnection<ConnectionManager<SqliteConnection>>> {
        pool.get().map_err(|e| {
            log::error!("database pool: {e}");
            ScimError::service_unavailable("database busy, retry later")
        })
    }

    /// Runs `f` on a read connection (a consistent snapshot inside one deferred transaction).
    pub fn read<T>(&self, f: impl FnOnce(&mut Conn) -> ScimResult<T>) -> ScimResult<T> {
        let mut conn = Self::conn(&self.read)?;
        conn.transaction(|c| f(c))
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer connection: all of it commits, or none.
    pub fn write<T>(&self, f: impl FnOnce(&mut Conn) -> ScimResult<T>) -> ScimResult<T> {
        let mut conn = Self::conn(&self.write)?;
        conn.immediate_transaction(|c| f(c))
    }
}

impl From<diesel::result::Error> for ScimError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                ScimError::uniqueness(format!("a resource with that value already exists ({})", info.message()))
            }
            Error::NotFound => ScimError::not_found("resource not found"),
            other => ScimError::internal(other),
        }
    }
}
