//! Unit tests: every operation against the `PlainArray` numpy oracle, level and key-switch
//! accounting on `Plain` and `Sim`.

use std::error::Error as StdError;

use fhez_backend::frame::FrameError;
use fhez_backend::{Backend, Plain, Sim, SimConfig};

use crate::*;

type TestResult = std::result::Result<(), Box<dyn StdError>>;

fn arr(shape: &[usize], seed: u64) -> PlainArray {
    // Deterministic pseudo-random values in [-1, 1].
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

fn close(a: &PlainArray, b: &PlainArray, tol: f64) {
    assert_eq!(a.shape(), b.shape(), "shapes");
    for (k, (x, y)) in a.data().iter().zip(b.data()).enumerate() {
        assert!((x - y).abs() <= tol, "element {k}: {x} vs {y}");
    }
}

fn sim(slots: usize, levels: u32) -> Sim {
    Sim::new(SimConfig::planning(slots, levels, 40.0)).expect("sim")
}

#[test]
fn round_trip_both_packings() -> TestResult {
    let b = Plain::new(8);
    let x = arr(&[5, 3, 2], 1);
    for packing in [Packing::Flat, Packing::BatchInSlots { batch: 5 }] {
        let e = Erray::encrypt(&b, &x, packing)?;
        assert_eq!(e.shape(), &[5, 3, 2]);
        assert_eq!(e.ndim(), 3);
        assert_eq!(e.len(), 30);
        assert_eq!(e.packing(), packing);
        close(&e.decrypt()?, &x, 0.0);
    }
    assert_eq!(Erray::encrypt(&b, &x, Packing::Flat)?.cts().len(), 4);
    assert_eq!(
        Erray::encrypt(&b, &x, Packing::BatchInSlots { batch: 5 })?
            .cts()
            .len(),
        6
    );
    Ok(())
}

#[test]
fn packing_errors() {
    let b = Plain::new(4);
    let x = arr(&[5, 2], 2);
    assert!(matches!(
        Erray::encrypt(&b, &x, Packing::BatchInSlots { batch: 5 }),
        Err(Error::Backend(fhez_backend::Error::TooManyValues {
            len: 5,
            slots: 4
        }))
    ));
    assert!(matches!(
        Erray::encrypt(&b, &x, Packing::BatchInSlots { batch: 3 }),
        Err(Error::InvalidShape { .. })
    ));
}

#[test]
fn elementwise_with_broadcasting() -> TestResult {
    let b = Plain::new(16);
    let x = arr(&[4, 3, 2], 3);
    let p_row = arr(&[2], 4);
    let p_col = arr(&[4, 1, 1], 5);
    for packing in [Packing::Flat, Packing::BatchInSlots { batch: 4 }] {
        let e = Erray::encrypt(&b, &x, packing)?;
        close(
            &(&e + &p_row)?.decrypt()?,
            &x.zip_with(&p_row, |a, c| a + c)?,
            1e-12,
        );
        close(
            &(&e - &p_col)?.decrypt()?,
            &x.zip_with(&p_col, |a, c| a - c)?,
            1e-12,
        );
        close(
            &(&e * &p_col)?.decrypt()?,
            &x.zip_with(&p_col, |a, c| a * c)?,
            1e-12,
        );
        close(&(&e * 0.5)?.decrypt()?, &x.map(|a| a * 0.5), 1e-12);
        close(&(&e - 2.0)?.decrypt()?, &x.map(|a| a - 2.0), 1e-12);
        close(&(-&e)?.decrypt()?, &x.map(|a| -a), 0.0);
        let sq = (&e * &e) + &e;
        close(&sq?.decrypt()?, &x.map(|a| a * a + a), 1e-12);
    }
    // erray ∘ erray broadcasting over non-batch axes is free under batch-in-slots.
    let y = arr(&[4, 1, 2], 6);
    let ex = Erray::encrypt(&b, &x, Packing::BatchInSlots { batch: 4 })?;
    let ey = Erray::encrypt(&b, &y, Packing::BatchInSlots { batch: 4 })?;
    close(
        &(&ex * &ey)?.decrypt()?,
        &x.zip_with(&y, |a, c| a * c)?,
        1e-12,
    );
    // … but not under flat packing.
    let fx = Erray::encrypt(&b, &x, Packing::Flat)?;
    let fy = Erray::encrypt(&b, &y, Packing::Flat)?;
    assert!(matches!(&fx + &fy, Err(Error::PackingUnsupported { .. })));
    assert!(matches!(&fx + &ey, Err(Error::PackingMismatch { .. })));
    let bad = arr(&[3], 7);
    assert!(matches!(
        &ex + &bad,
        Err(Error::ShapeMismatch { op: "add", .. })
    ));
    Ok(())
}

#[test]
fn add_scalar_keeps_padding_zero() -> TestResult {
    let b = Plain::new(8);
    let x = arr(&[3], 8);
    let e = Erray::encrypt(&b, &x, Packing::Flat)?;
    let shifted = (&e + 1.0)?;
    let raw = fhez_backend::Decrypt::decrypt(&b, shifted.ct(0)?)?;
    assert_eq!(&raw[3..], &[0.0; 5]);
    let s = shifted.sum()?.decrypt()?;
    close(
        &s,
        &PlainArray::scalar(x.data().iter().sum::<f64>() + 3.0),
        1e-12,
    );
    Ok(())
}

#[test]
fn sums() -> TestResult {
    let b = Plain::new(16);
    let x = arr(&[5, 3, 2], 9);
    let e = Erray::encrypt(&b, &x, Packing::BatchInSlots { batch: 5 })?;
    let total: f64 = x.data().iter().sum();
    close(&e.sum()?.decrypt()?, &PlainArray::scalar(total), 1e-12);
    let before = b.stats();
    close(&e.sum_axis(2)?.decrypt()?, &x.sum_axis(2)?, 1e-12);
    close(&e.sum_axis(1)?.decrypt()?, &x.sum_axis(1)?, 1e-12);
    assert_eq!((b.stats() - before).rotations, 0, "non-batch sums add cts");
    let s0 = e.sum_axis(0)?;
    assert_eq!(s0.shape(), &[1, 3, 2]);
    close(
        &s0.decrypt()?,
        &x.sum_axis(0)?.reshape(vec![1, 3, 2])?,
        1e-12,
    );
    // Flat: 1-d over several ciphertexts, and the n-d error.
    let v = arr(&[37], 10);
    let f = Erray::encrypt(&b, &v, Packing::Flat)?;
    close(
        &f.sum()?.decrypt()?,
        &PlainArray::scalar(v.data().iter().sum()),
        1e-12,
    );
    close(
        &f.sum_axis(0)?.decrypt()?,
        &PlainArray::scalar(v.data().iter().sum()),
        1e-12,
    );
    let fx = Erray::encrypt(&b, &x, Packing::Flat)?;
    close(&fx.sum()?.decrypt()?, &PlainArray::scalar(total), 1e-12);
    assert!(matches!(
        fx.sum_axis(1),
        Err(Error::PackingUnsupported { .. })
    ));
    assert!(matches!(
        e.sum_axis(3),
        Err(Error::AxisOutOfRange { axis: 3, ndim: 3 })
    ));
    Ok(())
}

#[test]
fn sum_prefix_rotation_counts() -> TestResult {
    for n in 1..=40usize {
        let b = Plain::new(64);
        let x = arr(&[n], n as u64);
        let ct = b.encrypt(x.data())?;
        let before = b.stats();
        let s = reduce::sum_prefix(&b, &ct, n)?;
        let got = fhez_backend::Decrypt::decrypt(&b, &s)?[0];
        assert!(
            (got - x.data().iter().sum::<f64>()).abs() < 1e-12,
            "n = {n}"
        );
        let rotations = (b.stats() - before).rotations as usize;
        assert_eq!(rotations, reduce::sum_prefix_steps(n).len());
        assert!(rotations <= 2 * (usize::BITS - n.leading_zeros()) as usize);
        if n.is_power_of_two() {
            assert_eq!(rotations, n.trailing_zeros() as usize);
        }
    }
    Ok(())
}

#[test]
fn matmul_batch_in_slots_is_one_level_no_rotation() -> TestResult {
    let b = Plain::new(8).with_max_level(3);
    let x = arr(&[8, 6], 11);
    let w = arr(&[6, 4], 12);
    let e = Erray::encrypt(&b, &x, Packing::BatchInSlots { batch: 8 })?;
    let before = b.stats();
    let y = e.matmul(&w)?;
    assert_eq!((b.stats() - before).rotations, 0);
    assert_eq!(y.level(), 2);
    close(&y.decrypt()?, &x.matmul(&w)?, 1e-12);
    let v = arr(&[6], 13);
    close(
        &e.dot(&v)?.decrypt()?,
        &x.matmul(&v.reshape(vec![6, 1])?)?.reshape(vec![8])?,
        1e-12,
    );
    Ok(())
}

#[test]
fn matmul_flat_bsgs_shapes() -> TestResult {
    for &(n, m, slots) in &[
        (784, 128, 1024),
        (128, 10, 1024),
        (10, 128, 1024),
        (16, 16, 16),
        (5, 7, 32),
        (100, 3, 128),
        (3, 100, 128),
        (1, 1, 4),
        (64, 64, 64),
    ] {
        let b = Plain::new(slots).with_max_level(2);
        let x = arr(&[n], (n * m) as u64);
        let w = arr(&[n, m], (n + m) as u64);
        let e = Erray::encrypt(&b, &x, Packing::Flat)?;
        let before = b.stats();
        let y = e.matmul(&w)?;
        let d = b.stats() - before;
        let plan = FlatMatmulPlan::new(n, m, slots)?;
        assert_eq!(d.key_switches as usize, plan.key_switches(), "{n}x{m}");
        assert_eq!(y.level(), 1, "one level for {n}x{m}");
        close(&y.decrypt()?, &x.matmul(&w)?, 1e-9);
    }
    Ok(())
}

#[test]
fn matmul_flat_key_switches_grow_like_sqrt() -> TestResult {
    let slots = 4096;
    let b = Plain::new(slots);
    for n in [16usize, 64, 256, 1024, 4096] {
        let plan = FlatMatmulPlan::new(n, n, slots)?;
        assert!(plan.key_switches() <= 3 * n.isqrt(), "{n}: {plan:?}");
    }
    let x = arr(&[1024], 1);
    let w = arr(&[1024, 1024], 2);
    let e = Erray::encrypt(&b, &x, Packing::Flat)?;
    let before = b.stats();
    let y = e.matmul(&w)?;
    let ks = (b.stats() - before).key_switches;
    assert!(ks <= 64, "1024x1024 used {ks} key switches");
    close(&y.decrypt()?, &x.matmul(&w)?, 1e-9);
    Ok(())
}

#[test]
fn matmul_flat_cleans_dirty_padding() -> TestResult {
    let b = Plain::new(64);
    let x = arr(&[20], 3);
    let w1 = arr(&[20, 12], 4);
    let w2 = arr(&[12, 5], 5);
    let e = Erray::encrypt(&b, &x, Packing::Flat)?;
    let h = e.matmul(&w1)?;
    assert!(!h.is_padding_clean());
    let y = h.matmul(&w2)?;
    close(&y.decrypt()?, &x.matmul(&w1)?.matmul(&w2)?, 1e-9);
    assert_eq!(y.level(), b.caps().max_level - 3);
    Ok(())
}

#[test]
fn pow_and_polyval_depths_on_sim() -> TestResult {
    let s = sim(8, 10);
    let x = Erray::encrypt(&s, &arr(&[4, 2], 1), Packing::BatchInSlots { batch: 4 })?;
    let depth = |e: &SimErray| 10 - e.level();
    for (k, d) in [
        (1, 0),
        (2, 1),
        (3, 2),
        (4, 2),
        (5, 3),
        (7, 3),
        (8, 3),
        (9, 4),
    ] {
        assert_eq!(depth(&x.pow(k)?), d, "pow {k}");
    }
    let cases: &[(&[f64], u32)] = &[
        (&[0.5], 0),
        (&[0.1, 0.5], 1),
        (&[0.25, 0.5, 0.125], 2),
        (&[0.0, 1.0, 1.0], 1),
        (&[0.5, 0.197, 0.0, -0.004], 2),
        (&[0.1, 0.2, 0.3, 0.4, 0.5], 3),
        (&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], 3),
        (&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], 4),
    ];
    for &(c, d) in cases {
        let optimal = (c.len() as u32).next_power_of_two().trailing_zeros();
        let got = depth(&x.polyval(c)?);
        assert_eq!(got, d, "coeffs {c:?}");
        assert!(got <= optimal.max(1));
    }
    Ok(())
}

