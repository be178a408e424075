//! Property tests: packing index maps, broadcasting, serialization robustness.

use fhez_backend::Plain;
use fhez_erray::shape::{broadcast_shapes, ravel, unravel};
use fhez_erray::{Erray, Packing, PlainArray};
use proptest::prelude::*;

fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..5, 1..4)
}

proptest! {
    /// `locate` is a bijection onto used (ct, slot) pairs and agrees with `layout`.
    #[test]
    fn locate_agrees_with_layout(shape in shape_strategy(), slots in 1usize..9, flat in any::<bool>()) {
        let batch = shape[0];
        prop_assume!(flat || batch <= slots);
        let packing = if flat { Packing::Flat } else { Packing::BatchInSlots { batch } };
        let total: usize = shape.iter().product();
        let data: Vec<f64> = (0..total).map(|k| k as f64).collect();
        let vectors = packing.layout(&shape, slots, &data).unwrap();
        prop_assert_eq!(vectors.len(), packing.num_cts(&shape, slots).unwrap());
        let mut seen = std::collections::BTreeSet::new();
        for k in 0..total {
            let idx = unravel(k, &shape);
            prop_assert_eq!(ravel(&idx, &shape).unwrap(), k);
            let (c, s) = packing.locate(&shape, &idx, slots).unwrap();
            prop_assert!(s < slots);
            prop_assert!(s < packing.used_slots(&shape, slots, c));
            prop_assert_eq!(vectors[c][s], k as f64);
            prop_assert!(seen.insert((c, s)));
        }
        prop_assert_eq!(packing.unlayout(&shape, slots, &vectors).unwrap(), data);
    }

    /// Broadcasting is symmetric, and erray ∘ plain matches the numpy oracle.
    #[test]
    fn broadcasting_matches_oracle(
        shape in shape_strategy(),
        mask in proptest::collection::vec(any::<bool>(), 4),
        drop in 0usize..3,
        flat in any::<bool>(),
    ) {
        // Derive a broadcast-compatible operand shape: drop leading axes, set some dims to 1.
        let start = drop.min(shape.len() - 1);
        let other: Vec<usize> = shape[start..]
            .iter()
            .zip(&mask)
            .map(|(&d, &m)| if m { 1 } else { d })
            .collect();
        prop_assert_eq!(
            broadcast_shapes("t", &shape, &other).unwrap(),
            broadcast_shapes("t", &other, &shape).unwrap()
        );
        let b = Plain::new(8);
        let x = PlainArray::from_fn(shape.clone(), |k| k as f64 * 0.25 - 1.0).unwrap();
        let p = PlainArray::from_fn(other.clone(), |k| 1.0 + k as f64).unwrap();
        let packing = if flat { Packing::Flat } else { Packing::BatchInSlots { batch: shape[0] } };
        let e = Erray::encrypt(&b, &x, packing).unwrap();
        let got = (&e * &p).and_then(|y| y + &p).unwrap().decrypt().unwrap();
        let want = x.zip_with(&p, |a, c| a * c + c).unwrap();
        prop_assert_eq!(got, want);
        let bad = vec![shape[shape.len() - 1] + 1];
        if shape[shape.len() - 1] != 1 {
            prop_assert!(broadcast_shapes("t", &shape, &bad).is_err());
        }
    }

    /// Truncated or bit-flipped erray bytes never panic, and truncations always fail.
    #[test]
    fn corrupted_bytes_fail_cleanly(cut in any::<prop::sample::Index>(), flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4)) {
        let b = Plain::new(4);
        let x = PlainArray::from_fn(vec![3, 2], |k| k as f64).unwrap();
        let e = Erray::encrypt(&b, &x, Packing::BatchInSlots { batch: 3 }).unwrap();
        let bytes = e.to_bytes().unwrap();
        let n = cut.index(bytes.len());
        prop_assert!(Erray::from_bytes(&b, &bytes[..n], 1 << 16).is_err());
        let mut flipped = bytes.clone();
        for (i, bit) in &flips {
            let k = i.index(flipped.len());
            flipped[k] ^= 1 << bit;
        }
        let _ = Erray::from_bytes(&b, &flipped, 1 << 16);
    }
}
