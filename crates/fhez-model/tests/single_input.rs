//! One model API, two packings: the same plan → keygen → encrypt → evaluate (server keys
//! only) → decrypt calls run a CNN with one sample per ciphertext on CKKS and agree with the
//! plaintext forward.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use fhez_ckks::{CkksParams, CkksParamsSpec, CkksServer};
use fhez_erray::PlainArray;
use fhez_model::{EncryptedModel, Error};
use fhez_nn::nodes::{AvgPool, CrossCorrelationConfig, Decrypt, DenseConfig, Enqueue, Input, Relu};
use fhez_nn::{
    Graph, GraphBuilder, LayoutRole, PackingChoice, PlanRequest, SecurityStandard, Tensor,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// `x (8, 8)` → 2 × CC(3×3) → Enqueue → ReLU → AvgPool(1×2×2) → Dense(18 → 3) → Decrypt.
fn graph() -> fhez_nn::Result<Graph> {
    let mut r = ChaCha20Rng::seed_from_u64(3);
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[8, 8]))?;
    let stack = g.add("stack", Enqueue { length: 2 })?;
    for f in 0..2 {
        let cc = CrossCorrelationConfig {
            kernel: vec![3, 3],
            stride: vec![1, 1],
        }
        .init(&mut r);
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
    let dense = g.add("dense", DenseConfig { d_in: 18, d_out: 3 }.init(&mut r))?;
    let dec = g.add("Decrypt", Decrypt {})?;
    g.chain(&[stack, relu, pool, dense, dec])?;
    g.build()
}

fn request() -> PlanRequest {
    PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 1,
        precision_bits: 20,
        magnitude_bits: 10,
        standard: SecurityStandard::Standard2018,
        key_budget: None,
    }
}

