//! Single-input packing through the graph walk: a bank of one-filter cross-correlations, the
//! `Enqueue` that stacks them, a polynomial ReLU, average pooling and a dense layer run on
//! one ciphertext per sample, equal the plaintext forward (1e-9 on `Plain`), and `Sim`
//! mirrors the levels and key switches of every node.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, reason = "test code")]

mod common;

use common::{rand_tensor, rng};
use fhez_backend::{Backend, Plain, Sim, SimConfig};
use fhez_erray::{Erray, Packing, PlainArray};
use fhez_nn::nodes::{AvgPool, CrossCorrelationConfig, Decrypt, DenseConfig, Enqueue, Input, Relu};
use fhez_nn::{Graph, GraphBuilder, Tensor};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

const FILTERS: usize = 3;

/// `x (8, 8)` → 3 × CC(3×3, stride 1) → Enqueue → ReLU → AvgPool(1×2×2) → Dense(27 → 4).
fn graph() -> fhez_nn::Result<Graph> {
    let mut r = rng(7);
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[8, 8]))?;
    let stack = g.add("stack", Enqueue { length: FILTERS })?;
    for f in 0..FILTERS {
        let mut cc = CrossCorrelationConfig {
            kernel: vec![3, 3],
            stride: vec![1, 1],
        }
        .init(&mut r);
        cc.bias = Tensor::scalar(0.1 * f as f64 - 0.1);
        let id = g.add(&format!("cc{f}"), cc)?;
        g.chain(&[x, id])?;
        g.connect_ports(id, 0, stack, f)?;
    }
    let relu = g.add("relu", Relu::new(4.0)?)?;
    let pool = g.add(
        "pool",
        AvgPool {
            kernel: vec![1, 2, 2],
            stride: vec![1, 2, 2],
        },
    )?;
    let dense = g.add("dense", DenseConfig { d_in: 27, d_out: 4 }.init(&mut r))?;
    let dec = g.add("dec", Decrypt {})?;
    g.chain(&[stack, relu, pool, dense, dec])?;
    g.build()
}

fn single_input<B: Backend>(b: &B, x: &Tensor) -> fhez_erray::Result<Erray<B>> {
    let data = PlainArray::new(vec![1, 8, 8], x.data().to_vec())?;
    Erray::encrypt(b, &data, Packing::single_input(64))
}

#[test]
fn single_input_graph_equals_the_plain_forward() -> TestResult {
    let g = graph()?;
    let x = rand_tensor(&mut rng(8), &[8, 8], -1.0, 1.0);
    let plain = Plain::new(1024);
    let mut refresh = |e: &Erray<Plain>| -> fhez_nn::Result<Erray<Plain>> { Ok(e.clone()) };
    let run = g.forward_enc(&[("x", single_input(&plain, &x)?)], &mut refresh)?;
    let (id, out) = &run.boundary[0];
    assert_eq!(out.packing(), Packing::SingleInput { period: 4 });
    let got = g.finish(&[(*id, out.decrypt()?)], &[])?;
    let want = g.infer(&[("x", x)])?;
    for (k, w) in &want {
        let o = &got[0][k];
        assert_eq!(o.shape(), w.shape(), "{k}");
        for (a, b) in o.data().iter().zip(w.data()) {
            assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{k}: {a} vs {b}");
        }
    }
    // cc 1 (the fused bank: the stack applies all filters as one transform, no mask level),
    // relu 1 (its x² coefficient folded into the bank), pool and dense 1 together (two
    // consecutive linear maps composed into one transform at the dense).
    let consumed = |n: &str| run.levels[g.id(n).unwrap()].unwrap().consumed();
    assert_eq!(
        ["cc0", "stack", "relu", "pool", "dense"].map(consumed),
        [1, 0, 1, 1, 0]
    );
    Ok(())
}

