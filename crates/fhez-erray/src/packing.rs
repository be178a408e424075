//! [`Packing`]: the explicit map from logical indices to (ciphertext, slot).

use crate::shape::{ravel, size_of};
use crate::{Error, Result};

/// How the elements of an erray are laid out in ciphertext slots. Never inferred: every erray
/// carries one, and every operation states which packings it supports.
///
/// Slots not covered by the layout ("padding") hold zeros unless an operation leaves
/// rotation garbage there; errays track this and re-zero padding (one level) only when an
/// operation would read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Packing {
    /// The first axis is the batch; one sample per slot. Element `(b, i…)` lives in ciphertext
    /// `ravel(i…)` (row-major over the non-batch axes) at slot `b`. Dense layers need no
    /// rotations; summing over non-batch axes adds ciphertexts.
    BatchInSlots {
        /// Batch size (`shape[0]`), at most `slots`.
        batch: usize,
    },
    /// Row-major over the whole shape: element with flat index `k` lives in ciphertext
    /// `k / slots` at slot `k % slots`. Sums and matrix products use rotations.
    Flat,
    /// Single-input packing: one sample per ciphertext, row-major, repeated every `period`
    /// slots — element with flat index `k` lives in ciphertext 0 at slots `k + period·t`.
    /// `period` is a power of two between the element count and the slot count; slots
    /// `[len, period)` of every period are padding. Matrix products, convolutions and pooling
    /// are [`LinearTransform`](crate::LinearTransform)s whose outputs come back in this
    /// packing, so layers chain with no replication rotations and no masking.
    SingleInput {
        /// Repetition period (a power of two, `len ≤ period ≤ slots`).
        period: usize,
    },
}

