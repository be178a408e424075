//! [`PlainArray`]: a minimal row-major f64 n-d array for plaintext operands and results.

use crate::shape::{broadcast_map, broadcast_shapes, ravel, size_of, strides, unravel};
use crate::{Error, Result};

/// A row-major array of `f64` in clear: the data an erray is encrypted from and decrypted to,
/// and the plaintext operand of mixed operations. Also the numpy-semantics oracle in tests.
///
/// Invariant: `data.len() == shape.iter().product()`.
#[derive(Clone, Debug, PartialEq)]
pub struct PlainArray {
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl PlainArray {
    /// An array of `shape` over row-major `data`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `data.len()` is not the product of `shape`.
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Result<Self> {
        if size_of(&shape)? != data.len() {
            return Err(Error::ShapeMismatch {
                op: "PlainArray::new",
                lhs: shape,
                rhs: vec![data.len()],
            });
        }
        Ok(Self { shape, data })
    }

    /// A 1-d array.
    #[must_use]
    pub fn from_vec(data: Vec<f64>) -> Self {
        Self {
            shape: vec![data.len()],
            data,
        }
    }

    /// A 0-d array holding one value.
    #[must_use]
    pub fn scalar(value: f64) -> Self {
        Self {
            shape: Vec::new(),
            data: vec![value],
        }
    }

    /// An array of `shape` filled with `value`.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] if the size overflows.
    pub fn full(shape: Vec<usize>, value: f64) -> Result<Self> {
        let n = size_of(&shape)?;
        Ok(Self {
            shape,
            data: vec![value; n],
        })
    }

    /// An array whose element at row-major position `k` is `f(k)`.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] if the size overflows.
    pub fn from_fn(shape: Vec<usize>, f: impl FnMut(usize) -> f64) -> Result<Self> {
        let n = size_of(&shape)?;
        Ok(Self {
            shape,
            data: (0..n).map(f).collect(),
        })
    }

    /// The shape.
    #[must_use]
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of dimensions.
    #[must_use]
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there are no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row-major data.
    #[must_use]
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Consumes the array, returning its row-major data.
    #[must_use]
    pub fn into_data(self) -> Vec<f64> {
        self.data
    }

    /// The element at `index`, if in bounds.
    #[must_use]
    pub fn get(&self, index: &[usize]) -> Option<f64> {
        ravel(index, &self.shape)
            .ok()
            .and_then(|k| self.data.get(k).copied())
    }

    /// Same data under another shape of equal size.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the sizes differ.
    pub fn reshape(&self, shape: Vec<usize>) -> Result<Self> {
        Self::new(shape, self.data.clone())
    }

    /// numpy `broadcast_to`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the shape does not broadcast.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        let map = broadcast_map("broadcast_to", &self.shape, shape)?;
        let data = map
            .iter()
            .map(|&k| self.data.get(k).copied().unwrap_or(0.0))
            .collect();
        Ok(Self {
            shape: shape.to_vec(),
            data,
        })
    }

    /// Elementwise `f(self, other)` with numpy broadcasting.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the shapes do not broadcast.
    pub fn zip_with(&self, other: &Self, f: impl Fn(f64, f64) -> f64) -> Result<Self> {
        let shape = broadcast_shapes("zip_with", &self.shape, &other.shape)?;
        let a = self.broadcast_to(&shape)?;
        let b = other.broadcast_to(&shape)?;
        let data = a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y)).collect();
        Ok(Self { shape, data })
    }

    /// Elementwise map.
    #[must_use]
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Self {
        Self {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&x| f(x)).collect(),
        }
    }

    /// Axes permuted: axis `i` of the result is axis `perm[i]` of `self`.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`] / [`Error::InvalidShape`] for an invalid permutation.
    pub fn permuted_axes(&self, perm: &[usize]) -> Result<Self> {
        crate::layout::check_permutation(perm, self.ndim())?;
        let shape: Vec<usize> = perm
            .iter()
            .map(|&p| self.shape.get(p).copied().unwrap_or(1))
            .collect();
        let src_strides = strides(&self.shape);
        let perm_strides: Vec<usize> = perm
            .iter()
            .map(|&p| src_strides.get(p).copied().unwrap_or(0))
            .collect();
        let n = self.data.len();
        let data = (0..n)
            .map(|k| {
                let src: usize = unravel(k, &shape)
                    .iter()
                    .zip(&perm_strides)
                    .map(|(i, s)| i * s)
                    .sum();
                self.data.get(src).copied().unwrap_or(0.0)
            })
            .collect();
        Ok(Self { shape, data })
    }

    /// Transpose (all axes reversed).
    ///
    /// # Errors
    /// Never in practice; kept fallible for uniformity.
    pub fn t(&self) -> Result<Self> {
        let perm: Vec<usize> = (0..self.ndim()).rev().collect();
        self.permuted_axes(&perm)
    }

    /// Sum over `axis` (the axis is removed).
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn sum_axis(&self, axis: usize) -> Result<Self> {
        let d = *self.shape.get(axis).ok_or(Error::AxisOutOfRange {
            axis,
            ndim: self.ndim(),
        })?;
        let outer: usize = self.shape.iter().take(axis).product();
        let inner: usize = self.shape.iter().skip(axis + 1).product();
        let mut shape = self.shape.clone();
        shape.remove(axis);
        let mut data = vec![0.0; outer * inner];
        for (k, &v) in self.data.iter().enumerate() {
            let (o, i) = (k / (d * inner), k % inner);
            if let Some(slot) = data.get_mut(o * inner + i) {
                *slot += v;
            }
        }
        Ok(Self { shape, data })
    }

    /// numpy `matmul` of a 1-d or 2-d array (or a stack `(…, n)`) with a 2-d `(n, m)` matrix.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the inner dimensions differ or `w` is not 2-d.
    pub fn matmul(&self, w: &Self) -> Result<Self> {
        let (n, m) = matrix_dims("matmul", &self.shape, &w.shape)?;
        let rows = self.data.len() / n.max(1);
        let mut data = vec![0.0; rows * m];
        for (r, out) in data.chunks_mut(m.max(1)).enumerate() {
            for (j, o) in out.iter_mut().enumerate() {
                *o = (0..n)
                    .map(|i| {
                        self.data.get(r * n + i).copied().unwrap_or(0.0)
                            * w.data.get(i * m + j).copied().unwrap_or(0.0)
                    })
                    .sum();
            }
        }
        let mut shape = self.shape.clone();
        if let Some(last) = shape.last_mut() {
            *last = m;
        }
        Ok(Self { shape, data })
    }
}

/// Checks `x (…, n) @ w (n, m)` and returns `(n, m)`.
pub(crate) fn matrix_dims(op: &'static str, x: &[usize], w: &[usize]) -> Result<(usize, usize)> {
    match (x.last(), w) {
        (Some(&n), &[wn, m]) if n == wn => Ok((n, m)),
        (Some(_) | None, _) => Err(Error::ShapeMismatch {
            op,
            lhs: x.to_vec(),
            rhs: w.to_vec(),
        }),
    }
}
