//! Splitting one operation's limbs, digits and columns over rayon's thread pool, and not
//! splitting when that cannot pay: with one thread, or when the operation is small, the tasks
//! run inline in order (no hand-off to the pool, whose wake-up costs more than a small task).
//!
//! Every task computes what the sequential loop computes for its part, so results never
//! depend on whether or how the work was split (`tests/parallel.rs`).

use rayon::prelude::*;

use crate::Result;

/// The least number of words (coefficients × limbs) an operation must touch to be split:
/// below it (ring degrees under 2^11 with a few limbs) the pool hand-offs cost more than
/// the work.
pub(crate) const MIN_SPLIT_WORDS: usize = 1 << 13;

/// [`MIN_SPLIT_WORDS`] for operations with little work per word (rescale: one NTT and one
/// conversion per limb): a two-polynomial rescale at N = 2^13 with three limbs (49,152
/// words) measured slower split over two threads than on one, on a loaded machine
/// (docs/results/kernels.md).
pub(crate) const MIN_SPLIT_WORDS_LIGHT: usize = 1 << 16;

/// Columns per task of a split basis conversion.
pub(crate) const COLUMN_CHUNK: usize = 1 << 10;

/// Whether an operation touching `words` words is split over the pool: there is more than
/// one thread and enough work.
#[must_use]
pub(crate) fn worth_splitting(words: usize) -> bool {
    worth_splitting_from(words, MIN_SPLIT_WORDS)
}

/// [`worth_splitting`] with the least number of words given.
#[must_use]
pub(crate) fn worth_splitting_from(words: usize, min_words: usize) -> bool {
    words >= min_words && rayon::current_num_threads() > 1
}

/// Runs `f` on every task, on the pool when `split`, else in order on this thread.
pub(crate) fn for_each<T: Send>(split: bool, tasks: Vec<T>, f: impl Fn(T) + Sync + Send) {
    if split && tasks.len() > 1 {
        tasks.into_par_iter().for_each(f);
    } else {
        tasks.into_iter().for_each(f);
    }
}

/// [`for_each`] for fallible tasks: the first error (in task order when not split).
pub(crate) fn try_for_each<T: Send>(
    split: bool,
    tasks: Vec<T>,
    f: impl Fn(T) -> Result<()> + Sync + Send,
) -> Result<()> {
    if split && tasks.len() > 1 {
        tasks.into_par_iter().try_for_each(f)
    } else {
        tasks.into_iter().try_for_each(f)
    }
}

/// The results of `f` on every task, in task order.
pub(crate) fn map<T: Send, R: Send>(
    split: bool,
    tasks: Vec<T>,
    f: impl Fn(T) -> R + Sync + Send,
) -> Vec<R> {
    if split && tasks.len() > 1 {
        tasks.into_par_iter().map(f).collect()
    } else {
        tasks.into_iter().map(f).collect()
    }
}

/// `(a(), b())`, side by side when `split`.
pub(crate) fn join<A: Send, B: Send>(
    split: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if split { rayon::join(a, b) } else { (a(), b()) }
}

/// The exact conversion of `input` into the limb-major `out` (`n` coefficients per limb),
/// split by columns when `split`: each task converts [`COLUMN_CHUNK`] columns of every
/// output limb.
pub(crate) fn convert_exact(
    split: bool,
    conv: &fhez_math::BasisConverter,
    n: usize,
    input: &[u64],
    out: &mut [u64],
) {
    if !split || n <= COLUMN_CHUNK {
        conv.convert_exact(input, out);
        return;
    }
    let chunks = n.div_ceil(COLUMN_CHUNK);
    let mut tasks: Vec<(usize, Vec<&mut [u64]>)> = (0..chunks)
        .map(|c| (c * COLUMN_CHUNK, Vec::with_capacity(conv.to_len())))
        .collect();
    for limb in out.chunks_exact_mut(n) {
        for ((_, pieces), piece) in tasks.iter_mut().zip(limb.chunks_mut(COLUMN_CHUNK)) {
            pieces.push(piece);
        }
    }
    for_each(true, tasks, |(start, mut pieces)| {
        conv.convert_exact_columns(input, start, &mut pieces);
    });
}
