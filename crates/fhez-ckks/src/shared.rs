//! Decryption whose output may be shown to others: a reply check, noise flooding and
//! rounding (a defence against decryption-oracle attacks, Li–Micciancio 2021).
//!
//! An exact CKKS decryption returns `m + e`; whoever sees it next to the ciphertext learns
//! `e`, and enough such pairs give the secret key. [`SecretKey::decrypt_shared`]:
//!
//! 1. **Checks the reply**: with `‖e‖∞ <= B` (the policy's noise bound, in coefficient units),
//!    every slot of `e` has modulus at most `N·B`, so an honest reply carrying real values in
//!    the first `used_slots` slots and nothing elsewhere has imaginary parts and unused slots
//!    of at most `N·B/Δ`. A reply over that bound (a server probing the client with crafted
//!    values) is refused with [`Error::ReplyRejected`] before anything is revealed.
//! 2. **Floods**: adds to every coefficient an independent Gaussian integer of standard
//!    deviation `σ = ½·sqrt(N)·B·2^s` (`s` the statistical security parameter). Two outputs
//!    whose noises differ by `δ` with `‖δ‖∞ <= 2B` have Kullback–Leibler divergence
//!    `‖δ‖²/(2σ²) <= 4N·B²/(2σ²) = 2^(3−2s)`, so by Pinsker's inequality a statistical distance
//!    of at most `2^(1−s)`: the output reveals at most that much about the noise. The Gaussian
//!    is sampled in `f64` (Box–Muller, 53-bit uniforms) and rounded to an integer.
//! 3. **Rounds** the decoded real parts of the used slots to multiples of `2^-precision_bits`.
//!
//! Flooding costs precision: each decoded value receives Gaussian noise of standard deviation
//! `σ·sqrt(N/2)/Δ` ([`SharedDecryption::output_std`]); choose `s` and the scale together.
//!
//! **Private decryptions.** [`SharedDecryption::private_only`] keeps steps 1 and 3 and skips
//! the flooding: sound only when no decryption ever leaves the client (nobody who may see
//! the ciphertexts sees an output), since an exact `m + e` next to its ciphertext reveals
//! `e` and enough of them the key (IND-CPA-D, Li–Micciancio 2021).
//!
//! **Key recovery over many decryptions.** Recovering the secret key is a search problem,
//! for which the Rényi divergence of order 2 gives a tighter bound than the statistical
//! distance (Bai, Langlois, Lepoint, Stehlé, Steinfeld, "Improved security proofs in
//! lattice-based cryptography: using the Rényi divergence rather than the statistical
//! distance", Asiacrypt 2015): an attack succeeding with probability `ε'` on outputs drawn
//! from `P` succeeds with at least `ε'²/R₂(P‖Q)` on outputs from `Q`. Take `Q` the
//! flooding of the message alone (no `e`, so simulatable without the key): for one
//! decryption `R₂ = exp(‖e‖₂²/σ²) <= exp(N·B²/σ²) = exp(2^(2−2s))`, and over `k`
//! decryptions the divergences multiply, `R₂ <= exp(k·2^(2−2s))`. Up to `k = 2^(2s−2)`
//! decryptions under one key therefore give `R₂ <= e`: a key-recovery attack using them
//! succeeds with probability at most `sqrt(e·ε)`, `ε` its best probability using no
//! decryption at all. The planner's default (`fhez_nn::plan::STAT_SECURITY_BITS`) is chosen
//! by this count; rotate keys before it is reached.

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

use fhez_math::Poly;

use crate::ciphertext::Ciphertext;
use crate::keys::SecretKey;
use crate::{Encoder, Error, Result};

/// Largest statistical security parameter accepted, in bits.
pub const MAX_STAT_SECURITY_BITS: u32 = 128;
/// Largest output precision accepted, in bits after the binary point.
pub const MAX_PRECISION_BITS: u32 = 52;
/// Flooding samples beyond this many standard deviations are impossible with 53-bit
/// uniforms; the check against `Q/2` uses it as the worst case.
const FLOOD_TAIL: f64 = 9.0;

/// A policy for [`SecretKey::decrypt_shared`]: what the reply may contain and how much
/// noise hides the rest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SharedDecryption {
    stat_security_bits: u32,
    noise_bound: f64,
    precision_bits: u32,
    used_slots: usize,
    flooding: bool,
}

