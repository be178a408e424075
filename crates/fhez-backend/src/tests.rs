//! Unit tests: error strings, cost rules, Plain semantics, Sim mirroring Plain.

use std::collections::BTreeSet;
use std::error::Error as StdError;

use proptest::prelude::*;

use crate::*;

type TestResult = std::result::Result<(), Box<dyn StdError>>;

#[derive(Debug, thiserror::Error)]
#[error("inner engine failure")]
struct Inner;

#[test]
fn error_strings() {
    let cases: Vec<(Error, &str)> = vec![
        (
            Error::Unsupported {
                op: "rotate",
                backend: BackendKind::Sim,
            },
            "operation `rotate` is not supported by the sim backend",
        ),
        (
            Error::LevelExhausted {
                op: "mul",
                needed: 1,
                available: 0,
            },
            "level exhausted in `mul`: needs 1 level(s), 0 available",
        ),
        (
            Error::MissingGaloisKey { step: 5 },
            "missing Galois key for rotation step 5",
        ),
        (
            Error::TooManyValues { len: 9, slots: 8 },
            "too many values: 9 values for 8 slots",
        ),
        (Error::NonFinite { index: 3 }, "non-finite value at index 3"),
        (
            Error::LengthMismatch {
                op: "add",
                expected: 8,
                found: 4,
            },
            "length mismatch in `add`: expected 8, found 4",
        ),
        (
            Error::SizeLimit {
                what: "erray",
                len: 100,
                limit: 10,
            },
            "erray of 100 bytes exceeds the limit of 10 bytes",
        ),
        (
            Error::Malformed {
                what: "plain ciphertext",
                reason: "truncated",
            },
            "malformed plain ciphertext: truncated",
        ),
        (Error::engine(Inner), "engine error: inner engine failure"),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
    }
    assert!(Error::engine(Inner).source().is_some());
}

#[test]
fn free_scalars() {
    assert!(is_free_scalar(0.0));
    assert!(is_free_scalar(-1.0));
    assert!(is_free_scalar(1_048_576.0));
    assert!(!is_free_scalar(1_048_577.0));
    assert!(!is_free_scalar(0.5));
    assert!(!is_free_scalar(f64::NAN));
}

#[test]
fn level_convention_is_pinned() -> TestResult {
    let b = Plain::new(4).with_max_level(2);
    let x = b.encrypt(&[1.0, 2.0])?;
    assert_eq!(b.level(&x), 2);
    let y = b.mul(&x, &x)?;
    assert_eq!(b.level(&y), 1);
    assert_eq!(b.level(&b.add(&x, &y)?), 1, "add aligns down");
    assert_eq!(
        b.level(&b.mul_scalar(&y, 3.0)?),
        1,
        "integer scalar is free"
    );
    let z = b.mul_scalar(&y, 0.5)?;
    assert_eq!(b.level(&z), 0);
    assert!(matches!(
        b.mul(&z, &x),
        Err(Error::LevelExhausted {
            op: "mul",
            needed: 1,
            available: 0
        })
    ));
    assert!(matches!(
        b.mul_plain(&z, &[1.0]),
        Err(Error::LevelExhausted { .. })
    ));
    Ok(())
}

#[test]
fn plain_semantics() -> TestResult {
    let b = Plain::new(4);
    let x = b.encrypt(&[1.0, 2.0, 3.0, 4.0])?;
    assert_eq!(b.decrypt(&b.rotate(&x, 1)?)?, vec![2.0, 3.0, 4.0, 1.0]);
    assert_eq!(b.decrypt(&b.rotate(&x, -1)?)?, vec![4.0, 1.0, 2.0, 3.0]);
    assert_eq!(
        b.decrypt(&b.sub_plain(&x, &[1.0])?)?,
        vec![0.0, 2.0, 3.0, 4.0]
    );
    assert_eq!(
        b.decrypt(&b.mul_plain(&x, &[2.0, 2.0])?)?,
        vec![2.0, 4.0, 0.0, 0.0]
    );
    assert_eq!(
        b.decrypt(&b.add_scalar(&x, 1.0)?)?,
        vec![2.0, 3.0, 4.0, 5.0]
    );
    assert_eq!(b.decrypt(&b.neg(&x)?)?, vec![-1.0, -2.0, -3.0, -4.0]);
    let lc = b.linear_combination(&[&x, &x], &[0.5, 0.0])?;
    assert_eq!(b.decrypt(&lc)?, vec![0.5, 1.0, 1.5, 2.0]);
    let hoisted = b.rotate_hoisted(&x, &[1, 2])?;
    assert_eq!(hoisted.len(), 2);
    assert!(matches!(
        b.encrypt(&[0.0; 5]),
        Err(Error::TooManyValues { len: 5, slots: 4 })
    ));
    assert!(matches!(
        b.encrypt(&[0.0, f64::NAN]),
        Err(Error::NonFinite { index: 1 })
    ));
    assert!(matches!(
        b.linear_combination(&[], &[]),
        Err(Error::LengthMismatch { .. })
    ));
    Ok(())
}

