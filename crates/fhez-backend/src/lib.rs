#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod backend;
mod caps;
pub mod cost;
mod error;
pub mod frame;
mod plain;
mod sim;
mod stats;
pub mod wire;

pub use backend::{Backend, Decrypt};
pub use caps::{BackendKind, Caps, RotationSet, normalize_step};
pub use cost::is_free_scalar;
pub use error::{Error, Result};
pub use plain::{PLAIN_DEFAULT_MAX_LEVEL, Plain, PlainCt, PlainPt};
pub use sim::{Sim, SimConfig, SimCt, SimPt, SimReport};
pub use stats::{OpStats, StatsRecorder};

#[cfg(test)]
mod tests;
