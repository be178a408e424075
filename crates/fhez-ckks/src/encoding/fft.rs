//! The special FFT: radix-2 evaluation of a degree-`< n` complex polynomial at
//! the roots `ζ^{5^j mod 4n}` (`j < n`, `ζ = exp(2πi/4n)`), and its inverse.
//!
//! Twiddle layout: the stage with half-block length `h` (block length `L = 2h`,
//! `h = 1, 2, 4, …, n/2`) uses `w_{h,j} = ζ_{4L}^{5^j mod 4L}` for `j < h`,
//! stored contiguously at `h − 1 .. 2h − 1` in the order the butterflies read
//! them. Total `n − 1` twiddles, kept as separate real / imaginary arrays so
//! the split-format inverse streams them without shuffles.

use core::f64::consts::TAU;

use super::Complex64;

/// Tables for one slot count `n = N/2` (a power of two, `1..=2^16`).
#[derive(Clone)]
pub(super) struct SpecialFft {
    n: usize,
    tw_re: Vec<f64>,
    tw_im: Vec<f64>,
    /// `bit_rev[k]` = `k` with its `log2 n` bits reversed.
    bit_rev: Vec<u32>,
    /// The pairs `(k, bit_rev[k])` with `k < bit_rev[k]`: the in-place
    /// bit-reversal as a branch-free list of swaps.
    swaps: Vec<(u32, u32)>,
}

impl SpecialFft {
    /// Precomputes the tables for `n` slots.
    pub(super) fn new(n: usize) -> Self {
        debug_assert!(n.is_power_of_two() && n <= 1 << 16);
        let m = 4 * n; // = 2N, the order of ζ.
        let mut tw_re = Vec::with_capacity(n.saturating_sub(1));
        let mut tw_im = Vec::with_capacity(n.saturating_sub(1));
        let mut h = 1;
        while h < n {
            let four_l = 8 * h; // 4L with L = 2h.
            // ζ_{4L} = ζ^{m / 4L} = ζ^{n / L}.
            let stride = n / (2 * h);
            let mut g = 1; // 5^j mod 4L.
            for _ in 0..h {
                let w = unit_root(g * stride, m);
                tw_re.push(w.re);
                tw_im.push(w.im);
                g = g * 5 % four_l;
            }
            h *= 2;
        }
        let bits = n.trailing_zeros();
        let bit_rev: Vec<u32> = (0..n)
            .map(|k| {
                if bits == 0 {
                    0
                } else {
                    // `n <= 2^16`, so the reversed index fits in u32.
                    (k.reverse_bits() >> (usize::BITS - bits)) as u32
                }
            })
            .collect();
        let swaps = (0u32..)
            .zip(&bit_rev)
            .filter(|&(k, &r)| k < r)
            .map(|(k, &r)| (k, r))
            .collect();
        Self {
            n,
            tw_re,
            tw_im,
            bit_rev,
            swaps,
        }
    }

    /// Twiddles `(re, im)` of the stage with half-block length `h`.
    fn stage(&self, h: usize) -> Option<(&[f64], &[f64])> {
        let range = h.checked_sub(1)?..2 * h - 1;
        Some((self.tw_re.get(range.clone())?, self.tw_im.get(range)?))
    }

    /// Decoding: `out[j] = Σ_k (lo[k] + i·hi[k])·ζ^{(5^j mod 4n)·k}` for
    /// `j < n`, in natural slot order. `lo`, `hi`, `out` have length `n`.
    pub(super) fn forward(&self, lo: &[f64], hi: &[f64], out: &mut [Complex64]) {
        debug_assert!(lo.len() == self.n && hi.len() == self.n && out.len() == self.n);
        // Bit-reversed input order.
        for ((re, im), &r) in lo.iter().zip(hi).zip(&self.bit_rev) {
            if let Some(slot) = out.get_mut(r as usize) {
                *slot = Complex64::new(*re, *im);
            }
        }
        let mut h = 1;
        if self.n >= 4 {
            if let (Some(w1), Some(w2)) = (self.stage(1), self.stage(2)) {
                forward_head(out, w1, w2);
            }
            h = 4;
        }
        while h < self.n {
            let Some((w_re, w_im)) = self.stage(h) else {
                debug_assert!(false, "twiddle table too short");
                return;
            };
            for block in out.chunks_exact_mut(2 * h) {
                forward_block(block, w_re, w_im);
            }
            h *= 2;
        }
    }

