//! `fhez inspect FILE`: the envelope of any fhez file — a single wire object (`FHEZ`), a
//! public bundle (`FZPB`), a ciphertext message (`FZCB`), an erray (`FZER`) or a model
//! file — read without validating payloads and **never printing secret material** (a
//! secret key shows only its kind, parameter set and size). Every binary format is read
//! through the workspace's one outer framing (`fhez_backend::frame`): its header (magic,
//! version, kind, params id, declared length) is checked against the bytes present before
//! the payload is described; version 1 bundles and messages (before the frame) still read.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use fhez_backend::frame::{self, Expect, Format, Header};
use fhez_ckks::wire::{self, ObjectKind};
use fhez_model::{ModelFile, frames};
use serde_json::{Value, json};

use crate::util;

/// `fhez inspect` options.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Any fhez file.
    pub file: PathBuf,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// A bounds-checked little-endian reader.
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).context("length overflows")?;
        let s = self.b.get(self.pos..end).with_context(|| {
            format!(
                "truncated: needed {n} bytes at offset {}, {} available",
                self.pos,
                self.b.len().saturating_sub(self.pos)
            )
        })?;
        self.pos = end;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_le_bytes(self.arr()?))
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.arr()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    fn len(&mut self) -> Result<usize> {
        Ok(usize::try_from(self.u64()?)?)
    }
    fn blob(&mut self) -> Result<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }
    fn done(&self) -> bool {
        self.pos == self.b.len()
    }
}

/// Sets `key` of a JSON object.
fn set(v: &mut Value, key: &str, x: Value) {
    if let Some(m) = v.as_object_mut() {
        m.insert(key.to_owned(), x);
    }
}

/// Describes one `FHEZ` wire object.
pub fn object(bytes: &[u8]) -> Result<Value> {
    let env = wire::peek_envelope(bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut v = json!({
        "kind": env.kind.name(),
        "format_version": env.version,
        "params_id": env.params_id.to_hex(),
        "payload_bytes": env.payload_len,
        "bytes": bytes.len(),
    });
    let payload = bytes.get(wire::ENVELOPE_LEN..).unwrap_or(&[]);
    let mut c = Cur { b: payload, pos: 0 };
    match env.kind {
        ObjectKind::Ciphertext | ObjectKind::Plaintext | ObjectKind::SeededCiphertext => {
            let level = c.u32()?;
            let scale = f64::from_bits(c.u64()?);
            set(&mut v, "level", json!(level));
            set(&mut v, "scale_log2", json!(scale.log2()));
            if env.kind == ObjectKind::Ciphertext {
                set(&mut v, "polynomials", json!(c.u32()?));
            }
        }
        ObjectKind::GaloisKeys => {
            set(&mut v, "keys", json!(c.u32()?));
        }
        ObjectKind::Params => {
            let spec: Value = serde_json::from_slice(payload).context("params payload")?;
            for key in ["log_n", "log_scale", "security"] {
                if let Some(x) = spec.get(key) {
                    set(&mut v, key, x.clone());
                }
            }
            for key in ["q", "p", "log_q", "log_p"] {
                if let Some(x) = spec.get(key).and_then(Value::as_array) {
                    set(&mut v, &format!("{key}_count"), json!(x.len()));
                }
            }
        }
        ObjectKind::SecretKey => {
            set(
                &mut v,
                "secret",
                json!("secret material: contents not shown"),
            );
        }
        ObjectKind::PublicKey | ObjectKind::RelinKey => {}
        _ => {}
    }
    Ok(v)
}

/// The payload of `bytes` in `format` with kind `kind`, through the frame (no limit: the
/// file was read whole); the header is `None` for version 1 of a bundle or message.
fn framed<'a>(bytes: &'a [u8], format: &Format, kind: u16) -> Result<(Option<Header>, &'a [u8])> {
    let expect = Expect {
        kind: Some(kind),
        params_id: None,
        limit: u64::MAX,
    };
    if format.magic == frames::BUNDLE.magic || format.magic == frames::MESSAGE.magic {
        return Ok(frames::open(bytes, format, expect)?);
    }
    let (header, payload) = frame::open(bytes, format, expect)?;
    Ok((Some(header), payload))
}

/// `version` and (when the frame names one) `params_id` of a framed object.
fn frame_fields(v: &mut Value, header: Option<&Header>) {
    set(v, "version", json!(header.map_or(1, |h| h.version)));
    if let Some(h) = header.filter(|h| h.params_id != frame::NO_PARAMS) {
        set(
            v,
            "params_id",
            json!(fhez_ckks::ParamsId(h.params_id).to_hex()),
        );
    }
}

