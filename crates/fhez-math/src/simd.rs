//! Vector NTT kernels: AVX-512 IFMA52 (`vpmadd52luq` / `vpmadd52huq`) for primes `q < 2^50`.
//!
//! This is the only module of `fhez-math` that contains `unsafe` code; the rest of the crate
//! denies it and every other crate of the workspace forbids it.
//!
//! # Arithmetic
//!
//! The kernels run the same butterflies as the scalar NTT in [`crate::ntt`] (Cooley–Tukey
//! forward, Gentleman–Sande inverse, Harvey's lazy reduction, `n^-1` folded into the last
//! inverse stage), eight coefficients per instruction. Shoup multiplication uses 52-bit words:
//! with `w' = ⌊w·2^52/q⌋` and `a < 2^52`, `r = a·w − ⌊a·w'/2^52⌋·q` lies in `[0, 2q)`, and
//! because `2q < 2^52` it equals `(lo52(a·w) − lo52(⌊a·w'/2^52⌋·q)) mod 2^52`. Lazy values stay
//! in `[0, 4q)`, so `q < 2^50` keeps every multiplier input below `2^52`, the width IFMA reads.
//!
//! The lazy intermediate values can differ from the scalar kernel's (its 64-bit Shoup quotient
//! may be one larger), but both are congruent and both kernels reduce their outputs to
//! `[0, q)`: the results of [`NttTable::forward`](crate::NttTable::forward) and
//! [`NttTable::inverse`](crate::NttTable::inverse) are bit-for-bit the scalar ones, which the
//! tests of this module check. With the vector kernel,
//! [`NttTable::forward_lazy`](crate::NttTable::forward_lazy) returns fully reduced values.
//!
//! # Layout
//!
//! Stages whose butterfly distance `t` is at least 8 pair whole vectors. The last three forward
//! stages (and the first three inverse ones, `t = 4, 2, 1`) pair lanes inside a block of 16
//! coefficients: two permutes gather the `x` and `y` operands into two vectors, and two more put
//! them back. Their twiddles are stored expanded to one per butterfly, in lane order.
//!
//! # Generic kernel, emulated lanes
//!
//! The kernels are written once over the [`Lanes`] operations. [`Emu`] implements them on plain
//! arrays (safe code, any CPU, and Miri); `Avx` implements them with AVX-512 intrinsics. The
//! tests run both against the scalar NTT, so the index and permutation logic is checked under
//! Miri through `Emu`, and only the intrinsic wrappers of `Avx` need the real CPU.
//!
//! # Dispatch
//!
//! [`ifma_available`] detects AVX-512F and AVX-512IFMA once per process (and returns `false`
//! under Miri or when the environment variable `FHEZ_SIMD` is `scalar`, for A/B measurements).
//! [`NttTable::new`](crate::NttTable::new) builds the vector tables only then, for `q < 2^50`
//! and `n ≥ 16`; otherwise the scalar kernel runs.

#![cfg_attr(
    not(all(target_arch = "x86_64", not(miri))),
    allow(
        dead_code,
        reason = "without AVX-512 the generic kernels are only instantiated by the tests"
    )
)]

use crate::Modulus;

/// The vector kernel needs `q < 2^50` (lazy values `< 4q < 2^52`).
pub(crate) const IFMA_MAX_MODULUS_BITS: u32 = 50;

/// The vector kernel needs `n ≥ 16` (two vectors of eight lanes per in-register block).
pub(crate) const IFMA_MIN_DEGREE: usize = 16;

const MASK52: u64 = (1 << 52) - 1;

/// Whether this CPU runs the AVX-512 IFMA52 kernels (detected once, then cached).
///
/// `false` under Miri, on other architectures, and when the environment variable `FHEZ_SIMD`
/// is set to `scalar`.
#[must_use]
pub(crate) fn ifma_available() -> bool {
    static DETECTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DETECTED.get_or_init(|| {
        let disabled = std::env::var_os("FHEZ_SIMD").is_some_and(|v| v == "scalar");
        !disabled && cpu_has_ifma()
    })
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
fn cpu_has_ifma() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512ifma")
}

