//! The planner: runs a graph on [`Sim`] (planning mode) and returns the CKKS parameters it
//! needs — the smallest secure ring degree for the measured depth and the requested
//! precision, the modulus chain, the scale — and the exact rotation steps the server will
//! use, so the client generates only those Galois keys.
//!
//! # How the numbers are chosen
//!
//! - **Depth** `d`: the deepest chain of level-consuming operations between an encryption
//!   (input or `Rotate` refresh) and a decryption, measured on `Sim` with the graph's actual
//!   weights (so an integer weight that costs no level is not counted).
//! - **Scale** `log_scale = precision_bits + noise_bits(log_n)`: the rounding error of a
//!   rescale has slot magnitude about `N/6·4.5 ≈ 2^(log_n − 0.4)` (coefficient variance
//!   `N/18` from `δ·s` with a ternary secret, summed over `N/2` slots' worth of cosines), so a
//!   ring of degree 2^log_n costs about `log_n` bits of the scale; [`NOISE_BITS`] more bits
//!   cover encoding, encryption and the network's gain on the noise. The scale therefore
//!   depends on N, and N on the total bits: the planner tries each N from the smallest.
//!   (The first prime is capped at 60 bits, so large scales leave less than
//!   `magnitude_bits` of integer headroom, never less than [`MIN_MAGNITUDE_BITS`].)
//! - **Flooding** (decryption safe to share, `fhez_ckks::SharedDecryption`): the client adds
//!   Gaussian noise to every decryption, so the scale also pays for it. With `B` the
//!   plan's own bound on a reply's noise in coefficient units ([`noise_bound_bits`]: the
//!   scale rule's slot error `2^(log_n + NOISE_BITS)` taken as four standard deviations
//!   of a slot, `sqrt(N/2)` coefficient deviations each, and six of those as the bound) and
//!   `s` = [`STAT_SECURITY_BITS`], flooding adds to each decoded value a Gaussian of
//!   standard deviation `½·sqrt(N)·B·2^s·sqrt(N/2)/Δ = 2^(log_n − 1.5 + log B + s)/Δ`. Six
//!   of them stay under half the promised step `2^-(p+1)` when
//!   `log_scale ≥ p + log_n + NOISE_BITS + `[`flooding_bits`]`(log_n)`, which is the rule.
//!   When that scale would leave the first prime less than [`MIN_MAGNITUDE_BITS`] of
//!   headroom, the scale is capped there and the plan promises fewer bits:
//!   [`Plan::release`] records the flooding policy and the precision that holds after it.
//! - **Private decryptions** ([`ReleaseChoice::PrivateOnly`], a named opt-out of the
//!   request, never the default): the client never shows a decryption to anyone, so it
//!   does not flood and the scale does not pay for it: `log_scale = p + log_n +
//!   NOISE_BITS`, which fits a smaller ring where the chain allows (the decryption still
//!   checks the reply and rounds to the promised `p` bits: [`ReleasePolicy::PrivateOnly`]).
//! - **Chain** `log_q = [log_scale + magnitude_bits, log_scale × d]`: one rescaling prime per
//!   level plus a first prime that holds the message (`|x| < 2^(magnitude_bits−1)`) at the
//!   last level. **Special primes** `log_p`: one 60-bit prime, two for `N ≥ 2^15` (hybrid
//!   key switching).
//! - **Ring degree**: the smallest `N = 2^log_n` with `N/2 ≥ batch` slots and
//!   `Σ log_q + Σ log_p ≤` the 128-bit bound for `N` of the table the request names
//!   ([`PlanRequest::standard`]): the HomomorphicEncryption.org standard's
//!   ([`SECURE_LOG_QP`], the default) or the 2024 guideline values ([`SECURE_LOG_QP_2024`]).
//!
//! # Compared with the original's heuristic
//!
//! The original ([`original_heuristic`]) budgets `[60, 40 × cost, 60]` from hand-assigned
//! node costs (`CC` 6, `RELU` 4, `ANN` 2, …) summed along the costliest path, and picks `N`
//! by doubling 27 bits (`N = 1024·2^k`). Those costs over-count the levels actually used
//! (`CC` uses 1, `RELU` 2, `ANN` 1), and its last 60-bit prime plays the special prime. For
//! `cnn_classifier(10)` the original encrypted only the CC (cost 6, N = 2^14, 360 bits);
//! fhez encrypts the whole network up to the softmax and measures depth 6 (CC 1 + ReLU 2 +
//! Dense 1 + ReLU 2), which fits the same N = 2^14 (432 bits with the flooding-capped
//! 52-bit scale, 12 bits promised after flooding), whereas
//! the original's heuristic on the fully encrypted graph would ask for cost 16, 760 bits and
//! N = 2^15. The tests pin these numbers (`planner_vs_original_*`).

