//! Slot-periodic matrix–vector products in diagonal form (baby-step/giant-step, giant
//! steps in Horner form, rotate-and-add tail) and the rotations they use.

use std::collections::BTreeSet;

use fhez_ckks::{Ciphertext, Encoder, Evaluator, GaloisKeys, Plaintext};

use crate::Result;

/// Rotations built from the Galois keys a server holds: the exact key when present, else
/// a greedy sum of the largest available steps (one key switch each).
pub(crate) struct Rotator<'a> {
    pub(crate) eval: &'a Evaluator,
    pub(crate) gk: &'a GaloisKeys,
    /// Available steps, descending.
    pub(crate) steps: Vec<i64>,
    /// Key switches done so far.
    pub(crate) key_switches: u64,
}

impl<'a> Rotator<'a> {
    /// A rotator over the steps of `available`.
    pub(crate) fn new(eval: &'a Evaluator, gk: &'a GaloisKeys, available: &BTreeSet<i64>) -> Self {
        Self {
            eval,
            gk,
            steps: available.iter().rev().copied().collect(),
            key_switches: 0,
        }
    }

    /// `ct` rotated left by `k` slots.
    pub(crate) fn rotate(&mut self, ct: &Ciphertext, k: usize) -> Result<Ciphertext> {
        let mut left = i64::try_from(k).unwrap_or(i64::MAX);
        if left == 0 {
            return Ok(ct.clone());
        }
        let mut out: Option<Ciphertext> = None;
        while left > 0 {
            let s = if self.steps.contains(&left) {
                left
            } else {
                // Greedy: the largest key not above what is left; none left means the
                // engine's own composition (or its missing-key error).
                self.steps
                    .iter()
                    .copied()
                    .find(|&s| s <= left)
                    .unwrap_or(left)
            };
            let src = out.as_ref().unwrap_or(ct);
            out = Some(self.eval.rotate(src, s, self.gk)?);
            self.key_switches += 1;
            left -= s;
        }
        Ok(out.unwrap_or_else(|| ct.clone()))
    }
}

/// `y_i = Σ_j M[i][j] x_j + b_i` for an input of period `n_in` and an output of period `m`
/// (both powers of two, `m ≤ n_in`).
///
/// With `b = m·a + r'` the weights of diagonal `b` seen from an `m`-periodic output only
/// depend on `b mod m`, so `t = Σ_{b<m} rot(x, b) ⊙ D_b` followed by the tree
/// `Σ_a rot(t, m·a)` (steps `m, 2m, …, n_in/2`) is the product. The `b`-sum runs
/// baby-step/giant-step (`b = g·G + r`): baby rotations of `x` (each from the previous
/// one, so small steps suffice), plaintext products, one rescale per giant group, and the
/// giant rotations in Horner form. All-zero diagonals are skipped.
pub(crate) struct LinPlan {
    /// Baby steps `r`, ascending.
    baby: Vec<usize>,
    /// `(g, [(index into baby, diagonal)])`, `g` ascending.
    groups: Vec<(usize, Vec<(usize, Plaintext)>)>,
    giant: usize,
    tree: Vec<usize>,
    bias: Option<Plaintext>,
}

/// The shape and values of one linear map (see [`LinPlan`]).
pub(crate) struct LinSpec<'a> {
    /// Output period.
    pub(crate) m: usize,
    /// Input period.
    pub(crate) n_in: usize,
    /// Giant-step stride `G`.
    pub(crate) giant: usize,
    /// `M[i][j]`, `i < m`, `j < n_in`.
    pub(crate) coef: &'a dyn Fn(usize, usize) -> f64,
    /// `b_i`, `i < m`.
    pub(crate) bias: &'a dyn Fn(usize) -> f64,
}

impl LinPlan {
    /// Encodes the diagonals for an input at `level` with scale `in_scale` (the products
    /// are rescaled by `q_level`, so the output keeps `in_scale`, one level down).
    pub(crate) fn new(
        encoder: &Encoder,
        level: u32,
        in_scale: f64,
        spec: &LinSpec,
    ) -> Result<Self> {
        let params = encoder.params();
        let slots = params.slots();
        let q = params.q().get(level as usize).copied().unwrap_or(1) as f64;
        let (m, giant) = (spec.m.max(1), spec.giant.max(1));
        let n_in = spec.n_in.max(m);
        let mut baby: Vec<usize> = Vec::new();
        let mut raw: Vec<(usize, usize, Vec<f64>)> = Vec::new();
        for b in 0..m {
            let (g, r) = (b / giant, b % giant);
            // D_{g,r}[s] = M[(s − gG) mod m][(s + r) mod n_in]
            let vals: Vec<f64> = (0..slots)
                .map(|s| (spec.coef)((s + slots * m - g * giant) % m, (s + r) % n_in))
                .collect();
            if vals.iter().all(|&v| v == 0.0) {
                continue;
            }
            if !baby.contains(&r) {
                baby.push(r);
            }
            raw.push((g, r, vals));
        }
        baby.sort_unstable();
        let mut groups: Vec<(usize, Vec<(usize, Plaintext)>)> = Vec::new();
        for (g, r, vals) in raw {
            let bi = baby.iter().position(|&x| x == r).unwrap_or(0);
            let pt = encoder.encode(&vals, q, level)?;
            match groups.iter_mut().find(|(gg, _)| *gg == g) {
                Some((_, list)) => list.push((bi, pt)),
                None => groups.push((g, vec![(bi, pt)])),
            }
        }
        groups.sort_by_key(|(g, _)| *g);
        let mut tree = Vec::new();
        let mut s = m;
        while s < n_in {
            tree.push(s);
            s *= 2;
        }
        let vals: Vec<f64> = (0..slots).map(|s| (spec.bias)(s % m)).collect();
        let bias = if vals.iter().all(|&v| v == 0.0) {
            None
        } else {
            let out_scale = in_scale * q / q;
            Some(encoder.encode(&vals, out_scale, level.saturating_sub(1))?)
        };
        Ok(Self {
            baby,
            groups,
            giant,
            tree,
            bias,
        })
    }

