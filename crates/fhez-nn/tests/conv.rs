//! The multi-channel `conv` node and the `poly` activation: a direct-loop oracle with zero
//! padding and stride, finite-difference gradients, and encrypted forward passes in both
//! packings (batch-in-slots and single-input) equal to the plaintext forward on `Plain`
//! (1e-9) with `Sim` mirroring the levels.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    reason = "test code"
)]

mod common;

use common::{check_node, rand_tensor, rng, single};
use fhez_backend::{Backend, Plain, Sim, SimConfig};
use fhez_erray::{Erray, Packing, PlainArray};
use fhez_nn::nodes::{AvgPool, Conv, Decrypt, DenseConfig, Input, Poly, Reshape};
use fhez_nn::{Error, Graph, GraphBuilder, Node, Tensor};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn conv(
    r: &mut rand_chacha::ChaCha20Rng,
    shape: &[usize],
    stride: &[usize],
    pad: &[usize],
) -> Conv {
    Conv {
        stride: stride.to_vec(),
        padding: pad.to_vec(),
        weights: rand_tensor(r, shape, -0.5, 0.5),
        bias: rand_tensor(r, &shape[..1], -0.2, 0.2),
    }
}

/// 2-d cross-correlation with zero padding by four nested loops over `(f, oy, ox)` and
/// `(c, ky, kx)`, reading the padded input explicitly.
fn oracle_2d(x: &Tensor, c: &Conv) -> Vec<f64> {
    let (ch, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let ws = c.weights.shape();
    let (f_n, kh, kw) = (ws[0], ws[2], ws[3]);
    let (sy, sx, py, px) = (c.stride[0], c.stride[1], c.padding[0], c.padding[1]);
    let (hp, wp) = (h + 2 * py, w + 2 * px);
    let mut padded = vec![0.0; ch * hp * wp];
    for ci in 0..ch {
        for y in 0..h {
            for xx in 0..w {
                padded[(ci * hp + y + py) * wp + xx + px] = x.data()[(ci * h + y) * w + xx];
            }
        }
    }
    let (oh, ow) = ((hp - kh) / sy + 1, (wp - kw) / sx + 1);
    let mut out = Vec::new();
    for f in 0..f_n {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut s = c.bias.data()[f];
                for ci in 0..ch {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            s += c.weights.data()[((f * ch + ci) * kh + ky) * kw + kx]
                                * padded[(ci * hp + oy * sy + ky) * wp + ox * sx + kx];
                        }
                    }
                }
                out.push(s);
            }
        }
    }
    out
}

#[test]
fn conv_matches_a_direct_loop_oracle_with_padding_and_stride() -> TestResult {
    let mut r = rng(31);
    for (stride, pad, hw) in [
        ([1, 1], [1, 1], (5, 6)),
        ([2, 1], [0, 2], (7, 5)),
        ([2, 2], [1, 0], (6, 6)),
    ] {
        let c = conv(&mut r, &[4, 3, 3, 3], &stride, &pad);
        let x = rand_tensor(&mut r, &[3, hw.0, hw.1], -1.0, 1.0);
        let got = Node::from(c.clone()).forward(&[&x])?;
        let want = oracle_2d(&x, &c);
        let y = &got.outputs[0];
        assert_eq!(y.len(), want.len());
        assert_eq!(y.shape()[0], 4);
        for (a, b) in y.data().iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
    Ok(())
}

#[test]
fn conv_and_poly_gradients() -> TestResult {
    let mut r = rng(32);
    let c = conv(&mut r, &[3, 2, 3, 2], &[2, 1], &[1, 1]);
    let n = check_node(
        c.into(),
        vec![rand_tensor(&mut r, &[2, 5, 4], -1.0, 1.0)],
        7,
    )?;
    assert_eq!(n, 2 * 5 * 4 + 3 * 2 * 3 * 2 + 3);
    let c1 = conv(&mut r, &[2, 1, 3], &[1], &[2]);
    check_node(c1.into(), vec![rand_tensor(&mut r, &[1, 6], -1.0, 1.0)], 8)?;
    let p = Poly {
        coeffs: vec![0.1, 0.5, 0.25, -0.03, 0.002],
    };
    check_node(p.into(), vec![rand_tensor(&mut r, &[7], -3.0, 3.0)], 9)?;
    let flat = Reshape { shape: vec![6] };
    check_node(
        flat.into(),
        vec![rand_tensor(&mut r, &[2, 3], -1.0, 1.0)],
        10,
    )?;
    Ok(())
}

#[test]
fn conv_config_errors_name_the_problem() -> TestResult {
    let mut r = rng(33);
    let mut c = conv(&mut r, &[2, 1, 3, 3], &[1, 1], &[3, 0]);
    assert!(matches!(
        c.clone().validate_node(),
        Err(Error::InvalidConfig {
            field: "conv padding",
            ..
        })
    ));
    c.padding = vec![1, 1];
    c.bias = Tensor::zeros(&[3]);
    assert!(matches!(
        c.validate_node(),
        Err(Error::WeightShape { param: "bias", .. })
    ));
    let c2 = conv(&mut r, &[2, 3, 3, 3], &[1, 1], &[0, 0]);
    let wrong_channels = single(c2, &[&[2, 5, 5]]);
    assert!(
        matches!(
            wrong_channels,
            Err(Error::ShapeMismatch { .. }) | Err(Error::AtNode { .. })
        ),
        "{wrong_channels:?}"
    );
    Ok(())
}

trait ValidateNode {
    fn validate_node(self) -> fhez_nn::Result<()>;
}

impl ValidateNode for Conv {
    fn validate_node(self) -> fhez_nn::Result<()> {
        Node::from(self).validate("c")
    }
}

/// `x (2, 6, 6)` → conv(3 filters, 3×3, pad 1) → poly(deg 2) → avg_pool(1×2×2) →
/// conv(4 filters, 2×2, stride 1) → poly(deg 3) → reshape(16) → dense(16 → 3) → decrypt.
fn net() -> fhez_nn::Result<Graph> {
    let mut r = rng(34);
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[2, 6, 6]))?;
    let c1 = g.add("conv1", conv(&mut r, &[3, 2, 3, 3], &[1, 1], &[1, 1]))?;
    let a1 = g.add(
        "act1",
        Poly {
            coeffs: vec![0.1, 0.5, 0.3],
        },
    )?;
    let pool = g.add(
        "pool",
        AvgPool {
            kernel: vec![1, 2, 2],
            stride: vec![1, 2, 2],
        },
    )?;
    let c2 = g.add("conv2", conv(&mut r, &[4, 3, 2, 2], &[1, 1], &[0, 0]))?;
    let a2 = g.add(
        "act2",
        Poly {
            coeffs: vec![0.0, 0.6, 0.1, -0.02],
        },
    )?;
    let flat = g.add("flat", Reshape { shape: vec![16] })?;
    let d = g.add("dense", DenseConfig { d_in: 16, d_out: 3 }.init(&mut r))?;
    let dec = g.add("dec", Decrypt {})?;
    g.chain(&[x, c1, a1, pool, c2, a2, flat, d, dec])?;
    g.build()
}

