//! The backend error type.

use crate::BackendKind;

/// Result alias used throughout `fhez-backend` and by every [`Backend`](crate::Backend)
/// implementation.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything a backend operation can fail with.
///
/// Every variant carries the numbers needed to act on it (no stringly-typed reasons).
/// Engines with their own typed errors forward them through [`Error::Engine`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend cannot perform this operation at all.
    #[error("operation `{op}` is not supported by the {backend} backend")]
    Unsupported {
        /// Name of the operation.
        op: &'static str,
        /// Backend that refused it.
        backend: BackendKind,
    },
    /// The operation needs more levels than the operand has left.
    #[error("level exhausted in `{op}`: needs {needed} level(s), {available} available")]
    LevelExhausted {
        /// Name of the operation.
        op: &'static str,
        /// Levels the operation consumes.
        needed: u32,
        /// Levels left on the operand (its current level).
        available: u32,
    },
    /// An operand is not at the level the operation requires.
    #[error("level mismatch in `{op}`: expected level {expected}, found {found}")]
    LevelMismatch {
        /// Name of the operation.
        op: &'static str,
        /// The level required.
        expected: u32,
        /// The level found.
        found: u32,
    },
    /// No rotation (Galois) key for this step.
    #[error("missing Galois key for rotation step {step}")]
    MissingGaloisKey {
        /// The requested step, normalised to `[0, slots)`.
        step: i64,
    },
    /// More values than slots.
    #[error("too many values: {len} values for {slots} slots")]
    TooManyValues {
        /// Number of values supplied.
        len: usize,
        /// Slots per ciphertext.
        slots: usize,
    },
    /// A NaN or infinite input value.
    #[error("non-finite value at index {index}")]
    NonFinite {
        /// Index of the first offending value.
        index: usize,
    },
    /// Two lengths that must agree do not.
    #[error("length mismatch in `{op}`: expected {expected}, found {found}")]
    LengthMismatch {
        /// Name of the operation.
        op: &'static str,
        /// Expected length.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// Serialized input exceeds the caller-supplied size limit.
    #[error("{what} of {len} bytes exceeds the limit of {limit} bytes")]
    SizeLimit {
        /// What was being read.
        what: &'static str,
        /// Size found or announced.
        len: usize,
        /// Caller-supplied limit.
        limit: usize,
    },
    /// Serialized input that does not decode.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The outer framing ([`crate::frame`]) refused the input (boxed: it carries two
    /// 32-byte params ids, and every `Result` of the workspace carries this type).
    #[error(transparent)]
    Frame(Box<crate::frame::FrameError>),
    /// An engine-specific typed error (for example from `fhez-ckks`), forwarded unchanged.
    #[error("engine error: {0}")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl From<crate::frame::FrameError> for Error {
    fn from(e: crate::frame::FrameError) -> Self {
        Self::Frame(Box::new(e))
    }
}

impl Error {
    /// The frame's refusal, if this is one.
    #[must_use]
    pub fn as_frame(&self) -> Option<&crate::frame::FrameError> {
        match self {
            Self::Frame(f) => Some(f),
            Self::Unsupported { .. }
            | Self::LevelExhausted { .. }
            | Self::LevelMismatch { .. }
            | Self::MissingGaloisKey { .. }
            | Self::TooManyValues { .. }
            | Self::NonFinite { .. }
            | Self::LengthMismatch { .. }
            | Self::SizeLimit { .. }
            | Self::Malformed { .. }
            | Self::Engine(_) => None,
        }
    }

    /// Wraps an engine error without stringifying it.
    pub fn engine<E: std::error::Error + Send + Sync + 'static>(err: E) -> Self {
        Self::Engine(Box::new(err))
    }
}
