//! [`Gather`]: an input layout chosen for the first linear map that reads the input, and
//! [`LinearTransform::gathered`], that map re-indexed to the gathered input.
//!
//! A gather lays one input vector `x` (length `source_len`) out over one period of slots:
//! slot `s < period` holds `x[index(s)]` or zero when the slot is empty, and the period
//! repeats. An input index may sit in several slots (an im2col layout holds every pixel
//! once per kernel position that reads it). The gather is itself a linear map `G`
//! (`g = G·x`), so a matrix `M` over `x` becomes a matrix `M'` over `g` with `M'·G = M`:
//! every non-zero `M[i][j]` is placed at exactly one slot `s` holding `j`. Which slot is
//! chosen decides the diagonals of the transform (`M'[i][s]` sits on diagonal
//! `(s − i) mod m`, see [`crate::LinearTransform`]), so the slot is picked to reuse the
//! diagonals most other entries can use: fewer diagonals, fewer key switches.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{Error, LinearTransform, MAX_TRANSFORM_WORK, Result};

/// A slot layout of one input vector (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gather {
    source_len: usize,
    period: usize,
    slots: Vec<Option<usize>>,
}

impl Gather {
    /// The gather of a vector of `source_len` values with slot `s` holding
    /// `x[slots[s]]` (`None`: an empty slot), repeated every `period` slots.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] when `period` is not a power of two, exceeds
    /// [`MAX_TRANSFORM_WORK`], or is shorter than `slots`; [`Error::IndexOutOfBounds`] for
    /// an index `≥ source_len`.
    pub fn new(source_len: usize, period: usize, slots: Vec<Option<usize>>) -> Result<Self> {
        let invalid = |reason| Error::InvalidShape {
            op: "gather",
            shape: vec![source_len, period, slots.len()],
            reason,
        };
        if !period.is_power_of_two() || period > MAX_TRANSFORM_WORK {
            return Err(invalid(
                "the period must be a power of two within the transform limit",
            ));
        }
        if slots.len() > period {
            return Err(invalid("more slots than the period"));
        }
        if let Some(&bad) = slots.iter().flatten().find(|&&j| j >= source_len) {
            return Err(Error::IndexOutOfBounds {
                index: vec![bad],
                shape: vec![source_len],
            });
        }
        Ok(Self {
            source_len,
            period,
            slots,
        })
    }

    /// Length of the vector the gather reads.
    #[must_use]
    pub fn source_len(&self) -> usize {
        self.source_len
    }

    /// Repetition period of the gathered layout in slots (a power of two).
    #[must_use]
    pub fn period(&self) -> usize {
        self.period
    }

    /// The input index held by every slot of one period (shorter than the period: the
    /// remaining slots are empty).
    #[must_use]
    pub fn slots(&self) -> &[Option<usize>] {
        &self.slots
    }

    /// One period of the gathered layout of `x` (`period` values, empty slots zero).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `x` does not hold `source_len` values.
    pub fn apply(&self, x: &[f64]) -> Result<Vec<f64>> {
        if x.len() != self.source_len {
            return Err(Error::ShapeMismatch {
                op: "gather",
                lhs: vec![x.len()],
                rhs: vec![self.source_len],
            });
        }
        let mut out = vec![0.0; self.period];
        for (o, j) in out.iter_mut().zip(&self.slots) {
            if let Some(&v) = j.and_then(|j| x.get(j)) {
                *o = v;
            }
        }
        Ok(out)
    }

    /// The slot vector of `x` laid out by the gather on `slots` slots: one period of
    /// [`Gather::apply`], repeated.
    ///
    /// # Errors
    /// As [`Gather::apply`]; [`Error::InvalidShape`] when the period exceeds `slots` or
    /// does not divide it.
    pub fn layout(&self, x: &[f64], slots: usize) -> Result<Vec<f64>> {
        if self.period > slots || !slots.is_multiple_of(self.period) {
            return Err(Error::InvalidShape {
                op: "gather layout",
                shape: vec![self.period, slots],
                reason: "the period must divide the slots",
            });
        }
        let one = self.apply(x)?;
        Ok(one.iter().copied().cycle().take(slots).collect())
    }

