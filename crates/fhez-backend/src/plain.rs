//! [`Plain`]: the exact f64 reference backend (the oracle, and what training runs on).

use crate::cost::{
    check_finite, check_plain_level, check_rows, check_values, combination_output, consume,
    plain_sum_level, product_levels, scalar_cost,
};
use crate::wire::Reader;
use crate::{
    Backend, BackendKind, Caps, Decrypt, Error, OpStats, Result, RotationSet, StatsRecorder,
    normalize_step,
};

/// Default level budget of [`Plain::new`]: large enough to be unlimited in practice.
pub const PLAIN_DEFAULT_MAX_LEVEL: u32 = 1 << 20;

/// The ciphertext format in the common frame ([`crate::frame`]; no params id).
const FORMAT: crate::frame::Format = crate::frame::Format {
    magic: *b"FZPT",
    version: 2,
    what: "plain ciphertext",
};
const KIND_CT: u16 = 1;

/// A "ciphertext" of [`Plain`]: the values in clear plus the level the same computation would
/// have on an encrypted backend.
#[derive(Clone, Debug, PartialEq)]
pub struct PlainCt {
    values: Vec<f64>,
    level: u32,
}

impl PlainCt {
    /// The `slots` values.
    #[must_use]
    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

/// An encoded plaintext of [`Plain`]: the `slots` values and the level they were encoded
/// for.
#[derive(Clone, Debug, PartialEq)]
pub struct PlainPt {
    values: Vec<f64>,
    level: u32,
}

impl PlainPt {
    /// The `slots` values (zero-padded).
    #[must_use]
    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

/// Exact f64 backend. Values are exact; levels are *tracked* with the same rules as every
/// other backend (see [`Backend`]) so it is also the accounting oracle. [`Plain::new`] starts
/// at [`PLAIN_DEFAULT_MAX_LEVEL`] (unlimited in practice); [`Plain::with_max_level`] mimics a
/// real budget and then fails with [`Error::LevelExhausted`] exactly where CKKS would.
///
/// # Examples
/// ```
/// use fhez_backend::{Backend, Decrypt, Plain};
/// let b = Plain::new(4);
/// let x = b.encrypt(&[1.0, 2.0, 3.0])?;
/// let y = b.mul(&x, &x)?;
/// assert_eq!(b.decrypt(&y)?, vec![1.0, 4.0, 9.0, 0.0]);
/// assert_eq!(b.level(&y), b.caps().max_level - 1);
/// # Ok::<(), fhez_backend::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Plain {
    caps: Caps,
    stats: StatsRecorder,
}

impl Plain {
    /// `slots` slots, unlimited levels, every rotation available.
    #[must_use]
    pub fn new(slots: usize) -> Self {
        Self {
            caps: Caps::new(slots, PLAIN_DEFAULT_MAX_LEVEL, 0.0, RotationSet::All),
            stats: StatsRecorder::new(),
        }
    }

    /// Same backend with a finite level budget.
    #[must_use]
    pub fn with_max_level(mut self, max_level: u32) -> Self {
        self.caps.max_level = max_level;
        self
    }

    /// Same backend restricted to these rotation keys.
    #[must_use]
    pub fn with_rotations(mut self, rotations: RotationSet) -> Self {
        self.caps.rotations = rotations;
        self
    }

    /// A Plain backend mirroring another backend's capabilities (slots, levels, rotations),
    /// with fresh counters. Used by conformance tests as the oracle for any backend.
    #[must_use]
    pub fn mirroring(caps: &Caps) -> Self {
        Self {
            caps: Caps::new(caps.slots, caps.max_level, 0.0, caps.rotations.clone()),
            stats: StatsRecorder::new(),
        }
    }

    fn check_ct(&self, op: &'static str, a: &PlainCt) -> Result<()> {
        if a.values.len() == self.caps.slots {
            Ok(())
        } else {
            Err(Error::LengthMismatch {
                op,
                expected: self.caps.slots,
                found: a.values.len(),
            })
        }
    }

    fn zip(
        &self,
        op: &'static str,
        a: &PlainCt,
        b: &PlainCt,
        f: impl Fn(f64, f64) -> f64,
    ) -> Result<Vec<f64>> {
        self.check_ct(op, a)?;
        self.check_ct(op, b)?;
        Ok(a.values
            .iter()
            .zip(&b.values)
            .map(|(&x, &y)| f(x, y))
            .collect())
    }

