//! Vector NTT kernels: AVX-512 IFMA52 (`vpmadd52luq` / `vpmadd52huq`) for primes `q < 2^50`,
//! AVX-512F/DQ 64-bit words for the larger primes (`q < 2^62`). The slice kernels of key
//! switching, rescale and plaintext products are in [`slices`], on the same lanes.
//!
//! This is the only module of `fhez-math` that contains `unsafe` code; the rest of the crate
//! denies it and every other crate of the workspace forbids it.
//!
//! # Arithmetic
//!
//! The kernels run the same butterflies as the scalar NTT in [`crate::ntt`] (Cooley–Tukey
//! forward, Gentleman–Sande inverse, Harvey's lazy reduction, `n^-1` folded into the last
//! inverse stage), eight coefficients per instruction, in one of two word sizes ([`Word`]).
//!
//! [`Word::W64`] is the scalar arithmetic itself: `w' = ⌊w·2^64/q⌋` and
//! `a·w − ⌊a·w'/2^64⌋·q mod 2^64`, with the high half of the 64×64-bit product formed from four
//! 32×32-bit products (`vpmuludq`) and the low halves by `vpmullq` (AVX-512DQ). Every
//! intermediate value equals the scalar kernel's, so all outputs, lazy ones included, are
//! bit-for-bit the scalar ones.
//!
//! [`Word::W52`] uses IFMA's 52-bit words:
//! with `w' = ⌊w·2^52/q⌋` and `a < 2^52`, `r = a·w − ⌊a·w'/2^52⌋·q` lies in `[0, 2q)`, and
//! because `2q < 2^52` it equals `(lo52(a·w) − lo52(⌊a·w'/2^52⌋·q)) mod 2^52`. Lazy values stay
//! in `[0, 4q)`, so `q < 2^50` keeps every multiplier input below `2^52`, the width IFMA reads.
//!
//! Its lazy intermediate values can differ from the scalar kernel's (the 64-bit Shoup quotient
//! may be one larger), but both are congruent and both kernels reduce their outputs to
//! `[0, q)`: the results of [`NttTable::forward`](crate::NttTable::forward) and
//! [`NttTable::inverse`](crate::NttTable::inverse) are bit-for-bit the scalar ones, which the
//! tests of this module check. With this kernel,
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
//! [`features`] detects AVX-512F, DQ and IFMA once per process (and reports none under Miri or
//! when the environment variable `FHEZ_SIMD` is `scalar`, for A/B measurements).
//! [`NttTable::new`](crate::NttTable::new) asks [`word_for`] which kernel serves its
//! `(q, n)`: IFMA52 for `q < 2^50`, otherwise the 64-bit kernel, both for `n ≥ 16`; without
//! the instructions the scalar kernel runs.

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

/// The word size of a vector kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Word {
    /// IFMA52 words, for `q < 2^50`: needs AVX-512F and AVX-512IFMA.
    W52,
    /// 64-bit words, for `q < 2^62` (the scalar arithmetic): needs AVX-512F and AVX-512DQ.
    W64,
}

/// The vector instructions this CPU offers the kernels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Features {
    /// AVX-512F and AVX-512IFMA (the [`Word::W52`] kernel).
    pub(crate) ifma: bool,
    /// AVX-512F and AVX-512DQ (the [`Word::W64`] kernel).
    pub(crate) dq: bool,
}

