//! The HTTP server: evaluates models on ciphertexts with the public evaluation keys that
//! clients registered. See the crate README for the endpoints, limits and error codes.
//!
//! The server holds only [`CkksServer`](fhez_ckks::CkksServer) values (built from public
//! bundles) and latency models evaluated with public `ServerKeys`; neither has a decrypt
//! operation, so nothing in this module can decrypt.

mod conn;
mod errors;
mod latency;
mod limits;
mod metrics;
mod routes_keys;
mod routes_latency;
mod routes_predict;
mod routes_single;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fhez_ckks::CkksParams;
use fhez_model::{EncryptedModel, ModelFile};
use tokio::net::TcpListener;

use crate::api::{ModelInfo, ModelList};
use crate::store::{CacheLimits, KeyStore, PgConfig, PgStore, Quotas, StoreError};
use errors::{ApiError, LogCode, LogKeyId};
use limits::Gate;
use routes_keys::{delete_key, key_info, register_key};
use routes_predict::predict;

/// Default address: loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// Default database file.
pub const DEFAULT_DB: &str = "fhez-serve.redb";
/// Default request body limit (64 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;
/// Default bound on the bytes of decoded key sets kept in memory (1 GiB).
pub const DEFAULT_KEY_CACHE_BYTES: usize = 1 << 30;
/// Default quota on registered keys.
pub const DEFAULT_MAX_KEYS: u64 = 1000;
/// Default quota on the bytes of registered bundles (4 GiB).
pub const DEFAULT_MAX_KEY_BYTES: u64 = 4 << 30;
/// Default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time a client has to send a request's headers.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a connection may stay open carrying no request and moving no byte.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default budget on request-body bytes being received or waiting for a slot (256 MiB).
pub const DEFAULT_MAX_RECEIVING_BYTES: usize = 256 << 20;
/// Default minimum body rate, bytes per second (16 KiB/s), enforced after
/// [`DEFAULT_BODY_GRACE`].
pub const DEFAULT_MIN_BODY_RATE: u64 = 16 << 10;
/// Default time a body may take to start arriving before the minimum rate applies.
pub const DEFAULT_BODY_GRACE: Duration = Duration::from_secs(5);

/// Server configuration.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on (port 0: any free port, see [`Server::local_addr`]).
    pub addr: SocketAddr,
    /// The models to serve (names must be distinct).
    pub models: Vec<ModelFile>,
    /// The key database file (created if missing); unused when `postgres` is set.
    pub db_path: PathBuf,
    /// A PostgreSQL key store shared by several workers instead of the database file
    /// (`None`: the embedded file, the default).
    pub postgres: Option<PgConfig>,
    /// After a shutdown signal, how long the worker keeps serving while `/readyz`
    /// answers 503 `draining` (so that a load balancer stops sending it requests) before
    /// it stops accepting connections and finishes the requests in flight.
    pub drain_grace: Duration,
    /// Largest request body accepted, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Most requests doing CKKS work at once.
    pub max_in_flight: usize,
    /// Most requests waiting (body read) for one of the `max_in_flight` slots; beyond
    /// that, 503 with `Retry-After`.
    pub max_queue: usize,
    /// Budget on request-body bytes held by the server: being received, waiting for a
    /// slot or being evaluated (at least `max_body_bytes`). A body that does not fit is
    /// answered 503 with `Retry-After`. Memory is bounded by this budget plus
    /// `max_in_flight` working sets, the keys and the models.
    pub max_receiving_bytes: usize,
    /// Most open connections; beyond it a new connection is answered 503
    /// `too_many_connections` and closed.
    pub max_connections: usize,
    /// Time a client has to send a request's headers; then the connection is closed.
    pub header_read_timeout: Duration,
    /// Time a connection may stay open with no request being handled and no byte moving;
    /// then it is closed.
    pub idle_timeout: Duration,
    /// Minimum body rate in bytes per second, enforced after `body_grace`: a body slower
    /// than `min_body_rate × (elapsed − body_grace)` is answered 408 `body_too_slow`.
    pub min_body_rate: u64,
    /// See `min_body_rate`.
    pub body_grace: Duration,
    /// Deadline for a whole request (reading the body and evaluating).
    pub request_timeout: Duration,
    /// Decoded key sets kept in memory.
    pub key_cache_entries: usize,
    /// Bytes of decoded key sets kept in memory (a key set counts as its bundle's size).
    pub key_cache_bytes: usize,
    /// Most keys the store holds; registrations beyond it are answered 507
    /// `key_store_full`.
    pub max_keys: u64,
    /// Most bytes of bundles the store holds (their sum); registrations beyond it are
    /// answered 507 `key_store_full`.
    pub max_key_bytes: u64,
    /// The `Retry-After` value of 503 answers, in seconds.
    pub retry_after_s: u64,
    /// Most latency-mode requests doing CKKS work at once (a pool separate from
    /// `max_in_flight`; one latency request holds about a megabyte of body and tens of
    /// megabytes of working set, see the README's sizing).
    pub latency_max_in_flight: usize,
    /// Most latency-mode requests waiting for a latency slot.
    pub latency_max_queue: usize,
}