/// The filter bank runs as one stacked transform at the `Enqueue`: the parts do no work, and
/// the bank's key switches are fewer than those of the separate one-filter transforms alone
/// (before counting the stacking rotations the unfused lowering adds).
#[test]
fn filter_bank_is_one_stacked_transform() -> TestResult {
    let g = graph()?;
    let stack = g.id("stack")?;
    assert!(g.fuses_enqueue(stack));
    assert!(!g.fuses_enqueue(g.id("dense")?));
    let sim = Sim::new(SimConfig::planning(1024, 8, 40.0))?;
    let x = rand_tensor(&mut rng(13), &[8, 8], -1.0, 1.0);
    let e = single_input(&sim, &x)?;
    let mut rs = |e: &Erray<Sim>| -> fhez_nn::Result<Erray<Sim>> { Ok(e.clone()) };
    let run = g.forward_enc(&[("x", e.clone())], &mut rs)?;
    let ks = |n: &str| run.levels[g.id(n).unwrap()].unwrap().key_switches;
    assert_eq!((0..FILTERS).map(|f| ks(&format!("cc{f}"))).sum::<u64>(), 0);
    let separate: usize = (0..FILTERS)
        .map(|f| {
            let node = g.node(g.id(&format!("cc{f}")).unwrap()).unwrap();
            node.single_linear(&e, 1.0)
                .unwrap()
                .unwrap()
                .transform
                .key_switches()
        })
        .sum();
    assert!(
        ks("stack") > 0 && (ks("stack") as usize) < separate,
        "{} vs {separate}",
        ks("stack")
    );
    Ok(())
}

#[test]
fn sim_mirrors_the_single_input_walk() -> TestResult {
    let g = graph()?;
    let x = rand_tensor(&mut rng(9), &[8, 8], -1.0, 1.0);
    let plain = Plain::new(1024).with_max_level(8);
    let sim = Sim::new(SimConfig::planning(1024, 8, 40.0))?;
    let mut rp = |e: &Erray<Plain>| -> fhez_nn::Result<Erray<Plain>> { Ok(e.clone()) };
    let mut rs = |e: &Erray<Sim>| -> fhez_nn::Result<Erray<Sim>> { Ok(e.clone()) };
    let p = g.forward_enc(&[("x", single_input(&plain, &x)?)], &mut rp)?;
    let s = g.forward_enc(&[("x", single_input(&sim, &x)?)], &mut rs)?;
    assert_eq!(p.levels, s.levels);
    assert_eq!(p.boundary[0].1.level(), s.boundary[0].1.level());
    // Every rotation the walk needs is one Galois key the planner lists.
    assert!(!sim.report().rotation_steps.is_empty());
    Ok(())
}

