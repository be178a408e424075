//! [`PgStore`]: bundles in a PostgreSQL database shared by every worker.
//!
//! One table, created on start if missing (under an advisory lock, so that workers
//! starting together do not race):
//!
//! ```sql
//! CREATE TABLE fhez_keys (key_id text PRIMARY KEY, record text NOT NULL,
//!                         bundle bytea NOT NULL, bytes bigint NOT NULL, owner_hash bytea)
//! ```
//!
//! `record` is the JSON [`KeyRecord`], `owner_hash` the SHA-256 of the owner token. A
//! registration takes a transaction-scoped advisory lock, so the quota check (count and
//! byte sum) and the insert are atomic across workers. The client is the synchronous
//! `postgres` crate (tokio-postgres underneath, already in the dependency tree through
//! tokio; no TLS, no ORM, no macros): the store is called from blocking threads, and a
//! small pool of its own (bounded, with an acquire timeout) is all the pooling needed.

use std::str::FromStr;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::{Client, NoTls};

use super::{BundleStore, KeyRecord, Quotas, Removal, StoreError, check_quotas, same_hash};

/// Advisory lock key taken while creating the schema and while registering.
const LOCK_KEY: i64 = 0x6668_657a_6b65_7973; // "fhezkeys"

/// Connection settings of a [`PgStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgConfig {
    /// A libpq-style URL or key=value string, e.g.
    /// `postgresql://fhez@127.0.0.1:5432/fhez`.
    pub url: String,
    /// Most connections open at once (at least 1).
    pub pool_size: usize,
    /// Longest wait for a pooled connection before the store reports itself unavailable.
    pub acquire_timeout: Duration,
    /// Longest wait to open a connection.
    pub connect_timeout: Duration,
    /// Longest a statement may run on the server.
    pub statement_timeout: Duration,
}

impl PgConfig {
    /// Settings for `url` with the defaults: 8 connections, 5 s acquire and connect
    /// timeouts, 10 s statement timeout.
    #[must_use]
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            pool_size: 8,
            acquire_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

/// What a statement closure can fail with.
enum Fail {
    Pg(postgres::Error),
    Store(StoreError),
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        Self::Pg(e)
    }
}

struct PoolState {
    idle: Vec<Client>,
    open: usize,
}

