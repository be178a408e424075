//! The HTTP server: evaluates models on ciphertexts with the public evaluation keys that
//! clients registered. See the crate README for the endpoints, limits and error codes.
//!
//! The server holds only [`CkksServer`] values (built from public bundles); the
//! `CkksServer` type has no decrypt operation, so nothing in this module can decrypt.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fhez::bundle::public_bundle_from_bytes;
use fhez::ckks::CkksParams;
use fhez::ckks::wire::WireError;
use fhez::erray::Packing;
use fhez::{CtBatch, EncryptedModel, ModelFile};
use http_body_util::BodyExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::api::{ErrorBody, ErrorDetail, KEY_ID_HEADER, KeyRegistered, ModelInfo, ModelList};
use crate::store::{KeyStore, StoreError, is_key_id};

/// Default address: loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// Default database file.
pub const DEFAULT_DB: &str = "fhez-serve.redb";
/// Default request body limit (64 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;
/// Default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Server configuration.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on (port 0: any free port, see [`Server::local_addr`]).
    pub addr: SocketAddr,
    /// The models to serve (names must be distinct).
    pub models: Vec<ModelFile>,
    /// The key database file (created if missing).
    pub db_path: PathBuf,
    /// Largest request body accepted, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Most requests doing CKKS work at once.
    pub max_in_flight: usize,
    /// Most requests waiting (body not yet read) for one of the `max_in_flight` slots;
    /// beyond that, 503 with `Retry-After`. Memory is bounded by
    /// `max_in_flight × max_body_bytes` plus the keys and the models.
    pub max_queue: usize,
    /// Deadline for a whole request (reading the body and evaluating).
    pub request_timeout: Duration,
    /// Decoded key sets kept in memory.
    pub key_cache_entries: usize,
    /// The `Retry-After` value of 503 answers, in seconds.
    pub retry_after_s: u64,
}

impl ServerConfig {
    /// A configuration with the defaults: loopback `127.0.0.1:8080`, `fhez-serve.redb` in
    /// the current directory, 64 MiB bodies, one request in flight per core, a queue of
    /// four per core, 60 s timeout.
    #[must_use]
    pub fn new(models: Vec<ModelFile>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            models,
            db_path: PathBuf::from(DEFAULT_DB),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_in_flight: cores,
            max_queue: 4 * cores,
            request_timeout: DEFAULT_TIMEOUT,
            key_cache_entries: 16,
            retry_after_s: 1,
        }
    }
}

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A model could not be planned or its parameters built.
    #[error("model `{name}`: {source}")]
    Model {
        /// The model's name.
        name: String,
        /// Why.
        source: fhez::Error,
    },
    /// Two models share a name.
    #[error("two models are named `{name}`")]
    DuplicateModel {
        /// The name.
        name: String,
    },
    /// No model to serve.
    #[error("no model to serve")]
    NoModels,
    /// The key store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Binding or serving failed.
    #[error("{addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A background task failed.
    #[error("startup task failed: {0}")]
    Task(String),
}

/// A model ready to serve.
struct Served {
    model: EncryptedModel,
    file: ModelFile,
    params_id: String,
    info: ModelInfo,
}

impl Served {
    fn new(file: ModelFile) -> Result<Self, ServeError> {
        let err = |source| ServeError::Model {
            name: file.name.clone(),
            source,
        };
        let model = file.encrypted_model().map_err(err)?;
        let spec = model.spec();
        let params = CkksParams::new(&spec).map_err(|e| err(e.into()))?;
        let params_id = params.id().to_hex();
        let info = ModelInfo {
            name: file.name.clone(),
            dataset: file.dataset.clone(),
            task: file.task.clone(),
            inputs: file.inputs.clone(),
            output: file.output.clone(),
            max_batch: model.batch(),
            params: spec,
            params_id: params_id.clone(),
            depth: model.plan().depth,
            rotation_steps: model.plan().rotation_steps.iter().copied().collect(),
            metrics: file.metrics.clone(),
        };
        Ok(Self {
            model,
            file,
            params_id,
            info,
        })
    }
}

struct AppState {
    models: BTreeMap<String, Arc<Served>>,
    store: KeyStore,
    permits: Arc<Semaphore>,
    queue: Arc<Semaphore>,
    max_body: usize,
    timeout: Duration,
    retry_after_s: u64,
}

/// An error answer: status, stable code, message; rendered as
/// `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn internal(message: impl Into<String>) -> Self {
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
struct LogKeyId(String);

