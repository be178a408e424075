//! `POST /v1/models/{name}/predict?mode=latency`: one fhez wire ciphertext (seeded or
//! full) in, one wire ciphertext out.

use axum::http::StatusCode;
use fhez_ckks::wire::{
    ObjectKind, ciphertext_from_bytes, ciphertext_to_bytes, peek_envelope,
    seeded_ciphertext_from_bytes,
};

use super::errors::{ApiError, mode_mismatch, sniff, store_error, unknown_key};
use super::latency::LatencyServed;
use super::{AppState, Served};
use crate::api::Mode;

/// The latency mode of `served`, or a 400 `mode_unsupported`.
pub(super) fn latency_of(served: &Served) -> Result<&LatencyServed, ApiError> {
    served.latency.as_ref().ok_or_else(|| {
        ApiError::bad(
            "mode_unsupported",
            format!(
                "model `{}` has no latency mode (latency mode takes one input through a convolution, polynomial activations and dense layers); use mode=batch",
                served.file.name
            ),
        )
    })
}

/// Validates and evaluates one latency request (blocking CKKS work).
pub(super) fn evaluate_latency(
    st: &AppState,
    served: &Served,
    key_id: &str,
    bytes: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let lat = latency_of(served)?;
    let name = &served.file.name;
    let record = st
        .store
        .record(key_id)
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| unknown_key(key_id))?;
    if record.mode != Mode::Latency {
        return Err(mode_mismatch(key_id, record.mode, Mode::Latency, name));
    }
    if record.params_id != lat.params_id {
        return Err(params_conflict(format!(
            "key {key_id} was made for parameter set {}, latency mode of model `{name}` uses {}",
            record.params_id, lat.params_id
        )));
    }
    let server = st
        .store
        .server(&record, &lat.params)
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| unknown_key(key_id))?;
    let env = match peek_envelope(bytes) {
        Ok(env) => env,
        Err(e) => {
            let found = sniff(bytes);
            if found != "unrecognised" && found != "a damaged fhez wire object" {
                return Err(ApiError::bad(
                    "wrong_kind",
                    format!(
                        "latency predict expects one fhez wire ciphertext, but the body is {found}{}",
                        if found == "a ciphertext batch" {
                            " (batch mode: send it without ?mode=latency)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            return Err(ApiError::bad(
                "bad_ciphertext",
                format!("invalid wire ciphertext: {e}"),
            ));
        }
    };
    let kind = env.kind;
    let seeded = kind == ObjectKind::SeededCiphertext;
    if !seeded && kind != ObjectKind::Ciphertext {
        let what = if kind == ObjectKind::SecretKey {
            "a SECRET KEY (never send it)".to_owned()
        } else {
            format!("a wire object of kind {kind:?}")
        };
        return Err(ApiError::bad(
            "wrong_kind",
            format!("latency predict expects one fhez wire ciphertext, but the body is {what}"),
        ));
    }
    let found = env.params_id.to_hex();
    if found != lat.params_id {
        return Err(params_conflict(format!(
            "the ciphertext was made under parameter set {found}, latency mode of model `{name}` uses {} (see GET /v1/models/{name}, field latency)",
            lat.params_id
        )));
    }
    let limit = u64::try_from(lat.info.max_body_bytes).unwrap_or(u64::MAX);
    let bad = |e: fhez_ckks::Error| {
        ApiError::bad("bad_ciphertext", format!("invalid wire ciphertext: {e}"))
    };
    let ct = if seeded {
        seeded_ciphertext_from_bytes(&lat.params, bytes, limit)
            .map_err(bad)?
            .expand(&lat.params)
            .map_err(bad)?
    } else {
        ciphertext_from_bytes(&lat.params, bytes, limit).map_err(bad)?
    };
    let want = lat.model.input_level();
    if ct.level() != want {
        return Err(ApiError::bad(
            "wrong_level",
            format!(
                "the ciphertext is at level {}, latency mode of model `{name}` takes level {want} (encrypt fresh at the input level)",
                ct.level()
            ),
        ));
    }
    let out = lat.model.eval(server.keys(), &ct).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "evaluation_failed",
            format!("the model could not be evaluated on this ciphertext: {e}"),
        )
    })?;
    ciphertext_to_bytes(&out)
        .map_err(|e| ApiError::internal(format!("encoding the reply failed: {e}")))
}

fn params_conflict(message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "params_mismatch", message)
}
