//! The [`Backend`] and [`Decrypt`] traits.

use crate::{BackendKind, Caps, OpStats, Result};

/// A *managed* homomorphic backend over packed real vectors.
///
/// A ciphertext ([`Backend::Ct`]) holds `slots` real values. Implementations relinearize,
/// rescale and align levels and scales themselves, so nothing above this trait does CKKS
/// bookkeeping.
///
/// # Level convention and cost rules
///
/// A fresh ciphertext is at [`Caps::max_level`]; operations that consume a level lower it by
/// one; level 0 is the last usable level (an operation that needs a level on a level-0
/// operand fails with [`Error::LevelExhausted`](crate::Error::LevelExhausted)). Binary
/// operations first align both operands to the lower of their two levels. Every
/// implementation — [`Plain`](crate::Plain), [`Sim`](crate::Sim) and the CKKS engine —
/// follows exactly these rules, so `Sim` predicts what the engine consumes:
///
/// | operation | result level | key switches |
/// | --- | --- | --- |
/// | `encrypt` | `max_level` | 0 |
/// | `add`, `sub`, `add_plain`, `sub_plain`, `add_scalar`, `neg` | `min(levels)` | 0 |
/// | `mul_plain` | `level − 1` | 0 |
/// | `encode_plain(values, l)` (no ciphertext) | — | 0 |
/// | `mul_plain_sum(terms)`, every term at the level `l` its plaintext was encoded for | `l − 1` (one rescale for the whole sum) | 0 |
/// | `mul_scalar(s)`, `s` a [free scalar](crate::is_free_scalar) | `level` | 0 |
/// | `mul_scalar(s)`, otherwise | `level − 1` | 0 |
/// | `mul` (ct×ct, relinearized and rescaled) | `min(levels) − 1` | 1 |
/// | `rotate(step)`, `step ≢ 0 (mod slots)` | `level` | 1 |
/// | `rotate_hoisted(steps)` | `level` | one per non-identity step |
/// | `linear_combination` | see the method | 0 |
/// | `linear_combinations(cts, rows)` | per row, as `linear_combination` | 0 |
/// | `product_combinations(pairs, rows)` | per row, as `linear_combination` of the products, each at `min(levels) − 1` | 1 per row |
///
/// Plaintext vectors shorter than `slots` are zero-padded; longer ones are
/// [`TooManyValues`](crate::Error::TooManyValues); NaN or infinite inputs are
/// [`NonFinite`](crate::Error::NonFinite).
///
/// # Roles
///
/// Decryption is a separate trait, [`Decrypt`], implemented only by values that hold the
/// secret key. The CKKS crate provides `CkksClient: Backend + Decrypt` (holds the secret key)
/// and `CkksServer: Backend` (evaluation keys only, no `Decrypt` impl), so handing a server
/// value to code that decrypts is a compile error. Keys travel inside the backend value; there
/// is no global state. [`Sim`](crate::Sim) has no `Decrypt` either:
///
/// ```compile_fail
/// use fhez_backend::{Backend, Decrypt, Sim, SimConfig};
///
/// fn reveal<B: Decrypt>(b: &B, ct: &B::Ct) -> Vec<f64> {
///     b.decrypt(ct).unwrap_or_default()
/// }
///
/// let sim = Sim::new(SimConfig::planning(8, 3, 40.0)).unwrap();
/// let ct = sim.encrypt(&[1.0]).unwrap();
/// let _ = reveal(&sim, &ct); // error: `Sim: Decrypt` is not satisfied
/// ```
///
/// whereas the same function accepts [`Plain`](crate::Plain):
///
/// ```
/// use fhez_backend::{Backend, Decrypt, Plain};
///
/// fn reveal<B: Decrypt>(b: &B, ct: &B::Ct) -> Vec<f64> {
///     b.decrypt(ct).unwrap_or_default()
/// }
///
/// let plain = Plain::new(4);
/// let ct = plain.encrypt(&[1.0, 2.0])?;
/// assert_eq!(reveal(&plain, &ct), vec![1.0, 2.0, 0.0, 0.0]);
/// # Ok::<(), fhez_backend::Error>(())
/// ```
pub trait Backend: Clone + Send + Sync + 'static {
    /// One packed vector of `slots` reals.
    type Ct: Clone + Send + Sync + std::fmt::Debug + 'static;

    /// A plaintext vector encoded once, by [`Backend::encode_plain`], as the multiplicand of
    /// ciphertexts at one level: reused by every [`Backend::mul_plain_sum`] without encoding
    /// again (the diagonals of a linear transform, encoded at model load).
    type Pt: Clone + Send + Sync + std::fmt::Debug + 'static;

    /// Which backend family this is.
    fn kind(&self) -> BackendKind;

    /// Slots, level budget, scale and rotation keys.
    fn caps(&self) -> &Caps;

    /// Shorthand for `caps().slots`.
    fn slots(&self) -> usize {
        self.caps().slots
    }

    /// Encrypts up to `slots` values (zero-padded). Result at `max_level`.
    ///
    /// # Errors
    /// [`TooManyValues`](crate::Error::TooManyValues), [`NonFinite`](crate::Error::NonFinite).
    fn encrypt(&self, values: &[f64]) -> Result<Self::Ct>;

    /// `a + b`, slotwise. Level `min(levels)`.
    ///
    /// # Errors
    /// Engine errors (mismatched parameters).
    fn add(&self, a: &Self::Ct, b: &Self::Ct) -> Result<Self::Ct>;

    /// `a − b`, slotwise. Level `min(levels)`.
    ///
    /// # Errors
    /// Engine errors (mismatched parameters).
    fn sub(&self, a: &Self::Ct, b: &Self::Ct) -> Result<Self::Ct>;

    /// `−a`. Level unchanged.
    ///
    /// # Errors
    /// Engine errors.
    fn neg(&self, a: &Self::Ct) -> Result<Self::Ct>;

    /// `a + b` with a plaintext vector (zero-padded). Level unchanged.
    ///
    /// # Errors
    /// [`TooManyValues`](crate::Error::TooManyValues), [`NonFinite`](crate::Error::NonFinite).
    fn add_plain(&self, a: &Self::Ct, b: &[f64]) -> Result<Self::Ct>;

    /// `a − b` with a plaintext vector (zero-padded). Level unchanged.
    ///
    /// # Errors
    /// [`TooManyValues`](crate::Error::TooManyValues), [`NonFinite`](crate::Error::NonFinite).
    fn sub_plain(&self, a: &Self::Ct, b: &[f64]) -> Result<Self::Ct>;

    /// `a ⊙ b` with a plaintext vector (zero-padded). Consumes one level.
    ///
    /// # Errors
    /// [`LevelExhausted`](crate::Error::LevelExhausted) at level 0, plus the plaintext checks.
    fn mul_plain(&self, a: &Self::Ct, b: &[f64]) -> Result<Self::Ct>;

    /// Encodes `values` (zero-padded) once as the plaintext multiplicand of ciphertexts at
    /// `level`, with the scale [`Backend::mul_plain`] would use there, so that
    /// [`Backend::mul_plain_sum`] multiplies by it without encoding. No counters change.
    ///
    /// # Errors
    /// [`LevelExhausted`](crate::Error::LevelExhausted) when `level` is 0 (a product with it
    /// needs a level); [`LevelMismatch`](crate::Error::LevelMismatch) when `level` is above
    /// [`Caps::max_level`]; [`TooManyValues`](crate::Error::TooManyValues),
    /// [`NonFinite`](crate::Error::NonFinite).
    fn encode_plain(&self, values: &[f64], level: u32) -> Result<Self::Pt>;

    /// The ciphertext level `pt` was encoded for.
    fn plain_level(&self, pt: &Self::Pt) -> u32;

    /// Bytes of memory `pt` occupies on an encrypting backend: `(level + 1)` RNS limbs of
    /// `2·slots` 8-byte residues for CKKS, which [`Sim`](crate::Sim) predicts exactly;
    /// [`Plain`](crate::Plain) reports its own `8·slots`.
    fn plain_bytes(&self, pt: &Self::Pt) -> usize;

    /// `Σ_i cts_i ⊙ pts_i` for `terms[i] = (cts_i, pts_i)`, the products summed before one
    /// rescale (the old engine's per-giant-group sum): every ciphertext must be at the level
    /// its plaintext was encoded for, all terms at one level `l`; the result is at `l − 1`,
    /// as `mul_plain` followed by `add`s would be. Counters: one plaintext multiplication per
    /// term, **one** rescale.
    ///
    /// # Errors
    /// [`LengthMismatch`](crate::Error::LengthMismatch) for no terms;
    /// [`LevelMismatch`](crate::Error::LevelMismatch) for the first term whose ciphertext or
    /// plaintext level differs from the first term's ciphertext level.
    fn mul_plain_sum(&self, terms: &[(&Self::Ct, &Self::Pt)]) -> Result<Self::Ct>;

    /// `a + s` in every slot (including slots the caller considers padding). Level unchanged.
    ///
    /// # Errors
    /// [`NonFinite`](crate::Error::NonFinite).
    fn add_scalar(&self, a: &Self::Ct, s: f64) -> Result<Self::Ct>;

    /// `s · a`. Free (no level) when `s` is a [free scalar](crate::is_free_scalar) — an
    /// integer with `|s| ≤ 2^20`, which CKKS multiplies into the RNS residues without scaling —
    /// otherwise consumes one level.
    ///
    /// # Errors
    /// [`LevelExhausted`](crate::Error::LevelExhausted), [`NonFinite`](crate::Error::NonFinite).
    fn mul_scalar(&self, a: &Self::Ct, s: f64) -> Result<Self::Ct>;

    /// `a ⊙ b`, ct×ct, relinearized and rescaled. Level `min(levels) − 1`; one key switch.
    ///
    /// # Errors
    /// [`LevelExhausted`](crate::Error::LevelExhausted) when the aligned level is 0.
    fn mul(&self, a: &Self::Ct, b: &Self::Ct) -> Result<Self::Ct>;

    /// `Σ_i w_i · cts_i`. Terms whose weight is exactly 0 are skipped. Result level is
    /// `min_i(level(cts_i) − c_i)` over the kept terms, with `c_i = 0` for a
    /// [free](crate::is_free_scalar) weight and 1 otherwise; if every weight is 0 the result is
    /// `0 · cts_0` at `level(cts_0)`. The default implementation is `mul_scalar` + `add`; an
    /// engine may override it with one lazy rescale, provided the level result is the same.
    ///
    /// # Errors
    /// [`LengthMismatch`](crate::Error::LengthMismatch) if the slices differ in length or are
    /// empty, plus the `mul_scalar` errors.
    fn linear_combination(&self, cts: &[&Self::Ct], weights: &[f64]) -> Result<Self::Ct> {
        if cts.len() != weights.len() || cts.is_empty() {
            return Err(crate::Error::LengthMismatch {
                op: "linear_combination",
                expected: weights.len().max(1),
                found: cts.len(),
            });
        }
        let mut acc: Option<Self::Ct> = None;
        for (ct, &w) in cts.iter().zip(weights) {
            if w == 0.0 {
                continue;
            }
            let term = self.mul_scalar(ct, w)?;
            acc = Some(match acc {
                Some(a) => self.add(&a, &term)?,
                None => term,
            });
        }
        match (acc, cts.first()) {
            (Some(a), _) => Ok(a),
            (None, Some(first)) => self.mul_scalar(first, 0.0),
            (None, None) => Err(crate::Error::LengthMismatch {
                op: "linear_combination",
                expected: 1,
                found: 0,
            }),
        }
    }

    /// Several linear combinations of the same ciphertexts: `out_j = Σ_i rows[j][i] · cts_i`
    /// for every row `j` (a dense layer `x @ W` in batch-in-slots packing, with `rows` the
    /// columns of `W`). Every output follows the [`Backend::linear_combination`] rules
    /// (level, zero weights, errors in the same order); integer weights `|w| ≤ 2^20` stay free
    /// of levels. The default calls `linear_combination` once per row; an engine may read the
    /// inputs once for all rows, provided the levels and counters are the same.
    ///
    /// # Errors
    /// [`LengthMismatch`](crate::Error::LengthMismatch) if `cts` or `rows` is empty or a row's
    /// length differs from `cts.len()`, plus the `linear_combination` errors.
    fn linear_combinations(&self, cts: &[&Self::Ct], rows: &[Vec<f64>]) -> Result<Vec<Self::Ct>> {
        crate::cost::check_rows("linear_combinations", cts.len(), rows)?;
        rows.iter()
            .map(|row| self.linear_combination(cts, row))
            .collect()
    }

    /// Products combined before they are relinearized (lazy relinearization):
    /// `out_j = Σ_i rows[j][i] · (a_i ⊙ b_i)` for every row `j`, where `(a_i, b_i)` is
    /// `pairs[i]` (a square when both are the same ciphertext). Relinearization is linear, so
    /// each output is relinearized once after its combination: **one key switch per row**
    /// instead of one per product — a dense layer after a square activation switches keys
    /// `d_out` times, not `d_in` times.
    ///
    /// Levels: the product `i` is at `p_i = min(level(a_i), level(b_i)) − 1` (as
    /// [`Backend::mul`]); output `j` is at the level [`Backend::linear_combination`] gives for
    /// operands at `p_i` with weights `rows[j]`. Counters: `pairs.len()` ct×ct mults, one key
    /// switch per row, `plain_mults` per non-zero weight.
    ///
    /// # Errors
    /// [`LengthMismatch`](crate::Error::LengthMismatch) as for
    /// [`Backend::linear_combinations`]; then
    /// [`LevelExhausted`](crate::Error::LevelExhausted) (`mul`) for the first pair at level 0;
    /// then the `linear_combination` errors of each row in order.
    fn product_combinations(
        &self,
        pairs: &[(&Self::Ct, &Self::Ct)],
        rows: &[Vec<f64>],
    ) -> Result<Vec<Self::Ct>>;

    /// Cyclic left rotation over all `slots`: `out[j] = in[(j + step) mod slots]`. One key
    /// switch unless `step ≡ 0`, which is the identity. Level unchanged.
    ///
    /// # Errors
    /// [`MissingGaloisKey`](crate::Error::MissingGaloisKey) when the key set lacks the step.
    fn rotate(&self, a: &Self::Ct, step: i64) -> Result<Self::Ct>;

    /// Several rotations of one ciphertext sharing one key-switch decomposition (hoisting).
    /// Returns one ciphertext per step, in order. The default loops over [`Backend::rotate`].
    ///
    /// # Errors
    /// As [`Backend::rotate`].
    fn rotate_hoisted(&self, a: &Self::Ct, steps: &[i64]) -> Result<Vec<Self::Ct>> {
        steps.iter().map(|&s| self.rotate(a, s)).collect()
    }

    /// Current level of `a` (fresh = `max_level`, 0 = last usable).
    fn level(&self, a: &Self::Ct) -> u32;

    /// Snapshot of the operation counters (shared by clones of this backend).
    fn stats(&self) -> OpStats;

    /// Serializes one ciphertext in the backend's own validated wire format.
    ///
    /// # Errors
    /// Engine errors.
    fn ct_to_bytes(&self, a: &Self::Ct) -> Result<Vec<u8>>;

    /// Deserializes and validates one ciphertext; rejects input longer than `limit` bytes
    /// before allocating.
    ///
    /// # Errors
    /// [`SizeLimit`](crate::Error::SizeLimit), [`Malformed`](crate::Error::Malformed),
    /// [`LengthMismatch`](crate::Error::LengthMismatch).
    fn ct_from_bytes(&self, bytes: &[u8], limit: usize) -> Result<Self::Ct>;
}

