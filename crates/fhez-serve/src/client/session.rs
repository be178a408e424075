//! [`Session`]: keys for one model on one server, in a key directory; register once,
//! encrypt, call, decrypt.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use fhez_ckks::{CkksClient, CkksParams, wire};
use fhez_erray::{Packing, PlainArray};
use fhez_model::bundle::{
    PUBLIC_BUNDLE_FILE, SECRET_KEY_FILE, load_client_keys, public_bundle_path, read_limited,
    save_client_keys,
};
use fhez_model::{CtBatch, Task};
use fhez_nn::{LayoutRole, PackingSpec, Plan};

use super::{Client, ClientError, MAX_REPLY_BYTES};
use crate::api::{Mode, ModelInfo};
use crate::store::{is_key_id, key_id_of};

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

impl SamplePrediction {
    /// The prediction with its logits or values rounded to multiples of `2^-bits`
    /// ([`fhez_model::round_to_bits`]; use [`fhez_model::promised_precision_bits`] of the keys'
    /// parameters). A class keeps its index: rounding is monotone, so the exact argmax is
    /// still a largest rounded logit.
    #[must_use]
    pub fn rounded(self, bits: u32) -> Self {
        let round = |v: Vec<f64>| {
            v.into_iter()
                .map(|x| fhez_model::round_to_bits(x, bits))
                .collect()
        };
        match self {
            Self::Class {
                index,
                label,
                logits,
            } => Self::Class {
                index,
                label,
                logits: round(logits),
            },
            Self::Values { values } => Self::Values {
                values: round(values),
            },
        }
    }
}

/// The subdirectory of a key directory that holds the single-input keys (their parameter
/// set is not the batch one's).
pub const SINGLE_KEY_SUBDIR: &str = "single";

/// Keys for one model on one server, in batch-in-slots or single-input packing: the secret
/// key stays in the key directory; the server only ever receives the public bundle and
/// ciphertexts. Requests are laid out and replies read with the plan the server publishes
/// (`GET /v1/models/{name}/plan`), never with a copy of the network.
pub struct Session {
    client: Client,
    info: ModelInfo,
    mode: Mode,
    plan: Plan,
    keys: Arc<CkksClient>,
    reg: Registration,
    dir: PathBuf,
}

/// The public bundle of a key directory, its key id, and the note file recording that a
/// server already has it (one per server and model).
pub(super) struct Registration {
    bundle: Bytes,
    key_id: String,
    note: PathBuf,
}

impl Registration {
    /// Reads the bundle of key directory `dir` for `model` on the server `host`.
    pub(super) fn read(dir: &Path, host: &str, model: &str) -> Result<Self, ClientError> {
        let bundle = read_limited(&public_bundle_path(dir), wire::DEFAULT_LIMIT as usize)?;
        Ok(Self {
            key_id: key_id_of(&bundle),
            note: dir.join(format!("key-id-{host}-{}.txt", sanitize(model))),
            bundle: Bytes::from(bundle),
        })
    }

    /// The key id (hex SHA-256 of the bundle).
    pub(super) fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Registers the bundle unless the note says this server already has it.
    pub(super) async fn ensure(
        &self,
        client: &Client,
        model: &str,
        mode: Mode,
    ) -> Result<(), ClientError> {
        let noted = self
            .noted_id()
            .is_some_and(|id| id == self.key_id && is_key_id(&id));
        if noted {
            Ok(())
        } else {
            self.register(client, model, mode).await
        }
    }

