//! Tests of the key-budget choice ([`RotationTable::choose`]) against an exhaustive search
//! on small rings, of the checks on a table read from a plan ([`RotationTable::from_parts`]),
//! and of a transform evaluated with only the chosen keys.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::error::Error as StdError;

use fhez_backend::{Backend, Plain, RotationSet};

use crate::*;

type TestResult = std::result::Result<(), Box<dyn StdError>>;

/// Fewest key switches for `v` in `Z_n` from `keys` (breadth-first, independent of the
/// module's search).
fn switches(keys: &[usize], n: usize, v: usize) -> Option<u64> {
    let mut dist = vec![None; n];
    dist[0] = Some(0u64);
    let mut q = VecDeque::from([0usize]);
    while let Some(a) = q.pop_front() {
        for &k in keys {
            let b = (a + k) % n;
            if dist[b].is_none() {
                dist[b] = Some(dist[a]? + 1);
                q.push_back(b);
            }
        }
    }
    dist[v]
}

/// The least total key switches over every key set of at most `budget` keys in `Z_n`.
fn optimum(uses: &BTreeMap<i64, u64>, budget: usize, n: usize) -> Option<u64> {
    let mut best: Option<u64> = None;
    for mask in 1u64..(1 << (n - 1)) {
        if mask.count_ones() as usize > budget {
            continue;
        }
        let keys: Vec<usize> = (1..n).filter(|k| mask >> (k - 1) & 1 == 1).collect();
        let total: Option<u64> = uses
            .iter()
            .map(|(&s, &w)| switches(&keys, n, s as usize).map(|d| d * w))
            .sum();
        if let Some(t) = total {
            best = Some(best.map_or(t, |b| b.min(t)));
        }
    }
    best
}

fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

/// On 300 random step multisets over 16 slots with budgets 1–4, the choice reaches every
/// step whenever some key set does (over all of `Z_16`), costs at most 1.8× the optimum
/// with one key and 1.6× with more, and is optimal in at least 85 % of the cases
/// (measured: 271 of 300; the misses are mostly one-key budgets, whose best generator is
/// often neither a step, a power of two nor a negative of one).
#[test]
fn choice_is_near_the_exhaustive_optimum() -> TestResult {
    let n = 16usize;
    let mut state = 7u64;
    let (mut cases, mut optimal, mut worst) = (0u32, 0u32, 1.0f64);
    for _ in 0..300 {
        let distinct = 2 + lcg(&mut state) as usize % 6;
        let mut uses = BTreeMap::new();
        while uses.len() < distinct {
            let s = 1 + lcg(&mut state) as i64 % (n as i64 - 1);
            uses.insert(s, 1 + lcg(&mut state) % 5);
        }
        let budget = 1 + lcg(&mut state) as usize % 4;
        let opt = optimum(&uses, budget, n);
        let got = RotationTable::choose(&uses, &BTreeSet::new(), budget, n);
        match (opt, got) {
            (None, Err(Error::KeyBudget { .. })) => {}
            (Some(o), Ok((table, keys))) => {
                assert!(keys.len() <= budget, "{uses:?} budget {budget}: {keys:?}");
                let cost = table.key_switches(&uses);
                assert!(cost >= o, "below the optimum: {uses:?}");
                // Stated bounds (measured: worst 1.78 with one key, 1.53 with more).
                let bound = if budget == 1 { 1.8 } else { 1.6 };
                let ratio = cost as f64 / o as f64;
                assert!(ratio <= bound, "{uses:?} budget {budget}: {cost} vs {o}");
                cases += 1;
                optimal += u32::from(cost == o);
                worst = worst.max(cost as f64 / o as f64);
            }
            (o, g) => panic!("{uses:?} budget {budget}: optimum {o:?}, choice {g:?}"),
        }
    }
    println!("optimal in {optimal}/{cases}, worst ratio {worst:.3}");
    assert!(f64::from(optimal) >= 0.85 * f64::from(cases));
    Ok(())
}