#[test]
fn single_input_plan_lists_depth_exact_keys_and_layouts() -> TestResult {
    let g = graph()?;
    let request = fhez_nn::PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 1,
        precision_bits: 20,
        magnitude_bits: 10,
        standard: fhez_nn::SecurityStandard::Standard2018,
        key_budget: None,
    };
    let plan = fhez_nn::plan_single_input(&g, &request)?;
    assert_eq!(plan.packing, fhez_nn::PackingChoice::SingleInput);
    assert_eq!(
        plan.depth, 3,
        "fused cc bank 1 + folded relu 1 + pool∘dense 1"
    );
    assert_eq!(plan.log_q.len(), 4);
    let input = plan.layout("x", fhez_nn::LayoutRole::Input).unwrap();
    assert_eq!(input.shape, vec![1, 8, 8]);
    // Every reader of x is a part of the fused bank: the planner lays x out im2col (9 taps
    // of 36 windows in 512 slots), cheaper for the bank than the row-major 64 slots.
    let gather = input.gather.as_ref().unwrap();
    assert_eq!((gather.source_len, gather.period), (64, 512));
    assert_eq!(
        input.packing,
        fhez_nn::PackingSpec::SingleInput { period: 512 }
    );
    let output = plan.layout("dec", fhez_nn::LayoutRole::Output).unwrap();
    assert_eq!(output.shape, vec![1, 4]);
    // The plan serializes with packing and layouts.
    let json = serde_json::to_string(&plan)?;
    let back: fhez_nn::Plan = serde_json::from_str(&json)?;
    assert_eq!(back, plan);
    // A client with only the plan: encrypt with the input layout, run on a backend holding
    // exactly the planned keys, decrypt with the output layout.
    let x = rand_tensor(&mut rng(10), &[8, 8], -1.0, 1.0);
    let keys = fhez_backend::RotationSet::Steps(plan.rotation_steps.clone());
    let b = Plain::new(plan.slots)
        .with_max_level(plan.depth)
        .with_rotations(keys);
    let data = PlainArray::new(input.shape.clone(), x.data().to_vec())?;
    let e = input.encrypt(&b, &data)?;
    let mut refresh = |e: &Erray<Plain>| -> fhez_nn::Result<Erray<Plain>> { Ok(e.clone()) };
    let run = g.forward_enc(&[("x", e.clone())], &mut refresh)?;
    let (id, out) = &run.boundary[0];
    assert_eq!(out.shape(), output.shape.as_slice());
    assert_eq!(fhez_nn::PackingSpec::from(out.packing()), output.packing);
    let got = g.finish(&[(*id, out.decrypt()?)], &[])?;
    let want = g.infer(&[("x", x)])?;
    assert!((got[0]["dec"].data()[0] - want["dec"].data()[0]).abs() < 1e-9);
    // Exact keys: dropping one planned step makes evaluation fail, not compose.
    let mut fewer = plan.rotation_steps.clone();
    let first = *fewer.iter().next().unwrap();
    fewer.remove(&first);
    let b2 = Plain::new(plan.slots).with_rotations(fhez_backend::RotationSet::Steps(fewer));
    let e2 = input.encrypt(&b2, &data)?;
    let mut refresh2 = |e: &Erray<Plain>| -> fhez_nn::Result<Erray<Plain>> { Ok(e.clone()) };
    assert!(g.forward_enc(&[("x", e2)], &mut refresh2).is_err());
    Ok(())
}

#[test]
fn batch_plans_list_layouts_too() -> TestResult {
    let g = fhez_nn::prefab::cnn_classifier(10, 4)?;
    let plan = fhez_nn::plan(&g, 16, 20)?;
    assert_eq!(plan.packing, fhez_nn::PackingChoice::BatchInSlots);
    let input = plan.layout("x", fhez_nn::LayoutRole::Input).unwrap();
    assert_eq!(
        input.packing,
        fhez_nn::PackingSpec::BatchInSlots { batch: 16 }
    );
    assert_eq!(input.shape, vec![16, 28, 28]);
    assert!(
        plan.layout("Decrypt", fhez_nn::LayoutRole::Output)
            .is_some()
    );
    Ok(())
}

