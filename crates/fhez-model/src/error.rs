//! The umbrella error: every layer's error, plus the glue's own checks.

/// Result alias of the umbrella crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything the glue between a trained graph and the CKKS backend can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A graph, training, encrypted-evaluation or planning error.
    #[error(transparent)]
    Nn(#[from] fhez_nn::Error),
    /// A CKKS engine error (parameters, key generation).
    #[error(transparent)]
    Ckks(#[from] fhez_ckks::Error),
    /// A backend operation failed.
    #[error(transparent)]
    Backend(#[from] fhez_backend::Error),
    /// An erray operation failed.
    #[error(transparent)]
    Erray(#[from] fhez_erray::Error),
    /// Rendering the graph view failed (size cap, JSON).
    #[error(transparent)]
    GraphView(#[from] fhez_graphview::Error),
    /// The parameter set cannot run the plan.
    #[error("parameters do not fit the plan: {what} is {found}, the plan needs {needed}")]
    PlanMismatch {
        /// Which quantity.
        what: &'static str,
        /// What the plan needs.
        needed: u64,
        /// What the parameters offer.
        found: u64,
    },
    /// A batch larger than the one planned for.
    #[error("batch of {batch} samples exceeds the planned batch of {planned}")]
    BatchTooLarge {
        /// Samples given.
        batch: usize,
        /// Samples planned for.
        planned: usize,
    },
    /// A message's packing is not the plan's: a batch-in-slots message for a single-input
    /// plan (or the reverse), or a single-input message laid out with another period.
    #[error("`{node}`: the plan packs it {planned}, the message holds {found}")]
    PackingMismatch {
        /// The input or decrypt node of the entry.
        node: String,
        /// The plan's packing, with its batch or period (e.g. `single-input (period 1024)`).
        planned: String,
        /// The message's packing, with its batch or period.
        found: String,
    },
    /// A node that only the client can evaluate (a `Rotate`, i.e. a re-encryption) was
    /// reached by the server-only evaluation.
    #[error("node `{node}` ({kind}) needs a client round trip; the server cannot evaluate it")]
    NeedsClient {
        /// Node name.
        node: String,
        /// Node kind.
        kind: &'static str,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A JSON document (model file) could not be parsed or written.
    #[error("{what}: {source}")]
    Json {
        /// What was being read or written.
        what: String,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A file or message is well formed but does not fit (wrong format tag, version, an
    /// input shape, a parameter set other than the model's, …).
    #[error("{what}: {reason}")]
    Format {
        /// What was being read.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// Parameters whose scale cannot pay for the decryption's noise flooding
    /// ([`fhez_nn::plan::released_precision_bits`]).
    #[error(
        "parameters with scale 2^{log_scale} at N = 2^{log_n} leave no bit of precision after the decryption's noise flooding (the planner's rule needs a scale above 2^{needed})"
    )]
    NoReleasePrecision {
        /// `log2 N`.
        log_n: u32,
        /// `log2` of the scale.
        log_scale: u32,
        /// `log2` of the scale flooding alone uses up.
        needed: u32,
    },
    /// A message names an input or boundary node the graph does not have.
    #[error("no node named `{name}` in the graph")]
    UnknownNode {
        /// The name.
        name: String,
    },
}
