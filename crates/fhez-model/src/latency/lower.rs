//! Lowering a [`LatencyNet`] to slot layouts, diagonal plans and folded activations.

use std::collections::BTreeSet;

use fhez_ckks::Encoder;

use super::diag::{LinPlan, LinSpec};
use super::net::{LatencyNet, Stage};
use crate::{Error, Result};

/// Where the values of a layer's output sit in the slots.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Layout {
    /// Filter `f`, window `w` at slot `f·wp + w` (period `fp·wp`).
    Conv {
        /// Filters.
        filters: usize,
        /// Windows per filter.
        windows: usize,
        /// Windows rounded up to a power of two.
        wp: usize,
        /// Filters rounded up to a power of two.
        fp: usize,
    },
    /// Feature `k` at slot `k` (period `len` rounded up to a power of two).
    Flat {
        /// Features.
        len: usize,
    },
}

impl Layout {
    /// The period of the layout (a power of two).
    pub(crate) fn period(self) -> usize {
        match self {
            Self::Conv { wp, fp, .. } => wp * fp,
            Self::Flat { len } => len.next_power_of_two(),
        }
    }

    /// The flattened feature index held by slot `j < period`, if any.
    pub(crate) fn feature(self, j: usize) -> Option<usize> {
        match self {
            Self::Conv {
                filters,
                windows,
                wp,
                ..
            } => {
                let (f, w) = (j / wp, j % wp);
                (f < filters && w < windows).then_some(f * windows + w)
            }
            Self::Flat { len } => (j < len).then_some(j),
        }
    }

    /// The slot of feature `k`.
    pub(crate) fn slot(self, k: usize) -> usize {
        match self {
            Self::Conv { windows, wp, .. } => (k / windows.max(1)) * wp + k % windows.max(1),
            Self::Flat { .. } => k,
        }
    }
}

/// One encrypted step.
pub(crate) enum Layer {
    /// A matrix–vector product (one level).
    Linear(LinPlan),
    /// `±u·(u + shift) + offset` (one level): a quadratic activation whose input was
    /// scaled by `√|c2|` in the linear layer before it.
    Act {
        /// Negate (for `c2 < 0`).
        neg: bool,
        /// `sign(c2)·c1/√|c2|`.
        shift: f64,
        /// `c0`.
        offset: f64,
    },
}

/// A named [`Layer`].
pub(crate) struct Named {
    pub(crate) name: String,
    pub(crate) layer: Layer,
}

/// The lowered network.
pub(crate) struct Lowered {
    pub(crate) layers: Vec<Named>,
    pub(crate) input: Layout,
    /// Period of the input: the client repeats the im2col vector every `in_period` slots
    /// (so the filter bank's rotate-and-add tail only spans `in_period`, not all slots).
    pub(crate) in_period: usize,
    pub(crate) output: Layout,
    pub(crate) steps: BTreeSet<usize>,
    /// Scale of the output ciphertext.
    pub(crate) out_scale: f64,
}

/// Giant-step stride for `n` diagonals: `2^⌈log2(n)/2⌉`.
fn giant_for(n: usize) -> usize {
    let bits = n.next_power_of_two().trailing_zeros();
    1 << bits.div_ceil(2)
}

fn too_small(needed: usize, found: usize) -> Error {
    Error::PlanMismatch {
        what: "slot count",
        needed: needed as u64,
        found: found as u64,
    }
}

