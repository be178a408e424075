//! Backend identity and capabilities.

use std::collections::BTreeSet;
use std::fmt;

/// Which backend family a value belongs to. Configs and serialized graphs name backends by
/// this enum, never by a generic parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum BackendKind {
    /// Exact f64 reference backend ([`Plain`](crate::Plain)).
    Plain,
    /// Data-free level/depth simulator ([`Sim`](crate::Sim)).
    Sim,
    /// The pure-Rust CKKS engine (`fhez-ckks`).
    Ckks,
    /// The optional SEAL FFI backend.
    Seal,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Plain => "plain",
            Self::Sim => "sim",
            Self::Ckks => "ckks",
            Self::Seal => "seal",
        })
    }
}

/// Which rotation steps a backend holds keys for.
///
/// Steps are compared modulo the slot count: a key for step `-1` serves step `slots - 1`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RotationSet {
    /// Every step is available.
    #[default]
    All,
    /// Only these steps (any representative modulo `slots`).
    Steps(BTreeSet<i64>),
}

impl RotationSet {
    /// Whether a rotation by `step` is available with `slots` slots. Step 0 (mod `slots`) is
    /// the identity and always available.
    #[must_use]
    pub fn contains(&self, step: i64, slots: usize) -> bool {
        let norm = normalize_step(step, slots);
        if norm == 0 {
            return true;
        }
        match self {
            Self::All => true,
            Self::Steps(set) => set.iter().any(|&s| normalize_step(s, slots) == norm),
        }
    }
}

/// Normalises a rotation step to `[0, slots)`. Returns 0 when `slots` is 0.
#[must_use]
pub fn normalize_step(step: i64, slots: usize) -> i64 {
    match i64::try_from(slots) {
        Ok(n) if n > 0 => step.rem_euclid(n),
        Ok(_) | Err(_) => 0,
    }
}

/// What a backend instance can do. Every backend exposes one through
/// [`Backend::caps`](crate::Backend::caps).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Caps {
    /// Real slots per ciphertext (`N/2` for CKKS).
    pub slots: usize,
    /// Level of a fresh ciphertext; level 0 is the last usable one (Lattigo/SEAL convention).
    pub max_level: u32,
    /// log2 of the default scale Δ (precision budget); `f64::INFINITY`-free, 0 for Plain.
    pub log_scale: f64,
    /// Rotation keys available.
    pub rotations: RotationSet,
}

impl Caps {
    /// Creates a capability record.
    #[must_use]
    pub fn new(slots: usize, max_level: u32, log_scale: f64, rotations: RotationSet) -> Self {
        Self {
            slots,
            max_level,
            log_scale,
            rotations,
        }
    }
}
