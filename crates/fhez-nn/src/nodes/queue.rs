//! [`Enqueue`] and [`Dequeue`]: explicit fan-in and fan-out (the original did these with
//! generators over out-edges in insertion order; here they are numbered ports).

use fhez_backend::Backend;
use fhez_erray::{Erray, Packing};
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, first, one, sample_shape, with_batch};
use crate::{Cost, Error, Result, Tensor};

/// Stacks `length` equally shaped inputs (ports `0..length`, in port order) into one
/// `(length, shape…)` output. Backward splits the gradient back, port by port. Free on
/// batch-in-slots ciphertexts (concatenates ciphertext lists); on single-input ciphertexts it
/// is [`Erray::stack`] (one mask level, a rotation per part that does not fill its period).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enqueue {
    /// Number of input ports.
    pub length: usize,
}

/// Splits a `(length, shape…)` input into `length` outputs (ports `0..length`). Backward
/// stacks the per-port gradients (missing ones are zeros). Free on ciphertexts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dequeue {
    /// Number of output ports.
    pub length: usize,
}

fn stack(parts: &[&Tensor]) -> Result<Tensor> {
    let shape = parts
        .first()
        .map(|t| t.shape().to_vec())
        .unwrap_or_default();
    let mut data = Vec::new();
    for p in parts {
        p.expect_shape("enqueue input (all ports share one shape)", &shape)?;
        data.extend_from_slice(p.data());
    }
    Tensor::new(with_batch(parts.len(), &shape), data)
}

fn split(x: &Tensor, length: usize) -> Result<Vec<Tensor>> {
    let (&n, rest) = x.shape().split_first().unwrap_or((&0, &[]));
    if n != length {
        return Err(Error::ShapeMismatch {
            what: "dequeue input (leading axis must equal length)",
            expected: vec![length],
            found: x.shape().to_vec(),
        });
    }
    let per: usize = rest.iter().product();
    x.data()
        .chunks(per.max(1))
        .take(length)
        .map(|c| Tensor::new(rest.to_vec(), c.to_vec()))
        .collect()
}

fn batch_only<B: Backend>(x: &Erray<B>, op: &'static str) -> Result<()> {
    match x.packing() {
        Packing::BatchInSlots { .. } => Ok(()),
        Packing::Flat | Packing::SingleInput { .. } => Err(fhez_erray::Error::PackingUnsupported {
            op,
            packing: x.packing().name(),
        }
        .into()),
    }
}

impl Layer for Enqueue {
    const KIND: &'static str = "enqueue";

    fn ports(&self) -> (usize, usize) {
        (self.length, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        let shape = inputs.first().copied().unwrap_or(&[]);
        for s in inputs {
            if *s != shape {
                return Err(Error::ShapeMismatch {
                    what: "enqueue input (all ports share one shape)",
                    expected: shape.to_vec(),
                    found: s.to_vec(),
                });
            }
        }
        Ok(vec![with_batch(inputs.len(), shape)])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        Ok(Forward {
            outputs: vec![stack(inputs)?],
            cache: Vec::new(),
        })
    }

    fn backward(&self, grads: &[Tensor], _cache: &[Tensor]) -> Result<Backward> {
        Ok(Backward {
            inputs: split(first(grads)?, self.length)?,
            params: Vec::new(),
        })
    }

    fn cost(&self) -> Cost {
        Cost::FREE
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        let x0 = inputs.first().ok_or(Error::InputCount {
            expected: self.length,
            found: 0,
        })?;
        if super::is_single_input(x0) {
            // Filter stacking: (1, s…) parts → (1, L, s…), one mask level.
            let out = Erray::stack(inputs)?;
            let mut out_shape = vec![1, inputs.len()];
            out_shape.extend_from_slice(sample_shape(x0));
            return Ok(vec![out.reshape(&out_shape)?]);
        }
        batch_only(x0, "enqueue")?;
        let shape = sample_shape(x0).to_vec();
        let mut cts = Vec::new();
        for x in inputs {
            batch_only(x, "enqueue")?;
            if sample_shape(x) != shape.as_slice() {
                return Err(Error::ShapeMismatch {
                    what: "enqueue input (all ports share one shape)",
                    expected: shape,
                    found: sample_shape(x).to_vec(),
                });
            }
            cts.extend_from_slice(x.cts());
        }
        let mut out_shape = vec![super::batch_of(x0), inputs.len()];
        out_shape.extend_from_slice(&shape);
        Ok(vec![Erray::from_parts(
            x0.backend(),
            out_shape,
            x0.packing(),
            cts,
        )?])
    }
}

impl Layer for Dequeue {
    const KIND: &'static str = "dequeue";

    fn ports(&self) -> (usize, usize) {
        (1, self.length)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        let s = one(inputs)?;
        match s.split_first() {
            Some((&n, rest)) if n == self.length => Ok(vec![rest.to_vec(); self.length]),
            _ => Err(Error::ShapeMismatch {
                what: "dequeue input (leading axis must equal length)",
                expected: vec![self.length],
                found: s.to_vec(),
            }),
        }
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        Ok(Forward {
            outputs: split(x, self.length)?,
            cache: Vec::new(),
        })
    }

    fn backward(&self, grads: &[Tensor], _cache: &[Tensor]) -> Result<Backward> {
        let parts: Vec<&Tensor> = grads.iter().collect();
        Ok(Backward {
            inputs: vec![stack(&parts)?],
            params: Vec::new(),
        })
    }

    fn cost(&self) -> Cost {
        Cost::FREE
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        let x = one(inputs)?;
        batch_only(x, "dequeue")?;
        let shape = self.out_shapes(&[sample_shape(x)])?;
        let item = shape.first().cloned().unwrap_or_default();
        let per: usize = item.iter().product();
        let out_shape = with_batch(super::batch_of(x), &item);
        x.cts()
            .chunks(per.max(1))
            .map(|c| {
                Ok(Erray::from_parts(
                    x.backend(),
                    out_shape.clone(),
                    x.packing(),
                    c.to_vec(),
                )?)
            })
            .collect()
    }
}
