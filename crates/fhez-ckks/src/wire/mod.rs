//! The wire format: a versioned envelope around a compact little-endian payload.
//!
//! Every encoded object starts with a 48-byte envelope:
//!
//! | offset | size | field            | value                                  |
//! |-------:|-----:|------------------|----------------------------------------|
//! | 0      | 4    | magic            | `b"FHEZ"`                              |
//! | 4      | 2    | `format_version` | [`FORMAT_VERSION`] (u16 LE)            |
//! | 6      | 2    | kind             | [`ObjectKind`] (u16 LE)                |
//! | 8      | 32   | `params_id`      | [`ParamsId`] of the parameter set      |
//! | 40     | 8    | `payload_len`    | payload bytes that follow (u64 LE)     |
//! | 48     | …    | payload          | exactly `payload_len` bytes            |
//!
//! Payloads (all integers little-endian, a polynomial is its limbs in order,
//! each limb `n` u64 residues in NTT order, limb `i` below the `i`-th modulus):
//!
//! - **Params**: the JSON of [`CkksParams::spec`] (explicit primes). Reading
//!   rebuilds the parameters with [`CkksParams::new`] and checks the id.
//! - **Plaintext**: `level u32 | scale f64 bits u64 | poly (level+1 limbs)`.
//! - **Ciphertext**: `level u32 | scale u64 | count u32 (2 or 3) | count polys`.
//! - **Seeded ciphertext**: `level u32 | scale u64 | seed [u8; 32] | c0`; `c1`
//!   is regenerated from the seed.
//! - **Public key**: `seed [u8; 32] | b` over Q_L·P (q primes, then p primes);
//!   `a` is regenerated from the seed.
//! - **Relinearization key** (a key-switching key): `seed [u8; 32] | digits u32 |
//!   digits × b_j` over Q_L·P; the `a_j` are regenerated from the seed.
//! - **Galois keys**: `count u32 | count × (element u32 | key-switching key)`,
//!   elements odd, below 2N and strictly increasing.
//! - **Secret key**: `n × i8` ternary coefficients, through the explicitly named
//!   [`SecretKey::to_secret_bytes`] / [`SecretKey::from_secret_bytes`] only.
//!
//! Every reader takes a caller-supplied limit on the payload length and checks,
//! in order: envelope length, magic, version, kind, params id, `payload_len`
//! against the limit and against the bytes present (no trailing data), then the
//! payload: every count against what the parameters allow *before* allocating,
//! then every coefficient below its modulus. Any bad input is a typed
//! [`WireError`] (or a parameter error for a bad params payload), never a panic.

mod codec;
mod envelope;
mod objects;
mod secret;
#[cfg(test)]
mod tests;

use core::fmt;

pub use envelope::peek_envelope;
pub use objects::{
    MAX_PARAMS_BYTES, ciphertext_from_bytes, ciphertext_to_bytes, galois_keys_from_bytes,
    galois_keys_to_bytes, params_from_bytes, params_from_bytes_insecure_for_testing,
    params_to_bytes, plaintext_from_bytes, plaintext_to_bytes, public_key_from_bytes,
    public_key_to_bytes, relin_key_from_bytes, relin_key_to_bytes, seeded_ciphertext_from_bytes,
    seeded_ciphertext_to_bytes,
};

use crate::params::ParamsId;
#[cfg(doc)]
use crate::{CkksParams, SecretKey};

/// The four magic bytes every encoding starts with.
pub const MAGIC: [u8; 4] = *b"FHEZ";
/// The format version written, and the only one read.
pub const FORMAT_VERSION: u16 = 1;
/// Size of the envelope in bytes.
pub const ENVELOPE_LEN: usize = 48;
/// A payload limit for callers that do not need a tighter one: 1 GiB.
pub const DEFAULT_LIMIT: u64 = 1 << 30;

/// What an encoding holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u16)]
pub enum ObjectKind {
    /// A parameter set (JSON payload).
    Params = 1,
    /// A plaintext.
    Plaintext = 2,
    /// A full ciphertext.
    Ciphertext = 3,
    /// A seed-compressed fresh symmetric ciphertext.
    SeededCiphertext = 4,
    /// A public key.
    PublicKey = 5,
    /// A relinearization key.
    RelinKey = 6,
    /// A set of Galois keys.
    GaloisKeys = 7,
    /// A secret key (secret material: never print it).
    SecretKey = 8,
}

impl ObjectKind {
    /// The numeric tag written in the envelope.
    pub fn tag(self) -> u16 {
        self as u16
    }

    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Params => "params",
            ObjectKind::Plaintext => "plaintext",
            ObjectKind::Ciphertext => "ciphertext",
            ObjectKind::SeededCiphertext => "seeded ciphertext",
            ObjectKind::PublicKey => "public key",
            ObjectKind::RelinKey => "relinearization key",
            ObjectKind::GaloisKeys => "Galois keys",
            ObjectKind::SecretKey => "secret key",
        }
    }

    /// Whether the payload is secret material (only the secret key).
    pub fn is_secret(self) -> bool {
        self == ObjectKind::SecretKey
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<u16> for ObjectKind {
    type Error = WireError;

    fn try_from(tag: u16) -> Result<Self, WireError> {
        Ok(match tag {
            1 => ObjectKind::Params,
            2 => ObjectKind::Plaintext,
            3 => ObjectKind::Ciphertext,
            4 => ObjectKind::SeededCiphertext,
            5 => ObjectKind::PublicKey,
            6 => ObjectKind::RelinKey,
            7 => ObjectKind::GaloisKeys,
            8 => ObjectKind::SecretKey,
            found => return Err(WireError::UnknownKind { found }),
        })
    }
}

/// A decoded envelope: what an encoding claims to hold, without its payload.
///
/// Safe to print for any kind, including secret keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope {
    /// The object kind.
    pub kind: ObjectKind,
    /// The format version.
    pub version: u16,
    /// The parameter set's id.
    pub params_id: ParamsId,
    /// Length of the payload that follows the envelope.
    pub payload_len: u64,
}

