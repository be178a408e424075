//! Unit tests of the generic diagonal transform and the single-input layers, against direct
//! loops (oracles), with level and key-switch accounting on `Plain` and `Sim`.

use std::collections::BTreeSet;
use std::error::Error as StdError;

use fhez_backend::{Backend, Plain, RotationSet, Sim, SimConfig};

use crate::*;

type TestResult = std::result::Result<(), Box<dyn StdError>>;

fn arr(shape: &[usize], seed: u64) -> PlainArray {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    PlainArray::from_fn(shape.to_vec(), |_| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    })
    .expect("shape")
}

fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths");
    for (k, (x, y)) in got.iter().zip(want).enumerate() {
        assert!((x - y).abs() <= tol, "element {k}: {x} vs {y}");
    }
}

/// Direct n-d cross-correlation loop: input `(C, d…)`, weights `(F, C, k…)`.
fn conv_oracle(
    x: &PlainArray,
    w: &PlainArray,
    bias: Option<&PlainArray>,
    stride: &[usize],
    pad: &[usize],
) -> PlainArray {
    let (c_in, dims) = x.shape().split_first().expect("channels");
    let (f_out, rest) = w.shape().split_first().expect("filters");
    let kernel = &rest[1..];
    let out: Vec<usize> = (0..dims.len())
        .map(|t| (dims[t] + 2 * pad[t] - kernel[t]) / stride[t] + 1)
        .collect();
    let unravel = |mut k: usize, shape: &[usize]| -> Vec<usize> {
        let mut idx = vec![0; shape.len()];
        for t in (0..shape.len()).rev() {
            idx[t] = k % shape[t];
            k /= shape[t];
        }
        idx
    };
    let (out_len, k_len): (usize, usize) = (out.iter().product(), kernel.iter().product());
    let mut shape = vec![*f_out];
    shape.extend(&out);
    PlainArray::from_fn(shape, |flat| {
        let (f, o) = (flat / out_len, unravel(flat % out_len, &out));
        let mut acc = bias.map_or(0.0, |b| b.data()[f]);
        for c in 0..*c_in {
            for kk in 0..k_len {
                let ki = unravel(kk, kernel);
                let mut index = vec![c];
                let mut inside = true;
                for t in 0..dims.len() {
                    let p = (o[t] * stride[t] + ki[t]) as isize - pad[t] as isize;
                    if p < 0 || p >= dims[t] as isize {
                        inside = false;
                    }
                    index.push(p.max(0) as usize);
                }
                if inside {
                    let mut widx = vec![f, c];
                    widx.extend(&ki);
                    acc += x.get(&index).expect("x") * w.get(&widx).expect("w");
                }
            }
        }
        acc
    })
    .expect("oracle shape")
}

/// Direct average pooling: one identity-like filter per channel.
fn pool_oracle(x: &PlainArray, kernel: &[usize], stride: &[usize]) -> PlainArray {
    let c = x.shape()[0];
    let k_len: usize = kernel.iter().product();
    let mut wshape = vec![c, c];
    wshape.extend(kernel);
    let w = PlainArray::from_fn(wshape, |flat| {
        let (f, ch) = (flat / (c * k_len), (flat / k_len) % c);
        if f == ch { 1.0 / k_len as f64 } else { 0.0 }
    })
    .expect("w");
    conv_oracle(x, &w, None, stride, &vec![0; kernel.len()])
}

#[test]
fn transform_matches_direct_product_and_predicts_its_cost() -> TestResult {
    for &(slots, n_in, rows, cols) in &[
        (64, 16, 10, 16),
        (64, 8, 20, 5),
        (64, 64, 3, 64),
        (1024, 1024, 128, 784),
        (1024, 128, 10, 128),
        (16, 1, 1, 1),
        (32, 32, 32, 32),
    ] {
        let w = arr(&[rows, cols], (rows * cols + slots) as u64);
        let bias = arr(&[rows], rows as u64);
        let coef = |i: usize, j: usize| {
            if j < cols {
                w.data()[i * cols + j]
            } else {
                0.0
            }
        };
        let b = |i: usize| bias.data()[i];
        let t = LinearTransform::new(slots, n_in, rows, coef, b)?;
        let x = arr(&[cols], 7);
        let period = t.input_period();
        let input: Vec<f64> = (0..slots)
            .map(|s| x.data().get(s % period).copied().unwrap_or(0.0))
            .collect();
        let plain = Plain::new(slots).with_max_level(3);
        let ct = plain.encrypt(&input)?;
        let before = plain.stats();
        let y = t.apply(&plain, &ct)?;
        let d = plain.stats() - before;
        assert_eq!(plain.level(&y), 2, "one level for {rows}x{cols}");
        assert_eq!(d.key_switches as usize, t.key_switches(), "{rows}x{cols}");
        assert!(d.hoisted <= 1, "one hoisted batch");
        close(y.values(), &t.reference(x.data(), rows, coef, b), 1e-9);
        // The Sim mirror requests exactly the predicted steps.
        let sim = Sim::new(SimConfig::planning(slots, 3, 40.0))?;
        let sct = sim.encrypt(&input)?;
        t.apply(&sim, &sct)?;
        let report = sim.report();
        assert_eq!(report.rotation_steps, t.rotation_steps(), "{rows}x{cols}");
        assert_eq!(report.stats.key_switches as usize, t.key_switches());
    }
    Ok(())
}

