//! The client: a thin HTTP [`Client`] for the service's endpoints, and a [`Session`] that
//! keeps the secret key on this side — it makes or reuses keys in a key directory,
//! registers the public bundle once, encrypts, calls the server and decrypts.
//!
//! The HTTP client is built without TLS: use it over loopback or a private network, or
//! put a TLS-terminating proxy in front of the server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use fhez::bundle::{
    PUBLIC_BUNDLE_FILE, SECRET_KEY_FILE, load_client_keys, public_bundle_path, read_limited,
    save_client_keys,
};
use fhez::ckks::{CkksClient, CkksParams, wire};
use fhez::erray::PlainArray;
use fhez::{CtBatch, Task};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use crate::api::{ErrorBody, KEY_ID_HEADER, KeyRegistered, ModelInfo, ModelList};
use crate::store::{is_key_id, key_id_of};

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
    Fhez(#[from] fhez::Error),
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
    /// 10-minute request timeout and the default [`Retry`] policy.
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
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
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

    /// `POST /v1/keys?model=NAME`: registers a public bundle (idempotent).
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn register(&self, model: &str, bundle: Bytes) -> Result<KeyRegistered, ClientError> {
        let url = self.url(&format!("/v1/keys?model={model}"));
        let (_, body) = self
            .send(&url, || self.http.post(&url).body(bundle.clone()))
            .await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::BadAnswer {
            url,
            reason: e.to_string(),
        })
    }

    /// `DELETE /v1/keys/{id}`.
    ///
    /// # Errors
    /// [`ClientError`] (`unknown_key` as [`ClientError::Api`]).
    pub async fn delete_key(&self, key_id: &str) -> Result<(), ClientError> {
        let url = self.url(&format!("/v1/keys/{key_id}"));
        self.send(&url, || self.http.delete(&url)).await?;
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
        let url = self.url(&format!("/v1/models/{model}/predict"));
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

/// The prediction for one sample.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SamplePrediction {
    /// A classifier's answer: the argmax of the decrypted logits.
    Class {
        /// Class index.
        index: usize,
        /// Class name.
        label: String,
        /// The decrypted logits.
        logits: Vec<f64>,
    },
    /// A regressor's answer, target scaling undone.
    Values {
        /// The values.
        values: Vec<f64>,
    },
}

/// Keys for one model on one server: the secret key stays in the key directory; the
/// server only ever receives the public bundle and ciphertexts.
pub struct Session {
    client: Client,
    info: ModelInfo,
    keys: Arc<CkksClient>,
    bundle: Bytes,
    key_id: String,
    note: PathBuf,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.client.base)
            .field("model", &self.info.name)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ClientError> + Send + 'static,
) -> Result<T, ClientError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::Task(e.to_string()))?
}

impl Session {
    /// Opens a session for `model`: reads its description, loads the keys of `key_dir`
    /// (or generates them for the model's parameters and rotation steps and saves them
    /// there), and registers the public bundle unless a note in `key_dir` says this server
    /// already has it.
    ///
    /// # Errors
    /// [`ClientError`], notably [`ClientError::KeysForOtherParams`].
    pub async fn open(client: Client, model: &str, key_dir: &Path) -> Result<Self, ClientError> {
        let info = client.model(model).await?;
        let dir = key_dir.to_owned();
        let info2 = info.clone();
        let keys = blocking(move || load_or_make_keys(&dir, &info2)).await?;
        let bundle_path = public_bundle_path(key_dir);
        let bundle = read_limited(&bundle_path, wire::DEFAULT_LIMIT as usize)?;
        let key_id = key_id_of(&bundle);
        let note = key_dir.join(format!("key-id-{}-{}.txt", client.host, sanitize(model)));
        let session = Self {
            client,
            info,
            keys: Arc::new(keys),
            bundle: Bytes::from(bundle),
            key_id,
            note,
        };
        let registered = std::fs::read_to_string(&session.note)
            .is_ok_and(|s| s.trim() == session.key_id && is_key_id(s.trim()));
        if !registered {
            session.register().await?;
        }
        Ok(session)
    }

    async fn register(&self) -> Result<(), ClientError> {
        let reg = self
            .client
            .register(&self.info.name, self.bundle.clone())
            .await?;
        if reg.key_id != self.key_id {
            return Err(ClientError::BadAnswer {
                url: self.client.url("/v1/keys"),
                reason: format!(
                    "key id {} is not the SHA-256 of the bundle ({})",
                    reg.key_id, self.key_id
                ),
            });
        }
        std::fs::write(&self.note, format!("{}\n", self.key_id)).map_err(|source| ClientError::Io {
            path: self.note.clone(),
            source,
        })
    }

    /// The model's description.
    #[must_use]
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The registered key id.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The client keys (secret key included; they never leave this process).
    #[must_use]
    pub fn keys(&self) -> &Arc<CkksClient> {
        &self.keys
    }

    /// The HTTP client.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// **Client.** Encrypts `samples` (each flattened to the model's single input shape)
    /// as one request of at most `max_batch` samples, in the wire format.
    ///
    /// # Errors
    /// [`ClientError::Input`], encryption errors.
    pub async fn encrypt(&self, samples: &[Vec<f64>]) -> Result<Bytes, ClientError> {
        let (name, x) = self.stack(samples)?;
        let keys = Arc::clone(&self.keys);
        blocking(move || {
            Ok(Bytes::from(CtBatch::encrypt_seeded_bytes(
                &keys,
                &[(name.as_str(), x)],
            )?))
        })
        .await
    }