mod keys;
mod original;

pub use original::{OriginalParams, original_cost, original_groups, original_heuristic};

use std::collections::{BTreeMap, BTreeSet};

use fhez_backend::{Backend, Sim, SimConfig};
use fhez_erray::{Erray, Gather, Packing, PlainArray};
use serde::{Deserialize, Serialize};

use crate::nodes::with_batch;
use crate::{Cost, Error, Graph, Result};

/// `(log_n, largest log2(QP))` for 128-bit security (HomomorphicEncryption.org standard,
/// ternary secret), N = 2^10 … 2^16.
pub const SECURE_LOG_QP: [(u32, u32); 7] = [
    (10, 27),
    (11, 54),
    (12, 109),
    (13, 218),
    (14, 438),
    (15, 881),
    (16, 1747),
];

/// `(log_n, largest log2(QP))` for 128-bit security under the 2024 guideline values
/// (ternary secret), N = 2^10 … 2^16: 0 to 13 bits below [`SECURE_LOG_QP`] for these degrees.
/// The same numbers as `fhez_ckks::max_log_qp_128_2024`, which the parameter check uses
/// (a test in the `fhez` crate compares the two tables).
pub const SECURE_LOG_QP_2024: [(u32, u32); 7] = [
    (10, 26),
    (11, 53),
    (12, 106),
    (13, 214),
    (14, 430),
    (15, 868),
    (16, 1747),
];

/// Which table of 128-bit bounds the planner checks `log2(QP)` against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SecurityStandard {
    /// The HomomorphicEncryption.org standard's table ([`SECURE_LOG_QP`]); the default, so
    /// existing plans do not change. Written `"2018"` in model files.
    #[default]
    #[serde(rename = "2018")]
    Standard2018,
    /// The 2024 guideline values ([`SECURE_LOG_QP_2024`]). Written `"2024"` in model files.
    #[serde(rename = "2024")]
    Guideline2024,
}

impl SecurityStandard {
    /// The `(log_n, largest log2(QP))` table of this standard.
    #[must_use]
    pub fn table(self) -> &'static [(u32, u32)] {
        match self {
            Self::Standard2018 => &SECURE_LOG_QP,
            Self::Guideline2024 => &SECURE_LOG_QP_2024,
        }
    }

    /// The largest `log2(QP)` for ring degree `2^log_n`, or `None` outside the table.
    #[must_use]
    pub fn max_log_qp(self, log_n: u32) -> Option<u32> {
        self.table()
            .iter()
            .find(|(l, _)| *l == log_n)
            .map(|(_, max)| *max)
    }

    /// Its name in model files and on the command line: `"2018"` or `"2024"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Standard2018 => "2018",
            Self::Guideline2024 => "2024",
        }
    }
}

/// Bits of margin on top of the ring's own `log_n` bits of rescaling noise (see the module
/// docs): the scale is `precision_bits + log_n + NOISE_BITS + flooding_bits(log_n)`.
pub const NOISE_BITS: u32 = 2;

/// The statistical security parameter `s` of the flooding every client decryption applies
/// (`fhez_ckks::SharedDecryption`; its module docs give the bounds): a statistical
/// distance of at most `2^(1−s)` per decryption, and for key recovery (a search problem)
/// a Rényi divergence of order 2 of at most `e` over `2^(2s−2)` decryptions under one key,
/// so such an attack succeeds with at most `sqrt(e·ε)` where `ε` bounds it without any
/// decryption. 12 bits (over four million decryptions per key) is what 60-bit primes
/// allow at N = 2^14 while keeping 12 bits of released precision (see the module docs:
/// flooding costs `s + log_n/2 + NOISE_BITS + 3` bits of the scale); rotate keys before
/// that many decryptions.
pub const STAT_SECURITY_BITS: u32 = 12;

/// `log2` of the plan's bound `B` on the infinity norm of a reply's noise in coefficient
/// units at ring degree `2^log_n`: `⌈log_n/2⌉ + NOISE_BITS + 2` (module docs).
#[must_use]
pub fn noise_bound_bits(log_n: u32) -> u32 {
    log_n.div_ceil(2) + NOISE_BITS + 2
}

/// Bits of the scale the decryption flooding costs at ring degree `2^log_n` with
/// [`STAT_SECURITY_BITS`]: `noise_bound_bits(log_n) + s + 1` (module docs).
#[must_use]
pub fn flooding_bits(log_n: u32) -> u32 {
    noise_bound_bits(log_n) + STAT_SECURITY_BITS + 1
}