/// Client role: backends that hold the secret key.
pub trait Decrypt: Backend {
    /// Decrypts all `slots` values of `a` as the backend's client is configured to: a
    /// CKKS client made for a plan decrypts for release (noise flooding, rounding, the
    /// reply check: `fhez_ckks::CkksClient::decrypt_exact` is the named exact opt-in).
    ///
    /// # Errors
    /// Engine errors.
    fn decrypt(&self, a: &Self::Ct) -> Result<Vec<f64>>;

    /// Decrypts a reply whose values sit in its first `used` slots, the others being
    /// empty, for release: a backend whose decryption reveals secret noise floods it,
    /// rounds to its promised precision and refuses a reply carrying more than the
    /// expected noise in its unused slots or imaginary parts. Returns at least `used`
    /// values. The default (backends with no secret noise: `Plain`, `Sim`) is
    /// [`Decrypt::decrypt`].
    ///
    /// # Errors
    /// Engine errors, among them the engine's reply rejection.
    fn decrypt_release(&self, a: &Self::Ct, used: usize) -> Result<Vec<f64>> {
        let _ = used;
        self.decrypt(a)
    }

    /// Decrypts all slots exactly, whatever the client's release policy: debugging and
    /// precision measurements only (a CKKS exact decryption reveals the noise). The
    /// default is [`Decrypt::decrypt`].
    ///
    /// # Errors
    /// Engine errors.
    fn decrypt_exact(&self, a: &Self::Ct) -> Result<Vec<f64>> {
        self.decrypt(a)
    }
}
