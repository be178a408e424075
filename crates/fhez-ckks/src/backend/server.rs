//! [`CkksServer`]: the evaluation side of the CKKS backend (no secret key, no `Decrypt`).

use std::sync::Arc;

use std::collections::BTreeMap;

use fhez_backend::cost::{
    CombinationOutput, check_finite, check_plain_level, check_rows, check_values,
    combination_output, consume, plain_sum_level, product_levels, scalar_cost,
};
use fhez_backend::wire::check_limit;
use fhez_backend::{
    Backend, BackendKind, Caps, Error as BError, OpStats, Result as BResult, RotationSet,
    StatsRecorder, normalize_step,
};

use super::{CkksCt, ServerKeys, scale_ladder};
use crate::ciphertext::Ciphertext;
use crate::encoder::Encoder;
use crate::eval::Evaluator;
use crate::params::CkksParams;
use crate::{Error, Result};

/// Largest |integer| the engine multiplies a ciphertext by (as `mul_scalar` does).
const MAX_INTEGER: f64 = 9.0e18;

/// Relative difference up to which an imported ciphertext's scale counts as canonical.
const IMPORT_SCALE_TOLERANCE: f64 = 1.0 / 1_099_511_627_776.0; // 2^-40

/// The server side of the CKKS backend: evaluation keys only.
///
/// It implements [`Backend`] with the managed level and scale rules of the
/// [module docs](super), and deliberately **not** [`Decrypt`](fhez_backend::Decrypt): there is
/// no secret key inside, and asking it to decrypt does not compile (`tests/secrecy.rs` checks
/// this by trait resolution, which fails to compile exactly if the impl exists):
///
/// ```compile_fail
/// use fhez_backend::Decrypt;
///
/// fn reveal(server: &fhez_ckks::CkksServer, ct: &fhez_ckks::CkksCt) -> Vec<f64> {
///     server.decrypt(ct).unwrap_or_default() // error: `CkksServer: Decrypt` is not satisfied
/// }
/// ```
///
/// while the same function over the client compiles:
///
/// ```
/// use fhez_backend::Decrypt;
///
/// fn reveal(client: &fhez_ckks::CkksClient, ct: &fhez_ckks::CkksCt) -> Vec<f64> {
///     client.decrypt(ct).unwrap_or_default()
/// }
/// ```
///
/// Clones share the operation counters ([`Backend::stats`]); [`CkksServer::with_fresh_stats`]
/// makes a value with the same keys and new counters.
///
/// `linear_combination` is overridden with one lazy rescale: every term is multiplied by its
/// weight encoded as an integer at scale `Δ_t·q_{t+1}/Δ_h` (at level `t + 1`, `t` the result
/// level of the trait's rule), the terms are summed, and the sum is rescaled once; terms with a
/// free integer weight already at level `t` are added after the rescale. The result level is
/// exactly the one of the default implementation.
#[derive(Clone, Debug)]
pub struct CkksServer {
    keys: Arc<ServerKeys>,
    eval: Evaluator,
    encoder: Encoder,
    stats: StatsRecorder,
    caps: Caps,
    scales: Arc<[f64]>,
}

impl CkksServer {
    /// A server evaluating with `keys`, with fresh counters.
    #[must_use]
    pub fn new(keys: Arc<ServerKeys>) -> Self {
        let params = Arc::clone(keys.params());
        let caps = Caps::new(
            params.slots(),
            params.max_level(),
            f64::from(params.log_scale()),
            RotationSet::Steps(keys.rotation_steps()),
        );
        Self {
            eval: Evaluator::new(&params),
            encoder: Encoder::new(&params),
            stats: StatsRecorder::new(),
            caps,
            scales: scale_ladder(&params).into(),
            keys,
        }
    }

    /// The same server (same keys, shared precomputation) with its own, zeroed counters.
    #[must_use]
    pub fn with_fresh_stats(&self) -> Self {
        Self {
            stats: StatsRecorder::new(),
            ..self.clone()
        }
    }

    /// The evaluation keys.
    #[must_use]
    pub fn keys(&self) -> &Arc<ServerKeys> {
        &self.keys
    }

    /// The parameter set.
    #[must_use]
    pub fn params(&self) -> &Arc<CkksParams> {
        self.keys.params()
    }

