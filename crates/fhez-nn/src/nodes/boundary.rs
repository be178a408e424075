//! [`Io`], [`Encrypt`], [`Decrypt`] and [`Rotate`]: where data changes hands between client and
//! server. All are the identity on plaintext (forward and backward).

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, first, one};
use crate::{Cost, Result, Tensor};

/// The original's `IO`: an identity node with one input, used to name an output (`y_hat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Io {}

/// Marks where the client encrypts (a segment start for the planner). Identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encrypt {}

/// The decrypt boundary: the server stops here and returns the ciphertexts; the client
/// decrypts and runs everything downstream in plaintext. Identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decrypt {}

/// The original's `Rotate`, which was **key rotation**, not a slot rotation: the value goes
/// back to the client, which decrypts and re-encrypts it (a refresh that stands in for
/// bootstrapping), starting a new level budget. On ciphertexts the graph calls the caller's
/// refresh hook here; the planner treats it as a segment boundary. Identity on plaintext.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotate {}

macro_rules! identity_layer {
    ($ty:ty, $kind:literal) => {
        impl Layer for $ty {
            const KIND: &'static str = $kind;

            fn ports(&self) -> (usize, usize) {
                (1, 1)
            }

            fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
                Ok(vec![one(inputs)?.to_vec()])
            }

            fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
                Ok(Forward {
                    outputs: vec![one(inputs)?.clone()],
                    cache: Vec::new(),
                })
            }

            fn backward(&self, grads: &[Tensor], _cache: &[Tensor]) -> Result<Backward> {
                Ok(Backward {
                    inputs: vec![first(grads)?.clone()],
                    params: Vec::new(),
                })
            }

            fn cost(&self) -> Cost {
                Cost::FREE
            }

            fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
                Ok(vec![one(inputs)?.clone()])
            }
        }
    };
}

identity_layer!(Io, "io");
identity_layer!(Encrypt, "encrypt");
identity_layer!(Decrypt, "decrypt");
identity_layer!(Rotate, "rotate");
