//! Deterministic train/test splits that reproduce scikit-learn's
//! `train_test_split(..., random_state=seed[, stratify=y])` index for index.
//!
//! scikit-learn draws from NumPy's legacy `RandomState(seed)` (MT19937), so this
//! module carries a minimal re-implementation of that generator: integer
//! seeding, `permutation` (Fisher–Yates with NumPy's masked rejection sampling)
//! and `choice(replace=False)`. Checked against scikit-learn 1.9.1 / NumPy 2.4
//! in the tests below.

use crate::error::{DataError, Result};

const N: usize = 624;
const M: usize = 397;

/// NumPy's legacy `RandomState` (MT19937), the subset scikit-learn's splitters use.
#[derive(Clone)]
pub struct NumpyRandomState {
    state: [u32; N],
    pos: usize,
}

impl std::fmt::Debug for NumpyRandomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumpyRandomState")
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl NumpyRandomState {
    /// `numpy.random.RandomState(seed)` for an integer seed.
    #[must_use]
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; N];
        let mut s = seed;
        for (i, slot) in state.iter_mut().enumerate() {
            *slot = s;
            let i1 = u32::try_from(i + 1).unwrap_or(u32::MAX);
            s = 1_812_433_253u32
                .wrapping_mul(s ^ (s >> 30))
                .wrapping_add(i1);
        }
        Self { state, pos: N }
    }

    #[expect(clippy::indexing_slicing, reason = "all indices are reduced modulo N")]
    fn twist(&mut self) {
        for k in 0..N {
            let y = (self.state[k] & 0x8000_0000) | (self.state[(k + 1) % N] & 0x7fff_ffff);
            let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
            self.state[k] = self.state[(k + M) % N] ^ (y >> 1) ^ mag;
        }
        self.pos = 0;
    }

    /// The next tempered 32-bit output (`genrand_int32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= N {
            self.twist();
        }
        let mut y = self.state.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// A uniform integer in `0..=max` (NumPy's `random_interval`).
    pub fn random_interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for s in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> s;
        }
        loop {
            let v = if max <= 0xffff_ffff {
                u64::from(self.next_u32()) & mask
            } else {
                ((u64::from(self.next_u32()) << 32) | u64::from(self.next_u32())) & mask
            };
            if v <= max {
                return v;
            }
        }
    }

    /// In-place shuffle, the same swaps as `RandomState.shuffle` on a 1-d array.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.random_interval(i as u64)).unwrap_or(0);
            items.swap(i, j);
        }
    }

    /// `RandomState.permutation(n)`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        self.shuffle(&mut v);
        v
    }
}

fn counts(n: usize, test_fraction: f64, op: &'static str) -> Result<(usize, usize)> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(DataError::InvalidParameter {
            op,
            param: "test_fraction",
            value: test_fraction,
            valid: "0 < test_fraction < 1",
        });
    }
    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "sklearn computes ceil(test_size * n_samples) in float64"
    )]
    let n_test = (test_fraction * n as f64).ceil() as usize;
    let n_train = n.saturating_sub(n_test);
    if n_test == 0 || n_train == 0 {
        return Err(DataError::InvalidParameter {
            op,
            param: "samples",
            value: n as f64,
            valid: "enough samples for a non-empty train and test set",
        });
    }
    Ok((n_train, n_test))
}

/// `sklearn.model_selection.train_test_split(range(n), test_size=test_fraction,
/// random_state=seed)` (i.e. `ShuffleSplit`): returns `(train, test)` indices
/// in scikit-learn's order.
///
/// # Errors
/// [`DataError::InvalidParameter`] for a fraction outside (0, 1) or too few samples.
pub fn shuffle_split(n: usize, test_fraction: f64, seed: u32) -> Result<(Vec<usize>, Vec<usize>)> {
    let (n_train, n_test) = counts(n, test_fraction, "shuffle_split")?;
    let mut rng = NumpyRandomState::new(seed);
    let perm = rng.permutation(n);
    let test = perm.iter().take(n_test).copied().collect();
    let train = perm.iter().skip(n_test).take(n_train).copied().collect();
    Ok((train, test))
}

