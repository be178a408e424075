//! Operation counters shared by clones of a backend.

use std::ops::Sub;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a backend's operation counters.
///
/// Counters only grow; measure an operation by subtracting two snapshots
/// (`after - before`, saturating).
///
/// - `key_switches`: every operation that needs a switching key in CKKS: each non-identity
///   rotation (hoisted or not) and each relinearization — one per ct×ct multiplication, and
///   one per output of [`product_combinations`](crate::Backend::product_combinations),
///   whose products share it.
/// - `rotations`: non-identity rotations, hoisted ones included.
/// - `hoisted`: calls of [`rotate_hoisted`](crate::Backend::rotate_hoisted) (one shared
///   decomposition each).
/// - `mults`: ct×ct multiplications (relinearized at once or deferred).
/// - `plain_mults`: ct×plaintext and ct×scalar multiplications (including linear combinations,
///   counted once per term).
/// - `rescales`: levels consumed (one per level-consuming operation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpStats {
    /// Key switches (rotations + relinearizations).
    pub key_switches: u64,
    /// Non-identity rotations.
    pub rotations: u64,
    /// Hoisted rotation batches.
    pub hoisted: u64,
    /// ct×ct multiplications.
    pub mults: u64,
    /// ct×plaintext / ct×scalar multiplications.
    pub plain_mults: u64,
    /// Rescales (levels consumed).
    pub rescales: u64,
}

impl Sub for OpStats {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Self {
            key_switches: self.key_switches.saturating_sub(rhs.key_switches),
            rotations: self.rotations.saturating_sub(rhs.rotations),
            hoisted: self.hoisted.saturating_sub(rhs.hoisted),
            mults: self.mults.saturating_sub(rhs.mults),
            plain_mults: self.plain_mults.saturating_sub(rhs.plain_mults),
            rescales: self.rescales.saturating_sub(rhs.rescales),
        }
    }
}

/// Thread-safe counters behind an `Arc`, so clones of a backend share them. Backend
/// implementations (including the CKKS one) embed one and call the `record_*` methods.
#[derive(Clone, Debug, Default)]
pub struct StatsRecorder {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    key_switches: AtomicU64,
    rotations: AtomicU64,
    hoisted: AtomicU64,
    mults: AtomicU64,
    plain_mults: AtomicU64,
    rescales: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl StatsRecorder {
    /// Fresh counters at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `n` non-identity rotations (each one key switch).
    pub fn record_rotations(&self, n: u64) {
        bump(&self.inner.rotations, n);
        bump(&self.inner.key_switches, n);
    }

    /// Records one hoisted batch (the shared decomposition); record its rotations separately.
    pub fn record_hoisted(&self) {
        bump(&self.inner.hoisted, 1);
    }

    /// Records one ct×ct multiplication (one relinearization key switch).
    pub fn record_mult(&self) {
        bump(&self.inner.mults, 1);
        bump(&self.inner.key_switches, 1);
    }

    /// Records `n` ct×ct products whose relinearization is deferred (no key switch yet;
    /// record it with [`StatsRecorder::record_relinearizations`]).
    pub fn record_deferred_mults(&self, n: u64) {
        bump(&self.inner.mults, n);
    }

    /// Records `n` relinearizations of deferred products (one key switch each).
    pub fn record_relinearizations(&self, n: u64) {
        bump(&self.inner.key_switches, n);
    }

    /// Records `n` ct×plaintext or ct×scalar multiplications.
    pub fn record_plain_mults(&self, n: u64) {
        bump(&self.inner.plain_mults, n);
    }

    /// Records `n` rescales.
    pub fn record_rescales(&self, n: u64) {
        bump(&self.inner.rescales, n);
    }

    /// Current values.
    #[must_use]
    pub fn snapshot(&self) -> OpStats {
        let c = &self.inner;
        OpStats {
            key_switches: c.key_switches.load(Ordering::Relaxed),
            rotations: c.rotations.load(Ordering::Relaxed),
            hoisted: c.hoisted.load(Ordering::Relaxed),
            mults: c.mults.load(Ordering::Relaxed),
            plain_mults: c.plain_mults.load(Ordering::Relaxed),
            rescales: c.rescales.load(Ordering::Relaxed),
        }
    }
}