/// The vector instructions the kernels may use (detected once, then cached).
///
/// None under Miri, on other architectures, and when the environment variable `FHEZ_SIMD` is
/// set to `scalar`.
#[must_use]
pub(crate) fn features() -> Features {
    static DETECTED: std::sync::OnceLock<Features> = std::sync::OnceLock::new();
    *DETECTED.get_or_init(|| {
        if std::env::var_os("FHEZ_SIMD").is_some_and(|v| v == "scalar") {
            Features::default()
        } else {
            cpu_features()
        }
    })
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
fn cpu_features() -> Features {
    let f = std::arch::is_x86_feature_detected!("avx512f");
    Features {
        ifma: f && std::arch::is_x86_feature_detected!("avx512ifma"),
        dq: f && std::arch::is_x86_feature_detected!("avx512dq"),
    }
}

#[cfg(not(all(target_arch = "x86_64", not(miri))))]
fn cpu_features() -> Features {
    Features::default()
}

/// The vector kernel for a `bits`-bit modulus and degree `n` on a CPU with `f`, if any.
#[must_use]
pub(crate) const fn word_for(bits: u32, n: usize, f: Features) -> Option<Word> {
    if n < IFMA_MIN_DEGREE || bits > crate::zq::MAX_MODULUS_BITS {
        None
    } else if bits <= IFMA_MAX_MODULUS_BITS && f.ifma {
        Some(Word::W52)
    } else if f.dq {
        Some(Word::W64)
    } else {
        None
    }
}

/// Whether the CPU has the instructions of the `word` kernel.
fn supports(word: Word) -> bool {
    let f = features();
    match word {
        Word::W52 => f.ifma,
        Word::W64 => f.dq,
    }
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
    /// Low 64 bits of the 128-bit product of each lane (`vpmullq`).
    fn mullo64(self, o: Self) -> Self;
    /// High 64 bits of the 128-bit product of each lane.
    fn mulhi64(self, o: Self) -> Self;
    /// `self + mul52lo(a, b)` (wrapping), one `vpmadd52luq`.
    fn madd52lo(self, a: Self, b: Self) -> Self;
    /// `self + mul52hi(a, b)` (wrapping), one `vpmadd52huq`.
    fn madd52hi(self, a: Self, b: Self) -> Self;
    /// Lane-wise logical right shift by 52 bits.
    fn shr52(self) -> Self;
    /// Lane `i` is lane `i` of `yes` where `self > thr` (unsigned), else lane `i` of `no`.
    fn select_gt(self, thr: Self, yes: Self, no: Self) -> Self;
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
    fn mullo64(self, o: Self) -> Self {
        self.zip_with(o, u64::wrapping_mul)
    }
    #[inline(always)]
    fn mulhi64(self, o: Self) -> Self {
        self.zip_with(o, |x, y| ((u128::from(x) * u128::from(y)) >> 64) as u64)
    }
    #[inline(always)]
    fn madd52lo(self, a: Self, b: Self) -> Self {
        self.add(a.mul52lo(b))
    }
    #[inline(always)]
    fn madd52hi(self, a: Self, b: Self) -> Self {
        self.add(a.mul52hi(b))
    }
    #[inline(always)]
    fn shr52(self) -> Self {
        Self(self.0.map(|x| x >> 52))
    }
    #[inline(always)]
    fn select_gt(self, thr: Self, yes: Self, no: Self) -> Self {
        let mut out = no.0;
        for (((o, &x), &t), &y) in out.iter_mut().zip(&self.0).zip(&thr.0).zip(&yes.0) {
            if x > t {
                *o = y;
            }
        }
        Self(out)
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

/// Precomputed Shoup companions and expanded twiddles of one
/// [`NttTable`](crate::NttTable) for a vector kernel.
#[derive(Clone)]
pub(crate) struct VecTables {
    word: Word,
    q: u64,
    n: usize,
    /// Shoup companions (of the kernel's word size) of `NttTable::fwd` (index for index).
    fwd_s: Vec<u64>,
    /// Forward twiddles of the stages `t = 2` and `t = 4`, one per butterfly in lane order,
    /// with their companions.
    fwd2: Vec<u64>,
    fwd2_s: Vec<u64>,
    fwd4: Vec<u64>,
    fwd4_s: Vec<u64>,
    /// Shoup companions of `NttTable::inv`.
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

impl VecTables {
    /// The tables of the `word` kernel for an NTT of size `n` modulo `q`, given the scalar
    /// table's bit-reversed twiddles `fwd` (`ψ^brv(k)`) and `inv` (`ψ^-brv(k)`), `n^-1` and
    /// `ψ^-brv(1)·n^-1`. `None` unless `16 ≤ n` (a power of two), both twiddle tables have `n`
    /// entries and, for [`Word::W52`], `q < 2^50`.
    pub(crate) fn new(
        q: &Modulus,
        n: usize,
        (fwd, inv): (&[u64], &[u64]),
        (n_inv, last_inv): (u64, u64),
        word: Word,
    ) -> Option<Self> {
        let qv = q.value();
        if (word == Word::W52 && q.bits() > IFMA_MAX_MODULUS_BITS)
            || n < IFMA_MIN_DEGREE
            || !n.is_power_of_two()
            || fwd.len() != n
            || inv.len() != n
        {
            return None;
        }
        let one = |w: u64| match word {
            Word::W52 => shoup52(w, qv),
            Word::W64 => q.shoup(w),
        };
        let comp = |v: &[u64]| v.iter().map(|&w| one(w)).collect::<Vec<_>>();
        let (fwd2, fwd4) = (expand(fwd, n, 2), expand(fwd, n, 4));
        let (inv2, inv4) = (expand(inv, n, 2), expand(inv, n, 4));
        Some(Self {
            word,
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
            n_inv_s: one(n_inv),
            last_inv,
            last_inv_s: one(last_inv),
        })
    }

    /// The word size of this kernel.
    #[must_use]
    pub(crate) const fn word(&self) -> Word {
        self.word
    }

    /// Forward NTT with the AVX-512 kernel; `fwd` is the scalar table's twiddle array.
    /// Outputs are in `[0, q)` if `reduce` or for [`Word::W52`], else in `[0, 4q)` and equal
    /// to the scalar lazy kernel's. Returns `false` (and leaves `a` untouched) if
    /// `a.len() != n` or the CPU lacks the instructions; the caller then runs the scalar kernel.
    #[inline]
    pub(crate) fn forward_avx(&self, fwd: &[u64], a: &mut [u64], reduce: bool) -> bool {
        if a.len() != self.n || fwd.len() != self.n || !supports(self.word) {
            return false;
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            match self.word {
                // SAFETY: `forward_ifma` only requires the CPU features "avx512f" and
                // "avx512ifma", which `supports(W52)` has just confirmed at run time.
                Word::W52 => unsafe { avx::forward_ifma(self, fwd, a) },
                // SAFETY: `forward_dq` only requires "avx512f" and "avx512dq", which
                // `supports(W64)` has just confirmed at run time.
                Word::W64 => unsafe { avx::forward_dq(self, fwd, a, reduce) },
            }
            true
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = reduce;
            false
        }
    }

    /// Inverse NTT with the AVX-512 kernel; `inv` is the scalar table's twiddle array.
    /// Returns `false` (and leaves `a` untouched) if `a.len() != n` or the CPU lacks the
    /// instructions, in which case the caller runs the scalar kernel.
    #[inline]
    pub(crate) fn inverse_avx(&self, inv: &[u64], a: &mut [u64]) -> bool {
        if a.len() != self.n || inv.len() != self.n || !supports(self.word) {
            return false;
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            match self.word {
                // SAFETY: as in `forward_avx`, the required CPU features were detected.
                Word::W52 => unsafe { avx::inverse_ifma(self, inv, a) },
                // SAFETY: as in `forward_avx`, the required CPU features were detected.
                Word::W64 => unsafe { avx::inverse_dq(self, inv, a) },
            }
            true
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        false
    }

    /// Forward NTT over any [`Lanes`] with words of 64 bits (`W64`) or 52 bits: inputs in
    /// `[0, 4q)`, outputs in `[0, q)` with `reduce`, else in `[0, 4q)`. `a` and `fwd` must have
    /// `n` entries (checked by the callers); `W64` must match the tables' word.
    #[inline(always)]
    pub(crate) fn forward_with<S: Lanes, const W64: bool>(
        &self,
        fwd: &[u64],
        a: &mut [u64],
        reduce: bool,
    ) {
        let c = Consts::<S, W64>::new(self.q);
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
        in_register_stage::<S, W64, false>(&c, a, &self.fwd4, &self.fwd4_s, &T4);
        in_register_stage::<S, W64, false>(&c, a, &self.fwd2, &self.fwd2_s, &T2);
        if reduce {
            in_register_stage::<S, W64, true>(&c, a, half, half_s, &T1);
        } else {
            in_register_stage::<S, W64, false>(&c, a, half, half_s, &T1);
        }
    }

    /// Inverse NTT over any [`Lanes`] with words of 64 bits (`W64`) or 52 bits: inputs in
    /// `[0, 2q)`, outputs in `[0, q)`. `a` and `inv` must have `n` entries (checked by the
    /// callers); `W64` must match the tables' word.
    #[inline(always)]
    pub(crate) fn inverse_with<S: Lanes, const W64: bool>(&self, inv: &[u64], a: &mut [u64]) {
        let c = Consts::<S, W64>::new(self.q);
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

/// The constants of one modulus, broadcast; `W64` selects 64-bit (else 52-bit) Shoup words.
struct Consts<S, const W64: bool> {
    q: S,
    two_q: S,
    mask: S,
}

impl<S: Lanes, const W64: bool> Consts<S, W64> {
    #[inline(always)]
    fn new(q: u64) -> Self {
        Self {
            q: S::splat(q),
            two_q: S::splat(2 * q),
            mask: S::splat(MASK52),
        }
    }

    /// `a·w mod q` in `[0, 2q)` for `w < q` and, with 52-bit words, `a < 2^52` and
    /// `ws = ⌊w·2^52/q⌋`; with 64-bit words any `a` and `ws = ⌊w·2^64/q⌋` (then exactly
    /// [`Modulus::mul_shoup_lazy`]).
    #[inline(always)]
    fn mul_shoup_lazy(&self, a: S, w: S, ws: S) -> S {
        if W64 {
            let quot = a.mulhi64(ws);
            a.mullo64(w).sub(quot.mullo64(self.q))
        } else {
            let quot = a.mul52hi(ws);
            a.mul52lo(w).sub(quot.mul52lo(self.q)).and(self.mask)
        }
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
fn in_register_stage<S: Lanes, const W64: bool, const REDUCE: bool>(
    c: &Consts<S, W64>,
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
fn in_register_inv_stage<S: Lanes, const W64: bool>(
    c: &Consts<S, W64>,
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
/// A value of type `Avx` is only ever created inside `forward_ifma` / `inverse_ifma` (entered
/// only after [`features`] reported IFMA), `forward_dq` / `inverse_dq` (entered only after it
/// reported DQ), the slice kernels' entry points of `slices::avx` (the `*_ifma` ones entered
/// only after IFMA was reported, the `*_dq` ones only after DQ) and the test helper `apply`
/// (which checks both). All of them need AVX-512F, which every method uses;
/// `mul52lo`/`mul52hi`/`madd52lo`/`madd52hi` (IFMA) are only reached from the W52 kernels
/// and `mullo64` (DQ) only from the W64 kernels, whose entry points check those features. The
/// memory intrinsics additionally read or write exactly the 64 bytes of a `[u64; 8]`
/// reference, which is valid and (for stores) exclusively borrowed.
#[cfg(all(target_arch = "x86_64", not(miri)))]
mod avx {
    use core::arch::x86_64::{
        __m512i, _mm512_add_epi64, _mm512_and_si512, _mm512_cmpgt_epu64_mask, _mm512_loadu_si512,
        _mm512_madd52hi_epu64, _mm512_madd52lo_epu64, _mm512_mask_blend_epi64, _mm512_min_epu64,
        _mm512_mul_epu32, _mm512_mullo_epi64, _mm512_permutex2var_epi64, _mm512_set1_epi64,
        _mm512_setzero_si512, _mm512_srli_epi64, _mm512_storeu_si512, _mm512_sub_epi64,
    };

    use super::{Lanes, VecTables};

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
        #[inline(always)]
        fn mullo64(self, o: Self) -> Self {
            // SAFETY: module invariant (AVX-512DQ present on the W64 paths).
            Self(unsafe { _mm512_mullo_epi64(self.0, o.0) })
        }
        #[inline(always)]
        fn madd52lo(self, a: Self, b: Self) -> Self {
            // SAFETY: module invariant (AVX-512F and AVX-512IFMA present).
            Self(unsafe { _mm512_madd52lo_epu64(self.0, a.0, b.0) })
        }
        #[inline(always)]
        fn madd52hi(self, a: Self, b: Self) -> Self {
            // SAFETY: module invariant (AVX-512F and AVX-512IFMA present).
            Self(unsafe { _mm512_madd52hi_epu64(self.0, a.0, b.0) })
        }
        #[inline(always)]
        fn shr52(self) -> Self {
            // SAFETY: module invariant (AVX-512F present).
            Self(unsafe { _mm512_srli_epi64::<52>(self.0) })
        }
        #[inline(always)]
        fn select_gt(self, thr: Self, yes: Self, no: Self) -> Self {
            // SAFETY: module invariant (AVX-512F present); the blend takes `yes` where the
            // unsigned comparison set the mask bit.
            Self(unsafe {
                _mm512_mask_blend_epi64(_mm512_cmpgt_epu64_mask(self.0, thr.0), no.0, yes.0)
            })
        }
        #[inline(always)]
        fn mulhi64(self, o: Self) -> Self {
            // SAFETY: module invariant (AVX-512F present). With a = a1·2^32 + a0 and
            // b = b1·2^32 + b0: mid = ⌊a0·b0/2^32⌋ + lo32(a0·b1) + lo32(a1·b0) < 3·2^32 holds
            // the carries into bit 64, and hi = a1·b1 + ⌊a0·b1/2^32⌋ + ⌊a1·b0/2^32⌋ +
            // ⌊mid/2^32⌋ is the high word of a·b (it cannot wrap: a·b < 2^128).
            unsafe {
                let (a, b) = (self.0, o.0);
                let (a1, b1) = (_mm512_srli_epi64::<32>(a), _mm512_srli_epi64::<32>(b));
                let lo32 = _mm512_set1_epi64(0xffff_ffff);
                let ll = _mm512_mul_epu32(a, b);
                let lh = _mm512_mul_epu32(a, b1);
                let hl = _mm512_mul_epu32(a1, b);
                let hh = _mm512_mul_epu32(a1, b1);
                let mid = _mm512_add_epi64(
                    _mm512_srli_epi64::<32>(ll),
                    _mm512_add_epi64(_mm512_and_si512(lh, lo32), _mm512_and_si512(hl, lo32)),
                );
                let hi = _mm512_add_epi64(
                    hh,
                    _mm512_add_epi64(_mm512_srli_epi64::<32>(lh), _mm512_srli_epi64::<32>(hl)),
                );
                Self(_mm512_add_epi64(hi, _mm512_srli_epi64::<32>(mid)))
            }
        }
    }

    /// The forward W52 kernel compiled for AVX-512F + IFMA (callers check `a.len() == n`).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn forward_ifma(t: &VecTables, fwd: &[u64], a: &mut [u64]) {
        t.forward_with::<Avx, false>(fwd, a, true);
    }

    /// The inverse W52 kernel compiled for AVX-512F + IFMA (callers check `a.len() == n`).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn inverse_ifma(t: &VecTables, inv: &[u64], a: &mut [u64]) {
        t.inverse_with::<Avx, false>(inv, a);
    }

    /// The forward W64 kernel compiled for AVX-512F + DQ (callers check `a.len() == n`).
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn forward_dq(t: &VecTables, fwd: &[u64], a: &mut [u64], reduce: bool) {
        t.forward_with::<Avx, true>(fwd, a, reduce);
    }

    /// The inverse W64 kernel compiled for AVX-512F + DQ (callers check `a.len() == n`).
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn inverse_dq(t: &VecTables, inv: &[u64], a: &mut [u64]) {
        t.inverse_with::<Avx, true>(inv, a);
    }

    /// Test access: one [`Lanes`] operation on AVX-512 registers, for comparison with
    /// [`super::Emu`]. Returns `None` unless the CPU has AVX-512F, DQ and IFMA.
    #[cfg(test)]
    pub(super) fn apply(op: fn(Avx, Avx) -> Avx, x: &[u64; 8], y: &[u64; 8]) -> Option<[u64; 8]> {
        let f = super::features();
        if !(f.ifma && f.dq) {
            return None;
        }
        let mut out = [0; 8];
        op(Avx::load(x), Avx::load(y)).store(&mut out);
        Some(out)
    }
}

mod slices;
pub(crate) use slices::{
    convert_one_prime, mul_add_slices, mul_slices, mul_sum2_slices, one_prime_consts, scalar_sums,
    scalar_sums_available, sub_scale_slices,
};

#[cfg(test)]
mod tests;
