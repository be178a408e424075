//! Unit tests of [`Gather`] and [`LinearTransform::gathered`]: values against direct loops
//! on `Plain`, key switches against the prediction on `Plain` and `Sim`, hostile layouts.

use std::error::Error as StdError;

use fhez_backend::{Backend, Plain, Sim, SimConfig};

use crate::*;

type TestResult = std::result::Result<(), Box<dyn StdError>>;

fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// Applies `t` to `g` (one period of `period` slots, repeated) on `Plain` and on `Sim`;
/// checks the key switches and rotation steps against the prediction; returns the values.
fn run(t: &LinearTransform, g: &[f64], period: usize) -> Result<Vec<f64>> {
    let slots = t.slots();
    let input: Vec<f64> = (0..slots).map(|s| g[s % period]).collect();
    let plain = Plain::new(slots).with_max_level(3);
    let ct = plain.encrypt(&input)?;
    let before = plain.stats();
    let y = t.apply(&plain, &ct)?;
    let d = plain.stats() - before;
    assert_eq!(d.key_switches as usize, t.key_switches());
    assert_eq!(plain.level(&y), 2, "one level");
    let sim = Sim::new(SimConfig::planning(slots, 3, 40.0))?;
    let sct = sim.encrypt(&input)?;
    t.apply(&sim, &sct)?;
    let report = sim.report();
    assert_eq!(report.rotation_steps, t.rotation_steps());
    assert_eq!(report.stats.key_switches as usize, t.key_switches());
    Ok(y.values().to_vec())
}

fn close(got: &[f64], want: &[f64], tol: f64) {
    for (k, (x, y)) in got.iter().zip(want).enumerate() {
        assert!((x - y).abs() <= tol, "slot {k}: {x} vs {y}");
    }
}

/// A bank of `filters` valid `k×k` convolutions (stride 1) of one `side×side` image:
/// output row `f·windows + w`; the im2col gather with slot `p·windows + w` holding the
/// pixel under kernel position `p` of window `w`.
#[test]
fn gathered_conv_bank_matches_the_oracle_with_fewer_key_switches() -> TestResult {
    let (side, k, filters, slots) = (8usize, 3usize, 4usize, 1024usize);
    let out = side - k + 1;
    let windows = out * out;
    let rows = filters * windows;
    let kernels = values(filters * k * k, 3);
    let bias = values(filters, 5);
    let pixel = |p: usize, w: usize| (w / out + p / k) * side + (w % out + p % k);
    let coef = |i: usize, j: usize| {
        let (f, w) = (i / windows, i % windows);
        (0..k * k)
            .find(|&p| pixel(p, w) == j)
            .map_or(0.0, |p| kernels[f * k * k + p])
    };
    let b = |i: usize| bias[i / windows];
    let gather = Gather::new(
        side * side,
        (k * k * windows).next_power_of_two(),
        (0..k * k * windows)
            .map(|s| Some(pixel(s / windows, s % windows)))
            .collect(),
    )?;
    let x = values(side * side, 7);
    let oracle: Vec<f64> = (0..rows)
        .map(|i| (0..side * side).map(|j| coef(i, j) * x[j]).sum::<f64>() + b(i))
        .collect();

    let natural = LinearTransform::new(slots, (side * side).next_power_of_two(), rows, coef, b)?;
    let y = run(&natural, &x, side * side)?;
    close(&y[..rows], &oracle, 1e-9);

    let t = LinearTransform::gathered(slots, &gather, rows, coef, b)?;
    let g = gather.apply(&x)?;
    let y = run(&t, &g, gather.period())?;
    close(&y[..rows], &oracle, 1e-9);
    // Slot p·windows + w against row f·windows + w: diagonal windows·(p − f) mod m, one
    // per value of p − f.
    assert!(
        t.diagonals() < k * k + filters,
        "{} diagonals",
        t.diagonals()
    );
    assert!(
        t.key_switches() < natural.key_switches(),
        "gathered {} vs natural {}",
        t.key_switches(),
        natural.key_switches()
    );
    Ok(())
}