#[test]
fn transform_key_switches_grow_like_sqrt() -> TestResult {
    for m in [16usize, 64, 256, 1024] {
        let t = LinearTransform::new(4096, m, m, |i, j| (i + 2 * j) as f64, |_| 0.0)?;
        assert_eq!(t.diagonals(), m);
        assert!(
            t.key_switches() <= 3 * m.isqrt(),
            "{m}: {}",
            t.key_switches()
        );
    }
    Ok(())
}

#[test]
fn transform_rejects_hostile_sizes_before_allocating() {
    let huge = LinearTransform::new(1 << 16, 1 << 16, 1 << 16, |_, _| 1.0, |_| 0.0);
    assert!(matches!(huge, Err(Error::InvalidShape { .. })), "{huge:?}");
    let odd = LinearTransform::new(64, 12, 4, |_, _| 1.0, |_| 0.0);
    assert!(matches!(odd, Err(Error::InvalidShape { .. })));
    let wide = LinearTransform::new(64, 128, 4, |_, _| 1.0, |_| 0.0);
    assert!(matches!(wide, Err(Error::InvalidShape { .. })));
    let slots = LinearTransform::new(48, 16, 4, |_, _| 1.0, |_| 0.0);
    assert!(matches!(slots, Err(Error::SlotsNotPowerOfTwo { .. })));
}

#[test]
fn evaluation_uses_exact_keys_and_the_table_composes() -> TestResult {
    let (slots, n) = (256usize, 64usize);
    let t = LinearTransform::new(slots, n, n, |i, j| ((i * 7 + j * 3) % 5) as f64, |_| 0.5)?;
    let steps = t.rotation_steps();
    assert!(steps.iter().any(|s| !s.unsigned_abs().is_power_of_two()));
    let pow2: BTreeSet<i64> = (0..8).map(|b| 1i64 << b).collect();
    let plain = Plain::new(slots).with_rotations(RotationSet::Steps(pow2.clone()));
    let x: Vec<f64> = (0..slots).map(|s| ((s % n) as f64).sin()).collect();
    let ct = plain.encrypt(&x)?;
    // Exact keys: a step the key set lacks is an error, not a silent composition.
    assert!(matches!(
        t.apply(&plain, &ct),
        Err(Error::Backend(fhez_backend::Error::MissingGaloisKey { .. }))
    ));
    let table = RotationTable::with_budget(&steps, 4, slots)?;
    assert!(table.key_steps(&steps).is_subset(&pow2));
    assert!(!table.entries().is_empty());
    let y = t.apply_with(&plain, &ct, &table)?;
    let want = t.reference(&x[..n], n, |i, j| ((i * 7 + j * 3) % 5) as f64, |_| 0.5);
    close(y.values(), &want, 1e-9);
    // A budget that holds every step keeps them all exact.
    assert_eq!(
        RotationTable::with_budget(&steps, steps.len(), slots)?,
        RotationTable::exact()
    );
    assert!(RotationTable::with_budget(&steps, 2, slots).is_err());
    Ok(())
}

