//! The key-store interface: the same conformance checks on the embedded store and on the
//! PostgreSQL store (registration, idempotence, owner tokens, quotas, the decoded-key
//! cache), and what only a shared store can show: two workers on one database see each
//! other's registrations, a DELETE on one is refused by the other from its next lookup
//! on, quotas hold across workers, and a worker's pooled connections survive a restart of
//! the database. PostgreSQL tests need `FHEZ_TEST_POSTGRES=1` (or a URL, see
//! `common/pg.rs`); without it they say they skipped.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::sync::{Arc, OnceLock};

use fhez_ckks::{CkksParams, ServerKeys};
use fhez_model::bundle::public_bundle_to_bytes;
use fhez_serve::store::{CacheLimits, PgConfig, PgStore};
use fhez_serve::{KeyStore, Mode, Quotas, Removal, StoreError, key_id_of};

mod common;
use common::{bars_file, pg::postgres, temp_dir};

/// The bars model's (secure) parameters, its public keys and their bundle bytes.
fn keys() -> &'static (Arc<CkksParams>, Arc<ServerKeys>, Vec<u8>) {
    static KEYS: OnceLock<(Arc<CkksParams>, Arc<ServerKeys>, Vec<u8>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let model = bars_file().encrypted_model().unwrap();
        let params = CkksParams::new(&model.spec()).unwrap();
        let client = model.keygen(&params).unwrap();
        let server = client.server_keys();
        let bytes = public_bundle_to_bytes(&server).unwrap();
        (params, server, bytes)
    })
}

const LIMIT: usize = 64 << 20;
const CACHE: CacheLimits = CacheLimits {
    entries: 4,
    bytes: 1 << 30,
};

/// Distinct filler bundles of `len` bytes (the store keeps bytes as given; only
/// [`KeyStore::server`] decodes them).
fn filler(tag: u8, len: usize) -> Vec<u8> {
    vec![tag; len]
}

/// The checks every store passes. `make` opens a store with the given quotas on an empty
/// database.
fn conformance(make: impl Fn(Quotas) -> KeyStore) {
    let (params, server_keys, bundle) = keys();
    let len = bundle.len() as u64;
    // Room for the real bundle and 1000 more bytes, two keys.
    let quotas = Quotas {
        keys: 2,
        bytes: len + 1000,
    };
    let store = make(quotas);
    assert_eq!(store.len().unwrap(), 0);
    store.check().unwrap();

    // Registration returns an owner token once; the same bytes again return the record.
    let (record, token) = store
        .insert(bundle, server_keys, "bars", Mode::Batch)
        .unwrap();
    let token = token.expect("a new key has an owner token");
    assert_eq!(record.key_id, key_id_of(bundle));
    assert_eq!(record.bytes, bundle.len());
    assert_eq!(record.mode, Mode::Batch);
    assert_eq!(record.params_id, params.id().to_hex());
    let (again, none) = store
        .insert(bundle, server_keys, "bars", Mode::Batch)
        .unwrap();
    assert!(none.is_none(), "re-registering returns no token");
    assert_eq!(again, record);
    assert_eq!(store.record(&record.key_id).unwrap(), Some(record.clone()));
    assert_eq!(store.usage().unwrap(), (1, len));

    // The decoded keys come from the cache after registration: hits count.
    let (hits, misses) = store.cache_counters();
    assert!(store.server(&record, params).unwrap().is_some());
    assert_eq!((hits.get(), misses.get()), (1, 0));

    // Quotas: bytes first (one byte over), then keys.
    match store.insert(&filler(1, 1001), server_keys, "bars", Mode::Batch) {
        Err(StoreError::Full {
            what,
            limit,
            needed,
        }) => {
            assert_eq!(what, "bytes of registered bundles");
            assert_eq!((limit, needed), (len + 1000, len + 1001));
        }
        other => panic!("expected the byte quota, got {other:?}"),
    }
    let (small, small_token) = store
        .insert(&filler(2, 500), server_keys, "bars", Mode::Batch)
        .unwrap();
    let small_token = small_token.unwrap();
    match store.insert(&filler(3, 1), server_keys, "bars", Mode::Batch) {
        Err(StoreError::Full {
            what,
            limit,
            needed,
        }) => {
            assert_eq!(what, "registered keys");
            assert_eq!((limit, needed), (2, 3));
        }
        other => panic!("expected the key quota, got {other:?}"),
    }

    // Deleting needs the owner token; a deleted key frees its place.
    let unknown = key_id_of(b"never registered");
    assert_eq!(
        store.remove_owned(&unknown, &token).unwrap(),
        Removal::Unknown
    );
    assert_eq!(
        store.remove_owned(&small.key_id, &token).unwrap(),
        Removal::NotOwner
    );
    assert_eq!(
        store.remove_owned(&small.key_id, "").unwrap(),
        Removal::NotOwner
    );
    assert_eq!(
        store.remove_owned(&small.key_id, &small_token).unwrap(),
        Removal::Removed
    );
    assert_eq!(store.record(&small.key_id).unwrap(), None);
    assert_eq!(store.usage().unwrap(), (1, len));
    store
        .insert(&filler(3, 1), server_keys, "bars", Mode::Latency)
        .unwrap();

    // Deleting the real key: its record, bundle and cached keys are gone (the cache
    // holds what registrations decoded: the real key and the last filler).
    assert_eq!(store.cached(), 2);
    assert_eq!(
        store.remove_owned(&record.key_id, &token).unwrap(),
        Removal::Removed
    );
    assert_eq!(store.record(&record.key_id).unwrap(), None);
    assert!(store.server(&record, params).unwrap().is_none());
    assert_eq!(store.cached(), 1);
    assert!(store.remove(&key_id_of(&filler(3, 1))).unwrap());
    assert!(store.is_empty().unwrap());
}

