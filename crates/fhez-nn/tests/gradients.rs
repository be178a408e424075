//! Finite-difference checks (central differences, h = 1e-5, relative tolerance 1e-6) for
//! every node, loss and prefab, plus the three places the original got gradients wrong.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::wildcard_enum_match_arm,
    reason = "test code"
)]

mod common;

use common::{H, check_graph, check_node, close, rand_tensor, rng, uniform};
use fhez_nn::loss::{CategoricalCrossEntropy, Mae, Mse};
use fhez_nn::nodes::{
    Argmax, AvgPool, CrossCorrelation, CrossCorrelationConfig, Decrypt, DenseConfig, Dequeue,
    Encrypt, Enqueue, Io, Linear, OneHotDecode, OneHotEncode, Relu, RnnConfig, Rotate, Sigmoid,
    Softmax, Sum,
};
use fhez_nn::{Node, Result, Tensor, prefab};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn check(node: impl Into<Node>, inputs: Vec<Tensor>) -> Result<usize> {
    check_node(node.into(), inputs, 99)
}

#[test]
fn dense_gradients() -> TestResult {
    let mut r = rng(1);
    let node = DenseConfig { d_in: 6, d_out: 4 }.init(&mut r);
    let x = rand_tensor(&mut r, &[2, 3], -1.0, 1.0);
    assert_eq!(check(node, vec![x])?, 6 + 24 + 4);
    Ok(())
}

#[test]
fn cc_gradients_2d_and_3d_with_stride() -> TestResult {
    let mut r = rng(2);
    let mut cc = CrossCorrelationConfig {
        kernel: vec![3, 2],
        stride: vec![2, 2],
    }
    .init(&mut r);
    cc.bias = Tensor::scalar(0.3);
    check(cc, vec![rand_tensor(&mut r, &[7, 6], -1.0, 1.0)])?;
    let cc3 = CrossCorrelationConfig {
        kernel: vec![2, 3, 2],
        stride: vec![1, 2, 1],
    }
    .init(&mut r);
    check(cc3, vec![rand_tensor(&mut r, &[3, 5, 2], -1.0, 1.0)])?;
    Ok(())
}

#[test]
fn pooling_and_sum_gradients() -> TestResult {
    let mut r = rng(3);
    let pool = AvgPool {
        kernel: vec![2, 2],
        stride: vec![2, 1],
    };
    check(pool, vec![rand_tensor(&mut r, &[5, 4], -1.0, 1.0)])?;
    check(Sum {}, vec![rand_tensor(&mut r, &[3, 2], -1.0, 1.0)])?;
    Ok(())
}

#[test]
fn rnn_backpropagation_through_time() -> TestResult {
    let mut r = rng(4);
    let rnn = RnnConfig {
        d_in: 2,
        hidden: 3,
        steps: 4,
    }
    .init(&mut r);
    let n = check(rnn, vec![rand_tensor(&mut r, &[4, 2], -1.0, 1.0)])?;
    assert_eq!(n, 8 + 6 + 9 + 3);
    Ok(())
}

#[test]
fn activation_gradients() -> TestResult {
    let mut r = rng(5);
    let x = rand_tensor(&mut r, &[5], -2.0, 2.0);
    check(Relu::new(3.0)?, vec![x.clone()])?;
    check(Sigmoid {}, vec![x.clone()])?;
    let lin = Linear {
        m: Tensor::scalar(0.7),
        c: Tensor::scalar(0.2),
    };
    check(lin, vec![x.clone()])?;
    check(Softmax {}, vec![x.clone()])?;
    check(Argmax {}, vec![Tensor::from_vec(vec![0.1, 0.9, -0.3])])?;
    Ok(())
}

#[test]
fn loss_gradients() -> TestResult {
    let mut r = rng(6);
    let y_hat = rand_tensor(&mut r, &[4], 0.1, 0.9);
    let y = rand_tensor(&mut r, &[4], 0.0, 1.0);
    check(CategoricalCrossEntropy {}, vec![y_hat.clone(), y.clone()])?;
    check(Mse {}, vec![y_hat.clone(), y.clone()])?;
    // MAE: keep |ŷ − y| well above h so the kink is not crossed.
    let y_far = y_hat.map(|v| v + 0.25);
    check(Mae {}, vec![y_hat, y_far])?;
    Ok(())
}