/// Every composed step of a choice is made of chosen keys summing to it, the pinned steps
/// keep their own keys, and a budget holding every step keeps them all exact.
#[test]
fn choice_is_consistent_and_pins() -> TestResult {
    let n = 1024usize;
    let uses: BTreeMap<i64, u64> = [(1, 9), (2, 9), (3, 9), (96, 1), (160, 1), (512, 1), (7, 2)]
        .into_iter()
        .collect();
    let pinned: BTreeSet<i64> = [7].into_iter().collect();
    let (table, keys) = RotationTable::choose(&uses, &pinned, 4, n)?;
    assert!(keys.len() <= 4 && keys.contains(&7), "{keys:?}");
    assert!(table.is_exact(7));
    for (&s, parts) in table.entries() {
        assert!(parts.iter().all(|p| keys.contains(p)), "{s}: {parts:?}");
        assert_eq!(parts.iter().sum::<i64>().rem_euclid(n as i64), s);
    }
    assert_eq!(RotationTable::from_parts(&keys, table.entries(), n)?, table);
    // The most used steps keep their own keys: 1 and 2 (3 = 1 + 2 costs 9 more switches).
    assert!(keys.contains(&1) && keys.contains(&2));
    let all: BTreeSet<i64> = uses.keys().copied().collect();
    let (exact, k) = RotationTable::choose(&uses, &pinned, all.len(), n)?;
    assert!(exact.entries().is_empty());
    assert_eq!(k, all);
    let too_many: BTreeSet<i64> = [5, 6].into_iter().collect();
    assert!(matches!(
        RotationTable::choose(&uses, &too_many, 1, n),
        Err(Error::KeyBudget { steps: 2, .. })
    ));
    Ok(())
}

/// A table from a hostile plan is refused, naming the step: a part that is not a key, a
/// composed step that is also a key (an entry referring to a composed step, the only way to
/// build a cycle, is this case), wrong sums, empty or overlong part lists, too many entries.
#[test]
fn hostile_tables_are_refused() -> TestResult {
    let n = 64usize;
    let keys: BTreeSet<i64> = [1, 4, 16].into_iter().collect();
    let table = |e: &[(i64, Vec<i64>)]| e.iter().cloned().collect::<BTreeMap<_, _>>();
    let refused =
        |e: &[(i64, Vec<i64>)], at: i64| match RotationTable::from_parts(&keys, &table(e), n) {
            Err(Error::RotationTable { step, .. }) => assert_eq!(step, at, "{e:?}"),
            other => panic!("{e:?} accepted: {other:?}"),
        };
    assert!(
        RotationTable::from_parts(
            &keys,
            &table(&[(5, vec![1, 4]), (63, vec![16, 16, 16, 4, 4, 4, 1, 1, 1])]),
            n
        )
        .is_ok()
    );
    refused(&[(5, vec![1, 3])], 3);
    refused(&[(5, vec![4, 1]), (9, vec![5, 4])], 5);
    refused(&[(4, vec![1, 1, 1, 1])], 4);
    refused(&[(6, vec![1, 4])], 6);
    refused(&[(6, vec![])], 6);
    refused(&[(2, vec![1; MAX_COMPOSE_PARTS + 2])], 2);
    refused(&[(5, vec![1, 4]), (69, vec![1, 4])], 69);
    refused(&[(0, vec![16, 16, 16, 16])], 0);
    let huge: BTreeMap<i64, Vec<i64>> =
        (0..=MAX_TABLE_STEPS as i64).map(|s| (s, vec![1])).collect();
    assert!(matches!(
        RotationTable::from_parts(&keys, &huge, n),
        Err(Error::RotationTable { step: 0, .. })
    ));
    assert!(matches!(
        RotationTable::from_parts(&keys, &BTreeMap::new(), 48),
        Err(Error::SlotsNotPowerOfTwo { .. })
    ));
    Ok(())
}

/// A dense transform evaluated on a `Plain` backend holding only the chosen keys equals the
/// plaintext reference, and the backend's key switches are the table's count.
#[test]
fn transform_runs_on_the_chosen_keys_only() -> TestResult {
    let (slots, n) = (256usize, 64usize);
    let coef = |i: usize, j: usize| ((i * 5 + j * 11) % 7) as f64 - 3.0;
    let t = LinearTransform::new(slots, n, n, coef, |_| 0.25)?;
    let uses: BTreeMap<i64, u64> = t
        .rotation_uses()
        .into_iter()
        .map(|(s, c)| (s as i64, c as u64))
        .collect();
    let budget = 5;
    let (table, keys) = RotationTable::choose(&uses, &BTreeSet::new(), budget, slots)?;
    assert!(keys.len() <= budget && !table.entries().is_empty());
    let plain = Plain::new(slots).with_rotations(RotationSet::Steps(keys));
    let x: Vec<f64> = (0..slots).map(|s| ((s % n) as f64 * 0.3).cos()).collect();
    let ct = plain.encrypt(&x)?;
    let before = plain.stats();
    let y = t.apply_with(&plain, &ct, &table)?;
    let switched = (plain.stats() - before).rotations;
    assert_eq!(switched, table.key_switches(&uses));
    let want = t.reference(&x[..n], n, coef, |_| 0.25);
    for (k, (a, b)) in y.values().iter().zip(&want).enumerate() {
        assert!((a - b).abs() < 1e-9, "slot {k}: {a} vs {b}");
    }
    Ok(())
}