    /// Encoding, the exact inverse of [`forward`](Self::forward): slot values
    /// (natural order, zero-padded to `n`) in, `re[k] + i·im[k] = u_k` out.
    pub(super) fn inverse<I>(&self, values: I, re: &mut [f64], im: &mut [f64])
    where
        I: IntoIterator<Item = Complex64>,
    {
        debug_assert!(re.len() == self.n && im.len() == self.n);
        // The 1/n factor is a power of two: applying it up front is exact.
        let scale = 1.0 / self.n as f64;
        re.fill(0.0);
        im.fill(0.0);
        for ((r, i), v) in re.iter_mut().zip(im.iter_mut()).zip(values) {
            *r = v.re * scale;
            *i = v.im * scale;
        }
        let last_generic = if self.n >= 4 { 4 } else { 1 };
        let mut h = self.n / 2;
        while h >= last_generic {
            let Some((w_re, w_im)) = self.stage(h) else {
                debug_assert!(false, "twiddle table too short");
                return;
            };
            for (block_re, block_im) in re.chunks_exact_mut(2 * h).zip(im.chunks_exact_mut(2 * h)) {
                inverse_block(block_re, block_im, w_re, w_im);
            }
            h /= 2;
        }
        if self.n >= 4
            && let (Some(w1), Some(w2)) = (self.stage(1), self.stage(2))
        {
            inverse_tail(re, im, w1, w2);
        }
        for &(a, b) in &self.swaps {
            re.swap(a as usize, b as usize);
            im.swap(a as usize, b as usize);
        }
    }
}

/// Forward butterflies of one block of length `2h`, `h = w_re.len()`:
/// `(x, y) ← (x + w·y, x − w·y)`.
#[expect(
    clippy::indexing_slicing,
    reason = "every slice is cut to the common length h first, so the indices \
              are in bounds and LLVM drops the checks"
)]
fn forward_block(block: &mut [Complex64], w_re: &[f64], w_im: &[f64]) {
    let h = w_re.len();
    debug_assert!(block.len() == 2 * h && w_im.len() == h);
    let (x, y) = block.split_at_mut(h);
    let (x, y, w_im) = (&mut x[..h], &mut y[..h], &w_im[..h]);
    for k in 0..h {
        let (a, b) = (x[k], y[k]);
        let (wr, wi) = (w_re[k], w_im[k]);
        let t = Complex64::new(b.re * wr - b.im * wi, b.re * wi + b.im * wr);
        x[k] = a + t;
        y[k] = a - t;
    }
}

/// The first two forward stages (`h = 1, 2`) fused over blocks of four.
fn forward_head(a: &mut [Complex64], w1: (&[f64], &[f64]), w2: (&[f64], &[f64])) {
    let (Some(w1), Some(w2a), Some(w2b)) = (twiddle(w1, 0), twiddle(w2, 0), twiddle(w2, 1)) else {
        debug_assert!(false, "twiddle table too short");
        return;
    };
    let (chunks, rest) = a.as_chunks_mut::<4>();
    debug_assert!(rest.is_empty());
    for [a0, a1, a2, a3] in chunks {
        let t = w1 * *a1;
        let (b0, b1) = (*a0 + t, *a0 - t);
        let t = w1 * *a3;
        let (b2, b3) = (*a2 + t, *a2 - t);
        let t = w2a * b2;
        (*a0, *a2) = (b0 + t, b0 - t);
        let t = w2b * b3;
        (*a1, *a3) = (b1 + t, b1 - t);
    }
}