    /// The canonical scale `Δ_level` every ciphertext of this backend at `level` carries
    /// (see the [module docs](super)); `None` above `max_level`.
    #[must_use]
    pub fn scale_at(&self, level: u32) -> Option<f64> {
        self.scales.get(level as usize).copied()
    }

    /// Wraps an engine ciphertext of this parameter set, checking the backend's invariants:
    /// two polynomials (relinearized) and the canonical scale of its level.
    ///
    /// # Errors
    /// [`Error::ParamsMismatch`](crate::Error::ParamsMismatch) (as an engine error), or
    /// [`fhez_backend::Error::Malformed`] when the invariants do not hold.
    pub fn import(&self, ct: Ciphertext) -> BResult<CkksCt> {
        const WHAT: &str = "ckks ciphertext";
        self.params().check_id(ct.params_id())?;
        if ct.size() != 2 {
            return Err(BError::Malformed {
                what: WHAT,
                reason: "not relinearized (must have 2 polynomials)",
            });
        }
        let canonical = self.scale_at(ct.level()).ok_or(BError::Malformed {
            what: WHAT,
            reason: "level above max_level",
        })?;
        if ((ct.scale() - canonical) / canonical).abs() > IMPORT_SCALE_TOLERANCE {
            return Err(BError::Malformed {
                what: WHAT,
                reason: "scale is not the canonical scale of its level",
            });
        }
        Ok(CkksCt::new(ct))
    }

    pub(crate) fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    fn scale(&self, level: u32) -> Result<f64> {
        self.scale_at(level).ok_or(Error::LevelIncrease {
            from: self.caps.max_level,
            to: level,
        })
    }

    fn q(&self, level: u32) -> Result<f64> {
        self.params()
            .q()
            .get(level as usize)
            .map(|&q| q as f64)
            .ok_or(Error::LevelIncrease {
                from: self.caps.max_level,
                to: level,
            })
    }

    /// Rescales and records the canonical scale of the new level (the exact value the
    /// product of scales divided by `q_l` approximates to within f64 rounding).
    fn rescale(&self, ct: &Ciphertext) -> Result<Ciphertext> {
        let mut out = self.eval.rescale(ct)?;
        out.set_scale(self.scale(out.level())?);
        Ok(out)
    }

    /// Brings `ct` down to `level` with the canonical scale of that level: drop to
    /// `level + 1`, multiply by the integer `round(Δ_level·q_{level+1}/scale)`, rescale.
    fn lower_to(&self, ct: &Ciphertext, level: u32) -> Result<Ciphertext> {
        if ct.level() <= level {
            return Ok(ct.clone());
        }
        let mut x = self.eval.drop_to_level(ct, level + 1)?;
        let c = (self.scale(level)? * self.q(level + 1)? / x.scale()).round();
        if !(1.0..MAX_INTEGER).contains(&c) {
            return Err(Error::ScaleOverflow {
                log2_scale: x.scale().log2(),
                log2_q_at_level: self.params().log_q_at(level + 1),
            });
        }
        x = self.eval.mul_integer(&x, c as i64)?;
        x.set_scale(x.scale() * c);
        self.rescale(&x)
    }

    /// Both operands at their common (minimum) level, with its canonical scale.
    fn aligned(&self, a: &CkksCt, b: &CkksCt) -> Result<(Ciphertext, Ciphertext)> {
        let level = a.level().min(b.level());
        Ok((self.lower_to(&a.0, level)?, self.lower_to(&b.0, level)?))
    }

    fn combine(&self, a: &CkksCt, b: &CkksCt, subtract: bool) -> BResult<CkksCt> {
        let (x, y) = self.aligned(a, b)?;
        let out = if subtract {
            self.eval.sub(&x, &y)?
        } else {
            self.eval.add(&x, &y)?
        };
        Ok(CkksCt::new(out))
    }

    fn plain_combine(&self, a: &CkksCt, b: &[f64], subtract: bool) -> BResult<CkksCt> {
        check_values(b, self.caps.slots)?;
        let pt = self.encoder.encode(b, a.scale(), a.level())?;
        let out = if subtract {
            self.eval.sub_plain(&a.0, &pt)?
        } else {
            self.eval.add_plain(&a.0, &pt)?
        };
        Ok(CkksCt::new(out))
    }