/// A bounded pool of connections.
struct Pool {
    config: postgres::Config,
    max: usize,
    acquire: Duration,
    state: Mutex<PoolState>,
    freed: Condvar,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // The idle list and the count stay valid if a holder panicked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self, store: &str) -> Result<Client, StoreError> {
        let deadline = Instant::now() + self.acquire;
        let mut st = self.lock();
        loop {
            if let Some(client) = st.idle.pop() {
                if client.is_closed() {
                    st.open = st.open.saturating_sub(1);
                    continue;
                }
                return Ok(client);
            }
            if st.open < self.max {
                st.open = st.open.saturating_add(1);
                drop(st);
                return self.config.connect(NoTls).map_err(|e| {
                    self.discard_slot();
                    StoreError::Unavailable {
                        store: store.to_owned(),
                        reason: format!("connecting: {e}"),
                    }
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::Unavailable {
                    store: store.to_owned(),
                    reason: format!(
                        "all {} pooled connections stayed busy for {} ms",
                        self.max,
                        self.acquire.as_millis()
                    ),
                });
            }
            st = self
                .freed
                .wait_timeout(st, deadline.saturating_duration_since(now))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn give(&self, client: Client) {
        if client.is_closed() {
            drop(client);
            self.discard_slot();
            return;
        }
        self.lock().idle.push(client);
        self.freed.notify_one();
    }

    fn discard_slot(&self) {
        let mut st = self.lock();
        st.open = st.open.saturating_sub(1);
        drop(st);
        self.freed.notify_one();
    }
}

/// Registered bundles in a PostgreSQL database: every worker pointed at the same
/// database sees the same keys, owner tokens and quotas.
pub struct PgStore {
    pool: Pool,
    name: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("db", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing a connection of the synchronous client runs a small runtime of its own,
        // which must not happen on an async runtime's thread (the server's state is
        // dropped on one): close them on a thread of their own.
        let idle = std::mem::take(&mut self.pool.lock().idle);
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

/// Whether `e` means the server is unreachable or going away (connection exceptions,
/// class 08; operator intervention such as a shutdown, class 57; or no server error at
/// all, i.e. an I/O failure), rather than a statement that failed.
fn is_unavailable(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        None => true,
        Some(code) => {
            let c = code.code();
            c.starts_with("08") || c.starts_with("57") || *code == SqlState::TOO_MANY_CONNECTIONS
        }
    }
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl PgStore {
    /// Connects (one connection, to check the server answers) and creates the schema if
    /// missing.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the server cannot be reached,
    /// [`StoreError::Postgres`] for a bad URL or a failed schema statement.
    pub fn connect(config: &PgConfig) -> Result<Self, StoreError> {
        let mut pg = postgres::Config::from_str(&config.url).map_err(|e| StoreError::Postgres {
            store: "postgresql (unparsable URL)".to_owned(),
            what: "parsing the URL",
            source: Box::new(e),
        })?;
        pg.connect_timeout(config.connect_timeout);
        pg.options(&format!(
            "-c statement_timeout={}",
            config.statement_timeout.as_millis().max(1)
        ));
        let name = describe(&pg);
        let store = Self {
            pool: Pool {
                config: pg,
                max: config.pool_size.max(1),
                acquire: config.acquire_timeout,
                state: Mutex::new(PoolState {
                    idle: Vec::new(),
                    open: 0,
                }),
                freed: Condvar::new(),
            },
            name,
        };
        store.run("creating the schema", |c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS fhez_keys (
                    key_id text PRIMARY KEY,
                    record text NOT NULL,
                    bundle bytea NOT NULL,
                    bytes bigint NOT NULL,
                    owner_hash bytea
                )",
            )?;
            tx.commit()?;
            Ok(())
        })?;
        Ok(store)
    }

    /// Runs `f` on a pooled connection; if the connection turns out to be lost (e.g. the
    /// server restarted since it was pooled), once more on a fresh one. Every statement
    /// is a transaction of its own, so a retry never applies anything twice.
    fn run<T>(
        &self,
        what: &'static str,
        f: impl Fn(&mut Client) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut client = self.pool.take(&self.name)?;
            match f(&mut client) {
                Ok(v) => {
                    self.pool.give(client);
                    return Ok(v);
                }
                Err(Fail::Store(e)) => {
                    self.pool.give(client);
                    return Err(e);
                }
                Err(Fail::Pg(e)) => {
                    let lost = is_unavailable(&e);
                    if lost {
                        drop(client);
                        self.pool.discard_slot();
                        if attempt < 2 {
                            continue;
                        }
                        return Err(StoreError::Unavailable {
                            store: self.name.clone(),
                            reason: format!("{what}: {e}"),
                        });
                    }
                    self.pool.give(client);
                    return Err(StoreError::Postgres {
                        store: self.name.clone(),
                        what,
                        source: Box::new(e),
                    });
                }
            }
        }
    }

    fn parse_record(&self, key_id: &str, json: &str) -> Result<KeyRecord, StoreError> {
        serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
            path: self.name.clone().into(),
            key_id: key_id.to_owned(),
            reason: e.to_string(),
        })
    }
}

/// `postgresql://user@host:port/db` of a parsed configuration (never the password).
fn describe(pg: &postgres::Config) -> String {
    let host = pg
        .get_hosts()
        .first()
        .map_or_else(String::new, |h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        });
    let port = pg.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgresql://{}@{host}:{port}/{}",
        pg.get_user().unwrap_or_default(),
        pg.get_dbname().unwrap_or_default()
    )
}