/// The error code of a response, for the access log.
#[derive(Clone, Copy)]
struct LogCode(&'static str);

/// A bound server: models planned, key store open, socket listening.
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    state: Arc<AppState>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("models", &self.state.models.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Plans the models, builds their parameter sets, opens the key store and binds.
    ///
    /// # Errors
    /// [`ServeError`].
    pub async fn bind(config: ServerConfig) -> Result<Self, ServeError> {
        if config.models.is_empty() {
            return Err(ServeError::NoModels);
        }
        let addr = config.addr;
        let (models, store) = tokio::task::spawn_blocking(move || {
            let mut models = BTreeMap::new();
            for file in config.models {
                let name = file.name.clone();
                if models.contains_key(&name) {
                    return Err(ServeError::DuplicateModel { name });
                }
                models.insert(name, Arc::new(Served::new(file)?));
            }
            let store = KeyStore::open(
                &config.db_path,
                config.max_body_bytes,
                config.key_cache_entries,
            )?;
            Ok((models, store))
        })
        .await
        .map_err(|e| ServeError::Task(e.to_string()))??;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Io { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServeError::Io { addr, source })?;
        for m in models.values() {
            tracing::info!(
                model = %m.file.name,
                params_id = %m.params_id,
                log_n = m.info.params.log_n,
                max_batch = m.info.max_batch,
                "serving model"
            );
        }
        let state = Arc::new(AppState {
            models,
            store,
            permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            queue: Arc::new(Semaphore::new(config.max_queue)),
            max_body: config.max_body_bytes,
            timeout: config.request_timeout,
            retry_after_s: config.retry_after_s,
        });
        Ok(Self {
            listener,
            addr,
            state,
        })
    }

    /// The address actually bound (useful with port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then stops accepting connections and lets
    /// in-flight requests finish.
    ///
    /// # Errors
    /// [`ServeError::Io`].
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        use axum::serve::ListenerExt;
        let addr = self.addr;
        let app = router(self.state);
        tracing::info!(%addr, "listening");
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| ServeError::Io { addr, source })?;
        tracing::info!(%addr, "stopped");
        Ok(())
    }
}

/// Binds with `config` and serves until `shutdown` completes ([`Server::bind`] then
/// [`Server::run`]).
///
/// # Errors
/// [`ServeError`].
pub async fn serve(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    Server::bind(config).await?.run(shutdown).await
}

/// Completes on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{name}", get(get_model))
        .route("/v1/models/{name}/predict", post(predict))
        .route("/v1/keys", post(register_key))
        .route("/v1/keys/{id}", get(key_info).delete(delete_key))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

async fn access_log(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    // The path only: queries may be long and carry nothing the log needs.
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let latency_ms = start.elapsed().as_secs_f64() * 1e3;
    let status = response.status().as_u16();
    let key_id = response
        .extensions()
        .get::<LogKeyId>()
        .map_or("-", |k| k.0.as_str());
    let code = response.extensions().get::<LogCode>().map_or("-", |c| c.0);
    if status >= 500 && status != 503 {
        tracing::warn!(%method, %path, status, latency_ms, key_id, code, "request");
    } else {
        tracing::info!(%method, %path, status, latency_ms, key_id, code, "request");
    }
    response
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {}", uri.path()),
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

async fn health(State(st): State<Arc<AppState>>) -> Response {
    let body = serde_json::json!({
        "status": "ok",
        "models": st.models.len(),
        "free_permits": st.permits.available_permits(),
    });
    axum::Json(body).into_response()
}

async fn list_models(State(st): State<Arc<AppState>>) -> Response {
    let list = ModelList {
        models: st.models.values().map(|m| m.info.clone()).collect(),
    };
    axum::Json(list).into_response()
}

fn model_of(st: &AppState, name: &str) -> Result<Arc<Served>, ApiError> {
    st.models.get(name).cloned().ok_or_else(|| {
        let known: Vec<&str> = st.models.keys().map(String::as_str).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_model",
            format!("no model named `{name}` (serving: {})", known.join(", ")),
        )
    })
}

async fn get_model(State(st): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    match model_of(&st, &name) {
        Ok(m) => axum::Json(m.info.clone()).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The value of query parameter `name` (no percent-decoding: ids and names are plain).
fn query_param<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then_some(v)
    })
}

fn parse_key_id(s: &str) -> Result<String, ApiError> {
    if is_key_id(s) {
        Ok(s.to_owned())
    } else {
        Err(ApiError::bad(
            "bad_key_id",
            "a key id is 64 lowercase hex digits (the SHA-256 of the bundle)",
        ))
    }
}

