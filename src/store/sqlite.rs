//! The SQLite backend. Connections: a pool of read connections (`query_only`) and a single writer connection.
//! SQLite allows one writer at a time anyway; queueing writers on our own mutex is cheaper and fairer than
//! letting several connections spin on SQLITE_BUSY, and every write transaction starts with `BEGIN IMMEDIATE`
//! so a read-modify-write never has to upgrade its lock halfway.
//!
//! Group commit: with `synchronous=FULL` every COMMIT costs an fsync. Writers that queue up behind one
//! another share one transaction: each runs inside its own SAVEPOINT (so a failing one undoes only its own
//! work), and the last writer of the burst commits for all of them. No writer returns before the COMMIT
//! that holds its work has succeeded, so an acknowledged write is durable exactly as before.

use super::{Conn, StoreOptions, MIGRATIONS};
use crate::scim::error::{ScimError, ScimResult};
use diesel::connection::SimpleConnection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{CustomizeConnection, Pool, PooledConnection};
use diesel_migrations::MigrationHarness;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

type SqlitePool = Pool<SqliteManager>;

#[derive(Debug)]
struct Pragmas {
    read_only: bool,
    cache_kib: u32,
}

/// Makes the pool's SQLite connections, configured, as the store's connection type.
#[derive(Debug)]
struct SqliteManager {
    path: String,
    pragmas: Pragmas,
}

impl diesel::r2d2::ManageConnection for SqliteManager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        let mut c = SqliteConnection::establish(&self.path).map_err(diesel::r2d2::Error::ConnectionError)?;
        self.pragmas.on_acquire(&mut c)?;
        Ok(Conn::Sqlite(c))
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

/// The single writer connection and the state of the batch of writes it is collecting.
struct WriterState {
    /// Always the SQLite variant.
    conn: Conn,
    /// A `BEGIN IMMEDIATE` transaction is open and holds the work of `batch`.
    open: bool,
    /// Number of the batch being collected; batches commit in order.
    batch: u64,
    /// Every batch up to this one is finished (committed or rolled back).
    finished: u64,
    /// Recent batches whose COMMIT failed (rare; bounded).
    failed: Vec<u64>,
    /// Writes in the batch being collected.
    writes: u64,
}

struct Writer {
    state: Mutex<WriterState>,
    finished: Condvar,
    /// Writers waiting for the state lock: while there are any, the current one leaves the COMMIT to them.
    queued: AtomicUsize,
}

/// How often the background checkpointer looks at the WAL.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` on its own connection while the store is alive. PASSIVE never
/// blocks readers or the writer; frames still in use are simply copied on a later round.
fn spawn_checkpointer(path: &str, writer: std::sync::Weak<Writer>) -> Result<(), String> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| format!("cannot open database {path}: {e}"))?;
    conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL;")
        .map_err(|e| format!("cannot configure database {path}: {e}"))?;
    std::thread::Builder::new()
        .name("scimd-checkpoint".into())
        .spawn(move || {
            while writer.upgrade().is_some() {
                std::thread::sleep(CHECKPOINT_INTERVAL);
                if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    log::warn!("WAL checkpoint failed (will retry): {e}");
                }
            }
        })
        .map(|_| ())
        .map_err(|e| format!("cannot start the checkpoint thread: {e}"))
}

/// The SQLite backend: a pool of read connections, one writer with group commit, an authentication connection.
pub struct SqliteStore {
    /// The database file.
    path: String,
    read: SqlitePool,
    writer: Arc<Writer>,
    /// A read connection of its own for token checks: authentication never waits for the read pool, however
    /// long other requests hold its connections.
    auth: Arc<Mutex<Conn>>,
}

impl SqliteStore {
    pub fn open(path: &str, options: &StoreOptions) -> Result<SqliteStore, String> {
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

        let read = Pool::builder()
            .max_size(options.read_connections.max(1))
            .connection_timeout(options.pool_wait)
            .build(SqliteManager {
                path: path.to_string(),
                pragmas: Pragmas { read_only: true, cache_kib: options.cache_kib },
            })
            .map_err(|e| format!("cannot open database {path}: {e}"))?;
        let mut conn = SqliteConnection::establish(path).map_err(|e| format!("cannot open database {path}: {e}"))?;
        Pragmas { read_only: false, cache_kib: options.cache_kib }
            .on_acquire(&mut conn)
            .map_err(|e| format!("cannot configure database {path}: {e}"))?;
        // Checkpoints (copying the WAL back into the database file, with an fsync of it) run on a
        // background connection, not inside some writer's COMMIT while every other writer waits.
        conn.batch_execute("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;")
            .map_err(|e| format!("cannot configure database {path}: {e}"))?;
        let mut auth = SqliteConnection::establish(path).map_err(|e| format!("cannot open database {path}: {e}"))?;
        Pragmas { read_only: true, cache_kib: 1024 }
            .on_acquire(&mut auth)
            .map_err(|e| format!("cannot configure database {path}: {e}"))?;
        let state =
            WriterState { conn: Conn::Sqlite(conn), open: false, batch: 1, finished: 0, failed: Vec::new(), writes: 0 };
        let writer =
            Arc::new(Writer { state: Mutex::new(state), finished: Condvar::new(), queued: AtomicUsize::new(0) });
        spawn_checkpointer(path, Arc::downgrade(&writer))?;
        Ok(SqliteStore { path: path.to_string(), read, writer, auth: Arc::new(Mutex::new(Conn::Sqlite(auth))) })
    }

    fn conn(pool: &SqlitePool) -> ScimResult<PooledConnection<SqliteManager>> {
        let started = std::time::Instant::now();
        let conn = pool.get();
        crate::metrics::metrics().read_pool_wait.observe(started.elapsed().as_secs_f64());
        conn.map_err(|e| {
            log::error!("database pool: {e}");
            ScimError::service_unavailable("database busy, retry later")
        })
    }

