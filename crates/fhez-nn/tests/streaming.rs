//! The encrypted walk streams: on a backend that counts its live ciphertexts, the peak of
//! a run with the inputs handed over ([`Graph::forward_enc_owned`]) is bounded by the live
//! values of one node plus a chunk of polynomial temporaries, far below what holding every
//! input, or every temporary of a whole-array polynomial, would cost.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::rng;
use fhez_backend::{Backend, BackendKind, Caps, OpStats, Plain, PlainCt, Result};
use fhez_erray::{Erray, Packing, PlainArray};
use fhez_nn::nodes::{CrossCorrelationConfig, Decrypt, DenseConfig, Enqueue, Input, Relu, Reshape};
use fhez_nn::{Graph, GraphBuilder, Tensor};

/// Live and peak counts of a [`Counting`] backend's ciphertexts.
#[derive(Debug, Default)]
struct Tracker {
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl Tracker {
    fn born(&self) {
        let now = self.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }
}

/// A [`Plain`] ciphertext counted while alive. Clones share it (as CKKS ciphertexts share
/// their polynomials), so the count is of distinct ciphertexts, that is of memory.
#[derive(Clone, Debug)]
struct Counted(Arc<Body>);

#[derive(Debug)]
struct Body(PlainCt, Arc<Tracker>);

impl Counted {
    fn new(ct: PlainCt, t: &Arc<Tracker>) -> Self {
        t.born();
        Self(Arc::new(Body(ct, Arc::clone(t))))
    }

