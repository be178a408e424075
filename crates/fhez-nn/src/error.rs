//! The `fhez-nn` error type. Every variant carries numbers and node names, never prose.

/// Result alias of `fhez-nn`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything building, loading, training, running or planning a graph can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An erray operation failed (shape, packing or backend error).
    #[error(transparent)]
    Erray(#[from] fhez_erray::Error),
    /// A backend operation failed.
    #[error(transparent)]
    Backend(#[from] fhez_backend::Error),
    /// JSON that does not parse.
    #[error("graph JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An error raised while evaluating one node; names the node.
    #[error("node `{node}` ({kind}): {source}")]
    AtNode {
        /// Node name.
        node: String,
        /// Node kind.
        kind: &'static str,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// An encrypted evaluation ran out of levels at a node.
    #[error(
        "node `{node}` ({kind}) needs {needed} multiplicative level(s) but its input has {available} left"
    )]
    DepthExhausted {
        /// Node name.
        node: String,
        /// Node kind.
        kind: &'static str,
        /// Levels the node consumes (its declared depth).
        needed: u32,
        /// Level of its input when it fired.
        available: u32,
    },
    /// Two shapes that must agree do not.
    #[error("shape mismatch in {what}: expected {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// What was being checked.
        what: &'static str,
        /// Expected shape.
        expected: Vec<usize>,
        /// Shape found.
        found: Vec<usize>,
    },
    /// A stored parameter whose shape disagrees with the node's configuration.
    #[error("node `{node}`: parameter `{param}` has shape {found:?}, config implies {expected:?}")]
    WeightShape {
        /// Node name.
        node: String,
        /// Parameter name.
        param: &'static str,
        /// Shape the configuration implies.
        expected: Vec<usize>,
        /// Shape stored.
        found: Vec<usize>,
    },
    /// A configuration value out of its valid range.
    #[error("invalid `{field}` = {value} ({reason})")]
    InvalidConfig {
        /// Field name.
        field: &'static str,
        /// Offending value.
        value: f64,
        /// Valid range, as a fixed phrase.
        reason: &'static str,
    },
    /// A node name used twice.
    #[error("duplicate node name `{name}`")]
    DuplicateNode {
        /// The name.
        name: String,
    },
    /// A node name or id that does not exist.
    #[error("unknown node `{name}`")]
    UnknownNode {
        /// The name (or the id, printed).
        name: String,
    },
    /// A `kind` the loader does not know.
    #[error("node `{node}` has unknown kind `{kind}`")]
    UnknownNodeKind {
        /// Node name.
        node: String,
        /// The kind found.
        kind: String,
    },
    /// A node entry whose fields do not parse for its kind.
    #[error("node `{node}` ({kind}): {source}")]
    NodeConfig {
        /// Node name.
        node: String,
        /// Node kind.
        kind: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// An edge that refers to a node index outside the graph.
    #[error("edge {edge} refers to node index {index}, the graph has {nodes} node(s)")]
    DanglingEdge {
        /// Edge position.
        edge: usize,
        /// Offending node index.
        index: usize,
        /// Number of nodes.
        nodes: usize,
    },
    /// A port number beyond a node's ports.
    #[error("node `{node}` has {ports} {direction} port(s), port {port} does not exist")]
    PortOutOfRange {
        /// Node name.
        node: String,
        /// `"input"` or `"output"`.
        direction: &'static str,
        /// Port requested.
        port: usize,
        /// Ports the node has.
        ports: usize,
    },
    /// An input port with no incoming edge.
    #[error("input port {port} of node `{node}` is not connected")]
    PortGap {
        /// Node name.
        node: String,
        /// The unconnected port.
        port: usize,
    },
    /// Two edges into the same input port.
    #[error("input port {port} of node `{node}` has more than one incoming edge")]
    PortTaken {
        /// Node name.
        node: String,
        /// The port.
        port: usize,
    },
    /// The graph has a directed cycle through this node.
    #[error("the graph has a cycle through node `{node}`")]
    Cycle {
        /// A node on the cycle.
        node: String,
    },
    /// The file's `format_version` is not supported.
    #[error("graph format version {found} is not supported (this build reads {supported})")]
    UnsupportedVersion {
        /// Version found.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// A node that only runs on the client (after decryption) was reached on ciphertexts.
    #[error("node `{node}` ({kind}) cannot run on ciphertexts; put a decrypt node before it")]
    NotEncryptable {
        /// Node name.
        node: String,
        /// Node kind.
        kind: &'static str,
    },
    /// An input signal was not supplied or has the wrong count.
    #[error("expected {expected} input(s), got {found}")]
    InputCount {
        /// Inputs the graph has.
        expected: usize,
        /// Inputs supplied.
        found: usize,
    },
    /// Training needs at least one loss node that fired.
    #[error("no loss node fired; training needs a loss reachable from the inputs")]
    NoLoss,
    /// A value that must be finite is not (names the node that produced it).
    #[error("node `{node}` produced a non-finite value at index {index}")]
    NonFinite {
        /// Node name.
        node: String,
        /// First offending index.
        index: usize,
    },
    /// No secure parameter set can hold this depth and precision.
    #[error(
        "no secure CKKS parameters: log2(QP) = {log_qp} bits exceeds the largest 128-bit bound {max_log_qp} (N = 2^16)"
    )]
    NoSecureParams {
        /// Bits needed.
        log_qp: u32,
        /// Largest allowed.
        max_log_qp: u32,
    },
    /// A count, shape or product declared by a graph or model file over its limit
    /// (see [`crate::limits`]).
    #[error("{what} of {found} exceeds the limit of {limit}")]
    LimitExceeded {
        /// The quantity (a fixed phrase, e.g. `"tensor elements"`).
        what: &'static str,
        /// The value declared (`usize::MAX` when computing it overflowed).
        found: usize,
        /// The limit ([`crate::limits`]).
        limit: usize,
    },
    /// A requested prime size above what the CKKS engine generates.
    #[error("planned prime of {bits} bits exceeds the {max}-bit limit")]
    PrimeTooLarge {
        /// Bits requested.
        bits: u32,
        /// Limit.
        max: u32,
    },
}

impl Error {
    /// Wraps `self` with the node it happened at (leaves node-named errors unchanged).
    #[must_use]
    pub fn at_node(self, node: &str, kind: &'static str) -> Self {
        if let Self::NotEncryptable { node: n, kind: k } = &self
            && n.is_empty()
        {
            return Self::NotEncryptable {
                node: node.to_owned(),
                kind: k,
            };
        }
        let named = matches!(
            self,
            Self::AtNode { .. }
                | Self::DepthExhausted { .. }
                | Self::NotEncryptable { .. }
                | Self::NonFinite { .. }
                | Self::WeightShape { .. }
        );
        if named {
            self
        } else {
            Self::AtNode {
                node: node.to_owned(),
                kind,
                source: Box::new(self),
            }
        }
    }
}