impl SharedDecryption {
    /// A policy with statistical security `stat_security_bits` (`s`), a bound `noise_bound`
    /// (`B`) on the infinity norm of an honest reply's noise in coefficient units,
    /// `precision_bits` bits kept after the binary point, and `used_slots` slots carrying
    /// values (the others must be empty).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `s` outside `1..=128`, `B` not finite or below 1 (value
    /// shown truncated), `precision_bits` above 52, or `used_slots` of 0.
    pub fn new(
        stat_security_bits: u32,
        noise_bound: f64,
        precision_bits: u32,
        used_slots: usize,
    ) -> Result<Self> {
        let invalid = |what, value: u64, min, max| Error::InvalidParam {
            what,
            value,
            min,
            max,
        };
        if !(1..=MAX_STAT_SECURITY_BITS).contains(&stat_security_bits) {
            return Err(invalid(
                "statistical security bits",
                u64::from(stat_security_bits),
                1,
                u64::from(MAX_STAT_SECURITY_BITS),
            ));
        }
        if !noise_bound.is_finite() || noise_bound < 1.0 {
            return Err(invalid("noise bound", noise_bound as u64, 1, u64::MAX));
        }
        if precision_bits > MAX_PRECISION_BITS {
            return Err(invalid(
                "precision bits",
                u64::from(precision_bits),
                0,
                u64::from(MAX_PRECISION_BITS),
            ));
        }
        if used_slots == 0 {
            return Err(invalid("used slots", 0, 1, u64::MAX));
        }
        Ok(Self {
            stat_security_bits,
            noise_bound,
            precision_bits,
            used_slots,
            flooding: true,
        })
    }

    /// A policy for decryptions that **never leave the client**: the reply check against
    /// `noise_bound` and the rounding to `precision_bits`, without flooding (see the
    /// [module docs](crate::shared)); [`SharedDecryption::stat_security_bits`] is 0.
    ///
    /// # Errors
    /// As [`SharedDecryption::new`] for the bound, the precision and the slot count.
    pub fn private_only(noise_bound: f64, precision_bits: u32, used_slots: usize) -> Result<Self> {
        let shared = Self::new(1, noise_bound, precision_bits, used_slots)?;
        Ok(Self {
            stat_security_bits: 0,
            flooding: false,
            ..shared
        })
    }

    /// Whether decryptions are flooded (`false` only for
    /// [`SharedDecryption::private_only`]).
    pub fn floods(&self) -> bool {
        self.flooding
    }

    /// The flooding standard deviation `σ = ½·sqrt(N)·B·2^s` for ring degree `n`, in
    /// coefficient units (0 without flooding).
    pub fn flooding_sigma(&self, n: usize) -> f64 {
        if !self.flooding {
            return 0.0;
        }
        0.5 * (n as f64).sqrt() * self.noise_bound * f64::from(self.stat_security_bits).exp2()
    }

    /// The standard deviation flooding adds to each decoded value at `scale`:
    /// `σ·sqrt(N/2)/scale`.
    pub fn output_std(&self, n: usize, scale: f64) -> f64 {
        self.flooding_sigma(n) * (n as f64 / 2.0).sqrt() / scale
    }

    /// The largest modulus an honest reply's imaginary parts and unused slots may have at
    /// `scale`: `N·B/scale`.
    pub fn reply_bound(&self, n: usize, scale: f64) -> f64 {
        n as f64 * self.noise_bound / scale
    }

    /// Slots carrying values.
    pub fn used_slots(&self) -> usize {
        self.used_slots
    }

    /// The statistical security parameter `s`, in bits.
    pub fn stat_security_bits(&self) -> u32 {
        self.stat_security_bits
    }

    /// The noise bound `B`, in coefficient units.
    pub fn noise_bound(&self) -> f64 {
        self.noise_bound
    }

    /// Bits kept after the binary point.
    pub fn precision_bits(&self) -> u32 {
        self.precision_bits
    }

    /// The same policy for a reply carrying values in its first `used_slots` slots.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `used_slots` of 0.
    pub fn with_used_slots(self, used_slots: usize) -> Result<Self> {
        if self.flooding {
            Self::new(
                self.stat_security_bits,
                self.noise_bound,
                self.precision_bits,
                used_slots,
            )
        } else {
            Self::private_only(self.noise_bound, self.precision_bits, used_slots)
        }
    }
}