    /// Adds the rotation steps [`LinPlan::eval`] uses to `out`.
    pub(crate) fn steps(&self, out: &mut BTreeSet<usize>) {
        let mut prev = 0;
        for &r in &self.baby {
            if r > prev {
                out.insert(r - prev);
            }
            prev = r;
        }
        let gs: Vec<usize> = self.groups.iter().map(|(g, _)| *g).collect();
        for w in gs.windows(2) {
            if let [a, b] = w {
                out.insert((b - a) * self.giant);
            }
        }
        if let Some(&g0) = gs.first()
            && g0 > 0
        {
            out.insert(g0 * self.giant);
        }
        out.extend(&self.tree);
    }

    /// Adds to `uses` how many times [`LinPlan::eval`] rotates by each step.
    pub(crate) fn step_uses(&self, uses: &mut std::collections::BTreeMap<usize, usize>) {
        let mut add = |s: usize| {
            if s > 0 {
                *uses.entry(s).or_insert(0) += 1;
            }
        };
        let mut prev = 0;
        for &r in &self.baby {
            add(r - prev);
            prev = r;
        }
        let gs: Vec<usize> = self.groups.iter().map(|(g, _)| *g).collect();
        for w in gs.windows(2) {
            if let [a, b] = w {
                add((b - a) * self.giant);
            }
        }
        if let Some(&g0) = gs.first() {
            add(g0 * self.giant);
        }
        for &t in &self.tree {
            add(t);
        }
    }

    /// The product (one level consumed).
    pub(crate) fn eval(&self, rot: &mut Rotator<'_>, x: &Ciphertext) -> Result<Ciphertext> {
        let ev = rot.eval;
        let mut xs: Vec<Ciphertext> = Vec::with_capacity(self.baby.len());
        let mut prev = 0;
        for &r in &self.baby {
            let next = match xs.last() {
                Some(last) => rot.rotate(last, r - prev)?,
                None => rot.rotate(x, r)?,
            };
            prev = r;
            xs.push(next);
        }
        let mut acc: Option<Ciphertext> = None;
        let mut g_prev = 0;
        for (g, list) in self.groups.iter().rev() {
            let mut inner: Option<Ciphertext> = None;
            for (bi, pt) in list {
                let Some(xb) = xs.get(*bi) else { continue };
                let p = ev.mul_plain(xb, pt)?;
                inner = Some(match inner {
                    Some(a) => ev.add(&a, &p)?,
                    None => p,
                });
            }
            let Some(inner) = inner else { continue };
            let inner = ev.rescale(&inner)?;
            acc = Some(match acc {
                Some(a) => {
                    let r = rot.rotate(&a, (g_prev - g) * self.giant)?;
                    ev.add(&r, &inner)?
                }
                None => inner,
            });
            g_prev = *g;
        }
        let mut acc = match acc {
            Some(a) => a,
            // Every diagonal is zero: the product is zero (x − x keeps level and scale).
            None => ev.rescale(&ev.mul_plain(x, &zero_diag(ev, x)?)?)?,
        };
        if g_prev > 0 {
            acc = rot.rotate(&acc, g_prev * self.giant)?;
        }
        for &s in &self.tree {
            let r = rot.rotate(&acc, s)?;
            acc = ev.add(&acc, &r)?;
        }
        if let Some(b) = &self.bias {
            acc = ev.add_plain(&acc, b)?;
        }
        Ok(acc)
    }
}

/// A zero plaintext at the scale `q_level` of `x` (only for an all-zero matrix).
fn zero_diag(ev: &Evaluator, x: &Ciphertext) -> Result<Plaintext> {
    let params = ev.params();
    let q = params.q().get(x.level() as usize).copied().unwrap_or(1) as f64;
    Ok(Encoder::new(params).encode(&[0.0], q, x.level())?)
}