    /// The im2col-style gather for the rows of `t` (a map over a row-major input of
    /// `source_len` values): rows reading the same input indices share a *window*; window
    /// `w` takes slot offset `o(w) < W` (`W` the window count; the index of its first row
    /// modulo `W` when free) and its `k`-th index (ascending) sits at slot `k·W + o(w)`. A row `i` then reads its `k`-th coefficient on diagonal
    /// `(k·W + o(w) − i) mod m`, the same for every row of a filter bank whose rows are laid
    /// out filter-major: one diagonal per (tap, filter) offset instead of one per distinct
    /// index difference. `None` when every row reads one window (a dense map: the
    /// row-major layout is already that) or the gathered period exceeds `t`'s slots.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] when `t` reads an index `≥ source_len` or the layout exceeds
    /// [`MAX_TRANSFORM_WORK`].
    pub fn for_transform(t: &LinearTransform, source_len: usize) -> Result<Option<Self>> {
        let invalid = |reason| Error::InvalidShape {
            op: "gather for transform",
            shape: vec![source_len, t.input_period(), t.output_period()],
            reason,
        };
        let m = t.output_period();
        let mut rows: Vec<Vec<usize>> = vec![Vec::new(); m];
        for (i, j, _) in t.entries() {
            if j >= source_len {
                return Err(invalid("the transform reads beyond the source"));
            }
            if let Some(r) = rows.get_mut(i) {
                r.push(j);
            }
        }
        let mut windows: BTreeMap<Vec<usize>, usize> = BTreeMap::new();
        let mut firsts: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, mut r) in rows.into_iter().enumerate() {
            if r.is_empty() {
                continue;
            }
            r.sort_unstable();
            r.dedup();
            if !windows.contains_key(&r) {
                windows.insert(r.clone(), firsts.len());
                firsts.push((i, r));
            }
        }
        if firsts.len() <= 1 {
            return Ok(None);
        }
        let width = firsts.len();
        let taps = firsts.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
        let period = match taps.checked_mul(width) {
            Some(p) if p <= MAX_TRANSFORM_WORK => p.next_power_of_two(),
            Some(_) | None => return Err(invalid("layout too large")),
        };
        if period > t.slots() {
            return Ok(None);
        }
        let mut offset_taken = vec![false; width];
        let mut slots: Vec<Option<usize>> = vec![None; taps * width];
        for (first_row, r) in &firsts {
            let want = first_row % width;
            let free = (0..width)
                .map(|d| (want + d) % width)
                .find(|&o| !offset_taken.get(o).copied().unwrap_or(true));
            let Some(o) = free else {
                return Err(invalid("no free window offset"));
            };
            if let Some(t) = offset_taken.get_mut(o) {
                *t = true;
            }
            for (k, &j) in r.iter().enumerate() {
                if let Some(s) = slots.get_mut(k * width + o) {
                    *s = Some(j);
                }
            }
        }
        Self::new(source_len, period, slots).map(Some)
    }

    /// The slots holding each input index: `(offsets, slots)` in compressed rows, the
    /// slots of index `j` at `slots[offsets[j]..offsets[j + 1]]`.
    fn occurrences(&self) -> (Vec<usize>, Vec<usize>) {
        let mut offsets = vec![0usize; self.source_len + 1];
        for &j in self.slots.iter().flatten() {
            if let Some(c) = offsets.get_mut(j + 1) {
                *c += 1;
            }
        }
        for k in 1..offsets.len() {
            let prev = offsets.get(k - 1).copied().unwrap_or(0);
            if let Some(c) = offsets.get_mut(k) {
                *c += prev;
            }
        }
        let mut fill = offsets.clone();
        let mut at = vec![0usize; self.slots.iter().flatten().count()];
        for (s, j) in self.slots.iter().enumerate() {
            if let Some(pos) = j.and_then(|j| fill.get_mut(j)) {
                if let Some(v) = at.get_mut(*pos) {
                    *v = s;
                }
                *pos += 1;
            }
        }
        (offsets, at)
    }
}

/// A matrix over a gathered input: per row, its `(slot, coefficient)` entries by slot.
struct GatheredMatrix {
    rows: Vec<Vec<(usize, f64)>>,
}

impl GatheredMatrix {
    fn coef(&self, i: usize, s: usize) -> f64 {
        self.rows.get(i).map_or(0.0, |r| {
            r.binary_search_by_key(&s, |&(slot, _)| slot)
                .ok()
                .and_then(|k| r.get(k))
                .map_or(0.0, |&(_, v)| v)
        })
    }
}