#[test]
fn single_input_runs_through_the_model_api_on_ckks() -> TestResult {
    let model = EncryptedModel::with_packing(graph()?, &request(), PackingChoice::SingleInput)?;
    assert_eq!(model.packing(), PackingChoice::SingleInput);
    assert_eq!(model.batch(), 1);
    // Toy parameters for a test: the plan's chain on a smaller ring, insecure.
    // DISCLAIMER: toy parameters, they protect nothing.
    let spec = CkksParamsSpec {
        log_n: 10,
        ..model.spec()
    }
    .insecure_for_testing();
    let client = model.keygen(&CkksParams::new(&spec)?)?;
    let server = CkksServer::new(client.server_keys());
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let data: Vec<f64> = (0..64)
        .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
        .collect();
    let input = model.plan().layout("x", LayoutRole::Input).unwrap();
    let x = PlainArray::new(input.shape.clone(), data.clone())?;
    let sent = model.encrypt(&client, &[("x", x)])?;
    assert_eq!(sent.num_cts(), 1, "one ciphertext per sample");
    assert_eq!(
        model.prepared_bytes(),
        0,
        "nothing encoded before the first evaluation"
    );
    let first = model.evaluate(&server, &sent)?;
    // The server encoded the linear maps (the fused 2-filter bank, dense∘pool) once, at the
    // levels the plan meets: (level + 1) limbs of N = 2^10 residues per diagonal.
    let bytes = model.prepared_bytes();
    assert_eq!(model.prepared_transforms(), 2);
    assert!(bytes > 0 && bytes % (1 << 13) == 0, "{bytes}");
    // A second request reuses them (a clone of the model shares the cache).
    let back = model.clone().evaluate(&server, &sent)?;
    assert_eq!(
        (model.prepared_transforms(), model.prepared_bytes()),
        (2, bytes)
    );
    assert_eq!(first.num_cts(), back.num_cts());
    let out = model.decrypt_finish(&client, &back, &[])?;
    let want = model
        .graph()
        .infer(&[("x", Tensor::new(vec![8, 8], data)?)])?;
    let (got, want) = (&out[0]["Decrypt"], &want["Decrypt"]);
    assert_eq!(got.shape(), want.shape());
    for (a, b) in got.data().iter().zip(want.data()) {
        assert!((a - b).abs() < 1e-3 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // One sample per ciphertext: a batch of two is refused with the numbers.
    let two = PlainArray::full(vec![2, 8, 8], 0.1)?;
    assert!(matches!(
        model.encrypt(&client, &[("x", two)]),
        Err(Error::BatchTooLarge {
            batch: 2,
            planned: 1
        })
    ));
    Ok(())
}

#[test]
fn the_same_calls_plan_batch_in_slots() -> TestResult {
    let mut req = request();
    req.batch = 4;
    let model = EncryptedModel::with_packing(graph()?, &req, PackingChoice::BatchInSlots)?;
    assert_eq!(model.packing(), PackingChoice::BatchInSlots);
    assert_eq!(model.batch(), 4);
    let single = EncryptedModel::with_packing(graph()?, &req, PackingChoice::SingleInput)?;
    assert_eq!(
        single.plan().depth + 2,
        model.plan().depth,
        "the filter bank fused at the stack (no mask level), the ReLU folded into it (1 level), pool and dense composed (1 level)"
    );
    Ok(())
}

/// A message packed for the other packing is refused by the server's `evaluate` and the
/// client's `decrypt` with both packings and their numbers; `encrypt_seeded_bytes` lays
/// out single-input messages as `encrypt` does (one ciphertext, the plan's period).
#[test]
fn packing_mismatches_are_typed_errors_with_the_numbers() -> TestResult {
    let mut req = request();
    req.batch = 4;
    let single = EncryptedModel::with_packing(graph()?, &req, PackingChoice::SingleInput)?;
    let batch = EncryptedModel::with_packing(graph()?, &req, PackingChoice::BatchInSlots)?;
    // One key set that fits both plans (the larger depth: the folded activation makes
    // the single-input plan the shallower one; toy ring).
    // DISCLAIMER: toy parameters, they protect nothing.
    let deeper = if single.plan().depth >= batch.plan().depth {
        single.spec()
    } else {
        batch.spec()
    };
    let spec = CkksParamsSpec {
        log_n: 10,
        ..deeper
    }
    .insecure_for_testing();
    let params = CkksParams::new(&spec)?;
    let client = single.keygen(&params)?;
    let server = CkksServer::new(client.server_keys());
    let layout = single
        .plan()
        .layout("x", LayoutRole::Input)
        .unwrap()
        .packing;
    let fhez_nn::PackingSpec::SingleInput { period } = layout else {
        panic!("single-input plan with input layout {layout:?}");
    };
    // The fused bank reads x im2col: 9 taps × 36 windows in 512 slots.
    assert_eq!(period, 512);

    // batch-in-slots message → single-input plan
    let xs = PlainArray::full(vec![3, 8, 8], 0.1)?;
    let sent = batch.encrypt(&client, &[("x", xs)])?;
    let e = single.evaluate(&server, &sent).unwrap_err();
    let Error::PackingMismatch {
        node,
        planned,
        found,
    } = &e
    else {
        panic!("expected PackingMismatch, got {e:?}");
    };
    assert_eq!(node, "x");
    assert_eq!(planned, "single-input (period 512)");
    assert_eq!(found, "batch-in-slots (batch 3)");
    assert!(e.to_string().contains("period 512"), "{e}");

    // single-input message → batch-in-slots plan (server and client side)
    let x1 = PlainArray::full(vec![1, 8, 8], 0.1)?;
    let bytes = single.encrypt_seeded_bytes(&client, &[("x", x1.clone())])?;
    let sent1 = fhez_model::CtBatch::from_bytes(&server, &bytes, 1 << 30)?;
    assert_eq!(sent1.num_cts(), 1, "one seeded ciphertext per sample");
    assert_eq!(
        sent1.entries[0].packing,
        fhez_erray::Packing::SingleInput { period: 512 }
    );
    assert!(matches!(
        batch.evaluate(&server, &sent1),
        Err(Error::PackingMismatch { .. })
    ));
    let back = single.evaluate(&server, &sent1)?;
    assert!(matches!(
        batch.decrypt(&client, &back),
        Err(Error::PackingMismatch { .. })
    ));
    // The seeded message evaluates as the full one does.
    let full = single.decrypt(
        &client,
        &single.evaluate(&server, &single.encrypt(&client, &[("x", x1)])?)?,
    )?;
    let seeded = single.decrypt(&client, &back)?;
    for ((_, a), (_, b)) in full.iter().zip(&seeded) {
        for (u, v) in a.data().iter().zip(b.data()) {
            assert!((u - v).abs() < 1e-3, "{u} vs {v}");
        }
    }

    // a single-input message laid out with another period
    let mut other = sent1.clone();
    other.entries[0].packing = fhez_erray::Packing::SingleInput { period: 128 };
    let e = single.evaluate(&server, &other).unwrap_err();
    let Error::PackingMismatch { planned, found, .. } = &e else {
        panic!("expected PackingMismatch, got {e:?}");
    };
    assert_eq!(planned, "single-input (period 512)");
    assert_eq!(found, "single-input (period 128)");
    Ok(())
}

/// The planner's input gather through the model API on CKKS: a client holding only the plan
/// encrypts (seeded message), the server re-attaches the plan's gather, and the reply
/// decrypts to the plaintext forward; every node's key switches on CKKS are those of the
/// `Plain` walk on the same layout; a plan whose gather is hostile is refused by the
/// client's encrypt and by the server's evaluate.
#[test]
fn gathered_input_on_ckks_with_the_plan_alone() -> TestResult {
    let model = EncryptedModel::with_packing(graph()?, &request(), PackingChoice::SingleInput)?;
    let plan = model.plan().clone();
    let input = plan.layout("x", LayoutRole::Input).unwrap().clone();
    assert!(input.gather.is_some());
    // DISCLAIMER: toy parameters, they protect nothing.
    let spec = CkksParamsSpec {
        log_n: 10,
        ..model.spec()
    }
    .insecure_for_testing();
    let client = model.keygen(&CkksParams::new(&spec)?)?;
    let server = CkksServer::new(client.server_keys());
    let mut rng = ChaCha20Rng::seed_from_u64(41);
    let data: Vec<f64> = (0..64)
        .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
        .collect();
    let x = PlainArray::new(vec![1, 8, 8], data.clone())?;
    let bytes = fhez_model::encrypt_seeded_with_plan(&client, &plan, 1, &[("x", x.clone())])?;
    let sent = fhez_model::CtBatch::from_bytes(&server, &bytes, 1 << 30)?;
    let (reply, timings) = model.evaluate_timed(&server, &sent)?;
    let out = model.decrypt_finish(&client, &reply, &[])?;
    let want = model
        .graph()
        .infer(&[("x", Tensor::new(vec![8, 8], data)?)])?;
    for (a, b) in out[0]["Decrypt"].data().iter().zip(want["Decrypt"].data()) {
        assert!((a - b).abs() < 1e-3 * (1.0 + b.abs()), "{a} vs {b}");
    }
    let plain = fhez_backend::Plain::new(1 << 9).with_max_level(plan.depth);
    let mut refresh =
        |e: &fhez_erray::Erray<fhez_backend::Plain>| -> fhez_nn::Result<_> { Ok(e.clone()) };
    let run = model
        .graph()
        .forward_enc(&[("x", input.encrypt(&plain, &x)?)], &mut refresh)?;
    for t in &timings {
        let id = model.graph().id(&t.name)?;
        assert_eq!(
            t.levels.key_switches,
            run.levels[id].unwrap().key_switches,
            "{}",
            t.name
        );
    }
    let stack = timings.iter().find(|t| t.name == "stack").unwrap();
    assert!(stack.levels.key_switches > 0);

    // A hostile plan: an index beyond the input.
    let mut bad = plan.clone();
    let layout = bad
        .layouts
        .iter_mut()
        .find(|l| l.role == LayoutRole::Input)
        .unwrap();
    layout.gather.as_mut().unwrap().slots[0] = Some(1 << 20);
    let hostile = EncryptedModel::with_plan(graph()?, bad.clone(), 1);
    let e = hostile.encrypt(&client, &[("x", x.clone())]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Nn(fhez_nn::Error::Erray(fhez_erray::Error::IndexOutOfBounds { ref index, .. }))
                if index == &[1 << 20]
        ),
        "{e:?}"
    );
    assert!(fhez_model::encrypt_seeded_with_plan(&client, &bad, 1, &[("x", x)]).is_err());
    assert!(matches!(
        hostile.evaluate(&server, &sent),
        Err(Error::Nn(fhez_nn::Error::Erray(
            fhez_erray::Error::IndexOutOfBounds { .. }
        )))
    ));
    Ok(())
}
