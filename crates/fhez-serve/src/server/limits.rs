//! Limits and back-pressure: admission (in-flight slots and the bounded queue), body
//! reading under a size limit and a deadline, and blocking CKKS work under the deadline.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::Semaphore;

use super::AppState;
use super::errors::{ApiError, overloaded, receiving_full, sniff, timed_out, too_large_kind};

pub(super) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Reads and discards up to `cap` bytes of a body we are refusing, briefly, so that the
/// client reads our answer instead of a reset connection. Nothing is kept.
pub(super) async fn drain(body: Body, cap: usize) {
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

/// Largest buffer reserved up front for a body (it grows as bytes arrive): a claimed
/// `Content-Length` costs nothing until the bytes are there.
const INITIAL_BODY_CAPACITY: usize = 1 << 20;

/// A request body held in memory with its share of the receiving budget, released when
/// this is dropped (after the evaluation that uses it).
pub(super) struct Received {
    pub(super) bytes: Vec<u8>,
    _budget: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Reads a body of at most `limit` bytes before `deadline`, taking one permit of the
/// receiving budget per byte as it arrives (none free: 503 `overloaded`), and answering
/// 408 `body_too_slow` when fewer than `min_body_rate × (elapsed − body_grace)` bytes
/// have arrived.
pub(super) async fn read_body(
    st: &AppState,
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    deadline: tokio::time::Instant,
) -> Result<Received, ApiError> {
    let drain_cap = limit.saturating_mul(2).max(16 << 20);
    if let Some(len) = content_length(headers)
        && len > limit as u64
    {
        // Peek at the first frame so that the answer can say what the body is (e.g. a
        // ciphertext batch sent to latency predict); nothing of it is kept.
        let mut body = body;
        let first = tokio::time::timeout(Duration::from_secs(2), body.frame()).await;
        let kind = match first {
            Ok(Some(Ok(frame))) => frame.into_data().map_or("unrecognised", |d| sniff(&d)),
            Ok(Some(Err(_)) | None) | Err(_) => "unrecognised",
        };
        if len <= drain_cap as u64 {
            drain(body, drain_cap).await;
        }
        return Err(too_large_kind(limit, kind));
    }
    let hint = content_length(headers).map_or(0, |n| usize::try_from(n).unwrap_or(limit));
    let mut out = Vec::with_capacity(hint.min(limit).min(INITIAL_BODY_CAPACITY));
    let mut budget: Option<tokio::sync::OwnedSemaphorePermit> = None;
    let mut body = body;
    let start = tokio::time::Instant::now();
    loop {
        let slow_at = if st.min_body_rate == 0 {
            deadline
        } else {
            #[expect(
                clippy::cast_precision_loss,
                reason = "a time bound; bytes far below 2^52"
            )]
            let allowed = Duration::from_secs_f64(out.len() as f64 / st.min_body_rate as f64);
            (start + st.body_grace + allowed).min(deadline)
        };
        let frame = match tokio::time::timeout_at(slow_at, body.frame()).await {
            Ok(Some(frame)) => frame.map_err(|e| {
                ApiError::bad("body_read", format!("could not read the request body: {e}"))
            })?,
            Ok(None) => break,
            Err(_) if slow_at >= deadline => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    "the request body did not arrive before the request deadline",
                ));
            }
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_too_slow",
                    format!(
                        "the request body arrives slower than the minimum of {} bytes/s ({} bytes after {:.1} s)",
                        st.min_body_rate,
                        out.len(),
                        start.elapsed().as_secs_f64()
                    ),
                ));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if out.len().saturating_add(data.len()) > limit {
            let kind = if out.is_empty() {
                sniff(&data)
            } else {
                sniff(&out)
            };
            drain(body, drain_cap).await;
            return Err(too_large_kind(limit, kind));
        }
        let want = u32::try_from(data.len()).map_err(|_| too_large_kind(limit, "unrecognised"))?;
        let Ok(more) = Arc::clone(&st.receiving).try_acquire_many_owned(want) else {
            return Err(receiving_full(st));
        };
        match budget.as_mut() {
            Some(held) => held.merge(more),
            None => budget = Some(more),
        }
        out.extend_from_slice(&data);
    }
    Ok(Received {
        bytes: out,
        _budget: budget,
    })
}

/// Admission control: a free in-flight slot at once, or a place in the bounded queue
/// waiting for one until `deadline`; otherwise 503 `overloaded` with `Retry-After`.
pub(super) async fn admit(
    st: &AppState,
    gate: &Gate,
    deadline: tokio::time::Instant,
) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    if let Ok(permit) = Arc::clone(&gate.permits).try_acquire_owned() {
        return Ok(permit);
    }
    let Ok(place) = Arc::clone(&gate.queue).try_acquire_owned() else {
        return Err(overloaded(st));
    };
    let waited = tokio::time::timeout_at(deadline, Arc::clone(&gate.permits).acquire_owned()).await;
    drop(place);
    match waited {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) => Err(ApiError::internal("the admission semaphore is closed")),
        Err(_) => Err(timed_out(st)),
    }
}

/// Runs blocking CKKS work holding `permit`, until `deadline`.
pub(super) async fn blocking<T: Send + 'static>(
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

/// In-flight slots and the bounded queue in front of them (one per mode).
pub(super) struct Gate {
    /// Requests doing work.
    pub(super) permits: Arc<Semaphore>,
    /// Requests waiting for a permit.
    pub(super) queue: Arc<Semaphore>,
    /// The number of permits (in-flight slots).
    pub(super) in_flight_cap: usize,
    /// The number of queue places.
    pub(super) queue_cap: usize,
}

impl Gate {
    pub(super) fn new(in_flight: usize, queue: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(in_flight.max(1))),
            queue: Arc::new(Semaphore::new(queue)),
            in_flight_cap: in_flight.max(1),
            queue_cap: queue,
        }
    }

    /// Requests evaluating now and requests waiting for a slot.
    pub(super) fn depth(&self) -> (usize, usize) {
        (
            self.in_flight_cap
                .saturating_sub(self.permits.available_permits()),
            self.queue_cap
                .saturating_sub(self.queue.available_permits()),
        )
    }
}
