//! [`Error`]: everything an import can refuse, one line each, naming the node or value.

/// What went wrong importing an ONNX model. Every message is one line and names the node
/// (or initializer, or input) and the numbers involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A count or size over an explicit limit of [`crate::limits`].
    #[error("{what} is {found}, over the limit of {limit}")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// The value found (saturated at `usize::MAX`).
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not a well-formed ONNX protobuf (truncated, corrupted, not ONNX).
    #[error("not a valid ONNX file: {what} does not decode ({reason})")]
    Decode {
        /// Which message failed.
        what: &'static str,
        /// The decoder's reason.
        reason: String,
    },
    /// The model has no graph (or is empty).
    #[error("not a valid ONNX model: no graph")]
    NoGraph,
    /// A default-domain opset outside the supported range.
    #[error("unsupported opset: domain `{domain}` version {version} (supported: {min}..={max})")]
    Opset {
        /// The domain (`ai.onnx` for the default).
        domain: String,
        /// The version declared.
        version: i64,
        /// Lowest supported version.
        min: i64,
        /// Highest supported version.
        max: i64,
    },
    /// A graph input or output the importer cannot use.
    #[error("graph input `{name}`: {reason}")]
    Input {
        /// The value name.
        name: String,
        /// What is wrong, with the numbers.
        reason: String,
    },
    /// An operator without a sound encrypted form, or that the importer does not support.
    #[error("node `{node}`: operator {op} is not supported ({hint})")]
    Unsupported {
        /// The node name.
        node: String,
        /// The operator type.
        op: String,
        /// What to use instead.
        hint: String,
    },
    /// A node whose attributes, inputs or shapes cannot be imported.
    #[error("node `{node}` ({op}): {reason}")]
    Node {
        /// The node name.
        node: String,
        /// The operator type.
        op: String,
        /// What is wrong, with the numbers.
        reason: String,
    },
    /// An initializer (or constant) whose data does not match its declared type or shape.
    #[error("initializer `{name}`: {reason}")]
    Initializer {
        /// The tensor name.
        name: String,
        /// What is wrong, with the numbers.
        reason: String,
    },
    /// A non-polynomial activation met without calibration data to fit it on.
    #[error(
        "node `{node}` ({op}) is replaced by a fitted polynomial and needs calibration data \
         (pass calibration inputs)"
    )]
    NeedsCalibration {
        /// The node name.
        node: String,
        /// The operator type.
        op: String,
    },
    /// Calibration data of the wrong size.
    #[error("calibration data: {reason}")]
    Calibration {
        /// What is wrong, with the numbers.
        reason: String,
    },
    /// A graph error from `fhez-nn` while building or running the imported graph.
    #[error(transparent)]
    Nn(#[from] fhez_nn::Error),
    /// A model-file error from `fhez-model`.
    #[error(transparent)]
    Model(#[from] fhez_model::Error),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
