//! `GET /metrics` (Prometheus / OpenMetrics text, with the `prometheus-client` crate),
//! `GET /readyz`, and the request counting done by the access-log middleware.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::AppState;
use crate::api::Mode;

/// Labels of `fhez_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RequestLabels {
    /// The route template (`/v1/models/{name}/predict`), `unmatched` for none.
    pub(super) route: String,
    /// The HTTP method.
    pub(super) method: String,
    /// The answer's status code.
    pub(super) status: u16,
}

/// Labels of the per-pool gauges: `batch` or `latency` (latency and single-input
/// requests share the latency pool).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PoolLabels {
    pool: String,
}

/// Labels of the evaluation histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ModeLabels {
    mode: String,
}

type HistogramFamily = Family<ModeLabels, Histogram, fn() -> Histogram>;

fn evaluation_histogram() -> Histogram {
    // 1 ms to about 131 s, doubling: latency-mode requests take tens of milliseconds,
    // batch-mode requests of a large model tens of seconds.
    Histogram::new(exponential_buckets(0.001, 2.0, 18))
}

/// The service's metrics.
pub(super) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    queue_depth: Family<PoolLabels, Gauge>,
    in_flight: Family<PoolLabels, Gauge>,
    evaluation: HistogramFamily,
    ready: Gauge,
}

impl Metrics {
    /// A registry with every metric, the key cache's counters included.
    pub(super) fn new(cache_hits: Counter, cache_misses: Counter) -> Self {
        let mut registry = Registry::with_prefix("fhez");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let queue_depth = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "queue_depth",
            "Requests waiting (body read) for an evaluation slot, by pool",
            queue_depth.clone(),
        );
        let in_flight = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "in_flight",
            "Requests holding an evaluation slot, by pool",
            in_flight.clone(),
        );
        let evaluation: HistogramFamily = Family::new_with_constructor(evaluation_histogram);
        registry.register(
            "evaluation_seconds",
            "Time of a successful request's blocking work (validation and evaluation), by mode",
            evaluation.clone(),
        );
        registry.register(
            "key_cache_hits",
            "Key sets found decoded in this worker's cache",
            cache_hits,
        );
        registry.register(
            "key_cache_misses",
            "Key sets read from the key store and decoded",
            cache_misses,
        );
        let ready = Gauge::default();
        registry.register(
            "ready",
            "1 while /readyz answers 200 at its last call, else 0",
            ready.clone(),
        );
        Self {
            registry,
            requests,
            queue_depth,
            in_flight,
            evaluation,
            ready,
        }
    }

    /// Counts one answered request.
    pub(super) fn request(&self, route: &str, method: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
    }

    /// Records the blocking work of a successful request.
    pub(super) fn evaluated(&self, mode: Mode, took: Duration) {
        self.evaluation
            .get_or_create(&ModeLabels {
                mode: mode.to_string(),
            })
            .observe(took.as_secs_f64());
    }
}

/// `GET /metrics`.
pub(super) async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    for (pool, gate) in [("batch", &st.batch_gate), ("latency", &st.latency_gate)] {
        let (in_flight, queued) = gate.depth();
        let labels = PoolLabels {
            pool: pool.to_owned(),
        };
        st.metrics
            .in_flight
            .get_or_create(&labels)
            .set(i64::try_from(in_flight).unwrap_or(i64::MAX));
        st.metrics
            .queue_depth
            .get_or_create(&labels)
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
    }
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &st.metrics.registry) {
        return super::errors::ApiError::internal(format!("encoding the metrics: {e}"))
            .into_response();
    }
    let mut r = text.into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

/// Longest `/readyz` waits for the key store to answer.
const READY_STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /readyz`: 200 `{"status": "ready"}` while the worker takes requests and its key
/// store answers; 503 `{"status": "draining"}` after a shutdown signal (during the drain
/// grace period), 503 `{"status": "store_unavailable", "message"}` when the store does
/// not answer within 2 s.
pub(super) async fn readyz(State(st): State<Arc<AppState>>) -> Response {
    let unready = |status: &str, message: String| {
        st.metrics.ready.set(0);
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": status, "message": message})),
        )
            .into_response()
    };
    if st.draining.load(Ordering::SeqCst) {
        return unready("draining", "the worker is shutting down".to_owned());
    }
    let state = Arc::clone(&st);
    let check = tokio::task::spawn_blocking(move || state.store.check());
    match tokio::time::timeout(READY_STORE_TIMEOUT, check).await {
        Ok(Ok(Ok(()))) => {
            st.metrics.ready.set(1);
            axum::Json(serde_json::json!({"status": "ready"})).into_response()
        }
        Ok(Ok(Err(e))) => unready("store_unavailable", e.to_string()),
        Ok(Err(e)) => unready("store_unavailable", format!("the check failed: {e}")),
        Err(_) => unready(
            "store_unavailable",
            format!(
                "the key store did not answer within {} ms",
                READY_STORE_TIMEOUT.as_millis()
            ),
        ),
    }
}
