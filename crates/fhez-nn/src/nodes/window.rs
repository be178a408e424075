//! The original's `windex`: every "valid" window of a kernel sliding with a stride, first
//! dimension outermost.

use fhez_erray::shape::{ravel, size_of, strides, unravel};

use crate::{Error, Result};

/// All windows of `kernel` over an input of `input` shape: window heads per dimension are
/// `0, s, 2s, …` and a window `[h, h + k)` is kept only if `h + k ≤ d` (no padding), so
/// there are `o_d = (d − k) / s + 1` windows per dimension, ordered row-major over the
/// output grid (the original's order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Windows {
    /// Output grid `(o_1, …, o_k)`.
    pub out_shape: Vec<usize>,
    /// Elements per window.
    pub kernel_len: usize,
    /// `index[w · kernel_len + k]` is the flat input index of kernel element `k` in window
    /// `w`.
    pub index: Vec<usize>,
}

/// Computes the window table.
///
/// # Errors
/// [`Error::ShapeMismatch`] when ranks differ or a kernel exceeds the input;
/// [`Error::InvalidConfig`] for zero kernel sizes or strides.
pub(crate) fn windows(input: &[usize], kernel: &[usize], stride: &[usize]) -> Result<Windows> {
    if input.len() != kernel.len() || stride.len() != kernel.len() {
        return Err(Error::ShapeMismatch {
            what: "window rank (input vs kernel)",
            expected: kernel.to_vec(),
            found: input.to_vec(),
        });
    }
    let mut out_shape = Vec::with_capacity(kernel.len());
    for ((&d, &k), &s) in input.iter().zip(kernel).zip(stride) {
        if k == 0 || s == 0 {
            return Err(Error::InvalidConfig {
                field: "kernel/stride",
                value: 0.0,
                reason: "kernel sizes and strides must be positive",
            });
        }
        if k > d {
            return Err(Error::ShapeMismatch {
                what: "kernel larger than input",
                expected: kernel.to_vec(),
                found: input.to_vec(),
            });
        }
        out_shape.push((d - k) / s + 1);
    }
    let count = size_of(&out_shape)?;
    let kernel_len = size_of(kernel)?;
    // A window element's position is `head · stride + offset` per dimension, always inside
    // the input (`h·s + o ≤ (d − k) + (k − 1)`), so its flat index splits into the flat
    // index of the head's corner plus the flat offset of the kernel element.
    let in_strides = strides(input);
    let flat = |pos: &[usize]| -> usize { pos.iter().zip(&in_strides).map(|(p, s)| p * s).sum() };
    let offsets: Vec<usize> = (0..kernel_len).map(|k| flat(&unravel(k, kernel))).collect();
    let mut index = Vec::with_capacity(count * kernel_len);
    for w in 0..count {
        let corner: Vec<usize> = unravel(w, &out_shape)
            .iter()
            .zip(stride)
            .map(|(&h, &s)| h * s)
            .collect();
        let base = flat(&corner);
        index.extend(offsets.iter().map(|&o| base + o));
    }
    if let Some(&last) = index.last() {
        // The last entry is the largest position: check it lies in the input.
        ravel(&unravel(last, input), input)?;
    }
    Ok(Windows {
        out_shape,
        kernel_len,
        index,
    })
}

impl Windows {
    /// Number of windows.
    pub fn count(&self) -> usize {
        self.index.len() / self.kernel_len.max(1)
    }

    /// `(window, kernel element, input index)` for every entry.
    pub fn entries(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        let kl = self.kernel_len.max(1);
        self.index
            .iter()
            .enumerate()
            .map(move |(e, &i)| (e / kl, e % kl, i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fashion_mnist_windows_match_the_original() -> Result<()> {
        // windex((28,28),(6,6),[4,4]): heads 0,4,…,20 → 6×6 = 36 windows.
        let w = windows(&[28, 28], &[6, 6], &[4, 4])?;
        assert_eq!(w.out_shape, vec![6, 6]);
        assert_eq!(w.count(), 36);
        // Window 1 starts at column 4; its first element is input (0, 4).
        assert_eq!(w.index.get(36), Some(&4));
        // cc_test: (4,4,3) with a (3,3,3) filter and unit stride → 4 windows.
        assert_eq!(windows(&[4, 4, 3], &[3, 3, 3], &[1, 1, 1])?.count(), 4);
        // cnn_regressor((20,F), 5, 3): 6 windows.
        assert_eq!(windows(&[20, 7], &[5, 7], &[3, 7])?.count(), 6);
        Ok(())
    }
}
