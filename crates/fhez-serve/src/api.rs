//! The JSON shapes of the HTTP API, shared by the server and the client.

use fhez_ckks::CkksParamsSpec;
use fhez_model::{EncryptedInput, Task};
use serde::{Deserialize, Serialize};

/// Header carrying the key id of a predict request (the query parameter `key_id` works too).
pub const KEY_ID_HEADER: &str = "x-fhez-key-id";
/// Header carrying the owner token that `DELETE /v1/keys/{id}` requires.
pub const OWNER_TOKEN_HEADER: &str = "x-fhez-owner-token";

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
    /// Latency mode (`?mode=latency`), or `null` when the model's graph has no latency
    /// form.
    #[serde(default)]
    pub latency: Option<LatencyInfo>,
    /// Single-input packing of the one model API (`?packing=single`), or `null` when the
    /// model's graph cannot be planned with it.
    #[serde(default)]
    pub single: Option<SingleInfo>,
}

/// The single-input description of a model (`ModelInfo::single`): the parameter set and
/// rotation steps its keys need. The slot layouts of its inputs and outputs are in the
/// published plan (`GET /v1/models/{name}/plan?packing=single`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SingleInfo {
    /// The CKKS parameter set (128-bit secure) single-input keys must be made for.
    pub params: CkksParamsSpec,
    /// Hex SHA-256 identity of that parameter set.
    pub params_id: String,
    /// Rotation steps the client must provide Galois keys for.
    pub rotation_steps: Vec<i64>,
    /// Multiplicative depth the plan consumes.
    pub depth: u32,
    /// Largest single-input request body accepted, in bytes (one full ciphertext per
    /// input at the top level plus the message headers; seeded ones are about half).
    pub max_body_bytes: usize,
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
    /// The mode the bundle was validated for.
    #[serde(default)]
    pub mode: Mode,
    /// The owner token (64 hex digits), returned once, when the registration created the
    /// key (`created`); `DELETE /v1/keys/{id}` requires it in the
    /// [`OWNER_TOKEN_HEADER`] header. The server stores only its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_token: Option<String>,
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

/// How a model is evaluated: which packing the keys, the requests and the replies use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Batch-in-slots: one ciphertext per input value, slot `i` = sample `i`; requests are
    /// ciphertext batches (`FZCB`). The default, and the mode of key records written
    /// before modes existed.
    #[default]
    Batch,
    /// Latency mode: one sample per request, packed into one ciphertext (im2col), evaluated
    /// with rotations; requests and replies are single fhez wire ciphertexts.
    Latency,
    /// Single-input packing of the one model API: one sample per ciphertext, laid out as the
    /// published plan says; requests and replies are ciphertext batches (`FZCB`) holding
    /// one single-input entry per input and output.
    Single,
}

impl Mode {
    /// `"batch"`, `"latency"` or `"single"` (the query-parameter spelling).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::Latency => "latency",
            Self::Single => "single",
        }
    }

    /// Parses the query-parameter spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "batch" => Some(Self::Batch),
            "latency" => Some(Self::Latency),
            "single" => Some(Self::Single),
            _ => None,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The latency-mode description of a model (`ModelInfo::latency`): what a client needs to
/// make keys and one-ciphertext requests, and no weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyInfo {
    /// The CKKS parameter set (128-bit secure) latency keys must be made for.
    pub params: CkksParamsSpec,
    /// Hex SHA-256 identity of that parameter set.
    pub params_id: String,
    /// Rotation steps the client must provide Galois keys for.
    pub rotation_steps: Vec<i64>,
    /// The encrypted input's name.
    pub input: String,
    /// Per-sample input shape (one sample per request).
    pub input_shape: Vec<usize>,
    /// The level a request ciphertext must be at.
    pub input_level: u32,
    /// Number of output values (logits) the client decrypts.
    pub outputs: usize,
    /// Largest latency request body accepted, in bytes (a full, uncompressed ciphertext
    /// at the input level fits; seeded ones are about half).
    pub max_body_bytes: usize,
    /// The network's shape without its weights: the client rebuilds the slot layout
    /// (im2col encoding, output slots) from it.
    pub geometry: LatencyGeometry,
}

/// The shape of a latency-mode network without its weights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyGeometry {
    /// Image shape.
    pub input: Vec<usize>,
    /// Convolution kernel shape.
    pub kernel: Vec<usize>,
    /// Convolution stride.
    pub stride: Vec<usize>,
    /// Number of filters.
    pub filters: usize,
    /// The stages after the convolution.
    pub stages: Vec<StageShape>,
}

/// One stage of a [`LatencyGeometry`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StageShape {
    /// An element-wise polynomial activation of `degree` 1 (affine, folded into the layer
    /// before) or 2 (one level).
    Activation {
        /// 1 or 2.
        degree: u8,
    },
    /// A dense layer.
    Dense {
        /// Input features.
        d_in: usize,
        /// Output features.
        d_out: usize,
    },
}
