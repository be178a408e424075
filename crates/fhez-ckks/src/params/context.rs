//! Validated parameters and every table derived from them.

use std::fmt;
use std::sync::Arc;

use fhez_math::{BasisConverter, Modulus, NttTable, RnsBasis, primes};
use sha2::{Digest, Sha256};

use super::{CkksParamsSpec, ParamsId, ParamsWarning, SecurityLevel};
use crate::encoding::SlotEncoder;
use crate::{Error, Result};

/// Smallest and largest supported log2 N.
const LOG_N_RANGE: (u32, u32) = (10, 17);
/// Bit sizes a prime may have.
const PRIME_BITS_RANGE: (u32, u32) = (20, 61);
/// Most ciphertext primes a parameter set may have.
const MAX_Q_PRIMES: usize = 64;

/// Precomputed data for hybrid key switching of a ciphertext at one level.
#[derive(Debug)]
pub struct KeySwitchPlan {
    /// One entry per digit present at this level.
    pub(crate) digits: Vec<DigitPlan>,
    /// Basis conversion P → Q_l for ModDown (used exactly: the centered residue of
    /// x mod P, so that ModDown rounds x/P to the nearest integer).
    pub(crate) moddown: BasisConverter,
}

/// ModUp data for one key-switching digit at one level.
#[derive(Debug)]
pub(crate) struct DigitPlan {
    /// The Q_l limbs of this digit: `start..end`.
    pub(crate) start: usize,
    /// End (exclusive) of this digit's limbs.
    pub(crate) end: usize,
    /// Conversion from the digit's primes to the other primes of Q_l·P, used exactly
    /// (the digit's centered representative modulo D, the product of its primes): an
    /// approximate conversion would add u·D with 0 <= u < digit size, a positive offset
    /// whose key noise u·D·e/P survives ModDown. The rounding of ModDown, not the
    /// conversion, is then the only error source besides the key noise (the statistics
    /// are checked by `tests/keyswitch_noise.rs`).
    pub(crate) converter: BasisConverter,
    /// For each output limb of `converter`, its index in the Q_l·P basis.
    pub(crate) complement: Vec<usize>,
}

/// A validated, immutable CKKS parameter set with its NTT tables, RNS bases and
/// key-switching plans. Build it once with [`CkksParams::new`] and share the `Arc`.
pub struct CkksParams {
    spec: CkksParamsSpec,
    log_n: u32,
    n: usize,
    q: Vec<u64>,
    p: Vec<u64>,
    id: ParamsId,
    warnings: Vec<ParamsWarning>,
    /// Q_l for every level l (index = level).
    q_bases: Vec<RnsBasis>,
    /// Q_l·P for every level l.
    qp_bases: Vec<RnsBasis>,
    /// P alone.
    p_basis: RnsBasis,
    /// Key-switching plans per level.
    ks_plans: Vec<KeySwitchPlan>,
    /// P mod q_i for every ciphertext prime.
    p_mod_q: Vec<u64>,
    /// P^-1 mod q_i for every ciphertext prime.
    p_inv_mod_q: Vec<u64>,
    /// `rescale_inv[l][i]` = q_l^-1 mod q_i for i < l.
    rescale_inv: Vec<Vec<u64>>,
    encoder: SlotEncoder,
    /// Galois permutations of NTT-form polynomials, computed once per element.
    galois_perms: std::sync::Mutex<std::collections::HashMap<usize, Arc<Vec<usize>>>>,
}

impl fmt::Debug for CkksParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CkksParams")
            .field("id", &self.id)
            .field("log_n", &self.log_n)
            .field("q", &self.q)
            .field("p", &self.p)
            .field("log_scale", &self.spec.log_scale)
            .field("security", &self.spec.security)
            .finish()
    }
}