/// Bits after the binary point that hold after flooding for a scale of `2^log_scale` at
/// ring degree `2^log_n`: `log_scale − log_n − NOISE_BITS − flooding_bits(log_n)`, or
/// `None` when the flooding leaves no bit.
#[must_use]
pub fn released_precision_bits(log_n: u32, log_scale: u32) -> Option<u32> {
    log_scale
        .checked_sub(log_n + NOISE_BITS + flooding_bits(log_n))
        .filter(|&p| p > 0)
}

/// How the client decrypts a plan's outputs for release (noise flooding, rounding, the
/// reply check): recorded in the plan so client and server agree on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The statistical security parameter `s` of the flooding ([`STAT_SECURITY_BITS`]).
    pub stat_security_bits: u32,
    /// `log2` of the bound on a reply's noise in coefficient units ([`noise_bound_bits`]).
    pub noise_bound_bits: u32,
    /// Bits after the binary point promised after flooding; outputs are rounded to them
    /// (at most the requested precision).
    pub precision_bits: u32,
}

impl Release {
    /// The release policy of a scale of `2^log_scale` at ring degree `2^log_n`, or `None`
    /// when flooding leaves no bit of precision ([`released_precision_bits`]).
    #[must_use]
    pub fn for_scale(log_n: u32, log_scale: u32) -> Option<Self> {
        released_precision_bits(log_n, log_scale).map(|precision_bits| Self {
            stat_security_bits: STAT_SECURITY_BITS,
            noise_bound_bits: noise_bound_bits(log_n),
            precision_bits,
        })
    }
}

/// Fewest bits of integer headroom the first prime keeps above the scale.
pub const MIN_MAGNITUDE_BITS: u32 = 8;

/// Largest prime the CKKS engine generates.
pub const MAX_PRIME_BITS: u32 = 60;

/// Level budget of the planning simulator (far above any secure chain).
const SIM_LEVELS: u32 = 256;

/// Whether the client's decryptions of a plan's outputs may be shown to others: what a
/// [`PlanRequest`] names. Shared is the default; the private opt-out must be named.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseChoice {
    /// Decryptions may be shown to anyone (even the server): flooded, paid for in the
    /// scale. Written `"shared"`.
    #[default]
    Shared,
    /// Decryptions never leave the client: no flooding, a smaller scale (module docs).
    /// Written `"private-only"`.
    PrivateOnly,
}

impl ReleaseChoice {
    /// Whether this is [`ReleaseChoice::Shared`].
    #[must_use]
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Shared)
    }

    /// Its name in files and on the command line: `"shared"` or `"private-only"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::PrivateOnly => "private-only",
        }
    }

    /// Bits of the scale the release costs at ring degree `2^log_n` beyond
    /// `log_n + NOISE_BITS`: [`flooding_bits`] when shared, 0 when private.
    #[must_use]
    pub fn scale_bits(self, log_n: u32) -> u32 {
        match self {
            Self::Shared => flooding_bits(log_n),
            Self::PrivateOnly => 0,
        }
    }
}

/// How the client decrypts a plan's outputs: recorded in the plan (and in the client's key
/// directory) so the policy never changes silently.
///
/// In JSON, [`ReleasePolicy::Shared`] is the [`Release`] object itself (what plans held
/// before the opt-out existed); [`ReleasePolicy::PrivateOnly`] carries
/// `"decryptions": "private-only"` and no `stat_security_bits`, so a reader that knows
/// only [`Release`] refuses it rather than flooding under a scale that did not pay for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ReleaseRepr", into = "ReleaseRepr")]
pub enum ReleasePolicy {
    /// Decryptions for release: reply check, noise flooding, rounding.
    Shared(Release),
    /// Decryptions that never leave the client: reply check and rounding, no flooding.
    PrivateOnly {
        /// `log2` of the bound on a reply's noise in coefficient units (reply check).
        noise_bound_bits: u32,
        /// Bits after the binary point promised; outputs are rounded to them.
        precision_bits: u32,
    },
}

impl ReleasePolicy {
    /// The policy of `choice` for a scale of `2^log_scale` at ring degree `2^log_n`, or
    /// `None` when nothing is left of the precision.
    #[must_use]
    pub fn for_scale(choice: ReleaseChoice, log_n: u32, log_scale: u32) -> Option<Self> {
        match choice {
            ReleaseChoice::Shared => Release::for_scale(log_n, log_scale).map(Self::Shared),
            ReleaseChoice::PrivateOnly => log_scale
                .checked_sub(log_n + NOISE_BITS)
                .filter(|&p| p > 0)
                .map(|precision_bits| Self::PrivateOnly {
                    noise_bound_bits: noise_bound_bits(log_n),
                    precision_bits,
                }),
        }
    }

    /// Shared or private.
    #[must_use]
    pub fn choice(&self) -> ReleaseChoice {
        match self {
            Self::Shared(_) => ReleaseChoice::Shared,
            Self::PrivateOnly { .. } => ReleaseChoice::PrivateOnly,
        }
    }

