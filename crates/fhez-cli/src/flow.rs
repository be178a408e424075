//! `fhez plan | keygen | encrypt | eval | decrypt`: the client / server steps one file at a
//! time. The client holds the key directory (`secret.key`, `public/keys.fhez` and a copy of
//! the model as `model.json`); the server needs only the model and `public/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use fhez_ckks::{CkksClient, CkksParams, CkksServer, ServerKeys, wire};
use fhez_data::npy;
use fhez_erray::Packing;
use fhez_erray::PlainArray;
use fhez_model::bundle::{
    SECRET_KEY_FILE, load_client_keys, load_server_keys, public_bundle_path,
    public_bundle_to_bytes, save_client_keys,
};
use fhez_model::{CtBatch, EncryptedModel, ModelFile, Task};
use fhez_nn::{PackingChoice, Plan, ReleaseChoice, ReleasePolicy, SecurityStandard};
use serde_json::json;

use crate::{data, util};

/// Largest ciphertext message read (4 GiB).
pub const MESSAGE_LIMIT: usize = 1 << 32;
/// Largest public bundle read.
pub const BUNDLE_LIMIT: usize = wire::DEFAULT_LIMIT as usize;
/// The model copy a key directory carries for `encrypt` and `decrypt`.
pub const MODEL_COPY: &str = "model.json";
/// The plan the keys of a key directory were generated for (packing, layouts, parameters;
/// no weights): `encrypt` and `decrypt` take the packing from it.
pub const PLAN_COPY: &str = "plan.json";
/// Largest plan file read.
pub const PLAN_LIMIT: usize = 16 << 20;

/// `--packing`: how samples sit in the ciphertexts.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackingArg {
    /// Batch-in-slots: one sample per slot, up to the planned batch per message.
    Batch,
    /// Single-input: one sample per ciphertext (latency).
    Single,
}

impl From<PackingArg> for PackingChoice {
    fn from(p: PackingArg) -> Self {
        match p {
            PackingArg::Batch => Self::BatchInSlots,
            PackingArg::Single => Self::SingleInput,
        }
    }
}

/// `--release`: whether the client's decryptions may be shown to others.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseArg {
    /// Decryptions for release: reply check, noise flooding (paid for in the scale),
    /// rounding. The default.
    Shared,
    /// Decryptions that never leave the client: reply check and rounding, no flooding, a
    /// smaller scale and ring (`SECURITY.md`: never show such a decryption to anyone).
    Private,
}

impl From<ReleaseArg> for ReleaseChoice {
    fn from(r: ReleaseArg) -> Self {
        match r {
            ReleaseArg::Shared => Self::Shared,
            ReleaseArg::Private => Self::PrivateOnly,
        }
    }
}

/// Applies `--release` to a model file's plan request (absent: the file's own, itself
/// shared unless the file names `"release": "private-only"`).
pub fn apply_release(file: &mut ModelFile, release: Option<ReleaseArg>) {
    if let Some(r) = release {
        file.plan.release = r.into();
    }
}

/// The `--packing` name of a packing.
#[must_use]
pub fn packing_name(p: PackingChoice) -> &'static str {
    match p {
        PackingChoice::BatchInSlots => "batch",
        PackingChoice::SingleInput => "single",
    }
}

/// A packing with its numbers (batch or period).
fn describe(p: Packing) -> String {
    match p {
        Packing::BatchInSlots { batch } => format!("batch-in-slots (batch {batch})"),
        Packing::SingleInput { period } => format!("single-input (period {period})"),
        Packing::Flat => "flat".to_owned(),
    }
}

/// The packing a message's entries were encrypted with (`None` for an empty message or a
/// flat one).
fn message_packing(message: &CtBatch) -> Option<(PackingChoice, Packing)> {
    message.entries.iter().find_map(|e| match e.packing {
        Packing::BatchInSlots { .. } => Some((PackingChoice::BatchInSlots, e.packing)),
        Packing::SingleInput { .. } => Some((PackingChoice::SingleInput, e.packing)),
        Packing::Flat => None,
    })
}

/// A packing mismatch between `--packing`, the keys and a message.
#[derive(Debug)]
pub enum PackingError {
    /// `--packing` is not the packing the key directory's keys were generated for.
    Keys {
        /// The key directory.
        dir: PathBuf,
        /// The packing asked for.
        asked: PackingChoice,
        /// The packing of the key directory's plan.
        keys: PackingChoice,
    },
    /// A message's entry holds another packing than the one in use.
    Message {
        /// The entry (input or decrypt node).
        entry: String,
        /// The packing in use.
        expected: PackingChoice,
        /// The entry's packing.
        found: Packing,
    },
    /// The public bundle lacks Galois keys the packing's plan rotates by.
    Rotations {
        /// The packing of the plan.
        packing: PackingChoice,
        /// The rotation steps without a key.
        missing: Vec<i64>,
    },
    /// The keys belong to another parameter set than the packing's plan needs.
    Params {
        /// The packing of the plan.
        packing: PackingChoice,
        /// log2 N and top level of the keys' parameter set.
        keys: (u32, u32),
        /// log2 N and top level the plan needs.
        plan: (u32, u32),
    },
}

