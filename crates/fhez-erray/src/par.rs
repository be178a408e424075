//! Mapping over ciphertexts, in parallel with rayon under the `parallel` feature.

use crate::Result;

/// `f(i)` for every `i` in `0..n`, collected in order; parallel with the `parallel` feature.
pub(crate) fn map_range<R: Send>(
    n: usize,
    f: impl Fn(usize) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().map(f).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        (0..n).map(f).collect()
    }
}

/// Sums items with `add`, as a balanced tree (depth-neutral for additions, and shorter
/// dependency chains). Returns `None` for no items.
pub(crate) fn tree_sum<T>(items: Vec<T>, add: impl Fn(&T, &T) -> Result<T>) -> Result<Option<T>> {
    let mut layer = items;
    while layer.len() > 1 {
        let mut next = Vec::with_capacity(layer.len().div_ceil(2));
        let mut it = layer.into_iter();
        while let Some(a) = it.next() {
            match it.next() {
                Some(b) => next.push(add(&a, &b)?),
                None => next.push(a),
            }
        }
        layer = next;
    }
    Ok(layer.into_iter().next())
}
