//! [`Tensor`]: the small row-major f64 array training runs on (one sample, no batch axis).

use fhez_erray::PlainArray;
use fhez_erray::shape::size_of;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A row-major array of `f64` for one sample (the batch axis lives only in encrypted
/// errays). Shape `[]` is a scalar.
///
/// Invariant: `data.len() == shape.iter().product()` (checked on construction and on
/// deserialisation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTensor")]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTensor {
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl TryFrom<RawTensor> for Tensor {
    type Error = Error;
    fn try_from(raw: RawTensor) -> Result<Self> {
        Self::new(raw.shape, raw.data)
    }
}

impl Tensor {
    /// A tensor of `shape` over row-major `data`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the lengths disagree.
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Result<Self> {
        let n = size_of(&shape)?;
        if n != data.len() {
            return Err(Error::ShapeMismatch {
                what: "tensor data length",
                expected: shape,
                found: vec![data.len()],
            });
        }
        Ok(Self { shape, data })
    }

    /// Zeros of `shape`.
    #[must_use]
    pub fn zeros(shape: &[usize]) -> Self {
        let n = shape.iter().product();
        Self {
            shape: shape.to_vec(),
            data: vec![0.0; n],
        }
    }

    /// A 0-d tensor.
    #[must_use]
    pub fn scalar(v: f64) -> Self {
        Self {
            shape: Vec::new(),
            data: vec![v],
        }
    }

    /// A 1-d tensor.
    #[must_use]
    pub fn from_vec(data: Vec<f64>) -> Self {
        Self {
            shape: vec![data.len()],
            data,
        }
    }

    /// Element `k` of `shape` is `f(k)`.
    #[must_use]
    pub fn from_fn(shape: &[usize], f: impl FnMut(usize) -> f64) -> Self {
        let n = shape.iter().product();
        Self {
            shape: shape.to_vec(),
            data: (0..n).map(f).collect(),
        }
    }

    /// The shape.
    #[must_use]
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Row-major data.
    #[must_use]
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Mutable row-major data (the shape cannot change).
    pub fn data_mut(&mut self) -> &mut [f64] {
        &mut self.data
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

    /// The first element (the value of a scalar), 0 for an empty tensor.
    #[must_use]
    pub fn item(&self) -> f64 {
        self.data.first().copied().unwrap_or(0.0)
    }

    /// Same data, another shape of equal size.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`].
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        Self::new(shape.to_vec(), self.data.clone())
    }

    /// Elementwise map.
    #[must_use]
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Self {
        Self {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&x| f(x)).collect(),
        }
    }

    /// Elementwise `f(self, other)` for equal shapes.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`].
    pub fn zip_map(&self, other: &Self, f: impl Fn(f64, f64) -> f64) -> Result<Self> {
        self.check_same("zip", other)?;
        Ok(Self {
            shape: self.shape.clone(),
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        })
    }

    /// `self += other` for equal shapes.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`].
    pub fn add_assign(&mut self, other: &Self) -> Result<()> {
        self.check_same("accumulate", other)?;
        for (a, b) in self.data.iter_mut().zip(&other.data) {
            *a += b;
        }
        Ok(())
    }

    /// `self *= s`.
    pub fn scale_assign(&mut self, s: f64) {
        for a in &mut self.data {
            *a *= s;
        }
    }

    /// Sum of all elements.
    #[must_use]
    pub fn sum(&self) -> f64 {
        self.data.iter().sum()
    }

    /// Index of the largest element (first on ties), 0 when empty.
    #[must_use]
    pub fn argmax(&self) -> usize {
        let mut best = 0;
        let mut value = f64::NEG_INFINITY;
        for (i, &x) in self.data.iter().enumerate() {
            if x > value {
                best = i;
                value = x;
            }
        }
        best
    }

    /// Checks the shape.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `what`.
    pub fn expect_shape(&self, what: &'static str, shape: &[usize]) -> Result<()> {
        if self.shape == shape {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                what,
                expected: shape.to_vec(),
                found: self.shape.clone(),
            })
        }
    }

    fn check_same(&self, what: &'static str, other: &Self) -> Result<()> {
        other.expect_shape(what, &self.shape)
    }

    /// Index of the first non-finite element, if any.
    #[must_use]
    pub fn first_non_finite(&self) -> Option<usize> {
        self.data.iter().position(|v| !v.is_finite())
    }

    /// Converts to an erray plaintext array.
    ///
    /// # Errors
    /// Never in practice (the invariant holds); kept fallible for uniformity.
    pub fn to_plain(&self) -> Result<PlainArray> {
        Ok(PlainArray::new(self.shape.clone(), self.data.clone())?)
    }

    /// Converts from an erray plaintext array.
    #[must_use]
    pub fn from_plain(p: &PlainArray) -> Self {
        Self {
            shape: p.shape().to_vec(),
            data: p.data().to_vec(),
        }
    }
}

/// Stacks equal-shape samples into a batch `(n, shape…)` plaintext array (the layout an
/// erray with `Packing::BatchInSlots` is encrypted from).
///
/// # Errors
/// [`Error::ShapeMismatch`] when the samples differ in shape; an empty batch is
/// [`Error::InputCount`].
pub fn stack(samples: &[Tensor]) -> Result<PlainArray> {
    let first = samples.first().ok_or(Error::InputCount {
        expected: 1,
        found: 0,
    })?;
    let mut shape = vec![samples.len()];
    shape.extend_from_slice(first.shape());
    let mut data = Vec::with_capacity(first.len() * samples.len());
    for s in samples {
        s.expect_shape("stacked sample", first.shape())?;
        data.extend_from_slice(s.data());
    }
    Ok(PlainArray::new(shape, data)?)
}

/// Splits a batch array `(n, shape…)` into its `n` samples.
///
/// # Errors
/// [`Error::ShapeMismatch`] for a 0-d array.
pub fn unstack(batch: &PlainArray) -> Result<Vec<Tensor>> {
    let (&n, rest) = batch
        .shape()
        .split_first()
        .ok_or_else(|| Error::ShapeMismatch {
            what: "batch (needs a leading axis)",
            expected: vec![1],
            found: Vec::new(),
        })?;
    let per = size_of(rest)?;
    batch
        .data()
        .chunks(per.max(1))
        .take(n)
        .map(|c| Tensor::new(rest.to_vec(), c.to_vec()))
        .collect()
}