fn bundle(bytes: &[u8]) -> Result<Value> {
    let (header, payload) = framed(bytes, &frames::BUNDLE, frames::KIND_PUBLIC_BUNDLE)?;
    let mut c = Cur { b: payload, pos: 0 };
    let names = ["params", "public_key", "relin_key", "galois_keys"];
    let mut parts = serde_json::Map::new();
    for name in names {
        let blob = c.blob().with_context(|| format!("bundle part {name}"))?;
        parts.insert(name.to_owned(), object(blob)?);
    }
    if !c.done() {
        bail!("trailing bytes after the bundle's four objects");
    }
    let mut v = json!({
        "kind": "public key bundle", "bytes": bytes.len(),
        "params_id": parts.get("params").and_then(|p| p.get("params_id")).cloned(),
        "parts": parts,
    });
    frame_fields(&mut v, header.as_ref());
    Ok(v)
}

fn message(bytes: &[u8]) -> Result<Value> {
    let (header, payload) = framed(bytes, &frames::MESSAGE, frames::KIND_CT_BATCH)?;
    let mut c = Cur { b: payload, pos: 0 };
    let n = c.u32()?;
    if n > 64 {
        bail!("{n} entries: not a valid ciphertext message");
    }
    let mut entries = Vec::new();
    for _ in 0..n {
        let name_len = usize::from(c.u16()?);
        let name = String::from_utf8_lossy(c.take(name_len)?).into_owned();
        let packing = c.u8()?;
        let batch = c.u64()?;
        let ndim = c.u32()?;
        if ndim > 16 {
            bail!("{ndim} dimensions: not a valid ciphertext message");
        }
        let shape = (0..ndim).map(|_| c.u64()).collect::<Result<Vec<_>>>()?;
        let count = c.u64()?;
        entries.push(cts(&mut c, name, packing, batch, shape, count)?);
    }
    if !c.done() {
        bail!("trailing bytes after the message");
    }
    let mut v = json!({
        "kind": "ciphertext message", "bytes": bytes.len(), "entries": entries,
    });
    frame_fields(&mut v, header.as_ref());
    Ok(v)
}

fn cts(
    c: &mut Cur<'_>,
    name: String,
    packing: u8,
    batch: u64,
    shape: Vec<u64>,
    count: u64,
) -> Result<Value> {
    let mut first = Value::Null;
    let mut levels = std::collections::BTreeSet::new();
    let mut total = 0usize;
    for i in 0..count {
        let blob = c
            .blob()
            .with_context(|| format!("ciphertext {i} of {count}"))?;
        total += blob.len();
        let o = object(blob)?;
        if let Some(l) = o.get("level").and_then(Value::as_u64) {
            levels.insert(l);
        }
        if i == 0 {
            first = o;
        }
    }
    let packing = match packing {
        0 => "flat".to_owned(),
        1 => format!("batch-in-slots (batch {batch})"),
        2 => format!("single-input (period {batch})"),
        t => format!("unknown ({t})"),
    };
    Ok(json!({
        "name": name, "packing": packing, "shape": shape, "ciphertexts": count,
        "ciphertext_bytes": total, "levels": levels,
        "kind": first.get("kind"), "params_id": first.get("params_id"),
        "scale_log2": first.get("scale_log2"),
    }))
}

fn erray(bytes: &[u8]) -> Result<Value> {
    let (header, payload) = framed(bytes, &fhez_erray::WIRE_FORMAT, fhez_erray::KIND_ERRAY)?;
    let mut c = Cur { b: payload, pos: 0 };
    let packing = c.u8()?;
    let batch = c.u64()?;
    let flags = c.u8()?;
    let ndim = c.u32()?;
    if ndim > 32 {
        bail!("{ndim} dimensions: not a valid erray");
    }
    let shape = (0..ndim).map(|_| c.u64()).collect::<Result<Vec<_>>>()?;
    let count = c.u64()?;
    let mut v = cts(&mut c, "erray".to_owned(), packing, batch, shape, count)?;
    if !c.done() {
        bail!("trailing bytes after the erray");
    }
    set(&mut v, "kind", json!("erray"));
    frame_fields(&mut v, header.as_ref());
    set(&mut v, "padding_clean", json!(flags & 1 == 1));
    set(&mut v, "bytes", json!(bytes.len()));
    Ok(v)
}

