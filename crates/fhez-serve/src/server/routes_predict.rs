//! `POST /v1/models/{name}/predict`: admission and body reading for both modes, and batch
//! mode (a ciphertext batch in, a ciphertext batch out).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use fhez_erray::Packing;
use fhez_model::CtBatch;

use super::errors::{
    ApiError, LogKeyId, expect_kind, is_params_mismatch, mode_mismatch, request_key_id,
    request_mode, store_error, unknown_key,
};
use super::limits::{admit, blocking, drain, read_body};
use super::routes_latency::{evaluate_latency, latency_of};
use super::routes_single::{evaluate_single, single_of};
use super::{AppState, Served, model_of, path_param};
use crate::api::Mode;

pub(super) async fn predict(
    State(st): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let deadline = tokio::time::Instant::now() + st.timeout;
    let pre = path_param(name)
        .and_then(|name| model_of(&st, &name))
        .and_then(|m| {
            let key_id = request_key_id(&uri, &headers)?;
            let mode = request_mode(&uri)?;
            match mode {
                Mode::Latency => {
                    latency_of(&m)?;
                }
                Mode::Single => {
                    single_of(&m)?;
                }
                Mode::Batch => {}
            }
            Ok((m, key_id, mode))
        });
    let (model, key_id, mode) = match pre {
        Ok(v) => v,
        Err(e) => {
            drain(body, st.max_body).await;
            return e.into_response();
        }
    };
    let log = LogKeyId(key_id.clone());
    let result = predict_inner(&st, model, key_id, mode, &headers, body, deadline).await;
    let mut response = match result {
        Ok(bytes) => {
            let mut r = bytes.into_response();
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            r
        }
        Err(e) => e.into_response(),
    };
    response.extensions_mut().insert(log);
    response
}

pub(super) async fn predict_inner(
    st: &Arc<AppState>,
    model: Arc<Served>,
    key_id: String,
    mode: Mode,
    headers: &HeaderMap,
    body: Body,
    deadline: tokio::time::Instant,
) -> Result<Vec<u8>, ApiError> {
    let (gate, limit) = match mode {
        Mode::Batch => (&st.batch_gate, st.max_body),
        Mode::Latency => (
            &st.latency_gate,
            model
                .latency
                .as_ref()
                .map_or(st.max_body, |l| l.info.max_body_bytes),
        ),
        Mode::Single => (
            &st.latency_gate,
            model
                .single
                .as_ref()
                .map_or(st.max_body, |s| s.info.max_body_bytes),
        ),
    };
    // The body first: a slow sender holds only its bytes of the receiving budget, never
    // an evaluation slot.
    let received = read_body(st, body, headers, limit, deadline).await?;
    let permit = admit(st, gate, deadline).await?;
    let state = Arc::clone(st);
    blocking(st, permit, deadline, move || {
        let start = std::time::Instant::now();
        let out = match mode {
            Mode::Batch => evaluate_request(&state, &model, &key_id, &received.bytes),
            Mode::Latency => evaluate_latency(&state, &model, &key_id, &received.bytes),
            Mode::Single => evaluate_single(&state, &model, &key_id, &received.bytes),
        };
        if out.is_ok() {
            state.metrics.evaluated(mode, start.elapsed());
        }
        out
    })
    .await
}

pub(super) fn evaluate_request(
    st: &AppState,
    served: &Served,
    key_id: &str,
    bytes: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let record = st
        .store
        .record(key_id)
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| unknown_key(key_id))?;
    if record.mode != Mode::Batch {
        return Err(mode_mismatch(
            key_id,
            record.mode,
            Mode::Batch,
            &served.file.name,
        ));
    }
    if record.params_id != served.params_id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "params_mismatch",
            format!(
                "key {key_id} was made for parameter set {}, model `{}` uses {}",
                record.params_id, served.file.name, served.params_id
            ),
        ));
    }
    let server = st
        .store
        .server(&record, &served.params)
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| unknown_key(key_id))?;
    expect_kind(bytes, "a ciphertext batch", "predict")?;
    let batch = CtBatch::from_bytes(&server, bytes, st.max_body).map_err(|e| {
        if is_params_mismatch(&e) {
            ApiError::new(
                StatusCode::CONFLICT,
                "params_mismatch",
                format!(
                    "the ciphertexts were not made under model `{}`'s parameter set {}: {e}",
                    served.file.name, served.params_id
                ),
            )
        } else {
            ApiError::bad("bad_ciphertext", format!("invalid ciphertext batch: {e}"))
        }
    })?;
    check_inputs(served, &batch)?;
    let reply = served.model.evaluate(&server, &batch).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "evaluation_failed",
            format!("the model could not be evaluated on these ciphertexts: {e}"),
        )
    })?;
    reply
        .to_bytes()
        .map_err(|e| ApiError::internal(format!("encoding the reply failed: {e}")))
}

/// The batch holds exactly the model's inputs, each `(batch, shape…)` in batch-in-slots
/// packing, with one batch size no larger than planned.
pub(super) fn check_inputs(served: &Served, batch: &CtBatch) -> Result<(), ApiError> {
    let mismatch = |m: String| ApiError::bad("input_mismatch", m);
    let expected: Vec<&str> = served.file.inputs.iter().map(|i| i.name.as_str()).collect();
    let mut samples = None;
    for entry in &batch.entries {
        let Some(input) = served.file.inputs.iter().find(|i| i.name == entry.name) else {
            return Err(mismatch(format!(
                "unknown input `{}`; model `{}` takes {expected:?}",
                entry.name, served.file.name
            )));
        };
        if batch
            .entries
            .iter()
            .filter(|e| e.name == entry.name)
            .count()
            > 1
        {
            return Err(mismatch(format!("input `{}` sent twice", entry.name)));
        }
        let Some((&n, per_sample)) = entry.shape.split_first() else {
            return Err(mismatch(format!(
                "input `{}` has no batch dimension",
                entry.name
            )));
        };
        if per_sample != input.shape.as_slice() {
            return Err(mismatch(format!(
                "input `{}` has per-sample shape {per_sample:?}, the model expects {:?}",
                entry.name, input.shape
            )));
        }
        if entry.packing != (Packing::BatchInSlots { batch: n }) {
            return Err(ApiError::bad(
                "packing_mismatch",
                format!(
                    "input `{}` is packed {}; batch mode takes batch-in-slots with batch {n} (single-input messages go to ?packing=single)",
                    entry.name,
                    super::routes_single::describe(entry.packing)
                ),
            ));
        }
        if n == 0 || n > served.model.batch() {
            return Err(mismatch(format!(
                "input `{}` has {n} samples; the model takes 1 to {}",
                entry.name,
                served.model.batch()
            )));
        }
        if *samples.get_or_insert(n) != n {
            return Err(mismatch("inputs have different batch sizes".to_owned()));
        }
    }
    for name in &expected {
        if !batch.entries.iter().any(|e| e.name == *name) {
            return Err(mismatch(format!("missing input `{name}`")));
        }
    }
    Ok(())
}
