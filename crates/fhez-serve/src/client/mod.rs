//! The client: a thin HTTP [`Client`] for the service's endpoints, and a [`Session`] that
//! keeps the secret key on this side — it makes or reuses keys in a key directory,
//! registers the public bundle once, encrypts, calls the server and decrypts.
//!
//! The HTTP client is built without TLS: use it over loopback or a private network, or
//! put a TLS-terminating proxy in front of the server.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Bytes;
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use crate::api::{ErrorBody, KEY_ID_HEADER, KeyRegistered, Mode, ModelInfo, ModelList};

mod latency;
mod session;

pub use latency::{LATENCY_KEY_SUBDIR, LatencySession};
pub use session::SINGLE_KEY_SUBDIR;
pub use session::{Rotation, SamplePrediction, Session, decrypt_reply, interpret};

/// Largest reply the client reads, in bytes.
pub const MAX_REPLY_BYTES: usize = 1 << 30;

/// Client errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The base URL is not a valid `http://` URL.
    #[error("bad server URL {url:?}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The request could not be sent or its answer read.
    #[error("HTTP request to {url} failed: {source}")]
    Http {
        /// The URL.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The server answered with an error.
    #[error("server answered {status} ({code}): {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The error code of the JSON body (`unknown_key`, `params_mismatch`, …).
        code: String,
        /// Its message.
        message: String,
    },
    /// An answer that is not the JSON expected.
    #[error("unexpected answer from {url}: {reason}")]
    BadAnswer {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Keys, encryption, decryption.
    #[error(transparent)]
    Fhez(#[from] fhez_model::Error),
    /// The key directory holds keys for another parameter set than the model's.
    #[error(
        "the keys in {dir} are for parameter set {found}, model `{model}` uses {expected}; use another --keys directory"
    )]
    KeysForOtherParams {
        /// The key directory.
        dir: PathBuf,
        /// The model.
        model: String,
        /// The model's parameter set id.
        expected: String,
        /// The keys' parameter set id.
        found: String,
    },
    /// The key directory's keys were made for private-only decryptions (no flooding),
    /// which a service session never uses: its plans are for shared decryptions.
    #[error(
        "the keys in {dir} were made for private-only decryptions (`--release private`: no noise flooding); a service session decrypts for release only: use another --keys directory"
    )]
    PrivateOnlyKeys {
        /// The key directory.
        dir: PathBuf,
    },
    /// The inputs do not fit the model.
    #[error("input does not fit model `{model}`: {reason}")]
    Input {
        /// The model.
        model: String,
        /// Why.
        reason: String,
    },
    /// Writing the key-id note failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A blocking task failed.
    #[error("background task failed: {0}")]
    Task(String),
}

impl ClientError {
    /// The server's error code, for [`ClientError::Api`].
    #[must_use]
    pub fn api_code(&self) -> Option<&str> {
        if let Self::Api { code, .. } = self {
            Some(code)
        } else {
            None
        }
    }
}

/// Retry policy for 503 answers (overload, timeout) and refused connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in total (1: no retry).
    pub attempts: u32,
    /// Longest wait honoured from a `Retry-After` header.
    pub max_wait: Duration,
    /// No new attempt starts after this long since the first.
    pub max_total: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 120,
            max_wait: Duration::from_secs(10),
            max_total: Duration::from_secs(300),
        }
    }
}

/// A client of one fhez server (HTTP only; see the module docs).
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    host: String,
    retry: Retry,
}