#[test]
fn stats_count_key_switches() -> TestResult {
    let b = Plain::new(8);
    let x = b.encrypt(&[1.0])?;
    let before = b.stats();
    let _ = b.rotate(&x, 0)?;
    let _ = b.rotate(&x, 8)?;
    let _ = b.rotate_hoisted(&x, &[1, 2, 3])?;
    let _ = b.mul(&x, &x)?;
    let d = b.clone().stats() - before;
    assert_eq!(d.rotations, 3);
    assert_eq!(d.key_switches, 4);
    assert_eq!(d.hoisted, 1);
    assert_eq!(d.mults, 1);
    Ok(())
}

#[test]
fn strict_rotation_keys() -> TestResult {
    let steps: BTreeSet<i64> = [1, -2].into_iter().collect();
    let sim = Sim::new(SimConfig::strict(8, 3, 40.0, steps.clone()))?;
    let plain = Plain::new(8).with_rotations(RotationSet::Steps(steps));
    let x = sim.encrypt(&[1.0])?;
    let p = plain.encrypt(&[1.0])?;
    assert!(sim.rotate(&x, 6).is_ok(), "-2 ≡ 6 mod 8");
    assert!(plain.rotate(&p, 9).is_ok(), "9 ≡ 1");
    assert!(matches!(
        sim.rotate(&x, 3),
        Err(Error::MissingGaloisKey { step: 3 })
    ));
    assert!(matches!(
        plain.rotate(&p, -3),
        Err(Error::MissingGaloisKey { step: 5 })
    ));
    let report = sim.report();
    assert_eq!(report.rotation_steps, [3, 6].into_iter().collect());
    Ok(())
}

#[test]
fn sim_rejects_bad_config() {
    assert!(Sim::new(SimConfig::planning(0, 3, 40.0)).is_err());
    assert!(Sim::new(SimConfig::planning(8, 3, f64::NAN)).is_err());
}

#[test]
fn wire_round_trips_and_rejects() -> TestResult {
    let b = Plain::new(4);
    let x = b.mul_scalar(&b.encrypt(&[1.5, -2.0])?, 0.5)?;
    let bytes = b.ct_to_bytes(&x)?;
    assert_eq!(b.ct_from_bytes(&bytes, 1 << 10)?, x);
    assert!(matches!(
        b.ct_from_bytes(&bytes, 8),
        Err(Error::SizeLimit { .. })
    ));
    for cut in 0..bytes.len() {
        assert!(b.ct_from_bytes(&bytes[..cut], 1 << 10).is_err());
    }
    assert!(Plain::new(8).ct_from_bytes(&bytes, 1 << 10).is_err());

    let sim = Sim::new(SimConfig::planning(4, 3, 30.0))?;
    let s = sim.mul(&sim.encrypt(&[1.0])?, &sim.encrypt(&[1.0])?)?;
    let sb = sim.ct_to_bytes(&s)?;
    assert_eq!(sim.ct_from_bytes(&sb, 64)?, s);
    for cut in 0..sb.len() {
        assert!(sim.ct_from_bytes(&sb[..cut], 64).is_err());
    }

    // Both in the common frame: magic, version 2, kind 1, no params id, declared length.
    for (bytes, magic) in [(&bytes, b"FZPT"), (&sb, b"FZSM")] {
        assert_eq!(&bytes[..4], magic);
        assert_eq!(&bytes[4..8], &[2, 0, 1, 0]);
        assert_eq!(bytes[8..40], frame::NO_PARAMS);
        assert_eq!(bytes[40..48], ((bytes.len() - 48) as u64).to_le_bytes());
    }
    let mut lie = sb.clone();
    lie[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        sim.ct_from_bytes(&lie, 64).unwrap_err().as_frame(),
        Some(frame::FrameError::TooLarge {
            len: u64::MAX,
            limit: 64,
            ..
        })
    ));
    let mut swapped = bytes.clone();
    swapped[..4].copy_from_slice(b"FZSM");
    assert!(matches!(
        b.ct_from_bytes(&swapped, 1 << 10).unwrap_err().as_frame(),
        Some(frame::FrameError::BadMagic { .. })
    ));
    Ok(())
}

