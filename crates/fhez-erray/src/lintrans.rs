//! [`LinearTransform`]: one generic diagonal (Halevi–Shoup) matrix–vector product over any
//! [`Backend`], used by the single-input matmul, convolution and average pooling.
//!
//! # Layout
//!
//! The input ciphertext is *periodic*: slot `s` holds `x[s mod n]` for an input period `n`
//! (a power of two dividing the slots). The output is periodic with period `m` (a power of
//! two, `m ≤ n`): slot `s` holds
//!
//! `y[s mod m] = Σ_{j<n} M[s mod m][j] · x[j] + bias[s mod m]`.
//!
//! Because the output comes back periodic, transforms chain without replication rotations
//! and without masking: columns of `M` outside the layout are zero, so whatever sits in the
//! input's padding slots is multiplied by zero.
//!
//! # Algorithm
//!
//! With `t = Σ_{b<m} D_b ⊙ rot(x, b)` and `D_b[s] = M[s mod m][(s + b) mod n]`, the product
//! is `y = Σ_{a < n/m} rot(t, m·a)`, a rotate-and-add tree with steps `m, 2m, …, n/2`. The
//! sum over `b` runs baby-step/giant-step, `b = G·g + r`: the baby rotations `rot(x, r)`
//! share one hoisted decomposition, each giant group is `Σ_r D'_{g,r} ⊙ rot(x, r)` with the
//! diagonals pre-rotated by `−G·g`, and the giant rotations run in Horner form (each group
//! is rotated by the gap to the next, so only steps `G·Δg` are needed). All-zero diagonals
//! and empty giant groups are skipped. One level (the plaintext products): each giant group
//! is one [`Backend::mul_plain_sum`], its products summed before a single rescale.
//!
//! The diagonals are encoded for the level of the input ([`Backend::encode_plain`]);
//! [`LinearTransform::prepare`] does that once and keeps the encoded form
//! ([`PreparedTransform`]), so applying it again encodes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use fhez_backend::Backend;

use crate::{Error, Gather, Result};

/// Upper bound on `n · m` (coefficient evaluations while building one transform) and on the
/// number of stored diagonal slots, so hostile shapes fail before allocating.
pub const MAX_TRANSFORM_WORK: usize = 1 << 28;

/// One giant group: giant index `g` and its `(baby index, pre-rotated diagonal)` terms.
type Group = (usize, Vec<(usize, Vec<f64>)>);

/// One giant group of a [`PreparedTransform`]: `g` and its `(baby index, encoded diagonal)`.
type EncodedGroup<P> = (usize, Vec<(usize, P)>);

/// A diagonal matrix–vector product planned for one slot count (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct LinearTransform {
    slots: usize,
    n_in: usize,
    m: usize,
    giant: usize,
    /// Baby offsets `r` with a non-zero diagonal, ascending (0 first when used).
    baby: Vec<usize>,
    /// `(g, [(index into baby, pre-rotated diagonal of length slots)])`, `g` ascending.
    groups: Vec<Group>,
    tree: Vec<usize>,
    bias: Option<Vec<f64>>,
    windowed: bool,
    /// The input gather this transform reads (`None`: the row-major single-input layout).
    pub(crate) gather: Option<Arc<Gather>>,
}

/// Which stored Galois keys each rotation step is made of, decided at plan time.
///
/// A step mapped to itself (or absent) uses its own key exactly; a step mapped to a list of
/// key steps is evaluated as that sequence of rotations (one key switch each). Evaluation
/// never composes on its own: the table is the whole rotation policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationTable {
    /// Composed step (normalized to `[0, slots)` when `slots > 0`) → its key steps.
    pub(crate) compose: BTreeMap<i64, Vec<i64>>,
    /// The slot count steps are normalized by (0: steps are looked up as given).
    pub(crate) slots: usize,
}

impl RotationTable {
    /// Every step uses its own key.
    #[must_use]
    pub fn exact() -> Self {
        Self::default()
    }