impl ServerConfig {
    /// A configuration with the defaults: loopback `127.0.0.1:8080`, `fhez-serve.redb` in
    /// the current directory, 64 MiB bodies, one request in flight per core, a queue of
    /// four per core, 60 s timeout; latency mode: one request in flight per core and a
    /// queue of 64 per core.
    #[must_use]
    pub fn new(models: Vec<ModelFile>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            models,
            db_path: PathBuf::from(DEFAULT_DB),
            postgres: None,
            drain_grace: Duration::ZERO,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_in_flight: cores,
            max_queue: 4 * cores,
            max_receiving_bytes: DEFAULT_MAX_RECEIVING_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            min_body_rate: DEFAULT_MIN_BODY_RATE,
            body_grace: DEFAULT_BODY_GRACE,
            request_timeout: DEFAULT_TIMEOUT,
            key_cache_entries: 16,
            key_cache_bytes: DEFAULT_KEY_CACHE_BYTES,
            max_keys: DEFAULT_MAX_KEYS,
            max_key_bytes: DEFAULT_MAX_KEY_BYTES,
            retry_after_s: 1,
            latency_max_in_flight: cores,
            latency_max_queue: 64 * cores,
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
        source: fhez_model::Error,
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
    /// The batch-mode parameter set, reused to read every bundle registered for it.
    params: Arc<CkksParams>,
    params_id: String,
    info: ModelInfo,
    /// Latency mode, when the graph has a latency form.
    latency: Option<latency::LatencyServed>,
    /// Single-input packing, when the graph can be planned with it.
    single: Option<routes_single::SingleServed>,
}

impl Served {
    fn new(mut file: ModelFile, max_body: usize) -> Result<Self, ServeError> {
        // The service never chooses private-only decryptions for its clients: every plan
        // it publishes budgets the flooding of shared decryptions.
        if !file.plan.release.is_shared() {
            tracing::warn!(model = %file.name, "the model file asks for private-only decryptions; the service plans for shared ones");
            file.plan.release = fhez_nn::ReleaseChoice::Shared;
        }
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
            latency: None,
            single: None,
        };
        let mut served = Self {
            model,
            file,
            params,
            params_id,
            info,
            latency: None,
            single: None,
        };
        served.latency = latency::LatencyServed::new(&served.file, max_body)?;
        served.info.latency = served.latency.as_ref().map(|l| l.info.clone());
        served.single = routes_single::SingleServed::new(&served.file, max_body)?;
        served.info.single = served.single.as_ref().map(|s| s.info.clone());
        Ok(served)
    }
}

struct AppState {
    models: BTreeMap<String, Arc<Served>>,
    store: KeyStore,
    /// Admission of batch-mode requests (and key registrations).
    batch_gate: Gate,
    /// Admission of latency-mode requests.
    latency_gate: Gate,
    /// Bytes of request bodies held (one permit per byte).
    receiving: Arc<tokio::sync::Semaphore>,
    /// The size of `receiving`, for messages.
    receiving_limit: usize,
    max_body: usize,
    timeout: Duration,
    min_body_rate: u64,
    body_grace: Duration,
    retry_after_s: u64,
    metrics: metrics::Metrics,
    /// Set when a shutdown signal arrived: `/readyz` answers 503.
    draining: AtomicBool,
}

