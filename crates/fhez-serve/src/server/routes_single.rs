//! Single-input packing of the one model API (`?packing=single`, or `?mode=single`): one
//! sample per ciphertext, a ciphertext batch (`FZCB`) in and out, evaluated by
//! [`EncryptedModel`] with public keys only; and `GET /v1/models/{name}/plan`, the plan
//! (packing, slot layouts, parameters; no weights) a client encrypts and decrypts with.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use fhez_ckks::CkksParams;
use fhez_erray::Packing;
use fhez_model::{CtBatch, EncryptedModel, ModelFile};
use fhez_nn::PackingChoice;

use super::errors::{
    ApiError, expect_kind, is_params_mismatch, mode_mismatch, request_mode, store_error,
    unknown_key,
};
use super::{AppState, ServeError, Served, model_of, path_param};
use crate::api::{Mode, SingleInfo};
use crate::latency::max_ciphertext_bytes;

/// Bytes of a ciphertext batch besides its ciphertexts, per input: the entry header (a name
/// of at most 256 bytes, at most 16 dimensions, the counts) and the length prefix of its
/// ciphertext, rounded up.
const ENTRY_OVERHEAD: usize = 1024;
/// Bytes of the message frame (magic, version, kind, parameter id, lengths), rounded up.
const FRAME_OVERHEAD: usize = 128;

/// Single-input packing of one model.
pub(super) struct SingleServed {
    /// The graph planned with single-input packing.
    pub(super) model: EncryptedModel,
    /// Its parameter set.
    pub(super) params: Arc<CkksParams>,
    /// Hex id of `params`.
    pub(super) params_id: String,
    /// What clients are told.
    pub(super) info: SingleInfo,
}

impl SingleServed {
    /// The single-input packing of `file`, or `None` when its graph cannot be planned with
    /// it (logged). The request body limit is one full top-level ciphertext per input plus
    /// the message headers, capped by `max_body`.
    pub(super) fn new(file: &ModelFile, max_body: usize) -> Result<Option<Self>, ServeError> {
        let err = |source| ServeError::Model {
            name: file.name.clone(),
            source,
        };
        let graph = file.graph().map_err(err)?;
        let model =
            match EncryptedModel::with_packing(graph, &file.plan, PackingChoice::SingleInput) {
                Ok(m) => m,
                Err(e) => {
                    tracing::info!(model = %file.name, reason = %e, "no single-input packing");
                    return Ok(None);
                }
            };
        let spec = model.spec();
        let params = CkksParams::new(&spec).map_err(|e| err(e.into()))?;
        let params_id = params.id().to_hex();
        let per_input =
            max_ciphertext_bytes(&params, params.max_level()).saturating_add(ENTRY_OVERHEAD);
        let max_body_bytes = per_input
            .saturating_mul(file.inputs.len())
            .saturating_add(FRAME_OVERHEAD)
            .min(max_body);
        let info = SingleInfo {
            params: spec,
            params_id: params_id.clone(),
            rotation_steps: model.plan().rotation_steps.iter().copied().collect(),
            depth: model.plan().depth,
            max_body_bytes,
        };
        tracing::info!(
            model = %file.name,
            params_id = %params_id,
            log_n = info.params.log_n,
            rotation_keys = info.rotation_steps.len(),
            "single-input packing"
        );
        Ok(Some(Self {
            model,
            params,
            params_id,
            info,
        }))
    }
}

/// The single-input packing of `served`, or a 400 `mode_unsupported`.
pub(super) fn single_of(served: &Served) -> Result<&SingleServed, ApiError> {
    served.single.as_ref().ok_or_else(|| {
        ApiError::bad(
            "mode_unsupported",
            format!(
                "model `{}` cannot be planned with single-input packing; use packing=batch",
                served.file.name
            ),
        )
    })
}

/// A packing with its numbers (batch or period), for error messages.
pub(super) fn describe(p: Packing) -> String {
    match p {
        Packing::BatchInSlots { batch } => format!("batch-in-slots (batch {batch})"),
        Packing::SingleInput { period } => format!("single-input (period {period})"),
        Packing::Flat => "flat".to_owned(),
    }
}