    fn ct(&self) -> &PlainCt {
        &self.0.0
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        self.1.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// [`Plain`] with counted ciphertexts.
#[derive(Clone, Debug)]
struct Counting(Plain, Arc<Tracker>);

impl Counting {
    fn wrap(&self, r: Result<PlainCt>) -> Result<Counted> {
        r.map(|c| Counted::new(c, &self.1))
    }
}

impl Backend for Counting {
    type Ct = Counted;
    type Pt = <Plain as Backend>::Pt;
    fn kind(&self) -> BackendKind {
        self.0.kind()
    }
    fn caps(&self) -> &Caps {
        self.0.caps()
    }
    fn encrypt(&self, values: &[f64]) -> Result<Counted> {
        self.wrap(self.0.encrypt(values))
    }
    fn add(&self, a: &Counted, b: &Counted) -> Result<Counted> {
        self.wrap(self.0.add(a.ct(), b.ct()))
    }
    fn sub(&self, a: &Counted, b: &Counted) -> Result<Counted> {
        self.wrap(self.0.sub(a.ct(), b.ct()))
    }
    fn neg(&self, a: &Counted) -> Result<Counted> {
        self.wrap(self.0.neg(a.ct()))
    }
    fn add_plain(&self, a: &Counted, b: &[f64]) -> Result<Counted> {
        self.wrap(self.0.add_plain(a.ct(), b))
    }
    fn sub_plain(&self, a: &Counted, b: &[f64]) -> Result<Counted> {
        self.wrap(self.0.sub_plain(a.ct(), b))
    }
    fn mul_plain(&self, a: &Counted, b: &[f64]) -> Result<Counted> {
        self.wrap(self.0.mul_plain(a.ct(), b))
    }
    fn encode_plain(&self, values: &[f64], level: u32) -> Result<Self::Pt> {
        self.0.encode_plain(values, level)
    }
    fn plain_level(&self, pt: &Self::Pt) -> u32 {
        self.0.plain_level(pt)
    }
    fn plain_bytes(&self, pt: &Self::Pt) -> usize {
        self.0.plain_bytes(pt)
    }
    fn mul_plain_sum(&self, terms: &[(&Counted, &Self::Pt)]) -> Result<Counted> {
        let inner: Vec<(&PlainCt, &Self::Pt)> = terms.iter().map(|(c, p)| (c.ct(), *p)).collect();
        self.wrap(self.0.mul_plain_sum(&inner))
    }
    fn add_scalar(&self, a: &Counted, s: f64) -> Result<Counted> {
        self.wrap(self.0.add_scalar(a.ct(), s))
    }
    fn mul_scalar(&self, a: &Counted, s: f64) -> Result<Counted> {
        self.wrap(self.0.mul_scalar(a.ct(), s))
    }
    fn mul(&self, a: &Counted, b: &Counted) -> Result<Counted> {
        self.wrap(self.0.mul(a.ct(), b.ct()))
    }
    fn linear_combination(&self, cts: &[&Counted], weights: &[f64]) -> Result<Counted> {
        let inner: Vec<&PlainCt> = cts.iter().map(|c| c.ct()).collect();
        self.wrap(self.0.linear_combination(&inner, weights))
    }
    fn linear_combinations(&self, cts: &[&Counted], rows: &[Vec<f64>]) -> Result<Vec<Counted>> {
        let inner: Vec<&PlainCt> = cts.iter().map(|c| c.ct()).collect();
        let out = self.0.linear_combinations(&inner, rows)?;
        Ok(out.into_iter().map(|c| Counted::new(c, &self.1)).collect())
    }
    fn product_combinations(
        &self,
        pairs: &[(&Counted, &Counted)],
        rows: &[Vec<f64>],
    ) -> Result<Vec<Counted>> {
        let inner: Vec<(&PlainCt, &PlainCt)> =
            pairs.iter().map(|(a, b)| (a.ct(), b.ct())).collect();
        let out = self.0.product_combinations(&inner, rows)?;
        Ok(out.into_iter().map(|c| Counted::new(c, &self.1)).collect())
    }
    fn rotate(&self, a: &Counted, step: i64) -> Result<Counted> {
        self.wrap(self.0.rotate(a.ct(), step))
    }
    fn level(&self, a: &Counted) -> u32 {
        self.0.level(a.ct())
    }
    fn stats(&self) -> OpStats {
        self.0.stats()
    }
    fn ct_to_bytes(&self, a: &Counted) -> Result<Vec<u8>> {
        self.0.ct_to_bytes(a.ct())
    }
    fn ct_from_bytes(&self, bytes: &[u8], limit: usize) -> Result<Counted> {
        self.wrap(self.0.ct_from_bytes(bytes, limit))
    }
}

const WIDTH: usize = 300;

/// `x (WIDTH)` → Dense(WIDTH → WIDTH) → ReLU (degree 2) → Dense(WIDTH → 2) → Decrypt: with
/// batch-in-slots packing one ciphertext per element.
fn graph() -> Graph {
    let mut r = rng(11);
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[WIDTH])).unwrap();
    let d1 = g
        .add(
            "d1",
            DenseConfig {
                d_in: WIDTH,
                d_out: WIDTH,
            }
            .init(&mut r),
        )
        .unwrap();
    let relu = g.add("relu", Relu::new(4.0).unwrap()).unwrap();
    let d2 = g
        .add(
            "d2",
            DenseConfig {
                d_in: WIDTH,
                d_out: 2,
            }
            .init(&mut r),
        )
        .unwrap();
    let dec = g.add("Decrypt", Decrypt {}).unwrap();
    g.chain(&[x, d1, relu, d2, dec]).unwrap();
    g.build().unwrap()
}

/// Peak live ciphertexts of one run of `g` on an input `x` of shape `(4, shape…)`: overall
/// and per node (by name); `keep_inputs` keeps a handle on the input array during the walk
/// (what a caller of the borrowing walk does). Also the values reaching the boundary.
fn peaks(
    g: &Graph,
    shape: &[usize],
    keep_inputs: bool,
) -> (usize, HashMap<String, usize>, Vec<f64>) {
    let tracker = Arc::new(Tracker::default());
    let backend = Counting(Plain::new(8), Arc::clone(&tracker));
    let mut full = vec![4];
    full.extend_from_slice(shape);
    let data = PlainArray::from_fn(full, |k| ((k * 7) % 11) as f64 / 11.0 - 0.5).unwrap();
    let x = Erray::encrypt(&backend, &data, Packing::BatchInSlots { batch: 4 }).unwrap();
    let kept = keep_inputs.then(|| x.clone());
    let mut overall = 0;
    let mut per_node = HashMap::new();
    let mut refresh = |e: &Erray<Counting>| -> fhez_nn::Result<Erray<Counting>> { Ok(e.clone()) };
    let mut hook = |e: fhez_nn::NodeEvent<'_>| match e {
        fhez_nn::NodeEvent::Before { .. } => {
            overall = overall.max(tracker.peak.load(Ordering::SeqCst));
            tracker
                .peak
                .store(tracker.live.load(Ordering::SeqCst), Ordering::SeqCst);
        }
        fhez_nn::NodeEvent::After { name, .. } => {
            let p = tracker.peak.load(Ordering::SeqCst);
            overall = overall.max(p);
            per_node.insert(name.to_owned(), p);
        }
    };
    let run = g
        .forward_enc_owned(vec![("x", x)], &mut refresh, &mut hook, None)
        .unwrap();
    drop(kept);
    let out: Vec<f64> = run
        .boundary
        .iter()
        .flat_map(|(_, e)| {
            e.cts()
                .iter()
                .flat_map(|c| c.ct().values().iter().take(4).copied())
                .collect::<Vec<_>>()
        })
        .collect();
    (overall, per_node, out)
}