impl Packing {
    /// Stable name used in errors: `"batch-in-slots"`, `"flat"` or `"single-input"`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::BatchInSlots { .. } => "batch-in-slots",
            Self::Flat => "flat",
            Self::SingleInput { .. } => "single-input",
        }
    }

    /// The single-input packing with the smallest period for `len` elements:
    /// `SingleInput { period: len.next_power_of_two() }`.
    #[must_use]
    pub fn single_input(len: usize) -> Self {
        Self::SingleInput {
            period: len.max(1).next_power_of_two(),
        }
    }

    /// Checks that `shape` can be laid out with this packing on `slots` slots.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] (zero-sized dims, batch not matching `shape[0]`, 0-d batch
    /// arrays) or the backend's `TooManyValues` when the batch exceeds the slots.
    pub fn validate(&self, shape: &[usize], slots: usize) -> Result<()> {
        let invalid = |reason| Error::InvalidShape {
            op: "packing",
            shape: shape.to_vec(),
            reason,
        };
        if shape.contains(&0) {
            return Err(invalid("zero-sized dimensions are not supported"));
        }
        if slots == 0 {
            return Err(invalid("backend has no slots"));
        }
        size_of(shape)?;
        match *self {
            Self::Flat => Ok(()),
            Self::SingleInput { period } => {
                let len = size_of(shape)?;
                if !period.is_power_of_two() || !slots.is_power_of_two() {
                    return Err(invalid("single-input needs power-of-two period and slots"));
                }
                if len > period || period > slots {
                    return Err(invalid("single-input needs len <= period <= slots"));
                }
                Ok(())
            }
            Self::BatchInSlots { batch } => {
                if shape.first() != Some(&batch) {
                    return Err(invalid("batch-in-slots needs shape[0] == batch"));
                }
                if batch > slots {
                    return Err(fhez_backend::Error::TooManyValues { len: batch, slots }.into());
                }
                Ok(())
            }
        }
    }

    /// Number of ciphertexts for `shape` on `slots` slots.
    ///
    /// # Errors
    /// As [`Packing::validate`].
    pub fn num_cts(&self, shape: &[usize], slots: usize) -> Result<usize> {
        self.validate(shape, slots)?;
        let total = size_of(shape)?;
        Ok(match *self {
            Self::Flat => total.div_ceil(slots),
            Self::SingleInput { .. } => 1,
            Self::BatchInSlots { batch } => total / batch,
        })
    }

    /// Where element `index` of an array of `shape` lives: `(ciphertext, slot)`.
    ///
    /// # Errors
    /// [`Error::IndexOutOfBounds`], or as [`Packing::validate`].
    pub fn locate(&self, shape: &[usize], index: &[usize], slots: usize) -> Result<(usize, usize)> {
        self.validate(shape, slots)?;
        let flat = ravel(index, shape)?;
        Ok(match *self {
            Self::Flat => (flat / slots, flat % slots),
            Self::SingleInput { .. } => (0, flat),
            Self::BatchInSlots { batch } => {
                let inner = size_of(shape)? / batch;
                (flat % inner, flat / inner)
            }
        })
    }

    /// Slots of ciphertext `ct` that hold elements (`[0, used)`; the rest is padding). For
    /// [`Packing::SingleInput`] this is the first copy; the copies repeat every period.
    #[must_use]
    pub fn used_slots(&self, shape: &[usize], slots: usize, ct: usize) -> usize {
        match *self {
            Self::BatchInSlots { batch } => batch,
            Self::SingleInput { .. } => shape.iter().product::<usize>().min(slots),
            Self::Flat => {
                let total: usize = shape.iter().product();
                total.saturating_sub(ct * slots).min(slots)
            }
        }
    }

    /// Lays out row-major `data` of `shape` as one plaintext vector per ciphertext (each of
    /// length `used_slots`; backends zero-pad).
    ///
    /// # Errors
    /// As [`Packing::validate`], or [`Error::ShapeMismatch`] if `data` has the wrong length.
    pub fn layout(&self, shape: &[usize], slots: usize, data: &[f64]) -> Result<Vec<Vec<f64>>> {
        let count = self.num_cts(shape, slots)?;
        if size_of(shape)? != data.len() {
            return Err(Error::ShapeMismatch {
                op: "layout",
                lhs: shape.to_vec(),
                rhs: vec![data.len()],
            });
        }
        Ok(match *self {
            Self::Flat => data.chunks(slots).map(<[f64]>::to_vec).collect(),
            Self::SingleInput { period } => {
                let mut v = vec![0.0; slots];
                for (s, x) in v.iter_mut().enumerate() {
                    if let Some(d) = data.get(s % period) {
                        *x = *d;
                    }
                }
                vec![v]
            }
            Self::BatchInSlots { .. } => (0..count)
                .map(|c| data.iter().skip(c).step_by(count).copied().collect())
                .collect(),
        })
    }

    /// The 0/1 mask that keeps the elements of ciphertext `ct` and zeroes its padding
    /// (periodic for [`Packing::SingleInput`]), or `None` when it has no padding.
    #[must_use]
    pub fn padding_mask(&self, shape: &[usize], slots: usize, ct: usize) -> Option<Vec<f64>> {
        let used = self.used_slots(shape, slots, ct);
        match *self {
            Self::SingleInput { period } if used < period => Some(
                (0..slots)
                    .map(|s| f64::from(u8::from(s % period < used)))
                    .collect(),
            ),
            Self::SingleInput { .. } => None,
            Self::Flat | Self::BatchInSlots { .. } if used < slots => Some(vec![1.0; used]),
            Self::Flat | Self::BatchInSlots { .. } => None,
        }
    }

    /// Inverse of [`Packing::layout`]: gathers row-major data from per-ciphertext slot
    /// vectors.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the vectors are too short or too few.
    pub fn unlayout(
        &self,
        shape: &[usize],
        slots: usize,
        vectors: &[Vec<f64>],
    ) -> Result<Vec<f64>> {
        let count = self.num_cts(shape, slots)?;
        let total = size_of(shape)?;
        let short = || Error::ShapeMismatch {
            op: "unlayout",
            lhs: shape.to_vec(),
            rhs: vec![vectors.len()],
        };
        if vectors.len() != count {
            return Err(short());
        }
        (0..total)
            .map(|k| {
                let (c, s) = match *self {
                    Self::Flat => (k / slots, k % slots),
                    Self::SingleInput { .. } => (0, k),
                    Self::BatchInSlots { .. } => (k % count, k / count),
                };
                vectors
                    .get(c)
                    .and_then(|v| v.get(s))
                    .copied()
                    .ok_or_else(short)
            })
            .collect()
    }
}
