#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod elementwise;
mod erray;
mod error;
pub mod gather;
mod keybudget;
mod layout;
mod lintrans;
mod matmul;
mod ops;
mod packing;
mod par;
mod plain_array;
mod poly;
pub mod reduce;
pub mod shape;
mod single;
mod wire;

pub use erray::Erray;
pub use error::{Error, Result};
pub use gather::Gather;
pub use keybudget::{MAX_COMPOSE_PARTS, MAX_TABLE_STEPS};
pub use lintrans::{LinearTransform, MAX_TRANSFORM_WORK, PreparedTransform, RotationTable};
pub use matmul::{COLUMN_GROUP, FlatMatmulPlan};
pub use packing::Packing;
pub use plain_array::PlainArray;
pub use poly::POLYVAL_CHUNK;
pub use single::WindowGeometry;
pub use wire::{FORMAT as WIRE_FORMAT, KIND_ERRAY, MAX_NDIM};

/// An erray on the exact f64 backend.
pub type PlainErray = Erray<fhez_backend::Plain>;
/// An erray on the simulator.
pub type SimErray = Erray<fhez_backend::Sim>;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_gather;
#[cfg(test)]
mod tests_keybudget;
#[cfg(test)]
mod tests_single;