#[derive(Clone, Debug)]
enum Op {
    Add(usize, usize),
    Mul(usize, usize),
    MulPlain(usize),
    MulScalar(usize, f64),
    Rotate(usize, i64),
    Neg(usize),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..8usize, 0..8usize).prop_map(|(a, b)| Op::Add(a, b)),
        (0..8usize, 0..8usize).prop_map(|(a, b)| Op::Mul(a, b)),
        (0..8usize).prop_map(Op::MulPlain),
        (0..8usize, prop_oneof![Just(2.0), Just(-1.0), Just(0.25)])
            .prop_map(|(a, s)| Op::MulScalar(a, s)),
        (0..8usize, -20i64..20).prop_map(|(a, s)| Op::Rotate(a, s)),
        (0..8usize).prop_map(Op::Neg),
    ]
}

fn apply<B: Backend>(b: &B, cts: &mut Vec<B::Ct>, op: &Op) -> Result<()> {
    let pick = |i: usize| cts.get(i % cts.len()).cloned();
    let missing = || Error::LengthMismatch {
        op: "test",
        expected: 1,
        found: 0,
    };
    let out = match *op {
        Op::Add(i, j) => b.add(&pick(i).ok_or_else(missing)?, &pick(j).ok_or_else(missing)?),
        Op::Mul(i, j) => b.mul(&pick(i).ok_or_else(missing)?, &pick(j).ok_or_else(missing)?),
        Op::MulPlain(i) => b.mul_plain(&pick(i).ok_or_else(missing)?, &[0.5, 2.0]),
        Op::MulScalar(i, s) => b.mul_scalar(&pick(i).ok_or_else(missing)?, s),
        Op::Rotate(i, s) => b.rotate(&pick(i).ok_or_else(missing)?, s),
        Op::Neg(i) => b.neg(&pick(i).ok_or_else(missing)?),
    }?;
    cts.push(out);
    Ok(())
}

