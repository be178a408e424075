//! The encrypted path on Plain equals the plain-f64 path (1e-9) for every node and prefab;
//! Sim consumes exactly the declared depth; errors name the node.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::wildcard_enum_match_arm,
    reason = "test code"
)]

mod common;

use common::{rand_tensor, rng, single};
use fhez_backend::{Plain, Sim, SimConfig};
use fhez_erray::{Erray, Packing};
use fhez_nn::nodes::{
    AvgPool, CrossCorrelationConfig, DenseConfig, Dequeue, Encrypt, Enqueue, Io, Linear, Relu,
    RnnConfig, Rotate, Sigmoid, Softmax, Square, Sum,
};
use fhez_nn::{Error, Graph, Node, NodeEvent, Outputs, Tensor, prefab, stack};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

const BATCH: usize = 3;

/// Runs `graph` per sample in plaintext and batched on the Plain backend; compares all
/// harvested outputs to 1e-9.
fn compare(graph: &Graph, samples: &[Vec<Tensor>], plain_inputs: &[usize]) -> TestResult {
    let ids = graph.inputs();
    let names: Vec<&str> = ids.iter().map(|&id| graph.name(id)).collect();
    let column = |i: usize| -> Vec<Tensor> { samples.iter().map(|s| s[i].clone()).collect() };
    let mut enc = Vec::new();
    let mut plain = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let batch = stack(&column(i))?;
        if plain_inputs.contains(&i) {
            plain.push((*name, batch));
        } else {
            enc.push((*name, batch));
        }
    }
    let got = graph.infer_encrypted(&Plain::new(8), &enc, &plain)?;
    assert_eq!(got.len(), samples.len());
    for (s, out) in samples.iter().zip(&got) {
        let inputs: Vec<(&str, Tensor)> = names.iter().copied().zip(s.iter().cloned()).collect();
        let want: Outputs = graph.infer(&inputs)?;
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            out.keys().collect::<Vec<_>>()
        );
        for (k, w) in &want {
            let o = &out[k];
            assert_eq!(o.shape(), w.shape(), "{k}");
            for (a, b) in o.data().iter().zip(w.data()) {
                assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{k}: {a} vs {b}");
            }
        }
    }
    Ok(())
}

fn samples(seed: u64, shapes: &[&[usize]]) -> Vec<Vec<Tensor>> {
    let mut r = rng(seed);
    (0..BATCH)
        .map(|_| {
            shapes
                .iter()
                .map(|s| rand_tensor(&mut r, s, -1.0, 1.0))
                .collect()
        })
        .collect()
}

fn node_cases() -> Vec<(Node, Vec<Vec<usize>>)> {
    let mut r = rng(40);
    vec![
        (
            DenseConfig { d_in: 6, d_out: 4 }.init(&mut r).into(),
            vec![vec![2, 3]],
        ),
        (
            CrossCorrelationConfig {
                kernel: vec![3, 2],
                stride: vec![2, 2],
            }
            .init(&mut r)
            .into(),
            vec![vec![7, 6]],
        ),
        (
            AvgPool {
                kernel: vec![2, 2],
                stride: vec![1, 2],
            }
            .into(),
            vec![vec![4, 4]],
        ),
        (
            RnnConfig {
                d_in: 2,
                hidden: 3,
                steps: 3,
            }
            .init(&mut r)
            .into(),
            vec![vec![3, 2]],
        ),
        (Relu::new(4.0).unwrap().into(), vec![vec![5]]),
        (Sigmoid {}.into(), vec![vec![5]]),
        (Square {}.into(), vec![vec![5]]),
        (
            Linear {
                m: Tensor::scalar(0.7),
                c: Tensor::scalar(0.1),
            }
            .into(),
            vec![vec![5]],
        ),
        (Sum {}.into(), vec![vec![2, 3]]),
        (Enqueue { length: 3 }.into(), vec![vec![2]; 3]),
        (Dequeue { length: 3 }.into(), vec![vec![3, 2]]),
        (Encrypt {}.into(), vec![vec![4]]),
        (Io {}.into(), vec![vec![4]]),
        (Rotate {}.into(), vec![vec![4]]),
    ]
}