    /// Bits after the binary point promised (outputs are rounded to them).
    #[must_use]
    pub fn precision_bits(&self) -> u32 {
        match *self {
            Self::Shared(r) => r.precision_bits,
            Self::PrivateOnly { precision_bits, .. } => precision_bits,
        }
    }

    /// `log2` of the reply-noise bound of the reply check.
    #[must_use]
    pub fn noise_bound_bits(&self) -> u32 {
        match *self {
            Self::Shared(r) => r.noise_bound_bits,
            Self::PrivateOnly {
                noise_bound_bits, ..
            } => noise_bound_bits,
        }
    }

    /// The flooding's statistical security parameter; `None` for private decryptions.
    #[must_use]
    pub fn stat_security_bits(&self) -> Option<u32> {
        match self {
            Self::Shared(r) => Some(r.stat_security_bits),
            Self::PrivateOnly { .. } => None,
        }
    }
}

/// The JSON form of a [`ReleasePolicy`] (see there).
#[derive(Serialize, Deserialize)]
struct ReleaseRepr {
    #[serde(default, skip_serializing_if = "ReleaseChoice::is_shared")]
    decryptions: ReleaseChoice,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stat_security_bits: Option<u32>,
    noise_bound_bits: u32,
    precision_bits: u32,
}

impl TryFrom<ReleaseRepr> for ReleasePolicy {
    type Error = String;

    fn try_from(r: ReleaseRepr) -> std::result::Result<Self, String> {
        match (r.decryptions, r.stat_security_bits) {
            (ReleaseChoice::Shared, Some(stat_security_bits)) => Ok(Self::Shared(Release {
                stat_security_bits,
                noise_bound_bits: r.noise_bound_bits,
                precision_bits: r.precision_bits,
            })),
            (ReleaseChoice::Shared, None) => {
                Err("a shared release policy needs `stat_security_bits`".to_owned())
            }
            (ReleaseChoice::PrivateOnly, None) => Ok(Self::PrivateOnly {
                noise_bound_bits: r.noise_bound_bits,
                precision_bits: r.precision_bits,
            }),
            (ReleaseChoice::PrivateOnly, Some(_)) => Err(
                "a private-only release policy has no flooding (`stat_security_bits`)".to_owned(),
            ),
        }
    }
}

impl From<ReleasePolicy> for ReleaseRepr {
    fn from(p: ReleasePolicy) -> Self {
        Self {
            decryptions: p.choice(),
            stat_security_bits: p.stat_security_bits(),
            noise_bound_bits: p.noise_bound_bits(),
            precision_bits: p.precision_bits(),
        }
    }
}

/// What to plan for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRequest {
    /// Samples per ciphertext (batch-in-slots): needs `N/2 ≥ batch`.
    pub batch: usize,
    /// Bits of precision wanted after the binary point.
    pub precision_bits: u32,
    /// Bits for the integer part of the largest value (first prime headroom).
    pub magnitude_bits: u32,
    /// Whether decryptions may be shown to others (absent in a model file:
    /// [`ReleaseChoice::Shared`]; the private opt-out must be written `"private-only"`).
    #[serde(default, skip_serializing_if = "ReleaseChoice::is_shared")]
    pub release: ReleaseChoice,
    /// The table of security bounds the ring degree is chosen against (absent in a model
    /// file: [`SecurityStandard::Standard2018`]).
    #[serde(default)]
    pub standard: SecurityStandard,
    /// Single-input plans: at most this many Galois keys, the other rotation steps composed
    /// from them (decided here, recorded in [`Plan::rotation_compose`]). Absent: one key per
    /// step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_budget: Option<usize>,
}

/// The cost of one node as measured on `Sim`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCost {
    /// Node name.
    pub name: String,
    /// Node kind.
    pub kind: String,
    /// Declared cost.
    pub declared: Cost,
    /// Levels consumed on `Sim` (≤ declared depth).
    pub consumed: u32,
    /// Cumulative depth at the node's output (levels below a fresh ciphertext).
    pub depth_out: u32,
    /// Slot rotations (key switches) the node performed.
    pub rotations: u64,
    /// Relinearizations (one per ct×ct product, each a key switch) the node performed.
    #[serde(default)]
    pub relinearizations: u64,
    /// Key switches the node performed: `rotations + relinearizations`.
    #[serde(default)]
    pub key_switches: u64,
    /// Level of its lowest input in the planned chain (a fresh ciphertext is at
    /// [`Plan::depth`], the last level is 0).
    #[serde(default)]
    pub level_in: u32,
    /// Level of its lowest output in the planned chain.
    #[serde(default)]
    pub level_out: u32,
    /// Single-input plans: the linear node this linear map was composed into (one
    /// transform, one level for both: [`Graph::composes_into`], decided by
    /// [`Graph::compose_is_cheaper`]); absent when it runs on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composed_into: Option<String>,
}