#[cfg(not(all(target_arch = "x86_64", not(miri))))]
const fn cpu_has_ifma() -> bool {
    false
}

/// Eight `u64` lanes and the operations the kernels use. All arithmetic wraps modulo `2^64`.
pub(crate) trait Lanes: Copy {
    /// Every lane `x`.
    fn splat(x: u64) -> Self;
    /// Lanes from memory.
    fn load(src: &[u64; 8]) -> Self;
    /// Lanes to memory.
    fn store(self, dst: &mut [u64; 8]);
    /// Lane-wise wrapping sum.
    fn add(self, o: Self) -> Self;
    /// Lane-wise wrapping difference.
    fn sub(self, o: Self) -> Self;
    /// Lane-wise unsigned minimum.
    fn min(self, o: Self) -> Self;
    /// Lane-wise bitwise and.
    fn and(self, o: Self) -> Self;
    /// Low 52 bits of the product of the low 52 bits of each lane (`vpmadd52luq` with a zero
    /// accumulator).
    fn mul52lo(self, o: Self) -> Self;
    /// Bits 52..104 of the product of the low 52 bits of each lane (`vpmadd52huq` with a zero
    /// accumulator).
    fn mul52hi(self, o: Self) -> Self;
    /// Lane `i` of the result is lane `idx[i] mod 16` of the 16 lanes `self ++ o`.
    fn permute2(self, idx: Self, o: Self) -> Self;
}

/// Lanes as a plain array: the portable model of the AVX-512 operations.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Emu(pub(crate) [u64; 8]);

#[cfg(test)]
impl Emu {
    #[inline(always)]
    fn zip_with(self, o: Self, f: impl Fn(u64, u64) -> u64) -> Self {
        let mut out = self.0;
        for (x, &y) in out.iter_mut().zip(&o.0) {
            *x = f(*x, y);
        }
        Self(out)
    }
}

#[cfg(test)]
impl Lanes for Emu {
    #[inline(always)]
    fn splat(x: u64) -> Self {
        Self([x; 8])
    }
    #[inline(always)]
    fn load(src: &[u64; 8]) -> Self {
        Self(*src)
    }
    #[inline(always)]
    fn store(self, dst: &mut [u64; 8]) {
        *dst = self.0;
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.zip_with(o, u64::wrapping_add)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.zip_with(o, u64::wrapping_sub)
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        self.zip_with(o, u64::min)
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        self.zip_with(o, |x, y| x & y)
    }
    #[inline(always)]
    fn mul52lo(self, o: Self) -> Self {
        self.zip_with(o, |x, y| {
            let p = u128::from(x & MASK52) * u128::from(y & MASK52);
            (p as u64) & MASK52
        })
    }
    #[inline(always)]
    fn mul52hi(self, o: Self) -> Self {
        self.zip_with(o, |x, y| {
            let p = u128::from(x & MASK52) * u128::from(y & MASK52);
            (p >> 52) as u64
        })
    }
    #[inline(always)]
    fn permute2(self, idx: Self, o: Self) -> Self {
        let mut out = [0; 8];
        for (lane, &i) in out.iter_mut().zip(&idx.0) {
            let i = (i & 15) as usize;
            let src = if i < 8 { self.0.get(i) } else { o.0.get(i - 8) };
            *lane = src.copied().unwrap_or(0);
        }
        Self(out)
    }
}