#[test]
fn pow_and_polyval_values() -> TestResult {
    let b = Plain::new(16);
    let x = arr(&[3, 4], 2);
    let e = Erray::encrypt(&b, &x, Packing::Flat)?;
    for k in 0..7 {
        close(&e.pow(k)?.decrypt()?, &x.map(|v| v.powi(k as i32)), 1e-12);
    }
    for c in [
        vec![0.3],
        vec![0.1, -0.5],
        vec![0.25, 0.5, 0.125],
        vec![0.5, 0.197, 0.0, -0.004],
        vec![1.0, -2.0, 0.5, 0.25, -0.125, 0.3, 0.7, 0.1, -0.9],
        vec![0.2, 0.0, 0.0, 0.0],
    ] {
        let want = x.map(|v| c.iter().rev().fold(0.0, |acc, &ci| acc * v + ci));
        close(&e.polyval(&c)?.decrypt()?, &want, 1e-12);
    }
    Ok(())
}

#[test]
fn level_exhaustion_surfaces_with_numbers() -> TestResult {
    let b = Plain::new(8).with_max_level(1);
    let e = Erray::encrypt(&b, &arr(&[2, 2], 3), Packing::BatchInSlots { batch: 2 })?;
    let err = e.pow(3).err().ok_or("expected an error")?;
    assert!(matches!(
        err,
        Error::Backend(fhez_backend::Error::LevelExhausted {
            needed: 1,
            available: 0,
            ..
        })
    ));
    assert_eq!(
        err.to_string(),
        "level exhausted in `mul`: needs 1 level(s), 0 available"
    );
    Ok(())
}

