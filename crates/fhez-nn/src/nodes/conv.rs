//! [`Conv`]: multi-channel n-d cross-correlation (the deep-learning "convolution") with
//! `F` filters over `C` input channels, stride and zero padding — the layer an ONNX `Conv`
//! imports to.

use fhez_backend::Backend;
use fhez_erray::{Erray, PlainArray, WindowGeometry};
use serde::{Deserialize, Serialize};

use super::{
    Backward, Forward, Layer, batch_of, check_param, first, one, sample_shape, with_batch,
};
use crate::graph::SingleLinear;
use crate::{Cost, Error, Result, Tensor, limits};

/// Most entries of the dense `(C·in_plane) × (F·out_plane)` matrix the batch-in-slots path
/// builds (the same bound as one per-sample tensor).
pub const MAX_CONV_MATRIX: usize = limits::MAX_TENSOR_ELEMENTS;

/// `y[f, o] = b[f] + Σ_c Σ_k w[f, c, k] · x[c, o·s + k − p]` for every output position `o`
/// of the zero-padded input (out-of-range taps read 0). Per-sample input `(C, d_1…d_k)`,
/// weights `(F, C, k_1…k_k)`, bias `(F,)`, output `(F, o_1…o_k)` with
/// `o_t = (d_t + 2·p_t − k_t) / s_t + 1` ([`WindowGeometry`]).
///
/// Gradients: `dx[c, i] = Σ g[f, o] · w[f, c, k]`, `dw[f, c, k] = Σ_o g[f, o] · x[c, i]`,
/// `db[f] = Σ_o g[f, o]` over the taps `(o, k, i)`.
///
/// Encrypted: single-input, one diagonal transform ([`Erray::plan_conv`], one level);
/// batch-in-slots, one plain-weighted linear combination of the input ciphertexts per output
/// element (one level, no rotation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv {
    /// Stride per spatial axis.
    pub stride: Vec<usize>,
    /// Zero padding per spatial axis (both sides; less than the kernel extent).
    pub padding: Vec<usize>,
    /// Weights `(F, C, k_1…k_k)`.
    pub weights: Tensor,
    /// Bias `(F,)`.
    pub bias: Tensor,
}

/// The connections of one channel plane: `(output position, kernel index, input position)`.
struct Taps {
    geo: WindowGeometry,
    filters: usize,
    entries: Vec<(usize, usize, usize)>,
}

impl Taps {
    fn in_plane(&self) -> usize {
        self.geo.input.iter().product()
    }

    fn out_plane(&self) -> usize {
        self.geo.output.iter().product()
    }

    fn kernel_len(&self) -> usize {
        self.geo.kernel.iter().product()
    }

    fn out_shape(&self) -> Vec<usize> {
        let mut s = vec![self.filters];
        s.extend(&self.geo.output);
        s
    }
}

impl Conv {
    /// Filters `F`, channels `C` and kernel extents from the weight shape.
    fn dims(&self) -> Result<(usize, usize, &[usize])> {
        match self.weights.shape() {
            [f, c, kernel @ ..] if !kernel.is_empty() => Ok((*f, *c, kernel)),
            other => Err(Error::ShapeMismatch {
                what: "conv weights (F, C, k…)",
                expected: vec![0, 0, 0],
                found: other.to_vec(),
            }),
        }
    }

    /// The checked geometry for a per-sample input shape `(C, d…)` and the filter count.
    fn geometry(&self, input: &[usize]) -> Result<(WindowGeometry, usize)> {
        let (filters, channels, kernel) = self.dims()?;
        let geo = WindowGeometry::new(input, kernel, &self.stride, &self.padding)?;
        if geo.channels != channels {
            return Err(Error::ShapeMismatch {
                what: "conv input channels (the weights' second axis)",
                expected: vec![channels],
                found: input.to_vec(),
            });
        }
        Ok((geo, filters))
    }

