//! The peer port: the plaintext CNN of `mnist_cnn.py` and a Rust port of that script's
//! trainer ([`train`]), so the bench evaluates the same network trained by the same
//! procedure (or, with `--weights`, the peer's own weights; see [`super::data`]).
#![expect(
    clippy::indexing_slicing,
    reason = "bench code: every index is bounded by the fixed network shape"
)]

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use super::{CH, HID, KK, NIN, NOUT, WIN};

/// Parameters in mnist_cnn.py's layout: `wc[c][p]`, `bc[c]`, `w1[i][h]` (i = c·64 + w),
/// `b1[h]`, `w2[h][o]`, `b2[o]`.
#[derive(Clone, Debug)]
pub struct Model {
    /// Convolution filters, `wc[c][p]`.
    pub wc: Vec<f64>,
    /// Convolution biases, `bc[c]`.
    pub bc: Vec<f64>,
    /// First dense layer, `w1[i][h]` with `i = c·64 + w`.
    pub w1: Vec<f64>,
    /// First dense layer's biases.
    pub b1: Vec<f64>,
    /// Second dense layer, `w2[h][o]`.
    pub w2: Vec<f64>,
    /// Second dense layer's biases.
    pub b2: Vec<f64>,
}

/// The activations of one forward pass (the trainer's backward pass reads them).
#[derive(Clone, Debug)]
pub struct Acts {
    /// Convolution outputs, `[w][c]`.
    pub z1: Vec<f64>,
    /// Squared convolution outputs, filter-major: `[c·64 + w]`.
    pub f: Vec<f64>,
    /// First dense layer's outputs.
    pub z2: Vec<f64>,
    /// Their squares.
    pub a2: Vec<f64>,
    /// Logits.
    pub z3: Vec<f64>,
}

impl Model {
    fn params_mut(&mut self) -> [&mut Vec<f64>; 6] {
        [
            &mut self.wc,
            &mut self.bc,
            &mut self.w1,
            &mut self.b1,
            &mut self.w2,
            &mut self.b2,
        ]
    }

    /// The plaintext forward pass of one im2col-encoded image (see [`super::im2col`]).
    pub fn forward(&self, cols: &[f64]) -> Acts {
        let mut z1 = vec![0.0; WIN * CH];
        let mut f = vec![0.0; NIN];
        for w in 0..WIN {
            let x = &cols[w * KK..(w + 1) * KK];
            for c in 0..CH {
                let k = &self.wc[c * KK..(c + 1) * KK];
                let z = x.iter().zip(k).map(|(a, b)| a * b).sum::<f64>() + self.bc[c];
                z1[w * CH + c] = z;
                f[c * WIN + w] = z * z;
            }
        }
        let mut z2 = self.b1.clone();
        for (i, &fi) in f.iter().enumerate() {
            let row = &self.w1[i * HID..(i + 1) * HID];
            for (z, &wv) in z2.iter_mut().zip(row) {
                *z += fi * wv;
            }
        }
        let a2: Vec<f64> = z2.iter().map(|z| z * z).collect();
        let mut z3 = self.b2.clone();
        for (h, &ah) in a2.iter().enumerate() {
            let row = &self.w2[h * NOUT..(h + 1) * NOUT];
            for (z, &wv) in z3.iter_mut().zip(row) {
                *z += ah * wv;
            }
        }
        Acts { z1, f, z2, a2, z3 }
    }
}

