//! Arithmetic core of **fhez**: modular arithmetic, negacyclic NTT, RNS bases and typed
//! RNS polynomials, plus the samplers the CKKS layer needs. This crate knows nothing about
//! encryption.
//!
//! - [`zq`]: [`Modulus`] (Barrett and Shoup reduction for `q < 2^62`) and slice kernels;
//! - [`primes`]: primality, NTT-friendly primes, primitive roots of unity;
//! - [`ntt`]: [`NttTable`], the negacyclic NTT over `Z_q[X]/(X^n + 1)` and automorphisms;
//! - [`rns`]: [`RnsBasis`] (CRT reconstruction, centered `f64` decoding) and
//!   [`BasisConverter`] (fast basis extension);
//! - [`poly`]: [`Poly<R>`](Poly) with the representation ([`Coeff`] / [`Ntt`]) in the type;
//! - [`sampling`]: uniform, ternary and discrete Gaussian sampling from an injected CSPRNG.
//!
//! On x86-64 CPUs with AVX-512 the NTT runs a vector kernel (detected at run time,
//! [`NttKernel`]): IFMA52 for primes `q < 2^50`, 64-bit words (AVX-512DQ) for larger ones;
//! the scalar kernel is the fallback and the test oracle. The slice kernels of key switching,
//! rescale and plaintext products ([`zq::mul_slices_assign`], [`zq::mul_add_slices_assign`],
//! [`zq::sub_scale_slices_assign`], [`zq::mul_sum2_slices`] and the conversion from one prime,
//! [`rns::convert_centered`]) dispatch the same way, each with a `_scalar` specification (or
//! the scalar branch of the conversion) that gives bit-for-bit the same outputs. Setting the
//! environment variable `FHEZ_SIMD=scalar` disables the vector kernels.
//!
//! Public fallible functions return [`Result`]; kernels whose preconditions the caller has
//! already validated only `debug_assert!` them.

// `unsafe` is confined to the vector kernels of `simd` (each block documents its invariant).
#![deny(unsafe_code)]

mod error;
pub mod ntt;
pub mod poly;
pub mod primes;
pub mod rns;
pub mod sampling;
#[allow(
    unsafe_code,
    reason = "AVX-512 intrinsics; see the module's invariants"
)]
mod simd;
pub mod zq;

pub use error::{Error, Result};
pub use ntt::{NttKernel, NttTable};
pub use poly::{Coeff, Ntt, Poly, Repr};
pub use rns::{BasisConverter, RnsBasis};
pub use zq::Modulus;

#[cfg(test)]
pub(crate) mod test_util {
    use std::sync::Arc;

    use crate::{Modulus, NttTable, RnsBasis, primes};

    /// A basis of distinct NTT primes of the given bit sizes for degree `n`.
    pub(crate) fn basis(n: usize, bits: &[u32]) -> RnsBasis {
        let mut used: Vec<u64> = Vec::new();
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
}
