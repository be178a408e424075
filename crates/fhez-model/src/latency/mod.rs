//! **Latency mode**: one image per ciphertext, for the lowest time per single request.
//!
//! Where [`EncryptedModel`](crate::EncryptedModel) packs a *batch* in the slots (slot `i` =
//! sample `i`, one ciphertext per pixel, no rotations), a [`LatencyModel`] packs *one
//! image* into *one* ciphertext:
//!
//! - the **client** im2col-encodes the image (slot `p·W' + w` = kernel position `p` of
//!   window `w`, `W'` the window count rounded up to a power of two) and encrypts it
//!   ([`LatencyModel::encrypt`]);
//! - the **server** runs every linear layer (the filter bank and each dense layer) as a
//!   slot-periodic matrix–vector product — baby-step/giant-step diagonals with the giant
//!   steps in Horner form and a rotate-and-add tail — and every quadratic activation as one
//!   ciphertext product (its `x²` coefficient folded into the layer before it), holding only
//!   the evaluation keys ([`LatencyModel::eval`] takes a [`ServerKeys`], which has no
//!   secret key);
//! - the **client** decrypts the logits ([`LatencyModel::decrypt`]).
//!
//! Only the rotation steps the diagonals use get Galois keys
//! ([`LatencyModel::rotation_steps`], [`LatencyModel::keygen`]); [`latency_spec_for`] picks
//! 128-bit-secure parameters for the depth.
//!
//! ```no_run
//! # fn demo(graph: &fhez_nn::Graph, image: &[f64]) -> fhez_model::Result<()> {
//! use fhez_ckks::CkksParams;
//! use fhez_model::latency::{DEFAULT_HEADROOM_BITS, LatencyModel, LatencyNet, latency_spec_for};
//!
//! let net = LatencyNet::from_graph(graph)?;
//! let params = CkksParams::new(&latency_spec_for(&net, DEFAULT_HEADROOM_BITS)?)?;
//! let model = LatencyModel::new(net, &params)?;
//! let client = model.keygen()?;                       // client: keys
//! let keys = client.server_keys();                    // → server: evaluation keys only
//! let ct = model.encrypt(&client, image)?;            // client → server
//! let (out, timings) = model.eval_timed(&keys, &ct)?; // server → client
//! let logits = model.decrypt(&client, &out)?;         // client
//! # Ok(()) }
//! ```

mod client;
mod diag;
mod from_graph;
mod lower;
mod net;
mod params;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fhez_ckks::{Ciphertext, CkksClient, CkksParams, Encoder, Evaluator, ServerKeys};
use rand_core::{CryptoRng, RngCore};

use crate::{Error, Result};
use diag::Rotator;
use lower::{Layer, Layout, Named};
pub use net::{ConvLayer, LatencyNet, Stage};
pub use params::{DEFAULT_HEADROOM_BITS, latency_spec, latency_spec_for};

/// Time and levels of one encrypted layer of [`LatencyModel::eval_timed`].
#[derive(Clone, Debug, PartialEq)]
pub struct LayerTiming {
    /// Layer name: `conv`, `dense<k>`, `act<k>`.
    pub name: String,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Level of the input ciphertext.
    pub level_in: u32,
    /// Level of the output ciphertext.
    pub level_out: u32,
    /// Key switches (rotations and relinearizations).
    pub key_switches: u64,
}

/// A [`LatencyNet`] lowered onto one parameter set: the server's plaintext diagonals plus
/// the slot layouts both sides use. See the [module docs](self).
///
/// The server side takes [`ServerKeys`] (no secret key); decrypting needs the client:
///
/// ```compile_fail
/// fn server_peeks(
///     model: &fhez_model::latency::LatencyModel,
///     keys: &fhez_ckks::ServerKeys,
///     ct: &fhez_ckks::Ciphertext,
/// ) {
///     let _ = model.decrypt(keys, ct); // error: expected `&CkksClient`, found `&ServerKeys`
/// }
/// ```
pub struct LatencyModel {
    net: LatencyNet,
    params: Arc<CkksParams>,
    encoder: Encoder,
    eval: Evaluator,
    layers: Vec<Named>,
    input: Layout,
    in_period: usize,
    output: Layout,
    steps: BTreeSet<usize>,
    level: u32,
    out_scale: f64,
}

