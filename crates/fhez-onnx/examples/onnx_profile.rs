//! Per-node profile of an imported ONNX network in single-input packing: for every node the
//! plan evaluates on ciphertexts, its levels, key switches, rotations and plaintext
//! products (the diagonal count of a linear map) counted on `Sim`, and with `--ckks` its
//! wall-clock time on one image under the planned CKKS parameters (the second of two runs,
//! so the diagonals are already encoded in the server's cache).
//!
//! ```sh
//! RAYON_NUM_THREADS=1 cargo run --release -p fhez-onnx --example onnx_profile -- \
//!     examples/onnx/lenet_poly.onnx [--precision-bits 20] [--ckks]
//! ```

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    reason = "example code"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use fhez_backend::{Backend, OpStats, Sim, SimConfig};
use fhez_ckks::{CkksParams, CkksServer};
use fhez_erray::{Erray, PlainArray};
use fhez_model::EncryptedModel;
use fhez_nn::{LayoutRole, NodeEvent, PackingChoice, PlanRequest, SecurityStandard};
use fhez_onnx::{ImportOptions, import};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Per-node operation counts of one `Sim` walk with the plan's input layouts.
fn sim_counts(model: &EncryptedModel) -> Result<BTreeMap<String, OpStats>> {
    let plan = model.plan();
    let sim = Sim::new(SimConfig::planning(plan.slots, plan.depth, 40.0))?;
    let mut inputs = Vec::new();
    for l in plan.layouts.iter().filter(|l| l.role == LayoutRole::Input) {
        let zeros = PlainArray::full(l.shape.clone(), 0.0)?;
        inputs.push((l.node.as_str(), l.encrypt(&sim, &zeros)?));
    }
    let mut counts = BTreeMap::new();
    let mut before = OpStats::default();
    let probe = sim.clone();
    let mut hook = |e: NodeEvent<'_>| match e {
        NodeEvent::Before { .. } => before = probe.stats(),
        NodeEvent::After { name, .. } => {
            counts.insert(name.to_owned(), probe.stats() - before);
        }
    };
    let mut refresh = |x: &Erray<Sim>| -> fhez_nn::Result<Erray<Sim>> { Ok(x.clone()) };
    model
        .graph()
        .forward_enc_with_hook(&inputs, &mut refresh, &mut hook)?;
    Ok(counts)
}

/// CPU seconds (user + system) this process used so far, from `/proc/self/stat` (0 where it
/// is not readable): on a loaded machine a steadier measure than wall-clock time.
fn cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // After the command: state(0) … utime(11) stime(12), in ticks of 10 ms.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// Wall-clock milliseconds per node on one image (the second of two runs).
fn ckks_times(model: &EncryptedModel, input: &str, len: usize) -> Result<BTreeMap<String, f64>> {
    let spec = model.spec();
    let t = Instant::now();
    let client = model.keygen(&CkksParams::new(&spec)?)?;
    let server = CkksServer::new(client.server_keys());
    println!("keygen {:.1} s", t.elapsed().as_secs_f64());
    let layout = model.plan().layout(input, LayoutRole::Input).unwrap();
    let x: Vec<f64> = (0..len).map(|i| (i % 7) as f64 / 7.0).collect();
    let sent = model.encrypt(
        &client,
        &[(input, PlainArray::new(layout.shape.clone(), x)?)],
    )?;
    let t = Instant::now();
    model.evaluate(&server, &sent)?;
    println!(
        "first run (encodes the diagonals) {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (t, cpu) = (Instant::now(), cpu_s());
    let (_, timings) = model.evaluate_timed(&server, &sent)?;
    println!(
        "second run {:.2} s wall, {:.2} s CPU",
        t.elapsed().as_secs_f64(),
        cpu_s() - cpu
    );
    Ok(timings
        .into_iter()
        .map(|n| (n.name, n.elapsed.as_secs_f64() * 1e3))
        .collect())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map_or_else(|| root.join("examples/onnx/lenet_poly.onnx"), PathBuf::from);
    let precision: u32 = opt("--precision-bits").map_or(Ok(20), |s| s.parse())?;
    let imported = import(&std::fs::read(&path)?, &ImportOptions::default())?;
    let request = PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 1,
        precision_bits: precision,
        magnitude_bits: 10,
        standard: SecurityStandard::Standard2018,
        key_budget: None,
    };
    let t = Instant::now();
    let model = EncryptedModel::with_packing(
        imported.graph().clone(),
        &request,
        PackingChoice::SingleInput,
    )?;
    let plan = model.plan();
    println!(
        "plan ({:.1} s): N = 2^{}, depth {}, log_q {:?}, log_p {:?}, {} rotation keys",
        t.elapsed().as_secs_f64(),
        plan.log_n,
        plan.depth,
        plan.log_q,
        plan.log_p,
        plan.rotation_steps.len()
    );
    let counts = sim_counts(&model)?;
    let times = if args.iter().any(|a| a == "--ckks") {
        let len = imported
            .graph()
            .shape(imported.graph().id(imported.input())?, 0);
        let len = len.map_or(1, |s| s.iter().product());
        ckks_times(&model, imported.input(), len)?
    } else {
        BTreeMap::new()
    };
    println!(
        "{:<28} {:>6} {:>8} {:>6} {:>6} {:>7} {:>10}  composed into",
        "node", "kind", "levels", "rot", "ks", "ptmul", "ms"
    );
    let mut total = (0, 0, 0.0);
    for n in &plan.nodes {
        let c = counts.get(&n.name).copied().unwrap_or_default();
        let ms = times.get(&n.name).copied().unwrap_or(f64::NAN);
        total.0 += c.key_switches;
        total.1 += c.plain_mults;
        total.2 += if ms.is_nan() { 0.0 } else { ms };
        println!(
            "{:<28} {:>6} {:>3}->{:<3} {:>6} {:>6} {:>7} {:>10.1}  {}",
            n.name,
            n.kind,
            n.level_in,
            n.level_out,
            c.rotations,
            c.key_switches,
            c.plain_mults,
            ms,
            n.composed_into.as_deref().unwrap_or("")
        );
    }
    println!(
        "total: {} key switches, {} plaintext products, {:.1} ms",
        total.0, total.1, total.2
    );
    Ok(())
}
