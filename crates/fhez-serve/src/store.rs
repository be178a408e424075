//! The key store: registered public bundles in an embedded [`redb`] database, so that they
//! survive a restart, with a small in-memory cache of decoded evaluation keys.
//!
//! A key id is the lowercase hex SHA-256 of the bundle bytes, so registering the same
//! bundle twice is idempotent and any node holding the same bytes derives the same id.
//! The store keeps only what a client chose to publish (parameters, public,
//! relinearization and Galois keys); there is no secret to keep here.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fhez_ckks::{CkksParams, CkksServer, ServerKeys};
use fhez_model::bundle::{BundleRefusal, public_bundle_for_params};
use redb::{Database, ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::Mode;

/// Bundle bytes by key id.
const BUNDLES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("bundles");
/// Metadata (JSON [`KeyRecord`]) by key id.
const RECORDS: TableDefinition<'_, &str, &str> = TableDefinition::new("records");
/// SHA-256 of the owner token by key id (records registered before owner tokens have
/// none, and cannot be deleted over HTTP).
const OWNERS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("owners");

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

/// Registered bundles on disk plus a bounded cache of ready-to-use evaluators.
pub struct KeyStore {
    db: Database,
    path: PathBuf,
    bundle_limit: usize,
    quotas: Quotas,
    /// Keys and bundle bytes stored; the lock also serializes the quota check with the
    /// write that follows it.
    usage: Mutex<(u64, u64)>,
    cache: Mutex<Cache>,
}

/// SHA-256 of an owner token.
fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equality of two hashes in time independent of where they differ.
fn same_hash(a: &[u8], b: &[u8; 32]) -> bool {
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

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("path", &self.path)
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
    /// Opens (or creates) the database at `path`. Bundles are decoded with `bundle_limit`;
    /// the decoded key sets kept in memory are bounded by `cache`.
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
        let db_err = |e: redb::Error| StoreError::Db {
            path: path.to_owned(),
            source: Box::new(e),
        };
        let db = Database::create(path).map_err(|e| db_err(e.into()))?;
        // Create the tables once so that read transactions always find them.
        let tx = db.begin_write().map_err(|e| db_err(e.into()))?;
        {
            tx.open_table(BUNDLES).map_err(|e| db_err(e.into()))?;
            tx.open_table(RECORDS).map_err(|e| db_err(e.into()))?;
            tx.open_table(OWNERS).map_err(|e| db_err(e.into()))?;
        }
        tx.commit().map_err(|e| db_err(e.into()))?;
        let usage = {
            use redb::ReadableTable;
            let tx = db.begin_read().map_err(|e| db_err(e.into()))?;
            let table = tx.open_table(BUNDLES).map_err(|e| db_err(e.into()))?;
            let mut keys = 0u64;
            let mut bytes = 0u64;
            for entry in table.iter().map_err(|e| db_err(e.into()))? {
                let (_, value) = entry.map_err(|e| db_err(e.into()))?;
                keys = keys.saturating_add(1);
                bytes = bytes.saturating_add(value.value().len() as u64);
            }
            (keys, bytes)
        };
        Ok(Self {
            db,
            path: path.to_owned(),
            bundle_limit,
            quotas,
            usage: Mutex::new(usage),
            cache: Mutex::new(Cache {
                max_entries: cache.entries,
                max_bytes: cache.bytes,
                bytes: 0,
                tick: 0,
                entries: Vec::new(),
            }),
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db_err(&self, e: impl Into<redb::Error>) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            source: Box::new(e.into()),
        }
    }

    /// Stores a bundle already decoded and validated by the caller as `keys`, registered
    /// for `model` in `mode`. Returns its record and, when it was new, its owner token
    /// (random, returned once; only its SHA-256 is stored). `None`: the same bytes were
    /// registered before, and the earlier record is returned.
    ///
    /// # Errors
    /// [`StoreError::Db`], [`StoreError::Full`] when a quota would be exceeded,
    /// [`StoreError::Random`].
    pub fn insert(
        &self,
        bundle: &[u8],
        keys: &Arc<ServerKeys>,
        model: &str,
        mode: Mode,
    ) -> Result<(KeyRecord, Option<String>), StoreError> {
        let key_id = key_id_of(bundle);
        let mut usage = self.lock_usage();
        if let Some(existing) = self.record(&key_id)? {
            return Ok((existing, None));
        }
        let (keys_now, bytes_now) = *usage;
        let keys_after = keys_now.saturating_add(1);
        let bytes_after = bytes_now.saturating_add(bundle.len() as u64);
        if keys_after > self.quotas.keys {
            return Err(StoreError::Full {
                what: "registered keys",
                limit: self.quotas.keys,
                needed: keys_after,
            });
        }
        if bytes_after > self.quotas.bytes {
            return Err(StoreError::Full {
                what: "bytes of registered bundles",
                limit: self.quotas.bytes,
                needed: bytes_after,
            });
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
        let json = serde_json::to_string(&record).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            key_id: key_id.clone(),
            reason: e.to_string(),
        })?;
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        {
            let mut bundles = tx.open_table(BUNDLES).map_err(|e| self.db_err(e))?;
            bundles
                .insert(key_id.as_str(), bundle)
                .map_err(|e| self.db_err(e))?;
            let mut records = tx.open_table(RECORDS).map_err(|e| self.db_err(e))?;
            records
                .insert(key_id.as_str(), json.as_str())
                .map_err(|e| self.db_err(e))?;
            let mut owners = tx.open_table(OWNERS).map_err(|e| self.db_err(e))?;
            owners
                .insert(key_id.as_str(), token_hash(&token).as_slice())
                .map_err(|e| self.db_err(e))?;
        }
        tx.commit().map_err(|e| self.db_err(e))?;
        *usage = (keys_after, bytes_after);
        drop(usage);
        self.lock_cache()
            .put(&key_id, bundle.len(), &CkksServer::new(Arc::clone(keys)));
        Ok((record, Some(token)))
    }

    /// Removes `key_id` if `owner_token` is its owner token (compared by SHA-256, in
    /// constant time). A key registered before owner tokens has none and is never
    /// removed this way.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn remove_owned(&self, key_id: &str, owner_token: &str) -> Result<Removal, StoreError> {
        use redb::ReadableTable;
        let presented = token_hash(owner_token);
        let mut usage = self.lock_usage();
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        let (outcome, freed) = {
            let mut bundles = tx.open_table(BUNDLES).map_err(|e| self.db_err(e))?;
            let mut records = tx.open_table(RECORDS).map_err(|e| self.db_err(e))?;
            let mut owners = tx.open_table(OWNERS).map_err(|e| self.db_err(e))?;
            let known = records.get(key_id).map_err(|e| self.db_err(e))?.is_some();
            let owned = owners
                .get(key_id)
                .map_err(|e| self.db_err(e))?
                .is_some_and(|stored| same_hash(stored.value(), &presented));
            if !known {
                (Removal::Unknown, None)
            } else if !owned {
                (Removal::NotOwner, None)
            } else {
                let freed = bundles
                    .remove(key_id)
                    .map_err(|e| self.db_err(e))?
                    .map_or(0, |b| b.value().len() as u64);
                records.remove(key_id).map_err(|e| self.db_err(e))?;
                owners.remove(key_id).map_err(|e| self.db_err(e))?;
                (Removal::Removed, Some(freed))
            }
        };
        if let Some(freed) = freed {
            tx.commit().map_err(|e| self.db_err(e))?;
            usage.0 = usage.0.saturating_sub(1);
            usage.1 = usage.1.saturating_sub(freed);
            drop(usage);
            self.lock_cache().remove(key_id);
        } else {
            tx.abort().map_err(|e| self.db_err(e))?;
        }
        Ok(outcome)
    }

    /// The record of `key_id`, if registered.
    ///
    /// # Errors
    /// [`StoreError::Db`], [`StoreError::Corrupt`].
    pub fn record(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(RECORDS).map_err(|e| self.db_err(e))?;
        let Some(guard) = table.get(key_id).map_err(|e| self.db_err(e))? else {
            return Ok(None);
        };
        let record = serde_json::from_str(guard.value()).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            key_id: key_id.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Some(record))
    }

    /// An evaluator for the key of `record` (from the cache, or decoded from the database
    /// under `params`, the parameter set the caller checked `record.params_id` against,
    /// and cached); `None` if the key is no longer registered.
    ///
    /// # Errors
    /// [`StoreError::Db`], [`StoreError::Bundle`].
    pub fn server(
        &self,
        record: &KeyRecord,
        params: &Arc<CkksParams>,
    ) -> Result<Option<CkksServer>, StoreError> {
        let key_id = record.key_id.as_str();
        if let Some(server) = self.lock_cache().get(key_id) {
            return Ok(Some(server));
        }
        let bytes = {
            let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
            let table = tx.open_table(BUNDLES).map_err(|e| self.db_err(e))?;
            let Some(guard) = table.get(key_id).map_err(|e| self.db_err(e))? else {
                return Ok(None);
            };
            guard.value().to_vec()
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
    /// [`StoreError::Db`].
    pub fn remove(&self, key_id: &str) -> Result<bool, StoreError> {
        let mut usage = self.lock_usage();
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        let (existed, freed) = {
            let mut bundles = tx.open_table(BUNDLES).map_err(|e| self.db_err(e))?;
            let freed = bundles
                .remove(key_id)
                .map_err(|e| self.db_err(e))?
                .map(|b| b.value().len() as u64);
            let mut records = tx.open_table(RECORDS).map_err(|e| self.db_err(e))?;
            let had_record = records
                .remove(key_id)
                .map_err(|e| self.db_err(e))?
                .is_some();
            let mut owners = tx.open_table(OWNERS).map_err(|e| self.db_err(e))?;
            owners.remove(key_id).map_err(|e| self.db_err(e))?;
            (freed.is_some() || had_record, freed)
        };
        tx.commit().map_err(|e| self.db_err(e))?;
        if let Some(freed) = freed {
            usage.0 = usage.0.saturating_sub(1);
            usage.1 = usage.1.saturating_sub(freed);
        }
        drop(usage);
        self.lock_cache().remove(key_id);
        Ok(existed)
    }

    /// Whether no key is registered.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Number of registered keys.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn len(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(RECORDS).map_err(|e| self.db_err(e))?;
        table.len().map_err(|e| self.db_err(e))
    }

    /// Keys and bundle bytes stored (what the quotas are checked against).
    #[must_use]
    pub fn usage(&self) -> (u64, u64) {
        *self.lock_usage()
    }

    fn lock_usage(&self) -> std::sync::MutexGuard<'_, (u64, u64)> {
        // As `lock_cache`: the counts stay valid if a holder panicked.
        self.usage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