impl std::fmt::Display for PackingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keys { dir, asked, keys } => write!(
                f,
                "packing mismatch: --packing {} but the keys in {} were generated for --packing {} (run fhez keygen --packing {} into another directory)",
                packing_name(*asked),
                dir.display(),
                packing_name(*keys),
                packing_name(*asked)
            ),
            Self::Message {
                entry,
                expected,
                found,
            } => write!(
                f,
                "packing mismatch: message entry {entry:?} is {} but --packing {} is in use",
                describe(*found),
                packing_name(*expected)
            ),
            Self::Rotations { packing, missing } => write!(
                f,
                "the public bundle lacks Galois keys for rotation steps {missing:?} that the model's --packing {} plan needs (keys from fhez keygen --packing {}?)",
                packing_name(*packing),
                packing_name(*packing)
            ),
            Self::Params {
                packing,
                keys,
                plan,
            } => write!(
                f,
                "the keys belong to a parameter set with N = 2^{} and top level {} but the model's --packing {} plan needs N = 2^{} and top level {} (keys from fhez keygen --packing {}?)",
                keys.0,
                keys.1,
                packing_name(*packing),
                plan.0,
                plan.1,
                packing_name(*packing)
            ),
        }
    }
}

impl std::error::Error for PackingError {}

/// The packing of a key directory's plan copy, if it has one (key directories made before
/// plans were recorded are batch-in-slots).
///
/// # Errors
/// The plan copy is unreadable or not a plan.
pub fn keys_packing(keys: &Path) -> Result<Option<PackingChoice>> {
    let path = keys.join(PLAN_COPY);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = util::read(&path, PLAN_LIMIT)?;
    let plan: Plan = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a plan", path.display()))?;
    Ok(Some(plan.packing))
}

/// The packing a client command uses: `--packing`, else the key directory's (`None` when
/// neither says). `--packing` different from the key directory's is refused.
///
/// # Errors
/// [`PackingError::Keys`]; as [`keys_packing`].
pub fn client_packing(keys: &Path, asked: Option<PackingArg>) -> Result<Option<PackingChoice>> {
    let recorded = keys_packing(keys)?;
    match (asked.map(PackingChoice::from), recorded) {
        (Some(a), Some(k)) if a != k => Err(PackingError::Keys {
            dir: keys.to_owned(),
            asked: a,
            keys: k,
        }
        .into()),
        (Some(a), _) => Ok(Some(a)),
        (None, k) => Ok(k),
    }
}

/// Checks that every entry of `message` holds `packing`.
///
/// # Errors
/// [`PackingError::Message`].
pub fn check_message_packing(message: &CtBatch, packing: PackingChoice) -> Result<()> {
    for e in &message.entries {
        let kind = match e.packing {
            Packing::BatchInSlots { .. } => Some(PackingChoice::BatchInSlots),
            Packing::SingleInput { .. } => Some(PackingChoice::SingleInput),
            Packing::Flat => None,
        };
        if kind != Some(packing) {
            return Err(PackingError::Message {
                entry: e.name.clone(),
                expected: packing,
                found: e.packing,
            }
            .into());
        }
    }
    Ok(())
}

/// `fhez plan` options.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Model file.
    pub model: PathBuf,
    /// Table of 128-bit security bounds the ring degree is chosen against: 2018 (the
    /// HomomorphicEncryption.org standard) or 2024 (the 2024 guideline values, up to 13 bits
    /// lower). Default: the model file's `plan.standard`, itself 2018 when absent.
    #[arg(long, value_parser = ["2018", "2024"])]
    pub standard: Option<String>,
    /// Packing to plan for: batch (one sample per slot) or single (one sample per
    /// ciphertext).
    #[arg(long, value_enum, default_value_t = PackingArg::Batch)]
    pub packing: PackingArg,
    /// Single-input packing: at most K Galois keys, the other rotation steps composed
    /// from them (decided by the planner, recorded in the plan). Default: the model file's
    /// `plan.key_budget`, itself one key per step when absent.
    #[arg(long, value_name = "K")]
    pub key_budget: Option<usize>,
    /// Release policy to plan for: shared (decryptions may be shown to anyone: flooded)
    /// or private (decryptions never leave the client: no flooding, smaller parameters).
    /// Default: the model file's `plan.release`, itself shared when absent.
    #[arg(long, value_enum)]
    pub release: Option<ReleaseArg>,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// `fhez keygen` options.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Model file the keys are planned for.
    #[arg(long)]
    pub model: PathBuf,
    /// Key directory to create (refuses to overwrite an existing secret key).
    #[arg(long)]
    pub out: PathBuf,
    /// Packing the keys are planned for: batch (one sample per slot) or single (one sample
    /// per ciphertext); recorded in DIR/plan.json for encrypt and decrypt.
    #[arg(long, value_enum, default_value_t = PackingArg::Batch)]
    pub packing: PackingArg,
    /// Single-input packing: at most K Galois keys, the other rotation steps composed
    /// from them (decided by the planner, recorded in the plan). Default: the model file's
    /// `plan.key_budget`, itself one key per step when absent.
    #[arg(long, value_name = "K")]
    pub key_budget: Option<usize>,
    /// Release policy the keys are made for, recorded in DIR/release.json for decrypt:
    /// shared (flooded) or private (never show a decryption to anyone). Default: the model
    /// file's `plan.release`, itself shared when absent.
    #[arg(long, value_enum)]
    pub release: Option<ReleaseArg>,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// `fhez encrypt` options.