    /// Plans `steps` over at most `budget` keys on `slots` slots: if the distinct steps fit
    /// the budget each keeps its own key; otherwise the keys are the powers of two below
    /// `slots` that the steps' binary decompositions use, and every other step composes from
    /// them (at most `log2(slots)` key switches each).
    ///
    /// # Errors
    /// [`Error::SlotsNotPowerOfTwo`]; [`Error::InvalidShape`] when even the power-of-two keys
    /// exceed `budget`.
    pub fn with_budget(steps: &BTreeSet<i64>, budget: usize, slots: usize) -> Result<Self> {
        if !slots.is_power_of_two() {
            return Err(Error::SlotsNotPowerOfTwo {
                op: "rotation table",
                slots,
            });
        }
        let norm = |s: i64| -> usize {
            let m = i64::try_from(slots).unwrap_or(i64::MAX);
            usize::try_from(s.rem_euclid(m)).unwrap_or(0)
        };
        let wanted: BTreeSet<usize> = steps.iter().map(|&s| norm(s)).filter(|&s| s != 0).collect();
        if wanted.len() <= budget {
            return Ok(Self::exact());
        }
        let bits: BTreeSet<u32> = wanted
            .iter()
            .flat_map(|&s| (0..usize::BITS).filter(move |b| s >> b & 1 == 1))
            .collect();
        if bits.len() > budget {
            return Err(Error::InvalidShape {
                op: "rotation table",
                shape: vec![wanted.len(), budget],
                reason: "the power-of-two keys the steps need exceed the key budget",
            });
        }
        let mut compose = BTreeMap::new();
        for &s in steps {
            let n = norm(s);
            if n == 0 || n.is_power_of_two() {
                continue;
            }
            let parts = (0..usize::BITS)
                .filter(|b| n >> b & 1 == 1)
                .map(|b| i64::try_from(1usize << b).unwrap_or(i64::MAX))
                .collect();
            compose.insert(s, parts);
        }
        Ok(Self { compose, slots: 0 })
    }

    /// `step` as the table's entries are keyed (left rotation modulo the slots).
    fn key_of(&self, step: i64) -> i64 {
        match i64::try_from(self.slots) {
            Ok(n) if n > 0 => step.rem_euclid(n),
            Ok(_) | Err(_) => step,
        }
    }

    /// The key steps `step` is made of (itself unless composed).
    #[must_use]
    pub fn parts(&self, step: i64) -> Vec<i64> {
        self.compose
            .get(&self.key_of(step))
            .cloned()
            .unwrap_or_else(|| vec![step])
    }

    /// Whether `step` is evaluated with its own key.
    #[must_use]
    pub fn is_exact(&self, step: i64) -> bool {
        !self.compose.contains_key(&self.key_of(step))
    }

    /// The composed entries, step → key steps (empty for [`RotationTable::exact`]).
    #[must_use]
    pub fn entries(&self) -> &BTreeMap<i64, Vec<i64>> {
        &self.compose
    }

    /// The Galois key steps needed to evaluate `steps` through this table.
    #[must_use]
    pub fn key_steps(&self, steps: &BTreeSet<i64>) -> BTreeSet<i64> {
        steps.iter().flat_map(|&s| self.parts(s)).collect()
    }

    /// Rotates `a` by `step` through the table.
    ///
    /// # Errors
    /// Backend errors (`MissingGaloisKey`).
    pub fn rotate<B: Backend>(&self, be: &B, a: &B::Ct, step: i64) -> Result<B::Ct> {
        match self.compose.get(&self.key_of(step)) {
            None => Ok(be.rotate(a, step)?),
            Some(parts) => {
                let mut out = a.clone();
                for &p in parts {
                    out = be.rotate(&out, p)?;
                }
                Ok(out)
            }
        }
    }
}

/// Marks "choose the giant stride" for [`LinearTransform::build`] (not a power of two).
const AUTO_GIANT: usize = 0;