/// `GET /v1/models/{name}/plan[?packing=batch|single]`: the model's plan as JSON —
/// parameters, depth, rotation steps, per-node costs, the packing and the slot layout of
/// every input and output; never a weight.
pub(super) async fn get_plan(
    State(st): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Response {
    let plan = path_param(name)
        .and_then(|name| model_of(&st, &name))
        .and_then(|m| match request_mode(&uri)? {
            Mode::Batch => Ok(m.model.plan().clone()),
            Mode::Single => Ok(single_of(&m)?.model.plan().clone()),
            Mode::Latency => Err(ApiError::bad(
                "mode_unsupported",
                format!(
                    "latency mode has no plan; its layout is the `latency` section of GET /v1/models/{}",
                    m.file.name
                ),
            )),
        });
    match plan {
        Ok(plan) => axum::Json(plan).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Validates and evaluates one single-input request (blocking CKKS work).
pub(super) fn evaluate_single(
    st: &AppState,
    served: &Served,
    key_id: &str,
    bytes: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let single = single_of(served)?;
    let name = &served.file.name;
    let record = st
        .store
        .record(key_id)
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| unknown_key(key_id))?;
    if record.mode != Mode::Single {
        return Err(mode_mismatch(key_id, record.mode, Mode::Single, name));
    }
    if record.params_id != single.params_id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "params_mismatch",
            format!(
                "key {key_id} was made for parameter set {}, single-input packing of model `{name}` uses {}",
                record.params_id, single.params_id
            ),
        ));
    }
    let server = st
        .store
        .server(&record, &single.params)
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| unknown_key(key_id))?;
    expect_kind(bytes, "a ciphertext batch", "predict")?;
    let batch = CtBatch::from_bytes(&server, bytes, single.info.max_body_bytes).map_err(|e| {
        if is_params_mismatch(&e) {
            ApiError::new(
                StatusCode::CONFLICT,
                "params_mismatch",
                format!(
                    "the ciphertexts were not made under the parameter set {} of model `{name}`'s single-input packing: {e}",
                    single.params_id
                ),
            )
        } else {
            ApiError::bad("bad_ciphertext", format!("invalid ciphertext batch: {e}"))
        }
    })?;
    check_single_inputs(served, &batch)?;
    let reply = single.model.evaluate(&server, &batch).map_err(|e| {
        if matches!(
            e,
            fhez_model::Error::PackingMismatch { .. } | fhez_model::Error::BatchTooLarge { .. }
        ) {
            ApiError::bad("packing_mismatch", e.to_string())
        } else {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "evaluation_failed",
                format!("the model could not be evaluated on these ciphertexts: {e}"),
            )
        }
    })?;
    reply
        .to_bytes()
        .map_err(|e| ApiError::internal(format!("encoding the reply failed: {e}")))
}

/// The message holds exactly the model's inputs, once each, each one sample of the
/// input's shape (`(1, shape…)`); their packing is checked against the plan's layouts by
/// `EncryptedModel::evaluate`.
fn check_single_inputs(served: &Served, batch: &CtBatch) -> Result<(), ApiError> {
    let mismatch = |m: String| ApiError::bad("input_mismatch", m);
    let expected: Vec<&str> = served.file.inputs.iter().map(|i| i.name.as_str()).collect();
    for (k, entry) in batch.entries.iter().enumerate() {
        let Some(input) = served.file.inputs.iter().find(|i| i.name == entry.name) else {
            return Err(mismatch(format!(
                "unknown input `{}`; model `{}` takes {expected:?}",
                entry.name, served.file.name
            )));
        };
        if batch
            .entries
            .iter()
            .skip(k + 1)
            .any(|e| e.name == entry.name)
        {
            return Err(mismatch(format!("input `{}` sent twice", entry.name)));
        }
        let mut want = vec![1];
        want.extend_from_slice(&input.shape);
        if entry.shape != want {
            return Err(mismatch(format!(
                "input `{}` has shape {:?}; single-input packing takes one sample, shape {want:?}",
                entry.name, entry.shape
            )));
        }
    }
    for name in &expected {
        if !batch.entries.iter().any(|e| e.name == *name) {
            return Err(mismatch(format!("missing input `{name}`")));
        }
    }
    Ok(())
}
