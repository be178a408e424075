//! Erray benchmarks (group `erray_matmul`, house style §B9): flat BSGS matmuls (784×128,
//! 128×10) and a 2-D window sum, on `Plain` and on CKKS at the secure `N13Qp218` preset
//! (N = 2^13, 4096 slots, single thread; fhez-erray's `parallel` feature is off unless
//! requested with `--features parallel`).
//!
//! The CKKS client of each bench gets Galois keys for exactly the steps the computation
//! requests on a planning `Sim` with the same caps (as `fhez_testkit::suite_rotation_steps`
//! does). Each bench prints its key switches per operation from `Backend::stats()` and the
//! id carries them (`…/ks=26`).
//!
//! The batch-in-slots 784×128 matmul on 4096 samples (~18 s per run on N13) and the N14
//! preset are measured by the `fhez-erray-bench` binary of `fhez-bench` (median of 5 runs,
//! JSON output), not here: ten criterion samples of it would take minutes.

use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_main};
use fhez_backend::{Backend, Plain, Sim, SimConfig};
use fhez_ckks::{CkksClient, CkksParams, Preset};
use fhez_erray::{Erray, Packing, PlainArray, Result};

fn data(shape: Vec<usize>) -> Result<PlainArray> {
    PlainArray::from_fn(shape, |k| ((k * 37 % 101) as f64 - 50.0) / 500.0)
}

/// The computations benchmarked, generic over the backend.
#[derive(Clone, Copy)]
enum Op<'a> {
    Matmul(&'a PlainArray),
    /// 3×3 windows, stride 1, summed.
    WindowSum,
}

impl Op<'_> {
    fn run<B: Backend>(self, x: &Erray<B>) -> Result<Erray<B>> {
        match self {
            Op::Matmul(w) => x.matmul(w),
            Op::WindowSum => x.windows(&[3, 3], &[1, 1])?.sum_axis(4)?.sum_axis(3),
        }
    }
}

/// Rotation steps `op` requests on a planning `Sim` with `params`' caps.
fn plan(params: &CkksParams, input: &PlainArray, packing: Packing, op: Op) -> Result<Vec<i64>> {
    let sim = Sim::new(SimConfig::planning(
        params.slots(),
        params.max_level(),
        f64::from(params.log_scale()),
    ))?;
    op.run(&Erray::encrypt(&sim, input, packing)?)?;
    let steps: BTreeSet<i64> = sim.report().rotation_steps;
    Ok(steps.into_iter().collect())
}

/// Benches `op` on `backend`, printing and naming it with its key switches per run.
fn bench_op<B: Backend>(
    c: &mut Criterion,
    (name, param): (&str, &str),
    backend: &B,
    (input, packing): (&PlainArray, Packing),
    op: Op,
) -> Result<()> {
    let x = Erray::encrypt(backend, input, packing)?;
    let before = backend.stats();
    op.run(&x)?;
    let ks = (backend.stats() - before).key_switches;
    println!("erray_matmul {name} {param}: {ks} key switches per operation");
    let mut group = c.benchmark_group("erray_matmul");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new(name, format!("{param}/ks={ks}")), |b| {
        b.iter(|| black_box(op.run(black_box(&x))))
    });
    group.finish();
    Ok(())
}

/// `(name, input, packing, op)` for every bench, with `batch` samples for the window sum.
fn cases(
    w: &[PlainArray; 2],
    batch: usize,
) -> Result<Vec<(&'static str, PlainArray, Packing, Op<'_>)>> {
    let [w1, w2] = w;
    Ok(vec![
        (
            "matmul_784x128",
            data(vec![784])?,
            Packing::Flat,
            Op::Matmul(w1),
        ),
        (
            "matmul_128x10",
            data(vec![128])?,
            Packing::Flat,
            Op::Matmul(w2),
        ),
        (
            "window_sum_28x28_k3x3",
            data(vec![batch, 28, 28])?,
            Packing::BatchInSlots { batch },
            Op::WindowSum,
        ),
    ])
}

fn plain_benches(c: &mut Criterion) -> Result<()> {
    let w = [data(vec![784, 128])?, data(vec![128, 10])?];
    let backend = Plain::new(4096);
    for (name, input, packing, op) in cases(&w, 64)? {
        let param = format!("plain/slots=4096/{}", packing.name());
        bench_op(c, (name, &param), &backend, (&input, packing), op)?;
    }
    Ok(())
}

fn ckks_benches(c: &mut Criterion) -> Result<()> {
    let params = CkksParams::new(&Preset::N13Qp218.spec()).map_err(fhez_backend::Error::from)?;
    let log_n = params.slots().trailing_zeros() + 1;
    let w = [data(vec![784, 128])?, data(vec![128, 10])?];
    for (name, input, packing, op) in cases(&w, params.slots())? {
        let steps = plan(&params, &input, packing, op)?;
        let client = CkksClient::generate(&params, &steps).map_err(fhez_backend::Error::from)?;
        let param = format!("ckks/logN={log_n}/{}/threads=1", packing.name());
        bench_op(c, (name, &param), &client, (&input, packing), op)?;
    }
    Ok(())
}

fn benches(c: &mut Criterion) {
    for r in [plain_benches(c), ckks_benches(c)] {
        if let Err(e) = r {
            eprintln!("bench setup failed: {e}");
        }
    }
}

mod group {
    //! The criterion group (its generated fn has no docs).
    #![allow(missing_docs, reason = "criterion_group! generates an undocumented fn")]
    use criterion::{Criterion, criterion_group};

    criterion_group! {
        name = main_benches;
        config = Criterion::default().sample_size(10);
        targets = super::benches
    }
}

/// The allocator of fhez-bench's binaries, so both measure the same thing: with glibc's
/// malloc the large ciphertext buffers are returned to the kernel and page-faulted back in
/// (the CKKS window sum is ~4× slower).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

criterion_main!(group::main_benches);