/// The cached walk encodes each linear map's diagonals once (the fused bank, pool, dense)
/// and later runs reuse them: same values, levels and key switches as the uncached walk on
/// every run, and the cache neither grows nor changes size on the second run.
#[test]
fn cached_walk_encodes_once_and_matches_the_walk() -> TestResult {
    let g = graph()?;
    let plain = Plain::new(1024).with_max_level(8);
    let sim = Sim::new(SimConfig::planning(1024, 8, 40.0))?;
    let cache = fhez_nn::TransformCache::<Plain>::new();
    let sim_cache = fhez_nn::TransformCache::<Sim>::new();
    let mut rp = |e: &Erray<Plain>| -> fhez_nn::Result<Erray<Plain>> { Ok(e.clone()) };
    let mut rs = |e: &Erray<Sim>| -> fhez_nn::Result<Erray<Sim>> { Ok(e.clone()) };
    let mut bytes = None;
    for seed in [11, 12] {
        let x = rand_tensor(&mut rng(seed), &[8, 8], -1.0, 1.0);
        let input = single_input(&plain, &x)?;
        let plain_run = g.forward_enc(&[("x", input.clone())], &mut rp)?;
        let cached = g.forward_enc_cached(&[("x", input)], &mut rp, &mut |_| {}, &cache)?;
        assert_eq!(cached.levels, plain_run.levels);
        let (a, b) = (&cached.boundary[0].1, &plain_run.boundary[0].1);
        assert_eq!(a.level(), b.level());
        for (u, v) in a.decrypt()?.data().iter().zip(b.decrypt()?.data()) {
            assert!((u - v).abs() <= 1e-12 * (1.0 + v.abs()), "{u} vs {v}");
        }
        let s = g.forward_enc_cached(
            &[("x", single_input(&sim, &x)?)],
            &mut rs,
            &mut |_| {},
            &sim_cache,
        )?;
        assert_eq!(s.levels, plain_run.levels);
        // The fused bank (at the Enqueue) and dense∘pool.
        assert_eq!(cache.len(), 2);
        assert_eq!(
            *bytes.get_or_insert(cache.plain_bytes()),
            cache.plain_bytes()
        );
    }
    // Sim predicts the CKKS plaintext memory: (level + 1) limbs of 2·slots residues.
    assert!(sim_cache.plain_bytes() > cache.plain_bytes());
    Ok(())
}

/// A quadratic activation right after a linear map is folded into it (one level); one that
/// follows another activation keeps its two levels; both equal the plaintext forward.
#[test]
fn quadratic_activation_folds_only_after_a_linear_map() -> TestResult {
    let mut r = rng(21);
    let mut b = GraphBuilder::new();
    let x = b.add("x", Input::new(&[8]))?;
    let dense = b.add("dense", DenseConfig { d_in: 8, d_out: 4 }.init(&mut r))?;
    let relu = b.add("relu", Relu::new(-3.0)?)?;
    let relu2 = b.add("relu2", Relu::new(5.0)?)?;
    let out = b.add("out", DenseConfig { d_in: 4, d_out: 2 }.init(&mut r))?;
    let dec = b.add("dec", Decrypt {})?;
    b.chain(&[x, dense, relu, relu2, out, dec])?;
    let g = b.build()?;
    assert!(
        g.folds_activation(g.id("relu")?).is_some(),
        "negative c2 folds too"
    );
    assert!(g.folds_activation(g.id("relu2")?).is_none());
    let xs = rand_tensor(&mut rng(22), &[8], -1.0, 1.0);
    let plain = Plain::new(256);
    let e = Erray::encrypt(
        &plain,
        &PlainArray::new(vec![1, 8], xs.data().to_vec())?,
        Packing::single_input(8),
    )?;
    let mut refresh = |e: &Erray<Plain>| -> fhez_nn::Result<Erray<Plain>> { Ok(e.clone()) };
    let run = g.forward_enc(&[("x", e)], &mut refresh)?;
    let consumed = |n: &str| run.levels[g.id(n).unwrap()].unwrap().consumed();
    assert_eq!(
        ["dense", "relu", "relu2", "out"].map(consumed),
        [1, 1, 2, 1]
    );
    let (id, y) = &run.boundary[0];
    let got = g.finish(&[(*id, y.decrypt()?)], &[])?;
    let want = g.infer(&[("x", xs)])?;
    for (a, w) in got[0]["dec"].data().iter().zip(want["dec"].data()) {
        assert!((a - w).abs() <= 1e-9 * (1.0 + w.abs()), "{a} vs {w}");
    }
    Ok(())
}