/// Lowers `net` for an input ciphertext at `level` with scale `scale`.
pub(crate) fn lower(
    net: &LatencyNet,
    encoder: &Encoder,
    level: u32,
    scale: f64,
) -> Result<Lowered> {
    let params = encoder.params();
    let slots = params.slots();
    let conv = &net.conv;
    let (windows, kk) = (conv.windows(), conv.kernel_len());
    let wp = windows.next_power_of_two();
    let fp = conv.filters().next_power_of_two();
    let conv_layout = Layout::Conv {
        filters: conv.filters(),
        windows,
        wp,
        fp,
    };
    for needed in [kk * wp, fp * wp] {
        if needed > slots {
            return Err(too_small(needed, slots));
        }
    }
    let in_period = (kk * wp).next_power_of_two().max(fp * wp);
    let (mut level, mut scale) = (level, scale);
    let mut layers = Vec::new();
    let mut steps = BTreeSet::new();
    let mut layout = conv_layout;
    // Each linear layer, with the activation after it folded in where one follows.
    let linear_count = 1 + net
        .stages
        .iter()
        .filter(|s| matches!(s, Stage::Dense { .. }))
        .count();
    let mut stage_iter = net.stages.iter().peekable();
    for k in 0..linear_count {
        let dense = if k == 0 {
            None
        } else {
            match stage_iter.next() {
                Some(Stage::Dense {
                    d_out,
                    weights,
                    bias,
                    ..
                }) => Some((*d_out, weights, bias)),
                Some(Stage::Quadratic { .. }) | None => break,
            }
        };
        let (mul, add, act) = match stage_iter.peek() {
            Some(Stage::Quadratic { c0, c1, c2 }) if *c2 != 0.0 => {
                let sigma = c2.abs().sqrt();
                let sg = c2.signum();
                (sigma, 0.0, Some((sg < 0.0, sg * c1 / sigma, *c0)))
            }
            Some(Stage::Quadratic { c0, c1, .. }) => (*c1, *c0, None),
            Some(Stage::Dense { .. }) | None => (1.0, 0.0, None),
        };
        if matches!(stage_iter.peek(), Some(Stage::Quadratic { .. })) {
            stage_iter.next();
        }
        let (plan, name, next_layout) = if let Some((d_out, weights, bias)) = dense {
            let m = d_out.next_power_of_two();
            let n = layout.period();
            if m > slots {
                return Err(too_small(m, slots));
            }
            let prev = layout;
            let coef = |i: usize, j: usize| -> f64 {
                if i >= d_out || j >= n {
                    return 0.0;
                }
                let w = prev.feature(j).and_then(|src| weights.get(src * d_out + i));
                w.map_or(0.0, |v| v * mul)
            };
            let bias = |i: usize| bias.get(i).map_or(0.0, |b| b * mul + add);
            let spec = LinSpec {
                m,
                n_in: n.max(m),
                giant: giant_for(m),
                coef: &coef,
                bias: &bias,
            };
            let plan = LinPlan::new(encoder, level, scale, &spec)?;
            (plan, format!("dense{k}"), Layout::Flat { len: d_out })
        } else {
            let coef = |i: usize, j: usize| -> f64 {
                let (f, w, p, w2) = (i / wp, i % wp, j / wp, j % wp);
                if w != w2 || w >= windows || p >= kk {
                    return 0.0;
                }
                let weights = conv.weights.get(f);
                weights.and_then(|ws| ws.get(p)).map_or(0.0, |v| v * mul)
            };
            let bias = |i: usize| -> f64 {
                let (f, w) = (i / wp, i % wp);
                match conv.bias.get(f) {
                    Some(b) if w < windows => b * mul + add,
                    Some(_) | None => 0.0,
                }
            };
            let giant = wp * giant_for(fp);
            let spec = LinSpec {
                m: fp * wp,
                n_in: in_period,
                giant,
                coef: &coef,
                bias: &bias,
            };
            let plan = LinPlan::new(encoder, level, scale, &spec)?;
            (plan, "conv".to_owned(), conv_layout)
        };
        plan.steps(&mut steps);
        layers.push(Named {
            name,
            layer: Layer::Linear(plan),
        });
        let q = params.q().get(level as usize).copied().unwrap_or(1) as f64;
        scale = scale * q / q;
        level = level.saturating_sub(1);
        layout = next_layout;
        if let Some((neg, shift, offset)) = act {
            layers.push(Named {
                name: format!("act{k}"),
                layer: Layer::Act { neg, shift, offset },
            });
            let q = params.q().get(level as usize).copied().unwrap_or(1) as f64;
            scale = scale * scale / q;
            level = level.saturating_sub(1);
        }
    }
    Ok(Lowered {
        layers,
        input: conv_layout,
        in_period,
        output: layout,
        steps,
        out_scale: scale,
    })
}