    fn zip_plain(
        &self,
        op: &'static str,
        a: &PlainCt,
        b: &[f64],
        f: impl Fn(f64, f64) -> f64,
    ) -> Result<Vec<f64>> {
        self.check_ct(op, a)?;
        check_values(b, self.caps.slots)?;
        let padded = b.iter().copied().chain(std::iter::repeat(0.0));
        Ok(a.values.iter().zip(padded).map(|(&x, y)| f(x, y)).collect())
    }
}

impl Backend for Plain {
    type Ct = PlainCt;
    type Pt = PlainPt;

    fn kind(&self) -> BackendKind {
        BackendKind::Plain
    }

    fn caps(&self) -> &Caps {
        &self.caps
    }

    fn encrypt(&self, values: &[f64]) -> Result<PlainCt> {
        check_values(values, self.caps.slots)?;
        let mut v = values.to_vec();
        v.resize(self.caps.slots, 0.0);
        Ok(PlainCt {
            values: v,
            level: self.caps.max_level,
        })
    }

    fn add(&self, a: &PlainCt, b: &PlainCt) -> Result<PlainCt> {
        let values = self.zip("add", a, b, |x, y| x + y)?;
        Ok(PlainCt {
            values,
            level: a.level.min(b.level),
        })
    }

    fn sub(&self, a: &PlainCt, b: &PlainCt) -> Result<PlainCt> {
        let values = self.zip("sub", a, b, |x, y| x - y)?;
        Ok(PlainCt {
            values,
            level: a.level.min(b.level),
        })
    }

    fn neg(&self, a: &PlainCt) -> Result<PlainCt> {
        self.check_ct("neg", a)?;
        Ok(PlainCt {
            values: a.values.iter().map(|x| -x).collect(),
            level: a.level,
        })
    }

    fn add_plain(&self, a: &PlainCt, b: &[f64]) -> Result<PlainCt> {
        let values = self.zip_plain("add_plain", a, b, |x, y| x + y)?;
        Ok(PlainCt {
            values,
            level: a.level,
        })
    }

    fn sub_plain(&self, a: &PlainCt, b: &[f64]) -> Result<PlainCt> {
        let values = self.zip_plain("sub_plain", a, b, |x, y| x - y)?;
        Ok(PlainCt {
            values,
            level: a.level,
        })
    }

    fn mul_plain(&self, a: &PlainCt, b: &[f64]) -> Result<PlainCt> {
        let level = consume("mul_plain", a.level, 1)?;
        let values = self.zip_plain("mul_plain", a, b, |x, y| x * y)?;
        self.stats.record_plain_mults(1);
        self.stats.record_rescales(1);
        Ok(PlainCt { values, level })
    }

    fn encode_plain(&self, values: &[f64], level: u32) -> Result<PlainPt> {
        check_plain_level(level, self.caps.max_level)?;
        check_values(values, self.caps.slots)?;
        let mut padded = values.to_vec();
        padded.resize(self.caps.slots, 0.0);
        Ok(PlainPt {
            values: padded,
            level,
        })
    }

    fn plain_bytes(&self, pt: &PlainPt) -> usize {
        pt.values.len().saturating_mul(8)
    }

    fn plain_level(&self, pt: &PlainPt) -> u32 {
        pt.level
    }

    fn mul_plain_sum(&self, terms: &[(&PlainCt, &PlainPt)]) -> Result<PlainCt> {
        let levels: Vec<(u32, u32)> = terms.iter().map(|(c, p)| (c.level, p.level)).collect();
        let level = plain_sum_level(&levels)?;
        let mut values = vec![0.0; self.caps.slots];
        for (ct, pt) in terms {
            self.check_ct("mul_plain_sum", ct)?;
            if pt.values.len() != self.caps.slots {
                return Err(Error::LengthMismatch {
                    op: "mul_plain_sum",
                    expected: self.caps.slots,
                    found: pt.values.len(),
                });
            }
            for ((acc, &x), &y) in values.iter_mut().zip(&ct.values).zip(&pt.values) {
                *acc += x * y;
            }
        }
        self.stats.record_plain_mults(terms.len() as u64);
        self.stats.record_rescales(1);
        Ok(PlainCt { values, level })
    }

    fn add_scalar(&self, a: &PlainCt, s: f64) -> Result<PlainCt> {
        check_finite(&[s])?;
        self.check_ct("add_scalar", a)?;
        Ok(PlainCt {
            values: a.values.iter().map(|x| x + s).collect(),
            level: a.level,
        })
    }

    fn mul_scalar(&self, a: &PlainCt, s: f64) -> Result<PlainCt> {
        check_finite(&[s])?;
        self.check_ct("mul_scalar", a)?;
        let cost = scalar_cost(s);
        let level = consume("mul_scalar", a.level, cost)?;
        self.stats.record_plain_mults(1);
        self.stats.record_rescales(u64::from(cost));
        Ok(PlainCt {
            values: a.values.iter().map(|x| x * s).collect(),
            level,
        })
    }