/// Precomputed 52-bit Shoup companions and expanded twiddles of one [`NttTable`]
/// (crate::NttTable) for the vector kernels.
#[derive(Clone)]
pub(crate) struct IfmaTables {
    q: u64,
    n: usize,
    /// 52-bit Shoup companions of `NttTable::fwd` (index for index).
    fwd_s: Vec<u64>,
    /// Forward twiddles of the stages `t = 2` and `t = 4`, one per butterfly in lane order,
    /// with their companions.
    fwd2: Vec<u64>,
    fwd2_s: Vec<u64>,
    fwd4: Vec<u64>,
    fwd4_s: Vec<u64>,
    /// 52-bit Shoup companions of `NttTable::inv`.
    inv_s: Vec<u64>,
    inv2: Vec<u64>,
    inv2_s: Vec<u64>,
    inv4: Vec<u64>,
    inv4_s: Vec<u64>,
    n_inv: u64,
    n_inv_s: u64,
    last_inv: u64,
    last_inv_s: u64,
}

/// `⌊w·2^52/q⌋` for `w < q < 2^50`.
fn shoup52(w: u64, q: u64) -> u64 {
    ((u128::from(w) << 52) / u128::from(q)) as u64
}

/// The twiddle of each butterfly of the stage with distance `t` (`n / (2t)` blocks, block `b`
/// using `w[n/(2t) + b]`), in butterfly order: entry `e` is `w[n/(2t) + e/t]`.
fn expand(w: &[u64], n: usize, t: usize) -> Vec<u64> {
    let m = n / (2 * t);
    (0..n / 2)
        .map(|e| w.get(m + e / t).copied().unwrap_or(0))
        .collect()
}

impl IfmaTables {
    /// The vector tables for an NTT of size `n` modulo `q`, given the scalar table's
    /// bit-reversed twiddles `fwd` (`ψ^brv(k)`) and `inv` (`ψ^-brv(k)`), `n^-1` and
    /// `ψ^-brv(1)·n^-1`. `None` unless `q < 2^50` and `16 ≤ n` (a power of two) and both
    /// twiddle tables have `n` entries.
    pub(crate) fn new(
        q: &Modulus,
        n: usize,
        fwd: &[u64],
        inv: &[u64],
        n_inv: u64,
        last_inv: u64,
    ) -> Option<Self> {
        let qv = q.value();
        if q.bits() > IFMA_MAX_MODULUS_BITS
            || n < IFMA_MIN_DEGREE
            || !n.is_power_of_two()
            || fwd.len() != n
            || inv.len() != n
        {
            return None;
        }
        let comp = |v: &[u64]| v.iter().map(|&w| shoup52(w, qv)).collect::<Vec<_>>();
        let (fwd2, fwd4) = (expand(fwd, n, 2), expand(fwd, n, 4));
        let (inv2, inv4) = (expand(inv, n, 2), expand(inv, n, 4));
        Some(Self {
            q: qv,
            n,
            fwd_s: comp(fwd),
            fwd2_s: comp(&fwd2),
            fwd4_s: comp(&fwd4),
            fwd2,
            fwd4,
            inv_s: comp(inv),
            inv2_s: comp(&inv2),
            inv4_s: comp(&inv4),
            inv2,
            inv4,
            n_inv,
            n_inv_s: shoup52(n_inv, qv),
            last_inv,
            last_inv_s: shoup52(last_inv, qv),
        })
    }

