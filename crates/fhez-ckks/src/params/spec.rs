//! The unchecked, serde-editable description of a parameter set.

use serde::{Deserialize, Serialize};

use super::SecurityLevel;

/// A CKKS parameter set as written by a user (JSON-editable, unchecked).
///
/// Give the ciphertext primes either as bit sizes (`log_q`, primes are then the
/// largest NTT-friendly primes of those sizes, as SEAL's `CoeffModulus::Create`) or
/// explicitly (`q`); the same for the key-switching (special) primes `log_p` / `p`.
/// `q[0]` is the base prime (it must exceed the scale by the integer bits wanted at
/// the last level), `q[1..]` are the scaling primes consumed by rescaling, from the
/// last one down. The number of special primes is also the number of ciphertext
/// primes per key-switching digit (hybrid key switching).
///
/// [`CkksParams::new`](super::CkksParams::new) validates it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CkksParamsSpec {
    /// log2 of the ring degree N (10..=17).
    pub log_n: u32,
    /// Bit sizes of the ciphertext primes, q_0 first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_q: Vec<u32>,
    /// Explicit ciphertext primes (instead of `log_q`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub q: Vec<u64>,
    /// Bit sizes of the key-switching primes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_p: Vec<u32>,
    /// Explicit key-switching primes (instead of `log_p`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub p: Vec<u64>,
    /// log2 of the default scale Δ.
    pub log_scale: u32,
    /// Security check; 128-bit unless explicitly opted out.
    #[serde(default)]
    pub security: SecurityLevel,
}

impl CkksParamsSpec {
    /// A spec with ring degree 2^`log_n` and no primes yet.
    pub fn new(log_n: u32) -> Self {
        Self {
            log_n,
            log_q: Vec::new(),
            q: Vec::new(),
            log_p: Vec::new(),
            p: Vec::new(),
            log_scale: 40,
            security: SecurityLevel::Tc128,
        }
    }

    /// Ciphertext prime sizes in bits, q_0 first.
    pub fn with_log_q(mut self, bits: &[u32]) -> Self {
        self.log_q = bits.to_vec();
        self.q.clear();
        self
    }

    /// Explicit ciphertext primes, q_0 first.
    pub fn with_q(mut self, primes: &[u64]) -> Self {
        self.q = primes.to_vec();
        self.log_q.clear();
        self
    }

    /// Key-switching prime sizes in bits.
    pub fn with_log_p(mut self, bits: &[u32]) -> Self {
        self.log_p = bits.to_vec();
        self.p.clear();
        self
    }

    /// Explicit key-switching primes.
    pub fn with_p(mut self, primes: &[u64]) -> Self {
        self.p = primes.to_vec();
        self.log_p.clear();
        self
    }

    /// The default scale 2^`log_scale`.
    pub fn with_log_scale(mut self, log_scale: u32) -> Self {
        self.log_scale = log_scale;
        self
    }

    /// Checks the set against the bound of `level` (for example
    /// [`SecurityLevel::Tc128Guideline2024`], the stricter 2024 guideline values).
    pub fn with_security(mut self, level: SecurityLevel) -> Self {
        self.security = level;
        self
    }

    /// Turns the 128-bit security check off. Ciphertexts made under such
    /// parameters protect nothing; use only in tests and toy examples.
    pub fn insecure_for_testing(mut self) -> Self {
        self.security = SecurityLevel::InsecureForTesting;
        self
    }

    /// A spec from SEAL-style arguments: all `bits` but the last are ciphertext
    /// primes, the last is the single special prime.
    pub fn from_seal_bits(log_n: u32, bits: &[u32], log_scale: u32) -> Self {
        let split = bits.len().saturating_sub(1);
        let (q, p) = bits.split_at(split);
        Self::new(log_n)
            .with_log_q(q)
            .with_log_p(p)
            .with_log_scale(log_scale)
    }
}