/// A dense map through a gather that permutes, repeats and leaves slots empty, with a
/// period shorter than the output period (the gathered input repeats inside it).
#[test]
fn gathered_dense_map_is_the_composition() -> TestResult {
    let (len, rows, slots) = (12usize, 40usize, 256usize);
    let matrix = values(rows * len, 11);
    let coef = |i: usize, j: usize| matrix[i * len + j];
    let b = |i: usize| 0.25 * i as f64;
    let order: Vec<Option<usize>> = (0..len)
        .rev()
        .map(Some)
        .chain([None, Some(3), Some(0), None])
        .collect();
    let gather = Gather::new(len, 16, order)?;
    let t = LinearTransform::gathered(slots, &gather, rows, coef, b)?;
    assert!(t.input_period() >= 64);
    let x = values(len, 13);
    let g = gather.apply(&x)?;
    let y = run(&t, &g, gather.period())?;
    let oracle: Vec<f64> = (0..rows)
        .map(|i| (0..len).map(|j| coef(i, j) * x[j]).sum::<f64>() + b(i))
        .collect();
    close(&y[..rows], &oracle, 1e-9);
    Ok(())
}

#[test]
fn gather_rejects_hostile_layouts() {
    let out_of_range = Gather::new(4, 8, vec![Some(0), Some(4)]);
    assert!(
        matches!(out_of_range, Err(Error::IndexOutOfBounds { ref index, .. }) if index == &[4]),
        "{out_of_range:?}"
    );
    let odd = Gather::new(4, 12, vec![Some(0)]);
    assert!(matches!(odd, Err(Error::InvalidShape { .. })), "{odd:?}");
    let huge = Gather::new(4, 1 << 40, vec![Some(0)]);
    assert!(matches!(huge, Err(Error::InvalidShape { .. })), "{huge:?}");
    let long = Gather::new(4, 2, vec![Some(0), Some(1), Some(2)]);
    assert!(matches!(long, Err(Error::InvalidShape { .. })), "{long:?}");
}

#[test]
fn gathered_transform_rejects_what_it_cannot_place() -> TestResult {
    let gather = Gather::new(4, 4, vec![Some(0), Some(1), Some(2)])?;
    let wrong = gather.apply(&[1.0; 3]);
    assert!(
        matches!(wrong, Err(Error::ShapeMismatch { .. })),
        "{wrong:?}"
    );
    // Column 3 is used by the matrix but has no slot.
    let missing = LinearTransform::gathered(64, &gather, 2, |_, _| 1.0, |_| 0.0);
    assert!(
        matches!(missing, Err(Error::InvalidShape { .. })),
        "{missing:?}"
    );
    // A zero column 3 needs no slot.
    let t = LinearTransform::gathered(64, &gather, 2, |_, j| (j < 3) as u8 as f64, |_| 0.0)?;
    let y = run(&t, &gather.apply(&[1.0, 2.0, 3.0, 4.0])?, 4)?;
    close(&y[..2], &[6.0, 6.0], 1e-12);
    let wide = LinearTransform::gathered(64, &Gather::new(4, 128, vec![])?, 2, |_, _| 0.0, |_| 0.0);
    assert!(matches!(wide, Err(Error::InvalidShape { .. })), "{wide:?}");
    Ok(())
}

/// The conv bank of `gathered_conv_bank_matches_the_oracle_with_fewer_key_switches`,
/// planned row-major: `(transform, coefficient oracle inputs)`.
fn conv_bank(slots: usize) -> Result<(LinearTransform, Vec<f64>, Vec<f64>, usize)> {
    let (side, k, filters) = (8usize, 3usize, 4usize);
    let out = side - k + 1;
    let windows = out * out;
    let rows = filters * windows;
    let kernels = values(filters * k * k, 3);
    let bias = values(filters, 5);
    let pixel = |p: usize, w: usize| (w / out + p / k) * side + (w % out + p % k);
    let coef = |i: usize, j: usize| {
        let (f, w) = (i / windows, i % windows);
        (0..k * k)
            .find(|&p| pixel(p, w) == j)
            .map_or(0.0, |p| kernels[f * k * k + p])
    };
    let b = |i: usize| bias[i / windows];
    let t = LinearTransform::new(slots, (side * side).next_power_of_two(), rows, coef, b)?;
    let x = values(side * side, 7);
    let oracle: Vec<f64> = (0..rows)
        .map(|i| (0..side * side).map(|j| coef(i, j) * x[j]).sum::<f64>() + b(i))
        .collect();
    Ok((t, x, oracle, side * side))
}