impl std::fmt::Debug for LatencyModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyModel")
            .field("net", &self.net)
            .field("log_n", &self.params.log_n())
            .field("level", &self.level)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

impl LatencyModel {
    /// Lowers `net` onto `params` (encodes every diagonal once). The input ciphertext is at
    /// level `net.depth()` (lower than the top when `params` has spare levels: a smaller
    /// upload) with the default scale.
    ///
    /// # Errors
    /// [`Error::Format`] for a network latency mode cannot run, [`Error::PlanMismatch`]
    /// when `params` has too few levels or slots, encoding errors.
    pub fn new(net: LatencyNet, params: &Arc<CkksParams>) -> Result<Self> {
        net.validate()?;
        let level = net.depth();
        if params.max_level() < level {
            return Err(Error::PlanMismatch {
                what: "max level",
                needed: u64::from(level),
                found: u64::from(params.max_level()),
            });
        }
        let encoder = Encoder::new(params);
        let lowered = lower::lower(&net, &encoder, level, params.default_scale())?;
        Ok(Self {
            net,
            params: Arc::clone(params),
            eval: Evaluator::new(params),
            encoder,
            layers: lowered.layers,
            input: lowered.input,
            in_period: lowered.in_period,
            output: lowered.output,
            steps: lowered.steps,
            level,
            out_scale: lowered.out_scale,
        })
    }

    /// [`LatencyNet::from_graph`] then [`LatencyModel::new`].
    ///
    /// # Errors
    /// As both.
    pub fn from_graph(graph: &fhez_nn::Graph, params: &Arc<CkksParams>) -> Result<Self> {
        Self::new(LatencyNet::from_graph(graph)?, params)
    }

    /// The network.
    #[must_use]
    pub fn net(&self) -> &LatencyNet {
        &self.net
    }

    /// The parameter set.
    #[must_use]
    pub fn params(&self) -> &Arc<CkksParams> {
        &self.params
    }

    /// Scale of the ciphertext [`LatencyModel::eval`] returns.
    #[must_use]
    pub fn output_scale(&self) -> f64 {
        self.out_scale
    }

    /// Level of the input ciphertext (the network's depth).
    #[must_use]
    pub fn input_level(&self) -> u32 {
        self.level
    }

    /// The rotation steps (left, in `[1, slots)`) the server uses, each once per key: keys
    /// for exactly these make every rotation one key switch. With fewer keys, rotations
    /// are composed greedily from the largest available steps.
    #[must_use]
    pub fn rotation_steps(&self) -> Vec<i64> {
        let steps = self.steps.iter().map(|&s| i64::try_from(s).unwrap_or(0));
        steps.filter(|&s| s > 0).collect()
    }

    /// At most `max_keys` rotation steps from which every step of
    /// [`LatencyModel::rotation_steps`] can be composed (the server's rotator uses the exact
    /// key when present, else the largest key not above what is left). Fewer keys mean
    /// smaller evaluation keys and more key switches: steps are dropped one at a time,
    /// each time the one whose loss adds the fewest key switches per evaluation. Returns all the steps
    /// when `max_keys` is at least their number; never fewer steps than composition needs.
    #[must_use]
    pub fn compact_rotation_steps(&self, max_keys: usize) -> Vec<i64> {
        let mut uses = std::collections::BTreeMap::new();
        for named in &self.layers {
            if let Layer::Linear(plan) = &named.layer {
                plan.step_uses(&mut uses);
            }
        }
        let needed = self.rotation_steps();
        let weight = |t: i64| {
            usize::try_from(t)
                .ok()
                .and_then(|t| uses.get(&t))
                .copied()
                .unwrap_or(1)
        };
        let mut keys = needed.clone();
        while keys.len() > max_keys.max(1) {
            let best = (0..keys.len())
                .filter_map(|i| {
                    let mut rest = keys.clone();
                    rest.remove(i);
                    let cost: Option<usize> = needed
                        .iter()
                        .map(|&t| compose_len(t, &rest).map(|n| n * weight(t)))
                        .sum();
                    cost.map(|c| (c, i))
                })
                .min();
            match best {
                Some((_, i)) => {
                    keys.remove(i);
                }
                None => break,
            }
        }
        keys
    }