    fn stack(&self, samples: &[Vec<f64>]) -> Result<(String, PlainArray), ClientError> {
        let err = |reason: String| ClientError::Input {
            model: self.info.name.clone(),
            reason,
        };
        let [input] = self.info.inputs.as_slice() else {
            return Err(err(format!(
                "the model takes {} encrypted inputs; encrypt them with CtBatch::encrypt_seeded_bytes",
                self.info.inputs.len()
            )));
        };
        let size: usize = input.shape.iter().product();
        if samples.is_empty() || samples.len() > self.info.max_batch {
            return Err(err(format!(
                "{} samples; one request takes 1 to {}",
                samples.len(),
                self.info.max_batch
            )));
        }
        let mut data = Vec::with_capacity(samples.len() * size);
        for (i, s) in samples.iter().enumerate() {
            if s.len() != size {
                return Err(err(format!(
                    "sample {i} has {} values, input `{}` of shape {:?} takes {size}",
                    s.len(),
                    input.name,
                    input.shape
                )));
            }
            if let Some(v) = s.iter().find(|v| !v.is_finite()) {
                return Err(err(format!("sample {i} holds the non-finite value {v}")));
            }
            data.extend_from_slice(s);
        }
        let mut shape = vec![samples.len()];
        shape.extend_from_slice(&input.shape);
        let x = PlainArray::new(shape, data).map_err(fhez::Error::from)?;
        Ok((input.name.clone(), x))
    }

    /// Sends an encrypted request; re-registers the bundle once if the server does not
    /// know the key (e.g. its database was reset).
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn call(&self, request: Bytes) -> Result<Bytes, ClientError> {
        match self
            .client
            .predict(&self.info.name, &self.key_id, request.clone())
            .await
        {
            Err(e) if e.api_code() == Some("unknown_key") => {
                self.register().await?;
                self.client
                    .predict(&self.info.name, &self.key_id, request)
                    .await
            }
            other => other,
        }
    }

    /// **Client.** Decrypts a reply to the values at the model's output, one row per
    /// sample.
    ///
    /// # Errors
    /// Wire, shape and decryption errors.
    pub async fn decrypt(&self, reply: Bytes) -> Result<Vec<Vec<f64>>, ClientError> {
        let keys = Arc::clone(&self.keys);
        let output = self.info.output.clone();
        let model = self.info.name.clone();
        blocking(move || decrypt_reply(&keys, &reply, &output, &model)).await
    }

    /// Encrypts, calls the server, decrypts and interprets `samples` (chunked by the
    /// model's batch size).
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn predict(
        &self,
        samples: &[Vec<f64>],
    ) -> Result<Vec<SamplePrediction>, ClientError> {
        let mut out = Vec::with_capacity(samples.len());
        for chunk in samples.chunks(self.info.max_batch.max(1)) {
            let request = self.encrypt(chunk).await?;
            let reply = self.call(request).await?;
            let rows = self.decrypt(reply).await?;
            out.extend(rows.into_iter().map(|r| interpret(&self.info.task, r)));
        }
        Ok(out)
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn load_or_make_keys(dir: &Path, info: &ModelInfo) -> Result<CkksClient, ClientError> {
    if dir.join(SECRET_KEY_FILE).is_file() {
        let keys = load_client_keys(dir)?;
        let found = keys.params().id().to_hex();
        if found != info.params_id {
            return Err(ClientError::KeysForOtherParams {
                dir: dir.to_owned(),
                model: info.name.clone(),
                expected: info.params_id.clone(),
                found,
            });
        }
        return Ok(keys);
    }
    let params = CkksParams::new(&info.params).map_err(fhez::Error::from)?;
    let found = params.id().to_hex();
    if found != info.params_id {
        return Err(ClientError::BadAnswer {
            url: String::from("/v1/models"),
            reason: format!(
                "the advertised parameters build set {found}, not the advertised id {}",
                info.params_id
            ),
        });
    }
    let keys = CkksClient::generate(&params, &info.rotation_steps).map_err(fhez::Error::from)?;
    save_client_keys(dir, &keys)?;
    debug_assert!(public_bundle_path(dir).ends_with(PUBLIC_BUNDLE_FILE));
    Ok(keys)
}

/// **Client.** Decrypts the entry named `output` of reply bytes to one row per sample.
///
/// # Errors
/// Wire, shape and decryption errors.
pub fn decrypt_reply(
    keys: &CkksClient,
    reply: &[u8],
    output: &str,
    model: &str,
) -> Result<Vec<Vec<f64>>, ClientError> {
    let batch = CtBatch::from_bytes(&keys.server(), reply, MAX_REPLY_BYTES)?;
    let bound = batch.bind(keys)?;
    let Some((_, x)) = bound.into_iter().find(|(n, _)| n == output) else {
        return Err(ClientError::Input {
            model: model.to_owned(),
            reason: format!("the reply has no output `{output}`"),
        });
    };
    let plain = x.decrypt().map_err(fhez::Error::from)?;
    let samples = plain.shape().first().copied().unwrap_or(1).max(1);
    let width = plain.len() / samples;
    Ok(plain
        .data()
        .chunks(width.max(1))
        .map(<[f64]>::to_vec)
        .collect())
}

/// A decrypted output row read as the model's task says.
#[must_use]
pub fn interpret(task: &Task, row: Vec<f64>) -> SamplePrediction {
    match task {
        Task::Classifier { labels } => {
            let index = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i);
            let label = labels
                .get(index)
                .cloned()
                .unwrap_or_else(|| index.to_string());
            SamplePrediction::Class {
                index,
                label,
                logits: row,
            }
        }
        Task::Regressor { scale, offset } => SamplePrediction::Values {
            values: row.iter().map(|v| v * scale + offset).collect(),
        },
        _ => SamplePrediction::Values { values: row },
    }
}