    /// Forward NTT with the AVX-512 kernel; `fwd` is the scalar table's twiddle array.
    /// Returns `false` (and leaves `a` untouched) if `a.len() != n` or the CPU lacks the
    /// instructions, in which case the caller runs the scalar kernel.
    #[inline]
    pub(crate) fn forward_avx(&self, fwd: &[u64], a: &mut [u64]) -> bool {
        if a.len() != self.n || fwd.len() != self.n || !ifma_available() {
            return false;
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // SAFETY: `forward_avx512` only requires the CPU features "avx512f" and
            // "avx512ifma", which `ifma_available()` has just confirmed at run time.
            unsafe { avx::forward_avx512(self, fwd, a) };
            true
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        false
    }

    /// Inverse NTT with the AVX-512 kernel; `inv` is the scalar table's twiddle array.
    /// Returns `false` (and leaves `a` untouched) if `a.len() != n` or the CPU lacks the
    /// instructions, in which case the caller runs the scalar kernel.
    #[inline]
    pub(crate) fn inverse_avx(&self, inv: &[u64], a: &mut [u64]) -> bool {
        if a.len() != self.n || inv.len() != self.n || !ifma_available() {
            return false;
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // SAFETY: as in `forward_avx`, the required CPU features were detected.
            unsafe { avx::inverse_avx512(self, inv, a) };
            true
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        false
    }

    /// Forward NTT over any [`Lanes`]: inputs in `[0, 4q)`, outputs in `[0, q)`.
    /// `a` and `fwd` must have `n` entries (checked by the callers).
    #[inline(always)]
    pub(crate) fn forward_with<S: Lanes>(&self, fwd: &[u64], a: &mut [u64]) {
        let c = Consts::<S>::new(self.q);
        let n = self.n;
        let (mut m, mut t) = (1, n / 2);
        while t >= 8 {
            let w = fwd.get(m..2 * m).unwrap_or_default();
            let ws = self.fwd_s.get(m..2 * m).unwrap_or_default();
            for (block, (&w, &ws)) in a.chunks_exact_mut(2 * t).zip(w.iter().zip(ws)) {
                let (w, ws) = (S::splat(w), S::splat(ws));
                let (lo, hi) = block.split_at_mut(t);
                let (lo, _) = lo.as_chunks_mut::<8>();
                let (hi, _) = hi.as_chunks_mut::<8>();
                for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                    let (u, v) = c.fwd_butterfly(S::load(x), S::load(y), w, ws);
                    u.store(x);
                    v.store(y);
                }
            }
            m *= 2;
            t /= 2;
        }
        let half = fwd.get(n / 2..).unwrap_or_default();
        let half_s = self.fwd_s.get(n / 2..).unwrap_or_default();
        in_register_stage::<S, false>(&c, a, &self.fwd4, &self.fwd4_s, &T4);
        in_register_stage::<S, false>(&c, a, &self.fwd2, &self.fwd2_s, &T2);
        in_register_stage::<S, true>(&c, a, half, half_s, &T1);
    }

    /// Inverse NTT over any [`Lanes`]: inputs in `[0, 2q)`, outputs in `[0, q)`.
    /// `a` and `inv` must have `n` entries (checked by the callers).
    #[inline(always)]
    pub(crate) fn inverse_with<S: Lanes>(&self, inv: &[u64], a: &mut [u64]) {
        let c = Consts::<S>::new(self.q);
        let n = self.n;
        let half = inv.get(n / 2..).unwrap_or_default();
        let half_s = self.inv_s.get(n / 2..).unwrap_or_default();
        in_register_inv_stage(&c, a, half, half_s, &T1);
        in_register_inv_stage(&c, a, &self.inv2, &self.inv2_s, &T2);
        in_register_inv_stage(&c, a, &self.inv4, &self.inv4_s, &T4);
        let (mut h, mut t) = (n / 16, 8);
        while h > 1 {
            let w = inv.get(h..2 * h).unwrap_or_default();
            let ws = self.inv_s.get(h..2 * h).unwrap_or_default();
            for (block, (&w, &ws)) in a.chunks_exact_mut(2 * t).zip(w.iter().zip(ws)) {
                let (w, ws) = (S::splat(w), S::splat(ws));
                let (lo, hi) = block.split_at_mut(t);
                let (lo, _) = lo.as_chunks_mut::<8>();
                let (hi, _) = hi.as_chunks_mut::<8>();
                for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                    let (u, v) = c.inv_butterfly(S::load(x), S::load(y), w, ws);
                    u.store(x);
                    v.store(y);
                }
            }
            h /= 2;
            t *= 2;
        }
        // Last stage: one block, twiddle ψ^-brv(1), n^-1 folded in; outputs in [0, q).
        let (ni, nis) = (S::splat(self.n_inv), S::splat(self.n_inv_s));
        let (li, lis) = (S::splat(self.last_inv), S::splat(self.last_inv_s));
        let (lo, hi) = a.split_at_mut(n / 2);
        let (lo, _) = lo.as_chunks_mut::<8>();
        let (hi, _) = hi.as_chunks_mut::<8>();
        for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
            let (u, v) = (S::load(x), S::load(y));
            let s = c.mul_shoup_lazy(u.add(v), ni, nis);
            let d = c.mul_shoup_lazy(u.add(c.two_q).sub(v), li, lis);
            csub(s, c.q).store(x);
            csub(d, c.q).store(y);
        }
    }
}

