#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use fhez_model::*;

pub mod prelude;

/// `fhez-model`: the application layer (model, plan glue, model file, key bundles, messages).
pub use fhez_model as model;

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