#[test]
fn reshape_permute_windows() -> TestResult {
    let b = Plain::new(8);
    let x = arr(&[2, 3, 4], 4);
    let e = Erray::encrypt(&b, &x, Packing::BatchInSlots { batch: 2 })?;
    close(
        &e.reshape(&[2, 12])?.decrypt()?,
        &x.reshape(vec![2, 12])?,
        0.0,
    );
    close(
        &e.permuted_axes(&[0, 2, 1])?.decrypt()?,
        &x.permuted_axes(&[0, 2, 1])?,
        0.0,
    );
    assert!(matches!(e.t(), Err(Error::PackingUnsupported { .. })));
    assert!(matches!(
        e.reshape(&[4, 6]),
        Err(Error::PackingUnsupported { .. })
    ));
    assert!(matches!(
        e.reshape(&[2, 5]),
        Err(Error::ShapeMismatch { .. })
    ));
    let f = Erray::encrypt(&b, &x, Packing::Flat)?;
    close(
        &f.reshape(&[4, 6])?.decrypt()?,
        &x.reshape(vec![4, 6])?,
        0.0,
    );
    assert!(matches!(
        f.t(),
        Err(Error::PackingUnsupported {
            op: _,
            packing: "flat"
        })
    ));
    assert!(matches!(
        f.windows(&[2], &[1]),
        Err(Error::PackingUnsupported { .. })
    ));

    // 2-d windows: (batch, 5, 6) with a 3×2 kernel, stride (2, 1).
    let img = arr(&[2, 5, 6], 5);
    let e = Erray::encrypt(&b, &img, Packing::BatchInSlots { batch: 2 })?;
    let before = b.stats();
    let w = e.windows(&[3, 2], &[2, 1])?;
    assert_eq!(w.shape(), &[2, 2, 5, 3, 2]);
    let got = w.decrypt()?;
    for bb in 0..2 {
        for (oi, oj, ki, kj) in (0..2).flat_map(|a| {
            (0..5).flat_map(move |c| (0..3).flat_map(move |d| (0..2).map(move |f| (a, c, d, f))))
        }) {
            assert_eq!(
                got.get(&[bb, oi, oj, ki, kj]),
                img.get(&[bb, oi * 2 + ki, oj + kj])
            );
        }
    }
    // Window sum (2-D average pooling numerator): free windows + ciphertext additions.
    let pooled = w.sum_axis(4)?.sum_axis(3)?;
    assert_eq!((b.stats() - before).key_switches, 0);
    assert_eq!(pooled.shape(), &[2, 2, 5]);
    assert!(matches!(
        e.windows(&[6, 1], &[1, 1]),
        Err(Error::InvalidShape { .. })
    ));
    Ok(())
}

