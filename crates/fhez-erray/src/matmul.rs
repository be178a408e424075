//! Products with plaintext matrices: `x @ W` for `W` of shape `(n, m)`.
//!
//! - [`Packing::BatchInSlots`], `x` of shape `(batch, …, n)`: every output ciphertext is a
//!   linear combination `Σ_i W[i, j] · ct_i` — no rotation, exactly one level (none when every
//!   weight is a free integer). The outputs are computed [`COLUMN_GROUP`] at a time with
//!   `Backend::linear_combinations`, which reads the inputs once per group.
//! - [`Erray::mul_matmul`], batch-in-slots: `(x ⊙ y) @ W` with lazy relinearization
//!   (`Backend::product_combinations`): one key switch per output column instead of one per
//!   product, same levels as `x.mul(y)?.matmul(W)`.
//! - [`Packing::Flat`], `x` of shape `(n,)` in one ciphertext: the input is replicated with
//!   period `d_in = n.next_power_of_two()` over the window the transform reads (one or two
//!   rotations), then one windowed generic diagonal [`LinearTransform`] (Halevi–Shoup, baby-step/giant-step with hoisted
//!   baby rotations and Horner giant steps): with `d_out = m.next_power_of_two()` and
//!   `g = 2^⌈log2(d_out)/2⌉` baby steps it costs `(g − 1) + (d_out/g − 1)` key switches plus
//!   `log2(d_in/d_out)` for the rotate-and-add tail of a wide matrix: `O(√m)`, not `O(n)`.
//!   One level (two if dirty padding must be zeroed first).
//! - [`Packing::SingleInput`], `x` of shape `(n,)`: the same transform without the
//!   replication (the packing is already periodic); see [`Erray::dense`].

use fhez_backend::Backend;

use crate::par::map_range;
use crate::plain_array::matrix_dims;
use crate::{Erray, Error, LinearTransform, Packing, PlainArray, Result};

/// The BSGS plan of a flat matmul (public so planners and tests can predict its cost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlatMatmulPlan {
    /// Input length padded to a power of two.
    pub d_in: usize,
    /// Output length padded to a power of two.
    pub d_out: usize,
    /// Number of diagonals of the transform (`d_out`).
    pub diagonals: usize,
    /// Baby steps `g`.
    pub baby: usize,
    /// Giant steps `diagonals / g`.
    pub giant: usize,
    /// Replication rotations before the transform (until the input covers the window the
    /// transform reads).
    pub replications: usize,
    /// Rotate-and-add tail rotations after (wide matrices, `log2(d_in / d_out)`).
    pub folds: usize,
}

impl FlatMatmulPlan {
    /// Plans `x (n,) @ W (n, m)` on `slots` slots.
    ///
    /// # Errors
    /// [`Error::SlotsNotPowerOfTwo`]; [`Error::InvalidShape`] when `n` or `m` exceed `slots`.
    pub fn new(n: usize, m: usize, slots: usize) -> Result<Self> {
        if !slots.is_power_of_two() {
            return Err(Error::SlotsNotPowerOfTwo {
                op: "matmul",
                slots,
            });
        }
        let (d_in, d_out) = (n.next_power_of_two(), m.next_power_of_two());
        if d_in > slots || d_out > slots {
            return Err(Error::InvalidShape {
                op: "matmul",
                shape: vec![n, m],
                reason: "flat matmul needs both dimensions (rounded up to a power of two) <= slots",
            });
        }
        let diagonals = d_out;
        // The windowed transform reads slots [0, max(d_in, d_out) + d_out − 1).
        let need = d_in.max(d_out) + d_out - 1;
        let (mut cover, mut replications) = (d_in, 0);
        while cover < need.min(slots) {
            cover *= 2;
            replications += 1;
        }
        let baby = 1usize << diagonals.trailing_zeros().div_ceil(2);
        Ok(Self {
            d_in,
            d_out,
            diagonals,
            baby,
            giant: diagonals / baby,
            replications,
            folds: (d_in / d_out).max(1).trailing_zeros() as usize,
        })
    }

    /// Key switches (rotations) this plan performs.
    #[must_use]
    pub fn key_switches(&self) -> usize {
        self.replications + (self.baby - 1) + (self.giant - 1) + self.folds
    }
}

/// Output columns per `Backend::linear_combinations` call in a batch-in-slots matmul: the
/// groups run in parallel (feature `parallel`), each reads its inputs once.
pub const COLUMN_GROUP: usize = 16;

/// The columns `cols` of the row-major `(n, m)` matrix `w`, one `Vec` per column.
fn columns(w: &PlainArray, n: usize, m: usize, cols: std::ops::Range<usize>) -> Vec<Vec<f64>> {
    cols.map(|j| {
        (0..n)
            .map(|i| w.data().get(i * m + j).copied().unwrap_or(0.0))
            .collect()
    })
    .collect()
}

fn step(s: usize) -> Result<i64> {
    i64::try_from(s).map_err(|_| Error::SlotsNotPowerOfTwo {
        op: "matmul",
        slots: s,
    })
}