impl BundleStore for PgStore {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn insert_new(
        &self,
        bundle: &[u8],
        record: &KeyRecord,
        owner_hash: &[u8; 32],
        quotas: Quotas,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let json = serde_json::to_string(record).map_err(|e| StoreError::Corrupt {
            path: self.name.clone().into(),
            key_id: record.key_id.clone(),
            reason: e.to_string(),
        })?;
        let len = i64::try_from(bundle.len()).map_err(|_| StoreError::Full {
            what: "bytes of registered bundles",
            limit: quotas.bytes,
            needed: u64::MAX,
        })?;
        let key_id = record.key_id.as_str();
        self.run("registering a bundle", |c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
            if let Some(row) =
                tx.query_opt("SELECT record FROM fhez_keys WHERE key_id = $1", &[&key_id])?
            {
                let stored: String = row.try_get(0)?;
                return self
                    .parse_record(key_id, &stored)
                    .map(Some)
                    .map_err(Fail::Store);
            }
            let row = tx.query_one(
                "SELECT count(*)::bigint, coalesce(sum(bytes), 0)::bigint FROM fhez_keys",
                &[],
            )?;
            let usage = (to_u64(row.try_get(0)?), to_u64(row.try_get(1)?));
            check_quotas(usage, bundle.len(), quotas).map_err(Fail::Store)?;
            tx.execute(
                "INSERT INTO fhez_keys (key_id, record, bundle, bytes, owner_hash) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[&key_id, &json, &bundle, &len, &owner_hash.as_slice()],
            )?;
            tx.commit()?;
            Ok(None)
        })
    }

    fn record(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let json = self.run("reading a record", |c| {
            let row = c.query_opt("SELECT record FROM fhez_keys WHERE key_id = $1", &[&key_id])?;
            Ok(match row {
                Some(row) => Some(row.try_get::<_, String>(0)?),
                None => None,
            })
        })?;
        json.map(|j| self.parse_record(key_id, &j)).transpose()
    }

    fn bundle(&self, key_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.run("reading a bundle", |c| {
            let row = c.query_opt("SELECT bundle FROM fhez_keys WHERE key_id = $1", &[&key_id])?;
            Ok(match row {
                Some(row) => Some(row.try_get::<_, Vec<u8>>(0)?),
                None => None,
            })
        })
    }

    fn remove_owned(&self, key_id: &str, presented: &[u8; 32]) -> Result<Removal, StoreError> {
        self.run("deleting a key", |c| {
            let mut tx = c.transaction()?;
            let Some(row) = tx.query_opt(
                "SELECT owner_hash FROM fhez_keys WHERE key_id = $1 FOR UPDATE",
                &[&key_id],
            )?
            else {
                return Ok(Removal::Unknown);
            };
            let stored: Option<Vec<u8>> = row.try_get(0)?;
            if !stored.is_some_and(|s| same_hash(&s, presented)) {
                return Ok(Removal::NotOwner);
            }
            tx.execute("DELETE FROM fhez_keys WHERE key_id = $1", &[&key_id])?;
            tx.commit()?;
            Ok(Removal::Removed)
        })
    }

    fn remove(&self, key_id: &str) -> Result<bool, StoreError> {
        self.run("deleting a key", |c| {
            Ok(c.execute("DELETE FROM fhez_keys WHERE key_id = $1", &[&key_id])? > 0)
        })
    }

    fn usage(&self) -> Result<(u64, u64), StoreError> {
        self.run("counting keys", |c| {
            let row = c.query_one(
                "SELECT count(*)::bigint, coalesce(sum(bytes), 0)::bigint FROM fhez_keys",
                &[],
            )?;
            Ok((to_u64(row.try_get(0)?), to_u64(row.try_get(1)?)))
        })
    }

    fn check(&self) -> Result<(), StoreError> {
        self.run("checking the connection", |c| {
            c.simple_query("SELECT 1")?;
            Ok(())
        })
    }
}