/// The port of mnist_cnn.py's trainer: uniform(±1/√fan_in) init, Adam (lr 1e-3, β 0.9/0.999,
/// ε 1e-8), batch 64, L2 1e-4 on the weight matrices, softmax cross-entropy. Same
/// hyper-parameters and seed number; the random streams are ChaCha20 (not numpy's
/// PCG64), so the weights are a different draw of the same procedure. Returns the model
/// and the mean training loss of every epoch.
pub fn train(cols: &[Vec<f64>], labels: &[u8], epochs: usize, seed: u64) -> (Model, Vec<f64>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut uni = |bound: f64, n: usize| -> Vec<f64> {
        (0..n)
            .map(|_| {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                (2.0 * u - 1.0) * bound
            })
            .collect()
    };
    let kb = 1.0 / (KK as f64).sqrt();
    let ib = 1.0 / (NIN as f64).sqrt();
    let hb = 1.0 / (HID as f64).sqrt();
    let mut model = Model {
        wc: uni(kb, CH * KK),
        bc: uni(kb, CH),
        w1: uni(ib, NIN * HID),
        b1: uni(ib, HID),
        w2: uni(hb, HID * NOUT),
        b2: uni(hb, NOUT),
    };
    let is_matrix = [true, false, true, false, true, false];
    let sizes: Vec<usize> = model.params_mut().iter().map(|p| p.len()).collect();
    let mut m: Vec<Vec<f64>> = sizes.iter().map(|&s| vec![0.0; s]).collect();
    let mut v: Vec<Vec<f64>> = sizes.iter().map(|&s| vec![0.0; s]).collect();
    let (lr, b1, b2, eps, wd) = (1e-3, 0.9f64, 0.999f64, 1e-8, 1e-4);
    let batch = 64;
    let n = cols.len();
    let mut t = 0i32;
    let mut history = Vec::new();
    let mut perm: Vec<usize> = (0..n).collect();
    let mut prng = ChaCha20Rng::seed_from_u64(seed ^ 0x5eed);
    for _ in 0..epochs {
        for i in (1..n).rev() {
            let j = (prng.next_u64() % (i as u64 + 1)) as usize;
            perm.swap(i, j);
        }
        let mut total = 0.0;
        for idx in perm.chunks(batch) {
            let bsz = idx.len() as f64;
            let mut g: Vec<Vec<f64>> = sizes.iter().map(|&s| vec![0.0; s]).collect();
            for &s in idx {
                let x = &cols[s];
                let a = model.forward(x);
                let mx = a.z3.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = a.z3.iter().map(|z| (z - mx).exp()).collect();
                let sum: f64 = e.iter().sum();
                let y = usize::from(labels[s]);
                total -= (e[y] / sum + 1e-12).ln();
                let dz3: Vec<f64> = e
                    .iter()
                    .enumerate()
                    .map(|(o, ev)| (ev / sum - if o == y { 1.0 } else { 0.0 }) / bsz)
                    .collect();
                // dense 2
                let mut dz2 = vec![0.0; HID];
                for h in 0..HID {
                    let mut acc = 0.0;
                    for o in 0..NOUT {
                        g[4][h * NOUT + o] += a.a2[h] * dz3[o];
                        acc += dz3[o] * model.w2[h * NOUT + o];
                    }
                    dz2[h] = acc * 2.0 * a.z2[h];
                }
                for o in 0..NOUT {
                    g[5][o] += dz3[o];
                }
                // dense 1
                let mut df = vec![0.0; NIN];
                for i in 0..NIN {
                    let row = &model.w1[i * HID..(i + 1) * HID];
                    let grow = &mut g[2][i * HID..(i + 1) * HID];
                    let fi = a.f[i];
                    let mut acc = 0.0;
                    for h in 0..HID {
                        grow[h] += fi * dz2[h];
                        acc += dz2[h] * row[h];
                    }
                    df[i] = acc;
                }
                for h in 0..HID {
                    g[3][h] += dz2[h];
                }
                // conv
                for w in 0..WIN {
                    let xw = &x[w * KK..(w + 1) * KK];
                    for c in 0..CH {
                        let dz1 = df[c * WIN + w] * 2.0 * a.z1[w * CH + c];
                        g[1][c] += dz1;
                        for (gp, &xp) in g[0][c * KK..(c + 1) * KK].iter_mut().zip(xw) {
                            *gp += dz1 * xp;
                        }
                    }
                }
            }
            t += 1;
            let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
            for (j, p) in model.params_mut().into_iter().enumerate() {
                for (k, pv) in p.iter_mut().enumerate() {
                    let mut gv = g[j][k];
                    if is_matrix[j] {
                        gv += wd * *pv;
                    }
                    m[j][k] = b1 * m[j][k] + (1.0 - b1) * gv;
                    v[j][k] = b2 * v[j][k] + (1.0 - b2) * gv * gv;
                    *pv -= lr * (m[j][k] / c1) / ((v[j][k] / c2).sqrt() + eps);
                }
            }
        }
        history.push(total / n as f64);
    }
    (model, history)
}