/// A CKKS parameter plan. Field names match `fhez_ckks::CkksParamsSpec` (`log_n`, `log_q`,
/// `log_p`, `log_scale`), so an integration layer converts it directly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// `log2 N`.
    pub log_n: u32,
    /// Bit sizes of the ciphertext primes `q_0 … q_L` (`L` = depth).
    pub log_q: Vec<u32>,
    /// Bit sizes of the special primes.
    pub log_p: Vec<u32>,
    /// `log2` of the scale Δ.
    pub log_scale: u32,
    /// Multiplicative depth measured (levels needed; `log_q.len() − 1`).
    pub depth: u32,
    /// Slots per ciphertext (`N/2`).
    pub slots: usize,
    /// `Σ log_q + Σ log_p`.
    pub log_qp: u32,
    /// Every Galois key step the server uses (generate exactly these keys); under a key
    /// budget the other steps it rotates by are composed of them ([`Plan::rotation_compose`]).
    pub rotation_steps: BTreeSet<i64>,
    /// Per node evaluated on ciphertexts, in execution order.
    pub nodes: Vec<NodeCost>,
    /// The table of security bounds `log_qp` was checked against.
    #[serde(default)]
    pub standard: SecurityStandard,
    /// The packing the plan was made for (absent in older plans: batch-in-slots).
    #[serde(default)]
    pub packing: PackingChoice,
    /// The slot layout of every encrypted input and of every value reaching a decrypt
    /// node, so a client encrypts and decrypts with the plan alone (no weights).
    #[serde(default)]
    pub layouts: Vec<TensorLayout>,
    /// The release policy of the client's decryptions and the precision promised with it
    /// (absent in older plans: shared, [`Release::for_scale`] of the plan's numbers; a
    /// [`Release`] object reads as [`ReleasePolicy::Shared`]).
    #[serde(default)]
    pub release: Option<ReleasePolicy>,
    /// Under a key budget: every rotation step the server uses that has no key of its own,
    /// with the key steps (from [`Plan::rotation_steps`]) it is made of, one key switch
    /// each. Empty: every step has its own key. Read through [`Plan::rotation_table`],
    /// which checks it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rotation_compose: BTreeMap<i64, Vec<i64>>,
    /// The key budget the plan was made under ([`PlanRequest::key_budget`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_budget: Option<usize>,
}

/// Which packing a plan is made for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackingChoice {
    /// One sample per slot: `batch` samples per ciphertext (throughput).
    #[default]
    BatchInSlots,
    /// One sample per ciphertext ([`Packing::SingleInput`]): latency.
    SingleInput,
}

/// The serialized form of a [`Packing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PackingSpec {
    /// [`Packing::BatchInSlots`].
    BatchInSlots {
        /// Samples per ciphertext.
        batch: usize,
    },
    /// [`Packing::Flat`].
    Flat,
    /// [`Packing::SingleInput`].
    SingleInput {
        /// Repetition period in slots.
        period: usize,
    },
}

impl From<Packing> for PackingSpec {
    fn from(p: Packing) -> Self {
        match p {
            Packing::BatchInSlots { batch } => Self::BatchInSlots { batch },
            Packing::Flat => Self::Flat,
            Packing::SingleInput { period } => Self::SingleInput { period },
        }
    }
}

impl From<PackingSpec> for Packing {
    fn from(p: PackingSpec) -> Self {
        match p {
            PackingSpec::BatchInSlots { batch } => Self::BatchInSlots { batch },
            PackingSpec::Flat => Self::Flat,
            PackingSpec::SingleInput { period } => Self::SingleInput { period },
        }
    }
}

/// Whether a layout is an encrypted input or a value the client decrypts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayoutRole {
    /// An encrypted input node: the client encrypts with this layout.
    Input,
    /// The value arriving at a decrypt node: the client decrypts with this layout.
    Output,
}

/// Shape and packing of one encrypted value the client handles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorLayout {
    /// Input node name, or decrypt node name.
    pub node: String,
    /// Input or output.
    pub role: LayoutRole,
    /// Erray shape, batch axis first (`1` for single-input).
    pub shape: Vec<usize>,
    /// How the elements sit in the slots.
    pub packing: PackingSpec,
    /// For a single-input encrypted input whose readers are all linear maps: the gather
    /// the planner chose for it ([`Graph::input_gather`]): the client lays the input out
    /// by it ([`Erray::encrypt_gathered`]) and the first map reads it. Absent (older plans
    /// too): the packing's row-major layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gather: Option<GatherSpec>,
}