#[test]
fn operation_gradients() -> TestResult {
    let mut r = rng(7);
    let parts: Vec<Tensor> = (0..3)
        .map(|_| rand_tensor(&mut r, &[2], -1.0, 1.0))
        .collect();
    check(Enqueue { length: 3 }, parts)?;
    check(
        Dequeue { length: 3 },
        vec![rand_tensor(&mut r, &[3, 2], -1.0, 1.0)],
    )?;
    check(OneHotEncode { length: 4 }, vec![Tensor::scalar(2.0)])?;
    check(OneHotDecode {}, vec![Tensor::from_vec(vec![0.1, 0.7, 0.2])])?;
    for node in [
        Node::from(Encrypt {}),
        Decrypt {}.into(),
        Rotate {}.into(),
        Io {}.into(),
    ] {
        check_node(node, vec![rand_tensor(&mut r, &[3], -1.0, 1.0)], 1)?;
    }
    Ok(())
}

#[test]
fn cnn_classifier_end_to_end_gradients() -> TestResult {
    let mut g = prefab::cnn_classifier(10, 11)?;
    let mut r = rng(8);
    let sample = vec![
        rand_tensor(&mut r, &[28, 28], 0.0, 1.0),
        Tensor::scalar(3.0),
    ];
    let n = check_graph(&mut g, &sample)?;
    assert!(n > 784 + 36 + 370, "checked {n}");
    Ok(())
}

#[test]
fn cnn_regressor_end_to_end_gradients() -> TestResult {
    let mut g = prefab::cnn_regressor((20, 7), 5, 3, 12)?;
    let mut r = rng(9);
    let sample = vec![
        rand_tensor(&mut r, &[20, 7], 0.0, 1.0),
        Tensor::from_vec(vec![0.4]),
    ];
    check_graph(&mut g, &sample)?;
    Ok(())
}

#[test]
fn basic_end_to_end_gradients_through_fan_in_and_rotate() -> TestResult {
    let g = prefab::basic(13)?;
    let mut r = rng(10);
    let sample: Vec<Tensor> = (0..3)
        .map(|_| rand_tensor(&mut r, &[1], -1.0, 1.0))
        .collect();
    let (d0, d1) = (g.id("d_0")?, g.id("d_1")?);
    let (c0, c1) = (uniform(&mut r, -1.0, 1.0), uniform(&mut r, -1.0, 1.0));
    let objective = |g: &fhez_nn::Graph, xs: &[Tensor]| -> Result<f64> {
        let seeds: Vec<_> = g.inputs().into_iter().zip(xs.iter().cloned()).collect();
        let mut tape = fhez_nn::Tape::new(g);
        g.stimulate(&seeds, &mut tape)?;
        let out = g.harvest(&tape);
        Ok(c0 * out["d_0"].item() + c1 * out["d_1"].item())
    };
    let seeds: Vec<_> = g.inputs().into_iter().zip(sample.iter().cloned()).collect();
    let mut tape = fhez_nn::Tape::new(&g);
    g.stimulate(&seeds, &mut tape)?;
    let grads = g.correction(
        &tape,
        &[
            (d0, Tensor::from_vec(vec![c0])),
            (d1, Tensor::from_vec(vec![c1])),
        ],
    )?;
    for (i, &id) in g.inputs().iter().enumerate() {
        let mut xs = sample.clone();
        let orig = xs[i].data()[0];
        xs[i].data_mut()[0] = orig + H;
        let plus = objective(&g, &xs)?;
        xs[i].data_mut()[0] = orig - H;
        let minus = objective(&g, &xs)?;
        let numeric = (plus - minus) / (2.0 * H);
        let analytic = grads.input(id).unwrap().item();
        assert!(
            close(analytic, numeric),
            "{}: {analytic} vs {numeric}",
            g.name(id)
        );
    }
    Ok(())
}

// ---- Where the original was wrong ----

