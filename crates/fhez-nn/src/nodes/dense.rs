//! [`Dense`]: a fully connected layer (the original's `ANN`, generalised to `d_out` neurons).

use fhez_backend::Backend;
use fhez_erray::Erray;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, batch_of, check_param, first, one, with_batch};
use crate::graph::SingleLinear;
use crate::{Cost, Error, Result, Tensor, init};

/// Configuration of a [`Dense`] layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenseConfig {
    /// Input features (the per-sample input is flattened row-major).
    pub d_in: usize,
    /// Output features.
    pub d_out: usize,
}

impl DenseConfig {
    /// Glorot-uniform weights, zero bias. (The original drew weights from `U[0, 1)` unscaled,
    /// and its ReLU networks diverged in training.)
    pub fn init(self, rng: &mut impl RngCore) -> Dense {
        Dense {
            d_in: self.d_in,
            d_out: self.d_out,
            weights: init::uniform(
                rng,
                &[self.d_in, self.d_out],
                init::glorot(self.d_in, self.d_out),
            ),
            bias: Tensor::zeros(&[self.d_out]),
        }
    }
}

/// `y = flatten(x) · W + b` with `W` of shape `(d_in, d_out)`.
///
/// The original's `ANN` is one neuron (`d_out = 1`) computing `Σ x ⊙ w + b`; its gradients
/// `dfdx = w·g`, `dfdw = x·g`, `dfdb = g` are this layer's for `d_out = 1`.
///
/// Encrypted (batch-in-slots): one linear combination of input ciphertexts per output, no
/// rotation, one level ([`Cost::levels`]`(1)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dense {
    /// Input features.
    pub d_in: usize,
    /// Output features.
    pub d_out: usize,
    /// Weights `(d_in, d_out)`.
    pub weights: Tensor,
    /// Bias `(d_out)`.
    pub bias: Tensor,
}

impl Dense {
    /// Encrypted forward pass of `x² → self`: the square is folded into the layer with lazy
    /// relinearization (`Erray::mul_matmul`): the levels of a square followed by the layer,
    /// and one key switch per output instead of one per input.
    ///
    /// # Errors
    /// Shape errors, erray/backend errors (`LevelExhausted`).
    pub fn forward_enc_squared<B: Backend>(&self, x: &Erray<B>) -> Result<Erray<B>> {
        self.check_input(super::sample_shape(x))?;
        let flat = x.reshape(&with_batch(batch_of(x), &[self.d_in]))?;
        let y = flat.mul_matmul(&flat, &self.weights.to_plain()?)?;
        Ok(y.add_plain(&self.bias.to_plain()?)?)
    }

    fn check_input(&self, shape: &[usize]) -> Result<()> {
        let n: usize = shape.iter().product();
        if n == self.d_in {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                what: "dense input (flattened size must equal d_in)",
                expected: vec![self.d_in],
                found: shape.to_vec(),
            })
        }
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "shapes validated: x.len() == d_in, W is d_in×d_out"
    )]
    fn affine(&self, x: &[f64]) -> Vec<f64> {
        let (w, m) = (self.weights.data(), self.d_out);
        let mut y = self.bias.data().to_vec();
        for (i, &xi) in x.iter().enumerate() {
            for (j, yj) in y.iter_mut().enumerate() {
                *yj += xi * w[i * m + j];
            }
        }
        y
    }
}

impl Dense {
    /// The single-input lowering, every coefficient and bias multiplied by `scale` (`x @ W + b` as one diagonal transform on the `(d_in,)`
    /// view of `x`, output `(1, d_out)`), or `None` when `x` is not single-input.
    ///
    /// # Errors
    /// Shape errors; as [`Erray::plan_dense`](fhez_erray::Erray::plan_dense).
    pub fn single_linear<B: Backend>(
        &self,
        x: &Erray<B>,
        scale: f64,
    ) -> Result<Option<SingleLinear>> {
        if !super::is_single_input(x) {
            return Ok(None);
        }
        self.check_input(super::sample_shape(x))?;
        let flat = x.reshape(&[self.d_in])?;
        let transform = flat.plan_dense(
            &self.weights.to_plain()?,
            Some(&self.bias.to_plain()?),
            scale,
        )?;
        Ok(Some(SingleLinear {
            transform,
            input_shape: vec![self.d_in],
            output_shape: vec![self.d_out],
            node_shape: vec![1, self.d_out],
        }))
    }
}

impl Layer for Dense {
    const KIND: &'static str = "dense";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        self.check_input(one(inputs)?)?;
        Ok(vec![vec![self.d_out]])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        self.check_input(x.shape())?;
        Ok(Forward {
            outputs: vec![Tensor::from_vec(self.affine(x.data()))],
            cache: vec![x.clone()],
        })
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "shapes validated against d_in/d_out"
    )]
    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let (g, x) = (first(grads)?, first(cache)?);
        g.expect_shape("dense gradient", &[self.d_out])?;
        self.check_input(x.shape())?;
        let (w, m) = (self.weights.data(), self.d_out);
        let mut dx = Tensor::zeros(x.shape());
        let mut dw = Tensor::zeros(&[self.d_in, self.d_out]);
        for (i, &xi) in x.data().iter().enumerate() {
            let mut acc = 0.0;
            for (j, &gj) in g.data().iter().enumerate() {
                acc += w[i * m + j] * gj;
                dw.data_mut()[i * m + j] = xi * gj;
            }
            dx.data_mut()[i] = acc;
        }
        Ok(Backward {
            inputs: vec![dx],
            params: vec![dw, g.clone()],
        })
    }

    fn params(&self) -> Vec<(&'static str, &Tensor)> {
        vec![("weights", &self.weights), ("bias", &self.bias)]
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.weights, &mut self.bias]
    }

    fn cost(&self) -> Cost {
        Cost::levels(1)
    }

    fn validate(&self, node: &str) -> Result<()> {
        check_param(node, "weights", &self.weights, &[self.d_in, self.d_out])?;
        check_param(node, "bias", &self.bias, &[self.d_out])
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        let x = one(inputs)?;
        self.check_input(super::sample_shape(x))?;
        if let Some(l) = self.single_linear(x, 1.0)? {
            return Ok(vec![l.apply(x, &fhez_erray::RotationTable::exact())?]);
        }
        let flat = x.reshape(&with_batch(batch_of(x), &[self.d_in]))?;
        let y = flat.matmul(&self.weights.to_plain()?)?;
        Ok(vec![y.add_plain(&self.bias.to_plain()?)?])
    }
}