/// The giant stride `G` (a power of two `≤ m`) that evaluates the non-zero diagonals `used`
/// (indices `b < m`) with the fewest rotations: the distinct non-zero baby offsets
/// `b mod G` (hoisted) plus the Horner giant steps (one per giant group after the first,
/// one more when the lowest group is not 0). Ties go to the stride nearest
/// `2^⌈log2(m)/2⌉` (the balanced split of a dense matrix), then to the smaller.
fn best_giant(used: &[usize], m: usize) -> usize {
    let balanced = 1usize << m.max(1).trailing_zeros().div_ceil(2);
    let cost = |giant: usize| {
        let babies: BTreeSet<usize> = used.iter().map(|b| b % giant).filter(|&r| r != 0).collect();
        let groups: BTreeSet<usize> = used.iter().map(|b| b / giant).collect();
        let first = groups.first().copied().unwrap_or(0);
        babies.len() + groups.len().saturating_sub(1) + usize::from(first > 0)
    };
    let distance = |g: usize| g.trailing_zeros().abs_diff(balanced.trailing_zeros());
    (0..=m.max(1).trailing_zeros())
        .map(|k| 1usize << k)
        .min_by_key(|&g| (cost(g), distance(g), g))
        .unwrap_or(balanced)
}

fn to_step(s: usize) -> Result<i64> {
    i64::try_from(s).map_err(|_| Error::SlotsNotPowerOfTwo {
        op: "linear transform",
        slots: s,
    })
}

impl LinearTransform {
    /// Plans `y = M·x + bias` for an input of period `n_in` and an output of `rows` values
    /// (output period `m = rows.next_power_of_two()`; the input period is raised to `m` when
    /// smaller, which a periodic input allows). `coef(i, j)` is `M[i][j]` for `i < rows`,
    /// `j < n_in`; `bias(i)` for `i < rows`. The giant stride `G` is the power of two that
    /// needs the fewest rotations for the non-zero diagonals ([`best_giant`]; a dense
    /// matrix gets `2^⌈log2(m)/2⌉`, a sparse one — a filter bank on an im2col layout, whose
    /// diagonals are multiples of its window count — a stride that fits its spacing).
    ///
    /// # Errors
    /// [`Error::SlotsNotPowerOfTwo`]; [`Error::InvalidShape`] when `n_in` is not a power of
    /// two, a period exceeds the slots, or the work exceeds [`MAX_TRANSFORM_WORK`].
    pub fn new(
        slots: usize,
        n_in: usize,
        rows: usize,
        coef: impl Fn(usize, usize) -> f64,
        bias: impl Fn(usize) -> f64,
    ) -> Result<Self> {
        Self::build(slots, n_in, rows, AUTO_GIANT, false, coef, bias)
    }

    /// As [`LinearTransform::new`] for an input that is only periodic on the window
    /// `[0, n + m − 1)` (for example a zero-padded vector replicated once): the diagonals are
    /// zero outside the window, and the output is valid on slots `[0, m)` only (the others
    /// hold partial sums). Used by the [`Packing::Flat`](crate::Packing::Flat) matmul.
    ///
    /// # Errors
    /// As [`LinearTransform::new`].
    pub fn windowed(
        slots: usize,
        n_in: usize,
        rows: usize,
        coef: impl Fn(usize, usize) -> f64,
        bias: impl Fn(usize) -> f64,
    ) -> Result<Self> {
        let m = rows.max(1).next_power_of_two();
        let bits = m.trailing_zeros();
        Self::build(slots, n_in, rows, 1 << bits.div_ceil(2), true, coef, bias)
    }

    /// As [`LinearTransform::new`] with an explicit giant stride `giant` (a power of two).
    ///
    /// # Errors
    /// As [`LinearTransform::new`].
    pub fn with_giant(
        slots: usize,
        n_in: usize,
        rows: usize,
        giant: usize,
        coef: impl Fn(usize, usize) -> f64,
        bias: impl Fn(usize) -> f64,
    ) -> Result<Self> {
        Self::build(slots, n_in, rows, giant, false, coef, bias)
    }

