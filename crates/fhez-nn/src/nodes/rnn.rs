//! [`Rnn`]: an Elman recurrent cell with the cubic sigmoid approximation, trained by
//! backpropagation through time (listed as "in progress" by the original; new in fhez).

use fhez_backend::Backend;
use fhez_erray::{Erray, Packing};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use super::sigmoid::{SIGMOID_COEFFS, sigmoid_approx, sigmoid_approx_grad};
use super::{Backward, Forward, Layer, batch_of, check_param, first, one, sample_shape};
use crate::cost::poly_depth;
use crate::{Cost, Error, Result, Tensor, init};

/// Configuration of an [`Rnn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RnnConfig {
    /// Features per time step.
    pub d_in: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Time steps `T` (the input is `(T, d_in)`; the depth grows with `T`).
    pub steps: usize,
}

impl RnnConfig {
    /// Glorot-uniform weights, zero bias.
    pub fn init(self, rng: &mut impl RngCore) -> Rnn {
        let (d, h) = (self.d_in, self.hidden);
        Rnn {
            d_in: d,
            hidden: h,
            steps: self.steps,
            w_x: init::uniform(rng, &[d, h], init::glorot(d, h)),
            w_h: init::uniform(rng, &[h, h], init::glorot(h, h)),
            bias: Tensor::zeros(&[h]),
        }
    }
}

/// `h_t = σ_a(x_t·W_x + h_{t−1}·W_h + b)`, `h_0 = 0`, output `h_T` (shape `(hidden)`), with
/// `σ_a` the degree-3 [`Sigmoid`](super::Sigmoid) approximation.
///
/// Encrypted: per step two linear combinations and one degree-3 polynomial, so the depth is
/// `3·T` (the recurrence is sequential); no rotations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rnn {
    /// Features per step.
    pub d_in: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Time steps.
    pub steps: usize,
    /// Input weights `(d_in, hidden)`.
    pub w_x: Tensor,
    /// Recurrent weights `(hidden, hidden)`.
    pub w_h: Tensor,
    /// Bias `(hidden)`.
    pub bias: Tensor,
}

/// `y += x · W` for `W` of shape `(x.len(), y.len())`.
fn vec_mat_acc(x: &[f64], w: &[f64], y: &mut [f64]) {
    let m = y.len();
    for (i, &xi) in x.iter().enumerate() {
        let row = w.get(i * m..(i + 1) * m).unwrap_or(&[]);
        for (yj, &wij) in y.iter_mut().zip(row) {
            *yj += xi * wij;
        }
    }
}

/// `x += W · y` (the transpose product) and `dw += outer(a, y)`.
fn backprop_mat(a: &[f64], w: &[f64], y: &[f64], dx: &mut [f64], dw: &mut [f64]) {
    let m = y.len();
    for (i, (&ai, dxi)) in a.iter().zip(dx.iter_mut()).enumerate() {
        let row = w.get(i * m..(i + 1) * m).unwrap_or(&[]);
        let drow = dw.get_mut(i * m..(i + 1) * m).unwrap_or(&mut []);
        for ((&wij, &yj), dwij) in row.iter().zip(y).zip(drow) {
            *dxi += wij * yj;
            *dwij += ai * yj;
        }
    }
}

impl Rnn {
    fn check_input(&self, shape: &[usize]) -> Result<()> {
        if shape == [self.steps, self.d_in] {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                what: "rnn input (steps, d_in)",
                expected: vec![self.steps, self.d_in],
                found: shape.to_vec(),
            })
        }
    }
}