/// Lane indices of an in-register stage over a block `A ++ B` of 16 coefficients: `x` and `y`
/// gather the butterfly operands (lane `i` of each is butterfly `i` of the block), `a` and `b`
/// scatter the results `x' ++ y'` back to `A` and `B`.
struct Shuffle {
    x: [u64; 8],
    y: [u64; 8],
    a: [u64; 8],
    b: [u64; 8],
}

/// Distance 4: blocks of 8 (`A` is one block, `B` the next).
const T4: Shuffle = Shuffle {
    x: [0, 1, 2, 3, 8, 9, 10, 11],
    y: [4, 5, 6, 7, 12, 13, 14, 15],
    a: [0, 1, 2, 3, 8, 9, 10, 11],
    b: [4, 5, 6, 7, 12, 13, 14, 15],
};

/// Distance 2: blocks of 4.
const T2: Shuffle = Shuffle {
    x: [0, 1, 4, 5, 8, 9, 12, 13],
    y: [2, 3, 6, 7, 10, 11, 14, 15],
    a: [0, 1, 8, 9, 2, 3, 10, 11],
    b: [4, 5, 12, 13, 6, 7, 14, 15],
};

/// Distance 1: pairs.
const T1: Shuffle = Shuffle {
    x: [0, 2, 4, 6, 8, 10, 12, 14],
    y: [1, 3, 5, 7, 9, 11, 13, 15],
    a: [0, 8, 1, 9, 2, 10, 3, 11],
    b: [4, 12, 5, 13, 6, 14, 7, 15],
};

/// The constants of one modulus, broadcast.
struct Consts<S> {
    q: S,
    two_q: S,
    mask: S,
}

impl<S: Lanes> Consts<S> {
    #[inline(always)]
    fn new(q: u64) -> Self {
        Self {
            q: S::splat(q),
            two_q: S::splat(2 * q),
            mask: S::splat(MASK52),
        }
    }

    /// `a·w mod q` in `[0, 2q)` for `a < 2^52`, `w < q`, `ws = ⌊w·2^52/q⌋`.
    #[inline(always)]
    fn mul_shoup_lazy(&self, a: S, w: S, ws: S) -> S {
        let quot = a.mul52hi(ws);
        a.mul52lo(w).sub(quot.mul52lo(self.q)).and(self.mask)
    }

    /// Harvey's Cooley–Tukey butterfly: `x, y < 4q` to `(x + w·y, x − w·y)` in `[0, 4q)`.
    #[inline(always)]
    fn fwd_butterfly(&self, x: S, y: S, w: S, ws: S) -> (S, S) {
        let x = csub(x, self.two_q);
        let t = self.mul_shoup_lazy(y, w, ws);
        (x.add(t), x.add(self.two_q).sub(t))
    }

    /// Harvey's Gentleman–Sande butterfly: `x, y < 2q` to `(x + y, (x − y)·w)` in `[0, 2q)`.
    #[inline(always)]
    fn inv_butterfly(&self, x: S, y: S, w: S, ws: S) -> (S, S) {
        (
            csub(x.add(y), self.two_q),
            self.mul_shoup_lazy(x.add(self.two_q).sub(y), w, ws),
        )
    }
}

/// Lane-wise `if x >= s { x - s } else { x }` (a wrapped difference exceeds `x`).
#[inline(always)]
fn csub<S: Lanes>(x: S, s: S) -> S {
    x.min(x.sub(s))
}