    fn build(
        slots: usize,
        n_in: usize,
        rows: usize,
        giant: usize,
        windowed: bool,
        coef: impl Fn(usize, usize) -> f64,
        bias: impl Fn(usize) -> f64,
    ) -> Result<Self> {
        let invalid = |reason| Error::InvalidShape {
            op: "linear transform",
            shape: vec![n_in, rows, slots],
            reason,
        };
        if !slots.is_power_of_two() {
            return Err(Error::SlotsNotPowerOfTwo {
                op: "linear transform",
                slots,
            });
        }
        if !n_in.is_power_of_two() || !(giant.is_power_of_two() || giant == AUTO_GIANT) {
            return Err(invalid(
                "input period and giant stride must be powers of two",
            ));
        }
        let m = rows.max(1).next_power_of_two();
        let n = n_in.max(m);
        if n > slots {
            return Err(invalid("period exceeds the slots"));
        }
        match n.checked_mul(m) {
            Some(w) if w <= MAX_TRANSFORM_WORK => {}
            Some(_) | None => return Err(invalid("transform too large")),
        }
        let reps = slots / n;
        let mut bases: Vec<(usize, Vec<f64>)> = Vec::new();
        let mut stored = 0usize;
        for b in 0..m {
            // D_b[s] = M[s mod m][(s + b) mod n] on one period s < n.
            let base: Vec<f64> = (0..n)
                .map(|s| {
                    let i = s % m;
                    if i < rows { coef(i, (s + b) % n) } else { 0.0 }
                })
                .collect();
            if base.iter().all(|&v| v == 0.0) {
                continue;
            }
            stored = stored.saturating_add(slots);
            if stored > MAX_TRANSFORM_WORK {
                return Err(invalid("transform too large"));
            }
            bases.push((b, base));
        }
        let giant = if giant == AUTO_GIANT {
            let used: Vec<usize> = bases.iter().map(|(b, _)| *b).collect();
            best_giant(&used, m)
        } else {
            giant
        };
        let mut raw: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
        for (b, base) in bases {
            let (g, r) = (b / giant, b % giant);
            // Pre-rotated by −G·g: D'_{g,r}[s] = D_b[s − G·g] (periodic, or on the window).
            let shift = g * giant;
            let full: Vec<f64> = if windowed {
                let mut v = vec![0.0; slots];
                for (s, &d) in base.iter().enumerate() {
                    if let Some(x) = v.get_mut((s + shift) % slots) {
                        *x = d;
                    }
                }
                v
            } else {
                (0..n * reps)
                    .map(|s| base.get((s + n - shift % n) % n).copied().unwrap_or(0.0))
                    .collect()
            };
            raw.insert((g, r), full);
        }
        let baby: Vec<usize> = raw
            .keys()
            .map(|&(_, r)| r)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut groups: Vec<Group> = Vec::new();
        for ((g, r), diag) in raw {
            let bi = baby.iter().position(|&x| x == r).unwrap_or(0);
            match groups.last_mut() {
                Some((last, list)) if *last == g => list.push((bi, diag)),
                Some(_) | None => groups.push((g, vec![(bi, diag)])),
            }
        }
        let mut tree = Vec::new();
        let mut s = m;
        while s < n {
            tree.push(s);
            s *= 2;
        }
        let bias_period: Vec<f64> = (0..m)
            .map(|i| if i < rows { bias(i) } else { 0.0 })
            .collect();
        let bias = if bias_period.iter().all(|&v| v == 0.0) {
            None
        } else {
            Some(bias_period.iter().copied().cycle().take(slots).collect())
        };
        Ok(Self {
            slots,
            n_in: n,
            m,
            giant,
            baby,
            groups,
            tree,
            bias,
            windowed,
            gather: None,
        })
    }