#[test]
fn single_input_layout_round_trip_and_validation() -> TestResult {
    let b = Plain::new(64);
    let x = arr(&[3, 4], 1);
    let e = Erray::encrypt(&b, &x, Packing::single_input(12))?;
    assert_eq!(e.packing(), Packing::SingleInput { period: 16 });
    assert_eq!(e.cts().len(), 1);
    for (s, v) in e.cts()[0].values().iter().enumerate() {
        let want = x.data().get(s % 16).copied().unwrap_or(0.0);
        assert_eq!(*v, want, "slot {s}");
    }
    assert_eq!(e.decrypt()?, x);
    let back = Erray::from_bytes(&b, &e.to_bytes()?, 1 << 20)?;
    assert_eq!(back.packing(), e.packing());
    assert_eq!(back.decrypt()?, x);
    for bad in [8usize, 24, 128] {
        assert!(Erray::encrypt(&b, &x, Packing::SingleInput { period: bad }).is_err());
    }
    Ok(())
}

#[test]
fn single_input_scalars_keep_the_copies_and_padding() -> TestResult {
    let b = Plain::new(32);
    let x = arr(&[5], 2);
    let e = Erray::encrypt(&b, &x, Packing::single_input(5))?;
    let y = ((&e + 1.0)? * 2.0)?;
    assert!(y.is_padding_clean());
    for (s, v) in y.cts()[0].values().iter().enumerate() {
        let want = x.data().get(s % 8).map_or(0.0, |v| (v + 1.0) * 2.0);
        assert!((v - want).abs() < 1e-12, "slot {s}");
    }
    let total = y.sum()?.decrypt()?;
    let want: f64 = x.data().iter().map(|v| (v + 1.0) * 2.0).sum();
    assert!((total.data()[0] - want).abs() < 1e-9);
    Ok(())
}

#[test]
fn conv_matches_direct_loops() -> TestResult {
    let b = Plain::new(1024);
    // (input shape, weight shape, stride, padding)
    type ConvCase<'a> = (&'a [usize], &'a [usize], &'a [usize], &'a [usize]);
    let cases: [ConvCase<'_>; 5] = [
        (&[1, 8, 8], &[2, 1, 3, 3], &[1, 1], &[0, 0]),
        (&[3, 7, 6], &[4, 3, 3, 2], &[2, 1], &[1, 1]),
        (&[2, 10], &[3, 2, 4], &[3], &[2]),
        (&[2, 3, 4, 4], &[2, 2, 2, 3, 3], &[1, 1, 1], &[0, 1, 1]),
        (&[1, 28, 28], &[4, 1, 7, 7], &[3, 3], &[0, 0]),
    ];
    for (k, (xs, ws, stride, pad)) in cases.into_iter().enumerate() {
        let x = arr(xs, k as u64 + 10);
        let w = arr(ws, k as u64 + 20);
        let bias = arr(&[ws[0]], k as u64 + 30);
        let e = Erray::encrypt(&b, &x, Packing::single_input(x.len()))?;
        let level = e.level();
        let y = e.conv(&w, Some(&bias), stride, pad)?;
        let want = conv_oracle(&x, &w, Some(&bias), stride, pad);
        assert_eq!(y.shape(), want.shape(), "case {k}");
        assert_eq!(y.level(), level - 1, "case {k}: one level");
        close(y.decrypt()?.data(), want.data(), 1e-9);
    }
    Ok(())
}

#[test]
fn avg_pool_matches_direct_loops() -> TestResult {
    let b = Plain::new(512);
    let x = arr(&[3, 6, 8], 4);
    let e = Erray::encrypt(&b, &x, Packing::single_input(x.len()))?;
    for (kernel, stride) in [([2, 2], [2, 2]), ([3, 2], [1, 2])] {
        let y = e.avg_pool(&kernel, &stride)?;
        let want = pool_oracle(&x, &kernel, &stride);
        assert_eq!(y.shape(), want.shape());
        close(y.decrypt()?.data(), want.data(), 1e-9);
    }
    Ok(())
}