/// scikit-learn's `_approximate_mode`: split `n_draws` over classes in
/// proportion to `class_counts`, breaking ties at random.
fn approximate_mode(
    class_counts: &[usize],
    n_draws: usize,
    rng: &mut NumpyRandomState,
) -> Vec<usize> {
    let total: usize = class_counts.iter().sum();
    #[expect(
        clippy::cast_precision_loss,
        reason = "mirrors NumPy's float64 arithmetic"
    )]
    let continuous: Vec<f64> = class_counts
        .iter()
        .map(|&c| c as f64 / total as f64 * n_draws as f64)
        .collect();
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "floor of a non-negative count"
    )]
    let mut floored: Vec<usize> = continuous.iter().map(|c| c.floor() as usize).collect();
    let mut need = n_draws.saturating_sub(floored.iter().sum());
    if need > 0 {
        let remainder: Vec<f64> = continuous
            .iter()
            .zip(&floored)
            .map(|(&c, &f)| {
                #[expect(clippy::cast_precision_loss, reason = "small integer")]
                let f = f as f64;
                c - f
            })
            .collect();
        let mut values = remainder.clone();
        values.sort_by(|a, b| b.total_cmp(a));
        values.dedup_by(|a, b| a == b);
        for value in values {
            let inds: Vec<usize> = remainder
                .iter()
                .enumerate()
                .filter(|&(_, &r)| r == value)
                .map(|(i, _)| i)
                .collect();
            let add_now = inds.len().min(need);
            let perm = rng.permutation(inds.len());
            for &p in perm.iter().take(add_now) {
                if let Some(slot) = inds.get(p).and_then(|&i| floored.get_mut(i)) {
                    *slot += 1;
                }
            }
            need -= add_now;
            if need == 0 {
                break;
            }
        }
    }
    floored
}