impl SecretKey {
    /// Decrypts a reply for release: checks it (see the [module docs](crate::shared)),
    /// floods it with Gaussian noise derived from `policy`, and returns the real parts of the
    /// first `policy.used_slots()` slots rounded to the policy's precision.
    ///
    /// # Errors
    /// [`Error::ReplyRejected`] for a reply whose imaginary parts or unused slots exceed
    /// [`SharedDecryption::reply_bound`]; [`Error::FloodingTooLarge`] when the flooding
    /// noise could reach `Q_l/2` at the ciphertext's level; [`Error::TooManyValues`] when
    /// `used_slots` exceeds the slots; the errors of [`SecretKey::decrypt`].
    pub fn decrypt_shared<R: RngCore + CryptoRng>(
        &self,
        ct: &Ciphertext,
        policy: &SharedDecryption,
        rng: &mut R,
    ) -> Result<Vec<f64>> {
        let params = &self.params;
        let (n, slots) = (params.n(), params.slots());
        if policy.used_slots > slots {
            return Err(Error::TooManyValues {
                len: policy.used_slots,
                slots,
            });
        }
        let sigma = policy.flooding_sigma(n);
        let log2_half_q = params.log_q_at(ct.level) - 1.0;
        // Flooding plus the reply (itself below Q/2 by at most its values) must not wrap;
        // the i64 conversion below needs the samples under 2^62 as well.
        let log2_worst = (FLOOD_TAIL * sigma).log2();
        if log2_worst + 1.0 >= log2_half_q.min(62.0) {
            return Err(Error::FloodingTooLarge {
                log2_sigma: sigma.log2(),
                log2_half_q,
            });
        }
        let encoder = Encoder::new(params);
        let mut pt = self.decrypt(ct)?;
        let exact = encoder.decode_complex(&pt);
        let checked = exact.and_then(|mut values| {
            let r = check_reply(&values, policy, n, ct.scale);
            values
                .iter_mut()
                .for_each(|z| *z = num_complex::Complex64::new(0.0, 0.0));
            r
        });
        if let Err(e) = checked {
            pt.poly.as_mut_slice().zeroize();
            return Err(e);
        }
        let added = if policy.flooding {
            add_flooding(params, &mut pt, ct.level, sigma, rng)
        } else {
            Ok(())
        };
        let decoded = added.and_then(|()| encoder.decode(&pt));
        pt.poly.as_mut_slice().zeroize();
        let step = f64::from(policy.precision_bits).exp2();
        Ok(decoded?
            .into_iter()
            .take(policy.used_slots)
            .map(|x| (x * step).round() / step)
            .collect())
    }
}

/// Adds an independent rounded Gaussian of standard deviation `sigma` to every coefficient
/// of `pt` (at `level`), zeroizing the samples.
fn add_flooding<R: RngCore + CryptoRng>(
    params: &crate::CkksParams,
    pt: &mut crate::Plaintext,
    level: u32,
    sigma: f64,
    rng: &mut R,
) -> Result<()> {
    let n = params.n();
    let basis = params.q_basis(level)?;
    let mut flood: Vec<i64> = (0..n)
        .map(|_| (gaussian(rng) * sigma).round() as i64)
        .collect();
    let flood_poly = Poly::from_signed(n, &flood, basis, basis.len());
    flood.zeroize();
    let mut flood_poly = flood_poly?.to_ntt(basis)?;
    let added = pt.poly.add_assign(&flood_poly, basis);
    flood_poly.as_mut_slice().zeroize();
    Ok(added?)
}

/// [`Error::ReplyRejected`] for the first imaginary part of a used slot or the first unused
/// slot whose modulus exceeds the reply bound.
fn check_reply(
    values: &[num_complex::Complex64],
    policy: &SharedDecryption,
    n: usize,
    scale: f64,
) -> Result<()> {
    let bound = policy.reply_bound(n, scale);
    for (slot, z) in values.iter().enumerate() {
        let (imaginary, magnitude) = if slot < policy.used_slots {
            (true, z.im.abs())
        } else {
            (false, z.norm())
        };
        // NaN cannot come from a decoding of integers; it is refused anyway.
        if magnitude.is_nan() || magnitude > bound {
            return Err(Error::ReplyRejected {
                slot,
                imaginary,
                log2_magnitude: magnitude.log2(),
                log2_bound: bound.log2(),
            });
        }
    }
    Ok(())
}

/// One standard normal sample (Box–Muller on two 53-bit uniforms in `(0, 1]`).
fn gaussian<R: RngCore + CryptoRng>(rng: &mut R) -> f64 {
    let unit = |r: &mut R| ((r.next_u64() >> 11) + 1) as f64 / 9_007_199_254_740_992.0;
    let (u1, u2) = (unit(rng), unit(rng));
    (-2.0 * u1.ln()).sqrt() * (core::f64::consts::TAU * u2).cos()
}
