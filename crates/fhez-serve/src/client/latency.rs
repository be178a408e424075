//! [`LatencySession`]: latency mode from the client's side — keys in `DIR/latency/`,
//! registered once with `mode=latency`, one sample per request encrypted (seeded) into one
//! ciphertext, the reply decrypted to the logits.

use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use fhez_ckks::{CkksClient, CkksParams, wire};
use fhez_model::latency::LatencyModel;

use super::session::{
    KeySpec, Registration, SamplePrediction, blocking, interpret, load_or_make_keys,
};
use super::{Client, ClientError, MAX_REPLY_BYTES};
use crate::api::{LatencyInfo, Mode, ModelInfo};
use crate::latency::client_codec;

/// Subdirectory of a key directory holding the latency-mode keys.
pub const LATENCY_KEY_SUBDIR: &str = "latency";

/// Latency-mode keys for one model on one server (the secret key stays in
/// `DIR/latency/`; the server receives the public bundle and ciphertexts only).
pub struct LatencySession {
    client: Client,
    info: ModelInfo,
    latency: LatencyInfo,
    codec: Arc<LatencyModel>,
    params: Arc<CkksParams>,
    keys: Arc<CkksClient>,
    reg: Registration,
}

impl std::fmt::Debug for LatencySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencySession")
            .field("server", &self.client.base)
            .field("model", &self.info.name)
            .field("key_id", &self.reg.key_id())
            .finish_non_exhaustive()
    }
}

impl LatencySession {
    /// Opens a latency session for `model`: reads its description (it must have a
    /// `latency` section), loads the keys of `key_dir/latency` (or generates them for the
    /// latency parameter set and rotation steps and saves them there), rebuilds the slot
    /// layout from the published geometry, and registers the public bundle with
    /// `mode=latency` unless a note says this server already has it.
    ///
    /// # Errors
    /// [`ClientError`]; [`ClientError::Input`] when the model has no latency mode.
    pub async fn open(client: Client, model: &str, key_dir: &Path) -> Result<Self, ClientError> {
        let info = client.model(model).await?;
        let Some(latency) = info.latency.clone() else {
            return Err(ClientError::Input {
                model: model.to_owned(),
                reason: "the server offers no latency mode for it; use batch mode".to_owned(),
            });
        };
        let dir = key_dir.join(LATENCY_KEY_SUBDIR);
        std::fs::create_dir_all(&dir).map_err(|source| ClientError::Io {
            path: dir.clone(),
            source,
        })?;
        let (dir2, lat2, name) = (dir.clone(), latency.clone(), info.name.clone());
        let (keys, codec) = blocking(move || {
            let want = KeySpec {
                model: &name,
                params: &lat2.params,
                params_id: &lat2.params_id,
                rotation_steps: &lat2.rotation_steps,
                release: false,
            };
            let keys = load_or_make_keys(&dir2, &want)?;
            let codec = client_codec(&lat2.geometry, keys.params())?;
            if codec.input_level() != lat2.input_level {
                return Err(ClientError::BadAnswer {
                    url: String::from("/v1/models"),
                    reason: format!(
                        "the published geometry gives input level {}, the server says {}",
                        codec.input_level(),
                        lat2.input_level
                    ),
                });
            }
            Ok((keys, codec))
        })
        .await?;
        let reg = Registration::read(&dir, &client.host, model)?;
        reg.ensure(&client, &info.name, Mode::Latency).await?;
        Ok(Self {
            client,
            info,
            latency,
            params: Arc::clone(keys.params()),
            codec: Arc::new(codec),
            keys: Arc::new(keys),
            reg,
        })
    }

    /// The model's description.
    #[must_use]
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The model's latency-mode description.
    #[must_use]
    pub fn latency(&self) -> &LatencyInfo {
        &self.latency
    }

    /// The registered key id.
    #[must_use]
    pub fn key_id(&self) -> &str {
        self.reg.key_id()
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

    /// **Client.** Encrypts one sample (flattened to the input shape) into one seeded wire
    /// ciphertext at the input level.
    ///
    /// # Errors
    /// [`ClientError::Input`], encryption errors.
    pub async fn encrypt(&self, sample: &[f64]) -> Result<Bytes, ClientError> {
        let size: usize = self.latency.input_shape.iter().product();
        let err = |reason: String| ClientError::Input {
            model: self.info.name.clone(),
            reason,
        };
        if sample.len() != size {
            return Err(err(format!(
                "the sample has {} values, input `{}` of shape {:?} takes {size}",
                sample.len(),
                self.latency.input,
                self.latency.input_shape
            )));
        }
        if let Some(v) = sample.iter().find(|v| !v.is_finite()) {
            return Err(err(format!("the sample holds the non-finite value {v}")));
        }
        let (codec, keys, sample) = (
            Arc::clone(&self.codec),
            Arc::clone(&self.keys),
            sample.to_vec(),
        );
        blocking(move || {
            let ct = codec.encrypt_seeded(&keys, &sample)?;
            let bytes = wire::seeded_ciphertext_to_bytes(&ct).map_err(fhez_model::Error::from)?;
            Ok(Bytes::from(bytes))
        })
        .await
    }

    /// Sends one encrypted sample; re-registers the bundle once if the server does not
    /// know the key.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn call(&self, request: Bytes) -> Result<Bytes, ClientError> {
        let (model, key_id) = (&self.info.name, self.reg.key_id());
        match self
            .client
            .predict_mode(model, key_id, Mode::Latency, request.clone())
            .await
        {
            Err(e) if e.api_code() == Some("unknown_key") => {
                self.reg
                    .register(&self.client, model, Mode::Latency)
                    .await?;
                self.client
                    .predict_mode(model, key_id, Mode::Latency, request)
                    .await
            }
            other => other,
        }
    }

    /// **Client.** Decrypts a reply to the output values (the logits).
    ///
    /// # Errors
    /// Wire and decryption errors.
    pub async fn decrypt(&self, reply: Bytes) -> Result<Vec<f64>, ClientError> {
        let (codec, keys, params) = (
            Arc::clone(&self.codec),
            Arc::clone(&self.keys),
            Arc::clone(&self.params),
        );
        let limit = MAX_REPLY_BYTES as u64;
        blocking(move || {
            let ct = wire::ciphertext_from_bytes(&params, &reply, limit)
                .map_err(fhez_model::Error::from)?;
            Ok(codec.decrypt(&keys, &ct)?)
        })
        .await
    }

    /// Encrypts, calls the server, decrypts and interprets each sample (one request per
    /// sample).
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn predict(
        &self,
        samples: &[Vec<f64>],
    ) -> Result<Vec<SamplePrediction>, ClientError> {
        let mut out = Vec::with_capacity(samples.len());
        for sample in samples {
            let request = self.encrypt(sample).await?;
            let reply = self.call(request).await?;
            let row = self.decrypt(reply).await?;
            out.push(interpret(&self.info.task, row));
        }
        Ok(out)
    }
}
