//! Dense operators: Gemm / MatMul as a dense layer, BatchNormalization as a per-channel
//! affine map.

use fhez_nn::nodes::Dense;
use fhez_nn::{Node, Tensor};

use super::util::{attr_f, attr_i, broadcast, limits_check, node_err};
use super::{Importer, Val};
use crate::decode::{Const, RawNode};
use crate::{Result, limits};

impl Importer<'_> {
    pub(super) fn gemm(&mut self, n: &RawNode) -> Result<()> {
        let a = self.act(n, 0)?;
        let b = self.konst(n, 1)?;
        let gemm = n.op == "Gemm";
        let (alpha, beta) = if gemm {
            (attr_f(n, "alpha", 1.0), attr_f(n, "beta", 1.0))
        } else {
            (1.0, 1.0)
        };
        if gemm && attr_i(n, "transA", 0) != 0 {
            return Err(node_err(n, "transA = 1 (the batch axis must stay first)"));
        }
        let trans_b = gemm && attr_i(n, "transB", 0) != 0;
        let (k_in, n_out) = match (a.shape.as_slice(), b.shape.as_slice()) {
            ([1, k], [r, c]) if !trans_b && r == k => (*k, *c),
            ([1, k], [r, c]) if trans_b && c == k => (*k, *r),
            _ => {
                return Err(node_err(
                    n,
                    format!(
                        "operands {:?} and {:?} (expects (1, K) and a (K, N) constant)",
                        a.shape, b.shape
                    ),
                ));
            }
        };
        limits_check(
            "dense weights",
            k_in.saturating_mul(n_out),
            limits::MAX_TENSOR_ELEMENTS,
        )?;
        let a = self.materialize(n, a, true)?;
        let mut w = vec![0.0; k_in * n_out];
        for i in 0..k_in {
            let row = a.perm.as_ref().and_then(|p| p.get(i).copied()).unwrap_or(i);
            for j in 0..n_out {
                let v = if trans_b {
                    b.data.get(j * k_in + i)
                } else {
                    b.data.get(i * n_out + j)
                };
                if let Some(x) = w.get_mut(row * n_out + j) {
                    *x = alpha * v.copied().unwrap_or(0.0);
                }
            }
        }
        let bias = match self.opt_const(n, 2)? {
            Some(c) if gemm => broadcast(&c, &[n_out])
                .ok_or_else(|| {
                    node_err(
                        n,
                        format!("C of shape {:?} does not broadcast to ({n_out},)", c.shape),
                    )
                })?
                .into_iter()
                .map(|v| beta * v)
                .collect(),
            _ => vec![0.0; n_out],
        };
        let dense = Dense {
            d_in: k_in,
            d_out: n_out,
            weights: Tensor::new(vec![k_in, n_out], w)?,
            bias: Tensor::new(vec![n_out], bias)?,
        };
        self.push(&n.name, Node::Dense(dense), None)?;
        let v = self.fresh(vec![1, n_out])?;
        self.set(n, Val::Act(v))
    }

    pub(super) fn batchnorm(&mut self, n: &RawNode) -> Result<()> {
        let a = self.act(n, 0)?;
        let [s, b, mean, var] = [1, 2, 3, 4].map(|i| self.konst(n, i));
        let (s, b, mean, var) = (s?, b?, mean?, var?);
        let eps = attr_f(n, "epsilon", 1e-5);
        let ch = *a
            .shape
            .get(1)
            .ok_or_else(|| node_err(n, "input has no channel axis"))?;
        if [&s, &b, &mean, &var].iter().any(|c| c.data.len() != ch) {
            return Err(node_err(
                n,
                format!("parameters must have {ch} values (one per channel)"),
            ));
        }
        let m: Vec<f64> = s
            .data
            .iter()
            .zip(&var.data)
            .map(|(s, v)| s / (v + eps).sqrt())
            .collect();
        let c: Vec<f64> = b
            .data
            .iter()
            .zip(&mean.data)
            .zip(&m)
            .map(|((b, mu), m)| b - mu * m)
            .collect();
        let mut cshape = vec![1, ch];
        cshape.resize(a.shape.len().max(2), 1);
        let per = a.shape.get(1..).unwrap_or(&[]);
        let mb = broadcast(
            &Const {
                shape: cshape.clone(),
                data: m,
            },
            per,
        )
        .ok_or_else(|| node_err(n, "shape"))?;
        let cb = broadcast(
            &Const {
                shape: cshape,
                data: c,
            },
            per,
        )
        .ok_or_else(|| node_err(n, "shape"))?;
        let out = self.affine(n, a, &mb, &cb)?;
        self.set(n, Val::Act(out))
    }
}
