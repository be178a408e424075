//! Primality testing, NTT-friendly prime generation and roots of unity.

use crate::{Error, Modulus, Result};

/// `a · b mod m` for any `m > 0` (128-bit product, hardware division).
fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
    // The remainder is below m, so the narrowing is lossless.
    ((u128::from(a) * u128::from(b)) % u128::from(m)) as u64
}

fn pow_mod(mut base: u64, mut e: u64, m: u64) -> u64 {
    let mut acc = 1 % m;
    base %= m;
    while e > 0 {
        if e & 1 == 1 {
            acc = mul_mod(acc, base, m);
        }
        base = mul_mod(base, base, m);
        e >>= 1;
    }
    acc
}

/// Deterministic primality test for every `u64`.
///
/// Miller–Rabin with the first twelve primes as witnesses, which is exact below
/// 3.3·10^24 (Sorenson and Webster, 2015), hence for all 64-bit integers.
#[must_use]
pub fn is_prime(n: u64) -> bool {
    const WITNESSES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    if n < 2 {
        return false;
    }
    for p in WITNESSES {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let s = (n - 1).trailing_zeros();
    let d = (n - 1) >> s;
    'witness: for a in WITNESSES {
        let mut x = pow_mod(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mul_mod(x, x, n);
            if x == n - 1 {
                continue 'witness;
            }
        }
        return false;
    }
    true
}

/// The `count` largest primes `q` with exactly `bits` bits (`2^(bits-1) < q < 2^bits`) and
/// `q ≡ 1 (mod 2n)`, skipping those in `exclude`, in descending order.
///
/// Such primes admit a primitive `2n`-th root of unity, hence a negacyclic NTT of size `n`.
///
/// # Errors
///
/// - [`Error::InvalidPrimeBits`] unless `17 <= bits <= 61`;
/// - [`Error::InvalidDegree`] unless `n` is a power of two;
/// - [`Error::NotEnoughPrimes`] if fewer than `count` such primes exist.
pub fn ntt_primes(bits: u32, n: usize, count: usize, exclude: &[u64]) -> Result<Vec<u64>> {
    if !(17..=61).contains(&bits) {
        return Err(Error::InvalidPrimeBits { bits });
    }
    if !n.is_power_of_two() {
        return Err(Error::InvalidDegree { n });
    }
    let two_n = u64::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(2))
        .ok_or(Error::InvalidDegree { n })?;
    let upper = 1u64 << bits;
    let lower = 1u64 << (bits - 1);
    let mut found = Vec::with_capacity(count);
    if count == 0 {
        return Ok(found);
    }
    // Largest candidate below 2^bits that is 1 mod 2n.
    let mut candidate = ((upper - 2) / two_n) * two_n + 1;
    while candidate > lower && found.len() < count {
        if is_prime(candidate) && !exclude.contains(&candidate) {
            found.push(candidate);
        }
        candidate = match candidate.checked_sub(two_n) {
            Some(c) => c,
            None => break,
        };
    }
    if found.len() < count {
        return Err(Error::NotEnoughPrimes {
            bits,
            n,
            found: found.len(),
            wanted: count,
        });
    }
    Ok(found)
}

/// The largest root order [`primitive_root`] accepts.
pub const MAX_ROOT_ORDER: u64 = 1 << 24;

