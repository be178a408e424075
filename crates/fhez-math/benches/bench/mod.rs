//! Benchmark groups.

pub mod ntt;
pub mod rns;
pub mod slices;

use std::sync::Arc;

use fhez_math::{Modulus, NttTable, RnsBasis, primes};

/// A basis of distinct NTT primes of the given sizes for degree `n`.
pub fn basis(n: usize, bits: &[u32]) -> RnsBasis {
    let mut used = Vec::new();
    let mut tables = Vec::new();
    for &b in bits {
        let q = primes::ntt_primes(b, n, 1, &used).unwrap()[0];
        used.push(q);
        tables.push(Arc::new(
            NttTable::new(Modulus::new(q).unwrap(), n).unwrap(),
        ));
    }
    RnsBasis::new(tables).unwrap()
}

/// Deterministic pseudo-random residues (xorshift), reduced per limb.
pub fn residues(basis: &RnsBasis, seed: u64) -> Vec<u64> {
    let mut s = seed | 1;
    let mut out = Vec::with_capacity(basis.len() * basis.n());
    for q in basis.moduli() {
        for _ in 0..basis.n() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            out.push(s % q.value());
        }
    }
    out
}
