//! Chain steps from pending elementwise expressions (exact polynomials or fits on the
//! calibration data) and affine maps folded into the conv or dense layer before them.

use fhez_nn::nodes::{Conv, Dense, Poly};
use fhez_nn::{Node, Tensor};

use super::util::{limits_check, node_err};
use super::{Act, Importer, forward};
use crate::decode::RawNode;
use crate::fit::{self, Expr};
use crate::{Error, Replacement, Result};

impl Importer<'_> {
    /// Calibration outputs of the first `k` steps (the fitted chain), per sample.
    pub(super) fn calib_at(&mut self, k: usize) -> Result<Option<Vec<Tensor>>> {
        let Some(cal) = &self.opts.calibration else {
            return Ok(None);
        };
        let stable = k.saturating_sub(1);
        let (mut at, mut xs) = match self.cache.take() {
            Some((at, xs)) if at <= stable => (at, xs),
            _ => (0, cal.clone()),
        };
        while at < stable {
            let node = &self.steps.get(at).ok_or(Error::NoGraph)?.node;
            xs = xs
                .iter()
                .map(|x| forward(node, x))
                .collect::<Result<Vec<_>>>()?;
            at += 1;
        }
        self.cache = Some((at, xs.clone()));
        if k > stable {
            let node = &self.steps.get(stable).ok_or(Error::NoGraph)?.node;
            xs = xs
                .iter()
                .map(|x| forward(node, x))
                .collect::<Result<Vec<_>>>()?;
        }
        Ok(Some(xs))
    }

    /// Makes `a` a plain chain output (expr applied, no pending permutation unless
    /// `allow_perm`): appends a `poly` step (exact or fitted) when needed.
    pub(super) fn materialize(&mut self, n: &RawNode, a: Act, allow_perm: bool) -> Result<Act> {
        if a.tip != self.steps.len() {
            return Err(node_err(
                n,
                "the graph branches here (a value is used after a later layer); only chains of \
                 layers with elementwise branches are supported",
            ));
        }
        if a.perm.is_some() && !allow_perm {
            return Err(node_err(
                n,
                "follows a Transpose that reorders the data; only a Gemm/MatMul can absorb it",
            ));
        }
        if a.expr == Expr::X {
            return Ok(a);
        }
        let label = a
            .ops
            .last()
            .map_or_else(|| n.name.clone(), |(name, _)| name.clone());
        let max_deg = fhez_nn::nodes::MAX_POLY_DEGREE;
        if let Some(p) = a.expr.poly(max_deg) {
            if fit::degree(&p) <= 1
                && self.fold_affine(
                    p.first().copied().unwrap_or(0.0),
                    p.get(1).copied().unwrap_or(0.0),
                )?
            {
                self.report
                    .folded
                    .push(format!("{label} into {}", self.last_name()));
            } else {
                self.push(&label, Node::Poly(Poly { coeffs: p }), None)?;
            }
        } else {
            let op_names: Vec<String> = a.ops.iter().map(|(_, o)| o.clone()).collect();
            let xs = self
                .calib_at(a.tip)?
                .ok_or_else(|| Error::NeedsCalibration {
                    node: label.clone(),
                    op: op_names.join("+"),
                })?;
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for x in &xs {
                for &v in x.data() {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
            if !(lo.is_finite() && hi.is_finite()) {
                return Err(Error::Calibration {
                    reason: format!("the input of `{label}` is not finite on the calibration data"),
                });
            }
            let margin = (hi - lo).max(1e-3) * self.opts.range_margin;
            let (lo, hi) = (lo - margin, hi + margin);
            let f = |x: f64| a.expr.eval(x);
            let max_d = (1usize << self.opts.max_activation_depth.min(5)) - 1;
            let (coeffs, err) = match self.opts.degree {
                Some(d) => {
                    let d = d.clamp(1, max_deg);
                    let p = fit::chebyshev_fit(&f, lo, hi, d);
                    let e = fit::max_error(&f, &p, lo, hi);
                    (p, e)
                }
                None => {
                    let scale = fit::max_error(&f, &[0.0], lo, hi).max(1e-12);
                    let target = self.opts.max_error.unwrap_or(0.01 * scale);
                    let mut best = None;
                    for d in 1..=max_d.max(1) {
                        let p = fit::chebyshev_fit(&f, lo, hi, d);
                        let e = fit::max_error(&f, &p, lo, hi);
                        let done = e <= target;
                        best = Some((p, e));
                        if done {
                            break;
                        }
                    }
                    best.ok_or(Error::NoGraph)?
                }
            };
            let degree = fit::degree(&coeffs);
            self.report.replaced.push(Replacement {
                node: label.clone(),
                ops: op_names,
                range: (lo, hi),
                degree,
                max_error: err,
            });
            self.push(&label, Node::Poly(Poly { coeffs }), Some(a.expr.clone()))?;
        }
        let mut out = self.fresh(a.shape)?;
        out.perm = a.perm;
        Ok(out)
    }

    /// Folds `y = c1·x + c0` into the last step when it is a conv or dense layer.
    pub(super) fn fold_affine(&mut self, c0: f64, c1: f64) -> Result<bool> {
        let Some(last) = self.steps.last_mut() else {
            return Ok(false);
        };
        if let Node::Conv(c) = &mut last.node {
            c.weights = c.weights.map(|v| v * c1);
            c.bias = c.bias.map(|v| v * c1 + c0);
            return Ok(true);
        }
        if let Node::Dense(d) = &mut last.node {
            d.weights = d.weights.map(|v| v * c1);
            d.bias = d.bias.map(|v| v * c1 + c0);
            return Ok(true);
        }
        Ok(false)
    }

    /// `y = m ⊙ x + c` with `m`, `c` per element of the per-sample shape: folded into the last
    /// conv (per channel) or dense layer when `a` is its plain output, else a diagonal dense
    /// layer (one level).
    pub(super) fn affine(&mut self, n: &RawNode, a: Act, m: &[f64], c: &[f64]) -> Result<Act> {
        let foldable =
            a.expr == Expr::X && a.perm.is_none() && a.tip == self.steps.len() && a.tip > 0;
        if foldable {
            let per = a.base_shape.iter().skip(1).product::<usize>().max(1);
            let last_name = self.last_name();
            let folded = match self.steps.last_mut().map(|s| &mut s.node) {
                Some(Node::Conv(conv)) => fold_conv(conv, m, c, per),
                Some(Node::Dense(d)) => {
                    fold_dense(d, m, c);
                    true
                }
                _ => false,
            };
            if folded {
                self.report
                    .folded
                    .push(format!("{} into {last_name}", n.name));
                return self.fresh(a.shape);
            }
        }
        let a = self.materialize(n, a, false)?;
        let k = m.len();
        limits_check(
            "diagonal layer entries",
            k.saturating_mul(k),
            fhez_nn::nodes::MAX_CONV_MATRIX,
        )?;
        let mut w = vec![0.0; k * k];
        for (i, &v) in m.iter().enumerate() {
            if let Some(x) = w.get_mut(i * k + i) {
                *x = v;
            }
        }
        let dense = Dense {
            d_in: k,
            d_out: k,
            weights: Tensor::new(vec![k, k], w)?,
            bias: Tensor::new(vec![k], c.to_vec())?,
        };
        self.push(&n.name, Node::Dense(dense), None)?;
        self.fresh(a.shape)
    }
}

/// Folds `y = m ⊙ x + c` into a conv when `m` and `c` are constant over each output
/// channel's plane of `per` elements.
fn fold_conv(conv: &mut Conv, m: &[f64], c: &[f64], per: usize) -> bool {
    let planes_equal = |v: &[f64]| {
        v.chunks(per)
            .all(|p| p.iter().all(|x| Some(x) == p.first()))
    };
    if !(planes_equal(m) && planes_equal(c)) {
        return false;
    }
    let f_n = conv.bias.len();
    let klen = conv.weights.len() / f_n.max(1);
    for (f, w) in conv.weights.data_mut().chunks_mut(klen.max(1)).enumerate() {
        let s = m.get(f * per).copied().unwrap_or(1.0);
        w.iter_mut().for_each(|v| *v *= s);
    }
    for (f, b) in conv.bias.data_mut().iter_mut().enumerate() {
        *b = *b * m.get(f * per).copied().unwrap_or(1.0) + c.get(f * per).copied().unwrap_or(0.0);
    }
    true
}

/// Folds `y = m ⊙ x + c` (per output) into a dense layer.
fn fold_dense(d: &mut Dense, m: &[f64], c: &[f64]) {
    let cols = d.d_out;
    for row in d.weights.data_mut().chunks_mut(cols.max(1)) {
        for (j, v) in row.iter_mut().enumerate() {
            *v *= m.get(j).copied().unwrap_or(1.0);
        }
    }
    for (j, b) in d.bias.data_mut().iter_mut().enumerate() {
        *b = *b * m.get(j).copied().unwrap_or(1.0) + c.get(j).copied().unwrap_or(0.0);
    }
}