/// The gather chosen from the row-major transform alone ([`Gather::for_transform`]) and the
/// transform composed with it ([`LinearTransform::compose_gather`]): the oracle's values on
/// `Plain`, the predicted key switches on `Plain` and `Sim`, fewer diagonals and key
/// switches than row-major (the im2col bound: one diagonal per tap − filter offset).
#[test]
fn composed_conv_bank_from_the_chosen_gather() -> TestResult {
    let slots = 1024;
    let (natural, x, oracle, len) = conv_bank(slots)?;
    let gather = Gather::for_transform(&natural, len)?.ok_or("a conv bank has windows")?;
    assert_eq!(gather.source_len(), len);
    let t = natural.compose_gather(&gather)?;
    assert_eq!(t.gather(), Some(&gather));
    let y = run(&t, &gather.apply(&x)?, gather.period())?;
    close(&y[..oracle.len()], &oracle, 1e-9);
    // 9 taps, 4 filters: tap − filter takes 12 values.
    assert!(t.diagonals() <= 12, "{} diagonals", t.diagonals());
    assert!(
        t.key_switches() < natural.key_switches(),
        "composed {} vs natural {}",
        t.key_switches(),
        natural.key_switches()
    );
    // Entries read back from the diagonals are the matrix.
    let entries = natural.entries();
    assert_eq!(entries.len(), 4 * 36 * 9);
    Ok(())
}

/// An erray encrypted with a gather runs only the transform composed with that gather, and
/// gives the row-major result; layouts that do not match are errors, not wrong values.
#[test]
fn gathered_erray_reads_only_its_composed_transform() -> TestResult {
    let slots = 1024;
    let (natural, x, oracle, len) = conv_bank(slots)?;
    let gather = Gather::for_transform(&natural, len)?.ok_or("a conv bank has windows")?;
    let t = natural.compose_gather(&gather)?;
    let be = Plain::new(slots).with_max_level(3);
    let data = PlainArray::new(vec![1, 8, 8], x)?;
    let g = Erray::encrypt_gathered(&be, &data, &gather)?;
    assert_eq!(g.gather(), Some(&gather));
    let rows = oracle.len();
    let y = g.linear_transform(&t, vec![rows], &RotationTable::exact())?;
    close(y.decrypt()?.data(), &oracle, 1e-9);
    let prepared = t.prepare(&be, g.level())?;
    let y = g.linear_transform_prepared(&prepared, vec![rows], &RotationTable::exact())?;
    close(y.decrypt()?.data(), &oracle, 1e-9);

    let wrong = g.linear_transform(&natural, vec![rows], &RotationTable::exact());
    assert!(
        matches!(wrong, Err(Error::InvalidShape { .. })),
        "{wrong:?}"
    );
    let plain = Erray::encrypt(&be, &data, Packing::single_input(len))?;
    let wrong = plain.linear_transform(&t, vec![rows], &RotationTable::exact());
    assert!(
        matches!(wrong, Err(Error::InvalidShape { .. })),
        "{wrong:?}"
    );
    let peek = g.decrypt();
    assert!(
        matches!(peek, Err(Error::PackingUnsupported { .. })),
        "{peek:?}"
    );
    let mixed = &g + &plain;
    assert!(
        matches!(mixed, Err(Error::PackingUnsupported { .. })),
        "{mixed:?}"
    );

    // A received input (no gather on the wire) takes the plan's gather back.
    let bound = Erray::from_parts(&be, vec![1, 8, 8], g.packing(), g.cts().to_vec())?
        .with_gather(std::sync::Arc::new(gather.clone()))?;
    let y = bound.linear_transform(&t, vec![rows], &RotationTable::exact())?;
    close(y.decrypt()?.data(), &oracle, 1e-9);
    let short = Erray::from_parts(&be, vec![1, 8, 4], g.packing(), g.cts().to_vec())?
        .with_gather(std::sync::Arc::new(gather.clone()));
    assert!(
        matches!(short, Err(Error::ShapeMismatch { .. })),
        "{short:?}"
    );
    let other_period = plain.with_gather(std::sync::Arc::new(gather));
    assert!(
        matches!(other_period, Err(Error::ShapeMismatch { .. })),
        "{other_period:?}"
    );
    Ok(())
}