fn request_key_id(uri: &Uri, headers: &HeaderMap) -> Result<String, ApiError> {
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

fn overloaded(st: &AppState) -> ApiError {
    ApiError {
        retry_after: Some(st.retry_after_s),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many requests in flight; retry after the Retry-After delay",
        )
    }
}

fn timed_out(st: &AppState) -> ApiError {
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

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("request body exceeds the limit of {limit} bytes"),
    )
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Reads and discards up to `cap` bytes of a body we are refusing, briefly, so that the
/// client reads our answer instead of a reset connection. Nothing is kept.
async fn drain(body: Body, cap: usize) {
    let mut body = body;
    let mut seen = 0usize;
    let run = async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen = seen.saturating_add(data.len());
                if seen > cap {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), run).await;
}

/// Reads a body of at most `limit` bytes before `deadline`.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    deadline: tokio::time::Instant,
) -> Result<Vec<u8>, ApiError> {
    let drain_cap = limit.saturating_mul(2).max(16 << 20);
    if let Some(len) = content_length(headers)
        && len > limit as u64
    {
        if len <= drain_cap as u64 {
            drain(body, drain_cap).await;
        }
        return Err(too_large(limit));
    }
    let hint = content_length(headers).map_or(0, |n| usize::try_from(n).unwrap_or(limit));
    let mut out = Vec::with_capacity(hint.min(limit));
    let mut body = body;
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ApiError::bad("body_read", format!("could not read the request body: {e}"))
            })?;
            if let Ok(data) = frame.into_data() {
                if out.len().saturating_add(data.len()) > limit {
                    return Err(too_large(limit));
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(())) => Ok(out),
        Ok(Err(e)) => {
            if e.status == StatusCode::PAYLOAD_TOO_LARGE {
                drain(body, drain_cap).await;
            }
            Err(e)
        }
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            "the request body did not arrive before the request deadline",
        )),
    }
}

/// What a body's first bytes say it is (for a clear `wrong_kind` error).
fn sniff(bytes: &[u8]) -> &'static str {
    match bytes.get(..4) {
        Some(b"FZCB") => "a ciphertext batch",
        Some(b"FZPB") => "a public key bundle",
        Some(b"FHEZ") => match fhez::ckks::wire::peek_envelope(bytes) {
            Ok(env) if env.kind == fhez::ckks::wire::ObjectKind::SecretKey => {
                "a SECRET KEY (never send it)"
            }
            Ok(_) => "a single fhez wire object",
            Err(_) => "a damaged fhez wire object",
        },
        Some(_) | None => "unrecognised",
    }
}

fn expect_kind(bytes: &[u8], want: &'static str, endpoint: &str) -> Result<(), ApiError> {
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

fn is_params_mismatch(e: &fhez::Error) -> bool {
    if let fhez::Error::Ckks(fhez::ckks::Error::ParamsMismatch { .. }) = e {
        return true;
    }
    if let fhez::Error::Ckks(fhez::ckks::Error::Wire(WireError::ParamsMismatch { .. })) = e {
        return true;
    }
    false
}

fn store_error(e: &StoreError) -> ApiError {
    tracing::error!(error = %e, "key store");
    ApiError::internal("the key store failed; see the server log")
}

fn unknown_key(key_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_key",
        format!(
            "no registered key with id {key_id} (register the public bundle with POST /v1/keys)"
        ),
    )
}

/// Admission control: a free in-flight slot at once, or a place in the bounded queue
/// waiting for one until `deadline`; otherwise 503 `overloaded` with `Retry-After`.
async fn admit(
    st: &AppState,
    deadline: tokio::time::Instant,
) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    if let Ok(permit) = Arc::clone(&st.permits).try_acquire_owned() {
        return Ok(permit);
    }
    let Ok(place) = Arc::clone(&st.queue).try_acquire_owned() else {
        return Err(overloaded(st));
    };
    let waited = tokio::time::timeout_at(deadline, Arc::clone(&st.permits).acquire_owned()).await;
    drop(place);
    match waited {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) => Err(ApiError::internal("the admission semaphore is closed")),
        Err(_) => Err(timed_out(st)),
    }
}

/// Runs blocking CKKS work holding `permit`, until `deadline`.
async fn blocking<T: Send + 'static>(
    st: &AppState,
    permit: tokio::sync::OwnedSemaphorePermit,
    deadline: tokio::time::Instant,
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    // The permit moves into the task: if the deadline passes, the work still counts as in
    // flight until it really ends.
    let task = tokio::task::spawn_blocking(move || {
        let out = work();
        drop(permit);
        out
    });
    match tokio::time::timeout_at(deadline, task).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "worker task failed");
            Err(ApiError::internal("the evaluation task failed"))
        }
        Err(_) => Err(timed_out(st)),
    }
}

