//! `POST /v1/keys`, `GET /v1/keys/{id}`, `DELETE /v1/keys/{id}`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use fhez_model::bundle::{BundleRefusal, public_bundle_for_params};

use super::errors::{
    ApiError, LogKeyId, expect_kind, parse_key_id, query_param, request_mode, store_error,
    unknown_key,
};
use super::limits::{admit, blocking, drain, read_body};
use super::routes_latency::latency_of;
use super::routes_single::single_of;
use super::{AppState, Served, model_of, path_param};
use crate::api::Mode;
use crate::api::{KeyRegistered, OWNER_TOKEN_HEADER};
use crate::store::Removal;

pub(super) async fn register_key(
    State(st): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let deadline = tokio::time::Instant::now() + st.timeout;
    let model = match query_param(&uri, "model") {
        Some(name) => model_of(&st, name),
        None => Err(ApiError::bad(
            "missing_model",
            "name the model the keys are for: POST /v1/keys?model=NAME",
        )),
    };
    let model = model.and_then(|m| {
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
        Ok((m, mode))
    });
    let (model, mode) = match model {
        Ok(m) => m,
        Err(e) => {
            drain(body, st.max_body).await;
            return e.into_response();
        }
    };
    let gate = match mode {
        Mode::Batch => &st.batch_gate,
        Mode::Latency | Mode::Single => &st.latency_gate,
    };
    // The body first: a slow sender holds only its bytes of the receiving budget, never
    // an evaluation slot.
    let received = match read_body(&st, body, &headers, st.max_body, deadline).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let permit = match admit(&st, gate, deadline).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let state = Arc::clone(&st);
    let result = blocking(&st, permit, deadline, move || {
        register_blocking(&state, &model, mode, &received.bytes)
    })
    .await;
    match result {
        Ok(reg) => {
            let status = if reg.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let log = LogKeyId(reg.key_id.clone());
            let mut r = (status, axum::Json(reg)).into_response();
            r.extensions_mut().insert(log);
            r
        }
        Err(e) => e.into_response(),
    }
}

pub(super) fn register_blocking(
    st: &AppState,
    served: &Served,
    mode: Mode,
    bytes: &[u8],
) -> Result<KeyRegistered, ApiError> {
    expect_kind(bytes, "a public key bundle", "POST /v1/keys")?;
    let name = &served.file.name;
    let (want, steps) = match mode {
        Mode::Batch => (
            &served.params,
            served.model.plan().rotation_steps.iter().copied().collect(),
        ),
        Mode::Latency => {
            let lat = latency_of(served)?;
            (&lat.params, lat.info.rotation_steps.clone())
        }
        Mode::Single => {
            let single = single_of(served)?;
            (&single.params, single.info.rotation_steps.clone())
        }
    };
    let keys = public_bundle_for_params(bytes, st.max_body, want).map_err(|e| match e {
        BundleRefusal::Insecure => ApiError::bad("insecure_params", e.to_string()),
        BundleRefusal::ParamsMismatch { expected, found } => {
            let hint = match mode {
                Mode::Batch => format!("GET /v1/models/{name}"),
                Mode::Latency => format!("the `latency` section of GET /v1/models/{name}"),
                Mode::Single => format!("the `single` section of GET /v1/models/{name}"),
            };
            ApiError::new(
                StatusCode::CONFLICT,
                "params_mismatch",
                format!(
                    "the bundle's parameter set is {found}, {mode} mode of model `{name}` uses {expected} (make keys from {hint})"
                ),
            )
        }
        BundleRefusal::Malformed(_)
        | BundleRefusal::ParamsTooLarge { .. }
        | BundleRefusal::NotParams { .. }
        | BundleRefusal::Keys(_)
        | _ => ApiError::bad("bad_bundle", e.to_string()),
    })?;
    let params_id = keys.params().id().to_hex();
    let slots = i64::try_from(keys.params().slots()).unwrap_or(i64::MAX);
    let have = keys.rotation_steps();
    let missing: Vec<i64> = steps
        .into_iter()
        .filter(|s: &i64| {
            let norm = s.rem_euclid(slots.max(1));
            norm != 0 && !have.contains(&norm)
        })
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad(
            "missing_rotation_keys",
            format!(
                "{mode} mode of model `{name}` needs Galois keys for rotation steps {missing:?}"
            ),
        ));
    }
    let (record, owner_token) = st
        .store
        .insert(bytes, &keys, &served.file.name, mode)
        .map_err(|e| store_error(&e))?;
    Ok(KeyRegistered {
        key_id: record.key_id,
        params_id,
        model: served.file.name.clone(),
        created: owner_token.is_some(),
        mode: record.mode,
        owner_token,
    })
}

pub(super) async fn key_info(
    State(st): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = match path_param(id).and_then(|id| parse_key_id(&id)) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    // The store may be a database across the network: read it on a blocking thread.
    let state = Arc::clone(&st);
    let result = match tokio::task::spawn_blocking(move || {
        state
            .store
            .record(&id)
            .map_err(|e| store_error(&e))?
            .ok_or_else(|| unknown_key(&id))
    })
    .await
    {
        Ok(r) => r,
        Err(_) => Err(ApiError::internal("the key store task failed")),
    };
    match result {
        Ok(record) => {
            let log = LogKeyId(record.key_id.clone());
            let mut r = axum::Json(record).into_response();
            r.extensions_mut().insert(log);
            r
        }
        Err(e) => e.into_response(),
    }
}

pub(super) async fn delete_key(
    State(st): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let id = match path_param(id).and_then(|id| parse_key_id(&id)) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    // A missing (or non-ASCII) token matches no owner; the answer then says it is
    // missing, after an unknown key has been answered 404.
    let token = headers
        .get(OWNER_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let missing = token.is_none();
    let state = Arc::clone(&st);
    let id2 = id.clone();
    let removed = tokio::task::spawn_blocking(move || {
        state
            .store
            .remove_owned(&id2, token.as_deref().unwrap_or_default())
    })
    .await;
    let mut r = match removed {
        Ok(Ok(Removal::Removed)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(Removal::Unknown)) => unknown_key(&id).into_response(),
        Ok(Ok(Removal::NotOwner)) if missing => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_owner_token",
            format!(
                "deleting a key requires the owner token its registration returned, in the `{OWNER_TOKEN_HEADER}` header"
            ),
        )
        .into_response(),
        Ok(Ok(Removal::NotOwner)) => ApiError::new(
            StatusCode::FORBIDDEN,
            "not_owner",
            format!("the owner token is not the one returned when key {id} was registered"),
        )
        .into_response(),
        Ok(Err(e)) => store_error(&e).into_response(),
        Err(_) => ApiError::internal("the key store task failed").into_response(),
    };
    r.extensions_mut().insert(LogKeyId(id));
    r
}
