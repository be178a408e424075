//! The error type of `fhez-math`.

/// Errors returned by the fallible functions of `fhez-math`.
///
/// Every variant carries the numbers that explain it, never a free-form string.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A modulus outside `2 <= q < 2^62`, or not prime where a prime is needed.
    #[error(
        "invalid modulus {q}: must satisfy 2 <= q < 2^62 (and be prime where an NTT is needed)"
    )]
    InvalidModulus {
        /// The rejected modulus.
        q: u64,
    },
    /// `q` is not congruent to 1 modulo `2n`, so it has no primitive `2n`-th root of unity.
    #[error("modulus {q} is not NTT-friendly for degree {n}: need q prime and q = 1 mod {}", 2 * n)]
    NotNttFriendly {
        /// The modulus.
        q: u64,
        /// The ring degree.
        n: usize,
    },
    /// A ring degree that is not a power of two in the supported range.
    #[error("invalid ring degree {n}: must be a power of two in the supported range")]
    InvalidDegree {
        /// The rejected degree.
        n: usize,
    },
    /// Two objects that must share the ring degree do not.
    #[error("ring degree mismatch: expected {expected}, found {found}")]
    DegreeMismatch {
        /// The degree required.
        expected: usize,
        /// The degree supplied.
        found: usize,
    },
    /// A prime size outside the supported range `17..=61` bits.
    #[error("invalid prime size {bits} bits: must be in 17..=61")]
    InvalidPrimeBits {
        /// The rejected bit size.
        bits: u32,
    },
    /// Fewer NTT-friendly primes of the requested size exist than were asked for.
    #[error("found only {found} of {wanted} NTT primes of {bits} bits for degree {n}")]
    NotEnoughPrimes {
        /// The bit size requested.
        bits: u32,
        /// The ring degree.
        n: usize,
        /// How many primes were found.
        found: usize,
        /// How many primes were requested.
        wanted: usize,
    },
    /// A root-of-unity order that is not a power of two in `2..=2^24`, or does not divide `q - 1`.
    #[error("no primitive root of order {order} modulo {q}")]
    InvalidRootOrder {
        /// The modulus.
        q: u64,
        /// The requested order.
        order: u64,
    },
    /// Operands (or an operand and a basis) have incompatible numbers of RNS limbs.
    #[error("RNS limb count mismatch: expected {expected}, found {found}")]
    LimbMismatch {
        /// The limb count required.
        expected: usize,
        /// The limb count supplied.
        found: usize,
    },
    /// A buffer has the wrong length.
    #[error("length mismatch: expected {expected}, found {found}")]
    LengthMismatch {
        /// The length required.
        expected: usize,
        /// The length supplied.
        found: usize,
    },
    /// An RNS basis would be empty.
    #[error("an RNS basis needs at least one modulus")]
    EmptyBasis,
    /// An RNS basis lists the same modulus twice.
    #[error("modulus {q} appears twice in an RNS basis")]
    DuplicateModulus {
        /// The repeated modulus.
        q: u64,
    },
    /// `a` has no inverse modulo `q`.
    #[error("{a} is not invertible modulo {q}")]
    NotInvertible {
        /// The value.
        a: u64,
        /// The modulus.
        q: u64,
    },
    /// A Gaussian width that is not finite or outside `(0, MAX_GAUSSIAN_SIGMA]`.
    #[error("invalid Gaussian standard deviation {sigma}")]
    InvalidSigma {
        /// The rejected standard deviation.
        sigma: f64,
    },
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn error_strings() {
        assert_eq!(
            Error::InvalidModulus { q: 1 }.to_string(),
            "invalid modulus 1: must satisfy 2 <= q < 2^62 (and be prime where an NTT is needed)"
        );
        assert_eq!(
            Error::NotNttFriendly { q: 17, n: 16 }.to_string(),
            "modulus 17 is not NTT-friendly for degree 16: need q prime and q = 1 mod 32"
        );
        assert_eq!(
            Error::NotEnoughPrimes {
                bits: 20,
                n: 8,
                found: 1,
                wanted: 3
            }
            .to_string(),
            "found only 1 of 3 NTT primes of 20 bits for degree 8"
        );
        assert_eq!(
            Error::LimbMismatch {
                expected: 3,
                found: 2
            }
            .to_string(),
            "RNS limb count mismatch: expected 3, found 2"
        );
        assert_eq!(
            Error::NotInvertible { a: 4, q: 8 }.to_string(),
            "4 is not invertible modulo 8"
        );
    }
}