#[test]
fn layers_chain_without_masking_or_replication() -> TestResult {
    let slots = 2048;
    let plain = Plain::new(slots).with_max_level(6);
    let x = arr(&[2, 10, 10], 5);
    let w1 = arr(&[4, 2, 3, 3], 6);
    let b1 = arr(&[4], 7);
    let w2 = arr(&[64, 10], 8);
    let b2 = arr(&[10], 9);
    let run = |e: &Erray<Plain>| -> Result<Erray<Plain>> {
        let h = e.conv(&w1, Some(&b1), &[1, 1], &[0, 0])?; // (4, 8, 8)
        let h = (&h * &h)?;
        let h = h.avg_pool(&[2, 2], &[2, 2])?; // (4, 4, 4)
        let h = h.reshape(&[64])?;
        h.dense(&w2, Some(&b2))
    };
    let e = Erray::encrypt(&plain, &x, Packing::single_input(x.len()))?;
    let before = plain.stats();
    let y = run(&e)?;
    let d = plain.stats() - before;
    // conv, square, pool, dense: four levels, nothing spent on masks.
    assert_eq!(y.level(), 2);
    assert_eq!(d.mults, 1);
    let h = conv_oracle(&x, &w1, Some(&b1), &[1, 1], &[0, 0]).map(|v| v * v);
    let h = pool_oracle(&h, &[2, 2], &[2, 2]).reshape(vec![64])?;
    let want = h
        .matmul(&w2.reshape(vec![64, 10])?)?
        .zip_with(&b2, |a, b| a + b)?;
    close(y.decrypt()?.data(), want.data(), 1e-9);
    // Sim agrees on levels and key switches.
    let sim = Sim::new(SimConfig::planning(slots, 6, 40.0))?;
    let s = Erray::encrypt(&sim, &x, Packing::single_input(x.len()))?;
    let sb = sim.stats();
    let sy = (|| -> Result<Erray<Sim>> {
        let h = s.conv(&w1, Some(&b1), &[1, 1], &[0, 0])?;
        let h = (&h * &h)?;
        h.avg_pool(&[2, 2], &[2, 2])?
            .reshape(&[64])?
            .dense(&w2, Some(&b2))
    })()?;
    assert_eq!(sy.level(), y.level());
    assert_eq!((sim.stats() - sb).key_switches, d.key_switches);
    Ok(())
}

#[test]
fn dirty_padding_is_ignored_by_the_transform() -> TestResult {
    let slots = 64;
    let b = Plain::new(slots);
    let x = arr(&[5], 11);
    // Garbage in every padding slot of every period.
    let raw: Vec<f64> = (0..slots)
        .map(|s| x.data().get(s % 8).copied().unwrap_or(100.0 + s as f64))
        .collect();
    let ct = b.encrypt(&raw)?;
    let e = Erray::from_parts(&b, vec![5], Packing::SingleInput { period: 8 }, vec![ct])?;
    assert!(!e.is_padding_clean());
    let w = arr(&[5, 3], 12);
    let y = e.matmul(&w)?;
    close(y.decrypt()?.data(), x.matmul(&w)?.data(), 1e-9);
    assert_eq!(y.packing(), Packing::SingleInput { period: 4 });
    Ok(())
}

#[test]
fn single_input_shape_errors() -> TestResult {
    let b = Plain::new(256);
    let x = Erray::encrypt(&b, &arr(&[2, 6, 6], 1), Packing::single_input(72))?;
    let bad_channels = arr(&[3, 1, 3, 3], 2);
    assert!(matches!(
        x.conv(&bad_channels, None, &[1, 1], &[0, 0]),
        Err(Error::ShapeMismatch { .. })
    ));
    let w = arr(&[3, 2, 3, 3], 3);
    assert!(matches!(
        x.conv(&w, None, &[0, 1], &[0, 0]),
        Err(Error::InvalidShape { .. })
    ));
    assert!(matches!(
        x.conv(&w, None, &[1], &[0]),
        Err(Error::InvalidShape { .. })
    ));
    assert!(matches!(
        x.avg_pool(&[7, 7], &[1, 1]),
        Err(Error::InvalidShape { .. })
    ));
    let batch = Erray::encrypt(&b, &arr(&[4, 6], 4), Packing::BatchInSlots { batch: 4 })?;
    assert!(matches!(
        batch.avg_pool(&[2], &[2]),
        Err(Error::PackingUnsupported { .. })
    ));
    Ok(())
}

#[test]
fn windowed_transform_reads_only_its_window() -> TestResult {
    let (slots, n, rows, cols) = (256usize, 32usize, 8usize, 20usize);
    let w = arr(&[rows, cols], 40);
    let coef = |i: usize, j: usize| {
        if j < cols {
            w.data()[i * cols + j]
        } else {
            0.0
        }
    };
    let t = LinearTransform::windowed(slots, n, rows, coef, |_| 0.25)?;
    assert!(t.is_windowed());
    let x = arr(&[cols], 41);
    let window = n + t.output_period() - 1;
    // x with period n on the window, garbage everywhere else.
    let input: Vec<f64> = (0..slots)
        .map(|s| {
            if s < window {
                x.data().get(s % n).copied().unwrap_or(0.0)
            } else {
                1e3 + s as f64
            }
        })
        .collect();
    let plain = Plain::new(slots);
    let y = t.apply(&plain, &plain.encrypt(&input)?)?;
    let want = t.reference(x.data(), rows, coef, |_| 0.25);
    close(&y.values()[..rows], &want[..rows], 1e-9);
    Ok(())
}