#[test]
fn every_node_encrypted_on_plain_equals_plain_path() -> TestResult {
    for (k, (node, shapes)) in node_cases().into_iter().enumerate() {
        let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
        let g = single(node, &refs)?;
        compare(&g, &samples(50 + k as u64, &refs), &[])?;
    }
    Ok(())
}

#[test]
fn every_node_consumes_its_declared_depth_on_sim() -> TestResult {
    for (node, shapes) in node_cases() {
        let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
        let declared = node.cost().depth;
        let kind = node.kind();
        let g = single(node, &refs)?;
        let p = fhez_nn::plan(&g, 4, 30)?;
        let measured = p
            .nodes
            .iter()
            .find(|n| n.name == "node")
            .map_or(0, |n| n.consumed);
        let expected = if kind == "rotate" { 0 } else { declared };
        assert_eq!(measured, expected, "{kind}");
        assert!(
            p.rotation_steps.is_empty(),
            "{kind}: batch-in-slots needs no rotation"
        );
    }
    Ok(())
}

#[test]
fn prefabs_encrypted_on_plain_equal_plain_path() -> TestResult {
    let mut r = rng(41);
    let cls = prefab::cnn_classifier(10, 1)?;
    let s: Vec<Vec<Tensor>> = (0..BATCH)
        .map(|b| {
            vec![
                rand_tensor(&mut r, &[28, 28], 0.0, 1.0),
                Tensor::scalar(b as f64),
            ]
        })
        .collect();
    compare(&cls, &s, &[1])?;
    let reg = prefab::cnn_regressor((20, 7), 5, 3, 2)?;
    let s: Vec<Vec<Tensor>> = (0..BATCH)
        .map(|_| {
            vec![
                rand_tensor(&mut r, &[20, 7], 0.0, 1.0),
                rand_tensor(&mut r, &[1], 0.0, 1.0),
            ]
        })
        .collect();
    compare(&reg, &s, &[1])?;
    let basic = prefab::basic(3)?;
    compare(&basic, &samples(42, &[&[1], &[1], &[1]]), &[])?;
    Ok(())
}

#[test]
fn server_runs_without_decrypt_on_sim_and_levels_are_exact() -> TestResult {
    let g = prefab::cnn_classifier(10, 4)?;
    let sim = Sim::new(SimConfig::planning(8, 6, 40.0))?;
    let x = Erray::encrypt(
        &sim,
        &fhez_erray::PlainArray::full(vec![4, 28, 28], 0.5)?,
        Packing::BatchInSlots { batch: 4 },
    )?;
    let mut refresh = |x: &Erray<Sim>| -> fhez_nn::Result<Erray<Sim>> { Ok(x.clone()) };
    let run = g.forward_enc(&[("x", x)], &mut refresh)?;
    assert_eq!(run.boundary.len(), 1);
    assert_eq!(run.boundary[0].0, g.id("Decrypt")?);
    assert_eq!(run.boundary[0].1.level(), 0, "depth 6 uses all 6 levels");
    let consumed: Vec<u32> = ["CC", "CNN-RELU", "Dense", "Dense-RELU"]
        .iter()
        .map(|n| run.levels[g.id(n).unwrap()].unwrap().consumed())
        .collect();
    assert_eq!(consumed, vec![1, 2, 1, 2]);
    Ok(())
}