proptest! {
    /// Sim follows exactly the level rules Plain tracks, error for error.
    #[test]
    fn sim_mirrors_plain_accounting(ops in proptest::collection::vec(op_strategy(), 1..30)) {
        let plain = Plain::new(8).with_max_level(4);
        let sim = Sim::new(SimConfig::planning(8, 4, 40.0)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut pc = vec![plain.encrypt(&[1.0, 0.5]).map_err(|e| TestCaseError::fail(e.to_string()))?];
        let mut sc = vec![sim.encrypt(&[1.0, 0.5]).map_err(|e| TestCaseError::fail(e.to_string()))?];
        for op in &ops {
            let rp = apply(&plain, &mut pc, op);
            let rs = apply(&sim, &mut sc, op);
            prop_assert_eq!(rp.is_ok(), rs.is_ok());
        }
        let levels_p: Vec<u32> = pc.iter().map(|c| plain.level(c)).collect();
        let levels_s: Vec<u32> = sc.iter().map(|c| sim.level(c)).collect();
        prop_assert_eq!(&levels_p, &levels_s);
        for c in &sc {
            prop_assert_eq!(c.depth, 4 - c.level);
        }
        prop_assert_eq!(plain.stats(), sim.stats());
        let report = sim.report();
        prop_assert_eq!(report.min_level, levels_p.iter().copied().min().unwrap_or(4));
    }
}

/// Lazy relinearization on Plain and Sim: values, levels (per the `linear_combination` rule
/// over products one level down), one key switch per output row, and errors in the
/// documented order.
#[test]
fn product_combinations_accounting() -> TestResult {
    let p = Plain::new(4).with_max_level(3);
    let s = Sim::new(SimConfig::planning(4, 3, 30.0))?;
    let rows = vec![vec![2.0, -1.0, 0.0], vec![0.5, 0.0, 1.0], vec![0.0; 3]];
    let xs = [[1.0, 2.0], [3.0, -1.0], [0.5, 0.25]];
    let pc: Vec<PlainCt> = xs.iter().map(|x| p.encrypt(x)).collect::<Result<_>>()?;
    let low = p.mul_scalar(&pc[2], 0.5)?; // level 2
    let pairs = [(&pc[0], &pc[0]), (&pc[1], &pc[0]), (&low, &low)];
    let out = p.product_combinations(&pairs, &rows)?;
    assert_eq!(p.decrypt(&out[0])?, vec![-1.0, 10.0, 0.0, 0.0]);
    assert_eq!(
        p.decrypt(&out[1])?,
        vec![0.5 + 0.0625, 2.0 + 0.015625, 0.0, 0.0]
    );
    assert_eq!(p.decrypt(&out[2])?, vec![0.0; 4]);
    let levels: Vec<u32> = out.iter().map(|c| p.level(c)).collect();
    // row 0: free weights on products at 2 → 2; row 1: 0.5 on a product at 2 → 1, 1 on the
    // product at 1 → 1; row 2: zeros → product 0's level, 2.
    assert_eq!(levels, vec![2, 1, 2]);
    let st = p.stats();
    assert_eq!((st.key_switches, st.mults), (3, 3));

    let sc: Vec<SimCt> = xs.iter().map(|x| s.encrypt(x)).collect::<Result<_>>()?;
    let slow = s.mul_scalar(&sc[2], 0.5)?;
    let spairs = [(&sc[0], &sc[0]), (&sc[1], &sc[0]), (&slow, &slow)];
    let sout = s.product_combinations(&spairs, &rows)?;
    let slevels: Vec<u32> = sout.iter().map(|c| s.level(c)).collect();
    assert_eq!(slevels, levels);
    assert_eq!(
        sout.iter().map(|c| c.depth).collect::<Vec<_>>(),
        vec![1, 2, 1]
    );
    assert_eq!((s.stats().key_switches, s.stats().mults), (3, 3));

    // Errors: shape first, then the products' levels, then each row's weights.
    let shape = p.product_combinations(&pairs, &[vec![1.0]]).unwrap_err();
    assert_eq!(
        shape.to_string(),
        "length mismatch in `product_combinations`: expected 3, found 1"
    );
    let empty = s.product_combinations(&spairs, &[]).unwrap_err();
    assert_eq!(
        empty.to_string(),
        "length mismatch in `product_combinations`: expected 1, found 0"
    );
    let mut z = p.encrypt(&[1.0])?;
    for _ in 0..3 {
        z = p.mul_scalar(&z, 0.5)?;
    }
    let exhausted = p
        .product_combinations(&[(&pc[0], &z)], &[vec![f64::NAN]])
        .unwrap_err();
    assert_eq!(
        exhausted.to_string(),
        "level exhausted in `mul`: needs 1 level(s), 0 available"
    );
    let nan = p
        .product_combinations(&[(&pc[0], &pc[0])], &[vec![f64::NAN]])
        .unwrap_err();
    assert_eq!(nan.to_string(), "non-finite value at index 0");
    Ok(())
}

/// Multi-output linear combinations: each row as `linear_combination`, shape checked first.
#[test]
fn linear_combinations_follow_the_single_rule() -> TestResult {
    let p = Plain::new(2).with_max_level(2);
    let a = p.encrypt(&[1.0, 2.0])?;
    let b = p.mul_scalar(&p.encrypt(&[3.0, 4.0])?, 0.5)?; // level 1
    let rows = vec![vec![1.0, 2.0], vec![0.5, 0.0], vec![0.0, 0.0]];
    let out = p.linear_combinations(&[&a, &b], &rows)?;
    for (row, got) in rows.iter().zip(&out) {
        let one = p.linear_combination(&[&a, &b], row)?;
        assert_eq!(got, &one);
    }
    assert_eq!(
        out.iter().map(|c| p.level(c)).collect::<Vec<_>>(),
        vec![1, 1, 2]
    );
    let bad = p
        .linear_combinations(&[&a, &b], &[vec![1.0], vec![1.0, 1.0]])
        .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "length mismatch in `linear_combinations`: expected 2, found 1"
    );
    Ok(())
}