/// The smallest primitive `order`-th root of unity modulo the prime `q`.
///
/// `order` must be a power of two in `2..=2^24` dividing `q - 1`. The answer is
/// deterministic: among all `φ(order) = order/2` primitive roots, the numerically smallest.
///
/// # Errors
///
/// - [`Error::InvalidModulus`] if `q` is not a prime below `2^62`;
/// - [`Error::InvalidRootOrder`] if `order` is not such a power of two or does not divide `q - 1`.
pub fn primitive_root(q: u64, order: u64) -> Result<u64> {
    if !is_prime(q) {
        return Err(Error::InvalidModulus { q });
    }
    let m = Modulus::new(q)?;
    if !order.is_power_of_two()
        || !(2..=MAX_ROOT_ORDER).contains(&order)
        || !(q - 1).is_multiple_of(order)
    {
        return Err(Error::InvalidRootOrder { q, order });
    }
    let cofactor = (q - 1) / order;
    // Find any primitive root: g^((q-1)/order) has order exactly `order` iff its
    // (order/2)-th power is -1.
    let mut root = None;
    for g in 2..q {
        let r = m.pow(g, cofactor);
        if m.pow(r, order / 2) == q - 1 {
            root = Some(r);
            break;
        }
    }
    let r = root.ok_or(Error::InvalidRootOrder { q, order })?;
    // The primitive roots are exactly the odd powers of r; take the smallest.
    let r2 = m.mul(r, r);
    let mut current = r;
    let mut best = r;
    for _ in 1..order / 2 {
        current = m.mul(current, r2);
        best = best.min(current);
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_prime_slow(n: u64) -> bool {
        n >= 2
            && (2..)
                .take_while(|d| d * d <= n)
                .all(|d| !n.is_multiple_of(d))
    }

    #[test]
    fn is_prime_matches_trial_division() {
        for n in 0..20_000 {
            assert_eq!(is_prime(n), is_prime_slow(n), "n = {n}");
        }
        for n in (1u64 << 32) - 2000..(1 << 32) + 2000 {
            assert_eq!(is_prime(n), is_prime_slow(n), "n = {n}");
        }
    }

    #[test]
    fn is_prime_known_values() {
        let primes = [
            (1u64 << 61) - 1,
            (1 << 31) - 1,
            18_446_744_073_709_551_557, // largest 64-bit prime
        ];
        for p in primes {
            assert!(is_prime(p), "{p}");
        }
        let composites = [
            561u64,
            41041,
            825_265,
            321_197_185,
            3_215_031_751,             // strong pseudoprime to bases 2, 3, 5, 7
            3_825_123_056_546_413_051, // strong pseudoprime to bases 2..=23
            (1u64 << 61) - 3,
            u64::MAX,
            4_759_123_141 * 3,
        ];
        for c in composites {
            assert!(!is_prime(c), "{c}");
        }
    }

    /// Independent slow search: descend through odd numbers, test `q % 2n == 1` and
    /// primality by trial division by odd numbers up to sqrt(q) (fine for 40 bits).
    fn slow_ntt_primes_40(n: u64, count: usize) -> Vec<u64> {
        let mut out = Vec::new();
        let mut q = (1u64 << 40) - 1;
        while out.len() < count {
            if q % (2 * n) == 1 && is_prime_slow(q) {
                out.push(q);
            }
            q -= 2;
        }
        out
    }

    #[test]
    fn ntt_primes_40_bits_n8192() -> Result<()> {
        let got = ntt_primes(40, 8192, 3, &[])?;
        assert_eq!(got, slow_ntt_primes_40(8192, 3));
        // Known answer, computed independently (Python big integers, Miller–Rabin).
        assert_eq!(
            got,
            [1_099_511_480_321, 1_099_510_890_497, 1_099_510_824_961]
        );
        Ok(())
    }

    #[test]
    fn ntt_primes_60_bits_n8192() -> Result<()> {
        let got = ntt_primes(60, 8192, 2, &[])?;
        // Independent check: every candidate between the answers and 2^60 that is 1 mod 2n is
        // composite, certified by a small factor or a Fermat witness.
        let two_n = 16_384u64;
        let mut q = ((1u64 << 60) - 2) / two_n * two_n + 1;
        let mut expected = Vec::new();
        while expected.len() < 2 {
            let small_factor = (3..20_000u64).step_by(2).any(|d| q.is_multiple_of(d));
            if !small_factor
                && [2u64, 3, 5, 7, 11]
                    .iter()
                    .all(|&a| pow_mod(a, q - 1, q) == 1)
            {
                expected.push(q);
            }
            q -= two_n;
        }
        assert_eq!(got, expected);
        assert_eq!(got, [1_152_921_504_606_830_593, 1_152_921_504_606_748_673]);
        Ok(())
    }

    #[test]
    fn ntt_primes_exclude_and_errors() -> Result<()> {
        let all = ntt_primes(40, 8192, 3, &[])?;
        let rest = ntt_primes(40, 8192, 2, &all[..1])?;
        assert_eq!(rest, all[1..]);
        assert_eq!(
            ntt_primes(16, 8, 1, &[]),
            Err(Error::InvalidPrimeBits { bits: 16 })
        );
        assert_eq!(
            ntt_primes(62, 8, 1, &[]),
            Err(Error::InvalidPrimeBits { bits: 62 })
        );
        assert_eq!(
            ntt_primes(30, 12, 1, &[]),
            Err(Error::InvalidDegree { n: 12 })
        );
        assert_eq!(
            ntt_primes(17, 1 << 16, 1, &[]),
            Err(Error::NotEnoughPrimes {
                bits: 17,
                n: 1 << 16,
                found: 0,
                wanted: 1
            })
        );
        assert_eq!(ntt_primes(17, 1 << 15, 1, &[])?, [65537]);
        assert_eq!(ntt_primes(30, 8, 0, &[])?, Vec::<u64>::new());
        Ok(())
    }

    #[test]
    fn primitive_root_known_answers() -> Result<()> {
        // 3 generates Z_17^*, so the primitive 16th roots are its odd powers; smallest is 3.
        assert_eq!(primitive_root(17, 16)?, 3);
        // Primitive 8th roots mod 17 are 2, 8, 9, 15.
        assert_eq!(primitive_root(17, 8)?, 2);
        assert_eq!(primitive_root(17, 2)?, 16);
        assert_eq!(primitive_root(65537, 4)?, 256);
        assert_eq!(primitive_root(16, 4), Err(Error::InvalidModulus { q: 16 }));
        assert_eq!(
            primitive_root(17, 32),
            Err(Error::InvalidRootOrder { q: 17, order: 32 })
        );
        assert_eq!(
            primitive_root(19, 6),
            Err(Error::InvalidRootOrder { q: 19, order: 6 })
        );
        Ok(())
    }

    #[test]
    fn primitive_root_is_smallest() -> Result<()> {
        for (q, order) in [(97u64, 32u64), (257, 64), (7681, 512), (12289, 2048)] {
            let r = primitive_root(q, order)?;
            let brute = (2..q)
                .find(|&x| pow_mod(x, order, q) == 1 && pow_mod(x, order / 2, q) != 1)
                .unwrap();
            assert_eq!(r, brute, "q = {q}, order = {order}");
        }
        let q = ntt_primes(60, 1 << 13, 1, &[])?[0];
        let r = primitive_root(q, 1 << 14)?;
        assert_eq!(pow_mod(r, 1 << 13, q), q - 1);
        Ok(())
    }
}