/// The original CC: per window `t_i = primer_i ⊙ x + b` (bias broadcast to all `N`
/// elements), then `Sum`, so `s_i = Σ_window w·x + N·b`; the CC received the sum of the
/// per-window gradients broadcast to `x`'s shape and returned `dfdb = W·Σ(g)`.
#[test]
fn original_cc_bias_gradient_disagrees_with_finite_differences() -> TestResult {
    let mut r = rng(20);
    let x = rand_tensor(&mut r, &[4, 4, 3], 0.0, 1.0);
    let mut cc = CrossCorrelationConfig {
        kernel: vec![3, 3, 3],
        stride: vec![1, 1, 1],
    }
    .init(&mut r);
    let windows = 4.0;
    let n = x.len() as f64;
    let c = rand_tensor(&mut r, &[2, 2, 1], 0.5, 1.0); // upstream per-window gradients
    let original_objective = |b: f64, cc: &CrossCorrelation| -> Result<f64> {
        let mut shifted = cc.clone();
        shifted.bias = Tensor::scalar(0.0);
        let s = Node::from(shifted).forward(&[&x])?.outputs.remove(0);
        Ok(s.data()
            .iter()
            .zip(c.data())
            .map(|(si, ci)| ci * (si + n * b))
            .sum())
    };
    let b0 = 0.1;
    let fd = (original_objective(b0 + H, &cc)? - original_objective(b0 - H, &cc)?) / (2.0 * H);
    let g_at_cc = c.sum(); // Dequeue backward summed the broadcast per-window gradients
    let original_dfdb = windows * (g_at_cc * n);
    assert!(
        close(n * c.sum(), fd),
        "the original's forward has dL/db = N·Σc"
    );
    assert!(
        !close(original_dfdb, fd),
        "original {original_dfdb} vs FD {fd}"
    );
    // fhez: bias once per window; dfdb = Σ_o g[o], confirmed by finite differences.
    cc.bias = Tensor::scalar(b0);
    let checked = check_node(cc.into(), vec![x.clone()], 21)?;
    assert_eq!(checked, 48 + 27 + 1);
    Ok(())
}

/// The original kept `dR/dq` per element (`1/(3π) − 4x²/(3πq²)`, not reduced), so a scalar
/// `q` became a vector after the first update.
#[test]
fn original_relu_q_gradient_is_not_reduced() -> TestResult {
    assert!((Relu::local_dfdx(5.0, 2.0) - 2.622).abs() < 1.5e-3);
    assert!((Relu::local_dfdq(5.0, 2.0) + 2.546).abs() < 1.5e-3);
    let mut r = rng(22);
    let x = rand_tensor(&mut r, &[6], -2.0, 2.0);
    let c = rand_tensor(&mut r, &[6], -1.0, 1.0);
    let q = 3.0;
    let objective = |q: f64| -> Result<f64> {
        let y = Node::from(Relu::new(q)?).forward(&[&x])?.outputs.remove(0);
        Ok(y.data().iter().zip(c.data()).map(|(a, b)| a * b).sum())
    };
    let fd = (objective(q + H)? - objective(q - H)?) / (2.0 * H);
    let original = x.zip_map(&c, |xv, cv| cv * Relu::local_dfdq(xv, q))?;
    assert_eq!(
        original.shape(),
        &[6],
        "the original's q gradient has x's shape"
    );
    assert!(original.data().iter().all(|&g| !close(g, fd)));
    let relu = Node::from(Relu::new(q)?);
    let f = relu.forward(&[&x])?;
    let ours = relu
        .backward(std::slice::from_ref(&c), &f.cache)?
        .params
        .remove(0);
    assert_eq!(ours.shape(), &[] as &[usize]);
    assert!(close(ours.item(), fd), "ours {} vs FD {fd}", ours.item());
    Ok(())
}