    /// The matrix stacking the parts' matrices row-wise: part `k`'s first `rows` rows become
    /// rows `k·rows …` of the result, biases alike (`[M_0; M_1; …]·x = [M_0·x; M_1·x; …]`, so
    /// several linear maps of one ciphertext — a bank of filters — run as one transform).
    /// The input period is the largest of the parts'; a part reads its own period only.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for no parts, windowed or gathered parts, parts planned for other slot
    /// counts, `rows` above a part's output period, or a stack that overflows; as
    /// [`LinearTransform::new`].
    pub fn stack(parts: &[&Self], rows: usize) -> Result<Self> {
        let invalid = |reason| Error::InvalidShape {
            op: "stack transforms",
            shape: vec![parts.len(), rows],
            reason,
        };
        let first = parts.first().ok_or_else(|| invalid("nothing to stack"))?;
        if parts
            .iter()
            .any(|p| p.windowed || p.gather.is_some() || p.slots != first.slots || rows > p.m)
        {
            return Err(invalid(
                "parts must be periodic, on one slot count, with at least `rows` outputs",
            ));
        }
        let total = rows
            .checked_mul(parts.len())
            .ok_or_else(|| invalid("stack overflows"))?;
        let n = parts.iter().map(|p| p.n_in).max().unwrap_or(1);
        let lookups: Vec<DiagonalLookup<'_>> = parts.iter().map(|p| p.lookup()).collect();
        let rows = rows.max(1);
        Self::new(
            first.slots,
            n,
            total,
            |i, j| {
                lookups
                    .get(i / rows)
                    .map_or(0.0, |l| l.coefficient(i % rows, j))
            },
            |i| {
                parts
                    .get(i / rows)
                    .and_then(|p| p.bias.as_ref()?.get(i % rows).copied())
                    .unwrap_or(0.0)
            },
        )
    }