    fn check_rotation(&self, step: i64) -> BResult<i64> {
        let norm = normalize_step(step, self.caps.slots);
        if norm != 0 && !self.keys.has_step(norm) {
            return Err(BError::MissingGaloisKey { step: norm });
        }
        Ok(norm)
    }
    /// One output per row of `rows` (`Σ_i rows[r][i] · cts_i`), each at the level of the
    /// backend's `linear_combination` rule for operands at `levels`, rescaled at most once and
    /// **not** relinearized (operands may all be 3-polynomial products). Rows sharing a result
    /// level `t` are computed together: the operands above `t` are read once for all of them
    /// (`Evaluator::dot_integer_many` at `t + 1` with integers
    /// `round(w·Δ_t·q_{t+1}/scale)`, then one rescale), the operands at `t` (free integer
    /// weights only) are added exactly.
    /// `round(w(r, i) · numerator / scale(i))` for every output row `r` of `members` and term
    /// `i` of `terms`: the integer weights of a lazy sum rescaled once at `level`.
    ///
    /// # Errors
    /// [`Error::ScaleOverflow`] when a weight is not finite or reaches `MAX_INTEGER`.
    fn integer_weights(
        &self,
        members: &[usize],
        terms: &[usize],
        weight: &dyn Fn(usize, usize) -> f64,
        scale: &dyn Fn(usize) -> f64,
        numerator: f64,
        level: u32,
    ) -> Result<Vec<Vec<i64>>> {
        members
            .iter()
            .map(|&r| {
                terms
                    .iter()
                    .map(|&i| {
                        let k = (weight(r, i) * numerator / scale(i)).round();
                        if k.is_finite() && k.abs() < MAX_INTEGER {
                            Ok(k as i64)
                        } else {
                            Err(Error::ScaleOverflow {
                                log2_scale: (k.abs() * scale(i)).log2(),
                                log2_q_at_level: self.params().log_q_at(level),
                            })
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// Adds the lazy and the direct partial sums of each member row (either may be absent)
    /// and stores the total at the row's position in `out`.
    ///
    /// # Errors
    /// Engine errors from the addition.
    fn place_sums(
        &self,
        members: &[usize],
        lazy_out: Option<Vec<Ciphertext>>,
        direct_out: Option<Vec<Ciphertext>>,
        out: &mut [Option<Ciphertext>],
    ) -> Result<()> {
        for (pos, &r) in members.iter().enumerate() {
            let a = lazy_out.as_ref().and_then(|v| v.get(pos));
            let b = direct_out.as_ref().and_then(|v| v.get(pos));
            let sum = match (a, b) {
                (Some(x), Some(y)) => self.eval.add(x, y)?,
                (Some(x), None) | (None, Some(x)) => x.clone(),
                (None, None) => continue,
            };
            if let Some(slot) = out.get_mut(r) {
                *slot = Some(sum);
            }
        }
        Ok(())
    }

    fn combine_rows(
        &self,
        cts: &[&Ciphertext],
        rows: &[Vec<f64>],
        plans: &[CombinationOutput],
    ) -> Result<Vec<Ciphertext>> {
        let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (r, plan) in plans.iter().enumerate() {
            if plan.kept > 0 {
                groups.entry(plan.level).or_default().push(r);
            }
        }
        let mut out: Vec<Option<Ciphertext>> = vec![None; rows.len()];
        for (&target, members) in &groups {
            let weight = |r: usize, i: usize| {
                rows.get(r)
                    .and_then(|row| row.get(i))
                    .copied()
                    .unwrap_or(0.0)
            };
            let used = |i: usize| members.iter().any(|&r| weight(r, i) != 0.0);
            let (lazy, direct): (Vec<usize>, Vec<usize>) = (0..cts.len())
                .filter(|&i| used(i))
                .partition(|&i| cts.get(i).is_some_and(|c| c.level() > target));
            let pick = |idx: &[usize]| -> Vec<&Ciphertext> {
                idx.iter().filter_map(|&i| cts.get(i).copied()).collect()
            };
            let lazy_out = if lazy.is_empty() {
                None
            } else {
                let numerator = self.scale(target)? * self.q(target + 1)?;
                let scale = |i: usize| cts.get(i).map_or(1.0, |c| c.scale());
                let ks =
                    self.integer_weights(members, &lazy, &weight, &scale, numerator, target + 1)?;
                let sums = self
                    .eval
                    .dot_integer_many(&pick(&lazy), &ks, target + 1, numerator)?;
                Some(
                    sums.iter()
                        .map(|c| self.rescale(c))
                        .collect::<Result<Vec<_>>>()?,
                )
            };
            let direct_out = if direct.is_empty() {
                None
            } else {
                let ks: Vec<Vec<i64>> = members
                    .iter()
                    .map(|&r| direct.iter().map(|&i| weight(r, i) as i64).collect())
                    .collect();
                Some(self.eval.dot_integer_many(
                    &pick(&direct),
                    &ks,
                    target,
                    self.scale(target)?,
                )?)
            };
            self.place_sums(members, lazy_out, direct_out, &mut out)?;
        }
        // Rows of zeros: `0 · cts_0` at the level of `cts_0`, as the trait's rule says.
        out.into_iter()
            .map(|o| match (o, cts.first()) {
                (Some(c), _) => Ok(c),
                (None, Some(first)) => self.eval.mul_integer(first, 0),
                (None, None) => Err(Error::CiphertextSize {
                    op: "linear_combinations",
                    expected: 1,
                    found: 0,
                }),
            })
            .collect()
    }

    /// The outputs of `product_combinations` from unrescaled, unrelinearized products
    /// (`products[i]` at level `L_i` with scale `Δ_{L_i}²`, standing for a product at level
    /// `p_i = L_i − 1`). For the rows of result level `t`: products with `L_i > t + 1` are
    /// combined at `t + 2` with integers `round(w·Δ_t·q_{t+1}·q_{t+2}/Δ_{L_i}²)` and rescaled
    /// once; products at `L_i = t + 1` (free integer weights only) are combined exactly at
    /// `t + 1`, whose scale `Δ_{t+1}² = Δ_t·q_{t+1}` (the scale ladder) matches. The sum at
    /// `t + 1` is relinearized and rescaled in one step (`relinearize_rescale`). Rounding a
    /// 3-polynomial ciphertext multiplies its error by `s²` as well, whose slots are `√N` times
    /// those of `s`; here that happens only at scale `≈ Δ²`, where it is negligible, and the last
    /// rescale is of a relinearized ciphertext — so deferring relinearization costs no precision.
    fn combine_products(
        &self,
        products: &[Ciphertext],
        rows: &[Vec<f64>],
        plans: &[CombinationOutput],
    ) -> Result<Vec<Ciphertext>> {
        let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (r, plan) in plans.iter().enumerate() {
            if plan.kept > 0 {
                groups.entry(plan.level).or_default().push(r);
            }
        }
        let rk = self.keys.relin_key();
        let mut out: Vec<Option<Ciphertext>> = vec![None; rows.len()];
        for (&target, members) in &groups {
            let weight = |r: usize, i: usize| {
                rows.get(r)
                    .and_then(|row| row.get(i))
                    .copied()
                    .unwrap_or(0.0)
            };
            let used = |i: usize| members.iter().any(|&r| weight(r, i) != 0.0);
            let (lazy, direct): (Vec<usize>, Vec<usize>) = (0..products.len())
                .filter(|&i| used(i))
                .partition(|&i| products.get(i).is_some_and(|c| c.level() > target + 1));
            let pick = |idx: &[usize]| -> Vec<&Ciphertext> {
                idx.iter().filter_map(|&i| products.get(i)).collect()
            };
            let sum_scale = self.scale(target)? * self.q(target + 1)?;
            let lazy_out = if lazy.is_empty() {
                None
            } else {
                let numerator = sum_scale * self.q(target + 2)?;
                let scale = |i: usize| products.get(i).map_or(1.0, |c| c.scale());
                let ks =
                    self.integer_weights(members, &lazy, &weight, &scale, numerator, target + 2)?;
                let sums = self
                    .eval
                    .dot_integer_many(&pick(&lazy), &ks, target + 2, numerator)?;
                Some(
                    sums.iter()
                        .map(|c| {
                            let mut x = self.eval.rescale(c)?;
                            x.set_scale(sum_scale);
                            Ok(x)
                        })
                        .collect::<Result<Vec<_>>>()?,
                )
            };
            let direct_out = if direct.is_empty() {
                None
            } else {
                let ks: Vec<Vec<i64>> = members
                    .iter()
                    .map(|&r| direct.iter().map(|&i| weight(r, i) as i64).collect())
                    .collect();
                Some(
                    self.eval
                        .dot_integer_many(&pick(&direct), &ks, target + 1, sum_scale)?,
                )
            };
            self.place_sums(members, lazy_out, direct_out, &mut out)?;
        }
        // Rows of zeros: `0 · product_0`, at the level of product 0 (`L_0 − 1`).
        out.into_iter()
            .map(|o| {
                let sum = match (o, products.first()) {
                    (Some(c), _) => c,
                    (None, Some(first)) => self.eval.mul_integer(first, 0)?,
                    (None, None) => {
                        return Err(Error::CiphertextSize {
                            op: "product_combinations",
                            expected: 1,
                            found: 0,
                        });
                    }
                };
                let mut x = self.eval.relinearize_rescale(&sum, rk)?;
                x.set_scale(self.scale(x.level())?);
                Ok(x)
            })
            .collect()
    }

    fn record_combinations(&self, plans: &[CombinationOutput]) {
        for plan in plans {
            self.stats.record_plain_mults(plan.kept.max(1) as u64);
            self.stats.record_rescales(u64::from(plan.rescaled));
        }
    }
}

impl Backend for CkksServer {
    type Ct = CkksCt;
    type Pt = crate::Plaintext;

    fn kind(&self) -> BackendKind {
        BackendKind::Ckks
    }

    fn caps(&self) -> &Caps {
        &self.caps
    }

    fn encrypt(&self, values: &[f64]) -> BResult<CkksCt> {
        check_values(values, self.caps.slots)?;
        let level = self.caps.max_level;
        let pt = self.encoder.encode(values, self.scale(level)?, level)?;
        let mut rng = crate::os_rng()?;
        let ct = self
            .keys
            .public_key()
            .encrypt(self.params(), &pt, &mut rng)?;
        Ok(CkksCt::new(ct))
    }

    fn add(&self, a: &CkksCt, b: &CkksCt) -> BResult<CkksCt> {
        self.combine(a, b, false)
    }

    fn sub(&self, a: &CkksCt, b: &CkksCt) -> BResult<CkksCt> {
        self.combine(a, b, true)
    }

    fn neg(&self, a: &CkksCt) -> BResult<CkksCt> {
        Ok(CkksCt::new(self.eval.neg(&a.0)?))
    }

    fn add_plain(&self, a: &CkksCt, b: &[f64]) -> BResult<CkksCt> {
        self.plain_combine(a, b, false)
    }

    fn sub_plain(&self, a: &CkksCt, b: &[f64]) -> BResult<CkksCt> {
        self.plain_combine(a, b, true)
    }

    fn mul_plain(&self, a: &CkksCt, b: &[f64]) -> BResult<CkksCt> {
        consume("mul_plain", a.level(), 1)?;
        check_values(b, self.caps.slots)?;
        // Encoded at Δ_l = Δ_{l-1}·q_l/Δ_l: after the rescale the scale is exactly Δ_{l-1}.
        let pt = self.encoder.encode(b, a.scale(), a.level())?;
        let prod = self.eval.mul_plain(&a.0, &pt)?;
        let out = self.rescale(&prod)?;
        self.stats.record_plain_mults(1);
        self.stats.record_rescales(1);
        Ok(CkksCt::new(out))
    }

    fn encode_plain(&self, values: &[f64], level: u32) -> BResult<crate::Plaintext> {
        check_plain_level(level, self.caps.max_level)?;
        check_values(values, self.caps.slots)?;
        // At Δ_l, as `mul_plain`: Δ_l·Δ_l/q_l = Δ_{l-1} after the one rescale.
        Ok(self.encoder.encode(values, self.scale(level)?, level)?)
    }

    fn plain_bytes(&self, pt: &crate::Plaintext) -> usize {
        fhez_backend::cost::ckks_plain_bytes(self.caps.slots, pt.level())
    }

    fn plain_level(&self, pt: &crate::Plaintext) -> u32 {
        pt.level()
    }

    fn mul_plain_sum(&self, terms: &[(&CkksCt, &crate::Plaintext)]) -> BResult<CkksCt> {
        let levels: Vec<(u32, u32)> = terms.iter().map(|(c, p)| (c.level(), p.level())).collect();
        plain_sum_level(&levels)?;
        let raw: Vec<(&Ciphertext, &crate::Plaintext)> =
            terms.iter().map(|(c, p)| (c.ciphertext(), *p)).collect();
        let sum = self.eval.mul_plain_sum(&raw)?;
        let out = self.rescale(&sum)?;
        self.stats.record_plain_mults(terms.len() as u64);
        self.stats.record_rescales(1);
        Ok(CkksCt::new(out))
    }

    fn add_scalar(&self, a: &CkksCt, s: f64) -> BResult<CkksCt> {
        check_finite(&[s])?;
        Ok(CkksCt::new(self.eval.add_scalar(&a.0, s)?))
    }

    fn mul_scalar(&self, a: &CkksCt, s: f64) -> BResult<CkksCt> {
        check_finite(&[s])?;
        let cost = scalar_cost(s);
        consume("mul_scalar", a.level(), cost)?;
        let out = if cost == 0 {
            // A free scalar is an integer with |s| ≤ 2^20: exact, no scale change.
            self.eval.mul_integer(&a.0, s as i64)?
        } else {
            let prod = self.eval.mul_scalar(&a.0, s, a.scale())?;
            self.rescale(&prod)?
        };
        self.stats.record_plain_mults(1);
        self.stats.record_rescales(u64::from(cost));
        Ok(CkksCt::new(out))
    }

    fn mul(&self, a: &CkksCt, b: &CkksCt) -> BResult<CkksCt> {
        consume("mul", a.level().min(b.level()), 1)?;
        let (x, y) = self.aligned(a, b)?;
        let prod = self.eval.mul(&x, &y)?;
        // Relinearize and rescale fused (one division by q_l·P).
        let mut out = self
            .eval
            .relinearize_rescale(&prod, self.keys.relin_key())?;
        // Δ_l² / q_l = Δ_{l-1}: the product lands on the canonical scale.
        out.set_scale(self.scale(out.level())?);
        self.stats.record_mult();
        self.stats.record_rescales(1);
        Ok(CkksCt::new(out))
    }

    fn linear_combination(&self, cts: &[&CkksCt], weights: &[f64]) -> BResult<CkksCt> {
        if cts.len() != weights.len() || cts.is_empty() {
            return Err(BError::LengthMismatch {
                op: "linear_combination",
                expected: weights.len().max(1),
                found: cts.len(),
            });
        }
        // Same checks, in the same order, as the default (`mul_scalar` per kept term), so
        // errors are identical on every backend.
        let mut target: Option<u32> = None;
        let mut kept: Vec<(&CkksCt, f64)> = Vec::with_capacity(cts.len());
        let mut any_level = false;
        for (&ct, &w) in cts.iter().zip(weights) {
            if w == 0.0 {
                continue;
            }
            check_finite(&[w])?;
            let cost = scalar_cost(w);
            let level = consume("mul_scalar", ct.level(), cost)?;
            any_level |= cost == 1;
            target = Some(target.map_or(level, |t| t.min(level)));
            kept.push((ct, w));
        }
        let Some(target) = target else {
            return match cts.first() {
                Some(first) => self.mul_scalar(first, 0.0),
                None => Err(BError::LengthMismatch {
                    op: "linear_combination",
                    expected: 1,
                    found: 0,
                }),
            };
        };
        // Terms above the target level: integers k = round(w·Δ_target·q_{target+1}/scale)
        // at level target+1, summed in one pass, then one rescale lands on Δ_target.
        // Terms at the target level (free integer weights only): exact integer products.
        let numerator = if target < self.caps.max_level {
            self.scale(target)? * self.q(target + 1)?
        } else {
            0.0
        };
        let (mut lazy_cts, mut lazy_ks, mut direct_cts, mut direct_ks) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for &(ct, w) in &kept {
            if ct.level() > target {
                let k = (w * numerator / ct.0.scale()).round();
                if !k.is_finite() || k.abs() >= 9.0e18 {
                    return Err(BError::NonFinite {
                        index: lazy_cts.len(),
                    });
                }
                lazy_cts.push(ct.ciphertext());
                lazy_ks.push(k as i64);
            } else {
                direct_cts.push(ct.ciphertext());
                direct_ks.push(w as i64);
            }
        }
        let lazy = if lazy_cts.is_empty() {
            None
        } else {
            Some(
                self.eval
                    .dot_integer(&lazy_cts, &lazy_ks, target + 1, numerator)?,
            )
        };
        let direct = if direct_cts.is_empty() {
            None
        } else {
            let scale = direct_cts.first().map_or(1.0, |c| c.scale());
            Some(
                self.eval
                    .dot_integer(&direct_cts, &direct_ks, target, scale)?,
            )
        };
        let lazy = lazy.map(|acc| self.rescale(&acc)).transpose()?;
        let out = match (lazy, direct) {
            (Some(x), Some(y)) => self.eval.add(&x, &y)?,
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => {
                return Err(BError::LengthMismatch {
                    op: "linear_combination",
                    expected: 1,
                    found: 0,
                });
            }
        };
        self.stats.record_plain_mults(kept.len() as u64);
        self.stats.record_rescales(u64::from(any_level));
        Ok(CkksCt::new(out))
    }

    fn linear_combinations(&self, cts: &[&CkksCt], rows: &[Vec<f64>]) -> BResult<Vec<CkksCt>> {
        check_rows("linear_combinations", cts.len(), rows)?;
        let levels: Vec<u32> = cts.iter().map(|c| c.level()).collect();
        let plans = rows
            .iter()
            .map(|row| combination_output(&levels, row))
            .collect::<BResult<Vec<_>>>()?;
        let inputs: Vec<&Ciphertext> = cts.iter().map(|c| c.ciphertext()).collect();
        let out = self.combine_rows(&inputs, rows, &plans)?;
        self.record_combinations(&plans);
        Ok(out.into_iter().map(CkksCt::new).collect())
    }

    fn product_combinations(
        &self,
        pairs: &[(&CkksCt, &CkksCt)],
        rows: &[Vec<f64>],
    ) -> BResult<Vec<CkksCt>> {
        check_rows("product_combinations", pairs.len(), rows)?;
        let pair_levels: Vec<(u32, u32)> =
            pairs.iter().map(|(a, b)| (a.level(), b.level())).collect();
        let levels = product_levels(&pair_levels)?;
        let plans = rows
            .iter()
            .map(|row| combination_output(&levels, row))
            .collect::<BResult<Vec<_>>>()?;
        // Products: tensors at the aligned level L_i (scale Δ_{L_i}², 3 polynomials), neither
        // relinearized nor rescaled; `combine_products` rescales and relinearizes per output.
        let products = pairs
            .iter()
            .map(|(a, b)| {
                let (x, y) = self.aligned(a, b)?;
                self.eval.mul(&x, &y)
            })
            .collect::<Result<Vec<_>>>()?;
        let out = self.combine_products(&products, rows, &plans)?;
        let out: Vec<CkksCt> = out.into_iter().map(CkksCt::new).collect();
        self.stats.record_deferred_mults(pairs.len() as u64);
        self.stats.record_rescales(pairs.len() as u64);
        self.stats.record_relinearizations(rows.len() as u64);
        self.record_combinations(&plans);
        Ok(out)
    }

    fn rotate(&self, a: &CkksCt, step: i64) -> BResult<CkksCt> {
        let norm = self.check_rotation(step)?;
        if norm == 0 {
            return Ok(a.clone());
        }
        let out = self.eval.rotate(&a.0, norm, self.keys.galois_keys())?;
        self.stats.record_rotations(1);
        Ok(CkksCt::new(out))
    }

    fn rotate_hoisted(&self, a: &CkksCt, steps: &[i64]) -> BResult<Vec<CkksCt>> {
        let norms = steps
            .iter()
            .map(|&s| self.check_rotation(s))
            .collect::<BResult<Vec<_>>>()?;
        let out = self
            .eval
            .rotate_hoisted(&a.0, &norms, self.keys.galois_keys())?;
        self.stats.record_hoisted();
        self.stats
            .record_rotations(norms.iter().filter(|&&s| s != 0).count() as u64);
        Ok(out.into_iter().map(CkksCt::new).collect())
    }

    fn level(&self, a: &CkksCt) -> u32 {
        a.level()
    }

    fn stats(&self) -> OpStats {
        self.stats.snapshot()
    }

    fn ct_to_bytes(&self, a: &CkksCt) -> BResult<Vec<u8>> {
        Ok(crate::wire::ciphertext_to_bytes(&a.0)?)
    }

    fn ct_from_bytes(&self, bytes: &[u8], limit: usize) -> BResult<CkksCt> {
        check_limit("ckks ciphertext", bytes.len(), limit)?;
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        let ct = crate::wire::ciphertext_from_bytes(self.params(), bytes, limit)?;
        self.import(ct)
    }
}