fn run<B: Backend>(g: &Graph, e: Erray<B>) -> fhez_nn::Result<(Erray<B>, Vec<u32>)> {
    let mut refresh = |e: &Erray<B>| -> fhez_nn::Result<Erray<B>> { Ok(e.clone()) };
    let out = g.forward_enc(&[("x", e)], &mut refresh)?;
    let consumed = ["conv1", "act1", "pool", "conv2", "act2", "flat", "dense"]
        .map(|n| out.levels[g.id(n).unwrap()].unwrap().consumed())
        .to_vec();
    let (_, y) = &out.boundary[0];
    Ok((y.clone(), consumed))
}

#[test]
fn single_input_conv_net_equals_the_plain_forward_and_sim_mirrors_it() -> TestResult {
    let g = net()?;
    let x = rand_tensor(&mut rng(35), &[2, 6, 6], -1.0, 1.0);
    let want = g.infer(&[("x", x.clone())])?["dec"].data().to_vec();
    let data = PlainArray::new(vec![1, 2, 6, 6], x.data().to_vec())?;
    let plain = Plain::new(1024).with_max_level(12);
    let (y, levels) = run(
        &g,
        Erray::encrypt(&plain, &data, Packing::single_input(128))?,
    )?;
    let got = y.decrypt()?.data().to_vec();
    assert_eq!(got.len(), 3);
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // conv1 1; act1 (degree 2) folded into conv1: 1; pool 1; conv2 1; act2 (degree 3) 2;
    // reshape 0; dense 1.
    assert_eq!(levels, vec![1, 1, 1, 1, 2, 0, 1]);
    let sim = Sim::new(SimConfig::planning(1024, 12, 40.0))?;
    let (_, sim_levels) = run(&g, Erray::encrypt(&sim, &data, Packing::single_input(128))?)?;
    assert_eq!(sim_levels, levels);
    assert!(!sim.report().rotation_steps.is_empty());
    Ok(())
}

#[test]
fn batch_in_slots_conv_net_equals_the_plain_forward() -> TestResult {
    let g = net()?;
    let mut r = rng(36);
    let xs: Vec<Tensor> = (0..4)
        .map(|_| rand_tensor(&mut r, &[2, 6, 6], -1.0, 1.0))
        .collect();
    let batch = fhez_nn::stack(&xs)?;
    let plain = Plain::new(8).with_max_level(12);
    let (y, levels) = run(
        &g,
        Erray::encrypt(&plain, &batch, Packing::BatchInSlots { batch: 4 })?,
    )?;
    let got = y.decrypt()?.data().to_vec();
    for (s, x) in xs.iter().enumerate() {
        let want = g.infer(&[("x", x.clone())])?["dec"].data().to_vec();
        for (k, b) in want.iter().enumerate() {
            let a = got[s * 3 + k];
            assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
    assert_eq!(levels, vec![1, 2, 1, 1, 2, 0, 1]);
    let sim = Sim::new(SimConfig::planning(8, 12, 40.0))?;
    let (_, sim_levels) = run(
        &g,
        Erray::encrypt(&sim, &batch, Packing::BatchInSlots { batch: 4 })?,
    )?;
    assert_eq!(sim_levels, levels);
    // The planner accepts the graph in both packings.
    let p = fhez_nn::plan(&g, 4, 20)?;
    assert_eq!(p.depth, 8);
    Ok(())
}
