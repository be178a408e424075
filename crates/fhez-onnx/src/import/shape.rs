//! Shape operators: Flatten, Reshape, Transpose (a pending permutation a Gemm absorbs),
//! Squeeze and Unsqueeze; the batch axis stays first.

use super::util::{attr_i, attr_ints, limits_check, node_err, numel, to_usizes, transpose_map};
use super::{Importer, Val};
use crate::decode::RawNode;
use crate::{Result, limits};

impl Importer<'_> {
    pub(super) fn reshape(&mut self, n: &RawNode) -> Result<()> {
        let mut a = self.act(n, 0)?;
        let total = numel(&a.shape);
        let shape: Vec<usize> = match n.op.as_str() {
            "Flatten" => {
                let axis = attr_i(n, "axis", 1);
                if axis != 0 && axis != 1 {
                    return Err(node_err(
                        n,
                        format!("axis {axis} (only 0 or 1: the batch axis stays)"),
                    ));
                }
                vec![1, total]
            }
            "Reshape" => {
                let target = self.konst(n, 1)?;
                let mut known = 1usize;
                let mut infer = None;
                let mut out = Vec::with_capacity(target.data.len());
                for (i, &v) in target.data.iter().enumerate() {
                    #[expect(clippy::cast_possible_truncation, reason = "checked integral below")]
                    let d = v as i64;
                    let d = match d {
                        -1 if infer.is_none() => {
                            infer = Some(i);
                            1
                        }
                        0 => *a
                            .shape
                            .get(i)
                            .ok_or_else(|| node_err(n, "0 copies a missing axis"))?,
                        d => {
                            usize::try_from(d).map_err(|_| node_err(n, format!("dimension {d}")))?
                        }
                    };
                    known = known.saturating_mul(d);
                    out.push(d);
                }
                if let Some(i) = infer {
                    if known == 0 || !total.is_multiple_of(known) {
                        return Err(node_err(
                            n,
                            format!("cannot reshape {:?} to {:?}", a.shape, target.data),
                        ));
                    }
                    if let Some(x) = out.get_mut(i) {
                        *x = total / known;
                    }
                }
                out
            }
            "Transpose" => {
                let rank = a.shape.len();
                let perm = match attr_ints(n, "perm") {
                    Some(p) => to_usizes(n, "perm", &p)?,
                    None => (0..rank).rev().collect(),
                };
                let mut seen = perm.clone();
                seen.sort_unstable();
                if seen != (0..rank).collect::<Vec<_>>() {
                    return Err(node_err(
                        n,
                        format!("perm {perm:?} is not a permutation of {rank} axes"),
                    ));
                }
                let out: Vec<usize> = perm
                    .iter()
                    .map(|&p| a.shape.get(p).copied().unwrap_or(1))
                    .collect();
                limits_check("transpose elements", total, limits::MAX_TENSOR_ELEMENTS)?;
                let flat = transpose_map(&a.shape, &perm);
                if flat.iter().enumerate().any(|(i, &j)| i != j) {
                    let composed = match &a.perm {
                        Some(old) => flat
                            .iter()
                            .map(|&j| old.get(j).copied().unwrap_or(j))
                            .collect(),
                        None => flat,
                    };
                    a.perm = Some(composed);
                }
                out
            }
            "Squeeze" | "Unsqueeze" => {
                let axes = match attr_ints(n, "axes") {
                    Some(v) => v,
                    None => self
                        .opt_const(n, 1)?
                        .map(|c| {
                            c.data
                                .iter()
                                .map(|&v| {
                                    #[expect(
                                        clippy::cast_possible_truncation,
                                        reason = "axes are small"
                                    )]
                                    let v = v as i64;
                                    v
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                if axes.contains(&0) {
                    return Err(node_err(n, "axis 0 (the batch axis) must stay"));
                }
                let mut s = a.shape.clone();
                if n.op == "Squeeze" {
                    if axes.is_empty() {
                        let mut t = vec![1];
                        t.extend(s.iter().skip(1).filter(|&&d| d != 1));
                        t
                    } else {
                        let rank = i64::try_from(s.len()).unwrap_or(0);
                        let mut idx: Vec<usize> = axes
                            .iter()
                            .filter_map(|&x| usize::try_from(if x < 0 { x + rank } else { x }).ok())
                            .collect();
                        idx.sort_unstable();
                        for &i in idx.iter().rev() {
                            if s.get(i) == Some(&1) {
                                s.remove(i);
                            } else {
                                return Err(node_err(
                                    n,
                                    format!("axis {i} of {:?} is not 1", a.shape),
                                ));
                            }
                        }
                        s
                    }
                } else {
                    let rank = i64::try_from(s.len() + axes.len()).unwrap_or(0);
                    let mut idx: Vec<usize> = axes
                        .iter()
                        .filter_map(|&x| usize::try_from(if x < 0 { x + rank } else { x }).ok())
                        .collect();
                    idx.sort_unstable();
                    for &i in &idx {
                        if i > s.len() {
                            return Err(node_err(n, format!("axis {i} out of range")));
                        }
                        s.insert(i, 1);
                    }
                    s
                }
            }
            _ => return Err(node_err(n, "not a shape operator")),
        };
        limits_check("tensor rank", shape.len(), limits::MAX_RANK)?;
        if numel(&shape) != total || shape.first() != Some(&1) {
            return Err(node_err(
                n,
                format!(
                    "cannot reshape {:?} to {shape:?} (the batch axis must stay 1)",
                    a.shape
                ),
            ));
        }
        a.shape = shape;
        self.set(n, Val::Act(a))
    }
}