#[test]
fn serialization_round_trip_and_limits() -> TestResult {
    let b = Plain::new(8);
    let x = arr(&[3, 5], 6);
    for packing in [Packing::Flat, Packing::BatchInSlots { batch: 3 }] {
        let e = (&Erray::encrypt(&b, &x, packing)? * 0.5)?;
        let bytes = e.to_bytes()?;
        let back = Erray::from_bytes(&b, &bytes, 1 << 20)?;
        assert_eq!(back.shape(), e.shape());
        assert_eq!(back.packing(), packing);
        assert_eq!(back.level(), e.level());
        close(&back.decrypt()?, &e.decrypt()?, 0.0);
        assert!(matches!(
            Erray::from_bytes(&b, &bytes, 10),
            Err(Error::Backend(fhez_backend::Error::SizeLimit { .. }))
        ));
        for cut in 0..bytes.len() {
            assert!(Erray::from_bytes(&b, &bytes[..cut], 1 << 20).is_err());
        }
    }
    // The common frame: magic, version 2, kind 1, no params id, the payload's length.
    let flat = Erray::encrypt(&b, &x, Packing::Flat)?.to_bytes()?;
    assert_eq!(&flat[..8], b"FZER\x02\x00\x01\x00");
    assert_eq!(flat[8..40], [0u8; 32]);
    assert_eq!(flat[40..48], ((flat.len() - 48) as u64).to_le_bytes());
    let frame_err = |bytes: &[u8]| match Erray::from_bytes(&b, bytes, 1 << 20) {
        Err(Error::Backend(e)) => e.as_frame().cloned(),
        _ => None,
    };
    let mut v1 = flat.clone();
    v1[4] = 1;
    assert!(matches!(
        frame_err(&v1),
        Some(FrameError::UnsupportedVersion {
            found: 1,
            supported: 2,
            ..
        })
    ));
    let mut named = flat.clone();
    named[20] = 1;
    assert!(matches!(
        frame_err(&named),
        Some(FrameError::ParamsMismatch { .. })
    ));
    let mut lie = flat.clone();
    lie[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        frame_err(&lie),
        Some(FrameError::TooLarge { len: u64::MAX, .. })
    ));
    // Flat packing carries batch 0 (payload offset 1..9, byte offset 49..57); any other
    // value is refused, so the encoding is canonical (the `erray` fuzz target asserts that
    // accepted input re-encodes to itself).
    assert_eq!(flat.get(48..57), Some(&[0u8; 9][..]));
    let mut other = flat.clone();
    if let Some(byte) = other.get_mut(49) {
        *byte = 5;
    }
    assert!(matches!(
        Erray::from_bytes(&b, &other, 1 << 20),
        Err(Error::Backend(fhez_backend::Error::Malformed {
            reason: "flat packing with a non-zero batch",
            ..
        }))
    ));
    let s = sim(8, 3);
    let e = Erray::encrypt(&s, &x, Packing::Flat)?.mul_scalar(0.5)?;
    let back = Erray::from_bytes(&s, &e.to_bytes()?, 1 << 20)?;
    assert_eq!(back.level(), 2);
    Ok(())
}