/// Errors reading or writing the wire format. Every field is a number (or a
/// kind / params id), never a free-form string.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// Input ended early.
    #[error("truncated input: needed {needed} bytes, {available} available")]
    Truncated {
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// The input does not start with `b"FHEZ"`.
    #[error("bad magic bytes {found:02x?} (expected \"FHEZ\")")]
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A format version this build cannot read.
    #[error("unsupported format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version in the envelope.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// The kind tag is not a known [`ObjectKind`].
    #[error("unknown object kind {found}")]
    UnknownKind {
        /// The tag found.
        found: u16,
    },
    /// The encoding holds another kind of object.
    #[error("expected a {expected}, found a {found}")]
    WrongKind {
        /// The kind the reader wants.
        expected: ObjectKind,
        /// The kind in the envelope.
        found: ObjectKind,
    },
    /// The encoding belongs to another parameter set.
    #[error("parameter set mismatch: expected {expected}, found {found}")]
    ParamsMismatch {
        /// The id of the parameters supplied to the reader.
        expected: ParamsId,
        /// The id in the envelope.
        found: ParamsId,
    },
    /// A params payload opts out of the security check (a reader of untrusted bytes refuses
    /// it; see [`params_from_bytes_insecure_for_testing`]).
    #[error("parameters for N = 2^{log_n} opt out of the security check and are refused")]
    InsecureParams {
        /// log2 of the ring degree the payload claims.
        log_n: u32,
    },
    /// The payload is longer than the caller's limit.
    #[error("payload of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The payload length claimed by the envelope.
        len: u64,
        /// The caller's limit.
        limit: u64,
    },
    /// Bytes follow the payload.
    #[error("{extra} trailing bytes after the payload")]
    TrailingBytes {
        /// Number of extra bytes.
        extra: u64,
    },
    /// A length or count disagrees with what the parameters imply.
    #[error("{what}: expected {expected}, found {found}")]
    LengthMismatch {
        /// Which length.
        what: &'static str,
        /// The length the parameters imply.
        expected: u64,
        /// The length found.
        found: u64,
    },
    /// A level above the parameters' maximum level.
    #[error("level {level} exceeds the maximum level {max_level}")]
    BadLevel {
        /// The level found.
        level: u32,
        /// The parameters' maximum level.
        max_level: u32,
    },
    /// A ring degree other than the parameters' N.
    #[error("ring degree {found} does not match N = {expected}")]
    BadDegree {
        /// The degree found.
        found: u64,
        /// The parameters' ring degree.
        expected: u64,
    },
    /// A residue not below its modulus.
    #[error("coefficient {index} of limb {limb} is {value}, not below its modulus {modulus}")]
    CoefficientOutOfRange {
        /// The limb (index into the q primes, then the p primes).
        limb: u32,
        /// The coefficient's index within the limb.
        index: u64,
        /// The value found.
        value: u64,
        /// The limb's modulus.
        modulus: u64,
    },
    /// A scale that is NaN, infinite, zero or negative.
    #[error("invalid scale (f64 bits {bits:#018x}): must be finite and positive")]
    BadScale {
        /// The scale's IEEE-754 bits.
        bits: u64,
    },
    /// A ciphertext with a number of polynomials other than 2 or 3.
    #[error("a ciphertext has 2 or 3 polynomials, found {found}")]
    BadPolyCount {
        /// The count found.
        found: u32,
    },
    /// A secret-key coefficient outside {-1, 0, 1}.
    #[error("secret-key coefficient {index} is {value}, not in {{-1, 0, 1}}")]
    BadSecretCoefficient {
        /// The coefficient's index.
        index: u64,
        /// The value found.
        value: i64,
    },
    /// A Galois element that is even or not below 2N.
    #[error("Galois element {element} is not an odd number below 2N = {two_n}")]
    BadGaloisElement {
        /// The element found.
        element: u64,
        /// 2N.
        two_n: u64,
    },
    /// Galois elements out of order: they must be strictly increasing (so no
    /// element appears twice and every key set has one encoding).
    #[error(
        "Galois element {element} does not follow {previous}: elements must be strictly increasing"
    )]
    UnorderedGaloisElement {
        /// The element found.
        element: u64,
        /// The element before it.
        previous: u64,
    },
    /// The params payload is not valid JSON for a parameter spec.
    #[error("params payload is not a valid spec (JSON error at line {line}, column {column})")]
    BadParamsJson {
        /// 1-based line of the JSON error (0 when unknown).
        line: u64,
        /// 1-based column of the JSON error (0 when unknown).
        column: u64,
    },
}
