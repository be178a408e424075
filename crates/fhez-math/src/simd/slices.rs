//! Vector slice kernels of key switching, rescale and plaintext multiplication: elementwise
//! modular products, the two inner products of a key switch over its digits, the
//! subtract-and-scale step of ModDown and rescale, and the exact basis conversion from one
//! prime (ModUp and ModDown with one prime per digit and one special prime).
//!
//! Every kernel produces fully reduced outputs in `[0, q)`, so its results are the scalar
//! kernels' results bit for bit (a residue in `[0, q)` is unique); the tests of this module
//! check that on random and edge inputs for the prime sizes of the presets.
//!
//! # Arithmetic
//!
//! A double-word value `h·2^w + l` (with `w = 52` for [`Word::W52`] and `w = 64` for
//! [`Word::W64`]) is reduced as `h·[2^w mod q] + l·1`, two Shoup products with constant
//! multipliers (each in `[0, 2q)`, see [`Consts::mul_shoup_lazy`](super::Consts)) and two
//! conditional subtractions. With 52-bit words this needs `h, l < 2^52`: a product of two
//! values below `2^52` gives exactly such a pair, and the key inner product folds its
//! accumulators (low and high halves of the IFMA products, summed separately) often enough
//! that the high sum plus the carries out of the low sum stays below `2^52`.
//!
//! The generic kernels process whole vectors of eight lanes and return how many leading
//! elements they wrote; the callers run the scalar code on the rest.

use super::{Consts, Features, IFMA_MAX_MODULUS_BITS, Lanes, Word, csub, features};
use crate::Modulus;

/// The largest number of digits the key inner product accumulates between two folds (keeps the
/// low accumulator, below `(terms + 1)·2^52`, far from `2^64`).
const MAX_FOLD_TERMS: u64 = 1 << 10;

/// The vector word size of the slice kernels for a modulus, if this CPU has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SliceWord(pub(crate) Option<Word>);

impl SliceWord {
    /// The kernel for modulus `q` on a CPU with `f`: IFMA52 for `q < 2^50`, 64-bit words
    /// for the larger moduli (`q < 2^62`), none without the instructions.
    #[must_use]
    pub(crate) const fn for_modulus(q: &Modulus, f: Features) -> Self {
        Self(super::word_for(q.bits(), super::IFMA_MIN_DEGREE, f))
    }

    /// The kernel for `q` on this CPU.
    #[must_use]
    pub(crate) fn detect(q: &Modulus) -> Self {
        Self::for_modulus(q, features())
    }
}

/// `⌊w·2^52/q⌋` for `w < q < 2^52`.
fn shoup52(w: u64, q: u64) -> u64 {
    ((u128::from(w) << 52) / u128::from(q)) as u64
}

/// The scalar constants of a double-word reduction modulo `q`: `r = 2^w mod q`, its Shoup
/// companion and the companion of 1, for the word size of the kernel.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wide {
    r: u64,
    r_s: u64,
    one_s: u64,
}

impl Wide {
    /// The constants for `q` and 64-bit (`w64`) or 52-bit words.
    pub(crate) fn new(q: &Modulus, w64: bool) -> Self {
        let qv = q.value();
        if w64 {
            let r = ((1u128 << 64) % u128::from(qv)) as u64;
            Self {
                r,
                r_s: q.shoup(r),
                one_s: q.shoup(1 % qv),
            }
        } else {
            let r = (1u64 << 52) % qv;
            Self {
                r,
                r_s: shoup52(r, qv),
                one_s: shoup52(1 % qv, qv),
            }
        }
    }
}

/// [`Wide`] broadcast to lanes.
struct WideV<S> {
    r: S,
    r_s: S,
    one: S,
    one_s: S,
}

impl<S: Lanes> WideV<S> {
    #[inline(always)]
    fn new(w: &Wide) -> Self {
        Self {
            r: S::splat(w.r),
            r_s: S::splat(w.r_s),
            one: S::splat(1),
            one_s: S::splat(w.one_s),
        }
    }
}