impl TensorLayout {
    /// The gather of this layout, checked for a ring of `ring_slots` slots
    /// ([`GatherSpec::to_gather`]); `None` for a row-major layout.
    ///
    /// # Errors
    /// As [`GatherSpec::to_gather`].
    pub fn checked_gather(&self, ring_slots: usize) -> Result<Option<Gather>> {
        self.gather
            .as_ref()
            .map(|g| g.to_gather(ring_slots))
            .transpose()
    }

    /// **Client, with the plan alone.** Encrypts one input `data` as this input layout
    /// says: by its gather ([`Erray::encrypt_gathered`]) when it has one, otherwise with
    /// its packing (a batch-in-slots layout takes the data's batch).
    ///
    /// # Errors
    /// As [`TensorLayout::checked_gather`]; layout and encryption errors.
    pub fn encrypt<B: Backend>(&self, backend: &B, data: &PlainArray) -> Result<Erray<B>> {
        match self.checked_gather(backend.slots())? {
            Some(g) => Ok(Erray::encrypt_gathered(backend, data, &g)?),
            None => {
                let packing = match self.packing {
                    PackingSpec::BatchInSlots { .. } => Packing::BatchInSlots {
                        batch: data.shape().first().copied().unwrap_or(1),
                    },
                    p @ (PackingSpec::Flat | PackingSpec::SingleInput { .. }) => p.into(),
                };
                Ok(Erray::encrypt(backend, data, packing)?)
            }
        }
    }
}

/// The serialized form of a [`Gather`]: slot `s < period` holds input element
/// `slots[s]` (`null`: empty), repeated every `period` slots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatherSpec {
    /// Elements of the input (its row-major length).
    pub source_len: usize,
    /// Repetition period in slots (a power of two).
    pub period: usize,
    /// The element each slot of one period holds.
    pub slots: Vec<Option<usize>>,
}

impl GatherSpec {
    /// The checked gather for a ring of `ring_slots` slots, read from a plan that may be
    /// hostile: every bound is checked before anything is allocated for it.
    ///
    /// # Errors
    /// [`Error::LimitExceeded`] when the period exceeds `ring_slots` or the layout is
    /// longer than its period; [`Error::Erray`] (`IndexOutOfBounds`, `InvalidShape`) for
    /// an element index out of range or a period that is not a power of two.
    pub fn to_gather(&self, ring_slots: usize) -> Result<Gather> {
        if self.period > ring_slots {
            return Err(Error::LimitExceeded {
                what: "gather period (slots)",
                found: self.period,
                limit: ring_slots,
            });
        }
        if self.slots.len() > self.period {
            return Err(Error::LimitExceeded {
                what: "gather layout length (its period)",
                found: self.slots.len(),
                limit: self.period,
            });
        }
        Ok(Gather::new(
            self.source_len,
            self.period,
            self.slots.clone(),
        )?)
    }
}

impl From<&Gather> for GatherSpec {
    fn from(g: &Gather) -> Self {
        Self {
            source_len: g.source_len(),
            period: g.period(),
            slots: g.slots().to_vec(),
        }
    }
}

impl Plan {
    /// The release policy: the recorded one, or for an older plan the shared one its
    /// scale allows ([`Release::for_scale`]); `None` when flooding leaves no bit of
    /// precision.
    #[must_use]
    pub fn release(&self) -> Option<ReleasePolicy> {
        self.release
            .or_else(|| Release::for_scale(self.log_n, self.log_scale).map(ReleasePolicy::Shared))
    }

    /// The layout of input or decrypt node `node`, if the plan has one.
    #[must_use]
    pub fn layout(&self, node: &str, role: LayoutRole) -> Option<&TensorLayout> {
        self.layouts
            .iter()
            .find(|l| l.node == node && l.role == role)
    }
}

/// [`plan_with`] with `magnitude_bits = 20`.
///
/// # Errors
/// As [`plan_with`].
pub fn plan(graph: &Graph, batch: usize, precision_bits: u32) -> Result<Plan> {
    plan_with(
        graph,
        &PlanRequest {
            release: ReleaseChoice::Shared,
            batch,
            precision_bits,
            magnitude_bits: 20,
            standard: SecurityStandard::Standard2018,
            key_budget: None,
        },
    )
}