impl CkksParams {
    /// Validates `spec` and precomputes everything.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for out-of-range sizes, [`Error::BadModulus`] for
    /// explicit primes that are not distinct NTT-friendly primes,
    /// [`Error::InsecureParams`] when log2(QP) exceeds the 128-bit bound of the spec's
    /// [`SecurityLevel`] (the 2018 table, or the 2024 guideline values for
    /// [`SecurityLevel::Tc128Guideline2024`]) and the spec did not opt into
    /// [`SecurityLevel::InsecureForTesting`].
    pub fn new(spec: &CkksParamsSpec) -> Result<Arc<Self>> {
        let log_n = spec.log_n;
        check_range("log_n", u64::from(log_n), LOG_N_RANGE)?;
        let n = 1usize << log_n;
        let q = resolve_primes("log_q", &spec.log_q, &spec.q, n, &[])?;
        let p = resolve_primes("log_p", &spec.log_p, &spec.p, n, &q)?;
        check_len("number of q primes", q.len(), 1, MAX_Q_PRIMES)?;
        check_len("number of p primes", p.len(), 1, q.len())?;
        check_range("log_scale", u64::from(spec.log_scale), (1, 60))?;

        let log_qp: f64 = q.iter().chain(&p).map(|&x| (x as f64).log2()).sum();
        if let Some(bound) = super::security::bound_for(spec.security, log_n) {
            let max_for_n = bound.ok_or(Error::InvalidParam {
                what: "log_n (no 128-bit bound known)",
                value: u64::from(log_n),
                min: 10,
                max: 16,
            })?;
            if log_qp > f64::from(max_for_n) {
                return Err(Error::InsecureParams {
                    log_qp,
                    max_for_n,
                    log_n,
                });
            }
        }

        let tables_q = make_tables(&q, n)?;
        let tables_p = make_tables(&p, n)?;
        let mut q_bases = Vec::with_capacity(q.len());
        let mut qp_bases = Vec::with_capacity(q.len());
        for l in 0..q.len() {
            let prefix: Vec<_> = tables_q.iter().take(l + 1).cloned().collect();
            q_bases.push(RnsBasis::new(prefix.clone())?);
            let mut with_p = prefix;
            with_p.extend(tables_p.iter().cloned());
            qp_bases.push(RnsBasis::new(with_p)?);
        }
        let p_basis = RnsBasis::new(tables_p.clone())?;
        let alpha = p.len();
        let ks_plans = q_bases
            .iter()
            .zip(&qp_bases)
            .map(|(ql, qlp)| key_switch_plan(ql, qlp, &p_basis, alpha))
            .collect::<Result<Vec<_>>>()?;

        let moduli_q: Vec<Modulus> = tables_q.iter().map(|t| *t.modulus()).collect();
        let p_mod_q: Vec<u64> = moduli_q
            .iter()
            .map(|m| p.iter().fold(1, |acc, &pj| m.mul(acc, m.reduce(pj))))
            .collect();
        let p_inv_mod_q = moduli_q
            .iter()
            .zip(&p_mod_q)
            .map(|(m, &x)| m.inv(x))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let rescale_inv = (0..q.len())
            .map(|l| {
                let ql = q.get(l).copied().unwrap_or(1);
                moduli_q
                    .iter()
                    .take(l)
                    .map(|m| m.inv(m.reduce(ql)))
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;

        let warnings = collect_warnings(spec, &q, &p, alpha);
        let id = params_id(spec, &q, &p);
        Ok(Arc::new(Self {
            spec: CkksParamsSpec {
                log_q: Vec::new(),
                q: q.clone(),
                log_p: Vec::new(),
                p: p.clone(),
                ..spec.clone()
            },
            log_n,
            n,
            q,
            p,
            id,
            warnings,
            q_bases,
            qp_bases,
            p_basis,
            ks_plans,
            p_mod_q,
            p_inv_mod_q,
            rescale_inv,
            encoder: SlotEncoder::new(n)?,
            galois_perms: std::sync::Mutex::new(std::collections::HashMap::new()),
        }))
    }

    /// The spec with the primes resolved (explicit `q` and `p`): rebuilding from it
    /// gives the same [`ParamsId`].
    pub fn spec(&self) -> &CkksParamsSpec {
        &self.spec
    }
    /// The parameter set's identity.
    pub fn id(&self) -> ParamsId {
        self.id
    }
    /// Ring degree N.
    pub fn n(&self) -> usize {
        self.n
    }
    /// log2 N.
    pub fn log_n(&self) -> u32 {
        self.log_n
    }
    /// Number of complex slots, N/2.
    pub fn slots(&self) -> usize {
        self.n / 2
    }
    /// The level of a fresh ciphertext (number of ciphertext primes − 1).
    pub fn max_level(&self) -> u32 {
        u32::try_from(self.q.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }
    /// The ciphertext primes q_0 … q_L.
    pub fn q(&self) -> &[u64] {
        &self.q
    }
    /// The key-switching primes.
    pub fn p(&self) -> &[u64] {
        &self.p
    }
    /// The default scale Δ.
    pub fn default_scale(&self) -> f64 {
        f64::from(self.spec.log_scale).exp2()
    }
    /// log2 of the default scale.
    pub fn log_scale(&self) -> u32 {
        self.spec.log_scale
    }
    /// Security level the set was validated at.
    pub fn security(&self) -> SecurityLevel {
        self.spec.security
    }
    /// log2 of Q·P, the quantity the security bound limits.
    pub fn log_qp(&self) -> f64 {
        self.q
            .iter()
            .chain(&self.p)
            .map(|&x| (x as f64).log2())
            .sum()
    }
    /// log2 of the ciphertext modulus Q_l at `level`.
    pub fn log_q_at(&self, level: u32) -> f64 {
        self.q
            .iter()
            .take(level as usize + 1)
            .map(|&x| (x as f64).log2())
            .sum()
    }
    /// Ciphertext primes per key-switching digit (= number of special primes).
    pub fn digit_size(&self) -> usize {
        self.p.len()
    }
    /// Number of key-switching digits of a fresh ciphertext.
    pub fn digit_count(&self) -> usize {
        self.q.len().div_ceil(self.p.len())
    }
    /// Warnings found during validation.
    pub fn warnings(&self) -> &[ParamsWarning] {
        &self.warnings
    }
    /// The slot encoder for this ring degree.
    pub fn encoder(&self) -> &SlotEncoder {
        &self.encoder
    }

    /// Q_l, the basis of a ciphertext at `level`.
    pub(crate) fn q_basis(&self, level: u32) -> Result<&RnsBasis> {
        self.q_bases
            .get(level as usize)
            .ok_or(Error::LevelIncrease {
                from: self.max_level(),
                to: level,
            })
    }
    /// Q_l·P, the key-switching basis at `level`.
    pub(crate) fn qp_basis(&self, level: u32) -> Result<&RnsBasis> {
        self.qp_bases
            .get(level as usize)
            .ok_or(Error::LevelIncrease {
                from: self.max_level(),
                to: level,
            })
    }
    /// P alone.
    pub(crate) fn p_basis(&self) -> &RnsBasis {
        &self.p_basis
    }
    /// Key-switching plan at `level`.
    pub(crate) fn ks_plan(&self, level: u32) -> Result<&KeySwitchPlan> {
        self.ks_plans
            .get(level as usize)
            .ok_or(Error::LevelIncrease {
                from: self.max_level(),
                to: level,
            })
    }
    /// The NTT-domain index permutation of the automorphism X → X^g (cached).
    pub(crate) fn galois_permutation(&self, g: usize) -> Arc<Vec<usize>> {
        let compute = || Arc::new(fhez_math::ntt::galois_permutation_ntt(self.n, g));
        match self.galois_perms.lock() {
            Ok(mut cache) => Arc::clone(cache.entry(g).or_insert_with(compute)),
            // A poisoned cache only means another thread panicked mid-insert: compute.
            Err(_) => compute(),
        }
    }

    /// P mod q_i.
    pub(crate) fn p_mod_q(&self) -> &[u64] {
        &self.p_mod_q
    }
    /// P^-1 mod q_i.
    pub(crate) fn p_inv_mod_q(&self) -> &[u64] {
        &self.p_inv_mod_q
    }
    /// q_level^-1 mod q_i for i < level.
    pub(crate) fn rescale_inv(&self, level: u32) -> &[u64] {
        self.rescale_inv
            .get(level as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// Checks that `other` is this parameter set.
    ///
    /// # Errors
    /// [`Error::ParamsMismatch`] when the ids differ.
    pub fn check_id(&self, other: ParamsId) -> Result<()> {
        if other == self.id {
            Ok(())
        } else {
            Err(Error::ParamsMismatch {
                lhs: self.id,
                rhs: other,
            })
        }
    }
}

fn check_range(what: &'static str, value: u64, (min, max): (u32, u32)) -> Result<()> {
    if value < u64::from(min) || value > u64::from(max) {
        return Err(Error::InvalidParam {
            what,
            value,
            min: u64::from(min),
            max: u64::from(max),
        });
    }
    Ok(())
}

fn check_len(what: &'static str, len: usize, min: usize, max: usize) -> Result<()> {
    if len < min || len > max {
        return Err(Error::InvalidParam {
            what,
            value: len as u64,
            min: min as u64,
            max: max as u64,
        });
    }
    Ok(())
}

/// Explicit primes are checked; bit sizes become the largest unused NTT primes.
fn resolve_primes(
    what: &'static str,
    bits: &[u32],
    explicit: &[u64],
    n: usize,
    taken: &[u64],
) -> Result<Vec<u64>> {
    if !bits.is_empty() && !explicit.is_empty() {
        return Err(Error::InvalidParam {
            what,
            value: bits.len() as u64,
            min: 0,
            max: 0,
        });
    }
    if !explicit.is_empty() {
        let mut seen: Vec<u64> = taken.to_vec();
        for &q in explicit {
            let friendly = primes::is_prime(q) && (q - 1) % (2 * n as u64) == 0;
            let bits = 64 - q.leading_zeros();
            if !friendly
                || seen.contains(&q)
                || bits < PRIME_BITS_RANGE.0
                || bits > PRIME_BITS_RANGE.1
            {
                return Err(Error::BadModulus { q, n });
            }
            seen.push(q);
        }
        return Ok(explicit.to_vec());
    }
    let mut out = Vec::with_capacity(bits.len());
    let mut used: Vec<u64> = taken.to_vec();
    for &b in bits {
        check_range(what, u64::from(b), PRIME_BITS_RANGE)?;
        let q =
            primes::ntt_primes(b, n, 1, &used)?
                .first()
                .copied()
                .ok_or(Error::InvalidParam {
                    what,
                    value: u64::from(b),
                    min: u64::from(PRIME_BITS_RANGE.0),
                    max: u64::from(PRIME_BITS_RANGE.1),
                })?;
        used.push(q);
        out.push(q);
    }
    Ok(out)
}

fn make_tables(primes: &[u64], n: usize) -> Result<Vec<Arc<NttTable>>> {
    primes
        .iter()
        .map(|&q| Ok(Arc::new(NttTable::new(Modulus::new(q)?, n)?)))
        .collect()
}

fn key_switch_plan(
    ql: &RnsBasis,
    qlp: &RnsBasis,
    p_basis: &RnsBasis,
    alpha: usize,
) -> Result<KeySwitchPlan> {
    let limbs = ql.len();
    let mut digits = Vec::new();
    let mut start = 0;
    while start < limbs {
        let end = (start + alpha).min(limbs);
        let digit_tables = ql.tables().get(start..end).unwrap_or_default().to_vec();
        let complement: Vec<usize> = (0..qlp.len()).filter(|i| *i < start || *i >= end).collect();
        let comp_tables = complement
            .iter()
            .filter_map(|&i| qlp.tables().get(i).cloned())
            .collect();
        let digit_basis = RnsBasis::new(digit_tables)?;
        let comp_basis = RnsBasis::new(comp_tables)?;
        let converter = BasisConverter::new(&digit_basis, &comp_basis)?;
        digits.push(DigitPlan {
            start,
            end,
            converter,
            complement,
        });
        start = end;
    }
    Ok(KeySwitchPlan {
        digits,
        moddown: BasisConverter::new(p_basis, ql)?,
    })
}

fn collect_warnings(
    spec: &CkksParamsSpec,
    q: &[u64],
    p: &[u64],
    alpha: usize,
) -> Vec<ParamsWarning> {
    let log = |x: &u64| (*x as f64).log2();
    let log_p: f64 = p.iter().map(log).sum();
    let log_digit = q
        .chunks(alpha)
        .map(|c| c.iter().map(log).sum::<f64>())
        .fold(0.0, f64::max);
    let mut out = Vec::new();
    if log_p + 0.5 < log_digit {
        out.push(ParamsWarning::SmallSpecialModulus { log_p, log_digit });
    }
    let headroom_bits = q.first().map_or(0.0, log) - f64::from(spec.log_scale);
    if headroom_bits < 8.0 {
        out.push(ParamsWarning::SmallBasePrime { headroom_bits });
    }
    out
}

fn params_id(spec: &CkksParamsSpec, q: &[u64], p: &[u64]) -> ParamsId {
    let mut h = Sha256::new();
    h.update(b"fhez-ckks/params/v1");
    h.update(spec.log_n.to_le_bytes());
    for list in [q, p] {
        h.update((list.len() as u32).to_le_bytes());
        for x in list {
            h.update(x.to_le_bytes());
        }
    }
    h.update(spec.log_scale.to_le_bytes());
    h.update([match spec.security {
        SecurityLevel::Tc128 => 1u8,
        SecurityLevel::Tc128Guideline2024 => 2u8,
        SecurityLevel::InsecureForTesting => 0u8,
    }]);
    ParamsId(h.finalize().into())
}
