//! Erray benchmarks: flat BSGS matmuls (784×128, 128×10) and a 2-D window sum, on the Plain
//! backend. Each bench prints the key switches per operation from `Backend::stats()`; CKKS
//! variants are added when the engine lands.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_main};
use fhez_backend::{Backend, Plain};
use fhez_erray::{Erray, Packing, PlainArray, Result};

fn data(shape: Vec<usize>) -> Result<PlainArray> {
    PlainArray::from_fn(shape, |k| ((k * 37 % 101) as f64 - 50.0) / 500.0)
}

fn matmul(c: &mut Criterion, n: usize, m: usize, slots: usize) -> Result<()> {
    let backend = Plain::new(slots);
    let x = Erray::encrypt(&backend, &data(vec![n])?, Packing::Flat)?;
    let w = data(vec![n, m])?;
    let before = backend.stats();
    x.matmul(&w)?;
    let ks = (backend.stats() - before).key_switches;
    println!("erray_matmul {n}x{m} flat (slots={slots}): {ks} key switches per matmul");
    let mut group = c.benchmark_group("erray_matmul");
    group.bench_function(
        BenchmarkId::new(
            format!("{n}x{m}/flat"),
            format!("plain/slots={slots}/ks={ks}"),
        ),
        |b| b.iter(|| black_box(x.matmul(black_box(&w)))),
    );
    group.finish();
    Ok(())
}

fn window_sum(c: &mut Criterion) -> Result<()> {
    let backend = Plain::new(64);
    let img = Erray::encrypt(
        &backend,
        &data(vec![64, 28, 28])?,
        Packing::BatchInSlots { batch: 64 },
    )?;
    let run = |e: &Erray<Plain>| e.windows(&[3, 3], &[1, 1])?.sum_axis(4)?.sum_axis(3);
    let before = backend.stats();
    run(&img)?;
    let ks = (backend.stats() - before).key_switches;
    println!("erray_window_sum 28x28 k=3x3 batch-in-slots: {ks} key switches");
    c.bench_function("erray_window_sum/28x28_k3x3/plain/batch=64", |b| {
        b.iter(|| black_box(run(black_box(&img))))
    });
    Ok(())
}

fn benches(c: &mut Criterion) {
    let results = [
        matmul(c, 784, 128, 1024),
        matmul(c, 128, 10, 1024),
        window_sum(c),
    ];
    for r in results {
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

criterion_main!(group::main_benches);