/// One forward stage with distance 1, 2 or 4 (given by `sh`), twiddles `w`/`ws` one per
/// butterfly; with `REDUCE` the outputs are reduced to `[0, q)` (last stage).
#[inline(always)]
fn in_register_stage<S: Lanes, const REDUCE: bool>(
    c: &Consts<S>,
    a: &mut [u64],
    w: &[u64],
    ws: &[u64],
    sh: &Shuffle,
) {
    let (gx, gy, sa, sb) = (
        S::load(&sh.x),
        S::load(&sh.y),
        S::load(&sh.a),
        S::load(&sh.b),
    );
    let (blocks, _) = a.as_chunks_mut::<16>();
    let (w, _) = w.as_chunks::<8>();
    let (ws, _) = ws.as_chunks::<8>();
    for (block, (w, ws)) in blocks.iter_mut().zip(w.iter().zip(ws)) {
        let (lo, hi) = block.split_at_mut(8);
        let (Ok(lo), Ok(hi)) = (<&mut [u64; 8]>::try_from(lo), <&mut [u64; 8]>::try_from(hi))
        else {
            continue;
        };
        let (va, vb) = (S::load(lo), S::load(hi));
        let (x, y) = (va.permute2(gx, vb), va.permute2(gy, vb));
        let (u, v) = c.fwd_butterfly(x, y, S::load(w), S::load(ws));
        let (u, v) = if REDUCE {
            (csub(csub(u, c.two_q), c.q), csub(csub(v, c.two_q), c.q))
        } else {
            (u, v)
        };
        u.permute2(sa, v).store(lo);
        u.permute2(sb, v).store(hi);
    }
}

/// One inverse stage with distance 1, 2 or 4 (given by `sh`), twiddles one per butterfly.
#[inline(always)]
fn in_register_inv_stage<S: Lanes>(
    c: &Consts<S>,
    a: &mut [u64],
    w: &[u64],
    ws: &[u64],
    sh: &Shuffle,
) {
    let (gx, gy, sa, sb) = (
        S::load(&sh.x),
        S::load(&sh.y),
        S::load(&sh.a),
        S::load(&sh.b),
    );
    let (blocks, _) = a.as_chunks_mut::<16>();
    let (w, _) = w.as_chunks::<8>();
    let (ws, _) = ws.as_chunks::<8>();
    for (block, (w, ws)) in blocks.iter_mut().zip(w.iter().zip(ws)) {
        let (lo, hi) = block.split_at_mut(8);
        let (Ok(lo), Ok(hi)) = (<&mut [u64; 8]>::try_from(lo), <&mut [u64; 8]>::try_from(hi))
        else {
            continue;
        };
        let (va, vb) = (S::load(lo), S::load(hi));
        let (x, y) = (va.permute2(gx, vb), va.permute2(gy, vb));
        let (u, v) = c.inv_butterfly(x, y, S::load(w), S::load(ws));
        u.permute2(sa, v).store(lo);
        u.permute2(sb, v).store(hi);
    }
}

/// The AVX-512 implementation of [`Lanes`].
///
/// # Invariant (the safety argument of every `unsafe` block below)
///
/// A value of type `Avx` is only ever created inside `forward_avx512` / `inverse_avx512` and
/// the test helper `apply`, all entered only after [`ifma_available`] returned `true`. So the
/// CPU running any of these methods supports AVX-512F and AVX-512IFMA, the only precondition of
/// the register intrinsics; the memory intrinsics additionally read or write exactly the 64
/// bytes of a `[u64; 8]` reference, which is valid and (for stores) exclusively borrowed.
#[cfg(all(target_arch = "x86_64", not(miri)))]
mod avx {
    use core::arch::x86_64::{
        __m512i, _mm512_add_epi64, _mm512_and_si512, _mm512_loadu_si512, _mm512_madd52hi_epu64,
        _mm512_madd52lo_epu64, _mm512_min_epu64, _mm512_permutex2var_epi64, _mm512_set1_epi64,
        _mm512_setzero_si512, _mm512_storeu_si512, _mm512_sub_epi64,
    };