#[test]
fn the_embedded_store_conforms() {
    let dir = temp_dir("conform");
    conformance(|q| KeyStore::open_with_quotas(&dir.join("keys.redb"), LIMIT, CACHE, q).unwrap());
    let _ = std::fs::remove_dir_all(dir);
}

fn pg_store(url: &str, quotas: Quotas) -> KeyStore {
    let backend = PgStore::connect(&PgConfig::new(url)).unwrap();
    KeyStore::with_backend(Box::new(backend), LIMIT, CACHE, quotas)
}

#[test]
fn the_postgres_store_conforms() {
    let Some(pg) = postgres("conform") else {
        return;
    };
    conformance(|q| pg_store(&pg.url, q));
}

#[test]
fn workers_sharing_postgres_see_registrations_deletions_and_quotas_at_once() {
    let Some(pg) = postgres("shared") else {
        return;
    };
    let (params, server_keys, bundle) = keys();
    let quotas = Quotas {
        keys: 2,
        bytes: u64::MAX,
    };
    let a = pg_store(&pg.url, quotas);
    let b = pg_store(&pg.url, quotas);

    // Registered on A, known to B, whose cache then decodes it once.
    let (record, token) = a.insert(bundle, server_keys, "bars", Mode::Batch).unwrap();
    let token = token.unwrap();
    assert_eq!(b.record(&record.key_id).unwrap(), Some(record.clone()));
    let (hits, misses) = b.cache_counters();
    assert!(b.server(&record, params).unwrap().is_some());
    assert!(b.server(&record, params).unwrap().is_some());
    assert_eq!((hits.get(), misses.get()), (1, 1));
    assert_eq!(b.cached(), 1);
    // B registering the same bytes gets no token: ownership is the first registrant's.
    assert!(
        b.insert(bundle, server_keys, "bars", Mode::Batch)
            .unwrap()
            .1
            .is_none()
    );

    // Deleted on A: B's very next lookup says unknown, and drops its cached keys.
    assert_eq!(
        a.remove_owned(&record.key_id, &token).unwrap(),
        Removal::Removed
    );
    assert_eq!(b.record(&record.key_id).unwrap(), None);
    assert_eq!(b.cached(), 0);

    // The key quota holds across workers racing: of 2 × 4 distinct registrations into
    // 2 places, exactly 2 succeed and the others are refused with the quota's numbers.
    let (a, b) = (Arc::new(a), Arc::new(b));
    let threads: Vec<_> = (0..8u8)
        .map(|i| {
            let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
            std::thread::spawn(move || {
                store.insert(&filler(10 + i, 100), &keys().1, "bars", Mode::Batch)
            })
        })
        .collect();
    let mut created = 0;
    for t in threads {
        match t.join().unwrap() {
            Ok((_, Some(_))) => created += 1,
            Err(StoreError::Full { what, limit, .. }) => {
                assert_eq!((what, limit), ("registered keys", 2));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 2);
    assert_eq!(a.usage().unwrap(), (2, 200));
}

#[test]
fn a_postgres_restart_costs_pooled_connections_no_request() {
    let Some(pg) = postgres("restart") else {
        return;
    };
    if !pg.owned() {
        eprintln!("skipped: the harness does not own the server at FHEZ_TEST_POSTGRES_URL");
        return;
    }
    let (_, server_keys, _) = keys();
    let store = pg_store(&pg.url, Quotas::UNLIMITED);
    let (record, _) = store
        .insert(&filler(1, 10), server_keys, "bars", Mode::Batch)
        .unwrap();
    pg.stop();
    match store.record(&record.key_id) {
        Err(e @ StoreError::Unavailable { .. }) => eprintln!("while stopped: {e}"),
        other => panic!("expected Unavailable while the server is down, got {other:?}"),
    }
    assert!(matches!(store.check(), Err(StoreError::Unavailable { .. })));
    pg.start();
    // The pooled connection died with the server; the store reconnects by itself.
    assert_eq!(store.record(&record.key_id).unwrap(), Some(record));
    store.check().unwrap();
}