#[test]
fn stack_matches_row_major_concatenation() -> TestResult {
    let b = Plain::new(256);
    // Parts that fill their period (no rotation) and parts that do not (one rotation each).
    for (shape, count, rotations) in [(vec![2, 4], 3usize, 0u64), (vec![5, 5], 4, 3)] {
        let xs: Vec<PlainArray> = (0..count).map(|k| arr(&shape, 50 + k as u64)).collect();
        let parts: Vec<Erray<Plain>> = xs
            .iter()
            .map(|x| Erray::encrypt(&b, x, Packing::single_input(x.len())))
            .collect::<Result<_>>()?;
        let refs: Vec<&Erray<Plain>> = parts.iter().collect();
        let before = b.stats();
        let s = Erray::stack(&refs)?;
        assert_eq!((b.stats() - before).rotations, rotations);
        let mut want_shape = vec![count];
        want_shape.extend(&shape);
        assert_eq!(s.shape(), want_shape.as_slice());
        assert_eq!(s.level(), parts[0].level() - 1);
        let want: Vec<f64> = xs.iter().flat_map(|x| x.data().to_vec()).collect();
        close(s.decrypt()?.data(), &want, 1e-12);
        // The result is a valid single-input operand: a dense layer on it is exact.
        let n = want.len();
        let w = arr(&[n, 3], 60);
        let y = s.reshape(&[n])?.dense(&w, None)?;
        let x = PlainArray::new(vec![n], want)?;
        close(y.decrypt()?.data(), x.matmul(&w)?.data(), 1e-9);
    }
    let a = Erray::encrypt(&b, &arr(&[4], 1), Packing::single_input(4))?;
    let c = Erray::encrypt(&b, &arr(&[5], 2), Packing::single_input(5))?;
    assert!(Erray::stack(&[&a, &c]).is_err());
    assert!(Erray::<Plain>::stack(&[]).is_err());
    Ok(())
}

/// Stacking transforms is the stacked matrix: `[M_0; M_1; M_2]·x` with biases, against the
/// parts' direct-loop references (parts with input periods 16 and 32 on a period-16 input),
/// in one transform whose key switches are fewer than the parts' together.
#[test]
fn stacked_transforms_are_the_stacked_matrix() -> TestResult {
    let slots = 256;
    let rows = 6;
    let ws: Vec<PlainArray> = (0..3).map(|k| arr(&[rows, 16], 40 + k)).collect();
    let bs: Vec<PlainArray> = (0..3).map(|k| arr(&[rows], 50 + k)).collect();
    let parts = ws
        .iter()
        .zip(&bs)
        .enumerate()
        .map(|(k, (w, b))| {
            let n = if k == 1 { 32 } else { 16 };
            LinearTransform::new(
                slots,
                n,
                rows,
                |i, j| {
                    w.data()
                        .get(i * 16 + j)
                        .copied()
                        .filter(|_| j < 16)
                        .unwrap_or(0.0)
                },
                |i| b.data()[i],
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&LinearTransform> = parts.iter().collect();
    let stacked = LinearTransform::stack(&refs, rows)?;
    assert_eq!((stacked.input_period(), stacked.output_period()), (32, 32));
    let x = arr(&[16], 60);
    let input: Vec<f64> = (0..slots).map(|s| x.data()[s % 16]).collect();
    let plain = Plain::new(slots).with_max_level(2);
    let y = stacked.apply(&plain, &plain.encrypt(&input)?)?;
    let mut want = Vec::new();
    for (w, b) in ws.iter().zip(&bs) {
        for i in 0..rows {
            let dot: f64 = (0..16).map(|j| w.data()[i * 16 + j] * x.data()[j]).sum();
            want.push(dot + b.data()[i]);
        }
    }
    close(&y.values()[..3 * rows], &want, 1e-9);
    let separate: usize = parts.iter().map(LinearTransform::key_switches).sum();
    assert!(
        stacked.key_switches() < separate,
        "{} vs {separate}",
        stacked.key_switches()
    );
    assert!(
        LinearTransform::stack(&refs, 64).is_err(),
        "rows above a part's period"
    );
    assert!(LinearTransform::stack(&[], rows).is_err());
    Ok(())
}