    /// **Client.** Secret, public, relinearization keys and Galois keys for exactly
    /// [`LatencyModel::rotation_steps`], with OS randomness.
    ///
    /// # Errors
    /// Key-generation errors.
    pub fn keygen(&self) -> Result<CkksClient> {
        Ok(CkksClient::generate(&self.params, &self.rotation_steps())?)
    }

    /// **Client.** As [`LatencyModel::keygen`], all randomness from `rng`.
    ///
    /// # Errors
    /// Key-generation errors.
    pub fn keygen_with_rng<R: RngCore + CryptoRng>(&self, rng: &mut R) -> Result<CkksClient> {
        let steps = self.rotation_steps();
        Ok(CkksClient::generate_with_rng(&self.params, &steps, rng)?)
    }

    /// **Server.** Evaluates the network on one encrypted image with evaluation keys only.
    ///
    /// # Errors
    /// [`Error::Ckks`] for keys of another parameter set, a missing Galois key or a
    /// ciphertext at the wrong level.
    pub fn eval(&self, keys: &ServerKeys, ct: &Ciphertext) -> Result<Ciphertext> {
        Ok(self.eval_timed(keys, ct)?.0)
    }

    /// **Server.** As [`LatencyModel::eval`], also returning each layer's time.
    ///
    /// # Errors
    /// As [`LatencyModel::eval`].
    pub fn eval_timed(
        &self,
        keys: &ServerKeys,
        ct: &Ciphertext,
    ) -> Result<(Ciphertext, Vec<LayerTiming>)> {
        self.params.check_id(keys.params().id())?;
        self.params.check_id(ct.params_id())?;
        if ct.level() != self.level {
            return Err(Error::PlanMismatch {
                what: "input level",
                needed: u64::from(self.level),
                found: u64::from(ct.level()),
            });
        }
        let mut rot = Rotator::new(&self.eval, keys.galois_keys(), &keys.rotation_steps());
        let mut x = ct.clone();
        let mut timings = Vec::with_capacity(self.layers.len());
        for Named { name, layer } in &self.layers {
            let (start, ks0, level_in) = (Instant::now(), rot.key_switches, x.level());
            x = match layer {
                Layer::Linear(plan) => plan.eval(&mut rot, &x)?,
                Layer::Act { neg, shift, offset } => {
                    let ev = &self.eval;
                    let v = ev.add_scalar(&x, *shift)?;
                    let mut y = ev.mul_relin_rescale(&x, &v, keys.relin_key())?;
                    rot.key_switches += 1;
                    if *neg {
                        y = ev.neg(&y)?;
                    }
                    if *offset != 0.0 {
                        y = ev.add_scalar(&y, *offset)?;
                    }
                    y
                }
            };
            timings.push(LayerTiming {
                name: name.clone(),
                elapsed: start.elapsed(),
                level_in,
                level_out: x.level(),
                key_switches: rot.key_switches - ks0,
            });
        }
        Ok((x, timings))
    }
}

/// Key switches the rotator needs for a left rotation by `target` with keys `keys`
/// (ascending), or `None` when it cannot be composed.
fn compose_len(target: i64, keys: &[i64]) -> Option<usize> {
    let (mut left, mut count) = (target, 0);
    while left > 0 {
        let s = if keys.contains(&left) {
            left
        } else {
            keys.iter().rev().copied().find(|&s| s <= left)?
        };
        left -= s;
        count += 1;
    }
    Some(count)
}