/// Pre-encoded plaintexts: `mul_plain_sum` equals `mul_plain` + `add` in values and level,
/// counts one rescale for the whole sum (Plain and Sim alike), and refuses a plaintext of
/// another level, an empty sum and encoding at level 0 or above `max_level`.
#[test]
fn mul_plain_sum_is_one_lazy_rescale() -> TestResult {
    let p = Plain::new(4).with_max_level(3);
    let s = Sim::new(SimConfig::planning(4, 3, 30.0))?;
    let xs = [[1.0, 2.0, -1.0], [0.5, -3.0, 2.0]];
    let ws = [[2.0, 0.25, 1.0], [-1.0, 0.5, 4.0]];
    let cts: Vec<PlainCt> = xs.iter().map(|x| p.encrypt(x)).collect::<Result<_>>()?;
    let pts: Vec<PlainPt> = ws
        .iter()
        .map(|w| p.encode_plain(w, 3))
        .collect::<Result<_>>()?;
    assert_eq!(p.plain_level(&pts[0]), 3);
    let terms: Vec<(&PlainCt, &PlainPt)> = cts.iter().zip(&pts).collect();
    let before = p.stats();
    let sum = p.mul_plain_sum(&terms)?;
    let after = p.stats();
    let eager = p.add(
        &p.mul_plain(&cts[0], &ws[0])?,
        &p.mul_plain(&cts[1], &ws[1])?,
    )?;
    assert_eq!(p.decrypt(&sum)?, p.decrypt(&eager)?);
    assert_eq!(p.decrypt(&sum)?, vec![1.5, -1.0, 7.0, 0.0]);
    assert_eq!(p.level(&sum), 2);
    assert_eq!(after.rescales - before.rescales, 1);
    assert_eq!(after.plain_mults - before.plain_mults, 2);

    let sc: Vec<SimCt> = xs.iter().map(|x| s.encrypt(x)).collect::<Result<_>>()?;
    let sp: Vec<SimPt> = ws
        .iter()
        .map(|w| s.encode_plain(w, 3))
        .collect::<Result<_>>()?;
    let sterms: Vec<(&SimCt, &SimPt)> = sc.iter().zip(&sp).collect();
    let ssum = s.mul_plain_sum(&sterms)?;
    assert_eq!((s.level(&ssum), ssum.depth), (2, 1));
    assert_eq!((s.stats().rescales, s.stats().plain_mults), (1, 2));
    assert_eq!(s.plain_bytes(&sp[0]), 4 * 2 * 4 * 8);
    assert_eq!(p.plain_bytes(&pts[0]), 4 * 8);

    // The plaintext of the next product must be encoded for level 2.
    let wrong = p.mul_plain_sum(&[(&sum, &pts[0])]).unwrap_err();
    assert_eq!(
        wrong.to_string(),
        "level mismatch in `mul_plain_sum`: expected level 2, found 3"
    );
    let swrong = s.mul_plain_sum(&[(&ssum, &sp[0])]).unwrap_err();
    assert_eq!(swrong.to_string(), wrong.to_string());
    let empty = p.mul_plain_sum(&[]).unwrap_err();
    assert_eq!(
        empty.to_string(),
        "length mismatch in `mul_plain_sum`: expected 1, found 0"
    );
    assert_eq!(
        p.encode_plain(&[1.0], 0).unwrap_err().to_string(),
        "level exhausted in `encode_plain`: needs 1 level(s), 0 available"
    );
    assert_eq!(
        s.encode_plain(&[1.0], 4).unwrap_err().to_string(),
        "level mismatch in `encode_plain`: expected level 3, found 4"
    );
    assert!(matches!(
        p.encode_plain(&[0.0; 5], 1),
        Err(Error::TooManyValues { len: 5, slots: 4 })
    ));
    Ok(())
}