impl LinearTransform {
    /// Plans `y = M·x + bias` for `x` laid out by `gather`: the transform reads the
    /// gathered input (period `max(gather.period(), m)`), its matrix the re-indexing of
    /// `M` to the gathered slots (module docs of [`crate::gather`]). `coef(i, j)` is
    /// `M[i][j]` for `i < rows`, `j < gather.source_len()`.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] when `rows · source_len` or the slot choices exceed
    /// [`MAX_TRANSFORM_WORK`], or a non-zero column of `M` has no slot in the gather; as
    /// [`LinearTransform::new`].
    pub fn gathered(
        slots: usize,
        gather: &Gather,
        rows: usize,
        coef: impl Fn(usize, usize) -> f64,
        bias: impl Fn(usize) -> f64,
    ) -> Result<Self> {
        let invalid = |reason| Error::InvalidShape {
            op: "gathered transform",
            shape: vec![gather.source_len, gather.period, rows, slots],
            reason,
        };
        let m = rows.max(1).next_power_of_two();
        let n = gather.period.max(m);
        if n > slots {
            return Err(invalid("period exceeds the slots"));
        }
        match rows.checked_mul(gather.source_len) {
            Some(w) if w <= MAX_TRANSFORM_WORK => {}
            Some(_) | None => return Err(invalid("transform too large")),
        }
        let mut entries: Vec<(usize, usize, f64)> = Vec::new();
        for i in 0..rows {
            for j in 0..gather.source_len {
                let v = coef(i, j);
                if v != 0.0 {
                    entries.push((i, j, v));
                }
            }
        }
        let mut t = Self::gathered_entries(slots, gather, rows, &entries, bias)?;
        t.gather = Some(Arc::new(gather.clone()));
        Ok(t)
    }

    /// This map (over the row-major single-input layout) composed with `gather`: the
    /// same `y = M·x + bias` reading `x` laid out by the gather ([`LinearTransform::gathered`]
    /// of this transform's coefficients, [`LinearTransform::entries`]).
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for a windowed or already gathered transform, one planned
    /// for other slots, or a coefficient on an index outside the gather; as
    /// [`LinearTransform::gathered`].
    pub fn compose_gather(&self, gather: &Gather) -> Result<Self> {
        if self.is_windowed() || self.gather.is_some() {
            return Err(Error::InvalidShape {
                op: "compose gather",
                shape: vec![self.input_period(), self.output_period()],
                reason: "only a periodic row-major transform composes with a gather",
            });
        }
        let entries = self.entries();
        if let Some(&(_, j, _)) = entries.iter().find(|&&(_, j, _)| j >= gather.source_len) {
            return Err(Error::IndexOutOfBounds {
                index: vec![j],
                shape: vec![gather.source_len],
            });
        }
        let rows = self.output_period();
        let mut t =
            Self::gathered_entries(self.slots(), gather, rows, &entries, |i| self.bias_at(i))?;
        t.gather = Some(Arc::new(gather.clone()));
        Ok(t)
    }