#[derive(Args, Debug)]
pub struct EncryptArgs {
    /// Key directory (client: holds secret.key).
    #[arg(long)]
    pub keys: PathBuf,
    /// Input: a JSON array of numbers (one sample, or nested arrays: a batch) or an .npy
    /// file (f64/f32/u8, shape (shape…) or (batch, shape…)).
    #[arg(long, conflicts_with = "image", required_unless_present = "image")]
    pub input: Option<PathBuf>,
    /// Encrypt test image N of the model's data set instead (see --data, --count).
    #[arg(long)]
    pub image: Option<usize>,
    /// With --image: how many consecutive test images.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// With --image: the data set (default: the model's).
    #[arg(long)]
    pub data: Option<String>,
    /// Model file (default: the copy in the key directory).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Packing: batch or single (one sample per ciphertext). Default: the key directory's
    /// (fhez keygen --packing); a different one is refused.
    #[arg(long, value_enum)]
    pub packing: Option<PackingArg>,
    /// Output ciphertext message.
    #[arg(long)]
    pub out: PathBuf,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// `fhez eval` options.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model file.
    #[arg(long)]
    pub model: PathBuf,
    /// The public bundle: DIR/public, the bundle file, or a key directory (only its
    /// public/ part is read).
    #[arg(long)]
    pub keys: PathBuf,
    /// Input ciphertext message (from `fhez encrypt`).
    #[arg(long)]
    pub input: PathBuf,
    /// Packing: batch or single. Default: the message's; a message of another packing is
    /// refused.
    #[arg(long, value_enum)]
    pub packing: Option<PackingArg>,
    /// Single-input packing: the key budget the keys were made with (fhez keygen
    /// --key-budget). Default: the model file's `plan.key_budget`.
    #[arg(long, value_name = "K")]
    pub key_budget: Option<usize>,
    /// Release policy the client's keys were made for (it decides the parameters): shared
    /// or private. Default: the model file's `plan.release`, itself shared when absent.
    #[arg(long, value_enum)]
    pub release: Option<ReleaseArg>,
    /// Output ciphertext message.
    #[arg(long)]
    pub out: PathBuf,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// `fhez decrypt` options.
#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// Key directory (client: holds secret.key).
    #[arg(long)]
    pub keys: PathBuf,
    /// Ciphertext message (from `fhez eval`).
    #[arg(long)]
    pub input: PathBuf,
    /// Model file (default: the copy in the key directory).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Packing: batch or single. Default: the key directory's; a reply of another packing
    /// is refused.
    #[arg(long, value_enum)]
    pub packing: Option<PackingArg>,
    /// Debugging only: decrypt exactly (no noise flooding, rounding or reply check). Exact
    /// values carry the ciphertexts' noise, which next to the ciphertexts reveals the
    /// secret key: never share them. Default: decryption for release — the reply is
    /// checked (a reply carrying more than the expected noise in its unused slots or
    /// imaginary parts is refused), flooded and rounded to the precision the plan
    /// promises, under the policy the key directory records (DIR/release.json; without
    /// flooding for keys made with `--release private`).
    #[arg(long, alias = "full-precision")]
    pub exact_decrypt: bool,
}

/// The model and its plan, with the parameters the plan asks for.
pub struct Planned {
    /// The model file.
    pub file: ModelFile,
    /// Graph and plan.
    pub model: EncryptedModel,
    /// Validated (secure) parameters.
    pub params: Arc<CkksParams>,
}

/// Loads and plans a model with `packing`.
pub fn planned_with(file: ModelFile, packing: PackingChoice) -> Result<Planned> {
    let model = EncryptedModel::with_packing(file.graph()?, &file.plan, packing)
        .with_context(|| format!("planning the model (--packing {})", packing_name(packing)))?;
    let params = CkksParams::new(&model.spec()).context("building the planned parameters")?;
    Ok(Planned {
        file,
        model,
        params,
    })
}