#[test]
fn dense_maps_keep_the_row_major_layout() -> TestResult {
    let t = LinearTransform::new(256, 16, 10, |i, j| (i + j) as f64 + 1.0, |_| 0.0)?;
    assert_eq!(Gather::for_transform(&t, 16)?, None);
    let too_short = Gather::new(8, 8, (0..8).map(Some).collect())?;
    let composed = t.compose_gather(&too_short);
    assert!(
        matches!(composed, Err(Error::IndexOutOfBounds { ref index, .. }) if index[0] >= 8),
        "{composed:?}"
    );
    Ok(())
}

/// Diagonals spaced like an im2col filter bank's (`64·t`, `t < 16`, `m = 1024`): the giant
/// stride is chosen for them (256: babies 64, 128, 192 and three giant steps, 6 key
/// switches) instead of the balanced 32 (16 giant groups, 15 key switches); values equal
/// the reference on `Plain` and the key switches the prediction on `Plain` and `Sim`.
#[test]
fn giant_stride_fits_spaced_diagonals() -> TestResult {
    let (slots, m) = (1024usize, 1024usize);
    let coef = |i: usize, j: usize| {
        let b = (j + m - i) % m;
        if b.is_multiple_of(64) {
            1.0 + (i % 7) as f64 * 0.125 + (b / 64) as f64
        } else {
            0.0
        }
    };
    let t = LinearTransform::new(slots, m, m, coef, |i| 0.5 * (i % 3) as f64)?;
    assert_eq!(t.diagonals(), 16);
    assert_eq!(t.key_switches(), 6);
    let x = values(m, 17);
    let y = run(&t, &x, m)?;
    let want = t.reference(&x, m, coef, |i| 0.5 * (i % 3) as f64);
    close(&y, &want, 1e-9);
    // A dense matrix keeps the balanced split.
    let dense = LinearTransform::new(256, 16, 16, |i, j| (i * 16 + j) as f64 + 1.0, |_| 0.0)?;
    assert_eq!(dense.key_switches(), 3 + 3, "babies, giant steps");
    Ok(())
}

/// Two consecutive maps (a 2×2 average pool of a 6×6 plane, then a dense 9 → 5) composed
/// into one transform equal the two applied in turn (values on `Plain`, one level instead
/// of two, key switches as predicted on `Plain` and `Sim`); composed after a gather, the
/// result reads the gathered input.
#[test]
fn composed_maps_equal_the_maps_in_turn() -> TestResult {
    let slots = 256;
    let pool = |i: usize, j: usize| {
        let (oy, ox, y, x) = (i / 3, i % 3, j / 6, j % 6);
        if y / 2 == oy && x / 2 == ox {
            0.25
        } else {
            0.0
        }
    };
    let inner = LinearTransform::new(
        slots,
        64,
        9,
        |i, j| if j < 36 { pool(i, j) } else { 0.0 },
        |i| 0.1 * i as f64,
    )?;
    let w = values(5 * 9, 23);
    let outer = LinearTransform::new(
        slots,
        inner.output_period(),
        5,
        |i, k| if k < 9 { w[i * 9 + k] } else { 0.0 },
        |i| -0.2 * i as f64,
    )?;
    let both = outer.compose(&inner)?;
    let x = values(36, 29);
    let mut padded = x.clone();
    padded.resize(64, 0.0);
    let y1 = run(&inner, &padded, 64)?;
    let plain = Plain::new(slots).with_max_level(3);
    let y2 = outer.apply(&plain, &plain.encrypt(&y1)?)?;
    let y = run(&both, &padded, 64)?;
    close(&y[..5], &y2.values()[..5], 1e-9);
    let oracle: Vec<f64> = (0..5)
        .map(|i| {
            (0..9)
                .map(|k| {
                    w[i * 9 + k]
                        * ((0..36).map(|j| pool(k, j) * x[j]).sum::<f64>() + 0.1 * k as f64)
                })
                .sum::<f64>()
                - 0.2 * i as f64
        })
        .collect();
    close(&y[..5], &oracle, 1e-9);
    // Gathered inner: the composition keeps its gather and reads the gathered input.
    let gather = Gather::new(36, 64, (0..36).rev().map(Some).collect())?;
    let gathered = outer.compose(&inner.compose_gather(&gather)?)?;
    assert_eq!(gathered.gather(), Some(&gather));
    let g = run(&gathered, &gather.apply(&x)?, 64)?;
    close(&g[..5], &oracle, 1e-9);
    // A gathered transform reads the client's layout, not another map's output.
    assert!(matches!(
        gathered.compose(&inner),
        Err(Error::InvalidShape { .. })
    ));
    Ok(())
}