/// The planner's input gather on the filter-bank graph: `Plain` equals the plaintext
/// forward through it, `Sim` mirrors `Plain`'s levels and key switches node by node, the
/// bank's key switches drop below the row-major walk's, the cached walk matches, and the
/// plan's per-node key switches are the gathered walk's.
#[test]
fn gathered_input_conformance_on_plain_and_sim() -> TestResult {
    let g = graph()?;
    let slots = 1024;
    let plain = Plain::new(slots).with_max_level(8);
    let sim = Sim::new(SimConfig::planning(slots, 8, 40.0))?;
    let x = rand_tensor(&mut rng(31), &[8, 8], -1.0, 1.0);
    let row_major = single_input(&plain, &x)?;
    let gather = g.input_gather(g.id("x")?, &row_major)?.unwrap();
    assert_eq!(
        g.input_gather(g.id("x")?, &single_input(&sim, &x)?)?,
        Some(gather.clone())
    );
    let data = PlainArray::new(vec![1, 8, 8], x.data().to_vec())?;
    let mut rp = |e: &Erray<Plain>| -> fhez_nn::Result<Erray<Plain>> { Ok(e.clone()) };
    let mut rs = |e: &Erray<Sim>| -> fhez_nn::Result<Erray<Sim>> { Ok(e.clone()) };
    let gathered = g.forward_enc(
        &[("x", Erray::encrypt_gathered(&plain, &data, &gather)?)],
        &mut rp,
    )?;
    let natural = g.forward_enc(&[("x", row_major)], &mut rp)?;
    let simulated = g.forward_enc(
        &[("x", Erray::encrypt_gathered(&sim, &data, &gather)?)],
        &mut rs,
    )?;
    assert_eq!(simulated.levels, gathered.levels);
    let (id, out) = &gathered.boundary[0];
    let got = g.finish(&[(*id, out.decrypt()?)], &[])?;
    let want = g.infer(&[("x", x)])?;
    for (a, b) in got[0]["dec"].data().iter().zip(want["dec"].data()) {
        assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
    }
    let ks =
        |run: &fhez_nn::EncRun<Plain>, n: &str| run.levels[g.id(n).unwrap()].unwrap().key_switches;
    assert!(
        ks(&gathered, "stack") < ks(&natural, "stack"),
        "gathered {} vs row-major {}",
        ks(&gathered, "stack"),
        ks(&natural, "stack")
    );
    for n in ["relu", "pool", "dense"] {
        assert_eq!(ks(&gathered, n), ks(&natural, n), "{n}");
    }
    // The cached walk keys its entries by the gathered layout too.
    let cache = fhez_nn::TransformCache::<Plain>::new();
    let e = Erray::encrypt_gathered(&plain, &data, &gather)?;
    let cached = g.forward_enc_cached(&[("x", e)], &mut rp, &mut |_| {}, &cache)?;
    assert_eq!(cached.levels, gathered.levels);
    // The plan records what the gathered walk does.
    let request = fhez_nn::PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 1,
        precision_bits: 20,
        magnitude_bits: 10,
        standard: fhez_nn::SecurityStandard::Standard2018,
        key_budget: None,
    };
    let plan = fhez_nn::plan_single_input(&g, &request)?;
    let stack = plan.nodes.iter().find(|n| n.name == "stack").unwrap();
    let gathered_at = |slots: usize| -> fhez_nn::Result<u64> {
        let sim = Sim::new(SimConfig::planning(slots, 8, 40.0))?;
        let zeros = single_input(&sim, &Tensor::zeros(&[8, 8]))?;
        let gather = g.input_gather(g.id("x")?, &zeros)?.unwrap();
        let e = Erray::encrypt_gathered(&sim, &PlainArray::full(vec![1, 8, 8], 0.0)?, &gather)?;
        let mut rs = |e: &Erray<Sim>| -> fhez_nn::Result<Erray<Sim>> { Ok(e.clone()) };
        let run = g.forward_enc(&[("x", e)], &mut rs)?;
        Ok(run.levels[g.id("stack")?].unwrap().key_switches)
    };
    assert_eq!(stack.key_switches, gathered_at(plan.slots)?);
    Ok(())
}

