//! Error answers (`{"error": {"code", "message"}}`), the access-log markers, and the
//! small request parsers whose failures are error answers (key ids, query parameters,
//! body kinds).

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use fhez_ckks::wire::WireError;

use super::AppState;
use crate::api::{ErrorBody, ErrorDetail, KEY_ID_HEADER, Mode};
use crate::store::{StoreError, is_key_id};

/// An error answer: status, stable code, message; rendered as
/// `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub(super) struct ApiError {
    pub(super) status: StatusCode,
    pub(super) code: &'static str,
    pub(super) message: String,
    pub(super) retry_after: Option<u64>,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(super) fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(super) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(s));
        }
        response.extensions_mut().insert(LogCode(self.code));
        response
    }
}

/// The key id of a request, for the access log (an id, never key bytes).
#[derive(Clone)]
pub(super) struct LogKeyId(pub(super) String);

/// The error code of a response, for the access log.
#[derive(Clone, Copy)]
pub(super) struct LogCode(pub(super) &'static str);

/// The value of query parameter `name` (no percent-decoding: ids and names are plain).
pub(super) fn query_param<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then_some(v)
    })
}

pub(super) fn parse_key_id(s: &str) -> Result<String, ApiError> {
    if is_key_id(s) {
        Ok(s.to_owned())
    } else {
        Err(ApiError::bad(
            "bad_key_id",
            "a key id is 64 lowercase hex digits (the SHA-256 of the bundle)",
        ))
    }
}

pub(super) fn request_key_id(uri: &Uri, headers: &HeaderMap) -> Result<String, ApiError> {
    let from_header = headers
        .get(KEY_ID_HEADER)
        .map(|v| v.to_str().map_err(|_| ()))
        .transpose()
        .map_err(|()| ApiError::bad("bad_key_id", format!("{KEY_ID_HEADER} is not ASCII")))?;
    match from_header.or_else(|| query_param(uri, "key_id")) {
        Some(s) => parse_key_id(s),
        None => Err(ApiError::bad(
            "missing_key_id",
            format!(
                "send the key id in the `{KEY_ID_HEADER}` header or the `key_id` query parameter (register keys with POST /v1/keys)"
            ),
        )),
    }
}

pub(super) fn overloaded(st: &AppState) -> ApiError {
    ApiError {
        retry_after: Some(st.retry_after_s),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many requests in flight; retry after the Retry-After delay",
        )
    }
}

/// 503 `overloaded`: the budget on body bytes held by the server is spent.
pub(super) fn receiving_full(st: &AppState) -> ApiError {
    ApiError {
        retry_after: Some(st.retry_after_s),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "the server holds its maximum of request-body bytes ({} MiB); retry after the Retry-After delay",
                st.receiving_limit >> 20
            ),
        )
    }
}

pub(super) fn timed_out(st: &AppState) -> ApiError {
    ApiError {
        retry_after: Some(st.retry_after_s),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request did not complete within {} s",
                st.timeout.as_secs_f64()
            ),
        )
    }
}

/// 413 `body_too_large`, saying what the body looks like when its first bytes tell
/// (`kind` from [`sniff`]).
pub(super) fn too_large_kind(limit: usize, kind: &str) -> ApiError {
    let what = if kind == "unrecognised" {
        String::new()
    } else {
        format!(" (the body is {kind})")
    };
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("request body exceeds the limit of {limit} bytes{what}"),
    )
}

/// What a body's first bytes say it is (for a clear `wrong_kind` error).
pub(super) fn sniff(bytes: &[u8]) -> &'static str {
    match bytes.get(..4) {
        Some(m) if m == fhez_model::frames::MESSAGE.magic => "a ciphertext batch",
        Some(m) if m == fhez_model::frames::BUNDLE.magic => "a public key bundle",
        Some(m) if m == fhez_ckks::wire::MAGIC => match fhez_ckks::wire::peek_envelope(bytes) {
            Ok(env) if env.kind == fhez_ckks::wire::ObjectKind::SecretKey => {
                "a SECRET KEY (never send it)"
            }
            Ok(_) => "a single fhez wire object",
            Err(_) => "a damaged fhez wire object",
        },
        Some(_) | None => "unrecognised",
    }
}

pub(super) fn expect_kind(
    bytes: &[u8],
    want: &'static str,
    endpoint: &str,
) -> Result<(), ApiError> {
    let found = sniff(bytes);
    if found == want || found == "unrecognised" {
        // Unrecognised bytes are left to the validating reader, whose error is precise.
        return Ok(());
    }
    Err(ApiError::bad(
        "wrong_kind",
        format!("{endpoint} expects {want}, but the body is {found}"),
    ))
}

pub(super) fn is_params_mismatch(e: &fhez_model::Error) -> bool {
    if let fhez_model::Error::Ckks(fhez_ckks::Error::ParamsMismatch { .. }) = e {
        return true;
    }
    if let fhez_model::Error::Ckks(fhez_ckks::Error::Wire(WireError::ParamsMismatch { .. })) = e {
        return true;
    }
    // A message whose frame names another parameter set (refused before any entry is read).
    if let fhez_model::Error::Backend(b) = e
        && let Some(fhez_backend::frame::FrameError::ParamsMismatch { .. }) = b.as_frame()
    {
        return true;
    }
    false
}

pub(super) fn store_error(e: &StoreError) -> ApiError {
    if let StoreError::Full { .. } = e {
        return ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "key_store_full",
            e.to_string(),
        );
    }
    if let StoreError::Unavailable { .. } = e {
        tracing::warn!(error = %e, "key store unavailable");
        let mut err = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the key store cannot be reached now; retry",
        );
        err.retry_after = Some(1);
        return err;
    }
    tracing::error!(error = %e, "key store");
    ApiError::internal("the key store failed; see the server log")
}

pub(super) fn unknown_key(key_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_key",
        format!(
            "no registered key with id {key_id} (register the public bundle with POST /v1/keys)"
        ),
    )
}

/// The `mode` query parameter, or its `packing` spelling (`packing=batch|single`);
/// `batch` when both are absent. Both present and different: 400 `bad_mode`.
pub(super) fn request_mode(uri: &Uri) -> Result<Mode, ApiError> {
    let bad = || {
        ApiError::bad(
            "bad_mode",
            "mode is `batch` (the default), `latency` or `single`; packing is `batch` or `single`"
                .to_owned(),
        )
    };
    let mode = query_param(uri, "mode")
        .map(|s| Mode::parse(s).ok_or_else(bad))
        .transpose()?;
    let packing = match query_param(uri, "packing") {
        None => None,
        Some("batch") => Some(Mode::Batch),
        Some("single") => Some(Mode::Single),
        Some(_) => return Err(bad()),
    };
    match (mode, packing) {
        (Some(m), Some(p)) if m != p => Err(ApiError::bad(
            "bad_mode",
            format!("mode={m} and packing={p} disagree"),
        )),
        (Some(m), _) | (None, Some(m)) => Ok(m),
        (None, None) => Ok(Mode::Batch),
    }
}

/// 409 `mode_mismatch`: a key registered for one mode used in another.
pub(super) fn mode_mismatch(key_id: &str, have: Mode, want: Mode, model: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "mode_mismatch",
        format!(
            "key {key_id} was registered for {have} mode, this is a {want}-mode request; register a {want} bundle with POST /v1/keys?model={model}&mode={want}"
        ),
    )
}