    /// [`LinearTransform::gathered`] from the non-zero `(i, j, M[i][j])`.
    fn gathered_entries(
        slots: usize,
        gather: &Gather,
        rows: usize,
        entries: &[(usize, usize, f64)],
        bias: impl Fn(usize) -> f64,
    ) -> Result<Self> {
        let invalid = |reason| Error::InvalidShape {
            op: "gathered transform",
            shape: vec![gather.source_len, gather.period, rows, slots],
            reason,
        };
        let m = rows.max(1).next_power_of_two();
        let n = gather.period.max(m);
        if n > slots {
            return Err(invalid("period exceeds the slots"));
        }
        let (offsets, at) = gather.occurrences();
        // A periodic input of period p < n repeats: slot s also sits at s + p·k.
        let copies = n / gather.period;
        let candidates = |j: usize| {
            let lo = offsets.get(j).copied().unwrap_or(0);
            let hi = offsets.get(j + 1).copied().unwrap_or(lo);
            at.get(lo..hi)
                .unwrap_or(&[])
                .iter()
                .flat_map(move |&s| (0..copies).map(move |k| s + gather.period * k))
        };
        let mut work = 0usize;
        for &(_, j, _) in entries {
            let count = candidates(j).count();
            if count == 0 {
                return Err(invalid("a used input index has no slot in the gather"));
            }
            work = work.saturating_add(count);
            if work > MAX_TRANSFORM_WORK {
                return Err(invalid("transform too large"));
            }
        }
        // Score every diagonal by the entries that can use it, place each entry on its
        // best-scored candidate, then once more scoring only the diagonals chosen.
        let diagonal = |i: usize, s: usize| (s + m - i % m) % m;
        let mut score = vec![0usize; m];
        for &(i, j, _) in entries {
            for s in candidates(j) {
                if let Some(c) = score.get_mut(diagonal(i, s)) {
                    *c += 1;
                }
            }
        }
        let choose = |score: &[usize], i: usize, j: usize| {
            candidates(j)
                .map(|s| (score.get(diagonal(i, s)).copied().unwrap_or(0), s))
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
                .map_or(0, |(_, s)| s)
        };
        let mut chosen: Vec<usize> = entries
            .iter()
            .map(|&(i, j, _)| choose(&score, i, j))
            .collect();
        let mut used = vec![0usize; m];
        for (&(i, _, _), &s) in entries.iter().zip(&chosen) {
            if let Some(c) = used.get_mut(diagonal(i, s)) {
                *c += 1;
            }
        }
        chosen = entries
            .iter()
            .map(|&(i, j, _)| choose(&used, i, j))
            .collect();
        let mut matrix = GatheredMatrix {
            rows: vec![Vec::new(); rows],
        };
        for (&(i, _, v), &s) in entries.iter().zip(&chosen) {
            if let Some(r) = matrix.rows.get_mut(i) {
                r.push((s, v));
            }
        }
        for r in &mut matrix.rows {
            r.sort_by_key(|&(s, _)| s);
        }
        Self::new(slots, n, rows, |i, s| matrix.coef(i, s), bias)
    }
}

impl LinearTransform {
    /// `self ∘ inner`: the one map `x ↦ M·(N·x + c) + b = (M·N)·x + (M·c + b)` for this
    /// transform `M, b` applied to the output of `inner` (`N, c`), one level instead of
    /// two. This transform reads `inner`'s periodic output: its column `k` is `inner`'s row
    /// `k mod m_inner`. The result reads `inner`'s input (and its gather).
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for windowed transforms, transforms planned for other slot
    /// counts, a gathered `self`, or a product whose work exceeds [`MAX_TRANSFORM_WORK`].
    pub fn compose(&self, inner: &Self) -> Result<Self> {
        let invalid = |reason| Error::InvalidShape {
            op: "compose transforms",
            shape: vec![
                inner.input_period(),
                inner.output_period(),
                self.input_period(),
                self.output_period(),
            ],
            reason,
        };
        if self.is_windowed()
            || inner.is_windowed()
            || self.gather.is_some()
            || self.slots() != inner.slots()
        {
            return Err(invalid(
                "only periodic transforms on one slot count compose (the outer not gathered)",
            ));
        }
        let m_inner = inner.output_period();
        let mut by_row: Vec<Vec<(usize, f64)>> = vec![Vec::new(); m_inner];
        for (k, j, v) in inner.entries() {
            if let Some(r) = by_row.get_mut(k) {
                r.push((j, v));
            }
        }
        let mut product: BTreeMap<(usize, usize), f64> = BTreeMap::new();
        let mut bias: Vec<f64> = (0..self.output_period()).map(|i| self.bias_at(i)).collect();
        let mut work = 0usize;
        for (i, k, a) in self.entries() {
            let k = k % m_inner;
            let row = by_row.get(k).map_or(&[][..], Vec::as_slice);
            work = work.saturating_add(row.len());
            if work > MAX_TRANSFORM_WORK {
                return Err(invalid("product too large"));
            }
            for &(j, b) in row {
                *product.entry((i, j)).or_insert(0.0) += a * b;
            }
            if let Some(c) = bias.get_mut(i) {
                *c += a * inner.bias_at(k);
            }
        }
        let mut t = Self::new(
            self.slots(),
            inner.input_period(),
            self.output_period(),
            |i, j| product.get(&(i, j)).copied().unwrap_or(0.0),
            |i| bias.get(i).copied().unwrap_or(0.0),
        )?;
        t.gather.clone_from(&inner.gather);
        Ok(t)
    }
}