    /// Registers the bundle for `mode`, checks the key id the server derived, and writes
    /// the note.
    pub(super) async fn register(
        &self,
        client: &Client,
        model: &str,
        mode: Mode,
    ) -> Result<(), ClientError> {
        let reg = client
            .register_mode(model, mode, self.bundle.clone())
            .await?;
        if reg.key_id != self.key_id {
            return Err(ClientError::BadAnswer {
                url: client.url("/v1/keys"),
                reason: format!(
                    "key id {} is not the SHA-256 of the bundle ({})",
                    reg.key_id, self.key_id
                ),
            });
        }
        // The owner token comes once, with the registration that created the key; a
        // re-registration keeps the token noted before.
        let token = reg.owner_token.or_else(|| {
            self.noted_id()
                .filter(|id| *id == self.key_id)
                .and(self.owner_token())
        });
        let text = match token {
            Some(t) => format!("{}\n{t}\n", self.key_id),
            None => format!("{}\n", self.key_id),
        };
        write_private(&self.note, text.as_bytes()).map_err(|source| ClientError::Io {
            path: self.note.clone(),
            source,
        })
    }

    /// The key id the note records, if any.
    fn noted_id(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.note).ok()?;
        text.lines().next().map(|l| l.trim().to_owned())
    }

    /// The owner token the note records (second line), if any.
    pub(super) fn owner_token(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.note).ok()?;
        let token = text.lines().nth(1)?.trim();
        (!token.is_empty()).then(|| token.to_owned())
    }
}

/// Writes `bytes` to `path`, readable by the owner only on Unix (the file may hold an
/// owner token).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// What [`Session::rotate_keys`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The key id used before.
    pub old_key_id: String,
    /// The key id of the new keys (registered).
    pub new_key_id: String,
    /// Whether the old key was deleted on the server (`false`: no owner token was
    /// noted for it, or the server refused; see the README).
    pub old_deleted: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.client.base)
            .field("model", &self.info.name)
            .field("key_id", &self.reg.key_id)
            .finish_non_exhaustive()
    }
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ClientError> + Send + 'static,
) -> Result<T, ClientError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::Task(e.to_string()))?
}

impl Session {
    /// Opens a batch-in-slots session for `model` ([`Session::open_mode`] with
    /// [`Mode::Batch`]).
    ///
    /// # Errors
    /// As [`Session::open_mode`].
    pub async fn open(client: Client, model: &str, key_dir: &Path) -> Result<Self, ClientError> {
        Self::open_mode(client, model, key_dir, Mode::Batch).await
    }

    /// Opens a session for `model` in `mode` ([`Mode::Batch`] or [`Mode::Single`]): reads
    /// its description and its published plan for that packing, loads the keys of
    /// `key_dir` (single-input: of `key_dir/single`) or generates them for the packing's
    /// parameters and rotation steps and saves them there, and registers the public
    /// bundle unless a note in the key directory says this server already has it.
    ///
    /// # Errors
    /// [`ClientError`], notably [`ClientError::KeysForOtherParams`]; [`ClientError::Input`]
    /// for latency mode (see `LatencySession`) or a model without single-input packing;
    /// [`ClientError::BadAnswer`] when the published plan is not for the advertised
    /// packing and parameter set.
    pub async fn open_mode(
        client: Client,
        model: &str,
        key_dir: &Path,
        mode: Mode,
    ) -> Result<Self, ClientError> {
        let info = client.model(model).await?;
        let dir = match mode {
            Mode::Batch => key_dir.to_owned(),
            Mode::Single => {
                if info.single.is_none() {
                    return Err(ClientError::Input {
                        model: model.to_owned(),
                        reason: "the server offers no single-input packing for it; use batch"
                            .to_owned(),
                    });
                }
                let dir = key_dir.join(SINGLE_KEY_SUBDIR);
                std::fs::create_dir_all(&dir).map_err(|source| ClientError::Io {
                    path: dir.clone(),
                    source,
                })?;
                dir
            }
            Mode::Latency => {
                return Err(ClientError::Input {
                    model: model.to_owned(),
                    reason: "latency mode has its own session (LatencySession)".to_owned(),
                });
            }
        };
        let plan = client.plan(model, mode).await?;
        check_plan(&client, &info, mode, &plan)?;
        let (dir2, info2) = (dir.clone(), info.clone());
        let keys = blocking(move || load_or_make_keys(&dir2, &key_spec(&info2, mode)?)).await?;
        let reg = Registration::read(&dir, &client.host, model)?;
        reg.ensure(&client, &info.name, mode).await?;
        Ok(Self {
            client,
            info,
            mode,
            plan,
            keys: Arc::new(keys),
            reg,
            dir,
        })
    }

