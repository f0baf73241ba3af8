//! Storage: Diesel over SQLite (`sqlite.rs`: one writer with group commit) or PostgreSQL (`postgres.rs`:
//! a pool, transactions holding row locks, retried on a serialisation failure or deadlock). Every SQL text and every SQL-dialect difference
//! lives under this module; the protocol and HTTP layers never see which backend serves them.
//!
//! The contract every caller of `Store::write` keeps (and a backend with several writers relies on):
//! - A write is a closure (`Fn`) whose effects live only in its transaction: it may be run more than once
//!   (a backend that retries a serialisation failure runs it again from the start), so it reads what it needs
//!   inside the transaction and never consumes or mutates what it captured; it hands results back by value.
//! - Read-check-write sequences (uniqueness, If-Match, version + 1, member existence, membership cycles) are
//!   made inside one write transaction, reading what they rely on through the store's locking reads
//!   (`resources::get_for_update`, `exists_for_share`); the unique indexes on userName and displayName are the
//!   last word, a violation surfacing as `409 uniqueness` whoever raced.
//! - Nothing outside `src/store/` writes SQL or calls Diesel: callers hand the transaction's `Conn` through to
//!   store operations (get, list with a filter AST, insert, update, membership changes).

pub mod backup;
pub mod conn;
pub mod copy;
pub mod extensions;
pub mod filter_sql;
pub mod groups;
pub mod keyset;
pub mod listing;
pub mod oauth;
pub mod postgres;
pub mod resources;
pub mod schema;
pub mod sqlite;
pub mod tokens;
pub mod url;
pub mod users;

use crate::scim::error::{ScimError, ScimResult};
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use std::sync::Arc;
use std::time::Duration;

/// The SQLite schema's migrations.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// The PostgreSQL schema's migrations (kept equivalent: `tests/schema_equivalence.rs`).
pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Readiness's migration check: every migration this binary knows (`known`) is applied, and none it does not
/// know (another process may have upgraded the schema under a binary that does not know it).
pub(crate) fn compare_migrations(applied: &[String], known: &[String]) -> Result<(), String> {
    if let Some(missing) = known.iter().find(|v| !applied.contains(v)) {
        return Err(format!("migration {missing} is not applied"));
    }
    if let Some(unknown) = applied.iter().find(|v| !known.contains(v)) {
        return Err(format!("the database has migration {unknown}, which this binary does not know (newer scimd?)"));
    }
    Ok(())
}

/// The versions of the migrations in `source`, for backend `DB`.
pub(crate) fn known_versions<DB: diesel::backend::Backend>(source: &EmbeddedMigrations) -> Result<Vec<String>, String> {
    use diesel::migration::MigrationSource;
    Ok(MigrationSource::<DB>::migrations(source)
        .map_err(|e| format!("migrations: {e}"))?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect())
}

/// The connection a store operation runs on (SQLite or PostgreSQL; see `conn`).
pub type Conn = conn::AnyConnection;
pub use conn::{Dialect, MultiBackend};

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
    /// How long a read waits for a free connection before it fails with 503.
    pub pool_wait: Duration,
    /// Per-connection page cache, in KiB. Bounds memory whatever the table size.
    pub cache_kib: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { read_connections: 4, pool_wait: Duration::from_secs(1), cache_kib: 16 * 1024 }
    }
}

/// The database behind the directory: cheap to clone (shared), safe to use from many threads.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
}

enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens the database `--database` names (creating a SQLite file if needed) and applies pending migrations.
    pub fn open(database: &str, options: &StoreOptions) -> Result<Store, String> {
        let backend = match url::DatabaseUrl::parse(database)? {
            url::DatabaseUrl::Sqlite(path) => Backend::Sqlite(sqlite::SqliteStore::open(&path, options)?),
            url::DatabaseUrl::Postgres(url) => Backend::Postgres(postgres::PgStore::open(&url, options)?),
        };
        Ok(Store { backend: Arc::new(backend) })
    }

    /// The SQL dialect of this store's connections.
    pub fn dialect(&self) -> Dialect {
        match &*self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Readiness (`/readyz`): the database answers a query within `wait`, and no migration is pending (another
    /// process may have upgraded the schema under a binary that does not know it).
    pub fn ready(&self, wait: Duration) -> Result<(), String> {
        match &*self.backend {
            Backend::Sqlite(s) => s.ready(wait),
            Backend::Postgres(p) => p.ready(wait),
        }
    }

    /// Runs `f` on the connection kept for authentication (a point read; never waits behind the read pool).
    pub fn read_auth<T>(&self, f: impl FnOnce(&mut Conn) -> ScimResult<T>) -> ScimResult<T> {
        match &*self.backend {
            Backend::Sqlite(s) => s.read_auth(f),
            Backend::Postgres(p) => p.read(f),
        }
    }

    /// Runs `f` in a read-only transaction: one consistent snapshot.
    pub fn read<T>(&self, f: impl FnOnce(&mut Conn) -> ScimResult<T>) -> ScimResult<T> {
        match &*self.backend {
            Backend::Sqlite(s) => s.read(f),
            Backend::Postgres(p) => p.read(f),
        }
    }

    /// Runs `f` atomically: all of its work commits, or none. Returns once its work is committed (durable).
    /// `f` may run more than once (see the module comment).
    pub fn write<T>(&self, f: impl Fn(&mut Conn) -> ScimResult<T>) -> ScimResult<T> {
        match &*self.backend {
            Backend::Sqlite(s) => s.write(f),
            Backend::Postgres(p) => p.write(f),
        }
    }

    /// Runs `f` inside a write (see [`Store::write`]) as a unit of its own: on error its changes are rolled
    /// back to where it began (a nested SAVEPOINT) and the rest of the write goes on.
    pub fn savepoint<T>(conn: &mut Conn, f: impl FnOnce(&mut Conn) -> ScimResult<T>) -> ScimResult<T> {
        conn.transaction(f)
    }

    /// The server-side key called `name`, made (256 bits from the OS's CSPRNG, hex) the first time any process
    /// serving this database asks for it, so that every such process uses the same one.
    pub fn server_key(&self, name: &str) -> ScimResult<String> {
        #[derive(QueryableByName)]
        struct KeyRow {
            #[diesel(sql_type = diesel::sql_types::Text)]
            key: String,
        }
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        let fresh = hex::encode(bytes);
        self.write(|conn| {
            conn::sql_query(conn, "INSERT INTO server_keys (name, key) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
                .bind::<diesel::sql_types::Text, _>(name)
                .bind::<diesel::sql_types::Text, _>(&fresh)
                .execute(conn)?;
            Ok(conn::sql_query(conn, "SELECT key FROM server_keys WHERE name = ?")
                .bind::<diesel::sql_types::Text, _>(name)
                .get_result::<KeyRow>(conn)?
                .key)
        })
    }

    /// The database's size in bytes: a SQLite file with its WAL, or PostgreSQL's `pg_database_size`.
    pub fn size_bytes(&self) -> Option<u64> {
        match &*self.backend {
            Backend::Sqlite(s) => Some(s.size_bytes()),
            Backend::Postgres(_) => {
                #[derive(QueryableByName)]
                struct Size {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                self.read(|c| {
                    Ok(conn::sql_query(c, "SELECT pg_database_size(current_database()) AS n").get_result::<Size>(c)?.n)
                })
                .ok()
                .and_then(|n| u64::try_from(n).ok())
            }
        }
    }

    /// SQLite: copies the whole WAL into the database file and truncates it, waiting for the writer to be idle
    /// (for quiet moments: shutdown, before a backup or a benchmark). PostgreSQL: nothing to do.
    pub fn checkpoint(&self) -> ScimResult<()> {
        match &*self.backend {
            Backend::Sqlite(s) => s.checkpoint(),
            Backend::Postgres(_) => Ok(()),
        }
    }
}

impl From<diesel::result::Error> for ScimError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                ScimError::uniqueness(format!("a resource with that value already exists ({})", info.message()))
            }
            // PostgreSQL refused to serialise this transaction: `postgres::PgStore::write` runs it again.
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                ScimError::service_unavailable(postgres::CONFLICT_DETAIL)
            }
            Error::DatabaseError(_, info) if info.message().contains("deadlock detected") => {
                ScimError::service_unavailable(postgres::CONFLICT_DETAIL)
            }
            Error::NotFound => ScimError::not_found("resource not found"),
            other => ScimError::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sql_types::{BigInt, Text};

    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn temp_db(tag: &str) -> String {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("scimd-store-{tag}-{}-{}", std::process::id(), nanos.unwrap_or(0)));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("t.db").to_string_lossy().into_owned()
    }

    fn count(store: &Store, sql: &'static str) -> i64 {
        store.read(|c| Ok(diesel::sql_query(sql).get_result::<N>(c)?.n)).unwrap()
    }

    fn insert_token(c: &mut Conn, name: &str) -> ScimResult<()> {
        diesel::sql_query("INSERT INTO api_tokens (id, name, token_hash, created) VALUES (?, ?, ?, '2026-01-01')")
            .bind::<Text, _>(name)
            .bind::<Text, _>(name)
            .bind::<Text, _>(name)
            .execute(c)?;
        Ok(())
    }

    #[test]
    fn a_panicking_writer_changes_nothing_and_breaks_nothing() {
        let path = temp_db("panic");
        let store = Store::open(&path, &StoreOptions::default()).unwrap();
        store.write(|c| insert_token(c, "before")).unwrap();
        let failed = store.write(|c| -> ScimResult<()> {
            insert_token(c, "half-done")?;
            panic!("deliberate panic inside a write");
        });
        assert_eq!(failed.unwrap_err().status, 500);
        store.write(|c| insert_token(c, "after")).unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) AS n FROM api_tokens WHERE name IN ('before', 'after')"), 2);
        let half = count(&store, "SELECT COUNT(*) AS n FROM api_tokens WHERE name = 'half-done'");
        assert_eq!(half, 0, "the panicking write left data behind");
        let _ = std::fs::remove_dir_all(std::path::Path::new(&path).parent().unwrap());
    }

    /// Group commit: concurrent writers share transactions, yet each one is atomic on its own (a failing
    /// writer undoes only its own work) and visible to readers as soon as its `write` returns.
    #[test]
    fn concurrent_writes_commit_each_atomically() {
        let path = temp_db("group-commit");
        let store = Store::open(&path, &StoreOptions::default()).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let name = format!("t{t}-{i}");
                        let fails = i % 10 == 3;
                        let result = store.write(|c| {
                            insert_token(c, &name)?;
                            if fails {
                                return Err(ScimError::invalid_value("deliberate"));
                            }
                            Ok(())
                        });
                        assert_eq!(result.is_err(), fails, "{name}");
                        // Read-your-writes from another connection: the write is committed on return.
                        let seen = store
                            .read(|c| {
                                Ok(diesel::sql_query("SELECT COUNT(*) AS n FROM api_tokens WHERE name = ?")
                                    .bind::<Text, _>(&name)
                                    .get_result::<N>(c)?
                                    .n)
                            })
                            .unwrap();
                        assert_eq!(seen, if fails { 0 } else { 1 }, "{name}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(store);
        // Everything acknowledged is in the file, read back by a fresh process-level open.
        let store = Store::open(&path, &StoreOptions::default()).unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) AS n FROM api_tokens"), 8 * 45);
        // A checkpoint leaves the data in the database file and an empty WAL.
        store.checkpoint().unwrap();
        let wal = std::fs::metadata(format!("{path}-wal")).map(|m| m.len()).unwrap_or(0);
        assert_eq!(wal, 0, "the WAL is truncated");
        assert_eq!(count(&store, "SELECT COUNT(*) AS n FROM api_tokens"), 8 * 45);
        let _ = std::fs::remove_dir_all(std::path::Path::new(&path).parent().unwrap());
    }
}