fn model(text: &str) -> Result<Value> {
    let file = ModelFile::from_json(text)?;
    let graph = file.graph()?;
    let plan = file.encrypted_model().ok().map(|m| m.plan().clone());
    Ok(json!({
        "kind": "model", "name": file.name, "dataset": file.dataset, "task": file.task,
        "inputs": file.inputs, "output": file.output, "nodes": graph.len(),
        "plan_request": file.plan, "metrics": file.metrics,
        "plan": plan.map(|p| json!({
            "log_n": p.log_n, "log_q": p.log_q, "log_p": p.log_p, "log_scale": p.log_scale,
            "depth": p.depth, "rotation_steps": p.rotation_steps,
            "release": p.release().map(|r| release(&r)),
        })),
        "bytes": text.len(),
    }))
}

/// A release policy: `decryptions` (shared or private-only) and its numbers.
fn release(r: &fhez_nn::ReleasePolicy) -> Value {
    json!({
        "decryptions": r.choice().name(), "precision_bits": r.precision_bits(),
        "noise_bound_bits": r.noise_bound_bits(),
        "flooding_stat_security_bits": r.stat_security_bits(),
    })
}

/// A key directory's release policy file (`DIR/release.json`) or a plan (`DIR/plan.json`).
fn policy_or_plan(text: &str) -> Option<Value> {
    if let Ok(r) = serde_json::from_str::<fhez_nn::ReleasePolicy>(text) {
        return Some(json!({"kind": "release policy", "release": release(&r)}));
    }
    let p = serde_json::from_str::<fhez_nn::Plan>(text).ok()?;
    Some(json!({
        "kind": "plan", "packing": p.packing, "log_n": p.log_n, "log_q": p.log_q,
        "log_p": p.log_p, "log_scale": p.log_scale, "depth": p.depth,
        "rotation_steps": p.rotation_steps, "release": p.release().map(|r| release(&r)),
    }))
}

const NOT_FHEZ: &str = "not an fhez file (no FHEZ, FZPB, FZCB or FZER magic, not a model, plan or release policy file)";

/// Describes any fhez file's bytes.
pub fn describe(bytes: &[u8]) -> Result<Value> {
    let magic = bytes.get(..4);
    match magic {
        Some(m) if m == wire::MAGIC => object(bytes),
        Some(m) if m == frames::BUNDLE.magic => bundle(bytes),
        Some(m) if m == frames::MESSAGE.magic => message(bytes),
        Some(m) if m == fhez_erray::WIRE_FORMAT.magic => erray(bytes),
        Some(_) | None => {
            let text = std::str::from_utf8(bytes).ok();
            match text {
                Some(t) if t.trim_start().starts_with('{') && t.contains("fhez-model") => model(t),
                Some(t) => policy_or_plan(t).ok_or_else(|| anyhow::anyhow!(NOT_FHEZ)),
                None => bail!(NOT_FHEZ),
            }
        }
    }
}

fn print(v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    if let Value::Object(m) = v {
        // The kind first, then the rest in key order.
        let kind = m.get_key_value("kind").into_iter();
        for (k, x) in kind.chain(m.iter().filter(|(k, _)| *k != "kind")) {
            match x {
                Value::Object(_) => {
                    outln!("{pad}{k}:");
                    print(x, indent + 2);
                }
                Value::Array(a) if a.iter().any(Value::is_object) => {
                    outln!("{pad}{k}:");
                    for (i, e) in a.iter().enumerate() {
                        outln!("{pad}  [{i}]");
                        print(e, indent + 4);
                    }
                }
                Value::String(s) => outln!("{pad}{k}: {s}"),
                Value::Null | Value::Bool(_) | Value::Number(_) | Value::Array(_) => {
                    outln!("{pad}{k}: {x}");
                }
            }
        }
    }
}

/// Runs `fhez inspect`.
pub fn run(args: &InspectArgs) -> Result<()> {
    let bytes = util::read(&args.file, 1 << 33)?;
    let mut v = describe(&bytes).with_context(|| format!("inspecting {}", args.file.display()))?;
    // A secret key in a key directory: the release policy its keys were made for.
    if v.get("kind").and_then(Value::as_str) == Some("secret key")
        && let Some(dir) = args.file.parent()
        && let Some(r) = fhez_model::bundle::recorded_release(dir)?
    {
        set(&mut v, "release", release(&r));
    }
    if args.json {
        return util::print_json(&v);
    }
    outln!("{}:", args.file.display());
    print(&v, 2);
    Ok(())
}