/// The original's `train` fed each terminal's forward output back as its incoming gradient,
/// so the loss *value* `L` seeded backward instead of 1 and every gradient was scaled by `L`.
#[test]
fn original_loss_seeding_scales_gradients_by_the_loss() -> TestResult {
    let mut g = prefab::cnn_regressor((20, 7), 5, 3, 23)?;
    let mut r = rng(24);
    let sample = vec![
        rand_tensor(&mut r, &[20, 7], 0.0, 1.0),
        Tensor::from_vec(vec![2.0]),
    ];
    let (loss, ours) = g.loss_and_grads(&sample)?;
    assert!(
        (loss - 1.0).abs() > 0.1,
        "need L ≠ 1 to tell the seeds apart (L = {loss})"
    );
    let dense = g.id("Dense")?;
    let seeds: Vec<_> = g.inputs().into_iter().zip(sample.iter().cloned()).collect();
    let mut tape = fhez_nn::Tape::new(&g);
    g.stimulate(&seeds, &mut tape)?;
    let original = g.correction(&tape, &[(g.id("MSE")?, Tensor::scalar(loss))])?;
    let k = 2;
    let orig = g.params_mut(dense)[0].data()[k];
    g.params_mut(dense)[0].data_mut()[k] = orig + H;
    let plus = g.loss_and_grads(&sample)?.0;
    g.params_mut(dense)[0].data_mut()[k] = orig - H;
    let minus = g.loss_and_grads(&sample)?.0;
    g.params_mut(dense)[0].data_mut()[k] = orig;
    let fd = (plus - minus) / (2.0 * H);
    let theirs = original.params[dense][0].data()[k];
    assert!(close(ours.params[dense][0].data()[k], fd));
    assert!(!close(theirs, fd), "original {theirs} vs FD {fd}");
    assert!(close(theirs, loss * fd));
    Ok(())
}

// ---- Known answers from the original's test suite ----

#[test]
fn original_known_answers() -> TestResult {
    let sig = Node::from(Sigmoid {});
    let y = sig
        .forward(&[&Tensor::from_vec(vec![1.0, -1.0, 0.7])])?
        .outputs
        .remove(0);
    for (a, b) in y.data().iter().zip([0.693, 0.307, 0.637]) {
        assert!((a - b).abs() < 1.5e-3);
    }
    let soft = Node::from(Softmax {});
    let f = soft.forward(&[&Tensor::from_vec(vec![1.42, -0.4, 0.23])])?;
    for (a, b) in f.outputs[0].data().iter().zip([0.682, 0.111, 0.207]) {
        assert!((a - b).abs() < 1.5e-3);
    }
    let back = soft.backward(&[Tensor::from_vec(vec![1.0, 0.0, 0.0])], &f.cache)?;
    for (a, b) in back.inputs[0].data().iter().zip([0.217, -0.075, -0.142]) {
        assert!((a - b).abs() < 1.5e-3);
    }
    // cc_test: ones (4,4,3), filter ones/2, bias 0.5, unit stride → 4 windows.
    let cc = Node::from(CrossCorrelation {
        kernel: vec![3, 3, 3],
        stride: vec![1, 1, 1],
        weights: Tensor::from_fn(&[3, 3, 3], |_| 0.5),
        bias: Tensor::scalar(0.5),
    });
    let ones = Tensor::from_fn(&[4, 4, 3], |_| 1.0);
    let f = cc.forward(&[&ones])?;
    assert_eq!(f.outputs[0].data(), &[14.0; 4]); // 27·0.5 + 0.5 per window
    let back = cc.backward(&[Tensor::from_fn(&[2, 2, 1], |_| 1.0)], &f.cache)?;
    assert!(back.params[0].data().iter().all(|&v| v == 4.0)); // dfdw = 4 everywhere
    let plane = [
        0.5, 1., 1., 0.5, 1., 2., 2., 1., 1., 2., 2., 1., 0.5, 1., 1., 0.5,
    ];
    for (k, &v) in back.inputs[0].data().iter().enumerate() {
        assert!((v - plane[k / 3]).abs() < 1e-12, "dfdx[{k}]");
    }
    assert_eq!(back.params[1].item(), 4.0); // one bias per window: Σ g = 4
    // CCE: y = [0.99], ŷ = [0.82] → 0.196.
    let cce = Node::from(CategoricalCrossEntropy {});
    let l = cce.forward(&[&Tensor::from_vec(vec![0.82]), &Tensor::from_vec(vec![0.99])])?;
    assert!((l.outputs[0].item() - 0.196).abs() < 1.5e-3);
    // MSE: ŷ = [1, 3], y = [6, 6] → 17.
    let mse = Node::from(Mse {});
    let l = mse.forward(&[
        &Tensor::from_vec(vec![1.0, 3.0]),
        &Tensor::from_vec(vec![6.0, 6.0]),
    ])?;
    assert_eq!(l.outputs[0].item(), 17.0);
    Ok(())
}
