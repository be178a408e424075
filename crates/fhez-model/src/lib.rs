#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod bundle;
mod error;
pub mod frames;
mod glue;
mod graph_view;
pub mod latency;
mod message;
mod message_wire;
mod model;
pub mod model_file;
pub mod prefab;
pub mod timed;

pub use error::{Error, Result};
pub use glue::{
    check_params, decryption_policy, keygen, plan_release, policy_of, promised_precision_bits,
    release_policy, releasing, releasing_with, round_to_bits, spec_from_plan,
};
pub use graph_view::{graph_view, graph_view_of, graph_view_with};
pub use message::{CtBatch, CtEntry};
pub use message_wire::DecodedBatch;
pub use model::{EncryptedModel, encrypt_seeded_with_plan, input_gather_of, input_packing_of};
pub use model_file::{EncryptedInput, ModelFile, Task};
pub use prefab::CnnConfig;
pub use timed::{NodeTiming, forward_enc_timed, forward_enc_timed_cached, forward_enc_timed_owned};