    /// Readiness (`/readyz`): a read connection answers a query within `wait`, and no migration is pending
    /// (another process may have upgraded the file's schema under a binary that does not know it).
    pub fn ready(&self, wait: Duration) -> Result<(), String> {
        let mut conn = self.read.get_timeout(wait).map_err(|e| format!("no database connection: {e}"))?;
        diesel::sql_query("SELECT 1").execute(&mut *conn).map_err(|e| format!("the database does not answer: {e}"))?;
        let applied: Vec<String> = conn
            .applied_migrations()
            .map_err(|e| format!("cannot read the applied migrations: {e}"))?
            .into_iter()
            .map(|v| v.to_string())
            .collect();
        super::compare_migrations(&applied, &super::known_versions::<diesel::sqlite::Sqlite>(&MIGRATIONS)?)
    }

    /// Runs `f` on the connection kept for authentication (a point read; never waits for the read pool).
    pub fn read_auth<T>(&self, f: impl FnOnce(&mut Conn) -> ScimResult<T>) -> ScimResult<T> {
        let mut conn =
            self.auth.lock().map_err(|_| ScimError::internal("the authentication connection is poisoned"))?;
        conn.transaction(|c| f(c))
    }

    /// Runs `f` on a read connection (a consistent snapshot inside one deferred transaction).
    pub fn read<T>(&self, f: impl FnOnce(&mut Conn) -> ScimResult<T>) -> ScimResult<T> {
        let mut conn = Self::conn(&self.read)?;
        conn.transaction(|c| f(c))
    }

    /// Runs `f` atomically on the writer connection: all of its work commits, or none. Returns once its work
    /// is committed (durable), possibly together with other writers' work (see the module comment).
    pub fn write<T>(&self, f: impl Fn(&mut Conn) -> ScimResult<T>) -> ScimResult<T> {
        let writer = &*self.writer;
        let gauge = &crate::metrics::metrics().write_queue;
        writer.queued.fetch_add(1, Ordering::SeqCst);
        gauge.inc();
        let locked = writer.state.lock();
        writer.queued.fetch_sub(1, Ordering::SeqCst);
        gauge.dec();
        let mut state = locked.map_err(|_| ScimError::internal("the writer connection was poisoned by a panic"))?;
        if !state.open {
            AnsiTransactionManager::begin_transaction_sql(Self::sqlite_writer(&mut state.conn)?, "BEGIN IMMEDIATE")?;
            state.open = true;
        }
        let batch = state.batch;
        state.writes += 1;
        // A nested transaction: diesel runs it in a SAVEPOINT, released on Ok and rolled back on Err.
        let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| state.conn.transaction(f))) {
            Ok(outcome) => outcome,
            Err(_) => {
                // A panic skipped diesel's rollback: undo this writer's savepoint, keep the others' work.
                let rolled_back = Self::sqlite_writer(&mut state.conn)
                    .and_then(|c| AnsiTransactionManager::rollback_transaction(c).map_err(ScimError::from));
                if let Err(e) = rolled_back {
                    log::error!("rollback after a panic failed: {e}");
                }
                Err(ScimError::internal("a write failed unexpectedly; nothing of it was kept"))
            }
        };
        if writer.queued.load(Ordering::SeqCst) == 0 {
            // Nobody is waiting to add to this batch: commit it now, for everyone in it.
            Self::finish_batch(writer, &mut state);
        } else {
            // The writers behind us will commit; wait until our batch is finished.
            while state.finished < batch {
                state = writer.finished.wait(state).map_err(|_| ScimError::internal("writer poisoned"))?;
            }
        }
        if state.failed.contains(&batch) {
            return Err(ScimError::internal("the database could not commit the write"));
        }
        outcome
    }

    /// The database file and its WAL, in bytes.
    pub fn size_bytes(&self) -> u64 {
        let size = |p: &str| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        size(&self.path) + size(&format!("{}-wal", self.path))
    }

    /// The SQLite connection of the single writer.
    fn sqlite_writer(conn: &mut Conn) -> ScimResult<&mut SqliteConnection> {
        conn.sqlite().ok_or_else(|| ScimError::internal("the single writer is a SQLite connection"))
    }

    /// Copies the whole WAL into the database file and truncates it, waiting for the writer to be idle.
    /// For quiet moments (shutdown, before a backup or a benchmark); the background checkpointer keeps
    /// the WAL short otherwise.
    pub fn checkpoint(&self) -> ScimResult<()> {
        let writer = &*self.writer;
        let mut state = writer.state.lock().map_err(|_| ScimError::internal("writer poisoned"))?;
        while state.open {
            state = writer.finished.wait(state).map_err(|_| ScimError::internal("writer poisoned"))?;
        }
        state.conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }

    fn finish_batch(writer: &Writer, state: &mut MutexGuard<'_, WriterState>) {
        let batch = state.batch;
        crate::metrics::metrics().commit_batch.observe(state.writes as f64);
        state.writes = 0;
        let committed = Self::sqlite_writer(&mut state.conn)
            .and_then(|c| AnsiTransactionManager::commit_transaction(c).map_err(ScimError::from));
        if let Err(e) = committed {
            log::error!("commit failed: {e}");
            if let Ok(c) = Self::sqlite_writer(&mut state.conn) {
                let _ = AnsiTransactionManager::rollback_transaction(c);
            }
            state.failed.push(batch);
            if state.failed.len() > 64 {
                state.failed.remove(0);
            }
        }
        state.open = false;
        state.finished = batch;
        state.batch += 1;
        writer.finished.notify_all();
    }
}