/// Plans CKKS parameters for running `graph` on ciphertexts (all `Input` nodes whose
/// consumers reach a `Decrypt` are encrypted) with `request.batch` samples per ciphertext.
///
/// # Errors
/// [`Error::LimitExceeded`] when the batch, or batch × the widest tensor, is over its
/// [`limits`](crate::limits); [`Error::PrimeTooLarge`] when the scale or first prime exceeds 60 bits;
/// [`Error::NoSecureParams`] when no N ≤ 2^16 is secure for the chain under
/// `request.standard`; graph errors naming
/// the node (e.g. [`Error::NotEncryptable`] for a softmax before the decrypt).
pub fn plan_with(graph: &Graph, request: &PlanRequest) -> Result<Plan> {
    let batch = request.batch.max(1);
    crate::limits::check_batch(graph, batch)?;
    // Bounds every sum below (a file may declare any u32).
    if request.precision_bits > MAX_PRIME_BITS {
        return Err(Error::PrimeTooLarge {
            bits: request.precision_bits,
            max: MAX_PRIME_BITS,
        });
    }
    // Depth and rotations do not depend on the scale: simulate once at a nominal one.
    let slots = batch.next_power_of_two();
    let nominal = request.precision_bits + 16 + NOISE_BITS;
    let sim = Sim::new(SimConfig::planning(slots, SIM_LEVELS, f64::from(nominal)))?;
    let (depth, nodes, layouts) = simulate(graph, &sim, PackingChoice::BatchInSlots, batch, None)?;
    let report = sim.report();
    let mut smallest_total = u32::MAX;
    for &(log_n, bound) in request.standard.table() {
        let (log_scale, log_q, log_p, log_qp) = chain(request, log_n, depth)?;
        smallest_total = smallest_total.min(log_qp);
        let n_slots = 1usize << (log_n - 1);
        if log_qp <= bound && n_slots >= batch {
            return Ok(Plan {
                log_n,
                log_q,
                log_p,
                log_scale,
                depth,
                slots: n_slots,
                log_qp,
                rotation_steps: report.rotation_steps,
                nodes,
                standard: request.standard,
                packing: PackingChoice::BatchInSlots,
                layouts,
                release: ReleasePolicy::for_scale(request.release, log_n, log_scale),
                rotation_compose: BTreeMap::new(),
                key_budget: None,
            });
        }
    }
    Err(Error::NoSecureParams {
        log_qp: smallest_total,
        max_log_qp: 1747,
    })
}

/// The modulus chain for `depth` levels at ring degree `2^log_n` (see the module docs):
/// `(log_scale, log_q, log_p, log_qp)`.
fn chain(request: &PlanRequest, log_n: u32, depth: u32) -> Result<(u32, Vec<u32>, Vec<u32>, u32)> {
    // The flooding of a shared decryption is paid for in the scale (module docs); a
    // scale the first prime cannot hold is capped and the plan promises fewer bits.
    let floor = log_n + NOISE_BITS + request.release.scale_bits(log_n);
    let log_scale = (request.precision_bits + floor).min(MAX_PRIME_BITS - MIN_MAGNITUDE_BITS);
    if log_scale <= floor {
        return Err(Error::PrimeTooLarge {
            bits: floor + 1 + MIN_MAGNITUDE_BITS,
            max: MAX_PRIME_BITS,
        });
    }
    let q0 = log_scale
        .saturating_add(request.magnitude_bits)
        .min(MAX_PRIME_BITS);
    let mut log_q = vec![q0];
    log_q.extend(std::iter::repeat_n(
        log_scale,
        usize::try_from(depth).unwrap_or(0),
    ));
    let log_p = if log_n >= 15 { vec![60, 60] } else { vec![60] };
    let log_qp = log_q.iter().chain(&log_p).sum::<u32>();
    Ok((log_scale, log_q, log_p, log_qp))
}

