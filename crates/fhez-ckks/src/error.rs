//! The crate's error type: one enum, numeric fields, no string reasons.

use crate::params::ParamsId;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `fhez-ckks`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An arithmetic-layer error (modulus, NTT, RNS).
    #[error(transparent)]
    Math(#[from] fhez_math::Error),
    /// A slot-encoding error (too many values, NaN, …).
    #[error(transparent)]
    Encoding(#[from] crate::encoding::EncodingError),
    /// A wire-format error (truncated, corrupted, oversized, wrong kind, …).
    #[error(transparent)]
    Wire(#[from] crate::wire::WireError),
    /// The parameter set exceeds the 128-bit security bound for its ring degree.
    #[error(
        "insecure parameters: log2(QP) = {log_qp:.1} exceeds the 128-bit bound {max_for_n} for N = 2^{log_n} (opt in with SecurityLevel::InsecureForTesting)"
    )]
    InsecureParams {
        /// log2 of the product of all primes (ciphertext and key-switching).
        log_qp: f64,
        /// The bound from the HomomorphicEncryption.org table.
        max_for_n: u32,
        /// log2 of the ring degree.
        log_n: u32,
    },
    /// A parameter is outside its valid range.
    #[error("invalid parameter {what}: {value} (allowed {min}..={max})")]
    InvalidParam {
        /// Which parameter.
        what: &'static str,
        /// The value given.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// A prime was given twice, or is not NTT-friendly for this degree.
    #[error("modulus {q} is unusable for N = {n} (duplicate, not prime, or not 1 mod 2N)")]
    BadModulus {
        /// The offending modulus.
        q: u64,
        /// The ring degree.
        n: usize,
    },
    /// The operation needs more levels than the ciphertext has left.
    #[error("{op} needs {needed} level(s) but only {available} remain")]
    LevelExhausted {
        /// The operation.
        op: &'static str,
        /// Levels needed.
        needed: u32,
        /// Levels available.
        available: u32,
    },
    /// A requested level is above the ciphertext's current level (levels only go down).
    #[error("cannot raise a ciphertext from level {from} to level {to}")]
    LevelIncrease {
        /// Current level.
        from: u32,
        /// Requested level.
        to: u32,
    },
    /// The scale no longer fits in the modulus at this level.
    #[error(
        "scale 2^{log2_scale:.1} does not fit under log2(Q) = {log2_q_at_level:.1} at this level"
    )]
    ScaleOverflow {
        /// log2 of the scale.
        log2_scale: f64,
        /// log2 of the ciphertext modulus at the operand's level.
        log2_q_at_level: f64,
    },
    /// The operands' scales differ and cannot be aligned.
    #[error(
        "scales differ: 2^{lhs_log2:.3} vs 2^{rhs_log2:.3} (tolerance 2^{tolerance:.1} relative)"
    )]
    ScaleMismatch {
        /// log2 of the left scale.
        lhs_log2: f64,
        /// log2 of the right scale.
        rhs_log2: f64,
        /// log2 of the relative tolerance.
        tolerance: f64,
    },
    /// No Galois key for this rotation step, nor power-of-two keys to compose it.
    #[error("missing Galois key for rotation step {step}")]
    MissingGaloisKey {
        /// The rotation step (positive = left).
        step: i64,
    },
    /// No Galois key for complex conjugation.
    #[error("missing Galois key for conjugation")]
    MissingConjugationKey,
    /// Objects made under different parameter sets were combined.
    #[error("parameter mismatch: {lhs} vs {rhs}")]
    ParamsMismatch {
        /// Id of the first operand's parameters.
        lhs: ParamsId,
        /// Id of the second operand's parameters.
        rhs: ParamsId,
    },
    /// More values than slots.
    #[error("{len} values do not fit in {slots} slots")]
    TooManyValues {
        /// Number of values given.
        len: usize,
        /// Slots available.
        slots: usize,
    },
    /// A ciphertext of the wrong size (number of polynomials) for the operation.
    #[error("{op} needs a ciphertext of {expected} polynomials, got {found}")]
    CiphertextSize {
        /// The operation.
        op: &'static str,
        /// Polynomials expected.
        expected: usize,
        /// Polynomials found.
        found: usize,
    },
    /// A value times the scale reaches half the ciphertext modulus at the level: it would
    /// wrap around modulo Q and decrypt to an unrelated number.
    #[error(
        "value at index {index} is too large: |scale·x| = 2^{log2_value:.2} reaches Q/2 = 2^{log2_half_q:.2} at this level"
    )]
    ValueTooLarge {
        /// Index of the slot value (of the coefficient, for an encoded constant).
        index: usize,
        /// log2 of |scale·x|.
        log2_value: f64,
        /// log2 of Q_l/2 at the plaintext's level.
        log2_half_q: f64,
    },
    /// A reply to be decrypted for release carries more than the expected noise in an
    /// imaginary part or an unused slot (see [`crate::shared`]).
    #[error(
        "reply rejected: {} of slot {slot} has modulus 2^{log2_magnitude:.2} above the bound 2^{log2_bound:.2}",
        if *imaginary { "the imaginary part" } else { "unused slot value" }
    )]
    ReplyRejected {
        /// The slot.
        slot: usize,
        /// Whether the imaginary part of a used slot (rather than an unused slot) failed.
        imaginary: bool,
        /// log2 of the offending modulus.
        log2_magnitude: f64,
        /// log2 of the bound.
        log2_bound: f64,
    },
    /// The flooding noise of a shared decryption could wrap around Q/2 at this level.
    #[error(
        "flooding noise of standard deviation 2^{log2_sigma:.1} does not fit under Q/2 = 2^{log2_half_q:.1}"
    )]
    FloodingTooLarge {
        /// log2 of the flooding standard deviation.
        log2_sigma: f64,
        /// log2 of Q_l/2 at the ciphertext's level.
        log2_half_q: f64,
    },
    /// The operating system's random source failed.
    #[error("the operating system's random source failed (OS error {os_error:?})")]
    OsRng {
        /// The OS error number, when there is one.
        os_error: Option<i32>,
    },
    /// A value is NaN or infinite, or too large to encode at this scale.
    #[error(
        "value at index {index} cannot be encoded at scale 2^{log2_scale:.1} (NaN, infinite or too large)"
    )]
    Unencodable {
        /// Index of the value.
        index: usize,
        /// log2 of the scale.
        log2_scale: f64,
    },
}
