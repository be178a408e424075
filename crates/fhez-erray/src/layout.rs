//! Free re-layouts: reshape, axis permutations and convolution windows. All of them only
//! reorder (or reuse) ciphertexts; none touches slots, so none costs a level or a rotation.
//!
//! | op | batch-in-slots | flat |
//! | --- | --- | --- |
//! | `reshape` | any shape keeping `shape[0] == batch` | any shape of equal size |
//! | `permuted_axes` / `t` | permutations fixing axis 0 | identity only (else `PackingUnsupported`) |
//! | `windows` | yes | `PackingUnsupported` |

use fhez_backend::Backend;

use crate::shape::{ravel, size_of, strides, unravel};
use crate::{Erray, Error, Packing, Result};

/// Checks that `perm` is a permutation of `0..ndim`.
pub(crate) fn check_permutation(perm: &[usize], ndim: usize) -> Result<()> {
    if perm.len() != ndim {
        return Err(Error::InvalidShape {
            op: "permuted_axes",
            shape: perm.to_vec(),
            reason: "permutation length differs from ndim",
        });
    }
    let mut seen = vec![false; ndim];
    for &p in perm {
        match seen.get_mut(p) {
            Some(s) if !*s => *s = true,
            Some(_) => {
                return Err(Error::InvalidShape {
                    op: "permuted_axes",
                    shape: perm.to_vec(),
                    reason: "repeated axis",
                });
            }
            None => return Err(Error::AxisOutOfRange { axis: p, ndim }),
        }
    }
    Ok(())
}

impl<B: Backend> Erray<B> {
    /// Same elements under a new shape (row-major order); free. Batch-in-slots must keep the
    /// batch as the first axis.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the sizes differ; [`Error::PackingUnsupported`] when a
    /// batch-in-slots reshape would move the batch axis.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        if size_of(shape)? != self.size()? {
            return Err(Error::ShapeMismatch {
                op: "reshape",
                lhs: self.shape.clone(),
                rhs: shape.to_vec(),
            });
        }
        if let Packing::BatchInSlots { batch } = self.packing
            && shape.first() != Some(&batch)
        {
            return Err(Error::PackingUnsupported {
                op: "reshape changing the batch axis",
                packing: self.packing.name(),
            });
        }
        Ok(self.with_cts(shape.to_vec(), self.cts.clone(), self.clean))
    }

    /// Permutes axes (axis `i` of the result is axis `perm[i]`); free for batch-in-slots when
    /// `perm[0] == 0`.
    ///
    /// # Errors
    /// Invalid permutations; [`Error::PackingUnsupported`] for flat arrays or when the batch
    /// axis would move.
    pub fn permuted_axes(&self, perm: &[usize]) -> Result<Self> {
        check_permutation(perm, self.ndim())?;
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        let unsupported = |op| Error::PackingUnsupported {
            op,
            packing: self.packing.name(),
        };
        match self.packing {
            Packing::Flat | Packing::SingleInput { .. } => {
                Err(unsupported("transpose (needs slot permutation)"))
            }
            Packing::BatchInSlots { .. } if perm.first() != Some(&0) => {
                Err(unsupported("transpose moving the batch axis"))
            }
            Packing::BatchInSlots { .. } => {
                let inner_shape = self.shape.get(1..).unwrap_or(&[]);
                let src_strides = strides(inner_shape);
                let shape: Vec<usize> = perm
                    .iter()
                    .map(|&p| self.shape.get(p).copied().unwrap_or(1))
                    .collect();
                let new_inner = shape.get(1..).unwrap_or(&[]);
                let perm_strides: Vec<usize> = perm
                    .iter()
                    .skip(1)
                    .map(|&p| src_strides.get(p.wrapping_sub(1)).copied().unwrap_or(0))
                    .collect();
                let cts = (0..self.cts.len())
                    .map(|c| {
                        let src: usize = unravel(c, new_inner)
                            .iter()
                            .zip(&perm_strides)
                            .map(|(i, s)| i * s)
                            .sum();
                        self.ct(src).cloned()
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(self.with_cts(shape, cts, self.clean))
            }
        }
    }

    /// Reverses the axes (numpy `.T`); only the identity for 0-/1-d arrays is always free.
    ///
    /// # Errors
    /// As [`Erray::permuted_axes`].
    pub fn t(&self) -> Result<Self> {
        let perm: Vec<usize> = (0..self.ndim()).rev().collect();
        self.permuted_axes(&perm)
    }

    /// Sliding windows for convolution (batch-in-slots only, free). `kernel` and `stride` apply
    /// to the last `kernel.len()` axes. An input of shape `(batch, lead…, d_1…d_k)` gives
    /// `(batch, lead…, o_1…o_k, k_1…k_k)` with `o_i = (d_i − k_i) / s_i + 1`.
    ///
    /// # Errors
    /// [`Error::PackingUnsupported`] for flat arrays; [`Error::InvalidShape`] for kernels
    /// larger than the input, zero sizes or mismatched `stride` length.
    pub fn windows(&self, kernel: &[usize], stride: &[usize]) -> Result<Self> {
        if !matches!(self.packing, Packing::BatchInSlots { .. }) {
            return Err(Error::PackingUnsupported {
                op: "windows",
                packing: self.packing.name(),
            });
        }
        let inner = self.shape.get(1..).unwrap_or(&[]);
        let k = kernel.len();
        let bad = |reason| Error::InvalidShape {
            op: "windows",
            shape: kernel.to_vec(),
            reason,
        };
        if stride.len() != k || k > inner.len() {
            return Err(bad(
                "kernel/stride rank must match and not exceed the non-batch rank",
            ));
        }
        let lead = inner.len() - k;
        let (lead_dims, spatial) = inner.split_at(lead);
        let mut outs = Vec::with_capacity(k);
        for ((&d, &kk), &s) in spatial.iter().zip(kernel).zip(stride) {
            if kk == 0 || s == 0 || kk > d {
                return Err(bad("kernel sizes and strides must be in 1..=dim"));
            }
            outs.push((d - kk) / s + 1);
        }
        let win_inner: Vec<usize> = lead_dims
            .iter()
            .chain(&outs)
            .chain(kernel)
            .copied()
            .collect();
        let count = size_of(&win_inner)?;
        let cts = (0..count)
            .map(|c| {
                let idx = unravel(c, &win_inner);
                let (l, rest) = idx.split_at(lead);
                let (o, kk) = rest.split_at(k);
                let src: Vec<usize> = l
                    .iter()
                    .copied()
                    .chain(
                        o.iter()
                            .zip(kk)
                            .zip(stride)
                            .map(|((&oi, &ki), &si)| oi * si + ki),
                    )
                    .collect();
                self.ct(ravel(&src, inner)?).cloned()
            })
            .collect::<Result<Vec<_>>>()?;
        let mut shape = vec![self.shape.first().copied().unwrap_or(1)];
        shape.extend(win_inner);
        Ok(self.with_cts(shape, cts, self.clean))
    }
}
