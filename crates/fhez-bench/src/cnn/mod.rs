//! The encrypted CNN inference benchmark (`fhez-cnn-bench`): exactly the network of
//! TenSEAL's "encrypted convolution on MNIST" peer script `mnist_cnn.py`:
//! conv 1→4 channels 7×7 stride 3 → x² → dense 256→64 → x² → dense 64→10, trained in
//! plaintext on scikit-learn digits upsampled to 28×28 (same stratified 80/20 split),
//! evaluated under CKKS with fhez.
//!
//! Two modes:
//! - **latency** ([`latency`], one image per ciphertext, as TenSEAL): the client
//!   im2col-encodes the image into one ciphertext (slot `p·64 + w` = pixel `p` of window
//!   `w`); every layer is a slot-periodic matrix–vector product evaluated with
//!   baby-step/giant-step diagonals whose giant steps run in Horner form (one rotation key
//!   per stride) and whose periodic tail is a rotate-and-add tree. Only the rotation keys
//!   the plan needs are generated (seeded on the wire).
//! - **batch** ([`batch`], batch-in-slots: slot `i` = image `i`): 784 pixel ciphertexts,
//!   every layer a set of integer linear combinations of ciphertexts, zero rotations.
//!
//! Modules: [`peer_port`] (the plaintext model and the Rust port of `mnist_cnn.py`'s
//! trainer), [`data`] (the peer's trained weights), [`report`] (the JSON report's
//! statistics), [`cli`] (the command line and the report's top level).
#![expect(
    clippy::indexing_slicing,
    reason = "bench code: every index is bounded by the fixed network shape"
)]

use std::sync::Arc;

use anyhow::Result;
use fhez_ckks::{CkksParams, CkksParamsSpec};

pub mod batch;
pub mod cli;
pub mod data;
pub mod graph;
pub mod latency;
pub mod peer_port;
pub mod report;
pub mod single;

// ------------------------------------------------------------------ network shape

/// Image side (pixels).
pub const SIDE: usize = 28;
/// Kernel side.
pub const K: usize = 7;
/// Convolution stride.
pub const STRIDE: usize = 3;
/// Output side of the convolution.
pub const OUT_SIDE: usize = (SIDE - K) / STRIDE + 1; // 8
/// Convolution windows per image.
pub const WIN: usize = OUT_SIDE * OUT_SIDE; // 64 windows
/// Kernel positions.
pub const KK: usize = K * K; // 49 kernel positions
/// Convolution output channels.
pub const CH: usize = 4;
/// Inputs of the first dense layer.
pub const NIN: usize = CH * WIN; // 256
/// Hidden units.
pub const HID: usize = 64;
/// Classes.
pub const NOUT: usize = 10;

/// (B,H,W) → (B, windows, k·k), windows row-major over output positions (mnist_cnn.py's im2col).
pub fn im2col(img: &[f64]) -> Vec<f64> {
    let mut cols = vec![0.0; WIN * KK];
    for i in 0..OUT_SIDE {
        for j in 0..OUT_SIDE {
            let w = i * OUT_SIDE + j;
            for a in 0..K {
                for b in 0..K {
                    cols[w * KK + a * K + b] = img[(i * STRIDE + a) * SIDE + j * STRIDE + b];
                }
            }
        }
    }
    cols
}

/// Index of the largest value (the first on ties; 0 for an empty slice).
pub fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// The bench's CKKS parameters, shared by both modes: N = 8192; q = [31, 26×5] (five
/// rescales: conv, x², FC1, x², FC2), two special primes [29, 28] (three key-switching
/// digits), scale 2^26: log QP = 218, 128-bit secure.
///
/// # Errors
/// The parameter set is rejected by `CkksParams::new`.
pub fn bench_params() -> Result<Arc<CkksParams>> {
    let spec = CkksParamsSpec::new(13)
        .with_log_q(&[31, 26, 26, 26, 26, 26])
        .with_log_p(&[29, 28])
        .with_log_scale(26);
    Ok(CkksParams::new(&spec)?)
}
