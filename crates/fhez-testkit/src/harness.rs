//! The harness that runs one [`Case`] on a backend under test, on its `Plain` oracle and on its
//! `Sim` mirror, and compares values and accounting.

use fhez_backend::{Backend, Caps, Decrypt, OpStats, Plain, Sim, SimConfig};
use fhez_erray::{Erray, PlainArray};

use crate::Inputs;

/// Decrypts one ciphertext of `B` (a function pointer, so backends without
/// [`Decrypt`] can run the accounting half of the suite).
pub type DecryptFn<B> = fn(&B, &<B as Backend>::Ct) -> fhez_backend::Result<Vec<f64>>;

/// One conformance check: a small erray program, written once, run on every backend.
pub trait Case {
    /// Test name.
    fn name(&self) -> &'static str;

    /// Factor applied to the tolerance (for example the number of accumulated terms).
    fn scale(&self) -> f64 {
        1.0
    }

    /// Runs the program on backend `b` with deterministic `inputs`.
    ///
    /// # Errors
    /// Whatever the program's erray operations return; errors are compared across backends.
    fn run<C: Backend>(&self, b: &C, inputs: &Inputs) -> fhez_erray::Result<Erray<C>>;
}

/// A backend under test plus what is needed to judge it.
#[derive(Debug)]
pub struct Harness<B: Backend> {
    /// The backend under test (its counters should be fresh: no other test may use the same
    /// counters concurrently, but keys may be shared).
    pub backend: B,
    /// Decryption, when the backend can decrypt; `None` skips value checks.
    pub decrypt: Option<DecryptFn<B>>,
    /// Absolute tolerance for values of magnitude ≤ 1 (scaled by [`Case::scale`] and by
    /// `1 + |expected|`).
    pub tolerance: f64,
    /// Seed of the random inputs (override with the `FHEZ_TEST_SEED` environment variable).
    pub seed: u64,
}

/// Default input seed.
pub const DEFAULT_SEED: u64 = 0x00f4_e2c0_ffee;