/// `sklearn.model_selection.train_test_split(range(n), test_size=test_fraction,
/// random_state=seed, stratify=labels)` (i.e. `StratifiedShuffleSplit`):
/// returns `(train, test)` indices in scikit-learn's order, so
/// `X[train]` equals scikit-learn's `X_train` row for row.
///
/// # Errors
/// [`DataError::InvalidParameter`] for a bad fraction or when a split would
/// hold fewer samples than there are classes.
pub fn stratified_split(
    labels: &[u8],
    test_fraction: f64,
    seed: u32,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let op = "stratified_split";
    let (n_train, n_test) = counts(labels.len(), test_fraction, op)?;
    let mut classes: Vec<u8> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    // indices of each class in ascending order (NumPy's stable argsort)
    let class_indices: Vec<Vec<usize>> = classes
        .iter()
        .map(|&c| {
            labels
                .iter()
                .enumerate()
                .filter(|&(_, &l)| l == c)
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    let class_counts: Vec<usize> = class_indices.iter().map(Vec::len).collect();
    if n_train < classes.len() || n_test < classes.len() {
        return Err(DataError::InvalidParameter {
            op,
            param: "test_fraction",
            value: test_fraction,
            valid: "train and test sizes of at least the number of classes",
        });
    }
    let mut rng = NumpyRandomState::new(seed);
    let n_i = approximate_mode(&class_counts, n_train, &mut rng);
    let remaining: Vec<usize> = class_counts
        .iter()
        .zip(&n_i)
        .map(|(&c, &k)| c.saturating_sub(k))
        .collect();
    let t_i = approximate_mode(&remaining, n_test, &mut rng);
    let mut train = Vec::with_capacity(n_train);
    let mut test = Vec::with_capacity(n_test);
    for ((idx, &ni), &ti) in class_indices.iter().zip(&n_i).zip(&t_i) {
        let perm = rng.permutation(idx.len());
        let permuted: Vec<usize> = perm.iter().filter_map(|&p| idx.get(p).copied()).collect();
        train.extend(permuted.iter().take(ni));
        test.extend(permuted.iter().skip(ni).take(ti));
    }
    rng.shuffle(&mut train);
    rng.shuffle(&mut test);
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    type TestResult = std::result::Result<(), Box<dyn Error>>;

    #[test]
    fn mt19937_matches_numpy() {
        // numpy.random.RandomState(0).randint(0, 2**32, 3, dtype=np.uint64) draws raw 32-bit words;
        // the first output of MT19937 seeded with 5489 is the reference 3499211612.
        let mut r = NumpyRandomState::new(5489);
        assert_eq!(r.next_u32(), 3_499_211_612);
        let mut r = NumpyRandomState::new(0);
        assert_eq!(r.next_u32(), 2_357_136_044);
    }

    #[test]
    fn bad_fractions() {
        for f in [0.0, 1.0, -0.5, f64::NAN] {
            assert!(shuffle_split(10, f, 0).is_err());
        }
        assert!(stratified_split(&[0, 1, 2, 0], 0.5, 0).is_err());
    }

    #[test]
    fn splits_are_partitions() -> TestResult {
        let labels: Vec<u8> = (0..103u32).map(|i| ((i * 7) % 10) as u8).collect();
        let (tr, te) = stratified_split(&labels, 0.2, 3)?;
        assert_eq!((tr.len(), te.len()), (82, 21));
        let mut all: Vec<usize> = tr.iter().chain(&te).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        Ok(())
    }
    /// Reference: scikit-learn 1.9.1 / NumPy 2.4.6,
    /// `train_test_split(np.arange(n), test_size=f, random_state=seed, stratify=labels)`.
    #[test]
    fn stratified_matches_sklearn() -> TestResult {
        let labels: Vec<u8> = (0..103u32).map(|i| ((i * 7) % 10) as u8).collect();
        let (tr, te) = stratified_split(&labels, 0.2, 3)?;
        assert_eq!(
            tr,
            [
                92, 41, 16, 23, 74, 79, 58, 27, 60, 80, 18, 97, 95, 51, 31, 22, 39, 52, 15, 54, 62,
                47, 40, 61, 12, 73, 100, 9, 8, 84, 38, 101, 5, 0, 99, 57, 4, 53, 63, 69, 25, 77,
                43, 17, 29, 44, 81, 37, 68, 87, 70, 35, 49, 66, 86, 26, 91, 6, 10, 46, 20, 88, 94,
                65, 82, 1, 28, 2, 96, 76, 64, 45, 34, 3, 33, 98, 11, 32, 93, 55, 102, 59
            ]
        );
        assert_eq!(
            te,
            [
                90, 21, 30, 13, 7, 75, 24, 78, 36, 56, 71, 42, 19, 67, 85, 89, 50, 14, 48, 72, 83
            ]
        );
        let labels: Vec<u8> = (0..57u32).map(|i| ((i * i + 3 * i) % 4) as u8).collect();
        let (tr, te) = stratified_split(&labels, 0.3, 42)?;
        assert_eq!(
            tr,
            [
                14, 24, 45, 43, 46, 50, 53, 29, 33, 5, 27, 16, 15, 52, 42, 6, 2, 10, 8, 9, 35, 51,
                22, 3, 21, 48, 7, 34, 25, 11, 17, 26, 32, 44, 4, 1, 18, 0, 41
            ]
        );
        assert_eq!(
            te,
            [
                36, 13, 20, 40, 23, 55, 56, 30, 39, 38, 19, 37, 54, 28, 12, 49, 47, 31
            ]
        );
        Ok(())
    }

    #[test]
    fn shuffle_matches_sklearn() -> TestResult {
        let (tr, te) = shuffle_split(20, 0.25, 7)?;
        assert_eq!(tr, [0, 18, 6, 13, 19, 10, 14, 8, 16, 9, 12, 7, 3, 4, 15]);
        assert_eq!(te, [1, 17, 2, 5, 11]);
        Ok(())
    }
}
