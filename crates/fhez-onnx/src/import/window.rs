//! Windowed operators: Conv and AveragePool (GlobalAveragePool), with padded pooling as a
//! depthwise conv or, without counting the padding, a dense layer.

use fhez_nn::nodes::{AvgPool, Conv, Dense};
use fhez_nn::{Node, Tensor};

use super::util::{
    attr, attr_i, attr_ints, limits_check, node_err, numel, pool_out, stride_and_pads, symmetric,
    to_usizes,
};
use super::{Importer, Val};
use crate::decode::RawNode;
use crate::{Error, Result, limits};

impl Importer<'_> {
    pub(super) fn conv(&mut self, n: &RawNode) -> Result<()> {
        let a = self.act(n, 0)?;
        let w = self.konst(n, 1)?;
        let b = self.opt_const(n, 2)?;
        if attr_i(n, "group", 1) != 1 {
            return Err(node_err(
                n,
                format!("group = {} (only 1)", attr_i(n, "group", 1)),
            ));
        }
        let k = w.shape.len().saturating_sub(2);
        if k == 0 || a.shape.len() != k + 2 {
            return Err(node_err(
                n,
                format!("weights {:?} do not fit input {:?}", w.shape, a.shape),
            ));
        }
        if let Some(d) = attr_ints(n, "dilations")
            && d.iter().any(|&v| v != 1)
        {
            return Err(node_err(n, format!("dilations {d:?} (only 1)")));
        }
        let auto = attr(n, "auto_pad").map(|a| String::from_utf8_lossy(&a.s).into_owned());
        if auto
            .as_deref()
            .is_some_and(|s| s != "NOTSET" && s != "VALID")
        {
            return Err(node_err(
                n,
                format!("auto_pad {} (use explicit pads)", auto.unwrap_or_default()),
            ));
        }
        let (stride, pads) = stride_and_pads(n, k)?;
        let padding = symmetric(n, &pads, k)?;
        let a = self.materialize(n, a, false)?;
        self.shaped(&a)?;
        let f_n = *w.shape.first().unwrap_or(&0);
        let bias = match b {
            Some(b) if b.data.len() == f_n => b.data,
            Some(b) => {
                return Err(node_err(
                    n,
                    format!("bias has {} values for {f_n} filters", b.data.len()),
                ));
            }
            None => vec![0.0; f_n],
        };
        let conv = Conv {
            stride,
            padding,
            weights: Tensor::new(w.shape.clone(), w.data)?,
            bias: Tensor::new(vec![f_n], bias)?,
        };
        let node = Node::Conv(conv);
        let mut out = node
            .out_shapes(&[a.shape.get(1..).unwrap_or(&[])])
            .map_err(|e| node_err(n, e.to_string()))?;
        let mut shape = vec![1];
        shape.append(out.first_mut().ok_or(Error::NoGraph)?);
        self.push(&n.name, node, None)?;
        let v = self.fresh(shape)?;
        self.set(n, Val::Act(v))
    }

    pub(super) fn avgpool(&mut self, n: &RawNode) -> Result<()> {
        let a = self.act(n, 0)?;
        let spatial = a.shape.get(2..).unwrap_or(&[]).to_vec();
        let ch = *a
            .shape
            .get(1)
            .ok_or_else(|| node_err(n, "input has no channel axis"))?;
        let k = spatial.len();
        if k == 0 || a.shape.first() != Some(&1) {
            return Err(node_err(
                n,
                format!("input {:?} must be (1, C, spatial…)", a.shape),
            ));
        }
        let (kernel, stride, pads) = if n.op == "GlobalAveragePool" {
            (spatial.clone(), vec![1; k], vec![0; 2 * k])
        } else {
            let kernel = to_usizes(
                n,
                "kernel",
                &attr_ints(n, "kernel_shape").ok_or_else(|| node_err(n, "no kernel_shape"))?,
            )?;
            let (stride, pads) = stride_and_pads(n, k)?;
            if attr_i(n, "ceil_mode", 0) != 0 {
                return Err(node_err(n, "ceil_mode = 1 (only 0)"));
            }
            (kernel, stride, pads)
        };
        if kernel.len() != k || stride.len() != k {
            return Err(node_err(
                n,
                "kernel_shape/strides need one entry per spatial axis",
            ));
        }
        let padding = symmetric(n, &pads, k)?;
        let a = self.materialize(n, a, false)?;
        self.shaped(&a)?;
        let include = attr_i(n, "count_include_pad", 0) != 0;
        let per_sample = a.shape.get(1..).unwrap_or(&[]).to_vec();
        let node = if padding.iter().all(|&p| p == 0) {
            let mut kk = vec![1];
            kk.extend(&kernel);
            let mut ss = vec![1];
            ss.extend(&stride);
            Node::AvgPool(AvgPool {
                kernel: kk,
                stride: ss,
            })
        } else {
            // Depthwise: filter f reads channel f only; every tap weighs 1/count, where count
            // is the kernel size (count_include_pad) or the window's cells inside the input.
            let klen = numel(&kernel);
            limits_check(
                "pool weights",
                ch.saturating_mul(ch).saturating_mul(klen),
                limits::MAX_TENSOR_ELEMENTS,
            )?;
            if include {
                let mut w = vec![0.0; ch * ch * klen];
                #[expect(clippy::cast_precision_loss, reason = "kernel sizes are small")]
                let inv = 1.0 / klen as f64;
                for f in 0..ch {
                    for t in 0..klen {
                        if let Some(x) = w.get_mut((f * ch + f) * klen + t) {
                            *x = inv;
                        }
                    }
                }
                let mut ws = vec![ch, ch];
                ws.extend(&kernel);
                Node::Conv(Conv {
                    stride: stride.clone(),
                    padding: padding.clone(),
                    weights: Tensor::new(ws, w)?,
                    bias: Tensor::zeros(&[ch]),
                })
            } else {
                exclude_pad_dense(n, &per_sample, &kernel, &stride, &padding)?
            }
        };
        let out = if let Node::Dense(_) = &node {
            let mut s = vec![ch];
            s.extend(pool_out(&spatial, &kernel, &stride, &padding));
            s
        } else {
            node.out_shapes(&[&per_sample])
                .map_err(|e| node_err(n, e.to_string()))?
                .into_iter()
                .next()
                .unwrap_or_default()
        };
        self.push(&n.name, node, None)?;
        let mut shape = vec![1];
        shape.extend(out);
        let v = self.fresh(shape)?;
        self.set(n, Val::Act(v))
    }
}

