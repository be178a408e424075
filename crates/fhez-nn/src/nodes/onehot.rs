//! [`OneHotEncode`] and [`OneHotDecode`]: client-side label conversions.

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, client_only, first, one};
use crate::{Cost, Error, Result, Tensor};

/// Class index (shape `[]` or `[1]`) → one-hot vector of `length`. The derivative w.r.t. an
/// integer label is 0 (the original returned `g[x]`). Client only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneHotEncode {
    /// Number of classes.
    pub length: usize,
}

/// One-hot (or score) vector → index of its largest element (shape `[]`). Piecewise
/// constant: gradient 0 (the original returned `x·g`). Client only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneHotDecode {}

impl Layer for OneHotEncode {
    const KIND: &'static str = "one_hot_encode";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        let s = one(inputs)?;
        if s.iter().product::<usize>() != 1 {
            return Err(Error::ShapeMismatch {
                what: "one_hot_encode input (one class index)",
                expected: Vec::new(),
                found: s.to_vec(),
            });
        }
        Ok(vec![vec![self.length]])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        let v = x.item().round();
        #[expect(clippy::cast_precision_loss, reason = "class counts are small")]
        let len = self.length as f64;
        if !(0.0..len).contains(&v) {
            return Err(Error::InvalidConfig {
                field: "class index",
                value: v,
                reason: "must be in 0..length",
            });
        }
        Ok(Forward {
            outputs: vec![Tensor::from_fn(&[self.length], |i| {
                #[expect(clippy::cast_precision_loss, reason = "class counts are small")]
                let i = i as f64;
                f64::from(u8::from(i == v))
            })],
            cache: vec![Tensor::zeros(x.shape())],
        })
    }

    fn backward(&self, _grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        Ok(Backward {
            inputs: vec![first(cache)?.clone()],
            params: Vec::new(),
        })
    }

    fn cost(&self) -> Cost {
        Cost::CLIENT
    }

    fn forward_enc<B: Backend>(&self, _inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        Err(client_only(Self::KIND))
    }
}

impl Layer for OneHotDecode {
    const KIND: &'static str = "one_hot_decode";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, _inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![Vec::new()])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        #[expect(clippy::cast_precision_loss, reason = "class counts are small")]
        let k = x.argmax() as f64;
        Ok(Forward {
            outputs: vec![Tensor::scalar(k)],
            cache: vec![Tensor::zeros(x.shape())],
        })
    }

    fn backward(&self, _grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        Ok(Backward {
            inputs: vec![first(cache)?.clone()],
            params: Vec::new(),
        })
    }

    fn cost(&self) -> Cost {
        Cost::CLIENT
    }

    fn forward_enc<B: Backend>(&self, _inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        Err(client_only(Self::KIND))
    }
}