/// Sizes of the key material and of the messages of one batch.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sizes {
    /// Secret key file.
    pub secret_key: usize,
    /// Public key.
    pub public_key: usize,
    /// Relinearization key.
    pub relin_key: usize,
    /// Galois keys (only the planned steps).
    pub galois_keys: usize,
    /// The whole public bundle.
    pub public_bundle: usize,
    /// One seeded (client upload) ciphertext.
    pub seeded_ct: usize,
    /// One fresh full ciphertext.
    pub fresh_ct: usize,
    /// One output ciphertext (at the level after the planned depth).
    pub output_ct: usize,
    /// Input ciphertexts of one batch.
    pub request_cts: usize,
    /// Output ciphertexts of one batch.
    pub reply_cts: usize,
}

/// Measures the sizes of `client`'s keys and of a batch for `p`.
pub fn sizes(p: &Planned, client: &CkksClient) -> Result<Sizes> {
    let keys = client.server_keys();
    let seeded = client.encrypt_seeded(&[0.0])?;
    let seeded_ct = wire::seeded_ciphertext_to_bytes(&seeded)?.len();
    let fresh = seeded.expand(&p.params)?;
    let fresh_ct = wire::ciphertext_to_bytes(&fresh)?.len();
    let top = p.params.max_level() as usize;
    let out_level = top.saturating_sub(p.model.plan().depth as usize);
    // A ciphertext is two polynomials of (level + 1) limbs; the rest is a fixed header.
    let limb = p.params.n() * 8;
    let header = fresh_ct.saturating_sub(2 * limb * (top + 1));
    let output_ct = header + 2 * limb * (out_level + 1);
    let batch = p.model.batch();
    let slots = p.params.slots();
    let out_size: usize = output_shape(&p.file)?.iter().product();
    let (request_cts, reply_cts) = match p.model.packing() {
        PackingChoice::BatchInSlots => {
            let packing = Packing::BatchInSlots { batch };
            let mut request_cts = 0;
            for size in p.file.input_sizes() {
                request_cts += packing.num_cts(&[batch, size], slots)?;
            }
            (request_cts, packing.num_cts(&[batch, out_size], slots)?)
        }
        // One ciphertext per input and per output.
        PackingChoice::SingleInput => (p.file.inputs.len(), 1),
    };
    Ok(Sizes {
        secret_key: client.secret_key().to_secret_bytes().len(),
        public_key: wire::public_key_to_bytes(keys.public_key())?.len(),
        relin_key: wire::relin_key_to_bytes(keys.relin_key())?.len(),
        galois_keys: wire::galois_keys_to_bytes(keys.galois_keys())?.len(),
        public_bundle: public_bundle_to_bytes(&keys)?.len(),
        seeded_ct,
        fresh_ct,
        output_ct,
        request_cts,
        reply_cts,
    })
}

/// Per-sample shape at the model's decrypt boundary.
pub fn output_shape(file: &ModelFile) -> Result<Vec<usize>> {
    let graph = file.graph()?;
    let id = graph.id(&file.output)?;
    Ok(graph.shape(id, 0).unwrap_or(&[]).to_vec())
}

/// Runs `fhez plan`.
pub fn plan(args: &PlanArgs) -> Result<()> {
    let mut file = util::load_model(&args.model)?;
    file.plan.key_budget = args.key_budget.or(file.plan.key_budget);
    match args.standard.as_deref() {
        Some("2018") => file.plan.standard = SecurityStandard::Standard2018,
        Some("2024") => file.plan.standard = SecurityStandard::Guideline2024,
        Some(other) => bail!("unknown security standard {other:?}: use 2018 or 2024"),
        None => {}
    }
    apply_release(&mut file, args.release);
    let p = planned_with(file, args.packing.into())?;
    let client = p.model.keygen(&p.params)?;
    let sizes = sizes(&p, &client)?;
    let plan = p.model.plan();
    if args.json {
        return util::print_json(&json!({
            "model": p.file.name, "request": p.file.plan, "plan": plan,
            "params": {
                "log_n": p.params.log_n(), "slots": p.params.slots(), "max_level": p.params.max_level(),
                "log_qp": p.params.log_qp(), "security": format!("{:?}", p.params.security()),
                "params_id": p.params.id().to_hex(),
            },
            "sizes": sizes,
        }));
    }
    outln!(
        "model {} ({}), --packing {}, --release {}: {} sample(s) per ciphertext, {} bits precision, {} bits magnitude, {} security table",
        p.file.name,
        p.file.dataset.as_deref().unwrap_or("no data set"),
        packing_name(p.model.packing()),
        p.file.plan.release.name(),
        p.model.batch(),
        p.file.plan.precision_bits,
        p.file.plan.magnitude_bits,
        p.file.plan.standard.name()
    );
    print_params(&p);
    outln!(
        "\n{:<20} {:<18} {:>8} {:>7} {:>6} {:>10} {:>12}",
        "node",
        "kind",
        "levels",
        "in→out",
        "depth",
        "rotations",
        "key switches"
    );
    for n in &plan.nodes {
        outln!(
            "{:<20} {:<18} {:>8} {:>7} {:>6} {:>10} {:>12}",
            n.name,
            n.kind,
            n.consumed,
            format!("{}→{}", n.level_in, n.level_out),
            n.depth_out,
            n.rotations,
            n.key_switches
        );
    }
    outln!(
        "rotation steps: {}",
        if plan.rotation_steps.is_empty() {
            "none (no Galois keys)".to_owned()
        } else {
            format!("{:?}", plan.rotation_steps)
        }
    );
    print_keys(plan, &sizes);
    print_sizes(&sizes);
    Ok(())
}