    fn lookup(&self) -> DiagonalLookup<'_> {
        let mut by_b: Vec<Option<&[f64]>> = vec![None; self.m];
        for (g, list) in &self.groups {
            for (bi, diag) in list {
                if let Some(&r) = self.baby.get(*bi)
                    && let Some(slot) = by_b.get_mut(g * self.giant + r)
                {
                    *slot = Some(diag.as_slice());
                }
            }
        }
        DiagonalLookup { t: self, by_b }
    }

    /// The input gather this transform reads ([`LinearTransform::gathered`],
    /// [`LinearTransform::compose_gather`]); `None` for the row-major single-input layout.
    #[must_use]
    pub fn gather(&self) -> Option<&Gather> {
        self.gather.as_deref()
    }

    /// The non-zero coefficients `(i, j, M[i][j])` (`i < m`, `j <` the input period), read
    /// from the stored diagonals, ordered by diagonal.
    #[must_use]
    pub fn entries(&self) -> Vec<(usize, usize, f64)> {
        let n = self.n_in;
        let mut out = Vec::new();
        for (g, list) in &self.groups {
            let shift = g * self.giant;
            for (bi, diag) in list {
                let Some(&r) = self.baby.get(*bi) else {
                    continue;
                };
                let b = shift + r;
                for s in 0..n {
                    // The diagonal was pre-rotated by −G·g: D_b[s] sits at slot s + G·g.
                    let v = if self.windowed {
                        diag.get((s + shift) % self.slots).copied().unwrap_or(0.0)
                    } else {
                        diag.get((s + shift) % n).copied().unwrap_or(0.0)
                    };
                    if v != 0.0 {
                        out.push((s % self.m, (s + b) % n, v));
                    }
                }
            }
        }
        out
    }

    /// The bias of output `i` (`i <` the output period; zero without a bias).
    #[must_use]
    pub fn bias_at(&self, i: usize) -> f64 {
        self.bias
            .as_ref()
            .and_then(|b| b.get(i % self.m))
            .copied()
            .unwrap_or(0.0)
    }

    /// Whether this is a [windowed](LinearTransform::windowed) transform (output valid on
    /// `[0, m)` only).
    #[must_use]
    pub fn is_windowed(&self) -> bool {
        self.windowed
    }

    /// Input period `n` (after raising it to the output period).
    #[must_use]
    pub fn input_period(&self) -> usize {
        self.n_in
    }

    /// Output period `m`.
    #[must_use]
    pub fn output_period(&self) -> usize {
        self.m
    }

    /// Slot count this transform was planned for.
    #[must_use]
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Number of non-zero diagonals (plaintext products).
    #[must_use]
    pub fn diagonals(&self) -> usize {
        self.groups.iter().map(|(_, l)| l.len()).sum()
    }

    /// The rotation steps [`LinearTransform::apply`] uses, each with its number of uses, in
    /// the order: hoisted baby steps, Horner giant steps, tree steps.
    #[must_use]
    pub fn rotation_uses(&self) -> BTreeMap<usize, usize> {
        let mut uses = BTreeMap::new();
        let mut add = |s: usize| {
            if !s.is_multiple_of(self.slots) {
                *uses.entry(s).or_insert(0) += 1;
            }
        };
        for &r in &self.baby {
            add(r);
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
        uses
    }

    /// The distinct rotation steps (left rotations) this transform needs keys for.
    #[must_use]
    pub fn rotation_steps(&self) -> BTreeSet<i64> {
        self.rotation_uses()
            .keys()
            .filter_map(|&s| i64::try_from(s).ok())
            .collect()
    }

    /// Key switches [`LinearTransform::apply`] performs with exact keys.
    #[must_use]
    pub fn key_switches(&self) -> usize {
        self.rotation_uses().values().sum()
    }

    /// `M·x + bias` on a ciphertext whose slots are periodic with period
    /// [`LinearTransform::input_period`]; every rotation uses its own key. One level.
    ///
    /// # Errors
    /// Backend errors (`LevelExhausted`, `MissingGaloisKey`); [`Error::InvalidShape`] when the
    /// backend's slot count differs from the planned one.
    pub fn apply<B: Backend>(&self, be: &B, x: &B::Ct) -> Result<B::Ct> {
        self.apply_with(be, x, &RotationTable::exact())
    }

    /// As [`LinearTransform::apply`], rotating through `table` (steps it composes are not
    /// hoisted). Encodes the diagonals for the level of `x` on every call; a transform applied
    /// more than once should be [prepared](LinearTransform::prepare) once instead.
    ///
    /// # Errors
    /// As [`LinearTransform::apply`].
    pub fn apply_with<B: Backend>(
        &self,
        be: &B,
        x: &B::Ct,
        table: &RotationTable,
    ) -> Result<B::Ct> {
        self.prepare(be, be.level(x))?.apply_with(be, x, table)
    }

    /// Encodes every diagonal once ([`Backend::encode_plain`]) for inputs at `level`: the
    /// form to keep when the transform is applied many times (a model's layers at their
    /// planned levels). The `f64` diagonals are not kept.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] when the backend's slot count differs from the planned one;
    /// the `encode_plain` errors (`LevelExhausted` at level 0).
    pub fn prepare<B: Backend>(&self, be: &B, level: u32) -> Result<PreparedTransform<B>> {
        self.check_slots(be)?;
        let mut bytes = 0usize;
        let mut groups = Vec::with_capacity(self.groups.len());
        let mut shape_groups = Vec::with_capacity(self.groups.len());
        for (g, list) in &self.groups {
            let mut encoded = Vec::with_capacity(list.len());
            for (bi, diag) in list {
                let pt = be.encode_plain(diag, level)?;
                bytes = bytes.saturating_add(be.plain_bytes(&pt));
                encoded.push((*bi, pt));
            }
            shape_groups.push((*g, list.iter().map(|(bi, _)| (*bi, Vec::new())).collect()));
            groups.push((*g, encoded));
        }
        // An all-zero matrix multiplies by a zero diagonal to keep the one-level contract.
        let zero = if groups.is_empty() {
            let pt = be.encode_plain(&[], level)?;
            bytes = bytes.saturating_add(be.plain_bytes(&pt));
            Some(pt)
        } else {
            None
        };
        Ok(PreparedTransform {
            shape: Self {
                groups: shape_groups,
                ..self.clone_without_groups()
            },
            level,
            groups,
            zero,
            bytes,
        })
    }

    fn clone_without_groups(&self) -> Self {
        Self {
            slots: self.slots,
            n_in: self.n_in,
            m: self.m,
            giant: self.giant,
            baby: self.baby.clone(),
            groups: Vec::new(),
            tree: self.tree.clone(),
            bias: self.bias.clone(),
            windowed: self.windowed,
            gather: self.gather.clone(),
        }
    }

    fn check_slots<B: Backend>(&self, be: &B) -> Result<()> {
        if be.slots() == self.slots {
            Ok(())
        } else {
            Err(Error::InvalidShape {
                op: "linear transform",
                shape: vec![self.slots, be.slots()],
                reason: "planned for another slot count",
            })
        }
    }

    /// The plaintext reference: every slot `s` gets `Σ_{j<n} coef(s mod m, j) · x[j] +
    /// bias(s mod m)` (rows `≥ rows` are zero), from the same `coef`/`bias` the transform was
    /// built from — a direct loop, independent of the diagonal decomposition. `x` holds one
    /// input period (`n` values, missing ones read as zero).
    #[must_use]
    pub fn reference(
        &self,
        x: &[f64],
        rows: usize,
        coef: impl Fn(usize, usize) -> f64,
        bias: impl Fn(usize) -> f64,
    ) -> Vec<f64> {
        let y: Vec<f64> = (0..self.m)
            .map(|i| {
                if i >= rows {
                    return 0.0;
                }
                let dot: f64 = (0..self.n_in)
                    .map(|j| coef(i, j) * x.get(j).copied().unwrap_or(0.0))
                    .sum();
                dot + bias(i)
            })
            .collect();
        y.iter().copied().cycle().take(self.slots).collect()
    }
}