/// `(h·2^w + l) mod q` in `[0, q)`; with 52-bit words `h, l < 2^52`, with 64-bit words any.
#[inline(always)]
fn reduce_wide<S: Lanes, const W64: bool>(c: &Consts<S, W64>, k: &WideV<S>, h: S, l: S) -> S {
    // Each Shoup product lies in [0, 2q), so the sum is below 4q < 2^52.
    let s = c
        .mul_shoup_lazy(h, k.r, k.r_s)
        .add(c.mul_shoup_lazy(l, k.one, k.one_s));
    csub(csub(s, c.two_q), c.q)
}

/// `a[i] = a[i]·b[i] mod q` over the leading whole vectors; returns the number of elements
/// written. With 52-bit words the inputs must be below `2^52` (any `u64` with 64-bit words).
#[inline(always)]
pub(crate) fn mul_with<S: Lanes, const W64: bool>(
    q: &Modulus,
    wide: &Wide,
    a: &mut [u64],
    b: &[u64],
) -> usize {
    let c = Consts::<S, W64>::new(q.value());
    let k = WideV::<S>::new(wide);
    let (av, _) = a.as_chunks_mut::<8>();
    let (bv, _) = b.as_chunks::<8>();
    let mut done = 0;
    for (x, y) in av.iter_mut().zip(bv) {
        let (xv, yv) = (S::load(x), S::load(y));
        let (h, l) = if W64 {
            (xv.mulhi64(yv), xv.mullo64(yv))
        } else {
            (xv.mul52hi(yv), xv.mul52lo(yv))
        };
        reduce_wide(&c, &k, h, l).store(x);
        done += 8;
    }
    done
}

/// `acc[i] = acc[i] + a[i]·b[i] mod q` for `acc[i] < q` over the leading whole vectors;
/// returns the number of elements written. Input bounds as for [`mul_with`].
#[inline(always)]
pub(crate) fn mul_add_with<S: Lanes, const W64: bool>(
    q: &Modulus,
    wide: &Wide,
    acc: &mut [u64],
    a: &[u64],
    b: &[u64],
) -> usize {
    let c = Consts::<S, W64>::new(q.value());
    let k = WideV::<S>::new(wide);
    let (zv, _) = acc.as_chunks_mut::<8>();
    let (av, _) = a.as_chunks::<8>();
    let (bv, _) = b.as_chunks::<8>();
    let mut done = 0;
    for (z, (x, y)) in zv.iter_mut().zip(av.iter().zip(bv)) {
        let (xv, yv) = (S::load(x), S::load(y));
        let (h, l) = if W64 {
            (xv.mulhi64(yv), xv.mullo64(yv))
        } else {
            (xv.mul52hi(yv), xv.mul52lo(yv))
        };
        // Both terms are below q, so their sum is below 2q.
        csub(reduce_wide(&c, &k, h, l).add(S::load(z)), c.q).store(z);
        done += 8;
    }
    done
}

/// `a[i] = (a[i] − b[i])·w mod q` for `a[i] < q`, `b[i] < 4q`, `w < q` with its Shoup
/// companion `ws` of the kernel's word size; returns the number of elements written.
#[inline(always)]
pub(crate) fn sub_scale_with<S: Lanes, const W64: bool>(
    q: &Modulus,
    (w, ws): (u64, u64),
    a: &mut [u64],
    b: &[u64],
) -> usize {
    let c = Consts::<S, W64>::new(q.value());
    let (w, ws) = (S::splat(w), S::splat(ws));
    let (av, _) = a.as_chunks_mut::<8>();
    let (bv, _) = b.as_chunks::<8>();
    let mut done = 0;
    for (x, y) in av.iter_mut().zip(bv) {
        // y' = y mod 2q < 2q, so x + 2q − y' lies in (0, 3q) and 3q < 2^52 for q < 2^50.
        let y = csub(S::load(y), c.two_q);
        let v = S::load(x).add(c.two_q).sub(y);
        csub(c.mul_shoup_lazy(v, w, ws), c.q).store(x);
        done += 8;
    }
    done
}

