//! The key store: registered public bundles in a [`BundleStore`] (an embedded [`redb`]
//! database by default, or a PostgreSQL database shared by several workers), so that they
//! survive a restart, with a small in-memory cache of decoded evaluation keys.
//!
//! A key id is the lowercase hex SHA-256 of the bundle bytes, so registering the same
//! bundle twice is idempotent and any node holding the same bytes derives the same id.
//! The store keeps only what a client chose to publish (parameters, public,
//! relinearization and Galois keys); there is no secret to keep here.

mod pg;
mod redb_store;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fhez_ckks::{CkksParams, CkksServer, ServerKeys};
use fhez_model::bundle::{BundleRefusal, public_bundle_for_params};
use prometheus_client::metrics::counter::Counter;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::Mode;

pub use pg::{PgConfig, PgStore};
pub use redb_store::RedbStore;

/// Length of a key id in hex characters.
pub const KEY_ID_LEN: usize = 64;

/// Store errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("key store {path}: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// The database error.
        source: Box<redb::Error>,
    },
    /// A stored record could not be decoded (the database was edited or is from another
    /// version).
    #[error("key store {path}: record of key {key_id} is unreadable: {reason}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The key id.
        key_id: String,
        /// What is wrong.
        reason: String,
    },
    /// Registering would exceed a quota of the store.
    #[error("the key store is full: {what} would be {needed}, over the limit of {limit}")]
    Full {
        /// `"registered keys"` or `"bytes of registered bundles"`.
        what: &'static str,
        /// The limit.
        limit: u64,
        /// What the store would hold with the new bundle.
        needed: u64,
    },
    /// The operating system's random source failed (making an owner token).
    #[error("the OS random source failed: {0}")]
    Random(String),
    /// A PostgreSQL statement failed for a reason other than the server being unreachable.
    #[error("key store {store}: {what}: {source}")]
    Postgres {
        /// The database (URL without password).
        store: String,
        /// The operation.
        what: &'static str,
        /// The client's error.
        source: Box<postgres::Error>,
    },
    /// The store cannot be reached now (connection refused or lost, no pooled connection
    /// free within the acquire timeout); the request may be retried.
    #[error("key store {store} is unavailable: {reason}")]
    Unavailable {
        /// The database (URL without password).
        store: String,
        /// What failed.
        reason: String,
    },
    /// A stored bundle no longer decodes under the parameter set it was registered for.
    #[error("key store: bundle of key {key_id} no longer decodes: {source}")]
    Bundle {
        /// The key id.
        key_id: String,
        /// The decoding error.
        source: BundleRefusal,
    },
}

/// What the store records about a key besides its bundle bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Hex SHA-256 of the bundle bytes.
    pub key_id: String,
    /// The bundle's parameter set id (hex).
    pub params_id: String,
    /// The model the bundle was registered for.
    pub model: String,
    /// Size of the bundle in bytes.
    pub bytes: usize,
    /// Registration time, seconds since the Unix epoch.
    pub registered_unix: u64,
    /// The mode the bundle was validated for (records written before modes existed read
    /// as batch).
    #[serde(default)]
    pub mode: Mode,
}

/// The key id of bundle bytes: lowercase hex SHA-256.
#[must_use]
pub fn key_id_of(bundle: &[u8]) -> String {
    let digest = Sha256::digest(bundle);
    let mut out = String::with_capacity(KEY_ID_LEN);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `s` has the form of a key id (64 lowercase hex digits).
#[must_use]
pub fn is_key_id(s: &str) -> bool {
    s.len() == KEY_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Quotas of a [`KeyStore`]: what it may hold on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// Most registered keys.
    pub keys: u64,
    /// Most bytes of registered bundles (their sum).
    pub bytes: u64,
}

impl Quotas {
    /// No quota.
    pub const UNLIMITED: Self = Self {
        keys: u64::MAX,
        bytes: u64::MAX,
    };
}

/// How [`KeyStore::remove_owned`] went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// The key was removed.
    Removed,
    /// No such key.
    Unknown,
    /// The token is not the key's owner token (or the key has none); nothing removed.
    NotOwner,
}