/// The stored diagonals of a [`LinearTransform`] by diagonal index `b < m`.
struct DiagonalLookup<'a> {
    t: &'a LinearTransform,
    by_b: Vec<Option<&'a [f64]>>,
}

impl DiagonalLookup<'_> {
    /// `M[i][j]` (`i < m`, `j < n`), read back from the pre-rotated diagonals: it sits on
    /// diagonal `b = (j − i) mod m` at period position `s = (j − b) mod n`, stored at slot
    /// `s + G·g` (mod `n`) of diagonal `(g, r) = (b / G, b mod G)`.
    fn coefficient(&self, i: usize, j: usize) -> f64 {
        let t = self.t;
        if i >= t.m || j >= t.n_in {
            return 0.0;
        }
        let b = (j + t.m - i % t.m) % t.m;
        let Some(Some(diag)) = self.by_b.get(b) else {
            return 0.0;
        };
        let s = (j + t.n_in - b % t.n_in) % t.n_in;
        let shift = (b / t.giant) * t.giant;
        diag.get((s + shift) % t.n_in).copied().unwrap_or(0.0)
    }
}

/// A [`LinearTransform`] with its diagonals encoded once for inputs at one level
/// ([`LinearTransform::prepare`]). Each giant group is one [`Backend::mul_plain_sum`]: the
/// products of the group summed before a single rescale, no encoding at evaluation.
#[derive(Clone, Debug)]
pub struct PreparedTransform<B: Backend> {
    /// The transform's structure (baby steps, giant groups, tree, bias); its diagonals are
    /// dropped (empty vectors), the encoded ones are in `groups`.
    shape: LinearTransform,
    level: u32,
    groups: Vec<EncodedGroup<B::Pt>>,
    zero: Option<B::Pt>,
    bytes: usize,
}

impl<B: Backend> PreparedTransform<B> {
    /// The input level the diagonals were encoded for.
    #[must_use]
    pub fn level(&self) -> u32 {
        self.level
    }

    /// Bytes of the encoded diagonals ([`Backend::plain_bytes`] summed).
    #[must_use]
    pub fn plain_bytes(&self) -> usize {
        self.bytes
    }

    /// Input period `n`.
    #[must_use]
    pub fn input_period(&self) -> usize {
        self.shape.n_in
    }

    /// The input gather the transform reads ([`LinearTransform::gather`]).
    #[must_use]
    pub fn gather(&self) -> Option<&Gather> {
        self.shape.gather()
    }

    /// Output period `m`.
    #[must_use]
    pub fn output_period(&self) -> usize {
        self.shape.m
    }

    /// Number of non-zero diagonals (plaintext products per application).
    #[must_use]
    pub fn diagonals(&self) -> usize {
        self.shape.diagonals()
    }

    /// The distinct rotation steps this transform needs keys for.
    #[must_use]
    pub fn rotation_steps(&self) -> BTreeSet<i64> {
        self.shape.rotation_steps()
    }