/// The number of digits the IFMA inner product may add between two folds for products of
/// `x < 4q` and `b < q`: each adds below `2^52` to the low accumulator and at most
/// `hi = ⌊(4q − 1)(q − 1)/2^52⌋` to the high one, so after `t` terms from a folded state
/// (`lo < q`, `hi = 0`) the high sum plus the carries out of the low sum is at most
/// `t·(hi + 1) < 2^52`.
pub(crate) fn fold_terms(q: &Modulus) -> usize {
    fold_terms_for(4 * u128::from(q.value()), q)
}

/// The number of products `x·w` with `x < x_bound` and `w < q` the IFMA accumulators may add
/// between two folds (the bound of [`fold_terms`] for any `x_bound`, at least 1).
pub(crate) fn fold_terms_for(x_bound: u128, q: &Modulus) -> usize {
    let qv = u128::from(q.value());
    let hi = (x_bound.saturating_sub(1) * (qv - 1)) >> 52;
    let t = ((1u128 << 52) - 1) / (hi + 1);
    t.clamp(1, u128::from(MAX_FOLD_TERMS)) as usize
}

/// `lo + hi·2^52 mod q` for a folded pair (see [`fold_terms`]).
#[inline(always)]
fn fold<S: Lanes>(c: &Consts<S, false>, k: &WideV<S>, lo: S, hi: S) -> S {
    let h = hi.add(lo.shr52());
    reduce_wide(c, k, h, lo.and(c.mask))
}

/// The digits' residues, the key's `b` residues and its `a` residues for one limb.
pub(crate) type Digits<'a> = crate::zq::DigitSlices<'a>;

/// A slice as whole vectors of eight lanes.
type Vectors<'a> = &'a [[u64; 8]];

/// `out0[c] = Σ_j xs[j][c]·bs[j][c] mod q` and `out1[c] = Σ_j xs[j][c]·as[j][c] mod q` over
/// the leading whole vectors, with IFMA52 words (`q < 2^50`, `x < 4q`, `b, a < q`);
/// returns the number of coefficients written. `terms` is [`fold_terms`]`(q)`.
#[inline(always)]
pub(crate) fn mul_sum2_with<S: Lanes>(
    q: &Modulus,
    wide: &Wide,
    terms: usize,
    (xs, bs, as_): Digits<'_>,
    out0: &mut [u64],
    out1: &mut [u64],
) -> usize {
    let c = Consts::<S, false>::new(q.value());
    let k = WideV::<S>::new(wide);
    let zero = S::splat(0);
    let d = xs.len().min(bs.len()).min(as_.len());
    let len = xs
        .iter()
        .take(d)
        .chain(bs.iter().take(d))
        .chain(as_.iter().take(d))
        .map(|s| s.len())
        .fold(out0.len().min(out1.len()), usize::min);
    let vectors = len / 8;
    let (o0, _) = out0.as_chunks_mut::<8>();
    let (o1, _) = out1.as_chunks_mut::<8>();
    let digits: Vec<(Vectors<'_>, Vectors<'_>, Vectors<'_>)> = xs
        .iter()
        .zip(bs.iter().zip(as_))
        .map(|(x, (b, a))| (x.as_chunks().0, b.as_chunks().0, a.as_chunks().0))
        .collect();
    for (v, (r0, r1)) in o0.iter_mut().zip(o1.iter_mut()).take(vectors).enumerate() {
        let (mut lo0, mut hi0, mut lo1, mut hi1) = (zero, zero, zero, zero);
        for (j, &(x, b, a)) in digits.iter().enumerate() {
            if j > 0 && j % terms == 0 {
                (lo0, hi0) = (fold(&c, &k, lo0, hi0), zero);
                (lo1, hi1) = (fold(&c, &k, lo1, hi1), zero);
            }
            let (Some(x), Some(b), Some(a)) = (x.get(v), b.get(v), a.get(v)) else {
                continue;
            };
            let (x, b, a) = (S::load(x), S::load(b), S::load(a));
            lo0 = lo0.madd52lo(x, b);
            hi0 = hi0.madd52hi(x, b);
            lo1 = lo1.madd52lo(x, a);
            hi1 = hi1.madd52hi(x, a);
        }
        fold(&c, &k, lo0, hi0).store(r0);
        fold(&c, &k, lo1, hi1).store(r1);
    }
    vectors * 8
}

/// `out[c] = Σ_i rows[i][c]·consts[i] mod q` over the leading whole vectors, with IFMA52
/// words (`q < 2^50`, `rows[i][c] < 2^52`, `consts[i] < q`): the output limbs of the general
/// exact basis conversion. `terms` is [`fold_terms_for`] of the rows' bound. Returns the
/// number of coefficients written.
#[inline(always)]
pub(crate) fn scalar_sums_with<S: Lanes>(
    q: &Modulus,
    wide: &Wide,
    terms: usize,
    (rows, consts): (&[&[u64]], &[u64]),
    out: &mut [u64],
) -> usize {
    let c = Consts::<S, false>::new(q.value());
    let k = WideV::<S>::new(wide);
    let zero = S::splat(0);
    let len = rows
        .iter()
        .take(consts.len())
        .map(|r| r.len())
        .fold(out.len(), usize::min);
    let vectors = len / 8;
    let (ov, _) = out.as_chunks_mut::<8>();
    for (v, o) in ov.iter_mut().take(vectors).enumerate() {
        let (mut lo, mut hi) = (zero, zero);
        for (t, (row, &w)) in rows.iter().zip(consts).enumerate() {
            if t > 0 && t % terms == 0 {
                (lo, hi) = (fold(&c, &k, lo, hi), zero);
            }
            let Some(x) = row.as_chunks::<8>().0.get(v) else {
                continue;
            };
            let (x, w) = (S::load(x), S::splat(w));
            lo = lo.madd52lo(x, w);
            hi = hi.madd52hi(x, w);
        }
        fold(&c, &k, lo, hi).store(o);
    }
    vectors * 8
}

/// The constants of the exact conversion of residues modulo one prime `q` to a prime `p`:
/// the centered value of `x < q` is `x` or `x − q`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OnePrime {
    /// `⌊q/2⌋`: inputs above it are negative.
    pub(crate) half: u64,
    /// For `q < p`: `p − q`, added to negative inputs. Otherwise `p − (q mod p)`, added to
    /// the reduced negative inputs (then reduced once more).
    pub(crate) shift: u64,
    /// `q < p`: no reduction of the input needed.
    pub(crate) smaller: bool,
    /// The Shoup companion of 1 modulo `p` in the kernel's word size (`q >= p` only).
    pub(crate) one_s: u64,
}