    use super::{IfmaTables, Lanes};

    /// Eight lanes in one AVX-512 register (see the module invariant).
    #[derive(Clone, Copy)]
    pub(super) struct Avx(__m512i);

    impl Lanes for Avx {
        #[inline(always)]
        fn splat(x: u64) -> Self {
            // SAFETY: module invariant (AVX-512F present); the cast reinterprets the bits.
            Self(unsafe { _mm512_set1_epi64(x as i64) })
        }
        #[inline(always)]
        fn load(src: &[u64; 8]) -> Self {
            // SAFETY: module invariant; `src` is valid for reading 64 bytes, and the
            // unaligned load has no alignment requirement.
            Self(unsafe { _mm512_loadu_si512(src.as_ptr().cast()) })
        }
        #[inline(always)]
        fn store(self, dst: &mut [u64; 8]) {
            // SAFETY: module invariant; `dst` is valid and exclusively borrowed for writing
            // 64 bytes, and the unaligned store has no alignment requirement.
            unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), self.0) }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            // SAFETY: module invariant (AVX-512F present).
            Self(unsafe { _mm512_add_epi64(self.0, o.0) })
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            // SAFETY: module invariant (AVX-512F present).
            Self(unsafe { _mm512_sub_epi64(self.0, o.0) })
        }
        #[inline(always)]
        fn min(self, o: Self) -> Self {
            // SAFETY: module invariant (AVX-512F present).
            Self(unsafe { _mm512_min_epu64(self.0, o.0) })
        }
        #[inline(always)]
        fn and(self, o: Self) -> Self {
            // SAFETY: module invariant (AVX-512F present).
            Self(unsafe { _mm512_and_si512(self.0, o.0) })
        }
        #[inline(always)]
        fn mul52lo(self, o: Self) -> Self {
            // SAFETY: module invariant (AVX-512F and AVX-512IFMA present).
            Self(unsafe { _mm512_madd52lo_epu64(_mm512_setzero_si512(), self.0, o.0) })
        }
        #[inline(always)]
        fn mul52hi(self, o: Self) -> Self {
            // SAFETY: module invariant (AVX-512F and AVX-512IFMA present).
            Self(unsafe { _mm512_madd52hi_epu64(_mm512_setzero_si512(), self.0, o.0) })
        }
        #[inline(always)]
        fn permute2(self, idx: Self, o: Self) -> Self {
            // SAFETY: module invariant (AVX-512F present); `vpermt2q` reads the low 4 bits of
            // each index lane, as `Lanes::permute2` specifies.
            Self(unsafe { _mm512_permutex2var_epi64(self.0, idx.0, o.0) })
        }
    }

    /// The forward kernel compiled for AVX-512F + IFMA (callers check `a.len() == n`).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn forward_avx512(t: &IfmaTables, fwd: &[u64], a: &mut [u64]) {
        t.forward_with::<Avx>(fwd, a);
    }

    /// The inverse kernel compiled for AVX-512F + IFMA (callers check `a.len() == n`).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn inverse_avx512(t: &IfmaTables, inv: &[u64], a: &mut [u64]) {
        t.inverse_with::<Avx>(inv, a);
    }

    /// Test access: one [`Lanes`] operation on AVX-512 registers, for comparison with
    /// [`super::Emu`]. Returns `None` if the CPU lacks the instructions.
    #[cfg(test)]
    pub(super) fn apply(op: fn(Avx, Avx) -> Avx, x: &[u64; 8], y: &[u64; 8]) -> Option<[u64; 8]> {
        if !super::ifma_available() {
            return None;
        }
        let mut out = [0; 8];
        op(Avx::load(x), Avx::load(y)).store(&mut out);
        Some(out)
    }
}

#[cfg(test)]
mod tests;