/// A plan read from anywhere is hostile: a gather index out of range, a layout longer than
/// its period, or a period beyond the ring is an error before anything is encrypted.
#[test]
fn hostile_plan_gathers_are_errors() -> TestResult {
    let g = graph()?;
    let request = fhez_nn::PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 1,
        precision_bits: 20,
        magnitude_bits: 10,
        standard: fhez_nn::SecurityStandard::Standard2018,
        key_budget: None,
    };
    let plan = fhez_nn::plan_single_input(&g, &request)?;
    let input = plan
        .layout("x", fhez_nn::LayoutRole::Input)
        .unwrap()
        .clone();
    let b = Plain::new(plan.slots);
    let data = PlainArray::full(vec![1, 8, 8], 0.5)?;
    assert!(input.encrypt(&b, &data).is_ok());

    let mut out_of_range = input.clone();
    out_of_range.gather.as_mut().unwrap().slots[3] = Some(64);
    let e = out_of_range.encrypt(&b, &data);
    assert!(
        matches!(
            e,
            Err(fhez_nn::Error::Erray(fhez_erray::Error::IndexOutOfBounds { ref index, .. })) if index == &[64]
        ),
        "{e:?}"
    );
    let mut too_long = input.clone();
    let spec = too_long.gather.as_mut().unwrap();
    spec.slots.resize(spec.period + 1, None);
    let e = too_long.encrypt(&b, &data);
    assert!(
        matches!(e, Err(fhez_nn::Error::LimitExceeded { found, limit, .. }) if found == limit + 1),
        "{e:?}"
    );
    let mut huge = input.clone();
    huge.gather.as_mut().unwrap().period = 1 << 40;
    let e = huge.encrypt(&b, &data);
    assert!(
        matches!(e, Err(fhez_nn::Error::LimitExceeded { found, .. }) if found == 1 << 40),
        "{e:?}"
    );
    // An older plan (no gather field) reads as row-major.
    let mut json: serde_json::Value = serde_json::to_value(&plan)?;
    for l in json["layouts"].as_array_mut().unwrap() {
        l.as_object_mut().unwrap().remove("gather");
    }
    let old: fhez_nn::Plan = serde_json::from_value(json)?;
    assert!(old.layouts.iter().all(|l| l.gather.is_none()));
    Ok(())
}

