//! Homomorphic evaluation. The [`Evaluator`] holds no keys: relinearization and
//! rotations take the key they need, so one evaluator serves any number of clients
//! of the same parameter set.

mod add;
mod linear;
mod mul;
mod rescale;
mod rotate;

use std::sync::Arc;

use crate::ciphertext::Ciphertext;
use crate::params::CkksParams;
use crate::plaintext::Plaintext;
use crate::{Error, Result};

/// Relative difference below which two scales count as equal (2^-20).
pub const SCALE_TOLERANCE: f64 = 1.0 / 1_048_576.0;

/// Evaluates operations on ciphertexts of one parameter set.
#[derive(Clone, Debug)]
pub struct Evaluator {
    params: Arc<CkksParams>,
}

impl Evaluator {
    /// An evaluator for `params`.
    pub fn new(params: &Arc<CkksParams>) -> Self {
        Self {
            params: Arc::clone(params),
        }
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<CkksParams> {
        &self.params
    }

    fn check_ct(&self, ct: &Ciphertext) -> Result<()> {
        self.params.check_id(ct.params_id)
    }

    fn check_pt(&self, pt: &Plaintext) -> Result<()> {
        self.params.check_id(pt.params_id)
    }

    /// Lowers `ct` to `level` by dropping RNS limbs (exact: no noise, no scale change).
    ///
    /// # Errors
    /// [`Error::LevelIncrease`] when `level` is above the ciphertext's level.
    pub fn drop_to_level(&self, ct: &Ciphertext, level: u32) -> Result<Ciphertext> {
        self.check_ct(ct)?;
        if level > ct.level {
            return Err(Error::LevelIncrease {
                from: ct.level,
                to: level,
            });
        }
        let mut out = ct.clone();
        for p in &mut out.polys {
            p.truncate_limbs(level as usize + 1);
        }
        out.level = level;
        Ok(out)
    }
}

/// Whether two scales are equal within [`SCALE_TOLERANCE`].
pub(crate) fn scales_match(a: f64, b: f64) -> bool {
    ((a - b) / a.max(b)).abs() <= SCALE_TOLERANCE
}

pub(crate) fn scale_mismatch(a: f64, b: f64) -> Error {
    Error::ScaleMismatch {
        lhs_log2: a.log2(),
        rhs_log2: b.log2(),
        tolerance: SCALE_TOLERANCE.log2(),
    }
}

/// A new polynomial whose limb i is `f(q_i, x, y)` applied to the first `limbs`
/// limbs of `x` and `y` elementwise: one pass, no copy-then-modify.
pub(crate) fn zip_map(
    x: &fhez_math::Poly<fhez_math::Ntt>,
    y: &fhez_math::Poly<fhez_math::Ntt>,
    moduli: &[fhez_math::Modulus],
    limbs: usize,
    f: impl Fn(&fhez_math::Modulus, u64, u64) -> u64,
) -> Result<fhez_math::Poly<fhez_math::Ntt>> {
    let n = x.n();
    let mut data = Vec::with_capacity(limbs * n);
    for ((xl, yl), m) in x.limbs_iter().zip(y.limbs_iter()).zip(moduli).take(limbs) {
        data.extend(xl.iter().zip(yl).map(|(&a, &b)| f(m, a, b)));
    }
    Ok(fhez_math::Poly::from_vec(n, data)?)
}