/// Peak live ciphertexts of one run of [`graph`], overall and while the ReLU runs.
fn peak(keep_inputs: bool) -> (usize, usize, Vec<f64>) {
    let (overall, per_node, out) = peaks(&graph(), &[WIDTH], keep_inputs);
    (overall, per_node["relu"], out)
}

#[test]
fn the_walk_frees_inputs_and_streams_the_polynomial() {
    let threads = rayon::current_num_threads();
    let (overall, relu, out) = peak(false);
    let (_, relu_kept, same) = peak(true);
    assert_eq!(out, same, "the handle changed the values");
    // While the ReLU runs: its input (WIDTH) and output (WIDTH) arrays and the polynomial
    // temporaries of one chunk (x², its scaled copy, the linear term, the sum: at most five
    // per ciphertext of a chunk). A whole-array polynomial would hold 5·WIDTH temporaries.
    let bound = 2 * WIDTH + 5 * fhez_erray::POLYVAL_CHUNK;
    assert!(
        relu <= bound,
        "ReLU peak {relu} live ciphertexts, bound {bound}"
    );
    // Keeping the inputs costs them all on top: the walk freed them after the first layer.
    assert!(
        relu_kept >= relu + WIDTH,
        "kept {relu_kept} vs owned {relu}"
    );
    // Overall: one linear layer's input, output and per-row temporaries at most.
    let bound = 3 * WIDTH + 4 * threads;
    assert!(overall <= bound, "peak {overall}, bound {bound}");
}

/// Input side, filters, kernel and stride of [`conv_stack`].
const SIDE: usize = 16;
const FILTERS: usize = 8;
const KERNEL: usize = 4;
const STRIDE: usize = 2;
/// Output side of one filter.
const OUT: usize = (SIDE - KERNEL) / STRIDE + 1;

/// A convolution layer written as the original's CNN writes it (and as the demo's model
/// is): `x (SIDE, SIDE)` → `FILTERS` cross-correlations → `Enqueue` → ReLU →
/// `Dense(FILTERS·OUT² → 3)` → `Decrypt`.
fn conv_stack() -> Graph {
    let mut r = rng(5);
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[SIDE, SIDE])).unwrap();
    let stack = g.add("stack", Enqueue { length: FILTERS }).unwrap();
    for f in 0..FILTERS {
        let mut cc = CrossCorrelationConfig {
            kernel: vec![KERNEL, KERNEL],
            stride: vec![STRIDE, STRIDE],
        }
        .init(&mut r);
        cc.bias = Tensor::scalar(0.1 * f as f64);
        let id = g.add(&format!("cc-{f}"), cc).unwrap();
        g.connect(x, id).unwrap();
        g.connect_ports(id, 0, stack, f).unwrap();
    }
    let flat = g
        .add(
            "flat",
            Reshape {
                shape: vec![FILTERS * OUT * OUT],
            },
        )
        .unwrap();
    let relu = g.add("relu", Relu::new(4.0).unwrap()).unwrap();
    let dense = g
        .add(
            "dense",
            DenseConfig {
                d_in: FILTERS * OUT * OUT,
                d_out: 3,
            }
            .init(&mut r),
        )
        .unwrap();
    let dec = g.add("Decrypt", Decrypt {}).unwrap();
    g.chain(&[stack, flat, relu, dense, dec]).unwrap();
    g.build().unwrap()
}