    fn mul(&self, a: &PlainCt, b: &PlainCt) -> Result<PlainCt> {
        let level = consume("mul", a.level.min(b.level), 1)?;
        let values = self.zip("mul", a, b, |x, y| x * y)?;
        self.stats.record_mult();
        self.stats.record_rescales(1);
        Ok(PlainCt { values, level })
    }

    fn product_combinations(
        &self,
        pairs: &[(&PlainCt, &PlainCt)],
        rows: &[Vec<f64>],
    ) -> Result<Vec<PlainCt>> {
        const OP: &str = "product_combinations";
        check_rows(OP, pairs.len(), rows)?;
        let pair_levels: Vec<(u32, u32)> = pairs.iter().map(|(a, b)| (a.level, b.level)).collect();
        let levels = product_levels(&pair_levels)?;
        let products = pairs
            .iter()
            .map(|(a, b)| self.zip(OP, a, b, |x, y| x * y))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let acc = combination_output(&levels, row)?;
            let mut values = vec![0.0; self.caps.slots];
            for (p, &w) in products.iter().zip(row) {
                if w != 0.0 {
                    for (v, x) in values.iter_mut().zip(p) {
                        *v += w * x;
                    }
                }
            }
            self.stats.record_plain_mults(acc.kept.max(1) as u64);
            self.stats.record_rescales(u64::from(acc.rescaled));
            out.push(PlainCt {
                values,
                level: acc.level,
            });
        }
        self.stats.record_deferred_mults(pairs.len() as u64);
        self.stats.record_rescales(pairs.len() as u64);
        self.stats.record_relinearizations(rows.len() as u64);
        Ok(out)
    }

    fn rotate(&self, a: &PlainCt, step: i64) -> Result<PlainCt> {
        self.check_ct("rotate", a)?;
        let slots = self.caps.slots;
        let norm = normalize_step(step, slots);
        if !self.caps.rotations.contains(norm, slots) {
            return Err(Error::MissingGaloisKey { step: norm });
        }
        let mut values = a.values.clone();
        if norm != 0 {
            let k = usize::try_from(norm).map_err(|_| Error::MissingGaloisKey { step: norm })?;
            values.rotate_left(k);
            self.stats.record_rotations(1);
        }
        Ok(PlainCt {
            values,
            level: a.level,
        })
    }

    fn rotate_hoisted(&self, a: &PlainCt, steps: &[i64]) -> Result<Vec<PlainCt>> {
        self.stats.record_hoisted();
        steps.iter().map(|&s| self.rotate(a, s)).collect()
    }

    fn level(&self, a: &PlainCt) -> u32 {
        a.level
    }

    fn stats(&self) -> OpStats {
        self.stats.snapshot()
    }

    fn ct_to_bytes(&self, a: &PlainCt) -> Result<Vec<u8>> {
        self.check_ct("ct_to_bytes", a)?;
        let mut w = crate::frame::Writer::new(
            &FORMAT,
            KIND_CT,
            &crate::frame::NO_PARAMS,
            12 + 8 * a.values.len(),
        );
        let out = w.payload();
        out.extend_from_slice(&a.level.to_le_bytes());
        out.extend_from_slice(&(a.values.len() as u64).to_le_bytes());
        for v in &a.values {
            out.extend_from_slice(&v.to_le_bytes());
        }
        Ok(w.finish())
    }

    fn ct_from_bytes(&self, bytes: &[u8], limit: usize) -> Result<PlainCt> {
        const WHAT: &str = "plain ciphertext";
        let mut r = Reader::new(
            crate::frame::open_without_params(bytes, &FORMAT, KIND_CT, limit)?,
            WHAT,
        );
        let level = r.u32()?;
        if level > self.caps.max_level {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "level above max_level",
            });
        }
        let n = r.len_at_most(r.remaining() / 8)?;
        if n != self.caps.slots {
            return Err(Error::LengthMismatch {
                op: "ct_from_bytes",
                expected: self.caps.slots,
                found: n,
            });
        }
        let values = (0..n).map(|_| r.f64()).collect::<Result<Vec<_>>>()?;
        r.finish()?;
        check_finite(&values).map_err(|_| Error::Malformed {
            what: WHAT,
            reason: "non-finite value",
        })?;
        Ok(PlainCt { values, level })
    }
}

impl Decrypt for Plain {
    fn decrypt(&self, a: &PlainCt) -> Result<Vec<f64>> {
        self.check_ct("decrypt", a)?;
        Ok(a.values.clone())
    }
}