/// Owned copy of a [`NodeEvent`]: `(after?, id, level)` — the input level before a node,
/// its output level after it.
fn record(events: &mut Vec<(bool, usize, u32)>) -> impl FnMut(NodeEvent<'_>) + '_ {
    |e| match e {
        NodeEvent::Before {
            id, input_level, ..
        } => events.push((false, id, input_level)),
        NodeEvent::After { id, levels, .. } => events.push((true, id, levels.output)),
    }
}

#[test]
fn hook_sees_every_evaluated_node_in_order_with_the_run_levels() -> TestResult {
    let g = prefab::cnn_classifier(10, 4)?;
    let sim = Sim::new(SimConfig::planning(8, 6, 40.0))?;
    let x = Erray::encrypt(
        &sim,
        &fhez_erray::PlainArray::full(vec![4, 28, 28], 0.5)?,
        Packing::BatchInSlots { batch: 4 },
    )?;
    let mut refresh = |x: &Erray<Sim>| -> fhez_nn::Result<Erray<Sim>> { Ok(x.clone()) };
    let want = g.forward_enc(&[("x", x.clone())], &mut refresh)?;
    let mut events = Vec::new();
    let mut afters = Vec::new();
    let run = g.forward_enc_with_hook(&[("x", x)], &mut refresh, &mut |e| {
        if let NodeEvent::After {
            id,
            name,
            kind,
            levels,
            cts_out,
        } = e
        {
            afters.push((id, name.to_owned(), kind, levels, cts_out));
        }
        record(&mut events)(e);
    })?;
    assert_eq!(run.levels, want.levels);
    assert_eq!(run.boundary.len(), want.boundary.len());
    assert_eq!(run.boundary[0].1.level(), want.boundary[0].1.level());
    // Before/After pairs, one per node evaluated on ciphertexts, in topological order.
    let evaluated: Vec<usize> = g
        .order()
        .iter()
        .copied()
        .filter(|&id| run.levels[id].is_some())
        .collect();
    let names: Vec<&str> = evaluated.iter().map(|&id| g.name(id)).collect();
    assert_eq!(names, ["CC", "CNN-RELU", "Dense", "Dense-RELU"]);
    assert_eq!(events.len(), 2 * evaluated.len());
    for (pair, &id) in events.chunks(2).zip(&evaluated) {
        let levels = run.levels[id].unwrap();
        assert_eq!(pair[0], (false, id, levels.input), "{}", g.name(id));
        assert_eq!(pair[1], (true, id, levels.output), "{}", g.name(id));
    }
    for (id, name, kind, levels, cts_out) in &afters {
        assert_eq!(name, g.name(*id));
        assert_eq!(*kind, g.node(*id).unwrap().kind());
        assert_eq!(Some(*levels), run.levels[*id]);
        assert!(*cts_out > 0, "{name}");
    }
    Ok(())
}

#[test]
fn hook_sees_a_failing_node_before_but_not_after() -> TestResult {
    let g = prefab::cnn_classifier(10, 5)?;
    let backend = Plain::new(8).with_max_level(4); // Dense-RELU needs 2 with 0 left
    let x = Erray::encrypt(
        &backend,
        &fhez_erray::PlainArray::full(vec![2, 28, 28], 0.1)?,
        Packing::BatchInSlots { batch: 2 },
    )?;
    let mut refresh = |x: &Erray<Plain>| -> fhez_nn::Result<Erray<Plain>> { Ok(x.clone()) };
    let mut events = Vec::new();
    let err = g
        .forward_enc_with_hook(&[("x", x)], &mut refresh, &mut record(&mut events))
        .unwrap_err();
    assert!(
        matches!(&err, Error::DepthExhausted { node, .. } if node == "Dense-RELU"),
        "{err:?}"
    );
    let failing = g.id("Dense-RELU")?;
    assert_eq!(events.last(), Some(&(false, failing, 0)));
    assert!(!events.iter().any(|&(after, id, _)| after && id == failing));
    Ok(())
}

#[test]
fn depth_failure_names_the_node_and_what_it_needed() -> TestResult {
    let g = prefab::cnn_classifier(10, 5)?;
    let backend = Plain::new(8).with_max_level(4); // CC 1 + ReLU 2 + Dense 1 = 4, then ReLU needs 2
    let x = fhez_erray::PlainArray::full(vec![2, 28, 28], 0.1)?;
    let err = g.infer_encrypted(&backend, &[("x", x)], &[]).unwrap_err();
    match &err {
        Error::DepthExhausted {
            node,
            needed,
            available,
            ..
        } => {
            assert_eq!(node, "Dense-RELU");
            assert_eq!((*needed, *available), (2, 0));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "node `Dense-RELU` (relu) needs 2 multiplicative level(s) but its input has 0 left"
    );
    Ok(())
}

#[test]
fn client_only_node_on_ciphertexts_is_named() -> TestResult {
    let g = single(Softmax {}, &[&[3]])?;
    let x = fhez_erray::PlainArray::full(vec![2, 3], 0.1)?;
    let err = g
        .infer_encrypted(&Plain::new(8), &[("in0", x)], &[])
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotEncryptable { node, kind } if node == "node" && *kind == "softmax"),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn shape_failure_names_the_node() {
    let mut b = fhez_nn::GraphBuilder::new();
    let x = b.add("x", fhez_nn::nodes::Input::new(&[5])).unwrap();
    let d = b
        .add(
            "dense-1",
            DenseConfig { d_in: 4, d_out: 2 }.init(&mut rng(1)),
        )
        .unwrap();
    b.chain(&[x, d]).unwrap();
    let err = b.build().unwrap_err();
    assert!(
        matches!(&err, Error::AtNode { node, kind, .. } if node == "dense-1" && *kind == "dense"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "node `dense-1` (dense): shape mismatch in dense input (flattened size must equal d_in): expected [4], found [5]"
    );
}

/// `x → Dense(8→6) → Square → Dense(6→4) → Square → Dense(4→3) → Decrypt` (the CNN bench's
/// shape), plus an extra consumer of the second square when `branch` is set.
fn square_dense_chain(branch: bool) -> fhez_nn::Result<Graph> {
    use fhez_nn::GraphBuilder;
    use fhez_nn::nodes::{Decrypt, Input};
    let mut r = rng(43);
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[8]))?;
    let d1 = g.add("d1", DenseConfig { d_in: 8, d_out: 6 }.init(&mut r))?;
    let s1 = g.add("s1", Square {})?;
    let d2 = g.add("d2", DenseConfig { d_in: 6, d_out: 4 }.init(&mut r))?;
    let s2 = g.add("s2", Square {})?;
    let d3 = g.add("d3", DenseConfig { d_in: 4, d_out: 3 }.init(&mut r))?;
    let out = g.add("out", Decrypt {})?;
    g.chain(&[x, d1, s1, d2, s2, d3, out])?;
    if branch {
        let extra = g.add("extra", Decrypt {})?;
        g.connect(s2, extra)?;
    }
    g.build()
}

/// A square feeding only a dense layer is folded into it (lazy relinearization): values equal
/// the plain path, levels are those of the unfolded nodes, and the key switches move from the
/// square (one per input) to the layer (one per output).
#[test]
fn square_into_dense_defers_relinearization() -> TestResult {
    for branch in [false, true] {
        let g = square_dense_chain(branch)?;
        compare(&g, &samples(44, &[&[8]]), &[])?;
        let sim = Sim::new(SimConfig::planning(8, 6, 40.0))?;
        let x = Erray::encrypt(
            &sim,
            &fhez_erray::PlainArray::full(vec![BATCH, 8], 0.5)?,
            Packing::BatchInSlots { batch: BATCH },
        )?;
        let mut refresh = |x: &Erray<Sim>| -> fhez_nn::Result<Erray<Sim>> { Ok(x.clone()) };
        let run = g.forward_enc(&[("x", x)], &mut refresh)?;
        let per_node = |n: &str| {
            let l = run.levels[g.id(n).unwrap()].unwrap();
            (l.consumed(), l.key_switches)
        };
        let got: Vec<(u32, u64)> = ["d1", "s1", "d2", "s2", "d3"]
            .iter()
            .map(|n| per_node(n))
            .collect();
        // s1 always feeds only d2; s2 also feeds `extra` when branched, so it is evaluated.
        let s2 = if branch { (1, 4) } else { (1, 0) };
        let d3 = if branch { (1, 0) } else { (1, 3) };
        assert_eq!(got, vec![(1, 0), (1, 0), (1, 4), s2, d3], "branch {branch}");
        assert!(g.defers_square(g.id("s1")?));
        assert_eq!(g.defers_square(g.id("s2")?), !branch);
        assert_eq!(run.boundary[0].1.level(), 1);
    }
    Ok(())
}