/// Average pooling with zero padding whose border windows divide by the cells inside the
/// input (`count_include_pad = 0`), as one dense layer on the flattened input.
fn exclude_pad_dense(
    n: &RawNode,
    per: &[usize],
    kernel: &[usize],
    stride: &[usize],
    pad: &[usize],
) -> Result<Node> {
    let (ch, spatial) = per
        .split_first()
        .ok_or_else(|| node_err(n, "no channel axis"))?;
    let out = pool_out(spatial, kernel, stride, pad);
    let (inp, outp) = (numel(spatial), numel(&out));
    let (d_in, d_out) = (ch.saturating_mul(inp), ch.saturating_mul(outp));
    limits_check(
        "pool matrix entries",
        d_in.saturating_mul(d_out),
        fhez_nn::nodes::MAX_CONV_MATRIX,
    )?;
    let mut w = vec![0.0; d_in * d_out];
    let rank = spatial.len();
    let mut opos = vec![0usize; rank];
    for o in 0..outp {
        let mut r = o;
        for (t, &d) in opos.iter_mut().zip(&out).rev() {
            *t = r % d.max(1);
            r /= d.max(1);
        }
        let mut cells = Vec::new();
        for kidx in 0..numel(kernel) {
            let mut r = kidx;
            let mut flat = 0usize;
            let mut inside = true;
            let mut kpos = vec![0usize; rank];
            for (t, &k) in kpos.iter_mut().zip(kernel).rev() {
                *t = r % k.max(1);
                r /= k.max(1);
            }
            for t in 0..rank {
                let (ot, kt, st, pt, d) = (
                    opos.get(t).copied().unwrap_or(0),
                    kpos.get(t).copied().unwrap_or(0),
                    stride.get(t).copied().unwrap_or(1),
                    pad.get(t).copied().unwrap_or(0),
                    spatial.get(t).copied().unwrap_or(1),
                );
                match (ot * st + kt).checked_sub(pt) {
                    Some(x) if x < d => flat = flat * d + x,
                    _ => inside = false,
                }
            }
            if inside {
                cells.push(flat);
            }
        }
        #[expect(clippy::cast_precision_loss, reason = "kernel sizes are small")]
        let inv = 1.0 / cells.len().max(1) as f64;
        for c in 0..*ch {
            for &i in &cells {
                if let Some(x) = w.get_mut((c * inp + i) * d_out + c * outp + o) {
                    *x = inv;
                }
            }
        }
    }
    Ok(Node::Dense(Dense {
        d_in,
        d_out,
        weights: Tensor::new(vec![d_in, d_out], w)?,
        bias: Tensor::zeros(&[d_out]),
    }))
}
