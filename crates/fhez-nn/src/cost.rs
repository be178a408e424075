//! [`Cost`]: what a node needs from an encrypted backend.

use serde::{Deserialize, Serialize};

/// Declared cost of one node on ciphertexts (per forward pass of a batch).
///
/// `depth` is the number of multiplicative levels the node consumes on its deepest path
/// under the `fhez_backend::Backend` level rules (a ct×pt or ct×ct product or a
/// non-integer scalar each cost one; additions and integer scalars are free). It is exact
/// for generic (non-integer) weights; the planner measures the actual value on `Sim`,
/// which can be lower when weights happen to be small integers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    /// Multiplicative levels consumed.
    pub depth: u32,
    /// Slot rotations (key switches) per ciphertext batch.
    pub rotations: u32,
    /// Whether the node must run on the client, after decryption.
    pub client_only: bool,
}

impl Cost {
    /// A free node (no level, no rotation).
    pub const FREE: Self = Self {
        depth: 0,
        rotations: 0,
        client_only: false,
    };

    /// A node that only runs on decrypted values.
    pub const CLIENT: Self = Self {
        depth: 0,
        rotations: 0,
        client_only: true,
    };

    /// A node consuming `depth` levels and no rotations.
    #[must_use]
    pub const fn levels(depth: u32) -> Self {
        Self {
            depth,
            rotations: 0,
            client_only: false,
        }
    }
}

/// Depth of a generic degree-`d` polynomial under the backend rules: `⌈log2(d + 1)⌉`
/// (what `Erray::polyval` reaches).
#[must_use]
pub fn poly_depth(degree: u32) -> u32 {
    match degree {
        0 => 0,
        d => u32::BITS - d.leading_zeros(),
    }
}
