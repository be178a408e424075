//! Erray benchmarks on the CKKS backend at a secure preset (issue 4):
//! `fhez-erray-bench [--preset n13|n14|all] [--reps N] [--only SUBSTRING]`.
//!
//! For every operation it
//!
//! 1. plans the rotation steps by running the same erray computation on a planning
//!    [`Sim`] with the preset's caps (what `fhez_testkit::suite_rotation_steps` and a planner
//!    do);
//! 2. generates a [`CkksClient`] with Galois keys for exactly those steps;
//! 3. encrypts the input, runs the operation once untimed (the warm-up), reads the
//!    key-switch, rotation and multiplication counts from `stats()` deltas, decrypts and
//!    compares with the same computation on [`Plain`];
//! 4. times the operation `reps` more times (wall clock, one thread) and prints one JSON
//!    object per operation on stdout (progress goes to stderr).
//!
//! Single thread: this binary enables neither fhez-erray's `parallel` feature nor any other
//! thread pool (build it with `-p fhez-bench` so workspace feature unification cannot turn
//! it on), and the CKKS engine is single-threaded. `process_threads` in the output counts
//! the process's threads after the runs (1 = nothing ran in a pool).

use std::time::Instant;

use anyhow::{Context, Result, bail};
use fhez_backend::{Backend, OpStats, Plain, Sim, SimConfig};
use fhez_bench::{Budget, bench};
use fhez_ckks::{CkksClient, CkksParams, Preset};
use fhez_erray::{Erray, FlatMatmulPlan, Packing, PlainArray};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::{Map, Value, json};

/// One benchmarked erray computation.
enum Op {
    /// `x @ w` for a plaintext matrix `w`.
    Matmul(PlainArray),
    /// 2-D window sums: `windows(kernel, stride)` then sum over the two kernel axes.
    WindowSum { kernel: usize, stride: usize },
}

impl Op {
    fn apply<B: Backend>(&self, x: &Erray<B>) -> fhez_erray::Result<Erray<B>> {
        match self {
            Op::Matmul(w) => x.matmul(w),
            Op::WindowSum { kernel, stride } => {
                let win = x.windows(&[*kernel, *kernel], &[*stride, *stride])?;
                let last = win.ndim().saturating_sub(1);
                win.sum_axis(last)?.sum_axis(last.saturating_sub(1))
            }
        }
    }
}

/// An operation with its input.
struct Case {
    name: String,
    input: PlainArray,
    packing: Packing,
    op: Op,
    /// Samples processed by one run (for the amortized time).
    batch: usize,
}