    /// Key switches one application performs with exact keys.
    #[must_use]
    pub fn key_switches(&self) -> usize {
        self.shape.key_switches()
    }

    /// The rotation steps one application uses with exact keys, each with its number of
    /// uses ([`LinearTransform::rotation_uses`]).
    #[must_use]
    pub fn rotation_uses(&self) -> BTreeMap<usize, usize> {
        self.shape.rotation_uses()
    }

    /// `M·x + bias` for `x` at [`PreparedTransform::level`], every rotation with its own key.
    /// One level.
    ///
    /// # Errors
    /// As [`PreparedTransform::apply_with`].
    pub fn apply(&self, be: &B, x: &B::Ct) -> Result<B::Ct> {
        self.apply_with(be, x, &RotationTable::exact())
    }

    /// As [`PreparedTransform::apply`], rotating through `table` (steps it composes are not
    /// hoisted).
    ///
    /// # Errors
    /// [`fhez_backend::Error::LevelMismatch`] (before any rotation) when `x` is not at the
    /// prepared level; [`Error::InvalidShape`] for another slot count; backend errors
    /// (`MissingGaloisKey`).
    pub fn apply_with(&self, be: &B, x: &B::Ct, table: &RotationTable) -> Result<B::Ct> {
        let t = &self.shape;
        t.check_slots(be)?;
        if be.level(x) != self.level {
            return Err(fhez_backend::Error::LevelMismatch {
                op: "linear transform",
                expected: self.level,
                found: be.level(x),
            }
            .into());
        }
        let mut babies: Vec<Option<B::Ct>> = vec![None; t.baby.len()];
        let mut hoisted: Vec<(usize, i64)> = Vec::new();
        for (k, &r) in t.baby.iter().enumerate() {
            let s = to_step(r)?;
            if r == 0 {
                if let Some(slot) = babies.get_mut(k) {
                    *slot = Some(x.clone());
                }
            } else if table.is_exact(s) {
                hoisted.push((k, s));
            } else if let Some(slot) = babies.get_mut(k) {
                *slot = Some(table.rotate(be, x, s)?);
            }
        }
        let steps: Vec<i64> = hoisted.iter().map(|&(_, s)| s).collect();
        for ((k, _), ct) in hoisted.iter().zip(be.rotate_hoisted(x, &steps)?) {
            if let Some(slot) = babies.get_mut(*k) {
                *slot = Some(ct);
            }
        }
        let mut acc: Option<B::Ct> = None;
        let mut g_prev = 0usize;
        for (g, list) in self.groups.iter().rev() {
            let terms: Vec<(&B::Ct, &B::Pt)> = list
                .iter()
                .filter_map(|(bi, pt)| match babies.get(*bi) {
                    Some(Some(xb)) => Some((xb, pt)),
                    Some(None) | None => None,
                })
                .collect();
            if terms.is_empty() {
                continue;
            }
            let inner = be.mul_plain_sum(&terms)?;
            acc = Some(match acc {
                Some(a) => {
                    let r = table.rotate(be, &a, to_step((g_prev - g) * t.giant)?)?;
                    be.add(&r, &inner)?
                }
                None => inner,
            });
            g_prev = *g;
        }
        let mut acc = match (acc, &self.zero) {
            (Some(a), _) => {
                if g_prev > 0 {
                    table.rotate(be, &a, to_step(g_prev * t.giant)?)?
                } else {
                    a
                }
            }
            (None, Some(zero)) => be.mul_plain_sum(&[(x, zero)])?,
            (None, None) => {
                return Err(Error::InvalidShape {
                    op: "linear transform",
                    shape: vec![t.n_in, t.m, t.slots],
                    reason: "prepared transform without diagonals",
                });
            }
        };
        for &s in &t.tree {
            let r = table.rotate(be, &acc, to_step(s)?)?;
            acc = be.add(&acc, &r)?;
        }
        if let Some(b) = &t.bias {
            acc = be.add_plain(&acc, b)?;
        }
        Ok(acc)
    }
}