/// Prints the Galois key count and size, and the steps composed from them.
fn print_keys(plan: &fhez_nn::Plan, sizes: &Sizes) {
    let switches: u64 = plan.nodes.iter().map(|n| n.rotations).sum();
    outln!(
        "Galois keys: {} ({}){}; {} rotation key switches per evaluation",
        plan.rotation_steps.len(),
        util::bytes(sizes.galois_keys),
        match plan.key_budget {
            Some(k) => format!(
                ", key budget {k}: {} more step(s) composed from them {:?}",
                plan.rotation_compose.len(),
                plan.rotation_compose
            ),
            None => String::new(),
        },
        switches
    );
}

/// Prints N, chain, scale, depth and security.
pub fn print_params(p: &Planned) {
    let plan = p.model.plan();
    outln!(
        "parameters: N = 2^{} ({} slots), q = {:?} bits, p = {:?} bits, scale 2^{}, depth {} (max level {}), log2 QP = {:.1}, {:?}, id {}",
        p.params.log_n(),
        p.params.slots(),
        plan.log_q,
        plan.log_p,
        plan.log_scale,
        plan.depth,
        p.params.max_level(),
        p.params.log_qp(),
        p.params.security(),
        p.params.id()
    );
    match plan.release() {
        Some(ReleasePolicy::Shared(r)) => outln!(
            "decryption for release: noise flooding at {} bits of statistical security (noise bound 2^{}), outputs rounded to 2^-{} ({} bits promised after flooding)",
            r.stat_security_bits,
            r.noise_bound_bits,
            r.precision_bits,
            r.precision_bits
        ),
        Some(ReleasePolicy::PrivateOnly {
            noise_bound_bits,
            precision_bits,
        }) => outln!(
            "decryption private-only (--release private): reply check (noise bound 2^{noise_bound_bits}), outputs rounded to 2^-{precision_bits}, NO noise flooding: never show a decryption to anyone"
        ),
        None => {}
    }
}

/// Prints key and ciphertext sizes.
pub fn print_sizes(s: &Sizes) {
    outln!(
        "keys: secret {} (client only); public bundle {} = public {} + relinearization {} + Galois {}",
        util::bytes(s.secret_key),
        util::bytes(s.public_bundle),
        util::bytes(s.public_key),
        util::bytes(s.relin_key),
        util::bytes(s.galois_keys)
    );
    outln!(
        "ciphertexts: seeded upload {}, fresh {}, output {}; one batch = {} input ({}) and {} output ({}) ciphertexts",
        util::bytes(s.seeded_ct),
        util::bytes(s.fresh_ct),
        util::bytes(s.output_ct),
        s.request_cts,
        util::bytes(s.request_cts * (s.seeded_ct + 8)),
        s.reply_cts,
        util::bytes(s.reply_cts * (s.output_ct + 8))
    );
}

