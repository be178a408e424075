//! Sums: over everything, or over one axis.
//!
//! | packing | axis | how | rotations |
//! | --- | --- | --- | --- |
//! | batch-in-slots | non-batch axis | add ciphertexts | 0 |
//! | batch-in-slots | batch axis (0) | rotate-and-add inside each ciphertext | ⌈log2 batch⌉ + popcount extra per ct |
//! | flat, 1-d | the only axis | add ciphertexts, then rotate-and-add | ≈ log2(min(n, slots)) |
//! | flat, n-d | any | — | `PackingUnsupported` |
//!
//! Results of rotate-and-add trees hold the sum in slot 0 and garbage in the other slots,
//! which the erray records as dirty padding.

use fhez_backend::Backend;

use crate::par::{map_range, tree_sum};
use crate::{Erray, Error, Packing, Result};

/// Rotation steps and combination plan of [`sum_prefix`], exposed for planning: returns the
/// steps `sum_prefix(·, n)` rotates by.
#[must_use]
pub fn sum_prefix_steps(n: usize) -> Vec<usize> {
    let mut steps = Vec::new();
    let (mut offset, mut pow) = (0usize, 1usize);
    while pow <= n {
        if n & pow != 0 {
            if offset != 0 {
                steps.push(offset);
            }
            offset += pow;
        }
        if pow.saturating_mul(2) <= n {
            steps.push(pow);
        }
        pow = pow.saturating_mul(2);
    }
    steps
}

/// A ciphertext whose slot 0 holds `Σ_{j<n} a[j]`, with `O(log n)` rotations (binary
/// decomposition of `n`; exactly `log2 n` when `n` is a power of two). Other slots hold
/// partial sums. Reads only slots `< n` into slot 0, so padding need not be clean.
///
/// # Errors
/// Backend errors (`MissingGaloisKey`).
pub fn sum_prefix<B: Backend>(backend: &B, a: &B::Ct, n: usize) -> Result<B::Ct> {
    let step = |s: usize| {
        i64::try_from(s).map_err(|_| Error::SlotsNotPowerOfTwo {
            op: "sum",
            slots: s,
        })
    };
    let mut result: Option<B::Ct> = None;
    let mut power = a.clone(); // slot 0 = Σ_{j < pow} a[j]
    let (mut offset, mut pow) = (0usize, 1usize);
    while pow <= n {
        if n & pow != 0 {
            let term = if offset == 0 {
                power.clone()
            } else {
                backend.rotate(&power, step(offset)?)?
            };
            result = Some(match result {
                Some(r) => backend.add(&r, &term)?,
                None => term,
            });
            offset += pow;
        }
        if pow.saturating_mul(2) <= n {
            let rotated = backend.rotate(&power, step(pow)?)?;
            power = backend.add(&power, &rotated)?;
        }
        pow = pow.saturating_mul(2);
    }
    Ok(result.unwrap_or(power))
}

impl<B: Backend> Erray<B> {
    /// Sum of all elements, as a 0-d [`Packing::Flat`] erray (the value in slot 0).
    ///
    /// # Errors
    /// Backend errors; `LevelExhausted` if dirty padding must be cleaned at level 0.
    pub fn sum(&self) -> Result<Self> {
        let be = &self.backend;
        let (src, n) = match self.packing {
            Packing::BatchInSlots { batch } => (self.clone(), batch),
            Packing::Flat => {
                let src = if self.cts.len() > 1 {
                    self.clean_padding()?
                } else {
                    self.clone()
                };
                (src, self.size()?.min(be.slots()))
            }
            // Padding must be zero inside the first period; copies beyond it are not read.
            Packing::SingleInput { period } => (self.clean_padding()?, period),
        };
        let total = tree_sum(src.cts, |a, b| Ok(be.add(a, b)?))?.ok_or(Error::InvalidShape {
            op: "sum",
            shape: self.shape.clone(),
            reason: "no ciphertexts",
        })?;
        let ct = sum_prefix(be, &total, n)?;
        Ok(Self {
            backend: be.clone(),
            shape: Vec::new(),
            packing: Packing::Flat,
            cts: vec![ct],
            clean: false,
            gather: None,
        })
    }

    /// Sum over `axis`. The axis is removed, except the batch axis of
    /// [`Packing::BatchInSlots`], which is kept with size 1 (like numpy `keepdims`), because
    /// the packing needs a batch axis: the result is batch-in-slots with `batch = 1`.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`], [`Error::PackingUnsupported`] (flat n-d), backend errors.
    pub fn sum_axis(&self, axis: usize) -> Result<Self> {
        let d = *self.shape.get(axis).ok_or(Error::AxisOutOfRange {
            axis,
            ndim: self.ndim(),
        })?;
        match self.packing {
            Packing::Flat | Packing::SingleInput { .. } if self.ndim() == 1 => self.sum(),
            Packing::Flat | Packing::SingleInput { .. } => Err(Error::PackingUnsupported {
                op: "sum_axis on a multi-dimensional array",
                packing: self.packing.name(),
            }),
            Packing::BatchInSlots { batch } if axis == 0 => {
                let be = &self.backend;
                let cts = map_range(self.cts.len(), |c| sum_prefix(be, self.ct(c)?, batch))?;
                let mut shape = self.shape.clone();
                if let Some(first) = shape.first_mut() {
                    *first = 1;
                }
                Ok(Self {
                    backend: be.clone(),
                    shape,
                    packing: Packing::BatchInSlots { batch: 1 },
                    cts,
                    clean: false,
                    gather: None,
                })
            }
            Packing::BatchInSlots { .. } => self.sum_inner_axis(axis, d),
        }
    }

    /// Batch-in-slots sum over a non-batch axis: adds ciphertexts, no rotation.
    fn sum_inner_axis(&self, axis: usize, d: usize) -> Result<Self> {
        // ct index = ravel over shape[1..]; split it as (outer, a, inner).
        let inner: usize = self.shape.iter().skip(axis + 1).product();
        let outer = self.cts.len() / (d * inner).max(1);
        let be = &self.backend;
        let cts = map_range(outer * inner, |k| {
            let (o, i) = (k / inner, k % inner);
            let parts = (0..d)
                .map(|a| self.ct(o * d * inner + a * inner + i).cloned())
                .collect::<Result<Vec<_>>>()?;
            tree_sum(parts, |x, y| Ok(be.add(x, y)?))?.ok_or(Error::AxisOutOfRange {
                axis,
                ndim: self.ndim(),
            })
        })?;
        let mut shape = self.shape.clone();
        shape.remove(axis);
        Ok(self.with_cts(shape, cts, self.clean))
    }
}