impl Layer for Rnn {
    const KIND: &'static str = "rnn";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        self.check_input(one(inputs)?)?;
        Ok(vec![vec![self.hidden]])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        self.check_input(x.shape())?;
        let (t_len, h) = (self.steps, self.hidden);
        let mut pre = Tensor::zeros(&[t_len, h]);
        let mut hs = Tensor::zeros(&[t_len + 1, h]);
        for (t, xt) in x.data().chunks(self.d_in.max(1)).take(t_len).enumerate() {
            let mut a = self.bias.data().to_vec();
            vec_mat_acc(xt, self.w_x.data(), &mut a);
            let prev = hs.data().get(t * h..(t + 1) * h).unwrap_or(&[]).to_vec();
            vec_mat_acc(&prev, self.w_h.data(), &mut a);
            if let Some(dst) = pre.data_mut().get_mut(t * h..(t + 1) * h) {
                dst.copy_from_slice(&a);
            }
            if let Some(dst) = hs.data_mut().get_mut((t + 1) * h..(t + 2) * h) {
                for (d, &v) in dst.iter_mut().zip(&a) {
                    *d = sigmoid_approx(v);
                }
            }
        }
        let out = hs.data().get(t_len * h..).unwrap_or(&[]).to_vec();
        Ok(Forward {
            outputs: vec![Tensor::from_vec(out)],
            cache: vec![x.clone(), pre, hs],
        })
    }

    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let g = first(grads)?;
        let [x, pre, hs] = cache else {
            return Err(Error::InputCount {
                expected: 3,
                found: cache.len(),
            });
        };
        g.expect_shape("rnn gradient", &[self.hidden])?;
        let (d, h) = (self.d_in, self.hidden);
        let mut dx = Tensor::zeros(x.shape());
        let mut dwx = Tensor::zeros(&[d, h]);
        let mut dwh = Tensor::zeros(&[h, h]);
        let mut db = Tensor::zeros(&[h]);
        let mut dh = g.data().to_vec();
        for t in (0..self.steps).rev() {
            let a = pre.data().get(t * h..(t + 1) * h).unwrap_or(&[]);
            let da: Vec<f64> = a
                .iter()
                .zip(&dh)
                .map(|(&v, &gv)| gv * sigmoid_approx_grad(v))
                .collect();
            for (b, &v) in db.data_mut().iter_mut().zip(&da) {
                *b += v;
            }
            let xt = x.data().get(t * d..(t + 1) * d).unwrap_or(&[]);
            let dxt = dx.data_mut().get_mut(t * d..(t + 1) * d).unwrap_or(&mut []);
            backprop_mat(xt, self.w_x.data(), &da, dxt, dwx.data_mut());
            let prev = hs.data().get(t * h..(t + 1) * h).unwrap_or(&[]);
            let mut dprev = vec![0.0; h];
            backprop_mat(prev, self.w_h.data(), &da, &mut dprev, dwh.data_mut());
            dh = dprev;
        }
        Ok(Backward {
            inputs: vec![dx],
            params: vec![dwx, dwh, db],
        })
    }

    fn params(&self) -> Vec<(&'static str, &Tensor)> {
        vec![("w_x", &self.w_x), ("w_h", &self.w_h), ("bias", &self.bias)]
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.w_x, &mut self.w_h, &mut self.bias]
    }

    fn cost(&self) -> Cost {
        let per_step = 1 + poly_depth(3);
        Cost::levels(per_step.saturating_mul(u32::try_from(self.steps).unwrap_or(u32::MAX)))
    }

    fn validate(&self, node: &str) -> Result<()> {
        check_param(node, "w_x", &self.w_x, &[self.d_in, self.hidden])?;
        check_param(node, "w_h", &self.w_h, &[self.hidden, self.hidden])?;
        check_param(node, "bias", &self.bias, &[self.hidden])
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        let x = one(inputs)?;
        self.check_input(sample_shape(x))?;
        if !matches!(x.packing(), Packing::BatchInSlots { .. }) {
            return Err(fhez_erray::Error::PackingUnsupported {
                op: "rnn",
                packing: x.packing().name(),
            }
            .into());
        }
        let batch = batch_of(x);
        let (w_x, w_h, b) = (
            self.w_x.to_plain()?,
            self.w_h.to_plain()?,
            self.bias.to_plain()?,
        );
        let mut h: Option<Erray<B>> = None;
        for xt in x.cts().chunks(self.d_in.max(1)).take(self.steps) {
            let xt = Erray::from_parts(
                x.backend(),
                vec![batch, self.d_in],
                x.packing(),
                xt.to_vec(),
            )?;
            let mut a = xt.matmul(&w_x)?;
            if let Some(prev) = &h {
                a = a.add(&prev.matmul(&w_h)?)?;
            }
            h = Some(a.add_plain(&b)?.polyval(&SIGMOID_COEFFS)?);
        }
        h.map(|v| vec![v]).ok_or(Error::ShapeMismatch {
            what: "rnn input (steps, d_in)",
            expected: vec![self.steps, self.d_in],
            found: sample_shape(x).to_vec(),
        })
    }
}