pub(crate) fn seed_from_env() -> u64 {
    std::env::var("FHEZ_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

impl<B: Decrypt> Harness<B> {
    /// A harness that checks values (against `Plain`) and accounting.
    #[must_use]
    pub fn decrypting(backend: B, tolerance: f64) -> Self {
        Self {
            backend,
            decrypt: Some(<B as Decrypt>::decrypt),
            tolerance,
            seed: seed_from_env(),
        }
    }
}

impl<B: Backend> Harness<B> {
    /// A harness that checks accounting only (levels, key switches, rotations, mults,
    /// errors), for backends without [`Decrypt`] such as `Sim` or a CKKS server.
    #[must_use]
    pub fn accounting_only(backend: B) -> Self {
        Self {
            backend,
            decrypt: None,
            tolerance: 0.0,
            seed: seed_from_env(),
        }
    }

    /// Runs `case` and compares; the message names the case, backend and seed.
    ///
    /// # Errors
    /// A human-readable description of the first disagreement.
    pub fn check<K: Case>(&self, case: &K) -> Result<(), String> {
        self.compare(case).map_err(|msg| {
            format!(
                "[{} on {}] {msg} (seed {}; rerun with FHEZ_TEST_SEED={})",
                case.name(),
                self.backend.kind(),
                self.seed,
                self.seed
            )
        })
    }

    fn compare<K: Case>(&self, case: &K) -> Result<(), String> {
        let caps = self.backend.caps();
        let inputs = Inputs::new(self.seed, caps.slots);
        let oracle = Plain::mirroring(caps);
        let sim = sim_mirror(caps)?;
        let (b0, p0, s0) = (self.backend.stats(), oracle.stats(), sim.stats());
        let rb = case.run(&self.backend, &inputs);
        let rp = case.run(&oracle, &inputs);
        let rs = case.run(&sim, &inputs);
        let deltas = [
            self.backend.stats() - b0,
            oracle.stats() - p0,
            sim.stats() - s0,
        ];
        match (rb, rp, rs) {
            (Ok(eb), Ok(ep), Ok(es)) => {
                compare_accounting(&eb, &ep, &es, &deltas)?;
                self.compare_values(case, &eb, &ep)
            }
            (Err(eb), Err(ep), Err(es)) => {
                let (b, p, s) = (eb.to_string(), ep.to_string(), es.to_string());
                if b == p && p == s {
                    Ok(())
                } else {
                    Err(format!(
                        "errors differ: backend `{b}`, plain `{p}`, sim `{s}`"
                    ))
                }
            }
            (rb, rp, rs) => Err(format!(
                "outcomes differ: backend {:?}, plain {:?}, sim {:?}",
                rb.err().map(|e| e.to_string()),
                rp.err().map(|e| e.to_string()),
                rs.err().map(|e| e.to_string())
            )),
        }
    }

    fn compare_values<K: Case>(
        &self,
        case: &K,
        eb: &Erray<B>,
        ep: &Erray<Plain>,
    ) -> Result<(), String> {
        let Some(decrypt) = self.decrypt else {
            return Ok(());
        };
        let want = ep.decrypt().map_err(|e| e.to_string())?;
        let got = decrypt_with(eb, decrypt)?;
        let tol = self.tolerance * case.scale();
        for (k, (g, w)) in got.data().iter().zip(want.data()).enumerate() {
            if (g - w).abs() > tol * (1.0 + w.abs()) {
                return Err(format!(
                    "element {k}: got {g}, expected {w} (tolerance {tol:e})"
                ));
            }
        }
        Ok(())
    }
}

/// A `Sim` with the same slots, levels and rotation keys as `caps`.
///
/// # Errors
/// The Sim configuration error, as text.
pub fn sim_mirror(caps: &Caps) -> Result<Sim, String> {
    let mut config = SimConfig::from_caps(caps);
    if !(config.log_scale.is_finite() && config.log_scale > 0.0) {
        config.log_scale = 40.0;
    }
    Sim::new(config).map_err(|e| e.to_string())
}

fn levels<C: Backend>(e: &Erray<C>) -> Vec<u32> {
    e.cts().iter().map(|c| e.backend().level(c)).collect()
}

fn compare_accounting<B: Backend>(
    eb: &Erray<B>,
    ep: &Erray<Plain>,
    es: &Erray<Sim>,
    deltas: &[OpStats; 3],
) -> Result<(), String> {
    if eb.shape() != ep.shape() || eb.packing() != ep.packing() {
        return Err(format!(
            "layout differs: {:?}/{:?} vs plain {:?}/{:?}",
            eb.shape(),
            eb.packing(),
            ep.shape(),
            ep.packing()
        ));
    }
    let (lb, lp, ls) = (levels(eb), levels(ep), levels(es));
    if lb != lp || lp != ls {
        return Err(format!(
            "levels differ: backend {lb:?}, plain {lp:?}, sim {ls:?}"
        ));
    }
    let key = |s: &OpStats| (s.key_switches, s.rotations, s.mults);
    let [db, dp, ds] = deltas;
    if key(db) != key(dp) || key(dp) != key(ds) {
        return Err(format!(
            "(key switches, rotations, mults) differ: backend {:?}, plain {:?}, sim {:?}",
            key(db),
            key(dp),
            key(ds)
        ));
    }
    Ok(())
}

/// Decrypts an erray with a ciphertext decryption function (no `Decrypt` bound needed).
///
/// # Errors
/// Decryption or layout errors, as text.
pub fn decrypt_with<B: Backend>(e: &Erray<B>, decrypt: DecryptFn<B>) -> Result<PlainArray, String> {
    let vectors = e
        .cts()
        .iter()
        .map(|c| decrypt(e.backend(), c))
        .collect::<fhez_backend::Result<Vec<_>>>()
        .map_err(|err| err.to_string())?;
    let data = e
        .packing()
        .unlayout(e.shape(), e.backend().slots(), &vectors)
        .map_err(|err| err.to_string())?;
    PlainArray::new(e.shape().to_vec(), data).map_err(|err| err.to_string())
}