    /// Replaces this session's keys: generates new keys for the model (in a staging
    /// directory inside the key directory), registers their public bundle, moves them
    /// over the old ones (secret key, public bundle, registration note), then deletes the
    /// old key id on the server with its owner token. Until the new bundle is registered
    /// nothing on disk changes.
    ///
    /// # Errors
    /// [`ClientError`]: key generation, registration, file moves. A failed deletion of
    /// the old key is not an error; it is reported in [`Rotation::old_deleted`].
    pub async fn rotate_keys(&mut self) -> Result<Rotation, ClientError> {
        let staging = self.dir.join(".rotating");
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| ClientError::Io { path, source }
        };
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
        }
        let (info, mode) = (self.info.clone(), self.mode);
        let stage = staging.clone();
        let keys = blocking(move || load_or_make_keys(&stage, &key_spec(&info, mode)?)).await?;
        let model = self.info.name.clone();
        let fresh = Registration::read(&staging, &self.client.host, &model)?;
        fresh.register(&self.client, &model, self.mode).await?;
        let old_id = self.reg.key_id().to_owned();
        let old_token = self.reg.owner_token();
        for (from, to) in [
            (
                staging.join(SECRET_KEY_FILE),
                self.dir.join(SECRET_KEY_FILE),
            ),
            (public_bundle_path(&staging), public_bundle_path(&self.dir)),
            (fresh.note.clone(), self.reg.note.clone()),
        ] {
            std::fs::rename(&from, &to).map_err(io(&from))?;
        }
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
        self.reg = Registration::read(&self.dir, &self.client.host, &model)?;
        self.keys = Arc::new(keys);
        let old_deleted = match old_token {
            Some(token) if old_id != self.reg.key_id() => {
                self.client.delete_key(&old_id, &token).await.is_ok()
            }
            Some(_) | None => false,
        };
        Ok(Rotation {
            old_key_id: old_id,
            new_key_id: self.reg.key_id().to_owned(),
            old_deleted,
        })
    }

    /// The model's description.
    #[must_use]
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The packing: [`Mode::Batch`] or [`Mode::Single`].
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The plan the server published for this packing.
    #[must_use]
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Most samples one request holds: the planned batch, or 1 in single-input packing.
    #[must_use]
    pub fn max_samples(&self) -> usize {
        match self.mode {
            Mode::Batch => self.info.max_batch,
            Mode::Single | Mode::Latency => 1,
        }
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

    /// **Client.** Encrypts `samples` (each flattened to the model's single input shape)
    /// as one request of at most `max_batch` samples, in the wire format.
    ///
    /// # Errors
    /// [`ClientError::Input`], encryption errors.
    pub async fn encrypt(&self, samples: &[Vec<f64>]) -> Result<Bytes, ClientError> {
        let (name, x) = self.stack(samples)?;
        let keys = Arc::clone(&self.keys);
        let plan = self.plan.clone();
        let max = self.max_samples();
        blocking(move || {
            Ok(Bytes::from(fhez_model::encrypt_seeded_with_plan(
                &keys,
                &plan,
                max,
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
        if samples.is_empty() || samples.len() > self.max_samples() {
            return Err(err(format!(
                "{} samples; one {}-mode request takes 1 to {}",
                samples.len(),
                self.mode,
                self.max_samples()
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
        let x = PlainArray::new(shape, data).map_err(fhez_model::Error::from)?;
        Ok((input.name.clone(), x))
    }

    /// Sends an encrypted request; re-registers the bundle once if the server does not
    /// know the key (e.g. its database was reset).
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn call(&self, request: Bytes) -> Result<Bytes, ClientError> {
        let (name, mode) = (&self.info.name, self.mode);
        match self
            .client
            .predict_mode(name, self.reg.key_id(), mode, request.clone())
            .await
        {
            Err(e) if e.api_code() == Some("unknown_key") => {
                self.reg.register(&self.client, name, mode).await?;
                self.client
                    .predict_mode(name, self.reg.key_id(), mode, request)
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
        let want = self
            .plan
            .layout(&output, LayoutRole::Output)
            .map(|l| l.packing);
        blocking(move || {
            let batch = CtBatch::from_bytes(&keys.server(), &reply, MAX_REPLY_BYTES)?;
            if let (Some(want), Some(entry)) =
                (want, batch.entries.iter().find(|e| e.name == output))
            {
                let fits = matches!(
                    (want, entry.packing),
                    (
                        PackingSpec::BatchInSlots { .. },
                        Packing::BatchInSlots { .. }
                    ) | (PackingSpec::SingleInput { .. }, Packing::SingleInput { .. })
                        | (PackingSpec::Flat, Packing::Flat)
                );
                if !fits {
                    return Err(ClientError::Input {
                        model: model.clone(),
                        reason: format!(
                            "the reply's output `{output}` is packed {:?}, the plan says {want:?}",
                            entry.packing
                        ),
                    });
                }
            }
            decrypt_batch(&keys, &batch, &output, &model)
        })
        .await
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
        for chunk in samples.chunks(self.max_samples().max(1)) {
            let request = self.encrypt(chunk).await?;
            let reply = self.call(request).await?;
            let rows = self.decrypt(reply).await?;
            out.extend(rows.into_iter().map(|r| interpret(&self.info.task, r)));
        }
        Ok(out)
    }
}

pub(super) fn sanitize(s: &str) -> String {
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

/// What keys must be made for: a model's parameter set (spec and advertised id) and
/// rotation steps in one mode.
pub(super) struct KeySpec<'a> {
    pub(super) model: &'a str,
    pub(super) params: &'a fhez_ckks::CkksParamsSpec,
    pub(super) params_id: &'a str,
    pub(super) rotation_steps: &'a [i64],
    /// Whether the keys decrypt for release (flooding, rounding, reply check): batch mode.
    /// The latency engine's parameter sets do not budget the flooding; it decrypts through
    /// its own path (`fhez_model::latency`).
    pub(super) release: bool,
}

/// What the keys of `mode` must be made for, from the model's description.
fn key_spec(info: &ModelInfo, mode: Mode) -> Result<KeySpec<'_>, ClientError> {
    match mode {
        Mode::Batch => Ok(KeySpec {
            model: &info.name,
            params: &info.params,
            params_id: &info.params_id,
            rotation_steps: &info.rotation_steps,
            release: true,
        }),
        Mode::Single => {
            let single = info.single.as_ref().ok_or_else(|| ClientError::Input {
                model: info.name.clone(),
                reason: "the server offers no single-input packing for it".to_owned(),
            })?;
            Ok(KeySpec {
                model: &info.name,
                params: &single.params,
                params_id: &single.params_id,
                rotation_steps: &single.rotation_steps,
                release: true,
            })
        }
        Mode::Latency => Err(ClientError::Input {
            model: info.name.clone(),
            reason: "latency mode has its own session (LatencySession)".to_owned(),
        }),
    }
}

/// The published plan is for `mode`'s packing and for the advertised parameter set (the
/// parameters the plan asks for have the advertised id), with layouts for every input.
fn check_plan(
    client: &Client,
    info: &ModelInfo,
    mode: Mode,
    plan: &Plan,
) -> Result<(), ClientError> {
    let bad = |reason: String| ClientError::BadAnswer {
        url: client.url(&format!("/v1/models/{}/plan?packing={mode}", info.name)),
        reason,
    };
    let want = match mode {
        Mode::Single => fhez_nn::PackingChoice::SingleInput,
        Mode::Batch | Mode::Latency => fhez_nn::PackingChoice::BatchInSlots,
    };
    if plan.packing != want {
        return Err(bad(format!(
            "the plan is for {:?} packing, {mode} was asked for",
            plan.packing
        )));
    }
    let spec = key_spec(info, mode)?;
    let params =
        CkksParams::new(&fhez_model::spec_from_plan(plan)).map_err(fhez_model::Error::from)?;
    let found = params.id().to_hex();
    if found != spec.params_id {
        return Err(bad(format!(
            "the plan's parameters are set {found}, the model's description says {}",
            spec.params_id
        )));
    }
    for input in &info.inputs {
        if plan.layout(&input.name, LayoutRole::Input).is_none() {
            return Err(bad(format!(
                "the plan has no layout for input `{}`",
                input.name
            )));
        }
    }
    Ok(())
}

pub(super) fn load_or_make_keys(dir: &Path, want: &KeySpec<'_>) -> Result<CkksClient, ClientError> {
    if dir.join(SECRET_KEY_FILE).is_file() {
        let keys = if want.release {
            let keys = load_client_keys(dir)?;
            // The service's plans are for shared decryptions; it never takes the opt-out.
            if fhez_model::policy_of(&keys).is_some_and(|p| !p.choice().is_shared()) {
                return Err(ClientError::PrivateOnlyKeys {
                    dir: dir.to_owned(),
                });
            }
            keys
        } else {
            fhez_model::bundle::load_client_keys_exact(dir)?
        };
        let found = keys.params().id().to_hex();
        if found != want.params_id {
            return Err(ClientError::KeysForOtherParams {
                dir: dir.to_owned(),
                model: want.model.to_owned(),
                expected: want.params_id.to_owned(),
                found,
            });
        }
        return Ok(keys);
    }
    let params = CkksParams::new(want.params).map_err(fhez_model::Error::from)?;
    let found = params.id().to_hex();
    if found != want.params_id {
        return Err(ClientError::BadAnswer {
            url: String::from("/v1/models"),
            reason: format!(
                "the advertised parameters build set {found}, not the advertised id {}",
                want.params_id
            ),
        });
    }
    let keys =
        CkksClient::generate(&params, want.rotation_steps).map_err(fhez_model::Error::from)?;
    // Every decryption of a batch-mode client is for release (flooding, rounding, reply
    // check).
    let keys = if want.release {
        fhez_model::releasing(keys)?
    } else {
        keys
    };
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
    decrypt_batch(keys, &batch, output, model)
}

/// **Client.** Decrypts the entry named `output` of a reply to one row per sample.
fn decrypt_batch(
    keys: &CkksClient,
    batch: &CtBatch,
    output: &str,
    model: &str,
) -> Result<Vec<Vec<f64>>, ClientError> {
    let bound = batch.bind(keys)?;
    let Some((_, x)) = bound.into_iter().find(|(n, _)| n == output) else {
        return Err(ClientError::Input {
            model: model.to_owned(),
            reason: format!("the reply has no output `{output}`"),
        });
    };
    let plain = x.decrypt().map_err(fhez_model::Error::from)?;
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

#[cfg(test)]
mod tests {
    use super::SamplePrediction;

    #[test]
    fn predictions_are_rounded_to_the_promised_bits() {
        let step = 20f64.exp2();
        let exact = vec![0.123_456_789, -3.000_000_1, 0.123_456_788];
        let p = SamplePrediction::Class {
            index: 0,
            label: "a".to_owned(),
            logits: exact.clone(),
        };
        let SamplePrediction::Class { index, logits, .. } = p.rounded(20) else {
            unreachable!("a class stays a class")
        };
        assert_eq!(index, 0);
        for (r, x) in logits.iter().zip(&exact) {
            assert_eq!((r * step).fract(), 0.0, "{r}");
            assert!((r - x).abs() <= 0.5 / step, "{r} vs {x}");
        }
        // The low-order digits that told the first and last logits apart are gone.
        assert_eq!(logits.first(), logits.last());
        assert_ne!(logits.first(), Some(&0.123_456_789));
        let SamplePrediction::Values { values } =
            SamplePrediction::Values { values: exact }.rounded(0)
        else {
            unreachable!("values stay values")
        };
        assert_eq!(values, vec![0.0, -3.0, 0.0]);
    }
}