/// `x (8, 8)` → CC(3×3) → AvgPool(2×2, stride 2) → Dense(9 → 3) → Decrypt: the conv and
/// the pool (two consecutive linear maps) run as one composed transform, one level for
/// both: `Plain` equals the plaintext forward, `Sim` mirrors its levels and key switches,
/// the cached walk matches, and the plan records the composition and one level less.
#[test]
fn consecutive_linear_maps_compose_into_one_level() -> TestResult {
    let mut r = rng(41);
    let mut b = GraphBuilder::new();
    let x = b.add("x", Input::new(&[8, 8]))?;
    let cc = b.add(
        "cc",
        CrossCorrelationConfig {
            kernel: vec![3, 3],
            stride: vec![1, 1],
        }
        .init(&mut r),
    )?;
    let pool = b.add(
        "pool",
        AvgPool {
            kernel: vec![2, 2],
            stride: vec![2, 2],
        },
    )?;
    let dense = b.add("dense", DenseConfig { d_in: 9, d_out: 3 }.init(&mut r))?;
    let dec = b.add("dec", Decrypt {})?;
    b.chain(&[x, cc, pool, dense, dec])?;
    let g = b.build()?;
    assert_eq!(g.composes_into(g.id("cc")?), Some(g.id("pool")?));
    assert_eq!(g.composes_into(g.id("pool")?), None, "pairs only");
    let xs = rand_tensor(&mut rng(42), &[8, 8], -1.0, 1.0);
    let plain = Plain::new(1024).with_max_level(8);
    let sim = Sim::new(SimConfig::planning(1024, 8, 40.0))?;
    let mut rp = |e: &Erray<Plain>| -> fhez_nn::Result<Erray<Plain>> { Ok(e.clone()) };
    let mut rs = |e: &Erray<Sim>| -> fhez_nn::Result<Erray<Sim>> { Ok(e.clone()) };
    let p = g.forward_enc(&[("x", single_input(&plain, &xs)?)], &mut rp)?;
    let s = g.forward_enc(&[("x", single_input(&sim, &xs)?)], &mut rs)?;
    assert_eq!(p.levels, s.levels);
    let consumed = |n: &str| p.levels[g.id(n).unwrap()].unwrap().consumed();
    assert_eq!(["cc", "pool", "dense"].map(consumed), [1, 0, 1]);
    assert_eq!(p.boundary[0].1.level(), 8 - 2);
    let (id, y) = &p.boundary[0];
    let got = g.finish(&[(*id, y.decrypt()?)], &[])?;
    let want = g.infer(&[("x", xs.clone())])?;
    for (a, w) in got[0]["dec"].data().iter().zip(want["dec"].data()) {
        assert!((a - w).abs() <= 1e-9 * (1.0 + w.abs()), "{a} vs {w}");
    }
    let cache = fhez_nn::TransformCache::<Plain>::new();
    for _ in 0..2 {
        let c = g.forward_enc_cached(
            &[("x", single_input(&plain, &xs)?)],
            &mut rp,
            &mut |_| {},
            &cache,
        )?;
        assert_eq!(c.levels, p.levels);
        let (a, b) = (c.boundary[0].1.decrypt()?, y.decrypt()?);
        for (u, v) in a.data().iter().zip(b.data()) {
            assert!((u - v).abs() <= 1e-12 * (1.0 + v.abs()), "{u} vs {v}");
        }
    }
    // The composed map and the dense: two transforms encoded.
    assert_eq!(cache.len(), 2);
    let request = fhez_nn::PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 1,
        precision_bits: 20,
        magnitude_bits: 10,
        standard: fhez_nn::SecurityStandard::Standard2018,
        key_budget: None,
    };
    let plan = fhez_nn::plan_single_input(&g, &request)?;
    assert_eq!(plan.depth, 2, "cc∘pool 1 + dense 1");
    let node = |n: &str| plan.nodes.iter().find(|c| c.name == n).unwrap();
    assert_eq!(node("cc").composed_into.as_deref(), Some("pool"));
    assert_eq!(node("pool").composed_into, None);
    // Batch-in-slots runs each map on its own.
    let batch = fhez_nn::plan(&g, 4, 20)?;
    assert!(batch.nodes.iter().all(|c| c.composed_into.is_none()));
    Ok(())
}

fn budget_request(key_budget: Option<usize>) -> fhez_nn::PlanRequest {
    fhez_nn::PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 1,
        precision_bits: 20,
        magnitude_bits: 10,
        standard: fhez_nn::SecurityStandard::Standard2018,
        key_budget,
    }
}