/// Number of random bytes in an owner token (hex-encoded on the wire).
pub const OWNER_TOKEN_BYTES: usize = 32;

/// Where registered bundles live: the persistence half of a [`KeyStore`] (which adds the
/// owner tokens, the quotas' parameters and the cache of decoded keys).
///
/// Two implementations: [`RedbStore`] (an embedded database file, one per node; the
/// default) and [`PgStore`] (a PostgreSQL database shared by every worker). The methods
/// block; the server calls them from blocking threads. The conformance tests in
/// `tests/store.rs` run the same checks on both.
pub trait BundleStore: Send + Sync + std::fmt::Debug {
    /// What the store is, for logs and errors (a file path, or a database without its
    /// password).
    fn describe(&self) -> String;

    /// Stores `bundle` under `record.key_id` with the SHA-256 of its owner token, unless
    /// that key id is already stored: then nothing changes and the stored record is
    /// returned. The quota check and the write are one atomic step (across workers for a
    /// shared store).
    ///
    /// # Errors
    /// [`StoreError::Full`] when `quotas` would be exceeded; the backend's errors.
    fn insert_new(
        &self,
        bundle: &[u8],
        record: &KeyRecord,
        owner_hash: &[u8; 32],
        quotas: Quotas,
    ) -> Result<Option<KeyRecord>, StoreError>;