#[test]
fn sim_accounting_matches_plain_for_a_pipeline() -> TestResult {
    fn pipeline<B: Backend>(b: &B) -> Result<(u32, fhez_backend::OpStats)> {
        let x = arr(&[100], 1);
        let e = Erray::encrypt(b, &x, Packing::Flat)?;
        let h = e
            .matmul(&arr(&[100, 32], 2))?
            .polyval(&[0.5, 0.197, 0.0, -0.004])?;
        let y = h.matmul(&arr(&[32, 10], 3))?.sum()?;
        Ok((y.level(), b.stats()))
    }
    let (pl, ps) = pipeline(&Plain::new(256).with_max_level(6))?;
    let s = sim(256, 6);
    let (sl, ss) = pipeline(&s)?;
    assert_eq!(pl, sl);
    assert_eq!(ps, ss);
    let report = s.report();
    assert_eq!(report.depth_used, 6 - sl);
    assert!(!report.rotation_steps.is_empty());
    Ok(())
}

#[test]
fn error_strings() {
    let cases: Vec<(Error, &str)> = vec![
        (
            Error::ShapeMismatch {
                op: "add",
                lhs: vec![2, 3],
                rhs: vec![4],
            },
            "shape mismatch in `add`: [2, 3] vs [4]",
        ),
        (
            Error::PackingUnsupported {
                op: "transpose",
                packing: "flat",
            },
            "`transpose` is not supported with flat packing",
        ),
        (
            Error::PackingMismatch {
                op: "add",
                lhs: "flat",
                rhs: "batch-in-slots",
            },
            "packing mismatch in `add`: flat vs batch-in-slots",
        ),
        (
            Error::AxisOutOfRange { axis: 3, ndim: 2 },
            "axis 3 out of range for an array of 2 dimension(s)",
        ),
        (
            Error::SlotsNotPowerOfTwo {
                op: "matmul",
                slots: 12,
            },
            "`matmul` needs a power-of-two slot count, the backend has 12",
        ),
        (
            Error::Backend(fhez_backend::Error::MissingGaloisKey { step: 4 }),
            "missing Galois key for rotation step 4",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
    }
}