/// Under a key budget the plan generates at most that many keys and records how every other
/// step composes from them; a backend holding only those keys evaluates through the plan's
/// table to the plaintext forward, performing exactly the rotations the plan lists per node,
/// and the same backend fails with the exact table (evaluation never composes on its own).
#[test]
fn key_budget_plan_runs_on_its_keys_only() -> TestResult {
    let g = graph()?;
    let exact = fhez_nn::plan_single_input(&g, &budget_request(None))?;
    let budget = 3;
    assert!(
        exact.rotation_steps.len() > budget,
        "{:?}",
        exact.rotation_steps
    );
    let plan = fhez_nn::plan_single_input(&g, &budget_request(Some(budget)))?;
    assert_eq!(plan.key_budget, Some(budget));
    assert!(
        plan.rotation_steps.len() <= budget,
        "{:?}",
        plan.rotation_steps
    );
    assert!(!plan.rotation_compose.is_empty());
    let served: std::collections::BTreeSet<i64> = plan
        .rotation_steps
        .iter()
        .chain(plan.rotation_compose.keys())
        .copied()
        .collect();
    assert!(exact.rotation_steps.is_subset(&served));
    assert_eq!((plan.log_n, plan.depth), (exact.log_n, exact.depth));
    assert_eq!(plan.layouts, exact.layouts);
    let rotations = |p: &fhez_nn::Plan| p.nodes.iter().map(|n| n.rotations).sum::<u64>();
    assert!(rotations(&plan) > rotations(&exact));
    let back: fhez_nn::Plan = serde_json::from_str(&serde_json::to_string(&plan)?)?;
    assert_eq!(back, plan);
    // An exact plan reads as before: no new fields in its JSON.
    let exact_json = serde_json::to_string(&exact)?;
    assert!(!exact_json.contains("rotation_compose") && !exact_json.contains("key_budget"));

    let x = rand_tensor(&mut rng(11), &[8, 8], -1.0, 1.0);
    let input = plan.layout("x", fhez_nn::LayoutRole::Input).unwrap();
    let data = PlainArray::new(input.shape.clone(), x.data().to_vec())?;
    let keys = fhez_backend::RotationSet::Steps(plan.rotation_steps.clone());
    let b = Plain::new(plan.slots)
        .with_max_level(plan.depth)
        .with_rotations(keys);
    let table = plan.rotation_table(plan.slots)?;
    let cache = fhez_nn::TransformCache::with_rotations(table);
    let mut refresh = |e: &Erray<Plain>| -> fhez_nn::Result<Erray<Plain>> { Ok(e.clone()) };
    let e = input.encrypt(&b, &data)?;
    let run = g.forward_enc_cached(&[("x", e)], &mut refresh, &mut |_| {}, &cache)?;
    for n in &plan.nodes {
        let levels = run.levels[g.id(&n.name)?].unwrap();
        assert_eq!(levels.rotations, n.rotations, "node {}", n.name);
    }
    let (id, out) = &run.boundary[0];
    let got = g.finish(&[(*id, out.decrypt()?)], &[])?;
    let want = g.infer(&[("x", x)])?;
    for (a, w) in got[0]["dec"].data().iter().zip(want["dec"].data()) {
        assert!((a - w).abs() < 1e-9, "{a} vs {w}");
    }
    let e = input.encrypt(&b, &data)?;
    let exact_cache = fhez_nn::TransformCache::new();
    assert!(
        g.forward_enc_cached(&[("x", e)], &mut refresh, &mut |_| {}, &exact_cache)
            .is_err()
    );
    Ok(())
}

/// A plan read from a file whose table names a step it does not generate, or a composed
/// step that does not sum to its target, is refused before use with a typed error.
#[test]
fn hostile_key_tables_are_refused() -> TestResult {
    let g = graph()?;
    let plan = fhez_nn::plan_single_input(&g, &budget_request(Some(3)))?;
    let (&step, parts) = plan.rotation_compose.iter().next().unwrap();
    let mut missing = plan.clone();
    missing.rotation_steps.remove(&parts[0]);
    let mut wrong_sum = plan.clone();
    wrong_sum.rotation_compose.insert(step, vec![parts[0]]);
    let mut self_key = plan.clone();
    self_key.rotation_steps.insert(step);
    for bad in [missing, wrong_sum, self_key] {
        let json = serde_json::to_string(&bad)?;
        let read: fhez_nn::Plan = serde_json::from_str(&json)?;
        assert!(matches!(
            read.rotation_table(plan.slots),
            Err(fhez_nn::Error::Erray(
                fhez_erray::Error::RotationTable { .. }
            ))
        ));
    }
    Ok(())
}