/// Exact conversion from one prime over the leading whole vectors (see [`OnePrime`]); with
/// 52-bit words `q < 2^52` and `p < 2^50`. Returns the number of elements written.
#[inline(always)]
pub(crate) fn convert_one_with<S: Lanes, const W64: bool>(
    p: &Modulus,
    k: &OnePrime,
    input: &[u64],
    out: &mut [u64],
) -> usize {
    let c = Consts::<S, W64>::new(p.value());
    let (half, shift) = (S::splat(k.half), S::splat(k.shift));
    let (iv, _) = input.as_chunks::<8>();
    let (ov, _) = out.as_chunks_mut::<8>();
    let mut done = 0;
    if k.smaller {
        for (x, o) in iv.iter().zip(ov.iter_mut()) {
            let x = S::load(x);
            x.select_gt(half, x.add(shift), x).store(o);
            done += 8;
        }
    } else {
        let (one, one_s) = (S::splat(1), S::splat(k.one_s));
        for (x, o) in iv.iter().zip(ov.iter_mut()) {
            let x = S::load(x);
            let r = csub(c.mul_shoup_lazy(x, one, one_s), c.q);
            // r + p − (q mod p) lies in (0, 2p): one conditional subtraction.
            let neg = csub(r.add(shift), c.q);
            x.select_gt(half, neg, r).store(o);
            done += 8;
        }
    }
    done
}

/// `a[i] = a[i]·b[i] mod q` (inputs `< q`) with the vector kernel this CPU runs for `q`, if
/// any; returns the number of leading elements written (0 without a kernel).
pub(crate) fn mul_slices(q: &Modulus, a: &mut [u64], b: &[u64]) -> usize {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        match SliceWord::detect(q).0 {
            Some(Word::W52) if features().ifma => avx::mul_ifma(q, a, b),
            Some(Word::W64) if features().dq => avx::mul_dq(q, a, b),
            Some(Word::W52 | Word::W64) | None => 0,
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        let _ = (q, a, b);
        0
    }
}

