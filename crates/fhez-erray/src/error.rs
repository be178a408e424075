//! The erray error type.

/// Result alias of `fhez-erray`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything an erray operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A backend error (level exhausted, missing Galois key, too many values, …).
    #[error(transparent)]
    Backend(#[from] fhez_backend::Error),
    /// Operand shapes are incompatible (after numpy broadcasting).
    #[error("shape mismatch in `{op}`: {lhs:?} vs {rhs:?}")]
    ShapeMismatch {
        /// Operation.
        op: &'static str,
        /// Left operand's shape.
        lhs: Vec<usize>,
        /// Right operand's (or requested) shape.
        rhs: Vec<usize>,
    },
    /// The operation cannot be done under this packing (or would need an unsupported data
    /// movement); the message names both.
    #[error("`{op}` is not supported with {packing} packing")]
    PackingUnsupported {
        /// Operation.
        op: &'static str,
        /// Packing name (`"flat"` or `"batch-in-slots"`).
        packing: &'static str,
    },
    /// Two errays with different packings were combined.
    #[error("packing mismatch in `{op}`: {lhs} vs {rhs}")]
    PackingMismatch {
        /// Operation.
        op: &'static str,
        /// Left packing name.
        lhs: &'static str,
        /// Right packing name.
        rhs: &'static str,
    },
    /// An axis argument beyond the array's dimensions.
    #[error("axis {axis} out of range for an array of {ndim} dimension(s)")]
    AxisOutOfRange {
        /// Requested axis.
        axis: usize,
        /// Number of dimensions.
        ndim: usize,
    },
    /// An index outside the shape.
    #[error("index {index:?} out of bounds for shape {shape:?}")]
    IndexOutOfBounds {
        /// The index.
        index: Vec<usize>,
        /// The shape.
        shape: Vec<usize>,
    },
    /// A shape that cannot be used here.
    #[error("invalid shape {shape:?} in `{op}`: {reason}")]
    InvalidShape {
        /// Operation.
        op: &'static str,
        /// The offending shape.
        shape: Vec<usize>,
        /// Why.
        reason: &'static str,
    },
    /// No choice of at most `budget` Galois keys serves the rotation steps
    /// ([`RotationTable::choose`](crate::RotationTable::choose)).
    #[error("key budget {budget} for {steps} rotation steps: {reason}")]
    KeyBudget {
        /// The key budget.
        budget: usize,
        /// The distinct steps (or the steps that need their own key).
        steps: usize,
        /// Why.
        reason: &'static str,
    },
    /// A rotation table read from a plan breaks a rule
    /// ([`RotationTable::from_parts`](crate::RotationTable::from_parts)).
    #[error("rotation table refused at step {step}: {reason}")]
    RotationTable {
        /// The step (or part) at fault (0 for the size limit).
        step: i64,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A rotation-based algorithm needs a power-of-two slot count.
    #[error("`{op}` needs a power-of-two slot count, the backend has {slots}")]
    SlotsNotPowerOfTwo {
        /// Operation.
        op: &'static str,
        /// Slots of the backend.
        slots: usize,
    },
}