async fn predict(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let deadline = tokio::time::Instant::now() + st.timeout;
    let pre = model_of(&st, &name).and_then(|m| Ok((m, request_key_id(&uri, &headers)?)));
    let (model, key_id) = match pre {
        Ok(v) => v,
        Err(e) => {
            drain(body, st.max_body).await;
            return e.into_response();
        }
    };
    let log = LogKeyId(key_id.clone());
    let result = predict_inner(&st, model, key_id, &headers, body, deadline).await;
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

async fn predict_inner(
    st: &Arc<AppState>,
    model: Arc<Served>,
    key_id: String,
    headers: &HeaderMap,
    body: Body,
    deadline: tokio::time::Instant,
) -> Result<Vec<u8>, ApiError> {
    let permit = match admit(st, deadline).await {
        Ok(p) => p,
        Err(e) => {
            drain(body, st.max_body).await;
            return Err(e);
        }
    };
    let bytes = read_body(body, headers, st.max_body, deadline).await?;
    let state = Arc::clone(st);
    blocking(st, permit, deadline, move || {
        evaluate_request(&state, &model, &key_id, &bytes)
    })
    .await
}

fn evaluate_request(
    st: &AppState,
    served: &Served,
    key_id: &str,
    bytes: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let (record, server) = st
        .store
        .server(key_id)
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| unknown_key(key_id))?;
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
fn check_inputs(served: &Served, batch: &CtBatch) -> Result<(), ApiError> {
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
            return Err(mismatch(format!(
                "input `{}` must be packed batch-in-slots with batch {n}",
                entry.name
            )));
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

async fn register_key(
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
    let model = match model {
        Ok(m) => m,
        Err(e) => {
            drain(body, st.max_body).await;
            return e.into_response();
        }
    };
    let permit = match admit(&st, deadline).await {
        Ok(p) => p,
        Err(e) => {
            drain(body, st.max_body).await;
            return e.into_response();
        }
    };
    let bytes = match read_body(body, &headers, st.max_body, deadline).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let state = Arc::clone(&st);
    let result = blocking(&st, permit, deadline, move || {
        register_blocking(&state, &model, &bytes)
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

fn register_blocking(
    st: &AppState,
    served: &Served,
    bytes: &[u8],
) -> Result<KeyRegistered, ApiError> {
    expect_kind(bytes, "a public key bundle", "POST /v1/keys")?;
    let keys = public_bundle_from_bytes(bytes, st.max_body)
        .map_err(|e| ApiError::bad("bad_bundle", format!("invalid public key bundle: {e}")))?;
    let params_id = keys.params().id().to_hex();
    if params_id != served.params_id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "params_mismatch",
            format!(
                "the bundle's parameter set is {params_id}, model `{}` uses {} (make keys from GET /v1/models/{})",
                served.file.name, served.params_id, served.file.name
            ),
        ));
    }
    let slots = i64::try_from(keys.params().slots()).unwrap_or(i64::MAX);
    let have = keys.rotation_steps();
    let missing: Vec<i64> = served
        .model
        .plan()
        .rotation_steps
        .iter()
        .copied()
        .filter(|s| {
            let norm = s.rem_euclid(slots.max(1));
            norm != 0 && !have.contains(&norm)
        })
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad(
            "missing_rotation_keys",
            format!(
                "model `{}` needs Galois keys for rotation steps {missing:?}",
                served.file.name
            ),
        ));
    }
    let (record, created) = st
        .store
        .insert(bytes, &keys, &served.file.name)
        .map_err(|e| store_error(&e))?;
    Ok(KeyRegistered {
        key_id: record.key_id,
        params_id,
        model: served.file.name.clone(),
        created,
    })
}

async fn key_info(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let result = parse_key_id(&id).and_then(|id| {
        st.store
            .record(&id)
            .map_err(|e| store_error(&e))?
            .ok_or_else(|| unknown_key(&id))
    });
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

async fn delete_key(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let id = match parse_key_id(&id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let state = Arc::clone(&st);
    let id2 = id.clone();
    let removed = tokio::task::spawn_blocking(move || state.store.remove(&id2)).await;
    let mut r = match removed {
        Ok(Ok(true)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(false)) => unknown_key(&id).into_response(),
        Ok(Err(e)) => store_error(&e).into_response(),
        Err(_) => ApiError::internal("the key store task failed").into_response(),
    };
    r.extensions_mut().insert(LogKeyId(id));
    r
}