/// Plans CKKS parameters for running `graph` with [`Packing::SingleInput`] (one sample per
/// ciphertext; `request.batch` is ignored). For each ring degree from the smallest, the
/// graph runs on a `Sim` with that degree's slots (the diagonal transforms, their rotation
/// steps and the stacking masks depend on the slot count); the first degree whose slots
/// hold every layout and whose chain is secure is chosen. The plan lists the exact Galois
/// keys and every input and output layout; under `request.key_budget` at most that many
/// keys and how every other step composes from them (decided here on `Sim`, recorded in
/// [`Plan::rotation_compose`]; evaluation never composes on its own).
///
/// # Errors
/// [`Error::PrimeTooLarge`]; [`Error::NoSecureParams`] when no degree fits; the last
/// simulation error when no slot count holds the layouts (for example a layer wider than
/// 2^15 slots); graph errors naming the node; [`Error::Erray`] (`KeyBudget`) when no choice
/// of at most `request.key_budget` keys serves the steps.
pub fn plan_single_input(graph: &Graph, request: &PlanRequest) -> Result<Plan> {
    if request.precision_bits > MAX_PRIME_BITS {
        return Err(Error::PrimeTooLarge {
            bits: request.precision_bits,
            max: MAX_PRIME_BITS,
        });
    }
    crate::limits::check_batch(graph, 1)?;
    let nominal = request.precision_bits + 16 + NOISE_BITS;
    let mut smallest_total = u32::MAX;
    let mut last_error = None;
    for &(log_n, bound) in request.standard.table() {
        let slots = 1usize << (log_n - 1);
        let sim = Sim::new(SimConfig::planning(slots, SIM_LEVELS, f64::from(nominal)))?;
        let run = simulate(graph, &sim, PackingChoice::SingleInput, 1, None);
        let (depth, nodes, layouts) = match run {
            Ok(r) => r,
            Err(e) => {
                last_error = Some(e);
                continue;
            }
        };
        let (log_scale, log_q, log_p, log_qp) = chain(request, log_n, depth)?;
        smallest_total = smallest_total.min(log_qp);
        if log_qp <= bound {
            let plan = Plan {
                log_n,
                log_q,
                log_p,
                log_scale,
                depth,
                slots,
                log_qp,
                rotation_steps: sim.report().rotation_steps,
                nodes,
                standard: request.standard,
                packing: PackingChoice::SingleInput,
                layouts,
                release: ReleasePolicy::for_scale(request.release, log_n, log_scale),
                rotation_compose: BTreeMap::new(),
                key_budget: None,
            };
            return match request.key_budget {
                Some(budget) => keys::with_key_budget(graph, plan, budget, nominal),
                None => Ok(plan),
            };
        }
    }
    match (smallest_total, last_error) {
        (u32::MAX, Some(e)) => Err(e),
        _ => Err(Error::NoSecureParams {
            log_qp: smallest_total,
            max_log_qp: 1747,
        }),
    }
}

fn is_single_packing(p: PackingChoice) -> bool {
    matches!(p, PackingChoice::SingleInput)
}

/// Runs the graph on `sim` with zero inputs of every input's shape in `packing`, returning
/// the depth, the per-node costs and the input/output layouts.
fn simulate(
    graph: &Graph,
    sim: &Sim,
    packing: PackingChoice,
    batch: usize,
    cache: Option<&crate::TransformCache<Sim>>,
) -> Result<(u32, Vec<NodeCost>, Vec<TensorLayout>)> {
    let mut inputs = Vec::new();
    let mut layouts = Vec::new();
    for id in graph.encrypted_inputs() {
        let shape = with_batch(batch, graph.shape(id, 0).unwrap_or(&[]));
        let zeros = PlainArray::full(shape, 0.0)?;
        let p = match packing {
            PackingChoice::BatchInSlots => Packing::BatchInSlots { batch },
            PackingChoice::SingleInput => Packing::single_input(zeros.len()),
        };
        let mut x = Erray::encrypt(sim, &zeros, p)?;
        if let Some(g) = graph.input_gather(id, &x)? {
            x = Erray::encrypt_gathered(sim, &zeros, &g)?;
        }
        layouts.push(TensorLayout {
            node: graph.name(id).to_owned(),
            role: LayoutRole::Input,
            shape: x.shape().to_vec(),
            packing: x.packing().into(),
            gather: x.gather().map(GatherSpec::from),
        });
        inputs.push((graph.name(id), x));
    }
    let mut refresh = |x: &Erray<Sim>| -> Result<Erray<Sim>> {
        let zeros = PlainArray::full(x.shape().to_vec(), 0.0)?;
        Ok(Erray::encrypt(sim, &zeros, x.packing())?)
    };
    let run = graph.forward_enc_owned(inputs, &mut refresh, &mut |_| {}, cache)?;
    for (id, x) in &run.boundary {
        layouts.push(TensorLayout {
            node: graph.name(*id).to_owned(),
            role: LayoutRole::Output,
            shape: x.shape().to_vec(),
            packing: x.packing().into(),
            gather: None,
        });
    }
    let max = sim.caps().max_level;
    let depth = sim.report().depth_used;
    let mut nodes = Vec::new();
    for &id in graph.order() {
        let (Some(node), Some(Some(levels))) = (graph.node(id), run.levels.get(id)) else {
            continue;
        };
        nodes.push(NodeCost {
            name: graph.name(id).to_owned(),
            kind: node.kind().to_owned(),
            declared: node.cost(),
            consumed: levels.consumed(),
            depth_out: max - levels.output,
            rotations: levels.rotations,
            relinearizations: levels.key_switches.saturating_sub(levels.rotations),
            key_switches: levels.key_switches,
            level_in: depth.saturating_sub(max.saturating_sub(levels.input)),
            level_out: depth.saturating_sub(max.saturating_sub(levels.output)),
            composed_into: graph
                .composes_into(id)
                .filter(|&c| {
                    matches!(run.levels.get(c), Some(Some(l)) if l.consumed() == 0)
                        && is_single_packing(packing)
                })
                .map(|c| graph.name(c).to_owned()),
        });
    }
    Ok((depth, nodes, layouts))
}
