#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod bundle;
mod error;
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
pub use glue::{check_params, keygen, promised_precision_bits, round_to_bits, spec_from_plan};
pub use graph_view::{graph_view, graph_view_of, graph_view_with};
pub use message::{CtBatch, CtEntry};
pub use model::EncryptedModel;
pub use model_file::{EncryptedInput, ModelFile, Task};
pub use prefab::CnnConfig;
pub use timed::{NodeTiming, forward_enc_timed};

/// `fhez-math`: modular arithmetic, NTT, RNS, polynomials (no crypto semantics).
pub use fhez_math as math;

/// `fhez-ckks`: the CKKS scheme (parameters, keys, evaluation, wire format, backend).
pub use fhez_ckks as ckks;

/// `fhez-backend`: the `Backend` / `Decrypt` traits, `Plain` and `Sim`.
pub use fhez_backend as backend;

/// `fhez-erray`: encrypted arrays with explicit packing.
pub use fhez_erray as erray;

/// `fhez-data`: dataset loaders (files fetched by `scripts/fetch-datasets.sh`).
pub use fhez_data as data;

/// `fhez-nn`: graphs, training on `Plain`, encrypted inference, the planner.
pub use fhez_nn as nn;

/// `fhez-graphview`: the model graph with its plan, as DOT, SVG or interactive HTML.
pub use fhez_graphview as graphview;