    /// The geometry and taps for a per-sample input shape `(C, d…)`.
    fn taps(&self, input: &[usize]) -> Result<Taps> {
        let (geo, filters) = self.geometry(input)?;
        let out_plane: usize = geo.output.iter().product();
        let klen: usize = geo.kernel.iter().product();
        let count = out_plane.saturating_mul(klen);
        limits::check("conv taps per plane", count, limits::MAX_TENSOR_ELEMENTS)?;
        let rank = geo.input.len();
        let mut entries = Vec::with_capacity(count);
        let mut opos = vec![0usize; rank];
        let mut kpos = vec![0usize; rank];
        for o in 0..out_plane {
            unravel(o, &geo.output, &mut opos);
            'k: for k in 0..klen {
                unravel(k, &geo.kernel, &mut kpos);
                let mut i = 0usize;
                for (((&ot, &kt), (&st, &pt)), &d) in opos
                    .iter()
                    .zip(&kpos)
                    .zip(geo.stride.iter().zip(&geo.padding))
                    .zip(&geo.input)
                {
                    match (ot * st + kt).checked_sub(pt) {
                        Some(x) if x < d => i = i * d + x,
                        _ => continue 'k,
                    }
                }
                entries.push((o, k, i));
            }
        }
        Ok(Taps {
            geo,
            filters,
            entries,
        })
    }

    /// The single-input lowering, every coefficient and bias multiplied by `scale`: the
    /// `(1, C, d…)` input viewed as `(C, d…)`, one diagonal transform, output `(1, F, o…)`;
    /// `None` when `x` is not single-input.
    ///
    /// # Errors
    /// As [`Erray::plan_conv`](fhez_erray::Erray::plan_conv).
    pub fn single_linear<B: Backend>(
        &self,
        x: &Erray<B>,
        scale: f64,
    ) -> Result<Option<SingleLinear>> {
        if !super::is_single_input(x) {
            return Ok(None);
        }
        let input_shape = sample_shape(x).to_vec();
        let view = x.reshape(&input_shape)?;
        let (transform, shape) = view.plan_conv(
            &self.weights.to_plain()?,
            Some(&self.bias.to_plain()?),
            &self.stride,
            &self.padding,
            scale,
        )?;
        Ok(Some(SingleLinear {
            transform,
            input_shape,
            node_shape: with_batch(1, &shape),
            output_shape: shape,
        }))
    }

    /// The dense `(C·in_plane, F·out_plane)` matrix of the map (bias excluded).
    fn matrix(&self, t: &Taps) -> Result<PlainArray> {
        let (filters, channels) = (t.filters, t.geo.channels);
        let (in_plane, out_plane, klen) = (t.in_plane(), t.out_plane(), t.kernel_len());
        let rows = channels.saturating_mul(in_plane);
        let cols = filters.saturating_mul(out_plane);
        limits::check(
            "conv matrix entries",
            rows.saturating_mul(cols),
            MAX_CONV_MATRIX,
        )?;
        let mut m = vec![0.0; rows * cols];
        let w = self.weights.data();
        for f in 0..filters {
            for c in 0..channels {
                for &(o, k, i) in &t.entries {
                    let wv = w.get((f * channels + c) * klen + k).copied().unwrap_or(0.0);
                    if let Some(v) = m.get_mut((c * in_plane + i) * cols + f * out_plane + o) {
                        *v += wv;
                    }
                }
            }
        }
        Ok(PlainArray::new(vec![rows, cols], m)?)
    }
}

/// Row-major multi-index of `flat` in `shape`, written into `out`.
fn unravel(mut flat: usize, shape: &[usize], out: &mut [usize]) {
    for (o, &d) in out.iter_mut().zip(shape).rev() {
        let d = d.max(1);
        *o = flat % d;
        flat /= d;
    }
}