/// Runs `fhez keygen`.
pub fn keygen(args: &KeygenArgs) -> Result<()> {
    let secret = args.out.join(SECRET_KEY_FILE);
    if secret.exists() {
        bail!(
            "{} already exists: refusing to replace keys (ciphertexts made under them would be lost)",
            secret.display()
        );
    }
    let text = util::read(&args.model, fhez_model::model_file::MODEL_FILE_LIMIT)?;
    let mut file = util::load_model(&args.model)?;
    file.plan.key_budget = args.key_budget.or(file.plan.key_budget);
    apply_release(&mut file, args.release);
    let p = planned_with(file, args.packing.into())?;
    let t = Instant::now();
    let client = p.model.keygen(&p.params)?;
    let elapsed = t.elapsed();
    save_client_keys(&args.out, &client)
        .with_context(|| format!("writing keys into {}", args.out.display()))?;
    // The copy records an explicit --release, so every later command plans the same.
    match args.release {
        Some(_) => util::write(&args.out.join(MODEL_COPY), p.file.to_json()?.as_bytes())?,
        None => util::write(&args.out.join(MODEL_COPY), &text)?,
    }
    let plan_json = serde_json::to_vec_pretty(p.model.plan()).context("writing the plan")?;
    util::write(&args.out.join(PLAN_COPY), &plan_json)?;
    let sizes = sizes(&p, &client)?;
    let public = public_bundle_path(&args.out);
    if args.json {
        return util::print_json(&json!({
            "dir": args.out, "secret_key": secret, "public_bundle": public,
            "packing": packing_name(p.model.packing()),
            "release": p.model.plan().release().map(|r| r.choice().name()),
            "params_id": p.params.id().to_hex(), "log_n": p.params.log_n(),
            "rotation_steps": p.model.plan().rotation_steps, "keygen_ms": util::ms(elapsed),
            "sizes": sizes,
        }));
    }
    print_params(&p);
    outln!(
        "keys generated in {:.0} ms; Galois keys for steps {:?}",
        util::ms(elapsed),
        p.model.plan().rotation_steps
    );
    outln!("client (keep private): {}", secret.display());
    outln!(
        "server (public bundle): {} ({})",
        public.display(),
        util::bytes(sizes.public_bundle)
    );
    Ok(())
}

/// The model a client command uses: `--model`, else the key directory's copy.
fn client_model(keys: &Path, model: Option<&Path>) -> Result<ModelFile> {
    let path = match model {
        Some(m) => m.to_owned(),
        None => {
            let copy = keys.join(MODEL_COPY);
            if !copy.is_file() {
                bail!(
                    "{} not found: pass --model (the key directory was not made by fhez keygen)",
                    copy.display()
                );
            }
            copy
        }
    };
    let mut file = util::load_model(&path)?;
    // The keys' recorded policy decides the plan (and so the parameters) they were made for.
    if let Some(r) = fhez_model::bundle::recorded_release(keys)? {
        file.plan.release = r.choice();
    }
    Ok(file)
}

fn flatten(v: &serde_json::Value, out: &mut Vec<f64>) -> Result<()> {
    match v {
        serde_json::Value::Number(n) => {
            out.push(n.as_f64().context("a number out of range")?);
            Ok(())
        }
        serde_json::Value::Array(a) => a.iter().try_for_each(|x| flatten(x, out)),
        serde_json::Value::Null
        | serde_json::Value::Bool(_)
        | serde_json::Value::String(_)
        | serde_json::Value::Object(_) => bail!("input JSON must hold only arrays of numbers"),
    }
}

