//! Attribute readers, error construction, shapes and numpy broadcasting for the importer.

use crate::decode::{Const, RawNode};
use crate::proto::Attribute;
use crate::{Error, Result};

pub(super) fn node_err(n: &RawNode, reason: impl Into<String>) -> Error {
    Error::Node {
        node: n.name.clone(),
        op: n.op.clone(),
        reason: reason.into(),
    }
}

pub(super) fn attr<'n>(n: &'n RawNode, name: &str) -> Option<&'n Attribute> {
    n.attrs.iter().find(|a| a.name == name)
}

pub(super) fn attr_i(n: &RawNode, name: &str, default: i64) -> i64 {
    attr(n, name).map_or(default, |a| a.i)
}

pub(super) fn attr_f(n: &RawNode, name: &str, default: f64) -> f64 {
    attr(n, name).map_or(default, |a| f64::from(a.f))
}

pub(super) fn attr_ints(n: &RawNode, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}

pub(super) fn to_usizes(n: &RawNode, what: &str, v: &[i64]) -> Result<Vec<usize>> {
    v.iter()
        .map(|&x| usize::try_from(x).map_err(|_| node_err(n, format!("{what} {x} is negative"))))
        .collect()
}

pub(super) fn numel(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |a, &d| a.saturating_mul(d))
}

/// Broadcasts `c` to `shape` (numpy rules; `c` may not grow the shape).
pub(super) fn broadcast(c: &Const, shape: &[usize]) -> Option<Vec<f64>> {
    if c.shape.len() > shape.len() {
        // Leading ones may be dropped.
        let extra = c.shape.len() - shape.len();
        if c.shape.get(..extra)?.iter().any(|&d| d != 1) {
            return None;
        }
        let trimmed = Const {
            shape: c.shape.get(extra..)?.to_vec(),
            data: c.data.clone(),
        };
        return broadcast(&trimmed, shape);
    }
    let off = shape.len() - c.shape.len();
    for (i, &d) in c.shape.iter().enumerate() {
        let s = *shape.get(off + i)?;
        if d != 1 && d != s {
            return None;
        }
    }
    let n = numel(shape);
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        let mut k = 0usize;
        for (i, &d) in c.shape.iter().enumerate() {
            let v = if d == 1 { 0 } else { *idx.get(off + i)? };
            k = k * d + v;
        }
        out.push(*c.data.get(k)?);
        for (t, &s) in idx.iter_mut().zip(shape).rev() {
            *t += 1;
            if *t < s {
                break;
            }
            *t = 0;
        }
    }
    Some(out)
}

/// The output shape of numpy broadcasting two shapes.
pub(super) fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let x = if i + a.len() >= n {
                a.get(i + a.len() - n).copied()
            } else {
                Some(1)
            };
            let y = if i + b.len() >= n {
                b.get(i + b.len() - n).copied()
            } else {
                Some(1)
            };
            match (x?, y?) {
                (p, q) if p == q || q == 1 => Some(p),
                (1, q) => Some(q),
                _ => None,
            }
        })
        .collect()
}

pub(super) fn limits_check(what: &'static str, found: usize, limit: usize) -> Result<()> {
    if found <= limit {
        Ok(())
    } else {
        Err(Error::Limit { what, found, limit })
    }
}

/// A windowed node's `strides` (default 1 per spatial axis) and `pads` (default 0 at both
/// ends of each of the `k` axes), as read by Conv and AveragePool.
pub(super) fn stride_and_pads(n: &RawNode, k: usize) -> Result<(Vec<usize>, Vec<usize>)> {
    let stride = to_usizes(
        n,
        "stride",
        &attr_ints(n, "strides").unwrap_or_else(|| vec![1; k]),
    )?;
    let pads = to_usizes(
        n,
        "pad",
        &attr_ints(n, "pads").unwrap_or_else(|| vec![0; 2 * k]),
    )?;
    Ok((stride, pads))
}

/// Symmetric padding from ONNX `pads` (`[begin…, end…]`).
pub(super) fn symmetric(n: &RawNode, pads: &[usize], k: usize) -> Result<Vec<usize>> {
    if pads.len() != 2 * k {
        return Err(node_err(n, format!("pads {pads:?} need {} entries", 2 * k)));
    }
    let (b, e) = pads.split_at(k);
    if b != e {
        return Err(node_err(
            n,
            format!("asymmetric pads {pads:?} (only equal begin and end)"),
        ));
    }
    Ok(b.to_vec())
}

pub(super) fn pool_out(
    spatial: &[usize],
    kernel: &[usize],
    stride: &[usize],
    pad: &[usize],
) -> Vec<usize> {
    spatial
        .iter()
        .zip(kernel)
        .zip(stride.iter().zip(pad))
        .map(|((&d, &k), (&s, &p))| (d + 2 * p).saturating_sub(k) / s.max(1) + 1)
        .collect()
}

/// For a transpose of `shape` by `perm`: output flat index → input flat index.
pub(super) fn transpose_map(shape: &[usize], perm: &[usize]) -> Vec<usize> {
    let out_shape: Vec<usize> = perm
        .iter()
        .map(|&p| shape.get(p).copied().unwrap_or(1))
        .collect();
    let mut in_strides = vec![1usize; shape.len()];
    for t in (0..shape.len().saturating_sub(1)).rev() {
        let next =
            in_strides.get(t + 1).copied().unwrap_or(1) * shape.get(t + 1).copied().unwrap_or(1);
        if let Some(s) = in_strides.get_mut(t) {
            *s = next;
        }
    }
    let total = numel(shape);
    let mut map = Vec::with_capacity(total);
    let mut idx = vec![0usize; out_shape.len()];
    for _ in 0..total {
        let flat: usize = idx
            .iter()
            .zip(perm)
            .map(|(&i, &p)| i * in_strides.get(p).copied().unwrap_or(0))
            .sum();
        map.push(flat);
        for (t, &s) in idx.iter_mut().zip(&out_shape).rev() {
            *t += 1;
            if *t < s {
                break;
            }
            *t = 0;
        }
    }
    map
}
