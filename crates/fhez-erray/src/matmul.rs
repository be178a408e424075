//! Products with plaintext matrices: `x @ W` for `W` of shape `(n, m)`.
//!
//! - [`Packing::BatchInSlots`], `x` of shape `(batch, …, n)`: every output ciphertext is a
//!   linear combination `Σ_i W[i, j] · ct_i` — no rotation, exactly one level.
//! - [`Packing::Flat`], `x` of shape `(n,)` in one ciphertext: the diagonal method
//!   (Halevi–Shoup) in its rectangular ("hybrid") form, with baby-step/giant-step and hoisted
//!   baby rotations. With `d_in = n.next_power_of_two()`, `d_out = m.next_power_of_two()`,
//!   `k = min(d_in, d_out)` generalized diagonals and `g = 2^⌈log2(k)/2⌉` baby steps it
//!   costs `(g − 1) + (k/g − 1)` key switches, plus `log2(d_in/d_out)` for folding a wide
//!   matrix and up to `log2` replication rotations when `d_in < slots`: `O(√k)`, not `O(n)`.
//!   One level (two if dirty padding must be zeroed first).

use fhez_backend::Backend;

use crate::par::{map_range, tree_sum};
use crate::plain_array::matrix_dims;
use crate::{Erray, Error, Packing, PlainArray, Result};

/// The BSGS plan of a flat matmul (public so planners and tests can predict its cost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlatMatmulPlan {
    /// Input length padded to a power of two.
    pub d_in: usize,
    /// Output length padded to a power of two.
    pub d_out: usize,
    /// Number of generalized diagonals (`min(d_in, d_out)`).
    pub diagonals: usize,
    /// Baby steps `g`.
    pub baby: usize,
    /// Giant steps `diagonals / g`.
    pub giant: usize,
    /// Replication rotations needed before the diagonals.
    pub replications: usize,
    /// Folding rotations after (wide matrices).
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
        let diagonals = d_in.min(d_out);
        let baby = 1usize << diagonals.trailing_zeros().div_ceil(2);
        let need = d_in.max(d_out) + diagonals - 1;
        let (mut cover, mut replications) = (d_in, 0);
        while cover < need.min(slots) {
            cover *= 2;
            replications += 1;
        }
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

    /// The plaintext for giant step `i`, baby step `b`: slot `(j + g·i) mod slots` holds
    /// diagonal `t = g·i + b` at row `j`, i.e. `W[(j + t) mod d_in, j mod d_out]`.
    fn diagonal(&self, w: &PlainArray, i: usize, b: usize, slots: usize) -> Vec<f64> {
        let (n, m) = (
            w.shape().first().copied().unwrap_or(0),
            w.shape().get(1).copied().unwrap_or(0),
        );
        let t = self.baby * i + b;
        let shift = self.baby * i;
        let mut v = vec![0.0; slots];
        for j in 0..self.d_in.max(self.d_out) {
            let (col, row) = (j % self.d_out, (j + t) % self.d_in);
            if col < m
                && row < n
                && let (Some(slot), Some(x)) =
                    (v.get_mut((j + shift) % slots), w.data().get(row * m + col))
            {
                *slot = *x;
            }
        }
        v
    }
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

    fn matmul_batch(&self, w: &PlainArray, n: usize, m: usize) -> Result<Self> {
        let be = &self.backend;
        let rows = self.cts.len() / n.max(1);
        let cts = map_range(rows * m, |k| {
            let (r, j) = (k / m, k % m);
            let inputs = (0..n)
                .map(|i| self.ct(r * n + i))
                .collect::<Result<Vec<_>>>()?;
            let weights: Vec<f64> = (0..n)
                .map(|i| w.data().get(i * m + j).copied().unwrap_or(0.0))
                .collect();
            Ok(be.linear_combination(&inputs, &weights)?)
        })?;
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
        let baby_steps = (1..plan.baby).map(step).collect::<Result<Vec<_>>>()?;
        let mut babies = vec![x.clone()];
        babies.extend(be.rotate_hoisted(&x, &baby_steps)?);
        let giants = map_range(plan.giant, |i| {
            let mut terms = Vec::with_capacity(plan.baby);
            for (b, baby) in babies.iter().enumerate() {
                let diag = plan.diagonal(w, i, b, slots);
                if diag.iter().any(|&d| d != 0.0) {
                    terms.push(be.mul_plain(baby, &diag)?);
                }
            }
            match tree_sum(terms, |p, q| Ok(be.add(p, q)?))? {
                Some(u) if i > 0 => Ok(Some(be.rotate(&u, step(plan.baby * i)?)?)),
                other => Ok(other),
            }
        })?;
        let acc = tree_sum(giants.into_iter().flatten().collect(), |p, q| {
            Ok(be.add(p, q)?)
        })?;
        // An all-zero matrix: multiply by the zero diagonal to keep the one-level contract.
        let mut acc = match acc {
            Some(a) => a,
            None => be.mul_plain(&x, &[])?,
        };
        let mut fold = plan.d_out;
        for _ in 0..plan.folds {
            let r = be.rotate(&acc, step(fold)?)?;
            acc = be.add(&acc, &r)?;
            fold *= 2;
        }
        Ok(Self {
            backend: be.clone(),
            shape: vec![m],
            packing: Packing::Flat,
            cts: vec![acc],
            clean: false,
        })
    }
}