impl<B: Backend> Erray<B> {
    /// numpy `self @ w` with a plaintext matrix `w` of shape `(n, m)`; see the module docs for
    /// the supported layouts and costs.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::PackingUnsupported`] (flat input that is not a single
    /// 1-d ciphertext), [`Error::SlotsNotPowerOfTwo`], backend errors.
    pub fn matmul(&self, w: &PlainArray) -> Result<Self> {
        let (n, m) = matrix_dims("matmul", &self.shape, w.shape())?;
        match self.packing {
            Packing::BatchInSlots { .. } if self.ndim() >= 2 => self.matmul_batch(w, n, m),
            Packing::BatchInSlots { .. } => Err(Error::ShapeMismatch {
                op: "matmul",
                lhs: self.shape.clone(),
                rhs: w.shape().to_vec(),
            }),
            Packing::SingleInput { .. } if self.ndim() == 1 => self.dense(w, None),
            Packing::SingleInput { .. } => Err(Error::PackingUnsupported {
                op: "matmul of a multi-dimensional input (reshape to 1-d first)",
                packing: self.packing.name(),
            }),
            Packing::Flat if self.ndim() == 1 && self.cts.len() == 1 => self.matmul_flat(w, n, m),
            Packing::Flat => Err(Error::PackingUnsupported {
                op: "matmul of a multi-dimensional or multi-ciphertext input",
                packing: self.packing.name(),
            }),
        }
    }

    /// numpy `dot`: [`Erray::matmul`] for a 2-d `w`; for a 1-d `w` of length `n`, the inner
    /// product over the last axis (that axis is removed).
    ///
    /// # Errors
    /// As [`Erray::matmul`].
    pub fn dot(&self, w: &PlainArray) -> Result<Self> {
        if w.ndim() != 1 {
            return self.matmul(w);
        }
        let col = w.reshape(vec![w.len(), 1])?;
        let out = self.matmul(&col)?;
        let mut shape = out.shape.clone();
        shape.pop();
        match out.packing {
            Packing::Flat | Packing::SingleInput { .. } => {
                Ok(out.with_cts(shape, out.cts.clone(), out.clean))
            }
            Packing::BatchInSlots { .. } => out.reshape(&shape),
        }
    }

    /// `(self ⊙ other) @ w` for batch-in-slots operands of one shape `(batch, …, n)`: the
    /// products are combined before they are relinearized (`Backend::product_combinations`),
    /// so an output row costs `m` key switches instead of `n`. Levels are those of
    /// `self.mul(other)?.matmul(w)`. With `other` = `self` this is a square activation feeding
    /// a dense layer. A flat packing falls back to `self.mul(other)?.matmul(w)`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the operand shapes differ or do not fit `w`;
    /// [`Error::PackingMismatch`]; backend errors.
    pub fn mul_matmul(&self, other: &Self, w: &PlainArray) -> Result<Self> {
        if self.packing.name() != other.packing.name() {
            return Err(Error::PackingMismatch {
                op: "mul_matmul",
                lhs: self.packing.name(),
                rhs: other.packing.name(),
            });
        }
        if self.shape != other.shape {
            return Err(Error::ShapeMismatch {
                op: "mul_matmul",
                lhs: self.shape.clone(),
                rhs: other.shape.clone(),
            });
        }
        let (n, m) = matrix_dims("mul_matmul", &self.shape, w.shape())?;
        match self.packing {
            Packing::BatchInSlots { .. } if self.ndim() >= 2 => {
                let be = &self.backend;
                let rows = self.cts.len() / n.max(1);
                let weights = columns(w, n, m, 0..m);
                let out = map_range(rows, |r| {
                    let pairs = (0..n)
                        .map(|i| Ok((self.ct(r * n + i)?, other.ct(r * n + i)?)))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(be.product_combinations(&pairs, &weights)?)
                })?;
                let mut shape = self.shape.clone();
                if let Some(last) = shape.last_mut() {
                    *last = m;
                }
                let clean = self.clean && other.clean;
                Ok(self.with_cts(shape, out.into_iter().flatten().collect(), clean))
            }
            Packing::BatchInSlots { .. } | Packing::Flat | Packing::SingleInput { .. } => {
                self.mul(other)?.matmul(w)
            }
        }
    }

    fn matmul_batch(&self, w: &PlainArray, n: usize, m: usize) -> Result<Self> {
        let be = &self.backend;
        let rows = self.cts.len() / n.max(1);
        let groups = m.div_ceil(COLUMN_GROUP);
        let parts = map_range(rows * groups, |k| {
            let (r, g) = (k / groups, k % groups);
            let inputs = (0..n)
                .map(|i| self.ct(r * n + i))
                .collect::<Result<Vec<_>>>()?;
            let cols = g * COLUMN_GROUP..((g + 1) * COLUMN_GROUP).min(m);
            Ok(be.linear_combinations(&inputs, &columns(w, n, m, cols))?)
        })?;
        let cts: Vec<B::Ct> = parts.into_iter().flatten().collect();
        let mut shape = self.shape.clone();
        if let Some(last) = shape.last_mut() {
            *last = m;
        }
        Ok(self.with_cts(shape, cts, self.clean))
    }

    fn matmul_flat(&self, w: &PlainArray, n: usize, m: usize) -> Result<Self> {
        let be = &self.backend;
        let slots = be.slots();
        let plan = FlatMatmulPlan::new(n, m, slots)?;
        let src = self.clean_padding()?;
        let mut x = src.ct(0)?.clone();
        let mut cover = plan.d_in;
        for _ in 0..plan.replications {
            let r = be.rotate(&x, -step(cover)?)?;
            x = be.add(&x, &r)?;
            cover *= 2;
        }
        let wd = w.data();
        let t = LinearTransform::windowed(
            slots,
            plan.d_in,
            m,
            |i, j| {
                if j < n {
                    wd.get(j * m + i).copied().unwrap_or(0.0)
                } else {
                    0.0
                }
            },
            |_| 0.0,
        )?;
        let acc = t.apply(be, &x)?;
        Ok(Self {
            backend: be.clone(),
            shape: vec![m],
            packing: Packing::Flat,
            cts: vec![acc],
            clean: false,
            gather: None,
        })
    }
}