/// Reads an input file (JSON or .npy) as flat values.
fn read_input(path: &Path) -> Result<Vec<f64>> {
    let bytes = util::read(path, 1 << 31)?;
    if bytes.starts_with(npy::MAGIC) {
        return npy::parse(&bytes).with_context(|| format!("reading {}", path.display()));
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is neither JSON nor .npy", path.display()))?;
    let mut out = Vec::new();
    flatten(&v, &mut out).with_context(|| format!("reading {}", path.display()))?;
    Ok(out)
}

/// Runs `fhez encrypt`.
pub fn encrypt(args: &EncryptArgs) -> Result<()> {
    let file = client_model(&args.keys, args.model.as_deref())?;
    let [input] = file.inputs.as_slice() else {
        bail!("models with several encrypted inputs are not supported by fhez encrypt");
    };
    let input = input.clone();
    let size: usize = input.shape.iter().product();
    let mut labels = Vec::new();
    let values = match (&args.input, args.image) {
        (Some(path), _) => read_input(path)?,
        (None, Some(first)) => {
            let name = args
                .data
                .clone()
                .or_else(|| file.dataset.clone())
                .context("the model names no data set: pass --data")?;
            let raw = data::load(&name, size)?;
            let split = data::prepare(&name, &raw.test, &input.shape, &file.task)?;
            if args.count == 0 || first + args.count > split.len() {
                bail!(
                    "images {first}..{} are out of range: the {name} test split has {}",
                    first + args.count,
                    split.len()
                );
            }
            let mut v = Vec::with_capacity(args.count * size);
            for i in first..first + args.count {
                v.extend_from_slice(split.sample(i).context("sample")?);
                if let Some(l) = split.labels.get(i) {
                    labels.push(*l);
                }
            }
            v
        }
        (None, None) => bail!("pass --input FILE or --image N"),
    };
    if values.is_empty() || values.len() % size != 0 {
        bail!(
            "the input holds {} values: not a whole number of samples of shape {:?} ({size} values)",
            values.len(),
            input.shape
        );
    }
    let batch = values.len() / size;
    let packing = client_packing(&args.keys, args.packing)?.unwrap_or(PackingChoice::BatchInSlots);
    let planned_batch = match packing {
        PackingChoice::BatchInSlots => file.plan.batch,
        PackingChoice::SingleInput => 1,
    };
    if batch > planned_batch {
        bail!(
            "{batch} samples exceed the model's planned batch of {planned_batch} (--packing {})",
            packing_name(packing)
        );
    }
    let client = load_client_keys(&args.keys)
        .with_context(|| format!("reading keys from {}", args.keys.display()))?;
    let p = planned_with(file, packing)?;
    check_client_params(&p, &client)?;
    let mut shape = vec![batch];
    shape.extend_from_slice(&input.shape);
    let x = PlainArray::new(shape, values)?;
    let t = Instant::now();
    let bytes = p
        .model
        .encrypt_seeded_bytes(&client, &[(input.name.as_str(), x)])?;
    let elapsed = t.elapsed();
    util::write(&args.out, &bytes)?;
    if args.json {
        return util::print_json(&json!({
            "out": args.out, "samples": batch, "bytes": bytes.len(), "encrypt_ms": util::ms(elapsed),
            "labels": labels, "packing": packing_name(packing),
        }));
    }
    outln!(
        "encrypted {batch} sample(s) of shape {:?} in {:.0} ms: {} ({})",
        input.shape,
        util::ms(elapsed),
        args.out.display(),
        util::bytes(bytes.len())
    );
    if !labels.is_empty() {
        outln!("true labels: {labels:?}");
    }
    Ok(())
}

/// Checks that `params` (of keys) is the parameter set `p` plans.
///
/// # Errors
/// [`PackingError::Params`] when the packing's plan needs another ring degree or chain
/// (keys made for the other packing); otherwise a parameter-set mismatch naming both ids.
fn check_params_of(p: &Planned, params: &CkksParams) -> Result<()> {
    if params.id() == p.params.id() {
        return Ok(());
    }
    if params.log_n() != p.params.log_n() || params.max_level() != p.params.max_level() {
        return Err(PackingError::Params {
            packing: p.model.packing(),
            keys: (params.log_n(), params.max_level()),
            plan: (p.params.log_n(), p.params.max_level()),
        }
        .into());
    }
    bail!(
        "the keys belong to parameter set {} but the model plans {} (N = 2^{}); run fhez keygen --model with this model",
        params.id(),
        p.params.id(),
        p.params.log_n()
    )
}

/// Checks that the client's keys were made for the parameters `p` plans.
///
/// # Errors
/// As [`check_params_of`].
pub fn check_client_params(p: &Planned, client: &CkksClient) -> Result<()> {
    check_params_of(p, client.params())
}

/// Checks that `keys` were made for the parameters and rotations `p` plans.
pub fn check_keys(p: &Planned, keys: &ServerKeys) -> Result<()> {
    check_params_of(p, keys.params())?;
    let have = keys.rotation_steps();
    let missing: Vec<i64> = p
        .model
        .plan()
        .rotation_steps
        .iter()
        .filter(|s| !have.contains(s))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(PackingError::Rotations {
            packing: p.model.packing(),
            missing,
        }
        .into());
    }
    Ok(())
}

/// Runs `fhez eval` (server: public bundle only).
/// The error of reading a ciphertext message: a message made under another parameter set
/// says which keys it needs (batch and single-input keys of one model differ in N or chain).
fn read_error(e: anyhow::Error, path: &std::path::Path) -> anyhow::Error {
    use fhez_backend::frame::FrameError;
    let is_params = |f: Option<&FrameError>| matches!(f, Some(FrameError::ParamsMismatch { .. }));
    let other_params = e.chain().any(|c| {
        is_params(c.downcast_ref::<FrameError>())
            || is_params(
                c.downcast_ref::<fhez_backend::Error>()
                    .and_then(fhez_backend::Error::as_frame),
            )
            || matches!(
                c.downcast_ref::<fhez_model::Error>(),
                Some(fhez_model::Error::Backend(b)) if is_params(b.as_frame())
            )
    });
    if other_params {
        e.context(format!(
            "reading {}: the message was encrypted under another parameter set than these keys \
             (keys made with --packing batch and --packing single differ; use the keys the \
             message was encrypted for)",
            path.display()
        ))
    } else {
        e.context(format!("reading {}", path.display()))
    }
}