/// A bound server: models planned, key store open, socket listening.
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    state: Arc<AppState>,
    conn_limits: conn::ConnLimits,
    drain_grace: Duration,
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
                models.insert(name, Arc::new(Served::new(file, config.max_body_bytes)?));
            }
            let cache = CacheLimits {
                entries: config.key_cache_entries,
                bytes: config.key_cache_bytes,
            };
            let quotas = Quotas {
                keys: config.max_keys,
                bytes: config.max_key_bytes,
            };
            let store = match &config.postgres {
                Some(pg) => KeyStore::with_backend(
                    Box::new(PgStore::connect(pg)?),
                    config.max_body_bytes,
                    cache,
                    quotas,
                ),
                None => KeyStore::open_with_quotas(
                    &config.db_path,
                    config.max_body_bytes,
                    cache,
                    quotas,
                )?,
            };
            tracing::info!(store = %store.backend().describe(), "key store open");
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
        let receiving = config
            .max_receiving_bytes
            .max(config.max_body_bytes)
            .min(tokio::sync::Semaphore::MAX_PERMITS);
        let conn_limits = conn::ConnLimits {
            max_connections: config.max_connections,
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            retry_after_s: config.retry_after_s,
        };
        let (hits, misses) = store.cache_counters();
        let state = Arc::new(AppState {
            metrics: metrics::Metrics::new(hits, misses),
            draining: AtomicBool::new(false),
            models,
            store,
            batch_gate: Gate::new(config.max_in_flight, config.max_queue),
            latency_gate: Gate::new(config.latency_max_in_flight, config.latency_max_queue),
            receiving: Arc::new(tokio::sync::Semaphore::new(receiving)),
            receiving_limit: receiving,
            max_body: config.max_body_bytes,
            timeout: config.request_timeout,
            min_body_rate: config.min_body_rate,
            body_grace: config.body_grace,
            retry_after_s: config.retry_after_s,
        });
        Ok(Self {
            listener,
            addr,
            state,
            conn_limits,
            drain_grace: config.drain_grace,
        })
    }

    /// The address actually bound (useful with port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then drains: `/readyz` answers 503 and the
    /// worker keeps serving for [`ServerConfig::drain_grace`], then it stops accepting
    /// connections, lets in-flight requests finish and closes idle connections.
    ///
    /// # Errors
    /// None at present (accept errors, e.g. running out of file descriptors, are logged
    /// and retried); the `Result` is kept for errors a future transport may have.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let addr = self.addr;
        let state = Arc::clone(&self.state);
        let grace = self.drain_grace;
        let shutdown = async move {
            shutdown.await;
            state.draining.store(true, Ordering::SeqCst);
            if !grace.is_zero() {
                tracing::info!(
                    grace_ms = grace.as_millis(),
                    "draining: /readyz answers 503"
                );
                tokio::time::sleep(grace).await;
            }
        };
        let app = router(self.state);
        tracing::info!(%addr, "listening");
        conn::run(self.listener, app, self.conn_limits, shutdown).await;
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
        .route("/readyz", get(metrics::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{name}", get(get_model))
        .route("/v1/models/{name}/plan", get(routes_single::get_plan))
        .route("/v1/models/{name}/predict", post(predict))
        .route("/v1/keys", post(register_key))
        .route("/v1/keys/{id}", get(key_info).delete(delete_key))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            access_log,
        ))
        .with_state(state)
}

async fn access_log(State(st): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    // The path only: queries may be long and carry nothing the log needs.
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let latency_ms = start.elapsed().as_secs_f64() * 1e3;
    let status = response.status().as_u16();
    st.metrics.request(&route, method.as_str(), status);
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
        "free_permits": st.batch_gate.permits.available_permits(),
        "free_latency_permits": st.latency_gate.permits.available_permits(),
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

/// The path parameter of a request, or the JSON error for a path that does not decode
/// (bad percent-encoding, not UTF-8).
fn path_param(
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, ApiError> {
    path.map(|Path(p)| p).map_err(|e| {
        ApiError::bad(
            "bad_path",
            format!("the request path does not decode: {}", e.body_text()),
        )
    })
}

async fn get_model(
    State(st): State<Arc<AppState>>,
    name: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let name = match path_param(name) {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    match model_of(&st, &name) {
        Ok(m) => axum::Json(m.info.clone()).into_response(),
        Err(e) => e.into_response(),
    }
}