fn uniform(rng: &mut ChaCha20Rng, shape: Vec<usize>, lo: f64, hi: f64) -> Result<PlainArray> {
    let f = |_| lo + (hi - lo) * (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    Ok(PlainArray::from_fn(shape, f)?)
}

fn cases(slots: usize, rng: &mut ChaCha20Rng) -> Result<Vec<Case>> {
    let mut out = Vec::new();
    for (n, m) in [(784, 128), (128, 10)] {
        out.push(Case {
            name: format!("matmul_{n}x{m}_flat"),
            input: uniform(rng, vec![n], 0.0, 1.0)?,
            packing: Packing::Flat,
            op: Op::Matmul(uniform(rng, vec![n, m], -0.1, 0.1)?),
            batch: 1,
        });
    }
    out.push(Case {
        name: "matmul_784x128_batch".into(),
        input: uniform(rng, vec![slots, 784], 0.0, 1.0)?,
        packing: Packing::BatchInSlots { batch: slots },
        op: Op::Matmul(uniform(rng, vec![784, 128], -0.1, 0.1)?),
        batch: slots,
    });
    for (kernel, stride) in [(3, 1), (7, 3)] {
        for packing in [Packing::BatchInSlots { batch: slots }, Packing::Flat] {
            let (shape, batch, tag) = match packing {
                Packing::Flat | Packing::SingleInput { .. } => (vec![28, 28], 1, "flat"),
                Packing::BatchInSlots { .. } => (vec![slots, 28, 28], slots, "batch"),
            };
            out.push(Case {
                name: format!("window_sum_28x28_k{kernel}s{stride}_{tag}"),
                input: uniform(rng, shape, 0.0, 1.0)?,
                packing,
                op: Op::WindowSum { kernel, stride },
                batch,
            });
        }
    }
    Ok(out)
}

fn max_abs_err(got: &PlainArray, want: &PlainArray) -> f64 {
    got.data()
        .iter()
        .zip(want.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

fn stats_json(s: &OpStats) -> Value {
    json!({
        "key_switches": s.key_switches, "rotations": s.rotations, "hoisted": s.hoisted,
        "mults": s.mults, "plain_mults": s.plain_mults, "rescales": s.rescales,
    })
}

/// The closed-form BSGS prediction for flat matmuls, to compare with the counters.
fn flat_plan_json(case: &Case, slots: usize) -> Value {
    match (&case.op, case.packing) {
        (Op::Matmul(w), Packing::Flat) => {
            let (n, m) = (
                w.shape().first().copied().unwrap_or(0),
                w.shape().get(1).copied().unwrap_or(0),
            );
            FlatMatmulPlan::new(n, m, slots).map_or(Value::Null, |p| {
                json!({
                    "d_in": p.d_in, "d_out": p.d_out, "diagonals": p.diagonals,
                    "baby": p.baby, "giant": p.giant, "replications": p.replications,
                    "folds": p.folds, "predicted_key_switches": p.key_switches(),
                    "naive_diagonal_rotations": p.diagonals.saturating_sub(1),
                })
            })
        }
        _ => Value::Null,
    }
}

fn run_case(
    preset: Preset,
    params: &std::sync::Arc<CkksParams>,
    case: &Case,
    reps: usize,
) -> Result<Map<String, Value>> {
    let (slots, max_level) = (params.slots(), params.max_level());
    let mut out = Map::new();
    out.insert("op".into(), json!(case.name));
    out.insert("preset".into(), json!(preset.name()));
    out.insert("log_n".into(), json!(slots.trailing_zeros() + 1));

    // 1. Plan on a Sim with the same caps.
    let sim = Sim::new(SimConfig::planning(
        slots,
        max_level,
        f64::from(params.log_scale()),
    ))?;
    let planned = Erray::encrypt(&sim, &case.input, case.packing).and_then(|x| case.op.apply(&x));
    if let Err(e) = planned {
        out.insert(
            "skipped".into(),
            json!(format!("not supported by the erray: {e}")),
        );
        return Ok(out);
    }
    if let Some(gib) = too_big(params, case) {
        out.insert(
            "skipped".into(),
            json!(format!(
                "`windows` materialises one ciphertext copy per window element: ~{gib:.1} GiB at \
             this preset (limit {MAX_GIB} GiB)"
            )),
        );
        return Ok(out);
    }
    let report = sim.report();
    let steps: Vec<i64> = report.rotation_steps.iter().copied().collect();

    // 2. Keys for exactly those steps.
    let t = Instant::now();
    let mut rng = ChaCha20Rng::seed_from_u64(0x00e4_4a7b);
    let client = CkksClient::generate_with_rng(params, &steps, &mut rng)?;
    let keygen_ms = t.elapsed().as_secs_f64() * 1e3;
    let gk_bytes = fhez_ckks::wire::galois_keys_to_bytes(client.server_keys().galois_keys())?.len();

    // 3. Encrypt, one checked (warm-up) run, counters, error against Plain.
    let t = Instant::now();
    let x = Erray::encrypt(&client, &case.input, case.packing)?;
    let encrypt_ms = t.elapsed().as_secs_f64() * 1e3;
    let before = client.stats();
    let y = case.op.apply(&x)?;
    let delta = client.stats() - before;
    let got = y.decrypt()?;
    let plain = Plain::new(slots);
    let want = case
        .op
        .apply(&Erray::encrypt(&plain, &case.input, case.packing)?)?
        .decrypt()?;
    if got.shape() != want.shape() {
        bail!(
            "{}: shape {:?} vs Plain {:?}",
            case.name,
            got.shape(),
            want.shape()
        );
    }
    let err = max_abs_err(&got, &want);

    // 4. Timed runs.
    let budget = Budget {
        time: std::time::Duration::ZERO,
        min_reps: reps,
        max_reps: reps,
        warmup: 0,
    };
    let timing = bench(budget, || (), |()| case.op.apply(&x));
    let median_ms = timing.median_us / 1e3;

    out.insert("median_ms".into(), json!(round(median_ms, 3)));
    if case.batch > 1 {
        out.insert("batch".into(), json!(case.batch));
        out.insert(
            "per_sample_us".into(),
            json!(round(timing.median_us / case.batch as f64, 3)),
        );
    }
    out.insert("key_switches".into(), json!(delta.key_switches));
    out.insert("rotations".into(), json!(delta.rotations));
    out.insert(
        "levels_used".into(),
        json!(max_level.saturating_sub(y.level())),
    );
    out.insert("max_abs_err".into(), json!(err));
    out.insert("galois_keys".into(), json!(steps.len()));
    out.insert("galois_key_bytes".into(), json!(gk_bytes));
    out.insert("stats".into(), stats_json(&delta));
    out.insert("sim_predicted".into(), stats_json(&report.stats));
    // The accounting the conformance suite pins (rescale counts may differ: CKKS fuses the
    // rescales of a linear combination, the Sim default counts one per term).
    let key = |s: &OpStats| (s.key_switches, s.rotations, s.mults);
    out.insert(
        "sim_matches".into(),
        json!(key(&report.stats) == key(&delta)),
    );
    out.insert("rotation_steps".into(), json!(steps));
    out.insert("flat_plan".into(), flat_plan_json(case, slots));
    out.insert("cts_in".into(), json!(x.cts().len()));
    out.insert("cts_out".into(), json!(y.cts().len()));
    out.insert("timing_us".into(), timing.to_json());
    out.insert("keygen_ms".into(), json!(round(keygen_ms, 1)));
    out.insert("encrypt_ms".into(), json!(round(encrypt_ms, 1)));
    out.insert("process_threads".into(), json!(process_threads()));
    Ok(out)
}

/// Memory cap for the materialised window views (the machine is shared).
const MAX_GIB: f64 = 4.0;

/// The GiB a batch-in-slots window sum materialises (`windows` clones one ciphertext per
/// (output position, kernel offset) pair), when above [`MAX_GIB`].
fn too_big(params: &CkksParams, case: &Case) -> Option<f64> {
    let Op::WindowSum { kernel, stride } = case.op else {
        return None;
    };
    let out = (28usize.saturating_sub(kernel)) / stride.max(1) + 1;
    let copies = (out * out * kernel * kernel + 28 * 28) as f64;
    let ct_bytes = 2.0 * f64::from(params.max_level() + 1) * 2.0 * params.slots() as f64 * 8.0;
    let gib = copies * ct_bytes / f64::from(1u32 << 30);
    (matches!(case.packing, Packing::BatchInSlots { .. }) && gib > MAX_GIB).then_some(gib)
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// Threads of this process (Linux `/proc/self/task`; 0 when unavailable): 1 unless
/// something (a rayon pool) spawned workers.
fn process_threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count)
}

struct Args {
    presets: Vec<Preset>,
    reps: usize,
    only: Option<String>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        presets: vec![Preset::N13Qp218],
        reps: 5,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--preset" => {
                args.presets = match value()?.as_str() {
                    "n13" => vec![Preset::N13Qp218],
                    "n14" => vec![Preset::N14Qp438],
                    "all" => vec![Preset::N13Qp218, Preset::N14Qp438],
                    other => bail!("unknown preset {other} (n13, n14, all)"),
                }
            }
            "--reps" => args.reps = value()?.parse().context("--reps")?,
            "--only" => args.only = Some(value()?),
            other => bail!(
                "usage: fhez-erray-bench [--preset n13|n14|all] [--reps N] [--only SUBSTRING] (got {other})"
            ),
        }
    }
    if args.reps < 5 {
        eprintln!("note: fewer than 5 timed runs");
    }
    Ok(args)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    for preset in &args.presets {
        let params = CkksParams::new(&preset.spec())?;
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        for case in cases(params.slots(), &mut rng)? {
            if args
                .only
                .as_ref()
                .is_some_and(|s| !case.name.contains(s.as_str()))
            {
                continue;
            }
            eprintln!("{} on {} …", case.name, preset.name());
            let v = run_case(*preset, &params, &case, args.reps)
                .with_context(|| format!("{} on {}", case.name, preset.name()))?;
            println!("{}", Value::Object(v));
        }
    }
    Ok(())
}