/// `acc[i] = acc[i] + a[i]·b[i] mod q` (all inputs `< q`) with the vector kernel this CPU
/// runs for `q`, if any; returns the number of leading elements written.
pub(crate) fn mul_add_slices(q: &Modulus, acc: &mut [u64], a: &[u64], b: &[u64]) -> usize {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        match SliceWord::detect(q).0 {
            Some(Word::W52) if features().ifma => avx::mul_add_ifma(q, acc, a, b),
            Some(Word::W64) if features().dq => avx::mul_add_dq(q, acc, a, b),
            Some(Word::W52 | Word::W64) | None => 0,
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        let _ = (q, acc, a, b);
        0
    }
}

/// `a[i] = (a[i] − b[i])·w mod q` (`a[i] < q`, `b[i] < 4q`, `w < q`) with the vector kernel
/// this CPU runs for `q`, if any; returns the number of leading elements written.
pub(crate) fn sub_scale_slices(q: &Modulus, w: u64, a: &mut [u64], b: &[u64]) -> usize {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        match SliceWord::detect(q).0 {
            Some(Word::W52) if features().ifma && q.bits() <= IFMA_MAX_MODULUS_BITS => {
                avx::sub_scale_ifma(q, (w, shoup52(w, q.value())), a, b)
            }
            Some(Word::W64) if features().dq => avx::sub_scale_dq(q, (w, q.shoup(w)), a, b),
            Some(Word::W52 | Word::W64) | None => 0,
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        let _ = (q, w, a, b);
        0
    }
}

/// The two inner products of a key switch for one limb (see [`mul_sum2_with`]) with the
/// IFMA52 kernel, if this CPU runs it and `q < 2^50`; returns the number of leading
/// coefficients written.
pub(crate) fn mul_sum2_slices(
    q: &Modulus,
    digits: Digits<'_>,
    out0: &mut [u64],
    out1: &mut [u64],
) -> usize {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        if features().ifma && q.bits() <= IFMA_MAX_MODULUS_BITS {
            return avx::mul_sum2_ifma(q, digits, out0, out1);
        }
        0
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        let _ = (q, digits, out0, out1);
        0
    }
}

/// Whether [`scalar_sums`] has a kernel on this CPU for rows below `2^row_bits` (for some
/// output primes: those below `2^50`).
pub(crate) fn scalar_sums_available(row_bits: u32) -> bool {
    cfg!(all(target_arch = "x86_64", not(miri))) && features().ifma && row_bits <= 52
}

/// The output limbs of the general exact conversion (see [`scalar_sums_with`]) with the
/// IFMA52 kernel, if this CPU runs it, `q < 2^50` and every row value is below
/// `2^row_bits <= 2^52`; returns the number of leading coefficients written.
pub(crate) fn scalar_sums(
    q: &Modulus,
    row_bits: u32,
    rows: &[&[u64]],
    consts: &[u64],
    out: &mut [u64],
) -> usize {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        if features().ifma && q.bits() <= IFMA_MAX_MODULUS_BITS && row_bits <= 52 {
            return avx::scalar_sums_ifma(q, row_bits, (rows, consts), out);
        }
        0
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        let _ = (q, row_bits, rows, consts, out);
        0
    }
}

/// The constants of [`convert_one_with`] for `q → p` and the word that serves them on this
/// CPU (`None`: no vector kernel).
pub(crate) fn one_prime_consts(q: &Modulus, p: &Modulus) -> (OnePrime, Option<Word>) {
    let (qv, pv) = (q.value(), p.value());
    let smaller = qv < pv;
    let f = features();
    let word = if smaller {
        // Only additions, comparisons and blends: any AVX-512 kernel.
        if f.ifma {
            Some(Word::W52)
        } else if f.dq {
            Some(Word::W64)
        } else {
            None
        }
    } else if f.ifma && q.bits() <= 52 && p.bits() <= IFMA_MAX_MODULUS_BITS {
        Some(Word::W52)
    } else if f.dq {
        Some(Word::W64)
    } else {
        None
    };
    let one_s = match word {
        Some(Word::W52) => shoup52(1 % pv, pv),
        Some(Word::W64) | None => p.shoup(1 % pv),
    };
    let shift = if smaller { pv - qv } else { pv - p.reduce(qv) };
    (
        OnePrime {
            half: qv >> 1,
            shift,
            smaller,
            one_s,
        },
        word,
    )
}

