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
        let mut entries: Vec<(usize, usize, f64)> = Vec::new();
        let mut work = 0usize;
        for i in 0..rows {
            for j in 0..gather.source_len {
                let v = coef(i, j);
                if v == 0.0 {
                    continue;
                }
                let count = candidates(j).count();
                if count == 0 {
                    return Err(invalid("a used input index has no slot in the gather"));
                }
                work = work.saturating_add(count);
                if work > MAX_TRANSFORM_WORK {
                    return Err(invalid("transform too large"));
                }
                entries.push((i, j, v));
            }
        }
        // Score every diagonal by the entries that can use it, place each entry on its
        // best-scored candidate, then once more scoring only the diagonals chosen.
        let diagonal = |i: usize, s: usize| (s + m - i % m) % m;
        let mut score = vec![0usize; m];
        for &(i, j, _) in &entries {
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
