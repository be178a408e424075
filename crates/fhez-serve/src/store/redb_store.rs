//! [`RedbStore`]: bundles in an embedded [`redb`] database file (one per node).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{BundleStore, KeyRecord, Quotas, Removal, StoreError, check_quotas, same_hash};

/// Bundle bytes by key id.
const BUNDLES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("bundles");
/// Metadata (JSON [`KeyRecord`]) by key id.
const RECORDS: TableDefinition<'_, &str, &str> = TableDefinition::new("records");
/// SHA-256 of the owner token by key id (records registered before owner tokens have
/// none, and cannot be deleted over HTTP).
const OWNERS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("owners");

/// Registered bundles in an embedded database file. The file is locked by the process
/// that opened it: a second worker cannot share it (use [`super::PgStore`] for that).
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    /// Keys and bundle bytes stored; the lock also serializes the quota check with the
    /// write that follows it.
    usage: Mutex<(u64, u64)>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens (or creates) the database at `path` and counts what it holds.
    ///
    /// # Errors
    /// [`StoreError::Db`] (including a database already opened by another process).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
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
            usage: Mutex::new(usage),
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

    fn lock_usage(&self) -> std::sync::MutexGuard<'_, (u64, u64)> {
        // The counts stay valid if a holder panicked.
        self.usage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl BundleStore for RedbStore {
    fn describe(&self) -> String {
        format!("redb {}", self.path.display())
    }

    fn insert_new(
        &self,
        bundle: &[u8],
        record: &KeyRecord,
        owner_hash: &[u8; 32],
        quotas: Quotas,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let mut usage = self.lock_usage();
        if let Some(existing) = self.record(&record.key_id)? {
            return Ok(Some(existing));
        }
        check_quotas(*usage, bundle.len(), quotas)?;
        let json = serde_json::to_string(record).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            key_id: record.key_id.clone(),
            reason: e.to_string(),
        })?;
        let key_id = record.key_id.as_str();
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        {
            let mut bundles = tx.open_table(BUNDLES).map_err(|e| self.db_err(e))?;
            bundles.insert(key_id, bundle).map_err(|e| self.db_err(e))?;
            let mut records = tx.open_table(RECORDS).map_err(|e| self.db_err(e))?;
            records
                .insert(key_id, json.as_str())
                .map_err(|e| self.db_err(e))?;
            let mut owners = tx.open_table(OWNERS).map_err(|e| self.db_err(e))?;
            owners
                .insert(key_id, owner_hash.as_slice())
                .map_err(|e| self.db_err(e))?;
        }
        tx.commit().map_err(|e| self.db_err(e))?;
        usage.0 = usage.0.saturating_add(1);
        usage.1 = usage.1.saturating_add(bundle.len() as u64);
        Ok(None)
    }

    fn record(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
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

    fn bundle(&self, key_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = tx.open_table(BUNDLES).map_err(|e| self.db_err(e))?;
        Ok(table
            .get(key_id)
            .map_err(|e| self.db_err(e))?
            .map(|guard| guard.value().to_vec()))
    }

    fn remove_owned(&self, key_id: &str, presented: &[u8; 32]) -> Result<Removal, StoreError> {
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
                .is_some_and(|stored| same_hash(stored.value(), presented));
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
        } else {
            tx.abort().map_err(|e| self.db_err(e))?;
        }
        Ok(outcome)
    }

    fn remove(&self, key_id: &str) -> Result<bool, StoreError> {
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
        Ok(existed)
    }

    fn usage(&self) -> Result<(u64, u64), StoreError> {
        Ok(*self.lock_usage())
    }

    fn check(&self) -> Result<(), StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        tx.open_table(RECORDS).map_err(|e| self.db_err(e))?;
        Ok(())
    }
}
