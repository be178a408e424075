//! Deterministic random inputs shared by every backend in a comparison.

use fhez_erray::PlainArray;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Seeded input generator: the same `(seed, stream, shape)` always gives the same array.
#[derive(Clone, Copy, Debug)]
pub struct Inputs {
    seed: u64,
    slots: usize,
}

impl Inputs {
    /// Inputs for `seed` on a backend with `slots` slots.
    #[must_use]
    pub fn new(seed: u64, slots: usize) -> Self {
        Self { seed, slots }
    }

    /// Slots of the backend under test (cases size themselves from it).
    #[must_use]
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// A uniform array in `[-1, 1)` for `stream` (distinct streams give independent arrays).
    /// An invalid (overflowing) shape yields an empty 1-d array.
    #[must_use]
    pub fn array(&self, stream: u64, shape: &[usize]) -> PlainArray {
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        PlainArray::from_fn(shape.to_vec(), |_| {
            (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .unwrap_or_else(|_| PlainArray::from_vec(Vec::new()))
    }
}