impl Layer for Conv {
    const KIND: &'static str = "conv";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        let (geo, filters) = self.geometry(one(inputs)?)?;
        let mut s = vec![filters];
        s.extend(&geo.output);
        Ok(vec![s])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        let t = self.taps(x.shape())?;
        let (channels, in_plane, out_plane, klen) =
            (t.geo.channels, t.in_plane(), t.out_plane(), t.kernel_len());
        let mut out = Tensor::zeros(&t.out_shape());
        let (xd, wd, bd) = (x.data(), self.weights.data(), self.bias.data());
        for (f, plane) in out.data_mut().chunks_mut(out_plane.max(1)).enumerate() {
            let b = bd.get(f).copied().unwrap_or(0.0);
            plane.iter_mut().for_each(|v| *v = b);
            for c in 0..channels {
                for &(o, k, i) in &t.entries {
                    let w = wd
                        .get((f * channels + c) * klen + k)
                        .copied()
                        .unwrap_or(0.0);
                    let xv = xd.get(c * in_plane + i).copied().unwrap_or(0.0);
                    if let Some(v) = plane.get_mut(o) {
                        *v += w * xv;
                    }
                }
            }
        }
        Ok(Forward {
            outputs: vec![out],
            cache: vec![x.clone()],
        })
    }

    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let (g, x) = (first(grads)?, first(cache)?);
        let t = self.taps(x.shape())?;
        g.expect_shape("conv gradient", &t.out_shape())?;
        let (channels, in_plane, out_plane, klen) =
            (t.geo.channels, t.in_plane(), t.out_plane(), t.kernel_len());
        let mut dx = Tensor::zeros(x.shape());
        let mut dw = Tensor::zeros(self.weights.shape());
        let mut db = Tensor::zeros(self.bias.shape());
        let (xd, wd, gd) = (x.data(), self.weights.data(), g.data());
        for f in 0..t.filters {
            let gplane = gd.get(f * out_plane..(f + 1) * out_plane).unwrap_or(&[]);
            if let Some(v) = db.data_mut().get_mut(f) {
                *v = gplane.iter().sum();
            }
            for c in 0..channels {
                for &(o, k, i) in &t.entries {
                    let go = gplane.get(o).copied().unwrap_or(0.0);
                    let widx = (f * channels + c) * klen + k;
                    let xidx = c * in_plane + i;
                    if let Some(v) = dx.data_mut().get_mut(xidx) {
                        *v += go * wd.get(widx).copied().unwrap_or(0.0);
                    }
                    if let Some(v) = dw.data_mut().get_mut(widx) {
                        *v += go * xd.get(xidx).copied().unwrap_or(0.0);
                    }
                }
            }
        }
        Ok(Backward {
            inputs: vec![dx],
            params: vec![dw, db],
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
        let (filters, _, kernel) = self.dims()?;
        let k = kernel.len();
        limits::check("conv rank", k, limits::MAX_RANK)?;
        if self.stride.len() != k
            || self.padding.len() != k
            || kernel.contains(&0)
            || self.stride.contains(&0)
        {
            return Err(Error::InvalidConfig {
                field: "conv stride/padding",
                value: 0.0,
                reason: "stride and padding need one entry per kernel axis, strides and kernel \
                         extents positive",
            });
        }
        if self.padding.iter().zip(kernel).any(|(p, k)| p >= k) {
            return Err(Error::InvalidConfig {
                field: "conv padding",
                value: 0.0,
                reason: "padding must be smaller than the kernel extent",
            });
        }
        check_param(node, "bias", &self.bias, &[filters])
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        let x = one(inputs)?;
        if let Some(l) = self.single_linear(x, 1.0)? {
            return Ok(vec![l.apply(x, &fhez_erray::RotationTable::exact())?]);
        }
        let t = self.taps(sample_shape(x))?;
        let batch = batch_of(x);
        let rows = t.geo.channels.saturating_mul(t.in_plane());
        let flat = x.reshape(&with_batch(batch, &[rows]))?;
        let y = flat.matmul(&self.matrix(&t)?)?;
        let bias: Vec<f64> = self
            .bias
            .data()
            .iter()
            .flat_map(|&b| std::iter::repeat_n(b, t.out_plane()))
            .collect();
        let y = y.add_plain(&PlainArray::from_vec(bias))?;
        Ok(vec![y.reshape(&with_batch(batch, &t.out_shape()))?])
    }
}
