//! The 128-bit security bounds for ternary secrets.
//!
//! N = 2^10 … 2^15 follow the HomomorphicEncryption.org standard (v1.1, Table 1,
//! classical 128-bit, ternary secret): the largest log2(QP) — the product of all
//! ciphertext *and* key-switching primes — for each ring degree. The standard
//! stops at 2^15; for 2^16 we use 1747 bits, the value the lattice estimator
//! gives and that OpenFHE's extended table uses (conservative compared with the
//! 1772 some libraries accept).

use serde::{Deserialize, Serialize};

/// How a parameter set's security is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SecurityLevel {
    /// 128-bit classical security per the HomomorphicEncryption.org table (the default).
    #[default]
    Tc128,
    /// No security check at all. For unit tests and toy examples only: ciphertexts made
    /// with such parameters protect nothing.
    InsecureForTesting,
}

/// `(log2 N, max log2 QP)` for 128-bit classical security with a ternary secret.
const TC128_MAX_LOG_QP: [(u32, u32); 7] = [
    (10, 27),
    (11, 54),
    (12, 109),
    (13, 218),
    (14, 438),
    (15, 881),
    (16, 1747),
];

/// The largest secure log2(QP) for ring degree 2^`log_n` at 128-bit security, or
/// `None` when the table has no entry (N below 2^10 or above 2^16).
pub fn max_log_qp_128(log_n: u32) -> Option<u32> {
    TC128_MAX_LOG_QP
        .iter()
        .find(|(l, _)| *l == log_n)
        .map(|(_, max)| *max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_standard() {
        assert_eq!(max_log_qp_128(13), Some(218));
        assert_eq!(max_log_qp_128(14), Some(438));
        assert_eq!(max_log_qp_128(15), Some(881));
        assert_eq!(max_log_qp_128(9), None);
        assert_eq!(max_log_qp_128(17), None);
        for w in TC128_MAX_LOG_QP.windows(2) {
            assert_eq!(w[1].0, w[0].0 + 1);
            assert!(w[1].1 > w[0].1);
        }
    }
}
