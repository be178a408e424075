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

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::rng;
use fhez_backend::{Backend, BackendKind, Caps, OpStats, Plain, PlainCt, Result};
use fhez_erray::{Erray, Packing, PlainArray};
use fhez_nn::nodes::{Decrypt, DenseConfig, Input, Relu};
use fhez_nn::{Graph, GraphBuilder};

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

/// Peak live ciphertexts of one run, overall and while the ReLU runs; `keep_inputs` keeps
/// a handle on the input array during the walk (what a caller of the borrowing walk does).
fn peak(keep_inputs: bool) -> (usize, usize, Vec<f64>) {
    let tracker = Arc::new(Tracker::default());
    let backend = Counting(Plain::new(8), Arc::clone(&tracker));
    let g = graph();
    let data = PlainArray::from_fn(vec![4, WIDTH], |k| ((k * 7) % 11) as f64 / 11.0 - 0.5).unwrap();
    let x = Erray::encrypt(&backend, &data, Packing::BatchInSlots { batch: 4 }).unwrap();
    let kept = keep_inputs.then(|| x.clone());
    let (mut overall, mut relu) = (0, 0);
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
            if name == "relu" {
                relu = p;
            }
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
    (overall, relu, out)
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