/// Inverse butterflies of one block of length `2h` (split storage),
/// `h = w_re.len()`: `(x, y) ← (x + y, (x − y)·conj(w))`.
#[expect(
    clippy::indexing_slicing,
    reason = "every slice is cut to the common length h first, so the indices \
              are in bounds and LLVM drops the checks and vectorises the loop"
)]
fn inverse_block(block_re: &mut [f64], block_im: &mut [f64], w_re: &[f64], w_im: &[f64]) {
    let h = w_re.len();
    debug_assert!(block_re.len() == 2 * h && block_im.len() == 2 * h && w_im.len() == h);
    let (x_re, y_re) = block_re.split_at_mut(h);
    let (x_im, y_im) = block_im.split_at_mut(h);
    let (x_re, y_re, x_im, y_im) = (
        &mut x_re[..h],
        &mut y_re[..h],
        &mut x_im[..h],
        &mut y_im[..h],
    );
    let w_im = &w_im[..h];
    for k in 0..h {
        let (xr, xi, yr, yi) = (x_re[k], x_im[k], y_re[k], y_im[k]);
        let (wr, wi) = (w_re[k], w_im[k]);
        let (dr, di) = (xr - yr, xi - yi);
        x_re[k] = xr + yr;
        x_im[k] = xi + yi;
        y_re[k] = dr * wr + di * wi;
        y_im[k] = di * wr - dr * wi;
    }
}

/// The last two inverse stages (`h = 2, 1`) fused over blocks of four.
fn inverse_tail(re: &mut [f64], im: &mut [f64], w1: (&[f64], &[f64]), w2: (&[f64], &[f64])) {
    let (Some(w1), Some(w2a), Some(w2b)) = (twiddle(w1, 0), twiddle(w2, 0), twiddle(w2, 1)) else {
        debug_assert!(false, "twiddle table too short");
        return;
    };
    let (w1, w2a, w2b) = (w1.conj(), w2a.conj(), w2b.conj());
    let (re_chunks, re_rest) = re.as_chunks_mut::<4>();
    let (im_chunks, im_rest) = im.as_chunks_mut::<4>();
    debug_assert!(re_rest.is_empty() && im_rest.is_empty());
    for (r, i) in re_chunks.iter_mut().zip(im_chunks) {
        let ([r0, r1, r2, r3], [i0, i1, i2, i3]) = (*r, *i);
        let (a0, a1) = (Complex64::new(r0, i0), Complex64::new(r1, i1));
        let (a2, a3) = (Complex64::new(r2, i2), Complex64::new(r3, i3));
        let (b0, b2) = (a0 + a2, (a0 - a2) * w2a);
        let (b1, b3) = (a1 + a3, (a1 - a3) * w2b);
        let c = [b0 + b1, (b0 - b1) * w1, b2 + b3, (b2 - b3) * w1];
        *r = c.map(|z| z.re);
        *i = c.map(|z| z.im);
    }
}

fn twiddle((re, im): (&[f64], &[f64]), k: usize) -> Option<Complex64> {
    Some(Complex64::new(*re.get(k)?, *im.get(k)?))
}

/// `exp(2πi·e/m)` for `m` a power of two `>= 4`, accurate to about one ulp:
/// the exponent is reduced exactly to the first octant, where `sin`/`cos` are
/// evaluated at an angle `<= π/4`, then mapped back by exact symmetries.
pub(super) fn unit_root(e: usize, m: usize) -> Complex64 {
    debug_assert!(m.is_power_of_two() && m >= 4);
    let e = e & (m - 1);
    let quarter = m / 4;
    let (q, r) = (e / quarter, e % quarter);
    // exp(2πi·r/m) with 0 <= r < m/4.
    let base = if 2 * r <= quarter {
        let t = TAU * r as f64 / m as f64;
        Complex64::new(t.cos(), t.sin())
    } else {
        let t = TAU * (quarter - r) as f64 / m as f64;
        Complex64::new(t.sin(), t.cos())
    };
    // Multiply by i^q exactly.
    match q {
        0 => base,
        1 => Complex64::new(-base.im, base.re),
        2 => Complex64::new(-base.re, -base.im),
        _ => Complex64::new(base.im, -base.re),
    }
}
