//! The JSON shapes of the HTTP API, shared by the server and the client.

use fhez::ckks::CkksParamsSpec;
use fhez::{EncryptedInput, Task};
use serde::{Deserialize, Serialize};

/// Header carrying the key id of a predict request (the query parameter `key_id` works too).
pub const KEY_ID_HEADER: &str = "x-fhez-key-id";

/// What `GET /v1/models/{name}` returns: everything a client needs to make keys and
/// requests for the model, and nothing of its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model's name (its URL segment).
    pub name: String,
    /// The data set it was trained on, if recorded.
    pub dataset: Option<String>,
    /// How to read the decrypted outputs.
    pub task: Task,
    /// The inputs to encrypt, by node name, with their per-sample shapes.
    pub inputs: Vec<EncryptedInput>,
    /// The decrypt-boundary node whose ciphertexts the server returns.
    pub output: String,
    /// Most samples per request (batch-in-slots).
    pub max_batch: usize,
    /// The CKKS parameter set (128-bit secure) the keys must be made for.
    pub params: CkksParamsSpec,
    /// Hex SHA-256 identity of the parameter set; bundles and ciphertexts carry it.
    pub params_id: String,
    /// Multiplicative depth the plan consumes.
    pub depth: u32,
    /// Rotation steps the client must provide Galois keys for (often none).
    pub rotation_steps: Vec<i64>,
    /// Metrics recorded when the model was trained.
    pub metrics: std::collections::BTreeMap<String, f64>,
}

/// What `GET /v1/models` returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    /// Every served model.
    pub models: Vec<ModelInfo>,
}

/// What `POST /v1/keys` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRegistered {
    /// The key id to send with predict requests (hex SHA-256 of the bundle).
    pub key_id: String,
    /// The bundle's parameter set id.
    pub params_id: String,
    /// The model it was validated against.
    pub model: String,
    /// `false` when the same bundle was already registered.
    pub created: bool,
}

/// The body of every error response: `{"error": {"code": …, "message": …}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// See [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable, machine-readable code (e.g. `unknown_key`, `params_mismatch`).
    pub code: String,
    /// A human-readable message naming the problem.
    pub message: String,
}