#[test]
fn the_convolution_stack_frees_input_rows_as_it_goes() {
    let g = conv_stack();
    assert!(g.streams_enqueue(g.id("stack").unwrap()));
    let (_, owned, out) = peaks(&g, &[SIDE, SIDE], false);
    let (_, kept, same) = peaks(&g, &[SIDE, SIDE], true);
    assert_eq!(out, same, "the handle changed the values");
    let (inputs, outputs) = (SIDE * SIDE, FILTERS * OUT * OUT);
    // Row by row: every output, the band of input rows one output row reads, and one
    // part's temporaries for that row (the window sums and the biased sums).
    let bound = outputs + KERNEL * SIDE + 2 * OUT;
    assert!(
        owned["stack"] <= bound,
        "stack peak {} live ciphertexts, bound {bound}",
        owned["stack"]
    );
    // Filter by filter (or with the inputs kept), every input is alive with every output.
    assert!(
        kept["stack"] >= inputs + outputs,
        "kept {} vs inputs + outputs {}",
        kept["stack"],
        inputs + outputs
    );
    assert!(bound < inputs + outputs - OUT * OUT);
}

#[test]
fn the_streamed_stack_computes_the_plaintext_network() {
    let g = conv_stack();
    let (_, _, out) = peaks(&g, &[SIDE, SIDE], false);
    // Boundary: 3 ciphertexts of 4 samples each, ciphertext-major.
    for b in 0..4 {
        let x = Tensor::from_fn(&[SIDE, SIDE], |k| {
            (((b * SIDE * SIDE + k) * 7) % 11) as f64 / 11.0 - 0.5
        });
        let want = g.infer(&[("x", x)]).unwrap();
        let want = want["Decrypt"].data().to_vec();
        for (j, w) in want.iter().enumerate() {
            let got = out[j * 4 + b];
            assert!(
                (got - w).abs() < 1e-9,
                "sample {b} output {j}: {got} vs {w}"
            );
        }
    }
}

#[test]
fn an_elementwise_polynomial_frees_its_input_chunk_by_chunk() {
    const LONG: usize = 1024;
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[LONG])).unwrap();
    let relu = g.add("relu", Relu::new(4.0).unwrap()).unwrap();
    let dense = g
        .add(
            "dense",
            DenseConfig {
                d_in: LONG,
                d_out: 2,
            }
            .init(&mut rng(3)),
        )
        .unwrap();
    let dec = g.add("Decrypt", Decrypt {}).unwrap();
    g.chain(&[x, relu, dense, dec]).unwrap();
    let g = g.build().unwrap();
    let (_, owned, _) = peaks(&g, &[LONG], false);
    let (_, kept, _) = peaks(&g, &[LONG], true);
    // Inputs not yet read plus outputs made: one array, plus one chunk's inputs and at most
    // five temporaries per ciphertext of that chunk.
    let bound = LONG + 6 * fhez_erray::POLYVAL_CHUNK;
    assert!(
        owned["relu"] <= bound,
        "relu peak {}, bound {bound}",
        owned["relu"]
    );
    // Kept inputs: input and output arrays at once.
    assert!(kept["relu"] >= 2 * LONG, "kept {}", kept["relu"]);
}