impl Client {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8080`), with a
    /// 10-minute request timeout, idle pooled connections closed after 5 s, and the
    /// default [`Retry`] policy.
    ///
    /// # Errors
    /// [`ClientError::BadUrl`], [`ClientError::Http`] if the HTTP client cannot be built.
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let bad = |reason: &str| ClientError::BadUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let url = reqwest::Url::parse(base_url).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "http" {
            return Err(bad(
                "only http:// is supported (no TLS in this build; use a TLS-terminating proxy)",
            ));
        }
        let host = format!(
            "{}-{}",
            url.host_str().ok_or_else(|| bad("no host"))?,
            url.port_or_known_default().unwrap_or(80)
        );
        // Pooled connections are dropped after 5 s idle: below the server's default
        // header-read (10 s) and idle (30 s) timeouts (`crate::server`), so that the
        // client does not reuse a connection the server is closing.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .map_err(|source| ClientError::Http {
                url: base_url.to_owned(),
                source,
            })?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            host,
            retry: Retry::default(),
        })
    }

    /// The same client with another retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The server's base URL.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request built by `make` (once per attempt), retrying 503 answers after their
    /// `Retry-After` delay and refused connections after a short delay, up to the policy's
    /// attempts. Returns the final status and body; non-2xx statuses become
    /// [`ClientError::Api`].
    async fn send(
        &self,
        url: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let mut attempt = 0u32;
        let first = std::time::Instant::now();
        loop {
            attempt += 1;
            let last =
                attempt >= self.retry.attempts.max(1) || first.elapsed() >= self.retry.max_total;
            let response = match make().send().await {
                Ok(r) => r,
                Err(e) if e.is_connect() && !last => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                Err(source) => {
                    return Err(ClientError::Http {
                        url: url.to_owned(),
                        source,
                    });
                }
            };
            let status = response.status();
            let wait = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response.bytes().await.map_err(|source| ClientError::Http {
                url: url.to_owned(),
                source,
            })?;
            if status == StatusCode::SERVICE_UNAVAILABLE && !last {
                let wait = wait
                    .unwrap_or(Duration::from_secs(1))
                    .min(self.retry.max_wait);
                // Spread retries a little so that waiting clients do not return in lockstep.
                let jitter = Duration::from_millis(u64::from(attempt.wrapping_mul(37) % 250));
                tokio::time::sleep(wait + jitter).await;
                continue;
            }
            if status.is_success() {
                return Ok((status, body));
            }
            return Err(api_error(url, status, &body));
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        let (_, body) = self.send(&url, || self.http.get(&url)).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::BadAnswer {
            url,
            reason: e.to_string(),
        })
    }

    /// `GET /v1/models`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn models(&self) -> Result<Vec<ModelInfo>, ClientError> {
        Ok(self.get_json::<ModelList>("/v1/models").await?.models)
    }

    /// `GET /v1/models/{name}`.
    ///
    /// # Errors
    /// [`ClientError`] (`unknown_model` as [`ClientError::Api`]).
    pub async fn model(&self, name: &str) -> Result<ModelInfo, ClientError> {
        self.get_json(&format!("/v1/models/{name}")).await
    }

    /// `GET /v1/models/{name}/plan?packing=PACKING`: the plan the server evaluates the
    /// model with (packing, slot layouts, parameters; no weights).
    ///
    /// # Errors
    /// [`ClientError`] (`mode_unsupported` as [`ClientError::Api`] when the server cannot
    /// plan the model with that packing).
    pub async fn plan(&self, name: &str, packing: Mode) -> Result<fhez_nn::Plan, ClientError> {
        self.get_json(&format!("/v1/models/{name}/plan?packing={packing}"))
            .await
    }

    /// `POST /v1/keys?model=NAME`: registers a public bundle (idempotent).
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn register(&self, model: &str, bundle: Bytes) -> Result<KeyRegistered, ClientError> {
        self.register_mode(model, Mode::Batch, bundle).await
    }

    /// `POST /v1/keys?model=NAME&mode=MODE`: registers a public bundle for one mode
    /// (idempotent).
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn register_mode(
        &self,
        model: &str,
        mode: Mode,
        bundle: Bytes,
    ) -> Result<KeyRegistered, ClientError> {
        let url = self.url(&format!("/v1/keys?model={model}&mode={mode}"));
        let (_, body) = self
            .send(&url, || self.http.post(&url).body(bundle.clone()))
            .await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::BadAnswer {
            url,
            reason: e.to_string(),
        })
    }

    /// `DELETE /v1/keys/{id}` with the owner token its registration returned.
    ///
    /// # Errors
    /// [`ClientError`] (`unknown_key`, `not_owner`, `missing_owner_token` as
    /// [`ClientError::Api`]).
    pub async fn delete_key(&self, key_id: &str, owner_token: &str) -> Result<(), ClientError> {
        let url = self.url(&format!("/v1/keys/{key_id}"));
        self.send(&url, || {
            self.http
                .delete(&url)
                .header(crate::api::OWNER_TOKEN_HEADER, owner_token)
        })
        .await?;
        Ok(())
    }

    /// `POST /v1/models/{name}/predict` with a ciphertext batch; returns the reply bytes
    /// (a ciphertext batch).
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn predict(
        &self,
        model: &str,
        key_id: &str,
        request: Bytes,
    ) -> Result<Bytes, ClientError> {
        self.predict_mode(model, key_id, Mode::Batch, request).await
    }

    /// `POST /v1/models/{name}/predict?mode=MODE`: batch and single-input modes take and
    /// return a ciphertext batch, latency mode one wire ciphertext.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn predict_mode(
        &self,
        model: &str,
        key_id: &str,
        mode: Mode,
        request: Bytes,
    ) -> Result<Bytes, ClientError> {
        let url = self.url(&format!("/v1/models/{model}/predict?mode={mode}"));
        let (_, body) = self
            .send(&url, || {
                self.http
                    .post(&url)
                    .header(KEY_ID_HEADER, key_id)
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(request.clone())
            })
            .await?;
        if body.len() > MAX_REPLY_BYTES {
            return Err(ClientError::BadAnswer {
                url,
                reason: format!("reply of {} bytes is over the limit", body.len()),
            });
        }
        Ok(body)
    }
}

fn api_error(url: &str, status: StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => ClientError::Api {
            status: status.as_u16(),
            code: e.error.code,
            message: e.error.message,
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: "http".to_owned(),
            message: format!(
                "{url}: {}",
                String::from_utf8_lossy(body.get(..200).unwrap_or(body))
            ),
        },
    }
}
