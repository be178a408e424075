//! Named, documented parameter sets.
//!
//! Every secure preset keeps log2(QP) under the HomomorphicEncryption.org 128-bit
//! bound for its N. q_0 is 60 bits so that 20 bits of integer part survive at the
//! last level above a 2^40 scale; scaling primes are 40 bits so that rescaling
//! brings the scale back to ≈2^40; the special primes are as large as the largest
//! key-switching digit, so key switching adds less noise than a rescale.

use super::CkksParamsSpec;

/// A named parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Preset {
    /// N = 2^13, Q = 60+40+40, P = 60 (200 of 218 bits), scale 2^40, depth 2.
    /// The same set as SEAL's and TenSEAL's usual `[60, 40, 40, 60]`.
    N13Qp218,
    /// N = 2^14, Q = 60 + 7×40, P = 60 (400 of 438 bits), scale 2^40, depth 7.
    N14Qp438,
    /// N = 2^15, Q = 60 + 17×40, P = 2×60 (860 of 881 bits), scale 2^40,
    /// depth 17; two ciphertext primes per key-switching digit.
    N15Qp881,
    /// N = 2^10, Q = 50+30+30+30, P = 50: depth 3 and **no security at all**.
    /// For unit tests only.
    TinyInsecure,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 4] = [
        Preset::N13Qp218,
        Preset::N14Qp438,
        Preset::N15Qp881,
        Preset::TinyInsecure,
    ];

    /// The preset's name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::N13Qp218 => "N13_QP218_128",
            Preset::N14Qp438 => "N14_QP438_128",
            Preset::N15Qp881 => "N15_QP881_128",
            Preset::TinyInsecure => "TINY_INSECURE",
        }
    }

    /// The preset with this name (case-insensitive), if any.
    pub fn from_name(name: &str) -> Option<Preset> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// The preset's spec.
    pub fn spec(self) -> CkksParamsSpec {
        match self {
            Preset::N13Qp218 => CkksParamsSpec::new(13)
                .with_log_q(&[60, 40, 40])
                .with_log_p(&[60]),
            Preset::N14Qp438 => CkksParamsSpec::new(14)
                .with_log_q(&[60, 40, 40, 40, 40, 40, 40, 40])
                .with_log_p(&[60]),
            Preset::N15Qp881 => {
                let mut q = vec![60];
                q.extend(std::iter::repeat_n(40, 17));
                CkksParamsSpec::new(15).with_log_q(&q).with_log_p(&[60, 60])
            }
            Preset::TinyInsecure => CkksParamsSpec::new(10)
                .with_log_q(&[50, 30, 30, 30])
                .with_log_p(&[50])
                .with_log_scale(30)
                .insecure_for_testing(),
        }
    }
}