pub fn eval(args: &EvalArgs) -> Result<()> {
    let mut file = util::load_model(&args.model)?;
    file.plan.key_budget = args.key_budget.or(file.plan.key_budget);
    apply_release(&mut file, args.release);
    let keys = load_server_keys(&args.keys, BUNDLE_LIMIT)
        .with_context(|| format!("reading the public bundle from {}", args.keys.display()))?;
    let server = CkksServer::new(keys.clone());
    let bytes = util::read(&args.input, MESSAGE_LIMIT)?;
    let t = Instant::now();
    let request = CtBatch::from_bytes(&server, &bytes, MESSAGE_LIMIT)
        .map_err(|e| read_error(e.into(), &args.input))?;
    let read = t.elapsed();
    let packing = match (args.packing, message_packing(&request)) {
        (Some(asked), _) => asked.into(),
        (None, Some((found, _))) => found,
        (None, None) => PackingChoice::BatchInSlots,
    };
    check_message_packing(&request, packing)?;
    let p = planned_with(file, packing)?;
    check_keys(&p, &keys)?;
    for e in &request.entries {
        if !p.file.inputs.iter().any(|i| i.name == e.name) {
            bail!("the message holds {:?}, not an input of the model", e.name);
        }
    }
    let t = Instant::now();
    let (reply, timings) = p.model.evaluate_timed(&server, &request)?;
    let total = t.elapsed();
    let out = reply.to_bytes()?;
    util::write(&args.out, &out)?;
    if args.json {
        return util::print_json(&json!({
            "out": args.out, "packing": packing_name(packing),
            "read_ms": util::ms(read), "eval_ms": util::ms(total),
            "request_cts": request.num_cts(), "reply_cts": reply.num_cts(), "reply_bytes": out.len(),
            "nodes": timings.iter().map(|n| json!({
                "name": n.name, "kind": n.kind, "ms": util::ms(n.elapsed),
                "level_in": n.levels.input, "level_out": n.levels.output, "cts_out": n.cts_out,
            })).collect::<Vec<_>>(),
        }));
    }
    outln!(
        "read {} input ciphertexts in {:.0} ms; evaluated in {:.0} ms:",
        request.num_cts(),
        util::ms(read),
        util::ms(total)
    );
    for n in &timings {
        outln!(
            "  {:<20} {:<18} L{}→{} {:>9.1} ms",
            n.name,
            n.kind,
            n.levels.input,
            n.levels.output,
            util::ms(n.elapsed)
        );
    }
    outln!(
        "wrote {} ({} ciphertexts, {})",
        args.out.display(),
        reply.num_cts(),
        util::bytes(out.len())
    );
    Ok(())
}

/// Runs `fhez decrypt`: prints the values as JSON (and the classes of a classifier).
pub fn decrypt(args: &DecryptArgs) -> Result<()> {
    let client = load_client_keys(&args.keys)
        .with_context(|| format!("reading keys from {}", args.keys.display()))?;
    let file = match (&args.model, args.keys.join(MODEL_COPY).is_file()) {
        (None, false) => None,
        (m, _) => Some(client_model(&args.keys, m.as_deref())?),
    };
    let bytes = util::read(&args.input, MESSAGE_LIMIT)?;
    let reply = CtBatch::from_bytes(&client.server(), &bytes, MESSAGE_LIMIT)
        .map_err(|e| read_error(e.into(), &args.input))?;
    let packing = client_packing(&args.keys, args.packing)?
        .or_else(|| message_packing(&reply).map(|(kind, _)| kind))
        .unwrap_or(PackingChoice::BatchInSlots);
    check_message_packing(&reply, packing)?;
    let policy = fhez_model::policy_of(&client);
    let precision = (!args.exact_decrypt)
        .then(|| policy.map(|r| r.precision_bits()))
        .flatten();
    if args.exact_decrypt {
        errln!(
            "warning: --exact-decrypt prints the exact decryption, noise included; next to the ciphertexts it reveals the secret key: never share it"
        );
    }
    let mut outputs = Vec::new();
    for (name, x) in reply.bind(&client)? {
        // Release decryption: reply check, flooding, rounding (`load_client_keys` gives a
        // releasing client); exact only on request.
        let plain = if args.exact_decrypt {
            x.decrypt_exact()?
        } else {
            x.decrypt()
                .with_context(|| format!("decrypting {} for release", args.input.display()))?
        };
        let per: usize = plain.shape().get(1..).unwrap_or(&[]).iter().product();
        let values: Vec<f64> = plain.data().to_vec();
        let samples: Vec<serde_json::Value> = values
            .chunks(per.max(1))
            .map(|v| match file.as_ref().map(|f| &f.task) {
                Some(Task::Classifier { labels }) => {
                    let c = util::argmax(v);
                    json!({"values": v, "class": c, "label": labels.get(c)})
                }
                Some(Task::Regressor { scale, offset }) => {
                    let y: Vec<f64> = v.iter().map(|a| a * scale + offset).collect();
                    json!({"values": v, "prediction": y})
                }
                _ => json!({ "values": v }),
            })
            .collect();
        outputs.push(json!({"output": name, "shape": plain.shape(), "samples": samples}));
    }
    util::print_json(&json!({
        "outputs": outputs, "precision_bits": precision, "packing": packing_name(packing),
        "release": if args.exact_decrypt { "exact" } else { policy.map_or("exact", |r| r.choice().name()) },
    }))
}