    /// The record of `key_id`, if registered.
    ///
    /// # Errors
    /// The backend's errors, [`StoreError::Corrupt`].
    fn record(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError>;

    /// The bundle bytes of `key_id`, if registered.
    ///
    /// # Errors
    /// The backend's errors.
    fn bundle(&self, key_id: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Removes `key_id` if the stored owner hash equals `presented` (compared in constant
    /// time with [`same_hash`]).
    ///
    /// # Errors
    /// The backend's errors.
    fn remove_owned(&self, key_id: &str, presented: &[u8; 32]) -> Result<Removal, StoreError>;

    /// Removes `key_id` without an owner check; whether it was registered.
    ///
    /// # Errors
    /// The backend's errors.
    fn remove(&self, key_id: &str) -> Result<bool, StoreError>;

    /// Keys and bundle bytes stored.
    ///
    /// # Errors
    /// The backend's errors.
    fn usage(&self) -> Result<(u64, u64), StoreError>;

    /// Whether the store answers now (the readiness check).
    ///
    /// # Errors
    /// The backend's errors ([`StoreError::Unavailable`] when it cannot be reached).
    fn check(&self) -> Result<(), StoreError>;
}

/// Registered bundles in a [`BundleStore`] plus a bounded cache of ready-to-use
/// evaluators.
///
/// The cache holds decoded key sets by key id. Because a key id is the SHA-256 of the
/// bundle, a cached key set can never disagree with the store's bytes; deletion is the
/// only invalidation. Every request first reads the key's record from the store
/// ([`KeyStore::record`]), and the cache is consulted only for a key the store still
/// has, so a `DELETE` committed on any worker is refused by every worker from the next
/// request on; a deleted key's entry is dropped from the cache when that request misses.
pub struct KeyStore {
    backend: Box<dyn BundleStore>,
    bundle_limit: usize,
    quotas: Quotas,
    cache: Mutex<Cache>,
    cache_hits: Counter,
    cache_misses: Counter,
}

/// SHA-256 of an owner token.
fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equality of two hashes in time independent of where they differ.
#[must_use]
pub fn same_hash(a: &[u8], b: &[u8; 32]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A fresh owner token: [`OWNER_TOKEN_BYTES`] from the OS random source, hex.
fn new_owner_token() -> Result<String, StoreError> {
    use rand_core::TryRngCore;
    let mut bytes = [0u8; OWNER_TOKEN_BYTES];
    rand_core::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| StoreError::Random(e.to_string()))?;
    let mut out = String::with_capacity(2 * OWNER_TOKEN_BYTES);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    Ok(out)
}

/// The quota check shared by the backends: `Ok` if one more bundle of `len` bytes fits
/// next to `usage` (keys, bytes).
///
/// # Errors
/// [`StoreError::Full`] naming the quota.
pub fn check_quotas(usage: (u64, u64), len: usize, quotas: Quotas) -> Result<(), StoreError> {
    let keys_after = usage.0.saturating_add(1);
    let bytes_after = usage.1.saturating_add(len as u64);
    if keys_after > quotas.keys {
        return Err(StoreError::Full {
            what: "registered keys",
            limit: quotas.keys,
            needed: keys_after,
        });
    }
    if bytes_after > quotas.bytes {
        return Err(StoreError::Full {
            what: "bytes of registered bundles",
            limit: quotas.bytes,
            needed: bytes_after,
        });
    }
    Ok(())
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// One cached key set.
struct Cached {
    key_id: String,
    used: u64,
    /// Its bundle's size: the decoded keys hold the same residues, 8 bytes each, so this
    /// is what the entry costs in memory.
    bytes: usize,
    server: CkksServer,
}

/// A least-recently-used list of decoded keys, bounded by entries and by bytes (a few
/// entries; linear scans are fine).
struct Cache {
    max_entries: usize,
    max_bytes: usize,
    bytes: usize,
    tick: u64,
    entries: Vec<Cached>,
}

impl Cache {
    fn new(limits: CacheLimits) -> Self {
        Self {
            max_entries: limits.entries,
            max_bytes: limits.bytes,
            bytes: 0,
            tick: 0,
            entries: Vec::new(),
        }
    }

    fn get(&mut self, key_id: &str) -> Option<CkksServer> {
        self.tick += 1;
        let tick = self.tick;
        self.entries
            .iter_mut()
            .find(|e| e.key_id == key_id)
            .map(|e| {
                e.used = tick;
                e.server.with_fresh_stats()
            })
    }

    fn put(&mut self, key_id: &str, bytes: usize, server: &CkksServer) {
        if self.max_entries == 0
            || bytes > self.max_bytes
            || self.entries.iter().any(|e| e.key_id == key_id)
        {
            return;
        }
        while self.entries.len() >= self.max_entries
            || self.bytes.saturating_add(bytes) > self.max_bytes
        {
            let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.used)
                .map(|(i, _)| i)
            else {
                break;
            };
            let gone = self.entries.swap_remove(oldest);
            self.bytes = self.bytes.saturating_sub(gone.bytes);
        }
        self.tick += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        self.entries.push(Cached {
            key_id: key_id.to_owned(),
            used: self.tick,
            bytes,
            server: server.with_fresh_stats(),
        });
    }

    fn remove(&mut self, key_id: &str) {
        let before = self.entries.len();
        self.entries.retain(|e| e.key_id != key_id);
        if self.entries.len() != before {
            self.bytes = self.entries.iter().map(|e| e.bytes).sum();
        }
    }
}

/// Bounds of a [`KeyStore`]'s in-memory cache of decoded key sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheLimits {
    /// Most key sets kept.
    pub entries: usize,
    /// Most bytes of keys kept (a key set counts as its bundle's size); a key set larger
    /// than this is decoded for each request and not kept.
    pub bytes: usize,
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl KeyStore {
    /// Opens (or creates) the embedded database at `path`. Bundles are decoded with
    /// `bundle_limit`; the decoded key sets kept in memory are bounded by `cache`.
    ///
    /// # Errors
    /// [`StoreError::Db`] (including a database already opened by another process).
    pub fn open(path: &Path, bundle_limit: usize, cache: CacheLimits) -> Result<Self, StoreError> {
        Self::open_with_quotas(path, bundle_limit, cache, Quotas::UNLIMITED)
    }

    /// [`KeyStore::open`] with `quotas` on what it may hold (registrations beyond them
    /// fail with [`StoreError::Full`]; keys already stored are kept).
    ///
    /// # Errors
    /// [`StoreError::Db`], [`StoreError::Corrupt`].
    pub fn open_with_quotas(
        path: &Path,
        bundle_limit: usize,
        cache: CacheLimits,
        quotas: Quotas,
    ) -> Result<Self, StoreError> {
        let backend = RedbStore::open(path)?;
        Ok(Self::with_backend(
            Box::new(backend),
            bundle_limit,
            cache,
            quotas,
        ))
    }

    /// A key store over any [`BundleStore`] (e.g. a [`PgStore`] shared by several
    /// workers).
    #[must_use]
    pub fn with_backend(
        backend: Box<dyn BundleStore>,
        bundle_limit: usize,
        cache: CacheLimits,
        quotas: Quotas,
    ) -> Self {
        Self {
            backend,
            bundle_limit,
            quotas,
            cache: Mutex::new(Cache::new(cache)),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
        }
    }

    /// The persistence backend.
    #[must_use]
    pub fn backend(&self) -> &dyn BundleStore {
        self.backend.as_ref()
    }

    /// Counters of [`KeyStore::server`] calls answered from the cache and decoded from
    /// the store (handles sharing the store's counts, for a metrics registry).
    #[must_use]
    pub fn cache_counters(&self) -> (Counter, Counter) {
        (self.cache_hits.clone(), self.cache_misses.clone())
    }

    /// Stores a bundle already decoded and validated by the caller as `keys`, registered
    /// for `model` in `mode`. Returns its record and, when it was new, its owner token
    /// (random, returned once; only its SHA-256 is stored). `None`: the same bytes were
    /// registered before, and the earlier record is returned.
    ///
    /// # Errors
    /// The backend's errors, [`StoreError::Full`] when a quota would be exceeded,
    /// [`StoreError::Random`].
    pub fn insert(
        &self,
        bundle: &[u8],
        keys: &Arc<ServerKeys>,
        model: &str,
        mode: Mode,
    ) -> Result<(KeyRecord, Option<String>), StoreError> {
        let key_id = key_id_of(bundle);
        if let Some(existing) = self.backend.record(&key_id)? {
            return Ok((existing, None));
        }
        let token = new_owner_token()?;
        let record = KeyRecord {
            key_id: key_id.clone(),
            params_id: keys.params().id().to_hex(),
            model: model.to_owned(),
            bytes: bundle.len(),
            registered_unix: now_unix(),
            mode,
        };
        if let Some(existing) =
            self.backend
                .insert_new(bundle, &record, &token_hash(&token), self.quotas)?
        {
            return Ok((existing, None));
        }
        self.lock_cache()
            .put(&key_id, bundle.len(), &CkksServer::new(Arc::clone(keys)));
        Ok((record, Some(token)))
    }

    /// Removes `key_id` if `owner_token` is its owner token (compared by SHA-256, in
    /// constant time). A key registered before owner tokens has none and is never
    /// removed this way.
    ///
    /// # Errors
    /// The backend's errors.
    pub fn remove_owned(&self, key_id: &str, owner_token: &str) -> Result<Removal, StoreError> {
        let outcome = self
            .backend
            .remove_owned(key_id, &token_hash(owner_token))?;
        if outcome == Removal::Removed {
            self.lock_cache().remove(key_id);
        }
        Ok(outcome)
    }

    /// The record of `key_id`, if registered (read from the store on every call).
    ///
    /// # Errors
    /// The backend's errors, [`StoreError::Corrupt`].
    pub fn record(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let record = self.backend.record(key_id)?;
        if record.is_none() {
            self.lock_cache().remove(key_id);
        }
        Ok(record)
    }

    /// An evaluator for the key of `record` (from the cache, or decoded from the store
    /// under `params`, the parameter set the caller checked `record.params_id` against,
    /// and cached); `None` if the key is no longer registered.
    ///
    /// # Errors
    /// The backend's errors, [`StoreError::Bundle`].
    pub fn server(
        &self,
        record: &KeyRecord,
        params: &Arc<CkksParams>,
    ) -> Result<Option<CkksServer>, StoreError> {
        let key_id = record.key_id.as_str();
        if let Some(server) = self.lock_cache().get(key_id) {
            self.cache_hits.inc();
            return Ok(Some(server));
        }
        self.cache_misses.inc();
        let Some(bytes) = self.backend.bundle(key_id)? else {
            return Ok(None);
        };
        let keys =
            public_bundle_for_params(&bytes, self.bundle_limit, params).map_err(|source| {
                StoreError::Bundle {
                    key_id: key_id.to_owned(),
                    source,
                }
            })?;
        let server = CkksServer::new(keys);
        self.lock_cache().put(key_id, bytes.len(), &server);
        Ok(Some(server))
    }

    /// Removes `key_id` without an owner check (for the operator; `DELETE /v1/keys/{id}`
    /// uses [`KeyStore::remove_owned`]); returns whether it was registered.
    ///
    /// # Errors
    /// The backend's errors.
    pub fn remove(&self, key_id: &str) -> Result<bool, StoreError> {
        let existed = self.backend.remove(key_id)?;
        self.lock_cache().remove(key_id);
        Ok(existed)
    }

    /// Whether no key is registered.
    ///
    /// # Errors
    /// The backend's errors.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Number of registered keys.
    ///
    /// # Errors
    /// The backend's errors.
    pub fn len(&self) -> Result<u64, StoreError> {
        Ok(self.backend.usage()?.0)
    }

    /// Keys and bundle bytes stored (what the quotas are checked against).
    ///
    /// # Errors
    /// The backend's errors.
    pub fn usage(&self) -> Result<(u64, u64), StoreError> {
        self.backend.usage()
    }

    /// Whether the store answers now (see [`BundleStore::check`]).
    ///
    /// # Errors
    /// The backend's errors.
    pub fn check(&self) -> Result<(), StoreError> {
        self.backend.check()
    }

    /// Number of decoded key sets in the cache.
    #[must_use]
    pub fn cached(&self) -> usize {
        self.lock_cache().entries.len()
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A poisoned lock only means another thread panicked while holding it; the cache
        // is still a valid (if stale) list, so keep using it.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fhez_ckks::{CkksClient, CkksParamsSpec};

    fn cache(max_entries: usize, max_bytes: usize) -> Cache {
        Cache {
            max_entries,
            max_bytes,
            bytes: 0,
            tick: 0,
            entries: Vec::new(),
        }
    }

    fn ids(c: &Cache) -> Vec<&str> {
        let mut v: Vec<&str> = c.entries.iter().map(|e| e.key_id.as_str()).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn the_key_cache_is_bounded_by_bytes_and_entries() {
        let spec = CkksParamsSpec::new(11)
            .with_log_q(&[50, 40])
            .with_log_p(&[50])
            .with_log_scale(40)
            .insecure_for_testing();
        let params = CkksParams::new(&spec).unwrap();
        let server = CkksServer::new(CkksClient::generate(&params, &[]).unwrap().server_keys());

        let mut c = cache(10, 250);
        c.put("a", 100, &server);
        c.put("b", 100, &server);
        assert_eq!((ids(&c), c.bytes), (vec!["a", "b"], 200));
        // "a" used last: the byte bound evicts "b".
        assert!(c.get("a").is_some());
        c.put("c", 100, &server);
        assert_eq!((ids(&c), c.bytes), (vec!["a", "c"], 200));
        // Larger than the whole budget: not kept, nothing evicted.
        c.put("d", 251, &server);
        assert_eq!((ids(&c), c.bytes), (vec!["a", "c"], 200));
        // Two entries' worth: both go.
        c.put("e", 250, &server);
        assert_eq!((ids(&c), c.bytes), (vec!["e"], 250));
        c.remove("e");
        assert_eq!(c.bytes, 0);

        let mut c = cache(2, usize::MAX);
        for id in ["a", "b", "c"] {
            c.put(id, 1, &server);
        }
        assert_eq!((ids(&c), c.bytes), (vec!["b", "c"], 2));
    }
}