/// Exact conversion of `input` (residues modulo `q`, constants from [`one_prime_consts`]) to
/// residues modulo `p` with the vector kernel `word`; returns the number of leading elements
/// written.
pub(crate) fn convert_one_prime(
    p: &Modulus,
    k: &OnePrime,
    word: Option<Word>,
    input: &[u64],
    out: &mut [u64],
) -> usize {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        match word {
            Some(Word::W52) if features().ifma => avx::convert_one_ifma(p, k, input, out),
            Some(Word::W64) if features().dq => avx::convert_one_dq(p, k, input, out),
            Some(Word::W52 | Word::W64) | None => 0,
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        let _ = (p, k, word, input, out);
        0
    }
}

/// The slice kernels compiled for AVX-512. Each entry point is safe to call only on a CPU
/// with the features it enables (the `*_ifma` ones: AVX-512F and IFMA; the `*_dq` ones:
/// AVX-512F and DQ); the dispatchers above call them only after [`features`] reported them.
#[cfg(all(target_arch = "x86_64", not(miri)))]
mod avx {
    use super::super::avx::Avx;
    use super::{Digits, OnePrime, Wide};
    use crate::Modulus;

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mul_ifma_impl(q: &Modulus, w: &Wide, a: &mut [u64], b: &[u64]) -> usize {
        super::mul_with::<Avx, false>(q, w, a, b)
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    fn mul_dq_impl(q: &Modulus, w: &Wide, a: &mut [u64], b: &[u64]) -> usize {
        super::mul_with::<Avx, true>(q, w, a, b)
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mul_add_ifma_impl(q: &Modulus, w: &Wide, z: &mut [u64], a: &[u64], b: &[u64]) -> usize {
        super::mul_add_with::<Avx, false>(q, w, z, a, b)
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    fn mul_add_dq_impl(q: &Modulus, w: &Wide, z: &mut [u64], a: &[u64], b: &[u64]) -> usize {
        super::mul_add_with::<Avx, true>(q, w, z, a, b)
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn sub_scale_ifma_impl(q: &Modulus, w: (u64, u64), a: &mut [u64], b: &[u64]) -> usize {
        super::sub_scale_with::<Avx, false>(q, w, a, b)
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    fn sub_scale_dq_impl(q: &Modulus, w: (u64, u64), a: &mut [u64], b: &[u64]) -> usize {
        super::sub_scale_with::<Avx, true>(q, w, a, b)
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mul_sum2_ifma_impl(
        q: &Modulus,
        w: &Wide,
        terms: usize,
        digits: Digits<'_>,
        out0: &mut [u64],
        out1: &mut [u64],
    ) -> usize {
        super::mul_sum2_with::<Avx>(q, w, terms, digits, out0, out1)
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn scalar_sums_ifma_impl(
        q: &Modulus,
        w: &Wide,
        terms: usize,
        rows: (&[&[u64]], &[u64]),
        out: &mut [u64],
    ) -> usize {
        super::scalar_sums_with::<Avx>(q, w, terms, rows, out)
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn convert_one_ifma_impl(p: &Modulus, k: &OnePrime, input: &[u64], out: &mut [u64]) -> usize {
        super::convert_one_with::<Avx, false>(p, k, input, out)
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    fn convert_one_dq_impl(p: &Modulus, k: &OnePrime, input: &[u64], out: &mut [u64]) -> usize {
        super::convert_one_with::<Avx, true>(p, k, input, out)
    }

    /// IFMA52 elementwise product (caller: IFMA detected, `q < 2^50`, inputs `< q`).
    pub(super) fn mul_ifma(q: &Modulus, a: &mut [u64], b: &[u64]) -> usize {
        let w = Wide::new(q, false);
        // SAFETY: the caller checked that `features()` reports AVX-512F and IFMA, the only
        // requirement of the target-feature function.
        unsafe { mul_ifma_impl(q, &w, a, b) }
    }

    /// 64-bit-word elementwise product (caller: DQ detected).
    pub(super) fn mul_dq(q: &Modulus, a: &mut [u64], b: &[u64]) -> usize {
        let w = Wide::new(q, true);
        // SAFETY: the caller checked that `features()` reports AVX-512F and DQ.
        unsafe { mul_dq_impl(q, &w, a, b) }
    }

    /// IFMA52 multiply-add (caller: IFMA detected, `q < 2^50`, inputs `< q`).
    pub(super) fn mul_add_ifma(q: &Modulus, z: &mut [u64], a: &[u64], b: &[u64]) -> usize {
        let w = Wide::new(q, false);
        // SAFETY: the caller checked that `features()` reports AVX-512F and IFMA.
        unsafe { mul_add_ifma_impl(q, &w, z, a, b) }
    }

    /// 64-bit-word multiply-add (caller: DQ detected).
    pub(super) fn mul_add_dq(q: &Modulus, z: &mut [u64], a: &[u64], b: &[u64]) -> usize {
        let w = Wide::new(q, true);
        // SAFETY: the caller checked that `features()` reports AVX-512F and DQ.
        unsafe { mul_add_dq_impl(q, &w, z, a, b) }
    }

    /// IFMA52 subtract-and-scale (caller: IFMA detected, `q < 2^50`).
    pub(super) fn sub_scale_ifma(q: &Modulus, w: (u64, u64), a: &mut [u64], b: &[u64]) -> usize {
        // SAFETY: the caller checked that `features()` reports AVX-512F and IFMA.
        unsafe { sub_scale_ifma_impl(q, w, a, b) }
    }

    /// 64-bit-word subtract-and-scale (caller: DQ detected).
    pub(super) fn sub_scale_dq(q: &Modulus, w: (u64, u64), a: &mut [u64], b: &[u64]) -> usize {
        // SAFETY: the caller checked that `features()` reports AVX-512F and DQ.
        unsafe { sub_scale_dq_impl(q, w, a, b) }
    }

    /// IFMA52 key inner products (caller: IFMA detected, `q < 2^50`).
    pub(super) fn mul_sum2_ifma(
        q: &Modulus,
        digits: Digits<'_>,
        out0: &mut [u64],
        out1: &mut [u64],
    ) -> usize {
        let w = Wide::new(q, false);
        let terms = super::fold_terms(q);
        // SAFETY: the caller checked that `features()` reports AVX-512F and IFMA.
        unsafe { mul_sum2_ifma_impl(q, &w, terms, digits, out0, out1) }
    }

    /// IFMA52 output limbs of the exact conversion (caller: IFMA detected, `q < 2^50`, rows
    /// below `2^row_bits <= 2^52`).
    pub(super) fn scalar_sums_ifma(
        q: &Modulus,
        row_bits: u32,
        rows: (&[&[u64]], &[u64]),
        out: &mut [u64],
    ) -> usize {
        let w = Wide::new(q, false);
        let terms = super::fold_terms_for(1u128 << row_bits, q);
        // SAFETY: the caller checked that `features()` reports AVX-512F and IFMA.
        unsafe { scalar_sums_ifma_impl(q, &w, terms, rows, out) }
    }

    /// IFMA52 conversion from one prime (caller: IFMA detected, word chosen by
    /// `one_prime_consts`).
    pub(super) fn convert_one_ifma(
        p: &Modulus,
        k: &OnePrime,
        input: &[u64],
        out: &mut [u64],
    ) -> usize {
        // SAFETY: the caller checked that `features()` reports AVX-512F and IFMA.
        unsafe { convert_one_ifma_impl(p, k, input, out) }
    }

    /// 64-bit-word conversion from one prime (caller: DQ detected).
    pub(super) fn convert_one_dq(
        p: &Modulus,
        k: &OnePrime,
        input: &[u64],
        out: &mut [u64],
    ) -> usize {
        // SAFETY: the caller checked that `features()` reports AVX-512F and DQ.
        unsafe { convert_one_dq_impl(p, k, input, out) }
    }
}

#[cfg(test)]
mod tests;
